package sharepoint_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"metrics-collector/internal/sharepoint"
)

func uploadWith(t *testing.T, f *graphFake, cred azcore.TokenCredential) error {
	t.Helper()
	c, err := sharepoint.New(sharepoint.Options{
		Credential: cred, BaseURL: f.graph.URL + "/v1.0", DriveID: driveID, HTTPClient: f.graph.Client(),
		Sleep: (&sleeper{}).Sleep,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Upload(t.Context(), "a.csv", 3, bytes.NewReader([]byte("a;b")))
	return err
}

// The default credential: the App Service managed-identity endpoint the Functions
// host provides through IDENTITY_ENDPOINT and IDENTITY_HEADER.
func TestManagedIdentityCredential(t *testing.T) {
	var resource atomic.Value
	msi := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-IDENTITY-HEADER") != "header-secret" {
			http.Error(w, "missing identity header", http.StatusBadRequest)
			return
		}
		resource.Store(r.URL.Query().Get("resource"))
		json.NewEncoder(w).Encode(map[string]string{
			"access_token": "mi-token", "token_type": "Bearer", "resource": r.URL.Query().Get("resource"),
			"expires_on": strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10),
		})
	}))
	defer msi.Close()
	t.Setenv("IDENTITY_ENDPOINT", msi.URL)
	t.Setenv("IDENTITY_HEADER", "header-secret")

	cred, err := sharepoint.NewManagedIdentityCredential("", nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newGraphFake(t)
	f.token = "mi-token"
	if err := uploadWith(t, f, cred); err != nil {
		t.Fatalf("upload with the managed identity: %v", err)
	}
	// The token is asked for the configured Graph endpoint.
	if got := resource.Load(); got != f.graph.URL {
		t.Errorf("token requested for %v, want %s", got, f.graph.URL)
	}
}

// The alternative: client credentials against a fake Entra ID authority.
func TestClientSecretCredential(t *testing.T) {
	t.Parallel()
	const tenant = "00000000-0000-0000-0000-00000000000a"
	var authority *httptest.Server
	authority = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
			base := authority.URL + "/" + tenant
			json.NewEncoder(w).Encode(map[string]string{
				"token_endpoint":         base + "/oauth2/v2.0/token",
				"authorization_endpoint": base + "/oauth2/v2.0/authorize",
				"issuer":                 base + "/v2.0",
			})
		case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
			r.ParseForm()
			if r.PostForm.Get("client_secret") != "the-client-secret" || r.PostForm.Get("client_id") != "app-id" {
				w.WriteHeader(http.StatusUnauthorized)
				json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client"})
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"access_token": "cs-token", "token_type": "Bearer", "expires_in": 3600})
		default:
			http.NotFound(w, r)
		}
	}))
	defer authority.Close()
	opts := &azidentity.ClientSecretCredentialOptions{
		ClientOptions: policy.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: authority.URL + "/"},
			Transport: authority.Client(),
		},
		DisableInstanceDiscovery: true,
	}
	cred, err := sharepoint.NewClientSecretCredential(tenant, "app-id", "the-client-secret", opts)
	if err != nil {
		t.Fatal(err)
	}
	f := newGraphFake(t)
	f.token = "cs-token"
	if err := uploadWith(t, f, cred); err != nil {
		t.Fatalf("upload with client credentials: %v", err)
	}
}

func TestClientSecretCredentialErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tenant, client, secret, want string
	}{
		{"", "app", "s3cret", "GRAPH_TENANT_ID"},
		{"tenant", " ", "s3cret", "GRAPH_CLIENT_ID"},
		{"tenant", "app", "", "GRAPH_CLIENT_SECRET_SECRET"},
		{"not a tenant!", "app", "s3cret", "client credentials"},
	}
	for _, tt := range tests {
		_, err := sharepoint.NewClientSecretCredential(tt.tenant, tt.client, tt.secret, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("(%q, %q): error %v, want one naming %s", tt.tenant, tt.client, err, tt.want)
		}
		if err != nil && tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
			t.Errorf("the secret leaked into %v", err)
		}
	}
}
