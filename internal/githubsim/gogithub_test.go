package githubsim

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v93/github"

	"metrics-collector/internal/metrics"
)

// These tests use go-github v93 as the client: if it can read the simulator, any
// client built on GitHub's documented shapes can.

func listAll[T any](t *testing.T, fetch func(opts github.ListOptions) ([]T, *github.Response, error)) []T {
	t.Helper()
	var out []T
	opts := github.ListOptions{PerPage: 100}
	for {
		items, resp, err := fetch(opts)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		out = append(out, items...)
		if resp.NextPage == 0 {
			return out
		}
		opts.Page = resp.NextPage
	}
}

func TestGoGitHubRepositoriesMatchTruth(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	gh := ghClient(t, srv, tokenA)
	ctx := t.Context()
	truth, _ := sim.Truth("acme")
	var got []metrics.Repository
	for _, org := range []string{"acme-web", "acme-data"} {
		opts := &github.RepositoryListByOrgOptions{Sort: "pushed", Direction: "desc", ListOptions: github.ListOptions{PerPage: 4}}
		var pushed []time.Time
		for {
			repos, resp, err := gh.Repositories.ListByOrg(ctx, org, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range repos {
				got = append(got, metrics.Repository{
					ID: r.GetID(), Org: r.GetOwner().GetLogin(), Name: r.GetName(), FullName: r.GetFullName(),
					DefaultBranch: r.GetDefaultBranch(), Archived: r.GetArchived(), Fork: r.GetFork(), Private: r.GetPrivate(),
					CreatedAt: r.GetCreatedAt().Time, PushedAt: r.GetPushedAt().Time, UpdatedAt: r.GetUpdatedAt().Time,
				})
				pushed = append(pushed, r.GetPushedAt().Time)
			}
			if resp.NextPage == 0 {
				break
			}
			opts.Page = resp.NextPage
		}
		if !slices.IsSortedFunc(pushed, func(a, b time.Time) int { return b.Compare(a) }) {
			t.Errorf("%s: sort=pushed&direction=desc is not newest push first", org)
		}
	}
	slices.SortFunc(got, func(a, b metrics.Repository) int { return strings.Compare(a.FullName, b.FullName) })
	if diff := cmp.Diff(truth.Repositories, got); diff != "" {
		t.Errorf("repositories (-truth +api):\n%s", diff)
	}
}

// TestGoGitHubPullRequestsMatchTruth reads every pull request of the showcase
// repositories with their commits and reviews.
func TestGoGitHubPullRequestsMatchTruth(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	gh := ghClient(t, srv, tokenA)
	ctx := t.Context()
	truth, _ := sim.Truth("acme")
	for _, org := range []string{"acme-web", "acme-data"} {
		r := sim.w.orgs[org].showcase
		var want []metrics.PullRequest
		for _, p := range truth.PullRequests {
			if p.RepoFullName == r.fullName() {
				want = append(want, p)
			}
		}
		list := listAll(t, func(o github.ListOptions) ([]*github.PullRequest, *github.Response, error) {
			return gh.PullRequests.List(ctx, org, r.name, &github.PullRequestListOptions{State: "all", Sort: "updated", Direction: "desc", ListOptions: o})
		})
		var got []metrics.PullRequest
		for _, item := range list {
			p, _, err := gh.PullRequests.Get(ctx, org, r.name, item.GetNumber())
			if err != nil {
				t.Fatal(err)
			}
			pr := metrics.PullRequest{
				ID: p.GetID(), RepoFullName: r.fullName(), Number: p.GetNumber(), AuthorLogin: p.GetUser().GetLogin(), AuthorID: p.GetUser().GetID(), Title: p.GetTitle(),
				State: p.GetState(), Draft: p.GetDraft(), BaseRef: p.GetBase().GetRef(), HeadRef: p.GetHead().GetRef(),
				CreatedAt: p.GetCreatedAt().Time, UpdatedAt: p.GetUpdatedAt().Time, MergeCommitSHA: p.GetMergeCommitSHA(),
				Additions: p.GetAdditions(), Deletions: p.GetDeletions(), ChangedFiles: p.GetChangedFiles(),
				RevertsNumber: metrics.RevertedPullNumber(p.GetBody(), r.fullName()),
			}
			if p.ClosedAt != nil {
				pr.ClosedAt = &p.ClosedAt.Time
			}
			if p.MergedAt != nil {
				pr.MergedAt = &p.MergedAt.Time
			}
			for _, l := range p.Labels {
				pr.Labels = append(pr.Labels, l.GetName())
			}
			commits, _, err := gh.PullRequests.ListCommits(ctx, org, r.name, p.GetNumber(), &github.ListOptions{PerPage: 100})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range commits {
				pr.Commits = append(pr.Commits, commitOf(c))
			}
			reviews, _, err := gh.PullRequests.ListReviews(ctx, org, r.name, p.GetNumber(), &github.ListOptions{PerPage: 100})
			if err != nil {
				t.Fatal(err)
			}
			for _, rv := range reviews {
				pr.Reviews = append(pr.Reviews, metrics.Review{ID: rv.GetID(), ReviewerLogin: rv.GetUser().GetLogin(), State: rv.GetState(), SubmittedAt: rv.GetSubmittedAt().Time})
			}
			got = append(got, pr)
		}
		if !slices.IsSortedFunc(list, func(a, b *github.PullRequest) int { return b.GetUpdatedAt().Compare(a.GetUpdatedAt().Time) }) {
			t.Errorf("%s: sort=updated&direction=desc is not newest update first", r.fullName())
		}
		slices.SortFunc(got, func(a, b metrics.PullRequest) int { return a.Number - b.Number })
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s pull requests (-truth +api):\n%s", r.fullName(), diff)
		}
	}
}

