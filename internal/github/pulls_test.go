package github

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/metrics"
)

func TestListPulls(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		serveJSON(t, w, "pulls.json")
	})
	c := newTestClient(t, f, nil)
	pulls, err := collect(t, c.ListPulls(t.Context(), "acme/api"))
	if err != nil {
		t.Fatal(err)
	}
	merged := time.Date(2026, 9, 2, 18, 0, 0, 0, time.UTC)
	want := []metrics.PullRequest{
		{
			ID: 1, RepoFullName: "acme/api", Number: 1347, AuthorLogin: "octocat", AuthorID: 1, Title: "Amazing new feature",
			State: "closed", BaseRef: "main", HeadRef: "new-topic",
			CreatedAt: time.Date(2026, 9, 1, 19, 1, 12, 0, time.UTC), UpdatedAt: time.Date(2026, 9, 2, 19, 1, 12, 0, time.UTC),
			ClosedAt: &merged, MergedAt: &merged, MergeCommitSHA: "e5bd3914e2e596debea16f433f57875b5b90bcd6",
			Labels: []string{"bug"},
		},
		{
			ID: 2, RepoFullName: "acme/api", Number: 1348, AuthorLogin: "hubot", AuthorID: 2, Title: "WIP", State: "open", Draft: true,
			BaseRef: "main", HeadRef: "wip",
			CreatedAt: time.Date(2026, 9, 3, 10, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 9, 3, 11, 0, 0, 0, time.UTC),
		},
	}
	if diff := cmp.Diff(want, pulls); diff != "" {
		t.Errorf("pulls (-want +got):\n%s", diff)
	}
	r := f.seen()[0]
	wantQuery := url.Values{"state": {"all"}, "sort": {"updated"}, "direction": {"desc"}, "per_page": {"100"}}
	if r.Path != "/repos/acme/api/pulls" {
		t.Errorf("path = %s", r.Path)
	}
	if diff := cmp.Diff(wantQuery, r.Query); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
}

func TestGetPullCarriesSizes(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		if apiPath(r) != "repos/acme/api/pulls/1347" {
			http.NotFound(w, r)
			return
		}
		serveJSON(t, w, "pull.json")
	})
	c := newTestClient(t, f, nil)
	pr, err := c.GetPull(t.Context(), "acme/api", 1347)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Additions != 100 || pr.Deletions != 3 || pr.ChangedFiles != 5 {
		t.Errorf("sizes = +%d -%d files %d, want +100 -3 files 5", pr.Additions, pr.Deletions, pr.ChangedFiles)
	}
	if diff := cmp.Diff([]string{"bug", "hotfix"}, pr.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if len(f.seen()[0].Query) != 0 {
		t.Errorf("query = %v, want none", f.seen()[0].Query)
	}
}

func TestListPullReviewsSkipsPending(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		if apiPath(r) != "repos/acme/api/pulls/12/reviews" || r.URL.Query().Get("per_page") != "100" {
			http.NotFound(w, r)
			return
		}
		serveJSON(t, w, "pull_reviews.json")
	})
	c := newTestClient(t, f, nil)
	reviews, err := collect(t, c.ListPullReviews(t.Context(), "acme/api", 12))
	if err != nil {
		t.Fatal(err)
	}
	want := []metrics.Review{{ID: 80, ReviewerLogin: "reviewer", State: "APPROVED", SubmittedAt: time.Date(2026, 9, 2, 12, 0, 0, 0, time.UTC)}}
	if diff := cmp.Diff(want, reviews); diff != "" {
		t.Errorf("reviews (-want +got):\n%s", diff)
	}
}

func TestListPullCommits(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		if apiPath(r) != "repos/acme/api/pulls/12/commits" || r.URL.Query().Get("per_page") != "100" {
			http.NotFound(w, r)
			return
		}
		serveJSON(t, w, "commits.json")
	})
	c := newTestClient(t, f, nil)
	commits, err := collect(t, c.ListPullCommits(t.Context(), "acme/api", 12))
	if err != nil {
		t.Fatal(err)
	}
	if len(commits) != 2 || commits[0].SHA != "6dcb09b5b57875f334f61aebed695e2e4193db5e" {
		t.Errorf("commits = %+v", commits)
	}
}
