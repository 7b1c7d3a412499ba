package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/config"
	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
)

// fakeClock advances only when the orchestrator sleeps (or a test says so).
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// stageServer serves the stage routes; each test scripts the answers.
type stageServer struct {
	mu     sync.Mutex
	calls  []pipeline.StageCallBody
	names  []string
	answer func(stage string, body pipeline.StageCallBody, n int) (int, any)
	counts map[string]int
}

func (s *stageServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	stage := strings.TrimPrefix(r.URL.Path, "/api/")
	var body pipeline.StageCallBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	s.mu.Lock()
	s.calls = append(s.calls, body)
	s.names = append(s.names, stage)
	key := fmt.Sprintf("%s/%s/%v", stage, body.Enterprise, shardOf(body))
	s.counts[key]++
	n := s.counts[key]
	s.mu.Unlock()
	status, v := s.answer(stage, body, n)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func shardOf(b pipeline.StageCallBody) int {
	if b.Shard == nil {
		return 0
	}
	return *b.Shard
}

func (s *stageServer) callsTo(stage, enterprise string) []pipeline.StageCallBody {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []pipeline.StageCallBody
	for i, b := range s.calls {
		if s.names[i] == stage && b.Enterprise == enterprise {
			out = append(out, b)
		}
	}
	return out
}

func done(records int64) pipeline.StageCallResponse {
	return pipeline.StageCallResponse{Status: pipeline.StatusSucceeded, Done: true, Records: records, APICalls: records / 2}
}

type harness struct {
	store  *postgres.Store
	stages *stageServer
	clock  *fakeClock
	ents   []config.Enterprise
}

func newHarness(t *testing.T, answer func(stage string, body pipeline.StageCallBody, n int) (int, any)) *harness {
	t.Helper()
	h := &harness{
		store:  pgtest.New(t),
		stages: &stageServer{answer: answer, counts: map[string]int{}},
		clock:  &fakeClock{now: time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)},
		ents: []config.Enterprise{
			{ID: "ent1", RepoShards: 2},
			{ID: "ent2", RepoShards: 1},
		},
	}
	return h
}

func (h *harness) orchestrator(t *testing.T, budget time.Duration) *pipeline.Orchestrator {
	srv := httptest.NewServer(h.stages)
	t.Cleanup(srv.Close)
	return pipeline.NewOrchestrator(pipeline.OrchestratorOptions{
		Store:       h.store,
		Caller:      &pipeline.HTTPCaller{BaseURL: srv.URL},
		Enterprises: h.ents,
		Clock:       h.clock,
		Budget:      budget,
		StageBudget: 60 * time.Second,
		Parallelism: 2,
	})
}

