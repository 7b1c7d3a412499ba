package pipeline_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"metrics-collector/internal/config"
	"metrics-collector/internal/githubsim"
	"metrics-collector/internal/metrics"
	"metrics-collector/internal/pipeline"
)

// compareWithTruth fails the test where the stored rows differ from GitHub's.
func compareWithTruth(t *testing.T, got, want reposDump) {
	t.Helper()
	opts := cmp.Options{cmpopts.EquateEmpty()}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"repositories", got.Repositories, want.Repositories},
		{"commits", got.Commits, want.Commits},
		{"pull requests", got.PullRequests, want.PullRequests},
		{"workflow runs", got.WorkflowRuns, want.WorkflowRuns},
		{"deployments", got.Deployments, want.Deployments},
		{"incidents", got.Incidents, want.Incidents},
	} {
		if diff := cmp.Diff(c.want, c.got, opts); diff != "" {
			t.Errorf("%s differ from GitHub's (-github +stored):\n%s", c.name, diff)
		}
	}
}

func sumRecords(answers []reposAnswer) (records int64) {
	for _, a := range answers {
		records += a.Records
	}
	return records
}

func TestReposFirstRunStoresWhatGitHubHasAndASecondRunCostsNothing(t *testing.T) {
	t.Parallel()
	for _, api := range []string{config.RepoAPIGraphQL, config.RepoAPIREST} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			testFirstAndSecondRun(t, api)
		})
	}
}

func testFirstAndSecondRun(t *testing.T, api string) {
	e := newReposEnv(t, reposSetup{enterprise: map[string]any{"repo_api": api}})

	first := e.collect(nil)
	cost1 := e.cost()
	stored := e.dump(metrics.SignalDeployment)
	compareWithTruth(t, stored, reposWant(e.truth(), e.since()))
	if len(stored.Repositories) == 0 || len(stored.Commits) == 0 || len(stored.PullRequests) == 0 || len(stored.WorkflowRuns) == 0 ||
		len(stored.Deployments) == 0 || len(stored.Incidents) == 0 {
		t.Fatalf("something was not collected: %d repositories, %d with commits, %d pull requests, %d runs, %d deployments, %d incidents",
			len(stored.Repositories), len(stored.Commits), len(stored.PullRequests), len(stored.WorkflowRuns), len(stored.Deployments), len(stored.Incidents))
	}
	t.Logf("first run: %d calls, %d records, %s", len(first), sumRecords(first), cost1)
	checkBusyRepository(t, e, stored)
	if api == config.RepoAPIREST && cost1.graphQL > 0 {
		t.Errorf("repo_api rest sent %d GraphQL queries", cost1.graphQL)
	}
	if api == config.RepoAPIGraphQL && (cost1.graphQL == 0 || cost1.ops["Probe"] == 0 || cost1.restKinds["pull"] > 0 || cost1.restKinds["deployment statuses"] > 0) {
		t.Errorf("repo_api graphql: %s; want pull requests and statuses read through GraphQL", cost1)
	}

	// Nothing new: the second run asks only conditional questions GitHub answers 304,
	// except the runs listings of busy repositories, whose window moved forward once —
	// and, through GraphQL, one probe query for the watched repositories.
	e.sim.ResetRequests()
	second := e.collect(nil)
	cost2 := e.cost()
	t.Logf("second run, nothing new: %d records, %s", sumRecords(second), cost2)
	if got := sumRecords(second); got != 0 {
		t.Errorf("the second run wrote %d rows; nothing changed", got)
	}
	if cost2.restCharged > 3 {
		t.Errorf("the second run cost %d charged REST requests, want at most 3 (the moved runs windows)", cost2.restCharged)
	}
	checkOnlyProbes(t, api, cost2)
	e.sim.ResetRequests()
	third := e.collect(nil)
	cost3 := e.cost()
	t.Logf("third run, nothing new: %d records, %s", sumRecords(third), cost3)
	if cost3.restCharged != 0 || sumRecords(third) != 0 {
		t.Errorf("the third run cost %d charged REST requests and wrote %d rows, want none", cost3.restCharged, sumRecords(third))
	}
	checkOnlyProbes(t, api, cost3)
	// Idle repositories (no push within the sweep period, nothing open) are not asked
	// anything until their sweep is due.
	for _, r := range stored.Repositories {
		if e.sim.Now().Sub(r.PushedAt) < 7*24*time.Hour || hasOpenWork(stored, r.FullName) {
			continue
		}
		for _, req := range e.sim.Requests() {
			if strings.HasPrefix(req.Path, "/repos/"+r.FullName+"/") {
				t.Errorf("idle repository %s was asked %s", r.FullName, req.Path)
			}
		}
	}
	compareWithTruth(t, e.dump(metrics.SignalDeployment), reposWant(e.truth(), e.since()))

	// Half an hour later the slow production deployment has succeeded, the run that was
	// in progress has completed, and new work has landed.
	e.sim.Advance(30 * time.Minute)
	e.sim.ResetRequests()
	later := e.collect(nil)
	t.Logf("half an hour later: %d records, %s", sumRecords(later), e.cost())
	if sumRecords(later) == 0 {
		t.Error("half an hour later nothing was written; the world moved")
	}
	compareWithTruth(t, e.dump(metrics.SignalDeployment), reposWant(e.truth(), e.since()))
}

