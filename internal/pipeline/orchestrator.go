package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/csvexport"
	"metrics-collector/internal/postgres"
)

// RunStore is what the orchestrator needs of the store: its lock, and one read that
// tells whether the date's run has finished. Every run-state write goes through the
// lock (runSession), in the session that holds it.
type RunStore interface {
	TryLock(ctx context.Context, key string) (*postgres.Lock, error)
	// SessionEnded reports whether the server has finished ending a lost lock's
	// session (Lock.SessionPID): until then the lock still looks held.
	SessionEnded(ctx context.Context, pid uint32) (bool, error)
	// TimerRunStatus reads the timer run of a UTC date, if there is one: the only
	// database work of an invocation after the date's run has finished.
	TimerRunStatus(ctx context.Context, date time.Time) (postgres.Run, bool, error)
}

// runSession is the orchestrator's run state, written in the session that holds its
// lock (*postgres.Lock): a write after the lock was lost fails.
type runSession interface {
	TimerRun(ctx context.Context, date time.Time) (postgres.Run, bool, error)
	SupersedeRunningRuns(ctx context.Context, before time.Time, by int64, kinds []string) ([]postgres.SupersededRun, error)
	EnsureStep(ctx context.Context, runID int64, stage, enterpriseID string, shard int) (postgres.Step, error)
	SaveStep(ctx context.Context, st postgres.Step) error
	FinishRun(ctx context.Context, id int64, status, errorSummary string, warnings []string) error
}

// writeTimeout bounds a run-state write that must outlive the invocation's context.
const writeTimeout = 30 * time.Second

// OrchestratorLockKey names the advisory lock one orchestrator invocation holds at a
// time.
const OrchestratorLockKey = "orchestrator"

// StageCaller calls one stage route and returns its decoded answer.
type StageCaller interface {
	Call(ctx context.Context, stage string, body StageCallBody) (StageCallResponse, error)
}

// Events receives the orchestrator's telemetry.
type Events interface {
	Event(name string, props map[string]string, measurements map[string]float64)
}

// Clock gives the time and waits; tests replace it so nothing sleeps for real.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns the current UTC time.
func (RealClock) Now() time.Time { return time.Now().UTC() }

// Sleep waits d or until ctx ends.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// OrchestratorOptions configure the daily run.
type OrchestratorOptions struct {
	Store       RunStore
	Caller      StageCaller
	Enterprises []config.Enterprise
	Clock       Clock
	Events      Events
	Log         *slog.Logger
	// Budget is the orchestrator's own time limit per invocation; it must stay under
	// the host's functionTimeout. The run stays resumable when it runs out.
	Budget time.Duration
	// StageBudget is the budget_seconds sent with each stage call.
	StageBudget time.Duration
	// Parallelism bounds how many enterprises are worked on at once.
	Parallelism int
	// Retries is how many times a retryable stage failure is retried (default 3).
	Retries int
	// BackoffBase is the first retry's wait (default 2 s), doubled each time, with jitter.
	BackoffBase time.Duration
	// Pruner, when set, deletes collected data older than RetentionDays (default
	// config.DefaultRetentionDays) as the run's last step, StepPruneData, in batches of
	// PruneBatch rows (default DefaultPruneBatch).
	Pruner        Pruner
	RetentionDays int
	PruneBatch    int
}

// Orchestrator runs the daily plan: per enterprise (in parallel, bounded)
// collect_copilot then calculate_copilot, and beside them collect_repos (fanned out
// over shards) then calculate_dora and calculate_velocity (after both collections:
// velocity reads the per-user Copilot rows too). Beside them, deliveries: as soon as
// the sources of some file kinds are collected and calculated for every enterprise
// (csvexport.Spec.Needs), export_csv writes those kinds and upload_sharepoint delivers
// them — the Copilot files while a repository back-fill still runs. Once everything is
// delivered, the retention step (prune_data).
type Orchestrator struct {
	opts OrchestratorOptions
	log  *slog.Logger
}

