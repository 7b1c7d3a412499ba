package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/metrics"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
)

func ip(v int) *int { return &v }

func TestPutImpactMetrics(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	ctx := t.Context()
	w1 := day("2026-06-01")
	shown := metrics.ImpactRow{ScopeType: metrics.ScopeOrganization, Scope: "acme", WeekStart: w1, Cohort: metrics.CohortCopilotActive,
		Authors: ip(6), PRsMerged: ip(9), PRCycleTimeP50Hours: f64(1.0 / 3), PRCycleTimeN: ip(9), ReviewTimeN: ip(0),
		PRSizeP50: f64(40), PRSizeN: ip(9), PRsReviewedByCopilot: ip(2), PRsReverted: ip(1), CopilotReportDays: 7, MinAuthors: 5, MetricVersion: 2}
	hidden := metrics.ImpactRow{ScopeType: metrics.ScopeTeam, Scope: "acme/web", WeekStart: w1, Cohort: metrics.CohortCopilotInactive,
		Suppressed: true, CopilotReportDays: 7, MinAuthors: 5, MetricVersion: 2}
	batch := postgres.MetricBatch{EnterpriseID: "ent1", FirstWeek: w1, LastWeek: w1, ComputedAt: at("2026-06-02T06:00:00Z")}
	if w, err := s.PutImpactMetrics(ctx, batch, []metrics.ImpactRow{shown, hidden}); err != nil || w.Changed != 2 {
		t.Fatalf("first write %+v %v", w, err)
	}
	rows := func() []string {
		return textRows(t, s, `SELECT concat_ws('|', scope_type, scope, week_start, cohort, suppressed, coalesce(authors::text, 'NULL'),
			coalesce(prs_merged::text, 'NULL'), coalesce(pr_cycle_time_p50_hours::text, 'NULL'), coalesce(review_time_p50_hours::text, 'NULL'),
			coalesce(review_time_n::text, 'NULL'), coalesce(prs_reverted::text, 'NULL'), copilot_report_days, min_authors, metric_version)
			FROM copilot_impact_metrics ORDER BY scope_type, scope`)
	}
	want := []string{
		"organization|acme|2026-06-01|copilot_active|t|6|9|0.333333333333333|NULL|0|1|7|5|2",
		"team|acme/web|2026-06-01|copilot_inactive|t|NULL|NULL|NULL|NULL|NULL|NULL|7|5|2",
	}
	want[0] = strings.Replace(want[0], "|t|", "|f|", 1)
	if diff := cmp.Diff(want, rows()); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
	if w, err := s.PutImpactMetrics(ctx, batch, []metrics.ImpactRow{shown, hidden}); err != nil || w.Changed != 0 {
		t.Errorf("unchanged write %+v %v; want nothing changed", w, err)
	}
	// The team is gone: its rows of the window go.
	if w, err := s.PutImpactMetrics(ctx, batch, []metrics.ImpactRow{shown}); err != nil || w.Deleted != 1 {
		t.Errorf("write without the team %+v %v; want 1 deleted", w, err)
	}
	// A suppressed row carrying a figure is refused by the table: figures of a
	// suppressed cohort are never stored.
	leak := hidden
	leak.Authors = ip(3)
	if _, err := s.PutImpactMetrics(ctx, batch, []metrics.ImpactRow{shown, leak}); err == nil {
		t.Error("a suppressed cohort with its author count was stored")
	}
	if _, err := s.PutImpactMetrics(ctx, batch, []metrics.ImpactRow{shown, shown}); err == nil || !strings.Contains(err.Error(), "rows[1] repeats rows[0]") {
		t.Errorf("a row twice: %v", err)
	}
}

