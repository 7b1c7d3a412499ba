package report

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"metrics-collector/internal/browsertest"
)

// artefactDir is where the browser test leaves its screenshots: REPORT_ARTIFACTS, or
// .artifacts/report at the repository root (ignored by git).
func artefactDir(t *testing.T) string {
	dir := os.Getenv("REPORT_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", ".artifacts", "report")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// csvCells reads the golden export's cells by file kind, key (enterprise;scope type;
// scope;date) and column, independently of the report's own reader.
func csvCells(t *testing.T) map[string]string {
	t.Helper()
	cells := map[string]string{}
	for _, kind := range []string{KindDORA, KindVelocity, KindCopilot, KindSeatUtilisation} {
		raw, err := os.ReadFile(filepath.Join(goldenDir, kind+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(strings.TrimPrefix(string(raw), "\uFEFF"), "\r\n"), "\r\n")
		header := strings.Split(lines[0], ";")
		for _, l := range lines[1:] {
			f := strings.Split(l, ";")
			if len(f) != len(header) {
				continue // a quoted cell with a separator: not a scope row the report shows
			}
			key := f[0] + ";" + f[1] + ";" + f[2] + ";" + f[3]
			for i, h := range header {
				cells[kind+"|"+key+"|"+h] = f[i]
			}
		}
	}
	return cells
}

// The demo world's report in a real browser, every other host unreachable: it loads
// with no console error and no outside request, every chart is drawn, the figures on the
// page are the CSV's, and at a phone's 390 px nothing scrolls sideways.
func TestReportInABrowser(t *testing.T) {
	t.Parallel()
	if browsertest.Path() == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("Chromium is required in CI (.ci/run installs it)")
		}
		t.Skip("no Chromium on this machine (apt-get install chromium)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	page := filepath.Join(t.TempDir(), "report_20261126.html")
	if err := os.WriteFile(page, renderGolden(t), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := browsertest.Start(ctx)
	if errors.Is(err, browsertest.ErrNoChromium) || err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tab, err := b.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if err := tab.SetViewport(ctx, 1280, 900, false); err != nil {
		t.Fatal(err)
	}
	url := "file://" + page
	if err := tab.Open(ctx, url); err != nil {
		t.Fatal(err)
	}

	// Every chart is an SVG with something drawn in it.
	var charts []struct {
		Width    float64 `json:"w"`
		Children int     `json:"n"`
		Lines    int     `json:"lines"`
		Empty    bool    `json:"empty"`
	}
	err = tab.Evaluate(ctx, `Array.from(document.querySelectorAll('svg.chart')).map(s => ({
		w: s.getBoundingClientRect().width, n: s.childElementCount,
		lines: s.querySelectorAll('path.line').length, empty: s.querySelector('text.empty') !== null}))`, &charts)
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) < 20 {
		t.Fatalf("%d charts on the page, want every scope's", len(charts))
	}
	drawn := 0
	for i, c := range charts {
		if c.Width <= 0 || c.Children == 0 || (c.Lines == 0 && !c.Empty) {
			t.Errorf("chart %d: width %v, %d elements, %d lines: empty", i, c.Width, c.Children, c.Lines)
		}
		if c.Lines > 0 {
			drawn++
		}
	}
	if drawn == 0 {
		t.Error("no chart draws a line")
	}

	// The figures on the page are the cells of the CSVs they name, and read as them.
	var figures [][5]string
	err = tab.Evaluate(ctx, `Array.from(document.querySelectorAll('[data-file]')).map(e =>
		[e.dataset.file, e.dataset.key, e.dataset.column, e.dataset.value, e.textContent])`, &figures)
	if err != nil {
		t.Fatal(err)
	}
	cells := csvCells(t)
	headline := 0
	for _, f := range figures {
		want, ok := cells[f[0]+"|"+f[1]+"|"+f[2]]
		if !ok {
			t.Errorf("%s %s %s: no such cell in the CSV", f[0], f[1], f[2])
			continue
		}
		if f[3] != want {
			t.Errorf("%s %s %s: the page says %q, the CSV %q", f[0], f[1], f[2], f[3], want)
		}
		if !readsAs(f[2], want, f[4]) {
			t.Errorf("%s %s %s: shown as %q, not as the CSV's %q", f[0], f[1], f[2], f[4], want)
		}
		if f[1] == "ent1;enterprise;contoso;2026-11-16" {
			headline++
		}
	}
	if headline < 10 {
		t.Errorf("%d figures of the enterprise's latest complete week on the page, want its headline numbers", headline)
	}
	shot, err := tab.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := artefactDir(t)
	if err := os.WriteFile(filepath.Join(dir, "report-1280.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}

	// A phone: nothing wider than the screen.
	if err := tab.SetViewport(ctx, 390, 844, true); err != nil {
		t.Fatal(err)
	}
	var widths struct {
		Scroll, Client int
	}
	if err := tab.Evaluate(ctx, `({Scroll: document.documentElement.scrollWidth, Client: document.documentElement.clientWidth})`, &widths); err != nil {
		t.Fatal(err)
	}
	if widths.Client != 390 || widths.Scroll > widths.Client {
		t.Errorf("at 390 px: the page is %d px wide in a %d px window; want no sideways scroll", widths.Scroll, widths.Client)
	}
	shot, err = tab.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report-390.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)

	for _, p := range tab.Problems(url) {
		t.Error(p)
	}
}

// readsAs reports whether a figure's text shows the CSV cell: a rate as a percentage
// of two decimals, anything else starting with the cell, an empty cell as a dash.
func readsAs(column, cell, text string) bool {
	text = strings.TrimPrefix(strings.TrimSpace(text), "p90 ")
	for _, prefix := range []string{"coding ", "pickup ", "review ", "deploy "} {
		text = strings.TrimPrefix(text, prefix)
	}
	if cell == "" {
		return text == "—"
	}
	if strings.HasSuffix(column, "_rate") {
		v, err := strconv.ParseFloat(cell, 64)
		return err == nil && text == strconv.FormatFloat(v*100, 'f', 2, 64)+" %"
	}
	return strings.HasPrefix(text, cell)
}
