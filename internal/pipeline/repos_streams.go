package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"metrics-collector/internal/github"
	"metrics-collector/internal/metrics"
	"metrics-collector/internal/postgres"
)

// The streams of one repository. Each commits its rows and its watermark together; a
// stream that commits in batches leaves its mark without the collection id until the
// last batch, so a cut call resumes at the next batch.

// commits reads the default branch's commits since the newest one stored (less the
// overlap: the listing filters on the committer date).
func (c *repoCollection) commits(repo metrics.Repository, mark postgres.Mark, ok bool) error {
	since := c.since
	if ok && !c.forced {
		since = mark.Watermark.Add(-commitsOverlap)
	}
	newest := since
	if ok {
		newest = mark.Watermark
	}
	var rows []postgres.CommitRow
	for commit, err := range c.client.ListCommits(c.ghCtx, repo.FullName, repo.DefaultBranch, since, time.Time{}) {
		if err != nil {
			if isEmptyRepository(err) {
				break // no commits yet: nothing to read
			}
			return ghErr(err)
		}
		rows = append(rows, postgres.CommitRow{Commit: commit, AuthorIsBot: c.bots.IsBot(commit.AuthorLogin)})
		if commit.CommittedAt.After(newest) {
			newest = commit.CommittedAt
		}
	}
	return c.saved(c.store.SaveCommits(c.ctx, c.e.ID, repo.ID, rows, postgres.Mark{Watermark: newest, Collection: c.cur.Collection}))
}

// isEmptyRepository recognises GitHub's answer for the commits of a repository without
// any: 409 "Git Repository is empty". The client has no sentinel for a 409.
func isEmptyRepository(err error) bool {
	return strings.Contains(err.Error(), "409 Conflict")
}

// pulls reads the pull requests updated since the watermark (the listing is newest
// updated first, so it stops there) and, for each one that changed, its size, commits
// and reviews; oldest first, in batches, each committed with the watermark it reached.
func (c *repoCollection) pulls(repo metrics.Repository, mark postgres.Mark, ok bool) error {
	from := c.since
	if ok && (!c.forced || mark.Watermark.Before(from)) {
		from = mark.Watermark
	}
	stored, err := c.store.PullUpdatedTimes(c.ctx, c.e.ID, repo.ID, from)
	if err != nil {
		return err
	}
	var changed []metrics.PullRequest
	for pr, err := range c.client.ListPulls(c.ghCtx, repo.FullName) {
		if err != nil {
			return ghErr(err)
		}
		if pr.UpdatedAt.Before(from) {
			break
		}
		if t, ok := stored[pr.Number]; ok && t.Equal(pr.UpdatedAt) {
			continue // unchanged since we stored it
		}
		changed = append(changed, pr)
	}
	slices.SortFunc(changed, func(a, b metrics.PullRequest) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), cmp.Compare(a.Number, b.Number))
	})
	watermark := from
	if ok && mark.Watermark.After(watermark) {
		watermark = mark.Watermark
	}
	if len(changed) == 0 {
		return c.saved(c.store.SavePulls(c.ctx, c.e.ID, repo.ID, nil, postgres.Mark{Watermark: watermark, Collection: c.cur.Collection}))
	}
	for start := 0; start < len(changed); start += detailBatch {
		if start > 0 && !c.startUnit() {
			return errOutOfTime
		}
		batch := changed[start:min(start+detailBatch, len(changed))]
		rows := make([]postgres.PullRequestRow, len(batch))
		err := forEachParallel(c.ghCtx, len(batch), detailWorkers, func(ctx context.Context, i int) error {
			row, err := c.pullRow(ctx, repo, batch[i].Number)
			rows[i] = row
			return err
		})
		if err != nil {
			return ghErr(err)
		}
		if last := batch[len(batch)-1].UpdatedAt; last.After(watermark) {
			watermark = last
		}
		next := postgres.Mark{Watermark: watermark}
		if start+detailBatch >= len(changed) {
			next.Collection = c.cur.Collection
		}
		if err := c.saved(c.store.SavePulls(c.ctx, c.e.ID, repo.ID, rows, next)); err != nil {
			return err
		}
	}
	return nil
}

