package github

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/metrics"
)

func TestListOrgReposFollowsLinkPages(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var f *fakeGitHub
	f = newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		if apiPath(r) != "orgs/acme/repos" {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("page") == "2" {
			w.Header().Set("Link", `<`+f.baseURL()+`orgs/acme/repos?direction=desc&page=1&per_page=100&sort=pushed&type=all>; rel="prev", <`+f.baseURL()+`orgs/acme/repos?direction=desc&page=1&per_page=100&sort=pushed&type=all>; rel="first"`)
			serveJSON(t, w, "repos_page2.json")
			return
		}
		w.Header().Set("Link", `<`+f.baseURL()+`orgs/acme/repos?direction=desc&page=2&per_page=100&sort=pushed&type=all>; rel="next", <`+f.baseURL()+`orgs/acme/repos?direction=desc&page=2&per_page=100&sort=pushed&type=all>; rel="last"`)
		serveJSON(t, w, "repos_page1.json")
	})
	c := newTestClient(t, f, nil)

	repos, err := collect(t, c.ListOrgRepos(t.Context(), "acme"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range repos {
		names = append(names, r.FullName)
	}
	if diff := cmp.Diff([]string{"acme/api", "acme/web", "acme/ops"}, names); diff != "" {
		t.Errorf("repositories (-want +got):\n%s", diff)
	}
	want := metrics.Repository{
		ID: 1296269, Org: "acme", Name: "api", FullName: "acme/api", DefaultBranch: "main",
		Private:   true,
		CreatedAt: time.Date(2021, 1, 26, 19, 1, 12, 0, time.UTC),
		PushedAt:  time.Date(2026, 9, 14, 18, 20, 11, 0, time.UTC),
		UpdatedAt: time.Date(2026, 9, 14, 18, 21, 0, 0, time.UTC),
	}
	if diff := cmp.Diff(want, repos[0]); diff != "" {
		t.Errorf("first repository (-want +got):\n%s", diff)
	}
	if !repos[1].Archived || !repos[1].Fork || repos[1].DefaultBranch != "trunk" {
		t.Errorf("second repository = %+v, want archived fork on trunk", repos[1])
	}

	seen := f.seen()
	if len(seen) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(seen))
	}
	wantQuery := url.Values{"type": {"all"}, "sort": {"pushed"}, "direction": {"desc"}, "per_page": {"100"}}
	if diff := cmp.Diff(wantQuery, seen[0].Query); diff != "" {
		t.Errorf("first page query (-want +got):\n%s", diff)
	}
	if got := seen[1].Query.Get("page"); got != "2" {
		t.Errorf("second request page = %q, want 2 (from the Link header)", got)
	}
	for i, r := range seen {
		if r.Method != http.MethodGet || r.Path != "/orgs/acme/repos" {
			t.Errorf("request %d = %s %s, want GET /orgs/acme/repos under the base path", i, r.Method, r.Path)
		}
		checkAPIHeaders(t, r)
	}
}

// checkAPIHeaders asserts the headers every API request carries.
func checkAPIHeaders(t *testing.T, r seenRequest) {
	t.Helper()
	for header, want := range map[string]string{
		"Authorization":        "Bearer " + testToken,
		"Accept":               "application/vnd.github+json",
		"X-Github-Api-Version": "2022-11-28",
		"User-Agent":           "metrics-collector",
	} {
		if got := r.Header.Get(header); got != want {
			t.Errorf("%s %s: header %s = %q, want %q", r.Method, r.Path, header, got, want)
		}
	}
}

func TestListOrgReposStopsWhenCallerStops(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var f *fakeGitHub
	f = newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", `<`+f.baseURL()+`orgs/acme/repos?page=2&per_page=100>; rel="next"`)
		serveJSON(t, w, "repos_page1.json")
	})
	c := newTestClient(t, f, nil)
	for repo, err := range c.ListOrgRepos(t.Context(), "acme") {
		if err != nil {
			t.Fatal(err)
		}
		if repo.PushedAt.Before(time.Date(2026, 9, 12, 0, 0, 0, 0, time.UTC)) {
			break // past the watermark
		}
	}
	if n := len(f.seen()); n != 1 {
		t.Errorf("server saw %d requests, want 1: the iterator must not fetch pages nobody reads", n)
	}
}

