package github

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// appKey is one RSA key for the whole test binary (generating one takes a while).
var appKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func appKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(appKey())})
}

const appIssuer = "Iv23liTESTAPP"

// appClaims are the claims of a JWT this test verified.
type appClaims struct {
	IAT, EXP int64
	ISS      string
}

// verifyJWT checks an RS256 JWT against the app's public key, independently of the
// code that made it.
func verifyJWT(token string, pub *rsa.PublicKey) (appClaims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return appClaims{}, errors.New("not three parts")
	}
	enc := base64.RawURLEncoding
	var header struct{ Alg, Typ string }
	h, _ := enc.DecodeString(parts[0])
	if err := json.Unmarshal(h, &header); err != nil || header.Alg != "RS256" {
		return appClaims{}, fmt.Errorf("header %s", h)
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return appClaims{}, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return appClaims{}, fmt.Errorf("signature: %w", err)
	}
	var c struct {
		IAT int64  `json:"iat"`
		EXP int64  `json:"exp"`
		ISS string `json:"iss"`
	}
	b, _ := enc.DecodeString(parts[1])
	if err := json.Unmarshal(b, &c); err != nil {
		return appClaims{}, err
	}
	return appClaims{c.IAT, c.EXP, c.ISS}, nil
}

// fakeApp is GitHub's app side: installation lookup and token minting with a real
// JWT check, tokens that expire an hour after minting on the fake clock, and the
// API endpoints answering to installation tokens or the PAT.
type fakeApp struct {
	t         *testing.T
	clock     *fakeClock
	mu        sync.Mutex
	minted    []string // tokens in minting order
	revoked   map[string]bool
	jwts      []appClaims
	installed map[string]int64 // org → installation
	// remaining is the installation's x-ratelimit-remaining (limit 15,000).
	remaining int
}

func newFakeApp(t *testing.T, clock *fakeClock) *fakeApp {
	return &fakeApp{t: t, clock: clock, revoked: map[string]bool{}, installed: map[string]int64{"acme": 42}, remaining: 14000}
}

func (a *fakeApp) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	path := apiPath(r)
	jsonAnswer := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	if strings.HasPrefix(path, "app/") || strings.HasSuffix(path, "/installation") {
		claims, err := verifyJWT(auth, &appKey().PublicKey)
		now := a.clock.Now().Unix()
		if err != nil || claims.ISS != appIssuer || claims.IAT > now || claims.EXP <= now || claims.EXP-claims.IAT > 600 {
			jsonAnswer(http.StatusUnauthorized, map[string]string{"message": "A JSON web token could not be decoded"})
			return
		}
		a.jwts = append(a.jwts, claims)
		switch {
		case r.Method == http.MethodGet && strings.HasPrefix(path, "orgs/"):
			org := strings.TrimSuffix(strings.TrimPrefix(path, "orgs/"), "/installation")
			if id, ok := a.installed[org]; ok {
				jsonAnswer(http.StatusOK, map[string]any{"id": id, "account": map[string]string{"login": org}})
				return
			}
			jsonAnswer(http.StatusNotFound, map[string]string{"message": "Not Found"})
		case r.Method == http.MethodGet && path == "app/installations/42":
			jsonAnswer(http.StatusOK, map[string]any{"id": 42, "account": map[string]string{"login": "acme"}})
		case r.Method == http.MethodPost && path == "app/installations/42/access_tokens":
			tok := fmt.Sprintf("ghs_installation%02dTOKENvalue0123456789", len(a.minted)+1)
			a.minted = append(a.minted, tok)
			jsonAnswer(http.StatusCreated, map[string]any{"token": tok, "expires_at": a.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
		default:
			jsonAnswer(http.StatusNotFound, map[string]string{"message": "Not Found"})
		}
		return
	}
	h := w.Header()
	h.Set("X-RateLimit-Reset", fmt.Sprint(a.clock.Now().Add(30*time.Minute).Unix()))
	h.Set("X-RateLimit-Resource", "core")
	switch {
	case strings.HasPrefix(path, "repos/acme/") || strings.HasPrefix(path, "orgs/acme/"):
		if !a.valid(auth) {
			jsonAnswer(http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
			return
		}
		h.Set("X-RateLimit-Limit", "15000")
		h.Set("X-RateLimit-Remaining", fmt.Sprint(a.remaining))
		a.remaining--
		serveJSON(a.t, w, "pull.json")
	case strings.HasPrefix(path, "enterprises/"):
		if auth != testToken {
			jsonAnswer(http.StatusForbidden, map[string]string{"message": "Resource not accessible by integration"})
			return
		}
		h.Set("X-RateLimit-Limit", "5000")
		h.Set("X-RateLimit-Remaining", "4000")
		serveJSON(a.t, w, "seats_enterprise.json")
	default:
		jsonAnswer(http.StatusNotFound, map[string]string{"message": "Not Found"})
	}
}

// valid: a minted, unrevoked token younger than an hour (the fake clock).
func (a *fakeApp) valid(tok string) bool {
	for i, m := range a.minted {
		if m == tok {
			return !a.revoked[tok] && i >= 0
		}
	}
	return false
}

func (a *fakeApp) mintedTokens() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.minted...)
}

