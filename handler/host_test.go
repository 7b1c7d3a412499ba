package main

// These tests stand in for the Azure Functions host: they build the binary, start it
// the way the host does (app settings in the environment, FUNCTIONS_CUSTOMHANDLER_PORT),
// wait for GET / to answer, and send exactly what the host sends: the timer envelope
// (including the first-run and null-status variants) and forwarded HTTP requests.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"metrics-collector/internal/githubsim"
	"metrics-collector/internal/postgres/pgtest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "metrics-collector-host-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "metrics-collector")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the handler:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is the handler process as the host runs it.
type proc struct {
	cmd    *exec.Cmd
	base   string
	stdout *syncBuffer
	exited chan struct{} // closed when the process has exited
	err    error         // its exit error, set before exited is closed
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freeTCPPort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// startHost starts the binary with settings and waits for GET / like the host (30 s).
func startHost(t *testing.T, settings map[string]string) *proc {
	t.Helper()
	port := freeTCPPort(t)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "FUNCTIONS_CUSTOMHANDLER_PORT=" + port, "FUNCTIONS_WORKER_RUNTIME=custom"}
	for k, v := range settings {
		env = append(env, k+"="+v)
	}
	p := &proc{cmd: exec.Command(binary), base: "http://127.0.0.1:" + port, stdout: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout = p.stdout
	p.cmd.Stderr = p.stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop(t) })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			t.Fatalf("handler exited at start: %v\n%s", p.err, p.stdout.String())
		default:
		}
		if resp, err := http.Get(p.base + "/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("GET / did not answer within 30 s\n%s", p.stdout.String())
	return nil
}

func (p *proc) stop(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Errorf("handler did not stop within 30 s of SIGTERM")
	}
}

func (p *proc) post(t *testing.T, path, body string, header map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// Envelopes exactly as the host sends them.
const (
	envelopeFirstRun   = `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"0001-01-01T00:00:00","Next":"2026-11-27T06:00:00+00:00","LastUpdated":"2026-11-26T06:00:00.403838+00:00"},"IsPastDue":false}},"Metadata":{"sys":{"MethodName":"main_orchestrator","UtcNow":"2026-11-26T06:00:00.46239Z","RandGuid":"fa3b2fbc-26ed-4fcb-be75-82db8773b519"}}}`
	envelopeNullStatus = `{"Data":{"timer":{"Schedule":{},"ScheduleStatus":null,"IsPastDue":true}},"Metadata":{"sys":{"MethodName":"main_orchestrator","UtcNow":"2026-11-26T06:00:01.1Z","RandGuid":"0b1c2d3e-26ed-4fcb-be75-82db8773b519"}}}`
	envelopeLater      = `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"2026-11-25T06:00:00.0000001+00:00","Next":"2026-11-27T06:00:00+00:00","LastUpdated":"2026-11-26T06:00:00.403838+00:00"},"IsPastDue":false}},"Metadata":{"sys":{"MethodName":"main_orchestrator","UtcNow":"2026-11-26T06:00:00.46239Z","RandGuid":"fa3b2fbc-26ed-4fcb-be75-82db8773b519"}}}`
)

// simSettings serves a small simulated world as of now and returns the app settings
// for it, the enterprises' tokens and the simulator.
func simSettings(t testing.TB, now time.Time) (map[string]string, []string, *githubsim.Simulator) {
	t.Helper()
	return simSettingsWith(t, now, nil)
}

// simSettingsWith is simSettings with the world's configuration adjusted by adjust
// (nil: unchanged) before the simulator is built.
func simSettingsWith(t testing.TB, now time.Time, adjust func(*githubsim.Config)) (map[string]string, []string, *githubsim.Simulator) {
	t.Helper()
	cfg := githubsim.DemoConfig(now)
	for i := range cfg.Enterprises {
		for j := range cfg.Enterprises[i].Orgs {
			cfg.Enterprises[i].Orgs[j].Repos = 4
			cfg.Enterprises[i].Orgs[j].BusyRepo = false
		}
	}
	cfg.HistoryDays = 30
	if adjust != nil {
		adjust(&cfg)
	}
	sim, err := githubsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	servers := sim.Start()
	t.Cleanup(servers.Close)
	type ent struct {
		ID          string   `json:"id"`
		Slug        string   `json:"enterprise,omitempty"`
		Orgs        []string `json:"orgs"`
		APIURL      string   `json:"api_url"`
		TokenSecret string   `json:"token_secret"`
		// Issue 16: every team, and team DORA by admin/maintain permission.
		Teams            string `json:"teams"`
		TeamRepositories string `json:"team_repositories"`
	}
	settings := map[string]string{
		"DATABASE_URL":         pgtest.NewDatabase(t),
		"EXPORT_DIR":           t.TempDir(),
		"STAGE_BUDGET_SECONDS": "60",
	}
	var ents []ent
	var tokens []string
	for _, e := range sim.Enterprises() {
		ents = append(ents, ent{ID: e.ID, Slug: e.Slug, Orgs: e.Orgs, APIURL: servers.API.URL + "/", TokenSecret: "github-pat-" + e.ID,
			Teams: "all", TeamRepositories: "permissions"})
		settings["GITHUB_PAT_"+strings.ToUpper(e.ID)] = e.Token
		tokens = append(tokens, e.Token)
	}
	raw, _ := json.Marshal(ents)
	settings["COLLECTOR_ENTERPRISES"] = string(raw)
	return settings, tokens, sim
}

func TestHostReadinessWithoutDatabase(t *testing.T) {
	p := startHost(t, map[string]string{
		"DATABASE_URL":          "postgres://collector:pw-never-logged-123@127.0.0.1:1/none?sslmode=disable&connect_timeout=1",
		"COLLECTOR_ENTERPRISES": `[{"id":"ent1","orgs":["o"],"token_secret":"github-pat-ent1"}]`,
	})
	// The host sends later pings too; each answers at once.
	for range 3 {
		resp, err := http.Get(p.base + "/")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET / = %v %v", resp, err)
		}
		resp.Body.Close()
	}
	status, body := p.post(t, "/main_orchestrator", envelopeFirstRun, nil)
	if status != http.StatusServiceUnavailable {
		t.Errorf("timer with the database down = %d %s, want 503", status, body)
	}
	p.stop(t)
	if p.err != nil {
		t.Errorf("exit after SIGTERM: %v, want a clean exit", p.err)
	}
	if strings.Contains(p.stdout.String(), "pw-never-logged-123") {
		t.Errorf("the database password appears in the logs:\n%s", p.stdout.String())
	}
}

