package github

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 1 << 20

// transport is the API client's http.RoundTripper. For requests to the API origin it
// paces, attaches the token, makes list requests conditional, retries what is worth
// retrying and waits out rate limits; it answers with a fully read body, so go-github
// never sees a truncated one. Requests to any other origin are refused.
type transport struct {
	enterpriseID   string
	origin         *url.URL
	next           http.RoundTripper
	pat            *credential // nil when the client has no PAT (an app only)
	app            *app        // nil when the client has no app
	tokenSecret    string
	clock          Clock
	pacing         pacing
	cache          Cache
	compressor     pageCompressor
	health         *tokenHealth
	healthStore    TokenHealthStore
	retries        int
	rateLimitWaits int
	attemptTimeout time.Duration
	maxBody        int64
	log            *slog.Logger
}

// cachedPage is a Cache entry; body is compressed.
type cachedPage struct {
	etag, link string
	body       []byte
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !sameOrigin(req.URL, t.origin) {
		return t.roundTripForeign(req)
	}
	ctx := req.Context()
	key := req.URL.String()
	var cached *cachedPage
	if t.cache != nil && req.Method == http.MethodGet && isConditional(ctx) {
		cached = t.lookup(ctx, key)
	}

	cred, err := t.credentialFor(ctx, req.URL.Path)
	if err != nil {
		return nil, err
	}
	retries, refusals := 0, 0
	refused := "" // the installation token GitHub answered 401 to, once
	for {
		release, err := cred.pacer.acquire(ctx)
		if err != nil {
			return nil, err
		}
		resp, body, sent, err := t.attempt(ctx, req, cached, cred, refused)
		release()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, errNoToken) || errors.Is(err, ErrDisallowedHost) || errors.Is(err, ErrTooLarge) || callerRetries(ctx) {
				return nil, err
			}
			if retries < t.retries {
				if err := t.backoff(ctx, req, &retries, err.Error()); err != nil {
					return nil, err
				}
				continue
			}
			return nil, fmt.Errorf("%w: %s %s: %w", ErrUnavailable, req.Method, req.URL.Path, err)
		}

		status := resp.StatusCode
		switch {
		case status == http.StatusUnauthorized && !cred.pat && refused == "":
			// An installation token can be revoked or expire early: mint a new one,
			// once, and send the request again.
			refused = sent
			logger(ctx, t.log).Info("github refused the installation token; minting a new one",
				"enterprise", t.enterpriseID, "credential", cred.name, "path", req.URL.Path)

		case status == http.StatusNotModified && cached != nil:
			countInto(ctx, func(c *Counters) { c.notModified.Add(1) })
			page, err := decompress(cached.body)
			if err != nil {
				// A damaged entry: ask again without it (one more request, no harm).
				logger(ctx, t.log).Warn("discarding damaged cached page", "enterprise", t.enterpriseID, "path", req.URL.Path, "error", err)
				cached = nil
				continue
			}
			return replay(resp, cached.link, page), nil

		case status >= 200 && status < 300:
			if truncated(resp, body) && !callerRetries(ctx) {
				if retries < t.retries {
					if err := t.backoff(ctx, req, &retries, "truncated body"); err != nil {
						return nil, err
					}
					continue
				}
				return nil, fmt.Errorf("%w: %s %s: truncated body", ErrUnavailable, req.Method, req.URL.Path)
			}
			if t.cache != nil && req.Method == http.MethodGet && isConditional(ctx) && status == http.StatusOK {
				t.store(ctx, key, resp, body)
			}
			return withBody(resp, body), nil

		case rateLimited(resp, body):
			refusals++
			wait, reason := refusalWait(resp.Header, parseRate(resp.Header), t.clock.Now(), refusals-1)
			until := t.clock.Now().Add(wait)
			if refusals > t.rateLimitWaits {
				return nil, &RateLimitError{ResetAt: until, Reason: reason}
			}
			logger(ctx, t.log).Info("github rate limit, waiting",
				"enterprise", t.enterpriseID, "path", req.URL.Path, "status", status,
				"reason", reason, "wait", wait.String())
			// Block the whole client (a spent primary budget: every request of its
			// resource): the next acquire waits (or gives up when the wait passes the
			// deadline), and so does every other request meanwhile.
			if reason == reasonPrimary {
				resource, _ := requestCost(ctx)
				cred.pacer.blockResource(resource, until, reason)
			} else {
				cred.pacer.block(until, reason)
			}
			countInto(ctx, func(c *Counters) { c.retries.Add(1) })

		case status >= 500 && retries < t.retries && !callerRetries(ctx):
			if err := t.backoff(ctx, req, &retries, resp.Status); err != nil {
				return nil, err
			}

		default:
			return withBody(resp, body), nil
		}
	}
}

