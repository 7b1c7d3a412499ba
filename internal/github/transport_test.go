package github

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// rateHeaders writes the primary rate-limit headers.
func rateHeaders(w http.ResponseWriter, limit, remaining int, reset time.Time) {
	w.Header().Set("X-Ratelimit-Limit", strconv.Itoa(limit))
	w.Header().Set("X-Ratelimit-Remaining", strconv.Itoa(remaining))
	w.Header().Set("X-Ratelimit-Used", strconv.Itoa(limit-remaining))
	w.Header().Set("X-Ratelimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	w.Header().Set("X-Ratelimit-Resource", "core")
}

const secondaryLimitBody = `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits","status":"403"}`

// refuseFirst answers the first n requests with refuse, the rest with the pull request.
func refuseFirst(t *testing.T, n int, refuse func(w http.ResponseWriter)) http.HandlerFunc {
	var count atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		if int(count.Add(1)) <= n {
			refuse(w)
			return
		}
		serveJSON(t, w, "pull.json")
	}
}

func TestConditionalRequestsReplayStoredPagesOn304(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var f *fakeGitHub
	f = newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		page := r.URL.Query().Get("page")
		etag := `W/"etag-page-` + page + `"`
		if r.Header.Get("If-None-Match") == etag {
			rateHeaders(w, 5000, 4000, clock.Now().Add(time.Hour))
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		if page == "2" {
			serveJSON(t, w, "repos_page2.json")
			return
		}
		w.Header().Set("Link", `<`+f.baseURL()+`orgs/acme/repos?page=2&per_page=100>; rel="next"`)
		serveJSON(t, w, "repos_page1.json")
	})
	cache := newMemCache()
	c := newTestClient(t, f, func(o *Options) { o.Cache = cache })

	var first, second Counters
	want, err := collect(t, c.ListOrgRepos(WithCounters(t.Context(), &first), "acme"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := collect(t, c.ListOrgRepos(WithCounters(t.Context(), &second), "acme"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("second pass differs from the first (-first +second):\n%s", diff)
	}
	if len(got) != 3 {
		t.Errorf("second pass listed %d repositories, want 3: the stored Link must lead to page 2", len(got))
	}
	seen := f.seen()
	if len(seen) != 4 {
		t.Fatalf("server saw %d requests, want 4", len(seen))
	}
	for i, r := range seen[:2] {
		if r.Header.Get("If-None-Match") != "" {
			t.Errorf("first pass request %d sent If-None-Match with nothing cached", i)
		}
	}
	for i, r := range seen[2:] {
		if r.Header.Get("If-None-Match") == "" {
			t.Errorf("second pass request %d was not conditional", i)
		}
	}
	if s := second.Snapshot(); s.Requests != 2 || s.NotModified != 2 {
		t.Errorf("second pass counters = %+v, want 2 requests, both 304", s)
	}
	if s := first.Snapshot(); s.NotModified != 0 {
		t.Errorf("first pass counted %d 304s", s.NotModified)
	}
	if cache.puts != 2 {
		t.Errorf("cache writes = %d, want 2 (a 304 rewrites nothing)", cache.puts)
	}
}

func TestSingleReadsAreNotConditional(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"x"`)
		serveJSON(t, w, "pull.json")
	})
	cache := newMemCache()
	c := newTestClient(t, f, func(o *Options) { o.Cache = cache })
	for range 2 {
		if _, err := c.GetPull(t.Context(), "acme/api", 1347); err != nil {
			t.Fatal(err)
		}
	}
	if cache.puts != 0 || f.seen()[1].Header.Get("If-None-Match") != "" {
		t.Errorf("a single read was cached (%d writes) or sent conditionally", cache.puts)
	}
}

func TestSecondaryLimitHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, refuseFirst(t, 1, func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "30")
		rateHeaders(w, 5000, 4900, clock.Now().Add(time.Hour))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, secondaryLimitBody)
	}))
	c := newTestClient(t, f, nil)
	var counters Counters
	pr, err := c.GetPull(WithCounters(t.Context(), &counters), "acme/api", 1347)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Number != 1347 {
		t.Errorf("number = %d", pr.Number)
	}
	seen := f.seen()
	if len(seen) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(seen))
	}
	if gap := seen[1].At.Sub(seen[0].At); gap != 30*time.Second {
		t.Errorf("retry came %v after the refusal, want exactly Retry-After (30s)", gap)
	}
	s := counters.Snapshot()
	if s.Requests != 2 || s.Waits != 1 || s.Retries != 1 {
		t.Errorf("counters = %+v, want 2 requests, 1 wait, 1 retry", s)
	}
}

func TestSecondaryLimitWithoutRetryAfterBacksOffAMinuteOrMore(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, refuseFirst(t, 2, func(w http.ResponseWriter) {
		rateHeaders(w, 5000, 4900, clock.Now().Add(time.Hour))
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"message":"too many requests"}`)
	}))
	c := newTestClient(t, f, nil)
	if _, err := c.GetPull(t.Context(), "acme/api", 1347); err != nil {
		t.Fatal(err)
	}
	seen := f.seen()
	if len(seen) != 3 {
		t.Fatalf("server saw %d requests, want 3", len(seen))
	}
	first, second := seen[1].At.Sub(seen[0].At), seen[2].At.Sub(seen[1].At)
	if first < time.Minute || first > 75*time.Second {
		t.Errorf("first wait %v, want 60s plus at most a quarter of jitter", first)
	}
	if second < 2*time.Minute || second > 150*time.Second {
		t.Errorf("second wait %v, want the backoff doubled (120s plus jitter)", second)
	}
}