// NewOrchestrator builds an orchestrator; unset options get their defaults.
func NewOrchestrator(opts OrchestratorOptions) *Orchestrator {
	if opts.Clock == nil {
		opts.Clock = RealClock{}
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Parallelism < 1 {
		opts.Parallelism = 1
	}
	if opts.Retries == 0 {
		opts.Retries = 3
	}
	if opts.BackoffBase == 0 {
		opts.BackoffBase = 2 * time.Second
	}
	if opts.Budget == 0 {
		opts.Budget = config.DefaultOrchestratorBudget
	}
	if opts.StageBudget == 0 {
		opts.StageBudget = config.DefaultStageBudget
	}
	if opts.RetentionDays < 1 {
		opts.RetentionDays = config.DefaultRetentionDays
	}
	return &Orchestrator{opts: opts, log: opts.Log}
}

// RunSummary is what one orchestrator invocation did.
type RunSummary struct {
	RunID    int64
	Status   string // the run's status after this invocation ("running" when paused)
	Resumed  bool   // the run existed before this invocation
	Logs     []string
	Finished bool
}

// Run creates or resumes the timer run of now's UTC date and works the plan until it
// is done or the budget runs out. It holds the orchestrator lock throughout: an
// invocation that overlaps another does nothing.
//
// When the lock is lost (the session holding it ended: a failover, a restart), the
// work that depended on it stops at once — the stage calls in flight are abandoned and
// run-state writes fail — and Run tries to take the lock again, as a new invocation
// would (waiting with the retry backoff while the database comes back). Holding it, it
// resumes the run from what was saved; finding it held by another invocation, it
// leaves the run to that one. After Retries losses, or when the lock cannot be had
// again, it returns the loss (an error wrapping postgres.ErrLockLost) and the next
// invocation resumes the run.
func (o *Orchestrator) Run(ctx context.Context) (sum RunSummary, err error) {
	// The per-enterprise goroutines log at once: lines go through a lock and are copied
	// into the summary when Run returns.
	var lines runLog
	logf := lines.add
	defer func() { sum.Logs = lines.all() }()

	start := o.opts.Clock.Now()
	// After the date's run has finished, every further invocation of the schedule
	// costs this one read: no lock, no write.
	date := start.UTC().Truncate(24 * time.Hour)
	if run, ok, err := o.opts.Store.TimerRunStatus(ctx, date); err != nil {
		return sum, err
	} else if ok && run.Finished() {
		logf("run %d for %s already finished (%s); nothing to do", run.ID, date.Format(time.DateOnly), run.Status)
		return RunSummary{RunID: run.ID, Resumed: true, Status: run.Status, Finished: true}, nil
	}
	var lostSession uint32 // after a loss: the session that held the lock
	for losses := 0; ; losses++ {
		lock, err := o.lock(ctx, losses > 0, lostSession, start.Add(o.opts.Budget))
		if errors.Is(err, postgres.ErrConflict) {
			if losses == 0 {
				o.log.InfoContext(ctx, "another orchestrator invocation is running; nothing to do")
				logf("another orchestrator invocation is working on the run; nothing to do")
			} else {
				o.log.InfoContext(ctx, "another orchestrator invocation took the run over")
				logf("another orchestrator invocation took the run over; this one stops")
			}
			return sum, nil
		}
		if err != nil {
			return sum, err
		}
		sum, err = o.runLocked(ctx, lock, start, logf)
		lock.Release()
		lostSession = lock.SessionPID()
		if !errors.Is(err, postgres.ErrLockLost) {
			return sum, err
		}
		o.log.WarnContext(ctx, "orchestrator lock lost; the work under it stopped", "run_id", sum.RunID, "error", err.Error())
		logf("the orchestrator lock was lost (%v); the stage calls under it were stopped", err)
		if losses >= o.opts.Retries || ctx.Err() != nil {
			logf("run %d stays open; the next invocation resumes it", sum.RunID)
			return sum, err
		}
	}
}

// lock takes the orchestrator lock. After a loss (again) the database may still be
// coming back, and the lost session may not have ended on the server yet, its lock
// still looking held: both are retried with the stage-call backoff while the budget
// lasts. A lock held by any other session is another invocation's.
func (o *Orchestrator) lock(ctx context.Context, again bool, lostSession uint32, deadline time.Time) (*postgres.Lock, error) {
	for failures := 1; ; failures++ {
		lock, err := o.opts.Store.TryLock(ctx, OrchestratorLockKey)
		if err == nil || !again || failures > o.opts.Retries {
			return lock, err
		}
		switch {
		case errors.Is(err, postgres.ErrConflict):
			ended, checkErr := o.opts.Store.SessionEnded(ctx, lostSession)
			if checkErr == nil && ended {
				return nil, err // held by another session
			}
			// The lost session is still ending (or the check failed: the database is
			// coming back); its lock goes with it.
		case !errors.Is(err, postgres.ErrUnavailable):
			return nil, err
		}
		wait := backoff(o.opts.BackoffBase, failures)
		if o.opts.Clock.Now().Add(wait).After(deadline) {
			return nil, err
		}
		o.log.WarnContext(ctx, "orchestrator lock: not available again yet; retrying", "attempt", failures, "wait", wait.String(), "error", err.Error())
		if err := o.opts.Clock.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// runLocked works the run while lock is held: under its guard, with every run-state
// write in its session.
func (o *Orchestrator) runLocked(ctx context.Context, lock *postgres.Lock, start time.Time, logf func(string, ...any)) (RunSummary, error) {
	ctx, stop := lock.Guard(ctx)
	defer stop()
	sum, err := o.run(ctx, lock, start, logf)
	if lost := lock.Err(); errors.Is(lost, postgres.ErrLockLost) && !sum.Finished {
		sum.Status = "running"
		return sum, lost
	}
	return sum, err
}

func (o *Orchestrator) run(ctx context.Context, db runSession, start time.Time, logf func(string, ...any)) (RunSummary, error) {
	deadline := start.Add(o.opts.Budget)
	date := start.UTC().Truncate(24 * time.Hour)

	run, created, err := db.TimerRun(ctx, date)
	if err != nil {
		return RunSummary{}, err
	}
	sum := RunSummary{RunID: run.ID, Resumed: !created, Status: run.Status}
	if run.Finished() {
		logf("run %d for %s already finished (%s); nothing to do", run.ID, date.Format(time.DateOnly), run.Status)
		sum.Finished = true
		return sum, nil
	}
	if created {
		old, err := db.SupersedeRunningRuns(ctx, date, run.ID, allKinds())
		if err != nil {
			return sum, err
		}
		for _, r := range old {
			// A run that could not finish its date still delivered what was complete;
			// its summary says what, and RunFinished carries it to the alerts.
			logf("closed run %d of %s, which did not finish: %s (%s)", r.ID, r.RunDate.Format(time.DateOnly), r.Status, r.Summary)
			o.event("RunFinished", map[string]string{
				"run_id": fmt.Sprint(r.ID), "trigger": "timer", "run_date": r.RunDate.Format(time.DateOnly),
				"status": r.Status, "error": r.Summary,
			}, nil)
		}
		logf("run %d for %s started", run.ID, date.Format(time.DateOnly))
	} else {
		logf("run %d for %s resumed", run.ID, date.Format(time.DateOnly))
	}
	o.event("RunStarted", map[string]string{"run_id": fmt.Sprint(run.ID), "trigger": "timer", "run_date": date.Format(time.DateOnly)}, nil)

	w := newWork(o, db, run.ID, date, deadline, logf)
	w.runPlan(ctx)

	if w.paused {
		logf("run %d paused: the orchestrator budget (%s) was reached; the next invocation resumes it (%s)", run.ID, o.opts.Budget, w.deliveryState())
		sum.Status = "running"
		return sum, nil
	}
	if ctx.Err() != nil {
		return sum, context.Cause(ctx)
	}
	status, summary := w.outcome()
	finishCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	if err := db.FinishRun(finishCtx, run.ID, status, summary, w.warnings); err != nil {
		return sum, err
	}
	sum.Status, sum.Finished = status, true
	logf("run %d finished: %s in %s", run.ID, status, o.opts.Clock.Now().Sub(start).Round(time.Millisecond))
	if summary != "" {
		logf("problems: %s", summary)
	}
	o.event("RunFinished", map[string]string{
		"run_id": fmt.Sprint(run.ID), "trigger": "timer", "run_date": date.Format(time.DateOnly),
		"status": status, "error": summary,
	}, map[string]float64{"duration_s": o.opts.Clock.Now().Sub(start).Seconds()})
	return sum, nil
}

func (o *Orchestrator) event(name string, props map[string]string, m map[string]float64) {
	if o.opts.Events != nil {
		o.opts.Events.Event(name, props, m)
	}
}

// runLog collects an invocation's log lines; safe for concurrent use.
type runLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *runLog) add(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

func (l *runLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// work is one invocation's progress through the plan.
type work struct {
	o        *Orchestrator
	db       runSession
	runID    int64
	date     time.Time // the run's UTC date
	deadline time.Time
	logf     func(string, ...any)

	mu       sync.Mutex
	results  []postgres.Step
	warnings []string
	paused   bool
	// sources records, per source, the enterprises whose collection of it is final in
	// this run; changed is signalled (without blocking) whenever one becomes final.
	sources   map[csvexport.Source]map[string]bool
	changed   chan struct{}
	delivered map[string]bool // file kinds exported in this run
}

func newWork(o *Orchestrator, db runSession, runID int64, date, deadline time.Time, logf func(string, ...any)) *work {
	w := &work{o: o, db: db, runID: runID, date: date, deadline: deadline, logf: logf,
		sources: map[csvexport.Source]map[string]bool{}, changed: make(chan struct{}, 1), delivered: map[string]bool{}}
	for _, src := range csvexport.AllSources() {
		w.sources[src] = map[string]bool{}
	}
	return w
}

func (w *work) runPlan(ctx context.Context) {
	ents := w.o.opts.Enterprises
	sem := make(chan struct{}, w.o.opts.Parallelism)
	collected := make(chan struct{})
	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		w.deliver(ctx, collected)
	}()
	var wg sync.WaitGroup
	for _, e := range ents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			w.runEnterprise(ctx, e)
		}()
	}
	wg.Wait()
	close(collected)
	<-delivered
	if w.o.opts.Pruner == nil || w.isPaused() || ctx.Err() != nil || len(w.completeSources()) < len(csvexport.AllSources()) {
		return
	}
	w.prune(ctx, w.date)
}

// sourceFinal records that an enterprise's collection of src is final in this run
// (succeeded, partial, failed or skipped) and wakes the deliveries.
func (w *work) sourceFinal(src csvexport.Source, enterpriseID string) {
	w.mu.Lock()
	w.sources[src][enterpriseID] = true
	w.mu.Unlock()
	select {
	case w.changed <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// completeSources are the sources final for every enterprise, in AllSources order.
func (w *work) completeSources() []csvexport.Source {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []csvexport.Source
	for _, src := range csvexport.AllSources() {
		all := true
		for _, e := range w.o.opts.Enterprises {
			all = all && w.sources[src][e.ID]
		}
		if all {
			out = append(out, src)
		}
	}
	return out
}

// deliver runs a delivery round each time more sources are final for every
// enterprise, until collection has ended (collected closes) and the last round ran.
// Round n is the delivery with n sources complete: its export_csv and
// upload_sharepoint steps are shard n of those stages. A round exports every kind
// whose sources are complete, so the last round also rewrites the earlier rounds'
// files (the same bytes unless their data changed; the upload skips unchanged files).
func (w *work) deliver(ctx context.Context, collected <-chan struct{}) {
	last := 0
	for {
		ended := false
		select {
		case <-w.changed:
		case <-collected:
			ended = true
		case <-ctx.Done():
			return
		}
		if w.isPaused() {
			return // the budget is spent: a round would stop at once
		}
		if complete := w.completeSources(); len(complete) > last {
			last = len(complete)
			w.deliveryRound(ctx, last, complete)
		}
		if ended {
			return
		}
	}
}

// deliveryRound exports the kinds whose sources are complete and uploads them.
func (w *work) deliveryRound(ctx context.Context, round int, complete []csvexport.Source) {
	var kinds, waiting []string
	for _, spec := range csvexport.Specs() {
		if covered(spec.Needs(), complete) {
			kinds = append(kinds, spec.Kind)
		} else {
			waiting = append(waiting, spec.Kind)
		}
	}
	if len(kinds) == 0 {
		return
	}
	export, exported := w.stepWorked(ctx, stepCall{stage: StageExportCSV, shard: round, shards: 1, kinds: kinds})
	if !export.Final() {
		return // paused (the budget) or stopped: the next invocation resumes the round
	}
	if export.Status == StatusFailed {
		// Nothing new to deliver; upload still runs so files a previous run failed to
		// upload are delivered.
		w.logf("%s failed; uploading what earlier exports wrote", stepName(export))
	} else {
		w.mu.Lock()
		for _, k := range kinds {
			w.delivered[k] = true
		}
		w.mu.Unlock()
	}
	upload, uploaded := w.stepWorked(ctx, stepCall{stage: StageUploadSharePoint, shard: round, shards: 1})
	if !upload.Final() || !exported && !uploaded {
		return // paused or stopped, or delivered by an earlier invocation
	}
	w.logf("delivery round %d: %s exported (%s), upload %s; waiting for their collection: %s",
		round, strings.Join(kinds, ", "), export.Status, upload.Status, orNone(waiting))
	w.o.event("DatasetsDelivered", map[string]string{
		"run_id": fmt.Sprint(w.runID), "run_date": w.date.Format(time.DateOnly), "round": fmt.Sprint(round),
		"kinds": strings.Join(kinds, ","), "pending": strings.Join(waiting, ","),
		"export_status": export.Status, "upload_status": upload.Status,
	}, map[string]float64{"kinds": float64(len(kinds))})
}

// deliveryState says which kinds this run delivered so far and which wait.
func (w *work) deliveryState() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var done, waiting []string
	for _, spec := range csvexport.Specs() {
		if w.delivered[spec.Kind] {
			done = append(done, spec.Kind)
		} else {
			waiting = append(waiting, spec.Kind)
		}
	}
	return "delivered so far: " + orNone(done) + "; still waiting for their collection: " + orNone(waiting)
}

func covered(needs, complete []csvexport.Source) bool {
	for _, n := range needs {
		if !slices.Contains(complete, n) {
			return false
		}
	}
	return true
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

// allKinds is every data file kind of an export.
func allKinds() []string {
	var kinds []string
	for _, spec := range csvexport.Specs() {
		kinds = append(kinds, spec.Kind)
	}
	return kinds
}

func (w *work) runEnterprise(ctx context.Context, e config.Enterprise) {
	shards := max(e.RepoShards, 1)
	var wg sync.WaitGroup
	repoSteps := make([]postgres.Step, shards)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if w.runCopilot(ctx, e) {
			w.sourceFinal(csvexport.SourceCopilot, e.ID)
		}
	}()
	for s := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			repoSteps[s] = w.step(ctx, stepCall{stage: StageCollectRepos, enterpriseID: e.ID, shard: s, shards: shards})
		}()
	}
	wg.Wait()
	if w.isPaused() {
		return
	}
	for _, st := range repoSteps {
		if st.Status == "failed" {
			// Metrics from half-collected repository data would be published as if
			// complete; keep last run's figures instead.
			for _, stage := range []string{StageCalculateDORA, StageCalculateVelocity} {
				w.skip(ctx, stage, e.ID, "collect_repos failed for "+e.ID)
			}
			w.sourceFinal(csvexport.SourceRepos, e.ID)
			return
		}
	}
	dora := w.step(ctx, stepCall{stage: StageCalculateDORA, enterpriseID: e.ID, shards: 1})
	if w.isPaused() {
		return
	}
	if velocity := w.step(ctx, stepCall{stage: StageCalculateVelocity, enterpriseID: e.ID, shards: 1}); dora.Final() && velocity.Final() {
		w.sourceFinal(csvexport.SourceRepos, e.ID)
	}
}

