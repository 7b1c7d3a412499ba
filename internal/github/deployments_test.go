package github

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/metrics"
)

func TestListDeploymentsAndStatuses(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		switch apiPath(r) {
		case "repos/acme/api/deployments":
			serveJSON(t, w, "deployments.json")
		case "repos/acme/api/deployments/1/statuses":
			serveJSON(t, w, "deployment_statuses.json")
		default:
			http.NotFound(w, r)
		}
	})
	c := newTestClient(t, f, nil)
	deployments, err := collect(t, c.ListDeployments(t.Context(), "acme/api", "production"))
	if err != nil {
		t.Fatal(err)
	}
	want := []metrics.Deployment{{
		ID: 1, RepoFullName: "acme/api", Signal: metrics.SignalDeployment,
		SHA: "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d", Ref: "topic-branch", Environment: "production",
		CreatorLogin: "octocat", CreatedAt: time.Date(2026, 9, 10, 1, 2, 3, 0, time.UTC),
	}}
	if diff := cmp.Diff(want, deployments); diff != "" {
		t.Errorf("deployments (-want +got):\n%s", diff)
	}
	statuses, err := collect(t, c.ListDeploymentStatuses(t.Context(), "acme/api", 1))
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses := []metrics.DeploymentStatus{
		{ID: 12, State: "success", CreatedAt: time.Date(2026, 9, 10, 1, 10, 0, 0, time.UTC)},
		{ID: 11, State: "in_progress", CreatedAt: time.Date(2026, 9, 10, 1, 3, 0, 0, time.UTC)},
	}
	if diff := cmp.Diff(wantStatuses, statuses); diff != "" {
		t.Errorf("statuses, newest first (-want +got):\n%s", diff)
	}
	seen := f.seen()
	if diff := cmp.Diff(url.Values{"environment": {"production"}, "per_page": {"100"}}, seen[0].Query); diff != "" {
		t.Errorf("deployments query (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(url.Values{"per_page": {"100"}}, seen[1].Query); diff != "" {
		t.Errorf("statuses query (-want +got):\n%s", diff)
	}
}

func TestListDeploymentsAllEnvironments(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		serveJSON(t, w, "deployments.json")
	})
	c := newTestClient(t, f, nil)
	if _, err := collect(t, c.ListDeployments(t.Context(), "acme/api", "")); err != nil {
		t.Fatal(err)
	}
	if q := f.seen()[0].Query; q.Has("environment") {
		t.Errorf("query = %v, want no environment filter", q)
	}
}
