package githubsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestUnknownPathIsJSON404(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, testConfig())
	for _, path := range []string{"/nope", "/repos/acme-web", "/orgs/acme-web/hooks", "/orgs/acme-web/teams/platform/discussions", "/orgs/acme-web/teams/nope/members", "/repos/acme-web/missing-repo/pulls"} {
		resp, body := get(t, srv.API.URL+path, tokenA)
		var msg struct{ Message string }
		if resp.StatusCode != http.StatusNotFound || json.Unmarshal(body, &msg) != nil || msg.Message != "Not Found" {
			t.Errorf("GET %s = %d %s, want 404 {\"message\":\"Not Found\"}", path, resp.StatusCode, body)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, srv.API.URL+"/orgs/acme-web/repos", nil)
	req.Header.Set("Authorization", "Bearer "+tokenA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /orgs/acme-web/repos = %d, want 404", resp.StatusCode)
	}
}

func TestBadCredentials(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	for _, auth := range []string{"", "Bearer ghp_unknown", "Basic dXNlcjpwYXNz", "Bearer"} {
		req, _ := http.NewRequest(http.MethodGet, srv.API.URL+"/orgs/acme-web/repos", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var msg struct{ Message string }
		_ = json.NewDecoder(resp.Body).Decode(&msg)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || msg.Message != "Bad credentials" {
			t.Errorf("Authorization %q: %d %q, want 401 Bad credentials", auth, resp.StatusCode, msg.Message)
		}
		if resp.Header.Get("X-RateLimit-Remaining") != "" {
			t.Errorf("Authorization %q: 401 carries rate-limit headers", auth)
		}
	}
	for _, scheme := range []string{"token ", "Bearer ", "bearer "} {
		req, _ := http.NewRequest(http.MethodGet, srv.API.URL+"/orgs/acme-web/repos", nil)
		req.Header.Set("Authorization", scheme+tokenA)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("Authorization %q<token>: %d, want 200", scheme, resp.StatusCode)
		}
	}
	for _, r := range sim.Requests() {
		if r.Status == http.StatusUnauthorized && r.Charged {
			t.Errorf("a 401 was charged against the rate limit: %+v", r)
		}
	}
}

func TestTokenSeesOnlyItsEnterprise(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	truth, _ := sim.Truth("acme")
	repo := truth.Repositories[0].FullName
	paths := []string{
		"/orgs/acme-web/repos", "/repos/" + repo, "/repos/" + repo + "/pulls", "/repos/" + repo + "/commits",
		"/orgs/acme-web/copilot/billing/seats", "/enterprises/acme/copilot/billing/seats",
		"/enterprises/acme/copilot/metrics/reports/enterprise-1-day?day=2026-09-10",
		"/orgs/acme-web/copilot/metrics/reports/organization-1-day?day=2026-09-10",
	}
	for _, p := range paths {
		if resp, _ := get(t, srv.API.URL+p, tokenA); resp.StatusCode != http.StatusOK {
			t.Errorf("acme's token: GET %s = %d, want 200", p, resp.StatusCode)
		}
		if resp, _ := get(t, srv.API.URL+p, tokenB); resp.StatusCode != http.StatusNotFound {
			t.Errorf("globex's token: GET %s = %d, want 404", p, resp.StatusCode)
		}
	}
}

var linkRE = regexp.MustCompile(`<([^>]+)>; rel="(\w+)"`)

func links(h http.Header) map[string]string {
	out := map[string]string{}
	for _, m := range linkRE.FindAllStringSubmatch(h.Get("Link"), -1) {
		out[m[2]] = m[1]
	}
	return out
}

