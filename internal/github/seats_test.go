package github

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/metrics"
)

func TestListCopilotSeatsOfAnOrganization(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var f *fakeGitHub
	f = newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		if apiPath(r) != "orgs/acme/copilot/billing/seats" || r.URL.Query().Get("per_page") != "100" {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("page") == "2" {
			serveJSON(t, w, "seats_org_page2.json")
			return
		}
		w.Header().Set("Link", `<`+f.baseURL()+`orgs/acme/copilot/billing/seats?per_page=100&page=2>; rel="next"`)
		serveJSON(t, w, "seats_org.json")
	})
	c := newTestClient(t, f, nil)
	seats, err := c.ListCopilotSeats(t.Context(), metrics.CopilotScope{Type: metrics.ScopeOrganization, Name: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		v = v.UTC()
		return &v
	}
	cancel := time.Date(2026, 11, 17, 0, 0, 0, 0, time.UTC)
	want := CopilotSeats{TotalSeats: 3, Seats: []metrics.CopilotSeat{
		{
			AssigneeID: 1, AssigneeLogin: "octocat", AssigneeType: "User", AssigningTeam: "justice-league",
			PlanType: "business", CreatedAt: *at("2026-08-03T18:00:00-06:00"), UpdatedAt: at("2026-09-23T15:00:00-06:00"),
			LastActivityAt: at("2026-10-14T00:53:32-06:00"), LastActivityEditor: "vscode/1.77.3/copilot/1.86.82",
			LastAuthenticatedAt: at("2026-10-14T00:53:32-06:00"),
		},
		{
			// A null assignee (e.g. a deleted user) is kept, with AssigneeID 0.
			PlanType: "business", CreatedAt: *at("2026-09-23T18:00:00-06:00"), UpdatedAt: at("2026-09-23T15:00:00-06:00"),
			PendingCancellation: &cancel,
		},
		{AssigneeID: 77, AssigneeLogin: "the-a-team", AssigneeType: "Team", PlanType: "enterprise", CreatedAt: *at("2026-07-01T00:00:00Z")},
	}}
	if diff := cmp.Diff(want, seats); diff != "" {
		t.Errorf("seats (-want +got):\n%s", diff)
	}
}

func TestListCopilotSeatsOfAnEnterprise(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		if apiPath(r) != "enterprises/acme-corp/copilot/billing/seats" {
			http.NotFound(w, r)
			return
		}
		serveJSON(t, w, "seats_enterprise.json")
	})
	c := newTestClient(t, f, nil)
	seats, err := c.ListCopilotSeats(t.Context(), metrics.CopilotScope{Type: metrics.ScopeEnterprise, Name: "acme-corp"})
	if err != nil {
		t.Fatal(err)
	}
	// The same user twice, once per granting org: de-duplication is the caller's.
	if seats.TotalSeats != 2 || len(seats.Seats) != 2 ||
		seats.Seats[0].Organization != "acme" || seats.Seats[1].Organization != "acme-labs" ||
		seats.Seats[0].AssigneeID != 1 || seats.Seats[1].AssigneeID != 1 {
		t.Errorf("seats = %+v", seats)
	}
}

func TestListCopilotSeatsRejectsABadDate(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"total_seats":1,"seats":[{"assignee":null,"pending_cancellation_date":"17/11/2026"}]}`)
	})
	c := newTestClient(t, f, nil)
	_, err := c.ListCopilotSeats(t.Context(), metrics.CopilotScope{Type: metrics.ScopeOrganization, Name: "acme"})
	if err == nil || !strings.Contains(err.Error(), "pending_cancellation_date") {
		t.Errorf("err = %v, want the field named", err)
	}
}
