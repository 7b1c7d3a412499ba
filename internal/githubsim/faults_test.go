package githubsim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v93/github"
)

// try sends one GET and reports the status (0 on a transport error) and whether the body
// was complete, valid JSON.
func try(t *testing.T, rawURL, token string) (status int, header http.Header, complete bool) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, resp.Header, false
	}
	if resp.StatusCode == http.StatusNoContent {
		return resp.StatusCode, resp.Header, true
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	for dec.More() {
		if dec.Decode(&v) != nil {
			return resp.StatusCode, resp.Header, false
		}
	}
	return resp.StatusCode, resp.Header, len(body) > 0
}

func TestServerErrorsAndConsecutiveCap(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	sim.SetFaults(Faults{ServerErrors: 1, MaxConsecutive: 1})
	u := srv.API.URL + "/orgs/acme-web/repos"
	codes := map[int]bool{}
	for i := 0; i < 8; i++ {
		status, _, _ := try(t, u, tokenA)
		if i%2 == 0 && status != http.StatusBadGateway && status != http.StatusServiceUnavailable {
			t.Fatalf("attempt %d: %d, want 502 or 503", i, status)
		}
		if i%2 == 1 && status != http.StatusOK {
			t.Fatalf("attempt %d right after a fault: %d, want 200 (MaxConsecutive 1)", i, status)
		}
		codes[status] = true
	}
	if !codes[http.StatusBadGateway] || !codes[http.StatusServiceUnavailable] {
		t.Errorf("statuses seen %v, want both 502 and 503", codes)
	}
	var faulted int
	for _, r := range sim.Requests() {
		if r.Fault == FaultServerError {
			faulted++
			if r.Charged {
				t.Errorf("a faulted request was charged: %+v", r)
			}
		}
	}
	if faulted != 4 {
		t.Errorf("recorded %d server-error faults, want 4", faulted)
	}
	sim.SetFaults(Faults{})
	if status, _, _ := try(t, u, tokenA); status != http.StatusOK {
		t.Errorf("after turning faults off: %d", status)
	}
}

func TestSecondaryRateLimits(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	sim.SetFaults(Faults{SecondaryLimits: 1, RetryAfter: 3 * time.Second})
	seen := map[string]bool{}
	for i := 0; i < 24; i++ {
		status, h, _ := try(t, srv.API.URL+"/orgs/acme-web/repos?page="+strconv.Itoa(i), tokenA)
		if status != http.StatusForbidden && status != http.StatusTooManyRequests {
			t.Fatalf("%d, want 403 or 429", status)
		}
		if ra := h.Get("Retry-After"); ra != "" && ra != "3" {
			t.Errorf("Retry-After %q, want 3", ra)
		}
		seen[strconv.Itoa(status)+"/"+strconv.FormatBool(h.Get("Retry-After") != "")] = true
	}
	if len(seen) != 4 {
		t.Errorf("combinations seen %v; want 403 and 429, each with and without Retry-After", seen)
	}
	// go-github recognises it as a secondary rate limit.
	_, _, err := ghClient(t, srv, tokenA).Repositories.ListByOrg(t.Context(), "acme-data", nil)
	var abuse *github.AbuseRateLimitError
	if !errors.As(err, &abuse) {
		t.Errorf("go-github error %T %v, want *github.AbuseRateLimitError", err, err)
	}
}

func TestPrimaryLimitFault(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	sim.SetFaults(Faults{PrimaryLimits: 1, PrimaryResetIn: 5 * time.Second, MaxConsecutive: 1})
	status, h, _ := try(t, srv.API.URL+"/orgs/acme-web/repos", tokenA)
	if status != http.StatusForbidden || h.Get("X-RateLimit-Remaining") != "0" || h.Get("X-RateLimit-Reset") != strconv.FormatInt(testNow.Add(5*time.Second).Unix(), 10) {
		t.Errorf("primary-limit fault: %d remaining=%s reset=%s", status, h.Get("X-RateLimit-Remaining"), h.Get("X-RateLimit-Reset"))
	}
	status, h, _ = try(t, srv.API.URL+"/orgs/acme-web/repos", tokenA)
	if status != http.StatusOK || h.Get("X-RateLimit-Used") != "1" {
		t.Errorf("the retry: %d used=%s, want 200 and 1 (the fault cost nothing)", status, h.Get("X-RateLimit-Used"))
	}
	_, _, err := ghClient(t, srv, tokenA).Repositories.ListByOrg(t.Context(), "acme-data", nil)
	var rl *github.RateLimitError
	if !errors.As(err, &rl) {
		t.Errorf("go-github error %T %v, want *github.RateLimitError", err, err)
	}
}

func TestTruncatedBodies(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	sim.SetFaults(Faults{Truncations: 1})
	var shortRead, badJSON int
	for i := 0; i < 12; i++ {
		req, _ := http.NewRequest(http.MethodGet, srv.API.URL+"/orgs/acme-web/repos?per_page="+strconv.Itoa(i+1), nil)
		req.Header.Set("Authorization", "Bearer "+tokenA)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF):
			shortRead++
		case err == nil && !json.Valid(body):
			badJSON++
		default:
			t.Errorf("a truncated response read fine: %v %d bytes", err, len(body))
		}
		if resp.StatusCode != http.StatusOK {
			t.Errorf("truncated response status %d, want 200", resp.StatusCode)
		}
	}
	if shortRead == 0 || badJSON == 0 {
		t.Errorf("short reads %d, cut JSON %d; want both kinds", shortRead, badJSON)
	}
}

