package githubsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"metrics-collector/internal/metrics"
)

func envelope(t *testing.T, srv *Servers, token, path string) (int, map[string]any) {
	t.Helper()
	resp, body := get(t, srv.API.URL+path, token)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return resp.StatusCode, env
}

func linksOf(env map[string]any) []string {
	var out []string
	for _, l := range env["download_links"].([]any) {
		out = append(out, l.(string))
	}
	return out
}

func ndjsonLines(b []byte) [][]byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(l) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// TestReportShardsEqualTruth follows envelopes to signed links to NDJSON shards, for the
// enterprise and each org, and compares the lines with the ground truth.
func TestReportShardsEqualTruth(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	day := time.Date(2026, 9, 10, 0, 0, 0, 0, time.UTC)
	ct, err := sim.CopilotTruth("acme", day, day)
	if err != nil {
		t.Fatal(err)
	}
	scopes := map[metrics.CopilotScope]string{
		{Type: metrics.ScopeEnterprise, Name: "acme"}:        "/enterprises/acme/copilot/metrics/reports/",
		{Type: metrics.ScopeOrganization, Name: "acme-web"}:  "/orgs/acme-web/copilot/metrics/reports/",
		{Type: metrics.ScopeOrganization, Name: "acme-data"}: "/orgs/acme-data/copilot/metrics/reports/",
	}
	for scope, prefix := range scopes {
		aggregate := "enterprise-1-day"
		if scope.Type == metrics.ScopeOrganization {
			aggregate = "organization-1-day"
		}
		status, env := envelope(t, srv, tokenA, prefix+aggregate+"?day=2026-09-10")
		if status != http.StatusOK || env["report_day"] != "2026-09-10" || len(linksOf(env)) != 1 {
			t.Fatalf("%v aggregate envelope: %d %v", scope, status, env)
		}
		agg := downloadAll(t, srv, tokenA, prefix+aggregate+"?day=2026-09-10")
		if want := ct.Days[scope][0].Raw; !bytes.Equal(bytes.TrimSpace(agg), want) {
			t.Errorf("%v aggregate file differs from the truth's raw record", scope)
		}

		_, env = envelope(t, srv, tokenA, prefix+"users-1-day?day=2026-09-10")
		shards := linksOf(env)
		want := ct.UserDays[scope]
		if wantShards := (len(want) + 19) / 20; len(shards) != wantShards || len(shards) < 2 {
			t.Errorf("%v users report: %d shards for %d users, want %d (and at least 2)", scope, len(shards), len(want), wantShards)
		}
		lines := ndjsonLines(downloadAll(t, srv, tokenA, prefix+"users-1-day?day=2026-09-10"))
		if len(lines) != len(want) {
			t.Fatalf("%v: %d user lines, truth %d", scope, len(lines), len(want))
		}
		zeroRows := 0
		for i, l := range lines {
			if !bytes.Equal(l, want[i].Raw) {
				t.Errorf("%v user line %d differs from the truth", scope, i)
			}
			if *want[i].CodeGenerations == 0 {
				zeroRows++
			}
		}
		if zeroRows == 0 {
			t.Errorf("%v: no user line with all counters zero", scope)
		}
	}
}

