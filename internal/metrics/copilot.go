package metrics

import "time"

// FeatureCodeCompletion is the feature key of inline code completions in the Copilot
// usage reports' totals_by_feature.
const FeatureCodeCompletion = "code_completion"

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
