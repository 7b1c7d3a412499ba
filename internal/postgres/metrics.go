package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"metrics-collector/internal/metrics"
)

// MetricBatch says which rows a calculation replaces: every row of one enterprise
// whose week lies in [FirstWeek, LastWeek]. The rows given are upserted; rows of the
// window whose scope the batch does not hold (a repository removed from an
// organization, a renamed enterprise scope) are deleted. Weeks outside the window are
// left alone. A calculation gives a row for every scope and week of its window.
type MetricBatch struct {
	EnterpriseID        string
	FirstWeek, LastWeek time.Time // Mondays 00:00 UTC, both included
	// ComputedAt is stored on the rows whose values changed; unchanged rows keep theirs.
	ComputedAt time.Time
	// DeploymentSignal is what counted as a deployment (metrics.SignalDeployment or
	// metrics.SignalWorkflow); stored on DORA rows only.
	DeploymentSignal string
}

// MetricWrite is what storing a batch changed.
type MetricWrite struct {
	Rows    int   // rows given
	Changed int64 // rows inserted, or updated because a value differed
	Deleted int64 // rows of the window whose scope the batch did not hold
}

func (b MetricBatch) check(weeks []time.Time) error {
	var errs []error
	if b.EnterpriseID == "" {
		errs = append(errs, errors.New("enterprise_id: required"))
	}
	first, last := b.FirstWeek.UTC(), b.LastWeek.UTC()
	if !first.Equal(metrics.WeekStart(first)) || !last.Equal(metrics.WeekStart(last)) || last.Before(first) {
		errs = append(errs, fmt.Errorf("weeks: %s – %s is not a range of ISO week starts", first.Format(time.DateOnly), last.Format(time.DateOnly)))
	}
	if b.ComputedAt.IsZero() {
		errs = append(errs, errors.New("computed_at: required"))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for i, w := range weeks {
		w = w.UTC()
		if !w.Equal(metrics.WeekStart(w)) || w.Before(first) || w.After(last) {
			return fmt.Errorf("rows[%d].week_start: %s is not a week start between %s and %s", i,
				w.Format(time.RFC3339), first.Format(time.DateOnly), last.Format(time.DateOnly))
		}
	}
	return nil
}

// distinctScopes returns the batch's scopes, each once, in order of appearance. It
// refuses a batch holding one key twice: ON CONFLICT cannot update a row twice in one
// statement, and two different answers for one row is a bug upstream.
func distinctScopes(scopeTypes, scopes []string, weeks []time.Time) (types, names []string, err error) {
	type key struct {
		scopeType, scope string
		week             time.Time
	}
	type scope struct{ scopeType, scope string }
	seen := make(map[key]int, len(scopes))
	seenScope := make(map[scope]bool)
	for i := range scopes {
		k := key{scopeTypes[i], scopes[i], weeks[i].UTC()}
		if j, dup := seen[k]; dup {
			return nil, nil, fmt.Errorf("rows[%d]: %s %q week %s repeats rows[%d]", i, k.scopeType, k.scope, k.week.Format(time.DateOnly), j)
		}
		seen[k] = i
		if sc := (scope{k.scopeType, k.scope}); !seenScope[sc] {
			seenScope[sc] = true
			types, names = append(types, k.scopeType), append(names, k.scope)
		}
	}
	return types, names, nil
}

// The rows travel as one array per column (unnest), so a batch is one statement
// whatever its size. Percentiles and rates go as float8 and become numeric on insert
// (PostgreSQL keeps 15 significant digits, the same for the same float every time, so
// a recomputation of unchanged data compares equal). Levels are NULL when empty.
// The WHERE clause keeps unchanged rows untouched: no new row version, no new
// computed_at.
const sqlUpsertDORA = `
INSERT INTO dora_metrics (
    enterprise_id, scope_type, scope, week_start,
    deployments, deployment_days, lead_time_p50_hours, lead_time_p90_hours, lead_time_n,
    failed_deployments, change_failure_rate, recovery_time_p50_hours, recovery_n,
    rework_deployments, rework_rate,
    deployment_frequency_level, lead_time_level, change_failure_level, recovery_level, performance_level,
    thresholds_version, deployment_signal, metric_version, computed_at,
    failed_attempts, unrecovered_failures, repos_elite, repos_high, repos_medium, repos_low)
SELECT $1, u.scope_type, u.scope, u.week_start,
       u.deployments, u.deployment_days, u.lead_p50, u.lead_p90, u.lead_n,
       u.failed, u.cfr, u.recovery_p50, u.recovery_n,
       u.rework, u.rework_rate,
       NULLIF(u.df_level, ''), NULLIF(u.lead_level, ''), NULLIF(u.cf_level, ''), NULLIF(u.recovery_level, ''),
       NULLIF(u.level, ''),
       u.thresholds_version, $2, u.metric_version, $3,
       u.failed_attempts, u.unrecovered, u.repos_elite, u.repos_high, u.repos_medium, u.repos_low
FROM unnest($4::text[], $5::text[], $6::date[],
            $7::int[], $8::int[], $9::float8[], $10::float8[], $11::int[],
            $12::int[], $13::float8[], $14::float8[], $15::int[],
            $16::int[], $17::float8[],
            $18::text[], $19::text[], $20::text[], $21::text[], $22::text[],
            $23::text[], $24::int[],
            $25::int[], $26::int[], $27::int[], $28::int[], $29::int[], $30::int[])
     AS u(scope_type, scope, week_start,
          deployments, deployment_days, lead_p50, lead_p90, lead_n,
          failed, cfr, recovery_p50, recovery_n,
          rework, rework_rate,
          df_level, lead_level, cf_level, recovery_level, level,
          thresholds_version, metric_version,
          failed_attempts, unrecovered, repos_elite, repos_high, repos_medium, repos_low)
ON CONFLICT (enterprise_id, scope_type, scope, week_start) DO UPDATE SET
    deployments = EXCLUDED.deployments, deployment_days = EXCLUDED.deployment_days,
    lead_time_p50_hours = EXCLUDED.lead_time_p50_hours, lead_time_p90_hours = EXCLUDED.lead_time_p90_hours,
    lead_time_n = EXCLUDED.lead_time_n, failed_deployments = EXCLUDED.failed_deployments,
    change_failure_rate = EXCLUDED.change_failure_rate, recovery_time_p50_hours = EXCLUDED.recovery_time_p50_hours,
    recovery_n = EXCLUDED.recovery_n, rework_deployments = EXCLUDED.rework_deployments,
    rework_rate = EXCLUDED.rework_rate, deployment_frequency_level = EXCLUDED.deployment_frequency_level,
    lead_time_level = EXCLUDED.lead_time_level, change_failure_level = EXCLUDED.change_failure_level,
    recovery_level = EXCLUDED.recovery_level, performance_level = EXCLUDED.performance_level,
    thresholds_version = EXCLUDED.thresholds_version, deployment_signal = EXCLUDED.deployment_signal,
    metric_version = EXCLUDED.metric_version, computed_at = EXCLUDED.computed_at,
    failed_attempts = EXCLUDED.failed_attempts, unrecovered_failures = EXCLUDED.unrecovered_failures,
    repos_elite = EXCLUDED.repos_elite, repos_high = EXCLUDED.repos_high, repos_medium = EXCLUDED.repos_medium,
    repos_low = EXCLUDED.repos_low
WHERE (dora_metrics.deployments, dora_metrics.deployment_days, dora_metrics.lead_time_p50_hours,
       dora_metrics.lead_time_p90_hours, dora_metrics.lead_time_n, dora_metrics.failed_deployments,
       dora_metrics.change_failure_rate, dora_metrics.recovery_time_p50_hours, dora_metrics.recovery_n,
       dora_metrics.rework_deployments, dora_metrics.rework_rate, dora_metrics.deployment_frequency_level,
       dora_metrics.lead_time_level, dora_metrics.change_failure_level, dora_metrics.recovery_level,
       dora_metrics.performance_level, dora_metrics.thresholds_version, dora_metrics.deployment_signal,
       dora_metrics.metric_version, dora_metrics.failed_attempts, dora_metrics.unrecovered_failures,
       dora_metrics.repos_elite, dora_metrics.repos_high, dora_metrics.repos_medium, dora_metrics.repos_low)
   IS DISTINCT FROM
      (EXCLUDED.deployments, EXCLUDED.deployment_days, EXCLUDED.lead_time_p50_hours,
       EXCLUDED.lead_time_p90_hours, EXCLUDED.lead_time_n, EXCLUDED.failed_deployments,
       EXCLUDED.change_failure_rate, EXCLUDED.recovery_time_p50_hours, EXCLUDED.recovery_n,
       EXCLUDED.rework_deployments, EXCLUDED.rework_rate, EXCLUDED.deployment_frequency_level,
       EXCLUDED.lead_time_level, EXCLUDED.change_failure_level, EXCLUDED.recovery_level,
       EXCLUDED.performance_level, EXCLUDED.thresholds_version, EXCLUDED.deployment_signal,
       EXCLUDED.metric_version, EXCLUDED.failed_attempts, EXCLUDED.unrecovered_failures,
       EXCLUDED.repos_elite, EXCLUDED.repos_high, EXCLUDED.repos_medium, EXCLUDED.repos_low)`

const sqlUpsertVelocity = `
INSERT INTO velocity_metrics (
    enterprise_id, scope_type, scope, week_start,
    prs_opened, prs_merged, prs_closed_unmerged,
    pr_cycle_time_p50_hours, pr_cycle_time_p90_hours, pr_cycle_time_n,
    coding_time_p50_hours, coding_time_n, pickup_time_p50_hours, pickup_time_n,
    review_time_p50_hours, review_time_n, deploy_time_p50_hours, deploy_time_n,
    prs_merged_without_review, pr_size_p50, pr_size_n,
    commits, active_contributors,
    workflow_runs, workflow_completed_runs, workflow_success_rate,
    workflow_duration_p50_seconds, workflow_duration_n,
    metric_version, computed_at)
SELECT $1, u.scope_type, u.scope, u.week_start,
       u.opened, u.merged, u.closed_unmerged,
       u.cycle_p50, u.cycle_p90, u.cycle_n,
       u.coding_p50, u.coding_n, u.pickup_p50, u.pickup_n,
       u.review_p50, u.review_n, u.deploy_p50, u.deploy_n,
       u.without_review, u.size_p50, u.size_n,
       u.commits, u.contributors,
       u.runs, u.completed_runs, u.success_rate,
       u.duration_p50, u.duration_n,
       u.metric_version, $2
FROM unnest($3::text[], $4::text[], $5::date[],
            $6::int[], $7::int[], $8::int[],
            $9::float8[], $10::float8[], $11::int[],
            $12::float8[], $13::int[], $14::float8[], $15::int[],
            $16::float8[], $17::int[], $18::float8[], $19::int[],
            $20::int[], $21::float8[], $22::int[],
            $23::int[], $24::int[],
            $25::int[], $26::int[], $27::float8[],
            $28::float8[], $29::int[],
            $30::int[])
     AS u(scope_type, scope, week_start,
          opened, merged, closed_unmerged,
          cycle_p50, cycle_p90, cycle_n,
          coding_p50, coding_n, pickup_p50, pickup_n,
          review_p50, review_n, deploy_p50, deploy_n,
          without_review, size_p50, size_n,
          commits, contributors,
          runs, completed_runs, success_rate,
          duration_p50, duration_n,
          metric_version)
ON CONFLICT (enterprise_id, scope_type, scope, week_start) DO UPDATE SET
    prs_opened = EXCLUDED.prs_opened, prs_merged = EXCLUDED.prs_merged,
    prs_closed_unmerged = EXCLUDED.prs_closed_unmerged,
    pr_cycle_time_p50_hours = EXCLUDED.pr_cycle_time_p50_hours,
    pr_cycle_time_p90_hours = EXCLUDED.pr_cycle_time_p90_hours, pr_cycle_time_n = EXCLUDED.pr_cycle_time_n,
    coding_time_p50_hours = EXCLUDED.coding_time_p50_hours, coding_time_n = EXCLUDED.coding_time_n,
    pickup_time_p50_hours = EXCLUDED.pickup_time_p50_hours, pickup_time_n = EXCLUDED.pickup_time_n,
    review_time_p50_hours = EXCLUDED.review_time_p50_hours, review_time_n = EXCLUDED.review_time_n,
    deploy_time_p50_hours = EXCLUDED.deploy_time_p50_hours, deploy_time_n = EXCLUDED.deploy_time_n,
    prs_merged_without_review = EXCLUDED.prs_merged_without_review,
    pr_size_p50 = EXCLUDED.pr_size_p50, pr_size_n = EXCLUDED.pr_size_n,
    commits = EXCLUDED.commits, active_contributors = EXCLUDED.active_contributors,
    workflow_runs = EXCLUDED.workflow_runs, workflow_completed_runs = EXCLUDED.workflow_completed_runs,
    workflow_success_rate = EXCLUDED.workflow_success_rate,
    workflow_duration_p50_seconds = EXCLUDED.workflow_duration_p50_seconds,
    workflow_duration_n = EXCLUDED.workflow_duration_n,
    metric_version = EXCLUDED.metric_version, computed_at = EXCLUDED.computed_at
WHERE (velocity_metrics.prs_opened, velocity_metrics.prs_merged, velocity_metrics.prs_closed_unmerged,
       velocity_metrics.pr_cycle_time_p50_hours, velocity_metrics.pr_cycle_time_p90_hours,
       velocity_metrics.pr_cycle_time_n, velocity_metrics.coding_time_p50_hours, velocity_metrics.coding_time_n,
       velocity_metrics.pickup_time_p50_hours, velocity_metrics.pickup_time_n,
       velocity_metrics.review_time_p50_hours, velocity_metrics.review_time_n,
       velocity_metrics.deploy_time_p50_hours, velocity_metrics.deploy_time_n,
       velocity_metrics.prs_merged_without_review, velocity_metrics.pr_size_p50, velocity_metrics.pr_size_n,
       velocity_metrics.commits, velocity_metrics.active_contributors, velocity_metrics.workflow_runs,
       velocity_metrics.workflow_completed_runs, velocity_metrics.workflow_success_rate,
       velocity_metrics.workflow_duration_p50_seconds, velocity_metrics.workflow_duration_n,
       velocity_metrics.metric_version)
   IS DISTINCT FROM
      (EXCLUDED.prs_opened, EXCLUDED.prs_merged, EXCLUDED.prs_closed_unmerged,
       EXCLUDED.pr_cycle_time_p50_hours, EXCLUDED.pr_cycle_time_p90_hours,
       EXCLUDED.pr_cycle_time_n, EXCLUDED.coding_time_p50_hours, EXCLUDED.coding_time_n,
       EXCLUDED.pickup_time_p50_hours, EXCLUDED.pickup_time_n,
       EXCLUDED.review_time_p50_hours, EXCLUDED.review_time_n,
       EXCLUDED.deploy_time_p50_hours, EXCLUDED.deploy_time_n,
       EXCLUDED.prs_merged_without_review, EXCLUDED.pr_size_p50, EXCLUDED.pr_size_n,
       EXCLUDED.commits, EXCLUDED.active_contributors, EXCLUDED.workflow_runs,
       EXCLUDED.workflow_completed_runs, EXCLUDED.workflow_success_rate,
       EXCLUDED.workflow_duration_p50_seconds, EXCLUDED.workflow_duration_n,
       EXCLUDED.metric_version)`

// deleteStaleWeeklyScopes is the delete of a weekly metric table's rows of the window
// whose scope the batch does not hold. The batch's distinct scopes travel as arrays. NOT IN over a subquery is planned as a hashed
// subplan whatever the table's statistics say; the equivalent NOT EXISTS became a
// nested loop on a freshly filled table (12,000 rows: 20 s instead of 50 ms). Scopes,
// not rows, keep the hash small for any number of weeks. No key column is NULL, so
// NOT IN means what it says.
func deleteStaleWeeklyScopes(table string) string {
	return `
DELETE FROM ` + table + ` m
WHERE m.enterprise_id = $1 AND m.week_start BETWEEN $2 AND $3
  AND (m.scope_type, m.scope) NOT IN (SELECT * FROM unnest($4::text[], $5::text[]))`
}

var (
	sqlDeleteStaleDORA     = deleteStaleWeeklyScopes("dora_metrics")
	sqlDeleteStaleVelocity = deleteStaleWeeklyScopes("velocity_metrics")
)

// PutDORAMetrics stores a calculation's DORA rows for the batch's window in one
// transaction: changed and new rows are written, unchanged rows are not touched, and
// rows of the window the calculation no longer produced are deleted.
func (s *Store) PutDORAMetrics(ctx context.Context, b MetricBatch, rows []metrics.DORARow) (MetricWrite, error) {
	n := len(rows)
	texts := func() []string { return make([]string, n) }
	ints := func() []int { return make([]int, n) }
	floats := func() []*float64 { return make([]*float64, n) }
	var (
		scopeTypes, scopes, thresholds                      = texts(), texts(), texts()
		dfLevels, leadLevels, cfLevels, recLevels, levels   = texts(), texts(), texts(), texts(), texts()
		weeks                                               = make([]time.Time, n)
		deployments, days, leadN, failed, recoveryN, rework = ints(), ints(), ints(), ints(), ints(), ints()
		versions                                            = ints()
		leadP50, leadP90, cfr, recoveryP50, reworkRate      = floats(), floats(), floats(), floats(), floats()
		attempts, unrecovered                               = ints(), ints()
		elite, high, medium, low                            = ints(), ints(), ints(), ints()
	)
	for i, r := range rows {
		scopeTypes[i], scopes[i], weeks[i] = r.ScopeType, r.Scope, r.WeekStart.UTC()
		deployments[i], days[i] = r.Deployments, r.DeploymentDays
		leadP50[i], leadP90[i], leadN[i] = r.LeadTimeP50Hours, r.LeadTimeP90Hours, r.LeadTimeN
		failed[i], cfr[i] = r.FailedDeployments, r.ChangeFailureRate
		recoveryP50[i], recoveryN[i] = r.RecoveryTimeP50Hours, r.RecoveryN
		rework[i], reworkRate[i] = r.ReworkDeployments, r.ReworkRate
		dfLevels[i], leadLevels[i], cfLevels[i] = string(r.DeploymentFrequencyLevel), string(r.LeadTimeLevel), string(r.ChangeFailureLevel)
		recLevels[i], levels[i] = string(r.RecoveryLevel), string(r.PerformanceLevel)
		thresholds[i], versions[i] = r.ThresholdsVersion, r.MetricVersion
		attempts[i], unrecovered[i] = r.FailedAttempts, r.UnrecoveredFailures
		elite[i], high[i], medium[i], low[i] = r.ReposElite, r.ReposHigh, r.ReposMedium, r.ReposLow
	}
	if err := b.check(weeks); err != nil {
		return MetricWrite{}, fmt.Errorf("put dora metrics: %w", err)
	}
	if b.DeploymentSignal != metrics.SignalDeployment && b.DeploymentSignal != metrics.SignalWorkflow {
		return MetricWrite{}, fmt.Errorf("put dora metrics: deployment_signal: %q must be %q or %q", b.DeploymentSignal, metrics.SignalDeployment, metrics.SignalWorkflow)
	}
	keepTypes, keepScopes, err := distinctScopes(scopeTypes, scopes, weeks)
	if err != nil {
		return MetricWrite{}, fmt.Errorf("put dora metrics: %w", err)
	}
	upsertArgs := []any{b.EnterpriseID, b.DeploymentSignal, b.ComputedAt,
		scopeTypes, scopes, weeks,
		deployments, days, leadP50, leadP90, leadN,
		failed, cfr, recoveryP50, recoveryN,
		rework, reworkRate,
		dfLevels, leadLevels, cfLevels, recLevels, levels,
		thresholds, versions,
		attempts, unrecovered, elite, high, medium, low}
	w, err := s.putMetrics(ctx, b, n, sqlUpsertDORA, upsertArgs, sqlDeleteStaleDORA, keepTypes, keepScopes)
	if err != nil {
		return MetricWrite{}, fmt.Errorf("put dora metrics of %s: %w", b.EnterpriseID, err)
	}
	return w, nil
}

// PutVelocityMetrics stores a calculation's velocity rows for the batch's window, like
// PutDORAMetrics.
func (s *Store) PutVelocityMetrics(ctx context.Context, b MetricBatch, rows []metrics.VelocityRow) (MetricWrite, error) {
	n := len(rows)
	ints := func() []int { return make([]int, n) }
	floats := func() []*float64 { return make([]*float64, n) }
	var (
		scopeTypes, scopes                                       = make([]string, n), make([]string, n)
		weeks                                                    = make([]time.Time, n)
		opened, merged, closedUnmerged, cycleN, codingN, pickupN = ints(), ints(), ints(), ints(), ints(), ints()
		reviewN, deployN, withoutReview, sizeN, commits, people  = ints(), ints(), ints(), ints(), ints(), ints()
		runs, completed, durationN, versions                     = ints(), ints(), ints(), ints()
		cycleP50, cycleP90, codingP50, pickupP50, reviewP50      = floats(), floats(), floats(), floats(), floats()
		deployP50, sizeP50, successRate, durationP50             = floats(), floats(), floats(), floats()
	)
	for i, r := range rows {
		scopeTypes[i], scopes[i], weeks[i] = r.ScopeType, r.Scope, r.WeekStart.UTC()
		opened[i], merged[i], closedUnmerged[i] = r.PRsOpened, r.PRsMerged, r.PRsClosedUnmerged
		cycleP50[i], cycleP90[i], cycleN[i] = r.PRCycleTimeP50Hours, r.PRCycleTimeP90Hours, r.PRCycleTimeN
		codingP50[i], codingN[i] = r.CodingTimeP50Hours, r.CodingTimeN
		pickupP50[i], pickupN[i] = r.PickupTimeP50Hours, r.PickupTimeN
		reviewP50[i], reviewN[i] = r.ReviewTimeP50Hours, r.ReviewTimeN
		deployP50[i], deployN[i] = r.DeployTimeP50Hours, r.DeployTimeN
		withoutReview[i], sizeP50[i], sizeN[i] = r.PRsMergedWithoutReview, r.PRSizeP50, r.PRSizeN
		commits[i], people[i] = r.Commits, r.ActiveContributors
		runs[i], completed[i], successRate[i] = r.WorkflowRuns, r.WorkflowCompletedRuns, r.WorkflowSuccessRate
		durationP50[i], durationN[i] = r.WorkflowDurationP50Seconds, r.WorkflowDurationN
		versions[i] = r.MetricVersion
	}
	if err := b.check(weeks); err != nil {
		return MetricWrite{}, fmt.Errorf("put velocity metrics: %w", err)
	}
	keepTypes, keepScopes, err := distinctScopes(scopeTypes, scopes, weeks)
	if err != nil {
		return MetricWrite{}, fmt.Errorf("put velocity metrics: %w", err)
	}
	upsertArgs := []any{b.EnterpriseID, b.ComputedAt,
		scopeTypes, scopes, weeks,
		opened, merged, closedUnmerged,
		cycleP50, cycleP90, cycleN,
		codingP50, codingN, pickupP50, pickupN,
		reviewP50, reviewN, deployP50, deployN,
		withoutReview, sizeP50, sizeN,
		commits, people,
		runs, completed, successRate,
		durationP50, durationN,
		versions}
	w, err := s.putMetrics(ctx, b, n, sqlUpsertVelocity, upsertArgs, sqlDeleteStaleVelocity, keepTypes, keepScopes)
	if err != nil {
		return MetricWrite{}, fmt.Errorf("put velocity metrics of %s: %w", b.EnterpriseID, err)
	}
	return w, nil
}

// putMetrics runs the upsert and the delete of stale rows in one transaction, so a
// reader sees the old window or the new one, never a mix.
func (s *Store) putMetrics(ctx context.Context, b MetricBatch, rows int, upsert string, upsertArgs []any, deleteStale string, keepTypes, keepScopes []string) (MetricWrite, error) {
	w := MetricWrite{Rows: rows}
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, upsert, upsertArgs...)
		if err != nil {
			return fmt.Errorf("upsert: %w", err)
		}
		w.Changed = tag.RowsAffected()
		tag, err = tx.Exec(ctx, deleteStale, b.EnterpriseID, b.FirstWeek.UTC(), b.LastWeek.UTC(), keepTypes, keepScopes)
		if err != nil {
			return fmt.Errorf("delete stale rows: %w", err)
		}
		w.Deleted = tag.RowsAffected()
		return nil
	})
	if err != nil {
		return MetricWrite{}, err
	}
	return w, nil
}

