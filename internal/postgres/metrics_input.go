package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"metrics-collector/internal/metrics"
)

// ActivityQuery selects the repository activity of one enterprise that a weekly metric
// calculation reads (docs/metrics.md, "What to load"). Everything is read in one
// read-only snapshot, one query per table, so a collection writing at the same time
// cannot hand the calculators a deployment without its statuses.
type ActivityQuery struct {
	EnterpriseID string
	// Orgs limits the repositories to these organizations (compared case-insensitively);
	// empty means every repository stored for the enterprise.
	Orgs []string
	// PresentFrom leaves out repositories missing (deleted, transferred away; see
	// repositories.missing_since) since before it: the first week computed. A
	// repository that went missing later still counts in the weeks it was there.
	PresentFrom time.Time
	// Signal picks the deployments: metrics.SignalDeployment or metrics.SignalWorkflow.
	Signal string
	// From and To bound the data span [From, To): production deployments created,
	// incidents opened, default-branch commits committed and workflow runs created in
	// it, and pull requests created before To that were created, updated, closed or
	// merged in it.
	From, To time.Time

	// What to load besides repositories, deployments (with statuses and changes) and
	// pull requests (with their commits).
	Reviews   bool // pull-request reviews (velocity)
	Incidents bool // incident issues (DORA)
	Commits   bool // default-branch commits (velocity)
	// RevertCommits loads, when Commits is not set, only the default-branch commits that
	// revert others: the revert signals (DORA).
	RevertCommits bool
	WorkflowRuns  bool // workflow runs (velocity)
}

func (q ActivityQuery) check() error {
	var errs []error
	if q.EnterpriseID == "" {
		errs = append(errs, errors.New("enterprise_id: required"))
	}
	if q.Signal != metrics.SignalDeployment && q.Signal != metrics.SignalWorkflow {
		errs = append(errs, fmt.Errorf("signal: %q must be %q or %q", q.Signal, metrics.SignalDeployment, metrics.SignalWorkflow))
	}
	if q.From.IsZero() || q.To.IsZero() || !q.From.Before(q.To) {
		errs = append(errs, fmt.Errorf("from: the span %s – %s is empty", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339)))
	}
	return errors.Join(errs...)
}

// Every list is ordered by repository first, so each repository's items come together
// and in a stable order. Items of repositories that are not loaded (another
// organization) are skipped in Go: filtering them in SQL would need the repositories
// join on every query, for a case that only arises after an org leaves the
// configuration.
const sqlActivityRepositories = `
SELECT id, org, full_name, default_branch
FROM repositories
WHERE enterprise_id = $1 AND (missing_since IS NULL OR missing_since > $2)
ORDER BY full_name COLLATE "C", missing_since NULLS FIRST, id`

// Only production deployments: the calculators ignore the others, and production is
// decided by the collector with the enterprise's pattern when it stores a deployment
// (the deployment changes it loads depend on the same decision).
const sqlActivityDeploymentFilter = `
d.enterprise_id = $1 AND d.signal = $2 AND d.production AND d.created_at >= $3 AND d.created_at < $4`

const sqlActivityDeployments = `
SELECT d.repo_id, d.deployment_id, d.sha, d.ref, d.environment, d.creator_login, d.created_at
FROM deployments d
WHERE ` + sqlActivityDeploymentFilter + `
ORDER BY d.repo_id, d.created_at, d.deployment_id`

const sqlActivityDeploymentStatuses = `
SELECT s.repo_id, s.deployment_id, s.status_id, s.state, s.created_at
FROM deployment_statuses s
JOIN deployments d ON d.enterprise_id = s.enterprise_id AND d.repo_id = s.repo_id
                  AND d.signal = s.signal AND d.deployment_id = s.deployment_id
WHERE ` + sqlActivityDeploymentFilter + `
ORDER BY s.repo_id, s.deployment_id, s.created_at, s.status_id`

// Of a deployment's changes and a pull request's commits only what the calculators read
// is loaded (SHA, author login, authored time, headline: the change mapping, lead-time
// starts, reverts): they are the largest lists, and memory is what bounds a calculation
// (docs/benchmarks.md).
const sqlActivityDeploymentChanges = `
SELECT c.repo_id, c.deployment_id, c.sha, c.author_login, c.authored_at, c.message_headline
FROM deployment_changes c
JOIN deployments d ON d.enterprise_id = c.enterprise_id AND d.repo_id = c.repo_id
                  AND d.signal = c.signal AND d.deployment_id = c.deployment_id
WHERE ` + sqlActivityDeploymentFilter + `
ORDER BY c.repo_id, c.deployment_id, c.position, c.sha`

