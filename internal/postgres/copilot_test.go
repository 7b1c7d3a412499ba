package postgres_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/metrics"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
)

var (
	copilotEnt  = metrics.CopilotScope{Type: metrics.ScopeEnterprise, Name: "contoso"}
	copilotOrg  = metrics.CopilotScope{Type: metrics.ScopeOrganization, Name: "contoso-web"}
	copilotDay1 = time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)
)

func i64p(v int64) *int64     { return &v }
func f64p(v float64) *float64 { return &v }
func tsp(s string) *time.Time { t, _ := time.Parse(time.RFC3339, s); return &t }
func rawJSON(s string) []byte { return []byte(s) }
func copilotTables() []string {
	return []string{"copilot_daily_metrics", "copilot_breakdowns", "copilot_user_metrics", "copilot_user_teams",
		"copilot_raw_records", "copilot_report_fetches", "copilot_seats", "copilot_seat_snapshots", "sync_watermarks"}
}

// copilotVersions returns every row version (xmin and position) of the Copilot tables:
// equal before and after a write means the write rewrote nothing.
func copilotVersions(t *testing.T, s *postgres.Store) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, table := range copilotTables() {
		var v []string
		err := s.Pool().QueryRow(t.Context(),
			`SELECT coalesce(array_agg(xmin::text || '@' || ctid::text ORDER BY ctid), '{}') FROM `+table).Scan(&v)
		if err != nil {
			t.Fatal(err)
		}
		out[table] = v
	}
	return out
}

