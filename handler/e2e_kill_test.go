package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"metrics-collector/internal/githubsim"
)

// TestE2EKilledProcessResumes kills the real binary at three points of the daily run —
// during collection, during calculation, during export — restarts it with the same
// settings and fires the timer again each time, as the Functions host would. The
// resumed run must end with the same CSV bytes and the same number of rows in every
// data table as a clean run of the same world, and leave nothing else in EXPORT_DIR.
//
// The child process runs on the wall clock, so both worlds are built as of the same
// instant and the test gives up (skips) if the runs straddle a UTC midnight.
func TestE2EKilledProcessResumes(t *testing.T) {
	now := time.Now().UTC()
	if now.Add(15*time.Minute).Day() != now.Day() {
		t.Skip("too close to UTC midnight: the clean and the killed run would export different dates")
	}

	// The clean run.
	cleanSettings, _, cleanSim := childWorld(t, now)
	clean := startHost(t, cleanSettings)
	if run := runToEnd(t, clean.base); run.Status != "succeeded" {
		t.Fatalf("clean run ended %s: %s", run.Status, run.ErrorSummary)
	}
	clean.stop(t)
	cleanRequests := len(cleanSim.Requests())
	want := readExports(t, cleanSettings["EXPORT_DIR"])
	wantRows := rowCounts(t, cleanSettings["DATABASE_URL"])

	settings, tokens, sim := childWorld(t, now)
	db := connect(t, settings["DATABASE_URL"])
	dir := settings["EXPORT_DIR"]

	// 1. During collection: once the simulator has served a third of a clean run's
	// requests.
	p := startHost(t, settings)
	go postTimer(p.base, envelopeFirstRun)
	waitFor(t, "a third of the collection", func() bool { return len(sim.Requests()) >= cleanRequests/3 })
	p.kill(t)
	checkLogsHoldNoToken(t, p, tokens)
	steps := runSteps(t, db)
	t.Logf("killed during collection after %d of %d requests; steps %s", len(sim.Requests()), cleanRequests, steps)
	if !steps.inProgress("collect_repos") && !steps.inProgress("collect_copilot") {
		t.Fatalf("no collection step was in progress when the process was killed: %s", steps)
	}

	// 2. During calculation: dora_metrics locked, so calculate_dora blocks on its write;
	// the kill waits until every collection has finished.
	p = startHost(t, settings)
	unlock := lockTable(t, settings["DATABASE_URL"], "dora_metrics")
	go postTimer(p.base, envelopeLater)
	waitFor(t, "the collections to finish and calculate_dora to wait for its table", func() bool {
		return runSteps(t, db).collected() && lockWaiters(t, db) > 0
	})
	p.kill(t)
	checkLogsHoldNoToken(t, p, tokens)
	unlock()
	steps = runSteps(t, db)
	t.Logf("killed during calculation; steps %s", steps)
	if !steps.inProgress("calculate_dora") {
		t.Fatalf("calculate_dora was not in progress when the process was killed: %s", steps)
	}

	// 3. During export: copilot_user_metrics locked, so export_csv blocks on the fourth
	// file with its temporary file open. calculate_copilot and calculate_velocity read
	// that table too (team Copilot days, the Copilot impact cohorts), so the export is
	// first held on exported_files, which only it writes: once it waits there the
	// calculations are done, and the lock moves to copilot_user_metrics (taken before
	// exported_files is released).
	p = startHost(t, settings)
	unlockFiles := lockTable(t, settings["DATABASE_URL"], "exported_files")
	go postTimer(p.base, envelopeLater)
	waitFor(t, "export_csv to wait for exported_files", func() bool {
		return lockWaiters(t, db) > 0 && runSteps(t, db).inProgress("export_csv")
	})
	unlock = lockTable(t, settings["DATABASE_URL"], "copilot_user_metrics")
	unlockFiles()
	waitFor(t, "export_csv to wait for copilot_user_metrics", func() bool {
		return lockWaiters(t, db) > 0 && len(tempFiles(t, dir)) > 0
	})
	p.kill(t)
	checkLogsHoldNoToken(t, p, tokens)
	unlock()
	steps = runSteps(t, db)
	t.Logf("killed during export with %v in the folder; steps %s", tempFiles(t, dir), steps)
	if !steps.inProgress("export_csv") {
		t.Fatalf("export_csv was not in progress when the process was killed: %s", steps)
	}

	// Restarted once more, the timer finishes the run.
	p = startHost(t, settings)
	run := runToEnd(t, p.base)
	if run.Status != "succeeded" {
		t.Fatalf("resumed run ended %s: %s", run.Status, run.ErrorSummary)
	}
	p.stop(t)
	checkLogsHoldNoToken(t, p, tokens)
	if time.Now().UTC().Day() != now.Day() {
		t.Skip("the runs straddled UTC midnight; their exports are of different dates")
	}
	got := readExports(t, dir)
	checkExportContract(t, got, tokens)
	compareFiles(t, want, got, "clean run's", "resumed run's")
	checkNoLitter(t, dir)
	compareRowCounts(t, wantRows, rowCounts(t, settings["DATABASE_URL"]))
	var running int
	if err := db.QueryRow(t.Context(), `SELECT count(*) FROM stage_calls WHERE status = 'running'`).Scan(&running); err != nil {
		t.Fatal(err)
	}
	if running > 0 {
		t.Errorf("%d stage calls of killed processes are still marked running", running)
	}
}

