package githubsim

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// call is one API request being answered.
type call struct {
	s     *Simulator
	r     *http.Request
	now   time.Time
	seq   int64
	base  string // scheme://host the request was sent to
	token string
	ent   *enterprise
	inst  *installation // the app installation an installation token belongs to; nil for a PAT
	rate  rateKey
}

// reply is what an endpoint answers; the pipeline adds the common headers.
type reply struct {
	status int
	body   any    // JSON-encoded; ignored when raw is set or status is 204
	raw    []byte // pre-encoded body
	link   string
	header http.Header
	free   bool // not counted against the rate limit (GET /rate_limit)
}

type endpointFunc func(c *call) reply

func (s *Simulator) apiRoutes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, fn endpointFunc) { mux.Handle(pattern, s.endpoint(fn)) }
	handle("GET /rate_limit", (*call).rateLimit)
	handle("GET /orgs/{org}/repos", (*call).listOrgRepos)
	handle("GET /repos/{owner}/{repo}", (*call).getRepo)
	handle("GET /repos/{owner}/{repo}/commits", (*call).listCommits)
	handle("GET /repos/{owner}/{repo}/commits/{ref}", (*call).getCommit)
	handle("GET /repos/{owner}/{repo}/compare/{basehead...}", (*call).compareCommits)
	handle("GET /repos/{owner}/{repo}/pulls", (*call).listPulls)
	handle("GET /repos/{owner}/{repo}/pulls/{number}", (*call).getPull)
	handle("GET /repos/{owner}/{repo}/pulls/{number}/commits", (*call).listPullCommits)
	handle("GET /repos/{owner}/{repo}/pulls/{number}/reviews", (*call).listReviews)
	handle("GET /repos/{owner}/{repo}/actions/runs", (*call).listRuns)
	handle("GET /repos/{owner}/{repo}/actions/runs/{id}", (*call).getRun)
	handle("GET /repos/{owner}/{repo}/deployments", (*call).listDeployments)
	handle("GET /repos/{owner}/{repo}/deployments/{id}", (*call).getDeployment)
	handle("GET /repos/{owner}/{repo}/deployments/{id}/statuses", (*call).listDeploymentStatuses)
	handle("GET /repos/{owner}/{repo}/issues", (*call).listIssues)
	handle("GET /enterprises/{enterprise}/copilot/metrics/reports/{report}", (*call).enterpriseReport)
	handle("GET /enterprises/{enterprise}/copilot/metrics/reports/{report}/latest", (*call).enterpriseReport)
	handle("GET /orgs/{org}/copilot/metrics/reports/{report}", (*call).orgReport)
	handle("GET /orgs/{org}/copilot/metrics/reports/{report}/latest", (*call).orgReport)
	handle("GET /orgs/{org}/copilot/billing/seats", (*call).orgSeats)
	handle("GET /enterprises/{enterprise}/copilot/billing/seats", (*call).enterpriseSeats)
	handle("GET /orgs/{org}/teams", (*call).listTeams)
	handle("GET /orgs/{org}/teams/{slug}/members", (*call).listTeamMembers)
	handle("GET /orgs/{org}/teams/{slug}/repos", (*call).listTeamRepos)
	s.appRoutes(mux)
	mux.Handle("POST "+graphqlPath, s.graphqlEndpoint())
	handle("/", func(*call) reply { return notFound() })
	return mux
}

// openCall numbers a request to the API host, plans its fault and starts its record;
// the call's enterprise is the one its token belongs to (nil for an unknown token).
func (s *Simulator) openCall(r *http.Request) (*call, faultPlan, Request) {
	token, hasAuth := bearerToken(r)
	s.mu.Lock()
	s.seq++
	c := &call{s: s, r: r, now: s.now, seq: s.seq, base: baseURL(r), token: token}
	plan := s.planFault(c.seq, HostAPI, r, token)
	s.mu.Unlock()

	rec := Request{Seq: c.seq, Host: HostAPI, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Authorization: hasAuth, Token: token, At: c.now}
	c.ent = s.w.byToken[token]
	return c, plan, rec
}