// A pull request matters when something happened to it in the span: created, merged,
// closed, or updated (a review, a push). GREATEST ignores NULLs.
const sqlActivityPullFilter = `
p.enterprise_id = $1 AND p.created_at < $3
AND GREATEST(p.created_at, p.updated_at, p.closed_at, p.merged_at) >= $2`

const sqlActivityPulls = `
SELECT p.repo_id, p.id, p.number, p.author_login, p.title, p.state, p.draft, p.base_ref, p.head_ref,
       p.labels, p.created_at, p.updated_at, p.closed_at, p.merged_at, p.merge_commit_sha,
       p.additions, p.deletions, p.changed_files, p.reverts_number, coalesce(p.author_id, 0)
FROM pull_requests p
WHERE ` + sqlActivityPullFilter + `
ORDER BY p.repo_id, p.number`

const sqlActivityPullCommits = `
SELECT c.repo_id, c.pr_number, c.sha, c.author_login, c.authored_at, c.message_headline
FROM pull_request_commits c
JOIN pull_requests p ON p.enterprise_id = c.enterprise_id AND p.repo_id = c.repo_id AND p.number = c.pr_number
WHERE ` + sqlActivityPullFilter + `
ORDER BY c.repo_id, c.pr_number, c.position, c.sha`

const sqlActivityPullReviews = `
SELECT r.repo_id, r.pr_number, r.review_id, r.reviewer_login, r.state, r.submitted_at
FROM pull_request_reviews r
JOIN pull_requests p ON p.enterprise_id = r.enterprise_id AND p.repo_id = r.repo_id AND p.number = r.pr_number
WHERE ` + sqlActivityPullFilter + `
ORDER BY r.repo_id, r.pr_number, r.submitted_at NULLS LAST, r.review_id`

const sqlActivityIncidents = `
SELECT repo_id, number, title, author_login, labels, created_at, closed_at, state_reason
FROM incidents
WHERE enterprise_id = $1 AND created_at >= $2 AND created_at < $3
ORDER BY repo_id, number`

const sqlActivityCommits = `
SELECT repo_id, sha, author_login, author_name, authored_at, committer_login, committed_at,
       message_headline, parent_count, reverts
FROM commits
WHERE enterprise_id = $1 AND committed_at >= $2 AND committed_at < $3
ORDER BY repo_id, committed_at, sha`

const sqlActivityRevertCommits = `
SELECT repo_id, sha, author_login, author_name, authored_at, committer_login, committed_at,
       message_headline, parent_count, reverts
FROM commits
WHERE enterprise_id = $1 AND committed_at >= $2 AND committed_at < $3 AND reverts <> '{}'
ORDER BY repo_id, committed_at, sha`

const sqlActivityWorkflowRuns = `
SELECT repo_id, run_id, workflow_id, name, path, event, head_branch, head_sha, status, conclusion,
       actor_login, run_attempt, created_at, updated_at, run_started_at
FROM workflow_runs
WHERE enterprise_id = $1 AND created_at >= $2 AND created_at < $3
ORDER BY repo_id, run_id`

// ListRepoActivity loads what the weekly calculators need of an enterprise's
// repositories: one metrics.RepoActivity per repository (also those without activity,
// so each gets its rows), ordered by full name, each list in a stable order and every
// time in UTC. Archived repositories are included: their past deployments and pull
// requests still count in the weeks they happened.
func (s *Store) ListRepoActivity(ctx context.Context, q ActivityQuery) ([]metrics.RepoActivity, error) {
	if err := q.check(); err != nil {
		return nil, fmt.Errorf("list repository activity: %w", err)
	}
	l := activityLoader{q: q, from: q.From.UTC(), to: q.To.UTC()}
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := pgx.BeginTxFunc(ctx, s.pool, opts, func(tx pgx.Tx) error {
		l.tx = tx
		return l.load(ctx)
	})
	if err != nil {
		return nil, classify(fmt.Errorf("list repository activity of %s: %w", q.EnterpriseID, err))
	}
	return l.repos, nil
}

