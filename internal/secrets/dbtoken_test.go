package secrets

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// tokenIssuer is a fake credential: token n expires lifetime after the clock's now at
// issue time.
type tokenIssuer struct {
	mu       sync.Mutex
	now      func() time.Time
	lifetime time.Duration
	refresh  time.Duration // when set, RefreshOn = issue time + refresh
	err      error
	scopes   [][]string
	issued   int
}

func (f *tokenIssuer) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scopes = append(f.scopes, opts.Scopes)
	if f.err != nil {
		return azcore.AccessToken{}, f.err
	}
	f.issued++
	at := f.now()
	tok := azcore.AccessToken{Token: fmt.Sprintf("token-%d-for-the-database", f.issued), ExpiresOn: at.Add(f.lifetime)}
	if f.refresh > 0 {
		tok.RefreshOn = at.Add(f.refresh)
	}
	return tok, nil
}

type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestDatabaseTokenReusedUntilTheMarginThenRenewed(t *testing.T) {
	clock := &manualClock{now: time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)}
	cred := &tokenIssuer{now: clock.Now, lifetime: time.Hour}
	d := NewDatabaseToken(cred, DatabaseTokenOptions{Now: clock.Now})
	ctx := t.Context()

	var got []string
	for _, step := range []time.Duration{0, 30 * time.Minute, 24 * time.Minute, time.Minute, 10 * time.Minute} {
		clock.advance(step)
		pw, err := d.Password(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, pw)
	}
	// 06:00 new; 06:30 reused; 06:54 reused (6 min left > 5); 06:55 renewed (5 min
	// left is not more than the margin); 07:05 reused (the new one lasts to 07:55).
	want := []string{"token-1-for-the-database", "token-1-for-the-database", "token-1-for-the-database",
		"token-2-for-the-database", "token-2-for-the-database"}
	if !slices.Equal(got, want) {
		t.Errorf("passwords %q, want %q", got, want)
	}
	for _, s := range cred.scopes {
		if !slices.Equal(s, []string{"https://ossrdbms-aad.database.windows.net/.default"}) {
			t.Errorf("asked for scopes %v, want the Azure Database for PostgreSQL scope", s)
		}
	}
}

func TestDatabaseTokenHonoursRefreshOn(t *testing.T) {
	clock := &manualClock{now: time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)}
	cred := &tokenIssuer{now: clock.Now, lifetime: 24 * time.Hour, refresh: 12 * time.Hour}
	d := NewDatabaseToken(cred, DatabaseTokenOptions{Now: clock.Now})
	first, _ := d.Password(t.Context())
	clock.advance(12 * time.Hour)
	second, err := d.Password(t.Context())
	if err != nil || first == second {
		t.Errorf("at RefreshOn: %q then %q (%v); want a new token", first, second, err)
	}
}

func TestDatabaseTokenErrors(t *testing.T) {
	clock := &manualClock{now: time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)}
	refused := &tokenIssuer{now: clock.Now, lifetime: time.Hour, err: errors.New("ManagedIdentityCredential: no managed identity endpoint")}
	if _, err := NewDatabaseToken(refused, DatabaseTokenOptions{Now: clock.Now}).Password(t.Context()); err == nil ||
		!strings.Contains(err.Error(), "microsoft entra token for the database") || !strings.Contains(err.Error(), "no managed identity endpoint") {
		t.Errorf("credential failure: %v", err)
	}
	// A token that would already need renewing is refused rather than handed out.
	short := &tokenIssuer{now: clock.Now, lifetime: time.Minute}
	if _, err := NewDatabaseToken(short, DatabaseTokenOptions{Now: clock.Now}).Password(t.Context()); err == nil ||
		!strings.Contains(err.Error(), "within the 5m0s refresh margin") {
		t.Errorf("short-lived token: %v", err)
	}
	// A failure is not cached: the next call asks again.
	refused.err = nil
	d := NewDatabaseToken(refused, DatabaseTokenOptions{Now: clock.Now})
	refused.err = errors.New("temporarily unavailable")
	if _, err := d.Password(t.Context()); err == nil {
		t.Fatal("want an error")
	}
	refused.err = nil
	if pw, err := d.Password(t.Context()); err != nil || pw == "" {
		t.Errorf("after the failure: %q %v", pw, err)
	}
}

// TestManagedIdentityDatabaseToken: in production the token comes from the Functions
// host's managed identity endpoint, for the database resource.
func TestManagedIdentityDatabaseToken(t *testing.T) {
	var resources []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-IDENTITY-HEADER") != "identity-header-from-host" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		resources = append(resources, r.URL.Query().Get("resource"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"mi-token-for-postgres","expires_on":"%s","resource":"%s","token_type":"Bearer"}`,
			strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10), r.URL.Query().Get("resource"))
	}))
	defer srv.Close()
	t.Setenv("IDENTITY_ENDPOINT", srv.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "identity-header-from-host")

	d, err := NewManagedIdentityDatabaseToken()
	if err != nil {
		t.Fatal(err)
	}
	pw, err := d.Password(t.Context())
	if err != nil || pw != "mi-token-for-postgres" {
		t.Fatalf("password %q, %v", pw, err)
	}
	if !slices.Equal(resources, []string{"https://ossrdbms-aad.database.windows.net"}) {
		t.Errorf("token requested for %q, want the ossrdbms-aad resource", resources)
	}
}
