package github

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPacingSpendsHalfTheBudgetThenSpreadsTheRest(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	start := clock.Now()
	reset := start.Add(time.Hour)
	var remaining atomic.Int32
	remaining.Store(150)
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		rateHeaders(w, 5000, int(remaining.Add(-1)), reset)
		serveJSON(t, w, "pull.json")
	})
	// Reserve 1% of 5,000 = 50; the ceiling is lifted so only the budget paces.
	c := newTestClient(t, f, func(o *Options) { o.MaxRate = 1e9 })
	for i := range 60 {
		if _, err := c.GetPull(t.Context(), "acme/api", i+1); err != nil {
			t.Fatal(err)
		}
	}
	seen := f.seen()
	immediate := 0
	for _, r := range seen {
		if r.At.Sub(start) < time.Millisecond { // the lifted ceiling still spaces by nanoseconds
			immediate++
		}
	}
	// The first answer leaves 149: usable 99, half of it (49) may go at once.
	if immediate != 50 {
		t.Errorf("%d requests went out at once, want 50 (the first and a burst of 49)", immediate)
	}
	for i := 50; i < len(seen); i++ {
		gap := seen[i].At.Sub(seen[i-1].At)
		// The rest is spread over the hour: about 3,600 s / 50 usable requests.
		if gap < 60*time.Second || gap > 80*time.Second {
			t.Errorf("gap before request %d = %v, want the remaining budget spread evenly (~72 s)", i+1, gap)
		}
	}
	if got := remaining.Load(); got < 50 {
		t.Errorf("remaining fell to %d, below the reserve", got)
	}
}

func TestReserveBlocksUntilReset(t *testing.T) {
	t.Parallel()
	// A deadline is wall-clock time: start the fake clock at the real now.
	clock := &fakeClock{now: time.Now()}
	reset := clock.Now().Add(20 * time.Minute).Truncate(time.Second)
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		rateHeaders(w, 5000, 40, reset) // below the 1% reserve
		serveJSON(t, w, "pull.json")
	})
	c := newTestClient(t, f, nil)
	if _, err := c.GetPull(t.Context(), "acme/api", 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithDeadline(t.Context(), clock.Now().Add(2*time.Minute))
	defer cancel()
	_, err := c.GetPull(ctx, "acme/api", 2)
	var rlErr *RateLimitError
	if !errors.As(err, &rlErr) || rlErr.Reason != reasonReserve || !rlErr.ResetAt.Equal(reset.Add(resetSkew)) {
		t.Fatalf("err = %v, want a reserve *RateLimitError until the reset", err)
	}
	// Without a deadline the client waits for the reset, then sends.
	if _, err := c.GetPull(t.Context(), "acme/api", 3); err != nil {
		t.Fatal(err)
	}
	seen := f.seen()
	if len(seen) != 2 || seen[1].At.Before(reset) {
		t.Errorf("requests %d, second at %v; want 2 with the second after the reset %v", len(seen), seen[len(seen)-1].At, reset)
	}
}

func TestCeilingPacesBursts(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) { serveJSON(t, w, "pull.json") })
	c := newTestClient(t, f, func(o *Options) { o.MaxRate = 2; o.MaxInFlight = 1 })
	for i := range 5 {
		if _, err := c.GetPull(t.Context(), "acme/api", i+1); err != nil {
			t.Fatal(err)
		}
	}
	// Burst 1 (MaxInFlight), then one every half second.
	if got := clock.total(); got != 2*time.Second {
		t.Errorf("paced for %v, want 2s for 5 requests at 2/s", got)
	}
}

func TestPacerBoundsRequestsInFlight(t *testing.T) {
	t.Parallel()
	p := newPacer(newFakeClock(), 2, 1e9, 0, time.Hour)
	release1, err := p.acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	release2, err := p.acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := p.acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("third acquire = %v, want it to block until the context ends", err)
	}
	release1()
	release3, err := p.acquire(t.Context())
	if err != nil {
		t.Fatalf("acquire after a release: %v", err)
	}
	release2()
	release3()
}

func TestCountersAreSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var n atomic.Int32
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		rateHeaders(w, 15000, 14000-int(n.Add(1)), clock.Now().Add(time.Hour))
		serveJSON(t, w, "pull.json")
	})
	c := newTestClient(t, f, func(o *Options) { o.MaxInFlight = 8; o.MaxRate = 1e9 })
	var total, inner Counters
	ctx := WithCounters(t.Context(), &total)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			callCtx := ctx
			if i%2 == 0 {
				callCtx = WithCounters(ctx, &inner)
			}
			if _, err := c.GetPull(callCtx, "acme/api", i); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s := total.Snapshot()
	if s.Requests != 20 || s.RateLimit != 15000 || s.RateLimitLow == nil || *s.RateLimitLow != 13980 {
		t.Errorf("total = %+v, want 20 requests, limit 15000, low-water 13980", s)
	}
	if got := inner.Snapshot().Requests; got != 10 {
		t.Errorf("nested counters saw %d requests, want 10", got)
	}
}

func TestParseNextLink(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ header, want string }{
		{``, ``},
		{`<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last"`, `https://api.github.com/x?page=2`},
		{`<https://api.github.com/x?page=1>; rel="prev", <https://api.github.com/x?page=3>; rel="next"`, `https://api.github.com/x?page=3`},
		{`<https://api.github.com/x?page=1>; rel="first"`, ``},
		{`<https://api.github.com/x?after=Y3Vy>; rel="next"`, `https://api.github.com/x?after=Y3Vy`},
		{`<https://api.github.com/x?page=2>;rel=next`, `https://api.github.com/x?page=2`},
		{`garbage; rel="next"`, ``},
	} {
		if got := parseNextLink(tc.header); got != tc.want {
			t.Errorf("parseNextLink(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	token := func(context.Context) (string, error) { return "t", nil }
	for name, opts := range map[string]Options{
		"no enterprise":   {Token: token},
		"no token":        {EnterpriseID: "e"},
		"relative url":    {EnterpriseID: "e", Token: token, BaseURL: "api.github.com"},
		"plain http":      {EnterpriseID: "e", Token: token, BaseURL: "http://api.github.com/"},
		"credentials":     {EnterpriseID: "e", Token: token, BaseURL: "https://x:y@api.github.com/"},
		"unknown scheme":  {EnterpriseID: "e", Token: token, BaseURL: "ftp://api.github.com/"},
		"query in base":   {EnterpriseID: "e", Token: token, BaseURL: "https://api.github.com/?a=b"},
		"whitespace name": {EnterpriseID: "  ", Token: token},
	} {
		if _, err := New(opts); err == nil {
			t.Errorf("%s: New accepted %+v", name, opts)
		}
	}
	c, err := New(Options{EnterpriseID: "e", Token: token, BaseURL: "https://api.acme.ghe.com"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.gh.BaseURL(); got != "https://api.acme.ghe.com/" {
		t.Errorf("base URL = %s, want it used as is (no api/v3 appended), with a trailing slash", got)
	}
	if _, err := New(Options{EnterpriseID: "e", Token: token, BaseURL: "http://127.0.0.1:8080/api/v3/"}); err != nil {
		t.Errorf("loopback http refused: %v", err)
	}
}