// commitOf is what the collector keeps of a commit: the headline of its message, and
// the commits the whole message says it reverts.
func commitOf(c *github.RepositoryCommit) metrics.Commit {
	return metrics.Commit{
		SHA: c.GetSHA(), AuthorLogin: c.GetAuthor().GetLogin(), AuthorName: c.GetCommit().GetAuthor().GetName(),
		AuthoredAt: c.GetCommit().GetAuthor().GetDate().Time, CommitterLogin: c.GetCommitter().GetLogin(),
		CommittedAt: c.GetCommit().GetCommitter().GetDate().Time, MessageHeadline: firstLine(c.GetCommit().GetMessage()),
		ParentCount: len(c.Parents), Reverts: metrics.RevertedSHAs(c.GetCommit().GetMessage()),
	}
}

// TestGoGitHubMergeKinds checks the three merge methods of the showcase are visible
// consistently in the commits, pulls and compare APIs.
func TestGoGitHubMergeKinds(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	gh := ghClient(t, srv, tokenA)
	ctx := t.Context()
	r := sim.w.orgs["acme-web"].showcase
	org := r.org.login
	branch := listAll(t, func(o github.ListOptions) ([]*github.RepositoryCommit, *github.Response, error) {
		return gh.Repositories.ListCommits(ctx, org, r.name, &github.CommitsListOptions{SHA: r.defaultBranch, ListOptions: o})
	})
	onBranch := map[string]*github.RepositoryCommit{}
	for _, c := range branch {
		onBranch[c.GetSHA()] = c
	}
	truth, _ := sim.Truth("acme")
	if len(branch) != len(truth.Commits[r.fullName()]) {
		t.Errorf("listed %d default-branch commits, truth has %d", len(branch), len(truth.Commits[r.fullName()]))
	}
	for i := range r.pulls {
		p := &r.pulls[i]
		if !p.merged || p.kind != prNormal || p.closedAt.After(sim.Now()) {
			continue
		}
		pr, _, err := gh.PullRequests.Get(ctx, org, r.name, p.number)
		if err != nil {
			t.Fatal(err)
		}
		own, _, err := gh.PullRequests.ListCommits(ctx, org, r.name, p.number, nil)
		if err != nil {
			t.Fatal(err)
		}
		mergeSHA := pr.GetMergeCommitSHA()
		merged, ok := onBranch[mergeSHA]
		if !ok {
			t.Fatalf("PR #%d: merge_commit_sha %s is not on the default branch", p.number, mergeSHA)
		}
		switch p.method {
		case methodMerge:
			if len(merged.Parents) != 2 || merged.Parents[1].GetSHA() != own[len(own)-1].GetSHA() {
				t.Errorf("PR #%d (merge): merge commit parents %d, second should be the PR head", p.number, len(merged.Parents))
			}
			for _, c := range own {
				if _, ok := onBranch[c.GetSHA()]; !ok {
					t.Errorf("PR #%d (merge): PR commit %s not reachable from the default branch", p.number, c.GetSHA())
				}
			}
			cmpr, _, err := gh.Repositories.CompareCommits(ctx, org, r.name, merged.Parents[0].GetSHA(), mergeSHA, nil)
			if err != nil {
				t.Fatal(err)
			}
			if cmpr.GetStatus() != "ahead" || cmpr.GetTotalCommits() != len(own)+1 {
				t.Errorf("PR #%d (merge): compare parent...merge = %s with %d commits, want ahead with %d", p.number, cmpr.GetStatus(), cmpr.GetTotalCommits(), len(own)+1)
			}
		case methodSquash:
			if len(merged.Parents) != 1 || !strings.Contains(merged.GetCommit().GetMessage(), "(#"+strconv.Itoa(p.number)+")") {
				t.Errorf("PR #%d (squash): squash commit has %d parents and message %q", p.number, len(merged.Parents), merged.GetCommit().GetMessage())
			}
			for _, c := range own {
				if _, ok := onBranch[c.GetSHA()]; ok {
					t.Errorf("PR #%d (squash): original commit %s is on the default branch", p.number, c.GetSHA())
				}
			}
		case methodRebase:
			// Rebased commits have new SHAs but keep the author date and message; the
			// merge_commit_sha is the last of them.
			for k, c := range own {
				if _, ok := onBranch[c.GetSHA()]; ok {
					t.Errorf("PR #%d (rebase): original commit %s is on the default branch", p.number, c.GetSHA())
				}
				found := false
				for _, b := range branch {
					if b.GetCommit().GetAuthor().GetDate().Time.Equal(c.GetCommit().GetAuthor().GetDate().Time) && b.GetCommit().GetMessage() == c.GetCommit().GetMessage() {
						found = true
						if k == len(own)-1 && b.GetSHA() != mergeSHA {
							t.Errorf("PR #%d (rebase): merge_commit_sha %s is not the last rebased commit %s", p.number, mergeSHA, b.GetSHA())
						}
					}
				}
				if !found {
					t.Errorf("PR #%d (rebase): no rebased copy of %s on the default branch", p.number, c.GetSHA())
				}
			}
		}
	}
}

