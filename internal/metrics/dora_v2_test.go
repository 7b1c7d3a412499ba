package metrics

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The shapes issue 12 found metric_version 1 wrong on, one test each: the v1 result is
// named in the test, the v2 result is what the test asserts.

// weekRow computes one repository and returns its row for the week starting at week.
func weekRow(t *testing.T, repo RepoActivity, opts Options, week string) DORARow {
	t.Helper()
	if repo.FullName == "" {
		repo.FullName = shop
	}
	rows, err := CalculateDORA([]RepoActivity{repo}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rowFor(t, rows, repo.FullName, week, doraKey)
}

func inEnv(d Deployment, env string) Deployment {
	d.Environment = env
	return d
}

func withReverts(c Commit, shas ...string) Commit {
	c.Reverts = shas
	return c
}

const (
	week1 = "2025-03-03T00:00:00Z"
	week2 = "2025-03-10T00:00:00Z"
)

// Case 1: a failed attempt blamed the previous, healthy deployment.
func TestDORAv2FailedAttempt(t *testing.T) {
	t.Parallel()
	for _, signal := range []string{SignalDeployment, SignalWorkflow} {
		t.Run(signal, func(t *testing.T) {
			t.Parallel()
			deps := []Deployment{
				prodDeploy(t, 1, "a", "2025-03-03T09:50:00Z", "success", "2025-03-03T10:00:00Z"), // A, Monday
				prodDeploy(t, 2, "b", "2025-03-04T09:50:00Z", "failure", "2025-03-04T10:00:00Z"), // attempt B fails Tuesday
				prodDeploy(t, 3, "b", "2025-03-04T11:50:00Z", "success", "2025-03-04T12:00:00Z"), // B's retry succeeds
			}
			for i := range deps {
				deps[i].Signal = signal
			}
			r := weekRow(t, RepoActivity{Deployments: deps}, testOptions(t), week1)
			// v1: A failed, change failure rate 0.5, the retry was rework (0.5).
			if r.Deployments != 2 || r.FailedDeployments != 0 || *r.ChangeFailureRate != 0 || r.ReworkDeployments != 0 || r.FailedAttempts != 1 {
				t.Errorf("deployments %d, failed %d (rate %v), rework %d, failed attempts %d; want 2, 0 (0), 0, 1",
					r.Deployments, r.FailedDeployments, *r.ChangeFailureRate, r.ReworkDeployments, r.FailedAttempts)
			}
		})
	}
}

// Case 2: a revert was blamed on the deployment running when it merged.
func TestDORAv2RevertBlamesTheDeploymentThatShippedIt(t *testing.T) {
	t.Parallel()
	c := func(sha, authored string) Commit { return commit(t, sha, "dev", authored, "change "+sha) }
	revertCommit := withReverts(c("ccccccc3", "2025-03-11T08:50:00Z"), "aaaaaaa1")
	revertPR := mergedPR(t, 3, "bo", `Revert "Add caching"`, "2025-03-11T08:55:00Z", "2025-03-11T09:00:00Z", "ccccccc3")
	for _, tt := range []struct {
		name   string
		pr     func(PullRequest) PullRequest
		onMain []Commit
	}{
		{"by the Revert button's description", func(pr PullRequest) PullRequest { pr.RevertsNumber = 1; return pr }, nil},
		{"by the squash commit's message", func(pr PullRequest) PullRequest { return pr }, []Commit{revertCommit}},
		{"by the title alone", func(pr PullRequest) PullRequest { return pr }, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo := RepoActivity{
				DefaultBranch: "main",
				Deployments: []Deployment{
					prodDeploy(t, 1, "aaaaaaa1", "2025-03-07T09:50:00Z", "success", "2025-03-07T10:00:00Z", c("aaaaaaa1", "2025-03-06T10:00:00Z")), // A ships PR 1, Friday
					prodDeploy(t, 2, "bbbbbbb2", "2025-03-10T09:50:00Z", "success", "2025-03-10T10:00:00Z", c("bbbbbbb2", "2025-03-09T10:00:00Z")), // B ships PR 2, Monday
					prodDeploy(t, 3, "ccccccc3", "2025-03-11T11:50:00Z", "success", "2025-03-11T12:00:00Z", revertCommit),                          // C ships the revert
				},
				PullRequests: []PullRequest{
					mergedPR(t, 1, "ana", "Add caching", "2025-03-06T09:00:00Z", "2025-03-07T09:00:00Z", "aaaaaaa1"),
					mergedPR(t, 2, "ana", "Add search", "2025-03-09T09:00:00Z", "2025-03-10T09:00:00Z", "bbbbbbb2"),
					tt.pr(revertPR),
				},
				Commits: tt.onMain,
			}
			opts := testOptions(t)
			w1, w2 := weekRow(t, repo, opts, week1), weekRow(t, repo, opts, week2)
			// v1: B (week 2) failed, A (week 1) clean.
			if w1.FailedDeployments != 1 || w2.FailedDeployments != 0 {
				t.Errorf("failed: week of A %d, week of B %d; want 1, 0", w1.FailedDeployments, w2.FailedDeployments)
			}
			// Restored when C deployed the revert: Fri 10:00 → Tue 12:00.
			if w1.RecoveryTimeP50Hours == nil || *w1.RecoveryTimeP50Hours != 98 || w2.ReworkDeployments != 1 {
				t.Errorf("recovery %v, rework in week 2 %d; want 98 h, 1 (C)", w1.RecoveryTimeP50Hours, w2.ReworkDeployments)
			}
		})
	}
}

