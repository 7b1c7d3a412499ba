package metrics

import "time"

// Week is the length of an ISO week.
const Week = 7 * 24 * time.Hour

// WeekStart returns the Monday 00:00 UTC that starts the ISO week holding t.
func WeekStart(t time.Time) time.Time {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	// time.Weekday counts from Sunday (0); ISO weeks start on Monday.
	sinceMonday := (int(day.Weekday()) + 6) % 7
	return day.AddDate(0, 0, -sinceMonday)
}

// WeeksBetween returns the start of every ISO week from the week holding from to the
// week holding to, both included, oldest first. It returns nil when to is before from.
func WeeksBetween(from, to time.Time) []time.Time {
	first, last := WeekStart(from), WeekStart(to)
	if last.Before(first) {
		return nil
	}
	weeks := make([]time.Time, 0, int(last.Sub(first)/Week)+1)
	for w := first; !w.After(last); w = w.AddDate(0, 0, 7) {
		weeks = append(weeks, w)
	}
	return weeks
}

// weekday returns 0 for Monday … 6 for Sunday, in UTC.
func weekday(t time.Time) int { return (int(t.UTC().Weekday()) + 6) % 7 }
