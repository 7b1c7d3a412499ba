// Package postgres is the store: a pgx pool, the embedded migrations, and hand-written
// SQL beside each method. Files group by resource (runs.go, copilot.go, repos.go, ...).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"metrics-collector/migrations"
)

// Errors the store returns; callers compare with errors.Is.
var (
	// ErrUnavailable: the database cannot be reached (down, restarting, refusing
	// connections). The server answers 503 with Retry-After.
	ErrUnavailable = errors.New("database unavailable")
	// ErrNotFound: the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a lock is held by someone else.
	ErrConflict = errors.New("conflict")
	// ErrLockLost: the session that held a lock ended (failover, restart,
	// pg_terminate_backend), so someone else may hold it now. Errors that wrap it
	// wrap ErrUnavailable too.
	ErrLockLost = errors.New("lock lost")
)

// Options tune the pool.
type Options struct {
	// MaxConns bounds the working pool; the default (8) suits many small instances
	// sharing a B1ms server (about 50 connections).
	MaxConns int32
	// LockConns bounds a second pool, of the sessions that hold advisory locks (one per
	// held lock, for the holder's whole call): a lock holder never waits for a working
	// connection behind other holders. Default 4; size it to the locks an instance
	// holds at once.
	LockConns int32
	// LockCheckInterval is how often an otherwise quiet lock session is pinged
	// (default 10 s). A terminated session is noticed at once without it; the ping
	// catches a network path that died without a word.
	LockCheckInterval time.Duration
	// Password, when set, is called before each new connection and its result used as
	// the password (a secret that may rotate).
	Password func(ctx context.Context) (string, error)
	Logger   *slog.Logger
}

// Store is the PostgreSQL store. It connects lazily: New never touches the network,
// and Ready applies the migrations on first use.
type Store struct {
	pool      *pgxpool.Pool
	locks     *pgxpool.Pool // sessions holding advisory locks; see Options.LockConns
	lockCheck time.Duration
	log       *slog.Logger

	mu       sync.Mutex
	migrated bool
}

// New parses the URL and builds the pool without connecting.
func New(databaseURL string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// The parse error may echo the URL (and its password): keep it out.
		return nil, errors.New("DATABASE_URL: cannot be parsed as a PostgreSQL URL")
	}
	cfg.MaxConns = 8
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	cfg.MinConns = 0
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.HealthCheckPeriod = 30 * time.Second
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > 10*time.Second {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	cfg.ConnConfig.RuntimeParams["application_name"] = "metrics-collector"
	if opts.Password != nil {
		cfg.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
			pw, err := opts.Password(ctx)
			if err != nil {
				return fmt.Errorf("database password: %w", err)
			}
			cc.Password = pw
			return nil
		}
	}
	// The lock pool is the working pool's settings (authentication included) with its
	// own bound and name.
	lockCfg := cfg.Copy()
	lockCfg.MaxConns = 4
	if opts.LockConns > 0 {
		lockCfg.MaxConns = opts.LockConns
	}
	lockCfg.ConnConfig.RuntimeParams["application_name"] = "metrics-collector-locks"
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("database pool: %w", err)
	}
	locks, err := pgxpool.NewWithConfig(context.Background(), lockCfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("database lock pool: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lockCheck := opts.LockCheckInterval
	if lockCheck <= 0 {
		lockCheck = 10 * time.Second
	}
	return &Store{pool: pool, locks: locks, lockCheck: lockCheck, log: log}, nil
}

// Close closes both pools.
func (s *Store) Close() {
	s.pool.Close()
	s.locks.Close()
}

// Pool exposes the pool to the store's own tests and benchmarks.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ready makes sure the database is reachable and migrated. It is cheap after the
// first success; a failure is retried on the next call.
func (s *Store) Ready(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.migrated {
		return nil
	}
	if err := s.migrate(ctx); err != nil {
		return err
	}
	s.migrated = true
	s.checkConnectionBudget(ctx)
	return nil
}

// checkConnectionBudget warns when one instance may open more connections than the
// server accepts from non-superusers: calls would then fail to connect under load.
func (s *Store) checkConnectionBudget(ctx context.Context) {
	var available int32
	err := s.pool.QueryRow(ctx, `SELECT current_setting('max_connections')::int
		- current_setting('superuser_reserved_connections')::int`).Scan(&available)
	if err != nil {
		s.log.WarnContext(ctx, "reading max_connections", "error", err.Error())
		return
	}
	want := s.pool.Config().MaxConns + s.locks.Config().MaxConns
	if want > available {
		s.log.WarnContext(ctx, "the database accepts fewer connections than one instance may open",
			"available", available, "working_pool", s.pool.Config().MaxConns, "lock_pool", s.locks.Config().MaxConns)
	}
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return classify(s.pool.Ping(ctx))
}

// migrationLockKey serialises migrations across instances starting at once.
const migrationLockKey = 7_210_431_001

func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return classify(fmt.Errorf("migrate: %w", err))
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLockKey)); err != nil {
		return classify(fmt.Errorf("migrate: lock: %w", err))
	}
	defer func() {
		// Unlock on a fresh context: the caller's may be done.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(migrationLockKey)); err != nil {
			conn.Conn().Close(ctx) // closing the session releases the lock
		}
	}()

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return classify(fmt.Errorf("migrate: %w", err))
	}
	applied := map[int]bool{}
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return classify(fmt.Errorf("migrate: %w", err))
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return classify(fmt.Errorf("migrate: %w", err))
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return classify(fmt.Errorf("migrate: %w", err))
	}

	files, err := migrationFiles()
	if err != nil {
		return err
	}
	for _, f := range files {
		if applied[f.version] {
			continue
		}
		body, err := fs.ReadFile(migrations.FS, f.name)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, f.version, f.name)
			return err
		})
		if err != nil {
			return classify(fmt.Errorf("migrate %s: %w", f.name, err))
		}
		s.log.Info("applied migration", "migration", f.name)
	}
	return nil
}

type migrationFile struct {
	version int
	name    string
}

func migrationFiles() ([]migrationFile, error) {
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var files []migrationFile
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 4 {
			return nil, fmt.Errorf("migrations: %s is not named NNNN_what.sql", name)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations: %s and %s share number %d", other, name, v)
		}
		seen[v] = name
		files = append(files, migrationFile{version: v, name: name})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].version < files[j].version })
	return files, nil
}

// InTx runs fn in one transaction: committed when fn returns nil, rolled back otherwise.
func (s *Store) InTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return classify(pgx.BeginFunc(ctx, s.pool, fn))
}

// classify turns connection-level failures into ErrUnavailable, keeping the cause.
func classify(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	if isUnavailable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

func isUnavailable(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &connectErr):
		return true
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The caller's deadline or cancellation, not the database's fault.
		return false
	case errors.As(err, &pgErr):
		// Class 08: connection exception; 57P01-03: shutdown / cannot connect now.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	case errors.As(err, &netErr):
		return true
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return true
	case pgconn.SafeToRetry(err):
		return true
	}
	return strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "connection refused")
}

// Classify exposes the unavailable-mapping to packages that run their own queries on
// a transaction from InTx.
func Classify(err error) error { return classify(err) }
