package telemetry

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// Variable is the setting that holds the connection string; errors name it.
const Variable = "APPLICATIONINSIGHTS_CONNECTION_STRING"

// ConnectionString is the part of an Application Insights connection string we use.
type ConnectionString struct {
	InstrumentationKey string // a GUID; treat it as a secret (it lets anyone send data)
	IngestionEndpoint  string // https URL ending in "/"
}

// TrackURL is where telemetry is posted.
func (c ConnectionString) TrackURL() string { return c.IngestionEndpoint + "v2/track" }

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// ParseConnectionString reads "InstrumentationKey=…;IngestionEndpoint=https://…/;…".
// Keys are case-insensitive; keys we do not use (EndpointSuffix, LiveEndpoint,
// ApplicationId, …) are accepted and ignored. IngestionEndpoint is required: the
// global instrumentation-key-only endpoint stopped being supported on 2025-03-31.
// Errors never include the instrumentation key.
func ParseConnectionString(s string) (ConnectionString, error) {
	if strings.TrimSpace(s) == "" {
		return ConnectionString{}, fmt.Errorf("%s is empty: copy the connection string from the Application Insights resource, or unset it to turn telemetry off", Variable)
	}
	fields := make(map[string]string)
	for i, part := range strings.Split(s, ";") {
		if strings.TrimSpace(part) == "" {
			continue // trailing or doubled separators are common and harmless
		}
		rawKey, value, ok := strings.Cut(part, "=")
		rawKey = strings.TrimSpace(rawKey)
		key := strings.ToLower(rawKey)
		if !ok || key == "" {
			return ConnectionString{}, fmt.Errorf("%s: part %d is not key=value", Variable, i+1)
		}
		if _, dup := fields[key]; dup {
			return ConnectionString{}, fmt.Errorf("%s: %s appears twice", Variable, rawKey)
		}
		fields[key] = strings.TrimSpace(value)
	}

	ikey := fields["instrumentationkey"]
	if ikey == "" {
		return ConnectionString{}, fmt.Errorf("%s: InstrumentationKey is missing", Variable)
	}
	if !guidPattern.MatchString(ikey) {
		return ConnectionString{}, fmt.Errorf("%s: InstrumentationKey is not a GUID", Variable)
	}
	endpoint, err := parseIngestionEndpoint(fields["ingestionendpoint"])
	if err != nil {
		return ConnectionString{}, fmt.Errorf("%s: IngestionEndpoint %w", Variable, err)
	}
	return ConnectionString{InstrumentationKey: ikey, IngestionEndpoint: endpoint}, nil
}

// parseIngestionEndpoint requires https, except on loopback addresses (tests).
func parseIngestionEndpoint(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("is missing: copy the full connection string from the Application Insights resource")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q is not a URL such as https://westeurope-5.in.applicationinsights.azure.com/", raw)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return "", fmt.Errorf("%q must use https", raw)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u.String(), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
