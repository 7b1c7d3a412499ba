package github

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/metrics"
)

func TestListTeamsPagesAndReplays304(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var f *fakeGitHub
	f = newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || apiPath(r) != "orgs/acme/teams" || r.URL.Query().Get("per_page") != "100" {
			http.NotFound(w, r)
			return
		}
		page := r.URL.Query().Get("page")
		etag := `W/"teams-` + page + `"`
		rateHeaders(w, 5000, 4000, clock.Now().Add(time.Hour))
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		if page == "2" {
			serveJSON(t, w, "teams_page2.json")
			return
		}
		w.Header().Set("Link", `<`+f.baseURL()+`orgs/acme/teams?per_page=100&page=2>; rel="next"`)
		serveJSON(t, w, "teams_page1.json")
	})
	c := newTestClient(t, f, func(o *Options) { o.Cache = newMemCache() })
	want := []metrics.Team{
		{ID: 1, Org: "acme", Slug: "justice-league", Name: "Justice League"},
		{ID: 2, Org: "acme", Slug: "platform-sre", Name: "Platform SRE"},
	}
	for pass := range 2 {
		var counts Counters
		got, err := collect(t, c.ListTeams(WithCounters(t.Context(), &counts), "acme"))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("pass %d: teams (-want +got):\n%s", pass+1, diff)
		}
		if s := counts.Snapshot(); s.Requests != 2 || (pass == 1) != (s.NotModified == 2) {
			t.Errorf("pass %d: %d requests, %d not modified; want 2 requests, both 304 on the second pass", pass+1, s.Requests, s.NotModified)
		}
	}
	for _, r := range f.seen() {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			t.Errorf("%s sent without the token", r.Path)
		}
	}
}

func TestListTeamMembersAndRepos(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		switch apiPath(r) {
		case "orgs/acme/teams/justice-league/members":
			if r.URL.Query().Get("role") != "all" || r.URL.Query().Get("per_page") != "100" {
				t.Errorf("members query %q; want role=all&per_page=100", r.URL.RawQuery)
			}
			serveJSON(t, w, "team_members.json")
		case "orgs/acme/teams/justice-league/repos":
			serveJSON(t, w, "team_repos.json")
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`))
		}
	})
	c := newTestClient(t, f, nil)
	members, err := collect(t, c.ListTeamMembers(t.Context(), "acme", "justice-league"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]metrics.Person{{ID: 1, Login: "octocat"}, {ID: 2, Login: "hubot"}}, members); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	repos, err := collect(t, c.ListTeamRepos(t.Context(), "acme", "justice-league"))
	if err != nil {
		t.Fatal(err)
	}
	want := []metrics.TeamRepository{
		{FullName: "acme/Hello-World", Permission: "maintain"},
		{FullName: "acme/docs", Permission: "push"},
		{FullName: "acme/infra", Permission: "admin"}, // no permissions object: role_name
	}
	if diff := cmp.Diff(want, repos); diff != "" {
		t.Errorf("repositories (-want +got):\n%s", diff)
	}
	// A team deleted since it was listed.
	_, err = collect(t, c.ListTeamMembers(t.Context(), "acme", "gone"))
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("members of a missing team: %v, want ErrNotFound", err)
	}
}

func TestTeamArgumentsAreChecked(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t, newFakeClock(), func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("no request expected, got %s", r.URL.Path)
	})
	c := newTestClient(t, f, nil)
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"teams of no org", drain(c.ListTeams(t.Context(), "")), "org: "},
		{"members of a bad slug", drain(c.ListTeamMembers(t.Context(), "acme", "a/b")), "slug: "},
		{"repos of a bad org", drain(c.ListTeamRepos(t.Context(), "ac me", "x")), "org: "},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error naming %q", tc.name, tc.err, tc.want)
		}
	}
}

func drain[T any](seq func(yield func(T, error) bool)) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}
