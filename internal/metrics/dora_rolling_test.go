package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// everyOtherWeek deploys acme/shop on the Monday of every other week from 2024-12-09.
func everyOtherWeek(t *testing.T) RepoActivity {
	var deps []Deployment
	day := at(t, "2024-12-09T10:00:00Z")
	for i := range 12 {
		d := day.AddDate(0, 0, 14*i)
		deps = append(deps, prodDeploy(t, int64(i+1), "s"+string(rune('a'+i)), d.Add(-10*time.Minute).Format(time.RFC3339), "success", d.Format(time.RFC3339)))
	}
	return RepoActivity{FullName: shop, Deployments: deps}
}

func TestRollingDORARatesTheWindow(t *testing.T) {
	t.Parallel()
	opts := testOptions(t)
	opts.From, opts.To = at(t, "2025-03-03T00:00:00Z"), at(t, "2025-03-24T00:00:00Z")
	repos := []RepoActivity{everyOtherWeek(t)}
	res, err := CalculateDORAWithRolling(repos, opts, DORARollingWindows())
	if err != nil {
		t.Fatal(err)
	}
	// The weekly rows are CalculateDORA's, whatever the look-back the windows need.
	weekly, err := CalculateDORA(repos, opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(weekly, res.Weekly); diff != "" {
		t.Errorf("weekly rows differ from CalculateDORA's (-want +got):\n%s", diff)
	}

	type line struct {
		Week         string
		Window       int
		WindowStart  string
		Deployments  int
		Days         int
		Frequency    Level
		Performance  Level
		FailureRate  float64
		RepoLevelSum int
	}
	var weeklyLevels []Level
	for _, r := range res.Weekly {
		if r.ScopeType == ScopeRepository {
			weeklyLevels = append(weeklyLevels, r.DeploymentFrequencyLevel)
		}
	}
	// Week by week the repository flips between high and medium…
	if diff := cmp.Diff([]Level{LevelHigh, LevelMedium, LevelHigh, LevelMedium}, weeklyLevels); diff != "" {
		t.Errorf("weekly frequency levels (-want +got):\n%s", diff)
	}
	var got []line
	for _, r := range res.Rolling {
		if r.ScopeType != ScopeRepository {
			continue
		}
		got = append(got, line{r.WeekStart.Format(time.DateOnly), r.WindowWeeks, r.WindowStart.Format(time.DateOnly), r.Deployments,
			r.DeploymentDays, r.DeploymentFrequencyLevel, r.PerformanceLevel, *r.ChangeFailureRate, r.ReposElite + r.ReposHigh + r.ReposMedium + r.ReposLow})
	}
	// …while every 4-week window has 2 deployment days (a deployment in half the weeks:
	// not weekly; one a month on average: medium), and every 13-week window 6 or 7.
	want := []line{
		{"2025-03-03", 4, "2025-02-10", 2, 2, LevelMedium, LevelMedium, 0, 1},
		{"2025-03-10", 4, "2025-02-17", 2, 2, LevelMedium, LevelMedium, 0, 1},
		{"2025-03-17", 4, "2025-02-24", 2, 2, LevelMedium, LevelMedium, 0, 1},
		{"2025-03-24", 4, "2025-03-03", 2, 2, LevelMedium, LevelMedium, 0, 1},
		{"2025-03-03", 13, "2024-12-09", 7, 7, LevelMedium, LevelMedium, 0, 1},
		{"2025-03-10", 13, "2024-12-16", 6, 6, LevelMedium, LevelMedium, 0, 1},
		{"2025-03-17", 13, "2024-12-23", 7, 7, LevelMedium, LevelMedium, 0, 1},
		{"2025-03-24", 13, "2024-12-30", 6, 6, LevelMedium, LevelMedium, 0, 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rolling rows of the repository (-want +got):\n%s", diff)
	}
	if n := len(res.Rolling); n != 2*4*3 { // 2 windows × 4 weeks × (enterprise, org, repo)
		t.Errorf("%d rolling rows, want 24", n)
	}
}

func TestWindowDeploymentFrequencyLevel(t *testing.T) {
	t.Parallel()
	th, _ := ThresholdsFor("2024")
	day := 24 * time.Hour
	for _, tc := range []struct {
		name      string
		days      []int
		sinceLast time.Duration
		want      Level
	}{
		{"3 days in three weeks of four: on demand", []int{3, 4, 0, 3}, day, LevelElite},
		{"3 days in two weeks of four", []int{3, 4, 1, 1}, day, LevelHigh},
		{"one busy week does not lift a quiet month", []int{5, 0, 0, 0}, 20 * day, LevelMedium},
		{"weekly with one week missed", []int{1, 1, 0, 1}, day, LevelHigh},
		{"every other week", []int{0, 1, 0, 1}, day, LevelMedium},
		{"every other week over 13 weeks", []int{1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}, day, LevelMedium},
		{"13 weeks, 3 missed", []int{1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1}, day, LevelHigh},
		{"13 weeks need 3 deployment days for medium", append(make([]int, 11), 1, 1), day, LevelLow},
		{"13 weeks, 3 days", append(make([]int, 10), 1, 1, 1), day, LevelMedium},
		{"nothing for 100 days", []int{0, 0, 0, 0}, 100 * day, LevelLow},
		{"nothing for 183 days: no level", []int{0, 0, 0, 0}, 183 * day, ""},
		{"never deployed", []int{0, 0, 0, 0}, -1, ""},
	} {
		if got := th.WindowDeploymentFrequencyLevel(tc.days, tc.sinceLast); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestTeamDORANeedsARepositoryMapping(t *testing.T) {
	t.Parallel()
	opts := testOptions(t)
	web := RepoActivity{FullName: "acme/web"}
	repos := []RepoActivity{everyOtherWeek(t), web}
	opts.Teams = []Team{
		{Org: "acme", Slug: "shop-owners", Repos: []string{"ACME/Shop", "acme/gone"}}, // one repository not collected
		{Org: "acme", Slug: "people-only", Members: []TeamMember{{UserID: 1, Login: "ana"}}},
		{Org: "acme", Slug: "no-repos", Repos: []string{}},
	}
	res, err := CalculateDORAWithRolling(repos, opts, []int{4})
	if err != nil {
		t.Fatal(err)
	}
	var scopes []string
	for _, r := range res.Weekly {
		if r.WeekStart.Equal(opts.From) {
			scopes = append(scopes, r.ScopeType+":"+r.Scope)
		}
	}
	want := []string{"enterprise:contoso", "organization:acme", "team:acme/no-repos", "team:acme/shop-owners", "repository:acme/shop", "repository:acme/web"}
	if diff := cmp.Diff(want, scopes); diff != "" {
		t.Errorf("scopes (-want +got):\n%s", diff)
	}
	for _, rows := range [][]DORARow{res.Weekly, rollingBase(res.Rolling)} {
		team := rowFor(t, rows, "acme/shop-owners", week1, doraKey)
		repo := rowFor(t, rows, shop, week1, doraKey)
		team.ScopeType, team.Scope = repo.ScopeType, repo.Scope
		if diff := cmp.Diff(repo, team); diff != "" {
			t.Errorf("the team owning only acme/shop differs from it (-repo +team):\n%s", diff)
		}
		if empty := rowFor(t, rows, "acme/no-repos", week1, doraKey); empty.Deployments != 0 || empty.PerformanceLevel != "" {
			t.Errorf("a team owning nothing: %+v; want no deployments, no level", empty)
		}
	}
	opts.Teams = []Team{{Org: "acme", Slug: "x", Repos: []string{"shop"}}}
	if _, err := CalculateDORA(repos, opts); err == nil || !strings.Contains(err.Error(), "teams[0].repos[0]") {
		t.Errorf("a repository that is not org/name: %v", err)
	}
	if _, err := CalculateDORAWithRolling(repos, testOptions(t), []int{1, 4, 4}); err == nil ||
		!strings.Contains(err.Error(), "windows[0]") || !strings.Contains(err.Error(), "windows[2]") {
		t.Errorf("bad windows: %v", err)
	}
}

func rollingBase(rows []DORARollingRow) []DORARow {
	out := make([]DORARow, len(rows))
	for i, r := range rows {
		out[i] = r.DORARow
	}
	return out
}
