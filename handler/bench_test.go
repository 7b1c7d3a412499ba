package main

// The daily-run benchmark: the whole job — seven stages through the real routes, the timer
// envelope and the orchestrator — on the benchmark-size simulated world under GitHub's
// 5,000 requests an hour per token, in simulated time. Figures and how to read them are
// in docs/benchmarks.md.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"metrics-collector/internal/githubsim"
	"metrics-collector/internal/memwatch"
	"metrics-collector/internal/postgres/pgtest"
)

// benchRateLimit is the simulator's primary rate limit per token and simulated hour: a
// personal access token's, GitHub's tightest budget.
const benchRateLimit = 5000

// BenchmarkDailyRun runs the daily job on githubsim.BenchmarkConfig (two enterprises,
// each one org of 1,000 repositories, 20 % active, 250 Copilot users) from an empty
// database, then the next day's run with nothing new on GitHub. The handler is served
// in this process: the service clock is the wall clock moved to the simulated date (so
// stage and orchestrator budgets are real seconds), and the GitHub clients' waits move
// the simulator's clock instead of sleeping (benchSimClock), so hours of rate-limit pacing
// take no real time. The world is frozen — generated up to an hour before the run — so
// the second day sees as new only what the simulator lets trickle in (reviews of pull
// requests opened just before, seats' Copilot activity).
//
// Figures (first run unless named _2nd):
//
//	records       rows the collection stages report (collect_copilot + collect_repos)
//	requests      API requests (every answer, 304s included; REST and GraphQL); charged:
//	              REST requests costing quota; graphql: GraphQL queries, points: their cost
//	              (the GraphQL budget is separate, 5,000 points an hour for a PAT)
//	req/1000rec   API requests per 1,000 records
//	sim_hours     simulated time from an enterprise's first to its last API request, the
//	              longer of the two enterprises (they collect in parallel)
//	floor_hours   the least time the budgets allow the busier token: a window allows
//	              5,000 at once and the next opens an hour later, so n requests (points)
//	              need ceil(n/5,000) − 1 hours; the busier of its two budgets counts
//	rate_hours    the busier budget's spending ÷ 5,000 an hour
//	real_s        wall time of the run (also ns/op)
//	db_rows/s     rows written ÷ time in the stages writing them (both collections and
//	              both calculations; durations summed over calls, from GET /api/runs/{id})
//	calc_rows/s   the same for the two calculation stages alone
//	csv_MB/s      bytes exported ÷ export_csv's time
//	heap_peak_MiB highest HeapInuse sampled every 100 ms during both runs (whole process)
//	sim_heap_MiB  HeapInuse with the simulated world built and GitHub's GraphQL schema
//	              parsed, before the run (included above)
//	rss_peak_MiB  VmHWM of the process over both runs
//	requests_2nd, charged_2nd, points_2nd, 304_pct_2nd   the next day's run with nothing new
//	spent_pct_2nd (charged + points) of the second run as % of the first's
//
// go test ./handler -run '^$' -bench DailyRun -benchtime 1x -timeout 60m
func BenchmarkDailyRun(b *testing.B) {
	b.StopTimer()
	for range b.N {
		runDailyBenchmark(b)
	}
}

