package metrics

import (
	"strings"
	"time"
)

// Feature keys of the Copilot usage reports' totals_by_feature.
const (
	// FeatureCodeCompletion is inline code completions.
	FeatureCodeCompletion = "code_completion"
	// FeatureChatPanelAgentMode is the chat panel in agent mode: the prompts users give
	// the agent.
	FeatureChatPanelAgentMode = "chat_panel_agent_mode"
	// FeatureChatInline is inline chat in the editor.
	FeatureChatInline = "chat_inline"
	// FeatureAgentEdit is the edits agents make in files: code and line counts, no
	// interactions.
	FeatureAgentEdit = "agent_edit"
	// featureChatPanelPrefix starts every chat-panel mode (ask, edit, agent, plan, custom,
	// unknown, and modes GitHub adds later).
	featureChatPanelPrefix = "chat_panel_"
)

// chatModeCounter is one top-level chat_panel_*_mode counter and its feature key.
type chatModeCounter struct {
	feature string
	count   *int64
}

func (m CopilotChatModes) counters() [6]chatModeCounter {
	return [6]chatModeCounter{
		{FeatureChatPanelAgentMode, m.Agent},
		{"chat_panel_ask_mode", m.Ask},
		{"chat_panel_custom_mode", m.Custom},
		{"chat_panel_edit_mode", m.Edit},
		{"chat_panel_plan_mode", m.Plan},
		{"chat_panel_unknown_mode", m.Unknown},
	}
}

// CopilotInteractions returns the chat and agent interactions of one report record
// (a day's aggregate or one user's line), from the user_initiated_interaction_count of
// the feature breakdown's elements:
//
//   - agent = the chat_panel_agent_mode element;
//   - chat = every other chat_panel_* element (ask, edit, plan, custom, unknown, and
//     modes GitHub adds later) plus the chat_inline element.
//
// agent_edit (the edits agents make) carries code and line counts but no interactions
// and counts in neither; nor do code_completion and copilot_cli. Other dimensions are
// not read. Repeated elements are added up. A chat-panel mode the breakdown lacks (no
// element, or one without the counter) is taken from the record's top-level
// chat_panel_*_mode counter in modes, when there is one; chat_inline has no such
// counter.
//
// Each result is nil when the record carries none of the elements or counters it adds
// up: GitHub leaves out a feature nobody used but also, some days, one whose data is
// missing, and the two cannot be told apart, so the column says "not reported" rather
// than 0. A record with only a chat_panel_agent_mode element therefore has agent set
// and chat nil; a top-level counter of 0 is a reported 0.
func CopilotInteractions(breakdowns []CopilotBreakdown, modes CopilotChatModes) (chat, agent *int64) {
	counters := modes.counters()
	var fromBreakdown [len(counters)]bool
	for _, b := range breakdowns {
		if b.Dimension != DimensionFeature || b.UserInitiatedInteractions == nil {
			continue
		}
		switch {
		case b.Key1 == FeatureChatPanelAgentMode:
			agent = addCounter(agent, b.UserInitiatedInteractions)
		case strings.HasPrefix(b.Key1, featureChatPanelPrefix) || b.Key1 == FeatureChatInline:
			chat = addCounter(chat, b.UserInitiatedInteractions)
		default:
			continue
		}
		for i, c := range counters {
			if c.feature == b.Key1 {
				fromBreakdown[i] = true
			}
		}
	}
	for i, c := range counters {
		switch {
		case fromBreakdown[i]: // counted from its element; the counter repeats it
		case c.feature == FeatureChatPanelAgentMode:
			agent = addCounter(agent, c.count)
		default:
			chat = addCounter(chat, c.count)
		}
	}
	return chat, agent
}

// CompletionAcceptance returns the code generations, acceptances and acceptance rate of
// code completions, read from the code_completion element of the feature breakdown
// only: the report's top-level counters also count agent, edit and chat activity, which
// would make the rate meaningless (DESIGN §5).
//
// A counter is nil when the day has no code_completion element or the element lacks it.
// The rate is acceptances ÷ generations, nil when either is nil or there were no
// generations. It is not clipped to 1: a rate above 1 would be GitHub's data, shown as is.
func CompletionAcceptance(breakdowns []CopilotBreakdown) (generations, acceptances *int64, rate *float64) {
	for _, b := range breakdowns {
		if b.Dimension != DimensionFeature || b.Key1 != FeatureCodeCompletion {
			continue
		}
		generations = addCounter(generations, b.CodeGenerations)
		acceptances = addCounter(acceptances, b.CodeAcceptances)
	}
	if generations != nil && acceptances != nil && *generations > 0 {
		r := float64(*acceptances) / float64(*generations)
		rate = &r
	}
	return generations, acceptances, rate
}

// addCounter sums two optional counters; nil stays nil only when both are nil. (The
// feature breakdown has one code_completion element; summing keeps a duplicated element
// from hiding the other.)
func addCounter(sum, v *int64) *int64 {
	if v == nil {
		return sum
	}
	total := *v
	if sum != nil {
		total += *sum
	}
	return &total
}

// SeatCounts returns the number of seats and of seats active in the 30 days ending on
// day: last_activity_at in [day−29d 00:00 UTC, day+1d 00:00 UTC). That is, day itself
// and the 29 days before it; activity after the end of day (a snapshot taken the next
// morning) does not count for day. Pass an enterprise listing through DedupeSeats first.
func SeatCounts(seats []CopilotSeat, day time.Time) (total, active30d int64) {
	d := day.UTC()
	end := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1)
	start := end.AddDate(0, 0, -30)
	for _, s := range seats {
		total++
		if s.LastActivityAt != nil && !s.LastActivityAt.Before(start) && s.LastActivityAt.Before(end) {
			active30d++
		}
	}
	return total, active30d
}

// DedupeSeats removes the repeats of an enterprise seat listing, which lists a user once
// per organization granting them a seat. Seats are keyed by assignee id; of the repeats
// the one with the latest last_activity_at is kept (the first listed on a tie), at the
// position of the first. Seats whose assignee GitHub sent as null (AssigneeID 0) cannot
// be told apart and are all kept. The input is not modified.
func DedupeSeats(seats []CopilotSeat) []CopilotSeat {
	out := make([]CopilotSeat, 0, len(seats))
	at := make(map[int64]int, len(seats)) // assignee id → index in out
	for _, s := range seats {
		if s.AssigneeID == 0 {
			out = append(out, s)
			continue
		}
		i, seen := at[s.AssigneeID]
		if !seen {
			at[s.AssigneeID] = len(out)
			out = append(out, s)
			continue
		}
		if laterActivity(s.LastActivityAt, out[i].LastActivityAt) {
			out[i] = s
		}
	}
	return out
}

func laterActivity(a, b *time.Time) bool {
	return a != nil && (b == nil || a.After(*b))
}
