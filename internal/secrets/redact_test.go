package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	pat      = "fake-token-16C7e42F292c6912E7710c838347Ae178B4a"
	password = "correct-horse-battery"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	r := NewRedactor()
	if got := r.Redact("nothing known " + pat); got != "nothing known "+pat {
		t.Errorf("empty Redactor changed text: %q", got)
	}
	r.Add(pat)
	r.Add(password + "\n") // stored with a trailing newline, used trimmed
	r.Add("short")         // too short to redact safely
	r.Add(pat)             // duplicates are harmless
	r.Add(pat[:12])        // a known secret's prefix: the longer match must win

	tests := []struct{ in, want string }{
		{"token " + pat + " refused", "token *** refused"},
		{"postgres://app:" + password + "@db/metrics", "postgres://app:***@db/metrics"},
		{pat + pat, "******"},
		{"prefix only " + pat[:12], "prefix only ***"},
		{"a short word stays", "a short word stays"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := r.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}

	var none *Redactor
	if got := none.Redact(pat); got != pat {
		t.Errorf("nil Redactor changed text: %q", got)
	}
}

func TestRedactorConcurrentUse(t *testing.T) {
	t.Parallel()
	r := NewRedactor()
	var wg sync.WaitGroup
	for i := range 8 {
		secret := fmt.Sprintf("secret-value-%02d", i)
		wg.Go(func() {
			r.Add(secret)
			if got := r.Redact("x " + secret + " y"); got != "x *** y" {
				t.Errorf("Redact after Add(%q) = %q", secret, got)
			}
		})
	}
	wg.Wait()
}

// secretHolder is a LogValuer that (wrongly) reveals a secret.
type secretHolder struct{ token string }

func (s secretHolder) LogValue() slog.Value { return slog.StringValue("holder " + s.token) }

type options struct {
	Org   string
	Token string
}

