package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/metrics"
	"metrics-collector/internal/postgres"
)

// MetricsStore is what calculate_dora and calculate_velocity need of the store
// (calculate_copilot only reads GetRecomputeHints).
type MetricsStore interface {
	ListRepoActivity(ctx context.Context, q postgres.ActivityQuery) ([]metrics.RepoActivity, error)
	PutDORAMetrics(ctx context.Context, b postgres.MetricBatch, rows []metrics.DORARow) (postgres.MetricWrite, error)
	PutVelocityMetrics(ctx context.Context, b postgres.MetricBatch, rows []metrics.VelocityRow) (postgres.MetricWrite, error)
	GetRecomputeHints(ctx context.Context, enterpriseID string, dora bool, version int) (postgres.RecomputeHints, error)
}

// CalculateOptions configure calculate_dora, calculate_velocity and calculate_copilot.
type CalculateOptions struct {
	Store MetricsStore
	// FailureWindow is CHANGE_FAILURE_WINDOW_DAYS; zero means metrics.DefaultFailureWindow.
	FailureWindow time.Duration
	// ThresholdsVersion is DORA_THRESHOLDS; empty means metrics.DefaultThresholdsVersion.
	ThresholdsVersion string
	// RecomputeWeeks is RECOMPUTE_WEEKS: how many weeks, ending with the current one, a
	// call without since recomputes; zero means config.DefaultRecomputeWeeks.
	RecomputeWeeks int
	// RetentionDays is RETENTION_DAYS: collected data older than that is pruned, so a
	// default window never reaches back to weeks whose inputs are gone. Zero: no limit.
	RetentionDays int
	Now           func() time.Time // default time.Now; checks the call's deadline
	Logger        *slog.Logger
	// Insights, when set, adds the issue 16 datasets (insights.go): team rows, rolling
	// DORA and the Copilot impact cohorts to calculate_dora and calculate_velocity.
	// calculate_copilot (calculate_copilot.go: team Copilot days, seat utilisation, idle
	// seats) needs it.
	Insights InsightsStore
	// ImpactMinAuthors is COPILOT_IMPACT_MIN_AUTHORS; zero means
	// metrics.DefaultImpactMinAuthors.
	ImpactMinAuthors int
	// SeatPrices is COPILOT_SEAT_PRICES (calculate_copilot); a zero value means
	// metrics.DefaultSeatPrices.
	SeatPrices metrics.SeatPrices
	// Gate, when set, is a semaphore shared by every calculation of the process: a
	// calculation holds a slot while it has an enterprise's activity in memory (about
	// 1 GiB for 1,000 busy repositories), so parallel enterprises do not add up their
	// peaks on one instance. The handler gives one slot.
	Gate chan struct{}
}

// MaxCalculateWeeks bounds the weeks one call computes (since … until): five years, the
// largest RECOMPUTE_WEEKS. Larger back-fills are split into several calls.
const MaxCalculateWeeks = 260

// CalculateStage is calculate_dora or calculate_velocity: it loads an enterprise's
// repository activity from the store, runs the pure calculator over the window's
// weeks, and stores a row for every scope and week of the window in one transaction.
// The whole window is computed in one call (a quarter of 1,000 repositories takes a
// few seconds; docs/benchmarks.md), so it never answers with a cursor.
//
// It is also calculate_copilot (calculate_copilot.go), which computes the Copilot-only
// datasets over the same window from what collect_copilot stored, without the
// repositories, so the orchestrator can deliver them before a repository back-fill ends.
type CalculateStage struct {
	name string
	opts CalculateOptions
	log  *slog.Logger
}

// NewDORAStage builds calculate_dora.
func NewDORAStage(opts CalculateOptions) *CalculateStage {
	return newCalculateStage(StageCalculateDORA, opts)
}

// NewVelocityStage builds calculate_velocity.
func NewVelocityStage(opts CalculateOptions) *CalculateStage {
	return newCalculateStage(StageCalculateVelocity, opts)
}

// NewCopilotMetricsStage builds calculate_copilot; it needs opts.Insights.
func NewCopilotMetricsStage(opts CalculateOptions) *CalculateStage {
	return newCalculateStage(StageCalculateCopilot, opts)
}

