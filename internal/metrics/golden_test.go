package metrics

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the calculators' output")

func goldenOptions(t testing.TB) Options {
	opts := testOptions(t)
	opts.To = at(t, "2025-03-30T23:59:59Z")
	opts.HotfixPattern = nil
	opts.Bots = NewBotClassifier(nil)
	return opts
}

func TestGoldenDORA(t *testing.T) {
	t.Parallel()
	opts := goldenOptions(t)
	opts.HotfixPattern = mustHotfixPattern(t)
	opts.RolloutWindow = DefaultRolloutWindow
	rows, err := CalculateDORA(goldenDataset(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString("scope_type;scope;week_start;deployments;deployment_days;lead_time_p50_hours;lead_time_p90_hours;lead_time_n;" +
		"failed_deployments;change_failure_rate;recovery_time_p50_hours;recovery_n;rework_deployments;rework_rate;" +
		"deployment_frequency_level;lead_time_level;change_failure_level;recovery_level;performance_level;thresholds_version;metric_version;" +
		"failed_attempts;unrecovered_failures;repos_elite;repos_high;repos_medium;repos_low\n")
	for _, r := range rows {
		writeFields(&b, r.ScopeType, r.Scope, day(r.WeekStart), r.Deployments, r.DeploymentDays,
			r.LeadTimeP50Hours, r.LeadTimeP90Hours, r.LeadTimeN, r.FailedDeployments, r.ChangeFailureRate,
			r.RecoveryTimeP50Hours, r.RecoveryN, r.ReworkDeployments, r.ReworkRate,
			string(r.DeploymentFrequencyLevel), string(r.LeadTimeLevel), string(r.ChangeFailureLevel), string(r.RecoveryLevel),
			string(r.PerformanceLevel), r.ThresholdsVersion, r.MetricVersion,
			r.FailedAttempts, r.UnrecoveredFailures, r.ReposElite, r.ReposHigh, r.ReposMedium, r.ReposLow)
	}
	checkGolden(t, "dora.golden", b.Bytes())
}

func TestGoldenVelocity(t *testing.T) {
	t.Parallel()
	rows, err := CalculateVelocity(goldenDataset(t), goldenOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString("scope_type;scope;week_start;prs_opened;prs_merged;prs_closed_unmerged;pr_cycle_time_p50_hours;pr_cycle_time_p90_hours;pr_cycle_time_n;" +
		"coding_time_p50_hours;coding_time_n;pickup_time_p50_hours;pickup_time_n;review_time_p50_hours;review_time_n;" +
		"deploy_time_p50_hours;deploy_time_n;prs_merged_without_review;pr_size_p50;pr_size_n;commits;active_contributors;" +
		"workflow_runs;workflow_completed_runs;workflow_success_rate;workflow_duration_p50_seconds;workflow_duration_n;metric_version\n")
	for _, r := range rows {
		writeFields(&b, r.ScopeType, r.Scope, day(r.WeekStart), r.PRsOpened, r.PRsMerged, r.PRsClosedUnmerged,
			r.PRCycleTimeP50Hours, r.PRCycleTimeP90Hours, r.PRCycleTimeN, r.CodingTimeP50Hours, r.CodingTimeN,
			r.PickupTimeP50Hours, r.PickupTimeN, r.ReviewTimeP50Hours, r.ReviewTimeN, r.DeployTimeP50Hours, r.DeployTimeN,
			r.PRsMergedWithoutReview, r.PRSizeP50, r.PRSizeN, r.Commits, r.ActiveContributors,
			r.WorkflowRuns, r.WorkflowCompletedRuns, r.WorkflowSuccessRate, r.WorkflowDurationP50Seconds, r.WorkflowDurationN,
			r.MetricVersion)
	}
	checkGolden(t, "velocity.golden", b.Bytes())
}

func mustHotfixPattern(t testing.TB) *regexp.Regexp {
	t.Helper()
	return regexp.MustCompile(`(?i)^hotfix|^hotfix/`)
}

func day(t time.Time) string { return t.Format(time.DateOnly) }

// writeFields writes one ';'-separated line; a nil number is an empty field (NULL).
func writeFields(b *bytes.Buffer, fields ...any) {
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(';')
		}
		switch v := f.(type) {
		case string:
			b.WriteString(v)
		case int:
			b.WriteString(strconv.Itoa(v))
		case *float64:
			if v != nil {
				// Six decimals: enough to check the arithmetic, stable across platforms.
				b.WriteString(strconv.FormatFloat(*v, 'f', 6, 64))
			}
		default:
			panic(fmt.Sprintf("writeFields: unexpected %T", f))
		}
	}
	b.WriteByte('\n')
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
		for i := 0; i < len(wl) || i < len(gl); i++ {
			var w, g string
			if i < len(wl) {
				w = wl[i]
			}
			if i < len(gl) {
				g = gl[i]
			}
			if w != g {
				t.Errorf("%s line %d:\nwant %s\ngot  %s", path, i+1, w, g)
			}
		}
		t.Errorf("%s differs; if the change is intended, run go test ./internal/metrics -run Golden -update and review the diff", path)
	}
}
