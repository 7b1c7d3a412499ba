package github

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"metrics-collector/internal/githubsim"
	"metrics-collector/internal/metrics"
)

// simClock runs the client's waits on the simulator's time.
type simClock struct{ sim *githubsim.Simulator }

func (c simClock) Now() time.Time { return c.sim.Now() }

func (c simClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.sim.Advance(d)
	return nil
}

const simToken = "fake-token-graphqlTest-1"

func graphQLWorld(t testing.TB) (*githubsim.Simulator, *githubsim.Servers) {
	t.Helper()
	sim, err := githubsim.New(githubsim.Config{
		Seed: 11, Now: time.Date(2026, 9, 15, 10, 0, 0, 0, time.UTC), HistoryDays: 60, FutureDays: 5,
		Enterprises: []githubsim.EnterpriseConfig{{ID: "e1", Slug: "acme", Token: simToken,
			Orgs:       []githubsim.OrgConfig{{Login: "acme-web", Repos: 10, ActiveShare: 0.6, PRsPerWeek: 4}},
			Developers: 12}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := sim.Start()
	t.Cleanup(srv.Close)
	return sim, srv
}

func simClient(t testing.TB, sim *githubsim.Simulator, srv *githubsim.Servers) *Client {
	t.Helper()
	c, err := New(Options{EnterpriseID: "e1", BaseURL: srv.API.URL + "/",
		Token: func(context.Context) (string, error) { return simToken, nil },
		Clock: simClock{sim}, MaxRate: 1e9, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readAllRepos pages through every repository's pull requests, deployments and
// incidents with QueryRepos.
func readAllRepos(t testing.TB, c *Client, names []string, first int) (map[string][]metrics.PullRequest, []metrics.Deployment, []metrics.Incident) {
	t.Helper()
	pulls := map[string][]metrics.PullRequest{}
	deps := map[string][]metrics.Deployment{}
	incs := map[string][]metrics.Incident{}
	qs := make([]RepoQuery, len(names))
	for i, n := range names {
		qs[i] = RepoQuery{FullName: n, Pulls: &Page{First: first}, Deployments: &Page{First: first},
			Incidents: []LabelPage{{Label: "incident", Page: Page{First: first}}}}
	}
	for len(qs) > 0 {
		answers, err := c.QueryRepos(t.Context(), "Repos", qs)
		if err != nil {
			t.Fatal(err)
		}
		var next []RepoQuery
		for i, a := range answers {
			if a.Err != nil {
				t.Fatalf("%s: %v", a.FullName, a.Err)
			}
			q := RepoQuery{FullName: a.FullName}
			if p := a.Pulls; p != nil {
				pulls[a.FullName] = append(pulls[a.FullName], p.Items...)
				if p.More {
					q.Pulls = &Page{First: first, Cursor: p.Cursor}
				}
			}
			if p := a.Deployments; p != nil {
				deps[a.FullName] = append(deps[a.FullName], p.Items...)
				if p.More {
					q.Deployments = &Page{First: first, Cursor: p.Cursor}
				}
			}
			for _, p := range a.Incidents {
				incs[a.FullName] = append(incs[a.FullName], p.Items...)
				if p.More {
					q.Incidents = append(q.Incidents, LabelPage{Label: p.Label, Page: Page{First: first, Cursor: p.Cursor}})
				}
			}
			if q.Pulls != nil || q.Deployments != nil || len(q.Incidents) > 0 {
				next = append(next, q)
			}
			_ = i
		}
		qs = next
	}
	var allDeps []metrics.Deployment
	var allIncs []metrics.Incident
	for _, n := range names {
		slices.SortFunc(pulls[n], func(a, b metrics.PullRequest) int { return a.Number - b.Number })
		d := deps[n]
		slices.Reverse(d) // newest first → by id
		allDeps = append(allDeps, d...)
		allIncs = append(allIncs, incs[n]...)
	}
	return pulls, allDeps, allIncs
}

func truthOf(t testing.TB, sim *githubsim.Simulator) ([]string, map[string][]metrics.PullRequest, []metrics.Deployment, []metrics.Incident) {
	t.Helper()
	truth, err := sim.Truth("acme")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range truth.Repositories {
		names = append(names, r.FullName)
	}
	pulls := map[string][]metrics.PullRequest{}
	for _, p := range truth.PullRequests {
		pulls[p.RepoFullName] = append(pulls[p.RepoFullName], p)
	}
	var deps []metrics.Deployment
	for _, d := range truth.Deployments {
		d.Changes = nil
		d.Production = false // the client does not know the production pattern
		if d.Statuses == nil {
			d.Statuses = []metrics.DeploymentStatus{}
		}
		deps = append(deps, d)
	}
	return names, pulls, deps, truth.Incidents
}

func compareRepos(t *testing.T, sim *githubsim.Simulator, c *Client, first int) {
	t.Helper()
	names, wantPulls, wantDeps, wantIncs := truthOf(t, sim)
	pulls, deps, incs := readAllRepos(t, c, names, first)
	n := 0
	for _, name := range names {
		n += len(pulls[name])
		if diff := cmp.Diff(wantPulls[name], pulls[name]); diff != "" {
			t.Errorf("%s: pull requests differ from GitHub's (-truth +graphql):\n%s", name, diff)
		}
	}
	if n < 50 || len(wantDeps) < 10 || len(wantIncs) < 3 {
		t.Fatalf("the world is too small to mean anything: %d pull requests, %d deployments, %d incidents", n, len(wantDeps), len(wantIncs))
	}
	if diff := cmp.Diff(wantDeps, deps); diff != "" {
		t.Errorf("deployments differ (-truth +graphql):\n%s", diff)
	}
	if diff := cmp.Diff(wantIncs, incs); diff != "" {
		t.Errorf("incidents differ (-truth +graphql):\n%s", diff)
	}
}

// The client's GraphQL reads give what the REST client gives — the simulator's truth,
// in REST spelling — through queries the simulator validated against GitHub's schema.
func TestQueryReposReadsWhatGitHubHas(t *testing.T) {
	t.Parallel()
	sim, srv := graphQLWorld(t)
	c := simClient(t, sim, srv)
	var counts Counters
	ctx := WithCounters(t.Context(), &counts)
	_ = ctx
	compareRepos(t, sim, c, 100)
}

// With tiny pages every nested connection (commits, reviews, statuses) overflows its
// first page and is completed through node(id:); the result is the same.
func TestQueryReposCompletesNestedPages(t *testing.T) {
	t.Parallel()
	sim, srv := graphQLWorld(t)
	c := simClient(t, sim, srv)
	c.nestedFloor = 1
	c.sizer = &pageSizer{size: 1} // nested pages of 2
	compareRepos(t, sim, c, 3)
	ops := map[string]int{}
	for _, r := range sim.Requests() {
		ops[r.Operation]++
	}
	if ops["NestedPages"] == 0 {
		t.Errorf("no nested page was read: %v", ops)
	}
}

// Heavy queries time out (502), and a share of the others fail as GitHub's do; the
// client halves its pages and its batches until they go through, and grows back.
func TestQueryReposAdaptsThePageSize(t *testing.T) {
	t.Parallel()
	sim, srv := graphQLWorld(t)
	c := simClient(t, sim, srv)
	sim.SetFaults(githubsim.Faults{HeavyQueryNodes: 3_000, GraphQLTimeouts: 0.15, ResourceLimits: 0.1, ServerErrors: 0.05, MaxConsecutive: 1})
	var counts Counters
	ctx := WithCounters(t.Context(), &counts)
	names, wantPulls, _, _ := truthOf(t, sim)
	qs := []RepoQuery{}
	for _, n := range names {
		qs = append(qs, RepoQuery{FullName: n, Pulls: &Page{First: 100}})
	}
	got := map[string][]metrics.PullRequest{}
	for len(qs) > 0 {
		answers, err := c.QueryRepos(ctx, "Repos", qs)
		if err != nil {
			t.Fatal(err)
		}
		qs = nil
		for _, a := range answers {
			got[a.FullName] = append(got[a.FullName], a.Pulls.Items...)
			if a.Pulls.More {
				qs = append(qs, RepoQuery{FullName: a.FullName, Pulls: &Page{First: 100, Cursor: a.Pulls.Cursor}})
			}
		}
	}
	for _, n := range names {
		slices.SortFunc(got[n], func(a, b metrics.PullRequest) int { return a.Number - b.Number })
		if diff := cmp.Diff(wantPulls[n], got[n]); diff != "" {
			t.Errorf("%s (-truth +graphql):\n%s", n, diff)
		}
	}
	faults := map[string]int{}
	maxNodesAccepted := int64(0)
	for _, r := range sim.Requests() {
		faults[r.Fault]++
		if r.Fault == "" && r.Status == http.StatusOK {
			maxNodesAccepted = max(maxNodesAccepted, r.Nodes)
		}
	}
	if faults[githubsim.FaultTimeout] == 0 || faults[githubsim.FaultResourceLimits] == 0 || counts.Snapshot().Retries == 0 {
		t.Errorf("faults %v, retries %d: the test injected too little", faults, counts.Snapshot().Retries)
	}
	if maxNodesAccepted > 3_000 {
		t.Errorf("a query of %d nodes went through the 3,000-node ceiling", maxNodesAccepted)
	}
	if size := c.sizer.current(); size < 1 || size > graphQLMaxPage {
		t.Errorf("page size %d", size)
	}
}

// The client's estimate of a query's cost is what GitHub (the simulator) charges, so the
// pacer reserves the right number of points; every answer's cost is counted.
func TestGraphQLCostEstimateMatchesTheCharge(t *testing.T) {
	t.Parallel()
	sim, srv := graphQLWorld(t)
	c := simClient(t, sim, srv)
	names, _, _, _ := truthOf(t, sim)
	for _, q := range [][]RepoQuery{
		{{FullName: names[0], Pulls: &Page{First: 50}}},
		{{FullName: names[0], Pulls: &Page{First: 100}, Deployments: &Page{First: 100}, Incidents: []LabelPage{{Label: "incident", Page: Page{First: 100}}}}},
		{{FullName: names[0], Pulls: &Page{Probe: true}, Deployments: &Page{Probe: true}, Incidents: []LabelPage{{Label: "incident", Page: Page{Probe: true}}, {Label: "sev1", Page: Page{Probe: true}}}},
			{FullName: names[1], Pulls: &Page{Probe: true}, Deployments: &Page{First: 7}}},
	} {
		c.sizer = &pageSizer{size: 100}
		builders := make([]gqlBuilder, len(q))
		for i := range q {
			owner, name, _ := strings.Cut(q[i].FullName, "/")
			builders[i] = repoBuilder(owner, name, q[i], c.nestedFloor)
		}
		parts := make([]gqlPart, len(q))
		for i, b := range builders {
			parts[i] = b("r"+string(rune('0'+i)), 100)
		}
		_, _, want, nodes := assemble("Repos", repoFragments, parts)
		var counts Counters
		sim.ResetRequests()
		if _, err := c.QueryRepos(WithCounters(t.Context(), &counts), "Repos", q); err != nil {
			t.Fatal(err)
		}
		reqs := sim.Requests()
		if len(reqs) != 1 || reqs[0].Points != want || reqs[0].Nodes != nodes || counts.Snapshot().GraphQLPoints != int64(want) {
			t.Errorf("estimate %d points %d nodes; simulator charged %+v; counted %d", want, nodes, reqs, counts.Snapshot().GraphQLPoints)
		}
	}
}

// Every query shape the client builds is one GitHub's published schema accepts.
func TestGraphQLQueriesValidateAgainstGitHubsSchema(t *testing.T) {
	t.Parallel()
	schema, err := githubsim.GraphQLSchema()
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, builders []gqlBuilder) {
		t.Helper()
		parts := make([]gqlPart, len(builders))
		for i, b := range builders {
			parts[i] = b("r"+string(rune('0'+i)), 3)
		}
		query, vars, _, _ := assemble("Check", repoFragments, parts)
		doc, perr := parser.ParseQuery(&ast.Source{Input: query})
		if perr != nil {
			t.Fatalf("%s: %v\n%s", name, perr, query)
		}
		if errs := validator.ValidateWithRules(schema, doc, nil); len(errs) > 0 {
			t.Fatalf("%s: GitHub's schema refuses the query: %v\n%s", name, errs, query)
		}
		if _, err := validator.VariableValues(schema, doc.Operations[0], vars); err != nil {
			t.Fatalf("%s: variables: %v", name, err)
		}
	}
	full := RepoQuery{FullName: "o/r", Pulls: &Page{First: 5, Cursor: "abc"}, Deployments: &Page{First: 5},
		Incidents: []LabelPage{{Label: "incident", Page: Page{First: 5, Cursor: "x"}}, {Label: "sev", Page: Page{Probe: true}}}}
	probe := RepoQuery{FullName: "o/r", Pulls: &Page{Probe: true}, Deployments: &Page{Probe: true}, Incidents: []LabelPage{{Label: "incident", Page: Page{Probe: true}}}}
	check("full and probe", []gqlBuilder{repoBuilder("o", "r", full, 10), repoBuilder("o", "r2", probe, 10)})
	check("incidents only", []gqlBuilder{repoBuilder("o", "r", RepoQuery{Incidents: []LabelPage{{Label: "incident", Page: Page{First: 9}}}}, 10)})
	var nested []gqlBuilder
	for _, kind := range []string{"commits", "reviews", "pull labels", "statuses", "issue labels"} {
		nested = append(nested, nestedBuilder("o/r", nestedPage{kind: kind, nodeID: "1", cursor: "c"}, 10))
	}
	check("nested pages", nested)
}

func TestDatabaseIDFromGlobalIDs(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]int64{
		"R_kgDOHM8Kjw":                     483330703, // [0, 483330703]
		"DES_kwDOHM8Kj84Fg4Tz":             92505331,  // [0, repository id, 92505331]
		"PR_kwDOAAAAAc8AAAAAAAAAZA":        100,       // [0, 1, 100 as uint64]
		"MDEwOlJlcG9zaXRvcnkx":             1,         // legacy "010:Repository1"
		"MDE2OkRlcGxveW1lbnRTdGF0dXM0Mg==": 42,        // legacy "016:DeploymentStatus42"
	} {
		got, err := databaseID("test id", id)
		if err != nil || got != want {
			t.Errorf("%s = %d, %v; want %d", id, got, err, want)
		}
	}
	for _, bad := range []string{"", "DES_", "DES_!!!", "DES_kwA", "bm90IGFuIGlk", "X_kgDA"} {
		if _, err := databaseID("deployment status id", bad); err == nil || !strings.Contains(err.Error(), "deployment status id") {
			t.Errorf("%q: err = %v, want one naming the field", bad, err)
		}
	}
}

// Arguments the caller gets wrong are refused before anything is sent, naming the field.
func TestQueryReposRefusesBadArguments(t *testing.T) {
	t.Parallel()
	sim, srv := graphQLWorld(t)
	c := simClient(t, sim, srv)
	for want, q := range map[string]RepoQuery{
		"fullName":          {FullName: "no-slash", Pulls: &Page{First: 1}},
		"Pulls.First":       {FullName: "o/r", Pulls: &Page{First: 101}},
		"Deployments.First": {FullName: "o/r", Deployments: &Page{}},
		"Incidents.Label":   {FullName: "o/r", Incidents: []LabelPage{{Page: Page{First: 1}}}},
	} {
		if _, err := c.QueryRepos(t.Context(), "Repos", []RepoQuery{q}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: err = %v, want one naming %s", q, err, want)
		}
	}
	for _, op := range []string{"", "two words", "1st", "Repos{"} {
		if _, err := c.QueryRepos(t.Context(), op, []RepoQuery{{FullName: "o/r", Pulls: &Page{Probe: true}}}); err == nil || !strings.HasPrefix(err.Error(), "op:") {
			t.Errorf("op %q: err = %v, want one naming op", op, err)
		}
	}
	if n := len(sim.Requests()); n != 0 {
		t.Errorf("%d requests sent for bad arguments", n)
	}
	// A repository that does not exist is that repository's error; the others are read.
	answers, err := c.QueryRepos(t.Context(), "Repos", []RepoQuery{{FullName: "acme-web/gone", Pulls: &Page{Probe: true}}, {FullName: "acme-web/" + strings.Split(firstRepo(t, sim), "/")[1], Pulls: &Page{Probe: true}}})
	if err != nil || !errors.Is(answers[0].Err, ErrNotFound) || answers[1].Err != nil || answers[1].Pulls == nil {
		t.Errorf("answers %+v, err %v", answers, err)
	}
}

func firstRepo(t testing.TB, sim *githubsim.Simulator) string {
	names, _, _, _ := truthOf(t, sim)
	return names[0]
}
