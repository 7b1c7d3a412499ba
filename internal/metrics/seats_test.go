package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func seatOf(t *testing.T, id int64, login, org, plan, created string, lastActivity string) CopilotSeat {
	t.Helper()
	s := CopilotSeat{AssigneeID: id, AssigneeLogin: login, Organization: org, PlanType: plan, CreatedAt: at(t, created)}
	if lastActivity != "" {
		s.LastActivityAt = ptr(at(t, lastActivity))
		s.LastActivityEditor = "vscode/1.98.2/copilot-chat/0.26.7"
	}
	return s
}

// The day is 2025-03-31: active in 7 days from 03-25 00:00, in 30 days from 03-02 00:00,
// until 04-01 00:00.
func seatWorld(t *testing.T) []SeatSnapshot {
	day := at(t, "2025-03-31T00:00:00Z")
	pending := at(t, "2025-04-01T00:00:00Z")
	web := []CopilotSeat{
		seatOf(t, 1, "ana", "acme-web", PlanBusiness, "2024-01-01T00:00:00Z", "2025-03-31T23:59:59Z"),  // active 7d
		seatOf(t, 2, "bo", "acme-web", PlanBusiness, "2024-01-01T00:00:00Z", "2025-03-24T23:59:59Z"),   // 30d, not 7d
		seatOf(t, 3, "carl", "acme-web", PlanBusiness, "2024-01-01T00:00:00Z", "2025-03-01T23:59:59Z"), // idle 30 days
		seatOf(t, 4, "dora", "acme-web", PlanEnterprise, "2025-03-20T08:00:00Z", ""),                   // never used
		seatOf(t, 5, "erin", "acme-web", "unknown", "2024-01-01T00:00:00Z", "2025-04-01T00:00:00Z"),    // activity after the day: idle for it
	}
	web[2].PendingCancellation = &pending
	data := []CopilotSeat{
		// bo holds a second seat, enterprise plan, used more recently: one person.
		seatOf(t, 2, "bo", "acme-data", PlanEnterprise, "2023-06-01T00:00:00Z", "2025-03-30T10:00:00Z"),
		// carl's second seat, never used, also pending: idle everywhere.
		seatOf(t, 3, "carl", "acme-data", PlanBusiness, "2024-06-01T00:00:00Z", ""),
		{PlanType: PlanBusiness, CreatedAt: at(t, "2025-01-01T00:00:00Z")}, // null assignee
	}
	data[1].PendingCancellation = &pending
	return []SeatSnapshot{
		{ScopeType: ScopeOrganization, Scope: "acme-web", Day: day, Seats: web},
		{ScopeType: ScopeOrganization, Scope: "acme-data", Day: day, Seats: data},
	}
}

func TestSeatUtilisation(t *testing.T) {
	t.Parallel()
	rows, err := CalculateSeatUtilisation(seatWorld(t), DefaultSeatPrices(), "contoso")
	if err != nil {
		t.Fatal(err)
	}
	day := at(t, "2025-03-31T00:00:00Z")
	row := func(typ, scope string, total, a7, a30, idle, never, pending, business, enterprise, other int, cost, idleCost float64, unpriced int) SeatUtilisationRow {
		return SeatUtilisationRow{ScopeType: typ, Scope: scope, Day: day,
			SeatsTotal: total, SeatsActive7d: a7, SeatsActive30d: a30, SeatsIdle30d: idle, SeatsNeverUsed: never,
			SeatsPendingCancellation: pending, SeatsBusiness: business, SeatsEnterprise: enterprise, SeatsOtherPlan: other,
			Currency: "USD", MonthlyCost: ptr(cost), IdleMonthlyCost: ptr(idleCost), UnpricedSeats: unpriced, MetricVersion: MetricVersion}
	}
	want := []SeatUtilisationRow{
		// Built from the two listings: ana, bo (once, enterprise plan, active on 03-30),
		// carl (once, idle, pending only because both seats are), dora, erin, the null
		// assignee: 6 seats where the organizations hold 8.
		row(ScopeEnterprise, "contoso", 6, 2, 2, 4, 2, 1, 3, 2, 1, 19+39+19+39+19, 19+39+19, 1),
		row(ScopeOrganization, "acme-data", 3, 1, 1, 2, 2, 1, 2, 1, 0, 39+19+19, 19+19, 0),
		row(ScopeOrganization, "acme-web", 5, 1, 2, 3, 1, 1, 3, 1, 1, 19+19+19+39, 19+39, 1),
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}

	// With an enterprise listing of the day, the enterprise row is that listing's.
	snaps := append(seatWorld(t), SeatSnapshot{ScopeType: ScopeEnterprise, Scope: "contoso", Day: day,
		Seats: []CopilotSeat{seatOf(t, 1, "ana", "acme-web", PlanBusiness, "2024-01-01T00:00:00Z", ""), seatOf(t, 1, "ana", "acme-data", PlanEnterprise, "2024-01-01T00:00:00Z", "")}})
	rows, err = CalculateSeatUtilisation(snaps, SeatPrices{Currency: "EUR", Monthly: map[string]float64{PlanBusiness: 21.5}}, "contoso")
	if err != nil {
		t.Fatal(err)
	}
	ent := rows[0]
	if ent.ScopeType != ScopeEnterprise || ent.SeatsTotal != 1 || ent.SeatsNeverUsed != 1 || ent.SeatsBusiness != 1 || *ent.MonthlyCost != 21.5 || ent.UnpricedSeats != 0 || ent.Currency != "EUR" {
		t.Errorf("enterprise from its own listing: %+v; want ana once, business (the only priced plan), 21.50 EUR", ent)
	}
	if web := rows[2]; web.UnpricedSeats != 2 || *web.MonthlyCost != 64.5 {
		t.Errorf("acme-web with only business priced: unpriced %d, cost %v; want 2, 64.5", web.UnpricedSeats, *web.MonthlyCost)
	}
}