// Case 2, second part: a revert among a feature pull request's own commits failed the
// deployment before it.
func TestDORAv2RevertInsideAPullRequestIsNoFailure(t *testing.T) {
	t.Parallel()
	wip := commit(t, "1111111a", "ana", "2025-03-04T09:00:00Z", "WIP")
	unwip := withReverts(commit(t, "2222222b", "ana", "2025-03-04T09:30:00Z", `Revert "WIP"`), "1111111a")
	final := commit(t, "3333333c", "ana", "2025-03-04T10:00:00Z", "final")
	merge := Commit{SHA: "4444444d", AuthorLogin: "ana", AuthoredAt: at(t, "2025-03-04T11:00:00Z"), CommittedAt: at(t, "2025-03-04T11:00:00Z"),
		MessageHeadline: "Merge pull request #5 from acme/search", ParentCount: 2}
	repo := RepoActivity{
		DefaultBranch: "main",
		Deployments: []Deployment{
			prodDeploy(t, 1, "0000000z", "2025-03-04T07:50:00Z", "success", "2025-03-04T08:00:00Z"),
			prodDeploy(t, 2, "4444444d", "2025-03-04T11:50:00Z", "success", "2025-03-04T12:00:00Z", wip, unwip, final, merge),
		},
		PullRequests: []PullRequest{mergedPR(t, 5, "ana", "Add search", "2025-03-04T08:30:00Z", "2025-03-04T11:00:00Z", "4444444d", wip, unwip, final)},
		Commits:      []Commit{wip, unwip, final, merge},
	}
	r := weekRow(t, repo, testOptions(t), week1)
	// v1: the PR counted as a revert PR, so the 08:00 deployment failed (0.5) and the
	// noon one was rework.
	if r.FailedDeployments != 0 || r.ReworkDeployments != 0 {
		t.Errorf("failed %d, rework %d; want 0, 0", r.FailedDeployments, r.ReworkDeployments)
	}
}

// A revert of a change reverted before it reached production blames nothing; one
// reverted after it did blames the deployment that shipped it, in each environment.
func TestDORAv2RevertPerEnvironment(t *testing.T) {
	t.Parallel()
	x := commit(t, "aaaaaaa1", "ana", "2025-03-03T09:00:00Z", "Add caching")
	rev := withReverts(commit(t, "bbbbbbb2", "bo", "2025-03-04T12:00:00Z", `Revert "Add caching"`), "aaaaaaa1")
	repo := RepoActivity{
		Deployments: []Deployment{
			inEnv(prodDeploy(t, 1, "0000000z", "2025-03-03T07:00:00Z", "success", "2025-03-03T08:00:00Z"), "production-eu"),
			inEnv(prodDeploy(t, 2, "0000000z", "2025-03-03T07:00:00Z", "success", "2025-03-03T08:30:00Z"), "production-us"),
			// eu gets X on Monday; us only gets it with its revert on Wednesday.
			inEnv(prodDeploy(t, 3, "aaaaaaa1", "2025-03-03T09:50:00Z", "success", "2025-03-03T10:00:00Z", x), "production-eu"),
			inEnv(prodDeploy(t, 4, "bbbbbbb2", "2025-03-05T09:50:00Z", "success", "2025-03-05T10:00:00Z", x, rev), "production-us"),
			inEnv(prodDeploy(t, 5, "bbbbbbb2", "2025-03-05T10:50:00Z", "success", "2025-03-05T11:00:00Z", rev), "production-eu"),
		},
		Commits: []Commit{x, rev},
	}
	r := weekRow(t, repo, testOptions(t), week1)
	// The Monday eu deployment failed (Mon 10:00 → Wed 11:00, 49 h); us never ran X.
	if r.Deployments != 5 || r.FailedDeployments != 1 || r.RecoveryN != 1 || *r.RecoveryTimeP50Hours != 49 || r.ReworkDeployments != 1 {
		t.Errorf("deployments %d, failed %d, recovery %v (n %d), rework %d; want 5, 1, 49 h (1), 1",
			r.Deployments, r.FailedDeployments, r.RecoveryTimeP50Hours, r.RecoveryN, r.ReworkDeployments)
	}
}