func TestPutDORARollingMetrics(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	ctx := t.Context()
	w := day("2026-06-08")
	row := metrics.DORARollingRow{DORARow: metrics.DORARow{ScopeType: metrics.ScopeTeam, Scope: "acme/web", WeekStart: w,
		Deployments: 2, DeploymentDays: 2, ChangeFailureRate: f64(0), DeploymentFrequencyLevel: metrics.LevelMedium,
		ChangeFailureLevel: metrics.LevelElite, PerformanceLevel: metrics.LevelMedium, ReposMedium: 1, ThresholdsVersion: "2024", MetricVersion: 2},
		WindowWeeks: 4, WindowStart: day("2026-05-18")}
	batch := postgres.MetricBatch{EnterpriseID: "ent1", FirstWeek: w, LastWeek: w, ComputedAt: at("2026-06-09T06:00:00Z"), DeploymentSignal: metrics.SignalDeployment}
	if wr, err := s.PutDORARollingMetrics(ctx, batch, []metrics.DORARollingRow{row}); err != nil || wr.Changed != 1 {
		t.Fatalf("write %+v %v", wr, err)
	}
	got := textRows(t, s, `SELECT concat_ws('|', scope_type, scope, week_start, window_weeks, window_start, deployments,
		change_failure_rate, coalesce(lead_time_level, 'NULL'), performance_level, repos_medium, deployment_signal) FROM dora_rolling_metrics`)
	if diff := cmp.Diff([]string{"team|acme/web|2026-06-08|4|2026-05-18|2|0|NULL|medium|1|deployment"}, got); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
	if wr, err := s.PutDORARollingMetrics(ctx, batch, []metrics.DORARollingRow{row}); err != nil || wr.Changed != 0 {
		t.Errorf("unchanged write %+v %v", wr, err)
	}
	bad := row
	bad.WindowStart = day("2026-05-25")
	if _, err := s.PutDORARollingMetrics(ctx, batch, []metrics.DORARollingRow{bad}); err == nil || !strings.Contains(err.Error(), "window_start") {
		t.Errorf("a window start that does not match: %v", err)
	}
}

