package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"metrics-collector/internal/github"
	"metrics-collector/internal/metrics"
	"metrics-collector/internal/postgres"
)

// errCopilotLinkRefused: the download host kept refusing a report's links, although they
// were fresh. A later call asks again.
var errCopilotLinkRefused = errors.New("the report download host refused fresh links")

// copilotLinkAttempts is how often a report's links are asked for when the download
// host refuses them (they expire within about an hour).
const copilotLinkAttempts = 3

// collect does one unit and commits it.
func (s *CopilotStage) collect(ctx, ghCtx context.Context, call *copilotCall, u copilotUnit) error {
	switch u.step {
	case copilotStepSeats:
		return s.collectSeats(ctx, ghCtx, call, u)
	case copilotStepTeams:
		return s.collectTeams(ctx, ghCtx, call, u)
	}
	return s.collectReport(ctx, ghCtx, call, u)
}

// collectSeats takes the scope's seat snapshot for today, once a day (again when the
// call re-collects a window).
func (s *CopilotStage) collectSeats(ctx, ghCtx context.Context, call *copilotCall, u copilotUnit) error {
	plan, scope := call.plan, call.plan.scopes[u.scope]
	today := utcDate(s.opts.Now())
	if !plan.recollect() {
		taken, err := s.opts.Store.HasCopilotSeatSnapshot(ctx, plan.enterpriseID, scope, today)
		if err != nil || taken {
			return err
		}
	}
	listing, err := call.client.ListCopilotSeats(ghCtx, scope)
	if errors.Is(err, github.ErrForbidden) || errors.Is(err, github.ErrNotFound) {
		return &copilotRefusal{scope: scope, seats: true, err: err}
	}
	if err != nil {
		return err
	}
	// The enterprise listing repeats a user once per granting org.
	seats := metrics.DedupeSeats(listing.Seats)
	total, active := metrics.SeatCounts(seats, today)
	w, err := s.opts.Store.SaveCopilotSeats(ctx, postgres.CopilotSeatSnapshot{
		EnterpriseID: plan.enterpriseID, Scope: scope, Date: today, Seats: seats,
		Total: total, Active30d: active, Listed: int64(len(listing.Seats)), GitHubTotal: listing.TotalSeats,
	})
	if err != nil {
		return err
	}
	call.records += w.Rows
	s.log.DebugContext(ctx, "took copilot seat snapshot", "enterprise", plan.enterpriseID, "scope", scope.Name,
		"seats", total, "active_30d", active, "listed", len(listing.Seats))
	return nil
}

// copilotGitHubReport is the GitHub report name of a step for a scope.
func copilotGitHubReport(scope metrics.CopilotScope, step int) string {
	switch step {
	case copilotStepUsers:
		return github.ReportUsersDay
	case copilotStepUserTeams:
		return github.ReportUserTeamsDay
	}
	return github.AggregateDayReport(scope)
}

