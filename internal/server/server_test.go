package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
	"metrics-collector/internal/server"
)

// fakeStage is a stage whose behaviour each test sets.
type fakeStage struct {
	name          string
	perEnterprise bool
	validate      func(pipeline.Request) error
	run           func(context.Context, pipeline.Request) (pipeline.Result, error)
	calls         atomic.Int64
}

func (f *fakeStage) Name() string        { return f.name }
func (f *fakeStage) PerEnterprise() bool { return f.perEnterprise }
func (f *fakeStage) Validate(r pipeline.Request) error {
	if f.validate != nil {
		return f.validate(r)
	}
	return nil
}
func (f *fakeStage) Run(ctx context.Context, r pipeline.Request) (pipeline.Result, error) {
	f.calls.Add(1)
	if f.run != nil {
		return f.run(ctx, r)
	}
	return pipeline.Result{Status: pipeline.StatusSucceeded, Done: true, Records: 3}, nil
}

var testNow = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)

func testConfig() config.Config {
	return config.Config{
		Enterprises: []config.Enterprise{{ID: "ent1", Slug: "contoso"}, {ID: "ent2", Orgs: []string{"fabrikam"}}},
		StageBudget: 100 * time.Second,
	}
}

type env struct {
	srv   *httptest.Server
	store *postgres.Store
	repos *fakeStage
	exp   *fakeStage
	logs  *bytes.Buffer
}

func newEnv(t *testing.T, store *postgres.Store) *env {
	t.Helper()
	e := &env{
		store: store,
		repos: &fakeStage{name: pipeline.StageCollectRepos, perEnterprise: true},
		exp:   &fakeStage{name: pipeline.StageExportCSV},
		logs:  &bytes.Buffer{},
	}
	s := server.New(server.Options{
		Log:    slog.New(slog.NewJSONHandler(e.logs, nil)),
		Store:  store,
		Config: testConfig(),
		Stages: []pipeline.Stage{e.repos, e.exp},
		Now:    func() time.Time { return testNow },
	})
	e.srv = httptest.NewServer(s)
	t.Cleanup(e.srv.Close)
	return e
}

func post(t *testing.T, url, body string) (int, map[string]any, http.Header) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("answer is not JSON: %q", raw)
	}
	return resp.StatusCode, m, resp.Header
}

