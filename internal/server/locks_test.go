package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"metrics-collector/internal/config"
	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
	"metrics-collector/internal/server"
)

// Issue 15 item 2: a failover or restart ends the database session that holds an
// advisory lock, and the lock is gone at once. The work that depended on it must stop
// instead of running on beside the next holder.

// TestStageStopsWhenItsLockIsLost: the stage's context ends as soon as the session
// holding its lock is terminated; the call answers 503 and its audit row says why.
func TestStageStopsWhenItsLockIsLost(t *testing.T) {
	store := pgtest.New(t)
	e := newEnv(t, store)
	const key = "stage:collect_repos:ent1:0"
	var stolen error
	e.repos.run = func(ctx context.Context, r pipeline.Request) (pipeline.Result, error) {
		if err := pgtest.TerminateLockHolder(context.WithoutCancel(ctx), store, key); err != nil {
			return pipeline.Result{}, err
		}
		// The lock is free: a second call of the same stage could start now.
		other, err := store.TryLock(context.WithoutCancel(ctx), key)
		if err != nil {
			stolen = err
		} else {
			other.Release()
		}
		<-ctx.Done()
		return pipeline.Result{}, ctx.Err()
	}
	// budget_seconds 5: without the fix the stage runs on until its hard stop (30 s).
	status, body, hdr := post(t, e.srv.URL+"/api/collect_repos", `{"enterprise":"ent1","budget_seconds":5}`)
	if stolen != nil {
		t.Fatalf("after the session ended, the lock could not be taken: %v", stolen)
	}
	if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Fatalf("status %d (Retry-After %q) %v; want 503 with Retry-After", status, hdr.Get("Retry-After"), body)
	}
	runs, err := store.ListRuns(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	calls, err := store.ListStageCalls(t.Context(), runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].Status != pipeline.StatusFailed || calls[0].Done || !strings.Contains(calls[0].Error, "lost") {
		t.Fatalf("audit rows %+v: want one failed, not done row saying the lock was lost", calls)
	}
	// The next call takes the lock and runs.
	e.repos.run = nil
	if status, body, _ := post(t, e.srv.URL+"/api/collect_repos", `{"enterprise":"ent1"}`); status != 200 {
		t.Fatalf("next call: %d %v", status, body)
	}
}

// scriptedStages answers every stage call with done, after running hook (if any).
type scriptedStages struct {
	mu    sync.Mutex
	calls []string
	hook  func(stage string, body pipeline.StageCallBody)
}

func (s *scriptedStages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	stage := strings.TrimPrefix(r.URL.Path, "/api/")
	var body pipeline.StageCallBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.calls = append(s.calls, stage+"/"+body.Enterprise)
	hook := s.hook
	s.mu.Unlock()
	if hook != nil {
		hook(stage, body)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(pipeline.StageCallResponse{Status: pipeline.StatusSucceeded, Done: true, Records: 1})
}

func (s *scriptedStages) called(stage string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if strings.HasPrefix(c, stage+"/") {
			return true
		}
	}
	return false
}

// orchestratorEnv serves the real orchestrator at /main_orchestrator, calling scripted
// stages.
func orchestratorEnv(t *testing.T, store *postgres.Store, stages *scriptedStages) *httptest.Server {
	t.Helper()
	stageSrv := httptest.NewServer(stages)
	t.Cleanup(stageSrv.Close)
	cfg := testConfig()
	cfg.Enterprises = []config.Enterprise{{ID: "ent1", RepoShards: 2}, {ID: "ent2", RepoShards: 1}}
	orch := pipeline.NewOrchestrator(pipeline.OrchestratorOptions{
		Store:       store,
		Caller:      &pipeline.HTTPCaller{BaseURL: stageSrv.URL},
		Enterprises: cfg.Enterprises,
		StageBudget: 60 * time.Second,
		Parallelism: 2,
	})
	srv := httptest.NewServer(server.New(server.Options{Store: store, Config: cfg, Orchestrator: orch}))
	t.Cleanup(srv.Close)
	return srv
}

