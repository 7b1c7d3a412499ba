package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/github"
	"metrics-collector/internal/metrics"
	"metrics-collector/internal/postgres"
)

// ReposStore is what collect_repos needs of the store (implemented by *postgres.Store).
type ReposStore interface {
	GetInventoryMark(ctx context.Context, enterpriseID, org string) (postgres.Mark, bool, error)
	SaveInventory(ctx context.Context, enterpriseID string, l postgres.InventoryListing) (int64, error)
	MarkRepoMissing(ctx context.Context, enterpriseID string, repoID int64, at time.Time) error
	ListRepoStates(ctx context.Context, q postgres.StateQuery) ([]postgres.RepoState, error)
	GetRepoMarks(ctx context.Context, enterpriseID string, repoID int64) (map[string]postgres.Mark, error)
	FinishRepoPass(ctx context.Context, enterpriseID string, repoID int64, m postgres.Mark) error

	SaveCommits(ctx context.Context, enterpriseID string, repoID int64, commits []postgres.CommitRow, m postgres.Mark) (int64, error)
	PullUpdatedTimes(ctx context.Context, enterpriseID string, repoID int64, since time.Time) (map[int]time.Time, error)
	SavePulls(ctx context.Context, enterpriseID string, repoID int64, pulls []postgres.PullRequestRow, m postgres.Mark) (int64, error)
	SaveRuns(ctx context.Context, enterpriseID string, repoID int64, runs []postgres.RunRow, derived []metrics.Deployment, m postgres.Mark) (int64, error)
	UnsettledDeployments(ctx context.Context, enterpriseID string, repoID int64, signal string, unsettledFrom, recentFrom time.Time) ([]metrics.Deployment, error)
	SaveDeployments(ctx context.Context, enterpriseID string, repoID int64, deployments []metrics.Deployment, m postgres.Mark) (int64, error)
	ListChangeTargets(ctx context.Context, enterpriseID string, repoID int64, signal string) ([]postgres.ChangeTarget, error)
	SaveDeploymentChanges(ctx context.Context, enterpriseID string, repoID int64, signal string, sets []postgres.ChangeSet, m *postgres.Mark) (int64, error)
	SaveIncidents(ctx context.Context, enterpriseID string, repoID int64, incidents []metrics.Incident, m postgres.Mark) (int64, error)
	SaveRepoMark(ctx context.Context, enterpriseID string, repoID int64, stream string, m postgres.Mark) error
	PruneCachedPages(ctx context.Context, enterpriseID string, maxAge time.Duration) (int64, error)
}

// cachedPageLifetime is how long a cached list page may go unwritten before it is
// pruned at the end of a collection (decision 0002, "Conditional requests").
const cachedPageLifetime = 35 * 24 * time.Hour

// ReposOptions configure collect_repos.
type ReposOptions struct {
	Store   ReposStore
	Clients GitHubClients
	Events  Events // TokenExpiring; may be nil
	Logger  *slog.Logger
	// Now is the clock the collection windows and the time budget are measured with
	// (default time.Now). Tests give the simulator's clock.
	Now func() time.Time
	// FailureWindow is CHANGE_FAILURE_WINDOW_DAYS: production deployments this recent
	// have their statuses re-read, as a later failure may still arrive. Default 7 days.
	FailureWindow time.Duration
}

// ReposStage is collect_repos: for each org of an enterprise, the repository inventory
// and, per repository due, its default-branch commits, pull requests (with commits,
// reviews and size), workflow runs, deployments with statuses and changes, and
// incidents. See docs/decisions/0002-repository-collection.md.
type ReposStage struct {
	opts ReposOptions
	log  *slog.Logger
}

// Tuning of collect_repos. The reasons are in the decision record.
const (
	// reposUnitMargin is the time kept in hand before starting another unit of work (a
	// stream of a repository, a batch of pull requests or deployments).
	reposUnitMargin = 20 * time.Second
	// commitsOverlap: the commits listing filters on the committer date, which can lag
	// the push (rebases, cherry-picks), so each listing re-reads this much before the
	// newest commit stored; the SHA de-duplicates.
	commitsOverlap = 3 * 24 * time.Hour
	// inventorySlack: the org listing (pushed_at descending) stops this far past the
	// newest push seen last time, in case pushed_at is written a little late.
	inventorySlack = time.Hour
	// detailBatch is how many pull requests, deployments or compares are read and
	// committed together.
	detailBatch = 20
	// detailWorkers bounds the detail requests in flight (the client's default
	// MaxInFlight).
	detailWorkers = 4
	// baseSearchLimit bounds how many production deployments to one environment older
	// than the backfill window a first pass inspects for the compare base of the oldest
	// one inside it; baseSearchScan how many deployments older than the window it lists
	// while looking (every environment, production or not).
	baseSearchLimit = 10
	baseSearchScan  = 300
	// maxRecollectDays bounds since (a re-collection) as repo_backfill_days bounds
	// the first run.
	maxRecollectDays = 730
)

