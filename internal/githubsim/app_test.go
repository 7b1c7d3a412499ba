package githubsim

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

var simAppKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// signTestJWT signs claims with key, RS256, as a GitHub App does.
func signTestJWT(t *testing.T, key *rsa.PrivateKey, iat, exp int64, iss any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	claims, _ := json.Marshal(map[string]any{"iat": iat, "exp": exp, "iss": iss})
	signed := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + enc.EncodeToString(sig)
}

func appConfig() Config {
	cfg := testConfig()
	cfg.App = &AppConfig{AppID: 321, ClientID: "Iv23liSim", PublicKey: &simAppKey().PublicKey,
		Orgs: []string{"acme-web", "globex-eng"}, TokenTTL: 10 * time.Minute}
	return cfg
}

func post(t *testing.T, rawURL, token string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, rawURL, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// The app endpoints take only a valid JWT of the app.
func TestAppJWTIsChecked(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, appConfig())
	now := sim.Now().Unix()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	url := srv.API.URL + "/orgs/acme-web/installation"
	for _, tc := range []struct {
		name  string
		token string
		want  int
		says  string
	}{
		{"good, client id", signTestJWT(t, simAppKey(), now-60, now+540, "Iv23liSim"), 200, ""},
		{"good, app id", signTestJWT(t, simAppKey(), now-60, now+540, 321), 200, ""},
		{"another key", signTestJWT(t, other, now-60, now+540, "Iv23liSim"), 401, "could not be decoded"},
		{"expired", signTestJWT(t, simAppKey(), now-700, now-100, "Iv23liSim"), 401, "future time"},
		{"too long", signTestJWT(t, simAppKey(), now-60, now+660, "Iv23liSim"), 401, "too far in the future"},
		{"another app", signTestJWT(t, simAppKey(), now-60, now+540, "Iv23liOther"), 401, "Issuer"},
		{"a PAT", tokenA, 401, "could not be decoded"},
	} {
		resp, body := get(t, url, tc.token)
		if resp.StatusCode != tc.want || !strings.Contains(string(body), tc.says) {
			t.Errorf("%s: %d %s; want %d saying %q", tc.name, resp.StatusCode, body, tc.want, tc.says)
		}
	}
	// Not installed on acme-data.
	jwt := signTestJWT(t, simAppKey(), now-60, now+540, "Iv23liSim")
	if resp, _ := get(t, srv.API.URL+"/orgs/acme-data/installation", jwt); resp.StatusCode != 404 {
		t.Errorf("installation on an org without the app: %d, want 404", resp.StatusCode)
	}
	ids := sim.Installations()
	if len(ids) != 2 || ids["acme-web"] == 0 || ids["globex-eng"] == 0 {
		t.Fatalf("Installations() = %v", ids)
	}
	resp, body := get(t, fmt.Sprintf("%s/app/installations/%d", srv.API.URL, ids["acme-web"]), jwt)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"login":"acme-web"`) {
		t.Errorf("GET installation: %d %s", resp.StatusCode, body)
	}
}

// An installation token reads its own organization, not another or the enterprise,
// shares its installation's 15,000/h budget with the tokens minted after it, and
// stops working when it expires in simulated time.
func TestInstallationTokens(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, appConfig())
	id := sim.Installations()["acme-web"]
	mint := func() string {
		t.Helper()
		now := sim.Now().Unix()
		resp, body := post(t, fmt.Sprintf("%s/app/installations/%d/access_tokens", srv.API.URL, id), signTestJWT(t, simAppKey(), now-60, now+540, "Iv23liSim"))
		var tok struct {
			Token     string    `json:"token"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		if resp.StatusCode != 201 || json.Unmarshal(body, &tok) != nil || !strings.HasPrefix(tok.Token, "ghs_") ||
			!tok.ExpiresAt.Equal(sim.Now().Add(10*time.Minute)) {
			t.Fatalf("mint: %d %s", resp.StatusCode, body)
		}
		return tok.Token
	}
	first := mint()
	resp, _ := get(t, srv.API.URL+"/orgs/acme-web/repos", first)
	if resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Limit") != "15000" || resp.Header.Get("X-RateLimit-Remaining") != "14999" {
		t.Fatalf("org repos with an installation token: %d, limit %s remaining %s", resp.StatusCode,
			resp.Header.Get("X-RateLimit-Limit"), resp.Header.Get("X-RateLimit-Remaining"))
	}
	if resp, _ := get(t, srv.API.URL+"/orgs/acme-data/repos", first); resp.StatusCode != 404 {
		t.Errorf("another organization of the enterprise: %d, want 404", resp.StatusCode)
	}
	if resp, body := get(t, srv.API.URL+"/enterprises/acme/copilot/billing/seats", first); resp.StatusCode != 403 ||
		!strings.Contains(string(body), "not accessible by integration") {
		t.Errorf("enterprise seats with an installation token: %d %s, want 403", resp.StatusCode, body)
	}
	second := mint()
	resp, _ = get(t, srv.API.URL+"/orgs/acme-web/repos", second)
	if resp.Header.Get("X-RateLimit-Remaining") != "14997" { // the 404 above was charged, the 403 not
		t.Errorf("a second token of the installation: remaining %s, want the installation's shared budget (14997)", resp.Header.Get("X-RateLimit-Remaining"))
	}
	// The PAT keeps its own budget.
	if resp, _ := get(t, srv.API.URL+"/orgs/acme-web/repos", tokenA); resp.Header.Get("X-RateLimit-Limit") != "5000" {
		t.Errorf("the PAT's limit %s, want 5000", resp.Header.Get("X-RateLimit-Limit"))
	}
	sim.Advance(10 * time.Minute)
	if resp, _ := get(t, srv.API.URL+"/orgs/acme-web/repos", first); resp.StatusCode != 401 {
		t.Errorf("an expired installation token: %d, want 401", resp.StatusCode)
	}
	if sim.InstallationTokens() != 2 {
		t.Errorf("%d tokens minted, want 2", sim.InstallationTokens())
	}
	var installs int
	for _, r := range sim.Requests() {
		if r.Installation == id {
			installs++
		}
	}
	if installs != 4 {
		t.Errorf("%d requests recorded with the installation, want 4", installs)
	}
}

func TestExpireInstallationTokens(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, appConfig())
	id := sim.Installations()["globex-eng"]
	now := sim.Now().Unix()
	_, body := post(t, fmt.Sprintf("%s/app/installations/%d/access_tokens", srv.API.URL, id), signTestJWT(t, simAppKey(), now-60, now+540, 321))
	var tok struct{ Token string }
	_ = json.Unmarshal(body, &tok)
	if resp, _ := get(t, srv.API.URL+"/orgs/globex-eng/repos", tok.Token); resp.StatusCode != 200 {
		t.Fatalf("fresh token: %d", resp.StatusCode)
	}
	if n := sim.ExpireInstallationTokens(); n != 1 {
		t.Errorf("ExpireInstallationTokens = %d, want 1", n)
	}
	if resp, _ := get(t, srv.API.URL+"/orgs/globex-eng/repos", tok.Token); resp.StatusCode != 401 {
		t.Errorf("expired token: %d, want 401", resp.StatusCode)
	}
}