func TestGoGitHubCommitsSinceUntil(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	gh := ghClient(t, srv, tokenA)
	r := sim.w.orgs["acme-web"].showcase
	since, until := testNow.AddDate(0, 0, -20), testNow.AddDate(0, 0, -10)
	got := listAll(t, func(o github.ListOptions) ([]*github.RepositoryCommit, *github.Response, error) {
		return gh.Repositories.ListCommits(t.Context(), r.org.login, r.name, &github.CommitsListOptions{Since: since, Until: until, ListOptions: o})
	})
	truth, _ := sim.Truth("acme")
	want := 0
	for _, c := range truth.Commits[r.fullName()] {
		if !c.CommittedAt.Before(since) && !c.CommittedAt.After(until) {
			want++
		}
	}
	if len(got) != want || want == 0 {
		t.Errorf("commits committed in [since, until] = %d, truth has %d", len(got), want)
	}
	for i, c := range got {
		d := c.GetCommit().GetCommitter().GetDate().Time
		if d.Before(since) || d.After(until) || (i > 0 && d.After(got[i-1].GetCommit().GetCommitter().GetDate().Time)) {
			t.Fatalf("commit %d committed %s: outside the window or not newest first", i, d)
		}
	}
}

func TestGoGitHubRunInProgressCompletesAfterAdvance(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	gh := ghClient(t, srv, tokenA)
	ctx := t.Context()
	r := sim.w.orgs["acme-web"].showcase
	runs, _, err := gh.Actions.ListRepositoryWorkflowRuns(ctx, r.org.login, r.name, &github.ListWorkflowRunsOptions{Status: "in_progress"})
	if err != nil {
		t.Fatal(err)
	}
	if runs.GetTotalCount() == 0 {
		t.Fatal("no run in progress at now")
	}
	run := runs.WorkflowRuns[0]
	if run.Conclusion != nil || run.GetStatus() != "in_progress" {
		t.Fatalf("in-progress run has status %q conclusion %v", run.GetStatus(), run.Conclusion)
	}
	sim.Advance(time.Hour)
	after, _, err := gh.Actions.GetWorkflowRunByID(ctx, r.org.login, r.name, run.GetID())
	if err != nil {
		t.Fatal(err)
	}
	if after.GetStatus() != "completed" || after.GetConclusion() == "" || !after.GetUpdatedAt().After(run.GetUpdatedAt().Time) {
		t.Errorf("an hour later the run is %q/%q updated %s", after.GetStatus(), after.GetConclusion(), after.GetUpdatedAt())
	}
}

