package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"metrics-collector/internal/metrics"
)

// ExportedFile is a row of exported_files: one file written by export_csv.
type ExportedFile struct {
	FileName      string
	Kind          string
	ExportDate    time.Time
	Rows          int64
	Bytes         int64
	SHA256        string
	SchemaVersion int
	RunID         int64 // 0 when not part of a run
	ExportedAt    time.Time
	// WindowStart is the first day of the file's daily data (zero: not recorded, files
	// exported before issue 14).
	WindowStart time.Time
	// CompleteThrough is, per enterprise id, the last date the file's data is complete
	// through; nil for an enterprise whose collection never completed.
	CompleteThrough map[string]*time.Time
}

// UploadedFile is a row of uploaded_files: the version of a file last uploaded.
type UploadedFile struct {
	FileName    string
	SHA256      string
	Bytes       int64
	DriveItemID string
	RunID       int64 // 0 when not part of a run
	UploadedAt  time.Time
}

// The export queries, one per file kind. Their column aliases are the CSV header
// names, in file order: the export stage checks them against the file spec. Numeric
// columns are sent as text so the CSV writer can round them exactly. Rows come in
// natural-key order, compared byte-wise (COLLATE "C") so the order — and the file —
// is the same whatever the database's collation.
const sqlExportCopilotMetrics = `
SELECT enterprise_id, scope_type, scope, day AS date,
       daily_active_users, weekly_active_users, monthly_active_users,
       user_initiated_interactions, code_generations, code_acceptances,
       completion_acceptance_rate::text AS completion_acceptance_rate,
       loc_suggested_to_add, loc_added, seats_total, seats_active_30d,
       monthly_active_chat_users, monthly_active_agent_users,
       chat_interactions, agent_interactions,
       completion_generations, completion_acceptances,
       loc_suggested_to_delete, loc_deleted,
       pr_total_created, pr_total_reviewed, pr_total_merged,
       pr_median_minutes_to_merge::text AS pr_median_minutes_to_merge,
       pr_total_suggestions, pr_total_applied_suggestions,
       pr_total_created_by_copilot, pr_total_reviewed_by_copilot,
       pr_total_copilot_suggestions, pr_total_copilot_applied_suggestions
FROM copilot_daily_metrics
WHERE day BETWEEN $1 AND $2
ORDER BY enterprise_id COLLATE "C", scope_type COLLATE "C", scope COLLATE "C", day`

const sqlExportDORAMetrics = `
SELECT enterprise_id, scope_type, scope, week_start,
       deployments, deployment_days,
       lead_time_p50_hours::text AS lead_time_p50_hours,
       lead_time_p90_hours::text AS lead_time_p90_hours,
       change_failure_rate::text AS change_failure_rate,
       recovery_time_p50_hours::text AS recovery_time_p50_hours,
       rework_rate::text AS rework_rate,
       performance_level, metric_version,
       lead_time_n, failed_deployments, recovery_n, rework_deployments,
       deployment_frequency_level, lead_time_level, change_failure_level, recovery_level,
       thresholds_version,
       failed_attempts, unrecovered_failures, repos_elite, repos_high, repos_medium, repos_low
FROM dora_metrics
WHERE week_start BETWEEN $1 AND $2 AND metric_version = $3
ORDER BY enterprise_id COLLATE "C", scope_type COLLATE "C", scope COLLATE "C", week_start`

const sqlExportVelocityMetrics = `
SELECT enterprise_id, scope_type, scope, week_start,
       prs_opened, prs_merged, prs_closed_unmerged,
       pr_cycle_time_p50_hours::text AS pr_cycle_time_p50_hours,
       pickup_time_p50_hours::text AS pickup_time_p50_hours,
       review_time_p50_hours::text AS review_time_p50_hours,
       prs_merged_without_review, commits, active_contributors, workflow_runs,
       workflow_success_rate::text AS workflow_success_rate,
       metric_version,
       pr_cycle_time_p90_hours::text AS pr_cycle_time_p90_hours,
       pr_cycle_time_n,
       coding_time_p50_hours::text AS coding_time_p50_hours,
       coding_time_n, pickup_time_n, review_time_n,
       deploy_time_p50_hours::text AS deploy_time_p50_hours,
       deploy_time_n,
       pr_size_p50::text AS pr_size_p50,
       pr_size_n, workflow_completed_runs,
       workflow_duration_p50_seconds::text AS workflow_duration_p50_seconds
FROM velocity_metrics
WHERE week_start BETWEEN $1 AND $2 AND metric_version = $3
ORDER BY enterprise_id COLLATE "C", scope_type COLLATE "C", scope COLLATE "C", week_start`