// NewReposStage builds collect_repos.
func NewReposStage(opts ReposOptions) *ReposStage {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FailureWindow <= 0 {
		opts.FailureWindow = config.DefaultFailureWindow
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ReposStage{opts: opts, log: log}
}

// Name is the route name.
func (s *ReposStage) Name() string { return StageCollectRepos }

// PerEnterprise is true: each call collects one enterprise (one shard of it).
func (s *ReposStage) PerEnterprise() bool { return true }

// Validate refuses until (collection always runs up to now), a since further back than
// GitHub data is worth re-reading, and a cursor that is not one this stage issued for
// this enterprise and shard.
func (s *ReposStage) Validate(req Request) error {
	if req.Enterprise == nil {
		return BadInput("enterprise", "required for %s", StageCollectRepos)
	}
	if req.Until != nil {
		return BadInput("until", "collect_repos always collects up to now; give since alone to re-collect from a date")
	}
	if req.Since != nil {
		oldest := reposDay(req.Now).AddDate(0, 0, -maxRecollectDays)
		if req.Since.Before(oldest) {
			return BadInput("since", "%s is more than %d days back; re-collect from %s or later", req.Since.Format(time.DateOnly), maxRecollectDays, oldest.Format(time.DateOnly))
		}
	}
	if req.Cursor != "" {
		if _, err := s.cursorFor(req); err != nil {
			return err
		}
	}
	return nil
}

// reposCursor is the opaque continuation of collect_repos. A collection is the run of
// calls that share it: repositories (and streams) it completed carry its id, so a later
// call skips them and nothing committed is redone.
type reposCursor struct {
	Version    int    `json:"v"`
	Enterprise string `json:"e"`
	Shard      int    `json:"s"`
	Shards     int    `json:"n"`
	Collection string `json:"c"`
	Since      string `json:"since,omitempty"` // YYYY-MM-DD of a re-collection
	// SkipOrgs are the orgs GitHub refused to list (404, 403) at the start of the
	// collection: their repositories would only fail one by one.
	SkipOrgs []string `json:"skip,omitempty"`
	// Progress counts the calls of the collection that committed something. The work
	// done lives in the streams' watermarks, not in the cursor; without this count a
	// call that finished repositories with nothing new (no records) would hand back
	// the cursor it was given, which the orchestrator takes for a stage stuck in place.
	Progress int `json:"p,omitempty"`
}

const reposCursorPrefix = "repos1."

func (c reposCursor) encode() string {
	raw, _ := json.Marshal(c) // a struct of strings and ints always encodes
	return reposCursorPrefix + base64.RawURLEncoding.EncodeToString(raw)
}

func decodeReposCursor(s string) (reposCursor, error) {
	body, ok := strings.CutPrefix(s, reposCursorPrefix)
	raw, err := base64.RawURLEncoding.DecodeString(body)
	var c reposCursor
	if !ok || err != nil || json.Unmarshal(raw, &c) != nil || c.Version != 1 || c.Collection == "" || c.Shards < 1 || c.Shard < 0 || c.Shard >= c.Shards {
		return reposCursor{}, errors.New("is not a cursor of collect_repos; pass the cursor a previous call returned, or none to start over")
	}
	return c, nil
}

// cursorFor returns the request's cursor, checked against the request, or a new one.
func (s *ReposStage) cursorFor(req Request) (reposCursor, error) {
	shards := max(req.Shards, 1)
	since := ""
	if req.Since != nil {
		since = req.Since.Format(time.DateOnly)
	}
	if req.Cursor == "" {
		return reposCursor{Version: 1, Enterprise: req.Enterprise.ID, Shard: req.Shard, Shards: shards, Collection: newCollectionID(), Since: since}, nil
	}
	c, err := decodeReposCursor(req.Cursor)
	switch {
	case err != nil:
		return reposCursor{}, BadInput("cursor", "%v", err)
	case c.Enterprise != req.Enterprise.ID:
		return reposCursor{}, BadInput("cursor", "belongs to enterprise %q, not %q", c.Enterprise, req.Enterprise.ID)
	case c.Shard != req.Shard || c.Shards != shards:
		return reposCursor{}, BadInput("cursor", "belongs to shard %d of %d, not shard %d of %d", c.Shard, c.Shards, req.Shard, shards)
	case since != "" && since != c.Since:
		return reposCursor{}, BadInput("cursor", "belongs to a collection since %q; give the same since or none", c.Since)
	}
	return c, nil
}

func newCollectionID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// repoShard is the shard a repository belongs to: FNV-1a of its id (8 bytes, big
// endian) modulo the number of shards. Ids never change, so neither does the shard.
func repoShard(repoID int64, shards int) int {
	if shards <= 1 {
		return 0
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(repoID))
	h := fnv.New64a()
	_, _ = h.Write(b[:])
	return int(h.Sum64() % uint64(shards))
}

// Run collects the enterprise's repositories of the request's shard, committing as it
// goes, and answers Done=false with a cursor when its budget runs out.
func (s *ReposStage) Run(ctx context.Context, req Request) (Result, error) {
	if req.Enterprise == nil {
		return Result{}, BadInput("enterprise", "required for %s", StageCollectRepos)
	}
	e := req.Enterprise
	cur, err := s.cursorFor(req)
	if err != nil {
		return Result{}, err
	}
	if len(e.Orgs) == 0 {
		return Result{Status: StatusSkipped, Done: true,
			Warnings: []string{fmt.Sprintf("enterprise %s has no orgs configured; repositories are collected per org (set orgs in COLLECTOR_ENTERPRISES)", e.ID)}}, nil
	}
	client, err := s.opts.Clients(e.ID)
	if err != nil {
		return Result{}, err
	}
	ctx, counters := countGitHub(ctx)
	ctx = github.WithLogger(ctx, s.log)
	c := newRepoCollection(s, req, cur, client)
	ghCtx, cancel := c.budgetContext(ctx)
	defer cancel()
	c.ctx, c.ghCtx = ctx, ghCtx

	res, err := c.run()
	if err == nil && res.Done && req.Shard == 0 {
		// Once per finished collection (shard 0 speaks for the enterprise).
		if n, perr := s.opts.Store.PruneCachedPages(ctx, e.ID, cachedPageLifetime); perr != nil {
			s.log.WarnContext(ctx, "pruning cached GitHub pages", "enterprise", e.ID, "error", perr)
		} else if n > 0 {
			s.log.InfoContext(ctx, "pruned cached GitHub pages", "enterprise", e.ID, "pages", n)
		}
	}
	res.Counters = counters()
	res.Warnings = append(res.Warnings, tokenExpiryWarning(client, e.ID, s.opts.Now().UTC(), s.opts.Events)...)
	if err == nil {
		s.log.InfoContext(ctx, "collected repositories", "enterprise", e.ID, "shard", req.Shard, "done", res.Done,
			"records", res.Records, "repositories", c.reposDone, "api_calls", res.Counters.Requests, "not_modified", res.Counters.NotModified,
			"graphql_queries", res.Counters.GraphQLRequests, "graphql_points", res.Counters.GraphQLPoints)
	}
	return res, err
}

// repoCollection is one call's work.
type repoCollection struct {
	s      *ReposStage
	req    Request
	e      *config.Enterprise
	cur    reposCursor
	client *github.Client
	store  ReposStore
	bots   metrics.BotClassifier
	signal string

	ctx   context.Context // database work
	ghCtx context.Context // GitHub requests: also ends when the budget does

	now      time.Time // the stage clock when the call started
	since    time.Time // start of the history collected: the backfill window, or since
	forced   bool      // since was given: every repository, every stream, from since
	deadline time.Time // zero: no budget
	margin   time.Duration
	units    int // units of work started by this call

	records   int64
	progress  bool // something was committed by this call
	reposDone int
	partial   bool
	warnings  []string
}

// errOutOfTime stops a call between units of work when its budget is nearly spent.
var errOutOfTime = errors.New("time budget spent")

func newRepoCollection(s *ReposStage, req Request, cur reposCursor, client *github.Client) *repoCollection {
	e := req.Enterprise
	now := s.opts.Now().UTC()
	c := &repoCollection{
		s: s, req: req, e: e, cur: cur, client: client, store: s.opts.Store,
		bots: metrics.NewBotClassifier(e.BotLogins), signal: deploymentSignal(*e), now: now,
	}
	backfill := max(e.RepoBackfillDays, 1)
	c.since = reposDay(now).AddDate(0, 0, -backfill)
	if cur.Since != "" {
		since, err := time.Parse(time.DateOnly, cur.Since)
		if err == nil {
			c.since, c.forced = since.UTC(), true
		}
	}
	if !req.Deadline.IsZero() && !req.Now.IsZero() {
		// The deadline is the server's; carry the budget over to this stage's clock.
		budget := req.Deadline.Sub(req.Now)
		c.deadline = now.Add(budget)
		c.margin = min(reposUnitMargin, budget/4)
	}
	return c
}

// budgetContext ends GitHub requests when the budget does (in real time), so a rate-limit
// wait or a slow answer cannot run the call past its deadline.
func (c *repoCollection) budgetContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.deadline.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.deadline.Sub(c.now))
}