func TestOrchestratorCursorsRetriesAndPlanOrder(t *testing.T) {
	// The calculations wait until the Copilot files were exported: the first delivery
	// round runs while the repository work is still going on.
	copilotExported := make(chan struct{})
	h := newHarness(t, func(stage string, b pipeline.StageCallBody, n int) (int, any) {
		switch {
		case stage == pipeline.StageCollectRepos && b.Enterprise == "ent1" && shardOf(b) == 1 && n < 3:
			// A multi-call stage: two cursors, then done.
			return 200, pipeline.StageCallResponse{Status: "succeeded", Cursor: fmt.Sprintf("c%d", n), Records: 10}
		case stage == pipeline.StageCollectCopilot && b.Enterprise == "ent2" && n <= 2:
			// Fails twice, then succeeds.
			return 503, map[string]string{"error": "github unavailable"}
		case stage == pipeline.StageExportCSV && len(b.Kinds) == 5:
			closeOnce(copilotExported)
		case stage == pipeline.StageCalculateDORA:
			select {
			case <-copilotExported:
			case <-time.After(20 * time.Second):
				return 500, map[string]string{"error": "the Copilot files were not exported while the repositories were worked on"}
			}
		}
		return 200, done(4)
	})
	sum, err := h.orchestrator(t, 9*time.Minute).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Finished || sum.Status != "succeeded" {
		t.Fatalf("summary %+v", sum)
	}
	calls := h.stages.callsTo(pipeline.StageCollectRepos, "ent1")
	var shard1 []string
	for _, c := range calls {
		if shardOf(c) == 1 {
			shard1 = append(shard1, c.Cursor)
			if c.Shards == nil || *c.Shards != 2 || c.RunID != sum.RunID || c.BudgetSeconds != 60 {
				t.Errorf("call body %+v: want shards=2, run_id, budget 60", c)
			}
		}
	}
	if !slices.Equal(shard1, []string{"", "c1", "c2"}) {
		t.Errorf("shard 1 cursors %q, want \"\", c1, c2", shard1)
	}
	if n := len(h.stages.callsTo(pipeline.StageCollectCopilot, "ent2")); n != 3 {
		t.Errorf("collect_copilot[ent2] called %d times, want 3 (two failures, one success)", n)
	}
	if len(h.clock.sleeps) != 2 || h.clock.sleeps[1] <= h.clock.sleeps[0]/2 {
		t.Errorf("backoff waits %v: want two, growing", h.clock.sleeps)
	}
	// Plan order: the Copilot round after every collect_copilot and calculate_copilot,
	// the full round after every calculation, each upload after its export, nothing
	// after the last upload.
	h.stages.mu.Lock()
	names := slices.Clone(h.stages.names)
	bodies := slices.Clone(h.stages.calls)
	h.stages.mu.Unlock()
	var exports [][]string
	var rounds []int
	for i, n := range names {
		switch n {
		case pipeline.StageExportCSV:
			exports = append(exports, bodies[i].Kinds)
			rounds = append(rounds, i)
		case pipeline.StageUploadSharePoint:
			if len(rounds) == 0 || rounds[len(rounds)-1] != i-1 && names[i-1] != pipeline.StageExportCSV && !slices.Contains(names[rounds[len(rounds)-1]:i], pipeline.StageExportCSV) {
				t.Errorf("upload_sharepoint at %d without an export before it: %v", i, names)
			}
		}
	}
	wantExports := [][]string{
		{"copilot_metrics", "copilot_user_metrics", "copilot_seats", "copilot_seat_utilisation", "copilot_idle_seats"},
		{"copilot_metrics", "dora_metrics", "velocity_metrics", "copilot_user_metrics", "copilot_seats",
			"copilot_impact", "copilot_seat_utilisation", "copilot_idle_seats", "dora_rolling"},
	}
	if diff := cmp.Diff(wantExports, exports); diff != "" {
		t.Fatalf("export rounds (-want +got):\n%s\ncalls %v", diff, names)
	}
	for i, n := range names {
		if (n == pipeline.StageCollectCopilot || n == pipeline.StageCalculateCopilot) && i > rounds[0] {
			t.Errorf("%s called after the Copilot export: %v", n, names)
		}
		if (n == pipeline.StageCalculateDORA || n == pipeline.StageCalculateVelocity || strings.HasPrefix(n, "collect_")) && i > rounds[1] {
			t.Errorf("%s called after the last export: %v", n, names)
		}
	}
	if names[len(names)-1] != pipeline.StageUploadSharePoint {
		t.Errorf("last call %s, want upload_sharepoint", names[len(names)-1])
	}
	// Per enterprise: calculate_copilot once, after its collect_copilot's last call and
	// before calculate_velocity (which reads the per-user Copilot rows too).
	for _, ent := range []string{"ent1", "ent2"} {
		var order []string
		for i, n := range names {
			if bodies[i].Enterprise == ent && (n == pipeline.StageCollectCopilot || n == pipeline.StageCalculateCopilot || n == pipeline.StageCalculateVelocity) {
				order = append(order, n)
			}
		}
		if len(order) < 3 || order[len(order)-2] != pipeline.StageCalculateCopilot || order[len(order)-1] != pipeline.StageCalculateVelocity ||
			slices.Index(order, pipeline.StageCalculateCopilot) != len(order)-2 {
			t.Errorf("%s: calls %v; want collect_copilot, then calculate_copilot once, then calculate_velocity", ent, order)
		}
		if c := h.stages.callsTo(pipeline.StageCalculateCopilot, ent); len(c) != 1 || c[0].RunID != sum.RunID || c[0].Shard != nil || c[0].Cursor != "" {
			t.Errorf("calculate_copilot[%s] calls %+v; want one, of the run, without shard or cursor", ent, c)
		}
	}
	steps, _ := h.store.ListSteps(t.Context(), sum.RunID)
	if len(steps) != 6+5+4 { // ent1: copilot ×2, 2 repo shards, dora, velocity; ent2: 5; two rounds of export, upload
		t.Errorf("%d steps, want 15: %+v", len(steps), steps)
	}
	for _, st := range steps {
		if (st.Stage == pipeline.StageExportCSV || st.Stage == pipeline.StageUploadSharePoint) && st.Shard != 1 && st.Shard != 2 {
			t.Errorf("delivery step %+v: want round 1 or 2 as its shard", st)
		}
	}
	run, _ := h.store.GetRun(t.Context(), sum.RunID)
	if run.Status != "succeeded" || run.FinishedAt == nil {
		t.Errorf("run %+v", run)
	}
	// A second timer invocation the same day does nothing.
	before := len(names)
	sum2, err := h.orchestrator(t, 9*time.Minute).Run(t.Context())
	if err != nil || sum2.RunID != sum.RunID || len(h.stages.names) != before {
		t.Errorf("second invocation: %+v %v, %d new calls", sum2, err, len(h.stages.names)-before)
	}
}

