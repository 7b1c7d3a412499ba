package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"metrics-collector/internal/githubsim"
)

// virtualClock is a service clock on e2eDay whose waits take no real time: Sleep moves
// the clock forward instead (concurrent sleepers overlap, as they would in real time).
// Used as both the service's and the GitHub clients' clock, a rate-limit wait costs the
// stage call its budget as it would in production, without the test waiting.
type virtualClock struct {
	base    func() time.Time
	skipped atomic.Int64 // nanoseconds slept so far
}

func newVirtualClock() *virtualClock { return &virtualClock{base: serviceClock(e2eDay)} }

func (c *virtualClock) Now() time.Time { return c.base().Add(time.Duration(c.skipped.Load())) }

func (c *virtualClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Wake at now+d: move the clock there unless another sleeper already moved it further.
	wake := c.Now().Add(d)
	for {
		old := c.skipped.Load()
		need := wake.Sub(c.base())
		if need <= time.Duration(old) || c.skipped.CompareAndSwap(old, int64(need)) {
			return nil
		}
	}
}

func TestE2EGitHubFaultsGiveTheSameFiles(t *testing.T) {
	settings, tokens, sim := e2eWorld(t, e2eDay)
	// A secondary limit without Retry-After costs at least a minute; a budget that
	// fits a couple of those keeps the stage calls from giving up.
	settings["STAGE_BUDGET_SECONDS"] = "200"
	// Every kind of failure on both hosts (primary-limit exhaustion exists on the API
	// host only). MaxConsecutive 1: a retry of the same request gets through. The
	// simulator's now does not move, so a report's fresh download link is the same
	// URL: a secondary limit on the download host reads as an expired link, the stage
	// asks GitHub for the report again and the repeated download gets through.
	sim.SetFaults(githubsim.Faults{
		ServerErrors: 0.04, SecondaryLimits: 0.04, PrimaryLimits: 0.02, Truncations: 0.04, Resets: 0.03,
		Latency: time.Millisecond, MaxConsecutive: 1,
	})
	clock := newVirtualClock()
	p := startInProcess(t, settings, hooks{now: clock.Now, githubClock: clock, orchestratorSleep: clock.Sleep})
	run := runToEnd(t, p.base)
	if run.Status != "succeeded" {
		t.Fatalf("run under faults ended %s: %s", run.Status, run.ErrorSummary)
	}

	injected := map[string]int{}
	for _, r := range sim.Requests() {
		if r.Fault != "" {
			injected[fmt.Sprintf("%s %s %d", r.Host, r.Fault, r.Status)]++
		}
	}
	t.Logf("%d requests, faults injected: %v; GitHub waits took %s of simulated time",
		len(sim.Requests()), injected, time.Duration(clock.skipped.Load()).Round(time.Second))
	for _, want := range []string{
		"api server_error 502", "api server_error 503", "api secondary_limit 403", "api secondary_limit 429",
		"api primary_limit 403", "api truncated 200", "api reset 0",
		"download server_error 502", "download secondary_limit 403", "download secondary_limit 429",
		"download truncated 200", "download reset 0",
	} {
		if injected[want] == 0 {
			t.Errorf("no %q fault was injected; the test does not prove the client copes with it", want)
		}
	}

	files := readExports(t, settings["EXPORT_DIR"])
	checkExportContract(t, files, tokens)
	checkNoLitter(t, settings["EXPORT_DIR"])
	compareWithGoldenOnly(t, files)

	// Nothing stored twice or lost: every data table holds as many rows as after a
	// clean run of the same world.
	cleanSettings, _, _ := e2eWorld(t, e2eDay)
	clean := startE2E(t, cleanSettings)
	if run := runToEnd(t, clean.base); run.Status != "succeeded" {
		t.Fatalf("clean run ended %s: %s", run.Status, run.ErrorSummary)
	}
	compareRowCounts(t, rowCounts(t, cleanSettings["DATABASE_URL"]), rowCounts(t, settings["DATABASE_URL"]))
}

// compareWithGoldenOnly compares with the golden files and never rewrites them: only
// the clean run may do that.
func compareWithGoldenOnly(t *testing.T, files map[string][]byte) {
	t.Helper()
	compareFiles(t, readExports(t, goldenDir), latestOf(files), "golden", "exported")
}

// rowCounts counts the rows of every data table.
func rowCounts(t *testing.T, url string) map[string]int64 {
	t.Helper()
	db := connect(t, url)
	out := map[string]int64{}
	for _, table := range dataTables(t, db) {
		var n int64
		if err := db.QueryRow(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

// compareRowCounts reports every table whose row count differs from the clean run's.
// github_etags is left out: it caches list pages by URL, and a collection resumed after a
// kill lists some streams from their watermark (a URL the clean run never asked for).
func compareRowCounts(t *testing.T, clean, got map[string]int64) {
	t.Helper()
	var tables []string
	for table := range clean {
		tables = append(tables, table)
	}
	sort.Strings(tables)
	var summary []string
	for _, table := range tables {
		if table == "github_etags" {
			continue
		}
		summary = append(summary, fmt.Sprintf("%s=%d", table, clean[table]))
		if got[table] != clean[table] {
			t.Errorf("%s holds %d rows; a clean run stores %d", table, got[table], clean[table])
		}
	}
	t.Logf("row counts as in the clean run: %s", strings.Join(summary, " "))
}