// Case 3: several production environments in one repository.
func TestDORAv2MonorepoEnvironments(t *testing.T) {
	t.Parallel()
	c := func(sha, authored string) Commit { return commit(t, sha, "dev", authored, "change "+sha) }
	repo := RepoActivity{Deployments: []Deployment{
		inEnv(prodDeploy(t, 1, "a1", "2025-03-03T09:50:00Z", "success", "2025-03-03T10:00:00Z"), "production/api"),
		inEnv(prodDeploy(t, 2, "a2", "2025-03-04T09:50:00Z", "success", "2025-03-04T10:00:00Z", c("a2", "2025-03-04T08:00:00Z")), "production/api"),
		// web deploys a1, older than api's a2: web's own first deployment, no rollback.
		inEnv(prodDeploy(t, 3, "a1", "2025-03-06T09:50:00Z", "success", "2025-03-06T10:00:00Z"), "production/web"),
		// and catches up with a2: the change a2 is measured again, for web.
		inEnv(prodDeploy(t, 4, "a2", "2025-03-07T09:50:00Z", "success", "2025-03-07T10:00:00Z", c("a2", "2025-03-04T08:00:00Z")), "production/web"),
	}}
	opts := testOptions(t)
	opts.RolloutWindow = DefaultRolloutWindow
	r := weekRow(t, repo, opts, week1)
	// v1: web's a1 was a rollback from a2, so api's a2 deployment failed (1 of 4) and
	// web's a1 was rework; a2 gave one lead time sample.
	want := DORARow{Deployments: 4, DeploymentDays: 4, FailedDeployments: 0, ReworkDeployments: 0, LeadTimeN: 2}
	got := DORARow{Deployments: r.Deployments, DeploymentDays: r.DeploymentDays, FailedDeployments: r.FailedDeployments,
		ReworkDeployments: r.ReworkDeployments, LeadTimeN: r.LeadTimeN}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if *r.LeadTimeP50Hours != (2+74)/2.0 {
		t.Errorf("lead time p50 = %v, want 38 (2 h in api, 74 h in web)", *r.LeadTimeP50Hours)
	}
}