// startUnit reports whether another unit of work may start: always the first of a
// call (so every call makes progress), afterwards while the margin is left.
func (c *repoCollection) startUnit() bool {
	c.units++
	if c.units == 1 || c.deadline.IsZero() {
		return true
	}
	return c.deadline.Sub(c.s.opts.Now()) >= c.margin
}

func (c *repoCollection) run() (Result, error) {
	if c.req.Cursor == "" {
		for _, org := range c.e.Orgs {
			if !c.startUnit() {
				return c.paused(), nil
			}
			if err := c.inventory(org); err != nil {
				if errors.As(err, new(*repoGitHubError)) && (errors.Is(err, github.ErrNotFound) || errors.Is(err, github.ErrForbidden)) {
					c.cur.SkipOrgs = append(c.cur.SkipOrgs, strings.ToLower(org))
				}
				if stop, res, err := c.handle(err, "organization "+org, nil); stop {
					return res, err
				}
			}
		}
	}
	work, err := c.dueRepos()
	if err != nil {
		return c.result(false), err
	}
	if c.graphQL() {
		if stop, res, err := c.collectChunks(work); stop {
			return res, err
		}
		return c.result(true), nil
	}
	for _, w := range work {
		err := c.collectRepo(w)
		if err == nil {
			c.reposDone++
			continue
		}
		if stop, res, err := c.handle(err, w.state.Repo.FullName, &w.state.Repo); stop {
			return res, err
		}
	}
	return c.result(true), nil
}

