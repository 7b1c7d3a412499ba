package githubsim

import (
	"net/http"
	"strconv"
	"time"
)

// The GraphQL budget: a window per token of GraphQLRateLimit points an hour of simulated
// time, separate from the REST window (GitHub keeps them apart and reports the GraphQL
// one with x-ratelimit-resource: graphql); and the secondary limits, GraphQLPointsPerMinute
// points in any 60 s and MaxConcurrent requests in flight per token (REST and GraphQL
// together, as GitHub counts them).

type gqlRefusal int

const (
	gqlAccepted gqlRefusal = iota
	gqlRefusedPrimary
	gqlRefusedSecondary
)

type gqlCharged struct {
	limit, remaining, used int
	reset                  time.Time
	retryAfter             time.Duration // for a secondary refusal
}

type pointsAt struct {
	at     time.Time
	points int
}

// gqlWindow returns the token's current GraphQL window at now; call with s.mu held.
func (s *Simulator) gqlWindow(token string, now time.Time) *rateWindow {
	return currentWindow(s.gqlRate, token, now)
}

// gqlCharge takes points from the token's budget, unless a limit refuses the query.
func (s *Simulator) gqlCharge(token string, now time.Time, points int) (gqlCharged, gqlRefusal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := s.w.cfg
	w := s.gqlWindow(token, now)
	out := gqlCharged{limit: cfg.GraphQLRateLimit, reset: w.reset}
	if w.used+points > cfg.GraphQLRateLimit {
		return s.gqlState(out, w), gqlRefusedPrimary
	}
	recent := s.gqlMinute[token][:0]
	sum := 0
	for _, p := range s.gqlMinute[token] {
		if now.Sub(p.at) < time.Minute {
			recent = append(recent, p)
			sum += p.points
		}
	}
	s.gqlMinute[token] = recent
	if sum+points > cfg.GraphQLPointsPerMinute {
		// Wait until enough of the last minute's points have aged out.
		need := sum + points - cfg.GraphQLPointsPerMinute
		for _, p := range recent {
			need -= p.points
			if need <= 0 {
				out.retryAfter = p.at.Add(time.Minute).Sub(now)
				break
			}
		}
		return s.gqlState(out, w), gqlRefusedSecondary
	}
	w.used += points
	s.gqlMinute[token] = append(s.gqlMinute[token], pointsAt{at: now, points: points})
	return s.gqlState(out, w), gqlAccepted
}

func (s *Simulator) gqlState(out gqlCharged, w *rateWindow) gqlCharged {
	out.used = w.used
	out.remaining = max(0, s.w.cfg.GraphQLRateLimit-w.used)
	return out
}

// enter takes one of the token's MaxConcurrent slots (REST and GraphQL requests share
// them); false when all are taken (a secondary limit). leave frees it.
func (s *Simulator) enter(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight[token] >= s.w.cfg.MaxConcurrent {
		return false
	}
	s.inFlight[token]++
	return true
}

func (s *Simulator) leave(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight[token] > 0 {
		s.inFlight[token]--
	}
}

// gqlRateHeaders writes the token's GraphQL x-ratelimit headers as of now.
func (s *Simulator) gqlRateHeaders(h http.Header, token string, now time.Time) {
	s.mu.Lock()
	w := s.gqlWindow(token, now)
	limit, used, reset := s.w.cfg.GraphQLRateLimit, w.used, w.reset
	s.mu.Unlock()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(0, limit-used)))
	h.Set("X-RateLimit-Used", strconv.Itoa(used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "graphql")
}

// GraphQLRateLimitUsed reports the points a token has spent in its current GraphQL
// window, for tests and benchmarks.
func (s *Simulator) GraphQLRateLimitUsed(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gqlWindow(token, s.now).used
}
