package secrets

import (
	"errors"
	"strings"
	"testing"
)

func TestEnvVar(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"github-pat-ent1":      "GITHUB_PAT_ENT1",
		"db-password":          "DB_PASSWORD",
		"GraphClientSecret":    "GRAPHCLIENTSECRET",
		"a--b":                 "A__B",
		"graph-client-secret2": "GRAPH_CLIENT_SECRET2",
	} {
		if got := EnvVar(name); got != want {
			t.Errorf("EnvVar(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestEnvGet(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"GITHUB_PAT_ENT1": "ghp_envvalue0123456789",
		"GITHUB_PAT_ENT2": "   ",
		"GITHUB_PAT_ENT4": "ghp_envvalue0123456789\n",
	}
	src := NewEnv(func(k string) string { return env[k] })

	got, err := src.Get(t.Context(), "github-pat-ent1")
	if err != nil || got != "ghp_envvalue0123456789" {
		t.Errorf("Get(github-pat-ent1) = %q, %v; want the GITHUB_PAT_ENT1 value", got, err)
	}
	if got, err := src.Get(t.Context(), "github-pat-ent4"); err != nil || got != "ghp_envvalue0123456789" {
		t.Errorf("Get(github-pat-ent4) = %q, %v; want the value without its line ending", got, err)
	}

	tests := []struct {
		secret   string
		notFound bool
		wantText []string
	}{
		{"github-pat-ent3", true, []string{`secret "github-pat-ent3"`, "set environment variable GITHUB_PAT_ENT3"}},
		{"github-pat-ent2", true, []string{`secret "github-pat-ent2"`, "GITHUB_PAT_ENT2"}}, // blank counts as unset
		{"github_pat_ent1", false, []string{`"github_pat_ent1"`, "letters, digits and dashes"}},
		{"", false, []string{"secret name is empty"}},
		{strings.Repeat("a", 128), false, []string{"longer than 127"}},
	}
	for _, tt := range tests {
		_, err := src.Get(t.Context(), tt.secret)
		if err == nil {
			t.Errorf("Get(%q) succeeded, want an error", tt.secret)
			continue
		}
		if errors.Is(err, ErrNotFound) != tt.notFound {
			t.Errorf("Get(%q) error %v: errors.Is(ErrNotFound) = %v, want %v", tt.secret, err, !tt.notFound, tt.notFound)
		}
		for _, text := range tt.wantText {
			if !strings.Contains(err.Error(), text) {
				t.Errorf("Get(%q) error %q does not contain %q", tt.secret, err, text)
			}
		}
	}
}