func countRows(t *testing.T, s *postgres.Store, table string) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPingNeedsNoDatabase(t *testing.T) {
	store, err := postgres.New("postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, store)
	resp, err := http.Get(e.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d, want 200 without a database", resp.StatusCode)
	}
}

func TestDatabaseDownAnswers503(t *testing.T) {
	store, err := postgres.New("postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, store)
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/collect_repos", `{"enterprise":"ent1"}`},
		{"GET", "/api/runs", ""},
		{"POST", "/main_orchestrator", `{}`},
	} {
		req, _ := http.NewRequest(tc.method, e.srv.URL+tc.path, strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s = %d (Retry-After %q), want 503 with Retry-After", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if !strings.Contains(string(raw), `"error"`) || strings.Contains(string(raw), "nobody") {
			t.Errorf("%s %s body %s: want a JSON error that does not echo the connection string", tc.method, tc.path, raw)
		}
	}
	if e.repos.calls.Load() != 0 {
		t.Error("the stage ran although the database was down")
	}
}

func TestBadInputWritesNothing(t *testing.T) {
	store := pgtest.New(t)
	e := newEnv(t, store)
	e.repos.validate = func(r pipeline.Request) error {
		if r.Cursor == "not-a-cursor" {
			return pipeline.BadInput("cursor", "is not a cursor this stage issued")
		}
		return nil
	}
	held, err := store.TryLock(t.Context(), "stage:collect_repos:ent2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()

	long := strings.Repeat("x", 9000)
	cases := []struct {
		name, path, body string
		status           int
		field            string
	}{
		{"not JSON", "/api/collect_repos", `{"enterprise":`, 400, "body"},
		{"array", "/api/collect_repos", `[1,2]`, 400, "body"},
		{"two objects", "/api/collect_repos", `{"enterprise":"ent1"} {}`, 400, "body"},
		{"unknown field", "/api/collect_repos", `{"enterprise":"ent1","enterprize":"x"}`, 400, "enterprize"},
		{"wrong type run_id", "/api/collect_repos", `{"enterprise":"ent1","run_id":"seven"}`, 400, "run_id"},
		{"wrong type enterprise", "/api/collect_repos", `{"enterprise":1}`, 400, "enterprise"},
		{"negative run_id", "/api/collect_repos", `{"enterprise":"ent1","run_id":-4}`, 400, "run_id"},
		{"missing enterprise", "/api/collect_repos", `{}`, 400, "enterprise"},
		{"enterprise on global stage", "/api/export_csv", `{"enterprise":"ent1"}`, 400, "enterprise"},
		{"since not a date", "/api/collect_repos", `{"enterprise":"ent1","since":"26/11/2026"}`, 400, "since"},
		{"impossible date", "/api/collect_repos", `{"enterprise":"ent1","since":"2026-02-30"}`, 400, "since"},
		{"until in the future", "/api/collect_repos", `{"enterprise":"ent1","until":"2026-12-01"}`, 400, "until"},
		{"reversed window", "/api/collect_repos", `{"enterprise":"ent1","since":"2026-11-20","until":"2026-11-10"}`, 400, "since"},
		{"budget too small", "/api/collect_repos", `{"enterprise":"ent1","budget_seconds":1}`, 400, "budget_seconds"},
		{"budget too large", "/api/collect_repos", `{"enterprise":"ent1","budget_seconds":600}`, 400, "budget_seconds"},
		{"shard without shards", "/api/collect_repos", `{"enterprise":"ent1","shard":1}`, 400, "shard"},
		{"shard out of range", "/api/collect_repos", `{"enterprise":"ent1","shard":4,"shards":4}`, 400, "shard"},
		{"shards zero", "/api/collect_repos", `{"enterprise":"ent1","shard":0,"shards":0}`, 400, "shards"},
		{"shards on unsharded stage", "/api/export_csv", `{"shard":0,"shards":2}`, 400, "shards"},
		{"kinds on another stage", "/api/collect_repos", `{"enterprise":"ent1","kinds":["dora_metrics"]}`, 400, "kinds"},
		{"kinds empty", "/api/export_csv", `{"kinds":[]}`, 400, "kinds"},
		{"kinds not an array", "/api/export_csv", `{"kinds":"dora_metrics"}`, 400, "kinds"},
		{"cursor too long", "/api/collect_repos", `{"enterprise":"ent1","cursor":"` + long + `"}`, 400, "cursor"},
		{"stage rejects cursor", "/api/collect_repos", `{"enterprise":"ent1","cursor":"not-a-cursor"}`, 400, "cursor"},
		{"unknown enterprise", "/api/collect_repos", `{"enterprise":"nope"}`, 404, "enterprise"},
		{"unknown run", "/api/collect_repos", `{"enterprise":"ent1","run_id":999}`, 404, "run_id"},
		{"unknown stage", "/api/collect_everything", `{}`, 404, ""},
		{"stage already running", "/api/collect_repos", `{"enterprise":"ent2"}`, 409, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := post(t, e.srv.URL+tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%v)", status, tc.status, body)
			}
			msg, _ := body["error"].(string)
			if msg == "" {
				t.Fatalf("no error message in %v", body)
			}
			if tc.field != "" && !strings.HasPrefix(msg, tc.field+":") {
				t.Errorf("error %q does not name the field %q first", msg, tc.field)
			}
		})
	}
	for _, table := range []string{"collection_runs", "stage_calls", "run_steps"} {
		if n := countRows(t, store, table); n != 0 {
			t.Errorf("%s has %d rows after bad input, want 0", table, n)
		}
	}
	if n := e.repos.calls.Load() + e.exp.calls.Load(); n != 0 {
		t.Errorf("stages ran %d times on bad input", n)
	}
}

