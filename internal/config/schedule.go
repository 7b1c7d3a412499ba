package config

import (
	"fmt"
	"strconv"
	"strings"
)

// cronField is one field of a six-field NCRONTAB expression.
type cronField struct {
	name     string
	min, max int
	names    []string // accepted three-letter names, index = value - min
}

var cronFields = []cronField{
	{name: "second", min: 0, max: 59},
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
	{name: "day of week", min: 0, max: 6, names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}},
}

// CheckSchedule reports whether expr is a six-field NCRONTAB expression the timer
// trigger accepts ({second} {minute} {hour} {day} {month} {day-of-week}, UTC). The
// hh:mm:ss form is refused: Consumption plans do not accept it.
func CheckSchedule(expr string) error {
	fields := strings.Fields(expr)
	if len(fields) != len(cronFields) {
		return fmt.Errorf("%q has %d fields; a timer schedule needs six: {second} {minute} {hour} {day} {month} {day-of-week}, e.g. \"0 0 6 * * *\"", expr, len(fields))
	}
	for i, f := range fields {
		if err := cronFields[i].check(f); err != nil {
			return fmt.Errorf("%q: %s field: %w", expr, cronFields[i].name, err)
		}
	}
	return nil
}

// DefaultSchedule is the timer's default: every 10 minutes from 06:00 to 23:50 UTC.
// The first invocation of a date starts its run; the later ones resume it until it has
// finished and afterwards answer "already finished" after one database read.
const DefaultSchedule = "0 */10 6-23 * * *"

// SchedulePerDay is how many times a day a valid six-field NCRONTAB expression fires
// on a day it fires at all: the product of the second, minute and hour values.
func SchedulePerDay(expr string) (int, error) {
	if err := CheckSchedule(expr); err != nil {
		return 0, err
	}
	fields := strings.Fields(expr)
	n := 1
	for i := range 3 {
		n *= len(cronFields[i].values(fields[i]))
	}
	return n, nil
}

// values lists the distinct values a checked field matches.
func (c cronField) values(field string) []int {
	seen := map[int]bool{}
	for item := range strings.SplitSeq(field, ",") {
		base, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			step, _ = strconv.Atoi(stepText)
		}
		from, to := c.min, c.max
		if base != "*" {
			lo, hi, isRange := strings.Cut(base, "-")
			from, _ = c.value(lo)
			to = from
			if isRange {
				to, _ = c.value(hi)
			} else if hasStep {
				to = c.max // N/step: from N to the end, every step
			}
		}
		for v := from; v <= to; v += step {
			seen[v] = true
		}
	}
	out := make([]int, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	return out
}

// check accepts a comma-separated list of *, N or N-M, each optionally followed by /step.
func (c cronField) check(field string) error {
	for item := range strings.SplitSeq(field, ",") {
		base, step, hasStep := strings.Cut(item, "/")
		if hasStep {
			n, err := strconv.Atoi(step)
			if err != nil || n < 1 || n > c.max-c.min+1 {
				return fmt.Errorf("step %q must be a number from 1 to %d", step, c.max-c.min+1)
			}
		}
		if base == "*" {
			continue
		}
		lo, hi, isRange := strings.Cut(base, "-")
		from, err := c.value(lo)
		if err != nil {
			return err
		}
		if !isRange {
			continue
		}
		to, err := c.value(hi)
		if err != nil {
			return err
		}
		if to < from {
			return fmt.Errorf("range %q runs backwards", base)
		}
	}
	return nil
}

func (c cronField) value(s string) (int, error) {
	for i, name := range c.names {
		if strings.EqualFold(s, name) {
			return c.min + i, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < c.min || n > c.max {
		return 0, fmt.Errorf("%q must be * or a value from %d to %d", s, c.min, c.max)
	}
	return n, nil
}