// pullRow reads one pull request with its size, commits and reviews, and derives what
// the metrics need of it with the shared helpers.
func (c *repoCollection) pullRow(ctx context.Context, repo metrics.Repository, number int) (postgres.PullRequestRow, error) {
	pr, err := c.client.GetPull(ctx, repo.FullName, number)
	if err != nil {
		return postgres.PullRequestRow{}, err
	}
	for commit, err := range c.client.ListPullCommits(ctx, repo.FullName, number) {
		if err != nil {
			return postgres.PullRequestRow{}, err
		}
		pr.Commits = append(pr.Commits, commit)
	}
	for review, err := range c.client.ListPullReviews(ctx, repo.FullName, number) {
		if err != nil {
			return postgres.PullRequestRow{}, err
		}
		pr.Reviews = append(pr.Reviews, review)
	}
	return c.pullRequestRow(pr), nil
}

// pullRequestRow derives what the metrics need of a whole pull request (commits and
// reviews included) with the shared helpers, whichever API read it.
func (c *repoCollection) pullRequestRow(pr metrics.PullRequest) postgres.PullRequestRow {
	row := postgres.PullRequestRow{
		PR: pr, AuthorIsBot: c.bots.IsBot(pr.AuthorLogin), IsRevert: metrics.IsRevertPR(pr),
		IsHotfix: metrics.IsHotfixPR(pr, c.e.HotfixRE()), FirstCommitAuthoredAt: metrics.FirstCommitAt(pr),
	}
	for _, review := range pr.Reviews {
		row.Reviews = append(row.Reviews, postgres.ReviewRow{Review: review, ReviewerIsBot: c.bots.IsBot(review.ReviewerLogin)})
	}
	return row
}

// runsPageSize is how many runs one listing page holds: while a window's runs fit in
// one page, its start is left alone, so an unchanged window is one free 304.
const runsPageSize = 100

// runs lists the workflow runs created since the runs watermark S. S only moves forward
// when the listing grew past one page and a later pass found it changed, and never past
// a run that has not completed or the last day of runs (re-runs), so runs in progress
// are re-read by the next listing.
// The window ends at S plus a power of two days, so its URL stays the same from one
// pass to the next until S moves or time outgrows it. With the workflow deployment
// signal, the runs of the deploy workflows become deployments.
func (c *repoCollection) runs(repo metrics.Repository, mark postgres.Mark, ok bool) error {
	from := reposDay(c.since)
	if ok && (!c.forced || mark.Watermark.Before(from)) {
		from = mark.Watermark
	}
	var rows []postgres.RunRow
	var newest, oldestOpen time.Time
	var listing github.Counters // this listing's requests, to tell a changed listing from a cached one
	for run, err := range c.client.ListWorkflowRuns(github.WithCounters(c.ghCtx, &listing), repo.FullName, from, runsWindowEnd(from, c.now)) {
		if err != nil {
			return ghErr(err)
		}
		rows = append(rows, postgres.RunRow{WorkflowRun: run, ActorIsBot: c.bots.IsBot(run.ActorLogin)})
		if run.CreatedAt.After(newest) {
			newest = run.CreatedAt
		}
		if !run.Completed() && (oldestOpen.IsZero() || run.CreatedAt.Before(oldestOpen)) {
			oldestOpen = run.CreatedAt
		}
	}
	next := from
	// Move the window's start only when an earlier pass listed it (ok) and GitHub
	// answered a page of this listing in full (something changed): moving it changes
	// the URL, so the next listing is charged. After a first pass, the unchanged window
	// of the next days is answered 304, free, until new runs arrive; the day they do
	// the listing is charged anyway, and the start moves with it.
	cnt := listing.Snapshot()
	if changed := cnt.Requests > cnt.NotModified; len(rows) > runsPageSize && ok && changed {
		candidate := reposDay(newest.Add(-24 * time.Hour))
		if !oldestOpen.IsZero() && oldestOpen.Before(candidate) {
			candidate = reposDay(oldestOpen)
		}
		if candidate.After(next) {
			next = candidate
		}
	}
	var derived []metrics.Deployment
	if c.signal == metrics.SignalWorkflow {
		for _, r := range rows {
			if d, ok := c.workflowDeployment(repo, r.WorkflowRun); ok {
				derived = append(derived, d)
			}
		}
	}
	return c.saved(c.store.SaveRuns(c.ctx, c.e.ID, repo.ID, rows, derived, postgres.Mark{Watermark: next, Collection: c.cur.Collection}))
}