// collectReport fetches one report day, downloads every shard at once (the links are
// signed and short-lived; they are never stored or logged), and commits it. A day
// GitHub answers 204 for is recorded as having no report.
func (s *CopilotStage) collectReport(ctx, ghCtx context.Context, call *copilotCall, u copilotUnit) error {
	plan, scope := call.plan, call.plan.scopes[u.scope]
	report := copilotStepName(u.step)
	var day postgres.CopilotReportDay
	var records copilotRecords
	for attempt := 1; ; attempt++ {
		rep, err := call.client.GetCopilotReport(ghCtx, scope, copilotGitHubReport(scope, u.step), u.day)
		if errors.Is(err, github.ErrForbidden) || errors.Is(err, github.ErrNotFound) {
			return &copilotRefusal{scope: scope, err: err}
		}
		if err != nil {
			return err
		}
		day = postgres.CopilotReportDay{EnterpriseID: plan.enterpriseID, Scope: scope, Report: report, Day: u.day,
			Available: rep.Available, Shards: len(rep.Links)}
		if !rep.Available {
			break
		}
		records, err = downloadCopilotReport(ghCtx, call.client, rep.Links, u, s.userBatchWriter(ctx, plan.enterpriseID, scope, u))
		if errors.Is(err, github.ErrForbidden) {
			// The links expired or were withdrawn before we got to them: ask for fresh ones.
			if attempt < copilotLinkAttempts {
				continue
			}
			return fmt.Errorf("%w: %w", errCopilotLinkRefused, err)
		}
		if err != nil {
			return err
		}
		records.fill(&day)
		break
	}
	w, err := s.opts.Store.SaveCopilotReport(ctx, day)
	if err != nil {
		return err
	}
	w.Rows += records.written.Rows
	w.Changed += records.written.Changed
	w.Duplicates += records.written.Duplicates + records.duplicates
	call.records += w.Rows
	where := fmt.Sprintf("the %s report of %s %s for %s", report, scope.Type, scope.Name, u.day.Format(time.DateOnly))
	if records.unreadable > 0 {
		plan.unreadable += records.unreadable
		call.warn("%d records of %s could not be read and were left out (first: %v)", records.unreadable, where, records.firstProblem)
	}
	if dup := w.Duplicates + records.extraDays; dup > 0 {
		call.warn("%d repeated records of %s were left out (the first of each was kept)", dup, where)
	}
	s.log.DebugContext(ctx, "collected copilot report", "enterprise", plan.enterpriseID, "scope", scope.Name,
		"report", report, "day", u.day.Format(time.DateOnly), "available", day.Available, "shards", day.Shards,
		"rows", w.Rows, "changed", w.Changed)
	return nil
}

// copilotUserBatch is how many users of a users report are held before they are
// written: memory stays bounded whatever the size of the report or of its shards.
const copilotUserBatch = 1000

// copilotRecords are the decoded records of one report day. The users of a users
// report are written in batches as they arrive (writeUsers); only their ids are kept.
type copilotRecords struct {
	day          time.Time
	step         int
	aggregate    *metrics.CopilotDay
	users        []metrics.CopilotUserDay // users not written yet
	userIDs      map[int64]bool           // every user of the report so far
	teams        []postgres.CopilotUserTeam
	unreadable   int   // records that could not be decoded, or were for another day
	firstProblem error // the first of them, for the warning
	extraDays    int   // aggregate records beyond the first
	duplicates   int   // user records beyond the first of the same user

	writeUsers func([]metrics.CopilotUserDay) (postgres.CopilotWrite, error) // nil: keep them
	written    postgres.CopilotWrite                                         // what the batches wrote
}

// userBatchWriter writes batches of a users report of scope (nil for other reports).
func (s *CopilotStage) userBatchWriter(ctx context.Context, enterpriseID string, scope metrics.CopilotScope, u copilotUnit) func([]metrics.CopilotUserDay) (postgres.CopilotWrite, error) {
	if u.step != copilotStepUsers {
		return nil
	}
	return func(users []metrics.CopilotUserDay) (postgres.CopilotWrite, error) {
		return s.opts.Store.SaveCopilotUserBatch(ctx, enterpriseID, scope, u.day, users)
	}
}

// downloadCopilotReport reads every shard of a report; the users of a users report are
// written batch by batch, the rest of the shard when the shard ends. On an error the
// unit is done again by a later call: the batches written so far are upserted again
// and the report is ended then (the watermark has not moved).
func downloadCopilotReport(ctx context.Context, client *github.Client, links []string, u copilotUnit,
	writeUsers func([]metrics.CopilotUserDay) (postgres.CopilotWrite, error)) (copilotRecords, error) {
	recs := copilotRecords{day: u.day, step: u.step, userIDs: map[int64]bool{}, writeUsers: writeUsers}
	for _, link := range links {
		if err := client.DownloadCopilotReport(ctx, link, recs.add); err != nil {
			return copilotRecords{}, err
		}
		if err := recs.flushUsers(); err != nil {
			return copilotRecords{}, err
		}
	}
	return recs, nil
}

