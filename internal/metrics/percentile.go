package metrics

import (
	"math"
	"slices"
)

// Percentile returns the p-th percentile (0 ≤ p ≤ 1) of values by linear interpolation
// between the closest ranks — the method of PostgreSQL's percentile_cont, Excel's
// PERCENTILE.INC and BigQuery's PERCENTILE_CONT (Hyndman & Fan type 7): with the values
// sorted as x[0..n-1] and h = (n-1)·p, the result is x[⌊h⌋] + (h-⌊h⌋)·(x[⌊h⌋+1]-x[⌊h⌋]).
// One sample is its own percentile; of two samples the median is their mean.
//
// It returns nil for an empty sample: a metric without data is NULL, never 0.
// values is sorted in place.
func Percentile(values []float64, p float64) *float64 {
	if len(values) == 0 {
		return nil
	}
	if !slices.IsSorted(values) {
		slices.Sort(values)
	}
	v := percentileSorted(values, p)
	return &v
}

func percentileSorted(sorted []float64, p float64) float64 {
	p = math.Min(math.Max(p, 0), 1)
	h := float64(len(sorted)-1) * p
	lo := int(math.Floor(h))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}