func (c *repoCollection) result(done bool) Result {
	res := Result{Status: StatusSucceeded, Done: done, Records: c.records, Warnings: c.warnings}
	if c.partial {
		res.Status = StatusPartial
		res.Error = "some organizations or repositories could not be read; see warnings"
	}
	if !done {
		res.Cursor = c.cur.encode()
	}
	return res
}

func (c *repoCollection) paused() Result {
	if c.progress {
		c.cur.Progress++
	}
	return c.result(false)
}

// handle decides what an error of one org or repository means for the call: stop (with
// the result and error to return) or skip it and go on.
func (c *repoCollection) handle(err error, what string, repo *metrics.Repository) (stop bool, res Result, _ error) {
	budgetOver := c.ctx.Err() == nil && c.ghCtx.Err() != nil
	switch {
	case errors.Is(err, errOutOfTime) || (budgetOver && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, github.ErrRateLimited))):
		if !c.progress {
			// The budget ran out (a rate-limit wait, a slow answer) before anything was
			// committed: a later call with time to spare can do it.
			return true, c.result(false), fmt.Errorf("collect repositories of %s: %w: %w", c.e.ID, err, ErrUnavailable)
		}
		return true, c.paused(), nil
	case errors.Is(err, github.ErrTokenRefused):
		if c.s.opts.Events != nil {
			c.s.opts.Events.Event("TokenRefused", map[string]string{"enterprise": c.e.ID}, nil)
		}
		return true, c.result(false), fmt.Errorf("collect repositories of %s: %w: %w", c.e.ID, err, ErrPermanent)
	case errors.Is(err, github.ErrGraphQLQuery):
		return true, c.result(false), graphQLQueryError(c.e.ID, err)
	case errors.Is(err, github.ErrTokenUnusable), errors.Is(err, github.ErrDisallowedHost):
		// The stored secret is malformed, or GitHub redirected off the API origin:
		// only an operator can fix it.
		return true, c.result(false), fmt.Errorf("collect repositories of %s: %w: %w", c.e.ID, err, ErrPermanent)
	case errors.Is(err, github.ErrRateLimited) || errors.Is(err, github.ErrUnavailable):
		if !c.progress {
			return true, c.result(false), fmt.Errorf("collect repositories of %s: %w: %w", c.e.ID, err, ErrUnavailable)
		}
		c.warnings = append(c.warnings, fmt.Sprintf("stopped early, to continue with the cursor: %v", err))
		return true, c.paused(), nil
	case c.ctx.Err() != nil:
		return true, c.result(false), err
	case errors.As(err, new(*repoGitHubError)) && (errors.Is(err, github.ErrNotFound) || errors.Is(err, github.ErrForbidden)):
		// Deleted, transferred away, or no access: skip it; the rest of the call goes on.
		c.partial = true
		c.warnings = append(c.warnings, fmt.Sprintf("%s skipped: %v", what, err))
		if repo != nil && errors.Is(err, github.ErrNotFound) {
			if err := c.store.MarkRepoMissing(c.ctx, c.e.ID, repo.ID, c.now); err != nil {
				return true, c.result(false), err
			}
		}
		return false, Result{}, nil
	case errors.As(err, new(*repoGitHubError)):
		// Any other answer GitHub gave about this repository (a 422 on an odd ref, ...):
		// the repository is retried by the next call; the others go on.
		c.partial = true
		c.warnings = append(c.warnings, fmt.Sprintf("%s skipped: %v", what, err))
		return false, Result{}, nil
	}
	return true, c.result(false), err
}