// killOnFirstCall terminates the session holding the orchestrator's lock during the
// first collect_copilot call of ent1. With takeOver, a second orchestrator is already
// queued for the lock (a blocking pg_advisory_lock), so PostgreSQL hands it the lock
// the moment the session ends, before the first can take it again; it holds the lock
// until release is called.
func killOnFirstCall(t *testing.T, store *postgres.Store, stages *scriptedStages, takeOver bool) (problems func() []error, release func()) {
	var once sync.Once
	var errs []error
	var other *pgxpool.Conn
	stages.hook = func(stage string, body pipeline.StageCallBody) {
		if stage != pipeline.StageCollectCopilot || body.Enterprise != "ent1" {
			return
		}
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var granted chan error
			if takeOver {
				conn, err := store.Pool().Acquire(ctx)
				if err != nil {
					errs = append(errs, err)
					return
				}
				other = conn
				granted = make(chan error, 1)
				go func() {
					_, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, pipeline.OrchestratorLockKey)
					granted <- err
				}()
				if err := waitUntilWaitingForALock(ctx, store, conn.Conn().PgConn().PID()); err != nil {
					errs = append(errs, err)
					return
				}
			}
			if err := pgtest.TerminateLockHolder(ctx, store, pipeline.OrchestratorLockKey); err != nil {
				errs = append(errs, err)
				return
			}
			if granted != nil {
				if err := <-granted; err != nil {
					errs = append(errs, errors.New("the second orchestrator did not get the lock: "+err.Error()))
				}
			}
		})
	}
	problems = func() []error {
		once.Do(func() {}) // the hook has run (or never will)
		return errs
	}
	var released sync.Once
	release = func() {
		once.Do(func() {})
		released.Do(func() {
			if other != nil {
				_, _ = other.Exec(context.Background(), `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, pipeline.OrchestratorLockKey)
				other.Release()
			}
		})
	}
	t.Cleanup(release)
	return problems, release
}

// waitUntilWaitingForALock polls until the backend pid waits for a lock.
func waitUntilWaitingForALock(ctx context.Context, store *postgres.Store, pid uint32) error {
	for ctx.Err() == nil {
		var waiting bool
		err := store.Pool().QueryRow(ctx, `SELECT coalesce(wait_event_type = 'Lock', false) FROM pg_stat_activity WHERE pid = $1`, int32(pid)).Scan(&waiting)
		if err != nil {
			return err
		}
		if waiting {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("backend %d never waited for the lock: %w", pid, ctx.Err())
}

// TestOrchestratorStopsWhenItsLockIsLost: the session holding the orchestrator's lock
// is terminated during the first stage call and a second orchestrator takes the lock.
// The first stops — no export, the run stays open, the timer answer says why — and
// the run is the second's: here, the next invocation finishes it.
func TestOrchestratorStopsWhenItsLockIsLost(t *testing.T) {
	store := pgtest.New(t)
	stages := &scriptedStages{}
	problems, release := killOnFirstCall(t, store, stages, true)
	srv := orchestratorEnv(t, store, stages)

	status, body, _ := post(t, srv.URL+"/main_orchestrator", `{}`)
	for _, err := range problems() {
		t.Fatal(err)
	}
	logs := fmt.Sprint(body["Logs"])
	if status != http.StatusOK || !strings.Contains(logs, "lock was lost") || !strings.Contains(logs, "took the run over") {
		t.Errorf("invocation that lost its lock answered %d %v; want 200 saying it lost the lock and left the run", status, body)
	}
	if stages.called(pipeline.StageExportCSV) || stages.called(pipeline.StageUploadSharePoint) {
		t.Error("the orchestrator went on to export and upload after its lock was lost")
	}
	runs, err := store.ListRuns(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Status != "running" {
		t.Fatalf("runs %+v: want the run still open for the lock's new holder", runs)
	}

	release()
	status, body, _ = post(t, srv.URL+"/main_orchestrator", `{}`)
	if status != 200 {
		t.Fatalf("next invocation: %d %v", status, body)
	}
	run, err := store.GetRun(t.Context(), runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != pipeline.StatusSucceeded || !stages.called(pipeline.StageExportCSV) {
		t.Fatalf("run after the next invocation: %+v (export called: %v)", run, stages.called(pipeline.StageExportCSV))
	}
}

// TestOrchestratorTakesItsLockAgainAfterALoss: the session is terminated (a failover)
// and nobody else takes the lock. The calls under the lost lock stop; the invocation
// takes the lock again, resumes the run from what was saved — repeating the call that
// was in flight — and finishes it.
func TestOrchestratorTakesItsLockAgainAfterALoss(t *testing.T) {
	store := pgtest.New(t)
	stages := &scriptedStages{}
	problems, _ := killOnFirstCall(t, store, stages, false)
	srv := orchestratorEnv(t, store, stages)

	status, body, _ := post(t, srv.URL+"/main_orchestrator", `{}`)
	for _, err := range problems() {
		t.Fatal(err)
	}
	logs := fmt.Sprint(body["Logs"])
	if status != http.StatusOK || !strings.Contains(logs, "lock was lost") || !strings.Contains(logs, "resumed") {
		t.Fatalf("invocation answered %d %v; want 200 saying it lost the lock and resumed", status, body)
	}
	runs, err := store.ListRuns(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Status != pipeline.StatusSucceeded {
		t.Fatalf("runs %+v: want the one run finished by the same invocation", runs)
	}
	stages.mu.Lock()
	defer stages.mu.Unlock()
	n := 0
	for _, c := range stages.calls {
		if c == pipeline.StageCollectCopilot+"/ent1" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("collect_copilot[ent1] called %d times; want 2 (the call in flight at the loss, repeated)", n)
	}
}

// TestDatabaseWaitsEndWithTheCall (issue 15 item 1): a call that cannot get a working
// connection gives up at its hard stop (budget + 25 s) with 503 and Retry-After,
// instead of waiting for as long as the client does.
func TestDatabaseWaitsEndWithTheCall(t *testing.T) {
	t.Parallel() // waits 30 s, using no CPU
	store := pgtest.New(t)
	e := newEnv(t, store)
	run, err := store.ManualRun(t.Context(), testNow)
	if err != nil {
		t.Fatal(err)
	}
	max := store.Pool().Config().MaxConns
	for range max {
		c, err := store.Pool().Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
	}
	client := &http.Client{Timeout: 2 * time.Minute} // without the fix the call waits for this
	// The status route gives up after 30 s too; both wait at once.
	statusDone := make(chan error, 1)
	go func() {
		resp, err := client.Get(e.srv.URL + "/api/runs")
		if err != nil {
			statusDone <- err
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			statusDone <- fmt.Errorf("GET /api/runs = %d (Retry-After %q); want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
			return
		}
		statusDone <- nil
	}()
	resp, err := client.Post(e.srv.URL+"/api/collect_repos", "application/json",
		strings.NewReader(fmt.Sprintf(`{"enterprise":"ent1","run_id":%d,"budget_seconds":5}`, run.ID)))
	if err != nil {
		t.Fatalf("the call did not answer: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d (Retry-After %q); want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if e.repos.calls.Load() != 0 {
		t.Error("the stage ran without its checks")
	}
	if err := <-statusDone; err != nil {
		t.Error(err)
	}
}