func aggregateDay(day time.Time, dau int64) *metrics.CopilotDay {
	return &metrics.CopilotDay{
		Day: day, DailyActiveUsers: i64p(dau), WeeklyActiveUsers: i64p(dau + 5), MonthlyActiveUsers: i64p(dau + 9),
		UserInitiatedInteractions: i64p(120), CodeGenerations: i64p(1000), CodeAcceptances: i64p(400),
		LOCAdded: i64p(700),
		PullRequests: metrics.CopilotPullRequests{TotalCreated: i64p(4), MedianMinutesToMerge: f64p(95.5),
			TotalSuggestions: i64p(40), TotalCopilotSuggestions: i64p(25), TotalCopilotAppliedSuggestions: i64p(14)},
		ChatModes: metrics.CopilotChatModes{Ask: i64p(30), Agent: i64p(12), Plan: i64p(2)},
		Breakdowns: []metrics.CopilotBreakdown{
			{Dimension: metrics.DimensionFeature, Key1: "code_completion", CodeGenerations: i64p(600), CodeAcceptances: i64p(150)},
			{Dimension: metrics.DimensionFeature, Key1: "chat_panel_ask_mode", UserInitiatedInteractions: i64p(30), CodeGenerations: i64p(200)},
			{Dimension: metrics.DimensionFeature, Key1: "chat_panel_agent_mode", UserInitiatedInteractions: i64p(12)},
			{Dimension: metrics.DimensionFeature, Key1: "agent_edit", UserInitiatedInteractions: i64p(7), CodeGenerations: i64p(200), CodeAcceptances: i64p(250)},
			{Dimension: metrics.DimensionFeature, Key1: "chat_inline", UserInitiatedInteractions: i64p(5)},
			{Dimension: metrics.DimensionIDE, Key1: "vscode", CodeGenerations: i64p(900)},
			{Dimension: metrics.DimensionIDE, Key1: "vscode", CodeGenerations: i64p(100)}, // repeated: added up
			{Dimension: metrics.DimensionLanguageModel, Key1: "go", Key2: "gpt-5", LOCAdded: i64p(3)},
		},
		Raw: rawJSON(fmt.Sprintf(`{"day":%q,"daily_active_users":%d,"totals_by_agent_skill":[{"skill":"x"}]}`, day.Format(time.DateOnly), dau)),
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func saveReport(t *testing.T, s *postgres.Store, r postgres.CopilotReportDay) postgres.CopilotWrite {
	t.Helper()
	if r.EnterpriseID == "" {
		r.EnterpriseID = "ent1"
	}
	w, err := s.SaveCopilotReport(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestCopilotAggregateDay(t *testing.T) {
	s := pgtest.New(t)
	w := saveReport(t, s, postgres.CopilotReportDay{Scope: copilotEnt, Report: postgres.CopilotReportAggregate,
		Day: copilotDay1, Available: true, Shards: 1, Aggregate: aggregateDay(copilotDay1, 40)})
	if w.Rows != 1+7 || w.Changed == 0 {
		t.Errorf("write = %+v, want 8 rows (the daily row and 7 distinct breakdowns), changed", w)
	}

	var got struct {
		dau, gens, accs, chat, agent, completionGens, completionAccs int64
		rate, median                                                 float64
		seats                                                        *int64
		prSuggestions, prCopilot, prCopilotApplied                   int64
	}
	err := s.Pool().QueryRow(t.Context(), `SELECT daily_active_users, code_generations, code_acceptances,
		chat_interactions, agent_interactions, completion_generations, completion_acceptances,
		completion_acceptance_rate::float8, pr_median_minutes_to_merge::float8, seats_total,
		pr_total_suggestions, pr_total_copilot_suggestions, pr_total_copilot_applied_suggestions
		FROM copilot_daily_metrics WHERE enterprise_id = 'ent1' AND scope_type = 'enterprise' AND scope = 'contoso' AND day = $1`,
		copilotDay1).Scan(&got.dau, &got.gens, &got.accs, &got.chat, &got.agent, &got.completionGens, &got.completionAccs,
		&got.rate, &got.median, &got.seats, &got.prSuggestions, &got.prCopilot, &got.prCopilotApplied)
	if err != nil {
		t.Fatal(err)
	}
	// The rate is the code_completion element's 150/600, not the top-level 400/1000.
	// chat = ask 30 + chat_inline 5 + plan 2 (counter only) = 37 (v1: 30+12 = 42);
	// agent = agent mode 12, agent_edit's 7 counts nowhere (v1: 7).
	if got.dau != 40 || got.gens != 1000 || got.accs != 400 || got.completionGens != 600 || got.completionAccs != 150 ||
		got.rate != 0.25 || got.chat != 37 || got.agent != 12 || got.median != 95.5 || got.seats != nil ||
		got.prSuggestions != 40 || got.prCopilot != 25 || got.prCopilotApplied != 14 {
		t.Errorf("daily row = %+v", got)
	}
	var vscode int64
	if err := s.Pool().QueryRow(t.Context(), `SELECT code_generations FROM copilot_breakdowns
		WHERE dimension = 'ide' AND key1 = 'vscode' AND key2 = ''`).Scan(&vscode); err != nil || vscode != 1000 {
		t.Errorf("vscode breakdown = %d, %v; want the repeated element added up to 1000", vscode, err)
	}
	var skill string
	if err := s.Pool().QueryRow(t.Context(), `SELECT payload->'totals_by_agent_skill'->0->>'skill' FROM copilot_raw_records
		WHERE report = 'aggregate' AND record_key = ''`).Scan(&skill); err != nil || skill != "x" {
		t.Errorf("raw record keeps the unknown field: %q, %v", skill, err)
	}

	// The same day again: nothing is rewritten.
	before := copilotVersions(t, s)
	w = saveReport(t, s, postgres.CopilotReportDay{Scope: copilotEnt, Report: postgres.CopilotReportAggregate,
		Day: copilotDay1, Available: true, Shards: 1, Aggregate: aggregateDay(copilotDay1, 40)})
	if w.Changed != 0 {
		t.Errorf("re-saving the same day changed %d rows", w.Changed)
	}
	if diff := cmp.Diff(before, copilotVersions(t, s)); diff != "" {
		t.Errorf("re-saving the same day rewrote rows (-before +after):\n%s", diff)
	}

	// A breakdown element that leaves the report leaves the table.
	d := aggregateDay(copilotDay1, 41)
	d.Breakdowns = d.Breakdowns[:4]
	saveReport(t, s, postgres.CopilotReportDay{Scope: copilotEnt, Report: postgres.CopilotReportAggregate,
		Day: copilotDay1, Available: true, Shards: 1, Aggregate: d})
	var n int
	if err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM copilot_breakdowns`).Scan(&n); err != nil || n != 4 {
		t.Errorf("breakdowns after the re-fetch = %d, %v; want 4", n, err)
	}
	// Without chat_inline the chat figure drops to 30 + 2.
	if err := s.Pool().QueryRow(t.Context(), `SELECT chat_interactions FROM copilot_daily_metrics`).Scan(&n); err != nil || n != 32 {
		t.Errorf("chat_interactions after the re-fetch = %d, %v; want 32", n, err)
	}
}

func users(day time.Time, ids ...int64) []metrics.CopilotUserDay {
	var out []metrics.CopilotUserDay
	for _, id := range ids {
		out = append(out, metrics.CopilotUserDay{Day: day, UserID: id, UserLogin: "user" + itoa(id),
			CodeGenerations: i64p(id * 10), UsedChat: id%2 == 0, AICreditsUsed: f64p(float64(id) / 4),
			Raw: rawJSON(`{"user_id":` + itoa(id) + `,"day":"` + day.Format(time.DateOnly) + `"}`)})
	}
	return out
}

func TestCopilotUsersReplaceTheDay(t *testing.T) {
	s := pgtest.New(t)
	w := saveReport(t, s, postgres.CopilotReportDay{Scope: copilotOrg, Report: postgres.CopilotReportUsers,
		Day: copilotDay1, Available: true, Shards: 2, Users: users(copilotDay1, 1, 2, 3, 2)})
	if w.Rows != 3 || w.Duplicates != 1 {
		t.Errorf("write = %+v, want 3 rows and 1 duplicate", w)
	}
	versionOf := func(id int64) string {
		var v string
		if err := s.Pool().QueryRow(t.Context(), `SELECT xmin::text FROM copilot_user_metrics WHERE user_id = $1`, id).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	v1 := versionOf(1)

	// User 3 left the re-fetched report; user 2 changed; user 1 did not.
	next := users(copilotDay1, 1, 2)
	next[1].CodeGenerations = i64p(999)
	saveReport(t, s, postgres.CopilotReportDay{Scope: copilotOrg, Report: postgres.CopilotReportUsers,
		Day: copilotDay1, Available: true, Shards: 1, Users: next})
	var ids []int64
	if err := s.Pool().QueryRow(t.Context(), `SELECT array_agg(user_id ORDER BY user_id) FROM copilot_user_metrics`).Scan(&ids); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1, 2}, ids); diff != "" {
		t.Errorf("users after the re-fetch (-want +got):\n%s", diff)
	}
	var rawKeys []string
	if err := s.Pool().QueryRow(t.Context(), `SELECT array_agg(record_key ORDER BY record_key) FROM copilot_raw_records`).Scan(&rawKeys); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1", "2"}, rawKeys); diff != "" {
		t.Errorf("raw records after the re-fetch (-want +got):\n%s", diff)
	}
	if versionOf(1) != v1 {
		t.Error("user 1 did not change but its row was rewritten")
	}
	var gens int64
	var credits float64
	if err := s.Pool().QueryRow(t.Context(), `SELECT code_generations, ai_credits_used::float8 FROM copilot_user_metrics WHERE user_id = 2`).Scan(&gens, &credits); err != nil || gens != 999 || credits != 0.5 {
		t.Errorf("user 2 = %d generations, %v credits, %v; want 999, 0.5", gens, credits, err)
	}

	// An empty report empties the day.
	saveReport(t, s, postgres.CopilotReportDay{Scope: copilotOrg, Report: postgres.CopilotReportUsers,
		Day: copilotDay1, Available: true, Shards: 1})
	var n int
	if err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM copilot_user_metrics`).Scan(&n); err != nil || n != 0 {
		t.Errorf("users after an empty report = %d, %v", n, err)
	}
}

func TestCopilotUserInteractions(t *testing.T) {
	s := pgtest.New(t)
	feature := func(key string, n int64) metrics.CopilotBreakdown {
		return metrics.CopilotBreakdown{Dimension: metrics.DimensionFeature, Key1: key, UserInitiatedInteractions: i64p(n)}
	}
	us := users(copilotDay1, 1, 2, 3)
	// User 1: ask 3 + chat_inline 1 = chat 4; agent mode 2; agent_edit's 6 counts nowhere.
	us[0].Breakdowns = []metrics.CopilotBreakdown{feature("chat_panel_ask_mode", 3), feature("chat_panel_agent_mode", 2),
		feature("chat_inline", 1), feature("agent_edit", 6)}
	// User 2: nothing reported, NULL and NULL. User 3: the top-level counters only.
	us[2].ChatModes = metrics.CopilotChatModes{Agent: i64p(0), Edit: i64p(4)}
	saveReport(t, s, postgres.CopilotReportDay{Scope: copilotOrg, Report: postgres.CopilotReportUsers,
		Day: copilotDay1, Available: true, Shards: 1, Users: us})
	stored := func() map[int64][2]*int64 {
		rows, err := s.Pool().Query(t.Context(), `SELECT user_id, chat_interactions, agent_interactions FROM copilot_user_metrics`)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int64][2]*int64{}
		for rows.Next() {
			var id int64
			var chat, agent *int64
			if err := rows.Scan(&id, &chat, &agent); err != nil {
				t.Fatal(err)
			}
			out[id] = [2]*int64{chat, agent}
		}
		return out
	}
	want := map[int64][2]*int64{1: {i64p(4), i64p(2)}, 2: {nil, nil}, 3: {i64p(4), i64p(0)}}
	if diff := cmp.Diff(want, stored()); diff != "" {
		t.Errorf("(chat, agent) per user (-want +got):\n%s", diff)
	}

	// The same report again rewrites nothing; a changed figure rewrites its row.
	before := copilotVersions(t, s)
	if w := saveReport(t, s, postgres.CopilotReportDay{Scope: copilotOrg, Report: postgres.CopilotReportUsers,
		Day: copilotDay1, Available: true, Shards: 1, Users: us}); w.Changed != 0 {
		t.Errorf("re-saving the same users changed %d rows", w.Changed)
	}
	if diff := cmp.Diff(before, copilotVersions(t, s)); diff != "" {
		t.Errorf("re-saving the same users rewrote rows (-before +after):\n%s", diff)
	}
	us[1].Breakdowns = []metrics.CopilotBreakdown{feature("chat_panel_agent_mode", 9)}
	saveReport(t, s, postgres.CopilotReportDay{Scope: copilotOrg, Report: postgres.CopilotReportUsers,
		Day: copilotDay1, Available: true, Shards: 1, Users: us})
	want[2] = [2]*int64{nil, i64p(9)}
	if diff := cmp.Diff(want, stored()); diff != "" {
		t.Errorf("(chat, agent) per user after a change (-want +got):\n%s", diff)
	}
}

func TestCopilotUserTeams(t *testing.T) {
	s := pgtest.New(t)
	team := func(user, teamID int64) postgres.CopilotUserTeam {
		return postgres.CopilotUserTeam{Day: copilotDay1, UserID: user, UserLogin: "u" + itoa(user), TeamID: teamID, TeamSlug: "t" + itoa(teamID),
			Raw: rawJSON(`{"user_id":` + itoa(user) + `,"team_id":` + itoa(teamID) + `}`)}
	}
	saveReport(t, s, postgres.CopilotReportDay{Scope: copilotOrg, Report: postgres.CopilotReportUserTeams, Day: copilotDay1,
		Available: true, Shards: 1, UserTeams: []postgres.CopilotUserTeam{team(1, 10), team(1, 11), team(2, 10)}})
	w := saveReport(t, s, postgres.CopilotReportDay{Scope: copilotOrg, Report: postgres.CopilotReportUserTeams, Day: copilotDay1,
		Available: true, Shards: 1, UserTeams: []postgres.CopilotUserTeam{team(1, 10), team(2, 10), team(2, 10)}})
	// One membership and its raw record removed, the fetch record's count updated.
	if w.Rows != 2 || w.Duplicates != 1 || w.Changed != 3 {
		t.Errorf("write = %+v, want 2 rows, 1 duplicate, 3 changed", w)
	}
	var keys []string
	if err := s.Pool().QueryRow(t.Context(), `SELECT array_agg(record_key ORDER BY record_key) FROM copilot_raw_records WHERE report = 'user_teams'`).Scan(&keys); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1:10", "2:10"}, keys); diff != "" {
		t.Errorf("raw keys (-want +got):\n%s", diff)
	}
}

func TestCopilotNoReportAndWatermark(t *testing.T) {
	s := pgtest.New(t)
	day2 := copilotDay1.AddDate(0, 0, 1)
	saveReport(t, s, postgres.CopilotReportDay{Scope: copilotEnt, Report: postgres.CopilotReportAggregate,
		Day: copilotDay1, Available: true, Shards: 1, Aggregate: aggregateDay(copilotDay1, 40)})
	saveReport(t, s, postgres.CopilotReportDay{Scope: copilotEnt, Report: postgres.CopilotReportAggregate, Day: day2})
	// A later 204 for a day that had a report keeps what was stored.
	saveReport(t, s, postgres.CopilotReportDay{Scope: copilotEnt, Report: postgres.CopilotReportAggregate, Day: copilotDay1})

	rows, err := s.Pool().Query(t.Context(), `SELECT day, status, shards, records FROM copilot_report_fetches ORDER BY day`)
	if err != nil {
		t.Fatal(err)
	}
	type fetch struct {
		Day            time.Time
		Status         string
		Shards, Record int
	}
	var got []fetch
	for rows.Next() {
		var f fetch
		if err := rows.Scan(&f.Day, &f.Status, &f.Shards, &f.Record); err != nil {
			t.Fatal(err)
		}
		got = append(got, f)
	}
	want := []fetch{{copilotDay1, "ok", 1, 1}, {day2, "no_report", 0, 0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fetch records (-want +got):\n%s", diff)
	}
	var n int
	if err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM copilot_daily_metrics`).Scan(&n); err != nil || n != 1 {
		t.Errorf("daily rows = %d, %v; want the first day's row kept", n, err)
	}

	marks, err := s.CopilotWatermarks(t.Context(), "ent1")
	if err != nil {
		t.Fatal(err)
	}
	// The older day saved last did not move the watermark back.
	wantMarks := map[postgres.CopilotStream]time.Time{{Scope: copilotEnt, Report: postgres.CopilotReportAggregate}: day2}
	if diff := cmp.Diff(wantMarks, marks); diff != "" {
		t.Errorf("watermarks (-want +got):\n%s", diff)
	}
	if other, err := s.CopilotWatermarks(t.Context(), "ent2"); err != nil || len(other) != 0 {
		t.Errorf("another enterprise's watermarks = %v, %v; want none", other, err)
	}
	first, err := s.CopilotFirstDays(t.Context(), "ent1")
	if err != nil {
		t.Fatal(err)
	}
	wantFirst := map[postgres.CopilotStream]time.Time{{Scope: copilotEnt, Report: postgres.CopilotReportAggregate}: copilotDay1}
	if diff := cmp.Diff(wantFirst, first); diff != "" {
		t.Errorf("first days (-want +got):\n%s", diff)
	}
}

func TestCopilotSeatSnapshot(t *testing.T) {
	s := pgtest.New(t)
	seats := []metrics.CopilotSeat{
		{AssigneeID: 7, AssigneeLogin: "mona", Organization: "contoso-web", PlanType: "business",
			CreatedAt: time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC), LastActivityAt: tsp("2026-01-02T10:00:00Z")},
		{AssigneeID: 8, AssigneeLogin: "hubot", Organization: "contoso-web", PendingCancellation: tsp("2026-02-01T00:00:00Z")},
		{AssigneeID: 7, AssigneeLogin: "mona", Organization: "contoso-data"}, // the enterprise listing repeats mona
		{AssigneeID: 0, Organization: "contoso-web"},
		{AssigneeID: 0, Organization: "contoso-data"},
	}
	// The report of the snapshot's date is stored first; the snapshot fills its seat figures.
	saveReport(t, s, postgres.CopilotReportDay{Scope: copilotEnt, Report: postgres.CopilotReportAggregate,
		Day: copilotDay1, Available: true, Shards: 1, Aggregate: aggregateDay(copilotDay1, 40)})
	has, err := s.HasCopilotSeatSnapshot(t.Context(), "ent1", copilotEnt, copilotDay1)
	if err != nil || has {
		t.Fatalf("snapshot before any = %v, %v", has, err)
	}
	w, err := s.SaveCopilotSeats(t.Context(), postgres.CopilotSeatSnapshot{EnterpriseID: "ent1", Scope: copilotEnt, Date: copilotDay1,
		Seats: seats, Total: 4, Active30d: 1, Listed: 5, GitHubTotal: 5})
	if err != nil {
		t.Fatal(err)
	}
	if w.Rows != 4 || w.Duplicates != 1 {
		t.Errorf("write = %+v, want 4 seats and 1 duplicate", w)
	}
	var keys []string
	if err := s.Pool().QueryRow(t.Context(), `SELECT array_agg(seat_key ORDER BY seat_key) FROM copilot_seats`).Scan(&keys); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"7", "8", "unassigned:1", "unassigned:2"}, keys); diff != "" {
		t.Errorf("seat keys (-want +got):\n%s", diff)
	}
	if has, err := s.HasCopilotSeatSnapshot(t.Context(), "ent1", copilotEnt, copilotDay1); err != nil || !has {
		t.Errorf("snapshot after saving = %v, %v", has, err)
	}
	seatFigures := func(day time.Time) (total, active *int64) {
		t.Helper()
		if err := s.Pool().QueryRow(t.Context(), `SELECT seats_total, seats_active_30d FROM copilot_daily_metrics WHERE day = $1`, day).Scan(&total, &active); err != nil {
			t.Fatal(err)
		}
		return total, active
	}
	if total, active := seatFigures(copilotDay1); total == nil || *total != 4 || active == nil || *active != 1 {
		t.Errorf("daily seat figures = %v, %v; want 4, 1", total, active)
	}

	// A report stored after the snapshot of its date takes the figures at once; a day
	// without a snapshot has none.
	day0 := copilotDay1.AddDate(0, 0, -1)
	for _, d := range []time.Time{copilotDay1, day0} {
		saveReport(t, s, postgres.CopilotReportDay{Scope: copilotEnt, Report: postgres.CopilotReportAggregate,
			Day: d, Available: true, Shards: 1, Aggregate: aggregateDay(d, 50)})
	}
	if total, _ := seatFigures(copilotDay1); total == nil || *total != 4 {
		t.Errorf("re-fetched day lost its seat figures: %v", total)
	}
	if total, active := seatFigures(day0); total != nil || active != nil {
		t.Errorf("a day without a snapshot got seat figures %v, %v; want none", *total, *active)
	}

	// Taking the same snapshot again rewrites nothing; a seat gone from the listing goes.
	before := copilotVersions(t, s)
	if w, err := s.SaveCopilotSeats(t.Context(), postgres.CopilotSeatSnapshot{EnterpriseID: "ent1", Scope: copilotEnt, Date: copilotDay1,
		Seats: seats, Total: 4, Active30d: 1, Listed: 5, GitHubTotal: 5}); err != nil || w.Changed != 0 {
		t.Errorf("same snapshot again: %+v, %v", w, err)
	}
	if diff := cmp.Diff(before, copilotVersions(t, s)); diff != "" {
		t.Errorf("the same snapshot rewrote rows (-before +after):\n%s", diff)
	}
	if _, err := s.SaveCopilotSeats(t.Context(), postgres.CopilotSeatSnapshot{EnterpriseID: "ent1", Scope: copilotEnt, Date: copilotDay1,
		Seats: seats[:1], Total: 1, Active30d: 1, Listed: 1, GitHubTotal: 1}); err != nil {
		t.Fatal(err)
	}
	if total, _ := seatFigures(copilotDay1); total == nil || *total != 1 {
		t.Errorf("seat figures after the smaller snapshot = %v, want 1", total)
	}
	if _, err := s.SaveCopilotSeats(t.Context(), postgres.CopilotSeatSnapshot{EnterpriseID: "ent1", Scope: copilotEnt, Date: copilotDay1}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM copilot_seats`).Scan(&n); err != nil || n != 0 {
		t.Errorf("seats after an empty listing = %d, %v", n, err)
	}
}

func TestCopilotBadWrites(t *testing.T) {
	s := pgtest.New(t)
	for name, r := range map[string]postgres.CopilotReportDay{
		"scope type":     {EnterpriseID: "ent1", Scope: metrics.CopilotScope{Type: "repository", Name: "x"}, Report: postgres.CopilotReportUsers, Day: copilotDay1},
		"report":         {EnterpriseID: "ent1", Scope: copilotOrg, Report: "repos", Day: copilotDay1},
		"not midnight":   {EnterpriseID: "ent1", Scope: copilotOrg, Report: postgres.CopilotReportUsers, Day: copilotDay1.Add(time.Hour)},
		"no day record":  {EnterpriseID: "ent1", Scope: copilotOrg, Report: postgres.CopilotReportAggregate, Day: copilotDay1, Available: true},
		"no enterprise":  {Scope: copilotOrg, Report: postgres.CopilotReportUsers, Day: copilotDay1},
		"bad raw record": {EnterpriseID: "ent1", Scope: copilotOrg, Report: postgres.CopilotReportUsers, Day: copilotDay1, Available: true, Users: []metrics.CopilotUserDay{{UserID: 1, Raw: []byte("{")}}},
	} {
		if _, err := s.SaveCopilotReport(t.Context(), r); err == nil {
			t.Errorf("%s: saved", name)
		}
	}
	if _, err := s.SaveCopilotSeats(t.Context(), postgres.CopilotSeatSnapshot{EnterpriseID: "ent1", Scope: copilotOrg, Date: copilotDay1.Add(time.Minute)}); err == nil {
		t.Error("a seat snapshot at a time that is not midnight was saved")
	}
	for _, table := range copilotTables() {
		var n int
		if err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM `+table).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s has %d rows after refused writes (%v)", table, n, err)
		}
	}
}
