package main

import (
	"context"
	"testing"
	"time"
)

// instantClock is a GitHub clock whose waits return at once: injected rate limits
// and retries cost no real time, and the simulated world does not move.
type instantClock struct{ now func() time.Time }

func (c instantClock) Now() time.Time { return c.now() }

func (c instantClock) Sleep(ctx context.Context, d time.Duration) error { return ctx.Err() }

func TestInProcessRunOnFixedClock(t *testing.T) {
	fixed := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	settings, _, _ := simSettings(t, fixed)
	start := time.Now()
	now := func() time.Time { return fixed.Add(time.Since(start)) }
	p := startInProcess(t, settings, hooks{now: now, githubClock: instantClock{now: now}})
	run := runToEnd(t, p.base)
	if run.Status != "succeeded" {
		t.Fatalf("run %+v", run)
	}
	files := readExports(t, settings["EXPORT_DIR"])
	if _, ok := files["archive/2026-11-26/dora_metrics_20261126.csv"]; !ok {
		t.Errorf("export files %v: want the fixed clock's date in the names", keys(files))
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
