package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"metrics-collector/internal/githubsim"
	"metrics-collector/internal/pipeline"
)

// shiftableClock is a service clock on e2eDay that a test can move forward.
type shiftableClock struct {
	base   func() time.Time
	offset atomic.Int64 // nanoseconds added to base
}

func (c *shiftableClock) now() time.Time { return c.base().Add(time.Duration(c.offset.Load())) }

func (c *shiftableClock) shift(d time.Duration) { c.offset.Add(int64(d)) }

// auditTables record what happened rather than what GitHub holds or what we computed,
// so a new pass legitimately writes them: the run and its calls, the client's token
// heartbeat (written at most every 10 minutes, and the clock moved an hour), and the
// export bookkeeping (the file record carries the run that wrote it). Two more tables
// are bookkeeping with their own checks below: sync_watermarks (each stream's "checked
// up to" time and the collection that checked it move with every pass) and
// github_etags (a list URL asked for the first time gets a row).
var auditTables = []string{"collection_runs", "stage_calls", "run_steps", "github_token_health", "exported_files", "uploaded_files", "schema_migrations"}

func TestE2ESecondPassWithNothingNew(t *testing.T) {
	settings, _, sim := e2eWorld(t, e2eDay)
	clock := &shiftableClock{base: serviceClock(e2eDay)}
	p := startInProcess(t, settings, hooks{now: clock.now, githubClock: instantClock{now: clock.now}})
	if run := runToEnd(t, p.base); run.Status != "succeeded" {
		t.Fatalf("first run ended %s: %s", run.Status, run.ErrorSummary)
	}
	firstPass := map[string]bool{}
	for _, r := range sim.Requests() {
		firstPass[r.Path+"?"+r.Query] = true
	}
	dir := settings["EXPORT_DIR"]
	before := readExports(t, dir)
	db := connect(t, settings["DATABASE_URL"])
	versions := rowVersions(t, db)
	marks := watermarks(t, db)

	// An hour later the same day, GitHub unchanged: every stage once more, by hand,
	// in a new manual run.
	clock.shift(time.Hour)
	sim.ResetRequests()
	start := time.Now()
	runID := runStagesByHand(t, p.base, []string{"ent1", "ent2"})
	elapsed := time.Since(start)

	// What may cost quota: the Copilot reports of the days GitHub still revises (the
	// last three report days are re-fetched every run, DESIGN §5) — per enterprise
	// 3 scopes (the enterprise and its 2 orgs) × 2 reports (aggregate, users) × 3 days,
	// so 36 for the world — and list URLs never asked before, which cannot have an
	// ETag yet: a repository's workflow-run window starts at its watermark, so when the
	// watermark moved the window's URL is new (at most one per repository, 16 here).
	// Every list asked before must answer 304 (free); anything else charged means
	// something unchanged was fetched again. Pull requests, deployments and incidents
	// are read through GraphQL (decision 0006), which has no conditional requests: one
	// probe query per enterprise asks what changed (its repositories fit one query), and
	// with nothing changed nothing else is read — but a stored deployment that never
	// finished, older than the probe's page, has its statuses read through REST, a URL
	// never asked before the first time.
	const recentReportDays, repositories = 2 * 3 * 2 * 3, 2 * 2 * 4
	charged, newURLs, probes := map[string]int{}, 0, 0
	total := 0
	for _, r := range sim.Requests() {
		if !r.Charged {
			continue
		}
		total++
		kind := requestKind(r)
		charged[kind]++
		switch {
		case kind == "copilot report":
		case (kind == "repos/*/actions" || kind == "repos/*/deployments") && !firstPass[r.Path+"?"+r.Query]:
			newURLs++
		case kind == "/graphql" && r.Operation == "Probe":
			probes++
		default:
			t.Errorf("charged request in a pass with nothing new: %s %s?%s (%s) %s", r.Method, r.Path, r.Query, kind, r.Operation)
		}
	}
	if probes > 2 {
		t.Errorf("%d GraphQL probes; one per enterprise expected", probes)
	}
	t.Logf("second pass (manual run %d, %s): %d requests, %d charged %v, %d of them new workflow-run windows",
		runID, elapsed.Round(time.Millisecond), len(sim.Requests()), total, charged, newURLs)
	if charged["copilot report"] > recentReportDays {
		t.Errorf("%d Copilot report requests charged; at most %d (the not-yet-final days) expected", charged["copilot report"], recentReportDays)
	}
	if newURLs > 2*repositories {
		t.Errorf("%d new workflow-run windows and status listings for %d repositories", newURLs, repositories)
	}

	for table, c := range rewrittenRows(t, db, versions) {
		switch {
		case table == "sync_watermarks" && c.before == c.after:
			// Checked below: no stream added or lost, none went back.
		case table == "github_etags" && c.written == newURLs && c.after-c.before == newURLs:
			// One row per new URL; no stored page was rewritten.
		default:
			t.Errorf("%s changed in a pass with nothing new: %d rows written, %d rows before, %d after", table, c.written, c.before, c.after)
		}
	}
	marksNow := watermarks(t, db)
	for key, was := range marks {
		if now, ok := marksNow[key]; !ok || now.Before(was) {
			t.Errorf("watermark %s went from %s to %s", key, was, now)
		}
	}
	after := readExports(t, dir)
	// The data files are the same bytes; the report (and its manifest entry) describes
	// the run that wrote it — run 2, by hand — so it is compared without its run line.
	compareFiles(t, withoutRunStatus(t, before), withoutRunStatus(t, after), "first run's", "second pass's")
	checkNoLitter(t, dir)
}