// countingStore counts what an invocation asks of the store.
type countingStore struct {
	*postgres.Store
	mu              sync.Mutex
	locks, statuses int
}

func (c *countingStore) TryLock(ctx context.Context, key string) (*postgres.Lock, error) {
	c.mu.Lock()
	c.locks++
	c.mu.Unlock()
	return c.Store.TryLock(ctx, key)
}

func (c *countingStore) TimerRunStatus(ctx context.Context, date time.Time) (postgres.Run, bool, error) {
	c.mu.Lock()
	c.statuses++
	c.mu.Unlock()
	return c.Store.TimerRunStatus(ctx, date)
}

// TestOrchestratorFinishedRunCostsOneRead: once the date's run has finished, an
// invocation of the schedule reads the run once and does nothing else: no lock, no
// write, no stage call.
func TestOrchestratorFinishedRunCostsOneRead(t *testing.T) {
	h := newHarness(t, func(string, pipeline.StageCallBody, int) (int, any) { return 200, done(1) })
	first, err := h.orchestrator(t, 9*time.Minute).Run(t.Context())
	if err != nil || !first.Finished {
		t.Fatalf("first invocation: %+v %v", first, err)
	}
	calls := len(h.stages.names)
	counting := &countingStore{Store: h.store}
	o := pipeline.NewOrchestrator(pipeline.OrchestratorOptions{Store: counting, Caller: &pipeline.HTTPCaller{BaseURL: "http://127.0.0.1:1"},
		Enterprises: h.ents, Clock: h.clock})
	for range 3 {
		h.clock.advance(10 * time.Minute)
		sum, err := o.Run(t.Context())
		if err != nil || !sum.Finished || sum.RunID != first.RunID || !strings.Contains(strings.Join(sum.Logs, "\n"), "already finished") {
			t.Fatalf("later invocation: %+v %v", sum, err)
		}
	}
	if counting.statuses != 3 || counting.locks != 0 || len(h.stages.names) != calls {
		t.Errorf("3 invocations after the run finished: %d reads, %d locks, %d stage calls; want 3, 0, 0",
			counting.statuses, counting.locks, len(h.stages.names)-calls)
	}
	// The next date starts a new run.
	h.clock.advance(24 * time.Hour)
	if sum, err := o.Run(t.Context()); err != nil || sum.RunID == first.RunID || counting.locks != 1 {
		t.Errorf("next day's invocation: %+v %v (locks %d)", sum, err, counting.locks)
	}
}

