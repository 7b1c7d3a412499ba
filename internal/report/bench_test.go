package report

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"
)

// benchFiles builds the exported files of a tenant of the benchmark world's size: two
// enterprises of 20 organizations × 50 repositories (2,000 repositories), 26 weeks of
// DORA and velocity rows for every scope, and 400 days of Copilot rows for the
// enterprises and organizations.
func benchFiles() map[string][]byte {
	files := map[string][]byte{}
	week0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	scopesOf := func(ent int) []string {
		out := []string{fmt.Sprintf("ent%d;enterprise;corp%d", ent, ent)}
		for o := range 20 {
			out = append(out, fmt.Sprintf("ent%d;organization;org%02d", ent, o))
		}
		for o := range 20 {
			for r := range 50 {
				out = append(out, fmt.Sprintf("ent%d;repository;org%02d/repo%02d", ent, o, r))
			}
		}
		return out
	}
	var dora, vel, cop bytes.Buffer
	dora.WriteString("\uFEFFenterprise_id;scope_type;scope;week_start;deployments;deployment_days;lead_time_p50_hours;lead_time_p90_hours;change_failure_rate;recovery_time_p50_hours;rework_rate;performance_level;metric_version;lead_time_n;failed_deployments;recovery_n;rework_deployments;deployment_frequency_level;lead_time_level;change_failure_level;recovery_level;thresholds_version;failed_attempts;unrecovered_failures;repos_elite;repos_high;repos_medium;repos_low\r\n")
	vel.WriteString("\uFEFFenterprise_id;scope_type;scope;week_start;prs_opened;prs_merged;prs_closed_unmerged;pr_cycle_time_p50_hours;pickup_time_p50_hours;review_time_p50_hours;prs_merged_without_review;commits;active_contributors;workflow_runs;workflow_success_rate;metric_version;pr_cycle_time_p90_hours;pr_cycle_time_n;coding_time_p50_hours;coding_time_n;pickup_time_n;review_time_n;deploy_time_p50_hours;deploy_time_n;pr_size_p50;pr_size_n;workflow_completed_runs;workflow_duration_p50_seconds\r\n")
	cop.WriteString("\uFEFFenterprise_id;scope_type;scope;date;daily_active_users;weekly_active_users;monthly_active_users;user_initiated_interactions;code_generations;code_acceptances;completion_acceptance_rate;loc_suggested_to_add;loc_added;seats_total;seats_active_30d;monthly_active_chat_users;monthly_active_agent_users;chat_interactions;agent_interactions\r\n")
	for ent := range 2 {
		for i, s := range scopesOf(ent) {
			for w := range 26 {
				d := week0.AddDate(0, 0, 7*w).Format(time.DateOnly)
				fmt.Fprintf(&dora, "%s;%s;%d;%d;%d.25;%d.75;0.%04d;%d.50;0.1000;high;2;%d;1;1;1;high;elite;low;high;2024;0;0;1;2;3;4\r\n",
					s, d, w+i%7, (w+i)%6, w+3, w+40, (w*37+i)%10000, w+2, w+5)
				fmt.Fprintf(&vel, "%s;%s;%d;%d;0;%d.5;3.25;2.00;1;10;5;20;0.9500;2;30.00;%d;4.00;%d;%d;%d;6.00;%d;120.00;%d;18;300.00\r\n",
					s, d, w+4, w+3, w+10, w+3, w+3, w+2, w+2, w+3, w+3)
			}
			if i > 20 {
				continue // Copilot rows are per enterprise and organization
			}
			for day := range 400 {
				d := week0.AddDate(0, 0, day-200).Format(time.DateOnly)
				fmt.Fprintf(&cop, "%s;%s;%d;%d;%d;100;900;300;0.%04d;1000;400;120;90;30;10;50;12\r\n", s, d, 40+day%9, 60, 80, 3000+day)
			}
		}
	}
	files[KindDORA], files[KindVelocity], files[KindCopilot] = dora.Bytes(), vel.Bytes(), cop.Bytes()
	return files
}

// Loading and rendering a tenant of the benchmark world's size:
//
//	go test ./internal/report -run '^$' -bench Report -benchmem
func BenchmarkReport(b *testing.B) {
	files := benchFiles()
	var size int
	for _, f := range files {
		size += len(f)
	}
	open := func(kind string) (io.ReadCloser, error) {
		if f, ok := files[kind]; ok {
			return io.NopCloser(bytes.NewReader(f)), nil
		}
		return nil, fs.ErrNotExist
	}
	b.SetBytes(int64(size))
	var out bytes.Buffer
	for b.Loop() {
		tables, err := Load(open, func(err error) bool { return strings.Contains(err.Error(), "not exist") })
		if err != nil {
			b.Fatal(err)
		}
		out.Reset()
		if err := Render(&out, Data{ExportDate: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), Tables: tables}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(out.Len()), "page_bytes")
}
