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

func f64(v float64) *float64 { return &v }

// doraFixture is two scopes × two weeks, with NULL metrics and empty levels where a
// week had no data.
func doraFixture() []metrics.DORARow {
	w1, w2 := day("2026-06-01"), day("2026-06-08")
	busy := metrics.DORARow{
		ScopeType: metrics.ScopeRepository, Scope: "acme/shop", WeekStart: w1,
		Deployments: 4, DeploymentDays: 3, LeadTimeP50Hours: f64(15.65), LeadTimeP90Hours: f64(1.0 / 3), LeadTimeN: 7,
		FailedDeployments: 1, ChangeFailureRate: f64(0.25), RecoveryTimeP50Hours: f64(15.75), RecoveryN: 1,
		ReworkDeployments: 2, ReworkRate: f64(0.5),
		DeploymentFrequencyLevel: metrics.LevelElite, LeadTimeLevel: metrics.LevelElite,
		ChangeFailureLevel: metrics.LevelLow, RecoveryLevel: metrics.LevelHigh, PerformanceLevel: metrics.LevelLow,
		ThresholdsVersion: "2024", MetricVersion: 1,
	}
	quiet := metrics.DORARow{ScopeType: metrics.ScopeRepository, Scope: "acme/shop", WeekStart: w2, ThresholdsVersion: "2024", MetricVersion: 1}
	ent1, ent2 := quiet, quiet
	ent1.ScopeType, ent1.Scope, ent1.WeekStart = metrics.ScopeEnterprise, "acme-corp", w1
	ent2.ScopeType, ent2.Scope = metrics.ScopeEnterprise, "acme-corp"
	ent1.DeploymentFrequencyLevel, ent1.PerformanceLevel = metrics.LevelMedium, metrics.LevelMedium
	return []metrics.DORARow{ent1, ent2, busy, quiet}
}

func doraBatch(computedAt time.Time) postgres.MetricBatch {
	return postgres.MetricBatch{EnterpriseID: "ent1", FirstWeek: day("2026-06-01"), LastWeek: day("2026-06-08"),
		ComputedAt: computedAt, DeploymentSignal: metrics.SignalDeployment}
}

const sqlDORARowsAsText = `
SELECT concat_ws('|', enterprise_id, scope_type, scope, week_start, deployments, deployment_days,
       coalesce(lead_time_p50_hours::text, 'NULL'), coalesce(lead_time_p90_hours::text, 'NULL'), lead_time_n,
       failed_deployments, coalesce(change_failure_rate::text, 'NULL'),
       coalesce(recovery_time_p50_hours::text, 'NULL'), recovery_n,
       rework_deployments, coalesce(rework_rate::text, 'NULL'),
       coalesce(deployment_frequency_level, 'NULL'), coalesce(lead_time_level, 'NULL'),
       coalesce(change_failure_level, 'NULL'), coalesce(recovery_level, 'NULL'),
       coalesce(performance_level, 'NULL'), thresholds_version, deployment_signal, metric_version)
FROM dora_metrics
ORDER BY enterprise_id, scope_type, scope, week_start`

