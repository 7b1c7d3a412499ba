package secrets

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// DatabaseTokenScope is the scope of Microsoft Entra access tokens for Azure Database
// for PostgreSQL (the token is sent as the password).
const DatabaseTokenScope = "https://ossrdbms-aad.database.windows.net/.default"

// DefaultTokenRefreshMargin: a token is renewed when it has less than this left, so a
// connection never starts its login with a token about to expire. (The server checks
// the token only at login; an open connection outlives it.)
const DefaultTokenRefreshMargin = 5 * time.Minute

// DatabaseToken hands out Microsoft Entra access tokens to use as the PostgreSQL
// password: Password is called before each new connection (postgres.Options.Password).
// It reuses a token until it is within the refresh margin of its expiry (or past the
// credential's suggested refresh time), then asks the credential for a new one, once
// for all concurrent callers. It is safe for concurrent use.
type DatabaseToken struct {
	cred   azcore.TokenCredential
	now    func() time.Time
	margin time.Duration

	mu  sync.Mutex
	tok azcore.AccessToken
}

// DatabaseTokenOptions tune a DatabaseToken; the zero value is right for production.
type DatabaseTokenOptions struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// RefreshMargin; default DefaultTokenRefreshMargin.
	RefreshMargin time.Duration
}

// NewDatabaseToken gets tokens from cred.
func NewDatabaseToken(cred azcore.TokenCredential, opts DatabaseTokenOptions) *DatabaseToken {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RefreshMargin <= 0 {
		opts.RefreshMargin = DefaultTokenRefreshMargin
	}
	return &DatabaseToken{cred: cred, now: opts.Now, margin: opts.RefreshMargin}
}

// NewManagedIdentityDatabaseToken gets tokens for the app's system-assigned managed
// identity (IDENTITY_ENDPOINT / IDENTITY_HEADER, set by the Functions host), for the same
// reasons NewManagedIdentityKeyVault does not use DefaultAzureCredential.
func NewManagedIdentityDatabaseToken() (*DatabaseToken, error) {
	cred, err := azidentity.NewManagedIdentityCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("managed identity credential: %w", err)
	}
	return NewDatabaseToken(cred, DatabaseTokenOptions{}), nil
}

// Password returns a token valid for at least the refresh margin.
func (d *DatabaseToken) Password(ctx context.Context) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fresh(d.now()) {
		return d.tok.Token, nil
	}
	tok, err := d.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{DatabaseTokenScope}})
	if err != nil {
		// azidentity errors name the endpoint and the identity, never a token.
		return "", fmt.Errorf("microsoft entra token for the database: %w", err)
	}
	if tok.Token == "" {
		return "", errors.New("microsoft entra token for the database: the credential returned an empty token")
	}
	if !tok.ExpiresOn.After(d.now().Add(d.margin)) {
		return "", fmt.Errorf("microsoft entra token for the database: the new token expires at %s, within the %s refresh margin",
			tok.ExpiresOn.UTC().Format(time.RFC3339), d.margin)
	}
	d.tok = tok
	return tok.Token, nil
}

// fresh reports whether the held token may still be handed out at now.
func (d *DatabaseToken) fresh(now time.Time) bool {
	if d.tok.Token == "" || !now.Before(d.tok.ExpiresOn.Add(-d.margin)) {
		return false
	}
	return d.tok.RefreshOn.IsZero() || now.Before(d.tok.RefreshOn)
}

// NewOperatorDatabaseToken gets tokens for whoever runs an operator command
// (bootstrap-db) on their own machine or in a pipeline: DefaultAzureCredential, so
// `az login`, `azd auth login` or the AZURE_* environment of a workload identity.
// The service itself never uses it.
func NewOperatorDatabaseToken() (*DatabaseToken, error) {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("azure credential: %w", err)
	}
	return NewDatabaseToken(cred, DatabaseTokenOptions{}), nil
}
