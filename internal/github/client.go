package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v93/github"
)

// Defaults for Options.
const (
	DefaultBaseURL        = "https://api.github.com/"
	DefaultMaxInFlight    = 4
	MaxInFlightLimit      = 100 // GitHub's secondary limit on concurrent requests
	DefaultMaxRate        = 10  // requests per second
	DefaultRetries        = 3
	DefaultRateLimitWaits = 3
	DefaultMaxWait        = time.Hour + time.Minute // a whole primary window
	DefaultAttemptTimeout = time.Minute
	// DefaultMaxBodyBytes bounds an API answer: a page of 100 pull requests is a few
	// MB, the largest pages we list stay well under 10 MB.
	DefaultMaxBodyBytes = 32 << 20
	// DefaultMaxRecordBytes bounds one Copilot report record: a per-user record is
	// about 1–5 kB, an aggregate day with every breakdown well under 1 MB.
	DefaultMaxRecordBytes = 8 << 20
	maxRedirects          = 5
	userAgent             = "metrics-collector"
	// acceptJSON is the media type GitHub documents for the REST API.
	acceptJSON = "application/vnd.github+json"
)

// Options configure a Client. EnterpriseID and Token or App (or both) are required.
type Options struct {
	// EnterpriseID is the configured enterprise's stable id: the cache and token
	// health key.
	EnterpriseID string
	// BaseURL is the exact API base (the enterprise's api_url), e.g.
	// https://api.github.com/ or https://api.acme.ghe.com/. Nothing is appended to it
	// (unlike go-github's WithEnterpriseURLs, which adds api/v3/). https is required
	// except on loopback addresses. Default DefaultBaseURL.
	BaseURL string
	// Token returns the PAT for each request; it may rotate. Surrounding white space (a
	// line ending pasted into Key Vault) is trimmed. With App it serves only the
	// endpoints an installation token cannot (auth.go); nil then refuses those.
	Token func(ctx context.Context) (string, error)
	// App authenticates the organization and repository endpoints as a GitHub App
	// installation (app.go).
	App *AppAuth
	// TokenSecret names the secret Token reads (the enterprise's token_secret), for
	// error messages that say which secret to fix. Never the value.
	TokenSecret string
	// HTTPClient talks to the API host. Its Transport is used underneath the client's
	// own; its Timeout bounds each attempt (default DefaultAttemptTimeout), not the
	// waits between attempts. Default: a new client.
	HTTPClient *http.Client
	// DownloadClient fetches Copilot report files from their signed links. The client
	// never hands it a credential and strips any Authorization header from its
	// requests; its transport must not add one. Sharing HTTPClient here is safe (the
	// token lives in the API client's own transport). Its CheckRedirect is replaced
	// (egress.go). Default: a new client with a 5-minute timeout.
	//
	// When the Transport of HTTPClient or DownloadClient is an *http.Transport (or
	// nil), the client uses a clone whose dialer refuses loopback, private and
	// link-local addresses unless BaseURL is loopback (egress.go).
	DownloadClient *http.Client
	// MaxBodyBytes bounds an API answer (default DefaultMaxBodyBytes); a larger one
	// fails with ErrTooLarge. MaxRecordBytes bounds one Copilot report record (default
	// DefaultMaxRecordBytes).
	MaxBodyBytes   int64
	MaxRecordBytes int64
	// DownloadHosts is the allow-list of report download hosts (the enterprise's
	// copilot_download_hosts; CheckHostPattern). Default DefaultDownloadHosts(BaseURL).
	DownloadHosts []string
	// Clock is the source of time for every wait. Default: the system clock.
	Clock Clock
	// MaxInFlight bounds concurrent requests (GitHub allows 100). Default 4.
	MaxInFlight int
	// MaxRate is the ceiling in requests per second. Default 10; math.Inf(1) lifts it
	// (benchmarks against a simulator).
	MaxRate float64
	// Retries is how often a 5xx, reset or truncated body is retried; 0 means the
	// default (3), a negative value means never.
	Retries int
	// RateLimitWaits is how many rate-limit refusals of one request are waited out
	// before giving up with a *RateLimitError; 0 means the default (3), negative never.
	RateLimitWaits int
	// MaxWait is the longest single wait; a longer one gives up at once with a
	// *RateLimitError. A context deadline shortens it further. Default DefaultMaxWait.
	MaxWait time.Duration
	// Reserve is how much of the primary budget the client leaves untouched (for
	// other users of the token); 0 means 1% of the limit.
	Reserve int
	// Cache keeps list pages for conditional requests; nil: no conditional requests.
	Cache Cache
	// TokenHealth persists token expiry and acceptance; nil: kept in memory only.
	TokenHealth TokenHealthStore
	// Logger receives waits, retries and cache trouble. Default: discard.
	Logger *slog.Logger
}

