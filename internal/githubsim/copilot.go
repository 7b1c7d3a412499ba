package githubsim

import (
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// Copilot usage is not stored: a user's activity on a day is a pure function of the
// seed, the user and the day (copilotUser.day), and reports aggregate it on demand.

// History floors of the usage-metrics reports (GitHub keeps at most a year).
var (
	enterpriseReportFloor = time.Date(2025, 10, 10, 0, 0, 0, 0, time.UTC)
	orgReportFloor        = time.Date(2025, 12, 12, 0, 0, 0, 0, time.UTC)
)

type copilotUser struct {
	u     *user
	seats []*seat
	since time.Time // first seat: no activity before its day
	until time.Time // last seat removed; zero: still seated

	activity  float64 // chance of being active on a weekday
	intensity float64 // scales counters
	chat      float64 // chance of using chat on an active day
	agent     float64 // chance of using agent mode
	cli       float64 // chance of using the CLI
	ide       int     // index in ides; ide2 is used on some days
	ide2      int
	langs     [2]string
	// neverUses: a seat holder who never used Copilot (never-used seats). stoppedAt: one
	// who stopped on that day (seats idle for 30 days and more); zero: still using it.
	neverUses bool
	stoppedAt time.Time
}

type seat struct {
	org       *org
	holder    *copilotUser // nil: the seat's assignee is null
	createdAt time.Time
	team      *team
	plan      string
	// A cancelled seat shows pending_cancellation_date from cancelSetAt until the date,
	// then disappears.
	cancelSetAt time.Time
	cancelDate  time.Time
}

func (s *seat) visibleAt(now time.Time) bool {
	if s.createdAt.After(now) {
		return false
	}
	return s.cancelDate.IsZero() || now.Before(s.cancelDate)
}

// activeOnDay reports whether the seat counts for a report day (held at any time that day).
func (s *seat) activeOnDay(day time.Time) bool {
	if !s.createdAt.Before(day.AddDate(0, 0, 1)) {
		return false
	}
	return s.cancelDate.IsZero() || s.cancelDate.After(day)
}

var (
	ides         = []string{"vscode", "intellij", "visualstudio", "neovim"}
	ideVersions  = []string{"1.98.2", "2025.1.3", "17.14.8", "0.11.2"}
	idePlugins   = []string{"copilot-chat", "copilot-intellij", "copilot-vs", "copilot.vim"}
	pluginVers   = []string{"0.26.7", "1.5.49", "17.14.612", "1.43.0"}
	languages    = []string{"go", "typescript", "python", "java", "csharp", "sql", "markdown", "unknown"}
	chatModels   = []string{"claude-sonnet-4.5", "gpt-5", "gpt-4.1", "gemini-2.5-pro"}
	agentModels  = []string{"claude-sonnet-4.5", "gpt-5-codex"}
	featureNames = []string{"code_completion", "chat_panel_ask_mode", "chat_panel_agent_mode",
		"chat_panel_edit_mode", "chat_inline", "agent_edit", "copilot_cli"}
)

// Feature indexes in featureNames.
const (
	featCompletion = iota
	featAsk
	featAgentMode
	featEdit
	featInline
	featAgentEdit
	featCLI
	nFeatures
)

// genCopilot hands out Copilot seats: most of the enterprise's people hold one in their
// home org, people in two orgs usually hold one in each, a few seats are cancelled, a
// few are created after the initial now, and one seat has no assignee.
func (w *world) genCopilot(e *enterprise) {
	rng := newRand(w.cfg.Seed, streamSeats, uint64(e.index))
	floor := enterpriseReportFloor.AddDate(0, -2, 0)
	span := w.initialNow.Sub(floor)
	perm := rng.Perm(len(e.people))
	for _, k := range perm[:min(e.cfg.CopilotUsers, len(e.people))] {
		u := e.people[k]
		cu := &copilotUser{u: u}
		ur := newRand(w.cfg.Seed, streamCopilotUser, uint64(u.id))
		cu.activity = 0.35 + 0.6*ur.Float64()
		cu.intensity = 0.3 + 1.7*ur.Float64()
		cu.chat = 0.2 + 0.7*ur.Float64()
		cu.agent = 0.05 + 0.6*ur.Float64()
		cu.cli = 0.02 + 0.3*ur.Float64()
		cu.ide = weightedPick(ur, []float64{0.65, 0.2, 0.1, 0.05})
		cu.ide2 = (cu.ide + 1 + ur.IntN(len(ides)-1)) % len(ides)
		cu.langs = [2]string{pick(ur, languages[:6]), pick(ur, languages)}
		// A tenth never use their seat and a tenth stopped 5 to 12 weeks before the
		// initial now: idle seats (drawn last, so the draws above are unchanged).
		switch x := ur.Float64(); {
		case x < 0.10:
			cu.neverUses = true
		case x < 0.20:
			cu.stoppedAt = startOfDay(w.initialNow).AddDate(0, 0, -35-int(unit(mix(uint64(u.id), 0x1d1e))*49))
		}

		created := floor.Add(time.Duration(rng.Float64() * float64(span))).Truncate(time.Second)
		if chance(rng, 0.03) {
			created = w.initialNow.Add(between(rng, time.Hour, time.Duration(w.cfg.FutureDays)*24*time.Hour)).Truncate(time.Second)
		}
		for i, o := range u.orgs {
			if i > 0 && chance(rng, 0.2) {
				continue // member of a second org without a seat there
			}
			s := &seat{org: o, holder: cu, createdAt: created.Add(time.Duration(i) * between(rng, time.Hour, 30*24*time.Hour)), plan: "business"}
			if e.index%2 == 1 {
				s.plan = "enterprise"
			}
			if chance(rng, 0.3) {
				s.team = &o.teams[rng.IntN(len(o.teams))]
			}
			if chance(rng, 0.05) {
				s.cancelSetAt = s.createdAt.Add(between(rng, 24*time.Hour, 400*24*time.Hour)).Truncate(time.Second)
				y, m, _ := s.cancelSetAt.Date()
				s.cancelDate = time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC) // end of the billing cycle
			}
			cu.seats = append(cu.seats, s)
		}
		cu.since = startOfDay(cu.seats[0].createdAt)
		for _, s := range cu.seats {
			if s.createdAt.Before(cu.since) {
				cu.since = startOfDay(s.createdAt)
			}
		}
		cu.until = time.Time{}
		for _, s := range cu.seats {
			if s.cancelDate.IsZero() {
				cu.until = time.Time{}
				break
			}
			if s.cancelDate.After(cu.until) {
				cu.until = s.cancelDate
			}
		}
		e.copilot = append(e.copilot, cu)
	}
	sort.Slice(e.copilot, func(i, j int) bool { return e.copilot[i].u.id < e.copilot[j].u.id })
	if len(e.orgs) > 0 {
		e.unassignedSeat = seat{org: e.orgs[0], createdAt: floor.Add(span / 3).Truncate(time.Second), plan: "business"}
	}
}

