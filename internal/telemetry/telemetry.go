// Package telemetry sends custom events, metrics and exceptions to Application
// Insights, or nowhere.
//
// Client is the small interface the rest of the service uses. New builds one on
// ApplicationInsights-Go from APPLICATIONINSIGHTS_CONNECTION_STRING; when that is
// unset, New returns Nop(), which accepts every call and sends nothing, so telemetry
// can be turned off without touching callers. Logs do not go through this package: the
// Functions host ships stdout to Application Insights already.
//
// Behaviour of the Application Insights client:
//   - Items are buffered and sent in batches (gzipped, newline-separated JSON) every
//     10 seconds or 1024 items, and on Close, which flushes and is final: later calls
//     are dropped, a second Close returns at once. Create one client per process and
//     close it on shutdown with a deadline.
//   - Every property value and exception message passes through Options.Redact (the
//     secrets Redactor), so a token that slipped into an error never leaves the process.
//   - Measurements and metric values that are NaN or infinite cannot be encoded as
//     JSON: such measurements are dropped and such metrics are not sent.
//   - Sending is best effort: the SDK retries failed batches in the background and
//     drops them after its retries; callers are never blocked or failed by telemetry.
//
// The names alerts and the workbook query are constants here (docs/architecture.md,
// "Telemetry names").
package telemetry

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net/http"
	"sync"

	"github.com/microsoft/ApplicationInsights-Go/appinsights"
	"github.com/microsoft/ApplicationInsights-Go/appinsights/contracts"
)

// Telemetry names (docs/architecture.md); alerts and the workbook query them.
const (
	EventRunStarted    = "RunStarted"
	EventRunFinished   = "RunFinished"
	EventStageFinished = "StageFinished"
	EventTokenExpiring = "TokenExpiring"
	EventTokenRefused  = "TokenRefused"

	MetricRateLimitRemaining = "github_rate_limit_remaining"
	MetricRateLimitUsedPct   = "github_rate_limit_used_pct"
	MetricStageDuration      = "stage_duration_ms"
)

// DefaultRoleName is the cloud role name our telemetry carries.
const DefaultRoleName = "metrics-collector"

// Client records telemetry. Implementations are safe for concurrent use and never
// block callers on the network.
type Client interface {
	Event(name string, props map[string]string, measurements map[string]float64)
	Metric(name string, value float64, props map[string]string)
	Exception(err error, props map[string]string)
	// Close sends what is buffered and stops the client; ctx bounds the wait.
	Close(ctx context.Context) error
}

// Options tune New.
type Options struct {
	// Redact is applied to every property value and exception message; nil keeps
	// text as it is. Pass the secrets Redactor's Redact.
	Redact func(string) string
	// RoleName is the cloud role name (cloud_RoleName); default DefaultRoleName.
	RoleName string
	// HTTPClient sends the batches; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// Nop returns a Client that does nothing.
func Nop() Client { return nop{} }

type nop struct{}

func (nop) Event(string, map[string]string, map[string]float64) {}
func (nop) Metric(string, float64, map[string]string)           {}
func (nop) Exception(error, map[string]string)                  {}
func (nop) Close(context.Context) error                         { return nil }

// New returns an Application Insights client for the connection string, or Nop() when
// the connection string is empty (telemetry off). An invalid connection string is an
// error naming APPLICATIONINSIGHTS_CONNECTION_STRING and the problem, never the key.
func New(connectionString string, opts Options) (Client, error) {
	if connectionString == "" {
		return Nop(), nil
	}
	cs, err := ParseConnectionString(connectionString)
	if err != nil {
		return nil, err
	}
	cfg := appinsights.NewTelemetryConfiguration(cs.InstrumentationKey)
	cfg.EndpointUrl = cs.TrackURL()
	cfg.Client = opts.HTTPClient
	client := appinsights.NewTelemetryClientFromConfig(cfg)
	role := opts.RoleName
	if role == "" {
		role = DefaultRoleName
	}
	client.Context().Tags.Cloud().SetRole(role)
	redact := opts.Redact
	if redact == nil {
		redact = func(s string) string { return s }
	}
	return &AppInsights{client: client, redact: redact}, nil
}

// AppInsights sends telemetry to Application Insights.
type AppInsights struct {
	client appinsights.TelemetryClient
	redact func(string) string

	// mu guards closed. Tracking holds it shared: after Close the SDK's channel is
	// gone and sending to it would panic, so Close waits for in-flight calls.
	mu     sync.RWMutex
	closed bool
}

// Event records a custom event (customEvents).
func (a *AppInsights) Event(name string, props map[string]string, measurements map[string]float64) {
	item := appinsights.NewEventTelemetry(name)
	a.copyProps(item.Properties, props)
	copyFinite(item.Measurements, measurements)
	a.track(item)
}

// Metric records one value of a custom metric (customMetrics). A NaN or infinite
// value is not sent.
func (a *AppInsights) Metric(name string, value float64, props map[string]string) {
	if !isFinite(value) {
		return
	}
	item := appinsights.NewMetricTelemetry(name, value)
	a.copyProps(item.Properties, props)
	a.track(item)
}

// Exception records an error (exceptions) with its message redacted. A nil error is
// ignored.
func (a *AppInsights) Exception(err error, props map[string]string) {
	if err == nil {
		return
	}
	item := &redactedException{ExceptionTelemetry: appinsights.NewExceptionTelemetry(err), message: a.redact(err.Error())}
	a.copyProps(item.Properties, props)
	a.track(item)
}

// Close flushes buffered telemetry and stops the client. It returns ctx's error if
// the flush has not finished when ctx ends. Calls after Close are dropped.
func (a *AppInsights) Close(ctx context.Context) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()

	// Without a retry timeout the SDK makes one attempt per batch and does not sleep:
	// at shutdown we would rather lose a batch than outlive the host's grace period.
	done := a.client.Channel().Close()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("telemetry flush: %w", ctx.Err())
	}
}

func (a *AppInsights) track(item appinsights.Telemetry) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.closed {
		return
	}
	a.client.Track(item)
}

func (a *AppInsights) copyProps(dst, src map[string]string) {
	for k, v := range src {
		dst[k] = a.redact(v)
	}
}

func copyFinite(dst, src map[string]float64) {
	maps.Copy(dst, src)
	maps.DeleteFunc(dst, func(_ string, v float64) bool { return !isFinite(v) })
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// redactedException reports the SDK's exception data with our redacted message; the
// type name and call stack stay as the SDK captured them.
type redactedException struct {
	*appinsights.ExceptionTelemetry
	message string
}

func (e *redactedException) TelemetryData() appinsights.TelemetryData {
	data, ok := e.ExceptionTelemetry.TelemetryData().(*contracts.ExceptionData)
	if !ok { // not the SDK version we know: send the redacted text alone rather than the raw error
		return appinsights.NewExceptionTelemetry(e.message).TelemetryData()
	}
	for _, d := range data.Exceptions {
		d.Message = e.message
	}
	return data
}
