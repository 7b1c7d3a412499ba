package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Retention: collected data older than RETENTION_DAYS is deleted by the daily run, in
// bounded batches (each a statement of at most limit rows of the pruned table and the
// rows that belong to them), so no statement holds locks for long and a run out of
// time stops between batches. What is kept: the computed metrics (dora_metrics,
// velocity_metrics), the daily Copilot figures and seat counts (copilot_daily_metrics,
// copilot_seat_snapshots: no names), repositories, watermarks, current teams and
// memberships, and the runs that say through which date the data is complete.

// pruneTable is one table the retention job prunes: by which column, and the statement
// that deletes one batch. Each statement takes $1 = cutoff (rows strictly older are
// deleted) and $2 = limit, and returns the deleted count of the table, then of each
// child table in children's order.
type pruneTable struct {
	name     string
	children []string
	sql      string
}

// pruneFlat is the batch of a table without dependants: one batch is found through the
// index on the pruned column (old is the condition on it, $1 the cutoff) and deleted by
// address (ctid = ANY(ARRAY(...)) is a TID scan). SKIP LOCKED leaves rows a collector is
// writing right now to the next batch or day.
func pruneFlat(table, old string) string {
	return `
WITH gone AS (
    DELETE FROM ` + table + ` WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM ` + table + ` WHERE ` + old + ` LIMIT $2 FOR UPDATE SKIP LOCKED))
    RETURNING 1
)
SELECT count(*) FROM gone`
}

// pruneChild is a table whose rows belong to a pruned parent: keys are its columns
// holding the parent's key, in the parent's key order.
type pruneChild struct {
	table string
	keys  []string
}

// pruneWithChildren is the batch of a table whose rows take child rows with them: a
// batch of parent keys (old is the condition, $1 the cutoff) is locked, then the parents
// and every child row of them are deleted in one statement, which counts each table.
func pruneWithChildren(table string, keys []string, old string, children ...pruneChild) pruneTable {
	matches := func(cols []string) string {
		conds := make([]string, len(keys))
		for i, k := range keys {
			conds[i] = "x." + cols[i] + " = d." + k
		}
		return strings.Join(conds, " AND ")
	}
	deletes := []pruneChild{{table: table, keys: keys}}
	deletes = append(deletes, children...)
	var sql strings.Builder
	fmt.Fprintf(&sql, "\nWITH doomed AS (\n    SELECT %s FROM %s\n    WHERE %s\n    LIMIT $2 FOR UPDATE SKIP LOCKED\n)",
		strings.Join(keys, ", "), table, old)
	counts := make([]string, len(deletes))
	for i, d := range deletes {
		fmt.Fprintf(&sql, ", gone%d AS (\n    DELETE FROM %s x USING doomed d\n    WHERE %s\n    RETURNING 1\n)", i, d.table, matches(d.keys))
		counts[i] = fmt.Sprintf("(SELECT count(*) FROM gone%d)", i)
	}
	sql.WriteString("\nSELECT " + strings.Join(counts, ", "))
	names := make([]string, len(children))
	for i, c := range children {
		names[i] = c.table
	}
	return pruneTable{name: table, children: names, sql: sql.String()}
}