const sqlExportCopilotUserMetrics = `
SELECT enterprise_id, scope_type, scope, day AS date, user_id, user_login,
       user_initiated_interactions, code_generations, code_acceptances,
       loc_suggested_to_add, loc_suggested_to_delete, loc_added, loc_deleted,
       used_agent, used_chat, used_cli, used_code_review_active, used_code_review_passive,
       used_coding_agent,
       ai_credits_used::text AS ai_credits_used,
       chat_interactions, agent_interactions
FROM copilot_user_metrics
WHERE day BETWEEN $1 AND $2
ORDER BY enterprise_id COLLATE "C", scope_type COLLATE "C", scope COLLATE "C", day, user_id`

// The newest seat snapshot of each scope taken within the window.
const sqlExportCopilotSeats = `
WITH latest AS (
    SELECT enterprise_id, scope_type, scope, max(snapshot_date) AS snapshot_date
    FROM copilot_seats
    WHERE snapshot_date BETWEEN $1 AND $2
    GROUP BY enterprise_id, scope_type, scope
)
SELECT s.enterprise_id, s.scope_type, s.scope, s.snapshot_date,
       s.assignee_id, s.assignee_login, s.assignee_type, s.organization, s.assigning_team,
       s.plan_type, s.created_at, s.pending_cancellation, s.last_activity_at,
       s.last_activity_editor, s.last_authenticated_at
FROM copilot_seats s
JOIN latest USING (enterprise_id, scope_type, scope, snapshot_date)
ORDER BY s.enterprise_id COLLATE "C", s.scope_type COLLATE "C", s.scope COLLATE "C", s.seat_key COLLATE "C"`

const sqlExportCopilotImpact = `
SELECT enterprise_id, scope_type, scope, week_start, cohort, suppressed, authors, prs_merged,
       pr_cycle_time_p50_hours::text AS pr_cycle_time_p50_hours,
       review_time_p50_hours::text AS review_time_p50_hours,
       pr_size_p50::text AS pr_size_p50,
       prs_reviewed_by_copilot, prs_reverted, copilot_report_days, min_authors, metric_version,
       pr_cycle_time_n, review_time_n, pr_size_n
FROM copilot_impact_metrics
WHERE week_start BETWEEN $1 AND $2 AND metric_version = $3
ORDER BY enterprise_id COLLATE "C", scope_type COLLATE "C", scope COLLATE "C", week_start,
         array_position(ARRAY['copilot_active', 'copilot_inactive', 'copilot_agent'], cohort)`

const sqlExportCopilotSeatUtilisation = `
SELECT enterprise_id, scope_type, scope, day AS date, seats_total, seats_active_7d, seats_active_30d,
       seats_idle_30d, seats_never_used, seats_pending_cancellation, seats_business, seats_enterprise,
       seats_other_plan, currency, monthly_cost::text AS monthly_cost, idle_monthly_cost::text AS idle_monthly_cost,
       unpriced_seats, metric_version
FROM copilot_seat_utilisation
WHERE day BETWEEN $1 AND $2
ORDER BY enterprise_id COLLATE "C", scope_type COLLATE "C", scope COLLATE "C", day`

// The idle seats of each scope's newest snapshot within the window, most days idle first.
const sqlExportCopilotIdleSeats = `
SELECT enterprise_id, scope_type, scope, snapshot_date, assignee_id, assignee_login, organization,
       assigning_team, plan_type, created_at AS seat_created_at, last_activity_at, last_activity_editor,
       days_idle, never_used, pending_cancellation, metric_version
FROM copilot_idle_seats
WHERE snapshot_date BETWEEN $1 AND $2
ORDER BY enterprise_id COLLATE "C", scope_type COLLATE "C", scope COLLATE "C", days_idle DESC,
         assignee_login COLLATE "C", seat_key COLLATE "C"`

const sqlExportDORARolling = `
SELECT enterprise_id, scope_type, scope, week_start, window_weeks, window_start, deployments, deployment_days,
       lead_time_p50_hours::text AS lead_time_p50_hours,
       lead_time_p90_hours::text AS lead_time_p90_hours,
       change_failure_rate::text AS change_failure_rate,
       recovery_time_p50_hours::text AS recovery_time_p50_hours,
       rework_rate::text AS rework_rate,
       performance_level, failed_deployments, rework_deployments, failed_attempts, unrecovered_failures,
       deployment_frequency_level, lead_time_level, change_failure_level, recovery_level,
       repos_elite, repos_high, repos_medium, repos_low, thresholds_version, metric_version,
       lead_time_n, recovery_n
FROM dora_rolling_metrics
WHERE week_start BETWEEN $1 AND $2 AND metric_version = $3
ORDER BY enterprise_id COLLATE "C", scope_type COLLATE "C", scope COLLATE "C", window_weeks, week_start`

