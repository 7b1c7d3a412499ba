package secrets

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/google/go-cmp/cmp"
)

// fakeToken is what azfake.TokenCredential hands out.
const fakeToken = "fake_token"

// fakeVault serves Key Vault's secret API the way the real service answers: a 401
// challenge for unauthenticated requests, then GET /secrets/{name}/ with a bearer token.
type fakeVault struct {
	token   string                // the bearer token the vault accepts
	values  map[string]string     // secret name → value
	failure map[string]vaultError // secret name → error answer

	mu       sync.Mutex
	requests []string // "GET /secrets/name/ auth=…" for each authenticated request
}

type vaultError struct {
	status    int
	code      string
	innerCode string
}

func (v *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001", resource="https://vault.azure.net"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	v.mu.Lock()
	v.requests = append(v.requests, fmt.Sprintf("%s %s auth=%s", r.Method, r.URL.Path, auth))
	v.mu.Unlock()
	if auth != "Bearer "+v.token {
		writeVaultError(w, vaultError{http.StatusUnauthorized, "Unauthorized", "AccessTokenInvalid"})
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/secrets/")
	name = strings.TrimSuffix(name, "/")
	// The SDK picks the api-version; the service refuses requests without one.
	if !ok || r.Method != http.MethodGet || r.URL.Query().Get("api-version") == "" || strings.Contains(name, "/") {
		writeVaultError(w, vaultError{http.StatusBadRequest, "BadParameter", ""})
		return
	}
	if failure, ok := v.failure[name]; ok {
		writeVaultError(w, failure)
		return
	}
	value, ok := v.values[name]
	if !ok {
		writeVaultError(w, vaultError{http.StatusNotFound, "SecretNotFound", ""})
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{
		"value":      value,
		"id":         "https://" + r.Host + "/secrets/" + name + "/4387e9f3d6e14c459867679a90fd0f79",
		"attributes": map[string]any{"enabled": true, "created": 1764115200, "updated": 1764115200, "recoveryLevel": "Recoverable+Purgeable"},
	})
}

func writeVaultError(w http.ResponseWriter, e vaultError) {
	body := map[string]any{"code": e.code, "message": "fake vault: " + e.code}
	if e.innerCode != "" {
		body["innererror"] = map[string]any{"code": e.innerCode}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(map[string]any{"error": body})
}

func (v *fakeVault) Requests() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.requests...)
}

// startVault serves v over TLS (azsecrets refuses plain http) and returns the options
// that reach it: its client, no resource check, no retries (no real sleeps in tests).
func startVault(t *testing.T, v *fakeVault) (*httptest.Server, KeyVaultOptions) {
	t.Helper()
	srv := httptest.NewTLSServer(v)
	t.Cleanup(srv.Close)
	return srv, testOptions(srv.Client())
}

func testOptions(hc *http.Client) KeyVaultOptions {
	return KeyVaultOptions{Client: azsecrets.ClientOptions{
		ClientOptions: azcore.ClientOptions{
			Transport: hc,
			Retry:     policy.RetryOptions{MaxRetries: -1},
		},
		DisableChallengeResourceVerification: true,
	}}
}

