package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres"
)

// seedCommits stores n commits committed at the given time in repository repo.
func seedCommits(t *testing.T, s *postgres.Store, repo int64, n int, at time.Time) {
	t.Helper()
	for i := range n {
		_, err := s.Pool().Exec(t.Context(),
			`INSERT INTO commits (enterprise_id, repo_id, sha, authored_at, committed_at) VALUES ('ent1', $1, $2, $3, $3)`,
			repo, fmt.Sprintf("%d-%d", repo, i), at)
		if err != nil {
			t.Fatal(err)
		}
	}
}

func commitsOf(t *testing.T, s *postgres.Store, repo int64) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM commits WHERE repo_id = $1`, repo).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// pruneOrchestrator is the harness's orchestrator with the retention step on.
func (h *harness) pruneOrchestrator(t *testing.T, budget time.Duration, pruner pipeline.Pruner, batch int) *pipeline.Orchestrator {
	srv := httptest.NewServer(h.stages)
	t.Cleanup(srv.Close)
	return pipeline.NewOrchestrator(pipeline.OrchestratorOptions{
		Store:         h.store,
		Caller:        &pipeline.HTTPCaller{BaseURL: srv.URL},
		Enterprises:   h.ents,
		Clock:         h.clock,
		Budget:        budget,
		StageBudget:   60 * time.Second,
		Parallelism:   2,
		Pruner:        pruner,
		RetentionDays: 400,
		PruneBatch:    batch,
	})
}

func pruneStep(t *testing.T, s *postgres.Store, runID int64) postgres.Step {
	t.Helper()
	steps, err := s.ListSteps(t.Context(), runID)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range steps {
		if st.Stage == pipeline.StepPruneData {
			return st
		}
	}
	t.Fatalf("run %d has no %s step: %+v", runID, pipeline.StepPruneData, steps)
	return postgres.Step{}
}

func TestOrchestratorPrunesOldDataAsLastStep(t *testing.T) {
	h := newHarness(t, func(string, pipeline.StageCallBody, int) (int, any) { return 200, done(1) })
	// The run's date is 2026-11-26: with 400 days kept, the cutoff is 2025-10-22.
	cutoff := time.Date(2025, 10, 22, 0, 0, 0, 0, time.UTC)
	seedCommits(t, h.store, 1, 5, cutoff.Add(-time.Second))
	seedCommits(t, h.store, 2, 3, cutoff)

	sum, err := h.pruneOrchestrator(t, 9*time.Minute, h.store, 2).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Finished || sum.Status != pipeline.StatusSucceeded {
		t.Fatalf("summary %+v", sum)
	}
	if n := commitsOf(t, h.store, 1); n != 0 {
		t.Errorf("%d commits older than the cutoff left", n)
	}
	if n := commitsOf(t, h.store, 2); n != 3 {
		t.Errorf("%d of 3 commits of the cutoff day left; they are within the retention window", n)
	}
	st := pruneStep(t, h.store, sum.RunID)
	if st.Status != pipeline.StatusSucceeded || st.Records != 5 {
		t.Errorf("prune step %+v: want succeeded with 5 records", st)
	}
	logs := strings.Join(sum.Logs, "\n")
	if !strings.Contains(logs, "prune_data succeeded: 5 rows older than 2025-10-22 deleted") || !strings.Contains(logs, "commits 5") {
		t.Errorf("run logs lack the pruned counts:\n%s", logs)
	}
	// It runs last, after the upload.
	steps, _ := h.store.ListSteps(t.Context(), sum.RunID)
	if last := steps[len(steps)-1]; last.Stage != pipeline.StepPruneData {
		t.Errorf("last step %s, want %s", last.Stage, pipeline.StepPruneData)
	}
}

// clockedPruner is the real store whose batches take simulated time.
type clockedPruner struct {
	pipeline.Pruner
	clock   *fakeClock
	perCall time.Duration
	batches int
	failOn  string
}

func (p *clockedPruner) PruneBatch(ctx context.Context, table string, cutoff time.Time, limit int) (map[string]int64, bool, error) {
	p.batches++
	p.clock.advance(p.perCall)
	if table == p.failOn {
		return nil, false, errors.New("prune " + table + ": canceling statement due to lock timeout")
	}
	return p.Pruner.PruneBatch(ctx, table, cutoff, limit)
}

func TestOrchestratorPrunePausesAtBudgetAndResumes(t *testing.T) {
	h := newHarness(t, func(string, pipeline.StageCallBody, int) (int, any) { return 200, done(1) })
	h.ents = h.ents[1:]
	old := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	seedCommits(t, h.store, 1, 7, old)
	// Each batch of 2 takes 4 simulated minutes of a 9-minute budget: the step pauses
	// and later invocations finish it.
	pruner := &clockedPruner{Pruner: h.store, clock: h.clock, perCall: 4 * time.Minute}
	first, err := h.pruneOrchestrator(t, 9*time.Minute, pruner, 2).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if first.Finished || first.Status != "running" || !strings.Contains(strings.Join(first.Logs, "\n"), "prune_data paused") {
		t.Fatalf("first invocation %+v: want paused in prune_data", first)
	}
	if st := pruneStep(t, h.store, first.RunID); st.Status != "running" || st.Cursor == "" {
		t.Errorf("paused step %+v: want running, with the table it was pruning as cursor", st)
	}
	var sum pipeline.RunSummary
	for i := 0; i < 10 && !sum.Finished; i++ {
		if sum, err = h.pruneOrchestrator(t, 9*time.Minute, pruner, 2).Run(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if !sum.Finished || sum.Status != pipeline.StatusSucceeded || sum.RunID != first.RunID {
		t.Fatalf("after resumes: %+v", sum)
	}
	// Each invocation continues at the table the previous one stopped at: one batch per
	// table, four for the seven commits, none repeated.
	if want := len(h.store.PruneTables()) - 1 + 4; pruner.batches != want {
		t.Errorf("%d batches over the invocations, want %d: a resumed step must not start over", pruner.batches, want)
	}
	if st := pruneStep(t, h.store, sum.RunID); st.Status != pipeline.StatusSucceeded || st.Records != 7 {
		t.Errorf("prune step %+v: want succeeded with all 7 rows counted over the invocations", st)
	}
	if n := commitsOf(t, h.store, 1); n != 0 {
		t.Errorf("%d old commits left", n)
	}
}

func TestOrchestratorPruneFailureMakesTheRunPartial(t *testing.T) {
	h := newHarness(t, func(string, pipeline.StageCallBody, int) (int, any) { return 200, done(1) })
	seedCommits(t, h.store, 1, 3, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	pruner := &clockedPruner{Pruner: h.store, clock: h.clock, failOn: "pull_requests"}
	sum, err := h.pruneOrchestrator(t, 9*time.Minute, pruner, 10).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Status != pipeline.StatusPartial {
		t.Errorf("run status %s, want partial", sum.Status)
	}
	st := pruneStep(t, h.store, sum.RunID)
	if st.Status != pipeline.StatusFailed || st.Records != 3 || !strings.Contains(st.Error, "lock timeout") {
		t.Errorf("prune step %+v: want failed, with the 3 commits deleted before the failure counted", st)
	}
	run, _ := h.store.GetRun(t.Context(), sum.RunID)
	if !strings.Contains(run.ErrorSummary, "prune_data failed") {
		t.Errorf("error summary %q lacks the prune failure", run.ErrorSummary)
	}
}