func TestReportDaysWithoutReport(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Now = time.Date(2027, 1, 15, 12, 0, 0, 0, time.UTC)
	cfg.CopilotMissingDay = time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)
	_, srv := newSim(t, cfg)
	ent := "/enterprises/acme/copilot/metrics/reports/enterprise-1-day?day="
	org := "/orgs/acme-web/copilot/metrics/reports/organization-1-day?day="
	cases := map[string]struct {
		path string
		want int
	}{
		"more than a year back":      {ent + "2026-01-14", http.StatusNoContent},
		"a year back":                {ent + "2026-01-16", http.StatusOK},
		"the configured missing day": {ent + "2027-01-02", http.StatusNoContent},
		"users on the missing day":   {"/enterprises/acme/copilot/metrics/reports/users-1-day?day=2027-01-02", http.StatusNoContent},
		"not generated yet":          {ent + "2027-01-14", http.StatusNoContent},
		"generated":                  {ent + "2027-01-13", http.StatusOK},
		"in the future":              {org + "2027-02-01", http.StatusNoContent},
		"org day":                    {org + "2027-01-10", http.StatusOK},
	}
	for name, tc := range cases {
		resp, body := get(t, srv.API.URL+tc.path, tokenA)
		if resp.StatusCode != tc.want || (tc.want == http.StatusNoContent && len(body) != 0) {
			t.Errorf("%s: %d %q, want %d", name, resp.StatusCode, body, tc.want)
		}
	}
	// The history floors: enterprise reports from 2025-10-10, org reports from 2025-12-12.
	_, srvEarly := newSim(t, testConfig())
	for path, want := range map[string]int{
		"/enterprises/acme/copilot/metrics/reports/enterprise-1-day?day=2025-10-09": http.StatusNoContent,
		"/enterprises/acme/copilot/metrics/reports/enterprise-1-day?day=2025-10-10": http.StatusOK,
		"/orgs/acme-web/copilot/metrics/reports/organization-1-day?day=2025-12-11":  http.StatusNoContent,
		"/orgs/acme-web/copilot/metrics/reports/organization-1-day?day=2025-12-12":  http.StatusOK,
	} {
		if resp, _ := get(t, srvEarly.API.URL+path, tokenA); resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

func TestReportRequestValidation(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, testConfig())
	for path, want := range map[string]int{
		"/enterprises/acme/copilot/metrics/reports/enterprise-1-day":                  http.StatusUnprocessableEntity,
		"/enterprises/acme/copilot/metrics/reports/enterprise-1-day?day=yesterday":    http.StatusUnprocessableEntity,
		"/enterprises/acme/copilot/metrics/reports/organization-1-day?day=2026-09-10": http.StatusNotFound,
		"/enterprises/acme/copilot/metrics/reports/enterprise-1-day/latest":           http.StatusNotFound,
		"/orgs/acme-web/copilot/metrics/reports/enterprise-28-day/latest":             http.StatusNotFound,
		"/enterprises/acme/copilot/metrics/reports/nonsense?day=2026-09-10":           http.StatusNotFound,
	} {
		if resp, body := get(t, srv.API.URL+path, tokenA); resp.StatusCode != want {
			t.Errorf("%s: %d %s, want %d", path, resp.StatusCode, body, want)
		}
	}
}

func TestDownloadLinksAreSignedAndExpire(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	_, env := envelope(t, srv, tokenA, "/enterprises/acme/copilot/metrics/reports/users-1-day?day=2026-09-10")
	link := linksOf(env)[0]
	if !strings.HasPrefix(link, srv.Downloads.URL+"/") {
		t.Fatalf("link %s is not on the download host", link)
	}
	if resp, _ := get(t, link, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("fresh link: %d", resp.StatusCode)
	}
	u, _ := url.Parse(link)
	q := u.Query()
	q.Set("sig", strings.Repeat("A", len(q.Get("sig"))))
	forged := *u
	forged.RawQuery = q.Encode()
	if resp, body := get(t, forged.String(), ""); resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "AuthenticationFailed") {
		t.Errorf("forged signature: %d %s, want 403 AuthenticationFailed", resp.StatusCode, body)
	}
	other := *u
	other.Path = strings.Replace(u.Path, "part-1-of", "part-2-of", 1)
	if resp, _ := get(t, other.String(), ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another path with this signature: %d, want 403", resp.StatusCode)
	}
	later := *u
	q = u.Query()
	q.Set("se", time.Now().AddDate(5, 0, 0).Format(time.RFC3339))
	later.RawQuery = q.Encode()
	if resp, _ := get(t, later.String(), ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an extended expiry: %d, want 403", resp.StatusCode)
	}
	sim.Advance(59 * time.Minute)
	if resp, _ := get(t, link, ""); resp.StatusCode != http.StatusOK {
		t.Errorf("after 59 minutes: %d, want 200", resp.StatusCode)
	}
	sim.Advance(2 * time.Minute)
	if resp, _ := get(t, link, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("after 61 minutes: %d, want 403", resp.StatusCode)
	}
}