func runDailyBenchmark(b *testing.B) {
	// The world's activity is generated up to a day after worldStart; the run starts an
	// hour after that, on a frozen world.
	worldStart := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	settings, sim := benchWorld(b, worldStart)
	if err := sim.SetNow(worldStart.Add(25 * time.Hour)); err != nil {
		b.Fatal(err)
	}
	// The simulator's GraphQL schema (parsed once, on the first query) is part of the
	// simulator's share too.
	if _, err := githubsim.GraphQLSchema(); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	simHeap := memwatch.HeapInuse()

	service := newBenchServiceClock(sim.Now())
	p := startInProcess(b, settings, hooks{now: service.now, githubClock: &benchSimClock{sim: sim}})
	defer p.stop()
	benchResetPeakRSS(b)
	mem := memwatch.Start(100 * time.Millisecond)

	// First run: everything from an empty database.
	sim.ResetRequests()
	began := time.Now()
	b.StartTimer()
	run1 := runToEnd(b, p.base)
	b.StopTimer()
	realFirst := time.Since(began)
	benchRequireSucceeded(b, p, run1)
	first := benchSummarizeRequests(sim.Requests())
	calls1 := benchRunCalls(b, p.base, run1.ID)
	exported := benchExportedBytes(b, settings["EXPORT_DIR"])

	// The next day: a new timer run on the service clock; GitHub has nothing new.
	sim.ResetRequests()
	service.nextDay()
	began = time.Now()
	run2 := runToEnd(b, p.base)
	realSecond := time.Since(began)
	benchRequireSucceeded(b, p, run2)
	second := benchSummarizeRequests(sim.Requests())
	calls2 := benchRunCalls(b, p.base, run2.ID)

	heapPeak := mem.Stop()
	rssPeak := benchPeakRSS(b)

	collected := calls1.sum(benchCollectCopilot, benchCollectRepos)
	calculated := calls1.sum(benchCalculateCopilot, benchCalculateDORA, benchCalculateVelocity)
	written := collected.add(calculated)
	export := calls1.sum(benchExportCSV)

	b.ReportMetric(float64(collected.records), "records")
	b.ReportMetric(float64(first.all), "requests")
	b.ReportMetric(float64(first.charged), "charged")
	b.ReportMetric(1000*float64(first.all)/float64(max(collected.records, 1)), "req/1000rec")
	b.ReportMetric(first.simHours(), "sim_hours")
	b.ReportMetric(first.floorHours(benchRateLimit), "floor_hours")
	b.ReportMetric(first.rateHours(benchRateLimit), "rate_hours")
	b.ReportMetric(realFirst.Seconds(), "real_s")
	b.ReportMetric(written.perSecond(), "db_rows/s")
	b.ReportMetric(calculated.perSecond(), "calc_rows/s")
	b.ReportMetric(float64(exported)/1e6/max(export.duration.Seconds(), 1e-3), "csv_MB/s")
	b.ReportMetric(float64(heapPeak)/(1<<20), "heap_peak_MiB")
	b.ReportMetric(float64(simHeap)/(1<<20), "sim_heap_MiB")
	b.ReportMetric(float64(rssPeak)/(1<<20), "rss_peak_MiB")
	b.ReportMetric(float64(first.graphQL), "graphql")
	b.ReportMetric(float64(first.points), "points")
	b.ReportMetric(float64(second.all), "requests_2nd")
	b.ReportMetric(float64(second.charged), "charged_2nd")
	b.ReportMetric(float64(second.points), "points_2nd")
	b.ReportMetric(100*float64(second.spent())/float64(max(first.spent(), 1)), "spent_pct_2nd")
	b.ReportMetric(100*float64(second.notModified)/float64(max(second.all, 1)), "304_pct_2nd")

	// The testing package keeps ten lines of a benchmark's log: one line per subject.
	b.Logf("first run %d: %s real, %.2f simulated hours (floor %.2f), %d records, %d CSV bytes; %s",
		run1.ID, realFirst.Round(time.Millisecond), first.simHours(), first.floorHours(benchRateLimit), collected.records, exported, first.enterprises())
	b.Logf("first run, stages: %s", calls1.summary())
	b.Logf("first run, charged requests by kind: %s", first.kinds())
	b.Logf("second run %d: %s real; %s", run2.ID, realSecond.Round(time.Millisecond), second.enterprises())
	b.Logf("second run, stages: %s", calls2.summary())
	b.Logf("second run, charged requests by kind: %s", second.kinds())
}

