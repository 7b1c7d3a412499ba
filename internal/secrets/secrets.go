// Package secrets reads named secrets (GitHub tokens, the database password, the Graph
// client secret) and keeps them out of every output.
//
// Sources:
//   - Env reads secret "github-pat-ent1" from the environment variable GITHUB_PAT_ENT1
//     (upper case, "-" becomes "_"); used when KEY_VAULT_URI is unset.
//   - KeyVault reads the current version of a secret from Azure Key Vault, with the
//     app's managed identity in production (NewManagedIdentityKeyVault).
//
// Every source trims the white space around a value: a token pasted into Key Vault
// or set from a file usually carries a line ending, which no secret we read may hold
// (an HTTP header would refuse it). What is left is the caller's to check.
//
// Errors from every source wrap one of ErrNotFound (the secret does not exist or is
// empty), ErrForbidden (the identity may not read it) or ErrUnavailable (a network or
// service failure that a retry may fix). Error messages name the secret and the fix,
// never a value.
//
// Cache sits in front of a source: a value is reused for a TTL, so a rotated token is
// picked up within that TTL; concurrent callers for one name share a single fetch;
// failures are not cached. Every value the cache returns is taught to a Redactor, which
// log handlers, error responses and telemetry use to replace known secret values with
// "***" as a last line of defence.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Source returns the current value of a named secret.
type Source interface {
	Get(ctx context.Context, name string) (string, error)
}

// Errors that sources wrap; compare with errors.Is.
var (
	ErrNotFound    = errors.New("secret not found")
	ErrForbidden   = errors.New("secret access denied")
	ErrUnavailable = errors.New("secret store unavailable")
)

// maxNameLength is Key Vault's limit on secret names.
const maxNameLength = 127

// validateName applies Key Vault's naming rule (letters, digits and dashes) to every
// source, so a name that works locally also works against the vault.
func validateName(name string) error {
	if name == "" {
		return errors.New("secret name is empty")
	}
	if len(name) > maxNameLength {
		return fmt.Errorf("secret name %q: longer than %d characters", name, maxNameLength)
	}
	for _, r := range name {
		if !isNameRune(r) {
			return fmt.Errorf("secret name %q: only letters, digits and dashes are allowed", name)
		}
	}
	return nil
}

func isNameRune(r rune) bool {
	return r == '-' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
}

// trim removes the white space a copy-paste leaves around a secret value.
func trim(value string) string { return strings.TrimSpace(value) }
