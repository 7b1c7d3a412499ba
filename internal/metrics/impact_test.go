package metrics

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// impactPR is a pull request of acme/shop by author, opened 10 hours before it merged on
// Tuesday of week2, of size 10.
func impactPR(t *testing.T, number int, author Person, merged string) PullRequest {
	t.Helper()
	m := at(t, merged)
	return PullRequest{
		Number: number, RepoFullName: shop, AuthorID: author.ID, AuthorLogin: author.Login, State: "closed", BaseRef: "main",
		CreatedAt: m.Add(-10 * time.Hour), ClosedAt: &m, MergedAt: &m, MergeCommitSHA: fmt.Sprintf("m%03d", number),
		Additions: 8, Deletions: 2,
	}
}

// used is an active per-user report row of the enterprise on day.
func used(t *testing.T, id int64, login, day string) CopilotUserUsage {
	t.Helper()
	return CopilotUserUsage{ScopeType: ScopeEnterprise, Scope: "contoso", Day: at(t, day), UserID: id, UserLogin: login,
		UserInitiatedInteractions: ptr[int64](3), CodeGenerations: ptr[int64](0)}
}

const week3 = "2025-03-17T00:00:00Z"

func impactOptions(t *testing.T) Options {
	opts := testOptions(t)
	opts.From, opts.To = at(t, week2), at(t, week2)
	return opts
}

func impactRow(t *testing.T, rows []ImpactRow, scopeType, scope, cohort string) ImpactRow {
	t.Helper()
	for _, r := range rows {
		if r.ScopeType == scopeType && r.Scope == scope && r.Cohort == cohort {
			return r
		}
	}
	t.Fatalf("no %s row of %s %s", cohort, scopeType, scope)
	return ImpactRow{}
}

func TestImpactSuppressionAtTheThreshold(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		authors    int
		suppressed bool
	}{
		{4, true},  // fewer than 5 distinct authors: nothing shown
		{5, false}, // 5: shown
	} {
		t.Run(fmt.Sprint(tc.authors), func(t *testing.T) {
			t.Parallel()
			var prs []PullRequest
			var usage []CopilotUserUsage
			for i := range tc.authors {
				who := Person{int64(100 + i), fmt.Sprintf("dev%d", i)}
				usage = append(usage, used(t, who.ID, who.Login, "2025-03-11T00:00:00Z"))
				// Two pull requests each: pull requests are not authors.
				prs = append(prs, impactPR(t, 2*i+1, who, "2025-03-11T12:00:00Z"), impactPR(t, 2*i+2, who, "2025-03-12T12:00:00Z"))
			}
			rows, err := CalculateImpact([]RepoActivity{{FullName: shop, PullRequests: prs}}, usage, impactOptions(t), DefaultImpactMinAuthors)
			if err != nil {
				t.Fatal(err)
			}
			for _, scope := range []struct{ typ, name string }{{ScopeEnterprise, "contoso"}, {ScopeOrganization, "acme"}} {
				r := impactRow(t, rows, scope.typ, scope.name, CohortCopilotActive)
				want := ImpactRow{ScopeType: scope.typ, Scope: scope.name, WeekStart: at(t, week2), Cohort: CohortCopilotActive,
					Suppressed: true, CopilotReportDays: 1, MinAuthors: 5, MetricVersion: MetricVersion}
				if !tc.suppressed {
					want.Suppressed = false
					want.Authors, want.PRsMerged = ptr(5), ptr(10)
					want.PRCycleTimeP50Hours, want.PRCycleTimeN = ptr(10.0), ptr(10)
					want.ReviewTimeN = ptr(0)
					want.PRSizeP50, want.PRSizeN = ptr(10.0), ptr(10)
					want.PRsReviewedByCopilot, want.PRsReverted = ptr(0), ptr(0)
				}
				if diff := cmp.Diff(want, r); diff != "" {
					t.Errorf("%s row (-want +got):\n%s", scope.typ, diff)
				}
				// No pull request by anyone inactive: an empty cohort hides nobody.
				in := impactRow(t, rows, scope.typ, scope.name, CohortCopilotInactive)
				if in.Suppressed || in.Authors == nil || *in.Authors != 0 || *in.PRsMerged != 0 || in.PRCycleTimeP50Hours != nil {
					t.Errorf("inactive cohort %+v; want 0 authors, 0 merged, no percentiles, not suppressed", in)
				}
			}
		})
	}
}