// runCopilot runs an enterprise's collect_copilot, then calculate_copilot on what it
// collected, and reports whether both are final: the Copilot source of the enterprise
// is then complete. When the collection failed for good the calculation is skipped (as
// the repository calculations are after a failed collect_repos): the previous figures
// stay rather than figures of half-collected data.
func (w *work) runCopilot(ctx context.Context, e config.Enterprise) bool {
	collect := w.step(ctx, stepCall{stage: StageCollectCopilot, enterpriseID: e.ID, shards: 1})
	if !collect.Final() || w.isPaused() {
		return false
	}
	if collect.Status == StatusFailed {
		w.skip(ctx, StageCalculateCopilot, e.ID, "collect_copilot failed for "+e.ID)
		return true
	}
	return w.step(ctx, stepCall{stage: StageCalculateCopilot, enterpriseID: e.ID, shards: 1}).Final()
}

func (w *work) isPaused() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.paused
}

func (w *work) record(st postgres.Step, warnings []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.results = append(w.results, st)
	for _, warn := range warnings {
		w.warnings = append(w.warnings, stepName(st)+": "+warn)
	}
}

func (w *work) skip(ctx context.Context, stage, enterpriseID, reason string) {
	st, err := w.db.EnsureStep(ctx, w.runID, stage, enterpriseID, 0)
	if err != nil {
		w.failNoStore(stage, enterpriseID, 0, err)
		return
	}
	if !st.Final() {
		st.Status, st.Error = "skipped", reason
		if err := w.db.SaveStep(ctx, st); err != nil {
			w.failNoStore(stage, enterpriseID, 0, err)
			return
		}
	}
	w.logf("%s skipped: %s", stepName(st), reason)
	w.record(st, nil)
}

