package metrics

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func velocityKey(r VelocityRow) (string, time.Time) { return r.Scope, r.WeekStart }

// velocityRepo is one repository's fortnight, built so every velocity definition and edge
// shows in the rows of 2025-03-03 and 2025-03-10.
func velocityRepo(t *testing.T) RepoActivity {
	withSize := func(pr PullRequest, add, del int) PullRequest { pr.Additions, pr.Deletions = add, del; return pr }
	withReviews := func(pr PullRequest, rs ...Review) PullRequest { pr.Reviews = rs; return pr }

	// Opened on Friday of the first week, merged on Monday of the second.
	pr1 := withSize(withReviews(
		mergedPR(t, 1, "ana", "Search", "2025-03-07T10:00:00Z", "2025-03-10T12:00:00Z", "s1", commit(t, "p1", "ana", "2025-03-07T08:00:00Z", "search")),
		review(t, 11, "bo", "COMMENTED", "2025-03-10T09:00:00Z"),
		review(t, 12, "carol", "APPROVED", "2025-03-10T10:00:00Z"),
	), 30, 10)
	// Only the author and bots reviewed it: merged without review.
	pr2 := withSize(withReviews(
		mergedPR(t, 2, "ana", "Tweak", "2025-03-10T13:00:00Z", "2025-03-10T14:00:00Z", "s2", commit(t, "p2", "ana", "2025-03-10T12:30:00Z", "tweak")),
		review(t, 21, "copilot-pull-request-reviewer[bot]", "COMMENTED", "2025-03-10T13:10:00Z"),
		review(t, 22, "Copilot", "COMMENTED", "2025-03-10T13:20:00Z"),
		review(t, 23, "ANA", "COMMENTED", "2025-03-10T13:30:00Z"),
		review(t, 24, "release-robot", "APPROVED", "2025-03-10T13:40:00Z"),
	), 5, 5)
	// Reviewed only after the merge: merged without review.
	pr3 := withSize(withReviews(
		mergedPR(t, 3, "dave", "Config", "2025-03-11T09:00:00Z", "2025-03-11T10:00:00Z", "s3", commit(t, "p3", "dave", "2025-03-11T08:00:00Z", "config")),
		review(t, 31, "bo", "APPROVED", "2025-03-11T11:00:00Z"),
	), 100, 0)
	// A bot's pull request: not counted; the person who reviewed it is active.
	pr4 := withReviews(mergedPR(t, 4, "dependabot[bot]", "Bump x", "2025-03-11T09:00:00Z", "2025-03-11T09:30:00Z", "s4"),
		review(t, 41, "carol", "APPROVED", "2025-03-11T09:15:00Z"))
	// Closed without merge; a pending review was never submitted.
	closed := at(t, "2025-03-12T10:00:00Z")
	pr5 := PullRequest{Number: 5, AuthorLogin: "erin", State: "closed", CreatedAt: at(t, "2025-03-11T15:00:00Z"), ClosedAt: &closed,
		Reviews: []Review{{ID: 51, ReviewerLogin: "bo", State: "PENDING"}}}
	// Opened before the range and still open: nothing in range.
	pr6 := PullRequest{Number: 6, AuthorLogin: "frank", State: "open", CreatedAt: at(t, "2025-02-20T10:00:00Z")}

	onMain := func(sha, author, committed string, parents int) Commit {
		c := commit(t, sha, author, committed, "m")
		c.ParentCount = parents
		return c
	}
	run := func(id int64, status, conclusion, created, started, updated string) WorkflowRun {
		r := WorkflowRun{ID: id, Status: status, Conclusion: conclusion, CreatedAt: at(t, created), UpdatedAt: at(t, updated)}
		if started != "" {
			r.RunStartedAt = at(t, started)
		}
		return r
	}
	return RepoActivity{
		FullName:     shop,
		PullRequests: []PullRequest{pr1, pr2, pr3, pr4, pr5, pr6},
		Deployments: []Deployment{
			prodDeploy(t, 1, "s1", "2025-03-10T15:00:00Z", "success", "2025-03-10T16:00:00Z", onMain("s1", "ana", "2025-03-10T12:00:00Z", 1)),
			prodDeploy(t, 2, "s3", "2025-03-12T09:00:00Z", "success", "2025-03-12T10:00:00Z",
				onMain("s2", "ana", "2025-03-10T14:00:00Z", 1), onMain("s3", "dave", "2025-03-11T10:00:00Z", 1)),
		},
		Commits: []Commit{
			onMain("g1", "grace", "2025-03-05T10:00:00Z", 1),
			onMain("s1", "ana", "2025-03-10T12:00:00Z", 1),
			onMain("s2", "ana", "2025-03-10T14:00:00Z", 1),
			onMain("s2", "ana", "2025-03-10T14:00:00Z", 1), // listed twice
			onMain("s3", "dave", "2025-03-11T10:00:00Z", 1),
			onMain("m1", "ana", "2025-03-11T12:00:00Z", 2), // a merge commit
			onMain("b1", "dependabot[bot]", "2025-03-11T09:30:00Z", 1),
			onMain("x1", "", "2025-03-12T08:00:00Z", 1), // e-mail linked to no account
		},
		WorkflowRuns: []WorkflowRun{
			run(1, "completed", "success", "2025-03-10T10:00:00Z", "2025-03-10T10:01:00Z", "2025-03-10T10:11:00Z"),
			run(2, "completed", "failure", "2025-03-10T11:00:00Z", "", "2025-03-10T11:05:00Z"),
			run(3, "completed", "skipped", "2025-03-11T10:00:00Z", "2025-03-11T10:00:00Z", "2025-03-11T10:00:01Z"),
			run(4, "in_progress", "", "2025-03-12T10:00:00Z", "2025-03-12T10:00:00Z", "2025-03-12T10:03:00Z"),
			run(5, "completed", "cancelled", "2025-03-12T11:00:00Z", "2025-03-12T11:00:00Z", "2025-03-12T11:02:00Z"),
		},
	}
}

