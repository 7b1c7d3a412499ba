package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTeamVelocity(t *testing.T) {
	t.Parallel()
	shopRepo := velocityRepo(t) // ana, dave, erin, frank author; bo and carol review
	// ana renamed herself since: the listing knows her by id only as "ana-new".
	for i := range shopRepo.PullRequests {
		if shopRepo.PullRequests[i].AuthorLogin == "ana" {
			shopRepo.PullRequests[i].AuthorID = 1
		}
	}
	left := at(t, "2025-03-10T00:00:00Z")
	joined := at(t, "2025-03-17T00:00:00Z")
	opts := testOptions(t)
	opts.Teams = []Team{
		// ana (by id, renamed), and dave until he left at the start of week 2.
		{Org: "acme", Slug: "web", Members: []TeamMember{{UserID: 1, Login: "ana-new"}, {UserID: 4, Login: "dave", Until: &left}}},
		// ana is in two teams; bo joins only in week 3.
		{Org: "acme", Slug: "search", Members: []TeamMember{{UserID: 1, Login: "ana-new"}, {UserID: 2, Login: "bo", Since: &joined}}},
		{Org: "acme", Slug: "empty"},
	}
	rows, err := CalculateVelocity([]RepoActivity{shopRepo}, opts)
	if err != nil {
		t.Fatal(err)
	}
	var scopes []string
	for _, r := range rows {
		if r.WeekStart.Equal(opts.From) {
			scopes = append(scopes, r.ScopeType+":"+r.Scope)
		}
	}
	if diff := cmp.Diff([]string{"enterprise:contoso", "organization:acme", "team:acme/empty", "team:acme/search", "team:acme/web", "repository:acme/shop"}, scopes); diff != "" {
		t.Errorf("scopes (-want +got):\n%s", diff)
	}
	type figures struct {
		Opened, Merged, Closed, WithoutReview, Commits, Contributors int
		CycleP50                                                     *float64
		CycleN                                                       int
	}
	of := func(scope, week string) figures {
		r := rowFor(t, rows, scope, week, velocityKey)
		return figures{r.PRsOpened, r.PRsMerged, r.PRsClosedUnmerged, r.PRsMergedWithoutReview, r.Commits, r.ActiveContributors, r.PRCycleTimeP50Hours, r.PRCycleTimeN}
	}
	// Week 2 of acme/shop: ana's PRs 1 (opened the week before, 74 h) and 2 (1 h);
	// dave's PR 3 is not web's, he left before the week. ana's commits name her by her old
	// login only: no id, so they are not matched to the renamed member.
	for _, tc := range []struct {
		scope, week string
		want        figures
	}{
		{"acme/web", week2, figures{1, 2, 0, 1, 0, 1, ptr(37.5), 2}},
		{"acme/search", week2, figures{1, 2, 0, 1, 0, 1, ptr(37.5), 2}},
		{"acme/empty", week2, figures{}},
		{"acme/web", week1, figures{Opened: 1, Contributors: 1}},
	} {
		if diff := cmp.Diff(tc.want, of(tc.scope, tc.week)); diff != "" {
			t.Errorf("%s %s (-want +got):\n%s", tc.scope, tc.week[:10], diff)
		}
	}
	// The repository's own rows do not change with teams.
	plain, err := CalculateVelocity([]RepoActivity{velocityRepo(t)}, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, scope := range []string{shop, "acme", "contoso"} {
		want, got := rowFor(t, plain, scope, week2, velocityKey), rowFor(t, rows, scope, week2, velocityKey)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s changed with teams (-want +got):\n%s", scope, diff)
		}
	}
}