func newAppClient(t *testing.T, f *fakeGitHub, adjust func(*AppAuth)) (*Client, *[]string) {
	t.Helper()
	var taught []string
	var mu sync.Mutex
	auth := &AppAuth{
		Issuer:     appIssuer,
		PrivateKey: func(context.Context) ([]byte, error) { return appKeyPEM(), nil },
		KeySecret:  "github-app-key-ent1",
		OnSecret: func(s string) {
			mu.Lock()
			defer mu.Unlock()
			taught = append(taught, s)
		},
	}
	if adjust != nil {
		adjust(auth)
	}
	return newTestClient(t, f, func(o *Options) { o.App = auth }), &taught
}

// Organization and repository endpoints go out with the installation's token, the
// enterprise's with the PAT, and the JWT only to the app endpoints; the JWT is RS256,
// issued a minute in the past, valid at most 10 minutes.
func TestAppAuthSendsEachEndpointItsCredential(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	fa := newFakeApp(t, clock)
	f := newFakeGitHub(t, clock, fa.serve)
	c, taught := newAppClient(t, f, nil)
	if _, err := c.GetPull(t.Context(), "acme/api", 1347); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetPull(t.Context(), "acme/web", 1347); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListCopilotSeats(t.Context(), enterpriseScope); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range f.seen() {
		auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		kind := "token " + auth
		if strings.Count(auth, ".") == 2 {
			kind = "JWT"
		} else if auth == testToken {
			kind = "PAT"
		}
		got = append(got, r.Method+" "+r.Path+" "+kind)
	}
	want := []string{
		"GET /orgs/acme/installation JWT",
		"POST /app/installations/42/access_tokens JWT",
		"GET /repos/acme/api/pulls/1347 token " + fa.mintedTokens()[0],
		"GET /repos/acme/web/pulls/1347 token " + fa.mintedTokens()[0],
		"GET /enterprises/acme-corp/copilot/billing/seats PAT",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	now := clock.Now().Unix()
	for _, claims := range fa.jwts {
		if claims.IAT != now-60 || claims.EXP-claims.IAT > 600 || claims.ISS != appIssuer {
			t.Errorf("JWT claims %+v at %d: want iat 60 s back, at most 10 minutes, iss %s", claims, now, appIssuer)
		}
	}
	// Every JWT and token the client made was handed to the redactor first.
	if len(*taught) != 3 || (*taught)[2] != fa.mintedTokens()[0] {
		t.Errorf("taught %d secrets, want two JWTs and the token", len(*taught))
	}
	if h := c.TokenHealth(); h.LastOK.IsZero() {
		t.Error("the PAT's health was not recorded")
	}
}

// An installation token is reused until 5 minutes before it expires, then replaced;
// one GitHub refuses is replaced once, and a second refusal is an error.
func TestInstallationTokenRenewal(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	fa := newFakeApp(t, clock)
	f := newFakeGitHub(t, clock, fa.serve)
	c, _ := newAppClient(t, f, func(a *AppAuth) { a.Installations = map[string]int64{"ACME": 42} })
	get := func() {
		t.Helper()
		if _, err := c.GetPull(t.Context(), "acme/api", 1347); err != nil {
			t.Fatal(err)
		}
	}
	get()
	clock.Sleep(t.Context(), 54*time.Minute)
	get()
	if n := len(fa.mintedTokens()); n != 1 {
		t.Fatalf("%d tokens minted within the first 54 minutes, want 1 (a configured installation, no lookup)", n)
	}
	clock.Sleep(t.Context(), 2*time.Minute) // 4 minutes before expiry
	get()
	if n := len(fa.mintedTokens()); n != 2 {
		t.Fatalf("%d tokens minted 4 minutes before expiry, want 2", n)
	}

	// GitHub revokes the current token: the client mints a new one and repeats the
	// request, once.
	fa.mu.Lock()
	fa.revoked[fa.minted[1]] = true
	fa.mu.Unlock()
	get()
	if n := len(fa.mintedTokens()); n != 3 {
		t.Fatalf("%d tokens after a revocation, want 3", n)
	}
	// Every token refused: one renewal, then ErrTokenRefused — no loop.
	fa.mu.Lock()
	for _, tok := range fa.minted {
		fa.revoked[tok] = true
	}
	revokeAll := true
	fa.mu.Unlock()
	f.mu.Lock()
	inner := f.handler
	f.handler = func(w http.ResponseWriter, r *http.Request) {
		inner(w, r)
		if revokeAll {
			fa.mu.Lock()
			for _, tok := range fa.minted {
				fa.revoked[tok] = true
			}
			fa.mu.Unlock()
		}
	}
	f.mu.Unlock()
	_, err := c.GetPull(t.Context(), "acme/api", 1347)
	if !errors.Is(err, ErrTokenRefused) {
		t.Fatalf("error %v, want ErrTokenRefused", err)
	}
	if n := len(fa.mintedTokens()); n != 4 {
		t.Errorf("%d tokens after a refused renewal, want 4 (one more, not a loop)", n)
	}
}

// The installation's real limit paces its requests; the PAT keeps its own budget.
func TestInstallationPacedByItsOwnLimit(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	fa := newFakeApp(t, clock)
	fa.remaining = 0 // the installation's budget is spent until its reset in 30 minutes
	f := newFakeGitHub(t, clock, fa.serve)
	c, _ := newAppClient(t, f, nil)
	var counters Counters
	ctx := WithCounters(t.Context(), &counters)
	if _, err := c.GetPull(ctx, "acme/api", 1347); err != nil {
		t.Fatal(err)
	}
	if snap := counters.Snapshot(); snap.RateLimit != 15000 || snap.RateLimitLow == nil || *snap.RateLimitLow != 0 {
		t.Errorf("counters %+v: want the installation's limit 15000 and remaining 0", snap)
	}
	// The PAT is not held back by the installation's spent budget …
	before := clock.total()
	if _, err := c.ListCopilotSeats(t.Context(), enterpriseScope); err != nil {
		t.Fatal(err)
	}
	if clock.total() != before {
		t.Errorf("the enterprise request waited %s for the installation's reset", clock.total()-before)
	}
	// … the installation is, until its reset.
	if _, err := c.GetPull(t.Context(), "acme/api", 1347); err != nil {
		t.Fatal(err)
	}
	if waited := clock.total() - before; waited < 29*time.Minute {
		t.Errorf("the installation's next request waited %s, want until its reset (30 min)", waited)
	}
}

// Start-up errors and refusals name what to fix and never show a secret.
func TestAppErrorsNameTheFix(t *testing.T) {
	t.Parallel()
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(otherKey)})
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(appKey())
	for _, tc := range []struct {
		name   string
		key    []byte
		keyErr error
		orgs   []string
		inst   map[string]int64
		is     error
		says   string
	}{
		{name: "no key", keyErr: errors.New("secret not found: github-app-key-ent1"), orgs: []string{"acme"}, says: "secret not found"},
		{name: "not PEM", key: []byte("MIIEpAIBAAKCAQEAxyz"), orgs: []string{"acme"}, is: ErrTokenUnusable, says: `secret "github-app-key-ent1": not a PEM block`},
		{name: "a certificate", key: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("x")}), orgs: []string{"acme"}, is: ErrTokenUnusable, says: `type "CERTIFICATE"`},
		{name: "another app's key", key: otherPEM, orgs: []string{"acme"}, is: ErrTokenRefused, says: "check the app id or client id"},
		{name: "not installed", key: appKeyPEM(), orgs: []string{"acme", "globex"}, is: ErrAppInstallation, says: "not installed on organization globex"},
		{name: "wrong installation", key: appKeyPEM(), orgs: []string{"initech"}, inst: map[string]int64{"initech": 42}, is: ErrAppInstallation, says: `installation 42 of the app Iv23liTESTAPP is on "acme", not on organization initech`},
		{name: "PKCS#8 works", key: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), orgs: []string{"acme"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			fa := newFakeApp(t, clock)
			f := newFakeGitHub(t, clock, fa.serve)
			c, _ := newAppClient(t, f, func(a *AppAuth) {
				a.PrivateKey = func(context.Context) ([]byte, error) { return tc.key, tc.keyErr }
				a.Installations = tc.inst
			})
			err := c.CheckApp(t.Context(), tc.orgs)
			if tc.says == "" {
				if err != nil {
					t.Fatalf("CheckApp = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.says) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("CheckApp = %v; want %v saying %q", err, tc.is, tc.says)
			}
			if errors.Is(err, ErrUnavailable) {
				t.Errorf("a configuration problem reads as an outage: %v", err)
			}
			if errors.Is(err, ErrAppInstallation) && !errors.Is(err, ErrTokenUnusable) {
				t.Errorf("an installation problem is not a permanent credential problem: %v", err)
			}
			if strings.Contains(err.Error(), "MII") || strings.Contains(err.Error(), "ghs_") {
				t.Errorf("the error shows a secret: %v", err)
			}
		})
	}
}

// Without a PAT, an enterprise endpoint fails at once, naming the setting.
func TestEnterpriseEndpointWithoutPAT(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	fa := newFakeApp(t, clock)
	f := newFakeGitHub(t, clock, fa.serve)
	c, _ := newAppClient(t, f, nil)
	c2 := newTestClient(t, f, func(o *Options) { o.Token = nil; o.App = c.app.cfgCopy() })
	_, err := c2.ListCopilotSeats(t.Context(), enterpriseScope)
	if !errors.Is(err, ErrTokenUnusable) || !strings.Contains(err.Error(), "token_secret") {
		t.Fatalf("error %v, want ErrTokenUnusable naming token_secret", err)
	}
	if len(f.seen()) != 0 {
		t.Errorf("%d requests sent without a credential for them", len(f.seen()))
	}
}

func (a *app) cfgCopy() *AppAuth {
	c := a.cfg
	return &c
}
