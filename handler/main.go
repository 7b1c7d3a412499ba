// Command metrics-collector is the Azure Functions custom handler: it serves the
// timer envelope at /main_orchestrator and the stage routes at /api/<stage>.
//
//	metrics-collector            serve (what the Functions host runs)
//	metrics-collector demo       run the whole daily job locally against the simulator
//	                             (-app: authenticate the organizations as a GitHub App)
//	metrics-collector simulate   serve the GitHub simulator for manual use
//	metrics-collector bootstrap-db  set up the database roles once per deployment (operators)
//
// This file is wiring only: configuration in, concrete adapters built, handed to the
// server and the orchestrator.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/demo"
	"metrics-collector/internal/github"
	"metrics-collector/internal/logging"
	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/secrets"
	"metrics-collector/internal/server"
	"metrics-collector/internal/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stdout, `{"level":"ERROR","msg":"metrics-collector stopped","error":`+quote(err.Error())+`}`)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "serve":
		return serve(ctx, getenv, stdout, hooks{})
	case "demo":
		app := false
		for _, a := range args[1:] {
			switch a {
			case "-app", "--app":
				app = true
			default:
				return fmt.Errorf("demo: unknown flag %q; use -app to authenticate as a GitHub App", a)
			}
		}
		_, err := demo.Run(ctx, demo.Options{Getenv: getenv, Out: stdout, App: app})
		return err
	case "simulate":
		return simulate(ctx, args[1:], stdout)
	case "bootstrap-db":
		return bootstrapDB(ctx, args[1:], getenv, stdout)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, "usage: metrics-collector [serve | demo [-app] | simulate [-api 127.0.0.1:8081] [-downloads 127.0.0.1:8082] | bootstrap-db -admin-url ... -login ... -object-id ...]")
		return nil
	}
	return fmt.Errorf("unknown command %q; use serve, demo, simulate or bootstrap-db", cmd)
}

// hooks let tests run the handler in-process on a fixed clock and with GitHub waits
// that advance the simulator instead of sleeping. Production passes the zero value.
type hooks struct {
	now         func() time.Time // the service's clock; default the wall clock
	githubClock github.Clock     // the GitHub clients' waits; default the wall clock
	ready       chan<- string    // receives the listening address once the port is open
	// orchestratorSleep is the orchestrator's wait before retrying a stage call;
	// default a real timer.
	orchestratorSleep func(ctx context.Context, d time.Duration) error
	// wrapStage, when set, wraps every stage (a test holds calls at a barrier).
	wrapStage func(pipeline.Stage) pipeline.Stage
}

// serve runs the custom handler until ctx ends.
func serve(ctx context.Context, getenv func(string) string, stdout io.Writer, h hooks) error {
	redactor := secrets.NewRedactor()
	log := slog.New(logging.NewHandler(stdout, slog.LevelInfo, redactor.Handler))

	cfg, err := config.Parse(getenv)
	if err != nil {
		log.Error("configuration is invalid", "error", err.Error())
		return fmt.Errorf("configuration: %w", err)
	}
	for _, s := range []config.Secret{cfg.DatabaseURL, cfg.StageFunctionKey, cfg.AppInsights} {
		redactor.Add(s.Value())
	}
	if u, err := url.Parse(cfg.DatabaseURL.Value()); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			redactor.Add(pw)
		}
	}

	// Listen before anything slow: the host waits at most 30 s for GET / to answer.
	ln, err := net.Listen("tcp", "127.0.0.1:"+cfg.Port)
	if err != nil {
		return fmt.Errorf("listen on FUNCTIONS_CUSTOMHANDLER_PORT %s: %w", cfg.Port, err)
	}
	mux := newLateHandler()
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- httpSrv.Serve(ln) }()
	if h.ready != nil {
		h.ready <- ln.Addr().String()
	}
	log.Info("listening", "addr", ln.Addr().String())

	app, err := build(ctx, cfg, getenv, log, redactor, h)
	if err != nil {
		_ = httpSrv.Close()
		return err
	}
	defer app.close()
	mux.set(app.handler)

	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	// In-flight stage calls commit as they go; give them a moment to answer.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil {
		log.Warn("shutdown cut in-flight requests", "error", err.Error())
	}
	return nil
}

// app holds the built adapters.
type app struct {
	handler   http.Handler
	store     *postgres.Store
	telemetry telemetry.Client
}

func (a *app) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = a.telemetry.Close(ctx)
	a.store.Close()
}