// activityLoader fills the repositories list by list. Items are found by index, never
// by pointer, because the slices grow while they are filled.
type activityLoader struct {
	q        ActivityQuery
	from, to time.Time
	tx       pgx.Tx

	repos  []metrics.RepoActivity
	byID   map[int64]int   // repository id → index in repos
	deploy map[itemKey]int // (repository id, deployment id) → index in its repository's Deployments
	pulls  map[itemKey]int // (repository id, number) → index in its repository's PullRequests
}

type itemKey struct {
	repoID int64
	id     int64
}

func (l *activityLoader) load(ctx context.Context) error {
	steps := []struct {
		name string
		run  func(context.Context) error
		want bool
	}{
		{"repositories", l.loadRepositories, true},
		{"deployments", l.loadDeployments, true},
		{"deployment statuses", l.loadDeploymentStatuses, true},
		{"deployment changes", l.loadDeploymentChanges, true},
		{"pull requests", l.loadPulls, true},
		{"pull request commits", l.loadPullCommits, true},
		{"pull request reviews", l.loadPullReviews, l.q.Reviews},
		{"incidents", l.loadIncidents, l.q.Incidents},
		{"commits", l.loadCommits, l.q.Commits || l.q.RevertCommits},
		{"workflow runs", l.loadWorkflowRuns, l.q.WorkflowRuns},
	}
	for _, step := range steps {
		if !step.want {
			continue
		}
		if err := step.run(ctx); err != nil {
			return fmt.Errorf("%s: %w", step.name, err)
		}
	}
	return nil
}

// each runs a query and calls fn after scanning every row into dest.
func (l *activityLoader) each(ctx context.Context, sql string, args []any, dest []any, fn func() error) error {
	rows, err := l.tx.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	_, err = pgx.ForEachRow(rows, dest, fn)
	return err
}

func (l *activityLoader) spanArgs() []any { return []any{l.q.EnterpriseID, l.from, l.to} }

func (l *activityLoader) deploymentArgs() []any {
	return []any{l.q.EnterpriseID, l.q.Signal, l.from, l.to}
}

// loadRepositories lists the repositories. Two stored repositories may share a name
// for a while (one renamed, another created under its old name, until the next
// listing records the rename); their activity is filed under that one name, so the
// organization's figures stay whole and the calculators see each name once.
func (l *activityLoader) loadRepositories(ctx context.Context) error {
	orgs := make(map[string]bool, len(l.q.Orgs))
	for _, o := range l.q.Orgs {
		orgs[strings.ToLower(strings.TrimSpace(o))] = true
	}
	l.byID = map[int64]int{}
	byName := map[string]int{}
	var (
		id                           int64
		org, fullName, defaultBranch string
	)
	args := []any{l.q.EnterpriseID, l.q.PresentFrom.UTC()}
	return l.each(ctx, sqlActivityRepositories, args, []any{&id, &org, &fullName, &defaultBranch}, func() error {
		if len(orgs) > 0 && !orgs[strings.ToLower(org)] {
			return nil
		}
		key := strings.ToLower(fullName)
		if i, ok := byName[key]; ok {
			l.byID[id] = i
			return nil
		}
		byName[key] = len(l.repos)
		l.byID[id] = len(l.repos)
		l.repos = append(l.repos, metrics.RepoActivity{FullName: fullName, DefaultBranch: defaultBranch})
		return nil
	})
}

func (l *activityLoader) loadDeployments(ctx context.Context) error {
	l.deploy = map[itemKey]int{}
	var (
		repoID, id                    int64
		sha, ref, environment, author string
		createdAt                     time.Time
	)
	dest := []any{&repoID, &id, &sha, &ref, &environment, &author, &createdAt}
	return l.each(ctx, sqlActivityDeployments, l.deploymentArgs(), dest, func() error {
		r, ok := l.byID[repoID]
		if !ok {
			return nil
		}
		repo := &l.repos[r]
		l.deploy[itemKey{repoID, id}] = len(repo.Deployments)
		repo.Deployments = append(repo.Deployments, metrics.Deployment{
			ID: id, RepoFullName: repo.FullName, Signal: l.q.Signal, SHA: sha, Ref: ref, Environment: environment,
			Production: true, CreatorLogin: author, CreatedAt: createdAt.UTC(),
		})
		return nil
	})
}

