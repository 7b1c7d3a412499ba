// Package demo runs the whole daily job on one machine with nothing from Azure or
// GitHub: it starts the GitHub simulator, finds or makes a PostgreSQL, starts the
// handler binary as the Functions host would (a child process with app settings in its
// environment and FUNCTIONS_CUSTOMHANDLER_PORT), sends the timer envelope, shows
// progress while the run works and ends with a summary.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"

	"metrics-collector/internal/githubsim"
	"metrics-collector/internal/sharepoint/graphfake"
)

// Options configure a demo run.
type Options struct {
	Dir        string            // working folder (exports, logs, throw-away cluster); default .demo
	Executable string            // the handler binary; default this process's executable
	Sim        *githubsim.Config // default githubsim.DemoConfig(now)
	Getenv     func(string) string
	Out        io.Writer
	// Env adds or overrides app settings of the handler (tests use it).
	Env map[string]string
	// App authenticates the organizations as a GitHub App (installed on every
	// simulated organization) instead of the PAT, which then reads only the
	// enterprise endpoints: `metrics-collector demo -app` or DEMO_GITHUB_APP=1.
	App bool
}

// Summary is what the demo reports at the end.
type Summary struct {
	RunID       int64
	Status      string
	Files       []File
	Requests    int // requests the GitHub simulator received (API host)
	Charged     int // requests counted against the rate limit
	NotModified int // answered 304
	Downloads   int // report downloads (download host)
	// GraphQL of Requests were GraphQL queries, charged GraphQLPoints of the GraphQL
	// budget.
	GraphQL, GraphQLPoints int
	Duration               time.Duration
	Headline               Headline
	ExportDir              string
	HandlerLog             string
	Invocations            int
	// Deliveries say when each file kind was exported and uploaded (SharePoint is
	// the Graph fake), in order.
	Deliveries []Delivery
	// With App: installation tokens minted, requests made with them and with the PAT.
	InstallationTokens, InstallationRequests, PATRequests int
	SharePointFiles                                       []string
}

// File is one exported file.
type File struct {
	Name  string
	Bytes int64
}

