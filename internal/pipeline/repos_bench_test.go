package pipeline_test

import (
	"context"
	"math"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/github"
	"metrics-collector/internal/githubsim"
	"metrics-collector/internal/memwatch"
	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres/pgtest"
)

// simAdvancingClock is a GitHub client clock on simulated time: every wait (pacing,
// rate limits) moves the simulator on, so the simulated hours a collection takes under
// a rate limit are measured without sleeping.
type simAdvancingClock struct{ sim *githubsim.Simulator }

func (c simAdvancingClock) Now() time.Time { return c.sim.Now() }

func (c simAdvancingClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.sim.Advance(d)
	return nil
}

// BenchmarkCollectRepos collects the benchmark-size org — 1,000 repositories, 20 %
// active, one with a day of more than 1,000 workflow runs, 120 days of history, a 90-day
// backfill — from the simulator under GitHub's 5,000 requests an hour, then collects it
// again with nothing new: at once, and a day later. The world is frozen (generated up
// to a moment before the collection starts), so "nothing new" is exact. Figures:
//
//	records          rows written by the first run
//	requests         API requests of the first run, REST and GraphQL (charged_1st: REST
//	                 requests that cost quota; points_1st: GraphQL points, their own budget)
//	req/1000rec      requests per 1,000 records
//	sim_hours        simulated hours the first run took (its waits move simulated time)
//	floor_hours      the least time the budget allows: a fresh hour allows 5,000 at once,
//	                 each further 5,000 another hour: (charged − 5,000) ÷ 5,000/h
//	charged_2nd      charged REST requests of a second run right after (all_2nd: all
//	                 requests; points_2nd: GraphQL points)
//	charged_nextday  the same for a run a day later with nothing new (points_nextday)
//	heap_peak_MiB    highest HeapInuse during the first run, sampled every 50 ms (the
//	                 simulator included); heap_growth_MiB: above the heap before it
//
// go test ./internal/pipeline -run '^$' -bench CollectRepos -benchtime 1x
func BenchmarkCollectRepos(b *testing.B) {
	// graphql is the default (decision 0006); rest is the fallback, for comparison.
	for _, api := range []string{config.RepoAPIGraphQL, config.RepoAPIREST} {
		b.Run(api, func(b *testing.B) { benchmarkCollectRepos(b, api) })
	}
}

