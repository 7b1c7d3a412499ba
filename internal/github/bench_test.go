package github

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	gh "github.com/google/go-github/v93/github"
)

// BenchmarkRawGet is the floor: a plain http.Client GET of the same pull request and a
// json.Unmarshal into go-github's type. Compare BenchmarkClientGet with it for the
// client's own per-request overhead.
func BenchmarkRawGet(b *testing.B) {
	body := readTestdata(b, "pull.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	client := srv.Client()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Get(srv.URL + "/api/v3/repos/acme/api/pulls/1")
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		var p gh.PullRequest
		if err := json.Unmarshal(buf.Bytes(), &p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientGet is one GetPull through the whole client: pacing, token, counters,
// rate headers, token health, error mapping, conversion to metrics types.
func BenchmarkClientGet(b *testing.B) {
	body := readTestdata(b, "pull.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Ratelimit-Limit", "5000000")
		w.Header().Set("X-Ratelimit-Remaining", "4999999")
		w.Header().Set("X-Ratelimit-Reset", "4102444800")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	c := benchClient(b, srv, nil)
	var counters Counters
	ctx := WithCounters(b.Context(), &counters)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.GetPull(ctx, "acme/api", 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientList304 is a list page answered 304 and replayed from the cache
// (decompress, decode), the common case of a second run.
func BenchmarkClientList304(b *testing.B) {
	body := readTestdata(b, "pulls.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	c := benchClient(b, srv, newMemCache())
	b.ReportAllocs()
	for b.Loop() {
		for _, err := range c.ListPulls(b.Context(), "acme/api") {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func benchClient(b *testing.B, srv *httptest.Server, cache Cache) *Client {
	b.Helper()
	c, err := New(Options{
		EnterpriseID: testEnterprise,
		BaseURL:      srv.URL + apiPrefix,
		Token:        func(context.Context) (string, error) { return testToken, nil },
		HTTPClient:   srv.Client(),
		MaxRate:      math.Inf(1), // measure the client, not the pacing
		Cache:        cache,
	})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// userReport builds an NDJSON users-1-day report of n realistic lines.
func userReport(n int) []byte {
	var buf bytes.Buffer
	for i := range n {
		fmt.Fprintf(&buf, `{"user_id":%d,"user_login":"user-%d","day":"2026-09-14","enterprise_id":"4321",`+
			`"user_initiated_interaction_count":%d,"code_generation_activity_count":%d,"code_acceptance_activity_count":%d,`+
			`"loc_suggested_to_add_sum":%d,"loc_suggested_to_delete_sum":3,"loc_added_sum":%d,"loc_deleted_sum":1,`+
			`"used_agent":true,"used_chat":false,"used_cli":false,"used_copilot_code_review_active":false,`+
			`"used_copilot_code_review_passive":false,"used_copilot_coding_agent":false,"ai_credits_used":1.5,`+
			`"totals_by_ide":[{"ide":"vscode","last_known_ide_version":{"ide_version":"1.104.0"},"code_generation_activity_count":%d,"code_acceptance_activity_count":%d,"loc_suggested_to_add_sum":10,"loc_added_sum":4}],`+
			`"totals_by_feature":[{"feature":"code_completion","code_generation_activity_count":%d,"code_acceptance_activity_count":%d},{"feature":"agent_edit","user_initiated_interaction_count":2,"code_generation_activity_count":1}],`+
			`"totals_by_language_feature":[{"language":"go","feature":"code_completion","code_generation_activity_count":5,"code_acceptance_activity_count":2}],`+
			`"totals_by_language_model":[{"language":"go","model":"gpt-4.1","code_generation_activity_count":5}],`+
			`"totals_by_model_feature":[{"model":"gpt-4.1","feature":"code_completion","code_generation_activity_count":5}]}`+"\n",
			i+1, i+1, i%17, i%41, i%13, i%97, i%53, i%41, i%13, i%41, i%13)
	}
	return buf.Bytes()
}

// BenchmarkDownloadUserReport downloads and decodes a 10,000-user NDJSON report from a
// loopback download host; records/s is the figure to watch.
func BenchmarkDownloadUserReport(b *testing.B) {
	const users = 10_000
	report := userReport(users)
	dl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(report)
	}))
	defer dl.Close()
	api := httptest.NewServer(http.NotFoundHandler())
	defer api.Close()
	c := benchClient(b, api, nil)
	link := dl.URL + "/reports/users-1-day/shard-0.json?sig=x"
	b.SetBytes(int64(len(report)))
	b.ReportAllocs()
	records := 0
	for b.Loop() {
		err := c.DownloadCopilotReport(b.Context(), link, func(raw json.RawMessage) error {
			if _, err := DecodeCopilotUserDay(raw); err != nil {
				return err
			}
			records++
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(records), "ns/record")
}