// scopeUsers are the Copilot users a report of the scope covers on day: for an
// enterprise everyone seated anywhere, for an org those seated in it.
func (e *enterprise) scopeUsers(o *org, day time.Time) []*copilotUser {
	var out []*copilotUser
	for _, cu := range e.copilot {
		for _, s := range cu.seats {
			if (o == nil || s.org == o) && s.activeOnDay(day) {
				out = append(out, cu)
				break
			}
		}
	}
	return out
}

func dayNumber(day time.Time) uint64 { return uint64(day.Unix() / 86400) }

// dayFlags is what can be known about a user-day cheaply (for the active-user windows).
type dayFlags struct {
	active, chat, agent, cli, reviewActive, reviewPassive, codingAgent bool
}

func (cu *copilotUser) flags(seed int64, day time.Time) dayFlags {
	if day.Before(cu.since) || (!cu.until.IsZero() && !day.Before(cu.until)) || cu.neverUses ||
		(!cu.stoppedAt.IsZero() && !day.Before(cu.stoppedAt)) {
		return dayFlags{}
	}
	h := hashOf(uint64(seed), streamCopilotDay, uint64(cu.u.id), dayNumber(day))
	p := cu.activity
	if isWeekend(day) {
		p *= 0.12
	}
	if unit(h) >= p {
		return dayFlags{}
	}
	return dayFlags{
		active:        true,
		chat:          unit(mix(h, 1)) < cu.chat,
		agent:         unit(mix(h, 2)) < cu.agent,
		cli:           unit(mix(h, 3)) < cu.cli,
		reviewActive:  unit(mix(h, 4)) < 0.05,
		reviewPassive: unit(mix(h, 5)) < 0.12,
		codingAgent:   unit(mix(h, 6)) < 0.03,
	}
}

// counts are the six code counters plus user-initiated interactions.
type counts struct {
	interactions, generations, acceptances, locSuggestedAdd, locSuggestedDelete, locAdded, locDeleted int64
}

func (c *counts) add(o counts) {
	c.interactions += o.interactions
	c.generations += o.generations
	c.acceptances += o.acceptances
	c.locSuggestedAdd += o.locSuggestedAdd
	c.locSuggestedDelete += o.locSuggestedDelete
	c.locAdded += o.locAdded
	c.locDeleted += o.locDeleted
}

