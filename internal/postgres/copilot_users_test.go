package postgres_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
)

// A users report written in batches: the batches only upsert; the end replaces the
// day (users no longer in the report go), records the fetch and moves the watermark.
func TestCopilotUsersInBatches(t *testing.T) {
	s := pgtest.New(t)
	ctx := t.Context()
	saveReport(t, s, postgres.CopilotReportDay{Scope: copilotOrg, Report: postgres.CopilotReportUsers,
		Day: copilotDay1, Available: true, Shards: 1, Users: users(copilotDay1, 1, 2, 3)})
	var v1 string
	if err := s.Pool().QueryRow(ctx, `SELECT xmin::text FROM copilot_user_metrics WHERE user_id = 1`).Scan(&v1); err != nil {
		t.Fatal(err)
	}
	ids := func(sql string) []string {
		t.Helper()
		var out []string
		if err := s.Pool().QueryRow(ctx, sql).Scan(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}

	// The re-fetched report: users 1 (unchanged) and 2 (changed) in one batch, 4 in the next.
	first := users(copilotDay1, 1, 2)
	first[1].CodeGenerations = i64p(999)
	w1, err := s.SaveCopilotUserBatch(ctx, "ent1", copilotOrg, copilotDay1, first)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := s.SaveCopilotUserBatch(ctx, "ent1", copilotOrg, copilotDay1, users(copilotDay1, 4))
	if err != nil {
		t.Fatal(err)
	}
	if w1.Rows != 2 || w2.Rows != 1 {
		t.Errorf("batch writes %+v, %+v; want 2 and 1 rows", w1, w2)
	}
	// Between batches nothing is deleted and the fetch is not recorded again.
	if diff := cmp.Diff([]string{"1", "2", "3", "4"}, ids(`SELECT array_agg(user_id::text ORDER BY user_id) FROM copilot_user_metrics`)); diff != "" {
		t.Errorf("users between batches (-want +got):\n%s", diff)
	}
	var records int
	if err := s.Pool().QueryRow(ctx, `SELECT records FROM copilot_report_fetches`).Scan(&records); err != nil || records != 3 {
		t.Errorf("fetch record between batches: %d records, %v; want the earlier 3", records, err)
	}

	w := saveReport(t, s, postgres.CopilotReportDay{Scope: copilotOrg, Report: postgres.CopilotReportUsers,
		Day: copilotDay1, Available: true, Shards: 2, UsersWritten: true, UserIDs: []int64{1, 2, 4}})
	if w.Rows != 0 || w.Changed < 2 {
		t.Errorf("end write = %+v; want no typed rows (the batches wrote them) and user 3 deleted", w)
	}
	if diff := cmp.Diff([]string{"1", "2", "4"}, ids(`SELECT array_agg(user_id::text ORDER BY user_id) FROM copilot_user_metrics`)); diff != "" {
		t.Errorf("users after the report (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1", "2", "4"}, ids(`SELECT array_agg(record_key ORDER BY record_key) FROM copilot_raw_records`)); diff != "" {
		t.Errorf("raw records after the report (-want +got):\n%s", diff)
	}
	if err := s.Pool().QueryRow(ctx, `SELECT records FROM copilot_report_fetches`).Scan(&records); err != nil || records != 3 {
		t.Errorf("fetch record: %d records, %v; want 3", records, err)
	}
	var v1after string
	if err := s.Pool().QueryRow(ctx, `SELECT xmin::text FROM copilot_user_metrics WHERE user_id = 1`).Scan(&v1after); err != nil || v1after != v1 {
		t.Errorf("user 1 did not change but its row was rewritten (%s → %s, %v)", v1, v1after, err)
	}

	// The batched form is for the users report only.
	if _, err := s.SaveCopilotReport(ctx, postgres.CopilotReportDay{EnterpriseID: "ent1", Scope: copilotOrg,
		Report: postgres.CopilotReportUserTeams, Day: copilotDay1, Available: true, UsersWritten: true}); err == nil {
		t.Error("UsersWritten accepted for the user-teams report")
	}
}
