package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/metrics"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
)

func listing(date string, teams ...postgres.ListedTeam) postgres.TeamListing {
	return postgres.TeamListing{EnterpriseID: "ent1", Org: "acme", Date: day(date), Teams: teams}
}

func team(id int64, slug string, members ...metrics.Person) postgres.ListedTeam {
	return postgres.ListedTeam{Team: metrics.Team{ID: id, Slug: slug, Name: strings.ToUpper(slug)}, Members: members}
}

func TestTeamListingsKeepMembershipPeriods(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	ctx := t.Context()
	ana, bo, carl := metrics.Person{ID: 1, Login: "ana"}, metrics.Person{ID: 2, Login: "bo"}, metrics.Person{ID: 3, Login: "carl"}
	members := func() []string {
		return textRows(t, s, `SELECT concat_ws('|', team_id, user_id, login, coalesce(since::text, '-'), coalesce(until::text, '-'))
			FROM team_members ORDER BY team_id, user_id, since NULLS FIRST`)
	}
	web := team(10, "web", ana, bo)
	web.Repos = []metrics.TeamRepository{{FullName: "acme/shop", Permission: "admin"}, {FullName: "acme/docs", Permission: "push"}}
	if _, ok, err := s.TeamsListedOn(ctx, "ent1", "acme"); err != nil || ok {
		t.Fatalf("listed before any listing: %v %v", ok, err)
	}
	if _, err := s.SaveTeamListing(ctx, listing("2026-03-02", web, team(20, "empty"))); err != nil {
		t.Fatal(err)
	}
	// The same listing again writes nothing.
	if n, err := s.SaveTeamListing(ctx, listing("2026-03-02", web, team(20, "empty"))); err != nil || n != 0 {
		t.Errorf("the same listing again: %d rows written, %v; want 0", n, err)
	}
	// Next day: bo left web, carl joined it and the empty team; ana renamed herself;
	// repositories not listed this time (left as they were).
	web2 := team(10, "web", metrics.Person{ID: 1, Login: "ana-new"}, carl)
	if _, err := s.SaveTeamListing(ctx, listing("2026-03-03", web2, team(20, "empty", carl))); err != nil {
		t.Fatal(err)
	}
	// Then web is renamed to frontend, bo comes back; the empty team is deleted.
	if _, err := s.SaveTeamListing(ctx, listing("2026-03-05", team(10, "frontend", metrics.Person{ID: 1, Login: "ana-new"}, bo, carl))); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"10|1|ana-new|-|-",                // in the first listing: since always; renamed in place
		"10|2|bo|-|2026-03-03",            // left on the second listing
		"10|2|bo|2026-03-05|-",            // and came back: a second period
		"10|3|carl|2026-03-03|-",          // joined between two listings
		"20|3|carl|2026-03-03|2026-03-05", // the empty team's first member, closed when the team went
	}
	if diff := cmp.Diff(want, members()); diff != "" {
		t.Errorf("memberships (-want +got):\n%s", diff)
	}
	if date, ok, err := s.TeamsListedOn(ctx, "ent1", "acme"); err != nil || !ok || !date.Equal(day("2026-03-05")) {
		t.Errorf("listed on %s %v %v; want 2026-03-05", date, ok, err)
	}

	teams, err := s.ListTeams(ctx, postgres.TeamQuery{EnterpriseID: "ent1", Orgs: []string{"ACME"}, PresentFrom: day("2026-03-02"), OwnedRepos: true})
	if err != nil {
		t.Fatal(err)
	}
	d := func(s string) *time.Time { v := day(s); return &v }
	wantTeams := []metrics.Team{
		{ID: 20, Org: "acme", Slug: "empty", Name: "EMPTY", Repos: []string{},
			Members: []metrics.TeamMember{{UserID: 3, Login: "carl", Since: d("2026-03-03"), Until: d("2026-03-05")}}},
		{ID: 10, Org: "acme", Slug: "frontend", Name: "FRONTEND", Repos: []string{"acme/shop"}, // admin; push is no ownership
			Members: []metrics.TeamMember{
				{UserID: 1, Login: "ana-new"}, {UserID: 2, Login: "bo", Until: d("2026-03-03")},
				{UserID: 2, Login: "bo", Since: d("2026-03-05")}, {UserID: 3, Login: "carl", Since: d("2026-03-03")},
			}},
	}
	if diff := cmp.Diff(wantTeams, teams); diff != "" {
		t.Errorf("teams (-want +got):\n%s", diff)
	}
	// A team missing since before the first week is left out; without OwnedRepos Repos
	// stays nil; an org no longer configured has none.
	teams, err = s.ListTeams(ctx, postgres.TeamQuery{EnterpriseID: "ent1", Orgs: []string{"acme"}, PresentFrom: day("2026-03-09")})
	if err != nil || len(teams) != 1 || teams[0].Slug != "frontend" || teams[0].Repos != nil {
		t.Errorf("teams present from 03-09: %+v %v; want frontend only, no repositories", teams, err)
	}
	if teams, err = s.ListTeams(ctx, postgres.TeamQuery{EnterpriseID: "ent1", Orgs: []string{"other"}}); err != nil || len(teams) != 0 {
		t.Errorf("teams of an unconfigured org: %+v %v", teams, err)
	}
}

func TestTeamListingIsChecked(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	for _, tc := range []struct {
		l    postgres.TeamListing
		want string
	}{
		{postgres.TeamListing{EnterpriseID: "ent1", Org: "acme", Date: day("2026-03-02").Add(time.Hour)}, "date:"},
		{listing("2026-03-02", team(0, "web")), "teams[0]: id and slug"},
		{listing("2026-03-02", team(1, "web"), team(1, "web2")), "teams[1]: team 1 listed twice"},
		{listing("2026-03-02", team(1, "web", metrics.Person{Login: "ghost"})), "teams[0].members[0]: user id required"},
	} {
		if _, err := s.SaveTeamListing(t.Context(), tc.l); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v; want %q", tc.l, err, tc.want)
		}
	}
	if rows := textRows(t, s, `SELECT count(*)::text FROM teams`); rows[0] != "0" {
		t.Errorf("%s teams stored from refused listings", rows[0])
	}
}