func TestPaginationFollowsLinkHeaders(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	truth, _ := sim.Truth("acme")
	var want []string
	for _, r := range truth.Repositories {
		if r.Org == "acme-web" {
			want = append(want, r.Name)
		}
	}
	next := srv.API.URL + "/orgs/acme-web/repos?per_page=3&sort=full_name"
	var got []string
	for page := 1; next != ""; page++ {
		resp, body := get(t, next, tokenA)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("page %d: %d", page, resp.StatusCode)
		}
		var repos []struct{ Name string }
		if err := json.Unmarshal(body, &repos); err != nil {
			t.Fatal(err)
		}
		for _, r := range repos {
			got = append(got, r.Name)
		}
		l := links(resp.Header)
		if page == 1 && (l["last"] == "" || l["prev"] != "" || l["first"] != "") {
			t.Errorf("first page Link = %q, want next and last only", resp.Header.Get("Link"))
		}
		if page > 1 && (l["prev"] == "" || l["first"] == "") {
			t.Errorf("page %d Link = %q, want prev and first", page, resp.Header.Get("Link"))
		}
		for rel, u := range l {
			if !strings.HasPrefix(u, srv.API.URL+"/orgs/acme-web/repos?") || !strings.Contains(u, "per_page=3") || !strings.Contains(u, "sort=full_name") {
				t.Errorf("rel=%s link %q is not an absolute URL keeping the query", rel, u)
			}
		}
		next = l["next"]
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("paged repositories = %v, want %v (sorted by name)", got, want)
	}

	// per_page is capped at 100.
	resp, body := get(t, srv.API.URL+"/repos/"+busyRepo(t, sim).fullName()+"/actions/runs?per_page=500", tokenA)
	var runs struct {
		TotalCount   int               `json:"total_count"`
		WorkflowRuns []json.RawMessage `json:"workflow_runs"`
	}
	if err := json.Unmarshal(body, &runs); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("runs: %d %v", resp.StatusCode, err)
	}
	if len(runs.WorkflowRuns) != 100 {
		t.Errorf("per_page=500 gave %d runs, want 100", len(runs.WorkflowRuns))
	}
}

func busyRepo(t testing.TB, sim *Simulator) *repo {
	t.Helper()
	for _, r := range sim.w.orgs["acme-web"].repos {
		if r.busy {
			return r
		}
	}
	t.Fatal("no busy repository")
	return nil
}

func TestETagAndConditionalRequestsAreFree(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	u := srv.API.URL + "/orgs/acme-web/repos"
	first, body := get(t, u, tokenA)
	etag := first.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on a 200")
	}
	remaining := first.Header.Get("X-RateLimit-Remaining")
	again, againBody := get(t, u, tokenA, "If-None-Match", etag)
	if again.StatusCode != http.StatusNotModified || len(againBody) != 0 {
		t.Fatalf("If-None-Match with the ETag: %d with %d bytes, want 304 and no body", again.StatusCode, len(againBody))
	}
	if got := again.Header.Get("X-RateLimit-Remaining"); got != remaining {
		t.Errorf("remaining after a 304 = %s, want %s (not charged)", got, remaining)
	}
	if again.Header.Get("ETag") != etag {
		t.Errorf("304 ETag = %q, want %q", again.Header.Get("ETag"), etag)
	}
	stale, staleBody := get(t, u, tokenA, "If-None-Match", `W/"stale"`)
	if stale.StatusCode != http.StatusOK || !bytes.Equal(staleBody, body) {
		t.Errorf("a stale ETag got %d, want the full 200", stale.StatusCode)
	}
	// ETags are bound to the token.
	other, _ := get(t, srv.API.URL+"/rate_limit", tokenA)
	otherB, _ := get(t, srv.API.URL+"/rate_limit", tokenB)
	if other.Header.Get("ETag") == otherB.Header.Get("ETag") {
		t.Error("two tokens got the same ETag for their own rate limit")
	}
	var charged, notModified int
	for _, r := range sim.Requests() {
		if r.Status == http.StatusNotModified {
			notModified++
			if r.Charged {
				t.Errorf("a 304 was charged: %+v", r)
			}
		}
		if r.Charged {
			charged++
		}
	}
	if notModified != 1 || charged != 2 {
		t.Errorf("recorded %d 304s and %d charged requests, want 1 and 2 (rate_limit is free)", notModified, charged)
	}
}