func build(ctx context.Context, cfg config.Config, getenv func(string) string, log *slog.Logger, redactor *secrets.Redactor, h hooks) (*app, error) {
	if h.now == nil {
		h.now = func() time.Time { return time.Now().UTC() }
	}
	var source secrets.Source = secrets.NewEnv(getenv)
	if cfg.KeyVaultURI != "" {
		kv, err := secrets.NewManagedIdentityKeyVault(cfg.KeyVaultURI, secrets.KeyVaultOptions{})
		if err != nil {
			return nil, fmt.Errorf("KEY_VAULT_URI: %w", err)
		}
		source = kv
	}
	cache := secrets.NewCache(source, cfg.SecretCacheTTL, time.Now, redactor)

	storeOpts := postgres.Options{Logger: log, LockConns: lockConns(cfg)}
	switch {
	case cfg.DatabaseAuth == config.DatabaseAuthEntra:
		// Passwordless: each new connection logs in with the managed identity's token.
		tokens, err := secrets.NewManagedIdentityDatabaseToken()
		if err != nil {
			return nil, fmt.Errorf("DATABASE_AUTH=entra: %w", err)
		}
		storeOpts.Password = tokens.Password
	case cfg.DatabasePasswordSecret != "":
		name := cfg.DatabasePasswordSecret
		storeOpts.Password = func(ctx context.Context) (string, error) { return cache.Get(ctx, name) }
	}
	store, err := postgres.New(cfg.DatabaseURL.Value(), storeOpts)
	if err != nil {
		return nil, err
	}
	log.Info("database connections per instance", "working_pool", store.Pool().Config().MaxConns, "lock_pool", storeOpts.LockConns)
	tel, err := telemetry.New(cfg.AppInsights.Value(), telemetry.Options{Redact: redactor.Redact})
	if err != nil {
		store.Close()
		return nil, err
	}

	stages, err := buildStages(ctx, cfg, store, cache, redactor, tel, log, h)
	if err != nil {
		store.Close()
		return nil, err
	}
	if h.wrapStage != nil {
		for i := range stages {
			stages[i] = h.wrapStage(stages[i])
		}
	}
	orch := pipeline.NewOrchestrator(pipeline.OrchestratorOptions{
		Store: store,
		Caller: &pipeline.HTTPCaller{
			BaseURL: cfg.StageBaseURL, FunctionKey: cfg.StageFunctionKey.Value(),
			Client: &http.Client{},
		},
		Enterprises: cfg.Enterprises,
		Clock:       hookClock{now: h.now, sleep: h.orchestratorSleep},
		Events:      tel,
		Log:         log,
		Budget:      cfg.OrchestratorBudget,
		StageBudget: cfg.StageBudget,
		Parallelism: cfg.EnterpriseParallelism,
		// The retention step: the store deletes data older than RETENTION_DAYS.
		Pruner:        store,
		RetentionDays: cfg.RetentionDays,
	})
	srv := server.New(server.Options{
		Log: log, Store: store, Config: cfg, Stages: stages, Orchestrator: orch,
		Telemetry: tel, Redact: redactor.Redact, Now: h.now, ExportDir: resolvedExportDir(cfg),
	})
	return &app{handler: srv, store: store, telemetry: tel}, nil
}

// lockConns sizes the pool of sessions that hold advisory locks: the orchestrator's
// lock, one per stage call of the widest part of the plan (ENTERPRISE_PARALLELISM
// enterprises at once, each with collect_copilot and one collect_repos call per
// repo_shard, beside one delivery call — export_csv or upload_sharepoint — that runs
// while collection goes on), and two spare for calls made by hand. With the default
// STAGE_BASE_URL every call of the plan lands on this instance.
func lockConns(cfg config.Config) int32 {
	widths := make([]int, 0, len(cfg.Enterprises))
	for _, e := range cfg.Enterprises {
		widths = append(widths, 1+max(e.RepoShards, 1))
	}
	slices.SortFunc(widths, func(a, b int) int { return b - a })
	n := 1 + 1 + 2
	for i := 0; i < len(widths) && i < max(cfg.EnterpriseParallelism, 1); i++ {
		n += widths[i]
	}
	return int32(n)
}

// hookClock is the orchestrator's clock: the service's now, real sleeps unless a test
// hook replaces them.
type hookClock struct {
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

func (c hookClock) Now() time.Time { return c.now() }

func (c hookClock) Sleep(ctx context.Context, d time.Duration) error {
	if c.sleep != nil {
		return c.sleep(ctx, d)
	}
	return pipeline.RealClock{}.Sleep(ctx, d)
}

// lateHandler answers GET / while the app is still being built (the host's readiness
// probe); other requests wait for the build, up to lateWait, then get 503. The build
// reads no secret and opens no connection, except the GitHub App check (a few round
// trips), so a timer fired right after start is served rather than refused.
type lateHandler struct {
	h     atomic.Pointer[http.Handler]
	ready chan struct{} // closed by set
	once  sync.Once
}

// lateWait bounds how long a request waits for the build.
const lateWait = 30 * time.Second

func newLateHandler() *lateHandler { return &lateHandler{ready: make(chan struct{})} }

func (l *lateHandler) set(h http.Handler) {
	l.h.Store(&h)
	l.once.Do(func() { close(l.ready) })
}

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := l.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	if r.URL.Path == "/" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"starting"}`)
		return
	}
	t := time.NewTimer(lateWait)
	defer t.Stop()
	select {
	case <-l.ready:
		(*l.h.Load()).ServeHTTP(w, r)
		return
	case <-t.C:
	case <-r.Context().Done():
	}
	w.Header().Set("Retry-After", "5")
	http.Error(w, `{"error":"starting; retry shortly"}`, http.StatusServiceUnavailable)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
