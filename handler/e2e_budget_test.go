package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestE2ESmallBudgetsGiveTheSameFiles cuts every stage call short: with the smallest
// stage budget and GitHub paced at its 10 requests/s ceiling on a clock that waits take
// no real time, each collection takes many calls, each resuming from the last cursor.
// The files must equal a single-call run's, and the next day's run — nothing new on
// GitHub, so most calls write no row at all — must still finish.
func TestE2ESmallBudgetsGiveTheSameFiles(t *testing.T) {
	settings, _, _ := e2eWorld(t, e2eDay)
	settings["STAGE_BUDGET_SECONDS"] = "5"
	clock := newVirtualClock()
	p := startInProcess(t, settings, hooks{now: clock.Now, githubClock: clock, orchestratorSleep: clock.Sleep})
	run := runToEnd(t, p.base)
	if run.Status != "succeeded" {
		t.Fatalf("run ended %s: %s", run.Status, run.ErrorSummary)
	}
	calls := stageCallCounts(t, p.base, run.ID)
	t.Logf("stage calls: %v", calls)
	if calls["collect_repos"] < 6 || calls["collect_copilot"] < 6 {
		t.Fatalf("stage calls %v: the budget should have cut each collection several times", calls)
	}
	compareWithGoldenOnly(t, readExports(t, settings["EXPORT_DIR"]))

	// The next morning, GitHub unchanged (the simulator's now stays put), with each
	// token paced at 1 request/s, so even the collection of nothing new takes several
	// calls, most of which write no row at all.
	p.stop()
	settings["COLLECTOR_ENTERPRISES"] = withEnterpriseOption(t, settings["COLLECTOR_ENTERPRISES"], "max_requests_per_second", 1)
	p = startInProcess(t, settings, hooks{now: clock.Now, githubClock: clock, orchestratorSleep: clock.Sleep})
	clock.skipped.Add(int64(24 * time.Hour))
	ans := fireTimer(t, p.base, envelopeLater)
	next := latestRun(t, p.base)
	calls = stageCallCounts(t, p.base, next.ID)
	t.Logf("next day's stage calls: %v", calls)
	if next.ID == run.ID || next.Status != "succeeded" {
		t.Fatalf("next day's run %d ended %s: %s (timer said %v)", next.ID, next.Status, next.ErrorSummary, ans.Logs)
	}
	if calls["collect_repos"] < 2*3 {
		t.Errorf("stage calls %v: the pacing should have cut each repository collection at least 3 times", calls)
	}
}

// withEnterpriseOption sets an option on every enterprise of COLLECTOR_ENTERPRISES.
func withEnterpriseOption(t *testing.T, raw, key string, value any) string {
	t.Helper()
	var ents []map[string]any
	if err := json.Unmarshal([]byte(raw), &ents); err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		e[key] = value
	}
	out, err := json.Marshal(ents)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// stageCallCounts counts the stage calls of a run by stage.
func stageCallCounts(t *testing.T, base string, runID int64) map[string]int {
	t.Helper()
	var detail struct {
		Calls []struct {
			Stage string `json:"stage"`
		} `json:"calls"`
	}
	getJSON(t, fmt.Sprintf("%s/api/runs/%d", base, runID), &detail)
	counts := map[string]int{}
	for _, c := range detail.Calls {
		counts[c.Stage]++
	}
	return counts
}
