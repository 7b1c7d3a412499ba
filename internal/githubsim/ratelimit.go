package githubsim

import (
	"net/http"
	"strconv"
	"time"
)

// rateWindow is one credential's primary rate-limit hour, in simulated time: it starts
// with the first request after the previous window ended, as GitHub's does. A PAT's
// window is keyed by the token; an app installation's by the installation (its tokens
// share its budget), see rateKey.
type rateWindow struct {
	reset time.Time
	used  int
}

// window returns the token's current REST window at now; call with s.mu held.
func (s *Simulator) window(token string, now time.Time) *rateWindow {
	return currentWindow(s.rate, token, now)
}

// currentWindow returns key's window of windows at now, starting a new hour when the
// last one ended (or there was none).
func currentWindow(windows map[string]*rateWindow, key string, now time.Time) *rateWindow {
	w := windows[key]
	if w == nil {
		w = &rateWindow{}
		windows[key] = w
	}
	if !now.Before(w.reset) {
		w.reset = now.Add(time.Hour).Truncate(time.Second).Add(time.Second)
		w.used = 0
	}
	return w
}

// reserve charges one request to the token unless its limit is used up. The charge is
// taken before the answer is computed so concurrent requests cannot overshoot the limit;
// refund gives it back for answers that cost nothing (304s).
func (s *Simulator) reserve(key rateKey, now time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.window(key.key, now)
	if w.used >= key.limit {
		return w.reset, false
	}
	w.used++
	return w.reset, true
}

func (s *Simulator) refund(key rateKey, window time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.rate[key.key]; w != nil && w.reset.Equal(window) && w.used > 0 {
		w.used--
	}
}

// rateKey names a rate-limit window and its limit.
type rateKey struct {
	key   string
	limit int
}

// rateKeyOf is the window a request is charged to: its installation's when it carries
// an installation token, else its token's.
func (s *Simulator) rateKeyOf(token string, inst *installation) rateKey {
	if inst != nil {
		return rateKey{key: "installation:" + strconv.FormatInt(inst.id, 10), limit: s.app.RateLimit}
	}
	return rateKey{key: token, limit: s.w.cfg.RateLimit}
}

// rateState reports the window's limit, remaining, used and reset at now.
func (s *Simulator) rateState(key rateKey, now time.Time) (limit, remaining, used int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.window(key.key, now)
	return key.limit, max(0, key.limit-w.used), w.used, w.reset
}

// rateHeaders writes the window's x-ratelimit headers as of now.
func (s *Simulator) rateHeaders(h http.Header, key rateKey, now time.Time) {
	limit, remaining, used, reset := s.rateState(key, now)
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
}

// ResetRateLimits starts every token's rate-limit windows (REST and GraphQL) afresh.
func (s *Simulator) ResetRateLimits() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate = map[string]*rateWindow{}
	s.gqlRate = map[string]*rateWindow{}
	s.gqlMinute = map[string][]pointsAt{}
}
