package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"metrics-collector/internal/metrics"
)

// Inputs and results of the issue 16 datasets: per-user Copilot usage and seat
// listings in, impact cohorts, rolling DORA, team Copilot days, seat utilisation and
// idle seats out (migrations/0030_insights.sql).

const sqlCopilotUserUsage = `
SELECT scope_type, scope, day, user_id, user_login,
       user_initiated_interactions, code_generations, code_acceptances,
       loc_suggested_to_add, loc_suggested_to_delete, loc_added, loc_deleted,
       chat_interactions, agent_interactions, used_chat, used_agent
FROM copilot_user_metrics
WHERE enterprise_id = $1 AND day BETWEEN $2 AND $3
ORDER BY day, user_id, scope_type COLLATE "C", scope COLLATE "C"`

// ListCopilotUserUsage returns the per-user Copilot report rows of every scope of the
// enterprise for the days from to to (UTC dates, both included).
func (s *Store) ListCopilotUserUsage(ctx context.Context, enterpriseID string, from, to time.Time) ([]metrics.CopilotUserUsage, error) {
	rows, err := s.pool.Query(ctx, sqlCopilotUserUsage, enterpriseID, dateOnly(from), dateOnly(to))
	if err != nil {
		return nil, classify(fmt.Errorf("copilot user usage of %s: %w", enterpriseID, err))
	}
	var (
		out []metrics.CopilotUserUsage
		u   metrics.CopilotUserUsage
	)
	dest := []any{&u.ScopeType, &u.Scope, &u.Day, &u.UserID, &u.UserLogin,
		&u.UserInitiatedInteractions, &u.CodeGenerations, &u.CodeAcceptances,
		&u.LOCSuggestedToAdd, &u.LOCSuggestedToDelete, &u.LOCAdded, &u.LOCDeleted,
		&u.ChatInteractions, &u.AgentInteractions, &u.UsedChat, &u.UsedAgent}
	_, err = pgx.ForEachRow(rows, dest, func() error {
		v := u
		v.Day = dateOnly(v.Day)
		// The scanned pointers are reused by the next row: copy the values.
		for _, p := range []**int64{&v.UserInitiatedInteractions, &v.CodeGenerations, &v.CodeAcceptances, &v.LOCSuggestedToAdd,
			&v.LOCSuggestedToDelete, &v.LOCAdded, &v.LOCDeleted, &v.ChatInteractions, &v.AgentInteractions} {
			if *p != nil {
				x := **p
				*p = &x
			}
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, classify(fmt.Errorf("copilot user usage of %s: %w", enterpriseID, err))
	}
	return out, nil
}

// Every snapshot of the window (also those with no seats), then its seats.
const sqlSeatSnapshots = `
SELECT scope_type, scope, snapshot_date FROM copilot_seat_snapshots
WHERE enterprise_id = $1 AND snapshot_date BETWEEN $2 AND $3
ORDER BY scope_type COLLATE "C", scope COLLATE "C", snapshot_date`

const sqlSeatSnapshotSeats = `
SELECT scope_type, scope, snapshot_date, coalesce(assignee_id, 0), coalesce(assignee_login, ''),
       coalesce(assignee_type, ''), coalesce(organization, ''), coalesce(assigning_team, ''), coalesce(plan_type, ''),
       created_at, pending_cancellation, last_activity_at, coalesce(last_activity_editor, ''), last_authenticated_at
FROM copilot_seats
WHERE enterprise_id = $1 AND snapshot_date BETWEEN $2 AND $3
ORDER BY scope_type COLLATE "C", scope COLLATE "C", snapshot_date, seat_key COLLATE "C"`

// ListSeatSnapshots returns the enterprise's seat snapshots taken from from to to (UTC
// dates, both included), each with its seats, ordered by scope and date.
func (s *Store) ListSeatSnapshots(ctx context.Context, enterpriseID string, from, to time.Time) ([]metrics.SeatSnapshot, error) {
	var out []metrics.SeatSnapshot
	type key struct {
		typ, scope string
		day        time.Time
	}
	index := map[key]int{}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var (
			typ, scope string
			day        time.Time
		)
		rows, err := tx.Query(ctx, sqlSeatSnapshots, enterpriseID, dateOnly(from), dateOnly(to))
		if err != nil {
			return err
		}
		if _, err := pgx.ForEachRow(rows, []any{&typ, &scope, &day}, func() error {
			index[key{typ, scope, dateOnly(day)}] = len(out)
			out = append(out, metrics.SeatSnapshot{ScopeType: typ, Scope: scope, Day: dateOnly(day)})
			return nil
		}); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, sqlSeatSnapshotSeats, enterpriseID, dateOnly(from), dateOnly(to))
		if err != nil {
			return err
		}
		var (
			seat                         metrics.CopilotSeat
			created                      *time.Time
			pending, last, authenticated *time.Time
		)
		dest := []any{&typ, &scope, &day, &seat.AssigneeID, &seat.AssigneeLogin, &seat.AssigneeType, &seat.Organization,
			&seat.AssigningTeam, &seat.PlanType, &created, &pending, &last, &seat.LastActivityEditor, &authenticated}
		_, err = pgx.ForEachRow(rows, dest, func() error {
			i, ok := index[key{typ, scope, dateOnly(day)}]
			if !ok {
				return nil // a listing whose snapshot row is missing: not a complete snapshot
			}
			v := seat
			v.CreatedAt = time.Time{}
			if created != nil {
				v.CreatedAt = created.UTC()
			}
			v.PendingCancellation, v.LastActivityAt, v.LastAuthenticatedAt = activityUTC(pending), activityUTC(last), activityUTC(authenticated)
			out[i].Seats = append(out[i].Seats, v)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, classify(fmt.Errorf("seat snapshots of %s: %w", enterpriseID, err))
	}
	return out, nil
}

const sqlUpsertImpact = `
INSERT INTO copilot_impact_metrics AS m (
    enterprise_id, scope_type, scope, week_start, cohort, suppressed,
    authors, prs_merged, pr_cycle_time_p50_hours, pr_cycle_time_n, review_time_p50_hours, review_time_n,
    pr_size_p50, pr_size_n, prs_reviewed_by_copilot, prs_reverted, copilot_report_days, min_authors,
    metric_version, computed_at)
SELECT $1, u.scope_type, u.scope, u.week_start, u.cohort, u.suppressed,
       u.authors, u.merged, u.cycle_p50, u.cycle_n, u.review_p50, u.review_n,
       u.size_p50, u.size_n, u.copilot, u.reverted, u.report_days, u.min_authors, u.metric_version, $2
FROM unnest($3::text[], $4::text[], $5::date[], $6::text[], $7::bool[],
            $8::int[], $9::int[], $10::float8[], $11::int[], $12::float8[], $13::int[],
            $14::float8[], $15::int[], $16::int[], $17::int[], $18::int[], $19::int[], $20::int[])
     AS u(scope_type, scope, week_start, cohort, suppressed,
          authors, merged, cycle_p50, cycle_n, review_p50, review_n,
          size_p50, size_n, copilot, reverted, report_days, min_authors, metric_version)
ON CONFLICT (enterprise_id, scope_type, scope, week_start, cohort) DO UPDATE SET
    suppressed = EXCLUDED.suppressed, authors = EXCLUDED.authors, prs_merged = EXCLUDED.prs_merged,
    pr_cycle_time_p50_hours = EXCLUDED.pr_cycle_time_p50_hours, pr_cycle_time_n = EXCLUDED.pr_cycle_time_n,
    review_time_p50_hours = EXCLUDED.review_time_p50_hours, review_time_n = EXCLUDED.review_time_n,
    pr_size_p50 = EXCLUDED.pr_size_p50, pr_size_n = EXCLUDED.pr_size_n,
    prs_reviewed_by_copilot = EXCLUDED.prs_reviewed_by_copilot, prs_reverted = EXCLUDED.prs_reverted,
    copilot_report_days = EXCLUDED.copilot_report_days, min_authors = EXCLUDED.min_authors,
    metric_version = EXCLUDED.metric_version, computed_at = EXCLUDED.computed_at
WHERE (m.suppressed, m.authors, m.prs_merged, m.pr_cycle_time_p50_hours, m.pr_cycle_time_n, m.review_time_p50_hours,
       m.review_time_n, m.pr_size_p50, m.pr_size_n, m.prs_reviewed_by_copilot, m.prs_reverted, m.copilot_report_days,
       m.min_authors, m.metric_version)
   IS DISTINCT FROM
      (EXCLUDED.suppressed, EXCLUDED.authors, EXCLUDED.prs_merged, EXCLUDED.pr_cycle_time_p50_hours,
       EXCLUDED.pr_cycle_time_n, EXCLUDED.review_time_p50_hours, EXCLUDED.review_time_n, EXCLUDED.pr_size_p50,
       EXCLUDED.pr_size_n, EXCLUDED.prs_reviewed_by_copilot, EXCLUDED.prs_reverted, EXCLUDED.copilot_report_days,
       EXCLUDED.min_authors, EXCLUDED.metric_version)`

var sqlDeleteStaleImpact = deleteStaleWeeklyScopes("copilot_impact_metrics")

// PutImpactMetrics stores the Copilot impact cohorts of the batch's window in one
// transaction, like PutDORAMetrics: changed rows written, unchanged rows untouched, rows
// of scopes the calculation no longer produced deleted.
func (s *Store) PutImpactMetrics(ctx context.Context, b MetricBatch, rows []metrics.ImpactRow) (MetricWrite, error) {
	n := len(rows)
	texts := func() []string { return make([]string, n) }
	ints := func() []*int { return make([]*int, n) }
	floats := func() []*float64 { return make([]*float64, n) }
	var (
		scopeTypes, scopes, cohorts                      = texts(), texts(), texts()
		weeks                                            = make([]time.Time, n)
		suppressed                                       = make([]bool, n)
		authors, merged, cycleN, reviewN, sizeN, copilot = ints(), ints(), ints(), ints(), ints(), ints()
		reverted                                         = ints()
		cycle, review, size                              = floats(), floats(), floats()
		reportDays, minAuthors, versions                 = make([]int, n), make([]int, n), make([]int, n)
		scopeWeekCohort                                  = map[string]int{}
	)
	for i, r := range rows {
		scopeTypes[i], scopes[i], weeks[i], cohorts[i], suppressed[i] = r.ScopeType, r.Scope, r.WeekStart.UTC(), r.Cohort, r.Suppressed
		authors[i], merged[i], cycle[i], cycleN[i] = r.Authors, r.PRsMerged, r.PRCycleTimeP50Hours, r.PRCycleTimeN
		review[i], reviewN[i], size[i], sizeN[i] = r.ReviewTimeP50Hours, r.ReviewTimeN, r.PRSizeP50, r.PRSizeN
		copilot[i], reverted[i] = r.PRsReviewedByCopilot, r.PRsReverted
		reportDays[i], minAuthors[i], versions[i] = r.CopilotReportDays, r.MinAuthors, r.MetricVersion
		k := fmt.Sprintf("%s\x00%s\x00%s\x00%s", r.ScopeType, r.Scope, r.WeekStart.UTC().Format(time.DateOnly), r.Cohort)
		if j, dup := scopeWeekCohort[k]; dup {
			return MetricWrite{}, fmt.Errorf("put impact metrics: rows[%d] repeats rows[%d]", i, j)
		}
		scopeWeekCohort[k] = i
	}
	if err := b.check(weeks); err != nil {
		return MetricWrite{}, fmt.Errorf("put impact metrics: %w", err)
	}
	keepTypes, keepScopes := scopesOf(scopeTypes, scopes)
	args := []any{b.EnterpriseID, b.ComputedAt, scopeTypes, scopes, weeks, cohorts, suppressed,
		authors, merged, cycle, cycleN, review, reviewN, size, sizeN, copilot, reverted, reportDays, minAuthors, versions}
	w, err := s.putMetrics(ctx, b, n, sqlUpsertImpact, args, sqlDeleteStaleImpact, keepTypes, keepScopes)
	if err != nil {
		return MetricWrite{}, fmt.Errorf("put impact metrics of %s: %w", b.EnterpriseID, err)
	}
	return w, nil
}

// scopesOf returns the distinct (scope type, scope) pairs, in order of appearance.
func scopesOf(scopeTypes, scopes []string) (types, names []string) {
	seen := map[[2]string]bool{}
	for i := range scopes {
		k := [2]string{scopeTypes[i], scopes[i]}
		if !seen[k] {
			seen[k] = true
			types, names = append(types, k[0]), append(names, k[1])
		}
	}
	return types, names
}

const sqlUpsertDORARolling = `
INSERT INTO dora_rolling_metrics AS m (
    enterprise_id, scope_type, scope, week_start, window_weeks, window_start,
    deployments, deployment_days, lead_time_p50_hours, lead_time_p90_hours, lead_time_n,
    failed_deployments, change_failure_rate, recovery_time_p50_hours, recovery_n,
    rework_deployments, rework_rate, failed_attempts, unrecovered_failures,
    deployment_frequency_level, lead_time_level, change_failure_level, recovery_level, performance_level,
    repos_elite, repos_high, repos_medium, repos_low,
    thresholds_version, deployment_signal, metric_version, computed_at)
SELECT $1, u.scope_type, u.scope, u.week_start, u.window_weeks, u.window_start,
       u.deployments, u.days, u.lead_p50, u.lead_p90, u.lead_n,
       u.failed, u.cfr, u.recovery_p50, u.recovery_n,
       u.rework, u.rework_rate, u.attempts, u.unrecovered,
       NULLIF(u.df_level, ''), NULLIF(u.lead_level, ''), NULLIF(u.cf_level, ''), NULLIF(u.recovery_level, ''), NULLIF(u.level, ''),
       u.elite, u.high, u.medium, u.low,
       u.thresholds, $2, u.metric_version, $3
FROM unnest($4::text[], $5::text[], $6::date[], $7::int[], $8::date[],
            $9::int[], $10::int[], $11::float8[], $12::float8[], $13::int[],
            $14::int[], $15::float8[], $16::float8[], $17::int[],
            $18::int[], $19::float8[], $20::int[], $21::int[],
            $22::text[], $23::text[], $24::text[], $25::text[], $26::text[],
            $27::int[], $28::int[], $29::int[], $30::int[],
            $31::text[], $32::int[])
     AS u(scope_type, scope, week_start, window_weeks, window_start,
          deployments, days, lead_p50, lead_p90, lead_n,
          failed, cfr, recovery_p50, recovery_n,
          rework, rework_rate, attempts, unrecovered,
          df_level, lead_level, cf_level, recovery_level, level,
          elite, high, medium, low,
          thresholds, metric_version)
ON CONFLICT (enterprise_id, scope_type, scope, week_start, window_weeks) DO UPDATE SET
    window_start = EXCLUDED.window_start, deployments = EXCLUDED.deployments, deployment_days = EXCLUDED.deployment_days,
    lead_time_p50_hours = EXCLUDED.lead_time_p50_hours, lead_time_p90_hours = EXCLUDED.lead_time_p90_hours,
    lead_time_n = EXCLUDED.lead_time_n, failed_deployments = EXCLUDED.failed_deployments,
    change_failure_rate = EXCLUDED.change_failure_rate, recovery_time_p50_hours = EXCLUDED.recovery_time_p50_hours,
    recovery_n = EXCLUDED.recovery_n, rework_deployments = EXCLUDED.rework_deployments, rework_rate = EXCLUDED.rework_rate,
    failed_attempts = EXCLUDED.failed_attempts, unrecovered_failures = EXCLUDED.unrecovered_failures,
    deployment_frequency_level = EXCLUDED.deployment_frequency_level, lead_time_level = EXCLUDED.lead_time_level,
    change_failure_level = EXCLUDED.change_failure_level, recovery_level = EXCLUDED.recovery_level,
    performance_level = EXCLUDED.performance_level, repos_elite = EXCLUDED.repos_elite, repos_high = EXCLUDED.repos_high,
    repos_medium = EXCLUDED.repos_medium, repos_low = EXCLUDED.repos_low, thresholds_version = EXCLUDED.thresholds_version,
    deployment_signal = EXCLUDED.deployment_signal, metric_version = EXCLUDED.metric_version, computed_at = EXCLUDED.computed_at
WHERE (m.window_start, m.deployments, m.deployment_days, m.lead_time_p50_hours, m.lead_time_p90_hours, m.lead_time_n,
       m.failed_deployments, m.change_failure_rate, m.recovery_time_p50_hours, m.recovery_n, m.rework_deployments,
       m.rework_rate, m.failed_attempts, m.unrecovered_failures, m.deployment_frequency_level, m.lead_time_level,
       m.change_failure_level, m.recovery_level, m.performance_level, m.repos_elite, m.repos_high, m.repos_medium,
       m.repos_low, m.thresholds_version, m.deployment_signal, m.metric_version)
   IS DISTINCT FROM
      (EXCLUDED.window_start, EXCLUDED.deployments, EXCLUDED.deployment_days, EXCLUDED.lead_time_p50_hours,
       EXCLUDED.lead_time_p90_hours, EXCLUDED.lead_time_n, EXCLUDED.failed_deployments, EXCLUDED.change_failure_rate,
       EXCLUDED.recovery_time_p50_hours, EXCLUDED.recovery_n, EXCLUDED.rework_deployments, EXCLUDED.rework_rate,
       EXCLUDED.failed_attempts, EXCLUDED.unrecovered_failures, EXCLUDED.deployment_frequency_level,
       EXCLUDED.lead_time_level, EXCLUDED.change_failure_level, EXCLUDED.recovery_level, EXCLUDED.performance_level,
       EXCLUDED.repos_elite, EXCLUDED.repos_high, EXCLUDED.repos_medium, EXCLUDED.repos_low,
       EXCLUDED.thresholds_version, EXCLUDED.deployment_signal, EXCLUDED.metric_version)`

var sqlDeleteStaleDORARolling = deleteStaleWeeklyScopes("dora_rolling_metrics")

// PutDORARollingMetrics stores the rolling DORA rows of the batch's window (rows dated
// by their window's last week) in one transaction, like PutDORAMetrics.
func (s *Store) PutDORARollingMetrics(ctx context.Context, b MetricBatch, rows []metrics.DORARollingRow) (MetricWrite, error) {
	n := len(rows)
	texts := func() []string { return make([]string, n) }
	ints := func() []int { return make([]int, n) }
	floats := func() []*float64 { return make([]*float64, n) }
	var (
		scopeTypes, scopes, thresholds                    = texts(), texts(), texts()
		dfLevels, leadLevels, cfLevels, recLevels, levels = texts(), texts(), texts(), texts(), texts()
		weeks, starts                                     = make([]time.Time, n), make([]time.Time, n)
		windows, deployments, days, leadN, failed         = ints(), ints(), ints(), ints(), ints()
		recoveryN, rework, attempts, unrecovered          = ints(), ints(), ints(), ints()
		elite, high, medium, low, versions                = ints(), ints(), ints(), ints(), ints()
		leadP50, leadP90, cfr, recoveryP50, reworkRate    = floats(), floats(), floats(), floats(), floats()
		seen                                              = map[string]int{}
	)
	for i, r := range rows {
		scopeTypes[i], scopes[i], weeks[i], windows[i], starts[i] = r.ScopeType, r.Scope, r.WeekStart.UTC(), r.WindowWeeks, r.WindowStart.UTC()
		deployments[i], days[i] = r.Deployments, r.DeploymentDays
		leadP50[i], leadP90[i], leadN[i] = r.LeadTimeP50Hours, r.LeadTimeP90Hours, r.LeadTimeN
		failed[i], cfr[i], recoveryP50[i], recoveryN[i] = r.FailedDeployments, r.ChangeFailureRate, r.RecoveryTimeP50Hours, r.RecoveryN
		rework[i], reworkRate[i], attempts[i], unrecovered[i] = r.ReworkDeployments, r.ReworkRate, r.FailedAttempts, r.UnrecoveredFailures
		dfLevels[i], leadLevels[i], cfLevels[i] = string(r.DeploymentFrequencyLevel), string(r.LeadTimeLevel), string(r.ChangeFailureLevel)
		recLevels[i], levels[i] = string(r.RecoveryLevel), string(r.PerformanceLevel)
		elite[i], high[i], medium[i], low[i] = r.ReposElite, r.ReposHigh, r.ReposMedium, r.ReposLow
		thresholds[i], versions[i] = r.ThresholdsVersion, r.MetricVersion
		k := fmt.Sprintf("%s\x00%s\x00%s\x00%d", r.ScopeType, r.Scope, weeks[i].Format(time.DateOnly), r.WindowWeeks)
		if j, dup := seen[k]; dup {
			return MetricWrite{}, fmt.Errorf("put rolling dora metrics: rows[%d] repeats rows[%d]", i, j)
		}
		seen[k] = i
		if !starts[i].Equal(weeks[i].AddDate(0, 0, -7*(r.WindowWeeks-1))) {
			return MetricWrite{}, fmt.Errorf("put rolling dora metrics: rows[%d].window_start: %s does not start the %d weeks ending with %s",
				i, starts[i].Format(time.DateOnly), r.WindowWeeks, weeks[i].Format(time.DateOnly))
		}
	}
	if err := b.check(weeks); err != nil {
		return MetricWrite{}, fmt.Errorf("put rolling dora metrics: %w", err)
	}
	if b.DeploymentSignal != metrics.SignalDeployment && b.DeploymentSignal != metrics.SignalWorkflow {
		return MetricWrite{}, fmt.Errorf("put rolling dora metrics: deployment_signal: %q must be %q or %q", b.DeploymentSignal, metrics.SignalDeployment, metrics.SignalWorkflow)
	}
	keepTypes, keepScopes := scopesOf(scopeTypes, scopes)
	args := []any{b.EnterpriseID, b.DeploymentSignal, b.ComputedAt,
		scopeTypes, scopes, weeks, windows, starts,
		deployments, days, leadP50, leadP90, leadN,
		failed, cfr, recoveryP50, recoveryN,
		rework, reworkRate, attempts, unrecovered,
		dfLevels, leadLevels, cfLevels, recLevels, levels,
		elite, high, medium, low, thresholds, versions}
	w, err := s.putMetrics(ctx, b, n, sqlUpsertDORARolling, args, sqlDeleteStaleDORARolling, keepTypes, keepScopes)
	if err != nil {
		return MetricWrite{}, fmt.Errorf("put rolling dora metrics of %s: %w", b.EnterpriseID, err)
	}
	return w, nil
}

// DayBatch says which daily rows a calculation replaces: the enterprise's rows from From
// to To (UTC dates, both included).
type DayBatch struct {
	EnterpriseID string
	From, To     time.Time
}

func (b DayBatch) check(days []time.Time) error {
	if b.EnterpriseID == "" {
		return errors.New("enterprise_id: required")
	}
	from, to := dateOnly(b.From), dateOnly(b.To)
	if to.Before(from) {
		return fmt.Errorf("days: %s – %s is empty", from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	for i, d := range days {
		if d.Before(from) || d.After(to) {
			return fmt.Errorf("rows[%d].day: %s is outside %s – %s", i, d.Format(time.DateOnly), from.Format(time.DateOnly), to.Format(time.DateOnly))
		}
	}
	return nil
}

// Team rows of copilot_daily_metrics: the figures CalculateCopilotTeamDays derives; the
// rest (completions by feature, pull-request figures, seats) stay NULL.
const sqlUpsertTeamCopilotDays = `
INSERT INTO copilot_daily_metrics AS d (
    enterprise_id, scope_type, scope, day, daily_active_users, weekly_active_users, monthly_active_users,
    monthly_active_chat_users, monthly_active_agent_users, user_initiated_interactions, code_generations,
    code_acceptances, loc_suggested_to_add, loc_suggested_to_delete, loc_added, loc_deleted,
    chat_interactions, agent_interactions, updated_at)
SELECT $1, 'team', u.*, now()
FROM unnest($2::text[], $3::date[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[],
            $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[],
            $16::bigint[], $17::bigint[]) AS u
ON CONFLICT (enterprise_id, scope_type, scope, day) DO UPDATE SET
    daily_active_users = EXCLUDED.daily_active_users, weekly_active_users = EXCLUDED.weekly_active_users,
    monthly_active_users = EXCLUDED.monthly_active_users, monthly_active_chat_users = EXCLUDED.monthly_active_chat_users,
    monthly_active_agent_users = EXCLUDED.monthly_active_agent_users,
    user_initiated_interactions = EXCLUDED.user_initiated_interactions, code_generations = EXCLUDED.code_generations,
    code_acceptances = EXCLUDED.code_acceptances, loc_suggested_to_add = EXCLUDED.loc_suggested_to_add,
    loc_suggested_to_delete = EXCLUDED.loc_suggested_to_delete, loc_added = EXCLUDED.loc_added,
    loc_deleted = EXCLUDED.loc_deleted, chat_interactions = EXCLUDED.chat_interactions,
    agent_interactions = EXCLUDED.agent_interactions, updated_at = now()
WHERE (d.daily_active_users, d.weekly_active_users, d.monthly_active_users, d.monthly_active_chat_users,
       d.monthly_active_agent_users, d.user_initiated_interactions, d.code_generations, d.code_acceptances,
       d.loc_suggested_to_add, d.loc_suggested_to_delete, d.loc_added, d.loc_deleted, d.chat_interactions,
       d.agent_interactions)
   IS DISTINCT FROM
      (EXCLUDED.daily_active_users, EXCLUDED.weekly_active_users, EXCLUDED.monthly_active_users,
       EXCLUDED.monthly_active_chat_users, EXCLUDED.monthly_active_agent_users, EXCLUDED.user_initiated_interactions,
       EXCLUDED.code_generations, EXCLUDED.code_acceptances, EXCLUDED.loc_suggested_to_add,
       EXCLUDED.loc_suggested_to_delete, EXCLUDED.loc_added, EXCLUDED.loc_deleted, EXCLUDED.chat_interactions,
       EXCLUDED.agent_interactions)`

// A team row of the window that the calculation did not produce: the team is gone, or
// the day's per-user report.
const sqlDeleteStaleTeamCopilotDays = `
DELETE FROM copilot_daily_metrics d
WHERE d.enterprise_id = $1 AND d.scope_type = 'team' AND d.day BETWEEN $2 AND $3
  AND (d.scope, d.day) NOT IN (SELECT * FROM unnest($4::text[], $5::date[]))`

// PutTeamCopilotDays stores the teams' Copilot days of the batch's days in one
// transaction, deleting the window's team rows the calculation no longer produced.
func (s *Store) PutTeamCopilotDays(ctx context.Context, b DayBatch, rows []metrics.CopilotTeamDay) (MetricWrite, error) {
	n := len(rows)
	scopes, days := make([]string, n), make([]time.Time, n)
	cols := make([][]int64, 14)
	for c := range cols {
		cols[c] = make([]int64, n)
	}
	seen := map[string]int{}
	for i, r := range rows {
		scopes[i], days[i] = r.Scope, dateOnly(r.Day)
		for c, v := range []int64{r.DailyActiveUsers, r.WeeklyActiveUsers, r.MonthlyActiveUsers, r.MonthlyActiveChatUsers,
			r.MonthlyActiveAgentUsers, r.UserInitiatedInteractions, r.CodeGenerations, r.CodeAcceptances, r.LOCSuggestedToAdd,
			r.LOCSuggestedToDelete, r.LOCAdded, r.LOCDeleted, r.ChatInteractions, r.AgentInteractions} {
			cols[c][i] = v
		}
		k := r.Scope + "\x00" + days[i].Format(time.DateOnly)
		if j, dup := seen[k]; dup {
			return MetricWrite{}, fmt.Errorf("put team copilot days: rows[%d] repeats rows[%d]", i, j)
		}
		seen[k] = i
	}
	if err := b.check(days); err != nil {
		return MetricWrite{}, fmt.Errorf("put team copilot days: %w", err)
	}
	args := []any{b.EnterpriseID, scopes, days}
	for _, c := range cols {
		args = append(args, c)
	}
	w := MetricWrite{Rows: n}
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sqlUpsertTeamCopilotDays, args...)
		if err != nil {
			return fmt.Errorf("upsert: %w", err)
		}
		w.Changed = tag.RowsAffected()
		tag, err = tx.Exec(ctx, sqlDeleteStaleTeamCopilotDays, b.EnterpriseID, dateOnly(b.From), dateOnly(b.To), scopes, days)
		if err != nil {
			return fmt.Errorf("delete stale rows: %w", err)
		}
		w.Deleted = tag.RowsAffected()
		return nil
	})
	if err != nil {
		return MetricWrite{}, classify(fmt.Errorf("put team copilot days of %s: %w", b.EnterpriseID, err))
	}
	return w, nil
}

const sqlUpsertSeatUtilisation = `
INSERT INTO copilot_seat_utilisation AS s (
    enterprise_id, scope_type, scope, day, seats_total, seats_active_7d, seats_active_30d, seats_idle_30d,
    seats_never_used, seats_pending_cancellation, seats_business, seats_enterprise, seats_other_plan,
    currency, monthly_cost, idle_monthly_cost, unpriced_seats, metric_version, computed_at)
SELECT $1, u.*, $2
FROM unnest($3::text[], $4::text[], $5::date[], $6::int[], $7::int[], $8::int[], $9::int[], $10::int[], $11::int[],
            $12::int[], $13::int[], $14::int[], $15::text[], $16::float8[], $17::float8[], $18::int[], $19::int[]) AS u
ON CONFLICT (enterprise_id, scope_type, scope, day) DO UPDATE SET
    seats_total = EXCLUDED.seats_total, seats_active_7d = EXCLUDED.seats_active_7d,
    seats_active_30d = EXCLUDED.seats_active_30d, seats_idle_30d = EXCLUDED.seats_idle_30d,
    seats_never_used = EXCLUDED.seats_never_used, seats_pending_cancellation = EXCLUDED.seats_pending_cancellation,
    seats_business = EXCLUDED.seats_business, seats_enterprise = EXCLUDED.seats_enterprise,
    seats_other_plan = EXCLUDED.seats_other_plan, currency = EXCLUDED.currency, monthly_cost = EXCLUDED.monthly_cost,
    idle_monthly_cost = EXCLUDED.idle_monthly_cost, unpriced_seats = EXCLUDED.unpriced_seats,
    metric_version = EXCLUDED.metric_version, computed_at = EXCLUDED.computed_at
WHERE (s.seats_total, s.seats_active_7d, s.seats_active_30d, s.seats_idle_30d, s.seats_never_used,
       s.seats_pending_cancellation, s.seats_business, s.seats_enterprise, s.seats_other_plan, s.currency,
       s.monthly_cost, s.idle_monthly_cost, s.unpriced_seats, s.metric_version)
   IS DISTINCT FROM
      (EXCLUDED.seats_total, EXCLUDED.seats_active_7d, EXCLUDED.seats_active_30d, EXCLUDED.seats_idle_30d,
       EXCLUDED.seats_never_used, EXCLUDED.seats_pending_cancellation, EXCLUDED.seats_business,
       EXCLUDED.seats_enterprise, EXCLUDED.seats_other_plan, EXCLUDED.currency, EXCLUDED.monthly_cost,
       EXCLUDED.idle_monthly_cost, EXCLUDED.unpriced_seats, EXCLUDED.metric_version)`

const sqlDeleteStaleSeatUtilisation = `
DELETE FROM copilot_seat_utilisation s
WHERE s.enterprise_id = $1 AND s.day BETWEEN $2 AND $3
  AND (s.scope_type, s.scope, s.day) NOT IN (SELECT * FROM unnest($4::text[], $5::text[], $6::date[]))`

// PutSeatUtilisation stores the seat utilisation rows of the batch's days in one
// transaction, deleting the window's rows the calculation did not produce.
func (s *Store) PutSeatUtilisation(ctx context.Context, b DayBatch, computedAt time.Time, rows []metrics.SeatUtilisationRow) (MetricWrite, error) {
	n := len(rows)
	ints := func() []int { return make([]int, n) }
	var (
		scopeTypes, scopes, currencies                      = make([]string, n), make([]string, n), make([]string, n)
		days                                                = make([]time.Time, n)
		total, a7, a30, idle, never, pending, business, ent = ints(), ints(), ints(), ints(), ints(), ints(), ints(), ints()
		other, unpriced, versions                           = ints(), ints(), ints()
		cost, idleCost                                      = make([]*float64, n), make([]*float64, n)
		seen                                                = map[string]int{}
	)
	for i, r := range rows {
		scopeTypes[i], scopes[i], days[i] = r.ScopeType, r.Scope, dateOnly(r.Day)
		total[i], a7[i], a30[i], idle[i], never[i], pending[i] = r.SeatsTotal, r.SeatsActive7d, r.SeatsActive30d, r.SeatsIdle30d, r.SeatsNeverUsed, r.SeatsPendingCancellation
		business[i], ent[i], other[i] = r.SeatsBusiness, r.SeatsEnterprise, r.SeatsOtherPlan
		currencies[i], cost[i], idleCost[i], unpriced[i], versions[i] = r.Currency, r.MonthlyCost, r.IdleMonthlyCost, r.UnpricedSeats, r.MetricVersion
		k := r.ScopeType + "\x00" + r.Scope + "\x00" + days[i].Format(time.DateOnly)
		if j, dup := seen[k]; dup {
			return MetricWrite{}, fmt.Errorf("put seat utilisation: rows[%d] repeats rows[%d]", i, j)
		}
		seen[k] = i
	}
	if err := b.check(days); err != nil {
		return MetricWrite{}, fmt.Errorf("put seat utilisation: %w", err)
	}
	if computedAt.IsZero() {
		return MetricWrite{}, errors.New("put seat utilisation: computed_at: required")
	}
	w := MetricWrite{Rows: n}
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sqlUpsertSeatUtilisation, b.EnterpriseID, computedAt, scopeTypes, scopes, days,
			total, a7, a30, idle, never, pending, business, ent, other, currencies, cost, idleCost, unpriced, versions)
		if err != nil {
			return fmt.Errorf("upsert: %w", err)
		}
		w.Changed = tag.RowsAffected()
		tag, err = tx.Exec(ctx, sqlDeleteStaleSeatUtilisation, b.EnterpriseID, dateOnly(b.From), dateOnly(b.To), scopeTypes, scopes, days)
		if err != nil {
			return fmt.Errorf("delete stale rows: %w", err)
		}
		w.Deleted = tag.RowsAffected()
		return nil
	})
	if err != nil {
		return MetricWrite{}, classify(fmt.Errorf("put seat utilisation of %s: %w", b.EnterpriseID, err))
	}
	return w, nil
}