func dayRecordAt(t *testing.T, srv *Servers, path string) dayRecord {
	t.Helper()
	var rec dayRecord
	if err := json.Unmarshal(downloadAll(t, srv, tokenA, path), &rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestRecentReportsGrowUntilFinal(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Now = time.Date(2026, 9, 17, 10, 0, 0, 0, time.UTC)
	sim, srv := newSim(t, cfg)
	path := "/enterprises/acme/copilot/metrics/reports/enterprise-1-day?day=2026-09-15" // a Tuesday, generated ten hours ago
	first := dayRecordAt(t, srv, path)
	sim.Advance(24 * time.Hour)
	second := dayRecordAt(t, srv, path)
	sim.Advance(48 * time.Hour)
	final := dayRecordAt(t, srv, path)
	sim.Advance(72 * time.Hour)
	still := dayRecordAt(t, srv, path)
	if !(first.CodeGenerationActivityCount < second.CodeGenerationActivityCount && second.CodeGenerationActivityCount < final.CodeGenerationActivityCount) {
		t.Errorf("code generations over three days: %d, %d, %d; want growing", first.CodeGenerationActivityCount, second.CodeGenerationActivityCount, final.CodeGenerationActivityCount)
	}
	if first.DailyActiveUsers != final.DailyActiveUsers {
		t.Errorf("daily active users changed from %d to %d", first.DailyActiveUsers, final.DailyActiveUsers)
	}
	if still.CodeGenerationActivityCount != final.CodeGenerationActivityCount {
		t.Errorf("a final day changed: %d then %d", final.CodeGenerationActivityCount, still.CodeGenerationActivityCount)
	}
}

func TestReportFiguresBehaveLikeGitHubs(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, testConfig())
	var entDAU, orgDAU int64
	var sawCLI, sawAgents bool
	for _, day := range []string{"2026-09-08", "2026-09-09", "2026-09-10"} {
		ent := dayRecordAt(t, srv, "/enterprises/acme/copilot/metrics/reports/enterprise-1-day?day="+day)
		web := dayRecordAt(t, srv, "/orgs/acme-web/copilot/metrics/reports/organization-1-day?day="+day)
		data := dayRecordAt(t, srv, "/orgs/acme-data/copilot/metrics/reports/organization-1-day?day="+day)
		entDAU += ent.DailyActiveUsers
		orgDAU += web.DailyActiveUsers + data.DailyActiveUsers
		var completion int64 = -1
		for _, f := range ent.TotalsByFeature {
			if f.Feature == "code_completion" {
				completion = f.CodeGenerationActivityCount
			}
		}
		if completion < 0 || completion >= ent.CodeGenerationActivityCount {
			t.Errorf("%s: code_completion generations %d, top level %d; the top level must also count chat and agent", day, completion, ent.CodeGenerationActivityCount)
		}
		var sum int64
		for _, f := range ent.TotalsByFeature {
			sum += f.CodeGenerationActivityCount
		}
		if sum != ent.CodeGenerationActivityCount {
			t.Errorf("%s: features add up to %d generations, top level %d", day, sum, ent.CodeGenerationActivityCount)
		}
		sawCLI = sawCLI || ent.TotalsByCLI != nil
		sawAgents = sawAgents || len(ent.TotalsBy3rdPartyAgent) > 0
		if ent.PullRequests.TotalCreated != web.PullRequests.TotalCreated+data.PullRequests.TotalCreated {
			t.Errorf("%s: enterprise PRs created %d, orgs %d + %d", day, ent.PullRequests.TotalCreated, web.PullRequests.TotalCreated, data.PullRequests.TotalCreated)
		}
	}
	if orgDAU <= entDAU {
		t.Errorf("org daily active users add up to %d, the enterprise's %d; users in two orgs must count in both", orgDAU, entDAU)
	}
	if !sawCLI || !sawAgents {
		t.Errorf("fields the collector does not model: totals_by_cli %v, totals_by_3rd_party_agent %v", sawCLI, sawAgents)
	}
	// The brand-new field appears from its configured day.
	before := downloadAll(t, srv, tokenA, "/enterprises/acme/copilot/metrics/reports/users-1-day?day=2026-09-04")
	after := downloadAll(t, srv, tokenA, "/enterprises/acme/copilot/metrics/reports/users-1-day?day=2026-09-05")
	if bytes.Contains(before, []byte("totals_by_agent_skill")) || !bytes.Contains(after, []byte("totals_by_agent_skill")) {
		t.Error("the new field is not there from CopilotNewFieldFrom only")
	}
	if !bytes.Contains(after, []byte(`"ai_credits_used"`)) || !bytes.Contains(after, []byte(`"last_known_ide_version"`)) {
		t.Error("user lines lack ai_credits_used or last_known_ide_version")
	}
}

// The chat and agent interaction columns need these shapes in both the aggregate and
// the per-user records: chat_panel_agent_mode and chat_inline feature elements with
// interactions, agent_edit with code but no interactions, top-level chat_panel_*_mode
// counters that agree with their elements, and Copilot code review's own suggestion
// counts within all reviewers' ones.
func TestReportsCarryTheChatAndAgentShapes(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, testConfig())
	type seen struct{ agentMode, inline, agentEdit bool }
	check := func(where string, features []featureTotals, modes chatModes, saw *seen) {
		t.Helper()
		byFeature := map[string]featureTotals{}
		for _, f := range features {
			byFeature[f.Feature] = f
		}
		if f, ok := byFeature[metrics.FeatureChatPanelAgentMode]; ok && f.UserInitiatedInteractionCount > 0 {
			saw.agentMode = true
		}
		if f, ok := byFeature[metrics.FeatureChatInline]; ok && f.UserInitiatedInteractionCount > 0 {
			saw.inline = true
		}
		if f, ok := byFeature[metrics.FeatureAgentEdit]; ok {
			saw.agentEdit = saw.agentEdit || f.CodeGenerationActivityCount > 0
			if f.UserInitiatedInteractionCount != 0 {
				t.Errorf("%s: agent_edit has %d interactions, GitHub sends none", where, f.UserInitiatedInteractionCount)
			}
		}
		for _, m := range []struct {
			feature string
			counter int64
		}{
			{metrics.FeatureChatPanelAgentMode, modes.ChatPanelAgentMode}, {"chat_panel_ask_mode", modes.ChatPanelAskMode},
			{"chat_panel_edit_mode", modes.ChatPanelEditMode},
		} {
			if got := byFeature[m.feature].UserInitiatedInteractionCount; got != m.counter {
				t.Errorf("%s: %s element %d, top-level counter %d; they must agree", where, m.feature, got, m.counter)
			}
		}
	}
	var aggregate, users seen
	for _, day := range []string{"2026-09-08", "2026-09-09", "2026-09-10"} {
		for _, path := range []string{"/enterprises/acme/copilot/metrics/reports/enterprise-1-day?day=" + day,
			"/orgs/acme-web/copilot/metrics/reports/organization-1-day?day=" + day} {
			rec := dayRecordAt(t, srv, path)
			check(path, rec.TotalsByFeature, rec.chatModes, &aggregate)
			pr := rec.PullRequests
			if pr.TotalCopilotSuggestions > pr.TotalSuggestions || pr.TotalCopilotAppliedSuggestions > pr.TotalAppliedSuggestions ||
				pr.TotalCopilotAppliedSuggestions > pr.TotalCopilotSuggestions {
				t.Errorf("%s: Copilot review suggestions %d/%d do not fit within all reviewers' %d/%d", path,
					pr.TotalCopilotSuggestions, pr.TotalCopilotAppliedSuggestions, pr.TotalSuggestions, pr.TotalAppliedSuggestions)
			}
		}
		for _, line := range ndjsonLines(downloadAll(t, srv, tokenA, "/enterprises/acme/copilot/metrics/reports/users-1-day?day="+day)) {
			var rec userRecord
			if err := json.Unmarshal(line, &rec); err != nil {
				t.Fatal(err)
			}
			check("user "+rec.UserLogin+" on "+day, rec.TotalsByFeature, rec.chatModes, &users)
		}
	}
	ent := dayRecordAt(t, srv, "/enterprises/acme/copilot/metrics/reports/enterprise-1-day?day=2026-09-09")
	if ent.PullRequests.TotalCopilotSuggestions == 0 {
		t.Error("the enterprise's Copilot code review made no suggestions on a weekday")
	}
	if aggregate != (seen{true, true, true}) || users != (seen{true, true, true}) {
		t.Errorf("chat_panel_agent_mode, chat_inline, agent_edit seen in aggregate records %+v, in user records %+v; want all", aggregate, users)
	}
}

