package github

import (
	"bytes"
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
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AppAuth authenticates the organization and repository endpoints of a client as a
// GitHub App installation (one per organization) instead of the PAT.
//
// The app proves who it is with a JWT (RS256, signed with its private key, issued 60 s
// in the past, valid for 9 minutes; GitHub accepts at most 10), sent only to /app/...
// endpoints and to GET /orgs/{org}/installation. With it the client mints an
// installation access token per installation (POST /app/installations/{id}/access_tokens),
// caches it, renews it RenewBefore its expiry, and once more when GitHub answers 401 to
// it. Each installation has its own rate limit (15,000 requests an hour on Enterprise
// Cloud), paced by its own pacer from the headers of its answers.
type AppAuth struct {
	// Issuer is the JWT issuer: the app's client ID (recommended) or its app ID.
	Issuer string
	// PrivateKey returns the app's PEM private key (PKCS#1 "RSA PRIVATE KEY" as GitHub
	// issues it, or PKCS#8). It is called for each JWT; the caller caches it.
	PrivateKey func(ctx context.Context) ([]byte, error)
	// KeySecret names the secret PrivateKey reads, for messages. Never the value.
	KeySecret string
	// Installations maps organization logins to installation ids; other organizations'
	// installations are looked up (GET /orgs/{org}/installation) on first use.
	Installations map[string]int64
	// RenewBefore is how long before its expiry an installation token is replaced
	// (default 5 minutes).
	RenewBefore time.Duration
	// OnSecret, when set, is given every JWT and installation token the client makes,
	// before it is used (the handler teaches them to its redactor).
	OnSecret func(string)
}

// Lifetimes of app credentials.
const (
	jwtBackdate        = 60 * time.Second
	jwtLifetime        = 9 * time.Minute // GitHub refuses more than 10 minutes
	defaultRenewBefore = 5 * time.Minute
	maxAppAnswer       = 1 << 20
)

// ErrAppInstallation: the GitHub App is not installed where the configuration says
// (a wrong installation id, an organization without the app). Never retried; it is a
// kind of ErrTokenUnusable (errors.Is holds for both), so the stages treat it as the
// permanent credential problem it is.
var ErrAppInstallation error = appInstallationError{}

type appInstallationError struct{}

func (appInstallationError) Error() string { return "github app installation unusable" }

// Is makes errors.Is(err, ErrTokenUnusable) true.
func (appInstallationError) Is(target error) bool { return target == ErrTokenUnusable }

// app holds an app's key, its installations and their tokens.
type app struct {
	cfg    AppAuth
	t      *transport // for the app's own requests (origin, next, clock, counters)
	mu     sync.Mutex
	orgs   map[string]int64 // lower-case login → installation id
	tokens map[int64]*installationToken
	// mint serialises minting per installation: concurrent requests wait for one token.
	mint map[int64]*sync.Mutex
	// pacers are per installation: each has its own rate limit.
	pacers map[int64]*pacer
}

type installationToken struct {
	value     string
	expiresAt time.Time
}

func newApp(cfg AppAuth) (*app, error) {
	if strings.TrimSpace(cfg.Issuer) == "" {
		return nil, errors.New("github client: App.Issuer (the app's client id or app id) is required")
	}
	if cfg.PrivateKey == nil {
		return nil, errors.New("github client: App.PrivateKey is required")
	}
	if cfg.RenewBefore <= 0 {
		cfg.RenewBefore = defaultRenewBefore
	}
	a := &app{cfg: cfg, orgs: map[string]int64{}, tokens: map[int64]*installationToken{},
		mint: map[int64]*sync.Mutex{}, pacers: map[int64]*pacer{}}
	for org, id := range cfg.Installations {
		if id <= 0 {
			return nil, fmt.Errorf("github client: App.Installations[%s]: %d is not an installation id", org, id)
		}
		a.orgs[strings.ToLower(org)] = id
	}
	return a, nil
}

// ParsePrivateKey reads an app's PEM private key: PKCS#1 or PKCS#8, RSA, at least
// 2048 bits. The error says what is wrong, never a byte of the key.
func ParsePrivateKey(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(bytes.TrimSpace(data))
	if block == nil {
		return nil, errors.New("not a PEM block: store the .pem file GitHub generated for the app, from -----BEGIN RSA PRIVATE KEY----- to its END line")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("a PEM block of type %q, not a private key: store the .pem file GitHub generated for the app", block.Type)
	}
	if err != nil {
		return nil, errors.New("the PEM block does not hold a readable private key: store the .pem file GitHub generated for the app, unchanged")
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("the private key is not an RSA key: GitHub App keys are RSA")
	}
	if rsaKey.N.BitLen() < 2048 {
		return nil, fmt.Errorf("the RSA key has %d bits; GitHub App keys have at least 2048", rsaKey.N.BitLen())
	}
	return rsaKey, nil
}

// SignJWT makes the app's JWT: RS256, iat 60 s before now, exp jwtLifetime after now,
// iss the issuer.
func SignJWT(key *rsa.PrivateKey, issuer string, now time.Time) (string, error) {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	claims, err := json.Marshal(struct {
		IAT int64  `json:"iat"`
		EXP int64  `json:"exp"`
		ISS string `json:"iss"`
	}{now.Add(-jwtBackdate).Unix(), now.Add(jwtLifetime).Unix(), issuer})
	if err != nil {
		return "", err
	}
	signed := header + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign the app's JWT: %w", err)
	}
	return signed + "." + enc.EncodeToString(sig), nil
}

