package report

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// A small SVG chart helper of our own: the charts are lines over weeks or days, and a
// library (go-chart) would add a dependency and fonts for what fits in a page of code.
// Every chart is drawn in a fixed viewBox and scales with the page (width: 100 %).

// Series is one line of a chart: a value per point (nil = no value: a gap).
type Series struct {
	Name   string
	Values []*float64
}

// lineStyle distinguishes series without relying on colour: each has its own dash
// pattern and marker, and a colour with at least 4.5:1 contrast on white.
type lineStyle struct {
	colour, dash, marker string
}

var lineStyles = []lineStyle{
	{"#1f5fbf", "", "circle"},
	{"#a3410f", "6 3", "square"},
	{"#2e7030", "2 3", "diamond"},
	{"#6a1b9a", "8 3 2 3", "triangle"},
}

const (
	chartW, chartH                       = 360, 150
	padLeft, padRight, padTop, padBottom = 44, 14, 12, 26
)

// lineChart draws series over the labels (x axis) and returns the <svg> element. title
// names the chart for screen readers; unit follows the y-axis figures.
func lineChart(title string, labels []string, series []Series, unit string, format func(float64) string) string {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, v := range s.Values {
			if v != nil {
				lo, hi = math.Min(lo, *v), math.Max(hi, *v)
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" preserveAspectRatio="xMidYMid meet">`,
		chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	plotW, plotH := float64(chartW-padLeft-padRight), float64(chartH-padTop-padBottom)
	// Axes.
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, padLeft, chartH-padBottom, chartW-padRight, chartH-padBottom)
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, padLeft, padTop, padLeft, chartH-padBottom)
	if math.IsInf(lo, 1) {
		fmt.Fprintf(&b, `<text class="empty" x="%d" y="%d" text-anchor="middle">no data in these weeks</text>`,
			padLeft+int(plotW)/2, padTop+int(plotH)/2)
		b.WriteString(`</svg>`)
		return b.String()
	}
	if lo > 0 {
		lo = 0 // counts, rates and durations read best from zero
	}
	if hi == lo {
		hi = lo + 1
	}
	x := func(i int) float64 {
		if len(labels) <= 1 {
			return float64(padLeft) + plotW/2
		}
		return float64(padLeft) + plotW*float64(i)/float64(len(labels)-1)
	}
	y := func(v float64) float64 { return float64(padTop) + plotH*(1-(v-lo)/(hi-lo)) }
	// y labels: top and bottom.
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>`, padLeft-4, y(hi)+4, html.EscapeString(format(hi)+unit))
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>`, padLeft-4, y(lo)+4, html.EscapeString(format(lo)+unit))
	// x labels: first and last.
	if len(labels) > 0 {
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%d" text-anchor="start">%s</text>`, x(0), chartH-8, html.EscapeString(labels[0]))
		if len(labels) > 1 {
			fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%d" text-anchor="end">%s</text>`, x(len(labels)-1), chartH-8, html.EscapeString(labels[len(labels)-1]))
		}
	}
	for si, s := range series {
		st := lineStyles[si%len(lineStyles)]
		// One path per run of values without a gap.
		var d strings.Builder
		open := false
		for i, v := range s.Values {
			if v == nil {
				open = false
				continue
			}
			cmd := "L"
			if !open {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%.1f %.1f ", cmd, x(i), y(*v))
			open = true
		}
		if d.Len() > 0 {
			dash := ""
			if st.dash != "" {
				dash = fmt.Sprintf(` stroke-dasharray="%s"`, st.dash)
			}
			fmt.Fprintf(&b, `<path class="line" d="%s" stroke="%s"%s><title>%s</title></path>`,
				strings.TrimSpace(d.String()), st.colour, dash, html.EscapeString(s.Name))
		}
		last := -1
		for i, v := range s.Values {
			if v == nil {
				continue
			}
			b.WriteString(marker(st, x(i), y(*v)))
			last = i
		}
		// The newest value is written next to its point.
		if last >= 0 {
			ly := y(*s.Values[last]) - 6
			if ly < float64(padTop)+8 {
				ly = y(*s.Values[last]) + 14 // below the point when it is at the top
			}
			fmt.Fprintf(&b, `<text class="value" x="%.1f" y="%.1f" text-anchor="end" fill="%s">%s</text>`,
				x(last)-5, ly, st.colour, html.EscapeString(format(*s.Values[last])))
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func marker(st lineStyle, x, y float64) string {
	switch st.marker {
	case "square":
		return fmt.Sprintf(`<rect x="%.1f" y="%.1f" width="5" height="5" fill="%s"/>`, x-2.5, y-2.5, st.colour)
	case "diamond":
		return fmt.Sprintf(`<path d="M%.1f %.1f l3 3 l-3 3 l-3 -3 z" fill="%s"/>`, x, y-3, st.colour)
	case "triangle":
		return fmt.Sprintf(`<path d="M%.1f %.1f l3 5 l-6 0 z" fill="%s"/>`, x, y-3, st.colour)
	}
	return fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`, x, y, st.colour)
}

// legend is the key of a chart's series, with each series' line style drawn.
func legend(series []Series) string {
	if len(series) < 2 {
		return ""
	}
	var b strings.Builder
	b.WriteString(`<ul class="legend">`)
	for si, s := range series {
		st := lineStyles[si%len(lineStyles)]
		dash := ""
		if st.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, st.dash)
		}
		fmt.Fprintf(&b, `<li><svg class="key" viewBox="0 0 24 10" aria-hidden="true"><line x1="0" y1="5" x2="24" y2="5" stroke="%s" stroke-width="2"%s/>%s</svg>%s</li>`,
			st.colour, dash, marker(st, 12, 5), html.EscapeString(s.Name))
	}
	b.WriteString(`</ul>`)
	return b.String()
}

// parseValue reads a CSV cell as a number; nil for an empty cell (NULL).
func parseValue(s string) *float64 {
	if s == "" {
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil
	}
	return &v
}
