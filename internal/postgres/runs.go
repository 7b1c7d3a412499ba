package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Run is a row of collection_runs.
type Run struct {
	ID           int64      `json:"id"`
	Trigger      string     `json:"trigger"`
	RunDate      time.Time  `json:"run_date"`
	Status       string     `json:"status"`
	StartedAt    time.Time  `json:"started_at"`
	FinishedAt   *time.Time `json:"finished_at"`
	Records      int64      `json:"records"`
	APICalls     int64      `json:"api_calls"`
	ErrorSummary string     `json:"error_summary,omitempty"`
	Warnings     []string   `json:"warnings"`
}

// Finished reports whether the run has ended.
func (r Run) Finished() bool { return r.Status != "running" }

const runColumns = `id, trigger, run_date, status, started_at, finished_at, records, api_calls,
	coalesce(error_summary, ''), warnings`

func scanRun(row pgx.Row) (Run, error) {
	var r Run
	var warnings []byte
	err := row.Scan(&r.ID, &r.Trigger, &r.RunDate, &r.Status, &r.StartedAt, &r.FinishedAt,
		&r.Records, &r.APICalls, &r.ErrorSummary, &warnings)
	if err != nil {
		return Run{}, err
	}
	if err := json.Unmarshal(warnings, &r.Warnings); err != nil {
		return Run{}, fmt.Errorf("run %d warnings: %w", r.ID, err)
	}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	return r, nil
}

const sqlInsertTimerRun = `
INSERT INTO collection_runs (trigger, run_date) VALUES ('timer', $1)
ON CONFLICT (run_date) WHERE trigger = 'timer' DO NOTHING
RETURNING ` + runColumns

const sqlSelectTimerRun = `SELECT ` + runColumns + ` FROM collection_runs WHERE trigger = 'timer' AND run_date = $1`

// querier runs a statement: the working pool, or the session holding a lock (lock.go).
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// TimerRun returns the timer run of the UTC date, creating it when there is none.
// created tells whether this call created it.
func (s *Store) TimerRun(ctx context.Context, date time.Time) (run Run, created bool, err error) {
	return timerRun(ctx, s.pool, date)
}

func timerRun(ctx context.Context, q querier, date time.Time) (run Run, created bool, err error) {
	run, err = scanRun(q.QueryRow(ctx, sqlInsertTimerRun, date))
	if err == nil {
		return run, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Run{}, false, classify(fmt.Errorf("create timer run: %w", err))
	}
	run, err = scanRun(q.QueryRow(ctx, sqlSelectTimerRun, date))
	if err != nil {
		return Run{}, false, classify(fmt.Errorf("read timer run: %w", err))
	}
	return run, false, nil
}

const sqlInsertManualRun = `INSERT INTO collection_runs (trigger, run_date) VALUES ('manual', $1) RETURNING ` + runColumns

// ManualRun creates a run for a stage called by hand without a run_id.
func (s *Store) ManualRun(ctx context.Context, date time.Time) (Run, error) {
	return manualRun(ctx, s.pool, date)
}

func manualRun(ctx context.Context, q querier, date time.Time) (Run, error) {
	run, err := scanRun(q.QueryRow(ctx, sqlInsertManualRun, date))
	if err != nil {
		return Run{}, classify(fmt.Errorf("create manual run: %w", err))
	}
	return run, nil
}

// GetRun returns one run, or ErrNotFound.
func (s *Store) GetRun(ctx context.Context, id int64) (Run, error) {
	run, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM collection_runs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Run{}, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Run{}, classify(fmt.Errorf("read run %d: %w", id, err))
	}
	return run, nil
}

