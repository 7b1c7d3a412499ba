package pipeline_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/csvexport"
	"metrics-collector/internal/memwatch"
	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
)

// exportNow is the clock of the export tests: the export date is 2026-11-26.
var exportNow = time.Date(2026, 11, 26, 6, 30, 0, 0, time.UTC)

func sqlExec(t testing.TB, s *postgres.Store, sql string, args ...any) {
	t.Helper()
	if _, err := s.Pool().Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%.60s: %v", strings.TrimSpace(sql), err)
	}
}

// seedMetrics inserts a little of everything export_csv reads, including rows outside
// a 30-day window ending 2026-11-26 that must not be exported.
func seedMetrics(t testing.TB, s *postgres.Store) {
	t.Helper()
	sqlExec(t, s, `INSERT INTO copilot_daily_metrics (enterprise_id, scope_type, scope, day,
		daily_active_users, weekly_active_users, monthly_active_users, code_generations, code_acceptances,
		completion_generations, completion_acceptances, completion_acceptance_rate, loc_added,
		seats_total, seats_active_30d, pr_median_minutes_to_merge)
		VALUES ('ent1', 'enterprise', 'octo-corp', '2026-11-25', 40, 55, 70, 900, 300, 800, 250, 0.3125, 1200, 100, 80, 95.125),
		       ('ent1', 'organization', 'octo-org', '2026-11-25', 12, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
		       ('ent1', 'enterprise', 'octo-corp', '2026-10-01', 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)`)
	sqlExec(t, s, `INSERT INTO dora_metrics (enterprise_id, scope_type, scope, week_start, deployments, deployment_days,
		lead_time_p50_hours, lead_time_p90_hours, lead_time_n, change_failure_rate, recovery_time_p50_hours,
		rework_rate, performance_level, metric_version, thresholds_version)
		VALUES ('ent1', 'repository', 'octo-org/api', '2026-11-16', 3, 2, 5.555, 20, 4, 0.33333, NULL, 0, 'high', 2, 'dora-2024'),
		       ('ent2', 'organization', '=cmd|x', '2026-11-16', 0, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, 2, 'dora-2024'),
		       ('ent1', 'repository', 'octo-org/api', '2026-10-19', 9, 5, 1, 1, 1, 0, 0, 0, 'elite', 2, 'dora-2024')`)
	sqlExec(t, s, `INSERT INTO velocity_metrics (enterprise_id, scope_type, scope, week_start, prs_opened, prs_merged,
		pr_cycle_time_p50_hours, workflow_runs, workflow_success_rate, pr_size_p50, metric_version)
		VALUES ('ent1', 'organization', 'octo-org', '2026-11-23', 10, 8, 30.5, 40, 0.975, 120.5, 2)`)
	sqlExec(t, s, `INSERT INTO copilot_user_metrics (enterprise_id, scope_type, scope, day, user_id, user_login,
		code_generations, used_chat, ai_credits_used, chat_interactions, agent_interactions)
		VALUES ('ent1', 'organization', 'octo-org', '2026-11-25', 7, 'mona', 12, true, 0.5, 9, 0),
		       ('ent1', 'organization', 'octo-org', '2026-11-25', 8, '@hubot;x', NULL, false, NULL, NULL, NULL)`)
	sqlExec(t, s, `INSERT INTO copilot_seats (enterprise_id, scope_type, scope, snapshot_date, seat_key,
		assignee_id, assignee_login, plan_type, created_at, last_activity_at)
		VALUES ('ent1', 'enterprise', 'octo-corp', '2026-11-26', '7', 7, 'mona', 'business', '2025-02-03T04:05:06Z', '2026-11-25T17:00:00.5Z'),
		       ('ent1', 'enterprise', 'octo-corp', '2026-11-25', '7', 7, 'mona', 'business', '2025-02-03T04:05:06Z', NULL)`)
	// Issue 16's tables: a shown and a suppressed cohort (and one of another metric
	// version, not exported), a rolling row, a day of seats, an idle seat.
	sqlExec(t, s, `INSERT INTO copilot_impact_metrics (enterprise_id, scope_type, scope, week_start, cohort, suppressed,
		authors, prs_merged, pr_cycle_time_p50_hours, pr_cycle_time_n, review_time_n, pr_size_p50, pr_size_n,
		prs_reviewed_by_copilot, prs_reverted, copilot_report_days, min_authors, metric_version)
		VALUES ('ent1', 'team', 'octo-org/web', '2026-11-16', 'copilot_inactive', true, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 7, 5, 2),
		       ('ent1', 'team', 'octo-org/web', '2026-11-16', 'copilot_active', false, 6, 9, 12.345, 9, 0, 40, 9, 2, 1, 7, 5, 2),
		       ('ent1', 'organization', 'octo-org', '2026-11-16', 'copilot_active', false, 6, 9, 1, 9, 0, 40, 9, 2, 1, 7, 5, 1)`)
	sqlExec(t, s, `INSERT INTO dora_rolling_metrics (enterprise_id, scope_type, scope, week_start, window_weeks, window_start,
		deployments, deployment_days, lead_time_n, failed_deployments, change_failure_rate, recovery_n, rework_deployments,
		failed_attempts, unrecovered_failures, deployment_frequency_level, performance_level, repos_elite, repos_high,
		repos_medium, repos_low, thresholds_version, deployment_signal, metric_version)
		VALUES ('ent1', 'repository', 'octo-org/api', '2026-11-16', 4, '2026-10-26', 2, 2, 0, 1, 0.5, 0, 0, 0, 1, 'medium', 'low',
		        0, 0, 0, 1, '2024', 'deployment', 2)`)
	sqlExec(t, s, `INSERT INTO copilot_seat_utilisation (enterprise_id, scope_type, scope, day, seats_total, seats_active_7d,
		seats_active_30d, seats_idle_30d, seats_never_used, seats_pending_cancellation, seats_business, seats_enterprise,
		seats_other_plan, currency, monthly_cost, idle_monthly_cost, unpriced_seats, metric_version)
		VALUES ('ent1', 'enterprise', 'octo-corp', '2026-11-26', 3, 1, 2, 1, 1, 0, 2, 1, 0, 'USD', 77, 19, 0, 2)`)
	sqlExec(t, s, `INSERT INTO copilot_idle_seats (enterprise_id, scope_type, scope, seat_key, snapshot_date, assignee_id,
		assignee_login, organization, assigning_team, plan_type, created_at, last_activity_at, last_activity_editor,
		days_idle, never_used, pending_cancellation, metric_version)
		VALUES ('ent1', 'enterprise', 'octo-corp', 'id:9', '2026-11-26', 9, 'dormant', 'octo-org', '', 'business',
		        '2025-01-01T00:00:00Z', NULL, '', 694, true, NULL, 2)`)
}

