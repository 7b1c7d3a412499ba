package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
)

func TestMigrationsConcurrentStart(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.New(url, postgres.Options{})
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			errs[i] = s.Ready(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
	s, err := postgres.New(url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n < 6 {
		t.Errorf("schema_migrations has %d rows, want every migration applied once", n)
	}
}

func TestTryLockConflicts(t *testing.T) {
	s := pgtest.New(t)
	ctx := t.Context()
	l, err := s.TryLock(ctx, "stage:collect_repos:ent1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.TryLock(ctx, "stage:collect_repos:ent1:0"); !errors.Is(err, postgres.ErrConflict) {
		t.Fatalf("second TryLock: got %v, want ErrConflict", err)
	}
	other, err := s.TryLock(ctx, "stage:collect_repos:ent2:0")
	if err != nil {
		t.Fatalf("a different key must not conflict: %v", err)
	}
	other.Release()
	l.Release()
	again, err := s.TryLock(ctx, "stage:collect_repos:ent1:0")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again.Release()
}

func TestUnavailableDatabase(t *testing.T) {
	// Nothing listens on port 1.
	s, err := postgres.New("postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ready(context.Background()); !errors.Is(err, postgres.ErrUnavailable) {
		t.Fatalf("Ready on a closed port: got %v, want ErrUnavailable", err)
	}
}
