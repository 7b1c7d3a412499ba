package github

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testToken      = "fake-token-TESTTOKEN0123456789abcdefghijklmnopqr"
	testEnterprise = "ent1"
	apiPrefix      = "/api/v3/"
)

// fakeClock runs every wait instantly: Sleep moves time on.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 9, 15, 6, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	if d > 0 {
		c.now = c.now.Add(d)
	}
	return nil
}

func (c *fakeClock) slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

func (c *fakeClock) total() time.Duration {
	var sum time.Duration
	for _, d := range c.slept() {
		sum += d
	}
	return sum
}

// seenRequest is one request the fake server received.
type seenRequest struct {
	Method string
	Path   string // without the /api/v3 prefix
	// EscapedPath is the path as sent, prefix included.
	EscapedPath string
	Query       url.Values
	Header      http.Header
	At          time.Time // on the fake clock
}

// fakeGitHub is an httptest server under a non-empty base path (/api/v3/), like a
// GitHub Enterprise Server or a proxy: the client must use the base URL exactly.
type fakeGitHub struct {
	t      *testing.T
	clock  *fakeClock
	server *httptest.Server

	mu       sync.Mutex
	requests []seenRequest
	handler  http.HandlerFunc
}

func newFakeGitHub(t *testing.T, clock *fakeClock, handler http.HandlerFunc) *fakeGitHub {
	t.Helper()
	f := &fakeGitHub{t: t, clock: clock, handler: handler}
	f.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, seenRequest{
			Method:      r.Method,
			Path:        strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(apiPrefix, "/")),
			EscapedPath: r.URL.EscapedPath(),
			Query:       r.URL.Query(),
			Header:      r.Header.Clone(),
			At:          clock.Now(),
		})
		h := f.handler
		f.mu.Unlock()
		if !strings.HasPrefix(r.URL.Path, apiPrefix) {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		}
		h(w, r)
	}))
	t.Cleanup(f.server.Close)
	return f
}

func (f *fakeGitHub) baseURL() string { return f.server.URL + apiPrefix }

func (f *fakeGitHub) seen() []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seenRequest(nil), f.requests...)
}

// path returns the request path relative to the base URL.
func apiPath(r *http.Request) string { return strings.TrimPrefix(r.URL.Path, apiPrefix) }

// newTestClient builds a client for the fake server with test-friendly options;
// adjust tweaks them.
func newTestClient(t *testing.T, f *fakeGitHub, adjust func(*Options)) *Client {
	t.Helper()
	opts := Options{
		EnterpriseID: testEnterprise,
		BaseURL:      f.baseURL(),
		Token:        func(context.Context) (string, error) { return testToken, nil },
		HTTPClient:   f.server.Client(),
		Clock:        f.clock,
		Logger:       slog.New(slog.DiscardHandler),
	}
	if adjust != nil {
		adjust(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// serveJSON writes a testdata file as a JSON 200 answer.
func serveJSON(t testing.TB, w http.ResponseWriter, name string) {
	t.Helper()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(readTestdata(t, name))
}

// collect drains an iterator.
func collect[T any](t *testing.T, seq func(yield func(T, error) bool)) ([]T, error) {
	t.Helper()
	var out []T
	for v, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// memCache is an in-memory Cache for tests.
type memCache struct {
	mu      sync.Mutex
	entries map[string]memEntry
	puts    int
}

type memEntry struct {
	etag, link string
	body       []byte
}

func newMemCache() *memCache { return &memCache{entries: map[string]memEntry{}} }

func (m *memCache) GetCachedPage(_ context.Context, enterpriseID, u string) (string, string, []byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[enterpriseID+" "+u]
	return e.etag, e.link, e.body, ok, nil
}

func (m *memCache) PutCachedPage(_ context.Context, enterpriseID, u, etag, link string, body []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	m.entries[enterpriseID+" "+u] = memEntry{etag: etag, link: link, body: body}
	return nil
}
