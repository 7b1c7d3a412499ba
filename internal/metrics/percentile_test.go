package metrics

import (
	"math"
	"testing"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []float64
		p      float64
		want   *float64
	}{
		{"no samples is NULL", nil, 0.5, nil},
		{"one sample is its own median", []float64{7}, 0.5, ptr(7.0)},
		{"one sample is its own p90", []float64{7}, 0.9, ptr(7.0)},
		{"two samples: median is the mean", []float64{10, 2}, 0.5, ptr(6.0)},
		{"two samples: p90 interpolates 90% of the way", []float64{2, 10}, 0.9, ptr(9.2)},
		{"odd count median is the middle", []float64{5, 1, 3}, 0.5, ptr(3.0)},
		{"even count median", []float64{4, 1, 3, 2}, 0.5, ptr(2.5)},
		{"p90 of 1..10", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.9, ptr(9.1)},
		{"p0 is the minimum", []float64{3, 1, 2}, 0, ptr(1.0)},
		{"p100 is the maximum", []float64{3, 1, 2}, 1, ptr(3.0)},
	}
	for _, tt := range tests {
		got := Percentile(append([]float64(nil), tt.values...), tt.p)
		switch {
		case tt.want == nil && got != nil:
			t.Errorf("%s: got %v, want nil", tt.name, *got)
		case tt.want != nil && (got == nil || math.Abs(*got-*tt.want) > 1e-9):
			t.Errorf("%s: got %v, want %v", tt.name, got, *tt.want)
		}
	}
}