// runsWindowEnd is from plus the smallest power of two days, at least 32, that reaches
// an hour past now: the end moves (and the URL changes) at most once a month for a
// window whose start stays put.
func runsWindowEnd(from, now time.Time) time.Time {
	span := 32 * 24 * time.Hour
	for !from.Add(span).After(now.Add(time.Hour)) {
		span *= 2
	}
	return from.Add(span)
}

// workflowDeployment turns a completed run of a configured deploy workflow on the
// default branch into a production deployment (signal workflow, id = run id): a
// successful run into a successful deployment, a failed or timed-out one into a failed
// deployment (a failure signal). Cancelled and skipped runs deployed nothing.
func (c *repoCollection) workflowDeployment(repo metrics.Repository, run metrics.WorkflowRun) (metrics.Deployment, bool) {
	if !run.Completed() || run.HeadBranch != repo.DefaultBranch || !c.isDeployWorkflow(run.Path) {
		return metrics.Deployment{}, false
	}
	var state string
	switch run.Conclusion {
	case "success":
		state = "success"
	case "failure", "timed_out", "startup_failure":
		state = "failure"
	default:
		return metrics.Deployment{}, false
	}
	started := run.RunStartedAt
	if started.IsZero() {
		started = run.CreatedAt
	}
	return metrics.Deployment{
		ID: run.ID, RepoFullName: repo.FullName, Signal: metrics.SignalWorkflow, SHA: run.HeadSHA, Ref: run.HeadBranch,
		Environment: path.Base(run.Path), Production: true, CreatorLogin: run.ActorLogin, CreatedAt: run.CreatedAt,
		Statuses: []metrics.DeploymentStatus{
			{ID: 1, State: "in_progress", CreatedAt: started},
			{ID: 2, State: state, CreatedAt: run.UpdatedAt},
		},
	}, true
}

// isDeployWorkflow matches a run's workflow path against deploy_workflows, given as
// paths (".github/workflows/deploy.yml") or file names ("deploy.yml").
func (c *repoCollection) isDeployWorkflow(p string) bool {
	for _, w := range c.e.DeployWorkflows {
		if w == p || w == path.Base(p) {
			return true
		}
	}
	return false
}

// baseSearch collects a deployment listing (newest first) and, on a first pass, looks
// past the window for each production environment deployed to inside it for the last
// successful deployment to it before the window: the compare base of the oldest one
// inside. It inspects at most baseSearchLimit production deployments per environment
// and lists at most baseSearchScan deployments older than the window.
type baseSearch struct {
	firstPass bool
	listed    []metrics.Deployment // newest first
	// Per production environment deployed to inside the window: how many deployments
	// before the window were inspected for its compare base (-1: found).
	bases   map[string]int
	scanned int
}

func newBaseSearch(firstPass bool) *baseSearch {
	return &baseSearch{firstPass: firstPass, bases: map[string]int{}}
}

// inWindow lists a deployment created inside the window.
func (b *baseSearch) inWindow(d metrics.Deployment) {
	b.listed = append(b.listed, d)
	if env := strings.ToLower(d.Environment); d.Production {
		if _, seen := b.bases[env]; !seen {
			b.bases[env] = 0
		}
	}
}

// older decides on a deployment created before the window: stop when the listing need
// not go further; inspect when its statuses may make it a compare base (the caller
// then reads them, if the listing lacks them, and hands it to inspected).
func (b *baseSearch) older(d metrics.Deployment) (inspect, stop bool) {
	if !b.firstPass || !b.needsBase() || b.scanned >= baseSearchScan {
		return false, true
	}
	b.scanned++
	env := strings.ToLower(d.Environment)
	if n, wanted := b.bases[env]; !d.Production || !wanted || n < 0 || n >= baseSearchLimit {
		return false, false
	}
	b.bases[env]++
	return true, false
}

// inspected lists d, with its statuses, as its environment's base if it succeeded.
func (b *baseSearch) inspected(d metrics.Deployment) {
	if _, succeeded := metrics.SucceededAt(d); succeeded {
		b.listed = append(b.listed, d)
		b.bases[strings.ToLower(d.Environment)] = -1
	}
}

func (b *baseSearch) needsBase() bool {
	for _, n := range b.bases {
		if n >= 0 && n < baseSearchLimit {
			return true
		}
	}
	return false
}

// oldestFirst is what was listed, oldest first.
func (b *baseSearch) oldestFirst() []metrics.Deployment {
	slices.Reverse(b.listed)
	return b.listed
}

