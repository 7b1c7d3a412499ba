package telemetry

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ingestion is a fake Application Insights ingestion endpoint: POST /v2/track with a
// gzipped body of newline-separated JSON envelopes.
type ingestion struct {
	t     *testing.T
	block chan struct{} // when non-nil, requests wait for it to close

	mu        sync.Mutex
	envelopes []envelope
	raw       []string // decompressed bodies
}

type envelope struct {
	Name string            `json:"name"`
	Time string            `json:"time"`
	IKey string            `json:"iKey"`
	Tags map[string]string `json:"tags"`
	Data struct {
		BaseType string   `json:"baseType"`
		BaseData baseData `json:"baseData"`
	} `json:"data"`
}

// baseData holds the fields of EventData, MetricData and ExceptionData we check.
type baseData struct {
	Name         string             `json:"name,omitempty"`
	Properties   map[string]string  `json:"properties,omitempty"`
	Measurements map[string]float64 `json:"measurements,omitempty"`
	Metrics      []struct {
		Name  string  `json:"name"`
		Value float64 `json:"value"`
		Count int     `json:"count"`
	} `json:"metrics,omitempty"`
	Exceptions []struct {
		TypeName     string `json:"typeName"`
		Message      string `json:"message"`
		HasFullStack bool   `json:"hasFullStack"`
	} `json:"exceptions,omitempty"`
}

func (in *ingestion) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if in.block != nil {
		<-in.block
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v2/track" || r.Header.Get("Content-Encoding") != "gzip" {
		in.t.Errorf("request %s %s (Content-Encoding %q), want gzipped POST /v2/track", r.Method, r.URL.Path, r.Header.Get("Content-Encoding"))
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		in.t.Errorf("body is not gzip: %v", err)
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		in.t.Errorf("reading body: %v", err)
		return
	}
	var got []envelope
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e envelope
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			in.t.Errorf("envelope %q: %v", sc.Text(), err)
			continue
		}
		got = append(got, e)
	}
	in.mu.Lock()
	in.envelopes = append(in.envelopes, got...)
	in.raw = append(in.raw, string(body))
	in.mu.Unlock()
	fmt.Fprintf(w, `{"itemsReceived":%d,"itemsAccepted":%d,"errors":[]}`, len(got), len(got))
}

func (in *ingestion) Envelopes() []envelope {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]envelope(nil), in.envelopes...)
}

func (in *ingestion) Raw() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return strings.Join(in.raw, "\n")
}

func startIngestion(t *testing.T, in *ingestion) string {
	t.Helper()
	in.t = t
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	return "InstrumentationKey=" + testKey + ";IngestionEndpoint=" + srv.URL + "/;LiveEndpoint=https://westeurope.livediagnostics.monitor.azure.com/"
}

const secretToken = "fake-token-16C7e42F292c6912E7710c838347Ae178B4a"

func redactToken(s string) string { return strings.ReplaceAll(s, secretToken, "***") }