func TestImpactMatchesAuthorsByIDThenLogin(t *testing.T) {
	t.Parallel()
	usage := []CopilotUserUsage{
		used(t, 7, "new-name", "2025-03-10T00:00:00Z"), // renamed since the pull request
		used(t, 9, "ana", "2025-03-14T00:00:00Z"),
		used(t, 10, "bo", "2025-03-16T00:00:00Z"), // bo's login, another account
		{ScopeType: ScopeOrganization, Scope: "acme", Day: at(t, "2025-03-12T00:00:00Z"), UserID: 11, UserLogin: "carl",
			UserInitiatedInteractions: ptr[int64](0), CodeGenerations: ptr[int64](0)}, // listed but did nothing
		used(t, 12, "dora", "2025-03-03T00:00:00Z"), // active the week before only
	}
	for _, tc := range []struct {
		name   string
		author Person
		cohort string
	}{
		{"matched by id although the login changed", Person{7, "old-name"}, CohortCopilotActive},
		{"id unknown: matched by login, ignoring case", Person{0, "ANA"}, CohortCopilotActive},
		{"same login, different id: another person", Person{8, "bo"}, CohortCopilotInactive},
		{"a row without generations or interactions is no use", Person{11, "carl"}, CohortCopilotInactive},
		{"active in another week", Person{12, "dora"}, CohortCopilotInactive},
		{"no row at all", Person{13, "erin"}, CohortCopilotInactive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			repo := RepoActivity{FullName: shop, PullRequests: []PullRequest{impactPR(t, 1, tc.author, "2025-03-11T12:00:00Z")}}
			rows, err := CalculateImpact([]RepoActivity{repo}, usage, impactOptions(t), 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range ImpactCohorts() {
				r := impactRow(t, rows, ScopeOrganization, "acme", c)
				want := 0
				if c == tc.cohort {
					want = 1
				}
				if r.PRsMerged == nil || *r.PRsMerged != want {
					t.Errorf("%s: merged %v, want %d", c, r.PRsMerged, want)
				}
			}
		})
	}
}

func TestImpactAgentBotsReviewsAndReverts(t *testing.T) {
	t.Parallel()
	ana := Person{1, "ana"}
	bo := Person{2, "bo"}
	withReviews := func(pr PullRequest, rs ...Review) PullRequest { pr.Reviews = rs; return pr }
	// ana's PR 1: reviewed by bo after 2 h and by Copilot code review; reverted by the
	// Revert button two days later.
	pr1 := withReviews(impactPR(t, 1, ana, "2025-03-11T12:00:00Z"),
		review(t, 11, "copilot-pull-request-reviewer[bot]", "COMMENTED", "2025-03-11T03:00:00Z"),
		review(t, 12, "bo", "APPROVED", "2025-03-11T10:00:00Z"))
	revert := impactPR(t, 2, bo, "2025-03-13T12:00:00Z")
	revert.Title, revert.RevertsNumber = `Revert "Add caching"`, 1
	// ana's PR 3 merged the week before, reverted by a direct push ten days later: more
	// than the failure window after its merge, no revert signal.
	pr3 := impactPR(t, 3, ana, "2025-03-04T12:00:00Z")
	late := commit(t, "r1", "bo", "2025-03-14T09:00:00Z", `Revert "Old"`)
	late.Reverts = []string{"m003"}
	// Copilot's coding agent: its own cohort, whoever assigned it.
	agent := withReviews(impactPR(t, 4, Person{198982749, "Copilot"}, "2025-03-12T12:00:00Z"),
		review(t, 41, "ana", "APPROVED", "2025-03-12T11:00:00Z"))
	agent.Additions = 100
	// Dependabot: in no cohort.
	bot := impactPR(t, 5, Person{49699333, "dependabot[bot]"}, "2025-03-12T12:00:00Z")
	// A pull request reverted in its own branch: its revert is no signal.
	own := impactPR(t, 6, bo, "2025-03-12T12:00:00Z")
	own.Commits = []Commit{commit(t, "w1", "bo", "2025-03-12T01:00:00Z", "WIP"), withReverts(commit(t, "w2", "bo", "2025-03-12T02:00:00Z", `Revert "WIP"`), "w1")}

	repo := RepoActivity{FullName: shop, DefaultBranch: "main", PullRequests: []PullRequest{pr1, revert, pr3, agent, bot, own}, Commits: []Commit{late}}
	usage := []CopilotUserUsage{used(t, 1, "ana", "2025-03-10T00:00:00Z"), used(t, 99, "zed", "2025-03-05T00:00:00Z")}
	opts := testOptions(t) // weeks of 03-03, 03-10 and 03-17
	rows, err := CalculateImpact([]RepoActivity{repo}, usage, opts, 1)
	if err != nil {
		t.Fatal(err)
	}
	get := func(week, cohort string) ImpactRow {
		t.Helper()
		for _, r := range rows {
			if r.ScopeType == ScopeOrganization && r.WeekStart.Equal(at(t, week)) && r.Cohort == cohort {
				return r
			}
		}
		t.Fatalf("no row %s %s", week, cohort)
		return ImpactRow{}
	}
	type figures struct {
		Authors, Merged, ReviewN, Copilot, Reverted int
		ReviewP50, SizeP50                          *float64
	}
	of := func(r ImpactRow) figures {
		if r.Authors == nil {
			return figures{Authors: -1}
		}
		return figures{*r.Authors, *r.PRsMerged, *r.ReviewTimeN, *r.PRsReviewedByCopilot, *r.PRsReverted, r.ReviewTimeP50Hours, r.PRSizeP50}
	}
	for _, tc := range []struct {
		week, cohort string
		want         figures
	}{
		{week2, CohortCopilotActive, figures{1, 1, 1, 1, 1, ptr(2.0), ptr(10.0)}},
		{week2, CohortCopilotInactive, figures{1, 2, 0, 0, 0, nil, ptr(10.0)}}, // bo's revert and in-branch revert
		{week2, CohortCopilotAgent, figures{1, 1, 1, 0, 0, ptr(1.0), ptr(102.0)}},
		// ana was not active the week before; her PR 3's late revert is no signal.
		{week1, CohortCopilotActive, figures{0, 0, 0, 0, 0, nil, nil}},
		{week1, CohortCopilotInactive, figures{1, 1, 0, 0, 0, nil, ptr(10.0)}},
		// No per-user report that week: active and inactive cannot be told apart.
		{week3, CohortCopilotActive, figures{Authors: -1}},
		{week3, CohortCopilotInactive, figures{Authors: -1}},
		{week3, CohortCopilotAgent, figures{0, 0, 0, 0, 0, nil, nil}},
	} {
		if diff := cmp.Diff(tc.want, of(get(tc.week, tc.cohort))); diff != "" {
			t.Errorf("%s %s (-want +got):\n%s", tc.week[:10], tc.cohort, diff)
		}
	}
	if r := get(week3, CohortCopilotActive); r.Suppressed || r.CopilotReportDays != 0 {
		t.Errorf("week without reports: suppressed %v, report days %d; want false, 0", r.Suppressed, r.CopilotReportDays)
	}
}