func TestStageCallAuditAndManualRun(t *testing.T) {
	store := pgtest.New(t)
	e := newEnv(t, store)
	low, pointsLow := 4200, 4990
	e.repos.run = func(ctx context.Context, r pipeline.Request) (pipeline.Result, error) {
		if r.Enterprise == nil || r.Enterprise.ID != "ent1" || r.Shard != 1 || r.Shards != 3 {
			return pipeline.Result{}, fmt.Errorf("request not passed through: %+v", r)
		}
		if got := r.Deadline.Sub(testNow); got != 30*time.Second {
			return pipeline.Result{}, fmt.Errorf("deadline %s after start, want 30s", got)
		}
		if r.Cursor == "" {
			return pipeline.Result{Status: pipeline.StatusSucceeded, Cursor: "repo:42", Records: 10,
				Counters: pipeline.Counters{Requests: 7, NotModified: 2, RateLimitLow: &low, GraphQLRequests: 3, GraphQLPoints: 11,
					GraphQLRemainingLow: &pointsLow}}, nil
		}
		return pipeline.Result{Status: pipeline.StatusSucceeded, Done: true, Records: 5, Warnings: []string{"org x: copilot policy disabled"}}, nil
	}
	status, body, _ := post(t, e.srv.URL+"/api/collect_repos", `{"enterprise":"ent1","budget_seconds":30,"shard":1,"shards":3}`)
	if status != 200 {
		t.Fatalf("status %d: %v", status, body)
	}
	if body["done"] != false || body["cursor"] != "repo:42" || body["records"] != 10.0 || body["api_calls"] != 7.0 ||
		body["graphql_requests"] != 3.0 || body["graphql_points"] != 11.0 || body["graphql_rate_limit_low"] != 4990.0 || body["stage"] != "collect_repos" || body["enterprise"] != "ent1" {
		t.Fatalf("first answer %v", body)
	}
	runID := int64(body["run_id"].(float64))

	status, body, _ = post(t, e.srv.URL+"/api/collect_repos", fmt.Sprintf(`{"enterprise":"ent1","budget_seconds":30,"shard":1,"shards":3,"run_id":%d,"cursor":"repo:42"}`, runID))
	if status != 200 || body["done"] != true || body["cursor"] != nil || int64(body["run_id"].(float64)) != runID {
		t.Fatalf("second answer %d %v", status, body)
	}
	calls, err := store.ListStageCalls(t.Context(), runID)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 {
		t.Fatalf("%d audit rows, want 2", len(calls))
	}
	first, second := calls[0], calls[1]
	if first.Attempt != 1 || second.Attempt != 2 || first.CursorOut != "repo:42" || second.CursorIn != "repo:42" ||
		first.Records != 10 || first.APICalls != 7 || first.NotModified != 2 || first.RateLimitLow == nil || *first.RateLimitLow != 4200 ||
		first.GraphQLRequests != 3 || first.GraphQLPoints != 11 || second.GraphQLPoints != 0 ||
		first.GraphQLRateLimitLow == nil || *first.GraphQLRateLimitLow != 4990 || second.GraphQLRateLimitLow != nil || first.Shard != 1 || first.EnterpriseID != "ent1" || first.Status != "succeeded" || first.Done || !second.Done ||
		len(second.Warnings) != 1 {
		t.Errorf("audit rows:\n%+v\n%+v", first, second)
	}
	run, err := store.GetRun(t.Context(), runID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Trigger != "manual" || run.Status != "partial" || run.RunDate.Format(time.DateOnly) != "2026-11-26" {
		t.Errorf("manual run after a call with more work: %+v", run)
	}
}

func TestStageFailures(t *testing.T) {
	store := pgtest.New(t)
	e := newEnv(t, store)
	secret := "ghp_" + strings.Repeat("Z", 10) // not token-shaped on purpose: the fake is about echoing
	cases := []struct {
		name   string
		err    error
		status int
		audit  string
	}{
		{"permanent", fmt.Errorf("github refused the token for ent1: %w", pipeline.ErrPermanent), 200, "failed"},
		{"unavailable", fmt.Errorf("github: %w", pipeline.ErrUnavailable), 503, "failed"},
		{"database", fmt.Errorf("write: %w", postgres.ErrUnavailable), 503, "failed"},
		{"unexpected", errors.New("boom " + secret), 500, "failed"},
		{"panic", nil, 500, "failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.repos.run = func(context.Context, pipeline.Request) (pipeline.Result, error) {
				if tc.err == nil {
					panic("stage bug")
				}
				return pipeline.Result{}, tc.err
			}
			status, body, hdr := post(t, e.srv.URL+"/api/collect_repos", `{"enterprise":"ent1"}`)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, body)
			}
			if status == 503 && hdr.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if status == 500 && body["error"] != "internal error" {
				t.Errorf("500 body %v: want no detail", body)
			}
			if strings.Contains(fmt.Sprint(body), secret) {
				t.Errorf("answer leaks internal detail: %v", body)
			}
			runs, _ := store.ListRuns(t.Context(), 1)
			calls, _ := store.ListStageCalls(t.Context(), runs[0].ID)
			if len(calls) != 1 || calls[0].Status != tc.audit || calls[0].Error == "" {
				t.Errorf("audit rows %+v: want one %s row with the error", calls, tc.audit)
			}
		})
	}
	// The lock is released after a panic: a new call runs.
	e.repos.run = nil
	if status, body, _ := post(t, e.srv.URL+"/api/collect_repos", `{"enterprise":"ent1"}`); status != 200 {
		t.Fatalf("after failures: %d %v", status, body)
	}
}

