package githubsim

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
)

// BenchmarkNewBenchmarkWorld generates the large world (2 × 1,000 repositories, 20 %
// active) and reports the heap it keeps.
func BenchmarkNewBenchmarkWorld(b *testing.B) {
	cfg := BenchmarkConfig(testNow)
	var sim *Simulator
	for b.Loop() {
		var err error
		if sim, err = New(cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b.ReportMetric(float64(m.HeapAlloc)/(1<<20), "heap-MiB")
	runtime.KeepAlive(sim)
}

// BenchmarkHandler measures requests per second through the API handler (no network),
// over a mix of list endpoints of the demo world.
func BenchmarkHandler(b *testing.B) {
	sim, err := New(DemoConfig(testNow))
	if err != nil {
		b.Fatal(err)
	}
	o := sim.w.orgs["contoso-web"]
	sc := o.showcase.fullName()
	paths := []string{
		"/orgs/contoso-web/repos?per_page=100",
		"/repos/" + sc + "/commits?per_page=100",
		"/repos/" + sc + "/pulls?state=all&sort=updated&direction=desc&per_page=100",
		"/repos/" + sc + "/pulls/3",
		"/repos/" + sc + "/actions/runs?per_page=100",
		"/repos/" + sc + "/deployments?per_page=100",
		"/repos/" + sc + "/issues?state=all&labels=incident",
		"/enterprises/contoso/copilot/billing/seats?per_page=100",
	}
	token := sim.w.enterprises[0].cfg.Token
	reqs := make([]*http.Request, len(paths))
	for i, p := range paths {
		reqs[i] = httptest.NewRequest(http.MethodGet, "http://api.local"+p, nil)
		reqs[i].Header.Set("Authorization", "Bearer "+token)
	}
	h := sim.API()
	i := 0
	for b.Loop() {
		sim.ResetRateLimits()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, reqs[i%len(reqs)])
		if w.Code != http.StatusOK {
			b.Fatalf("%s: %d", paths[i%len(paths)], w.Code)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkCopilotUsersReport measures rendering one enterprise users-1-day file.
func BenchmarkCopilotUsersReport(b *testing.B) {
	sim, err := New(BenchmarkConfig(testNow))
	if err != nil {
		b.Fatal(err)
	}
	sc := reportScope{e: sim.w.enterprises[0]}
	day := startOfDay(testNow).AddDate(0, 0, -5)
	for b.Loop() {
		sim.ResetRequests()
		if len(sim.w.userRecords(sc, day, testNow)) == 0 {
			b.Fatal("no user records")
		}
	}
}
