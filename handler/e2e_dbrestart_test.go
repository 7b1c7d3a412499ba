package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"metrics-collector/internal/pgcluster"
)

// TestE2EDatabaseRestarts restarts PostgreSQL under a running daily job, on a
// throw-away cluster (the shared test server is never touched), once the simulator has
// served a third of the run's GitHub requests — in the middle of the collection.
//
// The orchestrator's retry waits are real (the outage is), capped at 2 s instead of the
// Retry-After of 30 s so the test stays short: a retry still happens after the database
// had time to come back from a short restart, and a long outage still outlasts all three.
func TestE2EDatabaseRestarts(t *testing.T) {
	cluster, err := pgcluster.Start(t.Context(), t.TempDir())
	if err != nil {
		if strings.Contains(err.Error(), "not found") && os.Getenv("CI") != "true" {
			t.Skipf("no PostgreSQL server binaries for a throw-away cluster: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Destroy() })

	cleanSettings, _, cleanSim := e2eWorld(t, e2eDay)
	clean := startE2E(t, cleanSettings)
	if run := runToEnd(t, clean.base); run.Status != "succeeded" {
		t.Fatalf("clean run ended %s: %s", run.Status, run.ErrorSummary)
	}
	clean.stop()
	cleanRequests := len(cleanSim.Requests())
	wantRows := rowCounts(t, cleanSettings["DATABASE_URL"])

	t.Run("a short restart is ridden out by retries", func(t *testing.T) {
		settings, p, restarted := runWithRestart(t, cluster, "short_restart", cleanRequests/3, 2*time.Second)
		ans := fireTimer(t, p.base, envelopeFirstRun)
		if err := <-restarted; err != nil {
			t.Fatalf("restart: %v", err)
		}
		run := latestRun(t, p.base)
		if ans.Status != http.StatusOK || run.Status != "succeeded" {
			t.Fatalf("run across a 2 s restart: timer %d, run %s: %s; want it to succeed on retries (logs %v)",
				ans.Status, run.Status, run.ErrorSummary, ans.Logs)
		}
		// The restart hit the run: some stage call failed and was retried, or the
		// restart ended the session holding the orchestrator's lock, which stopped the
		// calls under it and took the lock again (decision 0004).
		retried := retriedSteps(t, p.base, run.ID)
		relocked := strings.Contains(strings.Join(ans.Logs, "\n"), "lock was lost")
		t.Logf("steps retried: %v; orchestrator lock lost and taken again: %v", retried, relocked)
		if len(retried) == 0 && !relocked {
			t.Error("no step was retried and the lock was not lost: the restart did not hit the run")
		}
		p.stop()
		compareWithGoldenOnly(t, readExports(t, settings["EXPORT_DIR"]))
		checkNoLitter(t, settings["EXPORT_DIR"])
		compareRowCounts(t, wantRows, rowCounts(t, settings["DATABASE_URL"]))
	})

	t.Run("a long outage fails the run, the next invocation completes it", func(t *testing.T) {
		settings, p, restarted := runWithRestart(t, cluster, "long_outage", cleanRequests/3, 30*time.Second)
		ans := fireTimer(t, p.base, envelopeFirstRun)
		if err := <-restarted; err != nil {
			t.Fatalf("restart: %v", err)
		}
		run := latestRun(t, p.base)
		t.Logf("during the outage the timer answered %d %v; the run is %s: %s", ans.Status, ans.Logs, run.Status, run.ErrorSummary)
		switch {
		case run.Status == "running":
			// Not even the failure could be written: the host was told so and the run
			// stays resumable.
			if ans.Status != http.StatusServiceUnavailable {
				t.Errorf("timer answered %d while the database was down; want 503 so the host retries", ans.Status)
			}
			if run = runToEnd(t, p.base); run.Status != "succeeded" {
				t.Fatalf("the next invocation ended the run %s: %s", run.Status, run.ErrorSummary)
			}
		case run.Status == "failed" || run.Status == "partial":
			if !strings.Contains(run.ErrorSummary, "database unavailable") {
				t.Errorf("run %s with summary %q; want the reason (database unavailable) recorded", run.Status, run.ErrorSummary)
			}
			// A finished run of the day is not redone by the timer; the operator's manual
			// run of every stage completes the data.
			runStagesByHand(t, p.base, []string{"ent1", "ent2"})
		default:
			t.Fatalf("a run across a 30 s outage ended %s; want failed, partial or still running", run.Status)
		}
		p.stop()
		compareWithGoldenOnly(t, readExports(t, settings["EXPORT_DIR"]))
		checkNoLitter(t, settings["EXPORT_DIR"])
		compareRowCounts(t, wantRows, rowCounts(t, settings["DATABASE_URL"]))
	})
}

// runWithRestart serves e2eWorld's world on a fresh database of the cluster and arms a
// restart of the cluster (down for down) for when the simulator has served after
// requests. The restart's outcome arrives on the channel.
func runWithRestart(t *testing.T, cluster *pgcluster.Cluster, dbName string, after int, down time.Duration) (map[string]string, *inproc, <-chan error) {
	t.Helper()
	admin := connect(t, cluster.URL())
	if _, err := admin.Exec(t.Context(), "CREATE DATABASE "+pgx.Identifier{dbName}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	settings, _, sim := e2eWorld(t, e2eDay)
	settings["DATABASE_URL"] = strings.Replace(cluster.URL(), "/postgres?", "/"+dbName+"?", 1)
	now := serviceClock(e2eDay)
	p := startInProcess(t, settings, hooks{now: now, githubClock: instantClock{now: now}, orchestratorSleep: cappedSleep(2 * time.Second)})

	restarted := make(chan error, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	go func() {
		defer cancel()
		for len(sim.Requests()) < after {
			if ctx.Err() != nil {
				restarted <- errors.New("the run never reached the restart point")
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		err := cluster.Restart(ctx, down)
		if err != nil {
			err = fmt.Errorf("after %d requests: %w", after, err)
		}
		restarted <- err
	}()
	return settings, p, restarted
}

// retriedSteps lists the steps of a run that needed more than one attempt.
func retriedSteps(t *testing.T, base string, runID int64) []string {
	t.Helper()
	var detail struct {
		Steps []struct {
			Stage      string `json:"stage"`
			Enterprise string `json:"enterprise"`
			Attempts   int    `json:"attempts"`
		} `json:"steps"`
	}
	getJSON(t, fmt.Sprintf("%s/api/runs/%d", base, runID), &detail)
	var out []string
	for _, s := range detail.Steps {
		if s.Attempts > 0 {
			out = append(out, fmt.Sprintf("%s[%s]×%d", s.Stage, s.Enterprise, s.Attempts))
		}
	}
	return out
}

// cappedSleep waits for real, at most limit.
func cappedSleep(limit time.Duration) func(context.Context, time.Duration) error {
	return func(ctx context.Context, d time.Duration) error {
		timer := time.NewTimer(min(d, limit))
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return nil
		}
	}
}
