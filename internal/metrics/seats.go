package metrics

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Copilot plan types as the seat listings name them.
const (
	PlanBusiness   = "business"
	PlanEnterprise = "enterprise"
)

// SeatPrices are the monthly list prices of a Copilot seat per plan type
// (COPILOT_SEAT_PRICES), in one currency.
type SeatPrices struct {
	Currency string
	Monthly  map[string]float64 // plan type (lower case) → price per seat and month
}

// DefaultSeatPrices are GitHub's list prices: Copilot Business 19 USD, Copilot
// Enterprise 39 USD per seat and month.
func DefaultSeatPrices() SeatPrices {
	return SeatPrices{Currency: "USD", Monthly: map[string]float64{PlanBusiness: 19, PlanEnterprise: 39}}
}

// price returns the monthly price of a plan and whether one is configured.
func (p SeatPrices) price(plan string) (float64, bool) {
	v, ok := p.Monthly[strings.ToLower(plan)]
	return v, ok
}

// Check validates the prices: a three-letter currency code and finite, non-negative
// prices of lower-case plan names.
func (p SeatPrices) Check() error {
	var errs []error
	if len(p.Currency) != 3 || strings.ToUpper(p.Currency) != p.Currency || strings.ContainsFunc(p.Currency, func(r rune) bool { return r < 'A' || r > 'Z' }) {
		errs = append(errs, fmt.Errorf("currency: %q is not a three-letter ISO 4217 code such as USD", p.Currency))
	}
	for _, plan := range slices.Sorted(maps.Keys(p.Monthly)) {
		v := p.Monthly[plan]
		if plan == "" || strings.ToLower(plan) != plan || strings.ContainsAny(plan, " ;,=") {
			errs = append(errs, fmt.Errorf("%q: a plan type is a lower-case word such as business", plan))
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 100000 {
			errs = append(errs, fmt.Errorf("%s: %v is not a price between 0 and 100000", plan, v))
		}
	}
	return errors.Join(errs...)
}

// SeatSnapshot is one scope's seat listing of one day (copilot_seats).
type SeatSnapshot struct {
	ScopeType string // ScopeEnterprise or ScopeOrganization
	Scope     string
	Day       time.Time
	Seats     []CopilotSeat
}

// SeatUtilisationRow is one scope's seats on one day (copilot_seat_utilisation).
type SeatUtilisationRow struct {
	ScopeType string
	Scope     string
	Day       time.Time

	SeatsTotal               int
	SeatsActive7d            int // last activity on the day or the 6 days before
	SeatsActive30d           int // on the day or the 29 days before (SeatCounts)
	SeatsIdle30d             int // the rest: no activity in 30 days, never-used seats included
	SeatsNeverUsed           int // no activity ever recorded
	SeatsPendingCancellation int // with a pending_cancellation_date

	SeatsBusiness   int
	SeatsEnterprise int
	SeatsOtherPlan  int // another plan type, or none given

	Currency        string
	MonthlyCost     *float64 // Σ monthly price of the priced seats; nil when none is priced
	IdleMonthlyCost *float64 // the same over the idle seats
	UnpricedSeats   int      // seats whose plan type has no configured price (not in the costs)

	MetricVersion int
}

// IdleSeat is one seat idle for 30 days or more on its snapshot's day (copilot_idle_seats).
type IdleSeat struct {
	// Key names the seat within its listing: "id:<assignee id>", or "unassigned:<n>" for
	// the n-th seat without an assignee.
	Key                 string
	ScopeType           string
	Scope               string
	Day                 time.Time
	AssigneeID          int64 // 0: GitHub sent a null assignee
	AssigneeLogin       string
	Organization        string // the granting organizations, comma-separated
	AssigningTeam       string
	PlanType            string
	CreatedAt           time.Time
	LastActivityAt      *time.Time
	LastActivityEditor  string
	DaysIdle            int // whole days from the last activity (never used: the seat's creation) to the day
	NeverUsed           bool
	PendingCancellation *time.Time
	MetricVersion       int
}

// activityWindows returns the starts of the 7- and 30-day activity windows ending with
// day, and the end (the next midnight): activity at or after the end does not count for
// the day (a snapshot taken the next morning), as in SeatCounts.
func activityWindows(day time.Time) (from7, from30, end time.Time) {
	end = dayOf(day).AddDate(0, 0, 1)
	return end.AddDate(0, 0, -7), end.AddDate(0, 0, -30), end
}

func within(t *time.Time, from, end time.Time) bool {
	return t != nil && !t.Before(from) && t.Before(end)
}

// CalculateSeatUtilisation computes a row per snapshot (organization and enterprise
// scopes as listed) and, for each day with no enterprise listing but organization
// listings, an enterprise row from the union of those (named enterprise). Enterprise
// rows count each person once however many organizations grant them a seat (SeatPerson):
// their latest activity, and the plan of their most expensive seat. Rows come ordered by
// scope type, scope and day. It is pure.
func CalculateSeatUtilisation(snaps []SeatSnapshot, prices SeatPrices, enterprise string) ([]SeatUtilisationRow, error) {
	if err := checkSnapshots(snaps, enterprise); err != nil {
		return nil, err
	}
	if err := prices.Check(); err != nil {
		return nil, fmt.Errorf("prices: %w", err)
	}
	var rows []SeatUtilisationRow
	for _, s := range withEnterpriseSnapshots(snaps, enterprise) {
		seats := s.Seats
		if s.ScopeType == ScopeEnterprise {
			seats = SeatPeople(seats, prices)
		}
		rows = append(rows, utilisation(s.ScopeType, s.Scope, s.Day, seats, prices))
	}
	slices.SortFunc(rows, func(a, b SeatUtilisationRow) int {
		return cmp.Or(strings.Compare(a.ScopeType, b.ScopeType), strings.Compare(a.Scope, b.Scope), a.Day.Compare(b.Day))
	})
	return rows, nil
}

func checkSnapshots(snaps []SeatSnapshot, enterprise string) error {
	var errs []error
	if strings.TrimSpace(enterprise) == "" {
		errs = append(errs, errors.New("enterprise: required; give the enterprise scope's name"))
	}
	type key struct {
		typ, scope string
		day        time.Time
	}
	seen := map[key]int{}
	for i, s := range snaps {
		if s.ScopeType != ScopeEnterprise && s.ScopeType != ScopeOrganization {
			errs = append(errs, fmt.Errorf("snapshots[%d].scope_type: %q is neither %s nor %s", i, s.ScopeType, ScopeEnterprise, ScopeOrganization))
		}
		if s.Scope == "" || s.Day.IsZero() {
			errs = append(errs, fmt.Errorf("snapshots[%d]: scope and day are required", i))
		}
		k := key{s.ScopeType, s.Scope, dayOf(s.Day)}
		if j, dup := seen[k]; dup {
			errs = append(errs, fmt.Errorf("snapshots[%d]: %s %s of %s repeats snapshots[%d]", i, s.ScopeType, s.Scope, k.day.Format(time.DateOnly), j))
		}
		seen[k] = i
	}
	return errors.Join(errs...)
}

// withEnterpriseSnapshots returns snaps plus, for every day that has organization
// listings but no enterprise listing, an enterprise snapshot of all their seats.
func withEnterpriseSnapshots(snaps []SeatSnapshot, enterprise string) []SeatSnapshot {
	hasEnterprise := map[time.Time]bool{}
	union := map[time.Time][]CopilotSeat{}
	var days []time.Time
	for _, s := range snaps {
		d := dayOf(s.Day)
		if s.ScopeType == ScopeEnterprise {
			hasEnterprise[d] = true
			continue
		}
		if _, ok := union[d]; !ok {
			days = append(days, d)
		}
		for _, seat := range s.Seats {
			if seat.Organization == "" {
				seat.Organization = s.Scope
			}
			union[d] = append(union[d], seat)
		}
	}
	out := slices.Clone(snaps)
	for _, d := range days {
		if !hasEnterprise[d] {
			out = append(out, SeatSnapshot{ScopeType: ScopeEnterprise, Scope: enterprise, Day: d, Seats: union[d]})
		}
	}
	return out
}

// SeatPeople merges the seats of one person (assignee id) into one: the latest
// activity (with its editor), the earliest creation, the plan of their most expensive
// seat (a priced plan before an unpriced one), the granting organizations joined
// (sorted, comma-separated), a pending cancellation only when every seat has one (the
// latest). Seats with a null assignee (id 0) are each their own. Order: by first
// appearance.
func SeatPeople(seats []CopilotSeat, prices SeatPrices) []CopilotSeat {
	out := make([]CopilotSeat, 0, len(seats))
	orgs := [][]string{}
	pending := []bool{}
	at := map[int64]int{}
	for _, s := range seats {
		i, seen := at[s.AssigneeID]
		if s.AssigneeID == 0 || !seen {
			if s.AssigneeID != 0 {
				at[s.AssigneeID] = len(out)
			}
			out = append(out, s)
			orgs = append(orgs, splitOrgs(s.Organization))
			pending = append(pending, s.PendingCancellation != nil)
			continue
		}
		m := &out[i]
		if laterActivity(s.LastActivityAt, m.LastActivityAt) {
			m.LastActivityAt, m.LastActivityEditor = s.LastActivityAt, s.LastActivityEditor
		}
		if laterActivity(s.LastAuthenticatedAt, m.LastAuthenticatedAt) {
			m.LastAuthenticatedAt = s.LastAuthenticatedAt
		}
		if !s.CreatedAt.IsZero() && (m.CreatedAt.IsZero() || s.CreatedAt.Before(m.CreatedAt)) {
			m.CreatedAt = s.CreatedAt
		}
		if dearer(s.PlanType, m.PlanType, prices) {
			m.PlanType, m.AssigningTeam = s.PlanType, s.AssigningTeam
		}
		orgs[i] = append(orgs[i], splitOrgs(s.Organization)...)
		pending[i] = pending[i] && s.PendingCancellation != nil
		if pending[i] && laterActivity(s.PendingCancellation, m.PendingCancellation) {
			m.PendingCancellation = s.PendingCancellation
		}
	}
	for i := range out {
		if !pending[i] {
			out[i].PendingCancellation = nil
		}
		out[i].Organization = strings.Join(slices.Compact(slices.Sorted(slices.Values(orgs[i]))), ",")
	}
	return out
}

func splitOrgs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// dearer reports whether plan a costs more than plan b; a priced plan is dearer than an
// unpriced one.
func dearer(a, b string, prices SeatPrices) bool {
	pa, okA := prices.price(a)
	pb, okB := prices.price(b)
	switch {
	case okA && !okB:
		return true
	case okA && okB:
		return pa > pb
	}
	return false
}

func utilisation(scopeType, scope string, day time.Time, seats []CopilotSeat, prices SeatPrices) SeatUtilisationRow {
	from7, from30, end := activityWindows(day)
	r := SeatUtilisationRow{ScopeType: scopeType, Scope: scope, Day: dayOf(day), Currency: prices.Currency, MetricVersion: MetricVersion}
	var cost, idleCost float64
	priced := 0
	for _, s := range seats {
		r.SeatsTotal++
		idle := !within(s.LastActivityAt, from30, end)
		if within(s.LastActivityAt, from7, end) {
			r.SeatsActive7d++
		}
		if idle {
			r.SeatsIdle30d++
		} else {
			r.SeatsActive30d++
		}
		if s.LastActivityAt == nil {
			r.SeatsNeverUsed++
		}
		if s.PendingCancellation != nil {
			r.SeatsPendingCancellation++
		}
		switch strings.ToLower(s.PlanType) {
		case PlanBusiness:
			r.SeatsBusiness++
		case PlanEnterprise:
			r.SeatsEnterprise++
		default:
			r.SeatsOtherPlan++
		}
		price, ok := prices.price(s.PlanType)
		if !ok {
			r.UnpricedSeats++
			continue
		}
		priced++
		cost += price
		if idle {
			idleCost += price
		}
	}
	if priced > 0 {
		r.MonthlyCost, r.IdleMonthlyCost = roundCents(cost), roundCents(idleCost)
	}
	return r
}

// roundCents rounds a sum of prices to the cent, so float sums like 19 + 39.1 print as
// the decimal they are.
func roundCents(v float64) *float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 2, 64), 64)
	return &r
}