func TestHandlerRedactsEverything(t *testing.T) {
	t.Parallel()
	r := NewRedactor()
	var buf bytes.Buffer
	log := slog.New(r.Handler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // stable output
			}
			return a
		},
	})))

	// Bound before the secret is known: must still be redacted once it is.
	early := log.With("early", "bound "+pat).WithGroup("call").With("invocation", "inv-1")
	r.Add(pat)
	r.Add(password)

	log.Info("token is "+pat, "token", pat, "count", 3)
	log.Error("request failed", "err", fmt.Errorf("get /orgs: %w", errors.New("bad credentials for "+pat)))
	log.Info("nested", slog.Group("db", slog.String("url", "postgres://app:"+password+"@db"), slog.Group("deeper", "pw", password)))
	log.Info("valuer", "holder", secretHolder{token: pat})
	log.Info("struct", "opts", options{Org: "acme", Token: pat}, "plain", options{Org: "acme"})
	log.With("bound", pat).WithGroup("g").Info("with", "inner", password)
	early.Info("early", "k", "v")

	out := buf.String()
	for _, secret := range []string{pat, password} {
		if strings.Contains(out, secret) {
			t.Errorf("log output contains secret %q:\n%s", secret, out)
		}
	}

	var got []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, m)
	}
	want := []map[string]any{
		{"level": "INFO", "msg": "token is ***", "token": "***", "count": 3.0},
		{"level": "ERROR", "msg": "request failed", "err": "get /orgs: bad credentials for ***"},
		{"level": "INFO", "msg": "nested", "db": map[string]any{"url": "postgres://app:***@db", "deeper": map[string]any{"pw": "***"}}},
		{"level": "INFO", "msg": "valuer", "holder": "holder ***"},
		{"level": "INFO", "msg": "struct", "opts": "{Org:acme Token:***}", "plain": map[string]any{"Org": "acme", "Token": ""}},
		{"level": "INFO", "msg": "with", "bound": "***", "g": map[string]any{"inner": "***"}},
		{"level": "INFO", "msg": "early", "early": "bound ***", "call": map[string]any{"invocation": "inv-1", "k": "v"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines (-want +got):\n%s", diff)
	}
}

func TestHandlerPassesThroughWithoutSecrets(t *testing.T) {
	t.Parallel()
	var plain, wrapped bytes.Buffer
	opts := &slog.HandlerOptions{Level: slog.LevelInfo, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	logs := []*slog.Logger{
		slog.New(slog.NewJSONHandler(&plain, opts)),
		slog.New(NewRedactor().Handler(slog.NewJSONHandler(&wrapped, opts))),
	}
	for _, log := range logs {
		log.Debug("dropped by level")
		log.With("run_id", 42).WithGroup("stage").Info("collected", "repo", "acme/api", "err", errors.New("boom"))
	}
	if diff := cmp.Diff(plain.String(), wrapped.String()); diff != "" {
		t.Errorf("wrapped output differs from the plain handler's (-plain +wrapped):\n%s", diff)
	}
	if !NewRedactor().Handler(slog.NewJSONHandler(&wrapped, opts)).Enabled(context.Background(), slog.LevelInfo) {
		t.Error("Enabled(Info) = false, want the inner handler's answer")
	}
}

func BenchmarkRedact(b *testing.B) {
	line := `{"level":"INFO","msg":"collected pull requests","repo":"acme/payments-api","count":128,"invocation_id":"fa3b2fbc-26ed-4fcb-be75-82db8773b519"}`
	for _, known := range []int{0, 4} {
		r := NewRedactor()
		for i := range known {
			r.Add(fmt.Sprintf("ghp_%036d", i))
		}
		b.Run(fmt.Sprintf("secrets=%d", known), func(b *testing.B) {
			for b.Loop() {
				r.Redact(line)
			}
		})
	}
}

func BenchmarkHandler(b *testing.B) {
	plain := slog.New(slog.NewJSONHandler(discard{}, nil)).With("invocation_id", "fa3b2fbc")
	b.Run("unwrapped", func(b *testing.B) {
		for b.Loop() {
			plain.Info("collected pull requests", "repo", "acme/payments-api", "count", 128)
		}
	})
	for _, known := range []int{0, 4} {
		r := NewRedactor()
		for i := range known {
			r.Add(fmt.Sprintf("ghp_%036d", i))
		}
		log := slog.New(r.Handler(slog.NewJSONHandler(discard{}, nil))).With("invocation_id", "fa3b2fbc")
		b.Run(fmt.Sprintf("secrets=%d", known), func(b *testing.B) {
			for b.Loop() {
				log.Info("collected pull requests", "repo", "acme/payments-api", "count", 128)
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Credentials the redactor was never given are still masked by their shape.
func TestRedactCredentialShapes(t *testing.T) {
	t.Parallel()
	jwt := "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2dyYXBoLm1pY3Jvc29mdC5jb20iLCJleHAiOjE3OTV9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
	// Obviously fake tokens of the real shapes (a prefix and 36 characters; a fine-grained
	// PAT's 82), built here so no token-shaped literal sits in the source.
	fake := strings.Repeat("FAKE", 9)
	fakePAT := "11FAKE_" + strings.Repeat("FAKE", 19)
	tests := []struct{ in, want string }{
		{"token ghp_" + fake + " refused", "token ghp_*** refused"},
		{"gho_" + fake, "gho_***"},
		{"ghu_" + fake + ",ghs_" + fake, "ghu_***,ghs_***"},
		{"pat github_pat_" + fakePAT + " end", "pat github_pat_*** end"},
		// GitHub's stateless installation tokens: ghs_<app id>_<JWT>.
		{"installation token ghs_123456_" + jwt + " refused", "installation token ghs_*** refused"},
		// A GitHub App's key, whole or cut off mid-block.
		{"key: -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAq1\nabcd==\n-----END RSA PRIVATE KEY-----\n tail", "key: ***\n tail"},
		{"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhki", "***"},
		{"Authorization: Bearer " + jwt, "Authorization: Bearer ***"},
		{"authorization: bearer 0123456789abcdef0123456789abcdef", "authorization: bearer ***"},
		{"id token " + jwt + " expired", "id token *** expired"},
		{`Put "https://contoso.sharepoint.com/sites/m/_api/v2.0/drives/b!x/items/root/uploadSession?guid='1'&overwrite=True&tempauth=v1.` + jwt + `": EOF`,
			`Put "https://contoso.sharepoint.com/sites/m/_api/v2.0/drives/b!x/items/root/uploadSession?guid='1'&overwrite=True&tempauth=***": EOF`},
		{"GET https://acct.blob.core.windows.net/reports/users.ndjson?sv=2023-11-03&se=2026-11-26T07%3A00%3A00Z&sr=b&sp=r&sig=aBc%2BdEf%3D failed",
			"GET https://acct.blob.core.windows.net/reports/users.ndjson?sv=2023-11-03&se=2026-11-26T07%3A00%3A00Z&sr=b&sp=r&sig=*** failed"},
		{"https://copilot-reports.github.com/r/part-0.ndjson?X-Amz-Credential=AKIA0123%2F20261126&X-Amz-Signature=0a1b2c3d4e5f&X-Amz-Security-Token=FQoG",
			"https://copilot-reports.github.com/r/part-0.ndjson?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Security-Token=***"},
		{"https://copilot-reports.github.com/r/part-0.ndjson?token=AABBCCDDEEFF&expires=1795000000",
			"https://copilot-reports.github.com/r/part-0.ndjson?token=***&expires=1795000000"},
		{"postgres://app:hunter2-long-password@db.example.com/metrics", "postgres://app:***@db.example.com/metrics"},
		// Look-alikes that are not credentials stay as they are.
		{"collect_repos github_pat ghp_short Bearer token", "collect_repos github_pat ghp_short Bearer token"},
		{"the app's PRIVATE KEY is in Key Vault", "the app's PRIVATE KEY is in Key Vault"},
		{"the signature is valid; sig check ok; tokens=3", "the signature is valid; sig check ok; tokens=3"},
		{"https://api.github.com/orgs/acme/repos?per_page=100&page=2", "https://api.github.com/orgs/acme/repos?per_page=100&page=2"},
	}
	r := NewRedactor() // knows no value: shapes only
	for _, tt := range tests {
		if got := r.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}

	// The log handler masks shapes too, before it has learned any secret.
	var buf bytes.Buffer
	log := slog.New(r.Handler(slog.NewJSONHandler(&buf, nil)))
	log.Info("upload failed", "error", errors.New("PUT https://x.sharepoint.com/up?tempauth=v1."+jwt), "auth", "Bearer "+jwt)
	if strings.Contains(buf.String(), jwt[:40]) {
		t.Errorf("log line holds the credential: %s", buf.String())
	}
}
