package pipeline

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// StepPruneData is the orchestrator's own last step of the daily run: collected data
// older than the retention window is deleted. It is not a stage route: the orchestrator
// runs it against the store directly, in bounded batches, and records it in run_steps
// like the stages (records = rows deleted; the per-table counts are in the run's logs).
const StepPruneData = "prune_data"

// DefaultPruneBatch bounds each delete statement (rows of the pruned table).
const DefaultPruneBatch = 5000

// pruneMargin is how much of the orchestrator's budget a prune batch may not use: a
// batch is started only with more than this left, and is cut off this long before the
// deadline.
const pruneMargin = 15 * time.Second

// Pruner deletes collected data older than a cutoff, one bounded batch at a time.
type Pruner interface {
	PruneTables() []string
	PruneBatch(ctx context.Context, table string, cutoff time.Time, limit int) (deleted map[string]int64, done bool, err error)
}

// prune runs the retention step: every table, batch after batch, until each is done or
// the budget is near. A step cut short stays running with the table it was pruning as
// its cursor; the next invocation of the same run continues at that table, and the
// count adds up.
func (w *work) prune(ctx context.Context, date time.Time) {
	o := w.o
	st, err := w.db.EnsureStep(ctx, w.runID, StepPruneData, "", 0)
	if err != nil {
		w.failNoStore(StepPruneData, "", 0, err)
		return
	}
	if st.Final() {
		w.logf("%s already %s", stepName(st), st.Status)
		w.record(st, nil)
		return
	}
	cutoff := date.AddDate(0, 0, -o.opts.RetentionDays)
	limit := o.opts.PruneBatch
	if limit < 1 {
		limit = DefaultPruneBatch
	}
	st.Status = "running"
	st.Calls++
	counts := map[string]int64{}
	report := func() string {
		var parts []string
		for table, n := range counts {
			if n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", table, n))
			}
		}
		sort.Strings(parts)
		if len(parts) == 0 {
			return "nothing to prune"
		}
		return strings.Join(parts, ", ")
	}
	tables := o.opts.Pruner.PruneTables()
	if i := slices.Index(tables, st.Cursor); i > 0 {
		tables = tables[i:] // resume at the table the last invocation was pruning
	}
	for _, table := range tables {
		st.Cursor = table
		for done := false; !done; {
			if ctx.Err() != nil {
				return
			}
			remaining := w.deadline.Sub(o.opts.Clock.Now())
			if remaining <= pruneMargin {
				w.save(ctx, st)
				w.pause()
				w.logf("%s paused with %d rows deleted so far (%s); the next invocation continues", stepName(st), st.Records, report())
				return
			}
			// The deadline is on the orchestrator's clock; the batch gets the time left.
			batchCtx, cancel := context.WithTimeout(ctx, remaining-pruneMargin/3)
			deleted, d, err := o.opts.Pruner.PruneBatch(batchCtx, table, cutoff, limit)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				st.Attempts++
				st.Status, st.Error = StatusFailed, err.Error()
				w.save(ctx, st)
				w.logf("%s failed after %d rows deleted (%s): %v", stepName(st), st.Records, report(), err)
				w.record(st, nil)
				return
			}
			done = d
			for k, n := range deleted {
				counts[k] += n
				st.Records += n
			}
		}
	}
	st.Status, st.Error, st.Cursor = StatusSucceeded, "", ""
	w.save(ctx, st)
	w.logf("%s succeeded: %d rows older than %s deleted in %d invocation(s) (in this one: %s)",
		stepName(st), st.Records, cutoff.Format(time.DateOnly), st.Calls, report())
	o.log.InfoContext(ctx, "pruned collected data", "run_id", w.runID, "cutoff", cutoff.Format(time.DateOnly),
		"retention_days", o.opts.RetentionDays, "rows", st.Records, "tables", report())
	w.record(st, nil)
}

func (w *work) pause() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.paused = true
}
