package github

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate-limit reasons, as carried by RateLimitError.Reason.
const (
	reasonSecondary = "secondary rate limit"
	reasonPrimary   = "primary rate limit"
	reasonReserve   = "rate limit reserve"
	reasonPacing    = "pacing"
)

const (
	// resetSkew is added to x-ratelimit-reset: clocks differ and the reset second itself
	// may still belong to the old window.
	resetSkew = time.Second
	// secondaryBackoff is the first wait after a rate-limit refusal that names no time
	// (GitHub: "wait at least one minute", then back off exponentially).
	secondaryBackoff = time.Minute
	// retryBackoff is the first wait before retrying a 5xx, reset or truncated body.
	retryBackoff = time.Second
	// maxRetryBackoff caps it.
	maxRetryBackoff = 30 * time.Second
)

// rateInfo is what one answer says about the primary budget.
type rateInfo struct {
	limit, remaining int
	reset            time.Time
	resource         string
	hasRemaining     bool // x-ratelimit-remaining was sent
	complete         bool // limit, remaining and reset were all sent
}

func parseRate(h http.Header) rateInfo {
	var ri rateInfo
	limit, errLimit := strconv.Atoi(h.Get("X-Ratelimit-Limit"))
	remaining, errRemaining := strconv.Atoi(h.Get("X-Ratelimit-Remaining"))
	reset, errReset := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64)
	ri.resource = h.Get("X-Ratelimit-Resource")
	if errRemaining == nil {
		ri.remaining, ri.hasRemaining = remaining, true
	}
	if errLimit == nil {
		ri.limit = limit
	}
	if errReset == nil && reset > 0 {
		ri.reset = time.Unix(reset, 0).UTC()
	}
	ri.complete = errLimit == nil && errRemaining == nil && !ri.reset.IsZero()
	return ri
}

// Rate-limit resources the pacer keeps a budget for: REST requests count against
// "core", GraphQL queries against "graphql" in points (GitHub keeps separate hourly
// budgets and says which one an answer speaks of in x-ratelimit-resource).
const (
	resourceCore    = "core"
	resourceGraphQL = "graphql"
)

// GitHub's secondary limit on the GraphQL endpoint is 2,000 points a minute. The pacer
// lets graphqlMinuteBurst points go at once and refills at graphqlMinuteRate, so no
// 60 s ever sees more than 200 + 30 × 60 = 2,000.
const (
	graphqlMinuteRate  = 30 // points per second
	graphqlMinuteBurst = 200
)

// pacer decides when a request may be sent: a bounded number in flight (REST and GraphQL
// share the slots, as GitHub's concurrency limit counts both), a fixed ceiling, a
// budget per resource re-tuned from the rate-limit headers, the GraphQL points-per-minute
// limit, and blocks that hold requests back while a limit is exhausted: a secondary limit
// blocks every request, a spent primary budget only its resource. See the package
// comment.
type pacer struct {
	clock   Clock
	slots   chan struct{}
	reserve int // 0: 1% of the limit
	maxWait time.Duration

	mu           sync.Mutex
	ceiling      *rate.Limiter
	budgets      map[string]*budget
	perMinute    *rate.Limiter // GraphQL points a minute
	blockedUntil time.Time
	blockReason  string
}

// budget is one resource's primary budget.
type budget struct {
	limiter      *rate.Limiter
	window       time.Time // the reset the limiter was tuned for; zero: untuned
	usable       int       // what the last answer left above the reserve, less what was sent since
	blockedUntil time.Time
	blockReason  string
}

// pacing is what every pacer of a client is built with.
type pacing struct {
	maxInFlight int
	maxRate     float64
	reserve     int
	maxWait     time.Duration
}

// newPacer builds a pacer for one credential.
func (t *transport) newPacer() *pacer {
	return newPacer(t.clock, t.pacing.maxInFlight, t.pacing.maxRate, t.pacing.reserve, t.pacing.maxWait)
}

