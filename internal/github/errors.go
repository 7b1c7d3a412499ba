package github

import (
	"errors"
	"fmt"
	"time"
)

// Errors the client returns; compare with errors.Is.
var (
	// ErrTokenRefused: GitHub answered 401. The token is invalid, expired or revoked;
	// retrying cannot help, so the client never retries it.
	ErrTokenRefused = errors.New("github refused the token (401 Unauthorized): it is invalid, expired or revoked")
	// ErrForbidden: a 403 that is not a rate limit (missing scope or role, SAML
	// enforcement, the Copilot usage metrics policy disabled, ...).
	ErrForbidden = errors.New("github: forbidden")
	// ErrNotFound: a 404 (no such org or repository, or no access to it).
	ErrNotFound = errors.New("github: not found")
	// ErrUnavailable: 5xx answers, connection failures or truncated bodies that
	// persisted through the retry budget.
	ErrUnavailable = errors.New("github unavailable")
	// ErrTokenUnusable: the token source returned a value that cannot be a token (white
	// space or control characters inside it, after surrounding white space is
	// trimmed). Retrying cannot help; the message names the secret to fix, never the
	// value.
	ErrTokenUnusable = errors.New("github token unusable")
	// ErrDisallowedHost: a request the client refuses to make (egress.go): a report
	// link or redirect to a host outside the allow-list or over plain http, an API
	// redirect to another origin, or a connection to a loopback, private or link-local
	// address while the api_url is not loopback. Never retried.
	ErrDisallowedHost = errors.New("github: host not allowed")
	// ErrTooLarge: an API answer or a report record larger than the client's limit
	// (Options.MaxBodyBytes, MaxRecordBytes). Never retried.
	ErrTooLarge = errors.New("github answer too large")
	// ErrRateLimited matches every *RateLimitError.
	ErrRateLimited = errors.New("github rate limit")
)

// RateLimitError reports that the client gave up waiting for a rate limit: it waited
// the allowed number of times, or the next wait would have been too long or would have
// passed the context's deadline.
type RateLimitError struct {
	// ResetAt is when GitHub is expected to accept requests again.
	ResetAt time.Time
	// Reason names the limit: "secondary rate limit", "primary rate limit",
	// "rate limit reserve" or "pacing".
	Reason string
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("github %s: gave up waiting; requests are accepted again from %s",
		e.Reason, e.ResetAt.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }
