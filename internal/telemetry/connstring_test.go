package telemetry

import (
	"strings"
	"testing"
)

const testKey = "0f0e0d0c-1111-2222-3333-444455556666"

func TestParseConnectionString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want ConnectionString
	}{
		{
			"portal format",
			"InstrumentationKey=" + testKey + ";IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/;LiveEndpoint=https://westeurope.livediagnostics.monitor.azure.com/;ApplicationId=9b1f2d7e-0000-4000-8000-123456789abc",
			ConnectionString{testKey, "https://westeurope-5.in.applicationinsights.azure.com/"},
		},
		{
			"keys in any case, spaces, trailing separator, endpoint without slash",
			" instrumentationkey = " + testKey + " ; INGESTIONENDPOINT=https://westeurope-5.in.applicationinsights.azure.com ;EndpointSuffix=applicationinsights.azure.com;",
			ConnectionString{testKey, "https://westeurope-5.in.applicationinsights.azure.com/"},
		},
		{
			"loopback http for tests",
			"InstrumentationKey=" + testKey + ";IngestionEndpoint=http://127.0.0.1:43210/",
			ConnectionString{testKey, "http://127.0.0.1:43210/"},
		},
	}
	for _, tt := range tests {
		got, err := ParseConnectionString(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
	if got := tests[0].want.TrackURL(); got != "https://westeurope-5.in.applicationinsights.azure.com/v2/track" {
		t.Errorf("TrackURL = %q", got)
	}
}

func TestParseConnectionStringErrors(t *testing.T) {
	t.Parallel()
	const endpoint = ";IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/"
	tests := []struct {
		in   string
		want string
	}{
		{"", "is empty"},
		{"   ", "is empty"},
		{testKey, "part 1 is not key=value"},
		{"IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/", "InstrumentationKey is missing"},
		{"InstrumentationKey=" + endpoint, "InstrumentationKey is missing"},
		{"InstrumentationKey=" + testKey + "x" + endpoint, "InstrumentationKey is not a GUID"},
		{"InstrumentationKey=" + testKey, "IngestionEndpoint is missing"},
		{"InstrumentationKey=" + testKey + ";IngestionEndpoint=http://westeurope-5.in.applicationinsights.azure.com/", "must use https"},
		{"InstrumentationKey=" + testKey + ";IngestionEndpoint=westeurope-5", "is not a URL"},
		{"InstrumentationKey=" + testKey + ";IngestionEndpoint=https://x/?a=b", "is not a URL"},
		{"InstrumentationKey=" + testKey + ";instrumentationKey=" + testKey + endpoint, "instrumentationKey appears twice"},
		{"InstrumentationKey=" + testKey + ";=x" + endpoint, "part 2 is not key=value"},
	}
	for _, tt := range tests {
		_, err := ParseConnectionString(tt.in)
		if err == nil {
			t.Errorf("ParseConnectionString(%q) succeeded, want an error", tt.in)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "APPLICATIONINSIGHTS_CONNECTION_STRING") || !strings.Contains(msg, tt.want) {
			t.Errorf("ParseConnectionString(%q) error %q, want one naming the variable and saying %q", tt.in, msg, tt.want)
		}
		if strings.Contains(msg, testKey) {
			t.Errorf("error %q reveals the instrumentation key", msg)
		}
	}
}

func TestNewRejectsBadConnectionString(t *testing.T) {
	t.Parallel()
	c, err := New("InstrumentationKey="+testKey, Options{})
	if err == nil || c != nil {
		t.Errorf("New = %v, %v; want no client and an error", c, err)
	}
}
