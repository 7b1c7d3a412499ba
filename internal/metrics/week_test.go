package metrics

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWeekStart(t *testing.T) {
	t.Parallel()
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"monday midnight is its own week", at(t, "2025-03-03T00:00:00Z"), "2025-03-03T00:00:00Z"},
		{"midweek", at(t, "2025-03-05T13:45:00Z"), "2025-03-03T00:00:00Z"},
		{"sunday last second belongs to the week before", at(t, "2025-03-09T23:59:59Z"), "2025-03-03T00:00:00Z"},
		{"monday in CET is still sunday in UTC", time.Date(2025, 3, 10, 0, 30, 0, 0, cet), "2025-03-03T00:00:00Z"},
		{"ISO week 1 of 2026 starts in 2025", at(t, "2026-01-01T08:00:00Z"), "2025-12-29T00:00:00Z"},
		{"across a month", at(t, "2025-03-01T10:00:00Z"), "2025-02-24T00:00:00Z"},
	}
	for _, tt := range tests {
		if got := WeekStart(tt.in); !got.Equal(at(t, tt.want)) || got.Location() != time.UTC {
			t.Errorf("%s: WeekStart(%s) = %s, want %s UTC", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestWeeksBetween(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		from, to string
		want     []string
	}{
		{"same week", "2025-03-04T00:00:00Z", "2025-03-09T23:00:00Z", []string{"2025-03-03T00:00:00Z"}},
		{"both ends included", "2025-03-09T12:00:00Z", "2025-03-17T00:00:00Z",
			[]string{"2025-03-03T00:00:00Z", "2025-03-10T00:00:00Z", "2025-03-17T00:00:00Z"}},
		{"to before from", "2025-03-17T00:00:00Z", "2025-03-03T00:00:00Z", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, w := range WeeksBetween(at(t, tt.from), at(t, tt.to)) {
			got = append(got, w.Format(time.RFC3339))
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: WeeksBetween mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}