func TestInterruptedCallIsMarkedFailed(t *testing.T) {
	store := pgtest.New(t)
	e := newEnv(t, store)
	run, err := store.ManualRun(t.Context(), testNow)
	if err != nil {
		t.Fatal(err)
	}
	// A call whose process died: its row says running, nobody holds its lock.
	if _, err := store.StartStageCall(t.Context(), postgres.StageCall{RunID: run.ID, Stage: "collect_repos", EnterpriseID: "ent1"}); err != nil {
		t.Fatal(err)
	}
	if status, body, _ := post(t, e.srv.URL+"/api/collect_repos", fmt.Sprintf(`{"enterprise":"ent1","run_id":%d}`, run.ID)); status != 200 {
		t.Fatalf("%d %v", status, body)
	}
	calls, _ := store.ListStageCalls(t.Context(), run.ID)
	if len(calls) != 2 || calls[0].Status != "failed" || !strings.Contains(calls[0].Error, "interrupted") || calls[1].Status != "succeeded" {
		t.Fatalf("calls %+v", calls)
	}
}

func TestStatusRoutes(t *testing.T) {
	store := pgtest.New(t)
	e := newEnv(t, store)
	_, body, _ := post(t, e.srv.URL+"/api/export_csv", `{}`)
	runID := int64(body["run_id"].(float64))

	get := func(path string) (int, map[string]any) {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	status, list := get("/api/runs")
	if status != 200 || len(list["runs"].([]any)) != 1 {
		t.Fatalf("GET /api/runs = %d %v", status, list)
	}
	status, detail := get(fmt.Sprintf("/api/runs/%d", runID))
	if status != 200 || detail["status"] != "succeeded" || len(detail["calls"].([]any)) != 1 {
		t.Fatalf("GET /api/runs/%d = %d %v", runID, status, detail)
	}
	for path, want := range map[string]int{"/api/runs/0": 400, "/api/runs/abc": 400, "/api/runs/999": 404, "/api/runs?limit=0": 400, "/nowhere": 404} {
		if status, m := get(path); status != want || m["error"] == nil {
			t.Errorf("GET %s = %d %v, want %d with an error", path, status, m, want)
		}
	}
}

type recordedTelemetry struct {
	mu      sync.Mutex
	events  []string
	props   []map[string]string
	metrics map[string]float64
}

func (r *recordedTelemetry) Event(name string, props map[string]string, _ map[string]float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, name)
	r.props = append(r.props, props)
}

