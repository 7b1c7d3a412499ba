package deploycheck

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