func TestSeatUtilisationNothingPriced(t *testing.T) {
	t.Parallel()
	snaps := []SeatSnapshot{{ScopeType: ScopeOrganization, Scope: "acme", Day: at(t, "2025-03-31T00:00:00Z"),
		Seats: []CopilotSeat{seatOf(t, 1, "ana", "acme", "unknown", "2024-01-01T00:00:00Z", "")}}}
	rows, err := CalculateSeatUtilisation(snaps, DefaultSeatPrices(), "contoso")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.MonthlyCost != nil || r.IdleMonthlyCost != nil || r.UnpricedSeats != 1 {
			t.Errorf("%s: cost %v, idle cost %v, unpriced %d; want no cost (nothing priced), 1 unpriced", r.Scope, r.MonthlyCost, r.IdleMonthlyCost, r.UnpricedSeats)
		}
	}
}

func TestIdleSeats(t *testing.T) {
	t.Parallel()
	idle, err := CalculateIdleSeats(seatWorld(t), DefaultSeatPrices(), "contoso")
	if err != nil {
		t.Fatal(err)
	}
	type line struct {
		Key, Scope, Login, Orgs, Plan string
		Days                          int
		Never, Pending                bool
	}
	var got []line
	for _, s := range idle {
		got = append(got, line{s.Key, s.Scope, s.AssigneeLogin, s.Organization, s.PlanType, s.DaysIdle, s.NeverUsed, s.PendingCancellation != nil})
	}
	want := []line{
		// Enterprise: each person once; carl idle since his last activity in acme-web.
		{"unassigned:1", "contoso", "", "acme-data", PlanBusiness, 89, true, false},
		{"id:3", "contoso", "carl", "acme-data,acme-web", PlanBusiness, 30, false, true},
		{"id:4", "contoso", "dora", "acme-web", PlanEnterprise, 11, true, false},
		{"id:5", "contoso", "erin", "acme-web", "unknown", 0, false, false},
		// acme-data: carl's seat there was never used: idle since it was created.
		{"id:3", "acme-data", "carl", "acme-data", PlanBusiness, 303, true, true},
		{"unassigned:1", "acme-data", "", "acme-data", PlanBusiness, 89, true, false},
		{"id:3", "acme-web", "carl", "acme-web", PlanBusiness, 30, false, true},
		{"id:4", "acme-web", "dora", "acme-web", PlanEnterprise, 11, true, false},
		{"id:5", "acme-web", "erin", "acme-web", "unknown", 0, false, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("idle seats (-want +got):\n%s", diff)
	}
}

func TestSeatPricesAndSnapshotsAreChecked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		prices SeatPrices
		want   string
	}{
		{"currency", SeatPrices{Currency: "usd", Monthly: map[string]float64{}}, "currency"},
		{"negative", SeatPrices{Currency: "USD", Monthly: map[string]float64{"business": -1}}, "business"},
		{"plan name", SeatPrices{Currency: "USD", Monthly: map[string]float64{"Business": 19}}, `"Business"`},
	} {
		if err := tc.prices.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error naming %s", tc.name, err, tc.want)
		}
	}
	day := at(t, "2025-03-31T00:00:00Z")
	twice := []SeatSnapshot{{ScopeType: ScopeOrganization, Scope: "a", Day: day}, {ScopeType: ScopeOrganization, Scope: "a", Day: day.Add(time.Hour)}}
	if _, err := CalculateSeatUtilisation(twice, DefaultSeatPrices(), "contoso"); err == nil || !strings.Contains(err.Error(), "snapshots[1]") {
		t.Errorf("a scope's day twice: %v", err)
	}
	if _, err := CalculateIdleSeats(nil, DefaultSeatPrices(), ""); err == nil || !strings.Contains(err.Error(), "enterprise") {
		t.Errorf("no enterprise name: %v", err)
	}
}
