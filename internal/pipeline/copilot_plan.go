package pipeline

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/metrics"
	"metrics-collector/internal/postgres"
)

// What collect_copilot does in one call is a list of units in a fixed order: per scope
// (the enterprise first, then the orgs by login), the seat snapshot, the team listing
// (orgs, when teams are configured), then each report (aggregate, users, user teams) day
// by day, oldest first. A cursor names the next unit,
// so a resumed call neither redoes a committed unit nor skips one.

// Steps of a scope, in the order they run.
const (
	copilotStepSeats = iota
	copilotStepTeams
	copilotStepAggregate
	copilotStepUsers
	copilotStepUserTeams
)

// copilotStepName is the step's name in cursors (and, for reports, in the store).
func copilotStepName(step int) string {
	switch step {
	case copilotStepSeats:
		return "seats"
	case copilotStepTeams:
		return "teams"
	case copilotStepAggregate:
		return postgres.CopilotReportAggregate
	case copilotStepUsers:
		return postgres.CopilotReportUsers
	case copilotStepUserTeams:
		return postgres.CopilotReportUserTeams
	}
	return ""
}

func copilotStepOf(name string) (int, bool) {
	for step := copilotStepSeats; step <= copilotStepUserTeams; step++ {
		if copilotStepName(step) == name {
			return step, true
		}
	}
	return 0, false
}

