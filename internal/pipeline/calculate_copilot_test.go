package pipeline_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/config"
	"metrics-collector/internal/metrics"
	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
	"metrics-collector/internal/server"
)

// copilotCalcEnterprises: ent1 with teams and two organizations; ent2 with teams
// configured but never listed.
const copilotCalcEnterprises = `[
 {"id":"ent1","enterprise":"contoso","orgs":["contoso-web","contoso-data"],"token_secret":"x","teams":"all"},
 {"id":"ent2","orgs":["fabrikam"],"token_secret":"y","teams":"all"}]`

// seedCopilotCalc stores, for ent1, what collect_copilot would have: the seat listings
// of contoso-web and contoso-data on 2026-11-20 and 2026-11-26 (calcNow's day), ana's
// and bo's per-user rows, a listing of the team contoso-web/platform (ana), and rows
// left by earlier calculations: a team row and a seat-utilisation row in the window
// that the data no longer gives (stale), the same before the window (history), and an
// idle seat of ana, who is active now.
func seedCopilotCalc(t *testing.T, store *postgres.Store) {
	t.Helper()
	ctx := t.Context()
	at := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	day := func(s string) time.Time {
		v, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	created := day("2025-01-06")
	ana := metrics.CopilotSeat{AssigneeID: 1, AssigneeLogin: "ana", PlanType: "business", CreatedAt: created,
		LastActivityAt: at("2026-11-25T09:00:00Z"), LastActivityEditor: "vscode"}
	bo := metrics.CopilotSeat{AssigneeID: 2, AssigneeLogin: "bo", PlanType: "business", CreatedAt: created} // never used
	carl := metrics.CopilotSeat{AssigneeID: 3, AssigneeLogin: "carl", PlanType: "enterprise", CreatedAt: created,
		LastActivityAt: at("2026-11-19T09:00:00Z")}
	for _, snap := range []struct {
		org   string
		date  string
		seats []metrics.CopilotSeat
	}{
		{"contoso-web", "2026-11-20", []metrics.CopilotSeat{ana, bo}},
		{"contoso-web", "2026-11-26", []metrics.CopilotSeat{ana, bo}},
		{"contoso-data", "2026-11-20", []metrics.CopilotSeat{carl}},
		{"contoso-data", "2026-11-26", []metrics.CopilotSeat{carl}},
	} {
		d := day(snap.date)
		total, active := metrics.SeatCounts(snap.seats, d)
		if _, err := store.SaveCopilotSeats(ctx, postgres.CopilotSeatSnapshot{EnterpriseID: "ent1",
			Scope: metrics.CopilotScope{Type: metrics.ScopeOrganization, Name: snap.org}, Date: d, Seats: snap.seats,
			Total: total, Active30d: active, Listed: int64(len(snap.seats)), GitHubTotal: int64(len(snap.seats))}); err != nil {
			t.Fatal(err)
		}
	}
	n := func(v int64) *int64 { return &v }
	user := func(d string, id int64, login string, gens int64) metrics.CopilotUserDay {
		return metrics.CopilotUserDay{Day: day(d), UserID: id, UserLogin: login, CodeGenerations: n(gens), UserInitiatedInteractions: n(1),
			Raw: json.RawMessage(fmt.Sprintf(`{"day":%q,"user_id":%d,"user_login":%q}`, d, id, login))}
	}
	// ana, in the team: her Monday and Tuesday; bo, not in it: Tuesday.
	for d, users := range map[string][]metrics.CopilotUserDay{
		"2026-11-23": {user("2026-11-23", 1, "ana", 5)},
		"2026-11-24": {user("2026-11-24", 1, "ana", 3), user("2026-11-24", 2, "bo", 7)},
	} {
		if _, err := store.SaveCopilotReport(ctx, postgres.CopilotReportDay{EnterpriseID: "ent1",
			Scope: metrics.CopilotScope{Type: metrics.ScopeOrganization, Name: "contoso-web"}, Report: postgres.CopilotReportUsers,
			Day: day(d), Available: true, Shards: 1, Users: users}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.SaveTeamListing(ctx, postgres.TeamListing{EnterpriseID: "ent1", Org: "contoso-web", Date: day("2026-11-26"),
		Teams: []postgres.ListedTeam{{Team: metrics.Team{ID: 10, Org: "contoso-web", Slug: "platform", Name: "Platform"},
			Members: []metrics.Person{{ID: 1, Login: "ana"}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.SaveTeamListing(ctx, postgres.TeamListing{EnterpriseID: "ent1", Org: "contoso-data", Date: day("2026-11-26")}); err != nil {
		t.Fatal(err)
	}
	sqlExec(t, store, `INSERT INTO copilot_daily_metrics (enterprise_id, scope_type, scope, day, daily_active_users) VALUES
		('ent1', 'team', 'contoso-web/gone', '2026-11-10', 4),
		('ent1', 'team', 'contoso-web/gone', '2026-08-03', 4)`)
	sqlExec(t, store, `INSERT INTO copilot_seat_utilisation (enterprise_id, scope_type, scope, day, seats_total, seats_active_7d,
		seats_active_30d, seats_idle_30d, seats_never_used, seats_pending_cancellation, seats_business, seats_enterprise,
		seats_other_plan, currency, unpriced_seats, metric_version) VALUES
		('ent1', 'organization', 'contoso-old', '2026-11-10', 9, 0, 0, 9, 9, 0, 9, 0, 0, 'USD', 0, 2),
		('ent1', 'organization', 'contoso-old', '2026-08-03', 9, 0, 0, 9, 9, 0, 9, 0, 0, 'USD', 0, 2)`)
	sqlExec(t, store, `INSERT INTO copilot_idle_seats (enterprise_id, scope_type, scope, seat_key, snapshot_date, assignee_id,
		assignee_login, organization, assigning_team, plan_type, last_activity_editor, days_idle, never_used, metric_version) VALUES
		('ent1', 'organization', 'contoso-web', 'id:1', '2026-11-20', 1, 'ana', 'contoso-web', '', 'business', '', 40, false, 2)`)
}

// copilotCalcServer serves calculate_copilot (and nothing else) on calcNow.
func copilotCalcServer(t *testing.T, store *postgres.Store, cfg config.Config) string {
	t.Helper()
	opts := calcOptions(store, cfg, func() time.Time { return calcNow })
	opts.Insights = store
	srv := httptest.NewServer(server.New(server.Options{
		Log: slog.New(slog.DiscardHandler), Store: store, Config: cfg, Now: func() time.Time { return calcNow },
		Stages: []pipeline.Stage{pipeline.NewCopilotMetricsStage(opts)},
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/api/calculate_copilot"
}

// TestCalculateCopilotThroughTheRoute: calculate_copilot computes the teams' Copilot
// days, the seat utilisation and the idle seats from what collect_copilot stored alone
// — no repository is stored — over calculate_velocity's default window (the 12 weeks
// 2026-09-07 … 2026-11-29), deletes the window's rows the data no longer gives, leaves
// older rows alone, and a second call rewrites nothing. A back-fill (until) recomputes
// its days and leaves the idle seats, which are the newest snapshot's.
func TestCalculateCopilotThroughTheRoute(t *testing.T) {
	t.Parallel()
	store := pgtest.New(t)
	seedCopilotCalc(t, store)
	url := copilotCalcServer(t, store, calcConfig(t, copilotCalcEnterprises))

	status, body := calcPost(t, url, `{"enterprise":"ent1"}`)
	// 2 team days + 2 snapshot days × (2 organizations + the enterprise) + 2 × bo idle
	// (contoso-web and the enterprise).
	if status != http.StatusOK || body["status"] != "succeeded" || body["done"] != true || body["records"] != float64(2+6+2) || len(body["warnings"].([]any)) != 0 {
		t.Fatalf("calculate_copilot: %d %v; want succeeded, 10 records, no warning", status, body)
	}
	teamDays := func() []string {
		return calcRows(t, store, `SELECT concat_ws('|', scope, day, daily_active_users, weekly_active_users, monthly_active_users,
			code_generations) FROM copilot_daily_metrics WHERE scope_type = 'team' ORDER BY scope, day`)
	}
	// ana alone: bo is in no team; the stale team row of 11-10 is gone, the one of
	// August (before the window) stays.
	want := []string{"contoso-web/gone|2026-08-03|4", "contoso-web/platform|2026-11-23|1|1|1|5", "contoso-web/platform|2026-11-24|1|1|1|3"}
	if diff := cmp.Diff(want, teamDays()); diff != "" {
		t.Errorf("team Copilot days (-want +got):\n%s", diff)
	}
	seatDays := func() []string {
		return calcRows(t, store, `SELECT concat_ws('|', scope, day, seats_total, seats_active_7d, seats_active_30d, seats_idle_30d,
			seats_never_used, monthly_cost::float8, idle_monthly_cost::float8) FROM copilot_seat_utilisation
			ORDER BY scope_type COLLATE "C", scope COLLATE "C", day`)
	}
	// 11-20: carl active the day before. 11-26: ana active, carl 7 days back (not
	// within 7 days, within 30), bo never.
	want = []string{
		"contoso|2026-11-20|3|1|1|2|1|77|38",
		"contoso|2026-11-26|3|1|2|1|1|77|19",
		"contoso-data|2026-11-20|1|1|1|0|0|39|0",
		"contoso-data|2026-11-26|1|0|1|0|0|39|0",
		"contoso-old|2026-08-03|9|0|0|9|9",
		"contoso-web|2026-11-20|2|0|0|2|1|38|38",
		"contoso-web|2026-11-26|2|1|1|1|1|38|19",
	}
	if diff := cmp.Diff(want, seatDays()); diff != "" {
		t.Errorf("seat utilisation (-want +got):\n%s", diff)
	}
	idleSeats := func() []string {
		return calcRows(t, store, `SELECT concat_ws('|', scope, assignee_login, snapshot_date, days_idle, never_used)
			FROM copilot_idle_seats ORDER BY scope COLLATE "C", assignee_login COLLATE "C"`)
	}
	want = []string{"contoso|bo|2026-11-26|689|t", "contoso-web|bo|2026-11-26|689|t"}
	if diff := cmp.Diff(want, idleSeats()); diff != "" {
		t.Errorf("idle seats (-want +got):\n%s", diff)
	}
	for _, table := range []string{"dora_metrics", "velocity_metrics", "copilot_impact_metrics", "dora_rolling_metrics"} {
		if n := calcRows(t, store, `SELECT count(*)::text FROM `+table)[0]; n != "0" {
			t.Errorf("calculate_copilot wrote %s rows to %s", n, table)
		}
	}

	versions := func() string {
		return calcRows(t, store, `SELECT coalesce(string_agg(xmin::text, ',' ORDER BY ctid), '') FROM (
			SELECT xmin, ctid FROM copilot_daily_metrics UNION ALL SELECT xmin, ctid FROM copilot_seat_utilisation
			UNION ALL SELECT xmin, ctid FROM copilot_idle_seats) x`)[0]
	}
	before := versions()
	if status, body := calcPost(t, url, `{"enterprise":"ent1"}`); status != http.StatusOK || body["records"] != float64(10) {
		t.Fatalf("second call: %d %v", status, body)
	}
	if versions() != before {
		t.Error("a second call over unchanged data rewrote rows")
	}

	// A back-fill of the week of 11-16: its snapshot day is recomputed (re-priced here),
	// the idle seats are left as the newest snapshot made them, even when stale.
	sqlExec(t, store, `UPDATE copilot_seat_utilisation SET monthly_cost = 1 WHERE day IN ('2026-11-20', '2026-11-26')`)
	sqlExec(t, store, `DELETE FROM copilot_idle_seats WHERE scope = 'contoso'`)
	status, body = calcPost(t, url, `{"enterprise":"ent1","since":"2026-11-16","until":"2026-11-22"}`)
	if status != http.StatusOK || body["status"] != "succeeded" || body["records"] != float64(3) {
		t.Fatalf("back-fill: %d %v; want 3 records (the seat rows of 11-20)", status, body)
	}
	costs := calcRows(t, store, `SELECT concat_ws('|', scope, day, monthly_cost::float8) FROM copilot_seat_utilisation
		WHERE day >= '2026-11-20' ORDER BY scope COLLATE "C", day`)
	want = []string{"contoso|2026-11-20|77", "contoso|2026-11-26|1", "contoso-data|2026-11-20|39", "contoso-data|2026-11-26|1",
		"contoso-web|2026-11-20|38", "contoso-web|2026-11-26|1"}
	if diff := cmp.Diff(want, costs); diff != "" {
		t.Errorf("seat costs after the back-fill (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"contoso-web|bo|2026-11-26|689|t"}, idleSeats()); diff != "" {
		t.Errorf("idle seats after the back-fill (-want +got):\n%s", diff)
	}

	// Teams configured but never listed: the call succeeds and says so.
	status, body = calcPost(t, url, `{"enterprise":"ent2"}`)
	warnings, _ := body["warnings"].([]any)
	if status != http.StatusOK || body["status"] != "succeeded" || len(warnings) != 1 ||
		!strings.Contains(warnings[0].(string), "no teams of ent2 are stored yet") {
		t.Errorf("ent2: %d %v; want succeeded with a warning that no team is stored", status, body)
	}
}

// calculate_copilot recomputes calculate_velocity's window, moved back like it after
// a metric_version upgrade (velocity rows of an older version).
func TestCalculateCopilotFollowsTheVelocityWindow(t *testing.T) {
	t.Parallel()
	store := pgtest.New(t)
	seedCopilotCalc(t, store)
	sqlExec(t, store, `INSERT INTO velocity_metrics (enterprise_id, scope_type, scope, week_start, metric_version)
		VALUES ('ent1', 'enterprise', 'contoso', '2026-08-03', 1)`)
	url := copilotCalcServer(t, store, calcConfig(t, copilotCalcEnterprises))
	if status, body := calcPost(t, url, `{"enterprise":"ent1"}`); status != http.StatusOK || body["status"] != "succeeded" {
		t.Fatalf("%d %v", status, body)
	}
	// The window now starts 2026-08-03: August's stale rows go too.
	if got := calcRows(t, store, `SELECT count(*)::text FROM copilot_seat_utilisation WHERE scope = 'contoso-old'`)[0]; got != "0" {
		t.Errorf("%s seat rows of contoso-old left in the window moved back to 2026-08-03", got)
	}
	if got := calcRows(t, store, `SELECT count(*)::text FROM copilot_daily_metrics WHERE scope = 'contoso-web/gone'`)[0]; got != "0" {
		t.Errorf("%s team rows of contoso-web/gone left in the window moved back to 2026-08-03", got)
	}
}

func TestCalculateCopilotValidateAndFailures(t *testing.T) {
	t.Parallel()
	cfg := calcConfig(t, copilotCalcEnterprises)
	ent1, _ := cfg.Enterprise("ent1")
	stage := pipeline.NewCopilotMetricsStage(pipeline.CalculateOptions{RecomputeWeeks: 12})
	if stage.Name() != "calculate_copilot" || !stage.PerEnterprise() {
		t.Fatalf("stage %s, per enterprise %v", stage.Name(), stage.PerEnterprise())
	}
	var input *pipeline.InputError
	if err := stage.Validate(pipeline.Request{Now: calcNow, Cursor: "x"}); !errors.As(err, &input) || input.Field != "cursor" {
		t.Errorf("a cursor: %v, want an input error naming cursor", err)
	}
	since := time.Date(2021, 11, 28, 0, 0, 0, 0, time.UTC)
	if err := stage.Validate(pipeline.Request{Now: calcNow, Since: &since}); !errors.As(err, &input) || input.Field != "since" {
		t.Errorf("261 weeks: %v, want an input error naming since", err)
	}

	store := pgtest.New(t)
	seedCopilotCalc(t, store)
	// Without the store of the Copilot datasets the stage cannot work (a wiring error).
	if _, err := pipeline.NewCopilotMetricsStage(calcOptions(store, cfg, func() time.Time { return calcNow })).Run(t.Context(),
		pipeline.Request{Enterprise: &ent1, Now: calcNow}); err == nil || errors.Is(err, pipeline.ErrPermanent) {
		t.Errorf("without Insights: %v, want an internal error", err)
	}
	// Loading and computing "take" past the budget: nothing is stored, the call is
	// retried.
	clock := calcNow
	opts := calcOptions(store, cfg, func() time.Time { clock = clock.Add(time.Minute); return clock })
	opts.Insights = store
	before := calcRows(t, store, `SELECT count(*)::text FROM copilot_seat_utilisation`)[0]
	_, err := pipeline.NewCopilotMetricsStage(opts).Run(t.Context(), pipeline.Request{Enterprise: &ent1, Now: calcNow, Deadline: calcNow.Add(90 * time.Second)})
	if !errors.Is(err, pipeline.ErrUnavailable) {
		t.Errorf("past the deadline: %v, want one wrapping ErrUnavailable", err)
	}
	if after := calcRows(t, store, `SELECT count(*)::text FROM copilot_seat_utilisation`)[0]; after != before {
		t.Errorf("seat rows %s → %s after a call past its deadline", before, after)
	}
}
