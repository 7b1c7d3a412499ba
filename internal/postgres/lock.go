package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Lock is a held session-level advisory lock (docs/decisions/0004-locks.md).
//
// The session that holds it is a connection of the lock pool, never of the working
// pool, so holders never wait for working connections behind one another. A lock is
// held exactly as long as its session lives: when the session ends (a failover, a
// restart, pg_terminate_backend) PostgreSQL drops the lock and the next caller gets it.
// The Lock notices at once — a watcher waits on the idle session, which the server's
// goodbye wakes, and pings it when it has been quiet for a while — and then ends Done
// and every context from Guard with an error wrapping ErrLockLost.
//
// The run-state writes defined on Lock run in the holding session itself, so they
// succeed only while the lock is held: the session is the fencing token. A holder that
// lost its lock cannot overwrite what the next holder writes, however late it notices.
type Lock struct {
	key   string
	conn  *pgxpool.Conn
	check time.Duration
	pid   uint32 // the holding session's backend

	// held ends when the lock is lost (the cause wraps ErrLockLost) or released.
	held context.Context
	end  context.CancelCauseFunc

	mu       sync.Mutex // one user of the session at a time: a write, or the watcher
	released bool
	stop     context.CancelFunc // stops the watcher; nil while it is not running
	watching chan struct{}      // closed when the watcher has returned
}

// errReleased is the cause of Done after Release.
var errReleased = errors.New("lock released")

// lockPingTimeout bounds the ping of a quiet lock session.
const lockPingTimeout = 5 * time.Second

const sqlTryLock = `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`
const sqlUnlock = `SELECT pg_advisory_unlock(hashtextextended($1, 0))`

// TryLock takes the advisory lock named key without waiting for it, on a session of
// the lock pool (waiting for a free session at most until ctx ends). It returns
// ErrConflict when another session holds the lock.
func (s *Store) TryLock(ctx context.Context, key string) (*Lock, error) {
	conn, err := s.locks.Acquire(ctx)
	if err != nil {
		return nil, classify(fmt.Errorf("lock %s: %w", key, err))
	}
	var ok bool
	if err := conn.QueryRow(ctx, sqlTryLock, key).Scan(&ok); err != nil {
		conn.Release()
		return nil, classify(fmt.Errorf("lock %s: %w", key, err))
	}
	if !ok {
		conn.Release()
		return nil, fmt.Errorf("lock %s: %w", key, ErrConflict)
	}
	l := &Lock{key: key, conn: conn, check: s.lockCheck, pid: conn.Conn().PgConn().PID()}
	l.held, l.end = context.WithCancelCause(context.Background())
	l.watch()
	return l, nil
}

// SessionPID is the server process id of the session that holds (or held) the lock.
func (l *Lock) SessionPID() uint32 { return l.pid }

const sqlSessionEnded = `SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)`

// SessionEnded reports whether the server has finished ending the session of backend
// pid. A terminated session's client learns of the end before the server process has
// exited and dropped its advisory locks: until then the lock it held still looks held,
// by nobody else.
func (s *Store) SessionEnded(ctx context.Context, pid uint32) (bool, error) {
	var ended bool
	if err := s.pool.QueryRow(ctx, sqlSessionEnded, int64(pid)).Scan(&ended); err != nil {
		return false, classify(fmt.Errorf("session %d: %w", pid, err))
	}
	return ended, nil
}

// Done is closed when the lock is no longer held: lost or released.
func (l *Lock) Done() <-chan struct{} { return l.held.Done() }

// Err is nil while the lock is held; after a loss it wraps ErrLockLost (and
// ErrUnavailable); after Release it says so.
func (l *Lock) Err() error { return context.Cause(l.held) }

// Guard returns a context derived from parent that also ends when the lock is no
// longer held, with the loss (ErrLockLost) as its context.Cause. Work that depends on
// the lock runs under it; call stop when the work is done.
func (l *Lock) Guard(parent context.Context) (ctx context.Context, stop context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	unregister := context.AfterFunc(l.held, func() { cancel(context.Cause(l.held)) })
	return ctx, func() {
		unregister()
		cancel(context.Canceled)
	}
}

// Release gives the lock back and returns its session to the lock pool. A failed
// unlock closes the session, which releases the lock too. Safe to call twice and after
// a loss.
func (l *Lock) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return
	}
	l.released = true
	l.stopWatching()
	if !l.conn.Conn().IsClosed() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var unlocked bool
		if l.Err() != nil {
			// Lost while the connection looks open (a silent network): never reuse it.
			_ = l.conn.Conn().Close(ctx)
		} else if err := l.conn.QueryRow(ctx, sqlUnlock, l.key).Scan(&unlocked); err != nil || !unlocked {
			_ = l.conn.Conn().Close(ctx)
		}
		cancel()
	}
	l.end(errReleased)
	l.conn.Release() // the pool drops a closed connection
}

// lockLostError is the cause of a loss.
type lockLostError struct {
	key   string
	cause error
}

func (e *lockLostError) Error() string {
	return fmt.Sprintf("lock %s lost: the session holding it ended (%v)", e.key, e.cause)
}

func (e *lockLostError) Is(target error) bool {
	return target == ErrLockLost || target == ErrUnavailable
}

func (e *lockLostError) Unwrap() error { return e.cause }

func (l *Lock) lose(cause error) {
	if cause == nil {
		cause = errors.New("connection closed")
	}
	l.end(&lockLostError{key: l.key, cause: cause})
}