func textRows(t *testing.T, s *postgres.Store, query string) []string {
	t.Helper()
	rows, err := s.Pool().Query(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		out = append(out, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// versions returns every row's xmin and computed_at by key: a row rewritten by an
// upsert gets a new xmin even when its values are the same.
func versions(t *testing.T, s *postgres.Store, table string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range textRows(t, s, `SELECT concat_ws('|', scope_type, scope, week_start, xmin, computed_at) FROM `+table) {
		parts := strings.Split(line, "|")
		out[strings.Join(parts[:3], "|")] = strings.Join(parts[3:], "|")
	}
	return out
}

func TestPutDORAMetrics(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	first := at("2026-06-09T06:00:00Z")
	// A row of another enterprise and one of ent1 before the window: neither is touched.
	exec(t, s, `INSERT INTO dora_metrics (enterprise_id, scope_type, scope, week_start, deployments, metric_version, computed_at)
		VALUES ('ent2', 'repository', 'acme/shop', '2026-06-01', 9, 1, '2026-01-01T00:00:00Z'),
		       ('ent1', 'repository', 'acme/gone', '2026-05-25', 3, 1, '2026-01-01T00:00:00Z')`)

	w, err := s.PutDORAMetrics(t.Context(), doraBatch(first), doraFixture())
	if err != nil {
		t.Fatal(err)
	}
	if w != (postgres.MetricWrite{Rows: 4, Changed: 4, Deleted: 0}) {
		t.Errorf("first write = %+v, want 4 rows, 4 changed", w)
	}
	want := []string{
		"ent1|enterprise|acme-corp|2026-06-01|0|0|NULL|NULL|0|0|NULL|NULL|0|0|NULL|medium|NULL|NULL|NULL|medium|2024|deployment|1",
		"ent1|enterprise|acme-corp|2026-06-08|0|0|NULL|NULL|0|0|NULL|NULL|0|0|NULL|NULL|NULL|NULL|NULL|NULL|2024|deployment|1",
		"ent1|repository|acme/gone|2026-05-25|3|0|NULL|NULL|0|0|NULL|NULL|0|0|NULL|NULL|NULL|NULL|NULL|NULL|||1",
		"ent1|repository|acme/shop|2026-06-01|4|3|15.65|0.333333333333333|7|1|0.25|15.75|1|2|0.5|elite|elite|low|high|low|2024|deployment|1",
		"ent1|repository|acme/shop|2026-06-08|0|0|NULL|NULL|0|0|NULL|NULL|0|0|NULL|NULL|NULL|NULL|NULL|NULL|2024|deployment|1",
		"ent2|repository|acme/shop|2026-06-01|9|0|NULL|NULL|0|0|NULL|NULL|0|0|NULL|NULL|NULL|NULL|NULL|NULL|||1",
	}
	if diff := cmp.Diff(want, textRows(t, s, sqlDORARowsAsText)); diff != "" {
		t.Errorf("stored rows (-want +got):\n%s", diff)
	}

	// The same rows again, later: nothing is rewritten.
	before := versions(t, s, "dora_metrics")
	w, err = s.PutDORAMetrics(t.Context(), doraBatch(first.Add(24*time.Hour)), doraFixture())
	if err != nil {
		t.Fatal(err)
	}
	if w != (postgres.MetricWrite{Rows: 4}) {
		t.Errorf("unchanged write = %+v, want 4 rows, nothing changed", w)
	}
	if diff := cmp.Diff(before, versions(t, s, "dora_metrics")); diff != "" {
		t.Errorf("a write of unchanged rows rewrote rows (-before +after):\n%s", diff)
	}

	// One value changes (a late incident); the enterprise scope is renamed, so its old
	// rows in the window go. Only what changed is written.
	rows := doraFixture()
	rows[2].FailedDeployments, rows[2].ChangeFailureRate = 2, f64(0.5)
	rows[0].Scope, rows[1].Scope = "acme", "acme"
	later := first.Add(48 * time.Hour)
	w, err = s.PutDORAMetrics(t.Context(), doraBatch(later), rows)
	if err != nil {
		t.Fatal(err)
	}
	if w != (postgres.MetricWrite{Rows: 4, Changed: 3, Deleted: 2}) {
		t.Errorf("changed write = %+v, want 3 changed (1 updated, 2 new), 2 deleted", w)
	}
	after := versions(t, s, "dora_metrics")
	for key, v := range after {
		changed := key == "repository|acme/shop|2026-06-01" || strings.HasPrefix(key, "enterprise|acme|")
		if changed == (before[key] == v) {
			t.Errorf("row %s: version %q → %q; want a new version only for changed rows", key, before[key], v)
		}
		if changed && !strings.HasSuffix(v, "|2026-06-11 06:00:00+00") {
			t.Errorf("row %s: computed_at %q, want the time of the write that changed it", key, v)
		}
	}
	if _, ok := after["enterprise|acme-corp|2026-06-01"]; ok {
		t.Error("the old enterprise scope's rows in the window were kept")
	}
	if _, ok := after["repository|acme/gone|2026-05-25"]; !ok {
		t.Error("a row before the window was deleted")
	}
	if n := len(textRows(t, s, `SELECT scope FROM dora_metrics WHERE enterprise_id = 'ent2'`)); n != 1 {
		t.Errorf("another enterprise's rows: %d, want 1 untouched", n)
	}

	// A metric version bump rewrites every row.
	for i := range rows {
		rows[i].MetricVersion = 2
	}
	if w, err = s.PutDORAMetrics(t.Context(), doraBatch(later), rows); err != nil || w.Changed != 4 {
		t.Errorf("version bump = %+v, %v; want every row changed", w, err)
	}
}

func TestPutVelocityMetrics(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	w1, w2 := day("2026-06-01"), day("2026-06-08")
	rows := []metrics.VelocityRow{
		{ScopeType: metrics.ScopeOrganization, Scope: "acme", WeekStart: w1,
			PRsOpened: 3, PRsMerged: 3, PRsClosedUnmerged: 1,
			PRCycleTimeP50Hours: f64(1), PRCycleTimeP90Hours: f64(59.4), PRCycleTimeN: 3,
			CodingTimeP50Hours: f64(1), CodingTimeN: 3, PickupTimeP50Hours: f64(71), PickupTimeN: 1,
			ReviewTimeP50Hours: f64(3), ReviewTimeN: 1, DeployTimeP50Hours: f64(24), DeployTimeN: 3,
			PRsMergedWithoutReview: 2, PRSizeP50: f64(40), PRSizeN: 3, Commits: 4, ActiveContributors: 5,
			WorkflowRuns: 5, WorkflowCompletedRuns: 3, WorkflowSuccessRate: f64(1.0 / 3),
			WorkflowDurationP50Seconds: f64(300), WorkflowDurationN: 3, MetricVersion: 1},
		{ScopeType: metrics.ScopeOrganization, Scope: "acme", WeekStart: w2, MetricVersion: 1},
	}
	b := postgres.MetricBatch{EnterpriseID: "ent1", FirstWeek: w1, LastWeek: w2, ComputedAt: at("2026-06-09T06:00:00Z")}
	if w, err := s.PutVelocityMetrics(t.Context(), b, rows); err != nil || w != (postgres.MetricWrite{Rows: 2, Changed: 2}) {
		t.Fatalf("first write = %+v, %v", w, err)
	}
	got := textRows(t, s, `SELECT concat_ws('|', scope, week_start, prs_opened, prs_merged, prs_closed_unmerged,
		coalesce(pr_cycle_time_p50_hours::text, 'NULL'), coalesce(pr_cycle_time_p90_hours::text, 'NULL'), pr_cycle_time_n,
		coalesce(coding_time_p50_hours::text, 'NULL'), coding_time_n, coalesce(pickup_time_p50_hours::text, 'NULL'), pickup_time_n,
		coalesce(review_time_p50_hours::text, 'NULL'), review_time_n, coalesce(deploy_time_p50_hours::text, 'NULL'), deploy_time_n,
		prs_merged_without_review, coalesce(pr_size_p50::text, 'NULL'), pr_size_n, commits, active_contributors,
		workflow_runs, workflow_completed_runs, coalesce(workflow_success_rate::text, 'NULL'),
		coalesce(workflow_duration_p50_seconds::text, 'NULL'), workflow_duration_n, metric_version, computed_at)
		FROM velocity_metrics ORDER BY week_start`)
	want := []string{
		"acme|2026-06-01|3|3|1|1|59.4|3|1|3|71|1|3|1|24|3|2|40|3|4|5|5|3|0.333333333333333|300|3|1|2026-06-09 06:00:00+00",
		"acme|2026-06-08|0|0|0|NULL|NULL|0|NULL|0|NULL|0|NULL|0|NULL|0|0|NULL|0|0|0|0|0|NULL|NULL|0|1|2026-06-09 06:00:00+00",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored rows (-want +got):\n%s", diff)
	}

	before := versions(t, s, "velocity_metrics")
	b.ComputedAt = b.ComputedAt.Add(time.Hour)
	if w, err := s.PutVelocityMetrics(t.Context(), b, rows); err != nil || w.Changed != 0 || w.Deleted != 0 {
		t.Errorf("unchanged write = %+v, %v; want nothing changed", w, err)
	}
	if diff := cmp.Diff(before, versions(t, s, "velocity_metrics")); diff != "" {
		t.Errorf("a write of unchanged rows rewrote rows (-before +after):\n%s", diff)
	}

	// NULL → value and value → NULL are changes.
	rows[0].PickupTimeP50Hours, rows[0].PickupTimeN = nil, 0
	rows[1].WorkflowSuccessRate, rows[1].WorkflowRuns, rows[1].WorkflowCompletedRuns = f64(0), 1, 1
	if w, err := s.PutVelocityMetrics(t.Context(), b, rows); err != nil || w.Changed != 2 {
		t.Errorf("NULL flips = %+v, %v; want 2 changed", w, err)
	}
}

func TestPutMetricsRefusesBadBatches(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	good := doraBatch(at("2026-06-09T06:00:00Z"))
	dup := doraFixture()
	dup[3] = dup[2]
	outside := doraFixture()
	outside[1].WeekStart = day("2026-06-15")
	notMonday := doraFixture()
	notMonday[1].WeekStart = day("2026-06-09")

	cases := []struct {
		name  string
		batch func(postgres.MetricBatch) postgres.MetricBatch
		rows  []metrics.DORARow
		field string
	}{
		{"no enterprise", func(b postgres.MetricBatch) postgres.MetricBatch { b.EnterpriseID = ""; return b }, doraFixture(), "enterprise_id"},
		{"window not weeks", func(b postgres.MetricBatch) postgres.MetricBatch { b.FirstWeek = day("2026-06-02"); return b }, doraFixture(), "weeks"},
		{"reversed window", func(b postgres.MetricBatch) postgres.MetricBatch {
			b.FirstWeek, b.LastWeek = b.LastWeek, b.FirstWeek
			return b
		}, doraFixture(), "weeks"},
		{"no computed_at", func(b postgres.MetricBatch) postgres.MetricBatch { b.ComputedAt = time.Time{}; return b }, doraFixture(), "computed_at"},
		{"no signal", func(b postgres.MetricBatch) postgres.MetricBatch { b.DeploymentSignal = ""; return b }, doraFixture(), "deployment_signal"},
		{"week outside the window", func(b postgres.MetricBatch) postgres.MetricBatch { return b }, outside, "rows[1].week_start"},
		{"week not a Monday", func(b postgres.MetricBatch) postgres.MetricBatch { return b }, notMonday, "rows[1].week_start"},
		{"duplicate key", func(b postgres.MetricBatch) postgres.MetricBatch { return b }, dup, "rows[3]"},
	}
	for _, tc := range cases {
		_, err := s.PutDORAMetrics(t.Context(), tc.batch(good), tc.rows)
		if err == nil || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.field)
		}
	}
	if _, err := s.PutVelocityMetrics(t.Context(), postgres.MetricBatch{EnterpriseID: "ent1", FirstWeek: day("2026-06-01"),
		LastWeek: day("2026-06-01"), ComputedAt: at("2026-06-09T06:00:00Z")},
		[]metrics.VelocityRow{{ScopeType: "repository", Scope: "a/b", WeekStart: day("2026-06-08")}}); err == nil {
		t.Error("velocity: a row outside the window was accepted")
	}
	if n := len(textRows(t, s, `SELECT scope FROM dora_metrics UNION ALL SELECT scope FROM velocity_metrics`)); n != 0 {
		t.Errorf("%d rows written by refused batches", n)
	}
}