func TestPrimaryLimitExhaustedSendsNothingUntilReset(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	reset := clock.Now().Add(10 * time.Minute).Truncate(time.Second)
	var calls atomic.Int32
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			rateHeaders(w, 5000, 0, reset) // the budget is spent by this very request
		} else {
			rateHeaders(w, 5000, 4999, reset.Add(time.Hour))
		}
		serveJSON(t, w, "pull.json")
	})
	c := newTestClient(t, f, nil)
	var counters Counters
	ctx := WithCounters(t.Context(), &counters)
	if _, err := c.GetPull(ctx, "acme/api", 1); err != nil {
		t.Fatal(err)
	}
	// Three more requests, concurrently: none may go out before the reset.
	errs := make(chan error, 3)
	for i := range 3 {
		go func() {
			_, err := c.GetPull(ctx, "acme/api", 2+i)
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	seen := f.seen()
	if len(seen) != 4 {
		t.Fatalf("server saw %d requests, want 4", len(seen))
	}
	for _, r := range seen[1:] {
		if r.At.Before(reset) {
			t.Errorf("request %s arrived at %s, before the reset at %s", r.Path, r.At.Format(time.TimeOnly), reset.Format(time.TimeOnly))
		}
	}
	if s := counters.Snapshot(); s.Waits < 1 || s.RateLimitLow == nil || *s.RateLimitLow != 0 || s.RateLimit != 5000 {
		t.Errorf("counters = %+v, want a wait, low-water 0 and limit 5000", s)
	}
}

func TestPrimaryLimitRefusalWaitsUntilReset(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	reset := clock.Now().Add(7 * time.Minute).Truncate(time.Second)
	f := newFakeGitHub(t, clock, refuseFirst(t, 1, func(w http.ResponseWriter) {
		rateHeaders(w, 5000, 0, reset)
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"message":"API rate limit exceeded for user ID 1."}`)
	}))
	c := newTestClient(t, f, nil)
	if _, err := c.GetPull(t.Context(), "acme/api", 1); err != nil {
		t.Fatal(err)
	}
	seen := f.seen()
	if len(seen) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(seen))
	}
	if seen[1].At.Before(reset) || seen[1].At.After(reset.Add(2*time.Second)) {
		t.Errorf("retry at %s, want right after the reset at %s", seen[1].At.Format(time.TimeOnly), reset.Format(time.TimeOnly))
	}
}

func TestRateLimitGivesUpAfterTheWaitBudget(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	c := newTestClient(t, f, func(o *Options) { o.RateLimitWaits = 2 })
	start := clock.Now()
	_, err := c.GetPull(t.Context(), "acme/api", 1)
	var rlErr *RateLimitError
	if !errors.As(err, &rlErr) || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("err = %v, want a *RateLimitError", err)
	}
	if n := len(f.seen()); n != 3 {
		t.Errorf("server saw %d requests, want 3 (the first and two after waits)", n)
	}
	if want := start.Add(3 * time.Minute); !rlErr.ResetAt.Equal(want) {
		t.Errorf("ResetAt = %s, want %s", rlErr.ResetAt, want)
	}
	if !strings.Contains(err.Error(), "get pull request acme/api#1") {
		t.Errorf("error %q does not name the operation", err)
	}
}

func TestRateLimitWaitPastDeadlineGivesUpAtOnce(t *testing.T) {
	t.Parallel()
	// A context deadline is wall-clock time: start the fake clock at the real now.
	clock := &fakeClock{now: time.Now()}
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "600")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, secondaryLimitBody)
	})
	c := newTestClient(t, f, nil)
	// The stage has 150 s left (on the client's clock); a 10-minute wait cannot fit.
	ctx, cancel := context.WithDeadline(t.Context(), clock.Now().Add(150*time.Second))
	defer cancel()
	_, err := c.GetPull(ctx, "acme/api", 1)
	var rlErr *RateLimitError
	if !errors.As(err, &rlErr) {
		t.Fatalf("err = %v, want a *RateLimitError", err)
	}
	if len(clock.slept()) != 0 {
		t.Errorf("the client slept %v before giving up", clock.slept())
	}
	if want := clock.Now().Add(10 * time.Minute); !rlErr.ResetAt.Equal(want) {
		t.Errorf("ResetAt = %s, want %s", rlErr.ResetAt, want)
	}
	if n := len(f.seen()); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

func TestMaxWaitGivesUpAtOnce(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		rateHeaders(w, 5000, 0, clock.Now().Add(40*time.Minute))
		w.WriteHeader(http.StatusForbidden)
	})
	c := newTestClient(t, f, func(o *Options) { o.MaxWait = 5 * time.Minute })
	_, err := c.GetPull(t.Context(), "acme/api", 1)
	var rlErr *RateLimitError
	if !errors.As(err, &rlErr) || rlErr.Reason != reasonPrimary {
		t.Fatalf("err = %v, want a primary *RateLimitError", err)
	}
	if len(clock.slept()) != 0 {
		t.Errorf("slept %v", clock.slept())
	}
}

func TestServerErrorsAreRetriedWithBackoff(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	statuses := []int{http.StatusBadGateway, http.StatusServiceUnavailable}
	var count atomic.Int32
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		if n := int(count.Add(1)); n <= len(statuses) {
			w.WriteHeader(statuses[n-1])
			return
		}
		serveJSON(t, w, "pull.json")
	})
	c := newTestClient(t, f, nil)
	var counters Counters
	if _, err := c.GetPull(WithCounters(t.Context(), &counters), "acme/api", 1); err != nil {
		t.Fatal(err)
	}
	if s := counters.Snapshot(); s.Requests != 3 || s.Retries != 2 {
		t.Errorf("counters = %+v, want 3 requests, 2 retries", s)
	}
	sleeps := clock.slept()
	if len(sleeps) != 2 || sleeps[0] < time.Second || sleeps[1] < 2*time.Second || sleeps[1] > 3*time.Second {
		t.Errorf("backoff sleeps = %v, want about 1s then 2s", sleeps)
	}
}

func TestServerErrorsGiveUpAfterTheRetryBudget(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"message":"Server Error"}`)
	})
	c := newTestClient(t, f, nil)
	_, err := c.GetPull(t.Context(), "acme/api", 1)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if n := len(f.seen()); n != 1+DefaultRetries {
		t.Errorf("server saw %d requests, want %d", n, 1+DefaultRetries)
	}
}