// Run runs the demo until the daily run has finished.
func Run(ctx context.Context, opts Options) (Summary, error) {
	start := time.Now()
	if opts.Dir == "" {
		opts.Dir = ".demo"
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return Summary{}, fmt.Errorf("find the handler binary: %w", err)
		}
		opts.Executable = exe
	}
	out := opts.Out
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return Summary{}, fmt.Errorf("demo folder: %w", err)
	}
	exportDir, err := filepath.Abs(filepath.Join(opts.Dir, "export"))
	if err != nil {
		return Summary{}, err
	}
	_ = os.RemoveAll(exportDir)

	dbURL, stopDB, err := database(ctx, opts.Getenv, opts.Dir, out)
	if err != nil {
		return Summary{}, fmt.Errorf("database: %w", err)
	}
	defer stopDB()

	cfg := githubsim.DemoConfig(time.Now().UTC())
	if opts.Sim != nil {
		cfg = *opts.Sim
	}
	if opts.Getenv("DEMO_GITHUB_APP") == "1" {
		opts.App = true
	}
	var appKey []byte
	if opts.App {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return Summary{}, fmt.Errorf("app key: %w", err)
		}
		appKey = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		// Tokens live 20 minutes of simulated time: the demo's time stands still, so
		// this only shows in the handler log when a run is resumed much later.
		cfg.App = &githubsim.AppConfig{AppID: 1_048_576, ClientID: "Iv23liDemoApp", PublicKey: &key.PublicKey, TokenTTL: 20 * time.Minute}
	}
	sim, err := githubsim.New(cfg)
	if err != nil {
		return Summary{}, fmt.Errorf("simulator: %w", err)
	}
	servers := sim.Start()
	defer servers.Close()
	fmt.Fprintf(out, "GitHub simulator: %s (report downloads on %s)\n", servers.API.URL, servers.Downloads.URL)

	graph := graphfake.New()
	defer graph.Close()
	env, err := handlerEnv(sim, servers, graph, dbURL, exportDir, appKey, opts.Env)
	if err != nil {
		return Summary{}, err
	}
	if opts.App {
		fmt.Fprintf(out, "GitHub App %s installed on %d organizations: organizations read with installation tokens, enterprises with the PAT\n",
			cfg.App.ClientID, len(sim.Installations()))
	}
	fmt.Fprintf(out, "SharePoint: the Graph fake (folder metrics)\n")
	logPath := filepath.Join(opts.Dir, "handler.log")
	h, err := startHandler(ctx, opts.Executable, env, logPath)
	if err != nil {
		return Summary{}, err
	}
	defer h.stop()
	fmt.Fprintf(out, "handler: %s (logs in %s)\n\n", h.baseURL, logPath)

	sum := Summary{ExportDir: exportDir, HandlerLog: logPath}
	progress := newProgress(h.baseURL, out)
	var invoked []time.Time
	for sum.Invocations = 1; ; sum.Invocations++ {
		invoked = append(invoked, time.Now())
		logs, err := h.fireTimer(ctx, sum.Invocations == 1, progress)
		if err != nil {
			return sum, err
		}
		run, err := progress.latestRun(ctx)
		if err != nil {
			return sum, err
		}
		if run.Status != "running" {
			sum.RunID, sum.Status = run.ID, run.Status
			progress.print(ctx, run.ID)
			for _, l := range logs {
				if strings.HasPrefix(l, "problems:") {
					fmt.Fprintln(out, "  "+l)
				}
			}
			break
		}
		if sum.Invocations >= 20 {
			return sum, errors.New("the run did not finish after 20 orchestrator invocations")
		}
		fmt.Fprintln(out, "  (orchestrator budget reached; invoking the timer again, as the next schedule would)")
	}

	for _, r := range sim.Requests() {
		switch {
		case r.Installation != 0:
			sum.InstallationRequests++
		case r.Host == githubsim.HostAPI && r.Token != "(app JWT)":
			sum.PATRequests++
		}
		if r.Host == githubsim.HostDownload {
			sum.Downloads++
			if r.Authorization {
				return sum, errors.New("a token was sent to the report download host")
			}
			continue
		}
		sum.Requests++
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/graphql") {
			sum.GraphQL++
			sum.GraphQLPoints += r.Points
		}
		if r.Charged {
			sum.Charged++
		}
		if r.Status == http.StatusNotModified {
			sum.NotModified++
		}
	}
	sum.InstallationTokens = sim.InstallationTokens()
	sum.Files, err = listFiles(exportDir)
	if err != nil {
		return sum, err
	}
	for path := range graph.Files() {
		sum.SharePointFiles = append(sum.SharePointFiles, path)
	}
	sort.Strings(sum.SharePointFiles)
	sum.Deliveries, err = deliveries(ctx, dbURL, sum.RunID, invoked)
	if err != nil {
		return sum, err
	}
	sum.Headline, err = headline(ctx, dbURL)
	if err != nil {
		return sum, err
	}
	sum.Duration = time.Since(start)
	printSummary(out, sum)
	return sum, nil
}

func handlerEnv(sim *githubsim.Simulator, servers *githubsim.Servers, graph *graphfake.Server, dbURL, exportDir string, appKey []byte, extra map[string]string) ([]string, error) {
	type auth struct {
		ClientID         string           `json:"client_id"`
		PrivateKeySecret string           `json:"private_key_secret"`
		Installations    map[string]int64 `json:"installations,omitempty"`
	}
	type ent struct {
		ID          string   `json:"id"`
		Slug        string   `json:"enterprise,omitempty"`
		Orgs        []string `json:"orgs"`
		APIURL      string   `json:"api_url"`
		TokenSecret string   `json:"token_secret"`
		Auth        *auth    `json:"auth,omitempty"`
		// The simulator answers about a thousand requests a second; GitHub's
		// secondary-limit ceiling (10/s) would only slow the demo down.
		MaxRate float64 `json:"max_requests_per_second"`
		// Issue 16: every team, and team DORA by admin/maintain permission.
		Teams            string `json:"teams"`
		TeamRepositories string `json:"team_repositories"`
	}
	var ents []ent
	env := map[string]string{
		"DATABASE_URL":                 dbURL,
		"EXPORT_DIR":                   exportDir,
		"STAGE_BUDGET_SECONDS":         "60",
		"ORCHESTRATOR_BUDGET_SECONDS":  "540",
		"FUNCTIONS_WORKER_RUNTIME":     "custom",
		"FUNCTIONS_CUSTOMHANDLER_PORT": "",
	}
	for k, v := range graph.Settings("metrics") {
		env[k] = v
	}
	installs := sim.Installations()
	for _, e := range sim.Enterprises() {
		secret := "github-pat-" + e.ID
		en := ent{ID: e.ID, Slug: e.Slug, Orgs: e.Orgs, APIURL: servers.API.URL + "/", TokenSecret: secret, MaxRate: 200,
			Teams: "all", TeamRepositories: "permissions"}
		if appKey != nil {
			// The first organization's installation is configured, the others are
			// looked up (GET /orgs/{org}/installation).
			keySecret := "github-app-key-" + e.ID
			en.Auth = &auth{ClientID: sim.AppClientID(), PrivateKeySecret: keySecret,
				Installations: map[string]int64{e.Orgs[0]: installs[e.Orgs[0]]}}
			env[strings.ToUpper(strings.ReplaceAll(keySecret, "-", "_"))] = string(appKey)
		}
		ents = append(ents, en)
		env[strings.ToUpper(strings.ReplaceAll(secret, "-", "_"))] = e.Token
	}
	raw, err := json.Marshal(ents)
	if err != nil {
		return nil, err
	}
	env["COLLECTOR_ENTERPRISES"] = string(raw)
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	env["FUNCTIONS_CUSTOMHANDLER_PORT"] = fmt.Sprint(port)
	for k, v := range extra {
		env[k] = v
	}
	list := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	sort.Strings(list)
	return list, nil
}

