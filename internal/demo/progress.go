package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// progress polls the read-only status route and prints a line whenever a step moves.
type progress struct {
	baseURL string
	out     io.Writer
	seen    map[string]string
	started time.Time
}

func newProgress(baseURL string, out io.Writer) *progress {
	return &progress{baseURL: baseURL, out: out, seen: map[string]string{}, started: time.Now()}
}

type runStatus struct {
	ID     int64  `json:"id"`
	Status string `json:"status"`
	Steps  []struct {
		Stage      string `json:"stage"`
		Enterprise string `json:"enterprise"`
		Shard      int    `json:"shard"`
		Status     string `json:"status"`
		Calls      int    `json:"calls"`
		Records    int64  `json:"records"`
		APICalls   int64  `json:"api_calls"`
		Error      string `json:"error"`
	} `json:"steps"`
}

func (p *progress) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.baseURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", path, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (p *progress) latestRun(ctx context.Context) (runStatus, error) {
	var list struct {
		Runs []runStatus `json:"runs"`
	}
	if err := p.get(ctx, "/api/runs?limit=1", &list); err != nil {
		return runStatus{}, err
	}
	if len(list.Runs) == 0 {
		return runStatus{}, fmt.Errorf("no run yet")
	}
	return list.Runs[0], nil
}

// print shows each step whose state changed since the last call.
func (p *progress) print(ctx context.Context, runID int64) {
	var run runStatus
	if err := p.get(ctx, fmt.Sprintf("/api/runs/%d", runID), &run); err != nil {
		return
	}
	for _, st := range run.Steps {
		name := st.Stage
		if st.Enterprise == "" && st.Shard > 0 {
			name += fmt.Sprintf(" (delivery %d)", st.Shard)
		}
		if st.Enterprise != "" {
			name += " [" + st.Enterprise
			if st.Shard > 0 {
				name += fmt.Sprintf(" #%d", st.Shard)
			}
			name += "]"
		}
		line := fmt.Sprintf("%-34s %-9s %8d records %7d requests %3d calls", name, st.Status, st.Records, st.APICalls, st.Calls)
		if st.Error != "" && st.Status != "running" {
			line += "  (" + st.Error + ")"
		}
		if p.seen[name] == line {
			continue
		}
		p.seen[name] = line
		fmt.Fprintf(p.out, "%6.1fs  %s\n", time.Since(p.started).Seconds(), line)
	}
}
