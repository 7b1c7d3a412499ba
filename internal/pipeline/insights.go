package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/metrics"
	"metrics-collector/internal/postgres"
)

// The issue 16 datasets ride on the calculate stages (docs/metrics.md, "How the stages
// run"):
//   - calculate_dora adds team rows (teams with a repository mapping) and the rolling
//     4- and 13-week rows, from the same per-repository weeks;
//   - calculate_velocity adds team rows and the Copilot impact cohorts, which need the
//     pull requests and the per-user Copilot rows;
//   - calculate_copilot (calculate_copilot.go) computes those that need only what
//     collect_copilot stores: the teams' daily Copilot figures, the seat utilisation of
//     every seat snapshot of the window and, on the daily run, the idle seats of the
//     newest snapshots.
//
// Each set is written in its own transaction after everything is computed.

// InsightsStore is what the issue 16 datasets need of the store, besides MetricsStore.
type InsightsStore interface {
	ListTeams(ctx context.Context, q postgres.TeamQuery) ([]metrics.Team, error)
	ListCopilotUserUsage(ctx context.Context, enterpriseID string, from, to time.Time) ([]metrics.CopilotUserUsage, error)
	ListSeatSnapshots(ctx context.Context, enterpriseID string, from, to time.Time) ([]metrics.SeatSnapshot, error)
	PutImpactMetrics(ctx context.Context, b postgres.MetricBatch, rows []metrics.ImpactRow) (postgres.MetricWrite, error)
	PutDORARollingMetrics(ctx context.Context, b postgres.MetricBatch, rows []metrics.DORARollingRow) (postgres.MetricWrite, error)
	PutTeamCopilotDays(ctx context.Context, b postgres.DayBatch, rows []metrics.CopilotTeamDay) (postgres.MetricWrite, error)
	PutSeatUtilisation(ctx context.Context, b postgres.DayBatch, computedAt time.Time, rows []metrics.SeatUtilisationRow) (postgres.MetricWrite, error)
	ReplaceIdleSeats(ctx context.Context, enterpriseID string, rows []metrics.IdleSeat) (postgres.MetricWrite, error)
}

// rollingLookbackWeeks is how many weeks before the window the longest rolling window
// reaches back.
func rollingLookbackWeeks() int { return slices.Max(metrics.DORARollingWindows()) - 1 }

// insightPut is one computed set waiting to be written.
type insightPut struct {
	name  string
	write func() (postgres.MetricWrite, error)
}

// writeInsights runs each put in turn (each its own transaction), logs what it stored
// and returns the rows of them all.
func (s *CalculateStage) writeInsights(ctx context.Context, enterpriseID string, puts []insightPut) (int64, error) {
	var rows int64
	for _, in := range puts {
		w, err := in.write()
		if err != nil {
			return rows, err
		}
		rows += int64(w.Rows)
		s.log.InfoContext(ctx, "stored insight rows", "stage", s.name, "enterprise", enterpriseID, "set", in.name,
			"rows", w.Rows, "changed", w.Changed, "deleted", w.Deleted)
	}
	return rows, nil
}

// pastBudget refuses to start the writes once loading and computing (started …
// computed) ran past the call's deadline: a write of a few seconds started then could
// be cut off by the hard stop. Nothing is stored, so a retry starts over.
func (s *CalculateStage) pastBudget(req Request, enterpriseID string, started, computed time.Time) error {
	if req.Deadline.IsZero() || !computed.After(req.Deadline) {
		return nil
	}
	return fmt.Errorf("%s of %s: loading and computing took %s, past the call's budget; nothing stored: %w",
		s.name, enterpriseID, computed.Sub(started).Round(time.Millisecond), ErrUnavailable)
}

// listTeams returns the enterprise's teams for the window starting at first (none when
// teams are not configured), with the repositories each has admin or maintain
// permission on when ownedRepos is set, and a warning when teams are configured but
// none is stored yet.
func (s *CalculateStage) listTeams(ctx context.Context, e config.Enterprise, first time.Time, ownedRepos bool) ([]metrics.Team, []string, error) {
	if s.opts.Insights == nil || !e.Teams.Enabled() {
		return nil, nil, nil
	}
	teams, err := s.opts.Insights.ListTeams(ctx, postgres.TeamQuery{
		EnterpriseID: e.ID, Orgs: e.Orgs, PresentFrom: first, OwnedRepos: ownedRepos,
	})
	if err != nil {
		return nil, nil, err
	}
	if len(teams) == 0 {
		return nil, []string{fmt.Sprintf("no teams of %s are stored yet (collect_copilot lists them once a day); the team rows are missing", e.ID)}, nil
	}
	return teams, nil, nil
}

