// Package server holds the HTTP surface the Functions host talks to: the readiness
// ping, the timer envelope at /main_orchestrator, the stage routes /api/<stage>, the
// read-only status routes /api/runs, and the one place errors become HTTP statuses.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/logging"
	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres"
)

// Telemetry is what the server sends to Application Insights.
type Telemetry interface {
	Event(name string, props map[string]string, measurements map[string]float64)
	Metric(name string, value float64, props map[string]string)
	Exception(err error, props map[string]string)
}

// Orchestrator runs the daily plan.
type Orchestrator interface {
	Run(ctx context.Context) (pipeline.RunSummary, error)
}

// Options wire the server.
type Options struct {
	Log          *slog.Logger
	Store        *postgres.Store
	Config       config.Config
	Stages       []pipeline.Stage
	Orchestrator Orchestrator
	Telemetry    Telemetry
	// Redact scrubs known secret values from text that leaves the process (error
	// responses, telemetry). Nil means identity.
	Redact func(string) string
	Now    func() time.Time
	// ExportDir is the export folder, whose latest/report.html GET /api/report serves.
	ExportDir string
}

// Server is the HTTP handler.
type Server struct {
	opts   Options
	log    *slog.Logger
	stages map[string]pipeline.Stage
	mux    *http.ServeMux
}

// New builds the routes.
func New(opts Options) *Server {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.Now().UTC() }
	}
	if opts.Redact == nil {
		opts.Redact = func(s string) string { return s }
	}
	if opts.Telemetry == nil {
		opts.Telemetry = nopTelemetry{}
	}
	s := &Server{opts: opts, log: opts.Log, stages: map[string]pipeline.Stage{}, mux: http.NewServeMux()}
	for _, st := range opts.Stages {
		s.stages[st.Name()] = st
	}
	s.mux.HandleFunc("GET /{$}", s.ping)
	s.mux.HandleFunc("HEAD /{$}", s.ping)
	s.mux.HandleFunc("POST /main_orchestrator", s.orchestrate)
	s.mux.HandleFunc("GET /api/runs", s.listRuns)
	s.mux.HandleFunc("GET /api/runs/{id}", s.getRun)
	s.mux.HandleFunc("GET /api/report", s.getReport)
	s.mux.HandleFunc("POST /api/{stage}", s.runStage)
	s.mux.HandleFunc("/", s.notFound)
	return s
}

// ServeHTTP adds the invocation id to the context and recovers panics, so one bad
// request never takes the process (and every other in-flight call) down.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Azure-Functions-InvocationId")
	if id == "" {
		id = logging.NewInvocationID()
	}
	ctx := logging.WithInvocationID(r.Context(), id)
	r = r.WithContext(ctx)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(ctx, "panic serving request", "method", r.Method, "path", r.URL.Path,
				"panic", s.opts.Redact(fmt.Sprint(v)), "stack", s.opts.Redact(string(debug.Stack())))
			s.opts.Telemetry.Exception(fmt.Errorf("panic: %s", s.opts.Redact(fmt.Sprint(v))), map[string]string{"path": r.URL.Path})
			writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error"})
		}
	}()
	s.mux.ServeHTTP(w, r)
}

func (s *Server) ping(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// getReport serves the newest HTML report of the export folder, for looking at it
// locally (the Functions host exposes only the routes that have a function.json, and
// this one has none). The page carries no script; the policy says so to the browser.
func (s *Server) getReport(w http.ResponseWriter, r *http.Request) {
	if s.opts.ExportDir == "" {
		writeJSON(w, http.StatusNotFound, errorBody{Error: "no export folder: set EXPORT_DIR"})
		return
	}
	b, err := os.ReadFile(filepath.Join(s.opts.ExportDir, "latest", "report.html"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			writeJSON(w, http.StatusNotFound, errorBody{Error: "no report yet: it is written by export_csv (POST /api/export_csv, or the daily run)"})
			return
		}
		s.log.ErrorContext(r.Context(), "reading the report", "error", err.Error())
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error"})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, errorBody{Error: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)})
}

type errorBody struct {
	Error string `json:"error"`
	RunID int64  `json:"run_id,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// retryAfterSeconds is what a 503 tells callers to wait.
const retryAfterSeconds = "30"

// writeError is the one place errors become statuses. Unexpected errors are logged
// here, once, and answered without detail.
func (s *Server) writeError(ctx context.Context, w http.ResponseWriter, err error, runID int64) {
	var input *pipeline.InputError
	switch {
	case errors.As(err, &input):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: s.opts.Redact(input.Error()), RunID: runID})
	case errors.Is(err, errUnknownEnterprise), errors.Is(err, errUnknownRun):
		writeJSON(w, http.StatusNotFound, errorBody{Error: s.opts.Redact(err.Error()), RunID: runID})
	case errors.Is(err, postgres.ErrConflict):
		writeJSON(w, http.StatusConflict, errorBody{Error: s.opts.Redact(err.Error()), RunID: runID})
	case errors.Is(err, postgres.ErrUnavailable):
		s.log.WarnContext(ctx, "database unavailable", "error", s.opts.Redact(err.Error()))
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "database unavailable; retry later", RunID: runID})
	case errors.Is(err, pipeline.ErrUnavailable):
		s.log.WarnContext(ctx, "dependency unavailable", "error", s.opts.Redact(err.Error()))
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: s.opts.Redact(err.Error()), RunID: runID})
	default:
		s.log.ErrorContext(ctx, "request failed", "error", s.opts.Redact(err.Error()))
		s.opts.Telemetry.Exception(errors.New(s.opts.Redact(err.Error())), map[string]string{"run_id": fmt.Sprint(runID)})
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error", RunID: runID})
	}
}

var (
	errUnknownEnterprise = errors.New("unknown enterprise")
	errUnknownRun        = errors.New("unknown run")
)

type nopTelemetry struct{}

func (nopTelemetry) Event(string, map[string]string, map[string]float64) {}
func (nopTelemetry) Metric(string, float64, map[string]string)           {}
func (nopTelemetry) Exception(error, map[string]string)                  {}
