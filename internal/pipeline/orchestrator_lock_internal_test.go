package pipeline

import (
	"errors"
	"testing"
	"time"

	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
)

// After a loss the orchestrator takes its lock again. A terminated session's client
// hears of the end before the server process has exited and dropped the lock: while
// the lost session is still there, its lock is waited for, not taken for another
// invocation's (which ended the invocation with "another orchestrator invocation took
// the run over" although nobody had). A lock held by any other session is left alone.
func TestOrchestratorRetakesALockItsLostSessionStillHolds(t *testing.T) {
	t.Parallel()
	store := pgtest.New(t)
	o := NewOrchestrator(OrchestratorOptions{Store: store, BackoffBase: 20 * time.Millisecond, Retries: 6})
	deadline := time.Now().Add(time.Minute)

	// The session that holds the lock, standing for the one that was lost but has not
	// ended yet.
	held, err := store.TryLock(t.Context(), OrchestratorLockKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(held.Release) // also when the test fails first (Release is idempotent)
	time.AfterFunc(100*time.Millisecond, held.Release)
	start := time.Now()
	lock, err := o.lock(t.Context(), true, held.SessionPID(), deadline)
	if err != nil {
		t.Fatalf("retaking a lock its lost session held: %v; want it once that session let go", err)
	}
	lock.Release()
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("took the lock after %s, before its holder let go", waited)
	}

	// Held by a session other than the lost one: another invocation's, at once.
	other, err := store.TryLock(t.Context(), OrchestratorLockKey)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release()
	lost := uint32(1 << 30) // no backend has this pid
	if _, err := o.lock(t.Context(), true, lost, deadline); !errors.Is(err, postgres.ErrConflict) {
		t.Fatalf("lock held by another session: %v, want ErrConflict", err)
	}
}