// deployments reads the GitHub Deployments created since the watermark (newest first,
// stopping there), with the statuses of the production ones, and re-reads the statuses
// of stored production deployments that may still change. A first pass also looks past
// the backfill window, for each production environment deployed to inside it, for the
// last successful deployment to that environment before it: the compare base of the
// oldest one inside.
func (c *repoCollection) deployments(repo metrics.Repository, mark postgres.Mark, ok bool) error {
	from := c.since
	if ok && (!c.forced || mark.Watermark.Before(from)) {
		from = mark.Watermark
	}
	first := !ok || c.forced
	search := newBaseSearch(first)
	for d, err := range c.client.ListDeployments(c.ghCtx, repo.FullName, "") {
		if err != nil {
			return ghErr(err)
		}
		d.RepoFullName, d.Production = repo.FullName, c.e.IsProduction(d.Environment)
		if !d.CreatedAt.Before(from) {
			search.inWindow(d)
			continue
		}
		inspect, stop := search.older(d)
		if stop {
			break
		}
		if !inspect {
			continue
		}
		if d.Statuses, err = c.statuses(c.ghCtx, repo, d.ID); err != nil {
			return ghErr(err)
		}
		search.inspected(d)
	}
	listed := search.oldestFirst()

	watermark := from
	if ok && mark.Watermark.After(watermark) {
		watermark = mark.Watermark
	}
	done, watermark, err := c.saveListed(listed, watermark, func(batch []metrics.Deployment, watermark time.Time) error {
		return c.saveDeployments(repo, batch, watermark, false)
	})
	if err != nil {
		return err
	}
	// Then the stored ones whose statuses may have changed, the ones just superseded
	// included. There are few (recent or unfinished ones), and each costs a free 304
	// unless it changed, so they are not cut by the budget: the stream always ends here.
	unsettled, err := c.store.UnsettledDeployments(c.ctx, c.e.ID, repo.ID, c.signal, c.unsettledFrom(), c.recentFrom())
	if err != nil {
		return err
	}
	var todo []metrics.Deployment
	for _, d := range unsettled {
		if !done[d.ID] {
			d.RepoFullName = repo.FullName
			todo = append(todo, d)
		}
	}
	if len(todo) == 0 {
		return c.saved(c.store.SaveDeployments(c.ctx, c.e.ID, repo.ID, nil, postgres.Mark{Watermark: watermark, Collection: c.cur.Collection}))
	}
	for start := 0; start < len(todo); start += detailBatch {
		batch := todo[start:min(start+detailBatch, len(todo))]
		if err := c.saveDeployments(repo, batch, watermark, start+detailBatch >= len(todo)); err != nil {
			return err
		}
	}
	return nil
}

// saveListed saves deployments listed oldest first, detailBatch at a time (each batch
// after the first takes a unit of the call's budget), the watermark moving to the newest
// saved; save stores one batch. It returns the ids saved and the watermark.
func (c *repoCollection) saveListed(listed []metrics.Deployment, watermark time.Time,
	save func(batch []metrics.Deployment, watermark time.Time) error) (map[int64]bool, time.Time, error) {
	done := make(map[int64]bool, len(listed))
	for start := 0; start < len(listed); start += detailBatch {
		if start > 0 && !c.startUnit() {
			return done, watermark, errOutOfTime
		}
		batch := listed[start:min(start+detailBatch, len(listed))]
		for _, d := range batch {
			done[d.ID] = true
			if d.CreatedAt.After(watermark) {
				watermark = d.CreatedAt
			}
		}
		if err := save(batch, watermark); err != nil {
			return done, watermark, err
		}
	}
	return done, watermark, nil
}

// saveDeployments reads the statuses of the batch's production deployments that have
// none yet and saves the batch with the deployments watermark (completed: with this
// collection's id).
func (c *repoCollection) saveDeployments(repo metrics.Repository, batch []metrics.Deployment, watermark time.Time, completed bool) error {
	batch = slices.Clone(batch)
	err := forEachParallel(c.ghCtx, len(batch), detailWorkers, func(ctx context.Context, i int) error {
		d := &batch[i]
		if !d.Production || d.Statuses != nil {
			return nil
		}
		sts, err := c.statuses(ctx, repo, d.ID)
		d.Statuses = sts
		return err
	})
	if err != nil {
		return ghErr(err)
	}
	next := postgres.Mark{Watermark: watermark}
	if completed {
		next.Collection = c.cur.Collection
	}
	return c.saved(c.store.SaveDeployments(c.ctx, c.e.ID, repo.ID, batch, next))
}