// callerRetriesKey marks requests whose caller handles 5xx answers, failed attempts and
// truncated bodies itself (the GraphQL client, which asks a smaller page on a retry):
// the transport hands them back instead of retrying. Rate limits are still waited out.
type callerRetriesKey struct{}

func withCallerRetries(ctx context.Context) context.Context {
	return context.WithValue(ctx, callerRetriesKey{}, true)
}

func callerRetries(ctx context.Context) bool {
	v, _ := ctx.Value(callerRetriesKey{}).(bool)
	return v
}

// errNoToken marks a token source failure: retrying the request cannot fix it.
var errNoToken = errors.New("github token unavailable")

// usableToken trims the white space a copy-paste leaves around a token (a trailing
// newline in Key Vault is the usual one) and refuses a token that still holds white
// space or control characters: net/http would refuse the header, or GitHub the token,
// on every attempt. The error names the secret, never the value.
func usableToken(token, secret string) (string, error) {
	token = strings.TrimSpace(token)
	name := "the token source"
	if secret != "" {
		name = fmt.Sprintf("secret %q", secret)
	}
	if token == "" {
		return "", fmt.Errorf("%w: %s holds an empty token; store the GitHub token in it", ErrTokenUnusable, name)
	}
	if i := strings.IndexFunc(token, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }); i >= 0 {
		return "", fmt.Errorf("%w: %s holds white space or control characters inside the token (at byte %d); store the token alone, on one line, in that secret",
			ErrTokenUnusable, name, i)
	}
	return token, nil
}

// attempt sends one request with cred's token and reads its whole body (bounded for
// error answers). It returns the token it sent.
func (t *transport) attempt(ctx context.Context, req *http.Request, cached *cachedPage, cred *credential, refused string) (*http.Response, []byte, string, error) {
	token, err := cred.get(ctx, refused)
	if err != nil {
		if errors.Is(err, errNoToken) {
			return nil, nil, "", err
		}
		return nil, nil, "", fmt.Errorf("%w: %w", errNoToken, err)
	}
	actx, cancel := context.WithTimeout(ctx, t.attemptTimeout)
	defer cancel()
	out := req.Clone(actx)
	if req.GetBody != nil {
		// A request with a body (a GraphQL query) is sent again on a retry: each
		// attempt reads a fresh copy.
		if out.Body, err = req.GetBody(); err != nil {
			return nil, nil, token, fmt.Errorf("request body: %w", err)
		}
	}
	out.Header.Set("Authorization", "Bearer "+token)
	if cached != nil {
		out.Header.Set("If-None-Match", cached.etag)
	}
	graphQL := false
	if resource, _ := requestCost(ctx); resource == resourceGraphQL {
		graphQL = true
	}
	countInto(ctx, func(c *Counters) {
		c.requests.Add(1)
		if graphQL {
			c.gqlQueries.Add(1)
		}
	})
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		return nil, nil, token, err
	}
	defer resp.Body.Close()
	t.observe(ctx, resp, cred)
	if resp.StatusCode >= 300 {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if err != nil {
			return nil, nil, token, fmt.Errorf("read body: %w", err)
		}
		return resp, body, token, nil
	}
	// A success is read whole (go-github decodes it) but never beyond the limit.
	tooLarge := fmt.Errorf("%w: %s %s answered more than %d bytes (the client's limit)", ErrTooLarge, req.Method, req.URL.Path, t.maxBody)
	if resp.ContentLength > t.maxBody {
		return nil, nil, token, tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, t.maxBody+1))
	if err != nil {
		return nil, nil, token, fmt.Errorf("read body: %w", err)
	}
	if int64(len(body)) > t.maxBody {
		return nil, nil, token, tooLarge
	}
	return resp, body, token, nil
}

// backoff counts a retry and waits before it, giving up with ErrUnavailable when the
// wait would pass the context's deadline.
func (t *transport) backoff(ctx context.Context, req *http.Request, retries *int, cause string) error {
	wait := retryWait(*retries)
	*retries++
	countInto(ctx, func(c *Counters) { c.retries.Add(1) })
	if deadline, ok := ctx.Deadline(); ok && wait > time.Until(deadline) {
		return fmt.Errorf("%w: %s %s: %s, and no time left to retry", ErrUnavailable, req.Method, req.URL.Path, cause)
	}
	logger(ctx, t.log).Info("retrying github request",
		"enterprise", t.enterpriseID, "path", req.URL.Path, "cause", cause,
		"retry", *retries, "wait", wait.String())
	countInto(ctx, func(c *Counters) { c.waited.Add(int64(wait)) })
	return t.clock.Sleep(ctx, wait)
}

