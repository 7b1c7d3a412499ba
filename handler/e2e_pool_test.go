package main

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"metrics-collector/internal/config"
	"metrics-collector/internal/pipeline"
)

// TestE2EMoreStageCallsThanPooledConnections (issue 15 item 1): two enterprises with
// repo_shards=4 at ENTERPRISE_PARALLELISM=2 make ten collection calls at once — more
// than the eight connections of the working pool. A barrier holds each call inside its
// stage until all ten are there, so every call holds its stage lock at the same time
// and then needs working connections. The whole run must complete with the files of
// the unsharded clean run.
func TestE2EMoreStageCallsThanPooledConnections(t *testing.T) {
	settings, _, _ := e2eWorld(t, e2eDay)
	settings["COLLECTOR_ENTERPRISES"] = withEnterpriseOption(t, settings["COLLECTOR_ENTERPRISES"], "repo_shards", 4)
	settings["ENTERPRISE_PARALLELISM"] = "2"
	const together = 2 * (1 + 4) // collect_copilot and four collect_repos shards, per enterprise
	b := &barrier{n: together, full: make(chan struct{})}
	now := serviceClock(e2eDay)
	p := startInProcess(t, settings, hooks{now: now, githubClock: instantClock{now: now},
		wrapStage: func(s pipeline.Stage) pipeline.Stage { return barrierStage{Stage: s, b: b} }})
	run := runToEnd(t, p.base)
	if run.Status != "succeeded" {
		t.Fatalf("run ended %s: %s", run.Status, run.ErrorSummary)
	}
	if !b.filled() {
		t.Fatalf("only %d of %d collection calls were ever in their stages at once", b.count(), together)
	}
	// No call may have hung until the orchestrator gave up on it and retried: every
	// step got its answers at the first attempt, and no call failed.
	var detail struct {
		Steps []struct {
			Stage      string `json:"stage"`
			Enterprise string `json:"enterprise"`
			Shard      int    `json:"shard"`
			Attempts   int    `json:"attempts"`
		} `json:"steps"`
		Calls []struct {
			Stage  string `json:"stage"`
			Status string `json:"status"`
			Error  string `json:"error"`
		} `json:"calls"`
	}
	getJSON(t, fmt.Sprintf("%s/api/runs/%d", p.base, run.ID), &detail)
	repoSteps := 0
	for _, st := range detail.Steps {
		if st.Attempts != 0 {
			t.Errorf("step %s[%s#%d] needed %d retries", st.Stage, st.Enterprise, st.Shard, st.Attempts)
		}
		if st.Stage == pipeline.StageCollectRepos {
			repoSteps++
		}
	}
	if repoSteps != 8 {
		t.Errorf("%d collect_repos steps, want 2 enterprises × 4 shards", repoSteps)
	}
	for _, c := range detail.Calls {
		if c.Status == pipeline.StatusFailed {
			t.Errorf("%s call failed: %s", c.Stage, c.Error)
		}
	}
	compareWithGoldenOnly(t, readExports(t, settings["EXPORT_DIR"]))
}

// barrierStage holds the first n collection calls until all n are inside a stage (or
// their call ends); later calls pass.
type barrierStage struct {
	pipeline.Stage
	b *barrier
}

func (s barrierStage) Run(ctx context.Context, req pipeline.Request) (pipeline.Result, error) {
	if s.Name() == pipeline.StageCollectCopilot || s.Name() == pipeline.StageCollectRepos {
		if err := s.b.wait(ctx); err != nil {
			return pipeline.Result{}, err
		}
	}
	return s.Stage.Run(ctx, req)
}

type barrier struct {
	n    int
	full chan struct{}

	mu      sync.Mutex
	arrived int
}

func (b *barrier) wait(ctx context.Context) error {
	b.mu.Lock()
	if b.arrived >= b.n {
		b.mu.Unlock()
		return nil
	}
	b.arrived++
	if b.arrived == b.n {
		close(b.full)
	}
	b.mu.Unlock()
	select {
	case <-b.full:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %d calls at the barrier: %w", b.n, ctx.Err())
	}
}

func (b *barrier) filled() bool {
	select {
	case <-b.full:
		return true
	default:
		return false
	}
}

func (b *barrier) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.arrived
}

func TestLockConnsCoverTheWidestPartOfThePlan(t *testing.T) {
	ents := func(shards ...int) []config.Enterprise {
		var out []config.Enterprise
		for i, s := range shards {
			out = append(out, config.Enterprise{ID: fmt.Sprint("e", i), RepoShards: s})
		}
		return out
	}
	for _, tc := range []struct {
		shards      []int
		parallelism int
		want        int32
	}{
		// orchestrator, delivery (export or upload beside collection), spare, the plan
		{[]int{1}, 2, 1 + 1 + 2 + 2},                // copilot + repos
		{[]int{3, 3}, 2, 1 + 1 + 2 + 4 + 4},         // issue 15's two enterprises with repo_shards=3
		{[]int{4, 1, 8}, 2, 1 + 1 + 2 + 9 + 5},      // the two widest enterprises at once
		{[]int{4, 1, 8}, 1, 1 + 1 + 2 + 9},          // one at a time
		{[]int{2, 2, 2}, 16, 1 + 1 + 2 + 3 + 3 + 3}, // parallelism above the enterprise count
	} {
		cfg := config.Config{Enterprises: ents(tc.shards...), EnterpriseParallelism: tc.parallelism}
		if got := lockConns(cfg); got != tc.want {
			t.Errorf("shards %v, parallelism %d: %d lock sessions, want %d", tc.shards, tc.parallelism, got, tc.want)
		}
	}
}
