package github

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The GraphQL client: POST <api_url>graphql on the API client's own transport, so the
// token, the egress rules, the counters, the logger and the pacing (requests in flight
// shared with REST, a budget in points of its own, GitHub's 2,000 points a minute) are
// the REST client's. Queries are hand-written strings (graphql_repos.go), not
// githubv4 structs: several repositories share one query under aliases, page sizes
// shrink and grow per attempt, and the client estimates each query's cost before
// sending it — all of which is plain string building here and reflection over
// generated struct tags there. The tests validate every query shape against GitHub's
// published schema.

// graphQLPath is the endpoint relative to the API base (api.github.com/graphql,
// api.<sub>.ghe.com/graphql).
const graphQLPath = "graphql"

// GitHub's limits on a GraphQL query (docs: "Rate limits and query limits for the
// GraphQL API"), and the client's own bounds on how much one query may ask.
const (
	graphQLMaxPage  = 100     // first/last
	graphQLMaxNodes = 500_000 // possible nodes a query
	// A query of the client asks at most this many connection requests (≈ 10 points)
	// and nodes, so that one slow answer does not hold much, and a timeout retried
	// smaller loses little.
	graphQLMaxRequests   = 1_000
	graphQLNodesPerQuery = 60_000
	graphQLMaxAliases    = 100
)

// Adaptive page size: a query that times out, answers 502 or is refused as too heavy
// is retried with half the page size (and half the repositories); after
// graphQLGrowAfter answers in a row the size doubles again, up to graphQLMaxPage.
const (
	graphQLStartPage = 50
	graphQLGrowAfter = 3
)

// ErrGraphQLQuery: GitHub refused a query as invalid (a schema change, or a bug of
// ours): retrying the same query cannot help. The message carries GitHub's.
var ErrGraphQLQuery = errors.New("github refused the graphql query")

// pageSizer is the client's adaptive page size, shared by its queries.
type pageSizer struct {
	mu        sync.Mutex
	size      int
	successes int
}

func newPageSizer() *pageSizer { return &pageSizer{size: graphQLStartPage} }

func (p *pageSizer) current() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.size
}

// shrink halves the size after a failure of a query asked at size `asked`; it returns
// the new size.
func (p *pageSizer) shrink(asked int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.successes = 0
	p.size = max(1, min(p.size, asked/2))
	return p.size
}

func (p *pageSizer) succeeded() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.successes++
	if p.successes >= graphQLGrowAfter && p.size < graphQLMaxPage {
		p.size = min(graphQLMaxPage, p.size*2)
		p.successes = 0
	}
}

// nestedFirst is the page size of the connections nested in a page of `top` items
// (a pull request's commits and reviews): 100 while the top pages are large, less when
// failures made them small, never below floor (graphQLNestedFloor; tests lower it).
func nestedFirst(top, floor int) int { return min(graphQLMaxPage, max(floor, 2*top)) }

const graphQLNestedFloor = 10

// gqlPart is one alias of a query: its selection (variables suffixed with the alias),
// the variables it defines and their values, the fragments it spreads, and what
// GitHub will count for it.
type gqlPart struct {
	text      string
	varDefs   []string
	vars      map[string]any
	fragments []string
	requests  int64 // connection requests, as GitHub counts them
	nodes     int64
}

// gqlBuilder builds the part of alias `alias` for a page size.
type gqlBuilder func(alias string, size int) gqlPart

// gqlAnswer is one alias's answer: its data, or the error GitHub gave at its path.
type gqlAnswer struct {
	data json.RawMessage
	err  error
}

// points is GitHub's cost of a query: requests ÷ 100, rounded, at least 1.
func points(requests int64) int {
	return max(1, int(math.Round(float64(requests)/100)))
}

