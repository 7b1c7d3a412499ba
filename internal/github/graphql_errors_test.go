package github

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// graphQLRateHeaders writes GitHub's GraphQL budget headers.
func graphQLRateHeaders(w http.ResponseWriter, limit, remaining int, reset time.Time) {
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(limit-remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "graphql")
}

// probeAnswer is a GraphQL answer to a one-repository probe of pull requests.
const probeAnswer = `{"data":{"rateLimit":{"cost":1,"remaining":4990,"resetAt":"2026-09-15T07:00:00Z"},
"r0":{"pullRequests":{"totalCount":3,"nodes":[{"number":3,"updatedAt":"2026-09-14T10:00:00Z"}]}}}}`

func probe(fullName string) []RepoQuery {
	return []RepoQuery{{FullName: fullName, Pulls: &Page{Probe: true}}}
}

// The query goes to <api_url>graphql (the base path kept, as for REST) as a POST with the
// token, JSON, and the header asking for current global ids; its answer is decoded.
func TestGraphQLRequestShape(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var body atomic.Value
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body.Store(b)
		graphQLRateHeaders(w, 5000, 4990, clock.Now().Add(time.Hour))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(probeAnswer))
	})
	c := newTestClient(t, f, nil)
	var counts Counters
	answers, err := c.QueryRepos(WithCounters(t.Context(), &counts), "Repos", probe("acme/api"))
	if err != nil {
		t.Fatal(err)
	}
	if p := answers[0].Pulls; p == nil || p.Total != 3 || !p.Newest.Equal(time.Date(2026, 9, 14, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("probe answer %+v", answers[0].Pulls)
	}
	seen := f.seen()
	if len(seen) != 1 || seen[0].Method != http.MethodPost || seen[0].EscapedPath != apiPrefix+"graphql" {
		t.Fatalf("requests %+v, want one POST %sgraphql", seen, apiPrefix)
	}
	h := seen[0].Header
	if h.Get("Authorization") != "Bearer "+testToken || h.Get("Content-Type") != "application/json" || h.Get("X-Github-Next-Global-ID") != "1" {
		t.Errorf("headers %v", h)
	}
	var sent struct {
		Query         string         `json:"query"`
		Variables     map[string]any `json:"variables"`
		OperationName string         `json:"operationName"`
	}
	if err := json.Unmarshal(body.Load().([]byte), &sent); err != nil {
		t.Fatal(err)
	}
	if sent.OperationName != "Repos" || !strings.Contains(sent.Query, "rateLimit { cost remaining resetAt }") ||
		sent.Variables["o_r0"] != "acme" || sent.Variables["n_r0"] != "api" || strings.Contains(sent.Query, "acme") {
		t.Errorf("query %q variables %v: want the names in variables, never in the text", sent.Query, sent.Variables)
	}
	s := counts.Snapshot()
	if s.Requests != 1 || s.GraphQLRequests != 1 || s.GraphQLPoints != 1 || s.GraphQLRemainingLow == nil || *s.GraphQLRemainingLow != 4990 ||
		s.GraphQLLimit != 5000 || s.RateLimitLow != nil {
		t.Errorf("counters %+v: the GraphQL budget must not pass for the REST one", s)
	}
}

func TestGraphQLErrors(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		status int
		body   string
		want   error
		text   string
	}{
		"refused token":  {401, `{"message":"Bad credentials"}`, ErrTokenRefused, ""},
		"forbidden":      {403, `{"message":"Resource protected by organization SAML enforcement."}`, ErrForbidden, "SAML"},
		"invalid query":  {200, `{"errors":[{"path":["query","r0","sizes"],"extensions":{"code":"undefinedField"},"message":"Field 'sizes' doesn't exist on type 'Repository'"}]}`, ErrGraphQLQuery, "sizes"},
		"unknown error":  {200, `{"data":{"rateLimit":{"cost":1},"r0":null},"errors":[{"type":"SERVICE_UNAVAILABLE","path":["r0","pullRequests"],"message":"boom"}]}`, ErrGraphQLQuery, "boom"},
		"wrong endpoint": {404, `{"message":"Not Found"}`, ErrNotFound, "API base"},
		"teapot":         {418, `{"message":"I'm a teapot"}`, nil, "teapot"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeGitHub(t, newFakeClock(), func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.body))
			})
			cl := newTestClient(t, f, nil)
			_, err := cl.QueryRepos(t.Context(), "Repos", probe("acme/api"))
			if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.text) {
				t.Errorf("err = %v, want %v mentioning %q", err, c.want, c.text)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("the error carries the token: %v", err)
			}
			if n := len(f.seen()); n != 1 {
				t.Errorf("%d requests, want 1 (not retried)", n)
			}
		})
	}
}

