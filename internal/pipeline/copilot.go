package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"metrics-collector/internal/github"
	"metrics-collector/internal/metrics"
	"metrics-collector/internal/postgres"
)

// CopilotStore is what collect_copilot needs of the store (postgres.Store).
type CopilotStore interface {
	// CopilotWatermarks returns per report and scope the newest day GitHub answered for.
	CopilotWatermarks(ctx context.Context, enterpriseID string) (map[postgres.CopilotStream]time.Time, error)
	// CopilotFirstDays returns per report and scope the oldest day ever fetched.
	CopilotFirstDays(ctx context.Context, enterpriseID string) (map[postgres.CopilotStream]time.Time, error)
	// SaveCopilotReport writes one report day, its fetch record and its watermark in one
	// transaction.
	SaveCopilotReport(ctx context.Context, r postgres.CopilotReportDay) (postgres.CopilotWrite, error)
	// SaveCopilotUserBatch upserts a batch of a users report; SaveCopilotReport with
	// UsersWritten ends the report.
	SaveCopilotUserBatch(ctx context.Context, enterpriseID string, scope metrics.CopilotScope, day time.Time, users []metrics.CopilotUserDay) (postgres.CopilotWrite, error)
	HasCopilotSeatSnapshot(ctx context.Context, enterpriseID string, scope metrics.CopilotScope, date time.Time) (bool, error)
	// SaveCopilotSeats writes a seat snapshot and copies its figures to the daily row of
	// its date, in one transaction.
	SaveCopilotSeats(ctx context.Context, snap postgres.CopilotSeatSnapshot) (postgres.CopilotWrite, error)
	// TeamsListedOn returns the date of an org's latest team listing.
	TeamsListedOn(ctx context.Context, enterpriseID, org string) (time.Time, bool, error)
	// SaveTeamListing stores a complete team listing of an org in one transaction.
	SaveTeamListing(ctx context.Context, l postgres.TeamListing) (int64, error)
}

// CopilotOptions configure collect_copilot.
type CopilotOptions struct {
	Store   CopilotStore
	Clients GitHubClients
	Events  Events           // TokenExpiring, TokenRefused; may be nil
	Now     func() time.Time // checked against the call's deadline between units; default time.Now
	Logger  *slog.Logger
}

// CopilotStage is collect_copilot: for each scope of an enterprise (the enterprise, then
// its orgs) it takes the day's seat snapshot and fetches the 1-day usage reports
// (aggregate, per user and, when configured, user teams) from its watermark to yesterday,
// each report day committed with its watermark.
type CopilotStage struct {
	opts CopilotOptions
	log  *slog.Logger
}

// copilotMargin is the time kept in hand before starting another unit, besides the
// longest unit seen so far in the call.
const copilotMargin = 20 * time.Second

// NewCopilotStage builds collect_copilot.
func NewCopilotStage(opts CopilotOptions) *CopilotStage {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &CopilotStage{opts: opts, log: log}
}

// Name is the route name.
func (s *CopilotStage) Name() string { return StageCollectCopilot }

// PerEnterprise is true: each call collects one enterprise.
func (s *CopilotStage) PerEnterprise() bool { return true }

// Validate refuses a since before the reports' history (the enterprise's first day when
// an enterprise slug is configured, else the orgs'), more than a year back, or today; an
// until that has no report yet; and a cursor that is not ours, is another enterprise's,
// or disagrees with since/until.
func (s *CopilotStage) Validate(req Request) error {
	_, err := newCopilotPlan(req)
	return err
}

// copilotCall is the state of one Run.
type copilotCall struct {
	plan     *copilotPlan
	client   *github.Client
	records  int64
	units    int // units done in this call
	longest  time.Duration
	warnings []string
	refused  map[int]bool // scopes whose reports were refused in this call
}

func (c *copilotCall) warn(format string, args ...any) {
	c.warnings = append(c.warnings, fmt.Sprintf(format, args...))
}