func TestListCommits(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		serveJSON(t, w, "commits.json")
	})
	c := newTestClient(t, f, nil)
	since := time.Date(2026, 9, 10, 0, 0, 0, 0, time.UTC)
	until := time.Date(2026, 9, 15, 0, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	commits, err := collect(t, c.ListCommits(t.Context(), "acme/api", "main", since, until))
	if err != nil {
		t.Fatal(err)
	}
	want := []metrics.Commit{
		{
			SHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e", AuthorLogin: "octocat", AuthorName: "Mona Octocat",
			AuthoredAt: time.Date(2026, 9, 13, 9, 0, 0, 0, time.UTC), CommitterLogin: "web-flow",
			CommittedAt:     time.Date(2026, 9, 14, 8, 30, 0, 0, time.UTC),
			MessageHeadline: "Fix the flux capacitor", ParentCount: 2,
		},
		{
			SHA: "7fd1a60b01f91b314f59955a4e4d4e80d8edf11d", AuthorName: "Unlinked Person",
			AuthoredAt:      time.Date(2026, 9, 12, 8, 0, 0, 0, time.UTC),
			CommittedAt:     time.Date(2026, 9, 12, 8, 0, 0, 0, time.UTC),
			MessageHeadline: "Initial commit",
		},
	}
	if diff := cmp.Diff(want, commits); diff != "" {
		t.Errorf("commits (-want +got):\n%s", diff)
	}
	r := f.seen()[0]
	if r.Path != "/repos/acme/api/commits" {
		t.Errorf("path = %s", r.Path)
	}
	wantQuery := url.Values{"sha": {"main"}, "since": {"2026-09-10T00:00:00Z"}, "until": {"2026-09-14T22:00:00Z"}, "per_page": {"100"}}
	if diff := cmp.Diff(wantQuery, r.Query); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
}

func TestCompareCommitsPagesPastTheUnpagedCap(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var f *fakeGitHub
	f = newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "2" {
			serveJSON(t, w, "compare_page2.json")
			return
		}
		w.Header().Set("Link", `<`+f.baseURL()+apiPath(r)+`?per_page=100&page=2>; rel="next"`)
		serveJSON(t, w, "compare_page1.json")
	})
	c := newTestClient(t, f, nil)
	base := "1111111111111111111111111111111111111111"
	commits, err := c.CompareCommits(t.Context(), "acme/api", base, "release/2026-09")
	if err != nil {
		t.Fatal(err)
	}
	var shas []string
	for _, cm := range commits {
		shas = append(shas, cm.SHA[:4])
	}
	if diff := cmp.Diff([]string{"2222", "3333", "4444"}, shas); diff != "" {
		t.Errorf("commits, oldest first (-want +got):\n%s", diff)
	}
	if commits[2].MessageHeadline != "Merge pull request #1347 from acme/new-topic" || commits[2].ParentCount != 2 {
		t.Errorf("merge commit = %+v", commits[2])
	}
	seen := f.seen()
	if len(seen) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(seen))
	}
	if want := apiPrefix + "repos/acme/api/compare/" + base + "...release%2F2026-09"; seen[0].EscapedPath != want {
		t.Errorf("path = %s, want %s (the branch's slash escaped)", seen[0].EscapedPath, want)
	}
	if got := seen[0].Query.Get("per_page"); got != "100" {
		t.Errorf("per_page = %q, want 100: without paging parameters GitHub stops at 250 commits", got)
	}
}

func TestCompareCommitsRefusesAShortList(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		serveJSON(t, w, "compare_page1.json") // says total_commits 3, lists 2, no next page
	})
	c := newTestClient(t, f, nil)
	_, err := c.CompareCommits(t.Context(), "acme/api", "a", "b")
	if err == nil || !strings.Contains(err.Error(), "got 2 commits of the 3") {
		t.Errorf("err = %v, want the short list reported", err)
	}
}

func TestBadRepositoryName(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("no request expected, got %s", r.URL.Path)
	})
	c := newTestClient(t, f, nil)
	for _, name := range []string{"", "acme", "acme/", "/api", "a/b/c"} {
		_, err := collect(t, c.ListPulls(t.Context(), name))
		if err == nil || !strings.HasPrefix(err.Error(), "fullName: ") {
			t.Errorf("ListPulls(%q) err = %v, want a fullName error", name, err)
		}
		if _, err := c.GetPull(t.Context(), name, 1); err == nil {
			t.Errorf("GetPull(%q): no error", name)
		}
	}
	if _, err := c.CompareCommits(t.Context(), "acme/api", "", "x"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("CompareCommits without base: err = %v", err)
	}
}