// exportQuery returns the query of a file kind and whether it takes the metric version
// ($3): a weekly file holds the rows of the current metric_version only, so a file
// never mixes definitions (rows of an older version wait for their recomputation).
func exportQuery(kind string) (query string, versioned, ok bool) {
	switch kind {
	case "copilot_metrics":
		return sqlExportCopilotMetrics, false, true
	case "dora_metrics":
		return sqlExportDORAMetrics, true, true
	case "velocity_metrics":
		return sqlExportVelocityMetrics, true, true
	case "copilot_user_metrics":
		return sqlExportCopilotUserMetrics, false, true
	case "copilot_seats":
		return sqlExportCopilotSeats, false, true
	case "copilot_impact":
		return sqlExportCopilotImpact, true, true
	case "copilot_seat_utilisation":
		return sqlExportCopilotSeatUtilisation, false, true
	case "copilot_idle_seats":
		return sqlExportCopilotIdleSeats, false, true
	case "dora_rolling":
		return sqlExportDORARolling, true, true
	}
	return "", false, false
}

// StreamExport runs the query of one file kind for the window [from, to] (dates,
// inclusive: daily rows by day, weekly rows by week_start, seats by snapshot date) and
// hands the result over without holding it: columns once with the column names, then
// row for each row in natural-key order. The row slice is not reused, but the callee
// should not keep it. An error from a callback stops the query and is returned as is.
//
// Values are string (text and numeric), int64 / int32 (bigint / integer), time.Time
// (date, timestamptz), bool, or nil for NULL.
func (s *Store) StreamExport(ctx context.Context, kind string, from, to time.Time, columns func([]string) error, row func([]any) error) error {
	query, versioned, ok := exportQuery(kind)
	if !ok {
		return fmt.Errorf("export %s: unknown file kind", kind)
	}
	args := []any{dateOnly(from), dateOnly(to)}
	if versioned {
		args = append(args, metrics.MetricVersion)
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return classify(fmt.Errorf("export %s: %w", kind, err))
	}
	defer rows.Close()
	fields := rows.FieldDescriptions()
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	if err := columns(names); err != nil {
		return err
	}
	for rows.Next() {
		values, err := rows.Values()
		if err != nil {
			return classify(fmt.Errorf("export %s: %w", kind, err))
		}
		if err := row(values); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return classify(fmt.Errorf("export %s: %w", kind, err))
	}
	return nil
}

// dateOnly keeps the calendar date of t as a UTC midnight, so the bound compares as the
// date the caller meant.
func dateOnly(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

const sqlRecordExport = `
INSERT INTO exported_files (file_name, kind, export_date, rows, bytes, sha256, schema_version, run_id,
    window_start, complete_through)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (file_name) DO UPDATE
SET kind = EXCLUDED.kind, export_date = EXCLUDED.export_date, rows = EXCLUDED.rows,
    bytes = EXCLUDED.bytes, sha256 = EXCLUDED.sha256, schema_version = EXCLUDED.schema_version,
    run_id = EXCLUDED.run_id, window_start = EXCLUDED.window_start,
    complete_through = EXCLUDED.complete_through, exported_at = now()`

// RecordExport records a written file, replacing the record of an earlier export of
// the same file name.
func (s *Store) RecordExport(ctx context.Context, f ExportedFile) error {
	var window *time.Time
	if !f.WindowStart.IsZero() {
		w := dateOnly(f.WindowStart)
		window = &w
	}
	through := make(map[string]*string, len(f.CompleteThrough))
	for id, t := range f.CompleteThrough {
		if t == nil {
			through[id] = nil
			continue
		}
		d := t.Format(time.DateOnly)
		through[id] = &d
	}
	completeThrough, err := json.Marshal(through)
	if err != nil {
		return fmt.Errorf("record export %s: %w", f.FileName, err)
	}
	_, err = s.pool.Exec(ctx, sqlRecordExport, f.FileName, f.Kind, dateOnly(f.ExportDate),
		f.Rows, f.Bytes, f.SHA256, f.SchemaVersion, nullRunID(f.RunID), window, completeThrough)
	if err != nil {
		return classify(fmt.Errorf("record export %s: %w", f.FileName, err))
	}
	return nil
}

func nullRunID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

const exportedFileColumns = `file_name, kind, export_date, rows, bytes, sha256, schema_version,
	coalesce(run_id, 0), exported_at, window_start, complete_through`

func scanExportedFiles(rows pgx.Rows) ([]ExportedFile, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ExportedFile, error) {
		var f ExportedFile
		var window *time.Time
		var through map[string]*string
		err := r.Scan(&f.FileName, &f.Kind, &f.ExportDate, &f.Rows, &f.Bytes, &f.SHA256,
			&f.SchemaVersion, &f.RunID, &f.ExportedAt, &window, &through)
		if err != nil {
			return f, err
		}
		if window != nil {
			f.WindowStart = *window
		}
		f.CompleteThrough = make(map[string]*time.Time, len(through))
		for id, d := range through {
			if d == nil {
				f.CompleteThrough[id] = nil
				continue
			}
			t, err := time.Parse(time.DateOnly, *d)
			if err != nil {
				return f, fmt.Errorf("%s: complete_through of %s: %w", f.FileName, id, err)
			}
			f.CompleteThrough[id] = &t
		}
		return f, nil
	})
}

