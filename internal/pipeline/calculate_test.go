package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"

	"metrics-collector/internal/config"
	"metrics-collector/internal/github"
	"metrics-collector/internal/githubsim"
	"metrics-collector/internal/memwatch"
	"metrics-collector/internal/metrics"
	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
	"metrics-collector/internal/server"
)

// calcNow is the clock of the tests that call a stage directly: Thursday 2026-11-26,
// so the current week starts Monday 2026-11-23 and the default 12 weeks start
// 2026-09-07. Calls through the routes run on the real clock (the server derives the
// call's context deadline from it) and name their weeks with since and until.
var calcNow = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)

// calcWindow is those 12 weeks as a request body.
const calcWindow = `{"enterprise":"ent1","since":"2026-09-07","until":"2026-11-26"}`

// calcEnterprises configures ent1 with its organizations spelt differently from the
// data (GitHub logins are case-insensitive) and a bot login of its own, and ent2 with
// the workflow deployment signal and no slug.
const calcEnterprises = `[
 {"id":"ent1","enterprise":"contoso","orgs":["Contoso-Web","contoso-data"],"token_secret":"github-pat-ent1",
  "bot_logins":["release-robot"]},
 {"id":"ent2","orgs":["fabrikam"],"token_secret":"github-pat-ent2",
  "deployment_signal":"workflows","deploy_workflows":["deploy.yml"]}]`