const sqlUpsertIdleSeats = `
INSERT INTO copilot_idle_seats AS s (
    enterprise_id, scope_type, scope, seat_key, snapshot_date, assignee_id, assignee_login, organization,
    assigning_team, plan_type, created_at, last_activity_at, last_activity_editor, days_idle, never_used,
    pending_cancellation, metric_version)
SELECT $1, u.scope_type, u.scope, u.seat_key, u.snapshot_date, NULLIF(u.assignee_id, 0), u.login, u.organization,
       u.team, u.plan, u.created_at, u.last_activity_at, u.editor, u.days_idle, u.never_used, u.pending, u.metric_version
FROM unnest($2::text[], $3::text[], $4::text[], $5::date[], $6::bigint[], $7::text[], $8::text[], $9::text[],
            $10::text[], $11::timestamptz[], $12::timestamptz[], $13::text[], $14::int[], $15::bool[], $16::date[], $17::int[])
     AS u(scope_type, scope, seat_key, snapshot_date, assignee_id, login, organization, team, plan, created_at,
          last_activity_at, editor, days_idle, never_used, pending, metric_version)
ON CONFLICT (enterprise_id, scope_type, scope, seat_key) DO UPDATE SET
    snapshot_date = EXCLUDED.snapshot_date, assignee_id = EXCLUDED.assignee_id, assignee_login = EXCLUDED.assignee_login,
    organization = EXCLUDED.organization, assigning_team = EXCLUDED.assigning_team, plan_type = EXCLUDED.plan_type,
    created_at = EXCLUDED.created_at, last_activity_at = EXCLUDED.last_activity_at,
    last_activity_editor = EXCLUDED.last_activity_editor, days_idle = EXCLUDED.days_idle,
    never_used = EXCLUDED.never_used, pending_cancellation = EXCLUDED.pending_cancellation,
    metric_version = EXCLUDED.metric_version
WHERE (s.snapshot_date, s.assignee_id, s.assignee_login, s.organization, s.assigning_team, s.plan_type, s.created_at,
       s.last_activity_at, s.last_activity_editor, s.days_idle, s.never_used, s.pending_cancellation, s.metric_version)
   IS DISTINCT FROM
      (EXCLUDED.snapshot_date, EXCLUDED.assignee_id, EXCLUDED.assignee_login, EXCLUDED.organization,
       EXCLUDED.assigning_team, EXCLUDED.plan_type, EXCLUDED.created_at, EXCLUDED.last_activity_at,
       EXCLUDED.last_activity_editor, EXCLUDED.days_idle, EXCLUDED.never_used, EXCLUDED.pending_cancellation,
       EXCLUDED.metric_version)`