// copilotFloor is the first day GitHub has usage reports for (github-api.md): enterprise
// reports from 2025-10-10, organization reports from 2025-12-12.
func copilotFloor(scopeType string) time.Time {
	if scopeType == metrics.ScopeEnterprise {
		return time.Date(2025, 10, 10, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(2025, 12, 12, 0, 0, 0, 0, time.UTC)
}

// copilotOldest is the oldest day a report can be asked for on runDate: the scope type's
// floor, and at most a year back.
func copilotOldest(scopeType string, runDate time.Time) time.Time {
	oldest := copilotFloor(scopeType)
	if yearBack := runDate.AddDate(-1, 0, 0); yearBack.After(oldest) {
		oldest = yearBack
	}
	return oldest
}

// copilotUnit is one unit of work: the seat snapshot of a scope, the team listing of an
// org, or one report of a scope for one day.
type copilotUnit struct {
	scope int       // index in copilotPlan.scopes
	step  int       // copilotStep*
	day   time.Time // zero for the seat snapshot and the team listing
}

// daily reports whether the step is taken once per date rather than per report day.
func daily(step int) bool { return step == copilotStepSeats || step == copilotStepTeams }

func (u copilotUnit) before(v copilotUnit) bool {
	if u.scope != v.scope {
		return u.scope < v.scope
	}
	if u.step != v.step {
		return u.step < v.step
	}
	return u.day.Before(v.day)
}

// copilotPlan is what one collect_copilot call works through.
type copilotPlan struct {
	enterpriseID string
	scopes       []metrics.CopilotScope
	steps        []int // the report steps of every scope
	teams        bool  // list the orgs' teams (COLLECTOR_ENTERPRISES[].teams)
	teamFilter   config.Teams
	teamRepos    bool // list each team's repositories (team_repositories "permissions")
	backfillDays int
	// runDate is the UTC date the collection started: it fixes "yesterday", so a
	// collection resumed after midnight finishes the window it started.
	runDate      time.Time
	since, until *time.Time // the window override (back-fill, re-collection)
	resume       *copilotUnit
	// firstDays is the oldest day fetched per report and scope (nil: unknown).
	firstDays map[postgres.CopilotStream]time.Time
	// skipped are the scopes whose reports were refused earlier in this collection, and
	// unreadable the records left out so far: the last call reports them as partial.
	skipped    []string
	unreadable int
}

// recollect reports whether the call re-collects a window, which also retakes the
// day's seat snapshot.
func (p *copilotPlan) recollect() bool { return p.since != nil || p.until != nil }

// copilotScopes lists the scopes of an enterprise: the enterprise itself when a slug is
// configured, then its orgs sorted by login.
func copilotScopes(e *config.Enterprise) []metrics.CopilotScope {
	var out []metrics.CopilotScope
	if e.Slug != "" {
		out = append(out, metrics.CopilotScope{Type: metrics.ScopeEnterprise, Name: e.Slug})
	}
	orgs := slices.Clone(e.Orgs)
	slices.Sort(orgs)
	for _, o := range slices.Compact(orgs) {
		out = append(out, metrics.CopilotScope{Type: metrics.ScopeOrganization, Name: o})
	}
	return out
}

// newCopilotPlan checks the request and builds the plan. Errors are *InputError.
func newCopilotPlan(req Request) (*copilotPlan, error) {
	e := req.Enterprise
	if e == nil {
		return nil, BadInput("enterprise", "required for %s", StageCollectCopilot)
	}
	p := &copilotPlan{
		enterpriseID: e.ID,
		scopes:       copilotScopes(e),
		steps:        []int{copilotStepAggregate, copilotStepUsers},
		teams:        e.Teams.Enabled(),
		teamFilter:   e.Teams,
		teamRepos:    e.TeamRepositories.FromPermissions,
		backfillDays: e.CopilotBackfillDays,
		runDate:      utcDate(req.Now),
		since:        req.Since,
		until:        req.Until,
	}
	if e.CopilotUserTeams {
		p.steps = append(p.steps, copilotStepUserTeams)
	}
	if p.backfillDays < 1 {
		p.backfillDays = config.DefaultCopilotBackfill
	}
	if len(p.scopes) == 0 {
		return nil, BadInput("enterprise", "%s has neither an enterprise slug nor orgs configured", e.ID)
	}
	if req.Cursor != "" {
		if err := p.applyCursor(req); err != nil {
			return nil, err
		}
	}
	if err := p.checkWindow(req.Since != nil, req.Until != nil); err != nil {
		return nil, err
	}
	return p, nil
}

// checkWindow refuses a since before the history GitHub keeps for the first scope
// (the enterprise when a slug is configured, else the orgs) and an until that has no
// report yet.
func (p *copilotPlan) checkWindow(sinceGiven, untilGiven bool) error {
	first := p.scopes[0].Type
	oldest := copilotOldest(first, p.runDate)
	yesterday := p.runDate.AddDate(0, 0, -1)
	if p.since != nil && sinceGiven {
		since := *p.since
		switch floor := copilotFloor(first); {
		case since.Before(floor):
			return BadInput("since", "%s is before the first day of %s Copilot usage reports (%s); use %s or later",
				since.Format(time.DateOnly), first, floor.Format(time.DateOnly), oldest.Format(time.DateOnly))
		case since.Before(oldest):
			return BadInput("since", "%s is more than a year back; GitHub keeps Copilot usage reports for a year, so use %s or later",
				since.Format(time.DateOnly), oldest.Format(time.DateOnly))
		case since.After(yesterday):
			return BadInput("since", "%s has no report yet: reports exist for finished UTC days, the newest is %s",
				since.Format(time.DateOnly), yesterday.Format(time.DateOnly))
		}
	}
	if p.until != nil && untilGiven {
		until := *p.until
		switch {
		case until.After(yesterday):
			return BadInput("until", "%s has no report yet: reports exist for finished UTC days; use %s or earlier",
				until.Format(time.DateOnly), yesterday.Format(time.DateOnly))
		case until.Before(oldest):
			return BadInput("until", "%s is before the oldest %s Copilot usage report GitHub keeps (%s)",
				until.Format(time.DateOnly), first, oldest.Format(time.DateOnly))
		}
	}
	return nil
}

// window is the days of one report of one scope this collection asks for: since/until
// when given; else from two days before the watermark (the last three days fetched are
// not final, so they are fetched again), or on a first run the back-fill; to yesterday.
// It never reaches before the scope type's history floor or a year back. ok is false
// when the window is empty.
func (p *copilotPlan) window(scope metrics.CopilotScope, step int, marks map[postgres.CopilotStream]time.Time) (from, to time.Time, ok bool) {
	to = p.runDate.AddDate(0, 0, -1)
	if p.until != nil && p.until.Before(to) {
		to = *p.until
	}
	stream := postgres.CopilotStream{Scope: scope, Report: copilotStepName(step)}
	mark, seen := marks[stream]
	switch {
	case p.since != nil:
		from = *p.since
	case seen:
		from = utcDate(mark).AddDate(0, 0, -2)
		// Only days fetched before are fetched again: a first collection whose call was
		// cut off before it answered (no cursor saved) continues where it stopped rather
		// than reaching back before its own first day.
		if first, ok := p.firstDays[stream]; ok && from.Before(first) {
			from = first
		}
	default:
		from = p.runDate.AddDate(0, 0, -p.backfillDays)
	}
	if oldest := copilotOldest(scope.Type, p.runDate); from.Before(oldest) {
		from = oldest
	}
	return from, to, !from.After(to)
}

// units lists the units of the collection from the cursor's position on.
func (p *copilotPlan) units(marks map[postgres.CopilotStream]time.Time) []copilotUnit {
	var out []copilotUnit
	add := func(u copilotUnit) {
		if p.resume == nil || !u.before(*p.resume) {
			out = append(out, u)
		}
	}
	for i, scope := range p.scopes {
		add(copilotUnit{scope: i, step: copilotStepSeats})
		if p.teams && scope.Type == metrics.ScopeOrganization {
			add(copilotUnit{scope: i, step: copilotStepTeams})
		}
		for _, step := range p.steps {
			from, to, ok := p.window(scope, step, marks)
			if !ok {
				continue
			}
			for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
				add(copilotUnit{scope: i, step: step, day: d})
			}
		}
	}
	return out
}

// copilotCursor is the JSON inside a collect_copilot cursor.
type copilotCursor struct {
	Version    int      `json:"v"`
	Enterprise string   `json:"e"`
	RunDate    string   `json:"d"`
	Since      string   `json:"s,omitempty"`
	Until      string   `json:"u,omitempty"`
	ScopeType  string   `json:"st"`
	Scope      string   `json:"sc"`
	Step       string   `json:"r"`
	Day        string   `json:"day,omitempty"`
	Skipped    []string `json:"skip,omitempty"`
	Unreadable int      `json:"bad,omitempty"`
}

const copilotCursorPrefix = "copilot1."

// cursor encodes where the next call continues: at unit next.
func (p *copilotPlan) cursor(next copilotUnit) string {
	scope := p.scopes[next.scope]
	c := copilotCursor{
		Version: 1, Enterprise: p.enterpriseID, RunDate: p.runDate.Format(time.DateOnly),
		ScopeType: scope.Type, Scope: scope.Name, Step: copilotStepName(next.step),
		Skipped: p.skipped, Unreadable: p.unreadable,
	}
	if p.since != nil {
		c.Since = p.since.Format(time.DateOnly)
	}
	if p.until != nil {
		c.Until = p.until.Format(time.DateOnly)
	}
	if !next.day.IsZero() {
		c.Day = next.day.Format(time.DateOnly)
	}
	raw, _ := json.Marshal(c) // plain strings and ints: cannot fail
	return copilotCursorPrefix + base64.RawURLEncoding.EncodeToString(raw)
}

var errNotCopilotCursor = errors.New("is not a cursor of collect_copilot; pass the cursor the previous call returned, or none to start afresh")

// applyCursor sets the plan's position, run date and window from the cursor, after
// checking it belongs to this enterprise and agrees with since/until when they are
// given again.
func (p *copilotPlan) applyCursor(req Request) error {
	raw, ok := strings.CutPrefix(req.Cursor, copilotCursorPrefix)
	if !ok {
		return &InputError{Field: "cursor", Message: errNotCopilotCursor.Error()}
	}
	body, err := base64.RawURLEncoding.DecodeString(raw)
	var c copilotCursor
	if err == nil {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		err = dec.Decode(&c)
	}
	if err != nil || c.Version != 1 {
		return &InputError{Field: "cursor", Message: errNotCopilotCursor.Error()}
	}
	if c.Enterprise != p.enterpriseID {
		return BadInput("cursor", "belongs to enterprise %q, not %q", c.Enterprise, p.enterpriseID)
	}
	date := func(v string) (*time.Time, error) {
		if v == "" {
			return nil, nil
		}
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return nil, &InputError{Field: "cursor", Message: errNotCopilotCursor.Error()}
		}
		return &d, nil
	}
	runDate, err := date(c.RunDate)
	if err != nil || runDate == nil {
		return &InputError{Field: "cursor", Message: errNotCopilotCursor.Error()}
	}
	if runDate.After(p.runDate) {
		return BadInput("cursor", "belongs to a collection started on %s, which is in the future", c.RunDate)
	}
	since, err := date(c.Since)
	if err != nil {
		return err
	}
	until, err := date(c.Until)
	if err != nil {
		return err
	}
	if !sameDate(req.Since, since) || !sameDate(req.Until, until) {
		return BadInput("cursor", "belongs to a collection of since %q, until %q; give the same window or leave since and until out", c.Since, c.Until)
	}
	step, ok := copilotStepOf(c.Step)
	day, err := date(c.Day)
	if !ok || err != nil || daily(step) != (day == nil) ||
		(step == copilotStepTeams && (!p.teams || c.ScopeType != metrics.ScopeOrganization)) {
		return &InputError{Field: "cursor", Message: errNotCopilotCursor.Error()}
	}
	scope := slices.Index(p.scopes, metrics.CopilotScope{Type: c.ScopeType, Name: c.Scope})
	if scope < 0 {
		return BadInput("cursor", "continues at %s %s, which is no longer configured for %s; call again without a cursor", c.ScopeType, c.Scope, p.enterpriseID)
	}
	next := copilotUnit{scope: scope, step: step}
	if day != nil {
		next.day = *day
	}
	p.runDate, p.since, p.until, p.resume = *runDate, since, until, &next
	p.skipped, p.unreadable = c.Skipped, max(c.Unreadable, 0)
	return nil
}

// sameDate reports whether a date given with the request agrees with the cursor's; a
// date left out of the request agrees with anything.
func sameDate(given, inCursor *time.Time) bool {
	if given == nil {
		return true
	}
	return inCursor != nil && given.Equal(*inCursor)
}

func (u copilotUnit) String() string {
	if u.day.IsZero() {
		return copilotStepName(u.step)
	}
	return fmt.Sprintf("%s %s", copilotStepName(u.step), u.day.Format(time.DateOnly))
}
