package pipeline_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/github"
	"metrics-collector/internal/memwatch"
	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres/pgtest"
)

// copilotUserLine is a users-1-day record shaped like GitHub's (IDE, feature and
// language breakdowns, ~1.3 kB), for user n of day.
func copilotUserLine(n int, day string) string {
	return `{"user_id":` + strconv.Itoa(1_000_000+n) + `,"user_login":"dev-` + strconv.Itoa(n) + `","day":"` + day + `","enterprise_id":"4321",` +
		`"user_initiated_interaction_count":` + strconv.Itoa(n%50) + `,"code_generation_activity_count":` + strconv.Itoa(n%97) +
		`,"code_acceptance_activity_count":` + strconv.Itoa(n%31) + `,"loc_suggested_to_add_sum":` + strconv.Itoa(n%400) +
		`,"loc_suggested_to_delete_sum":10,"loc_added_sum":` + strconv.Itoa(n%150) + `,"loc_deleted_sum":5,` +
		`"used_agent":` + strconv.FormatBool(n%3 == 0) + `,"used_chat":true,"used_cli":false,"used_copilot_code_review_active":false,` +
		`"used_copilot_code_review_passive":true,"used_copilot_coding_agent":false,"ai_credits_used":3.25,` +
		`"totals_by_ide":[{"ide":"vscode","last_known_ide_version":{"ide_version":"1.104.0","sampled_at":"` + day + `T10:00:00Z"},` +
		`"last_known_plugin_version":{"plugin":"copilot-chat","plugin_version":"0.31.0"},"code_generation_activity_count":40,` +
		`"code_acceptance_activity_count":15,"loc_suggested_to_add_sum":200,"loc_suggested_to_delete_sum":10,"loc_added_sum":90,"loc_deleted_sum":5}],` +
		`"totals_by_feature":[{"feature":"code_completion","code_generation_activity_count":30,"code_acceptance_activity_count":12,` +
		`"loc_suggested_to_add_sum":100,"loc_suggested_to_delete_sum":0,"loc_added_sum":50,"loc_deleted_sum":0},` +
		`{"feature":"chat_panel_agent_mode","user_initiated_interaction_count":7,"code_generation_activity_count":10,"code_acceptance_activity_count":3}],` +
		`"totals_by_language_feature":[{"language":"go","feature":"code_completion","code_generation_activity_count":30,"code_acceptance_activity_count":12}],` +
		`"totals_by_language_model":[{"language":"go","model":"gpt-4.1","code_generation_activity_count":30,"code_acceptance_activity_count":12}],` +
		`"totals_by_cli_skills":[{"skill":"git","count":2}]}` + "\n"
}

// BenchmarkCopilotUsersDayMemory collects one day of an enterprise whose users-1-day
// report holds 30,000 users in 6 shards (served from memoryless fakes of the API and
// the download host) into a real database, and reports the heap's high-water mark
// above what it was before the call.
//
//	go test ./internal/pipeline -run '^$' -bench CopilotUsersDayMemory -benchtime 3x -benchmem
func BenchmarkCopilotUsersDayMemory(b *testing.B) {
	const users, shards = 30_000, 6
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	now := day.Add(2*24*time.Hour + 6*time.Hour)
	dayKey := day.Format(time.DateOnly)

	downloads := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/part-"))
		if err != nil || k < 0 || k >= shards {
			http.NotFound(w, r)
			return
		}
		for n := k * users / shards; n < (k+1)*users/shards; n++ {
			if _, err := w.Write([]byte(copilotUserLine(n, dayKey))); err != nil {
				return
			}
		}
	}))
	b.Cleanup(downloads.Close)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		switch {
		case strings.HasSuffix(r.URL.Path, "/copilot/billing/seats"):
			fmt.Fprint(w, `{"total_seats":0,"seats":[]}`)
		case strings.HasSuffix(r.URL.Path, "/reports/users-1-day"):
			links := make([]string, shards)
			for k := range links {
				links[k] = strconv.Quote(fmt.Sprintf("%s/part-%d?sv=2025-11-05&sig=benchmark", downloads.URL, k))
			}
			fmt.Fprintf(w, `{"download_links":[%s],"report_day":%q}`, strings.Join(links, ","), dayKey)
		default: // the aggregate report: none that day
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	b.Cleanup(api.Close)

	store := pgtest.New(b)
	ent := config.Enterprise{ID: "big", Slug: "bigcorp", APIURL: api.URL + "/", TokenSecret: "github-pat-big"}
	client, err := github.New(github.Options{
		EnterpriseID: ent.ID, BaseURL: ent.APIURL,
		Token:      func(context.Context) (string, error) { return "fake-token-benchmark", nil },
		HTTPClient: &http.Client{}, DownloadClient: &http.Client{}, MaxRate: math.Inf(1),
	})
	if err != nil {
		b.Fatal(err)
	}
	stage := pipeline.NewCopilotStage(pipeline.CopilotOptions{
		Store:   store,
		Clients: func(string) (*github.Client, error) { return client, nil },
		Now:     func() time.Time { return now },
	})
	var peak uint64
	b.ReportAllocs()
	for b.Loop() {
		runtime.GC()
		base := memwatch.HeapInuse()
		watch := memwatch.Start(time.Millisecond)
		res, err := stage.Run(b.Context(), pipeline.Request{Enterprise: &ent, Since: &day, Until: &day, Now: now})
		got := watch.Stop()
		if err != nil || !res.Done || res.Records != users {
			b.Fatalf("run = %+v, %v; want %d records", res, err, users)
		}
		if got > base {
			peak = max(peak, got-base)
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak_heap_MiB")
}