// Case 3, regions: one SHA rolled out to several production environments is one rollout.
func TestDORAv2RegionalRollout(t *testing.T) {
	t.Parallel()
	repo := RepoActivity{
		Deployments: []Deployment{
			inEnv(prodDeploy(t, 1, "a", "2025-03-04T09:50:00Z", "success", "2025-03-04T10:00:00Z"), "production-eu"),
			inEnv(prodDeploy(t, 2, "a", "2025-03-04T10:50:00Z", "success", "2025-03-04T11:00:00Z"), "production-us"),
			inEnv(prodDeploy(t, 3, "a", "2025-03-04T11:20:00Z", "success", "2025-03-04T11:30:00Z"), "production-ap"),
		},
		Incidents: []Incident{{Number: 1, CreatedAt: at(t, "2025-03-04T12:00:00Z"), ClosedAt: ptr(at(t, "2025-03-04T14:00:00Z"))}},
	}
	for _, tt := range []struct {
		window              time.Duration
		deployments, failed int
		rate, recovery      float64
		name                string
	}{
		// The incident blames the latest deployment, ap's, so the rollout failed: from the
		// finish of its failed deployment (11:30) to the close (14:00).
		{DefaultRolloutWindow, 1, 1, 1, 2.5, "grouped"},
		// v1's answer, and v2's with the window off: 3 deployments, 1 failed (the rate is
		// divided by the 3 regions), recovery from ap's finish.
		{0, 3, 1, 1.0 / 3, 2.5, "every environment alone"},
	} {
		opts := testOptions(t)
		opts.RolloutWindow = tt.window
		r := weekRow(t, repo, opts, week1)
		if r.Deployments != tt.deployments || r.FailedDeployments != tt.failed || *r.ChangeFailureRate != tt.rate ||
			r.RecoveryTimeP50Hours == nil || *r.RecoveryTimeP50Hours != tt.recovery || r.DeploymentDays != 1 {
			t.Errorf("%s: deployments %d, failed %d, rate %v, recovery %v; want %d, %d, %v, %v h",
				tt.name, r.Deployments, r.FailedDeployments, *r.ChangeFailureRate, r.RecoveryTimeP50Hours,
				tt.deployments, tt.failed, tt.rate, tt.recovery)
		}
		if r.LeadTimeN != 0 {
			t.Errorf("%s: lead time n = %d, want 0 (no changes)", tt.name, r.LeadTimeN)
		}
	}
	// A redeploy of the same SHA to an environment already in the rollout is a
	// deployment of its own.
	repo.Deployments = append(repo.Deployments, inEnv(prodDeploy(t, 4, "a", "2025-03-04T15:50:00Z", "success", "2025-03-04T16:00:00Z"), "production-eu"))
	repo.Incidents = nil
	opts := testOptions(t)
	opts.RolloutWindow = DefaultRolloutWindow
	if r := weekRow(t, repo, opts, week1); r.Deployments != 2 {
		t.Errorf("with a redeploy to eu: %d deployments, want 2 (the rollout and the redeploy)", r.Deployments)
	}
}

// Case 4: incidents closed as not planned still counted; open ones were invisible.
func TestDORAv2IncidentState(t *testing.T) {
	t.Parallel()
	deploy := prodDeploy(t, 1, "a", "2025-03-04T09:50:00Z", "success", "2025-03-04T10:00:00Z")
	for _, tt := range []struct {
		name                      string
		incident                  Incident
		failed, unrecovered, nRec int
	}{
		// v1: failed 1, recovery 2 h.
		{"closed as not planned", Incident{Number: 1, CreatedAt: at(t, "2025-03-04T11:00:00Z"), ClosedAt: ptr(at(t, "2025-03-04T13:00:00Z")), StateReason: "not_planned"}, 0, 0, 0},
		{"closed as a duplicate", Incident{Number: 1, CreatedAt: at(t, "2025-03-04T11:00:00Z"), ClosedAt: ptr(at(t, "2025-03-04T13:00:00Z")), StateReason: "duplicate"}, 0, 0, 0},
		{"closed as completed", Incident{Number: 1, CreatedAt: at(t, "2025-03-04T11:00:00Z"), ClosedAt: ptr(at(t, "2025-03-04T13:00:00Z")), StateReason: "completed"}, 1, 0, 1},
		// v1: failed 1, and nothing said it was still failing.
		{"still open", Incident{Number: 1, CreatedAt: at(t, "2025-03-04T11:00:00Z"), StateReason: "reopened"}, 1, 1, 0},
	} {
		r := weekRow(t, RepoActivity{Deployments: []Deployment{deploy}, Incidents: []Incident{tt.incident}}, testOptions(t), week1)
		if r.FailedDeployments != tt.failed || r.UnrecoveredFailures != tt.unrecovered || r.RecoveryN != tt.nRec {
			t.Errorf("%s: failed %d, unrecovered %d, recovery n %d; want %d, %d, %d",
				tt.name, r.FailedDeployments, r.UnrecoveredFailures, r.RecoveryN, tt.failed, tt.unrecovered, tt.nRec)
		}
	}
}

// Case 5: recovery started at the signal, not at the failed deployment.
func TestDORAv2RecoveryFromTheFailedDeployment(t *testing.T) {
	t.Parallel()
	repo := RepoActivity{
		Deployments: []Deployment{
			prodDeploy(t, 1, "a", "2025-03-04T09:50:00Z", "success", "2025-03-04T10:00:00Z"),
			prodDeploy(t, 2, "b", "2025-03-05T09:50:00Z", "success", "2025-03-05T10:00:00Z", commit(t, "b", "dev", "2025-03-05T09:00:00Z", "b")),
			prodDeploy(t, 3, "a", "2025-03-05T15:00:00Z", "success", "2025-03-05T15:30:00Z"), // rollback started 15:00
		},
	}
	r := weekRow(t, repo, testOptions(t), week1)
	// v1: 0.5 h, from the rollback's start; the failure began when B finished (10:00).
	if r.RecoveryTimeP50Hours == nil || *r.RecoveryTimeP50Hours != 5.5 {
		t.Errorf("recovery = %v, want 5.5 h", r.RecoveryTimeP50Hours)
	}
}