// checkOnlyProbes checks a run with nothing new: through GraphQL, one probe query per
// lookChunk watched repositories and nothing else; through REST, no GraphQL at all.
func checkOnlyProbes(t *testing.T, api string, c reposCost) {
	t.Helper()
	if api == config.RepoAPIREST {
		if c.graphQL != 0 {
			t.Errorf("repo_api rest sent %d GraphQL queries", c.graphQL)
		}
		return
	}
	if c.graphQL != c.ops["Probe"] || c.graphQL > 1 || c.points > c.graphQL {
		t.Errorf("nothing new cost %s; want one probe query of one point for the six repositories", c)
	}
}

// checkBusyRepository checks the repository with a day of more than 1,000 runs: every
// run stored, read through windows GitHub had to answer in pieces.
func checkBusyRepository(t *testing.T, e *reposEnv, d reposDump) {
	t.Helper()
	perRepo := map[string]int{}
	for _, r := range d.WorkflowRuns {
		perRepo[r.RepoFullName]++
	}
	busy := ""
	for name, n := range perRepo {
		if n > 1000 {
			busy = name
		}
	}
	if busy == "" {
		t.Fatalf("no repository with more than 1,000 runs stored: %v", perRepo)
	}
	split := false
	for _, r := range e.sim.Requests() {
		if r.Path != "/repos/"+busy+"/actions/runs" {
			continue
		}
		q, _ := url.ParseQuery(r.Query)
		from, to, _ := strings.Cut(q.Get("created"), "..")
		f, err1 := time.Parse(time.RFC3339, from)
		u, err2 := time.Parse(time.RFC3339, to)
		if err1 == nil && err2 == nil && u.Sub(f) < 24*time.Hour {
			split = true
		}
	}
	if !split {
		t.Errorf("%s: no runs window shorter than a day was asked; the 1,000-result window was not split", busy)
	}
}

func hasOpenWork(d reposDump, repo string) bool {
	for _, p := range d.PullRequests {
		if p.RepoFullName == repo && p.State == "open" {
			return true
		}
	}
	for _, r := range d.WorkflowRuns {
		if r.RepoFullName == repo && !r.Completed() {
			return true
		}
	}
	for _, i := range d.Incidents {
		if i.RepoFullName == repo && i.ClosedAt == nil {
			return true
		}
	}
	return false
}

func TestReposFullSweepVisitsIdleRepositoriesForFree(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t, reposSetup{})
	e.collect(nil)
	stored := e.dump(metrics.SignalDeployment)
	// Eight days on, the weekly sweep is due: every repository that is not archived is
	// asked again — conditionally, so the idle ones cost nothing — and the org is
	// listed in full.
	e.sim.Advance(8 * 24 * time.Hour)
	e.sim.ResetRequests()
	e.collect(nil)
	asked, charged := map[string]bool{}, map[string]int{}
	for _, r := range e.sim.Requests() {
		if parts := strings.Split(r.Path, "/"); len(parts) > 3 && parts[1] == "repos" {
			name := parts[2] + "/" + parts[3]
			asked[name] = true
			if r.Charged {
				charged[name]++
			}
		}
	}
	for _, r := range stored.Repositories {
		switch {
		case r.Archived && asked[r.FullName]:
			t.Errorf("archived %s was asked again", r.FullName)
		case !r.Archived && !asked[r.FullName]:
			t.Errorf("%s was not swept", r.FullName)
		case !r.Archived && r.PushedAt.Before(e.since()) && charged[r.FullName] > 0:
			t.Errorf("idle %s cost %d charged requests in its sweep", r.FullName, charged[r.FullName])
		}
	}
	compareWithTruth(t, e.dump(metrics.SignalDeployment), reposWant(e.truth(), e.since()))
}