// benchWorld builds the benchmark world — githubsim.BenchmarkConfig at the PAT budget,
// generated to one day past start — serves it, and returns the app settings for it on a
// fresh database. The per-token ceiling of requests a second is raised so that the
// hourly budget, not the ceiling, limits collection.
func benchWorld(b *testing.B, start time.Time) (map[string]string, *githubsim.Simulator) {
	b.Helper()
	cfg := githubsim.BenchmarkConfig(start)
	cfg.RateLimit = benchRateLimit
	cfg.FutureDays = 1
	sim, err := githubsim.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	servers := sim.Start()
	b.Cleanup(servers.Close)
	type enterprise struct {
		ID                   string   `json:"id"`
		Slug                 string   `json:"enterprise"`
		Orgs                 []string `json:"orgs"`
		APIURL               string   `json:"api_url"`
		TokenSecret          string   `json:"token_secret"`
		MaxRequestsPerSecond float64  `json:"max_requests_per_second"`
		// Issue 16: every team, team DORA by admin/maintain permission.
		Teams            string `json:"teams"`
		TeamRepositories string `json:"team_repositories"`
	}
	settings := map[string]string{
		"DATABASE_URL": pgtest.NewDatabase(b),
		"EXPORT_DIR":   b.TempDir(),
	}
	var ents []enterprise
	for _, e := range sim.Enterprises() {
		ents = append(ents, enterprise{ID: e.ID, Slug: e.Slug, Orgs: e.Orgs, APIURL: servers.API.URL + "/",
			TokenSecret: "github-pat-" + e.ID, MaxRequestsPerSecond: 1000, Teams: "all", TeamRepositories: "permissions"})
		settings["GITHUB_PAT_"+strings.ToUpper(e.ID)] = e.Token
	}
	raw, err := json.Marshal(ents)
	if err != nil {
		b.Fatal(err)
	}
	settings["COLLECTOR_ENTERPRISES"] = string(raw)
	return settings, sim
}

// benchSimClock is the GitHub clients' clock on the simulator's time. A wait of d that
// starts at simulated time t moves the simulated now to t+d, unless another wait has
// already moved it past that: every client shares the one simulated clock, so waits
// that overlap — two enterprises pacing in parallel, a client's concurrent detail
// requests queued on its limiter (d, 2d, 3d from the same t) — overlap in simulated
// time too instead of adding up. Waits return at once. A wait computed just before
// another moved time on still counts from the moved time: the simulated hours are an
// upper bound, never below what the budget allows (the simulator enforces it).
type benchSimClock struct {
	sim *githubsim.Simulator
	mu  sync.Mutex
}

func (c *benchSimClock) Now() time.Time { return c.sim.Now() }

func (c *benchSimClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	target := c.sim.Now().Add(d) // read outside the lock: another wait may be moving time on
	c.mu.Lock()
	defer c.mu.Unlock()
	if target.After(c.sim.Now()) {
		return c.sim.SetNow(target)
	}
	return nil
}

// benchServiceClock is the service's clock: the wall clock moved to the simulated date,
// so budgets are real seconds, and a day later on demand.
type benchServiceClock struct {
	start   time.Time
	wall    time.Time
	daysOut atomic.Int64
}

func newBenchServiceClock(start time.Time) *benchServiceClock {
	return &benchServiceClock{start: start, wall: time.Now()}
}

func (c *benchServiceClock) now() time.Time {
	return c.start.Add(time.Duration(c.daysOut.Load()) * 24 * time.Hour).Add(time.Since(c.wall))
}

func (c *benchServiceClock) nextDay() { c.daysOut.Add(1) }

// benchRequests counts the simulator's API requests of one run. charged counts the REST
// requests charged to the core budget; GraphQL queries (POST /graphql) are counted in
// graphQL and their cost in points, charged to the GraphQL budget.
type benchRequests struct {
	all, charged, notModified int
	graphQL, points           int
	perEnterprise             map[string]*benchEnterpriseRequests
	chargedByKind             map[string]int
}

type benchEnterpriseRequests struct {
	all, charged, notModified int
	graphQL, points           int
	first, last               time.Time
}

func benchSummarizeRequests(reqs []githubsim.Request) benchRequests {
	s := benchRequests{perEnterprise: map[string]*benchEnterpriseRequests{}, chargedByKind: map[string]int{}}
	for _, r := range reqs {
		if r.Host != githubsim.HostAPI {
			continue
		}
		e := s.perEnterprise[r.Enterprise]
		if e == nil {
			e = &benchEnterpriseRequests{first: r.At, last: r.At}
			s.perEnterprise[r.Enterprise] = e
		}
		s.all++
		e.all++
		switch {
		case r.Path == "/graphql":
			s.graphQL++
			e.graphQL++
			s.points += r.Points
			e.points += r.Points
			s.chargedByKind["graphql "+r.Operation]++
		case r.Charged:
			s.charged++
			e.charged++
			s.chargedByKind[benchRequestKind(r.Path)]++
		}
		if r.Status == 304 {
			s.notModified++
			e.notModified++
		}
		if r.At.Before(e.first) {
			e.first = r.At
		}
		if r.At.After(e.last) {
			e.last = r.At
		}
	}
	return s
}