// Deployments go with their statuses and changes. Per repository, signal and environment,
// the newest successful production deployment older than the cutoff (in the calculators'
// order: first success, then id) is kept: it is the predecessor that the next
// deployment's changes were compared against (ListChangeTargets), so pruning it would
// make the collector compare that deployment again, as if it were the first. (Keeping one
// per environment also covers change sets compared per environment.)
const sqlPruneDeployments = `
WITH anchors AS (
    SELECT DISTINCT ON (d.enterprise_id, d.repo_id, d.signal, lower(d.environment))
           d.enterprise_id, d.repo_id, d.signal, d.deployment_id
    FROM deployments d
    JOIN LATERAL (
        SELECT min(s.created_at) AS succeeded_at FROM deployment_statuses s
        WHERE s.enterprise_id = d.enterprise_id AND s.repo_id = d.repo_id AND s.signal = d.signal
          AND s.deployment_id = d.deployment_id AND s.state = 'success'
    ) f ON f.succeeded_at IS NOT NULL
    WHERE d.production AND d.created_at < $1
    ORDER BY d.enterprise_id, d.repo_id, d.signal, lower(d.environment), f.succeeded_at DESC, d.deployment_id DESC
), doomed AS (
    SELECT d.enterprise_id, d.repo_id, d.signal, d.deployment_id FROM deployments d
    WHERE d.created_at < $1
      AND NOT EXISTS (SELECT 1 FROM anchors a
                      WHERE a.enterprise_id = d.enterprise_id AND a.repo_id = d.repo_id
                        AND a.signal = d.signal AND a.deployment_id = d.deployment_id)
    LIMIT $2 FOR UPDATE OF d SKIP LOCKED
), deps AS (
    DELETE FROM deployments x USING doomed d
    WHERE x.enterprise_id = d.enterprise_id AND x.repo_id = d.repo_id AND x.signal = d.signal
      AND x.deployment_id = d.deployment_id
    RETURNING 1
), statuses AS (
    DELETE FROM deployment_statuses x USING doomed d
    WHERE x.enterprise_id = d.enterprise_id AND x.repo_id = d.repo_id AND x.signal = d.signal
      AND x.deployment_id = d.deployment_id
    RETURNING 1
), changes AS (
    DELETE FROM deployment_changes x USING doomed d
    WHERE x.enterprise_id = d.enterprise_id AND x.repo_id = d.repo_id AND x.signal = d.signal
      AND x.deployment_id = d.deployment_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM deps), (SELECT count(*) FROM statuses), (SELECT count(*) FROM changes)`

// The run audit of finished runs older than the cutoff goes: the run, its steps and its
// stage calls; exported and uploaded files keep their records without the run. Two
// runs per enterprise stay whatever their age, because Store.CompleteThrough reads
// them (sqlCoverageRepos, sqlCoverageCopilot): the newest timer run whose DORA and
// velocity calculations both succeeded, and the run of the newest successful
// calculate_copilot. Unfinished runs stay too (SupersedeRunningRuns closes them).
const sqlPruneRuns = `
WITH anchors AS (
    SELECT run_id FROM (
        SELECT DISTINCT ON (s.enterprise_id) s.run_id
        FROM run_steps s JOIN collection_runs r ON r.id = s.run_id
        WHERE r.trigger = 'timer' AND s.stage IN ('calculate_dora', 'calculate_velocity')
          AND s.status IN ('succeeded', 'partial')
        GROUP BY s.enterprise_id, s.run_id, r.run_date
        HAVING count(DISTINCT s.stage) = 2
        ORDER BY s.enterprise_id, r.run_date DESC) repos
    UNION
    SELECT run_id FROM (
        SELECT DISTINCT ON (enterprise_id) run_id FROM run_steps
        WHERE stage = 'calculate_copilot' AND status IN ('succeeded', 'partial')
        ORDER BY enterprise_id, updated_at DESC) copilot
), doomed AS (
    SELECT id FROM collection_runs
    WHERE run_date < $1::date AND status <> 'running' AND id NOT IN (SELECT run_id FROM anchors)
    LIMIT $2 FOR UPDATE SKIP LOCKED
), steps AS (
    DELETE FROM run_steps x USING doomed d WHERE x.run_id = d.id RETURNING 1
), calls AS (
    DELETE FROM stage_calls x USING doomed d WHERE x.run_id = d.id RETURNING 1
), exported AS ( -- runs always to completion, although nothing reads it
    UPDATE exported_files x SET run_id = NULL FROM doomed d WHERE x.run_id = d.id
), uploaded AS (
    UPDATE uploaded_files x SET run_id = NULL FROM doomed d WHERE x.run_id = d.id
), gone AS (
    DELETE FROM collection_runs x USING doomed d WHERE x.id = d.id RETURNING 1
)
SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM steps), (SELECT count(*) FROM calls)`

