package githubsim

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// AppConfig is a GitHub App installed on organizations of the world. Requests to
// /app/... and GET /orgs/{org}/installation must carry its JWT (RS256, signed with the
// key whose public half is PublicKey, issuer ClientID or AppID, expiring in the future
// and at most 10 minutes after it was issued); installation tokens minted with
// POST /app/installations/{id}/access_tokens read their organization's endpoints —
// not the enterprise's — and expire TokenTTL after minting, in simulated time.
type AppConfig struct {
	AppID     int64
	ClientID  string
	PublicKey *rsa.PublicKey
	// Orgs it is installed on; default every organization of the world.
	Orgs []string
	// TokenTTL is an installation token's life in simulated time (GitHub: 1 hour;
	// tests shorten it so renewal happens). Default 1 hour.
	TokenTTL time.Duration
	// RateLimit is each installation's primary limit per hour (default 15,000, an
	// installation on Enterprise Cloud).
	RateLimit int
}

// installation is the app on one organization.
type installation struct {
	id  int64
	org *org
}

// instToken is a minted installation token.
type instToken struct {
	inst    *installation
	expires time.Time
}

func (c AppConfig) withDefaults() (AppConfig, error) {
	if c.PublicKey == nil {
		return c, errors.New("config App.PublicKey: required (the public half of the key the client signs its JWT with)")
	}
	if c.AppID == 0 && c.ClientID == "" {
		return c, errors.New("config App: AppID or ClientID is required")
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = time.Hour
	}
	if c.RateLimit == 0 {
		c.RateLimit = 15000
	}
	return c, nil
}

// installationIDBase keeps installation ids apart from every other id of the world.
const installationIDBase = 70_000_000

// setupApp installs the app on its organizations.
func (s *Simulator) setupApp() error {
	if s.w.cfg.App == nil {
		return nil
	}
	cfg, err := s.w.cfg.App.withDefaults()
	if err != nil {
		return err
	}
	s.app = &cfg
	s.installations = map[int64]*installation{}
	s.instTokens = map[string]*instToken{}
	logins := cfg.Orgs
	if len(logins) == 0 {
		for login := range s.w.orgs {
			logins = append(logins, login)
		}
		sort.Strings(logins)
	}
	for _, login := range logins {
		o, ok := s.w.orgs[login]
		if !ok {
			return fmt.Errorf("config App.Orgs: %q is not an organization of the world", login)
		}
		id := installationIDBase + o.id%1_000_000
		s.installations[id] = &installation{id: id, org: o}
	}
	return nil
}

// Installations maps each organization the app is installed on to its installation
// id (nil without an app).
func (s *Simulator) Installations() map[string]int64 {
	out := map[string]int64{}
	for id, inst := range s.installations {
		out[inst.org.login] = id
	}
	return out
}

// InstallationTokens is how many installation tokens were minted so far.
func (s *Simulator) InstallationTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.instTokens)
}

// appRoutes adds the app endpoints to mux.
func (s *Simulator) appRoutes(mux *http.ServeMux) {
	mux.Handle("GET /app", s.appEndpoint(func(c *appCall) reply {
		return ok(map[string]any{"id": s.app.AppID, "client_id": s.app.ClientID, "slug": "metrics-collector-sim", "name": "metrics-collector (simulated)"})
	}))
	mux.Handle("GET /orgs/{org}/installation", s.appEndpoint(func(c *appCall) reply {
		for _, inst := range s.installations {
			if strings.EqualFold(inst.org.login, c.r.PathValue("org")) {
				return ok(s.installationBody(inst))
			}
		}
		return notFound()
	}))
	mux.Handle("GET /app/installations/{id}", s.appEndpoint(func(c *appCall) reply {
		inst := s.installationParam(c.r)
		if inst == nil {
			return notFound()
		}
		return ok(s.installationBody(inst))
	}))
	mux.Handle("POST /app/installations/{id}/access_tokens", s.appEndpoint(func(c *appCall) reply {
		inst := s.installationParam(c.r)
		if inst == nil {
			return notFound()
		}
		s.mu.Lock()
		sum := sha256.Sum256([]byte(fmt.Sprintf("githubsim-installation-token:%d:%d:%d", s.w.cfg.Seed, inst.id, len(s.instTokens))))
		token := "ghs_sim" + hex.EncodeToString(sum[:16])
		expires := c.now.Add(s.app.TokenTTL)
		s.instTokens[token] = &instToken{inst: inst, expires: expires}
		s.mu.Unlock()
		return reply{status: http.StatusCreated, body: map[string]any{
			"token": token, "expires_at": expires.UTC().Format(time.RFC3339),
			"permissions": installationPermissions(), "repository_selection": "all",
		}}
	}))
}