// repoGitHubError marks an error GitHub answered while collecting one org or
// repository, as opposed to a database error (which stops the call).
type repoGitHubError struct{ err error }

func (e *repoGitHubError) Error() string { return e.err.Error() }
func (e *repoGitHubError) Unwrap() error { return e.err }

func ghErr(err error) error {
	if err == nil {
		return nil
	}
	return &repoGitHubError{err: err}
}

// inventory refreshes one org's repositories: the listing is sorted by pushed_at, so it
// stops past the newest push seen last time, unless a full listing is due (every
// full_sweep_days, or a re-collection), which also notices repositories that are gone.
func (c *repoCollection) inventory(org string) error {
	mark, ok, err := c.store.GetInventoryMark(c.ctx, c.e.ID, org)
	if err != nil {
		return err
	}
	full := c.forced || !ok || c.now.Sub(mark.SweptAt) >= c.sweepEvery()
	newest := mark.Watermark
	var repos []metrics.Repository
	for r, err := range c.client.ListOrgRepos(c.ghCtx, org) {
		if err != nil {
			return ghErr(err)
		}
		if !full && r.PushedAt.Before(mark.Watermark.Add(-inventorySlack)) {
			break
		}
		repos = append(repos, r)
		if r.PushedAt.After(newest) {
			newest = r.PushedAt
		}
	}
	next := postgres.Mark{Watermark: newest, SweptAt: mark.SweptAt}
	if full {
		next.SweptAt = c.now
	}
	n, err := c.store.SaveInventory(c.ctx, c.e.ID, postgres.InventoryListing{Org: org, Repos: repos, Complete: full, Mark: next, At: c.now})
	if err != nil {
		return err
	}
	c.records += n
	c.progress = true
	return nil
}

func (c *repoCollection) sweepEvery() time.Duration {
	return time.Duration(max(c.e.FullSweepDays, 1)) * 24 * time.Hour
}

// repoWork is a repository due in this call.
type repoWork struct {
	state postgres.RepoState
	// full: every stream, the default branch's commits included (new, pushed, sweep due
	// or re-collection); otherwise only the streams that change without a push.
	full bool
	// look is what the GraphQL look learnt of it (repo_api graphql); nil with REST.
	look *repoLook
}

