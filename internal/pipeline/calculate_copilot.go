package pipeline

import (
	"context"
	"fmt"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/metrics"
	"metrics-collector/internal/postgres"
)

// calculate_copilot computes the issue 16 datasets that need nothing but what
// collect_copilot stores — the teams' daily Copilot figures (team rows of
// copilot_daily_metrics, from the per-user rows and the team listings), the seat
// utilisation of every seat snapshot of the window and, on the daily run, the idle seats
// of each scope's newest snapshot. The orchestrator runs it right after an enterprise's
// collect_copilot, so the Copilot delivery round carries them while a repository
// back-fill still runs.
//
// Its window is calculate_velocity's (the weeks of since … until, by default
// RECOMPUTE_WEEKS weeks ending with the current one, moved back as extendWindow says),
// as days: from the first week's Monday to the last week's Sunday; the per-user rows are
// read from 27 days earlier (the 28-day active users of the first day).

// runCopilot computes and stores the Copilot datasets of the window first … last
// (weeks), each in its own transaction. Records is the number of rows of the window.
func (s *CalculateStage) runCopilot(ctx context.Context, req Request, e config.Enterprise, first, last time.Time, warnings []string) (Result, error) {
	store := s.opts.Insights
	if store == nil {
		return Result{}, fmt.Errorf("%s for %s: no store for the Copilot datasets (CalculateOptions.Insights)", s.name, e.ID)
	}
	started := s.opts.Now()
	firstDay, lastDay := first, last.AddDate(0, 0, 6)
	teams, teamWarnings, err := s.listTeams(ctx, e, first, false)
	if err != nil {
		return Result{}, err
	}
	warnings = append(warnings, teamWarnings...)
	var usage []metrics.CopilotUserUsage
	if len(teams) > 0 {
		if usage, err = store.ListCopilotUserUsage(ctx, e.ID, firstDay.AddDate(0, 0, -27), lastDay); err != nil {
			return Result{}, err
		}
	}
	snaps, err := store.ListSeatSnapshots(ctx, e.ID, firstDay, lastDay)
	if err != nil {
		return Result{}, err
	}
	loaded := s.opts.Now()

	teamDays, err := metrics.CalculateCopilotTeamDays(usage, teams, firstDay, lastDay)
	if err != nil {
		return Result{}, s.calculationError(err)
	}
	scope := enterpriseScope(e)
	seats, err := metrics.CalculateSeatUtilisation(snaps, s.opts.SeatPrices, scope)
	if err != nil {
		return Result{}, s.calculationError(err)
	}
	days := postgres.DayBatch{EnterpriseID: e.ID, From: firstDay, To: lastDay}
	puts := []insightPut{
		// Without teams (none configured, or all gone) this deletes the window's team rows.
		{"team copilot days", func() (postgres.MetricWrite, error) { return store.PutTeamCopilotDays(ctx, days, teamDays) }},
		{"seat utilisation", func() (postgres.MetricWrite, error) { return store.PutSeatUtilisation(ctx, days, req.Now, seats) }},
	}
	// The idle-seat list is the newest snapshot's: only a window reaching today may
	// replace it (a back-fill of past weeks leaves it alone).
	if req.Until == nil {
		idle, err := metrics.CalculateIdleSeats(newestSnapshots(snaps), s.opts.SeatPrices, scope)
		if err != nil {
			return Result{}, s.calculationError(err)
		}
		puts = append(puts, insightPut{"idle seats", func() (postgres.MetricWrite, error) { return store.ReplaceIdleSeats(ctx, e.ID, idle) }})
	}
	computed := s.opts.Now()

	if err := s.pastBudget(req, e.ID, started, computed); err != nil {
		return Result{}, err
	}
	records, err := s.writeInsights(ctx, e.ID, puts)
	if err != nil {
		return Result{}, err
	}
	stored := s.opts.Now()

	s.log.InfoContext(ctx, "calculated copilot datasets", "stage", s.name, "enterprise", e.ID,
		"first_day", firstDay.Format(time.DateOnly), "last_day", lastDay.Format(time.DateOnly),
		"teams", len(teams), "user_days", len(usage), "seat_snapshots", len(snaps), "rows", records,
		"load_ms", loaded.Sub(started).Milliseconds(), "compute_ms", computed.Sub(loaded).Milliseconds(),
		"store_ms", stored.Sub(computed).Milliseconds())
	return Result{Status: StatusSucceeded, Done: true, Records: records, Warnings: warnings}, nil
}

// newestSnapshots keeps each scope's newest snapshot.
func newestSnapshots(snaps []metrics.SeatSnapshot) []metrics.SeatSnapshot {
	newest := map[[2]string]int{}
	for i, s := range snaps {
		k := [2]string{s.ScopeType, s.Scope}
		if j, ok := newest[k]; !ok || s.Day.After(snaps[j].Day) {
			newest[k] = i
		}
	}
	var out []metrics.SeatSnapshot
	for i, s := range snaps {
		if newest[[2]string{s.ScopeType, s.Scope}] == i {
			out = append(out, s)
		}
	}
	return out
}
