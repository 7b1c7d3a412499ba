package githubsim

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v93/github"

	"metrics-collector/internal/metrics"
)

func TestTeamsOverGoGitHub(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	gh := ghClient(t, srv, tokenA)
	ctx := t.Context()
	truth, err := sim.TeamTruth("acme")
	if err != nil {
		t.Fatal(err)
	}
	byScope := map[string]metrics.Team{}
	for _, team := range truth.Teams {
		byScope[team.Scope()] = team
	}
	for _, org := range []string{"acme-web", "acme-data"} {
		teams, _, err := gh.Teams.ListTeams(ctx, org, &github.ListOptions{PerPage: 100})
		if err != nil {
			t.Fatal(err)
		}
		var slugs []string
		for _, team := range teams {
			slugs = append(slugs, team.GetSlug())
			var logins []string
			opts := &github.TeamListTeamMembersOptions{Role: "all", ListOptions: github.ListOptions{PerPage: 2}}
			for {
				page, resp, err := gh.Teams.ListTeamMembersBySlug(ctx, org, team.GetSlug(), opts)
				if err != nil {
					t.Fatal(err)
				}
				for _, u := range page {
					logins = append(logins, u.GetLogin())
				}
				if resp.NextPage == 0 {
					break
				}
				opts.Page = resp.NextPage
			}
			var want []string
			for _, m := range byScope[org+"/"+team.GetSlug()].Members {
				want = append(want, m.Login)
			}
			if diff := cmp.Diff(want, logins); diff != "" {
				t.Errorf("%s/%s members over two-item pages (-truth +api):\n%s", org, team.GetSlug(), diff)
			}
			repos, _, err := gh.Teams.ListTeamReposBySlug(ctx, org, team.GetSlug(), &github.ListOptions{PerPage: 100})
			if err != nil {
				t.Fatal(err)
			}
			var got []metrics.TeamRepository
			for _, r := range repos {
				p := r.GetPermissions()
				level := "pull"
				switch {
				case p.GetAdmin():
					level = "admin"
				case p.GetMaintain():
					level = "maintain"
				case p.GetPush():
					level = "push"
				case p.GetTriage():
					level = "triage"
				}
				got = append(got, metrics.TeamRepository{FullName: r.GetFullName(), Permission: level})
			}
			if diff := cmp.Diff(truth.Permissions[org+"/"+team.GetSlug()], got); diff != "" {
				t.Errorf("%s/%s repositories (-truth +api):\n%s", org, team.GetSlug(), diff)
			}
		}
		if diff := cmp.Diff([]string{"platform", "frontend", "data", "sre"}, slugs); diff != "" {
			t.Errorf("%s teams (-want +got):\n%s", org, diff)
		}
	}
	// The second org's sre team has no members; every other team has some, and every
	// repository an owner with admin or maintain.
	for scope, team := range byScope {
		if empty := scope == "acme-data/sre"; empty != (len(team.Members) == 0) {
			t.Errorf("%s has %d members", scope, len(team.Members))
		}
	}
	owned := map[string]bool{}
	for _, team := range truth.Teams {
		for _, r := range team.Repos {
			owned[r] = true
		}
	}
	if len(owned) != 8+6 {
		t.Errorf("%d repositories have an owning team, want all 14", len(owned))
	}
	// Another enterprise's org is not found.
	if _, resp, err := gh.Teams.ListTeams(ctx, "globex-eng", nil); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("another enterprise's teams: %v", err)
	}
}

func TestTeamMembershipChangesAfterTheInitialNow(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	before, err := sim.TeamTruth("acme")
	if err != nil {
		t.Fatal(err)
	}
	u := srv.API.URL + "/orgs/acme-web/teams/platform/members?per_page=100"
	first, _ := get(t, u, tokenA)
	etag := first.Header.Get("ETag")
	if again, _ := get(t, u, tokenA, "If-None-Match", etag); again.StatusCode != http.StatusNotModified {
		t.Errorf("unchanged members with the ETag: %d, want 304", again.StatusCode)
	}
	sim.Advance(teamChangeAfter + time.Hour)
	after, err := sim.TeamTruth("acme")
	if err != nil {
		t.Fatal(err)
	}
	logins := func(tt TeamTruth, scope string) []string {
		for _, team := range tt.Teams {
			if team.Scope() == scope {
				var out []string
				for _, m := range team.Members {
					out = append(out, m.Login)
				}
				return out
			}
		}
		return nil
	}
	p0, p1 := logins(before, "acme-web/platform"), logins(after, "acme-web/platform")
	if len(p1) != len(p0)-1 || !slices.Contains(p0, p0[len(p0)-1]) || slices.Contains(p1, p0[len(p0)-1]) {
		t.Errorf("platform: %v then %v; want its last member gone", p0, p1)
	}
	if d0, d1 := logins(before, "acme-web/data"), logins(after, "acme-web/data"); len(d1) != len(d0)+1 {
		t.Errorf("data: %v then %v; want one member more", d0, d1)
	}
	if changed, _ := get(t, u, tokenA, "If-None-Match", etag); changed.StatusCode != http.StatusOK {
		t.Errorf("changed members with the old ETag: %d, want 200", changed.StatusCode)
	}
}

func TestSomeSeatsAreIdleOrNeverUsed(t *testing.T) {
	t.Parallel()
	sim, _ := newSim(t, testConfig())
	ct, err := sim.CopilotTruth("acme", testNow.AddDate(0, 0, -1), testNow.AddDate(0, 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	seats := metrics.DedupeSeats(ct.Seats[metrics.CopilotScope{Type: metrics.ScopeEnterprise, Name: "acme"}])
	never, idle := 0, 0
	from30 := testNow.AddDate(0, 0, -30)
	for _, s := range seats {
		switch {
		case s.LastActivityAt == nil:
			never++
		case s.LastActivityAt.Before(from30):
			idle++
		}
	}
	if never < 2 || idle < 2 || never+idle > len(seats)/2 {
		t.Errorf("%d seats: %d never used, %d idle for 30 days; want a few of each", len(seats), never, idle)
	}
}
