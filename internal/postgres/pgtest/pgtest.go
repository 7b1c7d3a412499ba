// Package pgtest gives each test a fresh, migrated PostgreSQL database.
//
// The server comes from TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres). Without a reachable server the test is
// skipped locally and fails in CI (CI=true), so CI can never pass without the database.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"metrics-collector/internal/postgres"
)

// DefaultURL is the server tests use when TEST_DATABASE_URL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL is the admin URL of the test server.
func ServerURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// NewDatabase creates an empty database for this test, dropped when the test ends, and
// returns its URL. Nothing is migrated.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := ServerURL()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required in CI and is not reachable at %s: %v", redact(admin), err)
		}
		t.Skipf("PostgreSQL not reachable at %s (set TEST_DATABASE_URL): %v", redact(admin), err)
	}
	defer conn.Close(context.Background())

	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "mc_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("drop test database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// New returns a store on a fresh, migrated database, closed when the test ends.
func New(t testing.TB) *postgres.Store {
	t.Helper()
	s, err := postgres.New(NewDatabase(t), postgres.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(s.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

// TerminateLockHolder ends the database session that holds the advisory lock key (as
// the store names its locks), the way a failover or an administrator would, and waits
// until the session is gone, so the lock is free when it returns. It is an error
// unless exactly one session held the lock. Safe to call from any goroutine.
func TerminateLockHolder(ctx context.Context, s *postgres.Store, key string) error {
	rows, err := s.Pool().Query(ctx, `
SELECT pg_terminate_backend(pid, 20000) FROM pg_locks
WHERE locktype = 'advisory' AND granted AND objsubid = 1
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)`, key)
	if err != nil {
		return fmt.Errorf("terminate the holder of lock %s: %w", key, err)
	}
	terminated, err := pgx.CollectRows(rows, pgx.RowTo[bool])
	if err != nil {
		return fmt.Errorf("terminate the holder of lock %s: %w", key, err)
	}
	if len(terminated) != 1 || !terminated[0] {
		return fmt.Errorf("terminate the holder of lock %s: %v; want exactly one session terminated", key, terminated)
	}
	return nil
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	return strings.TrimSpace(u.String())
}