func TestReposTheShowcaseCases(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t, reposSetup{})
	tr := e.truth()
	// The showcase repository is the one with the pinned slow deployment.
	var showcase string
	var slow metrics.Deployment
	for _, d := range tr.Deployments {
		if d.Production && d.CreatedAt.After(reposSimNow.Add(-10*time.Minute)) {
			slow, showcase = d, d.RepoFullName
		}
	}
	if slow.ID == 0 {
		t.Fatal("the simulator has no production deployment in progress at now")
	}
	var open metrics.WorkflowRun
	for _, r := range tr.WorkflowRuns {
		if r.RepoFullName == showcase && !r.Completed() {
			open = r
		}
	}
	if open.ID == 0 {
		t.Fatal("the simulator has no run in progress at now")
	}

	e.collect(nil)
	d := e.dump(metrics.SignalDeployment)
	byID := map[int64]metrics.Deployment{}
	for _, dp := range d.Deployments {
		byID[dp.ID] = dp
	}

	t.Run("a production deployment in progress, then successful", func(t *testing.T) {
		got := byID[slow.ID]
		if _, ok := metrics.SucceededAt(got); ok || len(got.Statuses) == 0 || got.Changes != nil {
			t.Fatalf("first pass: %+v, want statuses without success and no changes", got)
		}
		e.sim.Advance(30 * time.Minute)
		e.collect(nil)
		later := e.dump(metrics.SignalDeployment)
		var after metrics.Deployment
		for _, dp := range later.Deployments {
			if dp.ID == slow.ID {
				after = dp
			}
		}
		if _, ok := metrics.SucceededAt(after); !ok || len(after.Changes) == 0 {
			t.Fatalf("after it succeeded: %+v, want a success status and its changes", after)
		}
		completed := false
		for _, r := range later.WorkflowRuns {
			if r.ID == open.ID {
				completed = r.Completed()
			}
		}
		if !completed {
			t.Errorf("run %d, in progress on the first pass, is not stored completed half an hour later", open.ID)
		}
		compareWithTruth(t, later, reposWant(e.truth(), e.since()))
	})

	t.Run("a run in progress on the first pass", func(t *testing.T) {
		for _, r := range d.WorkflowRuns {
			if r.ID == open.ID && r.Completed() {
				t.Errorf("run %d stored completed on the first pass; it was %s", r.ID, open.Status)
			}
		}
	})

	t.Run("a failed production deployment and its redeploy", func(t *testing.T) {
		var failed, redeploy metrics.Deployment
		for _, dp := range d.Deployments {
			if _, bad := metrics.FailedAt(dp); bad && dp.Production && dp.RepoFullName == showcase && failed.ID == 0 {
				failed = dp
			}
		}
		if failed.ID == 0 {
			t.Fatal("no failed production deployment stored for the showcase")
		}
		for _, dp := range d.Deployments {
			if dp.RepoFullName == showcase && dp.SHA == failed.SHA && dp.ID > failed.ID && dp.Production {
				redeploy = dp
				break
			}
		}
		if failed.Changes != nil {
			t.Errorf("the failed deployment has changes %v; only successful ones carry changes", failed.Changes)
		}
		if _, ok := metrics.SucceededAt(redeploy); !ok || len(redeploy.Changes) == 0 {
			t.Errorf("the redeploy of %s: %+v, want a success carrying the changes", failed.SHA, redeploy)
		}
	})

	t.Run("staging deployments do not count", func(t *testing.T) {
		staging := 0
		for _, dp := range d.Deployments {
			if dp.Environment != "staging" {
				continue
			}
			staging++
			if dp.Production || dp.Statuses != nil || dp.Changes != nil {
				t.Errorf("staging deployment %d: production %v, %d statuses, %d changes; want none", dp.ID, dp.Production, len(dp.Statuses), len(dp.Changes))
			}
		}
		if staging == 0 {
			t.Fatal("no staging deployment stored")
		}
	})

	t.Run("squash and rebase merges map to their pull requests", func(t *testing.T) {
		checkMergeMapping(t, d, tr)
	})

	t.Run("bots are marked", func(t *testing.T) {
		for login, want := range map[string]bool{
			"dependabot[bot]": true, "copilot-pull-request-reviewer[bot]": true, "Copilot": true, "github-actions[bot]": false,
		} {
			got, seen := d.Bots[login]
			if login == "github-actions[bot]" {
				continue // only a deployment creator here, which has no bot column
			}
			if !seen || got != want {
				t.Errorf("%s: stored as bot %v (seen %v), want %v", login, got, seen, want)
			}
		}
		for login, isBot := range d.Bots {
			if isBot != metrics.NewBotClassifier(e.ent.BotLogins).IsBot(login) {
				t.Errorf("%s stored as bot %v, the classifier says otherwise", login, isBot)
			}
		}
	})
}

// checkMergeMapping maps every change of every stored deployment to a pull request with
// the stored pull requests, as the calculators do, and checks that squash merges and
// rebase merges are among them and map as they do with GitHub's own data.
func checkMergeMapping(t *testing.T, d reposDump, tr githubsim.Truth) {
	t.Helper()
	byRepo := func(prs []metrics.PullRequest) map[string][]metrics.PullRequest {
		m := map[string][]metrics.PullRequest{}
		for _, p := range prs {
			m[p.RepoFullName] = append(m[p.RepoFullName], p)
		}
		return m
	}
	stored, truth := byRepo(d.PullRequests), byRepo(tr.PullRequests)
	onMain := map[string]metrics.Commit{}
	for _, commits := range tr.Commits {
		for _, c := range commits {
			onMain[c.SHA] = c
		}
	}
	methods := map[string]int{}
	for _, dp := range d.Deployments {
		if len(dp.Changes) == 0 {
			continue
		}
		got, want := metrics.NewChangeIndex(stored[dp.RepoFullName]), metrics.NewChangeIndex(truth[dp.RepoFullName])
		for _, c := range dp.Changes {
			gi, wi := got.PullRequestFor(c), want.PullRequestFor(c)
			if (gi < 0) != (wi < 0) || (gi >= 0 && got.PullRequest(gi).Number != want.PullRequest(wi).Number) {
				t.Errorf("%s change %s maps to stored #%d, GitHub's #%d", dp.RepoFullName, c.SHA, numberOf(got, gi), numberOf(want, wi))
				continue
			}
			if gi < 0 {
				continue
			}
			pr := got.PullRequest(gi)
			own := false
			for _, pc := range pr.Commits {
				own = own || pc.SHA == c.SHA
			}
			switch merge := onMain[pr.MergeCommitSHA]; {
			case merge.ParentCount == 2:
				methods["merge"]++
			case c.SHA == pr.MergeCommitSHA && !own && len(pr.Commits) > 0 && merge.MessageHeadline != pr.Commits[len(pr.Commits)-1].MessageHeadline:
				methods["squash"]++
			case !own:
				methods["rebase"]++
			}
		}
	}
	if methods["squash"] == 0 || methods["rebase"] == 0 || methods["merge"] == 0 {
		t.Errorf("changes mapped per merge method %v; want squash, rebase and merge-commit merges", methods)
	}
}

func numberOf(x *metrics.ChangeIndex, i int) int {
	if i < 0 {
		return 0
	}
	return x.PullRequest(i).Number
}