// dueRepos picks this shard's repositories that need a pass, in full-name order: new
// ones, pushed ones, those whose full sweep is due, and those watched because something
// can change without a push (open pull requests, runs in progress, recent production
// deployments, open incidents, a push within the sweep period). Archived repositories
// are read-only: they are passed once more when found archived, then left alone.
func (c *repoCollection) dueRepos() ([]repoWork, error) {
	states, err := c.store.ListRepoStates(c.ctx, postgres.StateQuery{
		EnterpriseID: c.e.ID, Orgs: c.e.Orgs, Signal: c.signal,
		UnsettledFrom: c.unsettledFrom(), RecentFrom: c.recentFrom(),
	})
	if err != nil {
		return nil, err
	}
	var work []repoWork
	for _, st := range states {
		if repoShard(st.Repo.ID, c.cur.Shards) != c.cur.Shard || slices.Contains(c.cur.SkipOrgs, strings.ToLower(st.Repo.Org)) {
			continue
		}
		if st.Passed && st.Pass.Collection == c.cur.Collection {
			continue // done earlier in this collection
		}
		pushed := !st.Passed || st.Repo.PushedAt.After(st.Pass.Watermark)
		sweepDue := c.now.Sub(st.Pass.SweptAt) >= c.sweepEvery()
		watched := st.OpenPulls || st.OpenRuns || st.UnsettledDeployments || st.OpenIncidents ||
			c.now.Sub(st.Repo.PushedAt) < c.sweepEvery()
		switch {
		case c.forced || pushed:
			work = append(work, repoWork{state: st, full: true})
		case st.Repo.Archived:
		case sweepDue:
			work = append(work, repoWork{state: st, full: true})
		case watched:
			work = append(work, repoWork{state: st})
		}
	}
	return work, nil
}

// unsettledFrom bounds how far back a production deployment without a final status is
// still re-read: the backfill window.
func (c *repoCollection) unsettledFrom() time.Time {
	return c.now.AddDate(0, 0, -max(c.e.RepoBackfillDays, 1))
}

// recentFrom: production deployments created since then may still get a failure
// status that blames them, so they are re-read even when final.
func (c *repoCollection) recentFrom() time.Time { return c.now.Add(-c.s.opts.FailureWindow) }

// collectRepo runs a repository's streams that this collection has not completed, then
// records the pass.
func (c *repoCollection) collectRepo(w repoWork) error {
	repo := w.state.Repo
	var marks map[string]postgres.Mark
	pulls, deployments, incidents := c.pulls, c.deployments, c.incidents
	if w.look != nil {
		if w.look.err != nil {
			return ghErr(w.look.err)
		}
		marks = w.look.marks
		look := w.look
		pulls = func(r metrics.Repository, m postgres.Mark, ok bool) error { return c.pullsGraphQL(look, r, m, ok) }
		deployments = func(r metrics.Repository, m postgres.Mark, ok bool) error {
			return c.deploymentsGraphQL(look, r, m, ok)
		}
		incidents = func(r metrics.Repository, m postgres.Mark, ok bool) error { return c.incidentsGraphQL(look, r, m, ok) }
	} else {
		var err error
		if marks, err = c.store.GetRepoMarks(c.ctx, c.e.ID, repo.ID); err != nil {
			return err
		}
	}
	type stream struct {
		name string
		want bool
		run  func(repo metrics.Repository, mark postgres.Mark, ok bool) error
	}
	// Nothing was pushed inside the window: no commit of it can be there. Archived
	// (read-only) since before the window: nothing of it can be there.
	quiet := repo.PushedAt.Before(c.since)
	frozen := repo.Archived && repo.UpdatedAt.Before(c.since)
	streams := []stream{
		{postgres.StreamRepoCommits, w.full && !quiet, c.commits},
		{postgres.StreamRepoPulls, !frozen, pulls},
		{postgres.StreamRepoRuns, !frozen, c.runs},
		{postgres.StreamRepoDeployments, !frozen && c.signal == metrics.SignalDeployment, deployments},
		{postgres.StreamRepoChanges, !frozen, c.changes},
		{postgres.StreamRepoIncidents, !frozen, incidents},
	}
	for _, st := range streams {
		mark, ok := marks[st.name]
		if !st.want || (ok && mark.Collection == c.cur.Collection) {
			continue
		}
		if !c.startUnit() {
			return errOutOfTime
		}
		if err := st.run(repo, mark, ok); err != nil {
			return err
		}
	}
	pass := postgres.Mark{Watermark: repo.PushedAt, Collection: c.cur.Collection, SweptAt: w.state.Pass.SweptAt}
	if w.full {
		pass.SweptAt = c.now
	}
	if err := c.store.FinishRepoPass(c.ctx, c.e.ID, repo.ID, pass); err != nil {
		return err
	}
	c.progress = true
	c.s.log.DebugContext(c.ctx, "collected repository", "repo", repo.FullName, "full", w.full)
	return nil
}

// saved counts what a store write did.
func (c *repoCollection) saved(n int64, err error) error {
	if err != nil {
		return err
	}
	c.records += n
	c.progress = true
	return nil
}

// reposDay is t's UTC midnight.
func reposDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