func TestSeatInsightsRoundTrip(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	ctx := t.Context()
	last := tsp("2026-01-02T10:00:00Z")
	seats := []metrics.CopilotSeat{
		{AssigneeID: 1, AssigneeLogin: "ana", Organization: "contoso-web", PlanType: "business", CreatedAt: *tsp("2025-06-01T00:00:00Z"), LastActivityAt: last, LastActivityEditor: "vscode"},
		{AssigneeID: 2, AssigneeLogin: "bo", PlanType: "enterprise", CreatedAt: *tsp("2025-06-01T00:00:00Z")},
	}
	if _, err := s.SaveCopilotSeats(ctx, postgres.CopilotSeatSnapshot{EnterpriseID: "ent1", Scope: copilotOrg, Date: copilotDay1, Seats: seats, Total: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveCopilotSeats(ctx, postgres.CopilotSeatSnapshot{EnterpriseID: "ent1", Scope: copilotEnt, Date: copilotDay1}); err != nil {
		t.Fatal(err)
	}
	snaps, err := s.ListSeatSnapshots(ctx, "ent1", copilotDay1, copilotDay1)
	if err != nil {
		t.Fatal(err)
	}
	want := []metrics.SeatSnapshot{
		{ScopeType: metrics.ScopeEnterprise, Scope: "contoso", Day: copilotDay1}, // an empty listing is a snapshot too
		{ScopeType: metrics.ScopeOrganization, Scope: "contoso-web", Day: copilotDay1, Seats: seats},
	}
	if diff := cmp.Diff(want, snaps); diff != "" {
		t.Errorf("snapshots (-want +got):\n%s", diff)
	}

	rows, err := metrics.CalculateSeatUtilisation(snaps, metrics.DefaultSeatPrices(), "contoso")
	if err != nil {
		t.Fatal(err)
	}
	b := postgres.DayBatch{EnterpriseID: "ent1", From: copilotDay1.AddDate(0, 0, -1), To: copilotDay1}
	computed := at("2026-01-04T06:00:00Z")
	if w, err := s.PutSeatUtilisation(ctx, b, computed, rows); err != nil || w.Changed != 2 {
		t.Fatalf("write %+v %v", w, err)
	}
	got := textRows(t, s, `SELECT concat_ws('|', scope_type, scope, day, seats_total, seats_active_30d, seats_idle_30d, seats_never_used,
		seats_business, seats_enterprise, currency, coalesce(monthly_cost::text, 'NULL'), coalesce(idle_monthly_cost::text, 'NULL'))
		FROM copilot_seat_utilisation ORDER BY scope_type, scope`)
	wantRows := []string{"enterprise|contoso|2026-01-03|0|0|0|0|0|0|USD|NULL|NULL", "organization|contoso-web|2026-01-03|2|1|1|1|1|1|USD|58|39"}
	if diff := cmp.Diff(wantRows, got); diff != "" {
		t.Errorf("utilisation (-want +got):\n%s", diff)
	}
	if w, err := s.PutSeatUtilisation(ctx, b, computed.Add(time.Hour), rows); err != nil || w.Changed != 0 || w.Deleted != 0 {
		t.Errorf("unchanged write %+v %v", w, err)
	}
	if w, err := s.PutSeatUtilisation(ctx, b, computed, rows[1:]); err != nil || w.Deleted != 1 {
		t.Errorf("without the enterprise row %+v %v; want it deleted", w, err)
	}
	if _, err := s.PutSeatUtilisation(ctx, postgres.DayBatch{EnterpriseID: "ent1", From: copilotDay1, To: copilotDay1.AddDate(0, 0, -1)}, computed, nil); err == nil {
		t.Error("an empty day range was accepted")
	}

	idle, err := metrics.CalculateIdleSeats(snaps, metrics.DefaultSeatPrices(), "contoso")
	if err != nil {
		t.Fatal(err)
	}
	if w, err := s.ReplaceIdleSeats(ctx, "ent1", idle); err != nil || w.Changed != 1 {
		t.Fatalf("idle seats %+v %v", w, err)
	}
	if w, err := s.ReplaceIdleSeats(ctx, "ent1", idle); err != nil || w.Changed != 0 || w.Deleted != 0 {
		t.Errorf("the same idle seats again %+v %v", w, err)
	}
	got = textRows(t, s, `SELECT concat_ws('|', scope, seat_key, snapshot_date, assignee_login, organization, days_idle, never_used) FROM copilot_idle_seats`)
	if diff := cmp.Diff([]string{"contoso-web|id:2|2026-01-03|bo|contoso-web|216|t"}, got); diff != "" {
		t.Errorf("idle seats (-want +got):\n%s", diff)
	}
	if w, err := s.ReplaceIdleSeats(ctx, "ent1", nil); err != nil || w.Deleted != 1 {
		t.Errorf("no idle seat any more %+v %v; want the row deleted", w, err)
	}
}

func TestTeamCopilotDaysAndUserUsage(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	ctx := t.Context()
	saveReport(t, s, postgres.CopilotReportDay{Scope: copilotOrg, Report: postgres.CopilotReportUsers,
		Day: copilotDay1, Available: true, Shards: 1, Users: users(copilotDay1, 1, 2)})
	exec(t, s, `INSERT INTO copilot_daily_metrics (enterprise_id, scope_type, scope, day, daily_active_users)
		VALUES ('ent1', 'organization', 'contoso-web', '2026-01-03', 2)`)
	usage, err := s.ListCopilotUserUsage(ctx, "ent1", copilotDay1, copilotDay1)
	if err != nil {
		t.Fatal(err)
	}
	if len(usage) != 2 || usage[0].UserID != 1 || usage[0].ScopeType != metrics.ScopeOrganization || usage[0].Scope != "contoso-web" ||
		!usage[0].Day.Equal(copilotDay1) || usage[0].CodeGenerations == usage[1].CodeGenerations {
		t.Fatalf("usage %+v", usage)
	}
	teams := []metrics.Team{{Org: "contoso-web", Slug: "web", Members: []metrics.TeamMember{{UserID: 1, Login: "u1"}}}}
	days, err := metrics.CalculateCopilotTeamDays(usage, teams, copilotDay1, copilotDay1)
	if err != nil {
		t.Fatal(err)
	}
	b := postgres.DayBatch{EnterpriseID: "ent1", From: copilotDay1, To: copilotDay1}
	if w, err := s.PutTeamCopilotDays(ctx, b, days); err != nil || w.Changed != 1 {
		t.Fatalf("team days %+v %v", w, err)
	}
	if w, err := s.PutTeamCopilotDays(ctx, b, days); err != nil || w.Changed != 0 {
		t.Errorf("unchanged team days %+v %v", w, err)
	}
	got := textRows(t, s, `SELECT concat_ws('|', scope_type, scope, day, daily_active_users, coalesce(seats_total::text, 'NULL'),
		coalesce(completion_acceptance_rate::text, 'NULL')) FROM copilot_daily_metrics WHERE scope_type = 'team'`)
	if diff := cmp.Diff([]string{"team|contoso-web/web|2026-01-03|1|NULL|NULL"}, got); diff != "" {
		t.Errorf("team rows (-want +got):\n%s", diff)
	}
	if w, err := s.PutTeamCopilotDays(ctx, b, nil); err != nil || w.Deleted != 1 {
		t.Errorf("the team gone %+v %v; want its row deleted", w, err)
	}
	if n := textRows(t, s, `SELECT count(*)::text FROM copilot_daily_metrics WHERE scope_type <> 'team'`); n[0] == "0" {
		t.Error("the reported rows went with the team rows")
	}
}
