package sharepoint_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"metrics-collector/internal/sharepoint"
	"metrics-collector/internal/sharepoint/graphfake"
)

func uploadWith(t *testing.T, f *graphfake.Server, cred azcore.TokenCredential) error {
	t.Helper()
	c, err := sharepoint.New(sharepoint.Options{
		Credential: cred, BaseURL: f.URL() + "/v1.0", DriveID: graphfake.DriveID, HTTPClient: f.Client(),
		Sleep: (&sleeper{}).Sleep,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Upload(t.Context(), "a.csv", 3, bytes.NewReader([]byte("a;b")))
	return err
}

// The default credential: the App Service managed-identity endpoint the Functions
// host provides through IDENTITY_ENDPOINT and IDENTITY_HEADER (the fake's; it checks
// the header and hands out the token its Graph accepts).
func TestManagedIdentityCredential(t *testing.T) {
	f := newGraphFake(t)
	settings := f.Settings("")
	t.Setenv("IDENTITY_ENDPOINT", settings["IDENTITY_ENDPOINT"])
	t.Setenv("IDENTITY_HEADER", settings["IDENTITY_HEADER"])

	cred, err := sharepoint.NewManagedIdentityCredential("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := uploadWith(t, f, cred); err != nil {
		t.Fatalf("upload with the managed identity: %v", err)
	}
	// The token is asked for the configured Graph endpoint.
	got := f.TokenResources()
	if len(got) == 0 || slices.ContainsFunc(got, func(r string) bool { return r != f.URL() }) {
		t.Errorf("token requested for %v, want %s", got, f.URL())
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
			json.NewEncoder(w).Encode(map[string]any{"access_token": graphfake.Token, "token_type": "Bearer", "expires_in": 3600})
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