func newPacer(clock Clock, maxInFlight int, maxRate float64, reserve int, maxWait time.Duration) *pacer {
	return &pacer{
		clock:   clock,
		slots:   make(chan struct{}, maxInFlight),
		reserve: reserve,
		maxWait: maxWait,
		ceiling: rate.NewLimiter(rate.Limit(maxRate), maxInFlight),
		budgets: map[string]*budget{
			resourceCore:    {limiter: rate.NewLimiter(rate.Inf, 1)},
			resourceGraphQL: {limiter: rate.NewLimiter(rate.Inf, 1)},
		},
		perMinute: rate.NewLimiter(graphqlMinuteRate, graphqlMinuteBurst),
	}
}

// costKey marks a context's requests as GraphQL queries of a known cost in points.
type costKey struct{}

func withGraphQLCost(ctx context.Context, points int) context.Context {
	return context.WithValue(ctx, costKey{}, max(points, 1))
}

// requestCost is the resource a request is charged to and what it costs there.
func requestCost(ctx context.Context) (resource string, n int) {
	if points, ok := ctx.Value(costKey{}).(int); ok {
		return resourceGraphQL, points
	}
	return resourceCore, 1
}

// acquire waits until a request may be sent and returns the function that frees its
// slot. It returns a *RateLimitError at once when the wait would pass ctx's deadline
// or exceed the longest allowed wait.
func (p *pacer) acquire(ctx context.Context) (release func(), err error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	release = func() { <-p.slots }
	resource, n := requestCost(ctx)
	if err := p.waitUnblocked(ctx, resource); err != nil {
		release()
		return nil, err
	}
	if err := p.pace(ctx, resource, n); err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// waitUnblocked waits while a limit blocks every request, or the resource's. A block may
// be extended while waiting (another request was refused), hence the loop.
func (p *pacer) waitUnblocked(ctx context.Context, resource string) error {
	for {
		p.mu.Lock()
		until, reason := p.blockedUntil, p.blockReason
		if b := p.budgets[resource]; b.blockedUntil.After(until) {
			until, reason = b.blockedUntil, b.blockReason
		}
		p.mu.Unlock()
		now := p.clock.Now()
		if !now.Before(until) {
			return nil
		}
		wait := until.Sub(now)
		if err := p.allowWait(ctx, now, wait, until, reason); err != nil {
			return err
		}
		countInto(ctx, func(c *Counters) { c.waits.Add(1) })
		if err := p.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// pace takes a token from the ceiling and n from the resource's budget (and, for
// GraphQL, from the points-per-minute limiter), sleeping for the latest of them.
func (p *pacer) pace(ctx context.Context, resource string, n int) error {
	now := p.clock.Now()
	p.mu.Lock()
	b := p.budgets[resource]
	if !b.window.IsZero() && !now.Before(b.window) {
		// The window the budget was tuned for is over: GitHub refilled the budget.
		// Spend freely until the next answer re-tunes the limiter.
		b.limiter = rate.NewLimiter(rate.Inf, 1)
		b.window = time.Time{}
	}
	if !b.window.IsZero() && n > b.usable {
		// A query costing more than the window has left above the reserve would be
		// refused: wait for the reset.
		until, reason := b.window.Add(resetSkew), reasonReserve
		p.mu.Unlock()
		if err := p.allowWait(ctx, now, until.Sub(now), until, reason); err != nil {
			return err
		}
		countInto(ctx, func(c *Counters) { c.waits.Add(1) })
		if err := p.sleep(ctx, until.Sub(now)); err != nil {
			return err
		}
		return p.pace(ctx, resource, n)
	}
	if !b.window.IsZero() {
		b.usable -= n
	}
	reservations := []*rate.Reservation{p.ceiling.ReserveN(now, 1), b.limiter.ReserveN(now, min(n, b.limiter.Burst()))}
	if resource == resourceGraphQL {
		reservations = append(reservations, p.perMinute.ReserveN(now, min(n, graphqlMinuteBurst)))
	}
	p.mu.Unlock()
	var wait time.Duration
	for _, r := range reservations {
		wait = max(wait, r.DelayFrom(now))
	}
	if wait <= 0 {
		return nil
	}
	if err := p.allowWait(ctx, now, wait, now.Add(wait), reasonPacing); err != nil {
		for _, r := range reservations {
			r.CancelAt(now)
		}
		return err
	}
	return p.sleep(ctx, wait)
}

// allowWait refuses a wait that is longer than maxWait or ends after ctx's deadline:
// waiting would only burn the caller's time budget. A context deadline is wall-clock
// time, so it is compared with the wait as a duration, whatever the client's clock.
func (p *pacer) allowWait(ctx context.Context, now time.Time, wait time.Duration, resetAt time.Time, reason string) error {
	if wait > p.maxWait {
		return &RateLimitError{ResetAt: resetAt, Reason: reason}
	}
	if deadline, ok := ctx.Deadline(); ok && wait > time.Until(deadline) {
		return &RateLimitError{ResetAt: resetAt, Reason: reason}
	}
	return nil
}

func (p *pacer) sleep(ctx context.Context, d time.Duration) error {
	countInto(ctx, func(c *Counters) { c.waited.Add(int64(d)) })
	return p.clock.Sleep(ctx, d)
}

// block holds every request back until `until` (a secondary limit).
func (p *pacer) block(until time.Time, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until.After(p.blockedUntil) {
		p.blockedUntil, p.blockReason = until, reason
	}
}

// blockResource holds the requests of one resource back until `until` (its primary
// budget is spent or down to the reserve).
func (p *pacer) blockResource(resource string, until time.Time, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.budgets[resource]
	if b == nil {
		return
	}
	if until.After(b.blockedUntil) {
		b.blockedUntil, b.blockReason = until, reason
	}
}

// observe re-tunes the budget of the answer's resource from its rate-limit headers.
func (p *pacer) observe(ri rateInfo, now time.Time) {
	resource := ri.resource
	if resource == "" {
		resource = resourceCore
	}
	if !ri.complete || p.budgets[resource] == nil {
		return // e.g. "search": we send none
	}
	reserve := p.reserve
	if reserve <= 0 {
		reserve = ri.limit / 100
	}
	usable := ri.remaining - reserve
	if usable <= 0 {
		reason := reasonReserve
		if ri.remaining == 0 {
			reason = reasonPrimary
		}
		p.blockResource(resource, ri.reset.Add(resetSkew), reason)
		return
	}
	untilReset := max(ri.reset.Sub(now), time.Second)
	limit := rate.Limit(float64(usable) / untilReset.Seconds())
	burst := max(1, usable/2)

	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.budgets[resource]
	switch {
	case ri.reset.Before(b.window):
		// A late answer from the previous window: it says nothing about this one.
	case !ri.reset.Equal(b.window):
		// A new window: half the usable budget may go at once, the rest is spread.
		b.limiter = rate.NewLimiter(limit, burst)
		b.window = ri.reset
		b.usable = usable
	default:
		b.limiter.SetLimitAt(now, limit)
		b.limiter.SetBurstAt(now, burst)
		b.usable = usable
	}
}

// refusalWait decides how long to wait after a 403/429 that is a rate limit: GitHub's
// Retry-After, else the primary reset when the budget is spent, else at least a
// minute, doubling with each earlier refusal of the same request.
func refusalWait(h http.Header, ri rateInfo, now time.Time, earlier int) (time.Duration, string) {
	if v := h.Get("Retry-After"); v != "" {
		if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
			return max(time.Duration(secs)*time.Second, time.Second), reasonSecondary
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), time.Second), reasonSecondary
		}
	}
	if ri.hasRemaining && ri.remaining == 0 && !ri.reset.IsZero() {
		return max(ri.reset.Add(resetSkew).Sub(now), time.Second), reasonPrimary
	}
	return withJitter(secondaryBackoff << min(earlier, 6)), reasonSecondary
}

// retryWait is the backoff before retry number n (0-based) of a 5xx, reset or
// truncated body.
func retryWait(n int) time.Duration {
	return withJitter(min(retryBackoff<<min(n, 10), maxRetryBackoff))
}

// withJitter adds up to a quarter of d, so clients refused together do not return
// together.
func withJitter(d time.Duration) time.Duration {
	return d + rand.N(d/4+1)
}
