package report

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// goldenDir holds the export of the demo world that the handler's end-to-end test
// checks byte for byte: the report is rendered from the same files.
const goldenDir = "../../handler/testdata/e2e/clean/latest"

// openLatest opens latest/<kind>.csv of an export folder.
func openLatest(dir string) func(kind string) (io.ReadCloser, error) {
	return func(kind string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(dir, kind+".csv"))
	}
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

var goldenDate = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

func renderGolden(t testing.TB) []byte {
	t.Helper()
	tables, err := Load(openLatest(goldenDir), isNotExist)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	err = Render(&b, Data{ExportDate: goldenDate, Tables: tables, Status: RunStatus{RunID: 1, RunDate: goldenDate, Trigger: "timer", Status: "running",
		Datasets: []DatasetStatus{{EnterpriseID: "ent1", Dataset: "collect_copilot", Status: "succeeded"},
			{EnterpriseID: "ent1", Dataset: "calculate_dora", Status: "succeeded"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRenderIsSelfContained(t *testing.T) {
	t.Parallel()
	page := string(renderGolden(t))
	// Nothing is fetched when the page is viewed: no script, no external stylesheet,
	// image or font, no http(s) reference but the definitions' links.
	for _, banned := range []string{"<script", "<link", "<img", "<iframe", "@import", "url(", "src="} {
		if strings.Contains(page, banned) {
			t.Errorf("the page contains %q", banned)
		}
	}
	for _, m := range regexp.MustCompile(`https?://[^"'<> ]+`).FindAllString(page, -1) {
		t.Errorf("the page names an outside address %q", m)
	}
	// Every enterprise and organization of the DORA file has its section and its five
	// charts; every chart is an SVG with a drawn line.
	for _, id := range []string{"dora-ent1-enterprise-contoso", "dora-ent1-organization-contoso-web", "velocity-ent2-enterprise-fabrikam", "copilot-ent1-enterprise-contoso"} {
		if !strings.Contains(page, `id="`+id+`"`) {
			t.Errorf("no section %s", id)
		}
	}
	if n := strings.Count(page, `<svg class="chart"`); n < 20 {
		t.Errorf("%d charts, want every scope's", n)
	}
	for i, svg := range strings.Split(page, `<svg class="chart"`)[1:] {
		svg = svg[:strings.Index(svg, "</svg>")]
		if !strings.Contains(svg, `<path class="line"`) && !strings.Contains(svg, "no data in these weeks") {
			t.Errorf("chart %d draws neither a line nor says it has no data", i+1)
		}
	}
}

func TestRenderShowsTheCSVCells(t *testing.T) {
	t.Parallel()
	page := string(renderGolden(t))
	raw, err := os.ReadFile(filepath.Join(goldenDir, "dora_metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// The enterprise's latest complete week (2026-11-16; the export date is Thursday
	// 2026-11-26, so the week of 11-23 is in progress).
	var line string
	for _, l := range strings.Split(string(raw), "\r\n") {
		if strings.HasPrefix(l, "ent1;enterprise;contoso;2026-11-16;") {
			line = l
		}
	}
	if line == "" {
		t.Fatal("no enterprise row of 2026-11-16 in the golden DORA file")
	}
	header := strings.Split(strings.TrimPrefix(strings.Split(string(raw), "\r\n")[0], "\uFEFF"), ";")
	cells := strings.Split(line, ";")
	cell := func(col string) string {
		for i, h := range header {
			if h == col {
				return cells[i]
			}
		}
		t.Fatalf("no column %s", col)
		return ""
	}
	for _, col := range []string{"deployments", "lead_time_p50_hours", "change_failure_rate", "recovery_time_p50_hours", "rework_rate", "performance_level"} {
		want := `data-key="ent1;enterprise;contoso;2026-11-16" data-column="` + col + `" data-value="` + cell(col) + `"`
		if !strings.Contains(page, want) {
			t.Errorf("the page does not show %s = %q of the CSV", col, cell(col))
		}
	}
	if !strings.Contains(page, "n = "+cell("lead_time_n")) {
		t.Errorf("the lead time's n (%s) is not shown", cell("lead_time_n"))
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	t.Parallel()
	if !bytes.Equal(renderGolden(t), renderGolden(t)) {
		t.Error("the same files rendered twice differ")
	}
}

func TestLoadRefusesAFileWithoutScopeColumns(t *testing.T) {
	t.Parallel()
	_, err := Load(func(kind string) (io.ReadCloser, error) {
		if kind == KindDORA {
			return io.NopCloser(strings.NewReader("\uFEFFweek_start;deployments\r\n2026-11-16;3\r\n")), nil
		}
		return nil, fs.ErrNotExist
	}, isNotExist)
	if err == nil || !strings.Contains(err.Error(), "dora_metrics") || !strings.Contains(err.Error(), "scope_type") {
		t.Errorf("err = %v, want one naming the file and the missing column", err)
	}
}
