package pipeline_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"metrics-collector/internal/config"
	"metrics-collector/internal/githubsim"
	"metrics-collector/internal/metrics"
	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
	"metrics-collector/internal/server"
)

// Teams are listed once a day by collect_copilot: what is stored is the simulator's
// teams; a second call of the day asks GitHub nothing about teams; the next listing
// after the simulated membership change closes and opens the periods.
func TestCollectTeamsOncePerDay(t *testing.T) {
	e := newCopilotEnv(t, copilotSetup{enterprise: func(ent *config.Enterprise) {
		ent.Teams = config.Teams{All: true}
		ent.TeamRepositories = config.TeamRepositories{FromPermissions: true}
	}})
	teamRequests := func() int {
		n := 0
		for _, r := range e.sim.Requests() {
			if strings.Contains(r.Path, "/teams") {
				n++
			}
		}
		return n
	}
	e.collectAll(150)
	truth, err := e.sim.TeamTruth("ent1")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := e.store.ListTeams(t.Context(), postgres.TeamQuery{EnterpriseID: "ent1", Orgs: []string{"contoso-web", "contoso-data"}, OwnedRepos: true})
	if err != nil {
		t.Fatal(err)
	}
	sortTeams := func(ts []metrics.Team) {
		slices.SortFunc(ts, func(a, b metrics.Team) int { return strings.Compare(a.Scope(), b.Scope()) })
		for i := range ts {
			slices.Sort(ts[i].Repos)
		}
	}
	sortTeams(truth.Teams)
	sortTeams(stored)
	if diff := cmp.Diff(truth.Teams, stored); diff != "" {
		t.Errorf("stored teams differ from the simulator's (-truth +stored):\n%s", diff)
	}
	// Two orgs: a listing, and members and repositories of four teams each.
	if n := teamRequests(); n != 2*(1+4+4) {
		t.Errorf("%d team requests, want 18", n)
	}

	e.sim.ResetRequests()
	e.collect(`{"enterprise":"ent1"}`)
	if n := teamRequests(); n != 0 {
		t.Errorf("a second call of the day made %d team requests", n)
	}

	// Two days later the memberships have moved: the listing closes one period and
	// opens another, dated by the listing.
	e.sim.Advance(48 * time.Hour)
	e.clock.advance(48 * time.Hour)
	e.collect(`{"enterprise":"ent1"}`)
	listed := e.clock.Now().Truncate(24 * time.Hour).Format(time.DateOnly)
	got := calcRows(t, e.store, `SELECT concat_ws('|', org, s, u, n) FROM (
		SELECT org, coalesce(since::text, '-') AS s, coalesce(until::text, '-') AS u, count(*) AS n
		FROM team_members GROUP BY 1, 2, 3) x ORDER BY 1`)
	var moved []string
	for _, line := range got {
		if strings.Contains(line, listed) {
			moved = append(moved, line)
		}
	}
	// In each org one member left platform and one joined data.
	want := []string{"contoso-data|" + listed + "|-|1", "contoso-data|-|" + listed + "|1", "contoso-web|" + listed + "|-|1", "contoso-web|-|" + listed + "|1"}
	slices.Sort(moved)
	slices.Sort(want)
	if diff := cmp.Diff(want, moved); diff != "" {
		t.Errorf("membership periods of the listing of %s (-want +got):\n%s\nall: %v", listed, diff, got)
	}
}