func (c counts) scaled(f float64) counts {
	s := func(v int64) int64 { return int64(math.Floor(float64(v) * f)) }
	return counts{s(c.interactions), s(c.generations), s(c.acceptances), s(c.locSuggestedAdd), s(c.locSuggestedDelete), s(c.locAdded), s(c.locDeleted)}
}

// userDay is one user's Copilot activity on one day.
type userDay struct {
	cu    *copilotUser
	day   time.Time
	flags dayFlags
	ide   int
	// per feature: counters, the model used, and the share of the first language
	features [nFeatures]counts
	models   [nFeatures]string
	langs    [2]string
	share    float64
	cli      cliUsage
	credits  float64
}

type cliUsage struct {
	sessions, requests, prompts, outputTokens, promptTokens int64
}

// day computes the user's activity on day, with counters scaled by f (reports of
// recent days are not final yet).
func (cu *copilotUser) day(seed int64, day time.Time, f float64) userDay {
	d := userDay{cu: cu, day: day, flags: cu.flags(seed, day), ide: cu.ide, langs: cu.langs}
	if !d.flags.active {
		return d
	}
	rng := rand.New(rand.NewPCG(hashOf(uint64(seed), streamCopilotDay, uint64(cu.u.id), dayNumber(day)), 7))
	if chance(rng, 0.15) {
		d.ide = cu.ide2
	}
	d.share = 0.55 + 0.45*rng.Float64()
	if d.langs[0] == d.langs[1] {
		d.share = 1
	}
	k := cu.intensity
	n := func(median float64) int64 { return int64(median * k * math.Exp(rng.NormFloat64()*0.5)) }
	ratio := func(v int64, lo, hi float64) int64 { return int64(float64(v) * (lo + (hi-lo)*rng.Float64())) }

	gens := n(60) + 1
	acc := ratio(gens, 0.2, 0.4)
	d.features[featCompletion] = counts{0, gens, acc, ratio(gens, 1, 3), 0, ratio(acc, 1, 2.5), 0}
	d.models[featCompletion] = "default"
	if d.flags.chat {
		ask := n(6) + 1
		g := ratio(ask, 0.3, 0.8)
		a := ratio(g, 0.2, 0.5)
		d.features[featAsk] = counts{ask, g, a, ratio(g, 5, 12), ratio(g, 0, 2), ratio(a, 4, 9), ratio(a, 0, 1)}
		d.models[featAsk] = pick(rng, chatModels)
		if chance(rng, 0.5) {
			in := n(3) + 1
			d.features[featInline] = counts{in, in, ratio(in, 0.3, 0.7), ratio(in, 3, 8), ratio(in, 0, 2), ratio(in, 1, 4), ratio(in, 0, 1)}
			d.models[featInline] = pick(rng, chatModels)
		}
		if chance(rng, 0.3) {
			ed := n(2) + 1
			g := ratio(ed, 1, 3)
			d.features[featEdit] = counts{ed, g, ratio(g, 0.4, 0.8), ratio(g, 8, 20), ratio(g, 2, 6), ratio(g, 5, 15), ratio(g, 1, 4)}
			d.models[featEdit] = pick(rng, chatModels)
		}
	}
	if d.flags.agent {
		am := n(4) + 1
		g := ratio(am, 1.5, 4)
		a := ratio(g, 0.5, 0.9)
		d.features[featAgentMode] = counts{am, g, a, ratio(g, 15, 40), ratio(g, 3, 10), ratio(a, 12, 35), ratio(a, 2, 8)}
		d.models[featAgentMode] = pick(rng, agentModels)
		ae := n(8) + 1
		ea := ratio(ae, 0.6, 0.95)
		d.features[featAgentEdit] = counts{0, ae, ea, ratio(ae, 10, 30), ratio(ae, 2, 8), ratio(ea, 8, 25), ratio(ea, 1, 6)}
		d.models[featAgentEdit] = d.models[featAgentMode]
	}
	if d.flags.cli {
		c := n(3) + 1
		d.features[featCLI] = counts{c, ratio(c, 0.5, 1), ratio(c, 0.2, 0.6), ratio(c, 3, 10), 0, ratio(c, 1, 5), 0}
		d.models[featCLI] = pick(rng, agentModels)
		d.cli = cliUsage{sessions: 1 + c/3, requests: c * 3, prompts: c, outputTokens: c * 900, promptTokens: c * 4200}
	}
	if f < 1 {
		for i := range d.features {
			d.features[i] = d.features[i].scaled(f)
		}
	}
	premium := d.features[featAsk].interactions + 2*d.features[featAgentMode].interactions + d.features[featCLI].interactions
	d.credits = math.Round(float64(premium)*4) / 100
	return d
}