func newCalculateStage(name string, opts CalculateOptions) *CalculateStage {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RecomputeWeeks < 1 {
		opts.RecomputeWeeks = config.DefaultRecomputeWeeks
	}
	if opts.FailureWindow <= 0 {
		opts.FailureWindow = metrics.DefaultFailureWindow
	}
	if opts.ImpactMinAuthors < 1 {
		opts.ImpactMinAuthors = metrics.DefaultImpactMinAuthors
	}
	if opts.SeatPrices.Currency == "" {
		opts.SeatPrices = metrics.DefaultSeatPrices()
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &CalculateStage{name: name, opts: opts, log: log}
}

// Name is the route name.
func (s *CalculateStage) Name() string { return s.name }

// PerEnterprise is true: each enterprise has its own scopes and settings.
func (s *CalculateStage) PerEnterprise() bool { return true }

// Validate refuses a cursor (this stage never issues one) and a window longer than
// MaxCalculateWeeks. Any date is accepted for since and until; it stands for its ISO
// week.
func (s *CalculateStage) Validate(req Request) error {
	if req.Cursor != "" {
		return BadInput("cursor", "%s computes its whole window in one call and issues no cursor; leave it out", s.name)
	}
	first, last := s.window(req)
	if last.Before(first) {
		return BadInput("since", "the week of %s starts after the week of until (%s)", first.Format(time.DateOnly), last.Format(time.DateOnly))
	}
	if n := weeksIn(first, last); n > MaxCalculateWeeks {
		field := "since"
		if req.Since == nil {
			field = "until" // the default since follows until, so until is what to change
		}
		return BadInput(field, "the window %s – %s spans %d weeks; at most %d are computed in one call, split the back-fill",
			first.Format(time.DateOnly), last.Format(time.DateOnly), n, MaxCalculateWeeks)
	}
	return nil
}

// window returns the first and last week of the call: the weeks holding since and
// until, by default the RecomputeWeeks weeks ending with the current one (req.Now).
func (s *CalculateStage) window(req Request) (first, last time.Time) {
	last = metrics.WeekStart(req.Now)
	if req.Until != nil {
		last = metrics.WeekStart(*req.Until)
	}
	first = last.AddDate(0, 0, -7*(s.opts.RecomputeWeeks-1))
	if req.Since != nil {
		first = metrics.WeekStart(*req.Since)
	}
	return first, last
}

func weeksIn(first, last time.Time) int { return int(last.Sub(first)/metrics.Week) + 1 }

// Run computes and stores the window's rows. Records is the number of rows of the
// window (every scope × week); how many of them changed is logged.
func (s *CalculateStage) Run(ctx context.Context, req Request) (Result, error) {
	e := req.Enterprise
	if e == nil {
		return Result{}, BadInput("enterprise", "required for %s", s.name)
	}
	if err := s.Validate(req); err != nil {
		return Result{}, err
	}
	first, last := s.window(req)
	var warnings []string
	if req.Since == nil {
		var err error
		if first, warnings, err = s.extendWindow(ctx, e.ID, first, last); err != nil {
			return Result{}, err
		}
	}

	if s.opts.Gate != nil {
		select {
		case s.opts.Gate <- struct{}{}:
			defer func() { <-s.opts.Gate }()
		case <-ctx.Done():
			return Result{}, fmt.Errorf("%s for %s waited for another calculation until the call ended: %w", s.name, e.ID, ErrUnavailable)
		}
	}
	if s.name == StageCalculateCopilot {
		return s.runCopilot(ctx, req, *e, first, last, warnings)
	}
	signal := deploymentSignal(*e)
	started := s.opts.Now()
	repos, err := s.opts.Store.ListRepoActivity(ctx, s.activityQuery(*e, signal, first, last))
	if err != nil {
		return Result{}, err
	}
	teams, teamWarnings, err := s.loadTeams(ctx, *e, first, repos)
	if err != nil {
		return Result{}, err
	}
	warnings = append(warnings, teamWarnings...)
	loaded := s.opts.Now()

	opts := metrics.Options{
		Enterprise:        enterpriseScope(*e),
		Orgs:              orgSpellings(e.Orgs, repos),
		From:              first,
		To:                last,
		FailureWindow:     s.opts.FailureWindow,
		RolloutWindow:     e.RolloutWindow(),
		ThresholdsVersion: s.opts.ThresholdsVersion,
		HotfixPattern:     e.HotfixRE(),
		Bots:              metrics.NewBotClassifier(e.BotLogins),
		Teams:             teams,
	}
	batch := postgres.MetricBatch{EnterpriseID: e.ID, FirstWeek: first, LastWeek: last, ComputedAt: req.Now, DeploymentSignal: signal}

	var put func() (postgres.MetricWrite, error)
	var insights []insightPut
	switch s.name {
	case StageCalculateDORA:
		var rows []metrics.DORARow
		if s.opts.Insights != nil {
			rows, insights, err = s.doraInsights(ctx, repos, opts, batch)
		} else {
			rows, err = metrics.CalculateDORA(repos, opts)
		}
		if err != nil {
			return Result{}, s.calculationError(err)
		}
		put = func() (postgres.MetricWrite, error) { return s.opts.Store.PutDORAMetrics(ctx, batch, rows) }
	default:
		rows, err := metrics.CalculateVelocity(repos, opts)
		if err != nil {
			return Result{}, s.calculationError(err)
		}
		put = func() (postgres.MetricWrite, error) { return s.opts.Store.PutVelocityMetrics(ctx, batch, rows) }
		if s.opts.Insights != nil {
			if insights, err = s.velocityInsights(ctx, *e, repos, opts, batch); err != nil {
				return Result{}, err
			}
		}
	}
	computed := s.opts.Now()
	// From here on only the rows are needed; the activity (hundreds of MB for a large
	// enterprise) can be collected while they are written.
	repoCount := len(repos)

	if err := s.pastBudget(req, e.ID, started, computed); err != nil {
		return Result{}, err
	}
	written, err := put()
	if err != nil {
		return Result{}, err
	}
	insightRows, err := s.writeInsights(ctx, e.ID, insights)
	if err != nil {
		return Result{}, err
	}
	records := int64(written.Rows) + insightRows
	stored := s.opts.Now()

	s.log.InfoContext(ctx, "calculated weekly metrics", "stage", s.name, "enterprise", e.ID,
		"first_week", first.Format(time.DateOnly), "last_week", last.Format(time.DateOnly),
		"repositories", repoCount, "rows", written.Rows, "changed", written.Changed, "deleted", written.Deleted,
		"load_ms", loaded.Sub(started).Milliseconds(), "compute_ms", computed.Sub(loaded).Milliseconds(),
		"store_ms", stored.Sub(computed).Milliseconds())

	res := Result{Status: StatusSucceeded, Done: true, Records: records, Warnings: warnings}
	if repoCount == 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"no repositories of %s are stored yet (run collect_repos first); only the enterprise and organization rows were written", e.ID))
	}
	return res, nil
}