// TestOrchestratorDeliversCopilotWhileTheBackfillPauses: with a repository back-fill
// longer than an invocation, the first invocation delivers the Copilot files — seat
// utilisation and idle seats (calculate_copilot) among them — and says what waits;
// DORA and velocity come with the invocation that finishes the run.
func TestOrchestratorDeliversCopilotWhileTheBackfillPauses(t *testing.T) {
	h := newHarness(t, nil)
	events := &eventLog{}
	uploaded := make(chan struct{})
	h.stages.answer = func(stage string, b pipeline.StageCallBody, n int) (int, any) {
		if stage == pipeline.StageUploadSharePoint {
			closeOnce(uploaded)
		}
		if stage == pipeline.StageCollectRepos {
			if n == 2 {
				// The repositories take the invocation's budget only once the Copilot
				// round is through: the first invocation must deliver it.
				select {
				case <-uploaded:
				case <-time.After(20 * time.Second):
					return 500, map[string]string{"error": "the Copilot files were not delivered while the repositories were worked on"}
				}
			}
			// Each repository call takes 2 simulated minutes, and there are ten.
			h.clock.advance(2 * time.Minute / 3) // three repo shards run at once
			if n < 10 {
				return 200, pipeline.StageCallResponse{Status: "succeeded", Cursor: fmt.Sprintf("r%d", n), Records: 1}
			}
		}
		return 200, done(1)
	}
	srv := httptest.NewServer(h.stages)
	t.Cleanup(srv.Close)
	orch := func() *pipeline.Orchestrator {
		return pipeline.NewOrchestrator(pipeline.OrchestratorOptions{Store: h.store, Caller: &pipeline.HTTPCaller{BaseURL: srv.URL},
			Enterprises: h.ents, Clock: h.clock, Budget: 9 * time.Minute, StageBudget: 60 * time.Second, Parallelism: 2, Events: events})
	}
	first, err := orch().Run(t.Context())
	if err != nil || first.Finished {
		t.Fatalf("first invocation: %+v %v; want paused", first, err)
	}
	logs := strings.Join(first.Logs, "\n")
	if !strings.Contains(logs, "delivered so far: copilot_metrics, copilot_user_metrics, copilot_seats, copilot_seat_utilisation, copilot_idle_seats; still waiting for their collection: dora_metrics, velocity_metrics, copilot_impact, dora_rolling") {
		t.Errorf("first invocation's logs do not say what was delivered:\n%s", logs)
	}
	if n := len(h.stages.callsTo(pipeline.StageUploadSharePoint, "")); n != 1 {
		t.Errorf("%d uploads in the first invocation, want the Copilot round's", n)
	}
	for _, ent := range []string{"ent1", "ent2"} {
		if n := len(h.stages.callsTo(pipeline.StageCalculateCopilot, ent)); n != 1 {
			t.Errorf("calculate_copilot[%s] called %d times in the first invocation, want 1", ent, n)
		}
	}
	delivered := events.named("DatasetsDelivered")
	if len(delivered) != 1 || delivered[0]["kinds"] != "copilot_metrics,copilot_user_metrics,copilot_seats,copilot_seat_utilisation,copilot_idle_seats" ||
		delivered[0]["pending"] != "dora_metrics,velocity_metrics,copilot_impact,dora_rolling" || delivered[0]["round"] != "1" {
		t.Errorf("DatasetsDelivered events %v", delivered)
	}
	var sum pipeline.RunSummary
	for i := 0; i < 10 && !sum.Finished; i++ {
		h.clock.advance(10 * time.Minute)
		if sum, err = orch().Run(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if !sum.Finished || sum.Status != "succeeded" || sum.RunID != first.RunID {
		t.Fatalf("after resumes: %+v", sum)
	}
	exports := h.stages.callsTo(pipeline.StageExportCSV, "")
	if len(exports) != 2 || len(exports[1].Kinds) != 9 {
		t.Errorf("exports %+v: want the Copilot round, then every kind", exports)
	}
	if n := len(events.named("DatasetsDelivered")); n != 2 {
		t.Errorf("%d DatasetsDelivered events, want 2", n)
	}
	for _, ent := range []string{"ent1", "ent2"} {
		if n := len(h.stages.callsTo(pipeline.StageCalculateCopilot, ent)); n != 1 {
			t.Errorf("calculate_copilot[%s] called %d times over the run, want 1 (final steps are not called again)", ent, n)
		}
	}
}

// TestOrchestratorSupersededRunSaysWhatItDelivered: a run that could not finish its
// date is closed by the next date's run as partial, naming what it delivered and what
// not, or as failed when it delivered nothing; RunFinished says so to the alerts.
func TestOrchestratorSupersededRunSaysWhatItDelivered(t *testing.T) {
	h := newHarness(t, func(string, pipeline.StageCallBody, int) (int, any) { return 200, done(1) })
	events := &eventLog{}
	sqlExec(t, h.store, `INSERT INTO collection_runs (id, trigger, run_date) VALUES (500, 'timer', '2026-11-24'), (501, 'timer', '2026-11-25')`)
	sqlExec(t, h.store, `INSERT INTO exported_files (file_name, kind, export_date, rows, bytes, sha256, schema_version, run_id) VALUES
		('copilot_metrics_20261125.csv', 'copilot_metrics', '2026-11-25', 1, 1, 'a', 2, 501),
		('copilot_seats_20261125.csv', 'copilot_seats', '2026-11-25', 1, 1, 'b', 2, 501),
		('copilot_user_metrics_20261125.csv', 'copilot_user_metrics', '2026-11-25', 1, 1, 'c', 2, 501),
		('manifest_20261125.json', 'manifest', '2026-11-25', 3, 1, 'd', 2, 501)`)
	srv := httptest.NewServer(h.stages)
	t.Cleanup(srv.Close)
	o := pipeline.NewOrchestrator(pipeline.OrchestratorOptions{Store: h.store, Caller: &pipeline.HTTPCaller{BaseURL: srv.URL},
		Enterprises: h.ents, Clock: h.clock, Events: events})
	sum, err := o.Run(t.Context())
	if err != nil || !sum.Finished {
		t.Fatalf("%+v %v", sum, err)
	}
	r500, _ := h.store.GetRun(t.Context(), 500)
	r501, _ := h.store.GetRun(t.Context(), 501)
	if r500.Status != "failed" || !strings.Contains(r500.ErrorSummary, "superseded by run") || !strings.Contains(r500.ErrorSummary, "nothing was delivered") {
		t.Errorf("run 500: %s %q", r500.Status, r500.ErrorSummary)
	}
	want := "delivered: copilot_metrics, copilot_seats, copilot_user_metrics; not delivered: copilot_idle_seats, copilot_impact, copilot_seat_utilisation, dora_metrics, dora_rolling, velocity_metrics"
	if r501.Status != "partial" || !strings.Contains(r501.ErrorSummary, want) || r501.FinishedAt == nil {
		t.Errorf("run 501: %s %q, want partial saying %q", r501.Status, r501.ErrorSummary, want)
	}
	var finished []string
	for _, e := range events.named("RunFinished") {
		finished = append(finished, e["run_id"]+" "+e["status"])
	}
	if diff := cmp.Diff([]string{"500 failed", "501 partial", fmt.Sprint(sum.RunID, " succeeded")}, finished); diff != "" {
		t.Errorf("RunFinished events (-want +got):\n%s", diff)
	}
}

// eventLog records telemetry events.
type eventLog struct {
	mu     sync.Mutex
	events []map[string]string
}

func (l *eventLog) Event(name string, props map[string]string, _ map[string]float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := map[string]string{"name": name}
	for k, v := range props {
		e[k] = v
	}
	l.events = append(l.events, e)
}

func (l *eventLog) named(name string) []map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]string
	for _, e := range l.events {
		if e["name"] == name {
			out = append(out, e)
		}
	}
	return out
}