func TestKeyVaultGet(t *testing.T) {
	t.Parallel()
	v := &fakeVault{token: fakeToken, values: map[string]string{
		"github-pat-ent1": "ghp_vaultvalue0123456789",
		// Pasted into the portal or set from a file with its line ending.
		"github-pat-ent2": "ghp_pastedvalue0123456789\r\n",
	}}
	srv, opts := startVault(t, v)
	kv, err := NewKeyVault(srv.URL+"/", &azfake.TokenCredential{}, opts)
	if err != nil {
		t.Fatal(err)
	}

	got, err := kv.Get(t.Context(), "github-pat-ent1")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got != "ghp_vaultvalue0123456789" {
		t.Errorf("Get = %q, want the vault's value", got)
	}
	if got, err := kv.Get(t.Context(), "github-pat-ent2"); err != nil || got != "ghp_pastedvalue0123456789" {
		t.Errorf("Get(github-pat-ent2) = %q, %v; want the value without its line ending", got, err)
	}
	v.mu.Lock()
	v.requests = v.requests[:1]
	v.mu.Unlock()
	want := []string{"GET /secrets/github-pat-ent1/ auth=Bearer fake_token"}
	if diff := cmp.Diff(want, v.Requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestKeyVaultErrors(t *testing.T) {
	t.Parallel()
	v := &fakeVault{
		token:  fakeToken,
		values: map[string]string{"blank": "", "newline": "\n"},
		failure: map[string]vaultError{
			"rbac":     {http.StatusForbidden, "Forbidden", "ForbiddenByRbac"},
			"disabled": {http.StatusForbidden, "Forbidden", "SecretDisabled"},
			"busy":     {http.StatusTooManyRequests, "Throttled", ""},
			"down":     {http.StatusServiceUnavailable, "ServiceUnavailable", ""},
			"odd":      {http.StatusConflict, "Conflict", ""},
		},
	}
	srv, opts := startVault(t, v)
	kv, err := NewKeyVault(srv.URL, &azfake.TokenCredential{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "https://")

	tests := []struct {
		name     string
		secret   string
		wantErr  error // nil: an error that wraps none of our sentinels
		wantText []string
	}{
		{"missing", "github-pat-ent9", ErrNotFound, []string{`secret "github-pat-ent9" not found in key vault ` + host}},
		{"empty value", "blank", ErrNotFound, []string{`"blank"`, "is empty"}},
		{"only a line ending", "newline", ErrNotFound, []string{`"newline"`, "is empty"}},
		{"no role", "rbac", ErrForbidden, []string{`secret "rbac"`, "the app's identity lacks Key Vault Secrets User on " + host}},
		{"disabled", "disabled", ErrForbidden, []string{`secret "disabled" is disabled`}},
		{"throttled", "busy", ErrUnavailable, []string{`"busy"`, "429"}},
		{"service down", "down", ErrUnavailable, []string{`"down"`, "503"}},
		{"other status", "odd", nil, []string{`"odd"`, "409 Conflict"}},
		{"invalid name", "bad_name", nil, []string{`"bad_name"`, "letters, digits and dashes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := kv.Get(t.Context(), tt.secret)
			if err == nil {
				t.Fatal("Get succeeded, want an error")
			}
			for _, sentinel := range []error{ErrNotFound, ErrForbidden, ErrUnavailable} {
				if got, want := errors.Is(err, sentinel), sentinel == tt.wantErr; got != want {
					t.Errorf("errors.Is(%v, %v) = %v, want %v", err, sentinel, got, want)
				}
			}
			for _, text := range tt.wantText {
				if !strings.Contains(err.Error(), text) {
					t.Errorf("error %q does not contain %q", err, text)
				}
			}
		})
	}
}

func TestKeyVaultTokenRejected(t *testing.T) {
	t.Parallel()
	v := &fakeVault{token: "a-different-token", values: map[string]string{"github-pat-ent1": "ghp_vaultvalue0123456789"}}
	srv, opts := startVault(t, v)
	kv, err := NewKeyVault(srv.URL, &azfake.TokenCredential{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = kv.Get(t.Context(), "github-pat-ent1")
	if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "rejected the app's token") {
		t.Errorf("Get error = %v, want ErrForbidden saying the token was rejected", err)
	}
}

func TestKeyVaultNetworkFailure(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	opts := testOptions(srv.Client())
	uri := srv.URL
	srv.Close() // nothing listens any more: the connection is refused

	kv, err := NewKeyVault(uri, &azfake.TokenCredential{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = kv.Get(t.Context(), "github-pat-ent1")
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("Get error = %v, want ErrUnavailable", err)
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrForbidden) {
		t.Errorf("Get error = %v wraps a permanent sentinel", err)
	}
}

func TestNewKeyVaultRejectsBadURI(t *testing.T) {
	t.Parallel()
	for _, uri := range []string{"", "my-vault", "http://my-vault.vault.azure.net/", "https://", "https://my-vault.vault.azure.net/?x=1", "://bad"} {
		_, err := NewKeyVault(uri, &azfake.TokenCredential{}, KeyVaultOptions{})
		if err == nil || !strings.Contains(err.Error(), "KEY_VAULT_URI") {
			t.Errorf("NewKeyVault(%q) error = %v, want one naming KEY_VAULT_URI", uri, err)
		}
	}
}

// fakeIdentityEndpoint is the App Service managed-identity endpoint
// (IDENTITY_ENDPOINT, api-version 2019-08-01).
type fakeIdentityEndpoint struct {
	header string // the IDENTITY_HEADER value it demands
	token  string // the access token it issues
	status int    // non-zero: fail with this status

	mu       sync.Mutex
	requests []url.Values
}

func (f *fakeIdentityEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.URL.Query())
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("X-IDENTITY-HEADER") != f.header {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"statusCode":401,"message":"missing or wrong X-IDENTITY-HEADER"}`)
		return
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
		fmt.Fprint(w, `{"statusCode":400,"message":"No User Assigned or Delegated Managed Identity found for specified ClientId"}`)
		return
	}
	json.NewEncoder(w).Encode(map[string]string{
		"access_token": f.token,
		"expires_on":   strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10),
		"resource":     r.URL.Query().Get("resource"),
		"token_type":   "Bearer",
		"client_id":    r.URL.Query().Get("client_id"),
	})
}

func (f *fakeIdentityEndpoint) Requests() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.requests...)
}

// The managed-identity tests set process environment variables, so they cannot run in
// parallel. MSAL caches managed-identity tokens process-wide by identity: each test
// uses its own client ID so that no test sees another's token.

func TestManagedIdentityKeyVault(t *testing.T) {
	identity := &fakeIdentityEndpoint{header: "identity-header-from-host", token: "mi-access-token-1"}
	idSrv := httptest.NewServer(identity)
	t.Cleanup(idSrv.Close)
	t.Setenv("IDENTITY_ENDPOINT", idSrv.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "identity-header-from-host")

	v := &fakeVault{token: "mi-access-token-1", values: map[string]string{"github-pat-ent1": "ghp_vaultvalue0123456789"}}
	srv, opts := startVault(t, v)
	opts.ManagedIdentityClientID = "11111111-1111-1111-1111-111111111111"
	kv, err := NewManagedIdentityKeyVault(srv.URL, opts)
	if err != nil {
		t.Fatal(err)
	}

	got, err := kv.Get(t.Context(), "github-pat-ent1")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got != "ghp_vaultvalue0123456789" {
		t.Errorf("Get = %q, want the vault's value", got)
	}
	wantToken := []url.Values{{
		"api-version": {"2019-08-01"},
		"resource":    {"https://vault.azure.net"},
		"client_id":   {"11111111-1111-1111-1111-111111111111"},
	}}
	if diff := cmp.Diff(wantToken, identity.Requests()); diff != "" {
		t.Errorf("token requests (-want +got):\n%s", diff)
	}
	wantVault := []string{"GET /secrets/github-pat-ent1/ auth=Bearer mi-access-token-1"}
	if diff := cmp.Diff(wantVault, v.Requests()); diff != "" {
		t.Errorf("vault requests (-want +got):\n%s", diff)
	}
}

func TestManagedIdentityRefused(t *testing.T) {
	identity := &fakeIdentityEndpoint{header: "identity-header-from-host", status: http.StatusBadRequest}
	idSrv := httptest.NewServer(identity)
	t.Cleanup(idSrv.Close)
	t.Setenv("IDENTITY_ENDPOINT", idSrv.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "identity-header-from-host")

	v := &fakeVault{token: "never-issued", values: map[string]string{"github-pat-ent1": "ghp_vaultvalue0123456789"}}
	srv, opts := startVault(t, v)
	opts.ManagedIdentityClientID = "22222222-2222-2222-2222-222222222222"
	kv, err := NewManagedIdentityKeyVault(srv.URL, opts)
	if err != nil {
		t.Fatal(err)
	}

	_, err = kv.Get(t.Context(), "github-pat-ent1")
	if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "managed identity endpoint refused") {
		t.Errorf("Get error = %v, want ErrForbidden naming the managed identity", err)
	}
	if got := v.Requests(); len(got) != 0 {
		t.Errorf("vault saw authenticated requests %v without a token", got)
	}
}
