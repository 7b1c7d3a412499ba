package githubsim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v93/github"

	"metrics-collector/internal/metrics"
)

// These tests read the shapes of DORA metric_version 2 (issue 12) through the REST API
// with go-github, at the fixed places gen_repo.go documents: releases per environment,
// failed attempts, reverts of earlier releases, in-PR reverts and incidents that stop
// being incidents.

// pinnedDay is day d after the day the repository's releases start (showcase pins).
func pinnedDay(r *repo, d int) time.Time {
	return startOfDay(r.deployFrom).AddDate(0, 0, d)
}

// pullCreatedAt finds, through the API, the pull request of r opened at t.
func pullCreatedAt(t *testing.T, gh *github.Client, r *repo, at time.Time) *github.PullRequest {
	t.Helper()
	list := listAll(t, func(o github.ListOptions) ([]*github.PullRequest, *github.Response, error) {
		return gh.PullRequests.List(t.Context(), r.org.login, r.name, &github.PullRequestListOptions{State: "all", ListOptions: o})
	})
	for _, p := range list {
		if p.GetCreatedAt().Time.Equal(at) {
			full, _, err := gh.PullRequests.Get(t.Context(), r.org.login, r.name, p.GetNumber())
			if err != nil {
				t.Fatal(err)
			}
			return full
		}
	}
	t.Fatalf("%s: no pull request opened at %s", r.fullName(), at)
	return nil
}

// releaseCarrying is the first successful production deployment whose change set holds
// sha, and its index in deps.
func releaseCarrying(deps []metrics.Deployment, sha string) (metrics.Deployment, int) {
	for i, d := range deps {
		if slices.ContainsFunc(d.Changes, func(c metrics.Commit) bool { return c.SHA == sha }) {
			return d, i
		}
	}
	return metrics.Deployment{}, -1
}

func changeSHAs(d metrics.Deployment) []string {
	var out []string
	for _, c := range d.Changes {
		out = append(out, c.SHA)
	}
	return out
}

