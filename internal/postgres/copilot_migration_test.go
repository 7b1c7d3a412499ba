package postgres_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"metrics-collector/internal/github"
	"metrics-collector/internal/metrics"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
	"metrics-collector/migrations"
)

// copilotInteractionsMigration names the migration under test by its name, not its
// number, so a renumbering on merge does not break the test.
const copilotInteractionsMigration = "_copilot_interactions.sql"

// migrateBefore applies, to the empty database at url, every migration numbered below
// the one whose name ends in suffix, and records them in schema_migrations as the
// store does, so that opening a store afterwards applies only the rest.
func migrateBefore(t *testing.T, url, suffix string) {
	t.Helper()
	ctx := t.Context()
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names) // NNNN_ prefixes: name order is version order
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, name := range names {
		if strings.HasSuffix(name, suffix) {
			found = true
			break
		}
		body, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, string(body)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1::text::integer, $2)`, name[:4], name); err != nil {
			t.Fatal(err)
		}
	}
	if !found {
		t.Fatalf("no migration named *%s", suffix)
	}
}

// Stored data of the v1 derivation (chat = Σ chat_panel_* elements, agent = agent_edit)
// on the schema before the migration: the typed rows as v1 wrote them, beside the
// breakdowns and raw records it kept.
const (
	// Day 1, enterprise: every mistake at once. v1: chat 30+12 = 42, agent 7 (agent_edit).
	// v2: chat 30 (ask) + 5 (chat_inline) + 2 (plan: top-level counter only) = 37,
	// agent 12. The ask and agent counters repeat their elements and count once.
	migrationDay1Raw = `{"day":"2026-01-03","daily_active_users":40,"user_initiated_interaction_count":120,
		"chat_panel_ask_mode":30,"chat_panel_agent_mode":12,"chat_panel_plan_mode":2,
		"totals_by_feature":[
			{"feature":"code_completion","user_initiated_interaction_count":0,"code_generation_activity_count":600},
			{"feature":"chat_panel_ask_mode","user_initiated_interaction_count":30},
			{"feature":"chat_panel_agent_mode","user_initiated_interaction_count":12},
			{"feature":"agent_edit","user_initiated_interaction_count":7,"code_generation_activity_count":200},
			{"feature":"chat_inline","user_initiated_interaction_count":5}],
		"pull_requests":{"total_suggestions":40,"total_applied_suggestions":22,
			"total_copilot_suggestions":25,"total_copilot_applied_suggestions":14}}`
	// Day 2, organization: only agent_edit carries interactions. v1: chat NULL, agent 9.
	// v2: NULL, NULL. No Copilot review counts in the report: they stay NULL.
	migrationDay2Raw = `{"day":"2026-01-04","totals_by_feature":[
		{"feature":"agent_edit","user_initiated_interaction_count":9,"code_generation_activity_count":50}],
		"pull_requests":{"total_suggestions":3}}`
	// Day 3, enterprise: no feature breakdown, top-level counters at 0. v1: NULL, NULL.
	// v2: 0, 0 (reported zeros).
	migrationDay3Raw = `{"day":"2026-01-05","chat_panel_agent_mode":0,"chat_panel_ask_mode":0}`
	// Day 4, enterprise: ask mode alone, as v1 and v2 agree on. v1 = v2: chat 10, agent NULL.
	migrationDay4Raw = `{"day":"2026-01-06","totals_by_feature":[{"feature":"chat_panel_ask_mode","user_initiated_interaction_count":10}]}`
)

// The users of day 1 (organization). v1 had no per-user columns.
var migrationUsers = map[string]string{
	// chat 3 (ask) + 1 (inline) + 4 (edit: counter only) = 8, agent 2; agent_edit none.
	"1": `{"user_id":1,"user_login":"ana","day":"2026-01-03","chat_panel_agent_mode":2,"chat_panel_ask_mode":3,"chat_panel_edit_mode":4,
		"totals_by_feature":[{"feature":"chat_panel_ask_mode","user_initiated_interaction_count":3},
			{"feature":"chat_panel_agent_mode","user_initiated_interaction_count":2},
			{"feature":"chat_inline","user_initiated_interaction_count":1},
			{"feature":"agent_edit","code_generation_activity_count":6}]}`,
	// Nothing reported: NULL, NULL.
	"2": `{"user_id":2,"user_login":"bo","day":"2026-01-03","user_initiated_interaction_count":0}`,
	// totals_by_feature null, the agent counter 0: chat NULL, agent 0.
	"3": `{"user_id":3,"user_login":"cy","day":"2026-01-03","totals_by_feature":null,"chat_panel_agent_mode":0}`,
	// Counters v1's decoder ignored and that are not integers count as absent: chat 1.
	"5": `{"user_id":5,"user_login":"ed","day":"2026-01-03","chat_panel_ask_mode":2.5,"chat_panel_edit_mode":"4",
		"totals_by_feature":[{"feature":"chat_inline","user_initiated_interaction_count":1},"odd",null]}`,
}

func TestCopilotInteractionsMigrationRecomputesStoredRows(t *testing.T) {
	url := pgtest.NewDatabase(t)
	migrateBefore(t, url, copilotInteractionsMigration)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	old := func(sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	for _, d := range []struct {
		scopeType, scope, day, raw string
		chat, agent                *int64
	}{
		{"enterprise", "contoso", "2026-01-03", migrationDay1Raw, i64p(42), i64p(7)},
		{"organization", "contoso-web", "2026-01-04", migrationDay2Raw, nil, i64p(9)},
		{"enterprise", "contoso", "2026-01-05", migrationDay3Raw, nil, nil},
		{"enterprise", "contoso", "2026-01-06", migrationDay4Raw, i64p(10), nil},
	} {
		old(`INSERT INTO copilot_daily_metrics (enterprise_id, scope_type, scope, day, daily_active_users,
			chat_interactions, agent_interactions, pr_total_suggestions, updated_at)
			VALUES ('ent1', $1, $2, $3, 40, $4, $5, 40, '2026-01-07T00:00:00Z')`, d.scopeType, d.scope, d.day, d.chat, d.agent)
		old(`INSERT INTO copilot_raw_records (enterprise_id, scope_type, scope, report, day, record_key, payload)
			VALUES ('ent1', $1, $2, 'aggregate', $3, '', $4::jsonb)`, d.scopeType, d.scope, d.day, d.raw)
		old(`INSERT INTO copilot_report_fetches (enterprise_id, scope_type, scope, report, day, status, shards, records)
			VALUES ('ent1', $1, $2, 'aggregate', $3, 'ok', 1, 1)`, d.scopeType, d.scope, d.day)
		// The feature breakdown as v1 stored it from the raw record.
		old(`INSERT INTO copilot_breakdowns (enterprise_id, scope_type, scope, day, dimension, key1, key2,
				user_initiated_interactions, code_generations)
			SELECT 'ent1', $1, $2, $3, 'feature', e->>'feature', '',
			       (e->>'user_initiated_interaction_count')::bigint, (e->>'code_generation_activity_count')::bigint
			FROM jsonb_array_elements(coalesce($4::jsonb->'totals_by_feature', '[]')) AS e`, d.scopeType, d.scope, d.day, d.raw)
	}
	// Day 1's other figures, as v1 wrote them from the record (the other days' do not
	// matter here).
	old(`UPDATE copilot_daily_metrics SET user_initiated_interactions = 120, completion_generations = 600,
		pr_total_applied_suggestions = 22 WHERE day = '2026-01-03'`)
	for key, raw := range migrationUsers {
		old(`INSERT INTO copilot_raw_records (enterprise_id, scope_type, scope, report, day, record_key, payload)
			VALUES ('ent1', 'organization', 'contoso-web', 'users', '2026-01-03', $1, $2::jsonb)`, key, raw)
	}
	for _, id := range []int64{1, 2, 3, 4, 5} { // user 4 has no raw record
		old(`INSERT INTO copilot_user_metrics (enterprise_id, scope_type, scope, day, user_id, user_login, updated_at)
			VALUES ('ent1', 'organization', 'contoso-web', '2026-01-03', $1, $2, '2026-01-07T00:00:00Z')`, id, "u"+itoa(id))
	}

	s, err := postgres.New(url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}

	type dailyRow struct {
		Day                              string
		Chat, Agent                      *int64
		CopilotSuggestions, CopilotApply *int64
		Touched                          bool
	}
	var days []dailyRow
	rows, err := s.Pool().Query(ctx, `SELECT day::text, chat_interactions, agent_interactions,
		pr_total_copilot_suggestions, pr_total_copilot_applied_suggestions, updated_at > '2026-01-07T00:00:00Z'
		FROM copilot_daily_metrics ORDER BY day`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r dailyRow
		if err := rows.Scan(&r.Day, &r.Chat, &r.Agent, &r.CopilotSuggestions, &r.CopilotApply, &r.Touched); err != nil {
			t.Fatal(err)
		}
		days = append(days, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	wantDays := []dailyRow{
		{Day: "2026-01-03", Chat: i64p(37), Agent: i64p(12), CopilotSuggestions: i64p(25), CopilotApply: i64p(14), Touched: true},
		{Day: "2026-01-04", Touched: true},
		{Day: "2026-01-05", Chat: i64p(0), Agent: i64p(0), Touched: true},
		{Day: "2026-01-06", Chat: i64p(10)}, // v1 was already right: not rewritten
	}
	if diff := cmp.Diff(wantDays, days); diff != "" {
		t.Errorf("daily rows after the migration (-want +got):\n%s", diff)
	}

	type userRow struct {
		UserID      int64
		Chat, Agent *int64
		Touched     bool
	}
	var users []userRow
	rows, err = s.Pool().Query(ctx, `SELECT user_id, chat_interactions, agent_interactions, updated_at > '2026-01-07T00:00:00Z'
		FROM copilot_user_metrics ORDER BY user_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r userRow
		if err := rows.Scan(&r.UserID, &r.Chat, &r.Agent, &r.Touched); err != nil {
			t.Fatal(err)
		}
		users = append(users, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	wantUsers := []userRow{
		{UserID: 1, Chat: i64p(8), Agent: i64p(2), Touched: true},
		{UserID: 2},
		{UserID: 3, Agent: i64p(0), Touched: true},
		{UserID: 4},
		{UserID: 5, Chat: i64p(1), Touched: true},
	}
	if diff := cmp.Diff(wantUsers, users); diff != "" {
		t.Errorf("user rows after the migration (-want +got):\n%s", diff)
	}

	// The SQL agrees with the Go derivation on every record our decoder reads.
	for key, raw := range migrationUsers {
		u, err := github.DecodeCopilotUserDay(json.RawMessage(raw))
		if err != nil {
			continue // user 5: not a record today's decoder would have stored
		}
		chat, agent := metrics.CopilotInteractions(u.Breakdowns, u.ChatModes)
		got := users[u.UserID-1]
		if diff := cmp.Diff([]*int64{chat, agent}, []*int64{got.Chat, got.Agent}); diff != "" {
			t.Errorf("user %s: migration and metrics.CopilotInteractions differ (-go +sql):\n%s", key, diff)
		}
	}

	// Collecting day 1 again with the v2 code changes nothing: the migration wrote what
	// the collection writes.
	d, err := github.DecodeCopilotDay(json.RawMessage(migrationDay1Raw))
	if err != nil {
		t.Fatal(err)
	}
	day1 := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)
	before := dailyVersion(t, s, day1)
	w, err := s.SaveCopilotReport(ctx, postgres.CopilotReportDay{EnterpriseID: "ent1", Scope: copilotEnt,
		Report: postgres.CopilotReportAggregate, Day: day1, Available: true, Shards: 1, Aggregate: &d})
	if err != nil {
		t.Fatal(err)
	}
	if w.Changed != 0 || dailyVersion(t, s, day1) != before {
		t.Errorf("collecting day 1 again after the migration changed %d rows; want none", w.Changed)
	}
}

func dailyVersion(t *testing.T, s *postgres.Store, day time.Time) string {
	t.Helper()
	var v string
	if err := s.Pool().QueryRow(t.Context(), `SELECT xmin::text FROM copilot_daily_metrics WHERE day = $1`, day).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}
