package github

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// A token pasted into Key Vault with its line ending is sent without it.
func TestTokenWithSurroundingWhiteSpaceIsTrimmed(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) { serveJSON(t, w, "pull.json") })
	for _, stored := range []string{testToken + "\n", testToken + "\r\n", " \t" + testToken + " \n"} {
		c := newTestClient(t, f, func(o *Options) {
			o.Token = func(context.Context) (string, error) { return stored, nil }
		})
		if _, err := c.GetPull(t.Context(), "acme/api", 1347); err != nil {
			t.Fatalf("token %q: %v", stored, err)
		}
	}
	for _, r := range f.seen() {
		if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
			t.Errorf("Authorization %q, want the trimmed token", got)
		}
	}
}

// A token that still holds white space or control characters after trimming cannot
// work: the error is permanent (no retry, not "unavailable"), names the secret to fix
// and never shows the value.
func TestUnusableTokenIsAPermanentErrorNamingTheSecret(t *testing.T) {
	t.Parallel()
	const secret = "github-pat-ent1"
	for _, stored := range []string{
		"ghp_first" + "\n" + "ghp_second-token-value", // two tokens pasted together
		"Bearer " + testToken,                         // a header pasted instead of the token
		testToken + "\x00",                            // a control character inside
		"fake\u00a0token-with-a-no-break-space",       // a space that is not ASCII
	} {
		clock := newFakeClock()
		f := newFakeGitHub(t, clock, func(w http.ResponseWriter, r *http.Request) { serveJSON(t, w, "pull.json") })
		c := newTestClient(t, f, func(o *Options) {
			o.Token = func(context.Context) (string, error) { return stored, nil }
			o.TokenSecret = secret
		})
		_, err := c.GetPull(t.Context(), "acme/api", 1347)
		if !errors.Is(err, ErrTokenUnusable) {
			t.Fatalf("token %q: error %v, want ErrTokenUnusable", stored, err)
		}
		if errors.Is(err, ErrUnavailable) {
			t.Errorf("token %q: an unusable token is not an outage: %v", stored, err)
		}
		if !strings.Contains(err.Error(), `"`+secret+`"`) {
			t.Errorf("token %q: error %q does not name the secret to fix", stored, err)
		}
		for _, part := range strings.Fields(stored) {
			if len(part) >= 8 && strings.Contains(err.Error(), part) {
				t.Errorf("token %q: error %q shows the value", stored, err)
			}
		}
		if n := len(f.seen()); n != 0 {
			t.Errorf("token %q: %d requests sent", stored, n)
		}
		if s := clock.slept(); len(s) != 0 {
			t.Errorf("token %q: waited %v before giving up; retrying cannot help", stored, s)
		}
	}
}