// Case 6: a failure is counted unrecovered until it is restored, however long that takes.
func TestDORAv2LongRecovery(t *testing.T) {
	t.Parallel()
	repo := RepoActivity{
		Deployments: []Deployment{prodDeploy(t, 1, "a", "2025-03-04T09:50:00Z", "success", "2025-03-04T10:00:00Z")},
		Incidents:   []Incident{{Number: 1, CreatedAt: at(t, "2025-03-04T11:00:00Z"), ClosedAt: ptr(at(t, "2025-07-22T10:00:00Z"))}},
	}
	before := repo
	before.Incidents = []Incident{{Number: 1, CreatedAt: at(t, "2025-03-04T11:00:00Z")}} // as collected before the close
	opts := testOptions(t)
	if r := weekRow(t, before, opts, week1); r.UnrecoveredFailures != 1 || r.RecoveryN != 0 {
		t.Errorf("open: unrecovered %d, recovery n %d; want 1, 0", r.UnrecoveredFailures, r.RecoveryN)
	}
	// Twenty weeks later the week is still computed (the stage keeps it in its window)
	// and gets its sample: 20 weeks = 3,360 h.
	opts.To = at(t, "2025-07-22T12:00:00Z")
	if r := weekRow(t, repo, opts, week1); r.UnrecoveredFailures != 0 || r.RecoveryN != 1 || *r.RecoveryTimeP50Hours != 3360 {
		t.Errorf("closed: unrecovered %d, recovery %v (n %d); want 0, 3360 h (1)", r.UnrecoveredFailures, r.RecoveryTimeP50Hours, r.RecoveryN)
	}
}

// Case 7: organizations and the enterprise rated pooled deployment days.
func TestDORAv2LevelsAboveTheRepository(t *testing.T) {
	t.Parallel()
	var repos []RepoActivity
	for i := range 5 { // five repositories, each deploying once, on different weekdays
		day := at(t, week1).AddDate(0, 0, i)
		repos = append(repos, RepoActivity{FullName: fmt.Sprintf("acme/svc%d", i), Deployments: []Deployment{{
			ID: 1, SHA: "a", Environment: "production", Production: true, CreatedAt: day.Add(9 * time.Hour),
			Statuses: []DeploymentStatus{{State: "success", CreatedAt: day.Add(10 * time.Hour)}},
		}}})
	}
	rows, err := CalculateDORA(repos, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, scope := range []string{"contoso", "acme"} {
		r := rowFor(t, rows, scope, week1, doraKey)
		// v1: 5 pooled deployment days, so "elite" on demand, while every repository is high.
		got := []any{r.DeploymentDays, r.DeploymentFrequencyLevel, r.PerformanceLevel, r.ReposElite, r.ReposHigh, r.ReposMedium, r.ReposLow}
		want := []any{5, LevelHigh, LevelHigh, 0, 5, 0, 0}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", scope, diff)
		}
	}
	r := rowFor(t, rows, "acme/svc0", week1, doraKey)
	if r.DeploymentFrequencyLevel != LevelHigh || r.ReposHigh != 1 {
		t.Errorf("repository: frequency %q, repos_high %d; want high, 1", r.DeploymentFrequencyLevel, r.ReposHigh)
	}
}

func TestMedianLevel(t *testing.T) {
	t.Parallel()
	th, _ := ThresholdsFor("2024")
	for _, tt := range []struct {
		in   []Level
		want Level
	}{
		{nil, ""},
		{[]Level{"", ""}, ""},
		{[]Level{LevelLow}, LevelLow},
		{[]Level{LevelElite, LevelLow}, LevelLow}, // even: the worse middle
		{[]Level{LevelElite, LevelHigh, LevelLow}, LevelHigh},
		{[]Level{LevelElite, "", LevelElite, LevelMedium}, LevelElite},
		{[]Level{LevelElite, LevelHigh, LevelMedium, LevelLow}, LevelMedium},
	} {
		if got := th.MedianLevel(tt.in); got != tt.want {
			t.Errorf("MedianLevel(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