// TestInsightsMatchTheCalculators stores a simulated world — repositories, per-user
// Copilot reports, the day's seat listings and teams — and checks that what the
// calculate stages store for issue 16 is what the pure calculators compute from the
// simulator's own truth: impact cohorts, rolling DORA, team rows (calculate_dora,
// calculate_velocity), team Copilot days, seat utilisation and idle seats
// (calculate_copilot). A second run changes nothing.
func TestInsightsMatchTheCalculators(t *testing.T) {
	t.Parallel()
	sim, err := githubsim.New(githubsim.DemoConfig(calcNow))
	if err != nil {
		t.Fatal(err)
	}
	truth, err := sim.Truth("ent1")
	if err != nil {
		t.Fatal(err)
	}
	store := pgtest.New(t)
	ctx := t.Context()
	storeTruth(t, store, "ent1", truth)
	first, last := time.Date(2026, 9, 7, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	today := calcNow.Truncate(24 * time.Hour)

	// Copilot: the per-user reports of every scope from 27 days before the first week,
	// and today's seat listings.
	ct, err := sim.CopilotTruth("ent1", first.AddDate(0, 0, -27), today.AddDate(0, 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	var usage []metrics.CopilotUserUsage
	for scope, days := range ct.UserDays {
		byDay := map[time.Time][]metrics.CopilotUserDay{}
		for _, u := range days {
			byDay[u.Day] = append(byDay[u.Day], u)
			chat, agent := metrics.CopilotInteractions(u.Breakdowns, u.ChatModes)
			usage = append(usage, metrics.CopilotUserUsage{ScopeType: scope.Type, Scope: scope.Name, Day: u.Day, UserID: u.UserID,
				UserLogin: u.UserLogin, UserInitiatedInteractions: u.UserInitiatedInteractions, CodeGenerations: u.CodeGenerations,
				CodeAcceptances: u.CodeAcceptances, LOCSuggestedToAdd: u.LOCSuggestedToAdd, LOCSuggestedToDelete: u.LOCSuggestedToDelete,
				LOCAdded: u.LOCAdded, LOCDeleted: u.LOCDeleted, ChatInteractions: chat, AgentInteractions: agent,
				UsedChat: u.UsedChat, UsedAgent: u.UsedAgent})
		}
		for day, users := range byDay {
			if _, err := store.SaveCopilotReport(ctx, postgres.CopilotReportDay{EnterpriseID: "ent1", Scope: scope,
				Report: postgres.CopilotReportUsers, Day: day, Available: true, Shards: 1, Users: users}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var snaps []metrics.SeatSnapshot
	for scope, listing := range ct.Seats {
		seats := metrics.DedupeSeats(listing)
		total, active := metrics.SeatCounts(seats, today)
		if _, err := store.SaveCopilotSeats(ctx, postgres.CopilotSeatSnapshot{EnterpriseID: "ent1", Scope: scope, Date: today,
			Seats: seats, Total: total, Active30d: active, Listed: int64(len(listing)), GitHubTotal: int64(len(listing))}); err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, metrics.SeatSnapshot{ScopeType: scope.Type, Scope: scope.Name, Day: today, Seats: seats})
	}
	tt, err := sim.TeamTruth("ent1")
	if err != nil {
		t.Fatal(err)
	}
	for _, org := range []string{"contoso-web", "contoso-data"} {
		l := postgres.TeamListing{EnterpriseID: "ent1", Org: org, Date: today}
		for _, team := range tt.Teams {
			if team.Org != org {
				continue
			}
			lt := postgres.ListedTeam{Team: team, Repos: tt.Permissions[team.Scope()]}
			for _, m := range team.Members {
				lt.Members = append(lt.Members, metrics.Person{ID: m.UserID, Login: m.Login})
			}
			if lt.Repos == nil {
				lt.Repos = []metrics.TeamRepository{}
			}
			l.Teams = append(l.Teams, lt)
		}
		if _, err := store.SaveTeamListing(ctx, l); err != nil {
			t.Fatal(err)
		}
	}

	cfg := calcConfig(t, `[{"id":"ent1","enterprise":"contoso","orgs":["contoso-web","contoso-data"],"token_secret":"x",
		"teams":"all","team_repositories":"permissions"}]`)
	opts := calcOptions(store, cfg, func() time.Time { return calcNow })
	opts.Insights = store
	srv := httptest.NewServer(server.New(server.Options{
		Log: slog.New(slog.DiscardHandler), Store: store, Config: cfg, Now: func() time.Time { return calcNow },
		Stages: []pipeline.Stage{pipeline.NewCopilotMetricsStage(opts), pipeline.NewDORAStage(opts), pipeline.NewVelocityStage(opts)},
	}))
	t.Cleanup(srv.Close)
	run := func() {
		t.Helper()
		for _, stage := range []string{"calculate_copilot", "calculate_dora", "calculate_velocity"} {
			// The daily run's default window: the 12 weeks ending with the current one.
			if status, body := calcPost(t, srv.URL+"/api/"+stage, `{"enterprise":"ent1"}`); status != http.StatusOK || body["status"] != "succeeded" {
				t.Fatalf("%s: %d %v", stage, status, body)
			}
		}
	}
	run()

	// What the calculators make of the truth.
	ent, _ := cfg.Enterprise("ent1")
	teams := slices.Clone(tt.Teams)
	mopts := metrics.Options{
		Enterprise: "contoso", Orgs: ent.Orgs, From: first, To: last, Teams: teams,
		HotfixPattern: ent.HotfixRE(), Bots: metrics.NewBotClassifier(ent.BotLogins), RolloutWindow: ent.RolloutWindow(),
	}
	activity := truthActivity(truth)
	dora, err := metrics.CalculateDORAWithRolling(activity, mopts, metrics.DORARollingWindows())
	if err != nil {
		t.Fatal(err)
	}
	impact, err := metrics.CalculateImpact(activity, usage, mopts, metrics.DefaultImpactMinAuthors)
	if err != nil {
		t.Fatal(err)
	}
	velocity, err := metrics.CalculateVelocity(activity, mopts)
	if err != nil {
		t.Fatal(err)
	}
	teamDays, err := metrics.CalculateCopilotTeamDays(usage, teams, first, last.AddDate(0, 0, 6))
	if err != nil {
		t.Fatal(err)
	}
	seats, err := metrics.CalculateSeatUtilisation(snaps, metrics.DefaultSeatPrices(), "contoso")
	if err != nil {
		t.Fatal(err)
	}
	idle, err := metrics.CalculateIdleSeats(snaps, metrics.DefaultSeatPrices(), "contoso")
	if err != nil {
		t.Fatal(err)
	}

	// Not vacuous: shown and suppressed cohorts, agent pull requests, reverts, team rows
	// of every kind, idle seats.
	var shown, suppressed, agent, reverted int
	for _, r := range impact {
		switch {
		case r.Suppressed:
			suppressed++
		case r.Cohort == metrics.CohortCopilotAgent && *r.PRsMerged > 0:
			agent++
		case r.PRsMerged != nil && *r.PRsMerged > 0:
			shown++
		}
		if r.PRsReverted != nil && r.ScopeType == metrics.ScopeEnterprise {
			reverted += *r.PRsReverted
		}
	}
	var teamDORA int
	for _, r := range dora.Weekly {
		if r.ScopeType == metrics.ScopeTeam && r.Deployments > 0 {
			teamDORA++
		}
	}
	t.Logf("impact: %d shown, %d suppressed, %d agent cohorts, %d reverted; %d team-weeks with deployments; %d idle seats",
		shown, suppressed, agent, reverted, teamDORA, len(idle))
	if shown == 0 || suppressed == 0 || agent == 0 || teamDORA == 0 || len(idle) == 0 || len(teamDays) == 0 {
		t.Fatal("the simulated world is too thin to compare")
	}

	approx := cmpopts.EquateApprox(1e-13, 0)
	check := func() {
		t.Helper()
		if diff := cmp.Diff(impact, storedImpact(t, store), approx); diff != "" {
			t.Errorf("copilot_impact_metrics (-calculator +stored):\n%s", diff)
		}
		if diff := cmp.Diff(dora.Weekly, storedDORA(t, store, "ent1"), approx); diff != "" {
			t.Errorf("dora_metrics with team rows (-calculator +stored):\n%s", diff)
		}
		if diff := cmp.Diff(dora.Rolling, storedRolling(t, store), approx); diff != "" {
			t.Errorf("dora_rolling_metrics (-calculator +stored):\n%s", diff)
		}
		if diff := cmp.Diff(velocity, storedVelocity(t, store, "ent1"), approx); diff != "" {
			t.Errorf("velocity_metrics with team rows (-calculator +stored):\n%s", diff)
		}
		if got := calcRows(t, store, `SELECT count(*)::text FROM copilot_daily_metrics WHERE scope_type = 'team'`); got[0] != itoa(len(teamDays)) {
			t.Errorf("%s team Copilot days stored, want %d", got[0], len(teamDays))
		}
		var wantSeats []string
		for _, r := range seats {
			wantSeats = append(wantSeats, strings.Join([]string{r.ScopeType, r.Scope, itoa(r.SeatsTotal), itoa(r.SeatsActive30d),
				itoa(r.SeatsIdle30d), itoa(r.SeatsNeverUsed), ftoa(r.MonthlyCost), ftoa(r.IdleMonthlyCost)}, "|"))
		}
		if diff := cmp.Diff(wantSeats, calcRows(t, store, `SELECT concat_ws('|', scope_type, scope, seats_total, seats_active_30d,
			seats_idle_30d, seats_never_used, coalesce(monthly_cost::float8::text, ''), coalesce(idle_monthly_cost::float8::text, ''))
			FROM copilot_seat_utilisation
			ORDER BY scope_type COLLATE "C", scope COLLATE "C"`)); diff != "" {
			t.Errorf("copilot_seat_utilisation (-calculator +stored):\n%s", diff)
		}
		var wantIdle []string
		for _, r := range idle {
			wantIdle = append(wantIdle, strings.Join([]string{r.ScopeType, r.Scope, r.Key, r.AssigneeLogin, itoa(r.DaysIdle)}, "|"))
		}
		slices.Sort(wantIdle)
		if diff := cmp.Diff(wantIdle, calcRows(t, store, `SELECT line FROM (SELECT concat_ws('|', scope_type, scope, seat_key,
			assignee_login, days_idle) AS line FROM copilot_idle_seats) x ORDER BY line COLLATE "C"`)); diff != "" {
			t.Errorf("copilot_idle_seats (-calculator +stored):\n%s", diff)
		}
	}
	check()

	// A second run of the same data rewrites nothing.
	before := calcRows(t, store, `SELECT string_agg(xmin::text, ',' ORDER BY ctid) FROM (
		SELECT xmin, ctid FROM copilot_impact_metrics UNION ALL SELECT xmin, ctid FROM dora_rolling_metrics
		UNION ALL SELECT xmin, ctid FROM copilot_seat_utilisation UNION ALL SELECT xmin, ctid FROM copilot_idle_seats
		UNION ALL SELECT xmin, ctid FROM copilot_daily_metrics WHERE scope_type = 'team') x`)
	run()
	check()
	after := calcRows(t, store, `SELECT string_agg(xmin::text, ',' ORDER BY ctid) FROM (
		SELECT xmin, ctid FROM copilot_impact_metrics UNION ALL SELECT xmin, ctid FROM dora_rolling_metrics
		UNION ALL SELECT xmin, ctid FROM copilot_seat_utilisation UNION ALL SELECT xmin, ctid FROM copilot_idle_seats
		UNION ALL SELECT xmin, ctid FROM copilot_daily_metrics WHERE scope_type = 'team') x`)
	if before[0] != after[0] {
		t.Error("a second run of unchanged data rewrote rows")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func ftoa(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

func storedImpact(t testing.TB, s *postgres.Store) []metrics.ImpactRow {
	t.Helper()
	rows, err := s.Pool().Query(context.Background(), `
		SELECT scope_type, scope, week_start, cohort, suppressed, authors, prs_merged, pr_cycle_time_p50_hours::float8,
		       pr_cycle_time_n, review_time_p50_hours::float8, review_time_n, pr_size_p50::float8, pr_size_n,
		       prs_reviewed_by_copilot, prs_reverted, copilot_report_days, min_authors, metric_version
		FROM copilot_impact_metrics
		ORDER BY CASE scope_type WHEN 'enterprise' THEN 0 WHEN 'organization' THEN 1 ELSE 2 END, scope COLLATE "C", week_start,
		         array_position(ARRAY['copilot_active', 'copilot_inactive', 'copilot_agent'], cohort)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []metrics.ImpactRow
	for rows.Next() {
		var r metrics.ImpactRow
		if err := rows.Scan(&r.ScopeType, &r.Scope, &r.WeekStart, &r.Cohort, &r.Suppressed, &r.Authors, &r.PRsMerged,
			&r.PRCycleTimeP50Hours, &r.PRCycleTimeN, &r.ReviewTimeP50Hours, &r.ReviewTimeN, &r.PRSizeP50, &r.PRSizeN,
			&r.PRsReviewedByCopilot, &r.PRsReverted, &r.CopilotReportDays, &r.MinAuthors, &r.MetricVersion); err != nil {
			t.Fatal(err)
		}
		r.WeekStart = r.WeekStart.UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func storedRolling(t testing.TB, s *postgres.Store) []metrics.DORARollingRow {
	t.Helper()
	rows, err := s.Pool().Query(context.Background(), `
		SELECT scope_type, scope, week_start, window_weeks, window_start, deployments, deployment_days,
		       lead_time_p50_hours::float8, lead_time_p90_hours::float8, lead_time_n, failed_deployments,
		       change_failure_rate::float8, recovery_time_p50_hours::float8, recovery_n, rework_deployments, rework_rate::float8,
		       coalesce(deployment_frequency_level, ''), coalesce(lead_time_level, ''), coalesce(change_failure_level, ''),
		       coalesce(recovery_level, ''), coalesce(performance_level, ''), thresholds_version, metric_version,
		       failed_attempts, unrecovered_failures, repos_elite, repos_high, repos_medium, repos_low
		FROM dora_rolling_metrics
		ORDER BY window_weeks, CASE scope_type WHEN 'enterprise' THEN 0 WHEN 'organization' THEN 1 WHEN 'team' THEN 2 ELSE 3 END,
		         scope COLLATE "C", week_start`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []metrics.DORARollingRow
	for rows.Next() {
		var r metrics.DORARollingRow
		var df, lt, cf, rc, pl string
		if err := rows.Scan(&r.ScopeType, &r.Scope, &r.WeekStart, &r.WindowWeeks, &r.WindowStart, &r.Deployments, &r.DeploymentDays,
			&r.LeadTimeP50Hours, &r.LeadTimeP90Hours, &r.LeadTimeN, &r.FailedDeployments, &r.ChangeFailureRate,
			&r.RecoveryTimeP50Hours, &r.RecoveryN, &r.ReworkDeployments, &r.ReworkRate, &df, &lt, &cf, &rc, &pl,
			&r.ThresholdsVersion, &r.MetricVersion, &r.FailedAttempts, &r.UnrecoveredFailures,
			&r.ReposElite, &r.ReposHigh, &r.ReposMedium, &r.ReposLow); err != nil {
			t.Fatal(err)
		}
		r.WeekStart, r.WindowStart = r.WeekStart.UTC(), r.WindowStart.UTC()
		r.DeploymentFrequencyLevel, r.LeadTimeLevel, r.ChangeFailureLevel = metrics.Level(df), metrics.Level(lt), metrics.Level(cf)
		r.RecoveryLevel, r.PerformanceLevel = metrics.Level(rc), metrics.Level(pl)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A token that may not read one org's teams: the collection goes on (reports, the other
// org's teams) and warns, naming the org and the permission.
func TestCollectTeamsRefusedIsAWarning(t *testing.T) {
	e := newCopilotEnv(t, copilotSetup{
		simConfig:  func(c *githubsim.Config) { c.Enterprises[0].Orgs[1].TeamsForbidden = true }, // contoso-data
		enterprise: func(ent *config.Enterprise) { ent.Teams = config.Teams{All: true} },
	})
	status, a := e.call(`{"enterprise":"ent1"}`)
	if status != http.StatusOK || !a.Done || a.Status != pipeline.StatusSucceeded {
		t.Fatalf("collect_copilot: %d %s", status, a.raw)
	}
	var warned bool
	for _, w := range a.Warnings {
		warned = warned || (strings.Contains(w, "Team listings of organization contoso-data were refused") && strings.Contains(w, "read:org"))
	}
	if !warned {
		t.Errorf("warnings %q; want one naming contoso-data's teams and read:org", a.Warnings)
	}
	got := calcRows(t, e.store, `SELECT org || ':' || count(*) FROM teams GROUP BY org ORDER BY org`)
	if diff := cmp.Diff([]string{"contoso-web:4"}, got); diff != "" {
		t.Errorf("stored teams (-want +got):\n%s", diff)
	}
	if n := calcRows(t, e.store, `SELECT count(*)::text FROM copilot_report_fetches WHERE scope = 'contoso-data' AND status = 'ok'`); n[0] == "0" {
		t.Error("contoso-data's reports were not collected")
	}
}