func TestReposInjectedFaultsGiveTheSameRows(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t, reposSetup{})
	e.sim.SetFaults(githubsim.Faults{ServerErrors: 0.04, SecondaryLimits: 0.03, Truncations: 0.03, Resets: 0.02, PrimaryLimits: 0.01,
		GraphQLTimeouts: 0.15, ResourceLimits: 0.1, MaxConsecutive: 1})
	e.collect(nil)
	retried, graphQLFaults := 0, 0
	for _, r := range e.sim.Requests() {
		if r.Fault != "" {
			retried++
			if r.Path == "/graphql" {
				graphQLFaults++
			}
		}
	}
	if retried == 0 || graphQLFaults == 0 {
		t.Fatalf("%d faults injected, %d of them to GraphQL queries", retried, graphQLFaults)
	}
	compareWithTruth(t, e.dump(metrics.SignalDeployment), reposWant(e.truth(), e.since()))
}

func TestReposBudgetCutCallsResumeByCursor(t *testing.T) {
	t.Parallel()
	// GraphQL reads a repository's pull requests and deployments in a few queries, so
	// the same budget cuts the collection fewer times.
	for api, minCalls := range map[string]int{config.RepoAPIREST: 10, config.RepoAPIGraphQL: 5} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			setup := reposSetup{enterprise: map[string]any{"repo_api": api}}
			clean := newReposEnv(t, setup)
			clean.collect(nil)
			cleanCost := clean.cost()

			e := newReposEnv(t, setup)
			e.ticking.Store(true) // one second per request: a 10 s budget is a few requests
			answers := e.collect(map[string]any{"budget_seconds": 10})
			if len(answers) < minCalls {
				t.Fatalf("%d calls; the budget should have cut the collection at least %d times", len(answers), minCalls)
			}
			cost := e.cost()
			t.Logf("%d calls, %s (one call: %s)", len(answers), cost, cleanCost)
			if diff := cmp.Diff(clean.dump(metrics.SignalDeployment), e.dump(metrics.SignalDeployment), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("cut calls stored other rows than one call (-one +cut):\n%s", diff)
			}
			// Each call redoes at most the unit it was in; conditional requests make most
			// of that free, so the cut collection costs about what one call does. A cut
			// GraphQL call loses the look of its chunk: the next call probes the rest of
			// the chunk again (a point or two).
			spent, once := cost.restCharged+cost.points, cleanCost.restCharged+cleanCost.points
			slack := 0 // REST: conditional requests make a redone unit free
			if api == config.RepoAPIGraphQL {
				slack = 3 * len(answers) // a probe and a prefetch of a few repositories a cut
			}
			if float64(spent) > 1.1*float64(once)+float64(slack) {
				t.Errorf("cut calls cost %d (REST charged + points), one call %d: work was redone", spent, once)
			}
		})
	}
}

func TestReposKilledBetweenRepositories(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t, reposSetup{})
	repos := e.truth().Repositories
	// Kill the call when the fourth repository's first request arrives.
	ctx, kill := context.WithCancel(context.Background())
	defer kill()
	victim := "/repos/" + repos[3].FullName + "/"
	e.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, victim) {
			kill()
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	if _, err := e.run(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("killed call returned %v, want context.Canceled", err)
	}
	e.setIntercept(nil)
	e.sim.ResetRequests()
	res, err := e.run(context.Background(), "")
	if err != nil || !res.Done {
		t.Fatalf("resumed call: %+v, %v", res, err)
	}
	// The killed call left no cursor, so the next one is a new collection: the
	// repositories finished before the kill get the pass a second run gives them —
	// conditional listings, answered 304 — and nothing of theirs is read again at a
	// cost, except a workflow-runs listing whose window moved on.
	for _, r := range e.sim.Requests() {
		for _, done := range repos[:3] {
			if r.Charged && strings.HasPrefix(r.Path, "/repos/"+done.FullName+"/") && !strings.HasSuffix(r.Path, "/actions/runs") {
				t.Errorf("%s was collected before the kill, yet %s?%s cost quota again", done.FullName, r.Path, r.Query)
			}
		}
	}
	compareWithTruth(t, e.dump(metrics.SignalDeployment), reposWant(e.truth(), e.since()))
}

func TestReposKilledMidCollectionResumesFromTheCursor(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t, reposSetup{})
	e.ticking.Store(true)
	first := e.post(map[string]any{"enterprise": "ent1", "budget_seconds": 30})
	if first.Done || first.Cursor == nil {
		t.Fatalf("first call: %s; want a cursor", first.raw)
	}
	cursor := *first.Cursor
	e.ticking.Store(false)

	// The second call with that cursor dies after two more repositories.
	var mu sync.Mutex
	seen := map[string]bool{}
	ctx, kill := context.WithCancel(context.Background())
	defer kill()
	e.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		parts := strings.Split(r.URL.Path, "/")
		if len(parts) > 3 && parts[1] == "repos" {
			seen[parts[3]] = true
			if len(seen) > 3 {
				kill()
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
		}
		return false
	})
	if _, err := e.run(ctx, cursor); !errors.Is(err, context.Canceled) {
		t.Fatalf("killed call returned %v, want context.Canceled", err)
	}
	e.setIntercept(nil)
	done := passedIn(t, e, cursor)
	if len(done) == 0 {
		t.Fatal("no repository was finished before the kill")
	}
	e.sim.ResetRequests()
	res, err := e.run(context.Background(), cursor)
	if err != nil || !res.Done {
		t.Fatalf("resumed call: %+v, %v", res, err)
	}
	// Same cursor, same collection: what it finished before the kill is not asked again.
	for _, r := range e.sim.Requests() {
		if parts := strings.Split(r.Path, "/"); len(parts) > 3 && parts[1] == "repos" && done[parts[2]+"/"+parts[3]] {
			t.Errorf("%s was finished before the kill, yet %s was asked again", parts[2]+"/"+parts[3], r.Path)
		}
	}
	if len(passedIn(t, e, cursor)) != len(e.truth().Repositories) {
		t.Errorf("not every repository was passed in the collection")
	}
	compareWithTruth(t, e.dump(metrics.SignalDeployment), reposWant(e.truth(), e.since()))
}