func TestCalculateVelocity(t *testing.T) {
	t.Parallel()
	rows, err := CalculateVelocity([]RepoActivity{velocityRepo(t)}, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		week string
		want VelocityRow
	}{
		{
			name: "the week a PR was opened counts the opening only",
			week: "2025-03-03T00:00:00Z",
			want: VelocityRow{PRsOpened: 1, Commits: 1, ActiveContributors: 2},
		},
		{
			name: "the week it was merged carries its durations",
			week: "2025-03-10T00:00:00Z",
			want: VelocityRow{
				PRsOpened: 3, PRsMerged: 3, PRsClosedUnmerged: 1,
				PRCycleTimeP50Hours: ptr(1.0), PRCycleTimeP90Hours: ptr(59.4), PRCycleTimeN: 3,
				CodingTimeP50Hours: ptr(1.0), CodingTimeN: 3,
				PickupTimeP50Hours: ptr(71.0), PickupTimeN: 1,
				ReviewTimeP50Hours: ptr(3.0), ReviewTimeN: 1,
				DeployTimeP50Hours: ptr(24.0), DeployTimeN: 3,
				PRsMergedWithoutReview: 2,
				PRSizeP50:              ptr(40.0), PRSizeN: 3,
				Commits: 4, ActiveContributors: 5,
				WorkflowRuns: 5, WorkflowCompletedRuns: 3, WorkflowSuccessRate: ptr(1.0 / 3),
				WorkflowDurationP50Seconds: ptr(300.0), WorkflowDurationN: 3,
			},
		},
		{
			name: "a week with nothing: zero counts, NULL metrics",
			week: "2025-03-17T00:00:00Z",
			want: VelocityRow{},
		},
	}
	for _, tt := range tests {
		got := rowFor(t, rows, shop, tt.week, velocityKey)
		want := tt.want
		want.ScopeType, want.Scope, want.WeekStart, want.MetricVersion = ScopeRepository, shop, at(t, tt.week), MetricVersion
		if diff := cmp.Diff(want, got, approx); diff != "" {
			t.Errorf("%s: row mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestCalculateVelocityScopes(t *testing.T) {
	t.Parallel()
	push := func(sha, author, when string) Commit { return commit(t, sha, author, when, "m") }
	repos := []RepoActivity{
		{FullName: "acme/shop", Commits: []Commit{push("a1", "ana", "2025-03-04T10:00:00Z"), push("a2", "bo", "2025-03-04T11:00:00Z")}},
		{FullName: "acme/web", Commits: []Commit{push("w1", "Ana", "2025-03-05T10:00:00Z"), push("w2", "zed", "2025-03-05T11:00:00Z")}},
		{FullName: "beta/api", Commits: []Commit{push("b1", "ana", "2025-03-06T10:00:00Z")}},
	}
	rows, err := CalculateVelocity(repos, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	w1 := "2025-03-03T00:00:00Z"
	for _, tt := range []struct {
		scope        string
		commits, who int
	}{
		{"contoso", 5, 3}, // ana counts once across organizations
		{"acme", 4, 3},    // and once across repositories, whatever the case of her login
		{"beta", 1, 1},
		{"acme/web", 2, 2},
	} {
		r := rowFor(t, rows, tt.scope, w1, velocityKey)
		if r.Commits != tt.commits || r.ActiveContributors != tt.who {
			t.Errorf("%s: commits %d, active contributors %d; want %d, %d", tt.scope, r.Commits, r.ActiveContributors, tt.commits, tt.who)
		}
	}
	if len(rows) != 3*6 {
		t.Errorf("got %d rows, want 18 (6 scopes × 3 weeks)", len(rows))
	}
}