// simHours is the longest span, in simulated hours, from an enterprise's first to its
// last API request.
func (s benchRequests) simHours() float64 {
	var longest time.Duration
	for _, e := range s.perEnterprise {
		longest = max(longest, e.last.Sub(e.first))
	}
	return longest.Hours()
}

// busiest is the most one token spent of one budget: charged REST requests or GraphQL
// points (the budgets are separate, each limit an hour).
func (s benchRequests) busiest() int {
	var n int
	for _, e := range s.perEnterprise {
		n = max(n, e.charged, e.points)
	}
	return n
}

// floorHours is the least time the busiest budget can take under limit an hour.
// GitHub's window opens with the first request and allows limit at once; the next
// opens an hour later: n requests (points) need ceil(n/limit) windows, and the last one
// opens after ceil(n/limit) − 1 hours.
func (s benchRequests) floorHours(limit int) float64 {
	windows := (s.busiest() + limit - 1) / limit
	return float64(max(windows-1, 0))
}

// rateHours is the busiest budget's spending ÷ limit an hour: the time at the
// budget's average rate, without the first window's burst.
func (s benchRequests) rateHours(limit int) float64 {
	return float64(s.busiest()) / float64(limit)
}

// spent is what the run cost both budgets: charged REST requests plus GraphQL points.
func (s benchRequests) spent() int { return s.charged + s.points }

// enterprises describes each enterprise's requests and simulated span.
func (s benchRequests) enterprises() string {
	names := make([]string, 0, len(s.perEnterprise))
	for name := range s.perEnterprise {
		names = append(names, name)
	}
	slices.Sort(names)
	var parts []string
	for _, name := range names {
		e := s.perEnterprise[name]
		parts = append(parts, fmt.Sprintf("%s: %d API requests, %d REST charged, %d answered 304, %d GraphQL (%d points), simulated %s → %s (%.2f h)",
			name, e.all, e.charged, e.notModified, e.graphQL, e.points, e.first.Format(time.RFC3339), e.last.Format(time.RFC3339), e.last.Sub(e.first).Hours()))
	}
	return strings.Join(parts, "; ")
}

// kinds lists the charged requests by endpoint, most first.
func (s benchRequests) kinds() string {
	kinds := make([]string, 0, len(s.chargedByKind))
	for k := range s.chargedByKind {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, b string) int {
		if d := s.chargedByKind[b] - s.chargedByKind[a]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, s.chargedByKind[k])
	}
	return strings.Join(parts, ", ")
}

// benchRequestKind names the endpoint of an API path: owner, repository, org and enterprise
// names, numbers and commit references replaced, e.g. "repos/pulls/{n}/reviews".
func benchRequestKind(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	named := 0 // leading segments naming the owner (and repository)
	switch segs[0] {
	case "repos":
		named = 2
	case "orgs", "enterprises":
		named = 1
	}
	kind := []string{segs[0]}
	for i := 1 + named; i < len(segs); i++ {
		seg := segs[i]
		_, err := strconv.ParseInt(seg, 10, 64)
		switch {
		case err == nil:
			seg = "{n}"
		case segs[i-1] == "compare" || segs[i-1] == "commits":
			seg = "{ref}"
		}
		kind = append(kind, seg)
	}
	return strings.Join(kind, "/")
}

// Stage names as the routes know them.
const (
	benchCollectCopilot    = "collect_copilot"
	benchCollectRepos      = "collect_repos"
	benchCalculateCopilot  = "calculate_copilot"
	benchCalculateDORA     = "calculate_dora"
	benchCalculateVelocity = "calculate_velocity"
	benchExportCSV         = "export_csv"
)

