package github

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"metrics-collector/internal/metrics"
)

var (
	enterpriseScope = metrics.CopilotScope{Type: metrics.ScopeEnterprise, Name: "acme-corp"}
	orgScope        = metrics.CopilotScope{Type: metrics.ScopeOrganization, Name: "acme"}
	reportDay       = time.Date(2026, 9, 14, 0, 0, 0, 0, time.UTC)
)

// downloadHost is a fake report download host on its own origin. It fails the test if
// any request carries an Authorization header or the token.
type downloadHost struct {
	server  *httptest.Server
	hits    atomic.Int32
	handler http.HandlerFunc
}

func newDownloadHost(t *testing.T, handler http.HandlerFunc) *downloadHost {
	t.Helper()
	d := &downloadHost{handler: handler}
	d.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.hits.Add(1)
		if r.Header.Get("Authorization") != "" || strings.Contains(fmt.Sprint(r.Header), testToken) {
			t.Errorf("download request for %s carried credentials", r.URL.Path)
		}
		if r.URL.Query().Get("sig") == "" {
			t.Errorf("download request for %s lost the link's signature", r.URL.Path)
		}
		d.handler(w, r)
	}))
	t.Cleanup(d.server.Close)
	return d
}

func (d *downloadHost) link(name string) string {
	return d.server.URL + "/reports/" + name + "?sv=2025-01-05&sig=SECRETSIGNATURE"
}

func TestGetCopilotReportEnvelopeAndDownload(t *testing.T) {
	t.Parallel()
	ndjson := readTestdata(t, "users-1-day.ndjson")
	dl := newDownloadHost(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/reports/enterprise-1-day/shard-0.json":
			_, _ = w.Write(ndjson[:bytes.IndexByte(ndjson, '\n')+1])
		case "/reports/enterprise-1-day/shard-1.json":
			_, _ = w.Write(ndjson[bytes.IndexByte(ndjson, '\n')+1:])
		default:
			http.NotFound(w, r)
		}
	})
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		if apiPath(r) != "enterprises/acme-corp/copilot/metrics/reports/enterprise-1-day" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(bytes.ReplaceAll(readTestdata(t, "copilot_report_envelope.json"), []byte("DOWNLOAD_BASE"), []byte(dl.server.URL)))
	})
	c := newTestClient(t, f, nil)

	report, err := c.GetCopilotReport(t.Context(), enterpriseScope, AggregateDayReport(enterpriseScope), reportDay)
	if err != nil {
		t.Fatal(err)
	}
	if !report.Available || len(report.Links) != 2 || !report.Day.Equal(reportDay) {
		t.Fatalf("report = %+v", report)
	}
	r := f.seen()[0]
	checkAPIHeaders(t, r)
	if diff := cmp.Diff(url.Values{"day": {"2026-09-14"}}, r.Query); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}

	var counters Counters
	ctx := WithCounters(t.Context(), &counters)
	var users []metrics.CopilotUserDay
	for _, link := range report.Links {
		err := c.DownloadCopilotReport(ctx, link, func(raw json.RawMessage) error {
			u, err := DecodeCopilotUserDay(raw)
			users = append(users, u)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var logins []string
	for _, u := range users {
		logins = append(logins, u.UserLogin)
	}
	if diff := cmp.Diff([]string{"octocat", "hubot", "mona"}, logins); diff != "" {
		t.Errorf("users across shards (-want +got):\n%s", diff)
	}
	if s := counters.Snapshot(); s.Downloads != 2 || s.Requests != 0 {
		t.Errorf("counters = %+v, want 2 downloads and no API requests", s)
	}
	if n := len(f.seen()); n != 1 {
		t.Errorf("API host saw %d requests, want 1: downloads go to the download host", n)
	}
}

func TestGetCopilotReportPaths(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(readTestdata(t, "copilot_report_28day_envelope.json"))
	})
	c := newTestClient(t, f, nil)
	for _, tc := range []struct {
		scope  metrics.CopilotScope
		report string
		path   string
		query  url.Values
	}{
		{orgScope, ReportUsersDay, "/orgs/acme/copilot/metrics/reports/users-1-day", url.Values{"day": {"2026-09-14"}}},
		{orgScope, AggregateDayReport(orgScope), "/orgs/acme/copilot/metrics/reports/organization-1-day", url.Values{"day": {"2026-09-14"}}},
		{enterpriseScope, ReportUserTeamsDay, "/enterprises/acme-corp/copilot/metrics/reports/user-teams-1-day", url.Values{"day": {"2026-09-14"}}},
		{enterpriseScope, ReportUsers28Day, "/enterprises/acme-corp/copilot/metrics/reports/users-28-day/latest", url.Values{}},
	} {
		report, err := c.GetCopilotReport(t.Context(), tc.scope, tc.report, reportDay)
		if err != nil {
			t.Fatalf("%s: %v", tc.report, err)
		}
		seen := f.seen()
		r := seen[len(seen)-1]
		if r.Path != tc.path {
			t.Errorf("%s: path %s, want %s", tc.report, r.Path, tc.path)
		}
		if diff := cmp.Diff(tc.query, r.Query); diff != "" {
			t.Errorf("%s: query (-want +got):\n%s", tc.report, diff)
		}
		if !report.StartDay.Equal(time.Date(2026, 8, 18, 0, 0, 0, 0, time.UTC)) || !report.EndDay.Equal(reportDay) {
			t.Errorf("%s: range %v..%v", tc.report, report.StartDay, report.EndDay)
		}
	}
}