func TestTruncatedBodiesAreRetried(t *testing.T) {
	t.Parallel()
	full := string(readTestdata(t, "pull.json"))
	for name, truncate := range map[string]func(w http.ResponseWriter){
		"shorter than Content-Length": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(full)))
			fmt.Fprint(w, full[:len(full)/2])
		},
		"JSON cut short": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			fmt.Fprint(w, full[:len(full)/2])
		},
		"connection reset": func(w http.ResponseWriter) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			if tcp, ok := conn.(*net.TCPConn); ok {
				_ = tcp.SetLinger(0) // close with RST
			}
			conn.Close()
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			f := newFakeGitHub(t, clock, refuseFirst(t, 2, truncate))
			c := newTestClient(t, f, nil)
			var counters Counters
			pr, err := c.GetPull(WithCounters(t.Context(), &counters), "acme/api", 1347)
			if err != nil {
				t.Fatal(err)
			}
			if pr.Additions != 100 {
				t.Errorf("additions = %d, want the whole body decoded", pr.Additions)
			}
			if s := counters.Snapshot(); s.Retries != 2 {
				t.Errorf("retries = %d, want 2", s.Retries)
			}
		})
	}
}

func TestTokenRefusedStopsAtOnce(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`)
	})
	health := &healthRecorder{}
	c := newTestClient(t, f, func(o *Options) { o.TokenHealth = health })
	_, err := collect(t, c.ListOrgRepos(t.Context(), "acme"))
	if !errors.Is(err, ErrTokenRefused) {
		t.Fatalf("err = %v, want ErrTokenRefused", err)
	}
	if !strings.Contains(err.Error(), "refused the token") || strings.Contains(err.Error(), testToken) {
		t.Errorf("message %q must say the token was refused, without the token", err)
	}
	if n := len(f.seen()); n != 1 {
		t.Errorf("server saw %d requests, want 1 (never retried)", n)
	}
	if len(clock.slept()) != 0 {
		t.Errorf("slept %v", clock.slept())
	}
	if got := c.TokenHealth().LastRefused; !got.Equal(clock.Now()) {
		t.Errorf("LastRefused = %v", got)
	}
	if health.refused != 1 {
		t.Errorf("health store heard of %d refusals, want 1", health.refused)
	}
}

func TestClientErrorsAreTypedAndNotRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		body   string
		want   error
		text   string
	}{
		{http.StatusForbidden, `{"message":"Copilot Usage Metrics API access is disabled for this organization."}`, ErrForbidden, "access is disabled"},
		{http.StatusNotFound, `{"message":"Not Found"}`, ErrNotFound, "not found"},
		{http.StatusUnprocessableEntity, `{"message":"Validation Failed"}`, nil, "422 Unprocessable Entity: Validation Failed"},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
				rateHeaders(w, 5000, 4000, clock.Now().Add(time.Hour))
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			})
			c := newTestClient(t, f, nil)
			_, err := c.GetPull(t.Context(), "acme/api", 1)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("err = %v, want %v mentioning %q", err, tc.want, tc.text)
			}
			if errors.Is(err, ErrRateLimited) || errors.Is(err, ErrUnavailable) {
				t.Errorf("err = %v wrongly classified", err)
			}
			if n := len(f.seen()); n != 1 {
				t.Errorf("server saw %d requests, want 1", n)
			}
		})
	}
}

func TestTokenNeverLeavesTheAPIHost(t *testing.T) {
	t.Parallel()
	var foreignAuth atomic.Int32
	var foreignHits atomic.Int32
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreignHits.Add(1)
		if r.Header.Get("Authorization") != "" || strings.Contains(fmt.Sprint(r.Header), testToken) {
			foreignAuth.Add(1)
		}
		serveJSON(t, w, "pull.json")
	}))
	t.Cleanup(foreign.Close)

	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		switch apiPath(r) {
		case "repos/acme/api/pulls/1":
			// A cross-host redirect (e.g. a misbehaving proxy).
			http.Redirect(w, r, foreign.URL+"/elsewhere/pulls/1", http.StatusFound)
		case "repos/acme/api/pulls/2":
			// A same-host redirect keeps the token (a renamed repository).
			http.Redirect(w, r, apiPrefix+"repos/acme/api/pulls/3", http.StatusMovedPermanently)
		case "repos/acme/api/pulls/3":
			serveJSON(t, w, "pull.json")
		case "orgs/acme/repos":
			w.Header().Set("Link", `<`+foreign.URL+`/orgs/acme/repos?page=2>; rel="next"`)
			serveJSON(t, w, "repos_page1.json")
		default:
			http.NotFound(w, r)
		}
	})
	c := newTestClient(t, f, nil)

	// A redirect to another origin is refused outright (TestAPIRedirectToAnotherOriginIsRefused).
	if _, err := c.GetPull(t.Context(), "acme/api", 1); !errors.Is(err, ErrDisallowedHost) {
		t.Fatalf("cross-host redirect: %v, want it refused", err)
	}
	if _, err := c.GetPull(t.Context(), "acme/api", 2); err != nil {
		t.Fatalf("same-host redirect: %v", err)
	}
	_, err := collect(t, c.ListOrgRepos(t.Context(), "acme"))
	if err == nil || !strings.Contains(err.Error(), "another host") {
		t.Errorf("foreign next link: err = %v, want it refused", err)
	}
	if foreignHits.Load() != 0 {
		t.Errorf("foreign host saw %d requests, want none", foreignHits.Load())
	}
	if foreignAuth.Load() != 0 {
		t.Errorf("the token reached the foreign host %d times", foreignAuth.Load())
	}
	for _, r := range f.seen() {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			t.Errorf("API request %s lacked the token", r.Path)
		}
	}
}

func TestTokenSourceFailureIsNotRetried(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("no request may go out without a token")
	})
	c := newTestClient(t, f, func(o *Options) {
		o.Token = func(context.Context) (string, error) {
			return "", errors.New("key vault: secret github-pat-ent1 not found")
		}
	})
	_, err := c.GetPull(t.Context(), "acme/api", 1)
	if err == nil || !strings.Contains(err.Error(), "secret github-pat-ent1 not found") {
		t.Errorf("err = %v", err)
	}
	if len(clock.slept()) != 0 {
		t.Errorf("slept %v", clock.slept())
	}
}

func TestDamagedCacheEntryIsRefetched(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		serveJSON(t, w, "pulls.json")
	})
	cache := newMemCache()
	c := newTestClient(t, f, func(o *Options) { o.Cache = cache })
	first := c.gh.BaseURL() + "repos/acme/api/pulls?direction=desc&per_page=100&sort=updated&state=all"
	if err := cache.PutCachedPage(t.Context(), testEnterprise, first, `"v1"`, "", []byte("not gzip")); err != nil {
		t.Fatal(err)
	}
	pulls, err := collect(t, c.ListPulls(t.Context(), "acme/api"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pulls) != 2 {
		t.Errorf("got %d pulls, want 2", len(pulls))
	}
	seen := f.seen()
	if len(seen) != 2 || seen[0].Header.Get("If-None-Match") == "" || seen[1].Header.Get("If-None-Match") != "" {
		t.Errorf("requests = %d; want a conditional one, then an unconditional one after the damaged entry", len(seen))
	}
}

func TestSystemClockHonoursContext(t *testing.T) {
	t.Parallel()
	var clock systemClock
	if err := clock.Sleep(t.Context(), 0); err != nil {
		t.Errorf("Sleep(0) = %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := clock.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a cancelled context = %v, want context.Canceled at once", err)
	}
	if clock.Now().IsZero() {
		t.Error("Now is zero")
	}
}