func TestRevertButtonPullOfAnEarlierRelease(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	gh := ghClient(t, srv, tokenA)
	ctx := t.Context()
	r := sim.w.orgs["acme-web"].showcase
	owner := r.org.login

	rev := pullCreatedAt(t, gh, r, pinnedDay(r, 18).Add(9*time.Hour))
	n := metrics.RevertedPullNumber(rev.GetBody(), r.fullName())
	if rev.GetBody() != fmt.Sprintf("Reverts %s#%d", r.fullName(), n) || n == 0 {
		t.Fatalf("revert pull request #%d body %q, want GitHub's Reverts owner/repo#N", rev.GetNumber(), rev.GetBody())
	}
	p1, _, err := gh.PullRequests.Get(ctx, owner, r.name, n)
	if err != nil {
		t.Fatal(err)
	}
	p2 := pullCreatedAt(t, gh, r, pinnedDay(r, 17).Add(9*time.Hour))
	if want := `Revert "` + p1.GetTitle() + `"`; rev.GetTitle() != want || !rev.GetMerged() {
		t.Errorf("revert pull request title %q merged %v, want %q merged", rev.GetTitle(), rev.GetMerged(), want)
	}
	if want := fmt.Sprintf("revert-%d-%s", n, p1.GetHead().GetRef()); rev.GetHead().GetRef() != want {
		t.Errorf("revert pull request head %q, want %q", rev.GetHead().GetRef(), want)
	}

	// P1 was merged with a merge commit: the Revert button reverts it with -m 1.
	merge, _, err := gh.Repositories.GetCommit(ctx, owner, r.name, p1.GetMergeCommitSHA(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(merge.Parents) != 2 {
		t.Fatalf("P1 #%d merge commit has %d parents, want a merge commit", n, len(merge.Parents))
	}
	commits, _, err := gh.PullRequests.ListCommits(ctx, owner, r.name, rev.GetNumber(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("Revert \"Merge pull request #%d from %s/%s\"\n\nThis reverts commit %s, reversing\nchanges made to %s.",
		n, owner, p1.GetHead().GetRef(), p1.GetMergeCommitSHA(), merge.Parents[0].GetSHA())
	if len(commits) != 1 || commits[0].GetCommit().GetMessage() != want || commits[0].GetCommitter().GetLogin() != "web-flow" {
		t.Fatalf("revert pull request commits: %d, first %q by %q; want one, %q, committed by web-flow",
			len(commits), commits[0].GetCommit().GetMessage(), commits[0].GetCommitter().GetLogin(), want)
	}

	// P1 was released (A), then P2 (B), then the revert (C).
	deps := productionOnly(apiDeployments(t, gh, r))
	a, ai := releaseCarrying(deps, p1.GetMergeCommitSHA())
	b, bi := releaseCarrying(deps, p2.GetMergeCommitSHA())
	c, ci := releaseCarrying(deps, rev.GetMergeCommitSHA())
	if ai < 0 || bi != ai+1 || ci != bi+1 {
		t.Fatalf("releases carrying P1, P2 and the revert: #%d, #%d, #%d; want three in a row", ai, bi, ci)
	}
	if slices.Contains(changeSHAs(b), p1.GetMergeCommitSHA()) || !a.CreatedAt.Before(b.CreatedAt) {
		t.Errorf("release B %d carries P1 too or is not after A", b.ID)
	}
	// The default-branch commit that brought the revert names P1's merge commit.
	reverts := false
	for _, ch := range c.Changes {
		reverts = reverts || slices.Contains(ch.Reverts, p1.GetMergeCommitSHA())
	}
	if !reverts {
		t.Errorf("release C %d (changes %v) has no commit reverting %s", c.ID, changeSHAs(c), p1.GetMergeCommitSHA())
	}

	truth, _ := sim.Truth("acme")
	for _, p := range truth.PullRequests {
		if p.RepoFullName == r.fullName() && p.Number == rev.GetNumber() && p.RevertsNumber != n {
			t.Errorf("truth: revert pull request #%d RevertsNumber %d, want %d", p.Number, p.RevertsNumber, n)
		}
	}
}

func productionOnly(deps []metrics.Deployment) []metrics.Deployment {
	var out []metrics.Deployment
	for _, d := range deps {
		if d.Production && slices.ContainsFunc(d.Statuses, func(s metrics.DeploymentStatus) bool { return s.State == "success" }) {
			out = append(out, d)
		}
	}
	return out
}

func TestRevertPushOfAnEarlierRelease(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	gh := ghClient(t, srv, tokenA)
	r := sim.w.orgs["acme-data"].showcase
	branch := listAll(t, func(o github.ListOptions) ([]*github.RepositoryCommit, *github.Response, error) {
		return gh.Repositories.ListCommits(t.Context(), r.org.login, r.name, &github.CommitsListOptions{ListOptions: o})
	})
	committedAt := func(at time.Time) *github.RepositoryCommit {
		for _, c := range branch {
			if c.GetCommit().GetCommitter().GetDate().Time.Equal(at) {
				return c
			}
		}
		t.Fatalf("no default-branch commit committed at %s", at)
		return nil
	}
	x := committedAt(pinnedDay(r, 20).Add(11 * time.Hour))
	rev := committedAt(pinnedDay(r, 21).Add(11 * time.Hour))
	want := `Revert "` + firstLine(x.GetCommit().GetMessage()) + "\"\n\nThis reverts commit " + x.GetSHA() + "."
	if rev.GetCommit().GetMessage() != want || len(rev.Parents) != 1 {
		t.Fatalf("revert push: %q with %d parents, want %q with one", rev.GetCommit().GetMessage(), len(rev.Parents), want)
	}
	deps := productionOnly(apiDeployments(t, gh, r))
	_, xi := releaseCarrying(deps, x.GetSHA())
	_, ri := releaseCarrying(deps, rev.GetSHA())
	if xi < 0 || ri != xi+1 {
		t.Errorf("releases carrying the commit and its revert: #%d, #%d; want consecutive", xi, ri)
	}
	if ri >= 0 && !slices.ContainsFunc(deps[ri].Changes, func(c metrics.Commit) bool { return slices.Equal(c.Reverts, []string{x.GetSHA()}) }) {
		t.Errorf("the revert's release has no change whose Reverts is [%s]", x.GetSHA())
	}
}

func TestInPullRequestRevert(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	gh := ghClient(t, srv, tokenA)
	ctx := t.Context()
	r := sim.w.orgs["acme-web"].showcase
	pr := pullCreatedAt(t, gh, r, pinnedDay(r, 19).Add(9*time.Hour))
	commits, _, err := gh.PullRequests.ListCommits(ctx, r.org.login, r.name, pr.GetNumber(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, c := range commits {
		msgs = append(msgs, c.GetCommit().GetMessage())
	}
	if len(commits) != 3 {
		t.Fatalf("PR #%d commits %q, want WIP, its revert, final", pr.GetNumber(), msgs)
	}
	if want := []string{"WIP", "Revert \"WIP\"\n\nThis reverts commit " + commits[0].GetSHA() + ".", "final"}; !slices.Equal(msgs, want) {
		t.Errorf("PR #%d commits %q, want %q", pr.GetNumber(), msgs, want)
	}
	merge, _, err := gh.Repositories.GetCommit(ctx, r.org.login, r.name, pr.GetMergeCommitSHA(), nil)
	if err != nil || !pr.GetMerged() || len(merge.Parents) != 2 {
		t.Fatalf("PR #%d merged %v; merge commit %v", pr.GetNumber(), pr.GetMerged(), err)
	}
	// All its commits reach the default branch and one release.
	deps := productionOnly(apiDeployments(t, gh, r))
	d, i := releaseCarrying(deps, pr.GetMergeCommitSHA())
	for _, c := range commits {
		if !slices.Contains(changeSHAs(d), c.GetSHA()) {
			t.Errorf("release %d does not carry the PR's commit %s", d.ID, c.GetSHA())
		}
	}
	// Nothing went wrong: no incident in the days after it.
	issues := listAll(t, func(o github.ListOptions) ([]*github.Issue, *github.Response, error) {
		return gh.Issues.ListByRepo(ctx, r.org.login, r.name, &github.IssueListByRepoOptions{State: "all", Labels: []string{"incident"}, ListOptions: o})
	})
	for _, is := range issues {
		if i >= 0 && is.GetCreatedAt().After(d.CreatedAt) && is.GetCreatedAt().Before(d.CreatedAt.Add(72*time.Hour)) {
			t.Errorf("incident #%d opened %s, after the release of the in-PR revert", is.GetNumber(), is.GetCreatedAt())
		}
	}
	truth, _ := sim.Truth("acme")
	for _, p := range truth.PullRequests {
		if p.RepoFullName != r.fullName() || p.Number != pr.GetNumber() {
			continue
		}
		if metrics.IsRevertPR(p) || !slices.Equal(p.Commits[1].Reverts, []string{commits[0].GetSHA()}) {
			t.Errorf("truth: PR #%d IsRevertPR %v, its second commit reverts %v", p.Number, metrics.IsRevertPR(p), p.Commits[1].Reverts)
		}
	}
}

// issuesByNumber lists issues through the raw API (to see null state_reason) and returns
// them by number.
func issuesByNumber(t *testing.T, srv *Servers, r *repo, query string) map[int]issueJSON {
	t.Helper()
	resp, body := get(t, srv.API.URL+"/repos/"+r.fullName()+"/issues?per_page=100&"+query, tokenA)
	if resp.StatusCode != 200 || resp.Header.Get("Link") != "" {
		t.Fatalf("issues?%s: %d, Link %q (want one page)", query, resp.StatusCode, resp.Header.Get("Link"))
	}
	var list []issueJSON
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	out := map[int]issueJSON{}
	for _, is := range list {
		out[is.Number] = is
	}
	return out
}

func labelNames(ls []labelJSON) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Name)
	}
	return out
}

func truthIncident(t *testing.T, sim *Simulator, r *repo, number int) (metrics.Incident, bool) {
	t.Helper()
	truth, err := sim.Truth("acme")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range truth.Incidents {
		if in.RepoFullName == r.fullName() && in.Number == number {
			return in, true
		}
	}
	return metrics.Incident{}, false
}

// TestIncidentsThatStopBeingIncidents follows the showcase's two incidents that change
// after the initial now: one loses its incident label 2 hours after it, one is closed as
// not planned 3 hours after it.
func TestIncidentsThatStopBeingIncidents(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	r := sim.w.orgs["acme-web"].showcase
	var relabelled, notPlanned int
	for _, is := range issuesByNumber(t, srv, r, "state=all&labels=incident") {
		switch created := time.Time(is.CreatedAt); {
		case created.Equal(pinnedDay(r, 14).Add(17 * time.Hour)):
			relabelled = is.Number
		case created.Equal(pinnedDay(r, 15).Add(16 * time.Hour)):
			notPlanned = is.Number
		}
	}
	if relabelled == 0 || notPlanned == 0 {
		t.Fatalf("labelled listing at now: relabelled incident #%d, not-planned one #%d; want both", relabelled, notPlanned)
	}

	check := func(when string, wantRelabelled, wantClosed bool) {
		t.Helper()
		labelled := issuesByNumber(t, srv, r, "state=all&labels=incident")
		all := issuesByNumber(t, srv, r, "state=all")
		is := all[relabelled]
		_, listed := labelled[relabelled]
		_, inTruth := truthIncident(t, sim, r, relabelled)
		if wantRelabelled {
			if listed || inTruth || !slices.Equal(labelNames(is.Labels), []string{"bug"}) || !time.Time(is.UpdatedAt).Equal(testNow.Add(2*time.Hour)) {
				t.Errorf("%s: relabelled #%d listed with incident %v, in truth %v, labels %v, updated %s; want gone, [bug], now+2h",
					when, relabelled, listed, inTruth, labelNames(is.Labels), time.Time(is.UpdatedAt))
			}
		} else if !listed || !inTruth || !slices.Contains(labelNames(is.Labels), "incident") || is.State != "closed" || *is.StateReason != "completed" {
			t.Errorf("%s: #%d listed %v, in truth %v, labels %v, %s; want an incident closed as completed",
				when, relabelled, listed, inTruth, labelNames(is.Labels), is.State)
		}

		np, listed := labelled[notPlanned]
		in, inTruth := truthIncident(t, sim, r, notPlanned)
		switch {
		case !listed || !inTruth:
			t.Errorf("%s: not-planned #%d listed %v, in truth %v; it keeps its label", when, notPlanned, listed, inTruth)
		case wantClosed && (np.State != "closed" || np.StateReason == nil || *np.StateReason != "not_planned" || !time.Time(np.ClosedAt).Equal(testNow.Add(3*time.Hour)) ||
			in.StateReason != "not_planned" || in.ClosedAt == nil):
			t.Errorf("%s: #%d %s reason %v closed %s (truth %q); want closed as not_planned at now+3h", when, notPlanned, np.State, np.StateReason, time.Time(np.ClosedAt), in.StateReason)
		case !wantClosed && (np.State != "open" || np.StateReason != nil || in.StateReason != "" || in.ClosedAt != nil):
			t.Errorf("%s: #%d %s reason %v (truth %q); want open with a null state_reason", when, notPlanned, np.State, np.StateReason, in.StateReason)
		}
	}
	check("now", false, false)
	if err := sim.SetNow(testNow.Add(2*time.Hour - time.Second)); err != nil {
		t.Fatal(err)
	}
	check("now+2h-1s", false, false)
	sim.Advance(time.Second)
	check("now+2h", true, false)
	// An incremental listing since before the relabelling returns it.
	if _, ok := issuesByNumber(t, srv, r, "state=all&since="+testNow.Add(time.Hour).Format(time.RFC3339))[relabelled]; !ok {
		t.Error("since=now+1h does not return the relabelled issue")
	}
	sim.Advance(time.Hour)
	check("now+3h", true, true)
}

// successfulTo lists, through the API, a repository's successful deployments to one
// environment, oldest first, with their changes.
func successfulTo(t *testing.T, gh *github.Client, r *repo, env string) []metrics.Deployment {
	t.Helper()
	var out []metrics.Deployment
	for _, d := range productionOnly(apiDeployments(t, gh, r)) {
		if d.Environment == env {
			out = append(out, d)
		}
	}
	return out
}

func finishedAt(d metrics.Deployment) time.Time {
	for _, s := range d.Statuses {
		if s.State == "success" {
			return s.CreatedAt
		}
	}
	return time.Time{}
}

func TestMonorepoServicesReleaseIndependently(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	gh := ghClient(t, srv, tokenA)
	ctx := t.Context()
	truth, _ := sim.Truth("acme")
	for _, org := range []string{"acme-web", "acme-data"} {
		r := layoutRepo(t, sim, org, layoutServices)
		api, web := successfulTo(t, gh, r, "production/api"), successfulTo(t, gh, r, "production/web")
		day := startOfDay(testNow).AddDate(0, 0, -9)
		at := func(ds []metrics.Deployment, t time.Time) (metrics.Deployment, int) {
			for i, d := range ds {
				if d.CreatedAt.After(t) && d.CreatedAt.Before(t.Add(time.Minute)) {
					return d, i
				}
			}
			return metrics.Deployment{}, -1
		}
		a1, i1 := at(api, day.Add(11*time.Hour))
		a2, i2 := at(api, day.Add(13*time.Hour))
		w1, j1 := at(web, day.Add(15*time.Hour))
		w2, j2 := at(web, day.AddDate(0, 0, 1).Add(11*time.Hour))
		if i1 < 0 || i2 != i1+1 || j1 < 1 || j2 != j1+1 {
			t.Fatalf("%s: pinned releases api %d %d, web %d %d", r.fullName(), i1, i2, j1, j2)
		}
		compare := func(base, head string) *github.CommitsComparison {
			c, _, err := gh.Repositories.CompareCommits(ctx, r.org.login, r.name, base, head, nil)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		// web releases api's previous SHA while api runs a newer one, then catches up.
		if w1.SHA != a1.SHA || compare(w1.SHA, a2.SHA).GetStatus() != "ahead" || !finishedAt(a2).Before(w1.CreatedAt) {
			t.Errorf("%s: web's 15:00 release %s, api's releases %s then %s; want web on api's older SHA", r.fullName(), w1.SHA, a1.SHA, a2.SHA)
		}
		if st := compare(a2.SHA, w2.SHA).GetStatus(); st != "ahead" && st != "identical" {
			t.Errorf("%s: web's next release %s is %s of api's latest %s; want it caught up", r.fullName(), w2.SHA, st, a2.SHA)
		}
		// Per environment, web's release of the older SHA is no rollback: its changes are
		// what web did not run yet.
		if st := compare(web[j1-1].SHA, w1.SHA).GetStatus(); st != "ahead" || len(w1.Changes) == 0 {
			t.Errorf("%s: web's release of api's older SHA is %s of web's previous, with %d changes", r.fullName(), st, len(w1.Changes))
		}
		for _, d := range truth.Deployments {
			if d.ID == w1.ID && !slices.Equal(changeSHAs(d), changeSHAs(w1)) {
				t.Errorf("%s: truth's changes of web's release %v, the per-environment compare %v", r.fullName(), changeSHAs(d), changeSHAs(w1))
			}
			if d.ID == a2.ID && len(d.Changes) != compare(a1.SHA, a2.SHA).GetTotalCommits() {
				t.Errorf("%s: truth's api release carries %d changes, compare with api's previous %d", r.fullName(), len(d.Changes), compare(a1.SHA, a2.SHA).GetTotalCommits())
			}
		}
		// Both are production environments; the status links to the service.
		resp, body := get(t, srv.API.URL+"/repos/"+r.fullName()+"/deployments?environment=production/web&per_page=1", tokenA)
		var raw []deploymentJSON
		if err := json.Unmarshal(body, &raw); err != nil || resp.StatusCode != 200 || len(raw) != 1 || !raw[0].ProductionEnvironment {
			t.Errorf("%s: production/web deployment %s: production_environment not true (%v)", r.fullName(), body, err)
		}
		sts, _, err := gh.Repositories.ListDeploymentStatuses(ctx, r.org.login, r.name, w1.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if u := sts[0].GetEnvironmentURL(); sts[0].GetState() != "inactive" && u != "https://production-web."+r.name+".example.com" || sts[0].GetEnvironment() != "production/web" {
			t.Errorf("%s: web status %s environment %q url %q", r.fullName(), sts[0].GetState(), sts[0].GetEnvironment(), u)
		}
	}
}

func TestRegionalRollout(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	gh := ghClient(t, srv, tokenA)
	r := layoutRepo(t, sim, "acme-web", layoutRegions)
	eu, us := successfulTo(t, gh, r, "production-eu"), successfulTo(t, gh, r, "production-us")
	day := startOfDay(testNow).AddDate(0, 0, -8)
	pinned := false
	for i, e := range eu {
		k := slices.IndexFunc(us, func(u metrics.Deployment) bool { return u.SHA == e.SHA })
		if k < 0 {
			continue // a rollout still going on at now
		}
		u := us[k]
		if gap := u.CreatedAt.Sub(finishedAt(e)); gap <= 0 || gap > 2*time.Hour {
			t.Errorf("%s: %s reached production-us %s after production-eu", r.fullName(), e.SHA, gap)
		}
		// Both regions compare with their own previous release: the same changes.
		if k > 0 && i > 0 && us[k-1].SHA == eu[i-1].SHA && !slices.Equal(changeSHAs(u), changeSHAs(e)) {
			t.Errorf("%s: one rollout of %s carries %d changes in eu, %d in us", r.fullName(), e.SHA, len(e.Changes), len(u.Changes))
		}
		pinned = pinned || (e.CreatedAt.After(day.Add(11*time.Hour)) && e.CreatedAt.Before(day.Add(11*time.Hour+time.Minute)))
	}
	if !pinned || len(eu) < 3 || len(us) < 3 {
		t.Errorf("%s: %d eu and %d us releases, pinned rollout found %v", r.fullName(), len(eu), len(us), pinned)
	}
}

// TestFailedAttemptsAreRetried checks that failed production attempts are followed by a
// successful deployment of the same SHA to the same environment, in the showcase (with no
// incident after it) and elsewhere.
func TestFailedAttemptsAreRetried(t *testing.T) {
	t.Parallel()
	sim, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	truth, _ := sim.Truth("acme")
	retried := map[string]int{}
	for i, d := range truth.Deployments {
		last := d.Statuses[len(d.Statuses)-1].State
		if !d.Production || (last != "failure" && last != "error") {
			continue
		}
		for _, next := range truth.Deployments[i+1:] {
			if next.RepoFullName == d.RepoFullName && next.Environment == d.Environment && !finishedAt(next).IsZero() {
				if next.SHA == d.SHA {
					retried[d.RepoFullName]++
				}
				break
			}
		}
	}
	showcase := sim.w.orgs["acme-web"].showcase.fullName()
	others := 0
	for repo, n := range retried {
		if repo != showcase {
			others += n
		}
	}
	if retried[showcase] == 0 || others == 0 {
		t.Fatalf("failed attempts retried with the same SHA: showcase %d, other repositories %d; want some of each", retried[showcase], others)
	}
	// The showcase's failed attempt (3 days after deployFrom) brings no incident.
	r := sim.w.orgs["acme-web"].showcase
	for _, in := range truth.Incidents {
		if in.RepoFullName == showcase && !in.CreatedAt.Before(pinnedDay(r, 3)) && in.CreatedAt.Before(pinnedDay(r, 6)) {
			t.Errorf("incident #%d opened %s after the showcase's failed attempt", in.Number, in.CreatedAt)
		}
	}
}

// TestShapesAtScale counts, in the demo world outside the showcases and the repositories
// holding a layout's fixed case, the random occurrences of every shape.
func TestShapesAtScale(t *testing.T) {
	t.Parallel()
	cfgs := map[string]Config{"demo": DemoConfig(testNow)}
	if !testing.Short() {
		cfgs["benchmark"] = BenchmarkConfig(testNow)
	}
	for name, cfg := range cfgs {
		t.Run(name, func(t *testing.T) {
			sim, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := countShapes(sim, sim.Now())
			for _, shape := range []string{"regional repositories", "failed attempts retried", "revert pull requests of an earlier release",
				"direct-push reverts", "in-PR reverts", "incidents closed as not planned", "incidents closed as duplicates", "relabelled incidents"} {
				if got[shape] < 2 {
					t.Errorf("%s: %d", shape, got[shape])
				}
			}
			if name == "benchmark" && got["monorepos"] < 5 {
				t.Errorf("monorepos: %d", got["monorepos"])
			}
			t.Logf("%v", got)
		})
	}
}

func countShapes(sim *Simulator, now time.Time) map[string]int {
	got := map[string]int{}
	for _, e := range sim.w.enterprises {
		for _, o := range e.orgs {
			for _, r := range o.repos {
				if r.showcase || r.pinnedLayout {
					continue
				}
				countRepoShapes(r, now, got)
			}
		}
	}
	return got
}

func countRepoShapes(r *repo, now time.Time, got map[string]int) {
	switch r.layout {
	case layoutServices:
		got["monorepos"]++
	case layoutRegions:
		got["regional repositories"]++
	}
	// Successful production releases per environment, in order, as default-branch
	// positions.
	type rel struct {
		at  time.Time
		pos int32
	}
	releases := map[string][]rel{}
	for i := range r.deployments {
		d := &r.deployments[i]
		if d.env == "staging" || d.createdAt.After(now) {
			continue
		}
		if at, ok := d.firstSuccess(now); ok {
			releases[d.env] = append(releases[d.env], rel{at, r.commits[d.commit].mainPos})
			continue
		}
		if last := d.statusesAt(now)[len(d.statusesAt(now))-1].state; last == "failure" || last == "error" {
			for k := i + 1; k < len(r.deployments); k++ {
				if n := &r.deployments[k]; n.env == d.env && n.succeededBy(now) {
					if n.commit == d.commit {
						got["failed attempts retried"]++
					}
					break
				}
			}
		}
	}
	inPR := map[int32]bool{}
	for i := range r.pulls {
		p := &r.pulls[i]
		for _, c := range p.commits {
			inPR[c] = true
		}
		if !visible(p.closedAt, now) || !p.merged {
			continue
		}
		if p.kind == prRevert {
			// The reverted pull request's commit went out with a release older than the
			// environment's last one before the revert was opened.
			target := r.commits[r.pulls[p.revertOf].mergeCommit].mainPos
			for _, list := range releases {
				var carried, later bool
				for _, x := range list {
					if x.at.After(p.createdAt) {
						break
					}
					if carried {
						later = true
					}
					carried = carried || x.pos >= target
				}
				if later {
					got["revert pull requests of an earlier release"]++
					break
				}
			}
			continue
		}
		for _, c := range p.commits {
			for _, s := range metrics.RevertedSHAs(r.commits[c].message) {
				if slices.ContainsFunc(p.commits, func(o int32) bool { return r.commits[o].sha.String() == s }) {
					got["in-PR reverts"]++
				}
			}
		}
	}
	for _, c := range r.defaultBranchCommits(now) {
		if !inPR[c] && len(r.commits[c].parents) == 1 && r.commits[c].committer != nil && r.commits[c].committer.login != "web-flow" &&
			strings.HasPrefix(r.commits[c].message, `Revert "`) {
			got["direct-push reverts"]++
		}
	}
	for i := range r.issues {
		is := &r.issues[i]
		if is.createdAt.After(now) || !hasLabel(is.labels, "incident") {
			continue
		}
		switch is.stateReason(now) {
		case "not_planned":
			got["incidents closed as not planned"]++
		case "duplicate":
			got["incidents closed as duplicates"]++
		}
		if visible(is.relabelAt, now) {
			got["relabelled incidents"]++
		}
	}
}