// childWorld is e2eWorld for the binary as a child process: it runs on the wall clock,
// so each token's request ceiling is raised well above the default 10/s to keep the
// runs short (the simulator's own rate limit still applies).
func childWorld(t *testing.T, now time.Time) (map[string]string, []string, *githubsim.Simulator) {
	t.Helper()
	settings, tokens, sim := e2eWorld(t, now)
	settings["COLLECTOR_ENTERPRISES"] = withEnterpriseOption(t, settings["COLLECTOR_ENTERPRISES"], "max_requests_per_second", 500)
	return settings, tokens, sim
}

// postTimer posts the timer envelope like the host and ignores the answer: the
// process is killed before it can give one.
func postTimer(base, envelope string) {
	resp, err := http.Post(base+"/main_orchestrator", "application/json", strings.NewReader(envelope))
	if err == nil {
		resp.Body.Close()
	}
}

// kill ends the process with SIGKILL, as the host does with a function that overran.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.exited
}

// checkLogsHoldNoToken fails when a GitHub token appears in a process's output.
func checkLogsHoldNoToken(t *testing.T, p *proc, tokens []string) {
	t.Helper()
	for _, tok := range tokens {
		if strings.Contains(p.stdout.String(), tok) {
			t.Errorf("a GitHub token appears in the handler's logs")
		}
	}
}

// waitFor polls cond every 10 ms for up to a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lockTable takes an ACCESS EXCLUSIVE lock on table in its own connection, so every
// read and write of it waits; the returned func releases it.
func lockTable(t *testing.T, url, table string) func() {
	t.Helper()
	conn := connect(t, url)
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), "LOCK TABLE "+pgx.Identifier{table}.Sanitize()+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	return func() { _ = tx.Rollback(context.Background()) }
}

// lockWaiters counts the sessions of db's database waiting for a lock.
func lockWaiters(t *testing.T, db *pgx.Conn) int {
	t.Helper()
	var n int
	err := db.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// tempFiles lists the hidden (temporary) files under dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), ".") {
			found = append(found, d.Name())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// steps are the plan steps of a run and the stage calls cut off by a kill.
type steps struct {
	plan   []string // "stage[enterprise]=status"
	cutOff []string // stages whose call was in flight (its audit row still running)
}

func (s steps) String() string {
	return strings.Join(s.plan, " ") + "; calls in flight: " + strings.Join(s.cutOff, " ")
}

// collected reports whether every collection step has finished.
func (s steps) collected() bool {
	n := 0
	for _, step := range s.plan {
		if strings.HasPrefix(step, "collect_") {
			if strings.HasSuffix(step, "=pending") || strings.HasSuffix(step, "=running") {
				return false
			}
			n++
		}
	}
	return n > 0
}

// inProgress reports whether a call of stage was in flight.
func (s steps) inProgress(stage string) bool { return slices.Contains(s.cutOff, stage) }

// runSteps reads the steps of the newest run and its calls still marked running from
// the database (the process that would answer GET /api/runs is dead).
func runSteps(t *testing.T, db *pgx.Conn) steps {
	t.Helper()
	strs := func(query string) []string {
		rows, err := db.Query(t.Context(), query)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	return steps{
		plan: strs(`SELECT stage || '[' || enterprise_id || ']=' || status FROM run_steps
			WHERE run_id = (SELECT max(id) FROM collection_runs) ORDER BY seq`),
		cutOff: strs(`SELECT DISTINCT stage FROM stage_calls
			WHERE run_id = (SELECT max(id) FROM collection_runs) AND status = 'running' ORDER BY stage`),
	}
}