func TestGoGitHubDeploymentStatusAppearsAfterAdvance(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	gh := ghClient(t, srv, tokenA)
	ctx := t.Context()
	r := sim.w.orgs["acme-web"].showcase
	deps, _, err := gh.Repositories.ListDeployments(ctx, r.org.login, r.name, &github.DeploymentsListOptions{Environment: r.prodEnvs[0]})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(deps, func(a, b *github.Deployment) int { return b.GetCreatedAt().Compare(a.GetCreatedAt().Time) }) {
		t.Error("deployments are not newest first")
	}
	latest := deps[0]
	before, _, err := gh.Repositories.ListDeploymentStatuses(ctx, r.org.login, r.name, latest.GetID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) == 0 || before[0].GetState() == "success" {
		t.Fatalf("the newest production deployment already has its final status: %v", states(before))
	}
	sim.Advance(10 * time.Minute)
	after, _, err := gh.Repositories.ListDeploymentStatuses(ctx, r.org.login, r.name, latest.GetID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before)+1 || after[0].GetState() != "success" {
		t.Errorf("statuses before %v, after 10 minutes %v; want a new success first", states(before), states(after))
	}
}

func states(sts []*github.DeploymentStatus) []string {
	var out []string
	for _, s := range sts {
		out = append(out, s.GetState())
	}
	return out
}