func TestOrchestratorStageFailingForGood(t *testing.T) {
	h := newHarness(t, func(stage string, b pipeline.StageCallBody, n int) (int, any) {
		if stage == pipeline.StageCollectRepos && b.Enterprise == "ent2" {
			return 500, map[string]string{"error": "internal error"}
		}
		if stage == pipeline.StageCollectCopilot && b.Enterprise == "ent1" {
			return 200, pipeline.StageCallResponse{Status: "failed", Done: true, Error: "github refused the token"}
		}
		return 200, done(2)
	})
	sum, err := h.orchestrator(t, 9*time.Minute).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Status != "partial" {
		t.Fatalf("status %s, want partial (one enterprise's stages failed, the other's worked)", sum.Status)
	}
	if n := len(h.stages.callsTo(pipeline.StageCollectRepos, "ent2")); n != 4 {
		t.Errorf("collect_repos[ent2] called %d times, want 1 + 3 retries", n)
	}
	if n := len(h.stages.callsTo(pipeline.StageCalculateDORA, "ent2")); n != 0 {
		t.Errorf("calculate_dora[ent2] ran although its repository data failed")
	}
	if n := len(h.stages.callsTo(pipeline.StageCalculateDORA, "ent1")); n != 1 {
		t.Errorf("calculate_dora[ent1] ran %d times, want 1: one enterprise's failure must not stop the other", n)
	}
	// The Copilot calculation follows its own collection: skipped for ent1, run for ent2.
	if n := len(h.stages.callsTo(pipeline.StageCalculateCopilot, "ent1")); n != 0 {
		t.Errorf("calculate_copilot[ent1] ran although its Copilot collection failed")
	}
	if n := len(h.stages.callsTo(pipeline.StageCalculateCopilot, "ent2")); n != 1 {
		t.Errorf("calculate_copilot[ent2] ran %d times, want 1", n)
	}
	run, _ := h.store.GetRun(t.Context(), sum.RunID)
	for _, want := range []string{"collect_repos[ent2] failed", "collect_copilot[ent1] failed: github refused the token", "calculate_dora[ent2] skipped",
		"calculate_copilot[ent1] skipped: collect_copilot failed for ent1"} {
		if !strings.Contains(run.ErrorSummary, want) {
			t.Errorf("error summary %q lacks %q", run.ErrorSummary, want)
		}
	}
}