// keyName says which secret holds the key, for messages.
func (a *app) keyName() string {
	if a.cfg.KeySecret != "" {
		return fmt.Sprintf("secret %q", a.cfg.KeySecret)
	}
	return "the app's private key"
}

// jwt signs a fresh JWT with the current key.
func (a *app) jwt(ctx context.Context) (string, error) {
	pemData, err := a.cfg.PrivateKey(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: read %s: %w", errNoToken, a.keyName(), err)
	}
	key, err := ParsePrivateKey(pemData)
	if err != nil {
		return "", fmt.Errorf("%w: %w: %s: %s", errNoToken, ErrTokenUnusable, a.keyName(), err)
	}
	token, err := SignJWT(key, a.cfg.Issuer, a.t.clock.Now())
	if err != nil {
		return "", fmt.Errorf("%w: %w", errNoToken, err)
	}
	a.teach(token)
	return token, nil
}

func (a *app) teach(secret string) {
	if a.cfg.OnSecret != nil {
		a.cfg.OnSecret(secret)
	}
}

// installation returns the installation id serving an organization, looking it up
// once when it was not configured.
func (a *app) installation(ctx context.Context, org string) (int64, error) {
	login := strings.ToLower(org)
	a.mu.Lock()
	id, ok := a.orgs[login]
	a.mu.Unlock()
	if ok {
		return id, nil
	}
	var body struct {
		ID      int64 `json:"id"`
		Account struct {
			Login string `json:"login"`
		} `json:"account"`
	}
	status, err := a.request(ctx, http.MethodGet, "orgs/"+url.PathEscape(org)+"/installation", &body)
	switch {
	case err != nil:
		return 0, err
	case status == http.StatusNotFound:
		return 0, fmt.Errorf("%w: the app %s is not installed on organization %s (GET /orgs/%s/installation: 404): install it there, or fix the org in COLLECTOR_ENTERPRISES",
			ErrAppInstallation, a.cfg.Issuer, org, org)
	case status != http.StatusOK || body.ID <= 0:
		return 0, fmt.Errorf("%w: GET /orgs/%s/installation answered %d", ErrUnavailable, org, status)
	}
	a.mu.Lock()
	a.orgs[login] = body.ID
	a.mu.Unlock()
	return body.ID, nil
}

// token returns a usable installation token, minting one when there is none, when it
// expires within RenewBefore, or when it is the one GitHub just refused (refused).
func (a *app) token(ctx context.Context, id int64, refused string) (string, error) {
	a.mu.Lock()
	lock := a.mint[id]
	if lock == nil {
		lock = &sync.Mutex{}
		a.mint[id] = lock
	}
	a.mu.Unlock()
	lock.Lock()
	defer lock.Unlock()

	a.mu.Lock()
	cur := a.tokens[id]
	a.mu.Unlock()
	now := a.t.clock.Now()
	if cur != nil && cur.value != refused && now.Before(cur.expiresAt.Add(-a.cfg.RenewBefore)) {
		return cur.value, nil
	}
	var body struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	status, err := a.request(ctx, http.MethodPost, "app/installations/"+strconv.FormatInt(id, 10)+"/access_tokens", &body)
	switch {
	case err != nil:
		return "", err
	case status == http.StatusNotFound:
		return "", fmt.Errorf("%w: installation %d of the app %s does not exist (404): check auth.installations in COLLECTOR_ENTERPRISES, or leave the org out to look it up",
			ErrAppInstallation, id, a.cfg.Issuer)
	case status == http.StatusForbidden:
		return "", fmt.Errorf("%w: installation %d of the app %s is suspended or may not be used (403)", ErrAppInstallation, id, a.cfg.Issuer)
	case status != http.StatusCreated && status != http.StatusOK:
		return "", fmt.Errorf("%w: POST /app/installations/%d/access_tokens answered %d", ErrUnavailable, id, status)
	}
	value := strings.TrimSpace(body.Token)
	if value == "" || body.ExpiresAt.IsZero() {
		return "", fmt.Errorf("%w: POST /app/installations/%d/access_tokens answered without a token or expiry", ErrUnavailable, id)
	}
	a.teach(value)
	a.mu.Lock()
	a.tokens[id] = &installationToken{value: value, expiresAt: body.ExpiresAt}
	a.mu.Unlock()
	logger(ctx, a.t.log).Info("github app installation token minted", "enterprise", a.t.enterpriseID,
		"installation", id, "expires_at", body.ExpiresAt.UTC().Format(time.RFC3339))
	return value, nil
}