// passedIn returns the repositories whose last pass belongs to the collection of cursor.
func passedIn(t *testing.T, e *reposEnv, cursor string) map[string]bool {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(cursor, "repos1."))
	var c struct {
		Collection string `json:"c"`
	}
	if err != nil || json.Unmarshal(raw, &c) != nil || c.Collection == "" {
		t.Fatalf("cursor %q does not decode", cursor)
	}
	rows, err := e.store.Pool().Query(t.Context(), `SELECT r.full_name FROM sync_watermarks w JOIN repositories r ON r.id::text = w.scope
		WHERE w.stream = 'repo.pass' AND w.state->>'collection' = $1`, c.Collection)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		out[name] = true
	}
	return out
}

func TestReposShardsSplitTheOrgDisjointly(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t, reposSetup{})
	perShard := map[int]map[string]bool{}
	for shard := range 3 {
		e.sim.ResetRequests()
		e.collect(map[string]any{"shard": shard, "shards": 3})
		perShard[shard] = map[string]bool{}
		for _, r := range e.sim.Requests() {
			if parts := strings.Split(r.Path, "/"); len(parts) > 3 && parts[1] == "repos" {
				perShard[shard][parts[2]+"/"+parts[3]] = true
			}
		}
	}
	owner := map[string]int{}
	for shard, repos := range perShard {
		for name := range repos {
			if prev, dup := owner[name]; dup {
				t.Errorf("%s collected by shards %d and %d", name, prev, shard)
			}
			owner[name] = shard
		}
	}
	if len(perShard[0]) == 0 || len(perShard[1])+len(perShard[2]) == 0 {
		t.Errorf("shards got %d, %d, %d repositories; want them spread", len(perShard[0]), len(perShard[1]), len(perShard[2]))
	}
	compareWithTruth(t, e.dump(metrics.SignalDeployment), reposWant(e.truth(), e.since()))
}

func TestReposWorkflowSignal(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t, reposSetup{enterprise: map[string]any{"deployment_signal": "workflows", "deploy_workflows": []string{"release.yml"}}})
	e.collect(nil)
	for _, r := range e.sim.Requests() {
		if strings.Contains(r.Path, "/deployments") {
			t.Fatalf("the workflow signal read GitHub Deployments: %s", r.Path)
		}
	}
	tr := e.truth()
	d := e.dump(metrics.SignalWorkflow)
	defaults := map[string]string{}
	for _, r := range tr.Repositories {
		defaults[r.FullName] = r.DefaultBranch
	}
	// The release workflow is one environment (release.yml), whatever regions or
	// services its runs deploy: a successful run's changes are GitHub's compare between
	// the previous successful run's SHA (by finish, then id) and its own; none for the
	// first, or for the same SHA again.
	previous := map[int64]string{} // run id → SHA of the successful run before it
	{
		runs := slices.Clone(tr.WorkflowRuns)
		slices.SortFunc(runs, func(a, b metrics.WorkflowRun) int {
			if c := strings.Compare(a.RepoFullName, b.RepoFullName); c != 0 {
				return c
			}
			if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
				return c
			}
			return int(a.ID - b.ID)
		})
		last := map[string]string{}
		for _, r := range runs {
			if r.Path != ".github/workflows/release.yml" || r.Conclusion != "success" || r.HeadBranch != defaults[r.RepoFullName] ||
				r.CreatedAt.Before(e.since()) {
				continue
			}
			previous[r.ID] = last[r.RepoFullName]
			last[r.RepoFullName] = r.HeadSHA
		}
	}
	truthChanges := func(r metrics.WorkflowRun) []metrics.Commit {
		base := previous[r.ID]
		if base == "" || base == r.HeadSHA {
			return nil
		}
		commits, err := e.client.CompareCommits(t.Context(), r.RepoFullName, base, r.HeadSHA)
		if err != nil {
			t.Fatal(err)
		}
		for i := range commits {
			commits[i].Reverts = nil // stored for default-branch commits only
		}
		return commits
	}
	var want []metrics.Deployment
	for _, r := range tr.WorkflowRuns {
		if r.Path != ".github/workflows/release.yml" || !r.Completed() || r.HeadBranch != defaults[r.RepoFullName] || r.CreatedAt.Before(e.since()) {
			continue
		}
		state := map[string]string{"success": "success", "failure": "failure", "timed_out": "failure"}[r.Conclusion]
		if state == "" {
			continue
		}
		dp := metrics.Deployment{ID: r.ID, RepoFullName: r.RepoFullName, Signal: metrics.SignalWorkflow, SHA: r.HeadSHA,
			Ref: r.HeadBranch, Environment: "release.yml", Production: true, CreatorLogin: r.ActorLogin, CreatedAt: r.CreatedAt,
			Statuses: []metrics.DeploymentStatus{{ID: 1, State: "in_progress", CreatedAt: r.RunStartedAt}, {ID: 2, State: state, CreatedAt: r.UpdatedAt}}}
		if state == "success" {
			dp.Changes = truthChanges(r)
		}
		want = append(want, dp)
	}
	if len(want) == 0 {
		t.Fatal("the simulator has no release runs")
	}
	if diff := cmp.Diff(want, d.Deployments, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("workflow deployments (-runs +stored):\n%s", diff)
	}
}