func calcConfig(t testing.TB, enterprises string) config.Config {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL":          "postgres://postgres@127.0.0.1:5432/unused?sslmode=disable",
		"COLLECTOR_ENTERPRISES": enterprises,
	}
	cfg, err := config.Parse(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func calcOptions(store pipeline.MetricsStore, cfg config.Config, now func() time.Time) pipeline.CalculateOptions {
	return pipeline.CalculateOptions{
		Store: store, FailureWindow: cfg.FailureWindow, ThresholdsVersion: cfg.ThresholdsVersion,
		RecomputeWeeks: cfg.RecomputeWeeks, Now: now,
	}
}

// calcServer serves the real routes with both calculate stages (and any others given),
// on the real clock.
func calcServer(t testing.TB, store *postgres.Store, cfg config.Config, more ...pipeline.Stage) string {
	t.Helper()
	stages := append([]pipeline.Stage{
		pipeline.NewDORAStage(calcOptions(store, cfg, time.Now)),
		pipeline.NewVelocityStage(calcOptions(store, cfg, time.Now)),
	}, more...)
	srv := httptest.NewServer(server.New(server.Options{
		Log: slog.New(slog.DiscardHandler), Store: store, Config: cfg, Stages: stages,
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func calcPost(t testing.TB, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("answer is not JSON: %q", raw)
	}
	return resp.StatusCode, m
}

func calcRows(t testing.TB, s *postgres.Store, query string, args ...any) []string {
	t.Helper()
	rows, err := s.Pool().Query(context.Background(), query, args...)
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

// seedCalcScenario stores a small, hand-checked history of contoso-web/shop (see
// docs/metrics.md for the definitions; the expected figures are worked out in
// TestCalculateStagesThroughTheRoutes) and an archived, idle contoso-web/attic.
func seedCalcScenario(t testing.TB, s *postgres.Store) {
	t.Helper()
	sqlExec(t, s, `INSERT INTO repositories (enterprise_id, id, org, name, full_name, default_branch, archived)
		VALUES ('ent1', 1, 'contoso-web', 'shop', 'contoso-web/shop', 'main', false),
		       ('ent1', 2, 'contoso-web', 'attic', 'contoso-web/attic', 'main', true)`)
	// D0 long before the window (the deployment-frequency level looks back 182 days),
	// D1 Monday and D2 Wednesday of the week of 2026-11-16, and a staging deployment
	// that is no production deployment.
	sqlExec(t, s, `INSERT INTO deployments (enterprise_id, repo_id, signal, deployment_id, sha, environment, production, created_at)
		VALUES ('ent1', 1, 'deployment', 100, 's0', 'production', true, '2026-05-04T10:00:00Z'),
		       ('ent1', 1, 'deployment', 101, 's1', 'production', true, '2026-11-16T09:00:00Z'),
		       ('ent1', 1, 'deployment', 102, 'm4', 'production', true, '2026-11-18T09:00:00Z'),
		       ('ent1', 1, 'deployment', 103, 'm4', 'staging', false, '2026-11-19T09:00:00Z')`)
	sqlExec(t, s, `INSERT INTO deployment_statuses (enterprise_id, repo_id, signal, deployment_id, status_id, state, created_at)
		VALUES ('ent1', 1, 'deployment', 100, 1, 'success', '2026-05-04T10:30:00Z'),
		       ('ent1', 1, 'deployment', 101, 2, 'in_progress', '2026-11-16T09:30:00Z'),
		       ('ent1', 1, 'deployment', 101, 3, 'success', '2026-11-16T10:00:00Z'),
		       ('ent1', 1, 'deployment', 102, 4, 'success', '2026-11-18T10:00:00Z'),
		       ('ent1', 1, 'deployment', 103, 5, 'success', '2026-11-19T10:00:00Z')`)
	sqlExec(t, s, `INSERT INTO deployment_changes (enterprise_id, repo_id, signal, deployment_id, sha, author_login, authored_at, message_headline)
		VALUES ('ent1', 1, 'deployment', 101, 's1', 'ana', '2026-11-15T10:00:00Z', 'Add cart (#1)'),
		       ('ent1', 1, 'deployment', 102, 'm4', 'erin', '2026-11-16T11:00:00Z', 'hotfix: cart rounding (#4)'),
		       ('ent1', 1, 'deployment', 102, 'd1', 'carol', '2026-11-18T08:00:00Z', 'Tune cache')`)
	// PR 1 squash-merged and deployed by D1; PR 2 by Dependabot; PR 3 closed unmerged;
	// PR 4 a hotfix reviewed only by the configured bot, deployed by D2.
	sqlExec(t, s, `INSERT INTO pull_requests (enterprise_id, repo_id, number, id, author_login, title, state, base_ref, head_ref,
		created_at, updated_at, closed_at, merged_at, merge_commit_sha, additions, deletions)
		VALUES ('ent1', 1, 1, 11, 'ana', 'Add cart', 'closed', 'main', 'cart',
		        '2026-11-15T12:00:00Z', '2026-11-16T08:00:00Z', '2026-11-16T08:00:00Z', '2026-11-16T08:00:00Z', 's1', 30, 10),
		       ('ent1', 1, 2, 12, 'dependabot[bot]', 'Bump lodash', 'closed', 'main', 'dependabot/npm/lodash',
		        '2026-11-17T09:00:00Z', '2026-11-17T10:00:00Z', '2026-11-17T10:00:00Z', '2026-11-17T10:00:00Z', 'b2', 1, 1),
		       ('ent1', 1, 3, 13, 'dave', 'Try a new layout', 'closed', 'main', 'layout',
		        '2026-11-19T09:00:00Z', '2026-11-20T09:00:00Z', '2026-11-20T09:00:00Z', NULL, '', 50, 0),
		       ('ent1', 1, 4, 14, 'erin', 'hotfix: cart rounding', 'closed', 'main', 'fix-rounding',
		        '2026-11-16T12:00:00Z', '2026-11-17T12:00:00Z', '2026-11-17T12:00:00Z', '2026-11-17T12:00:00Z', 'm4', 5, 5)`)
	sqlExec(t, s, `INSERT INTO pull_request_commits (enterprise_id, repo_id, pr_number, sha, author_login, authored_at, message_headline)
		VALUES ('ent1', 1, 1, 'c1', 'ana', '2026-11-15T10:00:00Z', 'Add cart'),
		       ('ent1', 1, 4, 'e1', 'erin', '2026-11-16T11:00:00Z', 'Round cart totals')`)
	sqlExec(t, s, `INSERT INTO pull_request_reviews (enterprise_id, repo_id, pr_number, review_id, reviewer_login, state, submitted_at)
		VALUES ('ent1', 1, 1, 1, 'bo', 'APPROVED', '2026-11-16T07:00:00Z'),
		       ('ent1', 1, 2, 2, 'carol', 'APPROVED', '2026-11-17T09:30:00Z'),
		       ('ent1', 1, 4, 3, 'release-robot', 'APPROVED', '2026-11-17T10:00:00Z')`)
	// The incident blames D2 (the latest deployment before it) and closes 3 hours later.
	sqlExec(t, s, `INSERT INTO incidents (enterprise_id, repo_id, number, title, labels, created_at, closed_at)
		VALUES ('ent1', 1, 50, 'Cart totals wrong', '{incident}', '2026-11-18T12:00:00Z', '2026-11-18T15:00:00Z')`)
	sqlExec(t, s, `INSERT INTO commits (enterprise_id, repo_id, sha, author_login, authored_at, committed_at, message_headline, parent_count)
		VALUES ('ent1', 1, 's1', 'ana', '2026-11-15T10:00:00Z', '2026-11-16T08:00:00Z', 'Add cart (#1)', 1),
		       ('ent1', 1, 'b2', 'dependabot[bot]', '2026-11-17T09:00:00Z', '2026-11-17T10:00:00Z', 'Bump lodash (#2)', 1),
		       ('ent1', 1, 'r1', 'release-robot', '2026-11-17T11:00:00Z', '2026-11-17T11:00:00Z', 'Release notes', 1),
		       ('ent1', 1, 'm4', 'erin', '2026-11-16T11:00:00Z', '2026-11-17T12:00:00Z', 'hotfix: cart rounding (#4)', 1),
		       ('ent1', 1, 'd1', 'carol', '2026-11-18T08:00:00Z', '2026-11-18T08:00:00Z', 'Tune cache', 1),
		       ('ent1', 1, 'mm', 'ana', '2026-11-18T08:30:00Z', '2026-11-18T08:30:00Z', 'Merge branch release', 2)`)
	sqlExec(t, s, `INSERT INTO workflow_runs (enterprise_id, repo_id, run_id, workflow_id, status, conclusion, created_at, updated_at, run_started_at)
		VALUES ('ent1', 1, 1, 9, 'completed', 'success', '2026-11-16T08:01:00Z', '2026-11-16T08:07:00Z', '2026-11-16T08:02:00Z'),
		       ('ent1', 1, 2, 9, 'completed', 'failure', '2026-11-18T08:01:00Z', '2026-11-18T08:03:00Z', '2026-11-18T08:01:00Z'),
		       ('ent1', 1, 3, 9, 'in_progress', '', '2026-11-18T09:00:00Z', '2026-11-18T09:01:00Z', '2026-11-18T09:00:00Z'),
		       ('ent1', 1, 4, 9, 'completed', 'skipped', '2026-11-19T09:00:00Z', '2026-11-19T09:00:00Z', NULL)`)
}

const sqlCalcDORAText = `
SELECT concat_ws('|', scope_type, scope, week_start, deployments, deployment_days,
       coalesce(lead_time_p50_hours::text, '-'), coalesce(lead_time_p90_hours::text, '-'), lead_time_n,
       failed_deployments, coalesce(change_failure_rate::text, '-'),
       coalesce(recovery_time_p50_hours::text, '-'), recovery_n,
       rework_deployments, coalesce(rework_rate::text, '-'),
       coalesce(deployment_frequency_level, '-'), coalesce(lead_time_level, '-'),
       coalesce(change_failure_level, '-'), coalesce(recovery_level, '-'), coalesce(performance_level, '-'),
       thresholds_version, deployment_signal, metric_version,
       failed_attempts, unrecovered_failures, repos_elite, repos_high, repos_medium, repos_low)
FROM dora_metrics WHERE enterprise_id = $1 AND scope = $2 AND week_start = ANY($3::date[])
ORDER BY week_start`

const sqlCalcVelocityText = `
SELECT concat_ws('|', scope_type, scope, week_start, prs_opened, prs_merged, prs_closed_unmerged,
       coalesce(pr_cycle_time_p50_hours::text, '-'), coalesce(pr_cycle_time_p90_hours::text, '-'), pr_cycle_time_n,
       coalesce(coding_time_p50_hours::text, '-'), coding_time_n, coalesce(pickup_time_p50_hours::text, '-'), pickup_time_n,
       coalesce(review_time_p50_hours::text, '-'), review_time_n, coalesce(deploy_time_p50_hours::text, '-'), deploy_time_n,
       prs_merged_without_review, coalesce(pr_size_p50::text, '-'), pr_size_n, commits, active_contributors,
       workflow_runs, workflow_completed_runs, coalesce(workflow_success_rate::text, '-'),
       coalesce(workflow_duration_p50_seconds::text, '-'), workflow_duration_n, metric_version)
FROM velocity_metrics WHERE enterprise_id = $1 AND scope = $2 AND week_start = ANY($3::date[])
ORDER BY week_start`

// scopeWeeks lists every (scope type, scope) with its number of weeks.
const sqlCalcScopeWeeks = `
SELECT concat_ws('|', scope_type, scope, count(*), min(week_start), max(week_start))
FROM %s WHERE enterprise_id = 'ent1' GROUP BY scope_type, scope ORDER BY scope_type, scope`

func TestCalculateStagesThroughTheRoutes(t *testing.T) {
	t.Parallel()
	store := pgtest.New(t)
	seedCalcScenario(t, store)
	cfg := calcConfig(t, calcEnterprises)
	url := calcServer(t, store, cfg)

	for _, stage := range []string{"calculate_dora", "calculate_velocity"} {
		status, body := calcPost(t, url+"/api/"+stage, calcWindow)
		// 5 scopes (enterprise, 2 organizations, 2 repositories) × 12 weeks.
		if status != 200 || body["status"] != "succeeded" || body["done"] != true || body["cursor"] != nil || body["records"] != 60.0 {
			t.Fatalf("%s: %d %v", stage, status, body)
		}
	}

	// A row for every scope and week; the configured "Contoso-Web" is the stored
	// "contoso-web", and contoso-data has rows although it has no repositories.
	for _, table := range []string{"dora_metrics", "velocity_metrics"} {
		want := []string{
			"enterprise|contoso|12|2026-09-07|2026-11-23",
			"organization|contoso-data|12|2026-09-07|2026-11-23",
			"organization|contoso-web|12|2026-09-07|2026-11-23",
			"repository|contoso-web/attic|12|2026-09-07|2026-11-23",
			"repository|contoso-web/shop|12|2026-09-07|2026-11-23",
		}
		if diff := cmp.Diff(want, calcRows(t, store, strings.Replace(sqlCalcScopeWeeks, "%s", table, 1))); diff != "" {
			t.Errorf("%s scopes and weeks (-want +got):\n%s", table, diff)
		}
	}

	// DORA of shop. Week of 11-16: D1 (lead 24 h: PR 1's first commit Sun 10:00 → Mon
	// 10:00) and D2 (PR 4 47 h, the direct push d1 2 h) on two days → p50 24, p90 42.4.
	// D2 carries the hotfix: D1 failed, restored by D2 48 h later, and D2 is rework; the
	// incident fails D2, restored at its close 5 h after D2 finished. Recovery p50 26.5
	// (low). (metric_version 1: only D2 failed, 0.5, recovering in 3 h from the incident's
	// opening.) Week of 11-23: no deployment, the last 5 days before → medium. Weeks of
	// 09-07 and 10-26: D0 (2026-05-04) is within 182 days of their end → low; week of
	// 11-02: no longer.
	weeks := []string{"2026-09-07", "2026-10-26", "2026-11-02", "2026-11-16", "2026-11-23"}
	wantDORA := []string{
		"repository|contoso-web/shop|2026-09-07|0|0|-|-|0|0|-|-|0|0|-|low|-|-|-|low|2024|deployment|2|0|0|0|0|0|1",
		"repository|contoso-web/shop|2026-10-26|0|0|-|-|0|0|-|-|0|0|-|low|-|-|-|low|2024|deployment|2|0|0|0|0|0|1",
		"repository|contoso-web/shop|2026-11-02|0|0|-|-|0|0|-|-|0|0|-|-|-|-|-|-|2024|deployment|2|0|0|0|0|0|0",
		"repository|contoso-web/shop|2026-11-16|2|2|24|42.4|3|2|1|26.5|2|1|0.5|high|high|low|low|low|2024|deployment|2|0|0|0|0|0|1",
		"repository|contoso-web/shop|2026-11-23|0|0|-|-|0|0|-|-|0|0|-|medium|-|-|-|medium|2024|deployment|2|0|0|0|0|1|0",
	}
	if diff := cmp.Diff(wantDORA, calcRows(t, store, sqlCalcDORAText, "ent1", "contoso-web/shop", weeks)); diff != "" {
		t.Errorf("dora_metrics of contoso-web/shop (-want +got):\n%s", diff)
	}
	// The organization and the enterprise pool the same single repository's figures, and
	// rate it alone (attic has no level).
	for _, scope := range []string{"contoso-web", "contoso"} {
		got := calcRows(t, store, sqlCalcDORAText, "ent1", scope, weeks)
		for i := range got {
			_, rest, _ := strings.Cut(wantDORA[i], "|contoso-web/shop|")
			if !strings.HasSuffix(got[i], "|"+scope+"|"+rest) {
				t.Errorf("dora_metrics of %s: %s, want the repository's figures %s", scope, got[i], rest)
			}
		}
	}
	// Scopes without any activity: counts 0, everything else NULL, never 0.
	for _, scope := range []string{"contoso-data", "contoso-web/attic"} {
		for _, line := range calcRows(t, store, sqlCalcDORAText, "ent1", scope, weeks) {
			if !strings.HasSuffix(line, "|0|0|-|-|0|0|-|-|0|0|-|-|-|-|-|-|2024|deployment|2|0|0|0|0|0|0") {
				t.Errorf("idle scope row %s", line)
			}
		}
	}

	// Velocity of shop. Week of 11-09: PR 1 opened (Sunday). Week of 11-16: PRs 3 and
	// 4 opened; 1 and 4 merged (cycle 20 and 24 h; coding 2 and 1 h; sizes 40 and 10;
	// deployed after 2 and 22 h); PR 1 picked up after 19 h and merged 1 h after its
	// review; PR 4 reviewed only by the configured bot; PR 3 closed unmerged; the
	// Dependabot PR left out. Commits s1, m4, d1 (not the bots', not the merge commit).
	// People: ana, erin, carol (commits), dave (opened), bo (reviewed); carol also
	// reviewed the Dependabot PR. Runs: 4 created, 2 completed (not skipped), 1 success,
	// durations 300 and 120 s.
	wantVelocity := []string{
		"repository|contoso-web/shop|2026-11-09|1|0|0|-|-|0|-|0|-|0|-|0|-|0|0|-|0|0|1|0|0|-|-|0|2",
		"repository|contoso-web/shop|2026-11-16|2|2|1|22|23.6|2|1.5|2|19|1|1|1|12|2|1|25|2|3|5|4|2|0.5|210|2|2",
		"repository|contoso-web/shop|2026-11-23|0|0|0|-|-|0|-|0|-|0|-|0|-|0|0|-|0|0|0|0|0|-|-|0|2",
	}
	if diff := cmp.Diff(wantVelocity, calcRows(t, store, sqlCalcVelocityText, "ent1", "contoso-web/shop",
		[]string{"2026-11-09", "2026-11-16", "2026-11-23"})); diff != "" {
		t.Errorf("velocity_metrics of contoso-web/shop (-want +got):\n%s", diff)
	}
}

// rowVersions maps each row of a metric table to its xmin and computed_at: a row an
// upsert rewrote has a new xmin even when its values are the same.
func rowVersions(t testing.TB, s *postgres.Store, table string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range calcRows(t, s, `SELECT concat_ws('|', enterprise_id, scope_type, scope, week_start, xmin, computed_at) FROM `+table) {
		parts := strings.Split(line, "|")
		out[strings.Join(parts[:4], "|")] = strings.Join(parts[4:], "|")
	}
	return out
}

func TestCalculateAgainRewritesOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	store := pgtest.New(t)
	seedCalcScenario(t, store)
	cfg := calcConfig(t, calcEnterprises)
	url := calcServer(t, store, cfg)

	run := func(stage, body string) {
		t.Helper()
		if status, resp := calcPost(t, url+"/api/"+stage, body); status != 200 || resp["status"] != "succeeded" {
			t.Fatalf("%s %s: %d %v", stage, body, status, resp)
		}
	}
	run("calculate_dora", calcWindow)
	run("calculate_velocity", calcWindow)
	dora, velocity := rowVersions(t, store, "dora_metrics"), rowVersions(t, store, "velocity_metrics")
	firstComputed := calcRows(t, store, `SELECT max(computed_at)::text FROM dora_metrics`)[0]

	// Again, with nothing new: no row is rewritten.
	run("calculate_dora", calcWindow)
	run("calculate_velocity", calcWindow)
	if diff := cmp.Diff(dora, rowVersions(t, store, "dora_metrics")); diff != "" {
		t.Errorf("dora_metrics rewritten by a recomputation of unchanged data (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(velocity, rowVersions(t, store, "velocity_metrics")); diff != "" {
		t.Errorf("velocity_metrics rewritten by a recomputation of unchanged data (-before +after):\n%s", diff)
	}

	// The incident closes an hour later than first recorded, and the idle repository
	// leaves the organization. Recomputing only the week of 11-16 changes that week's
	// recovery time for shop, its organization and the enterprise, and drops attic's
	// row of that week; every other row keeps its version.
	sqlExec(t, store, `UPDATE incidents SET closed_at = '2026-11-18T16:00:00Z' WHERE number = 50`)
	sqlExec(t, store, `DELETE FROM repositories WHERE full_name = 'contoso-web/attic'`)
	run("calculate_dora", `{"enterprise":"ent1","since":"2026-11-18","until":"2026-11-19"}`)
	after := rowVersions(t, store, "dora_metrics")
	for key, v := range dora {
		week16 := strings.HasSuffix(key, "|2026-11-16")
		switch {
		case week16 && strings.Contains(key, "|contoso-web/attic|"):
			if _, ok := after[key]; ok {
				t.Errorf("%s: the removed repository's row in the window was kept", key)
			}
		case week16 && !strings.Contains(key, "|contoso-data|"):
			_, computed, _ := strings.Cut(after[key], "|")
			if after[key] == v || computed <= firstComputed {
				t.Errorf("%s: version %q → %q, want a rewrite stamped with the new computation", key, v, after[key])
			}
		default:
			if after[key] != v {
				t.Errorf("%s: version %q → %q, want it untouched", key, v, after[key])
			}
		}
	}
	got := calcRows(t, store, sqlCalcDORAText, "ent1", "contoso-web/shop", []string{"2026-11-16"})
	// Recovery samples 48 h (D1, restored by the hotfix) and now 6 h (D2, restored at
	// the incident's close): p50 27 h.
	if len(got) != 1 || !strings.Contains(got[0], "|2|1|27|2|1|0.5|") {
		t.Errorf("recomputed week = %v, want recovery p50 27 h", got)
	}
}

func TestCalculateBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	store := pgtest.New(t)
	seedCalcScenario(t, store)
	url := calcServer(t, store, calcConfig(t, calcEnterprises))
	future := time.Now().UTC().AddDate(0, 0, 2).Format(time.DateOnly)

	for _, tc := range []struct {
		name, stage, body string
		status            int
		field             string
	}{
		{"cursor", "calculate_dora", `{"enterprise":"ent1","cursor":"week:2026-11-16"}`, 400, "cursor"},
		{"cursor", "calculate_velocity", `{"enterprise":"ent1","cursor":"x"}`, 400, "cursor"},
		{"window too long", "calculate_dora", `{"enterprise":"ent1","since":"2020-01-01"}`, 400, "since"},
		{"window too long", "calculate_velocity", `{"enterprise":"ent1","since":"2019-01-01","until":"2024-12-31"}`, 400, "since"},
		{"since after until", "calculate_dora", `{"enterprise":"ent1","since":"2026-11-20","until":"2026-11-02"}`, 400, "since"},
		{"until in the future", "calculate_velocity", `{"enterprise":"ent1","until":"` + future + `"}`, 400, "until"},
		{"not a date", "calculate_dora", `{"enterprise":"ent1","since":"last monday"}`, 400, "since"},
		{"no enterprise", "calculate_dora", `{}`, 400, "enterprise"},
		{"unknown enterprise", "calculate_velocity", `{"enterprise":"ent7"}`, 404, "enterprise"},
		{"shards", "calculate_dora", `{"enterprise":"ent1","shard":0,"shards":2}`, 400, "shards"},
	} {
		status, body := calcPost(t, url+"/api/"+tc.stage, tc.body)
		msg, _ := body["error"].(string)
		if status != tc.status || !strings.HasPrefix(msg, tc.field+":") {
			t.Errorf("%s %s: %d %q, want %d naming %s", tc.stage, tc.name, status, msg, tc.status, tc.field)
		}
	}
	for _, table := range []string{"dora_metrics", "velocity_metrics", "stage_calls"} {
		if rows := calcRows(t, store, `SELECT count(*)::text FROM `+table); rows[0] != "0" {
			t.Errorf("%s has %s rows after bad input", table, rows[0])
		}
	}
}

func TestCalculateValidate(t *testing.T) {
	t.Parallel()
	stage := pipeline.NewDORAStage(pipeline.CalculateOptions{RecomputeWeeks: 12})
	if stage.Name() != "calculate_dora" || !stage.PerEnterprise() {
		t.Fatalf("stage %s, per enterprise %v", stage.Name(), stage.PerEnterprise())
	}
	if v := pipeline.NewVelocityStage(pipeline.CalculateOptions{}); v.Name() != "calculate_velocity" || !v.PerEnterprise() {
		t.Fatalf("stage %s, per enterprise %v", v.Name(), v.PerEnterprise())
	}
	date := func(s string) *time.Time {
		d, _ := time.Parse(time.DateOnly, s)
		return &d
	}
	for _, tc := range []struct {
		name  string
		req   pipeline.Request
		field string // "" = accepted
	}{
		{"defaults", pipeline.Request{Now: calcNow}, ""},
		{"any day of a week", pipeline.Request{Now: calcNow, Since: date("2026-11-22"), Until: date("2026-11-22")}, ""},
		{"exactly 260 weeks", pipeline.Request{Now: calcNow, Since: date("2021-11-29"), Until: date("2026-11-22")}, ""},
		{"261 weeks", pipeline.Request{Now: calcNow, Since: date("2021-11-28"), Until: date("2026-11-22")}, "since"},
		{"until only", pipeline.Request{Now: calcNow, Until: date("2026-11-22")}, ""},
		{"since after until's week", pipeline.Request{Now: calcNow, Since: date("2026-11-23"), Until: date("2026-11-22")}, "since"},
		{"cursor", pipeline.Request{Now: calcNow, Cursor: "x"}, "cursor"},
	} {
		err := stage.Validate(tc.req)
		var input *pipeline.InputError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (!errors.As(err, &input) || input.Field != tc.field):
			t.Errorf("%s: error %v, want an input error naming %s", tc.name, err, tc.field)
		}
	}
	long := pipeline.NewVelocityStage(pipeline.CalculateOptions{RecomputeWeeks: 300})
	var input *pipeline.InputError
	if err := long.Validate(pipeline.Request{Now: calcNow, Until: date("2026-11-22")}); !errors.As(err, &input) || input.Field != "until" {
		t.Errorf("a default window longer than allowed: %v, want an input error naming until", err)
	}
}

// fakeMetricsStore lets a test see what the stage stores without a database.
type fakeMetricsStore struct {
	repos    []metrics.RepoActivity
	queries  []postgres.ActivityQuery
	batches  []postgres.MetricBatch
	dora     []metrics.DORARow
	velocity []metrics.VelocityRow
}

func (f *fakeMetricsStore) ListRepoActivity(_ context.Context, q postgres.ActivityQuery) ([]metrics.RepoActivity, error) {
	f.queries = append(f.queries, q)
	return f.repos, nil
}

func (f *fakeMetricsStore) PutDORAMetrics(_ context.Context, b postgres.MetricBatch, rows []metrics.DORARow) (postgres.MetricWrite, error) {
	f.batches, f.dora = append(f.batches, b), rows
	return postgres.MetricWrite{Rows: len(rows)}, nil
}

func (f *fakeMetricsStore) GetRecomputeHints(context.Context, string, bool, int) (postgres.RecomputeHints, error) {
	return postgres.RecomputeHints{}, nil
}

func (f *fakeMetricsStore) PutVelocityMetrics(_ context.Context, b postgres.MetricBatch, rows []metrics.VelocityRow) (postgres.MetricWrite, error) {
	f.batches, f.velocity = append(f.batches, b), rows
	return postgres.MetricWrite{Rows: len(rows)}, nil
}

func TestCalculateLoadsTheDataWindow(t *testing.T) {
	t.Parallel()
	cfg := calcConfig(t, calcEnterprises)
	ent2, _ := cfg.Enterprise("ent2")
	f := &fakeMetricsStore{}
	opts := calcOptions(f, cfg, func() time.Time { return calcNow })
	req := pipeline.Request{Enterprise: &ent2, Now: calcNow, Deadline: calcNow.Add(time.Minute)}

	res, err := pipeline.NewDORAStage(opts).Run(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.NewVelocityStage(opts).Run(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	// DORA: from 182 days before the first week (2026-09-07) to the end of the last week
	// (2026-11-30) plus the 7-day failure window. Velocity: the weeks plus that window.
	want := []postgres.ActivityQuery{
		{EnterpriseID: "ent2", Orgs: []string{"fabrikam"}, PresentFrom: time.Date(2026, 9, 7, 0, 0, 0, 0, time.UTC),
			Signal: metrics.SignalWorkflow, From: time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC),
			Incidents: true, RevertCommits: true},
		{EnterpriseID: "ent2", Orgs: []string{"fabrikam"}, PresentFrom: time.Date(2026, 9, 7, 0, 0, 0, 0, time.UTC),
			Signal: metrics.SignalWorkflow, From: time.Date(2026, 9, 7, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC),
			Reviews: true, Commits: true, WorkflowRuns: true},
	}
	if diff := cmp.Diff(want, f.queries); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
	wantBatch := postgres.MetricBatch{EnterpriseID: "ent2", FirstWeek: time.Date(2026, 9, 7, 0, 0, 0, 0, time.UTC),
		LastWeek: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), ComputedAt: calcNow, DeploymentSignal: metrics.SignalWorkflow}
	if len(f.batches) != 2 || f.batches[0] != wantBatch || f.batches[1] != wantBatch {
		t.Errorf("batches %+v, want twice %+v", f.batches, wantBatch)
	}
	// Without a slug the enterprise scope is the configured id; with no repository
	// stored, the enterprise and its organization still get their 12 weeks, and the
	// answer says why there is nothing else.
	if len(f.dora) != 24 || f.dora[0].Scope != "ent2" || f.dora[12].Scope != "fabrikam" || len(f.velocity) != 24 {
		t.Errorf("rows: %d DORA (first %+v), %d velocity", len(f.dora), f.dora[0], len(f.velocity))
	}
	if res.Records != 24 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "collect_repos") {
		t.Errorf("result %+v, want 24 records and a warning naming collect_repos", res)
	}
}

func TestCalculatePastTheDeadlineStoresNothing(t *testing.T) {
	t.Parallel()
	cfg := calcConfig(t, calcEnterprises)
	ent1, _ := cfg.Enterprise("ent1")
	f := &fakeMetricsStore{}
	// The clock moves a minute on every reading: loading "takes" longer than the budget.
	clock := calcNow
	tick := func() time.Time { clock = clock.Add(time.Minute); return clock }
	stage := pipeline.NewDORAStage(calcOptions(f, cfg, tick))
	_, err := stage.Run(t.Context(), pipeline.Request{Enterprise: &ent1, Now: calcNow, Deadline: calcNow.Add(90 * time.Second)})
	if !errors.Is(err, pipeline.ErrUnavailable) {
		t.Errorf("error %v, want one wrapping ErrUnavailable", err)
	}
	if len(f.batches) != 0 {
		t.Errorf("%d batches stored after the deadline", len(f.batches))
	}
}

func TestCalculateRefusesBrokenDataForGood(t *testing.T) {
	t.Parallel()
	store := pgtest.New(t)
	// A repository row whose name is not org/name cannot be computed; retrying will
	// not change that, so the call fails for good (200, status failed) instead of 503.
	sqlExec(t, store, `INSERT INTO repositories (enterprise_id, id, org, name, full_name, default_branch)
		VALUES ('ent1', 1, 'contoso-web', 'shop', 'shop', 'main')`)
	url := calcServer(t, store, calcConfig(t, calcEnterprises))
	status, body := calcPost(t, url+"/api/calculate_dora", calcWindow)
	if status != 200 || body["status"] != "failed" || !strings.Contains(body["error"].(string), `"shop" is not "org/name"`) {
		t.Errorf("%d %v, want 200 failed naming the repository", status, body)
	}
	if rows := calcRows(t, store, `SELECT count(*)::text FROM dora_metrics`); rows[0] != "0" {
		t.Errorf("%s rows stored", rows[0])
	}
}

// storeTruth writes a simulated enterprise's repository data into the tables of
// migrations/0004_repos.sql the way collect_repos stores it (GitHub Deployments
// signal; changes on successful production deployments), with one COPY per table.
func storeTruth(t testing.TB, s *postgres.Store, enterpriseID string, tr githubsim.Truth) {
	t.Helper()
	ctx := context.Background()
	ids := map[string]int64{}
	var rows [][]any
	put := func(table string, columns ...string) {
		t.Helper()
		if _, err := s.Pool().CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows)); err != nil {
			t.Fatalf("copy %s: %v", table, err)
		}
		rows = rows[:0]
	}
	optional := func(at time.Time) *time.Time {
		if at.IsZero() {
			return nil
		}
		return &at
	}

	for _, r := range tr.Repositories {
		ids[r.FullName] = r.ID
		rows = append(rows, []any{enterpriseID, r.ID, r.Org, r.Name, r.FullName, r.DefaultBranch, r.Archived, r.Fork, r.Private,
			optional(r.CreatedAt), optional(r.PushedAt), optional(r.UpdatedAt)})
	}
	put("repositories", "enterprise_id", "id", "org", "name", "full_name", "default_branch", "archived", "fork", "private",
		"created_at", "pushed_at", "updated_at")

	for name, commits := range tr.Commits {
		for _, c := range commits {
			reverts := c.Reverts
			if reverts == nil {
				reverts = []string{}
			}
			rows = append(rows, []any{enterpriseID, ids[name], c.SHA, c.AuthorLogin, c.AuthorName, c.AuthoredAt, c.CommitterLogin,
				c.CommittedAt, c.MessageHeadline, c.ParentCount, reverts})
		}
	}
	put("commits", "enterprise_id", "repo_id", "sha", "author_login", "author_name", "authored_at", "committer_login",
		"committed_at", "message_headline", "parent_count", "reverts")

	var prCommits, reviews [][]any
	for _, p := range tr.PullRequests {
		repo := ids[p.RepoFullName]
		labels := p.Labels
		if labels == nil {
			labels = []string{}
		}
		rows = append(rows, []any{enterpriseID, repo, p.Number, p.ID, p.AuthorLogin, p.Title, p.State, p.Draft, p.BaseRef, p.HeadRef,
			labels, p.CreatedAt, p.UpdatedAt, p.ClosedAt, p.MergedAt, p.MergeCommitSHA, p.Additions, p.Deletions, p.ChangedFiles,
			p.RevertsNumber, p.AuthorID})
		for i, c := range p.Commits {
			prCommits = append(prCommits, []any{enterpriseID, repo, p.Number, c.SHA, i, c.AuthorLogin, c.AuthorName, c.AuthoredAt,
				c.CommitterLogin, optional(c.CommittedAt), c.MessageHeadline, c.ParentCount})
		}
		for _, r := range p.Reviews {
			reviews = append(reviews, []any{enterpriseID, repo, p.Number, r.ID, r.ReviewerLogin, r.State, optional(r.SubmittedAt)})
		}
	}
	put("pull_requests", "enterprise_id", "repo_id", "number", "id", "author_login", "title", "state", "draft", "base_ref",
		"head_ref", "labels", "created_at", "updated_at", "closed_at", "merged_at", "merge_commit_sha", "additions", "deletions",
		"changed_files", "reverts_number", "author_id")
	rows = prCommits
	put("pull_request_commits", "enterprise_id", "repo_id", "pr_number", "sha", "position", "author_login", "author_name",
		"authored_at", "committer_login", "committed_at", "message_headline", "parent_count")
	rows = reviews
	put("pull_request_reviews", "enterprise_id", "repo_id", "pr_number", "review_id", "reviewer_login", "state", "submitted_at")

	for _, r := range tr.WorkflowRuns {
		rows = append(rows, []any{enterpriseID, ids[r.RepoFullName], r.ID, r.WorkflowID, r.Name, r.Path, r.Event, r.HeadBranch,
			r.HeadSHA, r.Status, r.Conclusion, r.ActorLogin, r.RunAttempt, r.CreatedAt, r.UpdatedAt, optional(r.RunStartedAt)})
	}
	put("workflow_runs", "enterprise_id", "repo_id", "run_id", "workflow_id", "name", "path", "event", "head_branch",
		"head_sha", "status", "conclusion", "actor_login", "run_attempt", "created_at", "updated_at", "run_started_at")

	var statuses, changes [][]any
	for _, d := range tr.Deployments {
		repo := ids[d.RepoFullName]
		rows = append(rows, []any{enterpriseID, repo, d.Signal, d.ID, d.SHA, d.Ref, d.Environment, d.Production, d.CreatorLogin, d.CreatedAt})
		for _, st := range d.Statuses {
			statuses = append(statuses, []any{enterpriseID, repo, d.Signal, d.ID, st.ID, st.State, st.CreatedAt})
		}
		for i, c := range d.Changes {
			changes = append(changes, []any{enterpriseID, repo, d.Signal, d.ID, c.SHA, i, c.AuthorLogin, c.AuthorName, c.AuthoredAt,
				c.CommitterLogin, optional(c.CommittedAt), c.MessageHeadline, c.ParentCount})
		}
	}
	put("deployments", "enterprise_id", "repo_id", "signal", "deployment_id", "sha", "ref", "environment", "production",
		"creator_login", "created_at")
	rows = statuses
	put("deployment_statuses", "enterprise_id", "repo_id", "signal", "deployment_id", "status_id", "state", "created_at")
	rows = changes
	put("deployment_changes", "enterprise_id", "repo_id", "signal", "deployment_id", "sha", "position", "author_login",
		"author_name", "authored_at", "committer_login", "committed_at", "message_headline", "parent_count")

	for _, in := range tr.Incidents {
		rows = append(rows, []any{enterpriseID, ids[in.RepoFullName], in.Number, in.Title, in.AuthorLogin, in.Labels, in.CreatedAt, in.ClosedAt,
			in.StateReason})
	}
	put("incidents", "enterprise_id", "repo_id", "number", "title", "author_login", "labels", "created_at", "closed_at", "state_reason")
}