func TestGetCopilotReportNoContentIsNoReport(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	c := newTestClient(t, f, nil)
	report, err := c.GetCopilotReport(t.Context(), orgScope, ReportUsersDay, reportDay)
	if err != nil {
		t.Fatalf("204 must not be an error: %v", err)
	}
	if report.Available || len(report.Links) != 0 {
		t.Errorf("report = %+v, want not available", report)
	}
}

func TestGetCopilotReportPolicyDisabled(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"message":"Copilot Usage Metrics API access is disabled for this enterprise."}`)
	})
	c := newTestClient(t, f, nil)
	_, err := c.GetCopilotReport(t.Context(), enterpriseScope, ReportEnterpriseDay, reportDay)
	if !errors.Is(err, ErrForbidden) {
		t.Errorf("err = %v, want ErrForbidden", err)
	}
}

func TestGetCopilotReportRejectsBadInput(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) { t.Errorf("unexpected request %s", r.URL) })
	c := newTestClient(t, f, nil)
	for _, tc := range []struct {
		scope  metrics.CopilotScope
		report string
		day    time.Time
		field  string
	}{
		{orgScope, "copilot-usage", reportDay, "report: "},
		{orgScope, ReportEnterpriseDay, reportDay, "report: "},
		{enterpriseScope, ReportOrganization28Day, reportDay, "report: "},
		{orgScope, ReportUsersDay, time.Time{}, "day: "},
		{metrics.CopilotScope{Type: "team", Name: "x"}, ReportUsersDay, reportDay, "scope: "},
		{metrics.CopilotScope{Type: metrics.ScopeOrganization}, ReportUsersDay, reportDay, "scope: "},
	} {
		_, err := c.GetCopilotReport(t.Context(), tc.scope, tc.report, tc.day)
		if err == nil || !strings.HasPrefix(err.Error(), tc.field) {
			t.Errorf("%+v %s: err = %v, want an error naming %q", tc.scope, tc.report, err, tc.field)
		}
	}
}

func TestDownloadReadsNDJSONObjectsAndArrays(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"ndjson":                     "{\"a\":1}\n{\"a\":2}\n\n{\"a\":3}\n",
		"ndjson without final break": "{\"a\":1}\r\n{\"a\":2}\r\n{\"a\":3}",
		"single object":              "  {\"a\":1,\n  \"nested\": {\"x\": [1,2]}\n}\n",
		"array":                      "[{\"a\":1},\n {\"a\":2},\n {\"a\":3}]",
		"empty":                      "",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dl := newDownloadHost(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
			f := newFakeGitHub(t, newFakeClock(), func(w http.ResponseWriter, r *http.Request) {})
			c := newTestClient(t, f, nil)
			var got []string
			err := c.DownloadCopilotReport(t.Context(), dl.link("x.json"), func(raw json.RawMessage) error {
				var compact bytes.Buffer
				if err := json.Compact(&compact, raw); err != nil {
					return err
				}
				got = append(got, compact.String())
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			switch name {
			case "single object":
				want = []string{`{"a":1,"nested":{"x":[1,2]}}`}
			case "empty":
			default:
				want = []string{`{"a":1}`, `{"a":2}`, `{"a":3}`}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDownloadRestartsWithoutRepeatingRecords(t *testing.T) {
	t.Parallel()
	ndjson := readTestdata(t, "users-1-day.ndjson")
	var attempts atomic.Int32
	dl := newDownloadHost(t, func(w http.ResponseWriter, r *http.Request) {
		switch attempts.Add(1) {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			// Cut in the middle of the second line, short of the announced length.
			w.Header().Set("Content-Length", strconv.Itoa(len(ndjson)))
			cut := bytes.IndexByte(ndjson, '\n') + 40
			_, _ = w.Write(ndjson[:cut])
		default:
			_, _ = w.Write(ndjson)
		}
	})
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {})
	c := newTestClient(t, f, nil)
	var counters Counters
	var ids []int64
	err := c.DownloadCopilotReport(WithCounters(t.Context(), &counters), dl.link("users.json"), func(raw json.RawMessage) error {
		u, err := DecodeCopilotUserDay(raw)
		ids = append(ids, u.UserID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1, 2, 3}, ids); diff != "" {
		t.Errorf("records handed over (-want +got):\n%s", diff)
	}
	if s := counters.Snapshot(); s.Downloads != 3 || s.Retries != 2 {
		t.Errorf("counters = %+v, want 3 downloads, 2 retries", s)
	}
	if len(clock.slept()) != 2 {
		t.Errorf("backoff sleeps = %v, want 2", clock.slept())
	}
}

func TestDownloadGivesUpAndKeepsTheSignatureSecret(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		want   error
		hits   int32
	}{
		{http.StatusInternalServerError, ErrUnavailable, 1 + DefaultRetries},
		{http.StatusForbidden, ErrForbidden, 1}, // an expired link: not retried
	} {
		dl := newDownloadHost(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			fmt.Fprint(w, `<Error><Code>AuthenticationFailed</Code></Error>`)
		})
		f := newFakeGitHub(t, newFakeClock(), func(w http.ResponseWriter, r *http.Request) {})
		c := newTestClient(t, f, nil)
		err := c.DownloadCopilotReport(t.Context(), dl.link("x.json"), func(json.RawMessage) error { return nil })
		if !errors.Is(err, tc.want) {
			t.Errorf("%d: err = %v, want %v", tc.status, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "SECRETSIGNATURE") {
			t.Errorf("%d: error %q reveals the link's signature", tc.status, err)
		}
		if got := dl.hits.Load(); got != tc.hits {
			t.Errorf("%d: download host saw %d requests, want %d", tc.status, got, tc.hits)
		}
	}
}

func TestDownloadStopsOnCallbackError(t *testing.T) {
	t.Parallel()
	dl := newDownloadHost(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "{\"a\":1}\n{\"a\":2}\n")
	})
	f := newFakeGitHub(t, newFakeClock(), func(w http.ResponseWriter, r *http.Request) {})
	c := newTestClient(t, f, nil)
	stop := errors.New("database full")
	calls := 0
	err := c.DownloadCopilotReport(t.Context(), dl.link("x.json"), func(json.RawMessage) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 || dl.hits.Load() != 1 {
		t.Errorf("err = %v after %d calls and %d downloads, want the callback's error at once", err, calls, dl.hits.Load())
	}
}

func TestDownloadRejectsUnsafeLinks(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t, newFakeClock(), func(w http.ResponseWriter, r *http.Request) {})
	c := newTestClient(t, f, nil)
	for _, link := range []string{
		"http://copilot-reports.github.com/x.json?sig=SECRETSIGNATURE",
		"ftp://copilot-reports.github.com/x.json?sig=SECRETSIGNATURE",
		"/relative/x.json?sig=SECRETSIGNATURE",
		"https://user:pw@copilot-reports.github.com/x.json?sig=SECRETSIGNATURE",
	} {
		err := c.DownloadCopilotReport(t.Context(), link, func(json.RawMessage) error { return nil })
		if err == nil || strings.Contains(err.Error(), "SECRETSIGNATURE") || strings.Contains(err.Error(), "pw") {
			t.Errorf("%s: err = %v, want a refusal that does not repeat the link", link, err)
		}
	}
}

// Wiring one *http.Client for both hosts (the likely mistake) still keeps the token
// off the download host: the token lives in the API client's own transport.
func TestDownloadWithTheAPIHTTPClientCarriesNoToken(t *testing.T) {
	t.Parallel()
	dl := newDownloadHost(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "{}") })
	f := newFakeGitHub(t, newFakeClock(), func(w http.ResponseWriter, r *http.Request) { serveJSON(t, w, "pull.json") })
	shared := f.server.Client()
	c := newTestClient(t, f, func(o *Options) { o.HTTPClient, o.DownloadClient = shared, shared })
	if _, err := c.GetPull(t.Context(), "acme/api", 1); err != nil {
		t.Fatal(err)
	}
	if err := c.DownloadCopilotReport(t.Context(), dl.link("x.json"), func(json.RawMessage) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if dl.hits.Load() != 1 {
		t.Errorf("download host saw %d requests", dl.hits.Load())
	}
}

func int64p(v int64) *int64 { return &v }

func TestDecodeCopilotDay(t *testing.T) {
	t.Parallel()
	raw := json.RawMessage(readTestdata(t, "enterprise-1-day.json"))
	day, err := DecodeCopilotDay(raw)
	if err != nil {
		t.Fatal(err)
	}
	median := 185.5
	want := metrics.CopilotDay{
		Day:                       reportDay,
		DailyActiveUsers:          int64p(120),
		WeeklyActiveUsers:         int64p(300),
		MonthlyActiveUsers:        int64p(410),
		MonthlyActiveChatUsers:    int64p(250),
		MonthlyActiveAgentUsers:   int64p(90),
		UserInitiatedInteractions: int64p(2200),
		CodeGenerations:           int64p(9000),
		CodeAcceptances:           int64p(3100),
		LOCSuggestedToAdd:         int64p(40000),
		LOCSuggestedToDelete:      int64p(2000),
		LOCAdded:                  int64p(15000),
		LOCDeleted:                int64p(900),
		PullRequests: metrics.CopilotPullRequests{
			TotalCreated: int64p(80), TotalReviewed: int64p(70), TotalMerged: int64p(60),
			MedianMinutesToMerge: &median, TotalSuggestions: int64p(40), TotalAppliedSuggestions: int64p(22),
			TotalCreatedByCopilot: int64p(5), TotalReviewedByCopilot: int64p(30),
			TotalCopilotSuggestions: int64p(25), TotalCopilotAppliedSuggestions: int64p(14),
		},
		// The counters the record carries; the absent ones stay nil.
		ChatModes: metrics.CopilotChatModes{Agent: int64p(300), Ask: int64p(500)},
	}
	if diff := cmp.Diff(want, day, cmpopts.IgnoreFields(metrics.CopilotDay{}, "Breakdowns", "Raw")); diff != "" {
		t.Errorf("day (-want +got):\n%s", diff)
	}
	if !bytes.Equal(day.Raw, raw) {
		t.Error("Raw is not the record as sent")
	}
	var keys []string
	for _, b := range day.Breakdowns {
		keys = append(keys, b.Dimension+":"+b.Key1+"/"+b.Key2)
	}
	wantKeys := []string{
		"ide:vscode/", "ide:intellij/",
		"feature:code_completion/", "feature:chat_panel_agent_mode/", "feature:agent_edit/", "feature:chat_inline/",
		"language_feature:go/code_completion",
		"language_model:unknown/gpt-4.1",
		"model_feature:claude-sonnet-4/agent_edit",
	}
	if diff := cmp.Diff(wantKeys, keys); diff != "" {
		t.Errorf("breakdowns (-want +got):\n%s", diff)
	}
	completion := day.Breakdowns[2]
	wantCompletion := metrics.CopilotBreakdown{
		Dimension: metrics.DimensionFeature, Key1: "code_completion",
		CodeGenerations: int64p(6000), CodeAcceptances: int64p(2400), LOCSuggestedToAdd: int64p(20000),
		LOCSuggestedToDelete: int64p(0), LOCAdded: int64p(8000), LOCDeleted: int64p(0),
	}
	if diff := cmp.Diff(wantCompletion, completion); diff != "" {
		t.Errorf("code_completion breakdown (-want +got):\n%s", diff)
	}
	// agent_edit as GitHub sends it: code and lines, no interactions. The ask mode has
	// only its top-level counter, so chat = 500 (counter) + 150 (chat_inline element).
	if agentEdit := day.Breakdowns[4]; agentEdit.Key1 != "agent_edit" || agentEdit.UserInitiatedInteractions != nil {
		t.Errorf("agent_edit breakdown = %+v, want no interactions", agentEdit)
	}
	chat, agent := metrics.CopilotInteractions(day.Breakdowns, day.ChatModes)
	if diff := cmp.Diff([]*int64{int64p(650), int64p(300)}, []*int64{chat, agent}); diff != "" {
		t.Errorf("(chat, agent) of the decoded day (-want +got):\n%s", diff)
	}
}

func TestDecodeCopilotUserDay(t *testing.T) {
	t.Parallel()
	lines := bytes.Split(bytes.TrimSpace(readTestdata(t, "users-1-day.ndjson")), []byte("\n"))
	first, err := DecodeCopilotUserDay(lines[0])
	if err != nil {
		t.Fatal(err)
	}
	credits := 3.25
	want := metrics.CopilotUserDay{
		Day: reportDay, UserID: 1, UserLogin: "octocat",
		UserInitiatedInteractions: int64p(12), CodeGenerations: int64p(40), CodeAcceptances: int64p(15),
		LOCSuggestedToAdd: int64p(200), LOCSuggestedToDelete: int64p(10), LOCAdded: int64p(90), LOCDeleted: int64p(5),
		UsedAgent: true, UsedChat: true, UsedCodeReviewPassive: true, AICreditsUsed: &credits,
		Breakdowns: []metrics.CopilotBreakdown{
			{Dimension: "ide", Key1: "vscode", CodeGenerations: int64p(40), CodeAcceptances: int64p(15), LOCSuggestedToAdd: int64p(200), LOCSuggestedToDelete: int64p(10), LOCAdded: int64p(90), LOCDeleted: int64p(5)},
			{Dimension: "feature", Key1: "code_completion", CodeGenerations: int64p(30), CodeAcceptances: int64p(12), LOCSuggestedToAdd: int64p(100), LOCSuggestedToDelete: int64p(0), LOCAdded: int64p(50), LOCDeleted: int64p(0)},
			{Dimension: "feature", Key1: "chat_panel_agent_mode", UserInitiatedInteractions: int64p(7)},
			{Dimension: "feature", Key1: "chat_inline", UserInitiatedInteractions: int64p(5)},
		},
		ChatModes: metrics.CopilotChatModes{Agent: int64p(7), Ask: int64p(0)},
	}
	if diff := cmp.Diff(want, first, cmpopts.IgnoreFields(metrics.CopilotUserDay{}, "Raw")); diff != "" {
		t.Errorf("user (-want +got):\n%s", diff)
	}
	third, err := DecodeCopilotUserDay(lines[2])
	if err != nil {
		t.Fatal(err)
	}
	if third.LOCAdded != nil || !third.UsedCLI || !third.UsedCodingAgent || len(third.Breakdowns) != 1 ||
		third.Breakdowns[0].Key1 != "python" || third.Breakdowns[0].Key2 != "gpt-4.1" {
		t.Errorf("sparse user = %+v: absent counters must stay nil", third)
	}
	if third.ChatModes != (metrics.CopilotChatModes{}) {
		t.Errorf("sparse user chat modes = %+v, want all nil", third.ChatModes)
	}
}

func TestDecodeCopilotRecordsRejectBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw, field string
	}{
		{`{"user_login":"x","day":"2026-09-14"}`, "user_id"},
		{`{"user_id":1,"day":"14.09.2026"}`, "day"},
		{`{"user_id":1}`, "day"},
		{`[1,2]`, "not a JSON object"},
		{`{"user_id":"one","day":"2026-09-14"}`, "user_id"},
	} {
		_, err := DecodeCopilotUserDay(json.RawMessage(tc.raw))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("DecodeCopilotUserDay(%s) err = %v, want it to name %q", tc.raw, err, tc.field)
		}
	}
	if _, err := DecodeCopilotDay(json.RawMessage(`{"daily_active_users":3}`)); err == nil || !strings.Contains(err.Error(), "day") {
		t.Errorf("DecodeCopilotDay without day: err = %v", err)
	}
}

// Logs are an output too: neither the token nor a link's signature may reach them.
func TestLogsCarryNoSecrets(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var downloads atomic.Int32
	dl := newDownloadHost(t, func(w http.ResponseWriter, r *http.Request) {
		if downloads.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		fmt.Fprint(w, "{}")
	})
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, refuseFirst(t, 2, func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	c := newTestClient(t, f, func(o *Options) { o.Logger = log })
	// The call's own logger (e.g. one carrying the invocation id) takes the API lines.
	var callLogs bytes.Buffer
	callCtx := WithLogger(t.Context(), slog.New(slog.NewJSONHandler(&callLogs, nil)).With("invocation_id", "inv-1"))
	if _, err := c.GetPull(callCtx, "acme/api", 1); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(callLogs.String(), "github rate limit, waiting") ||
		!strings.Contains(callLogs.String(), `"invocation_id":"inv-1"`) || strings.Contains(callLogs.String(), testToken) {
		t.Errorf("call logger got:\n%s", callLogs.String())
	}
	if _, err := c.GetPull(t.Context(), "acme/api", 1); err != nil {
		t.Fatal(err)
	}
	if err := c.DownloadCopilotReport(t.Context(), dl.link("x.json"), func(json.RawMessage) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "retrying copilot report download") {
		t.Fatalf("expected the download retry line, got:\n%s", logs.String())
	}
	for _, secret := range []string{testToken, "SECRETSIGNATURE", "sig="} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs.String())
		}
	}
}