func (w *work) failNoStore(stage, enterpriseID string, shard int, err error) {
	st := postgres.Step{RunID: w.runID, Stage: stage, EnterpriseID: enterpriseID, Shard: shard, Status: "failed", Error: err.Error()}
	w.logf("%s failed: %v", stepName(st), err)
	w.record(st, nil)
}

// stepCall names a step: a stage for an enterprise ("" for all) and shard (a delivery
// round for export_csv and upload_sharepoint), what to send: shards (> 1: the shard is
// sent) and kinds (export_csv).
type stepCall struct {
	stage, enterpriseID string
	shard, shards       int
	kinds               []string
}

// step drives one stage for one enterprise and shard until it is done, failed for
// good, or the orchestrator's budget is reached. Progress is saved after every call,
// so a killed orchestrator continues from the last cursor.
func (w *work) step(ctx context.Context, c stepCall) postgres.Step {
	st, _ := w.stepWorked(ctx, c)
	return st
}

// stepWorked is step, also telling whether this invocation called the stage (false:
// the step was final already).
func (w *work) stepWorked(ctx context.Context, c stepCall) (postgres.Step, bool) {
	stage, enterpriseID, shard := c.stage, c.enterpriseID, c.shard
	st, err := w.db.EnsureStep(ctx, w.runID, stage, enterpriseID, shard)
	if err != nil {
		w.failNoStore(stage, enterpriseID, shard, err)
		return postgres.Step{Stage: stage, EnterpriseID: enterpriseID, Shard: shard, Status: "failed"}, true
	}
	if st.Final() {
		w.logf("%s already %s", stepName(st), st.Status)
		w.record(st, nil)
		return st, false
	}
	return w.drive(ctx, c, st), true
}