func TestReposShortBackfillComparesWithTheDeploymentBeforeIt(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t, reposSetup{enterprise: map[string]any{"repo_backfill_days": 20}})
	e.collect(nil)
	got := e.dump(metrics.SignalDeployment)
	want := reposWant(e.truth(), e.since())
	// The one successful production deployment per repository from before the window,
	// read as the compare base, is stored too; it carries no changes.
	var inWindow []metrics.Deployment
	for _, d := range got.Deployments {
		if !d.CreatedAt.Before(e.since()) {
			inWindow = append(inWindow, d)
		} else if d.Changes != nil || !d.Production {
			t.Errorf("base deployment %d: production %v, %d changes; want a production one without changes", d.ID, d.Production, len(d.Changes))
		}
	}
	if len(inWindow) == len(got.Deployments) {
		t.Error("no deployment from before the window was stored as a compare base")
	}
	got.Deployments = inWindow
	compareWithTruth(t, got, want)
}

func TestReposMissingRepositoryIsSkipped(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t, reposSetup{})
	gone := e.truth().Repositories[2].FullName
	e.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/repos/"+gone+"/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"Not Found","status":"404"}`))
			return true
		}
		return false
	})
	answers := e.collect(nil)
	last := answers[len(answers)-1]
	if last.Status != pipeline.StatusPartial || !strings.Contains(strings.Join(last.Warnings, "\n"), gone) {
		t.Fatalf("answer %s; want partial with a warning naming %s", last.raw, gone)
	}
	var missing int
	if err := e.store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM repositories WHERE full_name = $1 AND missing_since IS NOT NULL`, gone).Scan(&missing); err != nil {
		t.Fatal(err)
	}
	if missing != 1 {
		t.Errorf("%s not marked missing", gone)
	}
	// The next run leaves it alone.
	e.sim.ResetRequests()
	if a := e.collect(nil); a[len(a)-1].Status != pipeline.StatusSucceeded {
		t.Errorf("second run: %s", a[len(a)-1].raw)
	}
	for _, r := range e.sim.Requests() {
		if strings.HasPrefix(r.Path, "/repos/"+gone+"/") {
			t.Errorf("missing repository asked again: %s", r.Path)
		}
	}
}

func TestReposRefusedOrgIsSkipped(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t, reposSetup{enterprise: map[string]any{"orgs": []string{"acme-web", "ghost-org"}}})
	answers := e.collect(nil)
	last := answers[len(answers)-1]
	if last.Status != pipeline.StatusPartial || !strings.Contains(strings.Join(last.Warnings, "\n"), "organization ghost-org skipped") {
		t.Fatalf("answer %s; want partial, naming ghost-org", last.raw)
	}
	compareWithTruth(t, e.dump(metrics.SignalDeployment), reposWant(e.truth(), e.since()))

	// SAML enforcement shuts the org: one warning, and its repositories are not tried.
	e.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/orgs/acme-web/repos" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"message":"Resource protected by organization SAML enforcement. You must grant your Personal Access token access to this organization.","status":"403"}`))
			return true
		}
		return false
	})
	e.sim.ResetRequests()
	answers = e.collect(nil)
	last = answers[len(answers)-1]
	if warnings := strings.Join(last.Warnings, "\n"); last.Status != pipeline.StatusPartial || strings.Count(warnings, "organization acme-web skipped") != 1 || strings.Contains(warnings, "acme-web/") {
		t.Fatalf("answer %s; want partial with one warning about acme-web", last.raw)
	}
	for _, r := range e.sim.Requests() {
		if strings.HasPrefix(r.Path, "/repos/") {
			t.Errorf("a repository of the refused org was tried: %s", r.Path)
		}
	}
}

func TestReposWarnsOfAnExpiringToken(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t, reposSetup{sim: func(c *githubsim.Config) { c.Enterprises[0].TokenExpiresAt = reposSimNow.Add(5 * 24 * time.Hour) }})
	answers := e.collect(nil)
	if w := strings.Join(answers[len(answers)-1].Warnings, "\n"); !strings.Contains(w, "expires on 2026-09-20") {
		t.Errorf("warnings %q: want the token's expiry", w)
	}
	if !strings.Contains(strings.Join(e.events.events, ","), "TokenExpiring ent1") {
		t.Errorf("events %v: want TokenExpiring", e.events.events)
	}
}

func TestReposTokenRefusedFailsForGood(t *testing.T) {
	t.Parallel()
	const bad = "fake-token-notTheRightToken-9"
	e := newReposEnv(t, reposSetup{token: bad})
	a := e.post(map[string]any{"enterprise": "ent1"})
	if a.code != http.StatusOK || a.Status != pipeline.StatusFailed || !a.Done {
		t.Fatalf("answer %d %s; want 200, failed, done (retrying cannot help)", a.code, a.raw)
	}
	if !strings.Contains(a.Error, "refused the token") || strings.Contains(a.raw, bad) {
		t.Errorf("error %q: want the refusal, never the token", a.Error)
	}
	if !strings.Contains(strings.Join(e.events.events, ","), "TokenRefused ent1") {
		t.Errorf("events %v: want TokenRefused", e.events.events)
	}
}