// runAliases sends the parts built by builders in as few queries as the client's bounds
// allow and hands each alias's answer to handle(i, answer) in order of completion per
// query. A query that fails for its size (timeout, 502, RESOURCE_LIMITS_EXCEEDED) is
// split into halves, and a lone alias rebuilt with half the page size, until it goes
// through or the retries are spent.
func (c *Client) runAliases(ctx context.Context, op string, fragments map[string]string, builders []gqlBuilder, handle func(i int, a gqlAnswer) error) error {
	if len(builders) == 0 {
		return nil
	}
	size := c.sizer.current()
	idx := make([]int, len(builders))
	for i := range idx {
		idx[i] = i
	}
	for _, group := range c.pack(builders, idx, size) {
		if err := c.runGroup(ctx, op, fragments, builders, group, size, 0, handle); err != nil {
			return err
		}
	}
	return nil
}

// pack groups aliases, in order, into queries within the client's bounds.
func (c *Client) pack(builders []gqlBuilder, idx []int, size int) [][]int {
	var groups [][]int
	var cur []int
	var requests, nodes int64
	for _, i := range idx {
		p := builders[i]("r", size)
		if len(cur) > 0 && (len(cur) >= graphQLMaxAliases || requests+p.requests > graphQLMaxRequests || nodes+p.nodes > graphQLNodesPerQuery) {
			groups = append(groups, cur)
			cur, requests, nodes = nil, 0, 0
		}
		cur = append(cur, i)
		requests += p.requests
		nodes += p.nodes
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	return groups
}

func (c *Client) runGroup(ctx context.Context, op string, fragments map[string]string, builders []gqlBuilder, group []int, size, attempt int, handle func(int, gqlAnswer) error) error {
	parts := make([]gqlPart, len(group))
	for k, i := range group {
		parts[k] = builders[i]("r"+strconv.Itoa(k), size)
	}
	query, vars, cost, nodes := assemble(op, fragments, parts)
	if nodes > graphQLMaxNodes {
		// One alias alone asks more than GitHub allows: a bug of the builder.
		return fmt.Errorf("%s: the query could return %d nodes, more than GitHub's %d", op, nodes, graphQLMaxNodes)
	}
	answers, err := c.postGraphQL(ctx, op, query, vars, cost, len(parts))
	var smaller *tooHeavyError
	if errors.As(err, &smaller) {
		if attempt >= c.retries {
			return fmt.Errorf("%s: %w: %v after %d attempts", op, ErrUnavailable, smaller.cause, attempt+1)
		}
		next := c.sizer.shrink(size)
		countInto(ctx, func(cn *Counters) { cn.retries.Add(1) })
		wait := retryWait(attempt)
		logger(ctx, c.log).Info("retrying github graphql query smaller",
			"enterprise", c.enterpriseID, "operation", op, "cause", smaller.cause.Error(), "aliases", len(group), "page_size", next, "wait", wait.String())
		if err := c.backoff(ctx, wait); err != nil {
			return err
		}
		if len(group) > 1 {
			half := len(group) / 2
			if err := c.runGroup(ctx, op, fragments, builders, group[:half], next, attempt+1, handle); err != nil {
				return err
			}
			return c.runGroup(ctx, op, fragments, builders, group[half:], next, attempt+1, handle)
		}
		return c.runGroup(ctx, op, fragments, builders, group, next, attempt+1, handle)
	}
	if err != nil {
		return err
	}
	c.sizer.succeeded()
	for k, i := range group {
		if err := handle(i, answers[k]); err != nil {
			return err
		}
	}
	return nil
}

// backoff waits before a retry, giving up with ErrUnavailable when the wait would pass
// the context's deadline.
func (c *Client) backoff(ctx context.Context, wait time.Duration) error {
	if deadline, ok := ctx.Deadline(); ok && wait > time.Until(deadline) {
		return fmt.Errorf("%w: graphql query failed, and no time left to retry", ErrUnavailable)
	}
	countInto(ctx, func(cn *Counters) { cn.waited.Add(int64(wait)) })
	return c.clock.Sleep(ctx, wait)
}

// assemble writes the query: the rateLimit every query asks, the aliases, and the
// fragments they use; it returns the variables, the cost in points and the nodes.
func assemble(op string, fragments map[string]string, parts []gqlPart) (string, map[string]any, int, int64) {
	var b strings.Builder
	var defs []string
	vars := map[string]any{}
	used := map[string]bool{}
	var requests, nodes int64
	seen := map[string]bool{}
	for _, p := range parts {
		for _, d := range p.varDefs {
			if !seen[d] { // variables shared by every alias ($nested) are defined once
				seen[d] = true
				defs = append(defs, d)
			}
		}
		for k, v := range p.vars {
			vars[k] = v
		}
		for _, f := range p.fragments {
			used[f] = true
		}
		requests += p.requests
		nodes += p.nodes
	}
	b.WriteString("query ")
	b.WriteString(op)
	if len(defs) > 0 {
		b.WriteString("(" + strings.Join(defs, ", ") + ")")
	}
	b.WriteString(" {\n  rateLimit { cost remaining resetAt }\n")
	for _, p := range parts {
		b.WriteString(p.text)
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	names := make([]string, 0, len(used))
	for f := range used {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, f := range names {
		b.WriteString(fragments[f])
		b.WriteByte('\n')
	}
	return b.String(), vars, points(requests), nodes
}

// tooHeavyError is a failure GitHub gives for a query it could not finish in time or
// refused as too heavy: worth retrying with a smaller query.
type tooHeavyError struct{ cause error }

func (e *tooHeavyError) Error() string { return e.cause.Error() }

type gqlWireError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Path    []any  `json:"path"`
}

type gqlWire struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []gqlWireError             `json:"errors"`
}

// postGraphQL sends one query and splits its answer by alias (r0, r1, ...). GitHub's
// per-path errors NOT_FOUND and FORBIDDEN become the alias's error; a spent budget
// (RATE_LIMITED) is waited out like a REST 403; timeouts and resource limits come back
// as *tooHeavyError; anything else fails the whole query.
func (c *Client) postGraphQL(ctx context.Context, op, query string, vars map[string]any, cost, aliases int) ([]gqlAnswer, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars, "operationName": op})
	if err != nil {
		return nil, fmt.Errorf("graphql %s: %w", op, err)
	}
	u := c.origin.ResolveReference(&url.URL{Path: graphQLPath}).String()
	qctx := withCallerRetries(withGraphQLCost(ctx, cost))
	refusals := 0
	for {
		req, err := http.NewRequestWithContext(qctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("graphql %s: %w", op, err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", userAgent)
		// Global ids in GitHub's current format for old objects too (graphql_ids.go).
		req.Header.Set("X-Github-Next-Global-ID", "1")
		resp, err := c.api.Do(req)
		if err != nil {
			var urlErr *url.Error
			if errors.As(err, &urlErr) {
				err = urlErr.Err // its text repeats the whole URL
			}
			var rateErr *RateLimitError
			switch {
			case errors.As(err, &rateErr), errors.Is(err, ErrDisallowedHost), errors.Is(err, ErrTooLarge), errors.Is(err, errNoToken),
				errors.Is(err, ErrTokenUnusable), ctx.Err() != nil:
				return nil, fmt.Errorf("graphql %s: %w", op, err)
			}
			// A timeout or a reset: the query may have been too slow for GitHub.
			return nil, &tooHeavyError{cause: fmt.Errorf("graphql %s: %w", op, err)}
		}
		raw, err := io.ReadAll(resp.Body) // already read whole (and bounded) by the transport
		resp.Body.Close()
		if err != nil {
			return nil, &tooHeavyError{cause: fmt.Errorf("graphql %s: %w", op, err)}
		}
		switch status := resp.StatusCode; {
		case status == http.StatusUnauthorized:
			return nil, fmt.Errorf("graphql %s: %w", op, ErrTokenRefused)
		case status == http.StatusBadGateway || status == http.StatusGatewayTimeout || status >= 500:
			return nil, &tooHeavyError{cause: fmt.Errorf("graphql %s: %w: %s", op, ErrUnavailable, resp.Status)}
		case status == http.StatusForbidden:
			return nil, fmt.Errorf("graphql %s: %w: %s", op, ErrForbidden, apiMessage(raw))
		case status == http.StatusNotFound:
			return nil, fmt.Errorf("graphql %s: %w (is %s the API base?)", op, ErrNotFound, c.origin.Redacted())
		case status != http.StatusOK:
			return nil, fmt.Errorf("graphql %s: github answered %s: %s", op, resp.Status, apiMessage(raw))
		}
		var wire gqlWire
		if err := json.Unmarshal(raw, &wire); err != nil {
			return nil, &tooHeavyError{cause: fmt.Errorf("graphql %s: %w: the answer does not decode: %v", op, ErrUnavailable, err)}
		}
		if len(wire.Errors) > 0 && wire.Errors[0].Type == "RATE_LIMITED" {
			// The budget cannot pay for this query (remaining may be above zero but
			// below its cost): wait for the window's reset; without one, back off.
			refusals++
			ri := parseRate(resp.Header)
			now := c.clock.Now()
			wait, reason := withJitter(secondaryBackoff<<min(refusals-1, 6)), reasonPrimary
			if !ri.reset.IsZero() {
				wait = max(ri.reset.Add(resetSkew).Sub(now), time.Second)
			}
			until := now.Add(wait)
			if refusals > c.rateLimitWaits {
				return nil, fmt.Errorf("graphql %s: %w", op, &RateLimitError{ResetAt: until, Reason: reason})
			}
			logger(ctx, c.log).Info("github graphql rate limit, waiting", "enterprise", c.enterpriseID, "operation", op, "reason", reason, "wait", wait.String())
			c.pacer.blockResource(resourceGraphQL, until, reason)
			countInto(ctx, func(cn *Counters) { cn.retries.Add(1) })
			continue
		}
		var rl struct {
			Cost int `json:"cost"`
		}
		if err := json.Unmarshal(wire.Data["rateLimit"], &rl); err == nil && rl.Cost > 0 {
			countInto(ctx, func(cn *Counters) { cn.gqlPoints.Add(int64(rl.Cost)) })
		}
		return splitAnswer(op, wire, aliases)
	}
}

// splitAnswer hands each alias its data or its error.
func splitAnswer(op string, wire gqlWire, aliases int) ([]gqlAnswer, error) {
	out := make([]gqlAnswer, aliases)
	for _, e := range wire.Errors {
		alias := ""
		if len(e.Path) > 0 {
			alias, _ = e.Path[0].(string)
		}
		k, isAlias := aliasIndex(alias, aliases)
		switch {
		case e.Type == "RESOURCE_LIMITS_EXCEEDED" || e.Type == "MAX_NODE_LIMIT_EXCEEDED" ||
			strings.HasPrefix(e.Message, "Something went wrong while executing your query"):
			return nil, &tooHeavyError{cause: fmt.Errorf("graphql %s: %w: %s", op, ErrUnavailable, e.Message)}
		case isAlias && len(e.Path) == 1 && e.Type == "NOT_FOUND":
			out[k].err = fmt.Errorf("%w: %s", ErrNotFound, e.Message)
		case isAlias && e.Type == "FORBIDDEN":
			out[k].err = fmt.Errorf("%w: %s", ErrForbidden, e.Message)
		default:
			where := ""
			if len(e.Path) > 0 {
				where = fmt.Sprintf(" at %v", e.Path)
			}
			return nil, fmt.Errorf("graphql %s: %w%s: %s %s", op, ErrGraphQLQuery, where, e.Type, e.Message)
		}
	}
	for k := range out {
		if out[k].err != nil {
			continue
		}
		raw, ok := wire.Data["r"+strconv.Itoa(k)]
		if !ok || string(raw) == "null" {
			return nil, fmt.Errorf("graphql %s: %w: no data for alias r%d", op, ErrGraphQLQuery, k)
		}
		out[k].data = raw
	}
	return out, nil
}

func aliasIndex(alias string, n int) (int, bool) {
	rest, ok := strings.CutPrefix(alias, "r")
	if !ok {
		return 0, false
	}
	k, err := strconv.Atoi(rest)
	return k, err == nil && k >= 0 && k < n
}

// apiMessage is the message of a JSON error answer, bounded.
func apiMessage(raw []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &m) == nil && m.Message != "" {
		return m.Message
	}
	if len(raw) > 200 {
		raw = raw[:200]
	}
	return strings.TrimSpace(string(raw))
}