// Per-repository errors (NOT_FOUND, FORBIDDEN at an alias) belong to that repository.
func TestGraphQLPerRepositoryErrors(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t, newFakeClock(), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":{"rateLimit":{"cost":1},"r0":null,"r1":null,"r2":{"pullRequests":{"totalCount":0,"nodes":[]}}},
"errors":[{"type":"NOT_FOUND","path":["r0"],"message":"Could not resolve to a Repository with the name 'acme/gone'."},
{"type":"FORBIDDEN","path":["r1"],"message":"Resource protected by organization SAML enforcement."}]}`))
	})
	c := newTestClient(t, f, nil)
	answers, err := c.QueryRepos(t.Context(), "Repos", append(append(probe("acme/gone"), probe("other/saml")...), probe("acme/api")...))
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(answers[0].Err, ErrNotFound) || !strings.Contains(answers[0].Err.Error(), "acme/gone") ||
		!errors.Is(answers[1].Err, ErrForbidden) || answers[2].Err != nil || answers[2].Pulls == nil {
		t.Errorf("answers %+v", answers)
	}
}

// A spent GraphQL budget (200, RATE_LIMITED, remaining 0) is waited out until the reset
// and blocks GraphQL only: REST requests go on meanwhile.
func TestGraphQLRateLimitedWaitsForTheResetAndLeavesRESTAlone(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	reset := clock.Now().Add(10 * time.Minute).Truncate(time.Second)
	var graphQLCalls atomic.Int32
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			rateHeaders(w, 5000, 4000, clock.Now().Add(time.Hour))
			serveJSON(t, w, "pull.json")
			return
		}
		if graphQLCalls.Add(1) == 1 {
			graphQLRateHeaders(w, 5000, 0, reset)
			_, _ = w.Write([]byte(`{"errors":[{"type":"RATE_LIMITED","message":"API rate limit already exceeded for user ID 1."}]}`))
			return
		}
		graphQLRateHeaders(w, 5000, 4999, clock.Now().Add(time.Hour))
		_, _ = w.Write([]byte(probeAnswer))
	})
	c := newTestClient(t, f, nil)
	var counts Counters
	if _, err := c.QueryRepos(WithCounters(t.Context(), &counts), "Repos", probe("acme/api")); err != nil {
		t.Fatal(err)
	}
	seen := f.seen()
	if len(seen) != 2 || seen[1].At.Before(reset) {
		t.Fatalf("%d requests, the second at %v; want it after the reset %v", len(seen), seen[len(seen)-1].At, reset)
	}
	// The GraphQL budget is spent again: GraphQL waits, REST does not.
	c.pacer.blockResource(resourceGraphQL, clock.Now().Add(time.Hour), reasonPrimary)
	before := clock.Now()
	if _, err := c.GetPull(t.Context(), "acme/api", 1); err != nil {
		t.Fatal(err)
	}
	if !clock.Now().Equal(before) {
		t.Errorf("a REST request waited %v for the GraphQL budget", clock.Now().Sub(before))
	}
	if counts.Snapshot().Retries != 1 {
		t.Errorf("retries %d, want 1", counts.Snapshot().Retries)
	}
}

// A spent REST budget does not hold GraphQL back either.
func TestRESTBudgetDoesNotBlockGraphQL(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			rateHeaders(w, 5000, 10, clock.Now().Add(time.Hour)) // below the reserve
			serveJSON(t, w, "pull.json")
			return
		}
		graphQLRateHeaders(w, 5000, 4000, clock.Now().Add(time.Hour))
		_, _ = w.Write([]byte(probeAnswer))
	})
	c := newTestClient(t, f, nil)
	if _, err := c.GetPull(t.Context(), "acme/api", 1); err != nil {
		t.Fatal(err)
	}
	before := clock.Now()
	if _, err := c.QueryRepos(t.Context(), "Repos", probe("acme/api")); err != nil {
		t.Fatal(err)
	}
	if !clock.Now().Equal(before) {
		t.Errorf("GraphQL waited %v for the REST reserve", clock.Now().Sub(before))
	}
}

// 502s and timeouts are retried smaller, then given up with ErrUnavailable; the client
// does not double the retries by letting the transport retry too.
func TestGraphQLGivesUpAfterRetries(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte(`{"message":"We couldn't respond to your request in time."}`))
	})
	c := newTestClient(t, f, nil)
	var counts Counters
	_, err := c.QueryRepos(WithCounters(t.Context(), &counts), "Repos", []RepoQuery{{FullName: "acme/api", Pulls: &Page{First: 100}}})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if n := len(f.seen()); n != 1+DefaultRetries {
		t.Errorf("%d requests, want %d (the first and %d retries)", n, 1+DefaultRetries, DefaultRetries)
	}
	if got := c.sizer.current(); got >= graphQLStartPage {
		t.Errorf("page size %d after failures, want it halved below %d", got, graphQLStartPage)
	}
	if len(clock.slept()) != DefaultRetries {
		t.Errorf("backoffs %v, want %d", clock.slept(), DefaultRetries)
	}
}

func TestPageSizerHalvesAndGrowsBack(t *testing.T) {
	t.Parallel()
	p := newPageSizer()
	if got := p.shrink(p.current()); got != graphQLStartPage/2 {
		t.Errorf("shrink = %d", got)
	}
	for range graphQLGrowAfter - 1 {
		p.succeeded()
	}
	if p.current() != graphQLStartPage/2 {
		t.Errorf("grew before %d successes", graphQLGrowAfter)
	}
	p.succeeded()
	if p.current() != graphQLStartPage {
		t.Errorf("after %d successes: %d, want %d", graphQLGrowAfter, p.current(), graphQLStartPage)
	}
	for range 10 * graphQLGrowAfter {
		p.succeeded()
	}
	if p.current() != graphQLMaxPage {
		t.Errorf("grew to %d, want the cap %d", p.current(), graphQLMaxPage)
	}
	for range 20 {
		p.shrink(p.current())
	}
	if p.current() != 1 {
		t.Errorf("shrank to %d, want 1", p.current())
	}
}
