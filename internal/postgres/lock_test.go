package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
)

var lockDay = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// TestLocksDoNotDrawOnTheWorkingPool (issue 15 item 1): with every working connection
// taken, locks are still granted, and their holders still write their audit rows —
// in the sessions that hold the locks.
func TestLocksDoNotDrawOnTheWorkingPool(t *testing.T) {
	s, err := postgres.New(pgtest.NewDatabase(t), postgres.Options{MaxConns: 2, LockConns: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	// Without the fix TryLock waits for a working connection: fail instead of stalling.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	var working []*pgxpool.Conn
	for range 2 {
		c, err := s.Pool().Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		working = append(working, c)
	}
	var locks []*postgres.Lock
	for shard := range 3 {
		l, err := s.TryLock(ctx, fmt.Sprintf("stage:collect_repos:ent1:%d", shard))
		if err != nil {
			t.Fatalf("lock %d with the working pool exhausted: %v", shard, err)
		}
		defer l.Release()
		locks = append(locks, l)
	}
	run, err := locks[0].ManualRun(ctx, lockDay)
	if err != nil {
		t.Fatal(err)
	}
	for shard, l := range locks {
		if err := l.MarkInterruptedCalls(ctx, "collect_repos", "ent1", shard); err != nil {
			t.Fatal(err)
		}
		if _, err := l.StartStageCall(ctx, postgres.StageCall{RunID: run.ID, Stage: "collect_repos", EnterpriseID: "ent1", Shard: shard}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range working {
		c.Release()
	}
	calls, err := s.ListStageCalls(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 3 {
		t.Fatalf("%d audit rows, want 3", len(calls))
	}
}

// TestLostLockFencesItsWrites (issue 15 item 2): once the session holding the lock is
// terminated, the next caller gets the lock, and the old holder's writes fail with
// ErrLockLost and change nothing, whether or not it has noticed the loss yet.
func TestLostLockFencesItsWrites(t *testing.T) {
	s := pgtest.New(t)
	ctx := t.Context()
	l, err := s.TryLock(ctx, "orchestrator")
	if err != nil {
		t.Fatal(err)
	}
	run, created, err := l.TimerRun(ctx, lockDay)
	if err != nil || !created {
		t.Fatalf("timer run: %+v %v %v", run, created, err)
	}
	st, err := l.EnsureStep(ctx, run.ID, "collect_repos", "ent1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := pgtest.TerminateLockHolder(ctx, s, "orchestrator"); err != nil {
		t.Fatal(err)
	}

	next, err := s.TryLock(ctx, "orchestrator")
	if err != nil {
		t.Fatalf("the next holder: %v", err)
	}
	defer next.Release()
	mine := st
	mine.Status, mine.Cursor = "running", "next-holder"
	if err := next.SaveStep(ctx, mine); err != nil {
		t.Fatal(err)
	}

	stale := st
	stale.Status, stale.Cursor = "failed", "stale"
	if err := l.SaveStep(ctx, stale); !errors.Is(err, postgres.ErrLockLost) || !errors.Is(err, postgres.ErrUnavailable) {
		t.Fatalf("write after the loss: %v; want ErrLockLost (and ErrUnavailable)", err)
	}
	if err := l.FinishRun(ctx, run.ID, "succeeded", "", nil); !errors.Is(err, postgres.ErrLockLost) {
		t.Fatalf("finish after the loss: %v; want ErrLockLost", err)
	}
	select {
	case <-l.Done():
	default:
		t.Fatal("Done is open after a write failed for the loss")
	}
	steps, err := s.ListSteps(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 1 || steps[0].Cursor != "next-holder" || steps[0].Status != "running" {
		t.Fatalf("steps %+v: the stale holder's write got through", steps)
	}
	if got, _ := s.GetRun(ctx, run.ID); got.Status != "running" {
		t.Fatalf("run %+v: the stale holder finished it", got)
	}
	// Releasing the lost lock is harmless and leaves the next holder's lock alone.
	l.Release()
	l.Release()
	if _, err := s.TryLock(ctx, "orchestrator"); !errors.Is(err, postgres.ErrConflict) {
		t.Fatalf("after the stale holder's Release: %v; want ErrConflict (the next holder still holds it)", err)
	}
}

// TestLockLossIsNoticedWithoutAWrite: a holder that writes nothing learns of the loss
// too, through Done and every context from Guard.
func TestLockLossIsNoticedWithoutAWrite(t *testing.T) {
	s := pgtest.New(t)
	ctx := t.Context()
	l, err := s.TryLock(ctx, "stage:export_csv::0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	guarded, stop := l.Guard(ctx)
	defer stop()
	if err := l.Err(); err != nil {
		t.Fatalf("Err while held: %v", err)
	}
	if err := pgtest.TerminateLockHolder(ctx, s, "stage:export_csv::0"); err != nil {
		t.Fatal(err)
	}
	waitDone(t, guarded.Done(), "the guarded context")
	if cause := context.Cause(guarded); !errors.Is(cause, postgres.ErrLockLost) {
		t.Fatalf("cause %v; want ErrLockLost", cause)
	}
	if !errors.Is(l.Err(), postgres.ErrLockLost) {
		t.Fatalf("Err %v; want ErrLockLost", l.Err())
	}
}

// TestLockLossOnASilentNetwork: when the path to the server dies without a word (no
// FIN, no RST), the quiet session's ping times out and the loss is declared.
func TestLockLossOnASilentNetwork(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFreezingProxy(t, u.Host)
	u.Host = proxy.addr
	s, err := postgres.New(u.String(), postgres.Options{LockCheckInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := t.Context()
	if err := s.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := s.TryLock(ctx, "orchestrator")
	if err != nil {
		t.Fatal(err)
	}
	proxy.freeze()
	waitDone(t, l.Done(), "the lock")
	if !errors.Is(l.Err(), postgres.ErrLockLost) {
		t.Fatalf("Err %v; want ErrLockLost", l.Err())
	}
	l.Release()   // does not hang on the dead path
	proxy.close() // before the store closes: its working connections would wait too
}

// waitDone waits for done; the minute is a guard against a hang, not a measurement.
func waitDone(t *testing.T, done <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("%s did not end after the session was terminated", what)
	}
}

// freezingProxy forwards TCP to the database until frozen; then it swallows every byte
// in both directions and closes nothing, like a network path that died silently.
type freezingProxy struct {
	addr   string
	frozen atomic.Bool
	close  func()
}

func newFreezingProxy(t *testing.T, target string) *freezingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezingProxy{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	closed := false
	var once sync.Once
	p.close = func() {
		once.Do(func() {
			ln.Close()
			mu.Lock()
			closed = true
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
			wg.Wait()
		})
	}
	t.Cleanup(p.close)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				in.Close()
				out.Close()
				continue
			}
			conns = append(conns, in, out)
			wg.Add(2)
			mu.Unlock()
			go func() { defer wg.Done(); p.pipe(out, in) }()
			go func() { defer wg.Done(); p.pipe(in, out) }()
		}
	}()
	return p
}

func (p *freezingProxy) freeze() { p.frozen.Store(true) }

func (p *freezingProxy) pipe(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestReadyWarnsWhenTheServerHasTooFewConnections: an instance whose two pools may
// open more connections than the server accepts says so when it starts.
func TestReadyWarnsWhenTheServerHasTooFewConnections(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	for _, tc := range []struct {
		locks int32
		warn  bool
	}{{4, false}, {10_000, true}} {
		var logs bytes.Buffer
		s, err := postgres.New(dbURL, postgres.Options{LockConns: tc.locks, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Ready(t.Context()); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if got := strings.Contains(logs.String(), "the database accepts fewer connections than one instance may open"); got != tc.warn {
			t.Errorf("lock pool of %d: warned %v, want %v; logs:\n%s", tc.locks, got, tc.warn, logs.String())
		}
	}
}

// TestCallerGivingUpMidStatementKeepsTheLock: a holder whose context is cancelled
// while its write waits lets the write finish; the session, and so the lock, survive
// for the writes it makes next (the orchestrator saves progress after a cancelled call).
func TestCallerGivingUpMidStatementKeepsTheLock(t *testing.T) {
	s := pgtest.New(t)
	ctx := t.Context()
	l, err := s.TryLock(ctx, "orchestrator")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	run, _, err := l.TimerRun(ctx, lockDay)
	if err != nil {
		t.Fatal(err)
	}
	st, err := l.EnsureStep(ctx, run.ID, "collect_repos", "ent1", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Hold the step's row so the lock holder's write waits for it.
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT 1 FROM run_steps WHERE run_id = $1 FOR UPDATE`, run.ID); err != nil {
		t.Fatal(err)
	}
	callCtx, cancel := context.WithCancel(ctx)
	saved := make(chan error, 1)
	st.Cursor = "c1"
	go func() { saved <- l.SaveStep(callCtx, st) }()
	waitForLockWait(t, s)
	cancel()
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-saved; err != nil {
		t.Fatalf("the write the caller gave up on: %v; want it finished", err)
	}
	if err := l.Err(); err != nil {
		t.Fatalf("lock after the cancelled write: %v; want still held", err)
	}
	st.Cursor = "c2"
	if err := l.SaveStep(ctx, st); err != nil {
		t.Fatalf("next write: %v", err)
	}
	if err := l.SaveStep(callCtx, st); !errors.Is(err, context.Canceled) {
		t.Fatalf("a write with a context already done: %v; want it refused with context.Canceled", err)
	}
}

// waitForLockWait waits until a lock session waits for a row lock.
func waitForLockWait(t *testing.T, s *postgres.Store) {
	t.Helper()
	for range 1000 {
		var n int
		if err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = 'metrics-collector-locks' AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the lock holder's write never waited for the row")
}

// SessionEnded is false while a backend lives and true once the server has ended it.
func TestSessionEndedOnceTheServerHasEndedIt(t *testing.T) {
	t.Parallel()
	s := pgtest.New(t)
	lock, err := s.TryLock(t.Context(), "session-ended")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	pid := lock.SessionPID()
	if ended, err := s.SessionEnded(t.Context(), pid); err != nil || ended {
		t.Fatalf("live session %d: ended %v, %v", pid, ended, err)
	}
	if err := pgtest.TerminateLockHolder(t.Context(), s, "session-ended"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ended, err := s.SessionEnded(t.Context(), pid)
		if err != nil {
			t.Fatal(err)
		}
		if ended {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %d still there 10 s after it was terminated", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