// Client is the GitHub client of one enterprise. It is safe for concurrent use; make
// one per enterprise per process, so its pacing outlives a stage call.
type Client struct {
	enterpriseID  string
	gh            *gh.Client
	origin        *url.URL
	download      *http.Client
	downloadHosts hostList
	localAllowed  bool // the api_url is loopback: local addresses and plain http to them are allowed
	clock         Clock
	retries       int
	maxRecord     int64
	health        *tokenHealth
	app           *app // nil without an app
	log           *slog.Logger

	// The GraphQL client (graphql.go) shares the API client and its transport.
	api            *http.Client
	pacer          *pacer
	rateLimitWaits int
	sizer          *pageSizer
	nestedFloor    int // smallest page of nested connections (graphQLNestedFloor)
}

// New builds a client. It does not touch the network.
func New(opts Options) (*Client, error) {
	if strings.TrimSpace(opts.EnterpriseID) == "" {
		return nil, errors.New("github client: EnterpriseID is required")
	}
	if opts.Token == nil && opts.App == nil {
		return nil, errors.New("github client: Token or App is required")
	}
	base, err := parseBaseURL(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	localAllowed := isLoopback(base.Hostname())
	downloadHosts := opts.DownloadHosts
	if len(downloadHosts) == 0 {
		downloadHosts = DefaultDownloadHosts(base.String())
	}
	for _, h := range downloadHosts {
		if err := CheckHostPattern(h); err != nil {
			return nil, fmt.Errorf("github client: DownloadHosts (copilot_download_hosts): %w", err)
		}
	}
	clock := opts.Clock
	if clock == nil {
		clock = systemClock{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxInFlight := orDefault(opts.MaxInFlight, DefaultMaxInFlight)
	if maxInFlight > MaxInFlightLimit {
		return nil, fmt.Errorf("github client: MaxInFlight %d: GitHub allows at most %d concurrent requests (REST and GraphQL together)", maxInFlight, MaxInFlightLimit)
	}
	maxRate := opts.MaxRate
	if maxRate <= 0 {
		maxRate = DefaultMaxRate
	}
	maxWait := opts.MaxWait
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}

	apiHTTP := opts.HTTPClient
	if apiHTTP == nil {
		apiHTTP = &http.Client{}
	}
	next := guardTransport(apiHTTP.Transport, localAllowed)
	attemptTimeout := apiHTTP.Timeout
	if attemptTimeout <= 0 {
		attemptTimeout = DefaultAttemptTimeout
	}
	health := &tokenHealth{}
	t := &transport{
		enterpriseID:   opts.EnterpriseID,
		origin:         base,
		next:           next,
		tokenSecret:    opts.TokenSecret,
		clock:          clock,
		pacing:         pacing{maxInFlight: maxInFlight, maxRate: maxRate, reserve: opts.Reserve, maxWait: maxWait},
		cache:          opts.Cache,
		health:         health,
		healthStore:    opts.TokenHealth,
		retries:        orDefault(opts.Retries, DefaultRetries),
		rateLimitWaits: orDefault(opts.RateLimitWaits, DefaultRateLimitWaits),
		attemptTimeout: attemptTimeout,
		maxBody:        orDefault64(opts.MaxBodyBytes, DefaultMaxBodyBytes),
		log:            log,
	}
	if opts.Token != nil {
		token, secret := opts.Token, opts.TokenSecret
		t.pat = &credential{name: "the PAT", pat: true, pacer: t.newPacer(),
			get: func(ctx context.Context, _ string) (string, error) {
				v, err := token(ctx)
				if err != nil {
					return "", err
				}
				return usableToken(v, secret)
			}}
	}
	if opts.App != nil {
		a, err := newApp(*opts.App)
		if err != nil {
			return nil, err
		}
		a.t = t
		t.app = a
	}
	// No Timeout here: it would cover the waits between attempts. The transport bounds
	// each attempt instead.
	api := &http.Client{
		Transport: t,
		Jar:       apiHTTP.Jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if !sameOrigin(req.URL, base) {
				return fmt.Errorf("%w: redirect from the API to another origin (%s://%s) refused", ErrDisallowedHost, req.URL.Scheme, req.URL.Host)
			}
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return nil
		},
	}
	baseString := base.String()
	client, err := gh.NewClient(
		gh.WithHTTPClient(api),
		gh.WithURLs(&baseString, &baseString),
		gh.WithUserAgent(userAgent),
		// Our transport paces and waits on the injected clock; go-github's own
		// checks would refuse requests by the wall clock.
		gh.WithDisableRateLimitCheck(),
	)
	if err != nil {
		return nil, fmt.Errorf("github client: %w", err)
	}
	c := &Client{
		enterpriseID:  opts.EnterpriseID,
		gh:            client,
		origin:        base,
		downloadHosts: hostList(downloadHosts),
		localAllowed:  localAllowed,
		clock:         clock,
		retries:       t.retries,
		maxRecord:     orDefault64(opts.MaxRecordBytes, DefaultMaxRecordBytes),
		health:        health,
		app:           t.app,
		log:           log,

		api:            api,
		pacer:          graphQLPacer(t),
		rateLimitWaits: t.rateLimitWaits,
		sizer:          newPageSizer(),
		nestedFloor:    graphQLNestedFloor,
	}
	c.download = newDownloadClient(opts.DownloadClient, localAllowed, c.checkDownloadRedirect)
	return c, nil
}

func orDefault(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

func orDefault64(v, def int64) int64 {
	if v <= 0 {
		return def
	}
	return v
}

// parseBaseURL checks api_url: absolute, https unless loopback, ending in "/".
func parseBaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		raw = DefaultBaseURL
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("github client: BaseURL %q is not an absolute http(s) URL", raw)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("github client: BaseURL %q must use https (http is allowed on loopback only)", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("github client: BaseURL %q must not carry credentials, a query or a fragment", u.Redacted())
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// get fetches one API resource (a path relative to the base URL, or an absolute URL
// on the API origin) and decodes it into v. It returns go-github's response for its
// headers.
func (c *Client) get(ctx context.Context, op, urlStr string, v any) (*gh.Response, error) {
	req, err := c.gh.NewRequest(ctx, http.MethodGet, urlStr, nil, func(r *http.Request) {
		r.Header.Set("Accept", acceptJSON)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	resp, err := c.gh.Do(req, v)
	if err != nil {
		return resp, mapError(op, resp, err)
	}
	return resp, nil
}

// mapError turns go-github's and the transport's errors into ours, wrapped once with
// the operation. Messages carry GitHub's own message (never the token).
func mapError(op string, resp *gh.Response, err error) error {
	// The transport's own errors arrive wrapped in *url.Error, whose text repeats the
	// whole URL; keep only the cause.
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	var rateErr *RateLimitError
	if errors.As(err, &rateErr) || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrDisallowedHost) || errors.Is(err, ErrTooLarge) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if resp == nil || resp.Response == nil || resp.StatusCode < 300 {
		return fmt.Errorf("%s: %w", op, err) // e.g. a body that does not decode
	}
	var message string
	var apiErr *gh.ErrorResponse
	if errors.As(err, &apiErr) {
		message = strings.TrimSpace(apiErr.Message)
	}
	switch status := resp.StatusCode; {
	case status == http.StatusUnauthorized:
		return fmt.Errorf("%s: %w", op, ErrTokenRefused)
	case status == http.StatusForbidden:
		return fmt.Errorf("%s: %w: %s", op, ErrForbidden, message)
	case status == http.StatusNotFound:
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	case status >= 500:
		return fmt.Errorf("%s: %w: %s", op, ErrUnavailable, resp.Status)
	}
	return fmt.Errorf("%s: github answered %s: %s", op, resp.Status, message)
}

// repoPath checks "owner/name" and returns the escaped path "repos/owner/name".
func repoPath(fullName string) (string, error) {
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("fullName: %q is not \"owner/name\"", fullName)
	}
	return "repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name), nil
}

// graphQLPacer is the pacer of the credential GraphQL queries go out with: POST /graphql
// is no organization's path, so it carries the PAT (an app-only client's queries are
// refused by credentialFor, naming token_secret; its stand-in pacer is never used).
func graphQLPacer(t *transport) *pacer {
	if t.pat != nil {
		return t.pat.pacer
	}
	return t.newPacer()
}