// TestOrchestratorCopilotCalculationRetriedOrFailed: calculate_copilot is a step like
// the others — retried when unavailable, recorded when it fails for good — and a
// failed calculation still completes its enterprise's Copilot source: the Copilot
// round goes out (with the figures last computed), and the run says what failed.
func TestOrchestratorCopilotCalculationRetriedOrFailed(t *testing.T) {
	h := newHarness(t, func(stage string, b pipeline.StageCallBody, n int) (int, any) {
		switch {
		case stage == pipeline.StageCalculateCopilot && b.Enterprise == "ent1" && n <= 2:
			return 503, map[string]string{"error": "database unavailable"}
		case stage == pipeline.StageCalculateCopilot && b.Enterprise == "ent2":
			return 200, pipeline.StageCallResponse{Status: "failed", Done: true, Error: "the stored seats cannot be computed"}
		}
		return 200, done(2)
	})
	sum, err := h.orchestrator(t, 9*time.Minute).Run(t.Context())
	if err != nil || !sum.Finished || sum.Status != "partial" {
		t.Fatalf("%+v %v; want finished partial", sum, err)
	}
	if n := len(h.stages.callsTo(pipeline.StageCalculateCopilot, "ent1")); n != 3 {
		t.Errorf("calculate_copilot[ent1] called %d times, want 3 (two 503s, one success)", n)
	}
	exports := h.stages.callsTo(pipeline.StageExportCSV, "")
	if len(exports) != 2 || len(exports[0].Kinds) != 5 {
		t.Errorf("exports %+v: want the Copilot round of five kinds, then the full one", exports)
	}
	run, _ := h.store.GetRun(t.Context(), sum.RunID)
	if !strings.Contains(run.ErrorSummary, "calculate_copilot[ent2] failed: the stored seats cannot be computed") {
		t.Errorf("error summary %q does not name the failed calculation", run.ErrorSummary)
	}
	steps, _ := h.store.ListSteps(t.Context(), sum.RunID)
	var calc []string
	for _, st := range steps {
		if st.Stage == pipeline.StageCalculateCopilot {
			calc = append(calc, fmt.Sprintf("%s %s %d calls", st.EnterpriseID, st.Status, st.Calls))
		}
	}
	slices.Sort(calc)
	if diff := cmp.Diff([]string{"ent1 succeeded 3 calls", "ent2 failed 1 calls"}, calc); diff != "" {
		t.Errorf("calculate_copilot steps (-want +got):\n%s", diff)
	}
}

