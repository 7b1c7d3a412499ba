package github

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// TokenHealthStore persists what the client learns about its token, so an operator
// (and a later process) can see it. postgres.Store implements it over
// github_token_health.
type TokenHealthStore interface {
	// RecordTokenOK records that GitHub accepted the token at `at`. expiresAt is the
	// expiry GitHub announced with that answer; nil when it announced none (the token
	// does not expire, or is not a PAT).
	RecordTokenOK(ctx context.Context, enterpriseID string, at time.Time, expiresAt *time.Time) error
	// RecordTokenRefused records that GitHub answered 401 at `at`.
	RecordTokenRefused(ctx context.Context, enterpriseID string, at time.Time) error
}

// TokenHealth is what the client knows about its token from this process's requests.
type TokenHealth struct {
	// ExpiresAt is the expiry of the last accepted answer's
	// github-authentication-token-expiration header; zero when none was sent.
	ExpiresAt   time.Time
	LastOK      time.Time // zero until GitHub accepted a request
	LastRefused time.Time // zero unless GitHub answered 401
}

// tokenHealthWriteEvery bounds how often an unchanged "token accepted" is persisted.
const tokenHealthWriteEvery = 10 * time.Minute

// headerTokenExpiration is sent by GitHub with requests made with an expiring token.
const headerTokenExpiration = "Github-Authentication-Token-Expiration"

type tokenHealth struct {
	mu          sync.Mutex
	current     TokenHealth
	writtenOKAt time.Time // when RecordTokenOK last succeeded
	writtenExp  time.Time // the expiry it recorded
}

// observe updates the health from one API answer and decides whether the store must
// hear about it: always on a refusal, and on acceptance when the expiry changed or
// the last write is older than tokenHealthWriteEvery.
func (h *tokenHealth) observe(resp *http.Response, now time.Time) (snapshot TokenHealth, write bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if resp.StatusCode == http.StatusUnauthorized {
		h.current.LastRefused = now
		return h.current, true
	}
	h.current.LastOK = now
	h.current.ExpiresAt, _ = parseTokenExpiration(resp.Header.Get(headerTokenExpiration))
	write = h.writtenOKAt.IsZero() || !h.writtenExp.Equal(h.current.ExpiresAt) ||
		now.Sub(h.writtenOKAt) >= tokenHealthWriteEvery
	return h.current, write
}

func (h *tokenHealth) written(s TokenHealth) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writtenOKAt = s.LastOK
	h.writtenExp = s.ExpiresAt
}

func (h *tokenHealth) get() TokenHealth {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.current
}

// parseTokenExpiration reads github-authentication-token-expiration, which GitHub
// writes as "2026-12-01 10:00:00 UTC" (some tokens carry an offset, "-0700", instead
// of a zone name).
func parseTokenExpiration(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{"2006-01-02 15:04:05 MST", "2006-01-02 15:04:05 -0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// TokenHealth returns what this client learned about its token so far.
func (c *Client) TokenHealth() TokenHealth { return c.health.get() }

// TokenExpiresWithin reports whether GitHub announced that the token expires before
// now+d, and when. A stage calls it with 14 days to raise a run warning and the
// TokenExpiring telemetry event. It is false when GitHub sent no expiry (or no request
// was made yet).
func (c *Client) TokenExpiresWithin(now time.Time, d time.Duration) (expiresAt time.Time, ok bool) {
	exp := c.health.get().ExpiresAt
	if exp.IsZero() || !exp.Before(now.Add(d)) {
		return time.Time{}, false
	}
	return exp, true
}
