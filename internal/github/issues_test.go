package github

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/metrics"
)

func TestListIssuesDropsPullRequests(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		if apiPath(r) != "repos/acme/api/issues" {
			http.NotFound(w, r)
			return
		}
		serveJSON(t, w, "issues.json")
	})
	c := newTestClient(t, f, nil)
	since := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	incidents, err := collect(t, c.ListIssues(t.Context(), "acme/api", []string{"incident", "sev1"}, since))
	if err != nil {
		t.Fatal(err)
	}
	closed := time.Date(2026, 9, 11, 4, 0, 0, 0, time.UTC)
	want := []metrics.Incident{{
		RepoFullName: "acme/api", Number: 1347, Title: "Checkout is down", AuthorLogin: "octocat",
		Labels: []string{"incident", "sev1"}, CreatedAt: time.Date(2026, 9, 11, 1, 0, 0, 0, time.UTC), ClosedAt: &closed,
		StateReason: "completed",
	}}
	if diff := cmp.Diff(want, incidents); diff != "" {
		t.Errorf("incidents (-want +got):\n%s", diff)
	}
	wantQuery := url.Values{"state": {"all"}, "labels": {"incident,sev1"}, "since": {"2026-09-01T00:00:00Z"}, "per_page": {"100"}}
	if diff := cmp.Diff(wantQuery, f.seen()[0].Query); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
}