// deployment returns the loaded deployment (repoID, id), or nil.
func (l *activityLoader) deployment(repoID, id int64) *metrics.Deployment {
	r, ok := l.byID[repoID]
	if !ok {
		return nil
	}
	i, ok := l.deploy[itemKey{repoID, id}]
	if !ok {
		return nil
	}
	return &l.repos[r].Deployments[i]
}

func (l *activityLoader) loadDeploymentStatuses(ctx context.Context) error {
	var (
		repoID, id, statusID int64
		state                string
		createdAt            time.Time
	)
	dest := []any{&repoID, &id, &statusID, &state, &createdAt}
	return l.each(ctx, sqlActivityDeploymentStatuses, l.deploymentArgs(), dest, func() error {
		if d := l.deployment(repoID, id); d != nil {
			d.Statuses = append(d.Statuses, metrics.DeploymentStatus{ID: statusID, State: state, CreatedAt: createdAt.UTC()})
		}
		return nil
	})
}

func (l *activityLoader) loadDeploymentChanges(ctx context.Context) error {
	var (
		repoID, id int64
		c          commitRow
	)
	dest := append([]any{&repoID, &id}, c.dest()...)
	return l.each(ctx, sqlActivityDeploymentChanges, l.deploymentArgs(), dest, func() error {
		if d := l.deployment(repoID, id); d != nil {
			d.Changes = append(d.Changes, c.commit())
		}
		return nil
	})
}

// commitRow scans the commit columns loaded of deployment_changes and
// pull_request_commits.
type commitRow struct {
	sha, author, headline string
	authoredAt            time.Time
}

func (c *commitRow) dest() []any { return []any{&c.sha, &c.author, &c.authoredAt, &c.headline} }

func (c *commitRow) commit() metrics.Commit {
	return metrics.Commit{SHA: c.sha, AuthorLogin: c.author, AuthoredAt: c.authoredAt.UTC(), MessageHeadline: c.headline}
}

func (l *activityLoader) loadPulls(ctx context.Context) error {
	l.pulls = map[itemKey]int{}
	var (
		repoID, id                                       int64
		number, additions, deletions, changedFiles       int
		revertsNumber                                    int
		authorID                                         int64
		author, title, state, baseRef, headRef, mergeSHA string
		draft                                            bool
		labels                                           []string
		createdAt, updatedAt                             time.Time
		closedAt, mergedAt                               *time.Time
	)
	dest := []any{&repoID, &id, &number, &author, &title, &state, &draft, &baseRef, &headRef,
		&labels, &createdAt, &updatedAt, &closedAt, &mergedAt, &mergeSHA, &additions, &deletions, &changedFiles, &revertsNumber, &authorID}
	return l.each(ctx, sqlActivityPulls, l.spanArgs(), dest, func() error {
		r, ok := l.byID[repoID]
		if !ok {
			return nil
		}
		repo := &l.repos[r]
		l.pulls[itemKey{repoID, int64(number)}] = len(repo.PullRequests)
		repo.PullRequests = append(repo.PullRequests, metrics.PullRequest{
			ID: id, RepoFullName: repo.FullName, Number: number, AuthorLogin: author, Title: title, State: state,
			Draft: draft, BaseRef: baseRef, HeadRef: headRef, CreatedAt: createdAt.UTC(), UpdatedAt: updatedAt.UTC(),
			ClosedAt: activityUTC(closedAt), MergedAt: activityUTC(mergedAt), MergeCommitSHA: mergeSHA,
			Additions: additions, Deletions: deletions, ChangedFiles: changedFiles, Labels: labels,
			RevertsNumber: revertsNumber, AuthorID: authorID,
		})
		return nil
	})
}

// pull returns the loaded pull request (repoID, number), or nil.
func (l *activityLoader) pull(repoID int64, number int) *metrics.PullRequest {
	r, ok := l.byID[repoID]
	if !ok {
		return nil
	}
	i, ok := l.pulls[itemKey{repoID, int64(number)}]
	if !ok {
		return nil
	}
	return &l.repos[r].PullRequests[i]
}

func (l *activityLoader) loadPullCommits(ctx context.Context) error {
	var (
		repoID int64
		number int
		c      commitRow
	)
	dest := append([]any{&repoID, &number}, c.dest()...)
	return l.each(ctx, sqlActivityPullCommits, l.spanArgs(), dest, func() error {
		if pr := l.pull(repoID, number); pr != nil {
			pr.Commits = append(pr.Commits, c.commit())
		}
		return nil
	})
}