// watch starts the watcher; the caller holds l.mu (or owns l alone).
func (l *Lock) watch() {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	l.stop, l.watching = stop, done
	go func() {
		defer close(done)
		conn := l.conn.Conn()
		for {
			// An idle session receives nothing until the server says goodbye (a
			// FATAL message, then EOF) — or until the wait is stopped.
			wait, cancel := context.WithTimeout(ctx, l.check)
			err := conn.PgConn().WaitForNotification(wait)
			cancel()
			switch {
			case ctx.Err() != nil:
				return // a write needs the session, or Release
			case err == nil:
				continue // a notification; nothing listens here, but it does no harm
			case !errors.Is(err, context.DeadlineExceeded):
				l.lose(err)
				return
			}
			// Quiet for l.check: a network path can die without a word.
			ping, cancel := context.WithTimeout(context.Background(), lockPingTimeout)
			err = conn.Ping(ping)
			cancel()
			if err != nil {
				l.lose(err)
				return
			}
		}
	}()
}

// stopWatching stops the watcher and waits for it; the caller holds l.mu.
func (l *Lock) stopWatching() {
	if l.stop == nil {
		return
	}
	l.stop()
	<-l.watching
	l.stop, l.watching = nil, nil
}

// sessionStatementTimeout bounds one statement in a lock's session.
const sessionStatementTimeout = 30 * time.Second

// use runs fn on the holding session, alone. It fails with the loss when the lock is
// no longer held, and marks the lock lost when fn leaves the session closed.
//
// fn gets a context that keeps ctx's values and deadline (at most
// sessionStatementTimeout away) but not its cancellation: cancelling a statement
// breaks the connection, and with it the lock, so a caller that gives up mid-statement
// lets the statement finish instead; a caller already done does not start one.
func (l *Lock) use(ctx context.Context, fn func(ctx context.Context, conn *pgx.Conn) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("lock %s: %w", l.key, context.Cause(ctx))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return fmt.Errorf("lock %s: used after release", l.key)
	}
	l.stopWatching()
	if err := l.Err(); err != nil {
		return err
	}
	deadline := time.Now().Add(sessionStatementTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	stmtCtx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	err := fn(stmtCtx, l.conn.Conn())
	cancel()
	if l.conn.Conn().IsClosed() {
		l.lose(err)
		if err != nil {
			return l.Err()
		}
		return nil // the statement completed before the session ended
	}
	l.watch()
	return classify(err)
}

// The run-state writes of the lock holder, in its session (fenced; see Lock).

// TimerRun is Store.TimerRun, fenced by the lock.
func (l *Lock) TimerRun(ctx context.Context, date time.Time) (run Run, created bool, err error) {
	err = l.use(ctx, func(ctx context.Context, c *pgx.Conn) error {
		var e error
		run, created, e = timerRun(ctx, c, date)
		return e
	})
	return run, created, err
}

// SupersedeRunningRuns is Store.SupersedeRunningRuns, fenced by the lock.
func (l *Lock) SupersedeRunningRuns(ctx context.Context, before time.Time, by int64, kinds []string) (runs []SupersededRun, err error) {
	err = l.use(ctx, func(ctx context.Context, c *pgx.Conn) error {
		var e error
		runs, e = supersedeRunningRuns(ctx, c, before, by, kinds)
		return e
	})
	return runs, err
}

// FinishRun is Store.FinishRun, fenced by the lock.
func (l *Lock) FinishRun(ctx context.Context, id int64, status, errorSummary string, warnings []string) error {
	return l.use(ctx, func(ctx context.Context, c *pgx.Conn) error {
		return finishRun(ctx, c, id, status, errorSummary, warnings)
	})
}

// EnsureStep is Store.EnsureStep, fenced by the lock.
func (l *Lock) EnsureStep(ctx context.Context, runID int64, stage, enterpriseID string, shard int) (st Step, err error) {
	err = l.use(ctx, func(ctx context.Context, c *pgx.Conn) error {
		var e error
		st, e = ensureStep(ctx, c, runID, stage, enterpriseID, shard)
		return e
	})
	return st, err
}

// SaveStep is Store.SaveStep, fenced by the lock.
func (l *Lock) SaveStep(ctx context.Context, st Step) error {
	return l.use(ctx, func(ctx context.Context, c *pgx.Conn) error { return saveStep(ctx, c, st) })
}

// ManualRun is Store.ManualRun, fenced by the lock.
func (l *Lock) ManualRun(ctx context.Context, date time.Time) (run Run, err error) {
	err = l.use(ctx, func(ctx context.Context, c *pgx.Conn) error {
		var e error
		run, e = manualRun(ctx, c, date)
		return e
	})
	return run, err
}

// MarkInterruptedCalls is Store.MarkInterruptedCalls, fenced by the lock.
func (l *Lock) MarkInterruptedCalls(ctx context.Context, stage, enterpriseID string, shard int) error {
	return l.use(ctx, func(ctx context.Context, c *pgx.Conn) error {
		return markInterruptedCalls(ctx, c, stage, enterpriseID, shard)
	})
}

// StartStageCall is Store.StartStageCall, fenced by the lock.
func (l *Lock) StartStageCall(ctx context.Context, call StageCall) (started StageCall, err error) {
	err = l.use(ctx, func(ctx context.Context, c *pgx.Conn) error {
		var e error
		started, e = startStageCall(ctx, c, call)
		return e
	})
	return started, err
}