func TestOrchestratorEverythingFails(t *testing.T) {
	h := newHarness(t, func(string, pipeline.StageCallBody, int) (int, any) {
		return 400, map[string]string{"error": "enterprise: required"}
	})
	sum, err := h.orchestrator(t, 9*time.Minute).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	run, _ := h.store.GetRun(t.Context(), sum.RunID)
	if run.Status != "failed" || !strings.Contains(run.ErrorSummary, "HTTP 400: enterprise: required") {
		t.Fatalf("run %+v: want failed with the stage's error", run)
	}
	if len(h.clock.sleeps) != 0 {
		t.Errorf("a 400 was retried (%d waits)", len(h.clock.sleeps))
	}
}

func TestOrchestratorKilledAndResumed(t *testing.T) {
	ctx, kill := context.WithCancel(t.Context())
	var killed sync.Once
	h := newHarness(t, nil)
	h.ents = []config.Enterprise{{ID: "ent1", RepoShards: 1}}
	copilotDone := make(chan struct{})
	h.stages.answer = func(stage string, b pipeline.StageCallBody, n int) (int, any) {
		if stage == pipeline.StageCollectRepos {
			switch b.Cursor {
			case "":
				return 200, pipeline.StageCallResponse{Status: "succeeded", Cursor: "c1", Records: 1}
			case "c1":
				// The orchestrator dies while this call is in flight (after
				// collect_copilot finished); the answer is lost.
				<-copilotDone
				waitForStep(t, h.store, pipeline.StageCollectCopilot, "succeeded")
				killed.Do(kill)
				return 200, pipeline.StageCallResponse{Status: "succeeded", Cursor: "c2", Records: 1}
			case "c2":
				return 200, done(1)
			}
			return 400, map[string]string{"error": "cursor: unknown " + b.Cursor}
		}
		if stage == pipeline.StageCollectCopilot {
			defer closeOnce(copilotDone)
		}
		return 200, done(1)
	}
	first, err := h.orchestrator(t, 9*time.Minute).Run(ctx)
	if err == nil && first.Finished {
		t.Fatalf("first invocation finished despite the kill: %+v", first)
	}
	run, _ := h.store.GetRun(t.Context(), first.RunID)
	if run.Status != "running" {
		t.Fatalf("killed run status %s, want running (resumable)", run.Status)
	}
	copilotBefore := len(h.stages.callsTo(pipeline.StageCollectCopilot, "ent1"))

	second, err := h.orchestrator(t, 9*time.Minute).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if second.RunID != first.RunID || !second.Resumed || second.Status != "succeeded" {
		t.Fatalf("second invocation %+v", second)
	}
	if n := len(h.stages.callsTo(pipeline.StageCollectCopilot, "ent1")); n != copilotBefore {
		t.Errorf("collect_copilot was redone after the resume (%d → %d calls)", copilotBefore, n)
	}
	var cursors []string
	for _, c := range h.stages.callsTo(pipeline.StageCollectRepos, "ent1") {
		cursors = append(cursors, c.Cursor)
	}
	// Call 2 (cursor c1) was in flight when killed; its answer was lost, so the
	// resumed step repeats it from the last saved cursor, c1 — never from the start.
	if cursors[0] != "" || slices.Index(cursors[1:], "") >= 0 || cursors[len(cursors)-1] != "c2" {
		t.Errorf("collect_repos cursors %q: want a start, continuation from saved cursors, never restarted", cursors)
	}
}