// observe feeds an answer's headers to the credential's pacer (which so learns the
// credential's real limit), the counters, and — for the PAT — the token health.
// Installation tokens live an hour by design; their expiry is not the operator's
// concern.
func (t *transport) observe(ctx context.Context, resp *http.Response, cred *credential) {
	now := t.clock.Now()
	ri := parseRate(resp.Header)
	cred.pacer.observe(ri, now)
	if ri.hasRemaining {
		if ri.resource == resourceGraphQL {
			countInto(ctx, func(c *Counters) { c.observeGraphQLRate(ri.limit, ri.remaining) })
		} else {
			countInto(ctx, func(c *Counters) { c.observeRate(ri.limit, ri.remaining) })
		}
	}
	if resp.StatusCode >= 500 || !cred.pat {
		return // says nothing about the PAT
	}
	health, write := t.health.observe(resp, now)
	if !write || t.healthStore == nil {
		return
	}
	var err error
	if resp.StatusCode == http.StatusUnauthorized {
		err = t.healthStore.RecordTokenRefused(ctx, t.enterpriseID, now)
	} else {
		var expires *time.Time
		if !health.ExpiresAt.IsZero() {
			expires = &health.ExpiresAt
		}
		if err = t.healthStore.RecordTokenOK(ctx, t.enterpriseID, now, expires); err == nil {
			t.health.written(health)
		}
	}
	if err != nil {
		// Token health is advisory: the request itself went fine.
		logger(ctx, t.log).Warn("recording github token health", "enterprise", t.enterpriseID, "error", err)
	}
}

func (t *transport) lookup(ctx context.Context, key string) *cachedPage {
	etag, link, body, ok, err := t.cache.GetCachedPage(ctx, t.enterpriseID, key)
	if err != nil {
		// Without the entry the request is merely unconditional.
		logger(ctx, t.log).Warn("reading github page cache", "enterprise", t.enterpriseID, "error", err)
		return nil
	}
	if !ok || etag == "" {
		return nil
	}
	return &cachedPage{etag: etag, link: link, body: body}
}

func (t *transport) store(ctx context.Context, key string, resp *http.Response, body []byte) {
	etag := resp.Header.Get("ETag")
	if etag == "" {
		return
	}
	stored, err := t.compressor.compress(body)
	if err == nil {
		err = t.cache.PutCachedPage(ctx, t.enterpriseID, key, etag, resp.Header.Get("Link"), stored)
	}
	if err != nil {
		// The page is good; only the next run's 304 is lost.
		logger(ctx, t.log).Warn("writing github page cache", "enterprise", t.enterpriseID, "error", err)
	}
}

// roundTripForeign refuses a request for another origin. The client's CheckRedirect
// refuses such redirects and pagination never follows such links; this is the last
// line if something else asks.
func (t *transport) roundTripForeign(req *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("%w: request to another origin (%s://%s) refused", ErrDisallowedHost, req.URL.Scheme, req.URL.Host)
}

// rateLimited tells a rate-limit refusal from a plain 403: 429 always is one; a 403
// is one when it carries Retry-After, a spent budget, or says so in its message.
func rateLimited(resp *http.Response, body []byte) bool {
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true
	case http.StatusForbidden:
		if resp.Header.Get("Retry-After") != "" || resp.Header.Get("X-Ratelimit-Remaining") == "0" {
			return true
		}
		return bytes.Contains(bytes.ToLower(body), []byte("rate limit"))
	}
	return false
}

// truncated reports a 2xx body that cannot be whole: a JSON body that does not parse.
// (A body shorter than its Content-Length already failed to read.)
func truncated(resp *http.Response, body []byte) bool {
	if len(body) == 0 {
		return false
	}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mediaType != "application/json" && !strings.HasSuffix(mediaType, "+json") {
		return false
	}
	return !json.Valid(body)
}

// withBody hands the answer on with the body already read.
func withBody(resp *http.Response, body []byte) *http.Response {
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp
}

// replay turns a 304 into the 200 it stands for, with the stored body and Link.
func replay(resp *http.Response, link string, body []byte) *http.Response {
	header := resp.Header.Clone()
	header.Del("Content-Length")
	header.Set("Content-Type", "application/json; charset=utf-8")
	if link != "" {
		header.Set("Link", link)
	} else {
		header.Del("Link")
	}
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         resp.Proto,
		ProtoMajor:    resp.ProtoMajor,
		ProtoMinor:    resp.ProtoMinor,
		Header:        header,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       resp.Request,
	}
}

// sameOrigin compares scheme, host and port (the default port made explicit).
func sameOrigin(u, origin *url.URL) bool {
	return strings.EqualFold(u.Scheme, origin.Scheme) &&
		strings.EqualFold(u.Hostname(), origin.Hostname()) &&
		portOf(u) == portOf(origin)
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "http") {
		return "80"
	}
	return "443"
}

func logger(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return fallback
}