func (s *Simulator) installationParam(r *http.Request) *installation {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil
	}
	return s.installations[id]
}

func (s *Simulator) installationBody(inst *installation) map[string]any {
	return map[string]any{
		"id": inst.id, "app_id": s.app.AppID, "client_id": s.app.ClientID, "target_type": "Organization",
		"account":              map[string]any{"login": inst.org.login, "id": inst.org.id, "type": "Organization"},
		"repository_selection": "all", "permissions": installationPermissions(),
	}
}

// installationPermissions are the read permissions the collector's app asks for.
func installationPermissions() map[string]string {
	return map[string]string{
		"metadata": "read", "contents": "read", "pull_requests": "read", "actions": "read",
		"deployments": "read", "issues": "read", "organization_copilot_seat_management": "read",
		"organization_copilot_metrics": "read",
	}
}

// appCall is one request to an app endpoint.
type appCall struct {
	r   *http.Request
	now time.Time
}

// appEndpoint answers an app endpoint after checking the JWT.
func (s *Simulator) appEndpoint(fn func(*appCall) reply) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, hasAuth := bearerToken(r)
		s.mu.Lock()
		s.seq++
		seq, now := s.seq, s.now
		s.mu.Unlock()
		rec := Request{Seq: seq, Host: HostAPI, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			Authorization: hasAuth, Token: "(app JWT)", At: now}
		defer func() { s.record(rec) }()
		if s.app == nil {
			rec.Status = http.StatusNotFound
			writeJSONError(w, http.StatusNotFound, map[string]any{"message": "Not Found", "status": "404"})
			return
		}
		if problem := s.checkJWT(token, now); problem != "" {
			rec.Status = http.StatusUnauthorized
			writeJSONError(w, http.StatusUnauthorized, map[string]any{
				"message": problem, "documentation_url": "https://docs.github.com/rest", "status": "401"})
			return
		}
		rep := fn(&appCall{r: r, now: now})
		rec.Status = rep.status
		body, _ := json.Marshal(rep.body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rep.status)
		_, _ = w.Write(body)
	})
}

// checkJWT validates an app JWT as GitHub does and says what is wrong ("" when it is
// good): RS256 signed with the app's key, issued by the app, not expired, not valid
// for more than 10 minutes, not issued in the future (60 s of drift allowed).
func (s *Simulator) checkJWT(token string, now time.Time) string {
	const undecodable = "A JSON web token could not be decoded"
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return undecodable
	}
	enc := base64.RawURLEncoding
	head, err1 := enc.DecodeString(parts[0])
	payload, err2 := enc.DecodeString(parts[1])
	sig, err3 := enc.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return undecodable
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(head, &header) != nil || header.Alg != "RS256" {
		return undecodable
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(s.app.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return "A JSON web token could not be decoded" // GitHub says no more for a bad signature
	}
	var claims struct {
		IAT json.Number `json:"iat"`
		EXP json.Number `json:"exp"`
		ISS any         `json:"iss"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return undecodable
	}
	iat, errI := claims.IAT.Int64()
	exp, errE := claims.EXP.Int64()
	if errI != nil || errE != nil {
		return "'Issued at' and 'Expiration time' claims must be numeric"
	}
	iss := fmt.Sprint(claims.ISS)
	if iss != s.app.ClientID && iss != strconv.FormatInt(s.app.AppID, 10) {
		return "'Issuer' claim ('iss') must be an Integer or the client ID of a GitHub App"
	}
	switch {
	case exp <= now.Unix():
		return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	case exp-iat > 600 || exp > now.Add(10*time.Minute).Unix():
		return "'Expiration time' claim ('exp') is too far in the future"
	case iat > now.Add(60*time.Second).Unix():
		return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	}
	return ""
}

// installationFor resolves an installation token at now: its installation, or an
// expired/unknown token (nil).
func (s *Simulator) installationFor(token string, now time.Time) *installation {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.instTokens[token]
	if t == nil || !now.Before(t.expires) {
		return nil
	}
	return t.inst
}

// ExpireInstallationTokens ends the life of every installation token minted so far,
// as if their hour were up, and returns how many were live: their next request
// answers 401. Tests call it while a run works to make the client renew its tokens
// without moving simulated time (which would change the world).
func (s *Simulator) ExpireInstallationTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.instTokens {
		if s.now.Before(t.expires) {
			t.expires = s.now
			n++
		}
	}
	return n
}

// AppClientID is the app's client id ("" without an app).
func (s *Simulator) AppClientID() string {
	if s.app == nil {
		return ""
	}
	return s.app.ClientID
}