func TestConnectionResets(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	sim.SetFaults(Faults{Resets: 1, MaxConsecutive: 1})
	req, _ := http.NewRequest(http.MethodGet, srv.API.URL+"/orgs/acme-web/repos", nil)
	req.Header.Set("Authorization", "Bearer "+tokenA)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a reset connection answered %d", resp.StatusCode)
	}
	if status, _, complete := try(t, srv.API.URL+"/orgs/acme-web/repos", tokenA); status != http.StatusOK || !complete {
		t.Errorf("the retry: %d complete=%v", status, complete)
	}
	if reqs := sim.Requests(); reqs[0].Fault != FaultReset || reqs[0].Status != 0 {
		t.Errorf("recorded %+v", reqs[0])
	}
}

func TestLatencyGoesThroughTheSleeper(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	var mu sync.Mutex
	var slept []time.Duration
	cfg.Sleep = func(_ context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		slept = append(slept, d)
		return nil
	}
	sim, srv := newSim(t, cfg)
	sim.SetFaults(Faults{Latency: 250 * time.Millisecond})
	try(t, srv.API.URL+"/orgs/acme-web/repos", tokenA)
	downloadAll(t, srv, tokenA, "/enterprises/acme/copilot/metrics/reports/enterprise-1-day?day=2026-09-10")
	mu.Lock()
	defer mu.Unlock()
	if len(slept) != 3 || slept[0] != 250*time.Millisecond {
		t.Errorf("sleeper called with %v, want 250ms for each of 3 requests", slept)
	}
}

func TestFaultsTargetHostsAndPaths(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	sim.SetFaults(Faults{ServerErrors: 1, Hosts: []Host{HostDownload}})
	if status, _, _ := try(t, srv.API.URL+"/orgs/acme-web/repos", tokenA); status != http.StatusOK {
		t.Errorf("API host with download-only faults: %d", status)
	}
	_, env := envelope(t, srv, tokenA, "/enterprises/acme/copilot/metrics/reports/enterprise-1-day?day=2026-09-10")
	if status, _, _ := try(t, linksOf(env)[0], ""); status != http.StatusBadGateway && status != http.StatusServiceUnavailable {
		t.Errorf("download with download-only faults: %d", status)
	}
	sim.SetFaults(Faults{ServerErrors: 1, PathPrefixes: []string{"/repos/"}})
	if status, _, _ := try(t, srv.API.URL+"/orgs/acme-web/repos", tokenA); status != http.StatusOK {
		t.Errorf("/orgs/ path with /repos/-only faults: %d", status)
	}
	sc := sim.w.orgs["acme-web"].showcase.fullName()
	if status, _, _ := try(t, srv.API.URL+"/repos/"+sc+"/pulls", tokenA); status < 500 {
		t.Errorf("/repos/ path with /repos/-only faults: %d", status)
	}
}

// TestRetryingClientAlwaysGetsThrough mixes every fault kind at a high rate: with
// MaxConsecutive 1, a client that retries each request up to three times reads
// everything.
func TestRetryingClientAlwaysGetsThrough(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, testConfig())
	sim.SetFaults(Faults{ServerErrors: 0.2, SecondaryLimits: 0.2, PrimaryLimits: 0.1, Truncations: 0.2, Resets: 0.2, MaxConsecutive: 1})
	sc := sim.w.orgs["acme-web"].showcase.fullName()
	urls := []string{srv.API.URL + "/orgs/acme-web/repos", srv.API.URL + "/repos/" + sc + "/pulls?state=all", srv.API.URL + "/repos/" + sc + "/deployments"}
	_, env := envelope(t, srv, tokenA, "/enterprises/acme/copilot/metrics/reports/users-1-day?day=2026-09-10")
	for env == nil { // the envelope request itself may be faulted
		_, env = envelope(t, srv, tokenA, "/enterprises/acme/copilot/metrics/reports/users-1-day?day=2026-09-10")
	}
	urls = append(urls, linksOf(env)...)
	for _, u := range urls {
		token := tokenA
		if strings.HasPrefix(u, srv.Downloads.URL) {
			token = ""
		}
		ok := false
		for attempt := 0; attempt < 3 && !ok; attempt++ {
			status, _, complete := try(t, u, token)
			ok = status == http.StatusOK && complete
		}
		if !ok {
			t.Errorf("%s failed three times in a row", u)
		}
	}
	kinds := map[string]bool{}
	for _, r := range sim.Requests() {
		kinds[r.Fault] = true
	}
	if len(kinds) < 3 {
		t.Errorf("fault kinds seen %v; the mix did not fault much", kinds)
	}
}

func TestFaultsAreDeterministic(t *testing.T) {
	t.Parallel()
	run := func() []string {
		sim, srv := newSim(t, testConfig())
		sim.SetFaults(Faults{ServerErrors: 0.3, SecondaryLimits: 0.3})
		var out []string
		for i := 0; i < 20; i++ {
			try(t, srv.API.URL+"/orgs/acme-web/repos", tokenA)
		}
		for _, r := range sim.Requests() {
			out = append(out, r.Fault+strconv.Itoa(r.Status))
		}
		return out
	}
	a, b := run(), run()
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Errorf("two runs of one seed faulted differently:\n%v\n%v", a, b)
	}
}

func TestTruncatedNDJSONNeverEndsOnARecord(t *testing.T) {
	t.Parallel()
	// Two records of equal length: half the body is exactly the first record.
	body := []byte("{\"n\":1}\n{\"n\":2}\n")
	for _, variant := range []uint64{0, 1} {
		rec := httptest.NewRecorder()
		writeTruncated(rec, body, variant)
		sent := rec.Body.String()
		dec := json.NewDecoder(strings.NewReader(sent))
		var err error
		for err == nil {
			var v map[string]any
			err = dec.Decode(&v)
		}
		if errors.Is(err, io.EOF) {
			t.Errorf("variant %d: the cut body %q reads as complete records", variant, sent)
		}
	}
}