func TestImpactTeams(t *testing.T) {
	t.Parallel()
	since := at(t, "2025-03-12T00:00:00Z")
	var prs []PullRequest
	var usage []CopilotUserUsage
	var web []TeamMember
	for i := range 5 {
		who := Person{int64(100 + i), fmt.Sprintf("dev%d", i)}
		usage = append(usage, used(t, who.ID, who.Login, "2025-03-11T00:00:00Z"))
		prs = append(prs, impactPR(t, i+1, who, "2025-03-11T12:00:00Z"))
		web = append(web, TeamMember{UserID: who.ID, Login: who.Login})
	}
	// dev0 joined api on Wednesday: a member during the week. dev4 left api before it.
	left := at(t, "2025-03-08T00:00:00Z")
	api := []TeamMember{{UserID: 100, Login: "dev0", Since: &since}, {UserID: 104, Login: "dev4", Until: &left}}
	opts := impactOptions(t)
	opts.Teams = []Team{{Org: "acme", Slug: "web", Members: web}, {Org: "acme", Slug: "api", Members: api}, {Org: "acme", Slug: "empty"}}
	rows, err := CalculateImpact([]RepoActivity{{FullName: shop, PullRequests: prs}}, usage, opts, DefaultImpactMinAuthors)
	if err != nil {
		t.Fatal(err)
	}
	var scopes []string
	for _, r := range rows {
		if r.Cohort == CohortCopilotActive {
			scopes = append(scopes, r.ScopeType+":"+r.Scope)
		}
	}
	if diff := cmp.Diff([]string{"enterprise:contoso", "organization:acme", "team:acme/api", "team:acme/empty", "team:acme/web"}, scopes); diff != "" {
		t.Errorf("scopes (-want +got):\n%s", diff)
	}
	if r := impactRow(t, rows, ScopeTeam, "acme/web", CohortCopilotActive); r.Suppressed || *r.Authors != 5 {
		t.Errorf("web: %+v; want 5 authors shown", r)
	}
	// dev0 is in web and api: counted in both, and api's one author is suppressed.
	if r := impactRow(t, rows, ScopeTeam, "acme/api", CohortCopilotActive); !r.Suppressed || r.Authors != nil {
		t.Errorf("api: %+v; want suppressed", r)
	}
	// A team without members: its rows exist, with nothing in them.
	if r := impactRow(t, rows, ScopeTeam, "acme/empty", CohortCopilotActive); r.Suppressed || *r.Authors != 0 || *r.PRsMerged != 0 {
		t.Errorf("empty team: %+v; want 0 authors, 0 merged", r)
	}
}

func TestImpactBadInput(t *testing.T) {
	t.Parallel()
	opts := impactOptions(t)
	if _, err := CalculateImpact(nil, nil, opts, 0); err == nil || !strings.Contains(err.Error(), "min_authors") {
		t.Errorf("min_authors 0: %v", err)
	}
	if _, err := CalculateImpact(nil, []CopilotUserUsage{{Day: at(t, week2)}}, opts, 5); err == nil || !strings.Contains(err.Error(), "usage[0]") {
		t.Errorf("usage without user: %v", err)
	}
	opts.Teams = []Team{{Org: "acme", Slug: "web"}, {Org: "ACME", Slug: "Web"}}
	if _, err := CalculateImpact(nil, nil, opts, 5); err == nil || !strings.Contains(err.Error(), "teams[1]") {
		t.Errorf("a team twice: %v", err)
	}
}