// benchStageCall is one stage call as GET /api/runs/{id} lists it.
type benchStageCall struct {
	Stage       string `json:"stage"`
	Enterprise  string `json:"enterprise"`
	Status      string `json:"status"`
	DurationMS  int64  `json:"duration_ms"`
	Records     int64  `json:"records"`
	APICalls    int64  `json:"api_calls"`
	NotModified int64  `json:"not_modified"`
}

type benchStageCalls []benchStageCall

// benchRunCalls returns the run's stage calls.
func benchRunCalls(b *testing.B, base string, runID int64) benchStageCalls {
	b.Helper()
	var detail struct {
		Calls benchStageCalls `json:"calls"`
	}
	getJSON(b, fmt.Sprintf("%s/api/runs/%d", base, runID), &detail)
	if len(detail.Calls) == 0 {
		b.Fatalf("run %d lists no stage calls", runID)
	}
	return detail.Calls
}

// benchTotals adds up calls: records and the time they took.
type benchTotals struct {
	calls    int
	records  int64
	duration time.Duration
}

func (t benchTotals) add(o benchTotals) benchTotals {
	return benchTotals{calls: t.calls + o.calls, records: t.records + o.records, duration: t.duration + o.duration}
}

func (t benchTotals) perSecond() float64 {
	return float64(t.records) / max(t.duration.Seconds(), 1e-3)
}

// sum totals the calls of the named stages, every enterprise.
func (cs benchStageCalls) sum(stages ...string) benchTotals {
	var t benchTotals
	for _, c := range cs {
		if slices.Contains(stages, c.Stage) {
			t = t.add(benchTotals{calls: 1, records: c.Records, duration: time.Duration(c.DurationMS) * time.Millisecond})
		}
	}
	return t
}

// summary totals the calls per stage, over the enterprises.
func (cs benchStageCalls) summary() string {
	type totals struct {
		benchTotals
		apiCalls, notModified int64
	}
	byStage := map[string]*totals{}
	var order []string
	for _, c := range cs {
		t := byStage[c.Stage]
		if t == nil {
			t = &totals{}
			byStage[c.Stage] = t
			order = append(order, c.Stage)
		}
		t.benchTotals = t.add(benchTotals{calls: 1, records: c.Records, duration: time.Duration(c.DurationMS) * time.Millisecond})
		t.apiCalls += c.APICalls
		t.notModified += c.NotModified
	}
	parts := make([]string, len(order))
	for i, stage := range order {
		t := byStage[stage]
		parts[i] = fmt.Sprintf("%s %d call(s) %s, %d records (%.0f/s), %d API calls (%d not modified)",
			stage, t.calls, t.duration, t.records, t.perSecond(), t.apiCalls, t.notModified)
	}
	return strings.Join(parts, "; ")
}

// benchRequireSucceeded stops the benchmark when the run did not succeed: its figures would
// describe a failure.
func benchRequireSucceeded(b *testing.B, p *inproc, run runStatus) {
	b.Helper()
	if run.Status != "succeeded" {
		b.Fatalf("run %d ended %s: %s\nsteps: %+v\n%s", run.ID, run.Status, run.ErrorSummary, run.Steps, benchTail(p.logs.String(), 4000))
	}
}

func benchTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// benchExportedBytes is the size of the exported files in dir (temp files excluded).
func benchExportedBytes(b *testing.B, dir string) int64 {
	b.Helper()
	// The export's layout: latest/ holds the newest file of each kind (the dated copies
	// in archive/ are the same bytes). Only the CSVs count: the figure is CSV MB/s.
	latest := filepath.Join(dir, "latest")
	entries, err := os.ReadDir(latest)
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".csv") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			b.Fatal(err)
		}
		total += info.Size()
	}
	if total == 0 {
		b.Fatalf("no CSV exported to %s", latest)
	}
	return total
}

// benchResetPeakRSS starts VmHWM afresh from the current resident size (Linux clear_refs 5),
// so the peak belongs to the run, not to building the world.
func benchResetPeakRSS(b *testing.B) {
	b.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("peak RSS not reset (it covers the whole process): %v", err)
	}
}

// benchPeakRSS is the process's VmHWM in bytes.
func benchPeakRSS(b *testing.B) int64 {
	b.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				b.Fatalf("VmHWM %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