// statuses reads a deployment's statuses, oldest first. Never nil on success, so "read,
// none yet" differs from "not read".
func (c *repoCollection) statuses(ctx context.Context, repo metrics.Repository, id int64) ([]metrics.DeploymentStatus, error) {
	out := []metrics.DeploymentStatus{}
	for st, err := range c.client.ListDeploymentStatuses(ctx, repo.FullName, id) {
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	slices.Reverse(out) // GitHub lists newest first
	return out, nil
}

// changes loads, for every successful production deployment without them (or compared
// against a predecessor that is no longer the previous one), the commits it brought:
// the compare between the previous successful production deployment's SHA and its own.
// The first one has no predecessor, hence no changes.
func (c *repoCollection) changes(repo metrics.Repository, _ postgres.Mark, _ bool) error {
	targets, err := c.store.ListChangeTargets(c.ctx, c.e.ID, repo.ID, c.signal)
	if err != nil {
		return err
	}
	done := postgres.Mark{Watermark: c.now, Collection: c.cur.Collection}
	if len(targets) == 0 {
		return c.saved(c.store.SaveDeploymentChanges(c.ctx, c.e.ID, repo.ID, c.signal, nil, &done))
	}
	for start := 0; start < len(targets); start += detailBatch {
		if start > 0 && !c.startUnit() {
			return errOutOfTime
		}
		batch := targets[start:min(start+detailBatch, len(targets))]
		sets := make([]postgres.ChangeSet, len(batch))
		var mu sync.Mutex
		var gone []string
		err := forEachParallel(c.ghCtx, len(batch), detailWorkers, func(ctx context.Context, i int) error {
			t := batch[i]
			sets[i] = postgres.ChangeSet{DeploymentID: t.DeploymentID, BaseSHA: t.BaseSHA}
			if t.BaseSHA == "" || strings.EqualFold(t.BaseSHA, t.SHA) {
				return nil // the first deployment, or a redeploy of the same SHA: nothing new
			}
			commits, err := c.client.CompareCommits(ctx, repo.FullName, t.BaseSHA, t.SHA)
			if errors.Is(err, github.ErrNotFound) {
				// A SHA that no longer exists (force-pushed away): nothing can be compared.
				mu.Lock()
				gone = append(gone, fmt.Sprintf("%s deployment %d: compare %.12s...%.12s not found; stored without changes", repo.FullName, t.DeploymentID, t.BaseSHA, t.SHA))
				mu.Unlock()
				return nil
			}
			sets[i].Commits = commits
			return err
		})
		if err != nil {
			return ghErr(err)
		}
		var m *postgres.Mark
		if start+detailBatch >= len(targets) {
			m = &done
		}
		if err := c.saved(c.store.SaveDeploymentChanges(c.ctx, c.e.ID, repo.ID, c.signal, sets, m)); err != nil {
			return err
		}
		slices.Sort(gone)
		c.warnings = append(c.warnings, gone...)
	}
	return nil
}

// incidents lists the repository's issues carrying any incident label, open and closed.
// The listing has no since, so its URL never changes and an unchanged one is a free 304.
// It is complete, so the store replaces the repository's incidents with it: an issue
// whose label was removed, that was deleted or transferred, or that was closed as not
// planned (or as a duplicate) is no longer an incident.
func (c *repoCollection) incidents(repo metrics.Repository, _ postgres.Mark, _ bool) error {
	byNumber := map[int]metrics.Incident{}
	for _, label := range c.e.IncidentLabels {
		for inc, err := range c.client.ListIssues(c.ghCtx, repo.FullName, []string{label}, time.Time{}) {
			if err != nil {
				return ghErr(err)
			}
			if metrics.CountsAsIncident(inc) {
				byNumber[inc.Number] = inc
			}
		}
	}
	incidents := make([]metrics.Incident, 0, len(byNumber))
	for _, inc := range byNumber {
		incidents = append(incidents, inc)
	}
	slices.SortFunc(incidents, func(a, b metrics.Incident) int { return cmp.Compare(a.Number, b.Number) })
	return c.saved(c.store.SaveIncidents(c.ctx, c.e.ID, repo.ID, incidents, postgres.Mark{Watermark: c.now, Collection: c.cur.Collection}))
}

// forEachParallel calls fn for 0..n-1 with at most workers calls at once. The first
// error cancels the others' context and is returned.
func forEachParallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	sem := make(chan struct{}, max(workers, 1))
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
