package github

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Counters collect what the client did for the requests made with a context carrying
// them (see WithCounters). The zero value is ready to use; it is safe for concurrent
// use.
type Counters struct {
	requests    atomic.Int64
	notModified atomic.Int64
	retries     atomic.Int64
	waits       atomic.Int64
	downloads   atomic.Int64
	waited      atomic.Int64 // nanoseconds
	gqlQueries  atomic.Int64
	gqlPoints   atomic.Int64

	mu        sync.Mutex
	low       int
	lowSeen   bool
	rateLimit int
	gqlLow    int
	gqlSeen   bool
	gqlLimit  int
}

// Counts is a snapshot of Counters.
type Counts struct {
	// Requests is the number of API requests sent, every attempt included (304s too).
	Requests int64
	// NotModified is how many of them GitHub answered 304 (free of quota).
	NotModified int64
	// Retries counts attempts beyond the first of a request or download.
	Retries int64
	// Waits counts rate-limit waits: after a 403/429, or before sending while the
	// client was blocked by a limit (pacing delays are not counted).
	Waits int64
	// Downloads counts report download attempts (they go to the download host and
	// cost no API quota).
	Downloads int64
	// Waited is the time spent waiting for any reason: pacing, rate limits, backoff.
	Waited time.Duration
	// RateLimitLow is the lowest x-ratelimit-remaining seen; nil when none was seen.
	RateLimitLow *int
	// RateLimit is the last x-ratelimit-limit seen; 0 when none was seen. Both are the
	// REST ("core") budget's.
	RateLimit int
	// GraphQLRequests is how many of Requests were GraphQL queries (attempts included),
	// GraphQLPoints the points GitHub charged for them (rateLimit.cost of each answer).
	GraphQLRequests int64
	GraphQLPoints   int64
	// GraphQLRemainingLow and GraphQLLimit are the GraphQL budget's lowest remaining
	// points and its limit (x-ratelimit-resource: graphql); nil and 0 when none seen.
	GraphQLRemainingLow *int
	GraphQLLimit        int
}

// Snapshot returns the figures collected so far.
func (c *Counters) Snapshot() Counts {
	s := Counts{
		Requests:    c.requests.Load(),
		NotModified: c.notModified.Load(),
		Retries:     c.retries.Load(),
		Waits:       c.waits.Load(),
		Downloads:   c.downloads.Load(),
		Waited:      time.Duration(c.waited.Load()),
	}
	s.GraphQLRequests, s.GraphQLPoints = c.gqlQueries.Load(), c.gqlPoints.Load()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lowSeen {
		low := c.low
		s.RateLimitLow = &low
	}
	s.RateLimit = c.rateLimit
	if c.gqlSeen {
		low := c.gqlLow
		s.GraphQLRemainingLow = &low
	}
	s.GraphQLLimit = c.gqlLimit
	return s
}

func (c *Counters) observeRate(limit, remaining int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// With several credentials (a PAT and app installations, each with its own limit)
	// the figures are those of the most used one.
	used := func(limit, remaining int) float64 {
		if limit <= 0 {
			return 0
		}
		return float64(limit-remaining) / float64(limit)
	}
	if !c.lowSeen || used(limit, remaining) > used(c.rateLimit, c.low) || limit == c.rateLimit && remaining < c.low {
		c.low, c.rateLimit = remaining, limit
		c.lowSeen = true
	}
}

func (c *Counters) observeGraphQLRate(limit, remaining int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.gqlSeen || remaining < c.gqlLow {
		c.gqlLow = remaining
		c.gqlSeen = true
	}
	c.gqlLimit = limit
}

type countersKey struct{}

// WithCounters returns a context whose requests count into c. Contexts nest: a request
// made with a context derived from two WithCounters calls counts into both, so a stage
// can keep a total and a per-repository figure at once.
func WithCounters(ctx context.Context, c *Counters) context.Context {
	parent := countersFrom(ctx)
	chain := make([]*Counters, 0, len(parent)+1)
	chain = append(chain, parent...)
	chain = append(chain, c)
	return context.WithValue(ctx, countersKey{}, chain)
}

func countersFrom(ctx context.Context) []*Counters {
	chain, _ := ctx.Value(countersKey{}).([]*Counters)
	return chain
}

// countInto applies add to every Counters the context carries.
func countInto(ctx context.Context, add func(c *Counters)) {
	for _, c := range countersFrom(ctx) {
		add(c)
	}
}

type loggerKey struct{}

// WithLogger returns a context whose requests log to log instead of the client's
// logger, e.g. a logger that carries the invocation id.
func WithLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, log)
}