func TestReposUnusableTokenFailsForGood(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t, reposSetup{token: reposToken + " " + reposToken})
	a := e.post(map[string]any{"enterprise": "ent1"})
	if a.code != http.StatusOK || a.Status != pipeline.StatusFailed || !a.Done {
		t.Fatalf("answer %d %s; want 200, failed, done (retrying cannot help)", a.code, a.raw)
	}
	if !strings.Contains(a.Error, `secret "`+e.ent.TokenSecret+`"`) || strings.Contains(a.raw, reposToken) {
		t.Errorf("error %q: want the secret named, never the token", a.Error)
	}
}

func TestReposRateLimitEndsTheCallWithACursor(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		api    string
		limits func(*githubsim.Config)
	}{
		"rest": {config.RepoAPIREST, func(c *githubsim.Config) { c.RateLimit = 400 }},
		// Through GraphQL the REST requests are about 110; the busy repository's runs
		// listing (one stream, committed at its end) needs most of a call's burst, so a
		// much tighter budget than 100 an hour could never finish it.
		"graphql, REST limit": {config.RepoAPIGraphQL, func(c *githubsim.Config) { c.RateLimit = 100 }},
		"graphql, points":     {config.RepoAPIGraphQL, func(c *githubsim.Config) { c.GraphQLRateLimit = 8 }},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testRateLimitCursor(t, reposSetup{sim: c.limits, enterprise: map[string]any{"repo_api": c.api}})
		})
	}
}

func testRateLimitCursor(t *testing.T, setup reposSetup) {
	e := newReposEnv(t, setup)
	first := e.post(map[string]any{"enterprise": "ent1", "budget_seconds": 60})
	if first.code != http.StatusOK || first.Done || first.Cursor == nil || first.Records == 0 {
		t.Fatalf("first call %d %s; want progress, then a cursor when the limit is reached", first.code, first.raw)
	}
	if w := strings.Join(first.Warnings, "\n"); !strings.Contains(w, "rate limit") && !strings.Contains(w, "pacing") {
		t.Errorf("warnings %v: want the rate limit (or the pacing to it) named", first.Warnings)
	}
	// Still limited: nothing can be done, so the call says so (503) for the orchestrator
	// to retry later, keeping its cursor.
	again := e.post(map[string]any{"enterprise": "ent1", "budget_seconds": 60, "cursor": *first.Cursor})
	if again.code != http.StatusServiceUnavailable {
		t.Fatalf("limited call answered %d %s, want 503", again.code, again.raw)
	}
	// After the reset the collection carries on from the cursor and completes (a call
	// that the pacing to a tiny budget lets do nothing answers 503 and is called again).
	for range 40 {
		e.sim.Advance(time.Hour + time.Minute)
		a := e.post(map[string]any{"enterprise": "ent1", "budget_seconds": 60, "cursor": *first.Cursor})
		if a.code == http.StatusServiceUnavailable {
			continue
		}
		if a.code != http.StatusOK {
			t.Fatalf("answered %d %s", a.code, a.raw)
		}
		if a.Done {
			return
		}
		first.Cursor = a.Cursor
	}
	t.Fatal("the collection never completed across rate-limit windows")
}

func TestReposBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t, reposSetup{})
	other := newReposEnv(t, reposSetup{})
	other.ticking.Store(true)
	foreign := other.post(map[string]any{"enterprise": "ent1", "budget_seconds": 30, "shard": 1, "shards": 2})
	if foreign.Cursor == nil {
		t.Fatalf("no cursor to reuse: %s", foreign.raw)
	}
	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"until", map[string]any{"until": "2026-09-01"}, "until"},
		{"since too old", map[string]any{"since": "2020-01-01"}, "since"},
		{"not a cursor", map[string]any{"cursor": "abc"}, "cursor"},
		{"a cursor of another shard", map[string]any{"cursor": *foreign.Cursor}, "cursor"},
		{"a cursor with another since", map[string]any{"cursor": *foreign.Cursor, "shard": 1, "shards": 2, "since": "2026-09-01"}, "cursor"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.body["enterprise"] = "ent1"
			a := e.post(c.body)
			if a.code != http.StatusBadRequest || !strings.HasPrefix(a.raw, `{"error":"`+c.field+`:`) {
				t.Errorf("answered %d %s; want 400 naming %s", a.code, a.raw, c.field)
			}
		})
	}
	for _, table := range []string{"repositories", "sync_watermarks", "github_etags", "commits", "pull_requests", "workflow_runs", "deployments"} {
		var n int
		if err := e.store.Pool().QueryRow(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s has %d rows after bad input", table, n)
		}
	}
	if _, all := e.charged(); all != 0 {
		t.Errorf("bad input sent %d requests to GitHub", all)
	}
}

func TestReposSinceReCollects(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t, reposSetup{})
	e.collect(nil)
	// Lose a pull request's reviews and a run: a re-collection from before them
	// restores them; nothing else changes.
	ctx := t.Context()
	for _, sql := range []string{
		`DELETE FROM pull_request_reviews WHERE review_id = (SELECT min(review_id) FROM pull_request_reviews)`,
		`UPDATE pull_requests SET updated_at = updated_at - interval '1 day' WHERE number = (SELECT min(pr_number) FROM pull_request_reviews)`,
		`DELETE FROM workflow_runs WHERE run_id = (SELECT min(run_id) FROM workflow_runs)`,
	} {
		if _, err := e.store.Pool().Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	answers := e.collect(map[string]any{"since": e.since().Format(time.DateOnly)})
	if got := sumRecords(answers); got == 0 {
		t.Error("the re-collection wrote nothing")
	}
	compareWithTruth(t, e.dump(metrics.SignalDeployment), reposWant(e.truth(), e.since()))
}

