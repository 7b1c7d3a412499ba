package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/github"
	"metrics-collector/internal/githubsim"
	"metrics-collector/internal/metrics"
	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
	"metrics-collector/internal/server"
)

// The collect_repos tests run the stage against the GitHub simulator (two httptest
// servers), the real GitHub client and a fresh PostgreSQL database, and compare what
// was stored with the simulator's ground truth.

var _ pipeline.ReposStore = (*postgres.Store)(nil)

// reposSimNow is the simulated time the tests start at: in the past of the machine's
// clock (go-github keeps its own rate-limit bookkeeping on the wall clock) and far from
// midnight (the backfill window starts at a UTC midnight).
var reposSimNow = time.Date(2026, 9, 15, 10, 0, 0, 0, time.UTC)

const reposToken = "fake-token-simReposTest-1"

// reposSimConfig is a small world: one org of six repositories, half active — the
// showcase (merge, squash and rebase merges, a failed and a slow deployment, staging,
// incidents, a run in progress) and a busy one (a day of more than 1,000 runs).
func reposSimConfig() githubsim.Config {
	return githubsim.Config{
		Seed: 11, Now: reposSimNow, HistoryDays: 45, FutureDays: 10, RateLimit: 1_000_000,
		Enterprises: []githubsim.EnterpriseConfig{{
			ID: "ent1", Slug: "acme", Token: reposToken, Developers: 12,
			Orgs: []githubsim.OrgConfig{{Login: "acme-web", Repos: 6, ActiveShare: 0.5, PRsPerWeek: 3, BusyRepo: true}},
		}},
	}
}

// reposClock is the GitHub client's clock: the simulator's time plus every wait the
// client asked for, so backoffs and rate-limit waits end at once without moving the
// simulated world.
type reposClock struct {
	sim    *githubsim.Simulator
	mu     sync.Mutex
	waited time.Duration
}

func (c *reposClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sim.Now().Add(c.waited)
}

func (c *reposClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.waited += d
	c.mu.Unlock()
	return nil
}

// reposEnv is one simulator, database, client, stage and server.
type reposEnv struct {
	t      *testing.T
	sim    *githubsim.Simulator
	hosts  *githubsim.Servers
	store  *postgres.Store
	cfg    config.Config
	ent    config.Enterprise
	client *github.Client
	stage  *pipeline.ReposStage
	srv    *httptest.Server
	events *reposEvents

	// API requests seen by the simulator's front: the stage clock ticks one second per
	// request when ticking is on, and intercept may answer or cancel instead.
	requests  atomic.Int64
	ticking   atomic.Bool
	mu        sync.Mutex
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

type reposSetup struct {
	sim        func(*githubsim.Config)
	enterprise map[string]any // overrides of the COLLECTOR_ENTERPRISES entry
	token      string
}

type reposEvents struct {
	mu     sync.Mutex
	events []string
}

func (e *reposEvents) Event(name string, props map[string]string, _ map[string]float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, name+" "+props["enterprise"])
}