// drive calls the stage until the step is final or the budget is reached.
func (w *work) drive(ctx context.Context, c stepCall, st postgres.Step) postgres.Step {
	stage, enterpriseID, shard, shards := c.stage, c.enterpriseID, c.shard, c.shards
	failures := 0
	var warnings []string
	for {
		if ctx.Err() != nil {
			return st
		}
		remaining := w.deadline.Sub(w.o.opts.Clock.Now())
		budget := min(w.o.opts.StageBudget, remaining-config.OrchestratorReserve)
		// Too little left for a useful call (a stage budget configured below 10 s is
		// always enough: otherwise no call would ever be made; config refuses an
		// orchestrator budget that could never start one).
		if budget < min(config.MinStageCall, w.o.opts.StageBudget) {
			w.mu.Lock()
			w.paused = true
			w.mu.Unlock()
			return st
		}
		body := StageCallBody{
			RunID: w.runID, Cursor: st.Cursor, BudgetSeconds: int(budget.Seconds()), Kinds: c.kinds,
		}
		if enterpriseID != "" {
			body.Enterprise = enterpriseID
		}
		if shards > 1 {
			body.Shard, body.Shards = &shard, &shards
		}
		st.Status = "running"
		resp, err := w.o.opts.Caller.Call(ctx, stage, body)
		st.Calls++
		if err != nil {
			if ctx.Err() != nil {
				return st
			}
			var ce *CallError
			retryable := !errors.As(err, &ce) || ce.Retryable()
			failures++
			st.Attempts++
			if !retryable || failures > w.o.opts.Retries {
				st.Status, st.Error = "failed", err.Error()
				w.save(ctx, st)
				w.logf("%s failed after %d attempt(s): %v", stepName(st), failures, err)
				w.record(st, warnings)
				return st
			}
			st.Error = err.Error()
			w.save(ctx, st)
			wait := backoff(w.o.opts.BackoffBase, failures)
			if ce != nil && ce.RetryAfter > wait {
				wait = ce.RetryAfter
			}
			w.o.log.WarnContext(ctx, "stage call failed; retrying", "stage", stage, "enterprise", enterpriseID,
				"shard", shard, "attempt", failures, "wait", wait.String(), "error", err)
			if w.o.opts.Clock.Now().Add(wait).After(w.deadline) {
				w.mu.Lock()
				w.paused = true
				w.mu.Unlock()
				return st
			}
			if err := w.o.opts.Clock.Sleep(ctx, wait); err != nil {
				return st
			}
			continue
		}
		failures = 0
		st.Records += resp.Records
		st.APICalls += resp.APICalls
		st.Error = resp.Error
		warnings = append(warnings, resp.Warnings...)
		if resp.Done {
			st.Status, st.Cursor = resp.Status, ""
			if st.Status == "" {
				st.Status = StatusSucceeded
			}
			w.save(ctx, st)
			w.logf("%s %s: %d records, %d API calls in %d call(s)", stepName(st), st.Status, st.Records, st.APICalls, st.Calls)
			w.record(st, warnings)
			return st
		}
		if resp.Cursor == "" || resp.Cursor == st.Cursor && resp.Records == 0 {
			// A stage that claims more work but gives no new cursor would loop forever.
			st.Status, st.Error = "failed", "stage answered done=false without progress"
			w.save(ctx, st)
			w.logf("%s failed: %s", stepName(st), st.Error)
			w.record(st, warnings)
			return st
		}
		st.Cursor = resp.Cursor
		w.save(ctx, st)
	}
}