// Metric records a metric by name, and with a resource dimension as name/resource.
func (r *recordedTelemetry) Metric(name string, v float64, dims map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if res, ok := dims["resource"]; ok {
		name += "/" + res
	}
	r.metrics[name] = v
}

func (r *recordedTelemetry) Exception(error, map[string]string) {}

func TestStageTelemetry(t *testing.T) {
	store := pgtest.New(t)
	tel := &recordedTelemetry{metrics: map[string]float64{}}
	low, points := 1000, 4500
	repos := &fakeStage{name: pipeline.StageCollectRepos, perEnterprise: true,
		run: func(context.Context, pipeline.Request) (pipeline.Result, error) {
			return pipeline.Result{Done: true, Records: 9, Counters: pipeline.Counters{Requests: 12, RateLimitLow: &low, RateLimit: 5000,
				GraphQLRemainingLow: &points, GraphQLLimit: 5000}}, nil
		}}
	srv := httptest.NewServer(server.New(server.Options{Store: store, Config: testConfig(), Stages: []pipeline.Stage{repos}, Telemetry: tel}))
	defer srv.Close()
	if status, body, _ := post(t, srv.URL+"/api/collect_repos", `{"enterprise":"ent1"}`); status != 200 {
		t.Fatalf("%d %v", status, body)
	}
	tel.mu.Lock()
	defer tel.mu.Unlock()
	if len(tel.events) != 1 || tel.events[0] != "StageFinished" || tel.props[0]["stage"] != "collect_repos" ||
		tel.props[0]["enterprise"] != "ent1" || tel.props[0]["status"] != "succeeded" {
		t.Errorf("events %v %v", tel.events, tel.props)
	}
	// Each budget apart: REST ("core") 80 % used, GraphQL 10 % of its points.
	want := map[string]float64{
		"github_rate_limit_used_pct/core": 80, "github_rate_limit_remaining/core": 1000,
		"github_rate_limit_used_pct/graphql": 10, "github_rate_limit_remaining/graphql": 4500,
	}
	for name, v := range want {
		if got, ok := tel.metrics[name]; !ok || got != v {
			t.Errorf("metric %s = %v (sent: %v), want %v", name, got, ok, v)
		}
	}
}

// GET /api/report serves the newest report of the export folder, as a page with a
// policy that allows no script, and says how to get one when there is none.
func TestReportRoute(t *testing.T) {
	dir := t.TempDir()
	srv := httptest.NewServer(server.New(server.Options{Config: testConfig(), ExportDir: dir}))
	defer srv.Close()
	get := func() (int, http.Header, string) {
		resp, err := http.Get(srv.URL + "/api/report")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	if code, _, body := get(); code != http.StatusNotFound || !strings.Contains(body, "export_csv") {
		t.Errorf("without a report: %d %s, want 404 naming export_csv", code, body)
	}
	if err := os.MkdirAll(filepath.Join(dir, "latest"), 0o755); err != nil {
		t.Fatal(err)
	}
	page := "<!DOCTYPE html><title>report</title>"
	if err := os.WriteFile(filepath.Join(dir, "latest", "report.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	code, h, body := get()
	if code != http.StatusOK || body != page || h.Get("Content-Type") != "text/html; charset=utf-8" ||
		!strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("with a report: %d %q %v", code, body, h)
	}
}
