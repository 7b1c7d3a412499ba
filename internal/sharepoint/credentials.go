package sharepoint

import (
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// NewManagedIdentityCredential is the default credential: the Function App's managed
// identity, which gets app-only tokens (Sites.Selected with a write grant on the one
// site). clientID selects a user-assigned identity; empty means the system-assigned one.
func NewManagedIdentityCredential(clientID string, opts *azidentity.ManagedIdentityCredentialOptions) (azcore.TokenCredential, error) {
	o := azidentity.ManagedIdentityCredentialOptions{}
	if opts != nil {
		o = *opts
	}
	if id := strings.TrimSpace(clientID); id != "" {
		o.ID = azidentity.ClientID(id)
	}
	cred, err := azidentity.NewManagedIdentityCredential(&o)
	if err != nil {
		return nil, fmt.Errorf("managed identity: %w", err)
	}
	return cred, nil
}

// NewClientSecretCredential is the alternative: an app registration's client id and
// secret (GRAPH_TENANT_ID, GRAPH_CLIENT_ID, and the value of the secret named by
// GRAPH_CLIENT_SECRET_SECRET). The secret never appears in an error.
func NewClientSecretCredential(tenantID, clientID, secret string, opts *azidentity.ClientSecretCredentialOptions) (azcore.TokenCredential, error) {
	switch {
	case strings.TrimSpace(tenantID) == "":
		return nil, errors.New("GRAPH_TENANT_ID: required for client credentials")
	case strings.TrimSpace(clientID) == "":
		return nil, errors.New("GRAPH_CLIENT_ID: required for client credentials")
	case secret == "":
		return nil, errors.New("GRAPH_CLIENT_SECRET_SECRET: the secret it names is empty")
	}
	cred, err := azidentity.NewClientSecretCredential(strings.TrimSpace(tenantID), strings.TrimSpace(clientID), secret, opts)
	if err != nil {
		// azidentity's construction errors name the tenant or authority, never the secret.
		return nil, fmt.Errorf("client credentials: %w", err)
	}
	return cred, nil
}