// requestID is the call's X-GitHub-Request-Id: GitHub's shape, derived from the seed and
// the call's number so it repeats.
func (c *call) requestID() string {
	return fmt.Sprintf("%04X:%05X:%06X:%07X:%08X", c.seq%0xFFFF, hashOf(uint64(c.seq))%0xFFFFF, c.seq*7%0xFFFFFF,
		hashOf(uint64(c.s.w.cfg.Seed), uint64(c.seq))%0xFFFFFFF, c.seq)
}

// endpoint wraps an endpoint in GitHub's common behaviour: faults, authentication,
// the primary rate limit, ETags and conditional requests, and recording.
func (s *Simulator) endpoint(fn endpointFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, plan, rec := s.openCall(r)
		token := c.token
		if c.ent == nil && s.app != nil {
			if c.inst = s.installationFor(token, c.now); c.inst != nil {
				c.ent = c.inst.org.ent
				rec.Installation = c.inst.id
			}
		}
		c.rate = s.rateKeyOf(token, c.inst)
		if c.ent != nil {
			rec.Enterprise = c.ent.cfg.Slug
		}
		defer func() { s.record(rec) }()

		if plan.latency > 0 {
			if err := s.w.cfg.Sleep(r.Context(), plan.latency); err != nil {
				return
			}
		}
		requestID := c.requestID()
		w.Header().Set("X-GitHub-Request-Id", requestID)
		w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")

		if c.ent == nil {
			rec.Status = http.StatusUnauthorized
			writeJSONError(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})
			return
		}
		version := r.Header.Get("X-GitHub-Api-Version")
		if version != "" && version != "2022-11-28" && version != "2026-03-10" {
			rec.Status = http.StatusBadRequest
			writeJSONError(w, http.StatusBadRequest, map[string]any{
				"message":           "Unsupported 'X-GitHub-Api-Version' header value: " + version,
				"documentation_url": "https://docs.github.com/rest/about-the-rest-api/api-versions",
				"status":            "400",
			})
			return
		}
		w.Header().Set("X-GitHub-Api-Version-Selected", cmp.Or(version, "2022-11-28"))
		if c.inst != nil && strings.HasPrefix(r.URL.Path, "/enterprises/") {
			// An organization installation cannot read the enterprise.
			rec.Status = http.StatusForbidden
			s.rateHeaders(w.Header(), c.rate, c.now)
			writeJSONError(w, http.StatusForbidden, map[string]any{"message": "Resource not accessible by integration",
				"documentation_url": "https://docs.github.com/rest", "status": "403"})
			return
		}
		// At most 100 requests in flight per token, REST and GraphQL together.
		if !s.enter(token) {
			s.rateHeaders(w.Header(), c.rate, c.now)
			rec.Status = writeSecondaryLimit(w, requestID, time.Minute)
			return
		}
		defer s.leave(token)
		if c.inst == nil && !c.ent.cfg.TokenExpiresAt.IsZero() {
			w.Header().Set("github-authentication-token-expiration", c.ent.cfg.TokenExpiresAt.UTC().Format("2006-01-02 15:04:05 UTC"))
		}

		switch plan.kind {
		case FaultServerError, FaultSecondaryLimit, FaultReset:
			rec.Fault = plan.kind
			rec.Status = writeFault(w, plan, requestID, func(h http.Header) { s.rateHeaders(h, c.rate, c.now) })
			return
		case FaultPrimaryLimit:
			rec.Fault = plan.kind
			rec.Status = http.StatusForbidden
			h := w.Header()
			s.rateHeaders(h, c.rate, c.now)
			h.Set("X-RateLimit-Remaining", "0")
			h.Set("X-RateLimit-Reset", strconv.FormatInt(c.now.Add(plan.cfg.PrimaryResetIn).Add(time.Second-1).Unix(), 10))
			writeJSONError(w, http.StatusForbidden, primaryLimitBody(c.ent))
			return
		}

		window, allowed := s.reserve(c.rate, c.now)
		if !allowed {
			rec.Status = http.StatusForbidden
			s.rateHeaders(w.Header(), c.rate, c.now)
			writeJSONError(w, http.StatusForbidden, primaryLimitBody(c.ent))
			return
		}
		rec.Charged = true
		rep := fn(c)
		if rep.free {
			s.refund(c.rate, window)
			rec.Charged = false
		}
		body := rep.raw
		if body == nil && rep.status != http.StatusNoContent {
			var err error
			if body, err = json.Marshal(rep.body); err != nil {
				rep = reply{status: http.StatusInternalServerError}
				body = []byte(`{"message":"Server Error"}`)
			}
		}
		h := w.Header()
		for k, v := range rep.header {
			h[k] = v
		}
		if rep.link != "" {
			h.Set("Link", rep.link)
		}
		if rep.status == http.StatusOK {
			sum := sha256.Sum256(append([]byte(token+"\x00"), body...))
			etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
			h.Set("ETag", etag)
			h.Set("Cache-Control", "private, max-age=60, s-maxage=60")
			h.Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
			if etagMatches(r.Header.Get("If-None-Match"), etag) {
				// A conditional request answered 304 costs no quota.
				if rec.Charged {
					s.refund(c.rate, window)
					rec.Charged = false
				}
				s.rateHeaders(h, c.rate, c.now)
				h.Del("Link")
				rec.Status = http.StatusNotModified
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		s.rateHeaders(h, c.rate, c.now)
		rec.Status = rep.status
		if rep.status == http.StatusNoContent {
			w.WriteHeader(rep.status)
			return
		}
		h.Set("Content-Type", "application/json; charset=utf-8")
		if plan.kind == FaultTruncated && rep.status == http.StatusOK && len(body) > 1 {
			rec.Fault = plan.kind
			writeTruncated(w, body, plan.variant)
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rep.status)
		_, _ = w.Write(body)
	})
}