func TestTeamVelocityCountsCommitsRunsAndReviewsOfMembers(t *testing.T) {
	t.Parallel()
	merged := at(t, "2025-03-12T12:00:00Z")
	repo := RepoActivity{
		FullName: shop,
		PullRequests: []PullRequest{{Number: 1, AuthorLogin: "zed", State: "closed", CreatedAt: at(t, "2025-03-11T12:00:00Z"),
			MergedAt: &merged, ClosedAt: &merged, Reviews: []Review{review(t, 1, "BO", "APPROVED", "2025-03-12T10:00:00Z")}}},
		Commits: []Commit{commit(t, "c1", "bo", "2025-03-11T08:00:00Z", "fix"), commit(t, "c2", "", "2025-03-11T09:00:00Z", "anonymous")},
		WorkflowRuns: []WorkflowRun{
			{ID: 1, ActorLogin: "bo", Status: "completed", Conclusion: "success", CreatedAt: at(t, "2025-03-11T08:00:00Z"), UpdatedAt: at(t, "2025-03-11T08:10:00Z")},
			{ID: 2, ActorLogin: "zed", Status: "completed", Conclusion: "failure", CreatedAt: at(t, "2025-03-11T08:00:00Z"), UpdatedAt: at(t, "2025-03-11T08:10:00Z")},
		},
	}
	opts := testOptions(t)
	opts.Teams = []Team{{Org: "acme", Slug: "ops", Members: []TeamMember{{UserID: 2, Login: "bo"}}}}
	rows, err := CalculateVelocity([]RepoActivity{repo}, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := rowFor(t, rows, "acme/ops", week2, velocityKey)
	// bo reviewed zed's PR, committed c1, triggered run 1: the team's figures hold those,
	// not zed's PR or run, nor the anonymous commit.
	if r.PRsMerged != 0 || r.Commits != 1 || r.ActiveContributors != 1 || r.WorkflowRuns != 1 || *r.WorkflowSuccessRate != 1 {
		t.Errorf("ops: merged %d, commits %d, contributors %d, runs %d, success %v; want 0, 1, 1, 1, 1",
			r.PRsMerged, r.Commits, r.ActiveContributors, r.WorkflowRuns, *r.WorkflowSuccessRate)
	}
	if rr := rowFor(t, rows, shop, week2, velocityKey); rr.Commits != 2 || rr.WorkflowRuns != 2 {
		t.Errorf("repository: commits %d, runs %d; want 2, 2", rr.Commits, rr.WorkflowRuns)
	}
}

func TestCopilotTeamDays(t *testing.T) {
	t.Parallel()
	u := func(scopeType, scope string, id int64, login, day string, interactions, generations int64, chat, agent bool) CopilotUserUsage {
		return CopilotUserUsage{ScopeType: scopeType, Scope: scope, Day: at(t, day), UserID: id, UserLogin: login,
			UserInitiatedInteractions: ptr(interactions), CodeGenerations: ptr(generations), CodeAcceptances: ptr(generations / 2),
			LOCAdded: ptr(generations * 3), ChatInteractions: ptr(interactions), UsedChat: chat, UsedAgent: agent}
	}
	const ent, org = ScopeEnterprise, ScopeOrganization
	usage := []CopilotUserUsage{
		// ana (renamed to ana-new in the reports) is in the enterprise report and in
		// acme's: the enterprise's row counts, once.
		u(ent, "contoso", 1, "ana-new", "2025-03-31T00:00:00Z", 4, 10, true, false),
		u(org, "acme", 1, "ana-new", "2025-03-31T00:00:00Z", 400, 1000, true, false),
		// bo: only in two org reports; the first by name (acme) counts.
		u(org, "beta", 2, "bo", "2025-03-31T00:00:00Z", 9, 0, false, false),
		u(org, "acme", 2, "bo", "2025-03-31T00:00:00Z", 1, 0, false, false),
		// carl: active 10 days ago (monthly, not weekly), listed today doing nothing.
		u(org, "acme", 3, "carl", "2025-03-21T00:00:00Z", 0, 5, false, true),
		u(org, "acme", 3, "carl", "2025-03-31T00:00:00Z", 0, 0, false, false),
		// dora: active on 03-03, in 03-30's 28-day window; no longer a member on 03-31.
		u(org, "acme", 4, "dora", "2025-03-03T00:00:00Z", 1, 1, false, false),
		u(org, "acme", 5, "erin", "2025-03-30T00:00:00Z", 1, 1, false, false),
	}
	left := at(t, "2025-03-31T00:00:00Z")
	teams := []Team{
		{Org: "acme", Slug: "web", Members: []TeamMember{
			{UserID: 1, Login: "ana"}, {UserID: 2, Login: "bo"}, {UserID: 3, Login: "carl"}, {UserID: 4, Login: "dora-old", Until: &left},
		}},
		{Org: "acme", Slug: "empty"},
	}
	rows, err := CalculateCopilotTeamDays(usage, teams, at(t, "2025-03-30T00:00:00Z"), at(t, "2025-04-01T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	day := func(s string) time.Time { return at(t, s) }
	want := []CopilotTeamDay{
		// 04-01 has no report: no rows. 03-30: only erin's row (no member) exists.
		{Scope: "acme/empty", Day: day("2025-03-30T00:00:00Z")},
		{Scope: "acme/empty", Day: day("2025-03-31T00:00:00Z")},
		{Scope: "acme/web", Day: day("2025-03-30T00:00:00Z"), Members: 4, WeeklyActiveUsers: 0, MonthlyActiveUsers: 2, MonthlyActiveAgentUsers: 1},
		{Scope: "acme/web", Day: day("2025-03-31T00:00:00Z"), Members: 3,
			DailyActiveUsers: 2, WeeklyActiveUsers: 2, MonthlyActiveUsers: 3, MonthlyActiveChatUsers: 1, MonthlyActiveAgentUsers: 1,
			UserInitiatedInteractions: 4 + 1, CodeGenerations: 10, CodeAcceptances: 5, LOCAdded: 30, ChatInteractions: 5},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("team days (-want +got):\n%s", diff)
	}
	if _, err := CalculateCopilotTeamDays(nil, teams, day("2025-03-31T00:00:00Z"), day("2025-03-30T00:00:00Z")); err == nil || !strings.Contains(err.Error(), "to:") {
		t.Errorf("to before from: %v", err)
	}
}