func TestRateLimitCountsDownAndResetsAfterAnHour(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.RateLimit = 3
	sim, srv := newSim(t, cfg)
	u := srv.API.URL + "/orgs/acme-web/repos"
	wantReset := strconv.FormatInt(testNow.Add(time.Hour).Add(time.Second).Unix(), 10)
	for i := 1; i <= 3; i++ {
		resp, _ := get(t, u, tokenA)
		h := resp.Header
		if resp.StatusCode != http.StatusOK || h.Get("X-RateLimit-Limit") != "3" || h.Get("X-RateLimit-Used") != strconv.Itoa(i) ||
			h.Get("X-RateLimit-Remaining") != strconv.Itoa(3-i) || h.Get("X-RateLimit-Reset") != wantReset || h.Get("X-RateLimit-Resource") != "core" {
			t.Fatalf("request %d: %d limit=%s used=%s remaining=%s reset=%s (want reset %s)", i, resp.StatusCode,
				h.Get("X-RateLimit-Limit"), h.Get("X-RateLimit-Used"), h.Get("X-RateLimit-Remaining"), h.Get("X-RateLimit-Reset"), wantReset)
		}
	}
	resp, body := get(t, u, tokenA)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-RateLimit-Remaining") != "0" || !strings.Contains(string(body), "API rate limit exceeded") {
		t.Fatalf("over the limit: %d remaining=%s %s; want 403, 0, API rate limit exceeded", resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"), body)
	}
	// The other enterprise's token has its own budget.
	if resp, _ := get(t, srv.API.URL+"/orgs/globex-eng/repos", tokenB); resp.StatusCode != http.StatusOK {
		t.Errorf("globex's token after acme's ran out: %d, want 200", resp.StatusCode)
	}
	sim.Advance(59 * time.Minute)
	if resp, _ := get(t, u, tokenA); resp.StatusCode != http.StatusForbidden {
		t.Errorf("before the reset: %d, want 403", resp.StatusCode)
	}
	sim.Advance(2 * time.Minute)
	resp, _ = get(t, u, tokenA)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-RateLimit-Remaining") != "2" {
		t.Errorf("after the reset: %d remaining=%s, want 200 and 2", resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"))
	}
}

func TestCommonHeaders(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, testConfig())
	respA, _ := get(t, srv.API.URL+"/orgs/acme-web/repos", tokenA)
	if got := respA.Header.Get("github-authentication-token-expiration"); got != "2026-10-01 00:00:00 UTC" {
		t.Errorf("token expiration header = %q", got)
	}
	if respA.Header.Get("X-GitHub-Request-Id") == "" || respA.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("headers = %v", respA.Header)
	}
	if got := respA.Header.Get("X-GitHub-Api-Version-Selected"); got != "2022-11-28" {
		t.Errorf("version selected without asking = %q", got)
	}
	if resp, _ := get(t, srv.API.URL+"/orgs/acme-web/repos", tokenA, "X-GitHub-Api-Version", "2026-03-10"); resp.StatusCode != http.StatusOK || resp.Header.Get("X-GitHub-Api-Version-Selected") != "2026-03-10" {
		t.Errorf("API version 2026-03-10: %d %q", resp.StatusCode, resp.Header.Get("X-GitHub-Api-Version-Selected"))
	}
	if resp, body := get(t, srv.API.URL+"/orgs/acme-web/repos", tokenA, "X-GitHub-Api-Version", "2020-01-01"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an unsupported API version: %d %s, want 400", resp.StatusCode, body)
	}
	respB, _ := get(t, srv.API.URL+"/orgs/globex-eng/repos", tokenB)
	if respB.Header.Get("github-authentication-token-expiration") != "" {
		t.Error("a token without expiry got an expiration header")
	}
}