func primaryLimitBody(e *enterprise) map[string]any {
	return map[string]any{
		"message":           fmt.Sprintf("API rate limit exceeded for user ID %d. If you reach out to GitHub Support for help, please include the request ID.", e.id),
		"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit",
		"status":            "403",
	}
}

// bearerToken reads "Bearer <t>" or "token <t>".
func bearerToken(r *http.Request) (string, bool) {
	v := r.Header.Get("Authorization")
	if v == "" {
		return "", false
	}
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || (!strings.EqualFold(scheme, "bearer") && !strings.EqualFold(scheme, "token")) {
		return "", true
	}
	return strings.TrimSpace(tok), true
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	strip := func(s string) string { return strings.TrimPrefix(strings.TrimSpace(s), "W/") }
	for _, candidate := range strings.Split(header, ",") {
		if strings.TrimSpace(candidate) == "*" || strip(candidate) == strip(etag) {
			return true
		}
	}
	return false
}

func writeJSONError(w http.ResponseWriter, status int, body map[string]any) {
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Error replies, shaped like GitHub's.

func notFound() reply {
	return reply{status: http.StatusNotFound, body: map[string]any{"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}}
}

func validationFailed(field, message string) reply {
	return reply{status: http.StatusUnprocessableEntity, body: map[string]any{
		"message":           "Validation Failed",
		"errors":            []map[string]string{{"resource": "Search", "field": field, "code": "invalid", "message": message}},
		"documentation_url": "https://docs.github.com/rest",
		"status":            "422",
	}}
}

func forbidden(message string) reply {
	return reply{status: http.StatusForbidden, body: map[string]any{"message": message, "documentation_url": "https://docs.github.com/rest", "status": "403"}}
}

func ok(body any) reply { return reply{status: http.StatusOK, body: body} }

// Lookups that enforce the token's scope: anything outside the token's enterprise is
// 404, as GitHub answers for what a token cannot see.

func (c *call) org(login string) (*org, bool) {
	o, found := c.s.w.orgs[login]
	if !found {
		for l, oo := range c.s.w.orgs { // logins are case-insensitive
			if strings.EqualFold(l, login) {
				o, found = oo, true
			}
		}
	}
	if !found || o.ent != c.ent || (c.inst != nil && o != c.inst.org) {
		return nil, false // an installation sees its own organization only
	}
	return o, true
}

func (c *call) repo() (*repo, bool) {
	return c.repoNamed(c.r.PathValue("owner"), c.r.PathValue("repo"))
}

func (c *call) enterpriseParam() (*enterprise, bool) {
	if !strings.EqualFold(c.r.PathValue("enterprise"), c.ent.cfg.Slug) {
		return nil, false
	}
	return c.ent, true
}

// Pagination.

type pageParams struct {
	page, perPage int
	explicit      bool // page or per_page was given
}

func (c *call) pageParams(defaultPerPage, maxPerPage int) pageParams {
	q := c.r.URL.Query()
	p := pageParams{page: 1, perPage: defaultPerPage}
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		p.page = v
	}
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		p.perPage = min(v, maxPerPage)
	}
	p.explicit = q.Has("page") || q.Has("per_page")
	return p
}

// window is the [start, end) slice bounds of page p over n items.
func (p pageParams) window(n int) (int, int) {
	start := min((p.page-1)*p.perPage, n)
	return start, min(start+p.perPage, n)
}

// link builds GitHub's Link header for page p when there are n pageable items.
func (c *call) link(p pageParams, n int) string {
	last := max(1, (n+p.perPage-1)/p.perPage)
	if last == 1 && p.page == 1 {
		return ""
	}
	u := func(page int) string {
		q := c.r.URL.Query()
		q.Set("page", strconv.Itoa(page))
		return "<" + c.base + c.r.URL.Path + "?" + q.Encode() + ">"
	}
	var parts []string
	if p.page > 1 {
		parts = append(parts, u(min(p.page-1, last))+`; rel="prev"`)
	}
	if p.page < last {
		parts = append(parts, u(p.page+1)+`; rel="next"`, u(last)+`; rel="last"`)
	}
	if p.page > 1 {
		parts = append(parts, u(1)+`; rel="first"`)
	}
	return strings.Join(parts, ", ")
}

// paginate returns page p of items with its Link header.
func paginate[T any](c *call, items []T, p pageParams) ([]T, string) {
	start, end := p.window(len(items))
	out := items[start:end]
	if out == nil {
		out = []T{}
	}
	return out, c.link(p, len(items))
}

// Query helpers.

func parseTime(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func (c *call) timeParam(name string) (time.Time, bool, reply) {
	v := c.r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, false, reply{}
	}
	t, good := parseTime(v)
	if !good {
		return time.Time{}, false, validationFailed(name, fmt.Sprintf("%q is not a valid ISO 8601 timestamp", v))
	}
	return t, true, reply{}
}

func (c *call) rateLimit() reply {
	limit, remaining, used, reset := c.s.rateState(c.rate, c.now)
	core := map[string]any{"limit": limit, "remaining": remaining, "reset": reset.Unix(), "used": used, "resource": "core"}
	return reply{status: http.StatusOK, free: true, body: map[string]any{"resources": map[string]any{"core": core}, "rate": core}}
}

// absolute joins the request's base with a path, for url fields.
func (c *call) absolute(path string) string { return c.base + path }

func (c *call) repoURL(r *repo) string {
	return c.absolute("/repos/" + url.PathEscape(r.org.login) + "/" + url.PathEscape(r.name))
}