func (d *userDay) total() counts {
	var t counts
	for _, c := range d.features {
		t.add(c)
	}
	return t
}

// splitLanguages divides a feature's counters between the day's two languages.
func (d *userDay) splitLanguages(c counts) [2]counts {
	first := c.scaled(d.share)
	rest := counts{c.interactions - first.interactions, c.generations - first.generations, c.acceptances - first.acceptances,
		c.locSuggestedAdd - first.locSuggestedAdd, c.locSuggestedDelete - first.locSuggestedDelete, c.locAdded - first.locAdded, c.locDeleted - first.locDeleted}
	return [2]counts{first, rest}
}

// completeness is how final a report day is at now: reports keep growing for three
// days after they first appear.
func (w *world) completeness(day, now time.Time) float64 {
	age := now.Sub(w.reportAvailableAt(day))
	switch {
	case age < 24*time.Hour:
		return 0.9
	case age < 48*time.Hour:
		return 0.96
	}
	return 1
}

func (w *world) reportAvailableAt(day time.Time) time.Time {
	return day.AddDate(0, 0, 1).Add(w.cfg.CopilotReportDelay)
}

// reportExists reports whether a 1-day report of the scope exists for day at now.
func (w *world) reportExists(orgScope bool, day, now time.Time) bool {
	floor := enterpriseReportFloor
	if orgScope {
		floor = orgReportFloor
	}
	yearBack := startOfDay(now).AddDate(-1, 0, 0)
	if day.Before(floor) || day.Before(yearBack) || now.Before(w.reportAvailableAt(day)) {
		return false
	}
	return w.cfg.CopilotMissingDay.IsZero() || !day.Equal(startOfDay(w.cfg.CopilotMissingDay))
}

// lastReportDay is the newest day whose report exists at now.
func (w *world) lastReportDay(now time.Time) time.Time {
	return startOfDay(now.Add(-w.cfg.CopilotReportDelay - 24*time.Hour))
}

// pullRequestActivity is the report's pull_requests block for one org and day. The
// enterprise's is the sum of its orgs' (a pull request belongs to one org's repository).
type pullRequestActivity struct {
	created, reviewed, merged, suggestions, applied, createdByCopilot, reviewedByCopilot int64
	// Copilot code review's own suggestions and applied suggestions: a share of the above.
	copilotSuggestions, copilotApplied int64
	medianMinutes                      float64
}

func (w *world) orgPullActivity(o *org, day time.Time, f float64) pullRequestActivity {
	rng := newRand(w.cfg.Seed, streamPRActivity, uint64(o.id), dayNumber(day))
	base := float64(len(o.members)) * 0.4
	if isWeekend(day) {
		base *= 0.1
	}
	created := int64(float64(poisson(rng, base)) * f)
	merged := int64(float64(created) * (0.6 + 0.3*rng.Float64()))
	reviewed := int64(float64(created) * (0.7 + 0.3*rng.Float64()))
	sugg := int64(float64(reviewed) * (1 + 3*rng.Float64()))
	a := pullRequestActivity{
		created: created, reviewed: reviewed, merged: merged,
		suggestions: sugg, applied: int64(float64(sugg) * (0.2 + 0.4*rng.Float64())),
		createdByCopilot: int64(float64(created) * 0.1 * rng.Float64()), reviewedByCopilot: int64(float64(reviewed) * (0.2 + 0.5*rng.Float64())),
		medianMinutes: math.Round((60+600*rng.Float64())*10) / 10,
	}
	// Drawn after the others, so adding them changed none of the figures above.
	a.copilotSuggestions = int64(float64(a.suggestions) * (0.3 + 0.4*rng.Float64()))
	a.copilotApplied = min(int64(float64(a.copilotSuggestions)*(0.2+0.5*rng.Float64())), a.applied)
	return a
}

func (w *world) pullActivity(e *enterprise, o *org, day time.Time, f float64) pullRequestActivity {
	if o != nil {
		return w.orgPullActivity(o, day, f)
	}
	var sum pullRequestActivity
	var medians []float64
	for _, oo := range e.orgs {
		a := w.orgPullActivity(oo, day, f)
		sum.created += a.created
		sum.reviewed += a.reviewed
		sum.merged += a.merged
		sum.suggestions += a.suggestions
		sum.applied += a.applied
		sum.createdByCopilot += a.createdByCopilot
		sum.reviewedByCopilot += a.reviewedByCopilot
		sum.copilotSuggestions += a.copilotSuggestions
		sum.copilotApplied += a.copilotApplied
		medians = append(medians, a.medianMinutes)
	}
	sort.Float64s(medians)
	if len(medians) > 0 {
		sum.medianMinutes = medians[len(medians)/2]
	}
	return sum
}