// Run collects from where the cursor says until every unit is done or the deadline
// nears.
func (s *CopilotStage) Run(ctx context.Context, req Request) (Result, error) {
	plan, err := newCopilotPlan(req)
	if err != nil {
		return Result{}, err
	}
	client, err := s.opts.Clients(plan.enterpriseID)
	if err != nil {
		return Result{}, fmt.Errorf("collect_copilot: %w", err)
	}
	ctx, counters := countGitHub(ctx)
	// GitHub work stops at the deadline (a rate-limit wait that would pass it gives up at
	// once); the database work of a unit in flight may use the server's grace. The
	// deadline is on the stage's clock, a context's on the wall clock: hand over the
	// time left, not the instant.
	ghCtx := ctx
	if !req.Deadline.IsZero() {
		var cancel context.CancelFunc
		ghCtx, cancel = context.WithTimeout(ctx, req.Deadline.Sub(s.opts.Now()))
		defer cancel()
	}
	marks, err := s.opts.Store.CopilotWatermarks(ctx, plan.enterpriseID)
	if err != nil {
		return Result{Counters: counters()}, err
	}
	if plan.firstDays, err = s.opts.Store.CopilotFirstDays(ctx, plan.enterpriseID); err != nil {
		return Result{Counters: counters()}, err
	}
	call := &copilotCall{plan: plan, client: client, refused: map[int]bool{}}
	for _, u := range plan.units(marks) {
		if call.refused[u.scope] && !daily(u.step) {
			continue
		}
		if call.units > 0 && s.outOfTime(req, call.longest) {
			return s.pause(call, u, counters()), nil
		}
		started := s.opts.Now()
		err := s.collect(ctx, ghCtx, call, u)
		call.longest = max(call.longest, s.opts.Now().Sub(started))
		var refusal *copilotRefusal
		switch {
		case err == nil:
			call.units++
		case errors.Is(err, github.ErrTokenRefused):
			if s.opts.Events != nil {
				s.opts.Events.Event("TokenRefused", map[string]string{"enterprise": plan.enterpriseID}, nil)
			}
			return s.result(call, counters()), fmt.Errorf("collect_copilot for %s: %w: %w", plan.enterpriseID, ErrPermanent, err)
		case errors.Is(err, github.ErrTokenUnusable), errors.Is(err, github.ErrDisallowedHost), errors.Is(err, github.ErrTooLarge):
			// The stored secret is malformed, GitHub pointed at a host the configuration
			// does not allow, or answered beyond the client's limits: asking again
			// cannot help; an operator must look.
			return s.result(call, counters()), fmt.Errorf("collect_copilot for %s: %w: %w", plan.enterpriseID, ErrPermanent, err)
		case errors.As(err, &refusal):
			call.warnings = append(call.warnings, refusal.warning())
			if !daily(u.step) {
				call.refused[u.scope] = true
				plan.skipped = append(plan.skipped, refusal.scope.Type+" "+refusal.scope.Name)
			}
		case ctx.Err() == nil && copilotTransient(err):
			if call.units == 0 {
				return s.result(call, counters()), fmt.Errorf("collect_copilot for %s at %s %s: %w: %w",
					plan.enterpriseID, plan.scopes[u.scope].Name, u, ErrUnavailable, err)
			}
			call.warn("GitHub did not answer for %s %s (%v); what was collected is saved and the next call continues from the cursor",
				plan.scopes[u.scope].Name, u, err)
			return s.pause(call, u, counters()), nil
		default:
			return s.result(call, counters()), fmt.Errorf("collect_copilot for %s at %s %s: %w", plan.enterpriseID, plan.scopes[u.scope].Name, u, err)
		}
	}
	res := s.result(call, counters())
	res.Done = true
	res.Warnings = append(res.Warnings, tokenExpiryWarning(client, plan.enterpriseID, s.opts.Now(), s.opts.Events)...)
	if len(plan.skipped) > 0 || plan.unreadable > 0 {
		res.Status = StatusPartial
		var reasons []string
		if len(plan.skipped) > 0 {
			reasons = append(reasons, "Copilot reports refused for "+strings.Join(plan.skipped, ", "))
		}
		if plan.unreadable > 0 {
			reasons = append(reasons, fmt.Sprintf("%d report records could not be read", plan.unreadable))
		}
		res.Error = strings.Join(reasons, "; ")
	}
	s.log.InfoContext(ctx, "collected copilot usage", "enterprise", plan.enterpriseID, "units", call.units,
		"records", res.Records, "api_calls", res.Counters.Requests, "status", res.Status)
	return res, nil
}

