package csvexport

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The leading columns of DESIGN §6, verbatim. They must never change.
var designLeading = map[string]string{
	KindCopilotMetrics:  "enterprise_id;scope_type;scope;date;daily_active_users;weekly_active_users;monthly_active_users;user_initiated_interactions;code_generations;code_acceptances;completion_acceptance_rate;loc_suggested_to_add;loc_added;seats_total;seats_active_30d",
	KindDORAMetrics:     "enterprise_id;scope_type;scope;week_start;deployments;deployment_days;lead_time_p50_hours;lead_time_p90_hours;change_failure_rate;recovery_time_p50_hours;rework_rate;performance_level;metric_version",
	KindVelocityMetrics: "enterprise_id;scope_type;scope;week_start;prs_opened;prs_merged;prs_closed_unmerged;pr_cycle_time_p50_hours;pickup_time_p50_hours;review_time_p50_hours;prs_merged_without_review;commits;active_contributors;workflow_runs;workflow_success_rate;metric_version",
}

func TestLeadingColumnsAreDesign(t *testing.T) {
	t.Parallel()
	for _, s := range Specs() {
		header := strings.Join(Names(s.Columns), ";")
		want, ok := designLeading[s.Kind]
		if !ok {
			continue
		}
		if !strings.HasPrefix(header+";", want+";") {
			t.Errorf("%s header\n %s\ndoes not start with DESIGN §6's\n %s", s.Kind, header, want)
		}
	}
	if got := len(Specs()); got != 9 {
		t.Errorf("Specs() has %d files, want 9", got)
	}
}

// Every file starts enterprise_id;scope_type;scope and carries metric_version when it
// holds our own definitions; the files that name people are exactly the user-level ones.
func TestNewFilesFollowTheConventions(t *testing.T) {
	t.Parallel()
	userLevel := map[string]bool{}
	for _, s := range Specs() {
		names := Names(s.Columns)
		if strings.Join(names[:3], ";") != "enterprise_id;scope_type;scope" {
			t.Errorf("%s starts %v", s.Kind, names[:3])
		}
		userLevel[s.Kind] = s.UserLevel
		named := false
		for _, n := range names {
			named = named || n == "user_login" || n == "assignee_login"
		}
		if named != s.UserLevel {
			t.Errorf("%s names people: %v, but UserLevel is %v", s.Kind, named, s.UserLevel)
		}
	}
	for _, kind := range []string{KindCopilotImpact, KindCopilotSeatUtilisation, KindCopilotIdleSeats, KindDORARolling} {
		var spec Spec
		for _, s := range Specs() {
			if s.Kind == kind {
				spec = s
			}
		}
		names := Names(spec.Columns)
		if !slices.Contains(names, "metric_version") {
			t.Errorf("%s has no metric_version", kind)
		}
		// Sample sizes come last.
		seenN := false
		for _, n := range names {
			if strings.HasSuffix(n, "_n") {
				seenN = true
			} else if seenN {
				t.Errorf("%s: %s follows a sample size; _n columns trail", kind, n)
			}
		}
	}
	var kinds []string
	for _, s := range ExportSpecs(false) {
		kinds = append(kinds, s.Kind)
	}
	want := []string{KindCopilotMetrics, KindDORAMetrics, KindVelocityMetrics, KindCopilotImpact, KindCopilotSeatUtilisation, KindDORARolling}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("files without user-level data (-want +got):\n%s", diff)
	}
	if len(ExportSpecs(true)) != len(Specs()) {
		t.Error("with user-level data every file is written")
	}
}

func TestGoldenFiles(t *testing.T) {
	t.Parallel()
	for _, s := range Specs() {
		t.Run(s.Kind, func(t *testing.T) {
			got := render(t, s.Columns, sampleRows(s.Columns))
			compareGolden(t, s.Kind+".csv", got)
		})
	}
}

// A later schema version appends columns: every line of the new file must be the old
// line plus the new cells, so Power BI queries reading the leading columns by name
// or by position keep working.
func TestGoldenAppendedColumns(t *testing.T) {
	t.Parallel()
	base := Specs()[0].Columns
	extended := append(append([]Column(nil), base...), Int("future_count"), Text("future_label"))
	rows := sampleRows(base)
	extRows := make([][]any, len(rows))
	for i, r := range rows {
		extRows[i] = append(append([]any(nil), r...), int64(i*10), []string{"new", "=1+1", "a;b"}[i%3])
	}
	got := render(t, extended, extRows)
	compareGolden(t, "copilot_metrics_appended.csv", got)

	old := strings.Split(string(render(t, base, rows)), "\r\n")
	for i, line := range strings.Split(string(got), "\r\n") {
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, old[i]+";") {
			t.Errorf("line %d of the extended file\n %q\ndoes not extend the original\n %q", i+1, line, old[i])
		}
	}
}

func TestReExportIsByteIdentical(t *testing.T) {
	t.Parallel()
	for _, s := range Specs() {
		a := render(t, s.Columns, sampleRows(s.Columns))
		b := render(t, s.Columns, sampleRows(s.Columns))
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two renders of the same rows differ", s.Kind)
		}
	}
}

func render(t *testing.T, cols []Column, rows [][]any) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, cols)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.WriteRow(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got):\n%s", name, diff)
	}
}

// sampleRows builds three rows for any column list: a typical one, one where every
// column after the key is NULL, and one with text that needs quoting or neutralising
// and numbers that need rounding.
func sampleRows(cols []Column) [][]any {
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	typical := make([]any, len(cols))
	nulls := make([]any, len(cols))
	tricky := make([]any, len(cols))
	for i, c := range cols {
		switch c.Name {
		case "enterprise_id":
			typical[i], nulls[i], tricky[i] = "ent1", "ent1", "ent2"
			continue
		case "scope_type":
			typical[i], nulls[i], tricky[i] = "enterprise", "organization", "repository"
			continue
		case "scope":
			typical[i], nulls[i], tricky[i] = "octo-corp", "octo-org", "-org/=repo;\"x\""
			continue
		case "date", "week_start", "snapshot_date":
			typical[i], nulls[i], tricky[i] = day, day, day.AddDate(0, 0, -7)
			continue
		}
		switch c.Kind {
		case KindText:
			typical[i], tricky[i] = "elite", "@SUM(1+1)\r\nline"
		case KindInt:
			typical[i], tricky[i] = int64(1200+i), int64(-i)
		case KindDecimal:
			typical[i], tricky[i] = "0.8765432", "12.345"
		case KindDate:
			typical[i], tricky[i] = day.AddDate(0, 1, 0), day.AddDate(-1, 0, 0)
		case KindTimestamp:
			typical[i] = time.Date(2026, 11, 23, 14, 5, 9, 123456789, time.UTC)
			tricky[i] = time.Date(2026, 1, 1, 0, 30, 0, 0, time.FixedZone("UTC+2", 7200))
		case KindBool:
			typical[i], tricky[i] = true, false
		}
	}
	return [][]any{typical, nulls, tricky}
}
