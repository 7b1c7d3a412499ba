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

// TestCopilotInteractions has one case per shape the v1 derivation got wrong, each
// naming what v1 stored (chat = Σ chat_panel_* elements, agent = the agent_edit
// element, both nil without such an element) and what v2 stores.
func TestCopilotInteractions(t *testing.T) {
	t.Parallel()
	i64 := func(v int64) *int64 { return &v }
	feature := func(key string, interactions *int64) CopilotBreakdown {
		return CopilotBreakdown{Dimension: DimensionFeature, Key1: key, UserInitiatedInteractions: interactions,
			CodeGenerations: i64(100), CodeAcceptances: i64(40), LOCAdded: i64(300)}
	}
	tests := []struct {
		name        string
		breakdowns  []CopilotBreakdown
		modes       CopilotChatModes
		chat, agent *int64
	}{
		{
			name:       "agent mode counted in chat: v1 chat 42 agent NULL, v2 chat 30 agent 12",
			breakdowns: []CopilotBreakdown{feature("chat_panel_ask_mode", i64(30)), feature(FeatureChatPanelAgentMode, i64(12))},
			chat:       i64(30), agent: i64(12),
		},
		{
			// The old fixtures gave agent_edit an interaction count; v1 read it as agent.
			name: "agent_edit taken as agent: v1 agent 7, v2 agent 12 (agent_edit counts nowhere)",
			breakdowns: []CopilotBreakdown{feature(FeatureAgentEdit, i64(7)), feature(FeatureChatPanelAgentMode, i64(12)),
				feature("chat_panel_edit_mode", i64(4))},
			chat: i64(4), agent: i64(12),
		},
		{
			name:       "agent_edit as GitHub sends it, without interactions: v1 agent NULL, v2 agent 12",
			breakdowns: []CopilotBreakdown{feature(FeatureAgentEdit, nil), feature(FeatureChatPanelAgentMode, i64(12))},
			agent:      i64(12),
		},
		{
			name:       "chat_inline dropped: v1 chat 30, v2 chat 35",
			breakdowns: []CopilotBreakdown{feature("chat_panel_ask_mode", i64(30)), feature(FeatureChatInline, i64(5))},
			chat:       i64(35),
		},
		{
			name:       "chat_inline only: v1 chat NULL, v2 chat 5",
			breakdowns: []CopilotBreakdown{feature(FeatureChatInline, i64(5))},
			chat:       i64(5),
		},
		{
			name: "nothing counted present: v1 NULL NULL, v2 NULL NULL (not 0)",
			breakdowns: []CopilotBreakdown{feature(FeatureCodeCompletion, i64(0)), feature("copilot_cli", i64(9)),
				feature(FeatureAgentEdit, nil)},
		},
		{name: "no breakdown, no counters: v1 NULL NULL, v2 NULL NULL"},
		{
			// Decision: a column whose elements are all absent is NULL even when the other
			// column has data — GitHub's silence is not a reported 0.
			name:       "only agent mode present: v1 chat 12 agent NULL, v2 chat NULL agent 12",
			breakdowns: []CopilotBreakdown{feature(FeatureChatPanelAgentMode, i64(12))},
			agent:      i64(12),
		},
		{
			name:       "only agent mode with the top-level counters at 0: v1 chat 12, v2 chat 0 (a reported 0)",
			breakdowns: []CopilotBreakdown{feature(FeatureChatPanelAgentMode, i64(12))},
			modes:      CopilotChatModes{Agent: i64(12), Ask: i64(0), Edit: i64(0)},
			chat:       i64(0), agent: i64(12),
		},
		{
			name:  "top-level counters stand in for missing elements: v1 NULL NULL, v2 chat 6+2 agent 4",
			modes: CopilotChatModes{Agent: i64(4), Ask: i64(6), Plan: i64(2)},
			chat:  i64(8), agent: i64(4),
		},
		{
			name:       "an element and its counter are the same interactions: v2 counts them once (30, not 60)",
			breakdowns: []CopilotBreakdown{feature("chat_panel_ask_mode", i64(30)), feature(FeatureChatPanelAgentMode, i64(12))},
			modes:      CopilotChatModes{Ask: i64(30), Agent: i64(12), Custom: i64(3)},
			chat:       i64(33), agent: i64(12),
		},
		{
			name:       "an element without the counter falls back to the top-level counter: v1 agent NULL, v2 agent 9",
			breakdowns: []CopilotBreakdown{feature(FeatureChatPanelAgentMode, nil)},
			modes:      CopilotChatModes{Agent: i64(9)},
			agent:      i64(9),
		},
		{
			name: "repeated elements add up; a mode GitHub adds later is chat: v2 chat 10+5+3",
			breakdowns: []CopilotBreakdown{feature("chat_panel_ask_mode", i64(10)), feature("chat_panel_ask_mode", i64(5)),
				feature("chat_panel_review_mode", i64(3))},
			chat: i64(18),
		},
		{
			name: "other dimensions are not read: v1 and v2 NULL NULL",
			breakdowns: []CopilotBreakdown{
				{Dimension: DimensionModelFeature, Key1: "gpt-5", Key2: "chat_panel_ask_mode", UserInitiatedInteractions: i64(30)},
				{Dimension: DimensionModelFeature, Key1: "gpt-5", Key2: FeatureChatPanelAgentMode, UserInitiatedInteractions: i64(12)},
				{Dimension: DimensionIDE, Key1: FeatureChatInline, UserInitiatedInteractions: i64(50)},
			},
		},
	}
	for _, tt := range tests {
		chat, agent := CopilotInteractions(tt.breakdowns, tt.modes)
		if diff := cmp.Diff([]*int64{tt.chat, tt.agent}, []*int64{chat, agent}); diff != "" {
			t.Errorf("%s: (chat, agent) mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

// The results are fresh values: a caller changing them changes no input.
func TestCopilotInteractionsDoesNotAliasItsInput(t *testing.T) {
	t.Parallel()
	agent, ask := int64(4), int64(6)
	chat, gotAgent := CopilotInteractions(nil, CopilotChatModes{Agent: &agent, Ask: &ask})
	*chat, *gotAgent = 100, 100
	if agent != 4 || ask != 6 {
		t.Errorf("the counters changed to %d, %d", agent, ask)
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