// activityQuery says what to load. DORA reads the whole data window: deployments from
// DeploymentLookbackDays before the first week (deployment-frequency level, changes
// already deployed) to the failure window after the last (late failure signals).
// Velocity reads the weeks themselves, plus the failure window after them, so a pull
// request merged late in the last week still finds the deployment that shipped it.
func (s *CalculateStage) activityQuery(e config.Enterprise, signal string, first, last time.Time) postgres.ActivityQuery {
	from, to := metrics.DataWindow(first, last, s.opts.FailureWindow)
	q := postgres.ActivityQuery{EnterpriseID: e.ID, Orgs: e.Orgs, PresentFrom: first, Signal: signal, From: from, To: to}
	if s.name == StageCalculateDORA {
		q.Incidents, q.RevertCommits = true, true
		if s.opts.Insights != nil {
			// The rolling windows of the first week reach back as far.
			q.From, _ = metrics.DataWindow(first.AddDate(0, 0, -7*rollingLookbackWeeks()), last, s.opts.FailureWindow)
		}
		return q
	}
	q.From = first
	q.Reviews, q.Commits, q.WorkflowRuns = true, true, true
	return q
}

// extendWindow moves the default window's first week back to the oldest stored week
// that must be recomputed whatever RECOMPUTE_WEEKS says: a week with a failed
// deployment not restored yet (its recovery time is still to come, however long it
// takes) and a week whose rows carry an older metric_version (recomputed once after an
// upgrade, so a file never mixes definitions). At most MaxCalculateWeeks are computed;
// what lies before that is left for a back-fill, with a warning. calculate_copilot
// takes the velocity rows' hints: the Copilot datasets are recomputed over the window
// calculate_velocity recomputes.
func (s *CalculateStage) extendWindow(ctx context.Context, enterpriseID string, first, last time.Time) (time.Time, []string, error) {
	h, err := s.opts.Store.GetRecomputeHints(ctx, enterpriseID, s.name == StageCalculateDORA, metrics.MetricVersion)
	if err != nil {
		return first, nil, err
	}
	oldest := last.AddDate(0, 0, -7*(MaxCalculateWeeks-1))
	limit := fmt.Sprintf("the %d weeks from %s are recomputed, call %s with since and until to recompute the older ones", MaxCalculateWeeks, oldest.Format(time.DateOnly), s.name)
	if kept := s.oldestRetainedWeek(last); kept.After(oldest) {
		oldest = kept
		limit = fmt.Sprintf("weeks before %s are left as last computed: their data is older than RETENTION_DAYS=%d", kept.Format(time.DateOnly), s.opts.RetentionDays)
	}
	var warnings []string
	for _, hint := range []struct {
		week time.Time
		why  string
	}{
		{h.Unrecovered, "failed deployments not yet restored"},
		{h.Outdated, fmt.Sprintf("rows of an older metric_version than %d", metrics.MetricVersion)},
	} {
		if hint.week.IsZero() || !hint.week.Before(first) {
			continue
		}
		week := hint.week
		if week.Before(oldest) {
			warnings = append(warnings, fmt.Sprintf("%s of %s go back to the week of %s; %s", hint.why, enterpriseID, week.Format(time.DateOnly), limit))
			week = oldest
		}
		if week.Before(first) {
			s.log.InfoContext(ctx, "recomputing older weeks", "stage", s.name, "enterprise", enterpriseID,
				"from", week.Format(time.DateOnly), "reason", hint.why)
			first = week
		}
	}
	return first, warnings, nil
}