// outOfTime reports whether the next unit might not fit before the deadline.
func (s *CopilotStage) outOfTime(req Request, longest time.Duration) bool {
	return !req.Deadline.IsZero() && req.Deadline.Sub(s.opts.Now()) < copilotMargin+longest
}

func (s *CopilotStage) result(call *copilotCall, counters Counters) Result {
	return Result{Status: StatusSucceeded, Records: call.records, Counters: counters, Warnings: call.warnings}
}

// pause answers done=false with a cursor at next.
func (s *CopilotStage) pause(call *copilotCall, next copilotUnit, counters Counters) Result {
	res := s.result(call, counters)
	res.Cursor = call.plan.cursor(next)
	return res
}

// copilotTransient tells failures a later call can get past: GitHub down or rate
// limiting, report links refused again and again, the call's deadline reached mid-unit.
func copilotTransient(err error) bool {
	return errors.Is(err, github.ErrUnavailable) || errors.Is(err, github.ErrRateLimited) ||
		errors.Is(err, errCopilotLinkRefused) || errors.Is(err, context.DeadlineExceeded)
}

// copilotRefusal is GitHub refusing a scope's reports or seats (403: the Copilot usage
// metrics policy is off, or the token lacks the role; 404: no such org or no access).
// The other scopes go on; the collection ends partial.
type copilotRefusal struct {
	scope metrics.CopilotScope
	seats bool
	teams bool
	err   error
}

func (r *copilotRefusal) Error() string { return r.err.Error() }
func (r *copilotRefusal) Unwrap() error { return r.err }

// warning names the scope and the fix.
func (r *copilotRefusal) warning() string {
	what, skipped := "Copilot usage reports", "its reports were skipped"
	switch {
	case r.seats:
		what, skipped = "Copilot seats", "its seat figures stay empty for today"
	case r.teams:
		what, skipped = "Team listings", "its teams keep yesterday's members"
	}
	var fix string
	switch {
	case r.teams:
		fix = "the token needs read:org on the organization (a classic PAT of a member, or a GitHub App with the Members read permission)"
	case errors.Is(r.err, github.ErrNotFound):
		fix = fmt.Sprintf("check the %s name in COLLECTOR_ENTERPRISES and that the token can see it", r.scope.Type)
	case r.seats && r.scope.Type == metrics.ScopeEnterprise:
		fix = "the enterprise seat listing needs a classic PAT of an enterprise owner or billing manager (manage_billing:copilot or read:enterprise)"
	case r.seats:
		fix = "the token's owner must be an owner of the organization (classic PAT with manage_billing:copilot or read:org)"
	case r.scope.Type == metrics.ScopeEnterprise:
		fix = `enable the "Copilot usage metrics" policy of the enterprise and give the token's owner the enterprise owner, billing manager or "View Enterprise Copilot Metrics" role (classic PAT with manage_billing:copilot or read:enterprise)`
	default:
		fix = `enable the "Copilot usage metrics" policy of the organization and give the token's owner the organization owner or "View Organization Copilot Metrics" role (read:org)`
	}
	return fmt.Sprintf("%s of %s %s were refused (%v): %s; %s", what, r.scope.Type, r.scope.Name, r.err, fix, skipped)
}
