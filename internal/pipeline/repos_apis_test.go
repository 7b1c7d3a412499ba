package pipeline_test

import (
	"context"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"metrics-collector/internal/config"
	"metrics-collector/internal/github"
	"metrics-collector/internal/githubsim"
	"metrics-collector/internal/metrics"
	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres/pgtest"
)

// Both repo_api values store the same rows, on a world larger and more varied than the
// truth tests' (one enterprise of the demo world: two orgs of 25 repositories), with the
// budgets lifted so that both read the world at the same simulated time. (On the
// benchmark world, 1,000 repositories, the same holds: 133,602 records either way.)
func TestReposBothAPIsStoreTheSameRows(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	var dumps []reposDump
	var recs []int64
	for _, api := range []string{config.RepoAPIGraphQL, config.RepoAPIREST} {
		cfg := githubsim.DemoConfig(start)
		cfg.Enterprises = cfg.Enterprises[:1]
		cfg.RateLimit, cfg.GraphQLRateLimit, cfg.GraphQLPointsPerMinute = 10_000_000, 10_000_000, 10_000_000
		sim, err := githubsim.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		hosts := sim.Start()
		store := pgtest.New(t)
		info := sim.Enterprises()[0]
		ent := config.Enterprise{ID: info.ID, Orgs: info.Orgs, APIURL: hosts.API.URL + "/", TokenSecret: "x",
			DeploymentSignal: config.SignalDeployments, IncidentLabels: []string{"incident"}, RepoShards: 1,
			RepoBackfillDays: 90, FullSweepDays: 7, RepoAPI: api}
		client, err := github.New(github.Options{EnterpriseID: ent.ID, BaseURL: ent.APIURL,
			Token:      func(context.Context) (string, error) { return info.Token, nil },
			HTTPClient: &http.Client{}, Clock: &reposClock{sim: sim}, MaxRate: math.Inf(1), Cache: store, TokenHealth: store})
		if err != nil {
			t.Fatal(err)
		}
		stage := pipeline.NewReposStage(pipeline.ReposOptions{Store: store, Clients: func(string) (*github.Client, error) { return client, nil }, Now: sim.Now})
		var records int64
		cursor := ""
		for {
			res, err := stage.Run(t.Context(), pipeline.Request{RunID: 1, Enterprise: &ent, Cursor: cursor, Shards: 1})
			if err != nil {
				t.Fatal(err)
			}
			records += res.Records
			if res.Done {
				break
			}
			cursor = res.Cursor
		}
		hosts.Close()
		recs = append(recs, records)
		dumps = append(dumps, dumpRepos(t, store, metrics.SignalDeployment))
	}
	t.Logf("records: graphql %d, rest %d", recs[0], recs[1])
	if len(dumps[0].PullRequests) < 500 || len(dumps[0].Deployments) < 200 || len(dumps[0].Incidents) < 10 {
		t.Fatalf("too little collected to compare: %d pull requests, %d deployments, %d incidents",
			len(dumps[0].PullRequests), len(dumps[0].Deployments), len(dumps[0].Incidents))
	}
	if diff := cmp.Diff(dumps[1], dumps[0], cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("GraphQL stored other rows than REST (-rest +graphql):\n%s", diff)
	}
}
