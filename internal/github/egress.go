package github

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Where the client may connect. GitHub's answers name other hosts (report links,
// redirects, pagination links); none of them is trusted to point anywhere:
//
//   - report downloads go only to hosts on the enterprise's allow-list
//     (Options.DownloadHosts, default DefaultDownloadHosts), over https (plain http
//     only to loopback when the api_url itself is loopback), and follow redirects only
//     under the same rules;
//   - the API client follows redirects on its own origin only;
//   - every connection is checked when it is made, after name resolution: loopback,
//     private, link-local (the instance metadata endpoint), CGNAT, multicast and
//     unspecified addresses and Azure's platform address are refused unless the
//     api_url is itself loopback (tests, the simulator). A name re-bound to such an
//     address between a check and the connection (DNS rebinding) is refused too.
//     A proxy the operator configured (HTTPS_PROXY) is dialled whatever its address;
//     the names it is asked for are still checked against the lists above.

// maxDownloadRedirects is how many redirects a report download follows.
const maxDownloadRedirects = 3

// DefaultDownloadHosts returns the hosts GitHub serves Copilot report files from, for
// an enterprise's api_url: copilot-reports.github.com for GitHub.com (and any api_url
// not recognised), copilot-reports.<sub>.ghe.com for GHE.com, both with
// *.blob.core.windows.net, the Azure Blob Storage fallback GitHub documents; for a
// loopback api_url (tests, the simulator) the loopback names.
func DefaultDownloadHosts(apiURL string) []string {
	host := ""
	if u, err := url.Parse(apiURL); err == nil {
		host = strings.ToLower(u.Hostname())
	}
	switch {
	case isLoopback(host):
		return []string{"127.0.0.1", "::1", "localhost"}
	case strings.HasPrefix(host, "api.") && strings.HasSuffix(host, ".ghe.com"):
		return []string{"copilot-reports." + strings.TrimPrefix(host, "api."), "*.blob.core.windows.net"}
	}
	return []string{"copilot-reports.github.com", "*.blob.core.windows.net"}
}

// CheckHostPattern checks one entry of a host allow-list: a host name, an IP address,
// or a name whose labels may hold "*" (matching within that label only, so
// "*.blob.core.windows.net" matches "acct.blob.core.windows.net" but not
// "a.b.blob.core.windows.net"). The last two labels must be literal.
func CheckHostPattern(p string) error {
	if p == "" {
		return errors.New("empty host")
	}
	if _, err := netip.ParseAddr(p); err == nil {
		return nil
	}
	if strings.ToLower(p) != p {
		return fmt.Errorf("%q: write host names in lower case", p)
	}
	labels := strings.Split(p, ".")
	for _, l := range labels {
		if l == "" || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-*") != "" {
			return fmt.Errorf("%q is not a host name (letters, digits, '-' and '*' in dot-separated labels; no scheme, port or path)", p)
		}
	}
	if n := len(labels); (n == 1 && strings.Contains(p, "*")) || (n >= 2 && strings.ContainsAny(labels[n-1]+labels[n-2], "*")) {
		return fmt.Errorf("%q is too broad: the last two labels must be literal", p)
	}
	return nil
}

// hostList is an allow-list of host patterns (CheckHostPattern).
type hostList []string

func (l hostList) allows(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, p := range l {
		if matchHost(p, host) {
			return true
		}
	}
	return false
}

func matchHost(pattern, host string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == host
	}
	pl, hl := strings.Split(pattern, "."), strings.Split(host, ".")
	if len(pl) != len(hl) {
		return false
	}
	for i := range pl {
		if ok, err := path.Match(pl[i], hl[i]); err != nil || !ok {
			return false
		}
	}
	return true
}

// checkDownloadURL applies the download rules to a report link or a redirect hop.
// Errors never repeat the URL: its query is a signature.
func (c *Client) checkDownloadURL(u *url.URL) error {
	host := strings.ToLower(u.Hostname())
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && c.localAllowed && isLoopback(host):
	default:
		return fmt.Errorf("%w: download link: scheme %q on %s is not allowed (https only)", ErrDisallowedHost, u.Scheme, u.Host)
	}
	if u.User != nil {
		return fmt.Errorf("%w: download link: %s carries credentials in the URL", ErrDisallowedHost, u.Host)
	}
	if !c.downloadHosts.allows(host) {
		return fmt.Errorf("%w: download link: %s is not an allowed report host (allowed: %s); if GitHub serves reports from it, add it to the enterprise's copilot_download_hosts",
			ErrDisallowedHost, host, strings.Join(c.downloadHosts, ", "))
	}
	return nil
}

// checkDownloadRedirect is the download client's CheckRedirect.
func (c *Client) checkDownloadRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxDownloadRedirects {
		return fmt.Errorf("%w: download link: more than %d redirects", ErrDisallowedHost, maxDownloadRedirects)
	}
	return c.checkDownloadURL(req.URL)
}

// guardTransport returns rt with every connection checked at dial time (refusedAddr),
// unless allowLocal. An *http.Transport (or nil: the default one) is cloned and its
// dialer replaced; any other RoundTripper is used as given (tests' fakes).
func guardTransport(rt http.RoundTripper, allowLocal bool) http.RoundTripper {
	var t *http.Transport
	switch given := rt.(type) {
	case nil:
		t = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		t = given.Clone()
	default:
		return rt
	}
	if allowLocal {
		return t
	}
	var proxies sync.Map // addresses of the proxies the transport was told to use
	if proxy := t.Proxy; proxy != nil {
		t.Proxy = func(r *http.Request) (*url.URL, error) {
			u, err := proxy(r)
			if u != nil {
				proxies.Store(proxyAddr(u), true)
			}
			return u, err
		}
	}
	plain := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	guarded := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: refuseLocal}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if _, ok := proxies.Load(addr); ok {
			return plain.DialContext(ctx, network, addr)
		}
		return guarded.DialContext(ctx, network, addr)
	}
	t.DialTLSContext = nil // TLS runs over the guarded connection
	return t
}

// proxyAddr is the host:port the transport dials for a proxy URL.
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		default:
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// refuseLocal is the dialer's Control: it sees the address actually being connected
// to, after name resolution.
func refuseLocal(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot check address %q", ErrDisallowedHost, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: cannot check address %q", ErrDisallowedHost, address)
	}
	if reason := refusedAddr(ip); reason != "" {
		return fmt.Errorf("%w: %s is a %s address", ErrDisallowedHost, ip, reason)
	}
	return nil
}

var (
	cgnat         = netip.MustParsePrefix("100.64.0.0/10")
	azurePlatform = netip.MustParseAddr("168.63.129.16") // wireserver: host agent, DNS, health probes
)

// refusedAddr names why ip may not be connected to from a non-loopback deployment,
// or returns "".
func refusedAddr(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	case cgnat.Contains(ip):
		return "shared (CGNAT)"
	case ip == azurePlatform:
		return "platform (Azure wireserver)"
	}
	return ""
}