func TestHostRefusesBadConfiguration(t *testing.T) {
	cmd := exec.Command(binary)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "FUNCTIONS_CUSTOMHANDLER_PORT=" + freeTCPPort(t),
		"DATABASE_URL=postgres://u:secret-pw-4567@db.example.com/x", "COLLECTOR_ENTERPRISES=[{\"id\":\"Bad Id\"}]"}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("started with invalid settings:\n%s", out)
	}
	for _, want := range []string{"DATABASE_URL", "sslmode=verify-full", "COLLECTOR_ENTERPRISES[0].id", "COLLECTOR_ENTERPRISES[0].token_secret"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "secret-pw-4567") {
		t.Errorf("output leaks the password:\n%s", out)
	}
}

func TestHostTimerEnvelopesAndForwardedRequests(t *testing.T) {
	settings, tokens, _ := simSettings(t, time.Now().UTC())
	p := startHost(t, settings)

	for i, env := range []string{envelopeFirstRun, envelopeNullStatus, envelopeLater} {
		status, raw := p.post(t, "/main_orchestrator", env, map[string]string{"X-Azure-Functions-InvocationId": fmt.Sprintf("inv-timer-%d", i)})
		if status != 200 {
			t.Fatalf("envelope %d: %d %s", i, status, raw)
		}
		var ans map[string]json.RawMessage
		if err := json.Unmarshal(raw, &ans); err != nil {
			t.Fatalf("envelope %d answer is not JSON: %s", i, raw)
		}
		if string(ans["Outputs"]) != "{}" || string(ans["ReturnValue"]) != "null" || len(ans["Logs"]) < 3 {
			t.Errorf("envelope %d answer %s: want Outputs {}, ReturnValue null and Logs", i, raw)
		}
		if i > 0 && !strings.Contains(string(ans["Logs"]), "already finished") && !strings.Contains(string(ans["Logs"]), "resumed") {
			t.Errorf("envelope %d: a second timer invocation the same day must resume or do nothing: %s", i, ans["Logs"])
		}
	}
	// Forwarded HTTP: the request reaches the binary unchanged at /api/<function>.
	status, raw := p.post(t, "/api/export_csv?code=fake-function-key", `{}`, map[string]string{
		"X-Azure-Functions-InvocationId": "inv-forwarded-1", "x-functions-key": "fake-function-key",
	})
	if status != 200 || !strings.Contains(string(raw), `"stage":"export_csv"`) {
		t.Errorf("forwarded export_csv: %d %s", status, raw)
	}
	status, raw = p.post(t, "/api/collect_repos", `{"enterprise":"nope"}`, nil)
	if status != 404 || !strings.Contains(string(raw), `"error":"enterprise:`) {
		t.Errorf("unknown enterprise: %d %s", status, raw)
	}
	resp, err := http.Get(p.base + "/api/runs")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/runs: %v %v", resp, err)
	}
	resp.Body.Close()

	p.stop(t)
	logs := p.stdout.String()
	for _, tok := range tokens {
		if strings.Contains(logs, tok) {
			t.Errorf("a GitHub token appears in the logs")
		}
	}
	// JSON lines on stdout, each request's lines carrying its invocation id.
	sawTimer, sawForwarded := false, false
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		switch m["invocation_id"] {
		case "inv-timer-0":
			sawTimer = true
		case "inv-forwarded-1":
			sawForwarded = true
		}
	}
	if !sawTimer || !sawForwarded {
		t.Errorf("log lines lack the invocation ids (timer %v, forwarded %v)", sawTimer, sawForwarded)
	}
}

func TestRunNeedsNoContext(t *testing.T) {
	// run() refuses unknown commands without touching anything.
	if err := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Fatal("unknown command accepted")
	}
}