func TestReposPrunesStaleCachedPagesAtTheEnd(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t, reposSetup{})
	ctx := t.Context()
	// A page whose moving-window URL was replaced long ago, and one of another enterprise.
	for _, ent := range []string{e.ent.ID, "other"} {
		if err := e.store.PutCachedPage(ctx, ent, "https://example.invalid/old-window", `"x"`, "", []byte{1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.store.Pool().Exec(ctx, `UPDATE github_etags SET updated_at = now() - interval '400 days'`); err != nil {
		t.Fatal(err)
	}
	e.collect(nil)
	var mine, others, fresh int
	if err := e.store.Pool().QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE enterprise_id = $1 AND url LIKE '%old-window'),
		count(*) FILTER (WHERE enterprise_id = 'other'),
		count(*) FILTER (WHERE enterprise_id = $1 AND url NOT LIKE '%old-window')
		FROM github_etags`, e.ent.ID).Scan(&mine, &others, &fresh); err != nil {
		t.Fatal(err)
	}
	if mine != 0 || others != 1 || fresh == 0 {
		t.Errorf("after a finished collection: %d stale pages of this enterprise (want 0), %d of another (want 1), %d fresh (want > 0)", mine, others, fresh)
	}
}

// An incident whose label is removed (or that is closed as not planned) leaves the
// stored incidents at the next collection, and the next DORA calculation no longer
// fails the deployment it blamed: no manual step.
func TestReposRelabelledIncidentLeavesTheMetrics(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t, reposSetup{})
	e.collect(nil)
	before := e.dump(metrics.SignalDeployment).Incidents
	stage := pipeline.NewDORAStage(pipeline.CalculateOptions{Store: e.store, Now: e.sim.Now})
	since := e.since()
	failed := func() map[string]int {
		t.Helper()
		if _, err := stage.Run(t.Context(), pipeline.Request{Enterprise: &e.ent, Now: e.sim.Now(), Since: &since}); err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, line := range calcRows(t, e.store, `SELECT scope || '|' || week_start || '|' || failed_deployments
			FROM dora_metrics WHERE scope_type = 'repository' AND failed_deployments > 0`) {
			parts := strings.Split(line, "|")
			n, _ := strconv.Atoi(parts[2])
			out[parts[0]+"|"+parts[1]] = n
		}
		return out
	}
	failedBefore := failed()

	// The showcase's day-14 incident loses its label two hours after the initial now;
	// its day-15 incident is closed as not planned an hour later.
	e.sim.Advance(3*time.Hour + time.Minute)
	e.collect(nil)
	after := e.dump(metrics.SignalDeployment).Incidents
	compareWithTruth(t, e.dump(metrics.SignalDeployment), reposWant(e.truth(), e.since()))
	gone := map[string]bool{}
	for _, in := range before {
		if !slices.ContainsFunc(after, func(a metrics.Incident) bool { return a.RepoFullName == in.RepoFullName && a.Number == in.Number }) {
			gone[in.RepoFullName] = true
		}
	}
	if len(gone) == 0 {
		t.Fatalf("no stored incident left after the relabel and the not-planned close; %d before, %d after", len(before), len(after))
	}
	failedAfter := failed()
	for repo := range gone {
		var sumBefore, sumAfter int
		for k, n := range failedBefore {
			if strings.HasPrefix(k, repo+"|") {
				sumBefore += n
			}
		}
		for k, n := range failedAfter {
			if strings.HasPrefix(k, repo+"|") {
				sumAfter += n
			}
		}
		if sumAfter >= sumBefore {
			t.Errorf("%s: %d failed deployments before the incidents left, %d after; want fewer", repo, sumBefore, sumAfter)
		}
	}
}

// A query GitHub refuses as invalid (its schema changed) cannot be fixed by retrying:
// the call fails for good and says how to keep collecting (repo_api rest), which then
// collects through REST alone.
func TestReposRefusedGraphQLQueryFailsWithTheFallback(t *testing.T) {
	t.Parallel()
	e := newReposEnv(t, reposSetup{})
	e.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/graphql" {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"errors":[{"path":["query","r0","pullRequests"],"extensions":{"code":"undefinedField"},"message":"Field 'pullRequests' doesn't exist on type 'Repository'"}]}`))
		return true
	})
	a := e.post(map[string]any{"enterprise": "ent1"})
	if a.code != http.StatusOK || a.Status != pipeline.StatusFailed || !a.Done ||
		!strings.Contains(a.Error, "doesn't exist") || !strings.Contains(a.Error, `"repo_api": "rest"`) {
		t.Fatalf("answer %d %s; want failed for good, GitHub's message and the fallback named", a.code, a.raw)
	}

	rest := newReposEnv(t, reposSetup{enterprise: map[string]any{"repo_api": "rest"}})
	rest.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/graphql" {
			t.Errorf("repo_api rest sent a GraphQL query")
		}
		return false
	})
	rest.collect(nil)
	compareWithTruth(t, rest.dump(metrics.SignalDeployment), reposWant(rest.truth(), rest.since()))
}