func (w *work) save(ctx context.Context, st postgres.Step) {
	// Saved even when ctx has ended (the budget, a lost call), but not waited for
	// forever.
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	if err := w.db.SaveStep(saveCtx, st); err != nil {
		w.o.log.ErrorContext(ctx, "saving step progress", "stage", st.Stage, "enterprise", st.EnterpriseID, "error", err)
	}
}

// outcome: succeeded when every step succeeded or was skipped; failed when none
// succeeded; partial otherwise. The summary lists each problem once.
func (w *work) outcome() (string, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var problems []string
	ok, bad := 0, 0
	for _, st := range w.results {
		switch st.Status {
		case StatusSucceeded:
			ok++
		case StatusSkipped:
			if st.Error != "" {
				problems = append(problems, stepName(st)+" skipped: "+st.Error)
			}
		case StatusPartial:
			ok++
			bad++
			problems = append(problems, stepName(st)+" partial: "+st.Error)
		default:
			bad++
			problems = append(problems, stepName(st)+" failed: "+st.Error)
		}
	}
	sort.Strings(problems)
	summary := strings.Join(problems, "; ")
	switch {
	case bad == 0:
		return StatusSucceeded, summary
	case ok == 0:
		return StatusFailed, summary
	default:
		return StatusPartial, summary
	}
}

func stepName(st postgres.Step) string {
	name := st.Stage
	if st.EnterpriseID == "" && st.Shard > 0 {
		return fmt.Sprintf("%s (delivery round %d)", name, st.Shard)
	}
	if st.EnterpriseID != "" {
		name += "[" + st.EnterpriseID
		if st.Shard > 0 {
			name += fmt.Sprintf("#%d", st.Shard)
		}
		name += "]"
	}
	return name
}

// backoff is base·2^(n−1) with ±25 % jitter.
func backoff(base time.Duration, n int) time.Duration {
	d := base << (n - 1)
	jitter := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return d + jitter
}