// oldestRetainedWeek is the first week whose inputs are all still stored under
// RETENTION_DAYS, counted back from the week holding last: DORA reads 182 days before its
// first week. The zero time when nothing is pruned.
func (s *CalculateStage) oldestRetainedWeek(last time.Time) time.Time {
	if s.opts.RetentionDays <= 0 {
		return time.Time{}
	}
	kept := last.Add(metrics.Week).AddDate(0, 0, -s.opts.RetentionDays) // data from here on is kept
	if s.name == StageCalculateDORA {
		kept = kept.AddDate(0, 0, metrics.DeploymentLookbackDays)
	}
	week := metrics.WeekStart(kept)
	if week.Before(kept) {
		week = week.Add(metrics.Week)
	}
	return week
}

// calculationError reports input the calculator refused. It comes from stored data
// (a repository name that is not org/name), so calling again cannot help.
func (s *CalculateStage) calculationError(err error) error {
	return fmt.Errorf("%s: the stored activity cannot be computed: %w: %w", s.name, err, ErrPermanent)
}

// deploymentSignal maps the enterprise's deployment_signal setting to the signal the
// deployments were stored with.
func deploymentSignal(e config.Enterprise) string {
	if e.DeploymentSignal == config.SignalWorkflows {
		return metrics.SignalWorkflow
	}
	return metrics.SignalDeployment
}

// enterpriseScope names the enterprise scope of the rows: the GitHub enterprise slug,
// or the configured id when there is none.
func enterpriseScope(e config.Enterprise) string {
	if e.Slug != "" {
		return e.Slug
	}
	return e.ID
}

// orgSpellings returns the configured organizations spelt as the stored repositories
// spell them. GitHub logins are case-insensitive, so "Contoso-Web" in the settings and
// "contoso-web/api" in the data are one organization, not two scopes.
func orgSpellings(configured []string, repos []metrics.RepoActivity) []string {
	stored := make(map[string]string, len(repos))
	for _, r := range repos {
		org, _, _ := strings.Cut(r.FullName, "/")
		stored[strings.ToLower(org)] = org
	}
	out := make([]string, 0, len(configured))
	for _, o := range configured {
		o = strings.TrimSpace(o)
		if spelt, ok := stored[strings.ToLower(o)]; ok {
			o = spelt
		}
		out = append(out, o)
	}
	return out
}