const sqlExportedFiles = `SELECT ` + exportedFileColumns + `
FROM exported_files WHERE export_date = $1 ORDER BY file_name`

// ExportedFiles returns the files recorded for an export date, by name.
func (s *Store) ExportedFiles(ctx context.Context, exportDate time.Time) ([]ExportedFile, error) {
	rows, err := s.pool.Query(ctx, sqlExportedFiles, dateOnly(exportDate))
	if err != nil {
		return nil, classify(fmt.Errorf("list exported files: %w", err))
	}
	files, err := scanExportedFiles(rows)
	if err != nil {
		return nil, classify(fmt.Errorf("list exported files: %w", err))
	}
	return files, nil
}

// The newest file of each kind (the manifest included): what latest/ holds.
const sqlLatestExports = `SELECT DISTINCT ON (kind) ` + exportedFileColumns + `
FROM exported_files ORDER BY kind, export_date DESC`

// LatestExports returns the newest recorded file of each kind, the manifest included,
// by kind: what latest/ holds. Empty when nothing was exported yet.
func (s *Store) LatestExports(ctx context.Context) ([]ExportedFile, error) {
	rows, err := s.pool.Query(ctx, sqlLatestExports)
	if err != nil {
		return nil, classify(fmt.Errorf("latest exports: %w", err))
	}
	files, err := scanExportedFiles(rows)
	if err != nil {
		return nil, classify(fmt.Errorf("latest exports: %w", err))
	}
	return files, nil
}

const sqlRunExports = `SELECT ` + exportedFileColumns + `
FROM exported_files WHERE run_id = $1 AND kind <> 'manifest' ORDER BY kind, export_date`

// RunExports returns the data files a run exported (not the manifest), by kind.
func (s *Store) RunExports(ctx context.Context, runID int64) ([]ExportedFile, error) {
	rows, err := s.pool.Query(ctx, sqlRunExports, runID)
	if err != nil {
		return nil, classify(fmt.Errorf("exports of run %d: %w", runID, err))
	}
	files, err := scanExportedFiles(rows)
	if err != nil {
		return nil, classify(fmt.Errorf("exports of run %d: %w", runID, err))
	}
	return files, nil
}

// Coverage of a source per enterprise: through which date its data is complete.
//   - copilot: the newest day of an aggregate usage report collected for any of the
//     enterprise's scopes (GitHub finalises a day within about three days; later runs
//     refresh those days) and taken in by a calculate_copilot that succeeded after it
//     was fetched: the files of the source carry that stage's team rows, seat
//     utilisation and idle seats, so a report fetched by a run whose calculation then
//     failed (or was skipped after a failed collection) does not yet count.
//   - repos: the day before the newest timer run in which the enterprise's DORA and
//     velocity calculations succeeded (they run only on a complete repository
//     collection): activity up to that run's collection is in, its own day partly.
const sqlCoverageCopilot = `
SELECT f.enterprise_id, max(f.day)
FROM copilot_report_fetches f
JOIN (SELECT enterprise_id, max(updated_at) AS calculated_at FROM run_steps
      WHERE stage = 'calculate_copilot' AND status IN ('succeeded', 'partial') AND enterprise_id = ANY($1)
      GROUP BY enterprise_id) c ON c.enterprise_id = f.enterprise_id
WHERE f.report = 'aggregate' AND f.status = 'ok' AND f.fetched_at <= c.calculated_at
GROUP BY f.enterprise_id`