func TestClientSendsOnClose(t *testing.T) {
	t.Parallel()
	in := &ingestion{}
	client, err := New(startIngestion(t, in), Options{Redact: redactToken})
	if err != nil {
		t.Fatal(err)
	}

	client.Event(EventStageFinished,
		map[string]string{"run_id": "42", "stage": "collect_repos", "enterprise": "ent1", "status": "failed", "error": "github refused token " + secretToken},
		map[string]float64{"duration_ms": 1250, "records": 37, "api_calls": 12, "bad": math.NaN()})
	client.Metric(MetricRateLimitRemaining, 4200, map[string]string{"enterprise": "ent1"})
	client.Metric(MetricRateLimitUsedPct, math.Inf(1), map[string]string{"enterprise": "ent1"}) // not representable: dropped
	client.Exception(fmt.Errorf("collect_repos: %w", errors.New("401 for token "+secretToken)), map[string]string{"stage": "collect_repos", "run_id": "42"})
	client.Exception(nil, nil) // ignored

	if err := client.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}

	got := in.Envelopes()
	if len(got) != 3 {
		t.Fatalf("received %d envelopes, want 3: %+v", len(got), got)
	}
	ikeyName := strings.ReplaceAll(testKey, "-", "")
	for _, e := range got {
		if e.IKey != testKey {
			t.Errorf("envelope %q has iKey %q, want the connection string's", e.Name, e.IKey)
		}
		if role := e.Tags["ai.cloud.role"]; role != "metrics-collector" {
			t.Errorf("envelope %q has cloud role %q, want metrics-collector", e.Name, role)
		}
		if e.Time == "" {
			t.Errorf("envelope %q has no time", e.Name)
		}
	}

	byType := make(map[string]envelope)
	for _, e := range got {
		byType[e.Data.BaseType] = e
	}
	event, metric, exception := byType["EventData"], byType["MetricData"], byType["ExceptionData"]
	if event.Name != "Microsoft.ApplicationInsights."+ikeyName+".Event" || event.Data.BaseType != "EventData" {
		t.Errorf("event envelope %q/%q, want an event named for the key", event.Name, event.Data.BaseType)
	}
	wantEvent := baseData{
		Name:         "StageFinished",
		Properties:   map[string]string{"run_id": "42", "stage": "collect_repos", "enterprise": "ent1", "status": "failed", "error": "github refused token ***"},
		Measurements: map[string]float64{"duration_ms": 1250, "records": 37, "api_calls": 12},
	}
	if diff := cmp.Diff(wantEvent, event.Data.BaseData); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}

	if metric.Data.BaseType != "MetricData" || len(metric.Data.BaseData.Metrics) != 1 {
		t.Fatalf("metric envelope %+v, want one metric", metric)
	}
	if m := metric.Data.BaseData.Metrics[0]; m.Name != "github_rate_limit_remaining" || m.Value != 4200 || m.Count != 1 {
		t.Errorf("metric = %+v, want github_rate_limit_remaining 4200", m)
	}
	if diff := cmp.Diff(map[string]string{"enterprise": "ent1"}, metric.Data.BaseData.Properties); diff != "" {
		t.Errorf("metric properties (-want +got):\n%s", diff)
	}

	if exception.Data.BaseType != "ExceptionData" || len(exception.Data.BaseData.Exceptions) != 1 {
		t.Fatalf("exception envelope %+v, want one exception", exception)
	}
	ex := exception.Data.BaseData.Exceptions[0]
	if ex.Message != "collect_repos: 401 for token ***" || ex.TypeName != "*fmt.wrapError" || !ex.HasFullStack {
		t.Errorf("exception = %+v, want the redacted message, the error's type and a stack", ex)
	}
	if diff := cmp.Diff(map[string]string{"stage": "collect_repos", "run_id": "42"}, exception.Data.BaseData.Properties); diff != "" {
		t.Errorf("exception properties (-want +got):\n%s", diff)
	}

	if raw := in.Raw(); strings.Contains(raw, secretToken) {
		t.Errorf("ingestion received the secret:\n%s", raw)
	}
}

func TestClientAfterClose(t *testing.T) {
	t.Parallel()
	in := &ingestion{}
	client, err := New(startIngestion(t, in), Options{RoleName: "metrics-collector-test"})
	if err != nil {
		t.Fatal(err)
	}
	client.Event(EventRunStarted, map[string]string{"run_id": "7"}, nil)
	if err := client.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	client.Event(EventRunFinished, map[string]string{"run_id": "7"}, nil) // dropped, no panic
	client.Metric(MetricStageDuration, 1, nil)
	client.Exception(errors.New("late"), nil)
	if err := client.Close(t.Context()); err != nil {
		t.Errorf("second Close: %v", err)
	}

	got := in.Envelopes()
	if len(got) != 1 || got[0].Data.BaseData.Name != "RunStarted" {
		t.Fatalf("received %+v, want only RunStarted", got)
	}
	if role := got[0].Tags["ai.cloud.role"]; role != "metrics-collector-test" {
		t.Errorf("cloud role %q, want the configured one", role)
	}
}

func TestCloseGivesUpWithContext(t *testing.T) {
	t.Parallel()
	in := &ingestion{block: make(chan struct{})}
	client, err := New(startIngestion(t, in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the server's cleanup, so it runs first and unblocks the handler.
	t.Cleanup(func() { close(in.block) })

	client.Event(EventRunStarted, nil, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := client.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Close with an ended context = %v, want context.Canceled", err)
	}
}

func TestClientConcurrentWithClose(t *testing.T) {
	t.Parallel()
	in := &ingestion{}
	client, err := New(startIngestion(t, in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				client.Metric(MetricStageDuration, float64(i), map[string]string{"stage": fmt.Sprint(g)})
			}
		})
	}
	wg.Go(func() {
		if err := client.Close(t.Context()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	wg.Wait()
	if n := len(in.Envelopes()); n > 400 {
		t.Errorf("received %d envelopes from 400 calls", n)
	}
}

func TestNop(t *testing.T) {
	t.Parallel()
	client, err := New("", Options{})
	if err != nil {
		t.Fatalf("New(\"\"): %v", err)
	}
	if _, ok := client.(nop); !ok {
		t.Fatalf("New(\"\") = %T, want the no-op client", client)
	}
	client.Event(EventRunStarted, map[string]string{"run_id": "1"}, map[string]float64{"x": 1})
	client.Metric(MetricStageDuration, 1, nil)
	client.Exception(errors.New("boom"), nil)
	client.Exception(nil, nil)
	if err := client.Close(t.Context()); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := client.Close(t.Context()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