// truthActivity groups a simulated enterprise's data by repository, as the
// calculators take it.
func truthActivity(tr githubsim.Truth) []metrics.RepoActivity {
	index := map[string]int{}
	repos := make([]metrics.RepoActivity, len(tr.Repositories))
	for i, r := range tr.Repositories {
		index[r.FullName] = i
		repos[i] = metrics.RepoActivity{FullName: r.FullName, DefaultBranch: r.DefaultBranch, Commits: tr.Commits[r.FullName]}
	}
	for _, d := range tr.Deployments {
		repos[index[d.RepoFullName]].Deployments = append(repos[index[d.RepoFullName]].Deployments, d)
	}
	for _, p := range tr.PullRequests {
		repos[index[p.RepoFullName]].PullRequests = append(repos[index[p.RepoFullName]].PullRequests, p)
	}
	for _, in := range tr.Incidents {
		repos[index[in.RepoFullName]].Incidents = append(repos[index[in.RepoFullName]].Incidents, in)
	}
	for _, r := range tr.WorkflowRuns {
		repos[index[r.RepoFullName]].WorkflowRuns = append(repos[index[r.RepoFullName]].WorkflowRuns, r)
	}
	return repos
}

// storedDORA reads an enterprise's dora_metrics rows back in the calculator's order.
func storedDORA(t testing.TB, s *postgres.Store, enterpriseID string) []metrics.DORARow {
	t.Helper()
	rows, err := s.Pool().Query(context.Background(), `
		SELECT scope_type, scope, week_start, deployments, deployment_days,
		       lead_time_p50_hours::float8, lead_time_p90_hours::float8, lead_time_n,
		       failed_deployments, change_failure_rate::float8, recovery_time_p50_hours::float8, recovery_n,
		       rework_deployments, rework_rate::float8,
		       coalesce(deployment_frequency_level, ''), coalesce(lead_time_level, ''),
		       coalesce(change_failure_level, ''), coalesce(recovery_level, ''), coalesce(performance_level, ''),
		       thresholds_version, metric_version,
		       failed_attempts, unrecovered_failures, repos_elite, repos_high, repos_medium, repos_low
		FROM dora_metrics WHERE enterprise_id = $1
		ORDER BY CASE scope_type WHEN 'enterprise' THEN 0 WHEN 'organization' THEN 1 WHEN 'team' THEN 2 ELSE 3 END,
		         scope COLLATE "C", week_start`, enterpriseID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (metrics.DORARow, error) {
		var r metrics.DORARow
		err := row.Scan(&r.ScopeType, &r.Scope, &r.WeekStart, &r.Deployments, &r.DeploymentDays,
			&r.LeadTimeP50Hours, &r.LeadTimeP90Hours, &r.LeadTimeN,
			&r.FailedDeployments, &r.ChangeFailureRate, &r.RecoveryTimeP50Hours, &r.RecoveryN,
			&r.ReworkDeployments, &r.ReworkRate,
			&r.DeploymentFrequencyLevel, &r.LeadTimeLevel, &r.ChangeFailureLevel, &r.RecoveryLevel, &r.PerformanceLevel,
			&r.ThresholdsVersion, &r.MetricVersion,
			&r.FailedAttempts, &r.UnrecoveredFailures, &r.ReposElite, &r.ReposHigh, &r.ReposMedium, &r.ReposLow)
		return r, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// storedVelocity reads an enterprise's velocity_metrics rows back in the calculator's
// order.
func storedVelocity(t testing.TB, s *postgres.Store, enterpriseID string) []metrics.VelocityRow {
	t.Helper()
	rows, err := s.Pool().Query(context.Background(), `
		SELECT scope_type, scope, week_start, prs_opened, prs_merged, prs_closed_unmerged,
		       pr_cycle_time_p50_hours::float8, pr_cycle_time_p90_hours::float8, pr_cycle_time_n,
		       coding_time_p50_hours::float8, coding_time_n, pickup_time_p50_hours::float8, pickup_time_n,
		       review_time_p50_hours::float8, review_time_n, deploy_time_p50_hours::float8, deploy_time_n,
		       prs_merged_without_review, pr_size_p50::float8, pr_size_n, commits, active_contributors,
		       workflow_runs, workflow_completed_runs, workflow_success_rate::float8,
		       workflow_duration_p50_seconds::float8, workflow_duration_n, metric_version
		FROM velocity_metrics WHERE enterprise_id = $1
		ORDER BY CASE scope_type WHEN 'enterprise' THEN 0 WHEN 'organization' THEN 1 WHEN 'team' THEN 2 ELSE 3 END,
		         scope COLLATE "C", week_start`, enterpriseID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (metrics.VelocityRow, error) {
		var r metrics.VelocityRow
		err := row.Scan(&r.ScopeType, &r.Scope, &r.WeekStart, &r.PRsOpened, &r.PRsMerged, &r.PRsClosedUnmerged,
			&r.PRCycleTimeP50Hours, &r.PRCycleTimeP90Hours, &r.PRCycleTimeN,
			&r.CodingTimeP50Hours, &r.CodingTimeN, &r.PickupTimeP50Hours, &r.PickupTimeN,
			&r.ReviewTimeP50Hours, &r.ReviewTimeN, &r.DeployTimeP50Hours, &r.DeployTimeN,
			&r.PRsMergedWithoutReview, &r.PRSizeP50, &r.PRSizeN, &r.Commits, &r.ActiveContributors,
			&r.WorkflowRuns, &r.WorkflowCompletedRuns, &r.WorkflowSuccessRate,
			&r.WorkflowDurationP50Seconds, &r.WorkflowDurationN, &r.MetricVersion)
		return r, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCalculateMatchesTheCalculators stores a simulated world (the demo's first
// enterprise, four months of history) and checks that what the stages store through
// the routes is what the pure calculators compute from the simulator's own truth: the
// loading (spans, grouping, joins, NULLs, time zones) loses nothing the metrics read,
// and the write keeps every value to 15 significant digits.
func TestCalculateMatchesTheCalculators(t *testing.T) {
	t.Parallel()
	sim, err := githubsim.New(githubsim.DemoConfig(calcNow))
	if err != nil {
		t.Fatal(err)
	}
	truth, err := sim.Truth("ent1")
	if err != nil {
		t.Fatal(err)
	}
	store := pgtest.New(t)
	storeTruth(t, store, "ent1", truth)
	cfg := calcConfig(t, `[{"id":"ent1","enterprise":"contoso","orgs":["contoso-web","contoso-data"],"token_secret":"x"}]`)
	url := calcServer(t, store, cfg)
	for _, stage := range []string{"calculate_dora", "calculate_velocity"} {
		if status, body := calcPost(t, url+"/api/"+stage, calcWindow); status != 200 || body["status"] != "succeeded" {
			t.Fatalf("%s: %d %v", stage, status, body)
		}
	}

	ent, _ := cfg.Enterprise("ent1")
	opts := metrics.Options{
		Enterprise: "contoso", Orgs: ent.Orgs, From: time.Date(2026, 9, 7, 0, 0, 0, 0, time.UTC), To: calcNow,
		HotfixPattern: ent.HotfixRE(), Bots: metrics.NewBotClassifier(ent.BotLogins), RolloutWindow: ent.RolloutWindow(),
	}
	activity := truthActivity(truth)
	wantDORA, err := metrics.CalculateDORA(activity, opts)
	if err != nil {
		t.Fatal(err)
	}
	wantVelocity, err := metrics.CalculateVelocity(activity, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Guard against a vacuous comparison: the world must have deployed, failed and
	// merged in the window.
	var deployments, failed, merged int
	for _, r := range wantDORA {
		if r.ScopeType == metrics.ScopeEnterprise {
			deployments, failed = deployments+r.Deployments, failed+r.FailedDeployments
		}
	}
	for _, r := range wantVelocity {
		if r.ScopeType == metrics.ScopeEnterprise {
			merged += r.PRsMerged
		}
	}
	if deployments < 20 || failed == 0 || merged < 50 {
		t.Fatalf("the simulated quarter is too thin to compare: %d deployments, %d failed, %d merged", deployments, failed, merged)
	}
	t.Logf("window: %d deployments, %d failed, %d pull requests merged", deployments, failed, merged)
	approx := cmpopts.EquateApprox(1e-13, 0)
	if diff := cmp.Diff(wantDORA, storedDORA(t, store, "ent1"), approx); diff != "" {
		t.Errorf("stored dora_metrics differ from the calculator's (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantVelocity, storedVelocity(t, store, "ent1"), approx); diff != "" {
		t.Errorf("stored velocity_metrics differ from the calculator's (-want +got):\n%s", diff)
	}
}

// benchWorld is the benchmark size of docs/benchmarks.md: one enterprise of 20
// organizations × 50 active repositories, with history back to the deployment
// lookback of the first of the 12 weeks computed.
func benchWorld(now time.Time) githubsim.Config {
	var orgs []githubsim.OrgConfig
	for i := range 20 {
		orgs = append(orgs, githubsim.OrgConfig{Login: fmt.Sprintf("bench-org-%02d", i), Repos: 50, ActiveShare: 1, PRsPerWeek: 8})
	}
	return githubsim.Config{
		Seed: 7, Now: now, HistoryDays: 12*7 + metrics.DeploymentLookbackDays,
		Enterprises: []githubsim.EnterpriseConfig{{ID: "bench", Slug: "benchcorp",
			Token: "fake-token-simBench-1", Orgs: orgs, Developers: 400}},
	}
}

// BenchmarkCalculate measures both stages on the benchmark size, phase by phase and
// whole, against a real PostgreSQL holding 1,000 repositories' history:
//
//	go test ./internal/pipeline -run '^$' -bench Calculate -benchtime 3x
//
// Setting up (generating the world and copying ~4 million rows in) takes a minute or
// two and is not measured.
func BenchmarkCalculate(b *testing.B) {
	sim, err := githubsim.New(benchWorld(calcNow))
	if err != nil {
		b.Fatal(err)
	}
	truth, err := sim.Truth("bench")
	if err != nil {
		b.Fatal(err)
	}
	store := pgtest.New(b)
	storeTruth(b, store, "bench", truth)
	sqlExec(b, store, `ANALYZE`)
	orgs := make([]string, 0, 20)
	for _, o := range benchWorld(calcNow).Enterprises[0].Orgs {
		orgs = append(orgs, `"`+o.Login+`"`)
	}
	cfg := calcConfig(b, `[{"id":"bench","enterprise":"benchcorp","orgs":[`+strings.Join(orgs, ",")+`],"token_secret":"x"}]`)
	ent, _ := cfg.Enterprise("bench")
	truth = githubsim.Truth{} // let the world go before measuring memory

	first := time.Date(2026, 9, 7, 0, 0, 0, 0, time.UTC)
	opts := metrics.Options{Enterprise: "benchcorp", Orgs: ent.Orgs, From: first, To: calcNow,
		HotfixPattern: ent.HotfixRE(), Bots: metrics.NewBotClassifier(ent.BotLogins)}
	batch := postgres.MetricBatch{EnterpriseID: "bench", FirstWeek: first, LastWeek: metrics.WeekStart(calcNow),
		ComputedAt: calcNow, DeploymentSignal: metrics.SignalDeployment}
	from, to := metrics.DataWindow(first, calcNow, 0)
	queries := map[string]postgres.ActivityQuery{
		"dora": {EnterpriseID: "bench", Orgs: ent.Orgs, Signal: metrics.SignalDeployment, From: from, To: to, Incidents: true},
		"velocity": {EnterpriseID: "bench", Orgs: ent.Orgs, Signal: metrics.SignalDeployment, From: first, To: to,
			Reviews: true, Commits: true, WorkflowRuns: true},
	}
	put := func(kind string, repos []metrics.RepoActivity) (int, error) {
		if kind == "dora" {
			rows, err := metrics.CalculateDORA(repos, opts)
			if err != nil {
				return 0, err
			}
			_, err = store.PutDORAMetrics(context.Background(), batch, rows)
			return len(rows), err
		}
		rows, err := metrics.CalculateVelocity(repos, opts)
		if err != nil {
			return 0, err
		}
		_, err = store.PutVelocityMetrics(context.Background(), batch, rows)
		return len(rows), err
	}

	for _, kind := range []string{"dora", "velocity"} {
		var repos []metrics.RepoActivity
		b.Run(kind+"/load", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if repos, err = store.ListRepoActivity(b.Context(), queries[kind]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(activityRecords(repos)), "records/op")
			// What the loaded activity itself holds: the heap after a collection with it
			// still referenced (the benchmark's world is gone by now).
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			b.ReportMetric(float64(m.HeapAlloc)/(1<<20), "live-heap-MiB")
		})
		b.Run(kind+"/store_new", func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				b.StopTimer()
				sqlExec(b, store, `DELETE FROM dora_metrics; DELETE FROM velocity_metrics`)
				b.StartTimer()
				if n, err = put(kind, repos); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n), "rows/op")
		})
		b.Run(kind+"/stage", func(b *testing.B) {
			// The whole stage over data whose rows are already stored: load, compute,
			// compare, write nothing.
			stage := pipeline.NewDORAStage(calcOptions(store, cfg, time.Now))
			if kind == "velocity" {
				stage = pipeline.NewVelocityStage(calcOptions(store, cfg, time.Now))
			}
			b.ReportAllocs()
			var res pipeline.Result
			runtime.GC()
			peak := memwatch.Start(5 * time.Millisecond).Stop
			for b.Loop() {
				req := pipeline.Request{Enterprise: &ent, Now: calcNow}
				if res, err = stage.Run(b.Context(), req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(res.Records), "rows/op")
		})
	}
}

func activityRecords(repos []metrics.RepoActivity) int {
	n := len(repos)
	for _, r := range repos {
		n += len(r.Deployments) + len(r.PullRequests) + len(r.Incidents) + len(r.Commits) + len(r.WorkflowRuns)
		for _, d := range r.Deployments {
			n += len(d.Statuses) + len(d.Changes)
		}
		for _, p := range r.PullRequests {
			n += len(p.Commits) + len(p.Reviews)
		}
	}
	return n
}

var updateGolden = flag.Bool("update", false, "rewrite internal/pipeline/testdata/*.golden")

// calcSimClock is the GitHub client's clock in the golden test: the simulator's time
// plus every wait the client asked for, so waits end at once and the world stays put.
type calcSimClock struct {
	sim    *githubsim.Simulator
	mu     sync.Mutex
	waited time.Duration
}

func (c *calcSimClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sim.Now().Add(c.waited)
}

func (c *calcSimClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.waited += d
	c.mu.Unlock()
	return ctx.Err()
}

// goldenRows lists a metric table's rows of one enterprise, one line per row, every
// value as PostgreSQL prints it ("" for NULL), in natural-key order. computed_at is
// left out: it is the machine's business, not the metric's.
func goldenRows(t *testing.T, s *postgres.Store, table, enterpriseID string) string {
	t.Helper()
	cols := calcRows(t, s, `SELECT column_name FROM information_schema.columns
		WHERE table_name = $1 AND column_name NOT IN ('enterprise_id', 'computed_at') ORDER BY ordinal_position`, table)
	values := make([]string, len(cols))
	for i, c := range cols {
		values[i] = "coalesce(" + c + "::text, '')"
	}
	lines := calcRows(t, s, `SELECT concat_ws(';', `+strings.Join(values, ", ")+`) FROM `+table+
		` WHERE enterprise_id = $1 ORDER BY scope_type, scope COLLATE "C", week_start`, enterpriseID)
	return strings.Join(cols, ";") + "\n" + strings.Join(lines, "\n") + "\n"
}

// TestCalculateGoldenQuarter runs the daily job's repository half end to end through
// the routes: collect_repos reads the simulated enterprise (the demo's contoso: two
// organizations of 25 repositories, four months of history) over the GitHub API, then
// calculate_dora and calculate_velocity compute the third quarter of 2026 (14 ISO
// weeks, 2026-06-29 … 2026-09-28) from what was stored. The stored rows are compared
// with testdata/calculate_quarter_*.golden; after a deliberate change, review the diff
// and rewrite them with
//
//	go test ./internal/pipeline -run GoldenQuarter -update
func TestCalculateGoldenQuarter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 9, 30, 10, 0, 0, 0, time.UTC)
	simCfg := githubsim.DemoConfig(now)
	simCfg.Enterprises = simCfg.Enterprises[:1]
	simCfg.RateLimit = 1_000_000
	sim, err := githubsim.New(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	hosts := sim.Start()
	t.Cleanup(hosts.Close)
	info := sim.Enterprises()[0]
	store := pgtest.New(t)

	cfg := calcConfig(t, fmt.Sprintf(`[{"id":%q,"enterprise":%q,"orgs":["%s"],"api_url":%q,"token_secret":"github-pat-ent1",
		"repo_backfill_days":120}]`, info.ID, info.Slug, strings.Join(info.Orgs, `","`), hosts.API.URL+"/"))
	ent := cfg.Enterprises[0]
	client, err := github.New(github.Options{
		EnterpriseID: ent.ID, BaseURL: ent.APIURL,
		Token:      func(context.Context) (string, error) { return info.Token, nil },
		HTTPClient: &http.Client{}, Clock: &calcSimClock{sim: sim}, MaxRate: math.Inf(1),
		Cache: store, TokenHealth: store,
	})
	if err != nil {
		t.Fatal(err)
	}
	repos := pipeline.NewReposStage(pipeline.ReposOptions{
		Store:   store,
		Clients: func(string) (*github.Client, error) { return client, nil },
		Now:     sim.Now,
	})
	url := calcServer(t, store, cfg, repos)

	body := fmt.Sprintf(`{"enterprise":%q}`, ent.ID)
	for calls := 0; ; calls++ {
		status, resp := calcPost(t, url+"/api/collect_repos", body)
		if status != 200 || resp["status"] != "succeeded" {
			t.Fatalf("collect_repos: %d %v", status, resp)
		}
		if resp["done"] == true {
			break
		}
		if calls == 100 {
			t.Fatal("collect_repos never finished")
		}
		body = fmt.Sprintf(`{"enterprise":%q,"run_id":%v,"cursor":%q}`, ent.ID, resp["run_id"], resp["cursor"])
	}
	quarter := fmt.Sprintf(`{"enterprise":%q,"since":"2026-07-01","until":"2026-09-30"}`, ent.ID)
	for _, stage := range []string{"calculate_dora", "calculate_velocity"} {
		// 53 scopes (the enterprise, 2 organizations, 50 repositories) × 14 weeks.
		if status, resp := calcPost(t, url+"/api/"+stage, quarter); status != 200 || resp["status"] != "succeeded" || resp["records"] != 742.0 {
			t.Fatalf("%s: %d %v", stage, status, resp)
		}
	}

	// What the collection stored computes to what GitHub "has": the calculators over
	// the simulator's own truth give the same rows.
	truth, err := sim.Truth(ent.ID)
	if err != nil {
		t.Fatal(err)
	}
	opts := metrics.Options{
		Enterprise: info.Slug, Orgs: ent.Orgs, From: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC),
		HotfixPattern: ent.HotfixRE(), Bots: metrics.NewBotClassifier(ent.BotLogins), RolloutWindow: ent.RolloutWindow(),
	}
	wantDORA, err := metrics.CalculateDORA(truthActivity(truth), opts)
	if err != nil {
		t.Fatal(err)
	}
	wantVelocity, err := metrics.CalculateVelocity(truthActivity(truth), opts)
	if err != nil {
		t.Fatal(err)
	}
	approx := cmpopts.EquateApprox(1e-13, 0)
	if diff := cmp.Diff(wantDORA, storedDORA(t, store, ent.ID), approx); diff != "" {
		t.Errorf("dora_metrics differ from the calculator over the simulator's truth (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantVelocity, storedVelocity(t, store, ent.ID), approx); diff != "" {
		t.Errorf("velocity_metrics differ from the calculator over the simulator's truth (-want +got):\n%s", diff)
	}

	for _, table := range []string{"dora_metrics", "velocity_metrics"} {
		got := goldenRows(t, store, table, ent.ID)
		path := filepath.Join("testdata", "calculate_quarter_"+strings.TrimSuffix(table, "_metrics")+".golden")
		if *updateGolden {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(got, "\n")); diff != "" {
			t.Errorf("%s differs from %s (-want +got):\n%s", table, path, diff)
		}
	}
}

func TestCalculateGateHoldsOneCalculationAtATime(t *testing.T) {
	t.Parallel()
	cfg := calcConfig(t, calcEnterprises)
	ent2, _ := cfg.Enterprise("ent2")
	opts := calcOptions(&fakeMetricsStore{}, cfg, func() time.Time { return calcNow })
	opts.Gate = make(chan struct{}, 1)
	req := pipeline.Request{Enterprise: &ent2, Now: calcNow, Deadline: calcNow.Add(time.Minute)}

	// Another calculation holds the only slot: this one waits, and gives up retryably
	// when its call ends, having loaded and stored nothing.
	opts.Gate <- struct{}{}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	f := opts.Store.(*fakeMetricsStore)
	if _, err := pipeline.NewDORAStage(opts).Run(ctx, req); !errors.Is(err, pipeline.ErrUnavailable) {
		t.Fatalf("error %v, want ErrUnavailable while the gate is held", err)
	}
	if len(f.queries) != 0 || len(f.batches) != 0 {
		t.Fatalf("loaded %d, stored %d while waiting for the gate", len(f.queries), len(f.batches))
	}
	// Once the slot is free the calculation runs and gives it back.
	<-opts.Gate
	if _, err := pipeline.NewDORAStage(opts).Run(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if len(opts.Gate) != 0 {
		t.Error("the calculation kept its slot")
	}
}

// A failure not restored keeps its week in the recompute window however old it gets,
// so its recovery is recorded when it finally comes (metric_version 1 lost it once the
// week left RECOMPUTE_WEEKS); rows of an older metric_version are recomputed once.
func TestCalculateRecomputesUnrecoveredAndOutdatedWeeks(t *testing.T) {
	t.Parallel()
	store := pgtest.New(t)
	seedCalcScenario(t, store)
	seedOldOpenFailure(t, store)
	cfg := calcConfig(t, calcEnterprises)
	ent1, _ := cfg.Enterprise("ent1")
	stage := pipeline.NewDORAStage(calcOptions(store, cfg, func() time.Time { return calcNow }))
	run := func(since *time.Time) pipeline.Result {
		t.Helper()
		res, err := stage.Run(t.Context(), pipeline.Request{Enterprise: &ent1, Now: calcNow, Since: since, Deadline: calcNow.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	june := "2026-06-01"
	shopWeek := func() string {
		t.Helper()
		return calcRows(t, store, `SELECT concat_ws('|', failed_deployments, unrecovered_failures, recovery_n,
			coalesce(recovery_time_p50_hours::text, '-'), metric_version)
			FROM dora_metrics WHERE scope = 'contoso-web/shop' AND week_start = $1`, june)[0]
	}

	since := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	run(&since)
	if got := shopWeek(); got != "1|1|0|-|2" {
		t.Fatalf("week of %s after a back-fill = %s, want 1 failed, unrecovered, no recovery", june, got)
	}

	// The incident closes seven weeks later; the default window (12 weeks from
	// 2026-09-07) reaches back to June for it: 06-02 10:00 → 07-21 10:00 = 1,176 h.
	sqlExec(t, store, `UPDATE incidents SET closed_at = '2026-07-21T10:00:00Z' WHERE number = 60`)
	if res := run(nil); res.Records != 5*26 {
		t.Errorf("records = %d, want 5 scopes × 26 weeks (from the week of %s)", res.Records, june)
	}
	if got := shopWeek(); got != "1|0|1|1176|2" {
		t.Errorf("week of %s after the close = %s, want recovered in 1176 h", june, got)
	}

	// A row of metric_version 1 from before: its week and every later one are
	// recomputed once, so no file mixes versions.
	sqlExec(t, store, `INSERT INTO dora_metrics (enterprise_id, scope_type, scope, week_start, deployments, metric_version)
		VALUES ('ent1', 'enterprise', 'contoso', '2026-04-06', 99, 1)`)
	run(nil)
	old := calcRows(t, store, `SELECT concat_ws('|', deployments, metric_version) FROM dora_metrics
		WHERE scope = 'contoso' AND week_start = '2026-04-06'`)
	if len(old) != 1 || old[0] != "0|2" {
		t.Errorf("outdated row after the run = %v, want recomputed: 0 deployments, version 2", old)
	}
	if n := calcRows(t, store, `SELECT count(*)::text FROM dora_metrics WHERE metric_version <> 2`)[0]; n != "0" {
		t.Errorf("%s rows of another metric_version left", n)
	}
	// Nothing left to catch up: the next run computes the default 12 weeks.
	if res := run(nil); res.Records != 5*12 {
		t.Errorf("records = %d, want 5 scopes × 12 weeks", res.Records)
	}
}

// The recompute never reaches back to weeks whose inputs RETENTION_DAYS has pruned: it
// would overwrite their rows with figures of missing data.
func TestCalculateDoesNotRecomputePrunedWeeks(t *testing.T) {
	t.Parallel()
	store := pgtest.New(t)
	seedCalcScenario(t, store)
	seedOldOpenFailure(t, store)
	cfg := calcConfig(t, calcEnterprises)
	ent1, _ := cfg.Enterprise("ent1")
	opts := calcOptions(store, cfg, func() time.Time { return calcNow })
	since := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	if _, err := pipeline.NewDORAStage(opts).Run(t.Context(), pipeline.Request{Enterprise: &ent1, Now: calcNow, Since: &since}); err != nil {
		t.Fatal(err)
	}
	// 300 days kept before the end of the current week (2026-11-30): from 2026-02-03, so
	// DORA weeks whose 182-day look-back is whole start on 2026-08-10.
	opts.RetentionDays = 300
	res, err := pipeline.NewDORAStage(opts).Run(t.Context(), pipeline.Request{Enterprise: &ent1, Now: calcNow})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 5*16 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "RETENTION_DAYS=300") ||
		!strings.Contains(res.Warnings[0], "2026-06-01") {
		t.Errorf("result = %d records, warnings %q; want 5 scopes × 16 weeks from 2026-08-10 and a warning naming the week and RETENTION_DAYS",
			res.Records, res.Warnings)
	}
}

// seedOldOpenFailure adds to seedCalcScenario a deployment of shop on Tuesday
// 2026-06-02, and an hour later an incident that stays open.
func seedOldOpenFailure(t testing.TB, store *postgres.Store) {
	t.Helper()
	sqlExec(t, store, `INSERT INTO deployments (enterprise_id, repo_id, signal, deployment_id, sha, environment, production, created_at)
		VALUES ('ent1', 1, 'deployment', 104, 'o1', 'production', true, '2026-06-02T09:00:00Z')`)
	sqlExec(t, store, `INSERT INTO deployment_statuses (enterprise_id, repo_id, signal, deployment_id, status_id, state, created_at)
		VALUES ('ent1', 1, 'deployment', 104, 6, 'success', '2026-06-02T10:00:00Z')`)
	sqlExec(t, store, `INSERT INTO incidents (enterprise_id, repo_id, number, title, labels, created_at)
		VALUES ('ent1', 1, 60, 'Search broken', '{incident}', '2026-06-02T11:00:00Z')`)
}