// loadTeams returns the enterprise's teams for the window starting at first, with the
// repositories each owns for DORA: those of team_repositories, or those it has admin or
// maintain permission on; nil Repos (no team DORA rows) without a mapping. Warnings name
// mapped repositories that are not collected and teams configured but never listed.
func (s *CalculateStage) loadTeams(ctx context.Context, e config.Enterprise, first time.Time, repos []metrics.RepoActivity) ([]metrics.Team, []string, error) {
	teams, warnings, err := s.listTeams(ctx, e, first, e.TeamRepositories.FromPermissions)
	if err != nil || len(teams) == 0 {
		return teams, warnings, err
	}
	if e.TeamRepositories.Map == nil {
		return teams, warnings, nil
	}
	collected := make(map[string]bool, len(repos))
	for _, r := range repos {
		collected[strings.ToLower(r.FullName)] = true
	}
	var missing []string
	for i := range teams {
		mapped, ok := e.TeamRepositories.Repos(teams[i].Org, teams[i].Slug)
		if !ok {
			teams[i].Repos = nil
			continue
		}
		teams[i].Repos = mapped
		for _, r := range mapped {
			if !collected[strings.ToLower(r)] {
				missing = append(missing, teams[i].Scope()+": "+r)
			}
		}
	}
	if len(missing) > 0 {
		warnings = append(warnings, fmt.Sprintf("team_repositories of %s names repositories that are not collected (%s); their teams' DORA rows leave them out",
			e.ID, strings.Join(missing, ", ")))
	}
	return teams, warnings, nil
}

// rollingFirst is the first week whose rolling windows have all their data under
// RETENTION_DAYS; rolling rows of earlier weeks are left as last computed.
func (s *CalculateStage) rollingFirst(first, last time.Time) time.Time {
	kept := s.oldestRetainedWeek(last)
	if kept.IsZero() {
		return first
	}
	if w := kept.AddDate(0, 0, 7*rollingLookbackWeeks()); w.After(first) {
		return w
	}
	return first
}

// doraInsights computes the weekly rows with team scopes and the rolling rows, and
// returns the weekly rows and the write of the rolling ones.
func (s *CalculateStage) doraInsights(ctx context.Context, repos []metrics.RepoActivity, opts metrics.Options, batch postgres.MetricBatch) ([]metrics.DORARow, []insightPut, error) {
	res, err := metrics.CalculateDORAWithRolling(repos, opts, metrics.DORARollingWindows())
	if err != nil {
		return nil, nil, err
	}
	rb := batch
	rb.FirstWeek = s.rollingFirst(batch.FirstWeek, batch.LastWeek)
	rolling := res.Rolling
	if rb.FirstWeek.After(batch.FirstWeek) {
		rolling = slices.DeleteFunc(slices.Clone(rolling), func(r metrics.DORARollingRow) bool { return r.WeekStart.Before(rb.FirstWeek) })
	}
	var puts []insightPut
	if !rb.FirstWeek.After(rb.LastWeek) {
		puts = append(puts, insightPut{"rolling dora", func() (postgres.MetricWrite, error) {
			return s.opts.Insights.PutDORARollingMetrics(ctx, rb, rolling)
		}})
	}
	return res.Weekly, puts, nil
}

// velocityInsights computes the Copilot impact cohorts of the window's weeks, from the
// per-user Copilot rows of those weeks.
func (s *CalculateStage) velocityInsights(ctx context.Context, e config.Enterprise, repos []metrics.RepoActivity,
	opts metrics.Options, batch postgres.MetricBatch) ([]insightPut, error) {
	store := s.opts.Insights
	usage, err := store.ListCopilotUserUsage(ctx, e.ID, batch.FirstWeek, batch.LastWeek.AddDate(0, 0, 6))
	if err != nil {
		return nil, err
	}
	impact, err := metrics.CalculateImpact(repos, usage, opts, s.opts.ImpactMinAuthors)
	if err != nil {
		return nil, s.calculationError(err)
	}
	return []insightPut{
		{"copilot impact", func() (postgres.MetricWrite, error) { return store.PutImpactMetrics(ctx, batch, impact) }},
	}, nil
}