// ListRuns returns the newest runs first.
func (s *Store) ListRuns(ctx context.Context, limit int) ([]Run, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+runColumns+` FROM collection_runs ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, classify(fmt.Errorf("list runs: %w", err))
	}
	defer rows.Close()
	runs := []Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, classify(fmt.Errorf("list runs: %w", err))
		}
		runs = append(runs, r)
	}
	return runs, classify(rows.Err())
}

const sqlFinishRun = `
UPDATE collection_runs r SET
	status = $2,
	finished_at = now(),
	error_summary = nullif($3, ''),
	warnings = $4,
	records = coalesce((SELECT sum(records) FROM stage_calls c WHERE c.run_id = r.id), 0),
	api_calls = coalesce((SELECT sum(api_calls) FROM stage_calls c WHERE c.run_id = r.id), 0)
WHERE id = $1`

// FinishRun ends a run with its status; records and API calls are summed from its
// stage calls.
func (s *Store) FinishRun(ctx context.Context, id int64, status, errorSummary string, warnings []string) error {
	return finishRun(ctx, s.pool, id, status, errorSummary, warnings)
}

func finishRun(ctx context.Context, q querier, id int64, status, errorSummary string, warnings []string) error {
	if warnings == nil {
		warnings = []string{}
	}
	w, err := json.Marshal(warnings)
	if err != nil {
		return err
	}
	if _, err := q.Exec(ctx, sqlFinishRun, id, status, errorSummary, w); err != nil {
		return classify(fmt.Errorf("finish run %d: %w", id, err))
	}
	return nil
}

// TimerRunStatus returns the timer run of the UTC date, if there is one, in a single
// read on the working pool and without a lock: the orchestrator's check, at every
// invocation after the date's run has finished, that there is nothing left to do.
func (s *Store) TimerRunStatus(ctx context.Context, date time.Time) (Run, bool, error) {
	run, err := scanRun(s.pool.QueryRow(ctx, sqlSelectTimerRun, date))
	if errors.Is(err, pgx.ErrNoRows) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, classify(fmt.Errorf("read timer run: %w", err))
	}
	return run, true, nil
}

// SupersededRun is a run of an earlier date that a new run closed.
type SupersededRun struct {
	ID      int64     `json:"id"`
	RunDate time.Time `json:"run_date"`
	Status  string    `json:"status"` // partial when it delivered files, failed when none
	Summary string    `json:"error_summary"`
}

// sqlSupersede closes the unfinished timer runs of earlier dates and says what each
// delivered before it stopped: partial with the kinds it exported and those it did
// not ($3, every kind), or failed when it exported nothing.
const sqlSupersede = `
WITH delivered AS (
    SELECT r.id, array_agg(DISTINCT f.kind ORDER BY f.kind) FILTER (WHERE f.kind IS NOT NULL) AS kinds
    FROM collection_runs r LEFT JOIN exported_files f ON f.run_id = r.id AND f.kind <> 'manifest'
    WHERE r.status = 'running' AND r.trigger = 'timer' AND r.run_date < $1
    GROUP BY r.id
), up AS (
    UPDATE collection_runs r SET
        status = CASE WHEN d.kinds IS NULL THEN 'failed' ELSE 'partial' END,
        finished_at = now(),
        error_summary = 'interrupted: the run of ' || r.run_date || ' did not finish that day; superseded by run ' || $2::bigint
            || CASE WHEN d.kinds IS NULL THEN '; nothing was delivered'
               ELSE '; delivered: ' || array_to_string(d.kinds, ', ')
                    || coalesce('; not delivered: ' || (SELECT string_agg(k, ', ' ORDER BY k) FROM unnest($3::text[]) k
                                                        WHERE k <> ALL (d.kinds)), '') END,
        records = coalesce((SELECT sum(records) FROM stage_calls c WHERE c.run_id = r.id), 0),
        api_calls = coalesce((SELECT sum(api_calls) FROM stage_calls c WHERE c.run_id = r.id), 0)
    FROM delivered d
    WHERE r.id = d.id
    RETURNING r.id, r.run_date, r.status, r.error_summary
)
SELECT coalesce(json_agg(json_build_object('id', id, 'run_date', run_date, 'status', status, 'error_summary', error_summary) ORDER BY id), '[]')
FROM up`

// SupersedeRunningRuns ends runs of earlier dates still marked running (their
// orchestrator ran out of invocations that day, or was killed and never resumed): the
// new run collects from the same watermarks, so nothing is lost. Each is closed as
// partial when it delivered files — the summary lists the kinds delivered and those
// not (of kinds, every kind of an export) — or failed when it delivered none.
func (s *Store) SupersedeRunningRuns(ctx context.Context, before time.Time, by int64, kinds []string) ([]SupersededRun, error) {
	return supersedeRunningRuns(ctx, s.pool, before, by, kinds)
}

func supersedeRunningRuns(ctx context.Context, q querier, before time.Time, by int64, kinds []string) ([]SupersededRun, error) {
	if kinds == nil {
		kinds = []string{}
	}
	var raw []byte
	if err := q.QueryRow(ctx, sqlSupersede, before, by, kinds).Scan(&raw); err != nil {
		return nil, classify(fmt.Errorf("supersede runs: %w", err))
	}
	var runs []struct {
		ID      int64  `json:"id"`
		RunDate string `json:"run_date"`
		Status  string `json:"status"`
		Summary string `json:"error_summary"`
	}
	if err := json.Unmarshal(raw, &runs); err != nil {
		return nil, fmt.Errorf("supersede runs: %w", err)
	}
	out := make([]SupersededRun, 0, len(runs))
	for _, r := range runs {
		date, err := time.Parse(time.DateOnly, r.RunDate)
		if err != nil {
			return nil, fmt.Errorf("supersede runs: run %d date %q: %w", r.ID, r.RunDate, err)
		}
		out = append(out, SupersededRun{ID: r.ID, RunDate: date, Status: r.Status, Summary: r.Summary})
	}
	return out, nil
}

// StageCall is a row of stage_calls.
type StageCall struct {
	ID           int64      `json:"id"`
	RunID        int64      `json:"run_id"`
	Stage        string     `json:"stage"`
	EnterpriseID string     `json:"enterprise"`
	Shard        int        `json:"shard"`
	Attempt      int        `json:"attempt"`
	InvocationID string     `json:"invocation_id"`
	Status       string     `json:"status"`
	Done         bool       `json:"done"`
	CursorIn     string     `json:"cursor_in,omitempty"`
	CursorOut    string     `json:"cursor_out,omitempty"`
	StartedAt    time.Time  `json:"started_at"`
	FinishedAt   *time.Time `json:"finished_at"`
	DurationMS   int64      `json:"duration_ms"`
	Records      int64      `json:"records"`
	APICalls     int64      `json:"api_calls"`
	NotModified  int64      `json:"not_modified"`
	Retries      int64      `json:"retries"`
	Waits        int64      `json:"waits"`
	RateLimitLow *int       `json:"rate_limit_low"`
	// GraphQLRequests of APICalls were GraphQL queries; GitHub charged GraphQLPoints
	// for them from the GraphQL budget.
	GraphQLRequests int64 `json:"graphql_requests"`
	GraphQLPoints   int64 `json:"graphql_points"`
	// GraphQLRateLimitLow is the lowest remaining points of the GraphQL budget seen.
	GraphQLRateLimitLow *int     `json:"graphql_rate_limit_low"`
	Error               string   `json:"error,omitempty"`
	Warnings            []string `json:"warnings"`
}

const sqlStartStageCall = `
INSERT INTO stage_calls (run_id, stage, enterprise_id, shard, attempt, invocation_id, cursor_in)
VALUES ($1, $2, $3, $4,
	1 + (SELECT count(*) FROM stage_calls WHERE run_id = $1 AND stage = $2 AND enterprise_id = $3 AND shard = $4),
	$5, nullif($6, ''))
RETURNING id, attempt`

// StartStageCall writes the audit row of a stage call as running.
func (s *Store) StartStageCall(ctx context.Context, c StageCall) (StageCall, error) {
	return startStageCall(ctx, s.pool, c)
}

func startStageCall(ctx context.Context, q querier, c StageCall) (StageCall, error) {
	err := q.QueryRow(ctx, sqlStartStageCall, c.RunID, c.Stage, c.EnterpriseID, c.Shard, c.InvocationID, c.CursorIn).
		Scan(&c.ID, &c.Attempt)
	if err != nil {
		return StageCall{}, classify(fmt.Errorf("start stage call: %w", err))
	}
	c.Status = "running"
	return c, nil
}

const sqlFinishStageCall = `
UPDATE stage_calls SET status = $2, done = $3, cursor_out = nullif($4, ''), finished_at = now(),
	duration_ms = $5, records = $6, api_calls = $7, not_modified = $8, retries = $9, waits = $10,
	rate_limit_low = $11, error = nullif($12, ''), warnings = $13, graphql_requests = $14, graphql_points = $15,
	graphql_rate_limit_low = $16
WHERE id = $1`

// FinishStageCall records the outcome of a stage call. It runs on its own short
// context so an expired request context still leaves an accurate audit row.
func (s *Store) FinishStageCall(ctx context.Context, c StageCall) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if c.Warnings == nil {
		c.Warnings = []string{}
	}
	w, err := json.Marshal(c.Warnings)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, sqlFinishStageCall, c.ID, c.Status, c.Done, c.CursorOut, c.DurationMS,
		c.Records, c.APICalls, c.NotModified, c.Retries, c.Waits, c.RateLimitLow, c.Error, w, c.GraphQLRequests, c.GraphQLPoints, c.GraphQLRateLimitLow)
	if err != nil {
		return classify(fmt.Errorf("finish stage call %d: %w", c.ID, err))
	}
	return nil
}

// MarkInterruptedCalls marks earlier calls of the same stage, enterprise and shard that
// are still 'running' as failed. Call it while holding that stage's lock: the lock is
// held for a call's whole life, so any other running row belongs to a process that died.
func (s *Store) MarkInterruptedCalls(ctx context.Context, stage, enterpriseID string, shard int) error {
	return markInterruptedCalls(ctx, s.pool, stage, enterpriseID, shard)
}

func markInterruptedCalls(ctx context.Context, q querier, stage, enterpriseID string, shard int) error {
	_, err := q.Exec(ctx, `
UPDATE stage_calls SET status = 'failed', finished_at = now(), error = 'interrupted (the process stopped)'
WHERE stage = $1 AND enterprise_id = $2 AND shard = $3 AND status = 'running'`, stage, enterpriseID, shard)
	if err != nil {
		return classify(fmt.Errorf("mark interrupted calls: %w", err))
	}
	return nil
}

const stageCallColumns = `id, run_id, stage, enterprise_id, shard, attempt, invocation_id, status, done,
	coalesce(cursor_in, ''), coalesce(cursor_out, ''), started_at, finished_at, coalesce(duration_ms, 0),
	records, api_calls, not_modified, retries, waits, rate_limit_low, coalesce(error, ''), warnings,
	graphql_requests, graphql_points, graphql_rate_limit_low`

// ListStageCalls returns a run's stage calls, oldest first.
func (s *Store) ListStageCalls(ctx context.Context, runID int64) ([]StageCall, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+stageCallColumns+` FROM stage_calls WHERE run_id = $1 ORDER BY id`, runID)
	if err != nil {
		return nil, classify(fmt.Errorf("list stage calls: %w", err))
	}
	defer rows.Close()
	calls := []StageCall{}
	for rows.Next() {
		var c StageCall
		var warnings []byte
		if err := rows.Scan(&c.ID, &c.RunID, &c.Stage, &c.EnterpriseID, &c.Shard, &c.Attempt, &c.InvocationID,
			&c.Status, &c.Done, &c.CursorIn, &c.CursorOut, &c.StartedAt, &c.FinishedAt, &c.DurationMS,
			&c.Records, &c.APICalls, &c.NotModified, &c.Retries, &c.Waits, &c.RateLimitLow, &c.Error, &warnings,
			&c.GraphQLRequests, &c.GraphQLPoints, &c.GraphQLRateLimitLow); err != nil {
			return nil, classify(fmt.Errorf("list stage calls: %w", err))
		}
		if err := json.Unmarshal(warnings, &c.Warnings); err != nil {
			return nil, fmt.Errorf("stage call %d warnings: %w", c.ID, err)
		}
		calls = append(calls, c)
	}
	return calls, classify(rows.Err())
}

// Step is a row of run_steps: the orchestrator's progress on one stage for one
// enterprise and shard.
type Step struct {
	RunID        int64     `json:"run_id"`
	Stage        string    `json:"stage"`
	EnterpriseID string    `json:"enterprise"`
	Shard        int       `json:"shard"`
	Status       string    `json:"status"`
	Cursor       string    `json:"cursor,omitempty"`
	Attempts     int       `json:"attempts"`
	Calls        int       `json:"calls"`
	Records      int64     `json:"records"`
	APICalls     int64     `json:"api_calls"`
	Error        string    `json:"error,omitempty"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Final reports whether the step needs no more calls.
func (s Step) Final() bool {
	switch s.Status {
	case "succeeded", "partial", "failed", "skipped":
		return true
	}
	return false
}

const sqlEnsureStep = `
INSERT INTO run_steps (run_id, stage, enterprise_id, shard) VALUES ($1, $2, $3, $4)
ON CONFLICT (run_id, stage, enterprise_id, shard) DO UPDATE SET run_id = excluded.run_id
RETURNING run_id, stage, enterprise_id, shard, status, coalesce(cursor, ''), attempts, calls, records, api_calls,
	coalesce(error, ''), updated_at`

// EnsureStep returns the step, creating it as pending when the run has none yet.
func (s *Store) EnsureStep(ctx context.Context, runID int64, stage, enterpriseID string, shard int) (Step, error) {
	return ensureStep(ctx, s.pool, runID, stage, enterpriseID, shard)
}

func ensureStep(ctx context.Context, q querier, runID int64, stage, enterpriseID string, shard int) (Step, error) {
	var st Step
	err := q.QueryRow(ctx, sqlEnsureStep, runID, stage, enterpriseID, shard).Scan(
		&st.RunID, &st.Stage, &st.EnterpriseID, &st.Shard, &st.Status, &st.Cursor, &st.Attempts, &st.Calls,
		&st.Records, &st.APICalls, &st.Error, &st.UpdatedAt)
	if err != nil {
		return Step{}, classify(fmt.Errorf("step %s/%s/%d: %w", stage, enterpriseID, shard, err))
	}
	return st, nil
}

const sqlSaveStep = `
UPDATE run_steps SET status = $5, cursor = nullif($6, ''), attempts = $7, calls = $8, records = $9,
	api_calls = $10, error = nullif($11, ''), updated_at = now()
WHERE run_id = $1 AND stage = $2 AND enterprise_id = $3 AND shard = $4`

// SaveStep writes the step's progress.
func (s *Store) SaveStep(ctx context.Context, st Step) error {
	return saveStep(ctx, s.pool, st)
}

func saveStep(ctx context.Context, q querier, st Step) error {
	_, err := q.Exec(ctx, sqlSaveStep, st.RunID, st.Stage, st.EnterpriseID, st.Shard, st.Status, st.Cursor,
		st.Attempts, st.Calls, st.Records, st.APICalls, st.Error)
	if err != nil {
		return classify(fmt.Errorf("save step %s/%s/%d: %w", st.Stage, st.EnterpriseID, st.Shard, err))
	}
	return nil
}

// ListSteps returns the steps of a run in plan order of creation.
func (s *Store) ListSteps(ctx context.Context, runID int64) ([]Step, error) {
	rows, err := s.pool.Query(ctx, `
SELECT run_id, stage, enterprise_id, shard, status, coalesce(cursor, ''), attempts, calls, records, api_calls,
	coalesce(error, ''), updated_at
FROM run_steps WHERE run_id = $1 ORDER BY seq`, runID)
	if err != nil {
		return nil, classify(fmt.Errorf("list steps: %w", err))
	}
	defer rows.Close()
	steps := []Step{}
	for rows.Next() {
		var st Step
		if err := rows.Scan(&st.RunID, &st.Stage, &st.EnterpriseID, &st.Shard, &st.Status, &st.Cursor, &st.Attempts,
			&st.Calls, &st.Records, &st.APICalls, &st.Error, &st.UpdatedAt); err != nil {
			return nil, classify(fmt.Errorf("list steps: %w", err))
		}
		steps = append(steps, st)
	}
	return steps, classify(rows.Err())
}