// request makes one of the app's own requests, authenticated with a fresh JWT, and
// decodes a 2xx JSON answer into v. It returns the status; 401 (the JWT refused: a
// wrong issuer or key) is an error wrapping ErrTokenRefused, 5xx and transport
// failures are retried like API requests and end in ErrUnavailable.
func (a *app) request(ctx context.Context, method, path string, v any) (int, error) {
	t := a.t
	u := *t.origin
	u.Path = strings.TrimSuffix(t.origin.Path, "/") + "/" + path
	u.RawPath = ""
	retries := 0
	for {
		jwt, err := a.jwt(ctx)
		if err != nil {
			return 0, err
		}
		actx, cancel := context.WithTimeout(ctx, t.attemptTimeout)
		req, err := http.NewRequestWithContext(actx, method, u.String(), nil)
		if err != nil {
			cancel()
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+jwt)
		req.Header.Set("Accept", acceptJSON)
		req.Header.Set("User-Agent", userAgent)
		countInto(ctx, func(c *Counters) { c.requests.Add(1) })
		resp, err := t.next.RoundTrip(req)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(io.LimitReader(resp.Body, maxAppAnswer))
			resp.Body.Close()
		}
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return 0, ctx.Err()
		case err != nil || resp.StatusCode >= 500:
			cause := "no answer"
			if err != nil {
				cause = err.Error()
			} else {
				cause = resp.Status
			}
			if retries < t.retries {
				fake := &http.Request{Method: method, URL: &u}
				if err := t.backoff(ctx, fake, &retries, cause); err != nil {
					return 0, err
				}
				continue
			}
			return 0, fmt.Errorf("%w: %s /%s: %s", ErrUnavailable, method, path, cause)
		case resp.StatusCode == http.StatusUnauthorized:
			return resp.StatusCode, fmt.Errorf("%w: GitHub refused the app's JWT for %s /%s (401): check the app id or client id (auth) and that %s is the app's current private key",
				ErrTokenRefused, method, path, a.keyName())
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			if err := json.Unmarshal(body, v); err != nil {
				return resp.StatusCode, fmt.Errorf("%w: %s /%s: the answer is not JSON", ErrUnavailable, method, path)
			}
		}
		return resp.StatusCode, nil
	}
}

// pacer returns the installation's pacer.
func (a *app) pacer(id int64) *pacer {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pacers[id]
	if p == nil {
		p = a.t.newPacer()
		a.pacers[id] = p
	}
	return p
}

// Check makes sure the app can authenticate: the key parses, GitHub accepts the JWT
// and every organization has a usable installation (a token is minted for each).
// The handler calls it at start so a missing key, a bad PEM or a wrong installation
// stop the service with a clear message instead of failing every run. orgs are the
// organizations the entry collects.
func (c *Client) CheckApp(ctx context.Context, orgs []string) error {
	a := c.app
	if a == nil {
		return nil
	}
	for _, org := range orgs {
		a.mu.Lock()
		configured, isConfigured := a.orgs[strings.ToLower(org)]
		a.mu.Unlock()
		if isConfigured {
			if err := a.checkConfigured(ctx, org, configured); err != nil {
				return fmt.Errorf("organization %s: %w", org, err)
			}
		}
		id, err := a.installation(ctx, org)
		if err != nil {
			return fmt.Errorf("organization %s: %w", org, err)
		}
		if _, err := a.token(ctx, id, ""); err != nil {
			return fmt.Errorf("organization %s (installation %d): %w", org, id, err)
		}
	}
	return nil
}

// checkConfigured verifies a configured installation belongs to the organization it
// is configured for (GET /app/installations/{id}).
func (a *app) checkConfigured(ctx context.Context, org string, id int64) error {
	var body struct {
		Account struct {
			Login string `json:"login"`
		} `json:"account"`
	}
	status, err := a.request(ctx, http.MethodGet, "app/installations/"+strconv.FormatInt(id, 10), &body)
	switch {
	case err != nil:
		return err
	case status == http.StatusNotFound:
		return fmt.Errorf("%w: installation %d of the app %s does not exist (404): check auth.installations.%s in COLLECTOR_ENTERPRISES, or leave it out to look it up",
			ErrAppInstallation, id, a.cfg.Issuer, org)
	case status != http.StatusOK:
		return fmt.Errorf("%w: GET /app/installations/%d answered %d", ErrUnavailable, id, status)
	case !strings.EqualFold(body.Account.Login, org):
		return fmt.Errorf("%w: installation %d of the app %s is on %q, not on organization %s: fix auth.installations.%s in COLLECTOR_ENTERPRISES, or leave it out to look it up",
			ErrAppInstallation, id, a.cfg.Issuer, body.Account.Login, org, org)
	}
	return nil
}
