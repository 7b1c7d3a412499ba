package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Report links name the host to fetch. Only hosts on the enterprise's allow-list are
// fetched; anything else is refused before a connection is made.
func TestDownloadHostsOutsideTheAllowListAreRefused(t *testing.T) {
	t.Parallel()
	dl := newDownloadHost(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "{}") })
	f := newFakeGitHub(t, newFakeClock(), func(w http.ResponseWriter, r *http.Request) {})
	c := newTestClient(t, f, func(o *Options) { o.DownloadHosts = []string{"copilot-reports.github.com"} })
	err := c.DownloadCopilotReport(t.Context(), dl.link("x.json"), func(json.RawMessage) error { return nil })
	if !errors.Is(err, ErrDisallowedHost) || !strings.Contains(err.Error(), "127.0.0.1") || !strings.Contains(err.Error(), "copilot_download_hosts") {
		t.Fatalf("err = %v, want ErrDisallowedHost naming the host and the option", err)
	}
	if strings.Contains(err.Error(), "SECRETSIGNATURE") {
		t.Errorf("error repeats the link: %v", err)
	}
	if n := dl.hits.Load(); n != 0 {
		t.Errorf("the download host saw %d requests", n)
	}
}

// Redirects from the download host are followed only to allowed hosts over https.
func TestDownloadRedirectsOnlyToAllowedHTTPSHosts(t *testing.T) {
	t.Parallel()
	target := newDownloadHost(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"a":1}`) })
	var to string
	redirector := newDownloadHost(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, to, http.StatusFound)
	})
	targetURL := strings.Replace(target.link("x.json"), "127.0.0.1", "localhost", 1)
	f := newFakeGitHub(t, newFakeClock(), func(w http.ResponseWriter, r *http.Request) {})
	for _, tc := range []struct {
		name    string
		hosts   []string
		to      string
		allowed bool
	}{
		{"to an allowed host", []string{"127.0.0.1", "localhost"}, targetURL, true},
		{"to a host not on the list", []string{"127.0.0.1"}, targetURL, false},
		{"to plain http off loopback", []string{"127.0.0.1", "copilot-reports.github.com"}, "http://copilot-reports.github.com/x.json?sig=SECRETSIGNATURE", false},
		{"to a link-local address", []string{"127.0.0.1", "169.254.169.254"}, "http://169.254.169.254/metadata?sig=SECRETSIGNATURE", false},
	} {
		to = tc.to
		before := target.hits.Load()
		c := newTestClient(t, f, func(o *Options) { o.DownloadHosts = tc.hosts })
		err := c.DownloadCopilotReport(t.Context(), redirector.link("x.json"), func(json.RawMessage) error { return nil })
		if tc.allowed {
			if err != nil || target.hits.Load() != before+1 {
				t.Errorf("%s: err = %v, target hits %d; want the redirect followed", tc.name, err, target.hits.Load()-before)
			}
			continue
		}
		if !errors.Is(err, ErrDisallowedHost) {
			t.Errorf("%s: err = %v, want ErrDisallowedHost", tc.name, err)
		}
		if err != nil && strings.Contains(err.Error(), "SECRETSIGNATURE") {
			t.Errorf("%s: error repeats the link: %v", tc.name, err)
		}
		if target.hits.Load() != before {
			t.Errorf("%s: the redirect was followed", tc.name)
		}
	}
}

// The API client follows redirects on its own origin only (a renamed repository);
// one to another origin is refused, not merely sent without the token.
func TestAPIRedirectToAnotherOriginIsRefused(t *testing.T) {
	t.Parallel()
	var foreignHits int
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreignHits++
		serveJSON(t, w, "pull.json")
	}))
	t.Cleanup(foreign.Close)
	f := newFakeGitHub(t, newFakeClock(), func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, foreign.URL+"/elsewhere/pulls/1", http.StatusFound)
	})
	c := newTestClient(t, f, nil)
	_, err := c.GetPull(t.Context(), "acme/api", 1)
	if !errors.Is(err, ErrDisallowedHost) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrDisallowedHost (not retried as an outage)", err)
	}
	if foreignHits != 0 {
		t.Errorf("the other origin saw %d requests", foreignHits)
	}
	if n := len(f.seen()); n != 1 {
		t.Errorf("the API saw %d requests, want 1 (no retry)", n)
	}
}

func TestRefusedAddresses(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "127.8.9.10": true, "::1": true, "0.0.0.0": true, "::": true,
		"10.1.2.3": true, "172.16.0.1": true, "172.31.255.255": true, "192.168.1.1": true, "fc00::1": true, "fd12::1": true,
		"169.254.169.254": true, "fe80::1": true, "100.64.0.1": true, "168.63.129.16": true, "224.0.0.1": true, "ff02::1": true,
		"::ffff:10.0.0.1": true, "::ffff:127.0.0.1": true, "::ffff:169.254.169.254": true,
		"140.82.112.6": false, "20.201.28.151": false, "172.32.0.1": false, "2606:50c0:8000::154": false, "::ffff:140.82.112.6": false,
	} {
		got := refusedAddr(netip.MustParseAddr(addr)) != ""
		if got != want {
			t.Errorf("refusedAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}

// The address a host name resolves to is checked when the connection is made, so a
// name that resolves (or is re-bound) to a local address is refused; with a loopback
// api_url (tests, the simulator) local addresses are allowed.
func TestLocalAddressesRefusedAtDialTime(t *testing.T) {
	t.Parallel()
	dl := newDownloadHost(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "{}") })
	byName := strings.Replace(dl.link("x.json"), "127.0.0.1", "localhost", 1)
	f := newFakeGitHub(t, newFakeClock(), func(w http.ResponseWriter, r *http.Request) {})

	// A public api_url: "localhost" passes the host list here, and is refused at dial.
	remote := newTestClient(t, f, func(o *Options) {
		o.BaseURL = "https://api.github.com/"
		o.DownloadHosts = []string{"localhost"}
		o.DownloadClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	})
	link := strings.Replace(byName, "http://", "https://", 1)
	err := remote.DownloadCopilotReport(t.Context(), link, func(json.RawMessage) error { return nil })
	if !errors.Is(err, ErrDisallowedHost) || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("err = %v, want the loopback address refused", err)
	}
	if errors.Is(err, ErrUnavailable) || dl.hits.Load() != 0 {
		t.Errorf("err = %v after %d requests: a refused address is neither retried nor reached", err, dl.hits.Load())
	}

	// The API transport New builds is guarded the same way.
	api := remote.gh.Client().Transport.(*transport).next
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, f.baseURL()+"rate_limit", nil)
	if _, err := api.RoundTrip(req); !errors.Is(err, ErrDisallowedHost) {
		t.Errorf("API transport to a loopback address: err = %v, want ErrDisallowedHost", err)
	}
	if n := len(f.seen()); n != 0 {
		t.Errorf("the loopback API saw %d requests", n)
	}

	// A loopback api_url: local addresses are allowed.
	local := newTestClient(t, f, func(o *Options) {
		o.DownloadClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	})
	if err := local.DownloadCopilotReport(t.Context(), byName, func(json.RawMessage) error { return nil }); err != nil {
		t.Fatalf("loopback api_url: %v", err)
	}
}

// An operator's proxy is reached whatever its address; the destination's name is
// still checked against the host list.
func TestProxyAddressIsNotRefused(t *testing.T) {
	t.Parallel()
	var proxied []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied = append(proxied, r.Host)
		fmt.Fprint(w, "{}")
	}))
	t.Cleanup(proxy.Close)
	f := newFakeGitHub(t, newFakeClock(), func(w http.ResponseWriter, r *http.Request) {})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = func(*http.Request) (*url.URL, error) { return url.Parse(proxy.URL) }
	c := newTestClient(t, f, func(o *Options) {
		o.BaseURL = "https://api.github.com/"
		o.DownloadHosts = []string{"reports.example.com"}
		o.DownloadClient = &http.Client{Transport: tr}
	})
	// Plain http through the proxy would be refused by scheme; the check is what
	// matters here, so ask the guarded transport directly.
	dlTransport := c.download.Transport.(noAuthTransport).next
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://reports.example.com/x.json", nil)
	resp, err := dlTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	resp.Body.Close()
	if diff := cmp.Diff([]string{"reports.example.com"}, proxied); diff != "" {
		t.Errorf("proxied hosts (-want +got):\n%s", diff)
	}
}

func TestDefaultDownloadHosts(t *testing.T) {
	t.Parallel()
	for api, want := range map[string][]string{
		"https://api.github.com/":            {"copilot-reports.github.com", "*.blob.core.windows.net"},
		"https://api.acme.ghe.com/":          {"copilot-reports.acme.ghe.com", "*.blob.core.windows.net"},
		"https://github.example.com/api/v3/": {"copilot-reports.github.com", "*.blob.core.windows.net"},
		"http://127.0.0.1:8081/":             {"127.0.0.1", "::1", "localhost"},
	} {
		if diff := cmp.Diff(want, DefaultDownloadHosts(api)); diff != "" {
			t.Errorf("DefaultDownloadHosts(%s) (-want +got):\n%s", api, diff)
		}
	}
	list := hostList{"copilot-reports.github.com", "*.blob.core.windows.net", "copilot-reports-*.b01.azurefd.net"}
	for host, want := range map[string]bool{
		"copilot-reports.github.com": true, "COPILOT-REPORTS.GITHUB.COM": true,
		"acct.blob.core.windows.net": true, "a.b.blob.core.windows.net": false, "blob.core.windows.net": false,
		"copilot-reports-x1.b01.azurefd.net": true, "evil.b01.azurefd.net": false,
		"copilot-reports.github.com.evil.com": false, "github.com": false,
	} {
		if got := list.allows(host); got != want {
			t.Errorf("allows(%s) = %v, want %v", host, got, want)
		}
	}
	for _, bad := range []string{"", "*", "*.net", "https://copilot-reports.github.com", "host:443", "a..b", "x/y", "*.*.com"} {
		if err := CheckHostPattern(bad); err == nil {
			t.Errorf("CheckHostPattern(%q) accepted", bad)
		}
	}
	for _, good := range []string{"copilot-reports.github.com", "*.blob.core.windows.net", "copilot-reports-*.b01.azurefd.net", "localhost", "127.0.0.1", "::1"} {
		if err := CheckHostPattern(good); err != nil {
			t.Errorf("CheckHostPattern(%q) = %v", good, err)
		}
	}
}
