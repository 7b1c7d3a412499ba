package githubsim

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"regexp"
	"testing"
)

func TestServePrintsURLsAndServesBothHosts(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, testConfig(), ServeOptions{APIAddr: "127.0.0.1:0", DownloadAddr: "127.0.0.1:0"}, pw)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	urlRE := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
	var apiURL, dlURL string
	var sawToken bool
	for lines.Scan() {
		line := lines.Text()
		switch {
		case apiURL == "":
			apiURL = urlRE.FindString(line)
		case dlURL == "":
			dlURL = urlRE.FindString(line)
		default:
			sawToken = sawToken || regexp.MustCompile(tokenA).MatchString(line)
		}
		if sawToken {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if apiURL == "" || dlURL == "" || !sawToken {
		t.Fatalf("printed api %q, downloads %q, token %v", apiURL, dlURL, sawToken)
	}
	if resp, _ := get(t, apiURL+"/orgs/acme-web/repos", tokenA); resp.StatusCode != http.StatusOK {
		t.Errorf("API host: %d", resp.StatusCode)
	}
	resp, body := get(t, apiURL+"/enterprises/acme/copilot/metrics/reports/enterprise-1-day?day=2026-09-10", tokenA)
	if resp.StatusCode != http.StatusOK || !regexp.MustCompile(regexp.QuoteMeta(dlURL)+`/copilot-reports/`).Match(body) {
		t.Errorf("envelope %d %s does not link to %s", resp.StatusCode, body, dlURL)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve returned %v after cancel", err)
	}
}
