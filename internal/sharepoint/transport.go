package sharepoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	khttp "github.com/microsoft/kiota-http-go"
)

// ErrUnavailable marks a Graph failure that outlasted the retries: throttling (429),
// an outage (5xx) or an unreachable host. A later attempt may succeed; the error
// reports Retryable() == true so callers that do not import this package can tell.
var ErrUnavailable error = unavailableError{}

type unavailableError struct{}

func (unavailableError) Error() string   { return "microsoft graph unavailable" }
func (unavailableError) Retryable() bool { return true }

// retryHandler replaces the SDK's retry middleware: that one waits on real timers with
// no overall bound (one Retry-After of an hour is honoured in full) and retries neither
// 500/502 nor connection failures. This one honours Retry-After, backs off
// exponentially otherwise, waits through an injectable sleeper and gives up — with
// ErrUnavailable — when the next wait would take the total past maxWait.
type retryHandler struct {
	maxRetries int
	maxWait    time.Duration
	sleep      func(ctx context.Context, d time.Duration) error
	now        func() time.Time
}

// Intercept implements khttp.Middleware.
func (h *retryHandler) Intercept(p khttp.Pipeline, index int, req *http.Request) (*http.Response, error) {
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		resp, err := p.Next(req, index)
		if err != nil && req.Context().Err() != nil {
			return resp, err
		}
		if err == nil && !retryableStatus(resp.StatusCode) {
			return resp, nil
		}
		reason := ""
		delay := h.backoff(attempt)
		if err != nil {
			reason = err.Error()
		} else {
			reason = "status " + strconv.Itoa(resp.StatusCode)
			if d, ok := retryAfter(resp.Header.Get("Retry-After"), h.now()); ok {
				delay = d
			}
			drain(resp)
		}
		if attempt > h.maxRetries || waited+delay > h.maxWait || !rewind(req) {
			return nil, fmt.Errorf("%s %s: %s after %d attempts: %w", req.Method, redactURL(req), reason, attempt, ErrUnavailable)
		}
		if err := h.sleep(req.Context(), delay); err != nil {
			return nil, err
		}
		waited += delay
	}
}

func (h *retryHandler) backoff(attempt int) time.Duration {
	d := time.Second << (attempt - 1)
	return min(d, 30*time.Second)
}

// retryableStatus: Graph's throttling and transient server failures.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// rewind makes the request's body readable again for another attempt.
func rewind(req *http.Request) bool {
	if req.Body == nil || req.Body == http.NoBody {
		return true
	}
	if s, ok := req.Body.(io.Seeker); ok {
		_, err := s.Seek(0, io.SeekStart)
		return err == nil
	}
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return false
		}
		req.Body = body
		return true
	}
	return false
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// redactURL names a request without its query: upload-session URLs carry their
// credential in the query string.
func redactURL(req *http.Request) string {
	return req.URL.Scheme + "://" + req.URL.Host + req.URL.Path
}

// tokenGuard is the last middleware before the network: it removes the Authorization
// header from any request not addressed to the Graph host (scheme, host and port). The
// SDK's own allowed-host check compares host names only, ignoring the port, and
// upload-session URLs point at SharePoint hosts that must never see the token.
type tokenGuard struct {
	scheme, host string
}

// Intercept implements khttp.Middleware.
func (g *tokenGuard) Intercept(p khttp.Pipeline, index int, req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") != "" && (req.URL.Scheme != g.scheme || req.URL.Host != g.host) {
		req = req.Clone(req.Context())
		req.Header.Del("Authorization")
	}
	return p.Next(req, index)
}

// sleepContext waits d or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// errorsAsStatus finds the HTTP status of a Graph API error in err's chain.
func errorsAsStatus(err error) (int, bool) {
	var apiErr interface{ GetStatusCode() int }
	if errors.As(err, &apiErr) {
		return apiErr.GetStatusCode(), true
	}
	return 0, false
}