// flushUsers writes the users held (when a writer is set).
func (r *copilotRecords) flushUsers() error {
	if r.writeUsers == nil || len(r.users) == 0 {
		return nil
	}
	w, err := r.writeUsers(r.users)
	if err != nil {
		return err
	}
	r.written.Rows += w.Rows
	r.written.Changed += w.Changed
	r.written.Duplicates += w.Duplicates
	r.users = r.users[:0]
	return nil
}

// add decodes one record. A record that cannot be read is counted and left out, so
// one odd line does not hold back the rest of the report.
func (r *copilotRecords) add(raw json.RawMessage) error {
	var day time.Time
	var err error
	switch r.step {
	case copilotStepAggregate:
		var d metrics.CopilotDay
		if d, err = github.DecodeCopilotDay(raw); err == nil {
			day = d.Day
			if day.Equal(r.day) && r.aggregate != nil {
				r.extraDays++
				return nil
			}
			if day.Equal(r.day) {
				r.aggregate = &d
			}
		}
	case copilotStepUsers:
		var d metrics.CopilotUserDay
		if d, err = github.DecodeCopilotUserDay(raw); err == nil {
			day = d.Day
			if r.userIDs == nil {
				r.userIDs = map[int64]bool{}
			}
			if day.Equal(r.day) && r.userIDs[d.UserID] {
				r.duplicates++ // the first record of a user is kept
				return nil
			}
			if day.Equal(r.day) {
				r.userIDs[d.UserID] = true
				r.users = append(r.users, d)
				if len(r.users) >= copilotUserBatch {
					return r.flushUsers()
				}
			}
		}
	case copilotStepUserTeams:
		var t postgres.CopilotUserTeam
		if t, err = decodeCopilotUserTeam(raw); err == nil {
			day = t.Day
			if day.Equal(r.day) {
				r.teams = append(r.teams, t)
			}
		}
	}
	if err == nil && !day.Equal(r.day) {
		err = fmt.Errorf("record is for %s", day.Format(time.DateOnly))
	}
	if err != nil {
		r.unreadable++
		if r.firstProblem == nil {
			r.firstProblem = err
		}
	}
	return nil
}

// fill puts the records into the report day. An aggregate report without a record of
// its day holds no data, like a 204.
func (r *copilotRecords) fill(day *postgres.CopilotReportDay) {
	switch r.step {
	case copilotStepAggregate:
		day.Aggregate = r.aggregate
		day.Available = r.aggregate != nil
	case copilotStepUsers:
		if r.writeUsers == nil {
			day.Users = r.users
			break
		}
		day.UsersWritten = true
		day.UserIDs = make([]int64, 0, len(r.userIDs))
		for id := range r.userIDs {
			day.UserIDs = append(day.UserIDs, id)
		}
		slices.Sort(day.UserIDs)
	case copilotStepUserTeams:
		day.UserTeams = r.teams
	}
}

// copilotUserTeamRecord is one line of a user-teams-1-day report. The github package decodes
// the other reports; this one is small enough to read here (see the decision record).
type copilotUserTeamRecord struct {
	UserID    *int64 `json:"user_id"`
	UserLogin string `json:"user_login"`
	Day       string `json:"day"`
	TeamID    *int64 `json:"team_id"`
	Slug      string `json:"slug"`
}

func decodeCopilotUserTeam(raw json.RawMessage) (postgres.CopilotUserTeam, error) {
	var rec copilotUserTeamRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return postgres.CopilotUserTeam{}, fmt.Errorf("user-teams record: %w", err)
	}
	day, err := time.Parse(time.DateOnly, rec.Day)
	if err != nil {
		return postgres.CopilotUserTeam{}, fmt.Errorf("user-teams record: day %q is not a YYYY-MM-DD date", rec.Day)
	}
	if rec.UserID == nil || rec.TeamID == nil {
		return postgres.CopilotUserTeam{}, errors.New("user-teams record: user_id and team_id are required")
	}
	return postgres.CopilotUserTeam{Day: day, UserID: *rec.UserID, UserLogin: rec.UserLogin, TeamID: *rec.TeamID,
		TeamSlug: rec.Slug, Raw: raw}, nil
}