// requestKind groups simulator requests for the report.
func requestKind(r githubsim.Request) string {
	switch {
	case r.Host == githubsim.HostDownload:
		return "report download"
	case strings.Contains(r.Path, "/copilot/metrics/reports/"):
		return "copilot report"
	case strings.Contains(r.Path, "/copilot/billing/seats"):
		return "copilot seats"
	}
	parts := strings.Split(strings.Trim(r.Path, "/"), "/")
	if len(parts) >= 4 && parts[0] == "repos" {
		return "repos/*/" + parts[3]
	}
	return r.Path
}

// runStagesByHand calls every stage route the way an operator would: the first call
// creates a manual run, the others join it, each stage is called again with its cursor
// until done. It returns the run.
func runStagesByHand(t *testing.T, base string, enterprises []string) int64 {
	t.Helper()
	caller := &pipeline.HTTPCaller{BaseURL: base, Client: http.DefaultClient}
	var runID int64
	call := func(stage, enterprise string) {
		body := pipeline.StageCallBody{Enterprise: enterprise, RunID: runID, BudgetSeconds: 60}
		for range 50 {
			resp, err := caller.Call(t.Context(), stage, body)
			if err != nil {
				t.Fatalf("%s %s: %v", stage, enterprise, err)
			}
			if resp.Status != pipeline.StatusSucceeded && resp.Status != pipeline.StatusSkipped {
				t.Fatalf("%s %s: %s %s %v", stage, enterprise, resp.Status, resp.Error, resp.Warnings)
			}
			runID, body.RunID = resp.RunID, resp.RunID
			if resp.Done {
				return
			}
			body.Cursor = resp.Cursor
		}
		t.Fatalf("%s %s did not finish in 50 calls", stage, enterprise)
	}
	for _, stage := range []string{pipeline.StageCollectCopilot, pipeline.StageCalculateCopilot, pipeline.StageCollectRepos,
		pipeline.StageCalculateDORA, pipeline.StageCalculateVelocity} {
		for _, e := range enterprises {
			call(stage, e)
		}
	}
	call(pipeline.StageExportCSV, "")
	call(pipeline.StageUploadSharePoint, "")
	return runID
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// dataTables lists the tables of the public schema that are not audit tables.
func dataTables(t *testing.T, db *pgx.Conn) []string {
	t.Helper()
	rows, err := db.Query(t.Context(), `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	names = slices.DeleteFunc(names, func(n string) bool { return slices.Contains(auditTables, n) })
	if len(names) < 20 {
		t.Fatalf("only %d data tables found (%v); is the schema migrated?", len(names), names)
	}
	return names
}

// rowVersions returns, per data table, how many rows carry each xmin (the transaction
// that wrote the row's current version).
func rowVersions(t *testing.T, db *pgx.Conn) map[string]map[string]int {
	t.Helper()
	out := map[string]map[string]int{}
	for _, table := range dataTables(t, db) {
		rows, err := db.Query(t.Context(), fmt.Sprintf(`SELECT xmin::text, count(*) FROM %s GROUP BY 1`, pgx.Identifier{table}.Sanitize()))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int{}
		for rows.Next() {
			var xmin string
			var n int
			if err := rows.Scan(&xmin, &n); err != nil {
				t.Fatal(err)
			}
			m[xmin] = n
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		out[table] = m
	}
	return out
}

// tableChange is what happened to a table's rows between two looks.
type tableChange struct{ written, before, after int }

// rewrittenRows returns, per data table that changed, the rows written (inserted or
// updated) since the versions were taken and the row counts before and after.
func rewrittenRows(t *testing.T, db *pgx.Conn, before map[string]map[string]int) map[string]tableChange {
	t.Helper()
	changed := map[string]tableChange{}
	for table, now := range rowVersions(t, db) {
		var c tableChange
		for xmin, count := range now {
			c.written += max(count-before[table][xmin], 0)
			c.after += count
		}
		for _, count := range before[table] {
			c.before += count
		}
		if c.written > 0 || c.before != c.after {
			changed[table] = c
		}
	}
	return changed
}

// watermarks returns every stream's watermark by enterprise, stream and scope.
func watermarks(t *testing.T, db *pgx.Conn) map[string]time.Time {
	t.Helper()
	rows, err := db.Query(t.Context(), `SELECT enterprise_id || ' ' || stream || ' ' || scope, watermark FROM sync_watermarks`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]time.Time{}
	for rows.Next() {
		var key string
		var mark time.Time
		if err := rows.Scan(&key, &mark); err != nil {
			t.Fatal(err)
		}
		out[key] = mark
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