const sqlDeleteStaleIdleSeats = `
DELETE FROM copilot_idle_seats s
WHERE s.enterprise_id = $1
  AND (s.scope_type, s.scope, s.seat_key) NOT IN (SELECT * FROM unnest($2::text[], $3::text[], $4::text[]))`

// ReplaceIdleSeats makes rows the enterprise's idle seats, in one transaction: rows are
// upserted and every other stored idle seat of the enterprise is deleted (it is no longer
// idle, its seat is gone, or its scope has no snapshot any more).
func (s *Store) ReplaceIdleSeats(ctx context.Context, enterpriseID string, rows []metrics.IdleSeat) (MetricWrite, error) {
	if enterpriseID == "" {
		return MetricWrite{}, errors.New("replace idle seats: enterprise_id: required")
	}
	n := len(rows)
	texts := func() []string { return make([]string, n) }
	var (
		scopeTypes, scopes, keys, logins, orgs, teams, plans, editors = texts(), texts(), texts(), texts(), texts(), texts(), texts(), texts()
		days                                                          = make([]time.Time, n)
		ids                                                           = make([]int64, n)
		created, last                                                 = make([]*time.Time, n), make([]*time.Time, n)
		pending                                                       = make([]*time.Time, n)
		idle, versions                                                = make([]int, n), make([]int, n)
		never                                                         = make([]bool, n)
		seen                                                          = map[string]int{}
	)
	for i, r := range rows {
		scopeTypes[i], scopes[i], keys[i], days[i] = r.ScopeType, r.Scope, r.Key, dateOnly(r.Day)
		ids[i], logins[i], orgs[i], teams[i], plans[i] = r.AssigneeID, r.AssigneeLogin, r.Organization, r.AssigningTeam, r.PlanType
		if !r.CreatedAt.IsZero() {
			c := r.CreatedAt.UTC()
			created[i] = &c
		}
		last[i], editors[i], idle[i], never[i], pending[i], versions[i] = r.LastActivityAt, r.LastActivityEditor, r.DaysIdle, r.NeverUsed, r.PendingCancellation, r.MetricVersion
		k := r.ScopeType + "\x00" + r.Scope + "\x00" + r.Key
		if j, dup := seen[k]; dup || r.Key == "" {
			return MetricWrite{}, fmt.Errorf("replace idle seats: rows[%d]: key %q empty or repeating rows[%d]", i, r.Key, j)
		}
		seen[k] = i
	}
	w := MetricWrite{Rows: n}
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sqlDeleteStaleIdleSeats, enterpriseID, scopeTypes, scopes, keys)
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		w.Deleted = tag.RowsAffected()
		tag, err = tx.Exec(ctx, sqlUpsertIdleSeats, enterpriseID, scopeTypes, scopes, keys, days, ids, logins, orgs, teams,
			plans, created, last, editors, idle, never, pending, versions)
		if err != nil {
			return fmt.Errorf("upsert: %w", err)
		}
		w.Changed = tag.RowsAffected()
		return nil
	})
	if err != nil {
		return MetricWrite{}, classify(fmt.Errorf("replace idle seats of %s: %w", enterpriseID, err))
	}
	return w, nil
}
