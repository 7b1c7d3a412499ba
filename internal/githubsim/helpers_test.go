package githubsim

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-github/v93/github"
)

// testNow is the initial simulated time of the tests: in the past of the machine's
// clock, so go-github's own rate-limit bookkeeping (which uses the wall clock) never
// blocks on a simulated reset time.
var testNow = time.Date(2026, 9, 15, 10, 0, 0, 0, time.UTC)

const (
	tokenA = "fake-token-testEnterpriseA-1"
	tokenB = "fake-token-testEnterpriseB-2"
)

// testConfig is a small world: enterprise "acme" with two orgs (one with a busy
// repository) and enterprise "globex" with one org.
func testConfig() Config {
	return Config{
		Seed:                7,
		Now:                 testNow,
		HistoryDays:         60,
		FutureDays:          10,
		CopilotMissingDay:   time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC),
		CopilotNewFieldFrom: time.Date(2026, 9, 5, 0, 0, 0, 0, time.UTC),
		UserShardSize:       20,
		Enterprises: []EnterpriseConfig{
			{ID: "ent-a", Slug: "acme", Token: tokenA, TokenExpiresAt: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),
				Orgs: []OrgConfig{
					{Login: "acme-web", Repos: 8, ActiveShare: 0.5, PRsPerWeek: 3, BusyRepo: true},
					{Login: "acme-data", Repos: 6, ActiveShare: 0.5, PRsPerWeek: 2},
				},
				Developers: 20, CopilotUsers: 45},
			{ID: "ent-b", Slug: "globex", Token: tokenB,
				Orgs:       []OrgConfig{{Login: "globex-eng", Repos: 4, ActiveShare: 0.5, PRsPerWeek: 2, CopilotPolicyDisabled: true}},
				Developers: 8, CopilotUsers: 10},
		},
	}
}

func newSim(t testing.TB, cfg Config) (*Simulator, *Servers) {
	t.Helper()
	sim, err := New(cfg)
	if err != nil {
		t.Fatalf("new simulator: %v", err)
	}
	srv := sim.Start()
	t.Cleanup(srv.Close)
	return sim, srv
}

// ghClient is a go-github v93 client for the simulator's API host.
func ghClient(t testing.TB, srv *Servers, token string) *github.Client {
	t.Helper()
	base := srv.API.URL + "/"
	c, err := github.NewClient(github.WithURLs(&base, &base), github.WithAuthToken(token))
	if err != nil {
		t.Fatalf("go-github client: %v", err)
	}
	return c
}

// get sends a raw GET with a token ("" for none) and returns the response and body.
func get(t testing.TB, rawURL, token string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", rawURL, err)
	}
	return resp, body
}
