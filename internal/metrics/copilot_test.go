package metrics

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompletionAcceptance(t *testing.T) {
	t.Parallel()
	i64 := func(v int64) *int64 { return &v }
	tests := []struct {
		name       string
		breakdowns []CopilotBreakdown
		gen, acc   *int64
		rate       *float64
	}{
		{
			name: "code_completion of the feature dimension only",
			breakdowns: []CopilotBreakdown{
				{Dimension: DimensionIDE, Key1: "vscode", CodeGenerations: i64(900), CodeAcceptances: i64(500)},
				{Dimension: DimensionFeature, Key1: "agent_edit", CodeGenerations: i64(300), CodeAcceptances: i64(290)},
				{Dimension: DimensionFeature, Key1: FeatureCodeCompletion, CodeGenerations: i64(400), CodeAcceptances: i64(100)},
				{Dimension: DimensionLanguageFeature, Key1: "go", Key2: FeatureCodeCompletion, CodeGenerations: i64(50), CodeAcceptances: i64(50)},
			},
			gen: i64(400), acc: i64(100), rate: ptr(0.25),
		},
		{
			name:       "no code_completion element: NULL, not 0",
			breakdowns: []CopilotBreakdown{{Dimension: DimensionFeature, Key1: "chat_inline", CodeGenerations: i64(10), CodeAcceptances: i64(3)}},
		},
		{
			name:       "zero generations: counters, no rate",
			breakdowns: []CopilotBreakdown{{Dimension: DimensionFeature, Key1: FeatureCodeCompletion, CodeGenerations: i64(0), CodeAcceptances: i64(0)}},
			gen:        i64(0), acc: i64(0),
		},
		{
			name:       "acceptances missing: no rate",
			breakdowns: []CopilotBreakdown{{Dimension: DimensionFeature, Key1: FeatureCodeCompletion, CodeGenerations: i64(10)}},
			gen:        i64(10),
		},
		{name: "no breakdowns"},
	}
	for _, tt := range tests {
		gen, acc, rate := CompletionAcceptance(tt.breakdowns)
		if diff := cmp.Diff([]any{tt.gen, tt.acc, tt.rate}, []any{gen, acc, rate}); diff != "" {
			t.Errorf("%s: (generations, acceptances, rate) mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestSeatCounts(t *testing.T) {
	t.Parallel()
	day := at(t, "2025-03-31T15:00:00Z") // any time of the day names the day
	seats := []CopilotSeat{
		{AssigneeID: 1, LastActivityAt: ptr(at(t, "2025-03-31T23:59:59Z"))}, // last second of the day: active
		{AssigneeID: 2, LastActivityAt: ptr(at(t, "2025-03-02T00:00:00Z"))}, // first second of the 30 days: active
		{AssigneeID: 3, LastActivityAt: ptr(at(t, "2025-03-01T23:59:59Z"))}, // a second too early
		{AssigneeID: 4, LastActivityAt: ptr(at(t, "2025-04-01T00:00:00Z"))}, // after the day: not for this day
		{AssigneeID: 5}, // never used
		{AssigneeID: 0, LastActivityAt: ptr(at(t, "2025-03-20T10:00:00Z"))}, // null assignee, active
	}
	total, active := SeatCounts(seats, day)
	if total != 6 || active != 3 {
		t.Errorf("SeatCounts = (%d, %d), want (6, 3)", total, active)
	}
	if total, active := SeatCounts(nil, day); total != 0 || active != 0 {
		t.Errorf("SeatCounts(nil) = (%d, %d), want (0, 0)", total, active)
	}
}

func TestDedupeSeats(t *testing.T) {
	t.Parallel()
	seats := []CopilotSeat{
		{AssigneeID: 1, AssigneeLogin: "ana", Organization: "web", LastActivityAt: ptr(at(t, "2025-03-01T00:00:00Z"))},
		{AssigneeID: 0, Organization: "web"},
		{AssigneeID: 2, AssigneeLogin: "bo", Organization: "web"},
		{AssigneeID: 1, AssigneeLogin: "ana", Organization: "api", LastActivityAt: ptr(at(t, "2025-03-05T00:00:00Z"))},
		{AssigneeID: 0, Organization: "api"},
		{AssigneeID: 2, AssigneeLogin: "bo", Organization: "api"},
		{AssigneeID: 1, AssigneeLogin: "ana", Organization: "data"},
	}
	want := []CopilotSeat{
		{AssigneeID: 1, AssigneeLogin: "ana", Organization: "api", LastActivityAt: ptr(at(t, "2025-03-05T00:00:00Z"))},
		{AssigneeID: 0, Organization: "web"},
		{AssigneeID: 2, AssigneeLogin: "bo", Organization: "web"},
		{AssigneeID: 0, Organization: "api"},
	}
	before := append([]CopilotSeat(nil), seats...)
	if diff := cmp.Diff(want, DedupeSeats(seats)); diff != "" {
		t.Errorf("DedupeSeats mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, seats); diff != "" {
		t.Errorf("DedupeSeats modified its input:\n%s", diff)
	}
}
