package githubsim

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Faults configures injected failures. Shares are fractions of matching requests (their
// sum should stay ≤ 1). Whether a request is faulted is decided from the seed and the
// request's sequence number, so a sequential client sees the same faults on every run.
type Faults struct {
	ServerErrors    float64 // 502 or 503
	SecondaryLimits float64 // 403 or 429 secondary rate limit; half carry Retry-After
	PrimaryLimits   float64 // 403 with x-ratelimit-remaining: 0 and a reset PrimaryResetIn ahead (API host only)
	Truncations     float64 // 200 whose body is cut: half promise more bytes than they send, half cut the JSON
	Resets          float64 // the connection is closed without an answer
	// GraphQL endpoint only: a query that timed out (half 502 "couldn't respond in
	// time", half 200 "Something went wrong while executing your query") and one GitHub
	// refused as too heavy (200, RESOURCE_LIMITS_EXCEEDED).
	GraphQLTimeouts float64
	ResourceLimits  float64
	// HeavyQueryNodes, when positive, makes every GraphQL query that can return more
	// nodes than this time out (502), deterministically: a model of GitHub giving up on
	// heavy queries, which a client survives by asking smaller pages.
	HeavyQueryNodes int64

	// Latency is added to every matching request through Config.Sleep. Keep it tiny in
	// tests (or inject a Sleep that does not sleep).
	Latency time.Duration

	Hosts        []Host   // hosts faults apply to; empty: both
	PathPrefixes []string // only paths starting with one of these; empty: all
	// MaxConsecutive caps how many times in a row the same request (host, method, URL,
	// token) is faulted; 1 means a retry always gets through. 0: no cap.
	MaxConsecutive int

	RetryAfter     time.Duration // Retry-After of secondary limits; default 1s
	PrimaryResetIn time.Duration // how far ahead x-ratelimit-reset points for PrimaryLimits; default 2s
}

// SetFaults replaces the fault configuration; the zero Faults turns injection off.
func (s *Simulator) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.RetryAfter <= 0 {
		f.RetryAfter = time.Second
	}
	if f.PrimaryResetIn <= 0 {
		f.PrimaryResetIn = 2 * time.Second
	}
	s.faults = f
	s.faultRuns = map[string]int{}
}

// faultPlan is what happens to one request.
type faultPlan struct {
	kind    string
	variant uint64 // picks among the kind's forms
	latency time.Duration
	cfg     Faults
}

func (f Faults) matches(host Host, path string) bool {
	if len(f.Hosts) > 0 {
		ok := false
		for _, h := range f.Hosts {
			ok = ok || h == host
		}
		if !ok {
			return false
		}
	}
	if len(f.PathPrefixes) == 0 {
		return true
	}
	for _, p := range f.PathPrefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// planFault decides, under s.mu, what fault request seq gets.
func (s *Simulator) planFault(seq int64, host Host, r *http.Request, token string) faultPlan {
	f := s.faults
	if !f.matches(host, r.URL.Path) {
		return faultPlan{}
	}
	plan := faultPlan{latency: f.Latency, cfg: f}
	h := hashOf(uint64(s.w.cfg.Seed), streamFaults, uint64(seq))
	x := unit(h)
	kinds := []struct {
		share float64
		kind  string
	}{
		{f.ServerErrors, FaultServerError},
		{f.SecondaryLimits, FaultSecondaryLimit},
		{f.PrimaryLimits, FaultPrimaryLimit},
		{f.Truncations, FaultTruncated},
		{f.Resets, FaultReset},
		{f.GraphQLTimeouts, FaultTimeout},
		{f.ResourceLimits, FaultResourceLimits},
	}
	for _, k := range kinds {
		if x < k.share {
			plan.kind = k.kind
			break
		}
		x -= k.share
	}
	if plan.kind == FaultPrimaryLimit && host != HostAPI {
		plan.kind = ""
	}
	if (plan.kind == FaultTimeout || plan.kind == FaultResourceLimits) && (host != HostAPI || r.URL.Path != graphqlPath) {
		plan.kind = ""
	}
	key := string(host) + " " + r.Method + " " + r.URL.RequestURI() + " " + token
	if plan.kind != "" && f.MaxConsecutive > 0 && s.faultRuns[key] >= f.MaxConsecutive {
		plan.kind = ""
	}
	if plan.kind == "" {
		delete(s.faultRuns, key)
	} else {
		s.faultRuns[key]++
	}
	plan.variant = mix(h, 99)
	return plan
}

// writeFault answers a request with an injected failure (all kinds but truncation,
// which needs the real body). It returns the status written, 0 for a reset.
func writeFault(w http.ResponseWriter, p faultPlan, requestID string, rateHeaders func(http.Header)) int {
	switch p.kind {
	case FaultReset:
		resetConnection(w)
		return 0
	case FaultServerError:
		status := http.StatusBadGateway
		if p.variant%2 == 1 {
			status = http.StatusServiceUnavailable
		}
		writeJSONError(w, status, map[string]any{"message": http.StatusText(status)})
		return status
	case FaultSecondaryLimit:
		status := http.StatusForbidden
		if p.variant%2 == 1 {
			status = http.StatusTooManyRequests
		}
		if rateHeaders != nil {
			rateHeaders(w.Header())
		}
		if (p.variant/2)%2 == 0 {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(p.cfg.RetryAfter/time.Second))))
		}
		writeJSONError(w, status, map[string]any{
			"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID " + requestID + ".",
			"documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
			"status":            strconv.Itoa(status),
		})
		return status
	}
	return 0
}

// resetConnection closes the client's connection without an answer (an RST where the
// platform allows).
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // HTTP/2: abort the stream instead
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// writeTruncated sends a 200 whose body is cut short.
func writeTruncated(w http.ResponseWriter, body []byte, variant uint64) {
	cut := body[:len(body)/2]
	// A cut at the end of a record (NDJSON at a line boundary) would read as a complete,
	// shorter file that no client could tell from a real one: cut inside the record.
	cut = bytes.TrimRight(cut, " \t\r\n")
	if n := len(cut); n > 1 && (cut[n-1] == '}' || cut[n-1] == ']') {
		cut = cut[:n-1]
	}
	if len(cut) == 0 {
		cut = body[:1]
	}
	if variant%2 == 0 {
		// Content-Length promises the whole body; the server closes the connection
		// after the half it sends.
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(cut)))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(cut)
}