func newExport(store pipeline.ExportStore, dir string) *pipeline.ExportStage {
	return pipeline.NewExportStage(pipeline.ExportOptions{
		Store: store, Dir: dir, RetentionDays: 30, Now: func() time.Time { return exportNow },
	})
}

func exportRequest() pipeline.Request {
	return pipeline.Request{Now: exportNow, Shards: 1}
}

// readFiles returns every file under dir by its slash-separated path relative to dir
// (latest/dora_metrics.csv, archive/2026-11-26/dora_metrics_20261126.csv).
func readFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestExportWritesEveryFile(t *testing.T) {
	t.Parallel()
	store := pgtest.New(t)
	seedMetrics(t, store)
	dir := t.TempDir()
	stage := newExport(store, dir)
	if stage.Name() != "export_csv" || stage.PerEnterprise() {
		t.Fatalf("stage %s, per enterprise %v", stage.Name(), stage.PerEnterprise())
	}
	req := exportRequest()
	if err := stage.Validate(req); err != nil {
		t.Fatal(err)
	}
	res, err := stage.Run(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != pipeline.StatusSucceeded || !res.Done || res.Records != 8+5 {
		t.Errorf("result = %+v, want succeeded, done, 13 rows", res)
	}

	files := readFiles(t, dir)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var want []string
	for _, kind := range []string{"copilot_idle_seats", "copilot_impact", "copilot_metrics", "copilot_seat_utilisation", "copilot_seats",
		"copilot_user_metrics", "dora_metrics", "dora_rolling", "velocity_metrics"} {
		want = append(want, "archive/2026-11-26/"+kind+"_20261126.csv", "latest/"+kind+".csv")
	}
	want = append(want, "archive/2026-11-26/report_20261126.html", "latest/report.html",
		"archive/2026-11-26/manifest_20261126.json", "latest/manifest.json")
	slices.Sort(want)
	if diff := cmp.Diff(want, names); diff != "" {
		t.Fatalf("files in EXPORT_DIR (-want +got):\n%s", diff)
	}
	// latest/ holds the dated files under stable names, byte for byte.
	for _, spec := range csvexport.Specs() {
		if !bytes.Equal(files["latest/"+spec.Kind+".csv"], files["archive/2026-11-26/"+spec.FileName(exportNow)]) {
			t.Errorf("latest/%s.csv differs from its dated copy", spec.Kind)
		}
	}
	// The files under their dated names, for the checks below.
	for name, b := range files {
		if dated, ok := strings.CutPrefix(name, "archive/2026-11-26/"); ok {
			files[dated] = b
		}
	}

	// The database's values, rounded and neutralised by the contract.
	wantDORA := "\uFEFF" + strings.Join(csvexport.Names(csvexport.Specs()[1].Columns), ";") + "\r\n" +
		"ent1;repository;octo-org/api;2026-11-16;3;2;5.56;20.00;0.3333;;0.0000;high;2;4;0;0;0;;;;;dora-2024;0;0;0;0;0;0\r\n" +
		"ent2;organization;'=cmd|x;2026-11-16;0;0;;;;;;;2;0;0;0;0;;;;;dora-2024;0;0;0;0;0;0\r\n"
	if diff := cmp.Diff(wantDORA, string(files["dora_metrics_20261126.csv"])); diff != "" {
		t.Errorf("dora_metrics (-want +got):\n%s", diff)
	}
	wantSeats := "ent1;enterprise;octo-corp;2026-11-26;7;mona;;;;business;2025-02-03T04:05:06Z;;2026-11-25T17:00:00Z;;\r\n"
	if got := string(files["copilot_seats_20261126.csv"]); !strings.HasSuffix(got, wantSeats) || strings.Count(got, "\r\n") != 2 {
		t.Errorf("copilot_seats = %q, want the newest snapshot only, ending %q", got, wantSeats)
	}
	users := string(files["copilot_user_metrics_20261126.csv"])
	if !strings.Contains(users, "\r\nent1;organization;octo-org;2026-11-25;7;mona;;12;;;;;;false;true;false;false;false;false;0.50;9;0\r\n") ||
		!strings.Contains(users, "\r\nent1;organization;octo-org;2026-11-25;8;\"'@hubot;x\";;;;;;;;false;false;false;false;false;false;;;\r\n") {
		t.Errorf("copilot_user_metrics = %q", users)
	}
	// Issue 16's files: a suppressed cohort shows no figure; cohorts in their fixed order;
	// rows of another metric version are left out.
	header := func(kind string) string {
		for _, sp := range csvexport.Specs() {
			if sp.Kind == kind {
				return "\uFEFF" + strings.Join(csvexport.Names(sp.Columns), ";") + "\r\n"
			}
		}
		t.Fatalf("no spec %s", kind)
		return ""
	}
	for kind, body := range map[string]string{
		"copilot_impact": "ent1;team;octo-org/web;2026-11-16;copilot_active;false;6;9;12.35;;40.00;2;1;7;5;2;9;0;9\r\n" +
			"ent1;team;octo-org/web;2026-11-16;copilot_inactive;true;;;;;;;;7;5;2;;;\r\n",
		"dora_rolling":             "ent1;repository;octo-org/api;2026-11-16;4;2026-10-26;2;2;;;0.5000;;;low;1;0;0;1;medium;;;;0;0;0;1;2024;2;0;0\r\n",
		"copilot_seat_utilisation": "ent1;enterprise;octo-corp;2026-11-26;3;1;2;1;1;0;2;1;0;USD;77.00;19.00;0;2\r\n",
		"copilot_idle_seats":       "ent1;enterprise;octo-corp;2026-11-26;9;dormant;octo-org;;business;2025-01-01T00:00:00Z;;;694;true;;2\r\n",
	} {
		if diff := cmp.Diff(header(kind)+body, string(files[kind+"_20261126.csv"])); diff != "" {
			t.Errorf("%s (-want +got):\n%s", kind, diff)
		}
	}
	copilot := string(files["copilot_metrics_20261126.csv"])
	if !strings.Contains(copilot, "\r\nent1;enterprise;octo-corp;2026-11-25;40;55;70;;900;300;0.3125;;1200;100;80;") ||
		!strings.Contains(copilot, ";95.13;") || strings.Contains(copilot, "2026-10-01") {
		t.Errorf("copilot_metrics = %q", copilot)
	}

	// Every file is recorded with the checksum of the bytes on disk, and the manifest
	// lists the CSVs with the same figures.
	recorded, err := store.ExportedFiles(t.Context(), exportNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(recorded) != 11 {
		t.Fatalf("%d files recorded, want the nine CSVs, the report and the manifest", len(recorded))
	}
	for _, f := range recorded {
		sum := sha256.Sum256(files[f.FileName])
		if f.SHA256 != hex.EncodeToString(sum[:]) || f.Bytes != int64(len(files[f.FileName])) || f.SchemaVersion != csvexport.SchemaVersion {
			t.Errorf("record %+v does not describe the file on disk", f)
		}
	}
	if !bytes.Equal(files["latest/manifest.json"], files["manifest_20261126.json"]) {
		t.Error("latest/manifest.json differs from its dated copy")
	}
	var manifest csvexport.Manifest
	if err := json.Unmarshal(files["latest/manifest.json"], &manifest); err != nil {
		t.Fatal(err)
	}
	if manifest.ExportDate != "2026-11-26" || manifest.WindowStart != "2026-10-28" || len(manifest.Files) != 10 ||
		len(manifest.Pending) != 0 || manifest.ManifestVersion != 2 {
		t.Errorf("manifest = %+v", manifest)
	}
	for _, mf := range manifest.Files {
		sum := sha256.Sum256(files["latest/"+mf.Name])
		if mf.SHA256 != hex.EncodeToString(sum[:]) || mf.Bytes != int64(len(files["latest/"+mf.Name])) ||
			!bytes.Equal(files[mf.Archive], files["latest/"+mf.Name]) || mf.ExportDate != "2026-11-26" || mf.WindowStart != "2026-10-28" {
			t.Errorf("manifest entry %+v does not match the file", mf)
		}
	}
}

func TestExportTwiceIsByteIdentical(t *testing.T) {
	t.Parallel()
	store := pgtest.New(t)
	seedMetrics(t, store)
	dir := t.TempDir()
	stage := newExport(store, dir)
	if _, err := stage.Run(t.Context(), exportRequest()); err != nil {
		t.Fatal(err)
	}
	first := readFiles(t, dir)
	// An upsert that changes nothing, then a second export.
	sqlExec(t, store, `UPDATE dora_metrics SET computed_at = now() + interval '1 hour'`)
	if _, err := stage.Run(t.Context(), exportRequest()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, readFiles(t, dir)); diff != "" {
		t.Errorf("re-export of unchanged data differs:\n%s", diff)
	}

	sqlExec(t, store, `UPDATE velocity_metrics SET prs_opened = 11`)
	if _, err := stage.Run(t.Context(), exportRequest()); err != nil {
		t.Fatal(err)
	}
	third := readFiles(t, dir)
	for name, b := range third {
		changed := !bytes.Equal(first[name], b)
		wantChanged := strings.Contains(name, "velocity_metrics") || strings.Contains(name, "manifest")
		if changed != wantChanged {
			t.Errorf("%s changed = %v after a velocity change, want %v", name, changed, wantChanged)
		}
	}
}

func TestExportValidate(t *testing.T) {
	t.Parallel()
	stage := newExport(nil, t.TempDir())
	at := func(s string) *time.Time { d, _ := time.Parse(time.DateOnly, s); return &d }
	tests := []struct {
		name  string
		req   pipeline.Request
		field string
	}{
		{"since", pipeline.Request{Now: exportNow, Since: at("2026-11-01")}, "since"},
		{"future until", pipeline.Request{Now: exportNow, Until: at("2026-11-27")}, "until"},
		{"garbage cursor", pipeline.Request{Now: exportNow, Cursor: "abc"}, "cursor"},
		{"cursor past the files", pipeline.Request{Now: exportNow, Cursor: "20261126:10"}, "cursor"},
		{"cursor past the kinds asked for", pipeline.Request{Now: exportNow, Cursor: "20261126:2", Kinds: []string{"dora_metrics"}}, "cursor"},
		{"unknown kind", pipeline.Request{Now: exportNow, Kinds: []string{"dora_metrics", "dora"}}, "kinds"},
		{"kind twice", pipeline.Request{Now: exportNow, Kinds: []string{"dora_metrics", "dora_metrics"}}, "kinds"},
		{"cursor of another date", pipeline.Request{Now: exportNow, Until: at("2026-11-20"), Cursor: "20261126:1"}, "cursor"},
		{"future cursor", pipeline.Request{Now: exportNow, Cursor: "20261201:1"}, "cursor"},
	}
	for _, tt := range tests {
		err := stage.Validate(tt.req)
		var input *pipeline.InputError
		if !errors.As(err, &input) || input.Field != tt.field {
			t.Errorf("%s: Validate = %v, want an input error on %s", tt.name, err, tt.field)
		}
	}
	for _, ok := range []pipeline.Request{
		{Now: exportNow},
		{Now: exportNow, Until: at("2026-11-26")},
		{Now: exportNow, Until: at("2026-01-01"), Cursor: "20260101:2"},
		{Now: exportNow, Kinds: []string{"velocity_metrics", "copilot_seats"}, Cursor: "20261126:1"},
	} {
		if err := stage.Validate(ok); err != nil {
			t.Errorf("Validate(%+v) = %v", ok, err)
		}
	}
}

func TestExportFolderProblems(t *testing.T) {
	t.Parallel()
	store := pgtest.New(t)
	seedMetrics(t, store)
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{"missing": filepath.Join(base, "missing"), "empty setting": "", "a file": file}
	if runtime.GOOS != "windows" && os.Geteuid() != 0 {
		ro := filepath.Join(base, "ro")
		os.Mkdir(ro, 0o555)
		dirs["read-only"] = ro
	}
	for name, dir := range dirs {
		_, err := newExport(store, dir).Run(t.Context(), exportRequest())
		t.Logf("%s folder: %v", name, err)
		if !errors.Is(err, pipeline.ErrPermanent) || !strings.Contains(err.Error(), "EXPORT_DIR") {
			t.Errorf("%s folder: error %v, want a permanent failure naming EXPORT_DIR", name, err)
		}
	}
	recorded, err := store.ExportedFiles(t.Context(), exportNow)
	if err != nil || len(recorded) != 0 {
		t.Errorf("files recorded after folder failures: %v, %v", recorded, err)
	}
}

func TestExportBadValueFailsNamingTheCell(t *testing.T) {
	t.Parallel()
	store := pgtest.New(t)
	dir := t.TempDir()
	sqlExec(t, store, `INSERT INTO dora_metrics (enterprise_id, scope_type, scope, week_start, change_failure_rate, metric_version)
		VALUES ('ent1', 'organization', 'org', '2026-11-23', 'NaN', 2)`)
	_, err := newExport(store, dir).Run(t.Context(), exportRequest())
	if !errors.Is(err, pipeline.ErrPermanent) || !strings.Contains(err.Error(), "dora_metrics_20261126.csv") ||
		!strings.Contains(err.Error(), "column change_failure_rate") {
		t.Fatalf("error = %v, want a permanent failure naming the file and the column", err)
	}
	for name := range readFiles(t, dir) {
		if strings.Contains(name, "dora_metrics") || strings.Contains(name, ".tmp-") {
			t.Errorf("a half-written file was left behind: %s", name)
		}
	}
}

func TestExportContinuesFromCursor(t *testing.T) {
	t.Parallel()
	store := pgtest.New(t)
	seedMetrics(t, store)
	oneShot := t.TempDir()
	if _, err := newExport(store, oneShot).Run(t.Context(), exportRequest()); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	stage := newExport(store, dir)
	req := exportRequest()
	req.Deadline = exportNow.Add(10 * time.Second) // too short for a second file
	var cursors []string
	for range 10 {
		res, err := stage.Run(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if res.Done {
			break
		}
		cursors = append(cursors, res.Cursor)
		req.Cursor = res.Cursor
	}
	want := []string{"20261126:1", "20261126:2", "20261126:3", "20261126:4", "20261126:5", "20261126:6", "20261126:7", "20261126:8"}
	if diff := cmp.Diff(want, cursors); diff != "" {
		t.Errorf("cursors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(readFiles(t, oneShot), readFiles(t, dir)); diff != "" {
		t.Errorf("an export in nine calls differs from one in a single call:\n%s", diff)
	}
}

// EXPORT_USER_LEVEL=false: no file naming a person is written or listed, and a cursor
// counts the files that are written.
func TestExportWithoutUserLevelFiles(t *testing.T) {
	t.Parallel()
	store := pgtest.New(t)
	seedMetrics(t, store)
	dir := t.TempDir()
	stage := pipeline.NewExportStage(pipeline.ExportOptions{
		Store: store, Dir: dir, RetentionDays: 30, Now: func() time.Time { return exportNow }, NoUserLevel: true,
	})
	if err := stage.Validate(pipeline.Request{Now: exportNow, Cursor: "20261126:7"}); err == nil {
		t.Error("a cursor past the six files was accepted")
	}
	if err := stage.Validate(pipeline.Request{Now: exportNow, Cursor: "20261126:6"}); err != nil {
		t.Errorf("a cursor at the end of the six files was refused: %v", err)
	}
	if _, err := stage.Run(t.Context(), exportRequest()); err != nil {
		t.Fatal(err)
	}
	files := readFiles(t, dir)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var want []string
	for _, kind := range []string{"copilot_impact", "copilot_metrics", "copilot_seat_utilisation", "dora_metrics", "dora_rolling", "velocity_metrics"} {
		want = append(want, "archive/2026-11-26/"+kind+"_20261126.csv", "latest/"+kind+".csv")
	}
	want = append(want, "archive/2026-11-26/report_20261126.html", "latest/report.html",
		"archive/2026-11-26/manifest_20261126.json", "latest/manifest.json")
	sort.Strings(want)
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	for name, b := range files {
		for _, login := range []string{"mona", "hubot", "dormant"} {
			if bytes.Contains(b, []byte(login)) {
				t.Errorf("%s names %s", name, login)
			}
		}
	}
	var manifest csvexport.Manifest
	if err := json.Unmarshal(files["latest/manifest.json"], &manifest); err != nil || len(manifest.Files) != 7 || len(manifest.Pending) != 0 {
		t.Errorf("manifest lists %d files (%v), want the six data files and the report", len(manifest.Files), err)
	}
}

func TestExportPastDate(t *testing.T) {
	t.Parallel()
	store := pgtest.New(t)
	seedMetrics(t, store)
	dir := t.TempDir()
	until := time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC)
	req := exportRequest()
	req.Until = &until
	if _, err := newExport(store, dir).Run(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	files := readFiles(t, dir)
	dora := string(files["archive/2026-10-20/dora_metrics_20261020.csv"])
	if !strings.Contains(dora, "2026-10-19") || strings.Contains(dora, "2026-11-16") {
		t.Errorf("dora_metrics of 2026-10-20 = %q, want only the week of 2026-10-19", dora)
	}
	if _, ok := files["archive/2026-10-20/manifest_20261020.json"]; !ok {
		t.Error("no manifest for the past export date")
	}
}

// BenchmarkExportMillionRows streams a million copilot_user_metrics rows from
// PostgreSQL into their CSV (plus the four small files and the manifest) and reports
// rows/s, MB/s and the heap's high-water mark.
//
//	go test ./internal/pipeline -run '^$' -bench ExportMillionRows -benchtime 3x
func BenchmarkExportMillionRows(b *testing.B) {
	store := pgtest.New(b)
	sqlExec(b, store, `INSERT INTO copilot_user_metrics (enterprise_id, scope_type, scope, day, user_id, user_login,
		user_initiated_interactions, code_generations, code_acceptances, loc_suggested_to_add, loc_added,
		used_chat, used_agent, ai_credits_used, chat_interactions, agent_interactions)
		SELECT 'ent1', 'organization', 'octo-org', DATE '2026-11-26' - (g % 400), g / 400, 'user' || (g / 400),
		       g % 97, g % 89, g % 83, g % 79, g % 73, g % 2 = 0, g % 3 = 0, (g % 1000) / 100.0, g % 31, g % 13
		FROM generate_series(0, 999999) g`)
	sqlExec(b, store, `ANALYZE copilot_user_metrics`)
	dir := b.TempDir()
	stage := pipeline.NewExportStage(pipeline.ExportOptions{
		Store: store, Dir: dir, RetentionDays: 400, Now: func() time.Time { return exportNow },
	})
	var rows int64
	peak := memwatch.Start(5 * time.Millisecond).Stop
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := stage.Run(b.Context(), exportRequest())
		if err != nil {
			b.Fatal(err)
		}
		rows = res.Records
	}
	b.StopTimer()
	if rows != 1_000_000 {
		b.Fatalf("exported %d rows, want 1000000", rows)
	}
	info, err := os.Stat(filepath.Join(dir, "latest", "copilot_user_metrics.csv"))
	if err != nil {
		b.Fatal(err)
	}
	secs := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(rows)/secs, "rows/s")
	b.ReportMetric(float64(info.Size())/1e6/secs, "MB/s")
	b.ReportMetric(float64(info.Size())/1e6, "file_MB")
	b.ReportMetric(float64(peak())/(1<<20), "peak_heap_MiB")
}

// TestExportProgressiveManifest exports the kinds of each source separately, as the
// orchestrator's delivery rounds do, over three days: latest/ always holds the newest
// file of every kind, the manifest says per file and enterprise through which date its
// data is complete and which kinds still wait, and old archive folders go.
func TestExportProgressiveManifest(t *testing.T) {
	t.Parallel()
	store := pgtest.New(t)
	seedMetrics(t, store)
	// ent1's Copilot reports reach 2026-11-25 as calculate_copilot last took them in:
	// its report of 2026-11-26 was fetched after that calculation. ent2's reports reach
	// 2026-11-25 too, but its calculate_copilot failed, so its Copilot files are not
	// complete through any date (before, the fetches alone counted: 2026-11-26 and
	// 2026-11-25). ent1's repositories were collected and calculated in full by the run
	// of 2026-11-20.
	sqlExec(t, store, `INSERT INTO copilot_report_fetches (enterprise_id, scope_type, scope, report, day, status, fetched_at)
		VALUES ('ent1', 'enterprise', 'octo-corp', 'aggregate', '2026-11-25', 'ok', '2026-11-26 06:00Z'),
		       ('ent1', 'enterprise', 'octo-corp', 'aggregate', '2026-11-26', 'no_report', '2026-11-26 06:00Z'),
		       ('ent1', 'organization', 'octo-org', 'aggregate', '2026-11-24', 'ok', '2026-11-26 06:00Z'),
		       ('ent1', 'organization', 'octo-org', 'aggregate', '2026-11-26', 'ok', '2026-11-26 07:00Z'),
		       ('ent2', 'enterprise', 'other-corp', 'aggregate', '2026-11-25', 'ok', '2026-11-26 06:00Z')`)
	sqlExec(t, store, `INSERT INTO collection_runs (id, trigger, run_date, status) VALUES (900, 'timer', '2026-11-20', 'succeeded'), (901, 'timer', '2026-11-21', 'partial')`)
	sqlExec(t, store, `INSERT INTO run_steps (run_id, stage, enterprise_id, status) VALUES
		(900, 'calculate_dora', 'ent1', 'succeeded'), (900, 'calculate_velocity', 'ent1', 'partial'),
		(901, 'calculate_dora', 'ent1', 'succeeded'), (901, 'calculate_velocity', 'ent1', 'skipped'),
		(901, 'calculate_dora', 'ent2', 'succeeded')`)
	sqlExec(t, store, `INSERT INTO run_steps (run_id, stage, enterprise_id, status, updated_at) VALUES
		(900, 'calculate_copilot', 'ent1', 'succeeded', '2026-11-26 06:30Z'),
		(900, 'calculate_copilot', 'ent2', 'failed', '2026-11-26 06:30Z')`)
	dir := t.TempDir()
	day := exportNow
	stage := pipeline.NewExportStage(pipeline.ExportOptions{
		Store: store, Dir: dir, RetentionDays: 30, ArchiveDays: 2, Enterprises: []string{"ent1", "ent2"},
		Now: func() time.Time { return day },
	})
	export := func(kinds ...string) csvexport.Manifest {
		t.Helper()
		req := pipeline.Request{Now: day, Shards: 1, Kinds: kinds}
		if err := stage.Validate(req); err != nil {
			t.Fatal(err)
		}
		if res, err := stage.Run(t.Context(), req); err != nil || !res.Done {
			t.Fatalf("export %v: %+v, %v", kinds, res, err)
		}
		var m csvexport.Manifest
		if err := json.Unmarshal(readFiles(t, dir)["latest/manifest.json"], &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	type entry struct{ Name, ExportDate, Archive, Through1, Through2 string }
	summary := func(m csvexport.Manifest) []entry {
		var out []entry
		for _, f := range m.Files {
			d := func(p *string) string {
				if p == nil {
					return "null"
				}
				return *p
			}
			out = append(out, entry{f.Name, f.ExportDate, f.Archive, d(f.CompleteThrough["ent1"]), d(f.CompleteThrough["ent2"])})
		}
		return out
	}
	// The Copilot source's kinds, seat utilisation and idle seats (calculate_copilot)
	// among them.
	copilot := []string{"copilot_metrics", "copilot_user_metrics", "copilot_seats", "copilot_seat_utilisation", "copilot_idle_seats"}
	repos := []string{"dora_metrics", "velocity_metrics", "dora_rolling"}
	// Computed from pull requests and Copilot reports: it waits for both collections.
	both := []csvexport.PendingKind{{Kind: "copilot_impact", WaitsFor: csvexport.AllSources()}}

	// 2026-11-26, round 1: the Copilot files; DORA and velocity wait.
	m := export(copilot...)
	want := []entry{
		{"copilot_metrics.csv", "2026-11-26", "archive/2026-11-26/copilot_metrics_20261126.csv", "2026-11-25", "null"},
		{"copilot_user_metrics.csv", "2026-11-26", "archive/2026-11-26/copilot_user_metrics_20261126.csv", "2026-11-25", "null"},
		{"copilot_seats.csv", "2026-11-26", "archive/2026-11-26/copilot_seats_20261126.csv", "2026-11-25", "null"},
		{"copilot_seat_utilisation.csv", "2026-11-26", "archive/2026-11-26/copilot_seat_utilisation_20261126.csv", "2026-11-25", "null"},
		{"copilot_idle_seats.csv", "2026-11-26", "archive/2026-11-26/copilot_idle_seats_20261126.csv", "2026-11-25", "null"},
		// The report is rendered from latest/ in every round; it has no dates of its own.
		{"report.html", "2026-11-26", "archive/2026-11-26/report_20261126.html", "null", "null"},
	}
	if diff := cmp.Diff(want, summary(m)); diff != "" {
		t.Errorf("manifest after the Copilot round (-want +got):\n%s", diff)
	}
	wantPending := slices.Concat([]csvexport.PendingKind{
		{Kind: "dora_metrics", WaitsFor: []csvexport.Source{csvexport.SourceRepos}},
		{Kind: "velocity_metrics", WaitsFor: []csvexport.Source{csvexport.SourceRepos}},
	}, both, []csvexport.PendingKind{{Kind: "dora_rolling", WaitsFor: []csvexport.Source{csvexport.SourceRepos}}})
	if diff := cmp.Diff(wantPending, m.Pending); diff != "" {
		t.Errorf("pending after the Copilot round (-want +got):\n%s", diff)
	}
	if _, ok := readFiles(t, dir)["latest/dora_metrics.csv"]; ok {
		t.Error("latest/ holds a DORA file before its collection finished")
	}

	// Round 2: DORA and velocity; ent1 complete through the day before the run of
	// 2026-11-20 (the run of 2026-11-21 skipped velocity), ent2 never.
	m = export(repos...)
	if len(m.Files) != 9 || !cmp.Equal(m.Pending, both) {
		t.Fatalf("manifest after round 2: %d files, pending %v", len(m.Files), m.Pending)
	}
	for _, e := range summary(m)[1:3] {
		if e.Through1 != "2026-11-19" || e.Through2 != "null" || e.ExportDate != "2026-11-26" {
			t.Errorf("%+v: want complete through 2026-11-19 for ent1, null for ent2", e)
		}
	}

	// The next day only the Copilot files are exported: latest/ keeps yesterday's DORA
	// and velocity files, with what was complete when they were exported, although
	// ent2's calculations succeeded since.
	// Both enterprises' calculate_copilot succeeded after every fetch: ent1's Copilot
	// files are now complete through its organization's report of 2026-11-26, ent2's
	// through 2026-11-25.
	sqlExec(t, store, `INSERT INTO run_steps (run_id, stage, enterprise_id, status, updated_at) VALUES
		(901, 'calculate_velocity', 'ent2', 'succeeded', now()),
		(901, 'calculate_copilot', 'ent1', 'succeeded', '2026-11-27 06:30Z'),
		(901, 'calculate_copilot', 'ent2', 'partial', '2026-11-27 06:30Z')`)
	day = exportNow.AddDate(0, 0, 1)
	m = export(copilot...)
	got := summary(m)
	if got[0].ExportDate != "2026-11-27" || got[1].ExportDate != "2026-11-26" || got[1].Through2 != "null" ||
		got[1].Archive != "archive/2026-11-26/dora_metrics_20261126.csv" {
		t.Errorf("manifest of 2026-11-27: %+v", got)
	}
	if got[0].Name != "copilot_metrics.csv" || got[0].Through1 != "2026-11-26" || got[0].Through2 != "2026-11-25" {
		t.Errorf("copilot_metrics of 2026-11-27: %+v, want complete through 2026-11-26 (ent1) and 2026-11-25 (ent2)", got[0])
	}
	if len(m.Pending) != 4 || m.Pending[0].Kind != "dora_metrics" || m.Pending[0].LastFile != "2026-11-26" {
		t.Errorf("pending of 2026-11-27: %+v", m.Pending)
	}
	files := readFiles(t, dir)
	if !bytes.Equal(files["latest/dora_metrics.csv"], files["archive/2026-11-26/dora_metrics_20261126.csv"]) {
		t.Error("latest/dora_metrics.csv is not the file of 2026-11-26")
	}

	// Two days later (ARCHIVE_DAYS 2) the folder of 2026-11-26 goes.
	day = exportNow.AddDate(0, 0, 2)
	m = export(repos...)
	folders := map[string]bool{}
	for name := range readFiles(t, dir) {
		if parts := strings.Split(name, "/"); parts[0] == "archive" {
			folders[parts[1]] = true
		}
	}
	if diff := cmp.Diff(map[string]bool{"2026-11-27": true, "2026-11-28": true}, folders); diff != "" {
		t.Errorf("archive folders (-want +got):\n%s", diff)
	}
	if got := summary(m); got[1].Through2 != "2026-11-20" {
		t.Errorf("re-exported DORA file: %+v, want ent2 complete through 2026-11-20", got[1])
	}
}
