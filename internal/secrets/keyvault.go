package secrets

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// KeyVault reads the current version of secrets from one Azure Key Vault.
type KeyVault struct {
	client *azsecrets.Client
	vault  string // the vault's host name, for error messages
}

// KeyVaultOptions tune the Key Vault client. The zero value is right for production.
type KeyVaultOptions struct {
	// Client configures the HTTP pipeline (transport, retries) of the vault client and,
	// in NewManagedIdentityKeyVault, of the managed-identity credential too. Tests point
	// Transport at an httptest server and set DisableChallengeResourceVerification,
	// because a fake vault's host never matches the vault.azure.net challenge resource.
	Client azsecrets.ClientOptions

	// ManagedIdentityClientID selects a user-assigned identity by its client ID;
	// empty means the app's system-assigned identity.
	ManagedIdentityClientID string
}

// NewManagedIdentityKeyVault reads secrets with the app's managed identity, which the
// Functions host exposes through IDENTITY_ENDPOINT and IDENTITY_HEADER.
//
// It uses ManagedIdentityCredential rather than DefaultAzureCredential on purpose:
// in production the identity must be the app's and nothing else. DefaultAzureCredential
// would first try AZURE_CLIENT_ID/AZURE_CLIENT_SECRET from the environment (a stray
// app setting silently changes who reads the vault) and, when managed identity is
// missing, fall through to developer tools, turning a clear "no identity" error into
// a chain of unrelated failures. Developers run with KEY_VAULT_URI unset (Env source)
// or call NewKeyVault with a credential of their choice.
func NewManagedIdentityKeyVault(vaultURI string, opts KeyVaultOptions) (*KeyVault, error) {
	credOpts := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts.Client.ClientOptions}
	if opts.ManagedIdentityClientID != "" {
		credOpts.ID = azidentity.ClientID(opts.ManagedIdentityClientID)
	}
	cred, err := azidentity.NewManagedIdentityCredential(credOpts)
	if err != nil {
		return nil, fmt.Errorf("managed identity credential: %w", err)
	}
	return NewKeyVault(vaultURI, cred, opts)
}

// NewKeyVault reads secrets from the vault at vaultURI
// (https://<name>.vault.azure.net/) with the given credential.
func NewKeyVault(vaultURI string, cred azcore.TokenCredential, opts KeyVaultOptions) (*KeyVault, error) {
	u, err := url.Parse(vaultURI)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("KEY_VAULT_URI %q: must be the vault's https URL, such as https://my-vault.vault.azure.net/", vaultURI)
	}
	clientOpts := opts.Client
	client, err := azsecrets.NewClient(vaultURI, cred, &clientOpts)
	if err != nil {
		return nil, fmt.Errorf("key vault client for %s: %w", u.Host, err)
	}
	return &KeyVault{client: client, vault: u.Host}, nil
}

// Get returns the current version of the named secret.
func (k *KeyVault) Get(ctx context.Context, name string) (string, error) {
	if err := validateName(name); err != nil {
		return "", err
	}
	resp, err := k.client.GetSecret(ctx, name, "", nil)
	if err != nil {
		return "", k.classify(name, err)
	}
	if resp.Value == nil || trim(*resp.Value) == "" {
		return "", fmt.Errorf("secret %q in key vault %s is empty: set a value: %w", name, k.vault, ErrNotFound)
	}
	return trim(*resp.Value), nil
}

// classify turns SDK errors into our sentinels with a message that says what to fix.
// The SDK's own error text carries response bodies; it is kept only where it helps
// (network failures) and never holds a secret value, since a failed read returns none.
func (k *KeyVault) classify(name string, err error) error {
	var respErr *azcore.ResponseError
	if errors.As(err, &respErr) {
		status := respErr.StatusCode
		switch {
		case status == http.StatusNotFound:
			return fmt.Errorf("secret %q not found in key vault %s: create it or fix the name: %w", name, k.vault, ErrNotFound)
		case status == http.StatusForbidden && strings.Contains(respErr.Error(), "SecretDisabled"):
			return fmt.Errorf("secret %q is disabled in key vault %s: enable it or add a new version: %w", name, k.vault, ErrForbidden)
		case status == http.StatusForbidden:
			return fmt.Errorf("secret %q: the app's identity lacks Key Vault Secrets User on %s (or a Get secret access policy): %w", name, k.vault, ErrForbidden)
		case status == http.StatusUnauthorized:
			return fmt.Errorf("secret %q: key vault %s rejected the app's token (is the vault in the identity's tenant?): %w", name, k.vault, ErrForbidden)
		case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
			return fmt.Errorf("secret %q: key vault %s answered %d: %w", name, k.vault, status, ErrUnavailable)
		default:
			return fmt.Errorf("secret %q: key vault %s answered %d %s", name, k.vault, status, respErr.ErrorCode)
		}
	}
	var authErr *azidentity.AuthenticationFailedError
	if errors.As(err, &authErr) && authErr.RawResponse != nil && authErr.RawResponse.StatusCode < 500 {
		return fmt.Errorf("secret %q: the managed identity endpoint refused a token for key vault %s (status %d): check the app's identity: %w",
			name, k.vault, authErr.RawResponse.StatusCode, ErrForbidden)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("secret %q: %w", name, err)
	}
	return fmt.Errorf("secret %q: key vault %s: %w: %w", name, k.vault, ErrUnavailable, err)
}