// RecomputeHints says which stored weeks of an enterprise must be recomputed whatever
// the recompute window: zero times when there are none.
type RecomputeHints struct {
	// Unrecovered is the oldest week with a failed deployment not restored yet
	// (dora_metrics only): its recovery time is still to come.
	Unrecovered time.Time
	// Outdated is the oldest week with a row of another metric_version than the
	// current one: rows of an older definition are recomputed once, so a file never
	// mixes versions.
	Outdated time.Time
}

const sqlDORARecomputeHints = `
SELECT (SELECT min(week_start) FROM dora_metrics
        WHERE enterprise_id = $1 AND scope_type = 'repository' AND unrecovered_failures > 0 AND metric_version = $2),
       (SELECT min(week_start) FROM dora_metrics WHERE enterprise_id = $1 AND metric_version <> $2)`

const sqlVelocityRecomputeHints = `
SELECT NULL::date, (SELECT min(week_start) FROM velocity_metrics WHERE enterprise_id = $1 AND metric_version <> $2)`

// GetRecomputeHints reads the RecomputeHints of an enterprise's DORA rows (dora true)
// or velocity rows, for metric version version.
func (s *Store) GetRecomputeHints(ctx context.Context, enterpriseID string, dora bool, version int) (RecomputeHints, error) {
	query := sqlVelocityRecomputeHints
	if dora {
		query = sqlDORARecomputeHints
	}
	var unrecovered, outdated *time.Time
	if err := s.pool.QueryRow(ctx, query, enterpriseID, version).Scan(&unrecovered, &outdated); err != nil {
		return RecomputeHints{}, classify(fmt.Errorf("recompute hints of %s: %w", enterpriseID, err))
	}
	var h RecomputeHints
	if unrecovered != nil {
		h.Unrecovered = unrecovered.UTC()
	}
	if outdated != nil {
		h.Outdated = outdated.UTC()
	}
	return h, nil
}