// TestGoGitHubDeploymentsMatchTruth reads the deployments of a showcase, a monorepo
// and a regional repository as the collector does — a deployment's changes are the
// compare from the previous deployment to the same production environment that
// succeeded, by first success status then id — and compares them with the truth.
func TestGoGitHubDeploymentsMatchTruth(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	gh := ghClient(t, srv, tokenA)
	truth, _ := sim.Truth("acme")
	repos := []*repo{sim.w.orgs["acme-data"].showcase, layoutRepo(t, sim, "acme-web", layoutServices), layoutRepo(t, sim, "acme-web", layoutRegions)}
	for _, r := range repos {
		got := apiDeployments(t, gh, r)
		var want []metrics.Deployment
		for _, d := range truth.Deployments {
			if d.RepoFullName == r.fullName() {
				want = append(want, d)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s deployments (-truth +api):\n%s", r.fullName(), diff)
		}
	}
}

// apiDeployments lists a repository's deployments with their statuses through the API
// and fills the changes of successful production ones per environment, oldest first.
func apiDeployments(t *testing.T, gh *github.Client, r *repo) []metrics.Deployment {
	t.Helper()
	ctx := t.Context()
	list := listAll(t, func(o github.ListOptions) ([]*github.Deployment, *github.Response, error) {
		return gh.Repositories.ListDeployments(ctx, r.org.login, r.name, &github.DeploymentsListOptions{ListOptions: o})
	})
	var got []metrics.Deployment
	type success struct {
		i  int
		at time.Time
	}
	byEnv := map[string][]success{}
	for _, d := range slices.Backward(list) {
		dep := metrics.Deployment{
			ID: d.GetID(), RepoFullName: r.fullName(), Signal: metrics.SignalDeployment, SHA: d.GetSHA(), Ref: d.GetRef(),
			Environment: d.GetEnvironment(), Production: productionEnv.MatchString(d.GetEnvironment()),
			CreatorLogin: d.GetCreator().GetLogin(), CreatedAt: d.GetCreatedAt().Time,
		}
		sts, _, err := gh.Repositories.ListDeploymentStatuses(ctx, r.org.login, r.name, d.GetID(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var succeeded time.Time
		for _, s := range slices.Backward(sts) {
			dep.Statuses = append(dep.Statuses, metrics.DeploymentStatus{ID: s.GetID(), State: s.GetState(), CreatedAt: s.GetCreatedAt().Time})
			if s.GetState() == "success" && succeeded.IsZero() {
				succeeded = s.GetCreatedAt().Time
			}
		}
		if dep.Production && !succeeded.IsZero() {
			byEnv[dep.Environment] = append(byEnv[dep.Environment], success{len(got), succeeded})
		}
		got = append(got, dep)
	}
	for _, list := range byEnv {
		slices.SortStableFunc(list, func(a, b success) int {
			return cmpOr(a.at.Compare(b.at), int(got[a.i].ID-got[b.i].ID))
		})
		for k := 1; k < len(list); k++ {
			cmpr, _, err := gh.Repositories.CompareCommits(ctx, r.org.login, r.name, got[list[k-1].i].SHA, got[list[k].i].SHA, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cmpr.Commits {
				got[list[k].i].Changes = append(got[list[k].i].Changes, commitOf(c))
			}
		}
	}
	return got
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// layoutRepo is the org's repository holding the fixed case of a layout.
func layoutRepo(t testing.TB, sim *Simulator, org string, l envLayout) *repo {
	t.Helper()
	for _, r := range sim.w.orgs[org].repos {
		if r.pinnedLayout && r.layout == l {
			return r
		}
	}
	t.Fatalf("%s: no repository with the fixed case of layout %d", org, l)
	return nil
}

// TestGoGitHubRunsWindowCap checks the 1,000-result cap of filtered run queries and that
// splitting the day into smaller windows recovers every run.
func TestGoGitHubRunsWindowCap(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	gh := ghClient(t, srv, tokenA)
	ctx := t.Context()
	r := busyRepo(t, sim)
	day := startOfDay(testNow).AddDate(0, 0, -3)
	listWindow := func(created string) (int, []*github.WorkflowRun) {
		var runs []*github.WorkflowRun
		total := 0
		opts := &github.ListWorkflowRunsOptions{Created: created, ListOptions: github.ListOptions{PerPage: 100}}
		for {
			page, resp, err := gh.Actions.ListRepositoryWorkflowRuns(ctx, r.org.login, r.name, opts)
			if err != nil {
				t.Fatal(err)
			}
			total = page.GetTotalCount()
			runs = append(runs, page.WorkflowRuns...)
			if resp.NextPage == 0 {
				return total, runs
			}
			opts.Page = resp.NextPage
		}
	}
	total, runs := listWindow(day.Format("2006-01-02"))
	if total <= runSearchCap || len(runs) != runSearchCap {
		t.Fatalf("the busy day: total_count %d, paged %d; want total > 1000 and exactly 1000 pageable", total, len(runs))
	}
	// Past the cap the API answers an empty page with the true total.
	page, _, err := gh.Actions.ListRepositoryWorkflowRuns(ctx, r.org.login, r.name, &github.ListWorkflowRunsOptions{Created: day.Format("2006-01-02"), ListOptions: github.ListOptions{PerPage: 100, Page: 11}})
	if err != nil || len(page.WorkflowRuns) != 0 || page.GetTotalCount() != total {
		t.Errorf("page 11: %d runs, total %d, err %v; want 0 runs and total %d", len(page.WorkflowRuns), page.GetTotalCount(), err, total)
	}
	seen := map[int64]bool{}
	for h := 0; h < 24; h += 6 {
		from := day.Add(time.Duration(h) * time.Hour)
		to := from.Add(6*time.Hour - time.Second)
		n, part := listWindow(from.Format(time.RFC3339) + ".." + to.Format(time.RFC3339))
		if n != len(part) {
			t.Errorf("window %s: total %d, paged %d", from, n, len(part))
		}
		for _, run := range part {
			if seen[run.GetID()] {
				t.Errorf("run %d in two windows", run.GetID())
			}
			seen[run.GetID()] = true
		}
	}
	if len(seen) != total {
		t.Errorf("four windows hold %d runs, the day %d", len(seen), total)
	}
	// >= and <= forms.
	n1, _ := listWindow(">=" + day.AddDate(0, 0, 1).Format("2006-01-02"))
	n2, _ := listWindow("<=" + day.Format("2006-01-02"))
	all, _, err := gh.Actions.ListRepositoryWorkflowRuns(ctx, r.org.login, r.name, nil)
	if err != nil || n1+n2 != all.GetTotalCount() {
		t.Errorf(">= %d + <= %d != all %d (%v)", n1, n2, all.GetTotalCount(), err)
	}
}

func TestGoGitHubIncidentIssues(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	gh := ghClient(t, srv, tokenA)
	ctx := t.Context()
	truth, _ := sim.Truth("acme")
	var want, got []metrics.Incident
	sawPull := false
	for _, org := range []string{"acme-web", "acme-data"} {
		for _, r := range sim.w.orgs[org].repos {
			issues := listAll(t, func(o github.ListOptions) ([]*github.Issue, *github.Response, error) {
				return gh.Issues.ListByRepo(ctx, org, r.name, &github.IssueListByRepoOptions{State: "all", Labels: []string{"incident"}, ListOptions: o})
			})
			for _, is := range issues {
				if is.IsPullRequest() {
					sawPull = true
					continue
				}
				inc := metrics.Incident{RepoFullName: r.fullName(), Number: is.GetNumber(), Title: is.GetTitle(), AuthorLogin: is.GetUser().GetLogin(),
					CreatedAt: is.GetCreatedAt().Time, StateReason: is.GetStateReason()}
				for _, l := range is.Labels {
					inc.Labels = append(inc.Labels, l.GetName())
				}
				if is.ClosedAt != nil {
					inc.ClosedAt = &is.ClosedAt.Time
				}
				got = append(got, inc)
			}
		}
	}
	want = append(want, truth.Incidents...)
	sortIncidents := func(xs []metrics.Incident) {
		slices.SortFunc(xs, func(a, b metrics.Incident) int {
			if c := strings.Compare(a.RepoFullName, b.RepoFullName); c != 0 {
				return c
			}
			return a.Number - b.Number
		})
	}
	sortIncidents(got)
	sortIncidents(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("incidents (-truth +api):\n%s", diff)
	}
	if !sawPull {
		t.Error("no pull request among the incident-labelled issues; the client would never have to drop one")
	}
}

func TestGoGitHubSeats(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	gh := ghClient(t, srv, tokenA)
	ctx := t.Context()
	ct, err := sim.CopilotTruth("acme", testNow, testNow)
	if err != nil {
		t.Fatal(err)
	}
	var entSeats []*github.CopilotSeatDetails
	opts := &github.ListOptions{PerPage: 30}
	total := int64(0)
	for {
		page, resp, err := gh.Copilot.ListCopilotEnterpriseSeats(ctx, "acme", opts)
		if err != nil {
			t.Fatal(err)
		}
		total = page.TotalSeats
		entSeats = append(entSeats, page.Seats...)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	want := ct.Seats[metrics.CopilotScope{Type: metrics.ScopeEnterprise, Name: "acme"}]
	if int(total) != len(want) || len(entSeats) != len(want) {
		t.Fatalf("enterprise seats: total_seats %d, listed %d, truth %d", total, len(entSeats), len(want))
	}
	nullAssignee, repeated := 0, map[int64]int{}
	for i, s := range entSeats {
		u, isUser := s.GetUser()
		if s.Assignee == nil {
			nullAssignee++
		} else if !isUser || u.GetID() != want[i].AssigneeID {
			t.Errorf("seat %d: assignee %v, truth %d", i, s.Assignee, want[i].AssigneeID)
		} else {
			repeated[u.GetID()]++
		}
		if !s.GetCreatedAt().Time.Equal(want[i].CreatedAt) || s.GetPlanType() != want[i].PlanType {
			t.Errorf("seat %d: created %s plan %q, truth %s %q", i, s.GetCreatedAt(), s.GetPlanType(), want[i].CreatedAt, want[i].PlanType)
		}
	}
	multi := 0
	for _, n := range repeated {
		if n > 1 {
			multi++
		}
	}
	if nullAssignee != 1 || multi == 0 {
		t.Errorf("enterprise listing: %d null assignees (want 1), %d users listed once per granting org (want some)", nullAssignee, multi)
	}
	orgSeats, _, err := gh.Copilot.ListCopilotSeats(ctx, "acme-data", &github.ListOptions{PerPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	if int(orgSeats.TotalSeats) != len(ct.Seats[metrics.CopilotScope{Type: metrics.ScopeOrganization, Name: "acme-data"}]) {
		t.Errorf("acme-data seats: %d, truth %d", orgSeats.TotalSeats, len(ct.Seats[metrics.CopilotScope{Type: metrics.ScopeOrganization, Name: "acme-data"}]))
	}
}

// TestGoGitHubCopilotReports reads a day's reports through go-github's report and
// download helpers and compares them with the truth.
func TestGoGitHubCopilotReports(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	gh := ghClient(t, srv, tokenA)
	ctx := t.Context()
	day := "2026-09-10"
	d, _ := time.Parse(dayLayout, day)
	ct, err := sim.CopilotTruth("acme", d, d)
	if err != nil {
		t.Fatal(err)
	}
	env, _, err := gh.Copilot.GetEnterpriseDailyMetricsReport(ctx, "acme", &github.CopilotMetricsReportOptions{Day: day})
	if err != nil {
		t.Fatal(err)
	}
	if env.ReportDay != day || len(env.DownloadLinks) != 1 || !strings.HasPrefix(env.DownloadLinks[0], srv.Downloads.URL) {
		t.Fatalf("envelope %+v", env)
	}
	agg, _, err := gh.Copilot.DownloadDailyMetrics(ctx, env.DownloadLinks[0])
	if err != nil {
		t.Fatal(err)
	}
	want := ct.Days[metrics.CopilotScope{Type: metrics.ScopeEnterprise, Name: "acme"}][0]
	if int64(agg.GetDailyActiveUsers()) != *want.DailyActiveUsers || int64(agg.GetCodeGenerationActivityCount()) != *want.CodeGenerations || agg.Day != day {
		t.Errorf("aggregate: DAU %d generations %d, truth %d %d", agg.GetDailyActiveUsers(), agg.GetCodeGenerationActivityCount(), *want.DailyActiveUsers, *want.CodeGenerations)
	}
	users, _, err := gh.Copilot.GetEnterpriseUsersDailyMetricsReport(ctx, "acme", &github.CopilotMetricsReportOptions{Day: day})
	if err != nil {
		t.Fatal(err)
	}
	if len(users.DownloadLinks) < 2 {
		t.Errorf("users report has %d shards, want several", len(users.DownloadLinks))
	}
	var lines []*github.CopilotUserDailyMetrics
	for _, l := range users.DownloadLinks {
		part, _, err := gh.Copilot.DownloadUserDailyMetrics(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, part...)
	}
	wantUsers := ct.UserDays[metrics.CopilotScope{Type: metrics.ScopeEnterprise, Name: "acme"}]
	if len(lines) != len(wantUsers) {
		t.Fatalf("user lines %d, truth %d", len(lines), len(wantUsers))
	}
	for i, l := range lines {
		if int64(l.UserID) != wantUsers[i].UserID || int64(l.GetCodeGenerationActivityCount()) != *wantUsers[i].CodeGenerations {
			t.Errorf("user line %d: %d/%d, truth %d/%d", i, l.UserID, l.GetCodeGenerationActivityCount(), wantUsers[i].UserID, *wantUsers[i].CodeGenerations)
		}
	}
	// The download host never saw the token.
	for _, r := range sim.Requests() {
		if r.Host == HostDownload && r.Authorization {
			t.Errorf("go-github sent a token to the download host: %+v", r)
		}
	}
	// A 204 is a nil report without error.
	none, resp, err := gh.Copilot.GetOrganizationDailyMetricsReport(ctx, "acme-web", &github.CopilotMetricsReportOptions{Day: "2025-12-01"})
	if err != nil || resp.StatusCode != 204 || none != nil {
		t.Errorf("a day before the org history floor: %v %v %v, want 204", none, resp.StatusCode, err)
	}
	// Policy disabled: 403.
	ghB := ghClient(t, srv, tokenB)
	_, _, err = ghB.Copilot.GetOrganizationDailyMetricsReport(ctx, "globex-eng", &github.CopilotMetricsReportOptions{Day: day})
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != 403 {
		t.Errorf("an org with the Copilot metrics policy disabled: %v, want 403", err)
	}
}