func benchmarkCollectRepos(b *testing.B, api string) {
	const rateLimit = 5000
	start := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	b.StopTimer()
	for range b.N {
		cfg := githubsim.BenchmarkConfig(start)
		cfg.Enterprises = cfg.Enterprises[:1]
		cfg.RateLimit = rateLimit
		cfg.FutureDays = 1
		sim, err := githubsim.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := sim.SetNow(start.Add(25 * time.Hour)); err != nil { // past the generated world: frozen
			b.Fatal(err)
		}
		hosts := sim.Start()
		store := pgtest.New(b)
		info := sim.Enterprises()[0]
		ent := config.Enterprise{ID: info.ID, Orgs: info.Orgs, APIURL: hosts.API.URL + "/", TokenSecret: "x",
			DeploymentSignal: config.SignalDeployments, IncidentLabels: []string{"incident"}, RepoShards: 1,
			RepoBackfillDays: 90, FullSweepDays: 7, RepoAPI: api}
		client, err := github.New(github.Options{
			EnterpriseID: ent.ID, BaseURL: ent.APIURL,
			Token:      func(context.Context) (string, error) { return info.Token, nil },
			HTTPClient: &http.Client{}, Clock: simAdvancingClock{sim}, MaxRate: math.Inf(1),
			Cache: store, TokenHealth: store,
		})
		if err != nil {
			b.Fatal(err)
		}
		stage := pipeline.NewReposStage(pipeline.ReposOptions{
			Store:   store,
			Clients: func(string) (*github.Client, error) { return client, nil },
			Now:     sim.Now,
		})
		collect := func() (records int64) {
			cursor := ""
			for {
				res, err := stage.Run(b.Context(), pipeline.Request{RunID: 1, Enterprise: &ent, Cursor: cursor, Shards: 1})
				if err != nil {
					b.Fatal(err)
				}
				records += res.Records
				if res.Done {
					return records
				}
				cursor = res.Cursor
			}
		}
		kinds := map[string]int{}
		var points int
		count := func() (charged, all int) {
			clear(kinds)
			points = 0
			for _, r := range sim.Requests() {
				if r.Host != githubsim.HostAPI {
					continue
				}
				all++
				switch {
				case r.Path == "/graphql":
					points += r.Points
					kinds["graphql "+r.Operation]++
				case r.Charged:
					charged++
					kinds[requestKind(r.Path)]++
				}
			}
			sim.ResetRequests()
			return charged, all
		}

		simStart := sim.Now()
		if _, err := githubsim.GraphQLSchema(); err != nil { // the simulator's, parsed before measuring
			b.Fatal(err)
		}
		runtime.GC()
		heapStart := memwatch.HeapInuse()
		mem := memwatch.Start(50 * time.Millisecond)
		b.StartTimer()
		records := collect()
		b.StopTimer()
		heapPeak := mem.Stop()
		simHours := sim.Now().Sub(simStart).Hours()
		charged1, all1 := count()
		points1 := points
		b.Logf("first run, charged requests by kind: %v (GraphQL: %d points)", kinds, points1)
		rows := map[string]int{}
		for _, table := range []string{"repositories", "commits", "pull_requests", "pull_request_commits", "pull_request_reviews",
			"workflow_runs", "deployments", "deployment_statuses", "deployment_changes", "incidents"} {
			var n int
			if err := store.Pool().QueryRow(b.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
				b.Fatal(err)
			}
			rows[table] = n
		}
		b.Logf("first run, rows by table: %v", rows)

		collect()
		charged2, all2 := count()
		points2 := points
		b.Logf("second run, charged requests by kind: %v (GraphQL: %d points)", kinds, points2)
		sim.Advance(24 * time.Hour)
		collect()
		chargedDay, allDay := count()
		pointsDay := points
		b.Logf("next day, charged requests by kind: %v (GraphQL: %d points)", kinds, pointsDay)
		hosts.Close()

		b.ReportMetric(float64(heapPeak)/(1<<20), "heap_peak_MiB")
		b.ReportMetric(float64(heapPeak-min(heapPeak, heapStart))/(1<<20), "heap_growth_MiB")
		b.ReportMetric(float64(records), "records")
		b.ReportMetric(float64(all1), "requests")
		b.ReportMetric(float64(charged1), "charged_1st")
		b.ReportMetric(1000*float64(all1)/float64(records), "req/1000rec")
		b.ReportMetric(simHours, "sim_hours")
		b.ReportMetric(floorHours(max(charged1, points1), rateLimit), "floor_hours")
		b.ReportMetric(float64(points1), "points_1st")
		b.ReportMetric(float64(charged2), "charged_2nd")
		b.ReportMetric(float64(points2), "points_2nd")
		b.ReportMetric(float64(pointsDay), "points_nextday")
		b.ReportMetric(float64(all2), "all_2nd")
		b.ReportMetric(float64(chargedDay), "charged_nextday")
		b.ReportMetric(float64(allDay), "all_nextday")
		b.Logf("records %d, requests %d (REST charged %d, GraphQL points %d), %.1f simulated hours (floor %.1f); second run %d charged + %d points of %d; next day %d charged + %d points of %d",
			records, all1, charged1, points1, simHours, floorHours(max(charged1, points1), rateLimit), charged2, points2, all2, chargedDay, pointsDay, allDay)
	}
}

// floorHours is the least time n charged requests take under limit requests an hour:
// a fresh window allows limit at once, each further limit needs another hour.
func floorHours(n, limit int) float64 { return max(0, float64(n-limit)) / float64(limit) }

// requestKind names the endpoint of an API path, for the cost breakdown.
func requestKind(p string) string {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "orgs":
		return "org repos"
	case len(parts) < 4:
		return "repo"
	case parts[3] == "pulls" && len(parts) == 4:
		return "pulls list"
	case parts[3] == "pulls" && len(parts) == 5:
		return "pull"
	case parts[3] == "pulls":
		return "pull " + parts[5]
	case parts[3] == "deployments" && len(parts) == 4:
		return "deployments list"
	case parts[3] == "deployments":
		return "deployment statuses"
	case parts[3] == "actions" && len(parts) == 5:
		return "runs list"
	}
	return parts[3]
}