const sqlCoverageRepos = `
SELECT enterprise_id, max(run_date) - 1 FROM (
    SELECT s.enterprise_id, r.run_date
    FROM run_steps s JOIN collection_runs r ON r.id = s.run_id
    WHERE r.trigger = 'timer' AND s.enterprise_id = ANY($1)
      AND s.stage IN ('calculate_dora', 'calculate_velocity') AND s.status IN ('succeeded', 'partial')
    GROUP BY s.enterprise_id, r.id, r.run_date
    HAVING count(DISTINCT s.stage) = 2) ok
GROUP BY enterprise_id`

// CompleteThrough returns, per enterprise id, the date through which a source's data
// is complete (see above); enterprises never completed are absent. source is
// "copilot" or "repos" (csvexport.Source).
func (s *Store) CompleteThrough(ctx context.Context, source string, enterpriseIDs []string) (map[string]time.Time, error) {
	var query string
	switch source {
	case "copilot":
		query = sqlCoverageCopilot
	case "repos":
		query = sqlCoverageRepos
	default:
		return nil, fmt.Errorf("complete through: unknown source %q", source)
	}
	rows, err := s.pool.Query(ctx, query, enterpriseIDs)
	if err != nil {
		return nil, classify(fmt.Errorf("complete through %s: %w", source, err))
	}
	type coverage struct {
		id   string
		date *time.Time
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (coverage, error) {
		var c coverage
		err := r.Scan(&c.id, &c.date)
		return c, err
	})
	if err != nil {
		return nil, classify(fmt.Errorf("complete through %s: %w", source, err))
	}
	out := make(map[string]time.Time, len(list))
	for _, c := range list {
		if c.date != nil {
			out[c.id] = *c.date
		}
	}
	return out, nil
}

// A complete export ends with its manifest; an export interrupted before it is not
// offered for upload.
const sqlLatestCompleteExport = `SELECT max(export_date) FROM exported_files WHERE kind = 'manifest'`

// LatestExport returns the files of the newest complete export (the newest export
// date with a manifest), by name. It returns ErrNotFound when nothing was exported yet.
func (s *Store) LatestExport(ctx context.Context) ([]ExportedFile, error) {
	var date *time.Time
	if err := s.pool.QueryRow(ctx, sqlLatestCompleteExport).Scan(&date); err != nil {
		return nil, classify(fmt.Errorf("latest export: %w", err))
	}
	if date == nil {
		return nil, fmt.Errorf("latest export: %w", ErrNotFound)
	}
	return s.ExportedFiles(ctx, *date)
}

const sqlUploadedFiles = `
SELECT file_name, sha256, bytes, drive_item_id, coalesce(run_id, 0), uploaded_at
FROM uploaded_files WHERE file_name = ANY($1)`

// UploadedFiles returns what was last uploaded under each of names; names never
// uploaded are absent from the map.
func (s *Store) UploadedFiles(ctx context.Context, names []string) (map[string]UploadedFile, error) {
	rows, err := s.pool.Query(ctx, sqlUploadedFiles, names)
	if err != nil {
		return nil, classify(fmt.Errorf("list uploaded files: %w", err))
	}
	files, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (UploadedFile, error) {
		var f UploadedFile
		err := r.Scan(&f.FileName, &f.SHA256, &f.Bytes, &f.DriveItemID, &f.RunID, &f.UploadedAt)
		return f, err
	})
	if err != nil {
		return nil, classify(fmt.Errorf("list uploaded files: %w", err))
	}
	byName := make(map[string]UploadedFile, len(files))
	for _, f := range files {
		byName[f.FileName] = f
	}
	return byName, nil
}

const sqlRecordUpload = `
INSERT INTO uploaded_files (file_name, sha256, bytes, drive_item_id, run_id)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (file_name) DO UPDATE
SET sha256 = EXCLUDED.sha256, bytes = EXCLUDED.bytes, drive_item_id = EXCLUDED.drive_item_id,
    run_id = EXCLUDED.run_id, uploaded_at = now()`

// RecordUpload records the version of a file now stored in SharePoint.
func (s *Store) RecordUpload(ctx context.Context, f UploadedFile) error {
	if f.FileName == "" || f.SHA256 == "" {
		return errors.New("record upload: file name and sha256 are required")
	}
	_, err := s.pool.Exec(ctx, sqlRecordUpload, f.FileName, f.SHA256, f.Bytes, f.DriveItemID, nullRunID(f.RunID))
	if err != nil {
		return classify(fmt.Errorf("record upload %s: %w", f.FileName, err))
	}
	return nil
}