func TestRequestsAreRecorded(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	get(t, srv.API.URL+"/orgs/acme-web/repos?per_page=2", tokenA)
	get(t, srv.API.URL+"/orgs/acme-web/repos", "")
	reqs := sim.Requests()
	if len(reqs) != 2 {
		t.Fatalf("recorded %d requests, want 2", len(reqs))
	}
	r := reqs[0]
	if r.Host != HostAPI || r.Method != "GET" || r.Path != "/orgs/acme-web/repos" || r.Query != "per_page=2" || r.Status != 200 ||
		!r.Authorization || r.Token != tokenA || r.Enterprise != "acme" || !r.Charged || !r.At.Equal(testNow) {
		t.Errorf("first request recorded as %+v", r)
	}
	if reqs[1].Authorization || reqs[1].Status != http.StatusUnauthorized {
		t.Errorf("second request recorded as %+v", reqs[1])
	}
	sim.ResetRequests()
	if len(sim.Requests()) != 0 {
		t.Error("ResetRequests kept requests")
	}
}

// TestSameSeedSameBytes serves two simulators of one configuration and compares the
// bytes of a tour of the API, including report files.
func TestSameSeedSameBytes(t *testing.T) {
	t.Parallel()
	simA, srvA := newSim(t, testConfig())
	_, srvB := newSim(t, testConfig())
	sc := simA.w.orgs["acme-web"].showcase.fullName()
	paths := []string{
		"/orgs/acme-web/repos?per_page=100", "/repos/" + sc, "/repos/" + sc + "/commits?per_page=100",
		"/repos/" + sc + "/pulls?state=all&per_page=100", "/repos/" + sc + "/pulls/1", "/repos/" + sc + "/pulls/2/reviews",
		"/repos/" + sc + "/actions/runs?per_page=100", "/repos/" + sc + "/deployments", "/repos/" + sc + "/issues?state=all",
		"/enterprises/acme/copilot/billing/seats", "/orgs/acme-data/copilot/billing/seats",
		"/repos/" + sc + "/issues?state=all&labels=incident&per_page=100",
	}
	for _, l := range []envLayout{layoutServices, layoutRegions} {
		r := layoutRepo(t, simA, "acme-web", l).fullName()
		paths = append(paths, "/repos/"+r+"/deployments?per_page=100", "/repos/"+r+"/pulls?state=all&per_page=100", "/repos/"+r+"/commits?per_page=100")
	}
	for _, p := range paths {
		ra, ba := get(t, srvA.API.URL+p, tokenA)
		rb, bb := get(t, srvB.API.URL+p, tokenA)
		// Absolute URLs carry each server's port; compare with it masked.
		ba = bytes.ReplaceAll(ba, []byte(srvA.API.URL), []byte("API"))
		bb = bytes.ReplaceAll(bb, []byte(srvB.API.URL), []byte("API"))
		if ra.StatusCode != http.StatusOK || !bytes.Equal(ba, bb) {
			t.Errorf("GET %s differs between two simulators of one seed (status %d/%d)", p, ra.StatusCode, rb.StatusCode)
		}
	}
	for _, report := range []string{"/enterprises/acme/copilot/metrics/reports/users-1-day?day=2026-09-10", "/orgs/acme-web/copilot/metrics/reports/organization-1-day?day=2026-09-10"} {
		fa := downloadAll(t, srvA, tokenA, report)
		fb := downloadAll(t, srvB, tokenA, report)
		if !bytes.Equal(fa, fb) || len(fa) == 0 {
			t.Errorf("report %s differs between two simulators of one seed", report)
		}
	}
}

// downloadAll fetches a report envelope and concatenates its files.
func downloadAll(t testing.TB, srv *Servers, token, reportPath string) []byte {
	t.Helper()
	resp, body := get(t, srv.API.URL+reportPath, token)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s", reportPath, resp.StatusCode, body)
	}
	var env struct {
		DownloadLinks []string `json:"download_links"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, l := range env.DownloadLinks {
		r, b := get(t, l, "")
		if r.StatusCode != http.StatusOK {
			t.Fatalf("download %s = %d %s", l, r.StatusCode, b)
		}
		out = append(out, b...)
	}
	return out
}