func (l *activityLoader) loadPullReviews(ctx context.Context) error {
	var (
		repoID, reviewID int64
		number           int
		reviewer, state  string
		submittedAt      *time.Time
	)
	dest := []any{&repoID, &number, &reviewID, &reviewer, &state, &submittedAt}
	return l.each(ctx, sqlActivityPullReviews, l.spanArgs(), dest, func() error {
		pr := l.pull(repoID, number)
		if pr == nil {
			return nil
		}
		rv := metrics.Review{ID: reviewID, ReviewerLogin: reviewer, State: state}
		if submittedAt != nil {
			rv.SubmittedAt = submittedAt.UTC()
		}
		pr.Reviews = append(pr.Reviews, rv)
		return nil
	})
}

func (l *activityLoader) loadIncidents(ctx context.Context) error {
	var (
		repoID        int64
		number        int
		title, author string
		stateReason   string
		labels        []string
		createdAt     time.Time
		closedAt      *time.Time
	)
	dest := []any{&repoID, &number, &title, &author, &labels, &createdAt, &closedAt, &stateReason}
	return l.each(ctx, sqlActivityIncidents, l.spanArgs(), dest, func() error {
		r, ok := l.byID[repoID]
		if !ok {
			return nil
		}
		repo := &l.repos[r]
		repo.Incidents = append(repo.Incidents, metrics.Incident{
			RepoFullName: repo.FullName, Number: number, Title: title, AuthorLogin: author, Labels: labels,
			CreatedAt: createdAt.UTC(), ClosedAt: activityUTC(closedAt), StateReason: stateReason,
		})
		return nil
	})
}

func (l *activityLoader) loadCommits(ctx context.Context) error {
	var (
		repoID                                       int64
		sha, author, authorName, committer, headline string
		authoredAt, committedAt                      time.Time
		parents                                      int
		reverts                                      []string
	)
	dest := []any{&repoID, &sha, &author, &authorName, &authoredAt, &committer, &committedAt, &headline, &parents, &reverts}
	query := sqlActivityCommits
	if !l.q.Commits {
		query = sqlActivityRevertCommits
	}
	return l.each(ctx, query, l.spanArgs(), dest, func() error {
		r, ok := l.byID[repoID]
		if !ok {
			return nil
		}
		l.repos[r].Commits = append(l.repos[r].Commits, metrics.Commit{
			SHA: sha, AuthorLogin: author, AuthorName: authorName, AuthoredAt: authoredAt.UTC(),
			CommitterLogin: committer, CommittedAt: committedAt.UTC(), MessageHeadline: headline, ParentCount: parents,
			Reverts: nilIfEmpty(reverts),
		})
		return nil
	})
}

func (l *activityLoader) loadWorkflowRuns(ctx context.Context) error {
	var (
		repoID, runID, workflowID                                     int64
		name, path, event, branch, headSHA, status, conclusion, actor string
		attempt                                                       int
		createdAt, updatedAt                                          time.Time
		startedAt                                                     *time.Time
	)
	dest := []any{&repoID, &runID, &workflowID, &name, &path, &event, &branch, &headSHA, &status, &conclusion,
		&actor, &attempt, &createdAt, &updatedAt, &startedAt}
	return l.each(ctx, sqlActivityWorkflowRuns, l.spanArgs(), dest, func() error {
		r, ok := l.byID[repoID]
		if !ok {
			return nil
		}
		repo := &l.repos[r]
		run := metrics.WorkflowRun{
			ID: runID, RepoFullName: repo.FullName, WorkflowID: workflowID, Name: name, Path: path, Event: event,
			HeadBranch: branch, HeadSHA: headSHA, Status: status, Conclusion: conclusion, ActorLogin: actor,
			RunAttempt: attempt, CreatedAt: createdAt.UTC(), UpdatedAt: updatedAt.UTC(),
		}
		if startedAt != nil {
			run.RunStartedAt = startedAt.UTC()
		}
		repo.WorkflowRuns = append(repo.WorkflowRuns, run)
		return nil
	})
}

func activityUTC(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// nilIfEmpty keeps "none" as nil, as the collector hands it over.
func nilIfEmpty(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}