func TestLatest28DayReports(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	status, env := envelope(t, srv, tokenA, "/enterprises/acme/copilot/metrics/reports/enterprise-28-day/latest")
	if status != http.StatusOK || env["report_end_day"] != "2026-09-13" || env["report_start_day"] != "2026-08-17" {
		t.Fatalf("28-day envelope: %d %v", status, env)
	}
	var period periodRecord
	if err := json.Unmarshal(downloadAll(t, srv, tokenA, "/enterprises/acme/copilot/metrics/reports/enterprise-28-day/latest"), &period); err != nil {
		t.Fatal(err)
	}
	start, _ := time.Parse(dayLayout, "2026-08-17")
	end, _ := time.Parse(dayLayout, "2026-09-13")
	ct, _ := sim.CopilotTruth("acme", start, end)
	days := ct.Days[metrics.CopilotScope{Type: metrics.ScopeEnterprise, Name: "acme"}]
	if len(period.DayTotals) != len(days) || len(days) != 27 { // 28 days minus the missing one
		t.Fatalf("day_totals %d, truth %d days", len(period.DayTotals), len(days))
	}
	for i, d := range period.DayTotals {
		raw, _ := json.Marshal(d)
		if !bytes.Equal(raw, days[i].Raw) {
			t.Errorf("day_totals[%d] (%s) differs from the 1-day record", i, d.Day)
		}
	}
	_, env = envelope(t, srv, tokenA, "/orgs/acme-web/copilot/metrics/reports/users-28-day/latest")
	lines := ndjsonLines(downloadAll(t, srv, tokenA, "/orgs/acme-web/copilot/metrics/reports/users-28-day/latest"))
	if len(linksOf(env)) < 2 || len(lines) != len(ct.UserDays[metrics.CopilotScope{Type: metrics.ScopeOrganization, Name: "acme-web"}]) {
		t.Errorf("users-28-day: %d shards, %d lines, truth %d", len(linksOf(env)), len(lines), len(ct.UserDays[metrics.CopilotScope{Type: metrics.ScopeOrganization, Name: "acme-web"}]))
	}
	if len(lines) > 0 && !bytes.Contains(lines[0], []byte(`"report_start_day":"2026-08-17"`)) {
		t.Errorf("users-28-day line lacks report_start_day: %s", lines[0])
	}
}

func TestUserTeamsReport(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, testConfig())
	lines := ndjsonLines(downloadAll(t, srv, tokenA, "/orgs/acme-web/copilot/metrics/reports/user-teams-1-day?day=2026-09-10"))
	if len(lines) == 0 {
		t.Fatal("no user-team lines")
	}
	perTeam := map[string]int{}
	for _, l := range lines {
		var rec userTeamRecord
		if err := json.Unmarshal(l, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.UserID == 0 || rec.OrganizationID == "" || rec.Day != "2026-09-10" {
			t.Errorf("line %s", l)
		}
		perTeam[rec.Slug]++
	}
	for slug, n := range perTeam {
		if n < 5 {
			t.Errorf("team %s listed with %d users; teams under 5 are left out", slug, n)
		}
	}
}