func TestOrchestratorPausesAtBudgetAndResumes(t *testing.T) {
	h := newHarness(t, nil)
	h.ents = h.ents[1:]
	h.stages.answer = func(stage string, b pipeline.StageCallBody, n int) (int, any) {
		// Each call takes four simulated minutes.
		h.clock.advance(4 * time.Minute)
		if stage == pipeline.StageCollectRepos && n < 3 {
			return 200, pipeline.StageCallResponse{Status: "succeeded", Cursor: fmt.Sprintf("r%d", n), Records: 1}
		}
		return 200, done(1)
	}
	first, err := h.orchestrator(t, 9*time.Minute).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if first.Finished || first.Status != "running" || !strings.Contains(strings.Join(first.Logs, "\n"), "paused") {
		t.Fatalf("first invocation %+v: want paused", first)
	}
	var sum pipeline.RunSummary
	for i := 0; i < 10 && !sum.Finished; i++ {
		if sum, err = h.orchestrator(t, 9*time.Minute).Run(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if !sum.Finished || sum.Status != "succeeded" || sum.RunID != first.RunID {
		t.Fatalf("after resumes: %+v", sum)
	}
	if n := len(h.stages.callsTo(pipeline.StageCollectRepos, "ent2")); n != 3 {
		t.Errorf("collect_repos called %d times over the invocations, want exactly 3", n)
	}
}

var closeMu sync.Mutex

func closeOnce(ch chan struct{}) {
	closeMu.Lock()
	defer closeMu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// waitForStep waits until the orchestrator has saved a step's final status.
func waitForStep(t *testing.T, store *postgres.Store, stage, status string) {
	for range 500 {
		runs, _ := store.ListRuns(context.Background(), 1)
		if len(runs) == 1 {
			steps, _ := store.ListSteps(context.Background(), runs[0].ID)
			for _, st := range steps {
				if st.Stage == stage && st.Status == status {
					return
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("step %s never reached %s", stage, status)
}

// TestOrchestratorOverlappingInvocationDoesNothing: while another invocation holds the
// orchestrator lock, Run makes no call and creates no run.
func TestOrchestratorOverlappingInvocationDoesNothing(t *testing.T) {
	h := newHarness(t, func(string, pipeline.StageCallBody, int) (int, any) { return 200, done(1) })
	held, err := h.store.TryLock(t.Context(), pipeline.OrchestratorLockKey)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := h.orchestrator(t, 9*time.Minute).Run(t.Context())
	if err != nil || sum.RunID != 0 || sum.Finished || !strings.Contains(strings.Join(sum.Logs, "\n"), "another orchestrator invocation") {
		t.Fatalf("overlapping invocation: %+v %v", sum, err)
	}
	if runs, _ := h.store.ListRuns(t.Context(), 1); len(runs) != 0 || len(h.stages.callsTo(pipeline.StageExportCSV, "")) != 0 {
		t.Fatalf("the overlapping invocation worked: runs %+v", runs)
	}
	held.Release()
	if sum, err = h.orchestrator(t, 9*time.Minute).Run(t.Context()); err != nil || !sum.Finished {
		t.Fatalf("after the other invocation ended: %+v %v", sum, err)
	}
}