// CalculateIdleSeats lists the seats of each snapshot that are idle on its day: no
// activity in the 30 days ending with it (SeatsIdle30d), never-used seats included.
// Enterprise snapshots (and the enterprise built from organization listings, as in
// CalculateSeatUtilisation) list each person once (SeatPeople). Rows come by scope type,
// scope, day, then most days idle first and assignee login. It is pure.
func CalculateIdleSeats(snaps []SeatSnapshot, prices SeatPrices, enterprise string) ([]IdleSeat, error) {
	if err := checkSnapshots(snaps, enterprise); err != nil {
		return nil, err
	}
	var out []IdleSeat
	for _, s := range withEnterpriseSnapshots(snaps, enterprise) {
		seats := s.Seats
		if s.ScopeType == ScopeEnterprise {
			seats = SeatPeople(seats, prices)
		}
		_, from30, end := activityWindows(s.Day)
		day := dayOf(s.Day)
		for _, seat := range seats {
			if within(seat.LastActivityAt, from30, end) {
				continue
			}
			since := seat.CreatedAt
			if seat.LastActivityAt != nil {
				since = *seat.LastActivityAt
			}
			idle := IdleSeat{
				ScopeType: s.ScopeType, Scope: s.Scope, Day: day,
				AssigneeID: seat.AssigneeID, AssigneeLogin: seat.AssigneeLogin,
				Organization: seat.Organization, AssigningTeam: seat.AssigningTeam, PlanType: seat.PlanType,
				CreatedAt: seat.CreatedAt, LastActivityAt: seat.LastActivityAt, LastActivityEditor: seat.LastActivityEditor,
				NeverUsed: seat.LastActivityAt == nil, PendingCancellation: seat.PendingCancellation,
				MetricVersion: MetricVersion,
			}
			if s.ScopeType == ScopeOrganization && idle.Organization == "" {
				idle.Organization = s.Scope
			}
			if !since.IsZero() {
				idle.DaysIdle = max(0, int(day.Sub(dayOf(since))/(24*time.Hour)))
			}
			out = append(out, idle)
		}
	}
	slices.SortStableFunc(out, func(a, b IdleSeat) int {
		return cmp.Or(strings.Compare(a.ScopeType, b.ScopeType), strings.Compare(a.Scope, b.Scope), a.Day.Compare(b.Day),
			cmp.Compare(b.DaysIdle, a.DaysIdle), strings.Compare(a.AssigneeLogin, b.AssigneeLogin), cmp.Compare(a.AssigneeID, b.AssigneeID),
			a.CreatedAt.Compare(b.CreatedAt))
	})
	// Keys: the assignee id, or the n-th seat without an assignee of the listing.
	unassigned := 0
	for i := range out {
		if i > 0 && (out[i].ScopeType != out[i-1].ScopeType || out[i].Scope != out[i-1].Scope || !out[i].Day.Equal(out[i-1].Day)) {
			unassigned = 0
		}
		if out[i].AssigneeID != 0 {
			out[i].Key = "id:" + strconv.FormatInt(out[i].AssigneeID, 10)
			continue
		}
		unassigned++
		out[i].Key = "unassigned:" + strconv.Itoa(unassigned)
	}
	return out, nil
}
