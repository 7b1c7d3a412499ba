// Package report renders the daily HTML report: one self-contained page (inline CSS and
// SVG, no script, nothing fetched when it is viewed) written next to the CSVs, from the
// CSVs themselves — so every figure on the page is the figure in the file.
//
// Load reads the exported files (only the enterprise and organization rows it shows);
// Render writes the page. Neither touches the database or the network.
package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// File kinds the report reads (the CSV file stems of internal/csvexport).
const (
	KindCopilot         = "copilot_metrics"
	KindDORA            = "dora_metrics"
	KindVelocity        = "velocity_metrics"
	KindSeatUtilisation = "copilot_seat_utilisation"
	KindImpact          = "copilot_impact"
)

// Table is the rows of one CSV file that the report shows: enterprise and organization
// scopes only, every cell exactly as written in the file.
type Table struct {
	Kind    string
	Columns []string
	Rows    []Row
}

// Row is one line of a CSV file, cells by column name, as text.
type Row map[string]string

// Scope identifies an enterprise or organization of an enterprise.
type Scope struct {
	EnterpriseID string
	Type         string // "enterprise" or "organization"
	Name         string
}

func (r Row) scope() Scope {
	return Scope{EnterpriseID: r["enterprise_id"], Type: r["scope_type"], Name: r["scope"]}
}

// Data is what one report shows.
type Data struct {
	ExportDate time.Time
	Tables     map[string]*Table // by kind; a missing kind is a section not shown
	Status     RunStatus
	// DocsURL is where the definitions live (docs/metrics.md); each chart's definition
	// links to an anchor of it.
	DocsURL string
}

// RunStatus is the state of the run that exported the files.
type RunStatus struct {
	RunID    int64
	RunDate  time.Time
	Trigger  string
	Status   string // the run's status when the report was written ("running" during the export)
	Datasets []DatasetStatus
	Warnings []string
}

// DatasetStatus is one enterprise's dataset in the run.
type DatasetStatus struct {
	EnterpriseID string
	Dataset      string // a stage name: collect_copilot, collect_repos, calculate_dora, ...
	Status       string // succeeded, partial, failed, skipped, running, pending
	Error        string
}

// Load reads the report's tables from the exported files. open returns a file kind's
// CSV, or an error wrapping fs.ErrNotExist when the export has none (that section is
// left out). Rows of repositories, teams and users are skipped while reading: the page
// shows enterprises and organizations.
func Load(open func(kind string) (io.ReadCloser, error), isMissing func(error) bool) (map[string]*Table, error) {
	tables := map[string]*Table{}
	for _, kind := range []string{KindCopilot, KindDORA, KindVelocity, KindSeatUtilisation, KindImpact} {
		f, err := open(kind)
		if err != nil {
			if isMissing(err) {
				continue
			}
			return nil, fmt.Errorf("report: open %s: %w", kind, err)
		}
		t, err := readTable(kind, f)
		cerr := f.Close()
		if err != nil {
			return nil, fmt.Errorf("report: read %s: %w", kind, err)
		}
		if cerr != nil {
			return nil, fmt.Errorf("report: close %s: %w", kind, cerr)
		}
		tables[kind] = t
	}
	return tables, nil
}

var bom = []byte("\uFEFF")

// readTable parses one export CSV (UTF-8 BOM, ';', CRLF, RFC 4180 quoting) keeping the
// enterprise and organization rows.
func readTable(kind string, r io.Reader) (*Table, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if head, err := br.Peek(len(bom)); err == nil && bytes.Equal(head, bom) {
		_, _ = br.Discard(len(bom))
	}
	cr := csv.NewReader(br)
	cr.Comma = ';'
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty: no header")
		}
		return nil, err
	}
	t := &Table{Kind: kind, Columns: slices.Clone(header)}
	scopeType := slices.Index(t.Columns, "scope_type")
	if scopeType < 0 || !slices.Contains(t.Columns, "enterprise_id") || !slices.Contains(t.Columns, "scope") {
		return nil, fmt.Errorf("the header %v lacks enterprise_id, scope_type or scope", t.Columns)
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			return nil, err
		}
		if st := rec[scopeType]; st != "enterprise" && st != "organization" {
			continue
		}
		row := make(Row, len(rec))
		for i, v := range rec {
			row[t.Columns[i]] = strings.Clone(v)
		}
		t.Rows = append(t.Rows, row)
	}
}
