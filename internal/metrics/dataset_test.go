package metrics

import (
	"strconv"
	"testing"
	"time"
)

// The golden dataset: one enterprise, two organizations, three repositories, four weeks
// (2025-03-03 … 2025-03-30) of hand-written activity covering the three merge
// strategies, both deployment signals, a Revert-button revert, a direct-push revert, a
// revert among a PR's own commits, a hotfix, a rollback, a redeploy of the same SHA, a
// second production region rolled out with the first, failed deployment attempts,
// incidents inside and outside the window and one closed as not planned, bot and
// Copilot pull requests, self and bot reviews, direct pushes and CI runs.

// prSpec is a pull request in shorthand. Strategy is "squash", "merge" or "rebase"; the
// commits are "sha@authored" with the headline "<sha> work".
type prSpec struct {
	number               int
	author, title, head  string
	created, merged      string // merged "" = not merged
	closed               string // for unmerged PRs
	commits              []string
	reviews              []string // "login@submitted"
	strategy             string
	additions, deletions int
	mergeSHA             string   // squash/merge commit; rebase: the last rebased SHA
	rebasedSHAs          []string // rebase: new SHAs of the commits, in order
	reviewStates         []string // parallel to reviews; default APPROVED
}

func (s prSpec) build(t testing.TB, repo string) (PullRequest, []Commit) {
	pr := PullRequest{
		Number: s.number, RepoFullName: repo, AuthorLogin: s.author, Title: s.title, HeadRef: s.head, BaseRef: "main",
		State: "open", CreatedAt: at(t, s.created), Additions: s.additions, Deletions: s.deletions, MergeCommitSHA: s.mergeSHA,
	}
	for _, c := range s.commits {
		sha, authored := splitAt(c)
		pr.Commits = append(pr.Commits, commit(t, sha, s.author, authored, sha+" work"))
	}
	for i, r := range s.reviews {
		login, submitted := splitAt(r)
		state := "APPROVED"
		if i < len(s.reviewStates) {
			state = s.reviewStates[i]
		}
		pr.Reviews = append(pr.Reviews, review(t, int64(s.number*100+i), login, state, submitted))
	}
	if s.closed != "" {
		pr.State, pr.ClosedAt = "closed", ptr(at(t, s.closed))
	}
	if s.merged == "" {
		return pr, nil
	}
	merged := at(t, s.merged)
	pr.State, pr.ClosedAt, pr.MergedAt = "closed", &merged, &merged

	// What the merge put on main.
	var onMain []Commit
	switch s.strategy {
	case "squash":
		onMain = append(onMain, Commit{SHA: s.mergeSHA, AuthorLogin: s.author, AuthoredAt: pr.Commits[0].AuthoredAt,
			CommittedAt: merged, MessageHeadline: s.title + " (#" + strconv.Itoa(s.number) + ")", ParentCount: 1})
	case "merge":
		for _, c := range pr.Commits {
			c.CommittedAt = c.AuthoredAt
			onMain = append(onMain, c)
		}
		onMain = append(onMain, Commit{SHA: s.mergeSHA, AuthorLogin: s.author, AuthoredAt: merged, CommittedAt: merged,
			MessageHeadline: "Merge pull request #" + strconv.Itoa(s.number), ParentCount: 2})
	case "rebase":
		for i, c := range pr.Commits {
			c.SHA, c.CommittedAt = s.rebasedSHAs[i], merged
			onMain = append(onMain, c)
		}
	}
	return pr, onMain
}

