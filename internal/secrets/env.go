package secrets

import (
	"context"
	"fmt"
	"strings"
)

// Env reads secrets from environment variables, for local runs and tests.
type Env struct {
	getenv func(string) string
}

// NewEnv returns a source that reads secret "github-pat-ent1" from GITHUB_PAT_ENT1.
// getenv is os.Getenv in production; only handler/ reads the process environment.
func NewEnv(getenv func(string) string) *Env {
	return &Env{getenv: getenv}
}

// EnvVar is the environment variable that holds the named secret.
func EnvVar(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Get returns the variable's value without surrounding white space. An unset or blank
// variable is ErrNotFound.
func (e *Env) Get(_ context.Context, name string) (string, error) {
	if err := validateName(name); err != nil {
		return "", err
	}
	variable := EnvVar(name)
	value := trim(e.getenv(variable))
	if value == "" {
		return "", fmt.Errorf("secret %q: set environment variable %s (or KEY_VAULT_URI to read it from Key Vault): %w", name, variable, ErrNotFound)
	}
	return value, nil
}