func newReposEnv(t *testing.T, setup reposSetup) *reposEnv {
	t.Helper()
	cfg := reposSimConfig()
	if setup.sim != nil {
		setup.sim(&cfg)
	}
	sim, err := githubsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &reposEnv{t: t, sim: sim, store: pgtest.New(t), events: &reposEvents{}}
	front := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.requests.Add(1)
		e.mu.Lock()
		intercept := e.intercept
		e.mu.Unlock()
		if intercept != nil && intercept(w, r) {
			return
		}
		sim.API().ServeHTTP(w, r)
	})
	e.hosts = &githubsim.Servers{API: httptest.NewServer(front), Downloads: httptest.NewServer(sim.Downloads())}
	sim.SetDownloadURL(e.hosts.Downloads.URL)
	t.Cleanup(e.hosts.Close)

	entry := map[string]any{
		"id": "ent1", "enterprise": "acme", "orgs": []string{"acme-web"}, "api_url": e.hosts.API.URL + "/",
		"token_secret": "github-pat-ent1", "repo_backfill_days": 90, "bot_logins": []string{"release-robot"},
	}
	for k, v := range setup.enterprise {
		entry[k] = v
	}
	list, _ := json.Marshal([]any{entry})
	e.cfg, err = config.Parse(func(name string) string {
		switch name {
		case "COLLECTOR_ENTERPRISES":
			return string(list)
		case "DATABASE_URL":
			return "postgres://postgres@127.0.0.1:5432/unused"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	e.ent = e.cfg.Enterprises[0]
	token := reposToken
	if setup.token != "" {
		token = setup.token
	}
	e.client, err = github.New(github.Options{
		EnterpriseID: e.ent.ID, BaseURL: e.ent.APIURL, TokenSecret: e.ent.TokenSecret,
		Token:      func(context.Context) (string, error) { return token, nil },
		HTTPClient: &http.Client{}, Clock: &reposClock{sim: sim}, MaxRate: math.Inf(1),
		Cache: e.store, TokenHealth: e.store,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.stage = pipeline.NewReposStage(pipeline.ReposOptions{
		Store: e.store,
		Clients: func(id string) (*github.Client, error) {
			if id != e.ent.ID {
				return nil, fmt.Errorf("no client for %q", id)
			}
			return e.client, nil
		},
		Events: e.events,
		Now:    e.stageNow,
	})
	e.srv = httptest.NewServer(server.New(server.Options{
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Store: e.store, Config: e.cfg,
		Stages: []pipeline.Stage{e.stage},
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// stageNow is the simulator's time, plus one second per API request while ticking, so
// a call's time budget runs out after a known amount of work.
func (e *reposEnv) stageNow() time.Time {
	now := e.sim.Now()
	if e.ticking.Load() {
		now = now.Add(time.Duration(e.requests.Load()) * time.Second)
	}
	return now
}

func (e *reposEnv) setIntercept(fn func(w http.ResponseWriter, r *http.Request) bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.intercept = fn
}

// reposAnswer is a collect_repos response.
type reposAnswer struct {
	Status      string   `json:"status"`
	Done        bool     `json:"done"`
	Cursor      *string  `json:"cursor"`
	Records     int64    `json:"records"`
	APICalls    int64    `json:"api_calls"`
	NotModified int64    `json:"not_modified"`
	Warnings    []string `json:"warnings"`
	Error       string   `json:"error"`
	code        int
	raw         string
}

func (e *reposEnv) post(body map[string]any) reposAnswer {
	e.t.Helper()
	raw, _ := json.Marshal(body)
	resp, err := http.Post(e.srv.URL+"/api/collect_repos", "application/json", strings.NewReader(string(raw)))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	var a reposAnswer
	if err := json.Unmarshal(out, &a); err != nil {
		e.t.Fatalf("collect_repos answered %d %q", resp.StatusCode, out)
	}
	a.code, a.raw = resp.StatusCode, string(out)
	return a
}

// collect calls collect_repos through the route until it is done and returns every
// answer. body is the first call's; later calls add the cursor.
func (e *reposEnv) collect(body map[string]any) []reposAnswer {
	e.t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	body["enterprise"] = e.ent.ID
	var answers []reposAnswer
	for range 2000 {
		a := e.post(body)
		answers = append(answers, a)
		if a.code != http.StatusOK {
			e.t.Fatalf("collect_repos answered %d: %s", a.code, a.raw)
		}
		if a.Done {
			return answers
		}
		if a.Cursor == nil || *a.Cursor == "" {
			e.t.Fatalf("not done and no cursor: %s", a.raw)
		}
		body["cursor"] = *a.Cursor
	}
	e.t.Fatal("collect_repos never finished")
	return nil
}

// run calls the stage directly, without a time budget.
func (e *reposEnv) run(ctx context.Context, cursor string) (pipeline.Result, error) {
	return e.stage.Run(ctx, pipeline.Request{RunID: 1, Enterprise: &e.ent, Cursor: cursor, Shards: 1, Now: e.stageNow()})
}

// charged counts the API requests since the last reset that cost quota, and all of them.
func (e *reposEnv) charged() (charged, all int) {
	for _, r := range e.sim.Requests() {
		if r.Host != githubsim.HostAPI {
			continue
		}
		all++
		if r.Charged {
			charged++
		}
	}
	return charged, all
}

// reposCost is what the requests since the last reset cost: REST requests charged
// against the core budget, GraphQL queries and their points, by operation and by REST
// endpoint kind.
type reposCost struct {
	restCharged, all, graphQL, points int
	ops, restKinds                    map[string]int
}

func (c reposCost) String() string {
	return fmt.Sprintf("%d requests: %d REST charged, %d GraphQL queries (%d points) %v", c.all, c.restCharged, c.graphQL, c.points, c.ops)
}

func (e *reposEnv) cost() reposCost {
	c := reposCost{ops: map[string]int{}, restKinds: map[string]int{}}
	for _, r := range e.sim.Requests() {
		if r.Host != githubsim.HostAPI {
			continue
		}
		c.all++
		switch {
		case r.Path == "/graphql":
			c.graphQL++
			c.points += r.Points
			c.ops[r.Operation]++
		case r.Charged:
			c.restCharged++
			c.restKinds[requestKind(r.Path)]++
		}
	}
	return c
}

// since is the first day a first run collects.
func (e *reposEnv) since() time.Time {
	now := e.sim.Now()
	return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -e.ent.RepoBackfillDays)
}

func (e *reposEnv) truth() githubsim.Truth {
	e.t.Helper()
	tr, err := e.sim.Truth("acme")
	if err != nil {
		e.t.Fatal(err)
	}
	return tr
}

// Stored rows, read back into the metrics types.

type reposDump struct {
	Repositories []metrics.Repository
	Commits      map[string][]metrics.Commit // by full name, by SHA
	PullRequests []metrics.PullRequest       // by repository, number
	WorkflowRuns []metrics.WorkflowRun       // by repository, id
	Deployments  []metrics.Deployment        // by repository, id
	Incidents    []metrics.Incident          // by repository, number
	Bots         map[string]bool             // every *_is_bot login → flag
}

func (e *reposEnv) dump(signal string) reposDump {
	e.t.Helper()
	return dumpRepos(e.t, e.store, signal)
}

func dumpRepos(t testing.TB, store *postgres.Store, signal string) reposDump {
	t.Helper()
	ctx := context.Background()
	d := reposDump{Commits: map[string][]metrics.Commit{}, Bots: map[string]bool{}}
	names := map[int64]string{}
	query := func(sql string, args []any, scan func(row func(...any) error) error) {
		t.Helper()
		rows, err := store.Pool().Query(ctx, sql, args...)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows.Scan); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	bot := func(login string, isBot bool) {
		if login != "" {
			d.Bots[login] = isBot
		}
	}
	query(`SELECT id, org, name, full_name, default_branch, archived, fork, private, created_at, pushed_at, updated_at
	       FROM repositories ORDER BY full_name`, nil, func(scan func(...any) error) error {
		var r metrics.Repository
		var created, pushed, updated *time.Time
		err := scan(&r.ID, &r.Org, &r.Name, &r.FullName, &r.DefaultBranch, &r.Archived, &r.Fork, &r.Private, &created, &pushed, &updated)
		r.CreatedAt, r.PushedAt, r.UpdatedAt = utcOrZero(created), utcOrZero(pushed), utcOrZero(updated)
		names[r.ID] = r.FullName
		d.Repositories = append(d.Repositories, r)
		return err
	})
	query(`SELECT repo_id, sha, author_login, author_name, author_is_bot, authored_at, committer_login, committed_at,
	              message_headline, parent_count, reverts FROM commits ORDER BY repo_id, sha`, nil, func(scan func(...any) error) error {
		var repo int64
		var c metrics.Commit
		var isBot bool
		err := scan(&repo, &c.SHA, &c.AuthorLogin, &c.AuthorName, &isBot, &c.AuthoredAt, &c.CommitterLogin, &c.CommittedAt, &c.MessageHeadline, &c.ParentCount, &c.Reverts)
		c.AuthoredAt, c.CommittedAt = c.AuthoredAt.UTC(), c.CommittedAt.UTC()
		d.Commits[names[repo]] = append(d.Commits[names[repo]], c)
		bot(c.AuthorLogin, isBot)
		return err
	})
	pulls := map[[2]int64]int{}
	var pullRepos []int64
	query(`SELECT repo_id, number, id, author_login, author_is_bot, title, state, draft, base_ref, head_ref, labels,
	              created_at, updated_at, closed_at, merged_at, merge_commit_sha, additions, deletions, changed_files, reverts_number,
	              coalesce(author_id, 0)
	       FROM pull_requests ORDER BY repo_id, number`, nil, func(scan func(...any) error) error {
		var repo int64
		var p metrics.PullRequest
		var isBot bool
		err := scan(&repo, &p.Number, &p.ID, &p.AuthorLogin, &isBot, &p.Title, &p.State, &p.Draft, &p.BaseRef, &p.HeadRef, &p.Labels,
			&p.CreatedAt, &p.UpdatedAt, &p.ClosedAt, &p.MergedAt, &p.MergeCommitSHA, &p.Additions, &p.Deletions, &p.ChangedFiles, &p.RevertsNumber, &p.AuthorID)
		p.RepoFullName, p.CreatedAt, p.UpdatedAt, p.ClosedAt, p.MergedAt = names[repo], p.CreatedAt.UTC(), p.UpdatedAt.UTC(), utcPtrOf(p.ClosedAt), utcPtrOf(p.MergedAt)
		if len(p.Labels) == 0 {
			p.Labels = nil
		}
		pulls[[2]int64{repo, int64(p.Number)}] = len(d.PullRequests)
		pullRepos = append(pullRepos, repo)
		d.PullRequests = append(d.PullRequests, p)
		bot(p.AuthorLogin, isBot)
		return err
	})
	query(`SELECT repo_id, pr_number, sha, author_login, author_name, authored_at, committer_login, committed_at,
	              message_headline, parent_count FROM pull_request_commits ORDER BY repo_id, pr_number, position`, nil, func(scan func(...any) error) error {
		var repo, number int64
		var c metrics.Commit
		var committed *time.Time
		err := scan(&repo, &number, &c.SHA, &c.AuthorLogin, &c.AuthorName, &c.AuthoredAt, &c.CommitterLogin, &committed, &c.MessageHeadline, &c.ParentCount)
		c.AuthoredAt, c.CommittedAt = c.AuthoredAt.UTC(), utcOrZero(committed)
		if i, ok := pulls[[2]int64{repo, number}]; ok {
			d.PullRequests[i].Commits = append(d.PullRequests[i].Commits, c)
		} else {
			t.Errorf("commit %s of pull request %d without its pull request", c.SHA, number)
		}
		return err
	})
	query(`SELECT repo_id, pr_number, review_id, reviewer_login, reviewer_is_bot, state, submitted_at
	       FROM pull_request_reviews ORDER BY repo_id, pr_number, submitted_at, review_id`, nil, func(scan func(...any) error) error {
		var repo, number int64
		var r metrics.Review
		var isBot bool
		err := scan(&repo, &number, &r.ID, &r.ReviewerLogin, &isBot, &r.State, &r.SubmittedAt)
		r.SubmittedAt = r.SubmittedAt.UTC()
		if i, ok := pulls[[2]int64{repo, number}]; ok {
			d.PullRequests[i].Reviews = append(d.PullRequests[i].Reviews, r)
		} else {
			t.Errorf("review %d of pull request %d without its pull request", r.ID, number)
		}
		bot(r.ReviewerLogin, isBot)
		return err
	})
	sortByRepo(d.PullRequests, func(p metrics.PullRequest) (string, int64) { return p.RepoFullName, int64(p.Number) })
	query(`SELECT repo_id, run_id, workflow_id, name, path, event, head_branch, head_sha, status, conclusion, actor_login,
	              actor_is_bot, run_attempt, created_at, updated_at, run_started_at FROM workflow_runs ORDER BY repo_id, run_id`, nil,
		func(scan func(...any) error) error {
			var repo int64
			var r metrics.WorkflowRun
			var isBot bool
			var started *time.Time
			err := scan(&repo, &r.ID, &r.WorkflowID, &r.Name, &r.Path, &r.Event, &r.HeadBranch, &r.HeadSHA, &r.Status, &r.Conclusion,
				&r.ActorLogin, &isBot, &r.RunAttempt, &r.CreatedAt, &r.UpdatedAt, &started)
			r.RepoFullName, r.CreatedAt, r.UpdatedAt, r.RunStartedAt = names[repo], r.CreatedAt.UTC(), r.UpdatedAt.UTC(), utcOrZero(started)
			d.WorkflowRuns = append(d.WorkflowRuns, r)
			bot(r.ActorLogin, isBot)
			return err
		})
	sortByRepo(d.WorkflowRuns, func(r metrics.WorkflowRun) (string, int64) { return r.RepoFullName, r.ID })
	deployments := map[[2]int64]int{}
	query(`SELECT repo_id, deployment_id, sha, ref, environment, production, creator_login, created_at, latest_state
	       FROM deployments WHERE signal = $1 ORDER BY repo_id, deployment_id`, []any{signal}, func(scan func(...any) error) error {
		var repo int64
		var dp metrics.Deployment
		var latest string
		err := scan(&repo, &dp.ID, &dp.SHA, &dp.Ref, &dp.Environment, &dp.Production, &dp.CreatorLogin, &dp.CreatedAt, &latest)
		dp.RepoFullName, dp.Signal, dp.CreatedAt = names[repo], signal, dp.CreatedAt.UTC()
		deployments[[2]int64{repo, dp.ID}] = len(d.Deployments)
		d.Deployments = append(d.Deployments, dp)
		return err
	})
	query(`SELECT repo_id, deployment_id, status_id, state, created_at FROM deployment_statuses WHERE signal = $1
	       ORDER BY repo_id, deployment_id, created_at, status_id`, []any{signal}, func(scan func(...any) error) error {
		var repo, id int64
		var st metrics.DeploymentStatus
		err := scan(&repo, &id, &st.ID, &st.State, &st.CreatedAt)
		st.CreatedAt = st.CreatedAt.UTC()
		i, ok := deployments[[2]int64{repo, id}]
		if !ok {
			t.Errorf("status %d of deployment %d without its deployment", st.ID, id)
			return err
		}
		d.Deployments[i].Statuses = append(d.Deployments[i].Statuses, st)
		return err
	})
	query(`SELECT repo_id, deployment_id, sha, author_login, author_name, authored_at, committer_login, committed_at,
	              message_headline, parent_count FROM deployment_changes WHERE signal = $1
	       ORDER BY repo_id, deployment_id, position`, []any{signal}, func(scan func(...any) error) error {
		var repo, id int64
		var c metrics.Commit
		var committed *time.Time
		err := scan(&repo, &id, &c.SHA, &c.AuthorLogin, &c.AuthorName, &c.AuthoredAt, &c.CommitterLogin, &committed, &c.MessageHeadline, &c.ParentCount)
		c.AuthoredAt, c.CommittedAt = c.AuthoredAt.UTC(), utcOrZero(committed)
		i, ok := deployments[[2]int64{repo, id}]
		if !ok {
			t.Errorf("change %s of deployment %d without its deployment", c.SHA, id)
			return err
		}
		d.Deployments[i].Changes = append(d.Deployments[i].Changes, c)
		return err
	})
	sortByRepo(d.Deployments, func(dp metrics.Deployment) (string, int64) { return dp.RepoFullName, dp.ID })
	query(`SELECT repo_id, number, title, author_login, labels, created_at, closed_at, state_reason FROM incidents ORDER BY repo_id, number`, nil,
		func(scan func(...any) error) error {
			var repo int64
			var inc metrics.Incident
			err := scan(&repo, &inc.Number, &inc.Title, &inc.AuthorLogin, &inc.Labels, &inc.CreatedAt, &inc.ClosedAt, &inc.StateReason)
			inc.RepoFullName, inc.CreatedAt, inc.ClosedAt = names[repo], inc.CreatedAt.UTC(), utcPtrOf(inc.ClosedAt)
			d.Incidents = append(d.Incidents, inc)
			return err
		})
	sortByRepo(d.Incidents, func(i metrics.Incident) (string, int64) { return i.RepoFullName, int64(i.Number) })
	return d
}

func sortByRepo[T any](items []T, key func(T) (string, int64)) {
	sort.SliceStable(items, func(i, j int) bool {
		ri, ki := key(items[i])
		rj, kj := key(items[j])
		if ri != rj {
			return ri < rj
		}
		return ki < kj
	})
}

func utcOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func utcPtrOf(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// want is the ground truth cut to what a collection since `since` stores: commits
// committed since then, pull requests updated since then, runs created since that
// day, deployments (statuses only for production ones), incidents.
func reposWant(tr githubsim.Truth, since time.Time) reposDump {
	w := reposDump{Repositories: tr.Repositories, Commits: map[string][]metrics.Commit{}}
	for name, commits := range tr.Commits {
		for _, c := range commits {
			if !c.CommittedAt.Before(since) {
				w.Commits[name] = append(w.Commits[name], c)
			}
		}
		slices.SortFunc(w.Commits[name], func(a, b metrics.Commit) int { return strings.Compare(a.SHA, b.SHA) })
	}
	// What a revert commit reverts is stored for the default branch's commits only (the
	// revert signals read those); a pull request's commits and a deployment's changes
	// keep their SHAs and headlines.
	withoutReverts := func(cs []metrics.Commit) []metrics.Commit {
		out := slices.Clone(cs)
		for i := range out {
			out[i].Reverts = nil
		}
		return out
	}
	for _, p := range tr.PullRequests {
		if !p.UpdatedAt.Before(since) {
			p.Commits = withoutReverts(p.Commits)
			w.PullRequests = append(w.PullRequests, p)
		}
	}
	for _, r := range tr.WorkflowRuns {
		if !r.CreatedAt.Before(since) {
			w.WorkflowRuns = append(w.WorkflowRuns, r)
		}
	}
	for _, d := range tr.Deployments {
		if d.CreatedAt.Before(since) {
			continue
		}
		if !d.Production {
			d.Statuses = nil
		}
		d.Changes = withoutReverts(d.Changes)
		w.Deployments = append(w.Deployments, d)
	}
	// Incidents closed as not planned or as duplicates are no incidents: not stored.
	for _, in := range tr.Incidents {
		if metrics.CountsAsIncident(in) {
			w.Incidents = append(w.Incidents, in)
		}
	}
	return w
}
