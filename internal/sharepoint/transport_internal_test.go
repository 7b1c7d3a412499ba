package sharepoint

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
)

// The token guard, last in the middleware chain, takes the token off any request that
// is not for the Graph origin — another host, or the Graph host on another port (the
// SDK's own allowed-host check compares host names only) — and leaves it on Graph's.
func TestTokenGuardKeepsTheTokenOnGraph(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{} // server → Authorization received
	server := func(name string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[name] = r.Header.Get("Authorization")
			mu.Unlock()
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	graph, sameHost, other := server("graph"), server("graph host, other port"), server("other")
	graphURL, err := url.Parse(graph.URL)
	if err != nil {
		t.Fatal(err)
	}
	// The second server is the same host (127.0.0.1) on another port; the third is
	// reached by another name for the same address.
	otherURL := "http://localhost:" + mustPort(t, other.URL)
	client := newHTTPClient(Options{}, graphURL, newRetryPolicy(Options{}))
	for _, target := range []string{graph.URL, sameHost.URL, otherURL} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, target+"/v1.0/drives", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer graph-token")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]string{"graph": "Bearer graph-token", "graph host, other port": "", "other": ""}
	for name, auth := range want {
		if got, ok := seen[name]; !ok || got != auth {
			t.Errorf("%s received Authorization %q (reached: %v), want %q", name, got, ok, auth)
		}
	}
}

func mustPort(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}