func splitAt(s string) (string, string) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '@' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// shaCommits returns the commits of main with the given SHAs, in order.
func shaCommits(t testing.TB, main []Commit, shas ...string) []Commit {
	t.Helper()
	var out []Commit
	for _, sha := range shas {
		found := false
		for _, c := range main {
			if c.SHA == sha {
				out = append(out, c)
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("dataset: no commit %s on main", sha)
		}
	}
	return out
}

func ciRun(t testing.TB, id int64, repo, conclusion, created string, minutes int) WorkflowRun {
	c := at(t, created)
	r := WorkflowRun{ID: id, RepoFullName: repo, Name: "CI", Path: ".github/workflows/ci.yml", Event: "pull_request",
		Status: "completed", Conclusion: conclusion, RunAttempt: 1, CreatedAt: c, RunStartedAt: c.Add(30 * time.Second),
		UpdatedAt: c.Add(30*time.Second + time.Duration(minutes)*time.Minute)}
	if conclusion == "" {
		r.Status = "in_progress"
	}
	return r
}

func goldenDataset(t testing.TB) []RepoActivity {
	return []RepoActivity{shopRepo(t), webRepo(t), apiRepo(t)}
}

// acme/shop: squash merges, GitHub Deployments to "production".
func shopRepo(t testing.TB) RepoActivity {
	const repo = "acme/shop"
	specs := []prSpec{
		{number: 1, author: "ana", title: "Add product search", head: "feature/search", created: "2025-03-03T09:00:00Z", merged: "2025-03-03T16:00:00Z",
			commits: []string{"a1@2025-03-02T15:00:00Z", "a2@2025-03-03T08:30:00Z"}, reviews: []string{"bo@2025-03-03T13:00:00Z"},
			strategy: "squash", mergeSHA: "sq1", additions: 120, deletions: 30},
		{number: 2, author: "bo", title: "Cart totals rounding", head: "fix/rounding", created: "2025-03-04T10:00:00Z", merged: "2025-03-04T12:00:00Z",
			commits: []string{"b1@2025-03-04T08:00:00Z"}, reviews: []string{"ana@2025-03-04T11:00:00Z"},
			strategy: "squash", mergeSHA: "sq2", additions: 15, deletions: 4},
		{number: 3, author: "carol", title: "Checkout redesign", head: "feature/checkout", created: "2025-03-05T09:00:00Z", merged: "2025-03-06T15:00:00Z",
			commits: []string{"c1@2025-03-03T10:00:00Z", "c2@2025-03-04T17:00:00Z", "c3@2025-03-05T08:00:00Z"},
			reviews: []string{"ana@2025-03-06T09:00:00Z", "dan@2025-03-06T10:00:00Z"}, reviewStates: []string{"CHANGES_REQUESTED", "APPROVED"},
			strategy: "squash", mergeSHA: "sq3", additions: 640, deletions: 210},
		{number: 4, author: "ana", title: `Revert "Checkout redesign"`, head: "revert-3-feature/checkout", created: "2025-03-07T09:10:00Z", merged: "2025-03-07T09:30:00Z",
			commits: []string{"r4@2025-03-07T09:05:00Z"}, reviews: []string{"bo@2025-03-07T09:20:00Z"},
			strategy: "squash", mergeSHA: "sq4", additions: 210, deletions: 640},
		{number: 5, author: "dependabot[bot]", title: "Bump lodash from 4.17.20 to 4.17.21", head: "dependabot/npm_and_yarn/lodash-4.17.21", created: "2025-03-10T06:00:00Z", merged: "2025-03-10T09:30:00Z",
			commits: []string{"d5@2025-03-10T06:00:00Z"}, reviews: []string{"ana@2025-03-10T09:00:00Z"},
			strategy: "squash", mergeSHA: "sq5", additions: 3, deletions: 3},
		{number: 6, author: "carol", title: "Checkout redesign, take two", head: "feature/checkout-2", created: "2025-03-11T09:00:00Z", merged: "2025-03-12T14:00:00Z",
			commits: []string{"c6@2025-03-10T09:00:00Z", "c7@2025-03-11T08:00:00Z"}, reviews: []string{"dan@2025-03-12T10:00:00Z"},
			strategy: "squash", mergeSHA: "sq6", additions: 700, deletions: 220},
		{number: 7, author: "bo", title: "Fix EU tax rounding", head: "hotfix/eu-tax", created: "2025-03-13T08:00:00Z", merged: "2025-03-13T08:20:00Z",
			commits: []string{"h7@2025-03-13T07:40:00Z"}, reviews: []string{"ana@2025-03-13T08:10:00Z"},
			strategy: "squash", mergeSHA: "sq7", additions: 8, deletions: 2},
		{number: 8, author: "dan", title: "Inventory sync job", head: "feature/inventory", created: "2025-03-18T10:00:00Z", merged: "2025-03-19T09:00:00Z",
			commits: []string{"i8@2025-03-17T14:00:00Z"},
			reviews: []string{"copilot-pull-request-reviewer[bot]@2025-03-18T10:05:00Z", "dan@2025-03-18T11:00:00Z"}, reviewStates: []string{"COMMENTED", "COMMENTED"},
			strategy: "squash", mergeSHA: "sq8", additions: 230, deletions: 15},
		{number: 9, author: "erin", title: "Spike: GraphQL gateway", head: "spike/graphql", created: "2025-03-19T10:00:00Z", closed: "2025-03-21T16:00:00Z",
			commits: []string{"e9@2025-03-19T09:00:00Z"}},
		{number: 10, author: "Copilot", title: "Fix flaky cart test", head: "copilot/fix-flaky-cart-test", created: "2025-03-20T10:00:00Z", merged: "2025-03-20T15:00:00Z",
			commits: []string{"k10@2025-03-20T10:00:00Z"}, reviews: []string{"bo@2025-03-20T14:00:00Z"},
			strategy: "squash", mergeSHA: "sq10", additions: 12, deletions: 6},
		{number: 11, author: "erin", title: "Search ranking tweaks", head: "feature/ranking", created: "2025-03-26T09:00:00Z",
			commits: []string{"e11@2025-03-25T16:00:00Z"}, reviews: []string{"ana@2025-03-26T15:00:00Z"}},
	}
	var prs []PullRequest
	var main []Commit
	for _, s := range specs {
		pr, onMain := s.build(t, repo)
		if pr.Number == 4 { // GitHub's Revert button: "Reverts acme/shop#3", and git revert's message
			pr.RevertsNumber = 3
			onMain[0].Reverts = []string{"sq3"}
		}
		prs = append(prs, pr)
		main = append(main, onMain...)
	}
	main = append(main, Commit{SHA: "doc1", AuthorLogin: "erin", AuthoredAt: at(t, "2025-03-14T12:00:00Z"), CommittedAt: at(t, "2025-03-14T12:00:00Z"),
		MessageHeadline: "docs: fix README typo", ParentCount: 1})

	dep := func(id int64, sha, created, state, finished string, changes ...string) Deployment {
		d := prodDeploy(t, id, sha, created, state, finished, shaCommits(t, main, changes...)...)
		d.RepoFullName, d.Signal, d.Ref = repo, SignalDeployment, "main"
		return d
	}
	staging := dep(90, "sq8", "2025-03-18T12:00:00Z", "success", "2025-03-18T12:04:00Z")
	staging.Environment, staging.Production = "staging", false
	return RepoActivity{
		FullName: repo, DefaultBranch: "main", PullRequests: prs, Commits: main,
		Deployments: []Deployment{
			dep(1, "sq1", "2025-03-03T17:00:00Z", "success", "2025-03-03T17:10:00Z", "sq1"),
			dep(2, "sq2", "2025-03-04T13:00:00Z", "success", "2025-03-04T13:08:00Z", "sq2"),
			dep(3, "sq3", "2025-03-06T16:00:00Z", "success", "2025-03-06T16:12:00Z", "sq3"),
			dep(4, "sq4", "2025-03-07T09:40:00Z", "success", "2025-03-07T09:50:00Z", "sq4"),
			dep(5, "sq5", "2025-03-10T10:00:00Z", "success", "2025-03-10T10:06:00Z", "sq5"),
			dep(6, "sq6", "2025-03-12T15:00:00Z", "failure", "2025-03-12T15:20:00Z"),
			dep(7, "sq6", "2025-03-12T16:00:00Z", "success", "2025-03-12T16:10:00Z", "sq6"),
			dep(8, "sq7", "2025-03-13T08:30:00Z", "success", "2025-03-13T08:36:00Z", "sq7"),
			staging,
			dep(10, "sq8", "2025-03-19T10:00:00Z", "success", "2025-03-19T10:05:00Z", "doc1", "sq8"),
			dep(11, "sq8", "2025-03-19T11:00:00Z", "success", "2025-03-19T11:04:00Z"),
			dep(12, "sq10", "2025-03-20T16:00:00Z", "success", "2025-03-20T16:06:00Z", "sq10"),
		},
		Incidents: []Incident{
			{RepoFullName: repo, Number: 40, Title: "Staging DB full", AuthorLogin: "dan", Labels: []string{"incident"},
				CreatedAt: at(t, "2025-02-10T08:00:00Z"), ClosedAt: ptr(at(t, "2025-02-11T08:00:00Z"))},
			{RepoFullName: repo, Number: 41, Title: "Checkout returns 500", AuthorLogin: "dan", Labels: []string{"incident", "sev2"},
				CreatedAt: at(t, "2025-03-06T18:30:00Z"), ClosedAt: ptr(at(t, "2025-03-07T10:15:00Z")), StateReason: "completed"},
			{RepoFullName: repo, Number: 42, Title: "Checkout slow?", AuthorLogin: "erin", Labels: []string{"incident"},
				CreatedAt: at(t, "2025-03-13T10:00:00Z"), ClosedAt: ptr(at(t, "2025-03-13T11:00:00Z")), StateReason: "not_planned"},
		},
		WorkflowRuns: []WorkflowRun{
			ciRun(t, 101, repo, "success", "2025-03-03T09:05:00Z", 6),
			ciRun(t, 102, repo, "failure", "2025-03-04T10:05:00Z", 4),
			ciRun(t, 103, repo, "success", "2025-03-04T11:30:00Z", 5),
			ciRun(t, 104, repo, "success", "2025-03-05T09:05:00Z", 9),
			ciRun(t, 105, repo, "cancelled", "2025-03-11T09:05:00Z", 1),
			ciRun(t, 106, repo, "success", "2025-03-11T09:20:00Z", 8),
			ciRun(t, 107, repo, "skipped", "2025-03-13T08:01:00Z", 0),
			ciRun(t, 108, repo, "success", "2025-03-18T10:05:00Z", 7),
			ciRun(t, 109, repo, "failure", "2025-03-20T10:05:00Z", 12),
			ciRun(t, 110, repo, "", "2025-03-26T09:05:00Z", 0),
		},
	}
}

// acme/web: merge commits and rebase merges, GitHub Deployments to "prod", a rollback.
func webRepo(t testing.TB) RepoActivity {
	const repo = "acme/web"
	specs := []prSpec{
		{number: 21, author: "fay", title: "Landing page A/B test", head: "feature/ab", created: "2025-03-03T11:00:00Z", merged: "2025-03-04T10:00:00Z",
			commits: []string{"f1@2025-03-03T09:00:00Z", "f2@2025-03-03T10:30:00Z"}, reviews: []string{"gus@2025-03-03T15:00:00Z"},
			strategy: "merge", mergeSHA: "mw21", additions: 310, deletions: 40},
		{number: 22, author: "gus", title: "Upgrade React to 19", head: "chore/react-19", created: "2025-03-05T09:00:00Z", merged: "2025-03-06T12:00:00Z",
			commits: []string{"g1@2025-03-04T16:00:00Z"}, reviews: []string{"fay@2025-03-06T11:00:00Z"},
			strategy: "merge", mergeSHA: "mw22", additions: 1450, deletions: 1320},
		{number: 23, author: "fay", title: "Fix header overlap", head: "fix/header", created: "2025-03-11T10:00:00Z", merged: "2025-03-11T11:00:00Z",
			commits: []string{"h1@2025-03-11T09:40:00Z"}, reviews: []string{"gus@2025-03-11T10:30:00Z"},
			strategy: "rebase", mergeSHA: "rh1", rebasedSHAs: []string{"rh1"}, additions: 4, deletions: 4},
		{number: 24, author: "gus", title: "Serve images from the CDN", head: "feature/cdn", created: "2025-03-17T09:00:00Z", merged: "2025-03-18T10:00:00Z",
			commits: []string{"i1@2025-03-14T10:00:00Z", "i2@2025-03-17T08:00:00Z"},
			reviews: []string{"gus@2025-03-17T09:30:00Z", "fay@2025-03-18T09:00:00Z"}, reviewStates: []string{"COMMENTED", "APPROVED"},
			strategy: "rebase", mergeSHA: "ri2", rebasedSHAs: []string{"ri1", "ri2"}, additions: 95, deletions: 20},
	}
	var prs []PullRequest
	var main []Commit
	for _, s := range specs {
		pr, onMain := s.build(t, repo)
		if pr.Number == 21 { // f2 is `Revert "f1 work"` inside the PR: no failure
			pr.Commits[1].MessageHeadline, pr.Commits[1].Reverts = `Revert "f1 work"`, []string{"f1"}
			onMain[1].MessageHeadline, onMain[1].Reverts = pr.Commits[1].MessageHeadline, pr.Commits[1].Reverts
		}
		prs = append(prs, pr)
		main = append(main, onMain...)
	}
	dep := func(id int64, sha, created, finished string, changes ...string) Deployment {
		d := prodDeploy(t, id, sha, created, "success", finished, shaCommits(t, main, changes...)...)
		d.RepoFullName, d.Signal, d.Environment = repo, SignalDeployment, "prod"
		return d
	}
	eu := func(id int64, sha, created, finished string, changes ...string) Deployment {
		d := dep(id, sha, created, finished, changes...)
		d.Environment = "prod-eu"
		return d
	}
	return RepoActivity{
		FullName: repo, DefaultBranch: "main", PullRequests: prs, Commits: main,
		Deployments: []Deployment{
			dep(21, "mw21", "2025-03-04T11:00:00Z", "2025-03-04T11:15:00Z", "f1", "f2", "mw21"),
			dep(22, "mw22", "2025-03-06T13:00:00Z", "2025-03-06T13:15:00Z", "g1", "mw22"),
			dep(23, "mw21", "2025-03-06T14:00:00Z", "2025-03-06T14:05:00Z"), // rollback
			dep(24, "rh1", "2025-03-11T12:00:00Z", "2025-03-11T12:10:00Z", "g1", "mw22", "rh1"),
			dep(25, "ri2", "2025-03-18T11:00:00Z", "2025-03-18T11:10:00Z", "ri1", "ri2"),
			// The EU region follows prod within the hour (one rollout each), and never ran mw22.
			eu(31, "mw21", "2025-03-04T11:30:00Z", "2025-03-04T11:50:00Z"),
			eu(34, "rh1", "2025-03-11T12:20:00Z", "2025-03-11T12:35:00Z", "f1", "f2", "mw21", "g1", "mw22", "rh1"),
		},
		WorkflowRuns: []WorkflowRun{
			ciRun(t, 201, repo, "success", "2025-03-03T11:05:00Z", 14),
			ciRun(t, 202, repo, "failure", "2025-03-05T09:05:00Z", 21),
			ciRun(t, 203, repo, "success", "2025-03-05T16:00:00Z", 19),
			ciRun(t, 204, repo, "success", "2025-03-11T10:05:00Z", 13),
			ciRun(t, 205, repo, "success", "2025-03-17T09:05:00Z", 15),
		},
	}
}

// beta/api: direct pushes, deployments by a deploy workflow, failed attempts, incidents.
func apiRepo(t testing.TB) RepoActivity {
	const repo = "beta/api"
	push := func(sha, author, authored, headline string) Commit {
		a := at(t, authored)
		return Commit{SHA: sha, AuthorLogin: author, AuthoredAt: a, CommittedAt: a, MessageHeadline: headline, ParentCount: 1}
	}
	pr31, onMain31 := prSpec{number: 31, author: "ivy", title: "Auth token refresh", head: "feature/token-refresh",
		created: "2025-03-10T09:00:00Z", merged: "2025-03-12T10:00:00Z",
		commits: []string{"t1@2025-03-07T16:00:00Z", "t2@2025-03-10T08:00:00Z"}, reviews: []string{"hal@2025-03-12T09:00:00Z"},
		strategy: "squash", mergeSHA: "sq31", additions: 340, deletions: 60}.build(t, repo)
	main := append([]Commit{
		push("k1", "hal", "2025-03-03T09:00:00Z", "api: add rate limiter"),
		push("k2", "hal", "2025-03-03T14:00:00Z", "api: tune limiter"),
		push("k3", "ivy", "2025-03-05T10:00:00Z", "api: pagination"),
		push("k4", "github-actions[bot]", "2025-03-05T10:30:00Z", "chore: regenerate OpenAPI client"),
	}, onMain31...)
	// A direct push reverting k3 (pagination), deployed with PR 31.
	k5 := push("k5", "hal", "2025-03-06T09:00:00Z", `Revert "api: pagination"`)
	k5.Reverts = []string{"k3"}
	main = append(main, k5)
	dep := func(id int64, sha, created, state, finished string, changes ...string) Deployment {
		d := prodDeploy(t, id, sha, created, state, finished, shaCommits(t, main, changes...)...)
		d.RepoFullName, d.Signal, d.Ref = repo, SignalWorkflow, "main"
		return d
	}
	return RepoActivity{
		FullName: repo, DefaultBranch: "main", PullRequests: []PullRequest{pr31}, Commits: main,
		Deployments: []Deployment{
			dep(9001, "k2", "2025-03-03T15:00:00Z", "success", "2025-03-03T15:20:00Z", "k1", "k2"),
			dep(9002, "k3", "2025-03-05T11:00:00Z", "failure", "2025-03-05T11:15:00Z"),
			dep(9003, "k4", "2025-03-05T12:00:00Z", "success", "2025-03-05T12:20:00Z", "k3", "k4"),
			dep(9004, "sq31", "2025-03-12T11:00:00Z", "success", "2025-03-12T11:25:00Z", "k5", "sq31"),
		},
		Incidents: []Incident{
			{RepoFullName: repo, Number: 7, Title: "Token refresh loops", AuthorLogin: "hal", Labels: []string{"incident"},
				CreatedAt: at(t, "2025-03-13T09:00:00Z")},
			{RepoFullName: repo, Number: 8, Title: "Latency spike", AuthorLogin: "hal", Labels: []string{"incident"},
				CreatedAt: at(t, "2025-03-25T08:00:00Z"), ClosedAt: ptr(at(t, "2025-03-25T09:00:00Z"))},
		},
		WorkflowRuns: []WorkflowRun{
			ciRun(t, 301, repo, "success", "2025-03-03T09:01:00Z", 3),
			ciRun(t, 302, repo, "success", "2025-03-03T14:01:00Z", 3),
			ciRun(t, 303, repo, "failure", "2025-03-05T10:01:00Z", 2),
			ciRun(t, 304, repo, "success", "2025-03-10T09:05:00Z", 4),
			ciRun(t, 305, repo, "timed_out", "2025-03-12T09:30:00Z", 30),
		},
	}
}