// handler is the child process standing in for the Functions host's worker.
type handler struct {
	cmd     *exec.Cmd
	baseURL string
	log     *os.File
	exited  chan error
}

func startHandler(ctx context.Context, exe string, env []string, logPath string) (*handler, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("handler log: %w", err)
	}
	port := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "FUNCTIONS_CUSTOMHANDLER_PORT="); ok {
			port = v
		}
	}
	cmd := exec.Command(exe, "serve")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start handler: %w", err)
	}
	h := &handler{cmd: cmd, baseURL: "http://127.0.0.1:" + port, log: logFile, exited: make(chan error, 1)}
	go func() { h.exited <- cmd.Wait() }()
	// The host polls GET / for up to 30 s.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-h.exited:
			logFile.Close()
			tail, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("handler exited at start (%v): %s", err, lastLines(tail, 5))
		case <-ctx.Done():
			h.stop()
			return nil, ctx.Err()
		default:
		}
		resp, err := http.Get(h.baseURL + "/")
		if err == nil {
			resp.Body.Close()
			return h, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.stop()
	return nil, errors.New("handler did not answer GET / within 30 s")
}

func (h *handler) stop() {
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.exited:
	case <-time.After(25 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.exited
	}
	h.log.Close()
}

// fireTimer sends the timer envelope as the host does and returns the answer's Logs,
// printing progress while the orchestrator works.
func (h *handler) fireTimer(ctx context.Context, firstRun bool, p *progress) ([]string, error) {
	last := "0001-01-01T00:00:00" // the host's first-run value: no zone
	if !firstRun {
		last = time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04:05.9999999+00:00")
	}
	now := time.Now().UTC()
	envelope := fmt.Sprintf(`{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":%q,"Next":%q,"LastUpdated":%q},"IsPastDue":false}},"Metadata":{"sys":{"MethodName":"main_orchestrator","UtcNow":%q,"RandGuid":"6c9bd4a4-2c9e-4c1b-9a56-2d1f0b6f4f11"}}}`,
		last, now.Add(24*time.Hour).Format(time.RFC3339), now.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))

	type answer struct {
		logs []string
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.baseURL+"/main_orchestrator", bytes.NewReader([]byte(envelope)))
		if err != nil {
			done <- answer{err: err}
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Azure-Functions-InvocationId", fmt.Sprintf("demo-%d", time.Now().UnixNano()))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- answer{err: fmt.Errorf("timer invocation: %w", err)}
			return
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			done <- answer{err: fmt.Errorf("timer invocation answered %d: %s", resp.StatusCode, raw)}
			return
		}
		var env struct {
			Logs []string `json:"Logs"`
		}
		if err := json.Unmarshal(raw, &env); err != nil {
			done <- answer{err: fmt.Errorf("timer answer is not the envelope: %s", raw)}
			return
		}
		done <- answer{logs: env.Logs}
	}()
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		select {
		case a := <-done:
			return a.logs, a.err
		case err := <-h.exited:
			return nil, fmt.Errorf("handler exited during the run: %v (see %s)", err, h.log.Name())
		case <-ticker.C:
			if run, err := p.latestRun(ctx); err == nil {
				p.print(ctx, run.ID)
			}
		}
	}
}

func listFiles(dir string) ([]File, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("export folder: %w", err)
	}
	if len(entries) == 0 {
		return nil, nil
	}
	var files []File
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files = append(files, File{Name: filepath.ToSlash(rel), Bytes: info.Size()})
		return nil
	})
	return files, err
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
