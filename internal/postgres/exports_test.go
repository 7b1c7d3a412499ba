package postgres_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func exec(t *testing.T, s *postgres.Store, sql string, args ...any) {
	t.Helper()
	if _, err := s.Pool().Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", strings.Fields(sql)[0:3], err)
	}
}

type streamed struct {
	columns []string
	rows    [][]any
}

func stream(t *testing.T, s *postgres.Store, kind, from, to string) streamed {
	t.Helper()
	var got streamed
	calls := 0
	err := s.StreamExport(t.Context(), kind, day(from), day(to),
		func(cols []string) error { calls++; got.columns = cols; return nil },
		func(row []any) error { got.rows = append(got.rows, row); return nil })
	if err != nil {
		t.Fatalf("StreamExport(%s): %v", kind, err)
	}
	if calls != 1 {
		t.Fatalf("columns callback called %d times, want once", calls)
	}
	return got
}

func TestStreamExportCopilotMetrics(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	// Byte-wise order puts "B" before "a" whatever the database collation says.
	exec(t, s, `INSERT INTO copilot_daily_metrics (enterprise_id, scope_type, scope, day,
		daily_active_users, completion_acceptance_rate, pr_median_minutes_to_merge, seats_total,
		pr_total_copilot_suggestions, pr_total_copilot_applied_suggestions)
		VALUES ('ent1', 'organization', 'a-org', '2026-11-20', 10, 0.123456, 61.5, 40, 25, 14),
		       ('ent1', 'organization', 'B-org', '2026-11-20', 11, NULL, NULL, NULL, NULL, NULL),
		       ('ent1', 'enterprise', 'corp', '2026-11-21', 12, 1, 0, 50, 0, 0),
		       ('ent1', 'enterprise', 'corp', '2026-11-20', 13, 0, 0, 50, 0, 0),
		       ('ent1', 'enterprise', 'corp', '2026-10-01', 99, 0, 0, 50, 0, 0),   -- before the window
		       ('ent1', 'enterprise', 'corp', '2026-11-27', 99, 0, 0, 50, 0, 0)`) // after the export date
	got := stream(t, s, "copilot_metrics", "2026-11-01", "2026-11-26")
	if len(got.columns) != 33 || got.columns[3] != "date" || got.columns[10] != "completion_acceptance_rate" ||
		got.columns[31] != "pr_total_copilot_suggestions" || got.columns[32] != "pr_total_copilot_applied_suggestions" {
		t.Errorf("columns = %v", got.columns)
	}
	var keys []string
	for _, r := range got.rows {
		keys = append(keys, fmt.Sprintf("%v/%v/%s", r[1], r[2], r[3].(time.Time).Format(time.DateOnly)))
	}
	want := []string{"enterprise/corp/2026-11-20", "enterprise/corp/2026-11-21", "organization/B-org/2026-11-20", "organization/a-org/2026-11-20"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	first := got.rows[3] // a-org
	if first[4] != int64(10) || first[10] != "0.123456" || first[26] != "61.5" || first[13] != int64(40) ||
		first[31] != int64(25) || first[32] != int64(14) {
		t.Errorf("a-org row = %#v", first)
	}
	nulls := got.rows[2] // B-org
	if nulls[5] != nil || nulls[10] != nil || nulls[26] != nil || nulls[31] != nil || nulls[32] != nil {
		t.Errorf("NULLs must come as nil: %#v", nulls)
	}
}

func TestStreamExportWeeklyAndUsers(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	exec(t, s, `INSERT INTO dora_metrics (enterprise_id, scope_type, scope, week_start, deployments,
		lead_time_p50_hours, change_failure_rate, performance_level, metric_version)
		VALUES ('ent1', 'repository', 'org/b', '2026-11-23', 3, 12.345, 0.3333, 'high', 2),
		       ('ent1', 'repository', 'org/a', '2026-11-16', 0, NULL, NULL, NULL, 2),
		       ('ent1', 'repository', 'org/c', '2026-11-16', 5, NULL, NULL, NULL, 1),    -- an older metric_version
		       ('ent1', 'repository', 'org/a', '2026-10-26', 1, NULL, NULL, NULL, 2)`) // week before the window
	dora := stream(t, s, "dora_metrics", "2026-11-01", "2026-11-26")
	if len(dora.rows) != 2 || dora.rows[0][2] != "org/a" || dora.rows[1][6] != "12.345" || dora.rows[1][4] != int32(3) {
		t.Errorf("dora rows = %#v; want org/a and org/b, not org/c of metric_version 1", dora.rows)
	}
	if dora.columns[12] != "metric_version" || dora.columns[len(dora.columns)-1] != "repos_low" {
		t.Errorf("dora columns = %v", dora.columns)
	}

	exec(t, s, `INSERT INTO velocity_metrics (enterprise_id, scope_type, scope, week_start, prs_opened,
		workflow_success_rate, pr_size_p50, metric_version)
		VALUES ('ent1', 'organization', 'org', '2026-11-23', 7, 0.98765, 41.5, 2),
		       ('ent1', 'organization', 'old', '2026-11-23', 7, 0.98765, 41.5, 1)`)
	vel := stream(t, s, "velocity_metrics", "2026-11-01", "2026-11-26")
	if len(vel.rows) != 1 || vel.rows[0][14] != "0.98765" || vel.rows[0][4] != int32(7) {
		t.Errorf("velocity rows = %#v", vel.rows)
	}

	exec(t, s, `INSERT INTO copilot_user_metrics (enterprise_id, scope_type, scope, day, user_id, user_login,
		code_generations, used_chat, ai_credits_used, chat_interactions, agent_interactions)
		VALUES ('ent1', 'organization', 'org', '2026-11-20', 20, '=evil', 5, true, 1.5, 8, 0),
		       ('ent1', 'organization', 'org', '2026-11-20', 3, 'octo', NULL, false, NULL, NULL, NULL)`)
	users := stream(t, s, "copilot_user_metrics", "2026-11-01", "2026-11-26")
	if len(users.rows) != 2 || users.rows[0][4] != int64(3) || users.rows[1][5] != "=evil" || users.rows[1][14] != true || users.rows[1][19] != "1.5" ||
		users.rows[1][20] != int64(8) || users.rows[1][21] != int64(0) || users.rows[0][20] != nil || users.rows[0][21] != nil {
		t.Errorf("user rows = %#v", users.rows)
	}
	if n := len(users.columns); n != 22 || users.columns[20] != "chat_interactions" || users.columns[21] != "agent_interactions" {
		t.Errorf("user columns = %v", users.columns)
	}
}

func TestStreamExportSeatsTakesNewestSnapshot(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	exec(t, s, `INSERT INTO copilot_seats (enterprise_id, scope_type, scope, snapshot_date, seat_key,
		assignee_id, assignee_login, created_at, last_activity_at)
		VALUES ('ent1', 'organization', 'org', '2026-11-25', '2', 2, 'b', '2025-01-01T10:00:00Z', NULL),
		       ('ent1', 'organization', 'org', '2026-11-25', '1', 1, 'a', '2025-01-01T10:00:00Z', '2026-11-24T08:00:00Z'),
		       ('ent1', 'organization', 'org', '2026-11-24', '9', 9, 'gone', '2025-01-01T10:00:00Z', NULL),
		       ('ent1', 'organization', 'org', '2026-11-27', '7', 7, 'future', '2025-01-01T10:00:00Z', NULL),
		       ('ent1', 'organization', 'old', '2025-01-01', '5', 5, 'stale', '2024-01-01T10:00:00Z', NULL)`)
	got := stream(t, s, "copilot_seats", "2026-11-01", "2026-11-26")
	var logins []string
	for _, r := range got.rows {
		logins = append(logins, r[5].(string))
	}
	if diff := cmp.Diff([]string{"a", "b"}, logins); diff != "" {
		t.Errorf("seats (-want +got):\n%s", diff)
	}
	if at, ok := got.rows[0][12].(time.Time); !ok || !at.Equal(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("last_activity_at = %#v", got.rows[0][12])
	}
}

func TestStreamExportErrors(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	noop := func([]string) error { return nil }
	err := s.StreamExport(t.Context(), "nope", day("2026-01-01"), day("2026-01-02"), noop, func([]any) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "unknown file kind") {
		t.Errorf("unknown kind: %v", err)
	}
	exec(t, s, `INSERT INTO copilot_user_metrics (enterprise_id, scope_type, scope, day, user_id, user_login)
		SELECT 'ent1', 'organization', 'org', '2026-11-20', g, 'u' || g FROM generate_series(1, 100) g`)
	stop := errors.New("disk full")
	seen := 0
	err = s.StreamExport(t.Context(), "copilot_user_metrics", day("2026-11-01"), day("2026-11-26"), noop,
		func([]any) error { seen++; return stop })
	if !errors.Is(err, stop) || seen != 1 {
		t.Errorf("callback error: err %v after %d rows, want the callback's error after 1", err, seen)
	}
	colErr := errors.New("columns mismatch")
	err = s.StreamExport(t.Context(), "copilot_user_metrics", day("2026-11-01"), day("2026-11-26"),
		func([]string) error { return colErr }, func([]any) error { t.Error("row after a columns error"); return nil })
	if !errors.Is(err, colErr) {
		t.Errorf("columns error: %v", err)
	}
}

func TestExportAndUploadRecords(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	ctx := t.Context()
	if _, err := s.LatestExport(ctx); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("LatestExport on an empty table: %v, want ErrNotFound", err)
	}
	rec := func(name, kind, date, sha string) {
		t.Helper()
		err := s.RecordExport(ctx, postgres.ExportedFile{FileName: name, Kind: kind, ExportDate: day(date),
			Rows: 2, Bytes: 100, SHA256: sha, SchemaVersion: 1})
		if err != nil {
			t.Fatal(err)
		}
	}
	rec("dora_metrics_20261125.csv", "dora_metrics", "2026-11-25", "aa")
	rec("manifest_20261125.json", "manifest", "2026-11-25", "mm")
	rec("dora_metrics_20261126.csv", "dora_metrics", "2026-11-26", "bb") // no manifest yet: incomplete
	rec("dora_metrics_20261125.csv", "dora_metrics", "2026-11-25", "cc") // re-export replaces

	files, err := s.LatestExport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.FileName+"="+f.SHA256)
		if f.RunID != 0 || f.ExportedAt.IsZero() || !f.ExportDate.Equal(day("2026-11-25")) {
			t.Errorf("file %+v", f)
		}
	}
	if diff := cmp.Diff([]string{"dora_metrics_20261125.csv=cc", "manifest_20261125.json=mm"}, got); diff != "" {
		t.Errorf("latest export (-want +got):\n%s", diff)
	}

	run, err := s.ManualRun(ctx, day("2026-11-25"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordUpload(ctx, postgres.UploadedFile{FileName: "dora_metrics_20261125.csv", SHA256: "aa", Bytes: 100, DriveItemID: "item1", RunID: run.ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordUpload(ctx, postgres.UploadedFile{FileName: "dora_metrics_20261125.csv", SHA256: "cc", Bytes: 101, DriveItemID: "item1", RunID: run.ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordUpload(ctx, postgres.UploadedFile{FileName: "x"}); err == nil {
		t.Error("RecordUpload without sha256 succeeded")
	}
	up, err := s.UploadedFiles(ctx, []string{"dora_metrics_20261125.csv", "manifest_20261125.json"})
	if err != nil {
		t.Fatal(err)
	}
	f, ok := up["dora_metrics_20261125.csv"]
	if len(up) != 1 || !ok || f.SHA256 != "cc" || f.Bytes != 101 || f.DriveItemID != "item1" || f.RunID != run.ID {
		t.Errorf("uploaded files = %+v", up)
	}
}
