package postgres_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
)

// pruneCutoff is the cutoff of these tests: rows strictly older go.
var pruneCutoff = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

func mustExec(t *testing.T, s *postgres.Store, sql string, args ...any) {
	t.Helper()
	if _, err := s.Pool().Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func countRows(t *testing.T, s *postgres.Store, table, where string) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM `+table+` WHERE `+where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// pruneAll runs batches of limit rows over every table until each is done and returns
// the total per table (tables with nothing deleted left out) and the number of batches
// per table.
func pruneAll(t *testing.T, s *postgres.Store, cutoff time.Time, limit int) (map[string]int64, map[string]int) {
	t.Helper()
	total, batches := map[string]int64{}, map[string]int{}
	for _, table := range s.PruneTables() {
		for range 100 {
			deleted, done, err := s.PruneBatch(t.Context(), table, cutoff, limit)
			if err != nil {
				t.Fatal(err)
			}
			batches[table]++
			for k, n := range deleted {
				total[k] += n
			}
			if done {
				break
			}
		}
	}
	maps.DeleteFunc(total, func(_ string, n int64) bool { return n == 0 })
	return total, batches
}

func TestPruneOldRowsInBatchesKeepsRecent(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	old, recent := pruneCutoff.AddDate(0, 0, -1), pruneCutoff // the cutoff day itself stays
	// Seven old commits and two recent ones: batches of three take 3 + 3 + 1.
	for i := range 7 {
		mustExec(t, s, `INSERT INTO commits (enterprise_id, repo_id, sha, authored_at, committed_at) VALUES ('e', 1, $1, $2, $2)`,
			"old"+string(rune('a'+i)), old.Add(-time.Duration(i)*time.Hour))
	}
	for _, sha := range []string{"new1", "new2"} {
		mustExec(t, s, `INSERT INTO commits (enterprise_id, repo_id, sha, authored_at, committed_at) VALUES ('e', 2, $1, $2, $2)`, sha, recent)
	}
	for day, login := range map[time.Time]string{old: "olduser", recent: "newuser"} {
		mustExec(t, s, `INSERT INTO copilot_user_metrics (enterprise_id, scope_type, scope, day, user_id, user_login) VALUES ('e', 'enterprise', 'c', $1, 1, $2)`, day, login)
		mustExec(t, s, `INSERT INTO copilot_raw_records (enterprise_id, scope_type, scope, report, day, record_key, payload) VALUES ('e', 'enterprise', 'c', 'users', $1, '1', '{}')`, day)
		mustExec(t, s, `INSERT INTO copilot_seats (enterprise_id, scope_type, scope, snapshot_date, seat_key, assignee_login) VALUES ('e', 'enterprise', 'c', $1, '1', $2)`, day, login)
		mustExec(t, s, `INSERT INTO copilot_report_fetches (enterprise_id, scope_type, scope, report, day, status) VALUES ('e', 'enterprise', 'c', 'users', $1, 'ok')`, day)
		// Aggregates are kept whatever their age.
		mustExec(t, s, `INSERT INTO copilot_daily_metrics (enterprise_id, scope_type, scope, day) VALUES ('e', 'enterprise', 'c', $1)`, day)
	}
	// Workflow runs: an old completed one goes, an old one still queued stays.
	mustExec(t, s, `INSERT INTO workflow_runs (enterprise_id, repo_id, run_id, workflow_id, status, created_at, updated_at) VALUES
		('e', 1, 1, 1, 'completed', $1, $1), ('e', 1, 2, 1, 'queued', $1, $1), ('e', 1, 3, 1, 'completed', $2, $2)`, old, recent)
	// Incidents: old and closed goes; old and still open stays.
	mustExec(t, s, `INSERT INTO incidents (enterprise_id, repo_id, number, created_at, closed_at) VALUES
		('e', 1, 1, $1, $1), ('e', 1, 2, $1, NULL), ('e', 1, 3, $1, $2)`, old, recent)

	total, batches := pruneAll(t, s, pruneCutoff, 3)
	want := map[string]int64{
		"commits": 7, "copilot_user_metrics": 1, "copilot_raw_records": 1, "copilot_seats": 1,
		"copilot_report_fetches": 1, "workflow_runs": 1, "incidents": 1,
	}
	if diff := cmp.Diff(want, total); diff != "" {
		t.Errorf("pruned rows (-want +got):\n%s", diff)
	}
	if batches["commits"] != 3 {
		t.Errorf("commits pruned in %d batches of 3, want 3 (3 + 3 + 1)", batches["commits"])
	}
	for table, where := range map[string]string{
		"commits":              "repo_id = 2",
		"copilot_user_metrics": "user_login = 'newuser'",
		"copilot_seats":        "assignee_login = 'newuser'",
		"workflow_runs":        "run_id IN (2, 3)",
		"incidents":            "number IN (2, 3)",
	} {
		if n := countRows(t, s, table, where); n == 0 {
			t.Errorf("%s: the rows to keep (%s) were pruned", table, where)
		}
		if n, kept := countRows(t, s, table, "true"), countRows(t, s, table, where); n != kept {
			t.Errorf("%s: %d rows left, want only the %d to keep", table, n, kept)
		}
	}
	if n := countRows(t, s, "copilot_daily_metrics", "true"); n != 2 {
		t.Errorf("copilot_daily_metrics has %d rows, want both days kept", n)
	}

	// A second pass finds nothing.
	again, _ := pruneAll(t, s, pruneCutoff, 3)
	for k, n := range again {
		if n != 0 {
			t.Errorf("second pass pruned %d rows of %s", n, k)
		}
	}
}

func TestPrunePullRequestsWithTheirRows(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	old, recent := pruneCutoff.AddDate(0, -1, 0), pruneCutoff.AddDate(0, 0, 3)
	for _, pr := range []struct {
		number  int
		state   string
		updated time.Time
	}{{1, "closed", old}, {2, "open", old}, {3, "closed", recent}} {
		mustExec(t, s, `INSERT INTO pull_requests (enterprise_id, repo_id, number, id, state, created_at, updated_at) VALUES ('e', 1, $1, $2, $3, $4, $4)`,
			pr.number, int64(pr.number), pr.state, pr.updated)
		mustExec(t, s, `INSERT INTO pull_request_commits (enterprise_id, repo_id, pr_number, sha, authored_at) VALUES ('e', 1, $1, 'a', $2), ('e', 1, $1, 'b', $2)`, pr.number, pr.updated)
		mustExec(t, s, `INSERT INTO pull_request_reviews (enterprise_id, repo_id, pr_number, review_id, state) VALUES ('e', 1, $1, $2, 'APPROVED')`, pr.number, int64(pr.number))
	}
	deleted, done, err := s.PruneBatch(t.Context(), "pull_requests", pruneCutoff, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"pull_requests": 1, "pull_request_commits": 2, "pull_request_reviews": 1}
	if diff := cmp.Diff(want, deleted); diff != "" || !done {
		t.Errorf("deleted (-want +got):\n%s done=%v", diff, done)
	}
	for _, table := range []string{"pull_requests", "pull_request_reviews"} {
		if n := countRows(t, s, table, "true"); n != 2 {
			t.Errorf("%s: %d rows left, want the open old one and the recent one", table, n)
		}
	}
	if n := countRows(t, s, "pull_request_commits", "pr_number = 1"); n != 0 {
		t.Errorf("%d commits of the pruned pull request are left", n)
	}
}

// TestPruneDeploymentsKeepsTheAnchor: the newest successful production deployment
// before the cutoff stays, so the next deployment's changes (compared against it) are
// not compared again; older and failed ones go with their statuses and changes.
func TestPruneDeploymentsKeepsTheAnchor(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	ctx := t.Context()
	day := func(d int) time.Time { return pruneCutoff.AddDate(0, 0, d) }
	deployments := []struct {
		id      int64
		created time.Time
		state   string
		prod    bool
	}{
		{1, day(-40), "success", true},  // old, superseded: goes
		{2, day(-30), "failure", true},  // old, failed: goes
		{3, day(-20), "success", false}, // old, not production: goes
		{4, day(-10), "success", true},  // the anchor: newest success before the cutoff, stays
		{5, day(5), "success", true},    // recent: stays; its changes were compared against 4
		{6, day(-50), "success", true},  // the anchor of another environment, stays
	}
	for _, d := range deployments {
		env := "production"
		if d.id == 6 {
			env = "production-eu"
		}
		mustExec(t, s, `INSERT INTO deployments (enterprise_id, repo_id, signal, deployment_id, sha, production, created_at, latest_state, environment)
			VALUES ('e', 1, 'deployment', $1, $2, $3, $4, $5, $6)`, d.id, "sha"+string(rune('0'+d.id)), d.prod, d.created, d.state, env)
		mustExec(t, s, `INSERT INTO deployment_statuses (enterprise_id, repo_id, signal, deployment_id, status_id, state, created_at)
			VALUES ('e', 1, 'deployment', $1, $1, $2, $3)`, d.id, d.state, d.created.Add(time.Minute))
	}
	// Mark the changes as loaded against the right predecessors, as the collector would.
	targets, err := s.ListChangeTargets(ctx, "e", 1, "deployment")
	if err != nil {
		t.Fatal(err)
	}
	var sets []postgres.ChangeSet
	for _, tg := range targets {
		sets = append(sets, postgres.ChangeSet{DeploymentID: tg.DeploymentID, BaseSHA: tg.BaseSHA})
	}
	if _, err := s.SaveDeploymentChanges(ctx, "e", 1, "deployment", sets, nil); err != nil {
		t.Fatal(err)
	}
	for _, d := range deployments {
		mustExec(t, s, `INSERT INTO deployment_changes (enterprise_id, repo_id, signal, deployment_id, sha, authored_at)
			VALUES ('e', 1, 'deployment', $1, $2, $3)`, d.id, fmt.Sprint("c", d.id), d.created)
	}

	deleted, done, err := s.PruneBatch(ctx, "deployments", pruneCutoff, 2)
	if err != nil {
		t.Fatal(err)
	}
	if deleted["deployments"] != 2 || deleted["deployment_statuses"] != 2 || deleted["deployment_changes"] != 2 || done {
		t.Errorf("first batch of 2: deleted %v done=%v, want 2 deployments and more to come", deleted, done)
	}
	deleted, done, err = s.PruneBatch(ctx, "deployments", pruneCutoff, 2)
	if err != nil {
		t.Fatal(err)
	}
	if deleted["deployments"] != 1 || !done {
		t.Errorf("second batch: deleted %v done=%v, want the last one and done", deleted, done)
	}
	rows, err := s.Pool().Query(ctx, `SELECT deployment_id FROM deployments ORDER BY deployment_id`)
	if err != nil {
		t.Fatal(err)
	}
	var left []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		left = append(left, id)
	}
	if !slices.Equal(left, []int64{4, 5, 6}) {
		t.Errorf("deployments left %v, want the anchors 4 and 6 (one per environment) and the recent 5", left)
	}
	for _, table := range []string{"deployment_statuses", "deployment_changes"} {
		if n := countRows(t, s, table, "deployment_id NOT IN (4, 5, 6)"); n != 0 {
			t.Errorf("%s: %d rows of pruned deployments left", table, n)
		}
	}
	// Deployment 5 still has its predecessor, so it is not a change target again.
	targets, err = s.ListChangeTargets(ctx, "e", 1, "deployment")
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets {
		if tg.DeploymentID == 5 {
			t.Errorf("deployment 5 is a change target again after the prune (base %q): its predecessor was pruned", tg.BaseSHA)
		}
	}
}

func TestPruneBatchRefusesBadInput(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	ctx := context.Background()
	if _, _, err := s.PruneBatch(ctx, "dora_metrics", pruneCutoff, 10); err == nil {
		t.Error("pruned a table that is not raw data")
	}
	if _, _, err := s.PruneBatch(ctx, "commits", pruneCutoff, 0); err == nil {
		t.Error("accepted a batch limit of 0")
	}
}

// Team listings name people: ended membership periods and teams long gone are pruned;
// current teams, current members and periods ending on or after the cutoff stay.
func TestPruneTeamsAndEndedMemberships(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	old, recent := pruneCutoff.AddDate(0, 0, -1), pruneCutoff
	// Team 1 is listed today, team 2 has been missing since before the cutoff, team 3
	// only since the cutoff.
	mustExec(t, s, `INSERT INTO teams (enterprise_id, org, team_id, slug, first_listed, last_listed, missing_since) VALUES
		('e', 'o', 1, 'current', $1, $2, NULL), ('e', 'o', 2, 'gone', $1, $1, $1), ('e', 'o', 3, 'lately-gone', $1, $2, $3)`,
		old.AddDate(-1, 0, 0), old, recent)
	mustExec(t, s, `INSERT INTO team_members (enterprise_id, org, team_id, user_id, login, since, until) VALUES
		('e', 'o', 1, 1, 'alice', NULL, NULL),
		('e', 'o', 1, 2, 'bob', $1, $2),
		('e', 'o', 1, 3, 'carol', $1, $3),
		('e', 'o', 1, 4, 'dave', NULL, $2),
		('e', 'o', 2, 5, 'erin', NULL, NULL),
		('e', 'o', 2, 6, 'frank', NULL, $2),
		('e', 'o', 3, 7, 'grace', NULL, NULL)`, old.AddDate(-1, 0, 0), old, recent)
	mustExec(t, s, `INSERT INTO team_repositories (enterprise_id, org, team_id, repo_full_name, permission) VALUES
		('e', 'o', 1, 'o/api', 'admin'), ('e', 'o', 2, 'o/legacy', 'maintain'), ('e', 'o', 3, 'o/web', 'admin')`)

	total, _ := pruneAll(t, s, pruneCutoff, 1)
	// team 2 with erin, frank and o/legacy; bob's and dave's ended periods.
	want := map[string]int64{"teams": 1, "team_members": 4, "team_repositories": 1}
	if diff := cmp.Diff(want, total); diff != "" {
		t.Errorf("pruned rows (-want +got):\n%s", diff)
	}
	logins := textRows(t, s, `SELECT login FROM team_members ORDER BY login`)
	if diff := cmp.Diff([]string{"alice", "carol", "grace"}, logins); diff != "" {
		t.Errorf("members kept (-want +got):\n%s", diff)
	}
	if n := countRows(t, s, "teams", "team_id IN (1, 3)"); n != 2 || countRows(t, s, "teams", "true") != 2 {
		t.Errorf("teams kept: want exactly teams 1 and 3")
	}
	if n := countRows(t, s, "team_repositories", "true"); n != 2 {
		t.Errorf("%d team repositories left, want o/api and o/web", n)
	}
}

// The run audit of old finished runs goes with its steps and calls; the runs that say
// through which date the data is complete stay, so CompleteThrough answers the same.
func TestPruneRunAuditKeepsTheCoverageRuns(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	old, recent := pruneCutoff.AddDate(0, 0, -1), pruneCutoff
	mustExec(t, s, `INSERT INTO collection_runs (id, trigger, run_date, status) VALUES
		(1, 'timer', $1::date - 2, 'succeeded'),  -- superseded by run 2 for ent1: goes
		(2, 'timer', $1::date - 1, 'partial'),    -- ent1's newest complete DORA and velocity: stays
		(3, 'manual', $1, 'succeeded'),           -- ent2's newest successful calculate_copilot: stays
		(4, 'manual', $1, 'running'),             -- unfinished: stays
		(5, 'timer', $1::date - 3, 'failed'),     -- nothing of it is read: goes
		(6, 'timer', $2, 'succeeded')             -- within the retention: stays`, old, recent)
	mustExec(t, s, `INSERT INTO run_steps (run_id, stage, enterprise_id, status, updated_at) VALUES
		(1, 'calculate_dora', 'ent1', 'succeeded', $1), (1, 'calculate_velocity', 'ent1', 'succeeded', $1),
		(1, 'calculate_copilot', 'ent2', 'succeeded', $1),
		(2, 'calculate_dora', 'ent1', 'succeeded', $1), (2, 'calculate_velocity', 'ent1', 'partial', $1),
		(3, 'calculate_copilot', 'ent2', 'succeeded', $1::timestamptz + interval '1 hour'),
		(6, 'calculate_dora', 'ent2', 'failed', $2)`, old, recent)
	mustExec(t, s, `INSERT INTO stage_calls (run_id, stage, enterprise_id) VALUES
		(1, 'collect_repos', 'ent1'), (1, 'calculate_dora', 'ent1'), (5, 'collect_copilot', 'ent1'), (2, 'export_csv', '')`)
	mustExec(t, s, `INSERT INTO exported_files (file_name, kind, export_date, rows, bytes, sha256, schema_version, run_id) VALUES
		('dora_metrics_old.csv', 'dora_metrics', $1, 1, 1, 'x', 1, 1), ('dora_metrics_kept.csv', 'dora_metrics', $1, 1, 1, 'x', 1, 2)`, old)
	mustExec(t, s, `INSERT INTO copilot_report_fetches (enterprise_id, scope_type, scope, report, day, status, fetched_at)
		VALUES ('ent2', 'enterprise', 'c', 'aggregate', $1, 'ok', $2)`, recent, old)
	ids := []string{"ent1", "ent2"}
	coverage := func() map[string]map[string]time.Time {
		out := map[string]map[string]time.Time{}
		for _, source := range []string{"repos", "copilot"} {
			c, err := s.CompleteThrough(t.Context(), source, ids)
			if err != nil {
				t.Fatal(err)
			}
			out[source] = c
		}
		return out
	}
	before := coverage()

	total, _ := pruneAll(t, s, pruneCutoff, 1)
	// Runs 1 and 5 with run 1's three steps and the two runs' three stage calls.
	want := map[string]int64{"collection_runs": 2, "run_steps": 3, "stage_calls": 3}
	if diff := cmp.Diff(want, total); diff != "" {
		t.Errorf("pruned rows (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"2", "3", "4", "6"}, textRows(t, s, `SELECT id::text FROM collection_runs ORDER BY id`)); diff != "" {
		t.Errorf("runs kept (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"dora_metrics_kept.csv 2", "dora_metrics_old.csv -"},
		textRows(t, s, `SELECT file_name || ' ' || coalesce(run_id::text, '-') FROM exported_files ORDER BY file_name`)); diff != "" {
		t.Errorf("exported files (-want +got):\n%s", diff)
	}
	if len(before["repos"]) != 1 || len(before["copilot"]) != 1 {
		t.Fatalf("coverage before pruning %v: want ent1's repositories and ent2's Copilot reports", before)
	}
	if diff := cmp.Diff(before, coverage()); diff != "" {
		t.Errorf("CompleteThrough changed by pruning (-before +after):\n%s", diff)
	}
}