// pruneTables, in the order they are pruned: per-person Copilot data first.
var pruneTables = []pruneTable{
	{name: "copilot_user_metrics", sql: pruneFlat("copilot_user_metrics", "day < $1::date")},
	{name: "copilot_user_teams", sql: pruneFlat("copilot_user_teams", "day < $1::date")},
	{name: "copilot_seats", sql: pruneFlat("copilot_seats", "snapshot_date < $1::date")},
	{name: "copilot_raw_records", sql: pruneFlat("copilot_raw_records", "day < $1::date")},
	{name: "copilot_breakdowns", sql: pruneFlat("copilot_breakdowns", "day < $1::date")},
	{name: "copilot_report_fetches", sql: pruneFlat("copilot_report_fetches", "day < $1::date")},
	{name: "commits", sql: pruneFlat("commits", "committed_at < $1")},
	// Pull requests go with their commits and reviews; open ones are never pruned
	// (collect_repos watches them).
	pruneWithChildren("pull_requests", []string{"enterprise_id", "repo_id", "number"}, "state <> 'open' AND updated_at < $1",
		pruneChild{"pull_request_commits", []string{"enterprise_id", "repo_id", "pr_number"}},
		pruneChild{"pull_request_reviews", []string{"enterprise_id", "repo_id", "pr_number"}}),
	// Workflow runs still in progress and open incidents are never pruned.
	{name: "workflow_runs", sql: pruneFlat("workflow_runs", "status = 'completed' AND created_at < $1")},
	{name: "deployments", children: []string{"deployment_statuses", "deployment_changes"}, sql: sqlPruneDeployments},
	{name: "incidents", sql: pruneFlat("incidents", "closed_at < $1")},
	// Teams missing from their org's listing since before the cutoff go with their
	// membership periods and repository permissions. (A team listed again later starts
	// afresh, as a new team would; the weeks it would need are older than the retention.)
	pruneWithChildren("teams", []string{"enterprise_id", "org", "team_id"}, "missing_since < $1::date",
		pruneChild{"team_members", []string{"enterprise_id", "org", "team_id"}},
		pruneChild{"team_repositories", []string{"enterprise_id", "org", "team_id"}}),
	// Membership periods that ended before the cutoff (logins of former members): the
	// team rows of the weeks they count in are older than the retention, never
	// recomputed. Current members (until NULL) stay.
	{name: "team_members", sql: pruneFlat("team_members", "until < $1::date")},
	// Last: the run audit (no personal data; it only grows by a few rows a day).
	{name: "collection_runs", children: []string{"run_steps", "stage_calls"}, sql: sqlPruneRuns},
}

// PruneTables names the tables the retention job prunes, in order. (Child tables go
// with their parents: pull_request_commits and pull_request_reviews with
// pull_requests, deployment_statuses and deployment_changes with deployments.)
func (s *Store) PruneTables() []string {
	out := make([]string, len(pruneTables))
	for i, t := range pruneTables {
		out[i] = t.name
	}
	return out
}

// PruneBatch deletes at most limit rows of table older than cutoff, with the rows of its
// child tables that belong to them, in one statement. deleted counts the rows per
// table; done is true when fewer than limit rows of table were deleted, so another batch
// would find nothing (or only rows locked by a writer right now).
func (s *Store) PruneBatch(ctx context.Context, table string, cutoff time.Time, limit int) (deleted map[string]int64, done bool, err error) {
	if limit < 1 {
		return nil, false, fmt.Errorf("prune %s: limit %d must be positive", table, limit)
	}
	var t *pruneTable
	for i := range pruneTables {
		if pruneTables[i].name == table {
			t = &pruneTables[i]
		}
	}
	if t == nil {
		return nil, false, fmt.Errorf("prune %s: not a table the retention job prunes", table)
	}
	counts := make([]int64, 1+len(t.children))
	dest := make([]any, len(counts))
	for i := range counts {
		dest[i] = &counts[i]
	}
	if err := s.pool.QueryRow(ctx, t.sql, cutoff.UTC(), limit).Scan(dest...); err != nil {
		return nil, false, classify(fmt.Errorf("prune %s: %w", table, err))
	}
	deleted = map[string]int64{t.name: counts[0]}
	for i, c := range t.children {
		deleted[c] = counts[i+1]
	}
	return deleted, counts[0] < int64(limit), nil
}
