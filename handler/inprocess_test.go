package main

// Helpers to run the handler in this test process (with hooks: a fixed service clock,
// GitHub waits that do not sleep) and to drive a daily run to its end.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// inproc is the handler served from this process.
type inproc struct {
	base string
	logs *syncBuffer
	stop func()
}

// startInProcess serves the handler with settings (FUNCTIONS_CUSTOMHANDLER_PORT is
// chosen here) and waits until the app is built. stop is also registered as cleanup.
func startInProcess(t testing.TB, settings map[string]string, h hooks) *inproc {
	t.Helper()
	m := map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": freeTCPPort(t)}
	for k, v := range settings {
		m[k] = v
	}
	ready := make(chan string, 1)
	h.ready = ready
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, func(k string) string { return m[k] }, logs, h) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("handler did not start: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("handler did not listen within 30 s")
	}
	p := &inproc{base: "http://" + addr, logs: logs}
	stopped := false
	p.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("handler did not stop within 30 s")
		}
	}
	t.Cleanup(p.stop)
	// The port answers GET / at once; the app is ready when a database route answers.
	for range 300 {
		resp, err := http.Get(p.base + "/api/runs?limit=1")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("handler not ready\n%s", logs.String())
	return nil
}

// timerAnswer is the host envelope the handler answered with.
type timerAnswer struct {
	Status int
	Logs   []string
}

// fireTimer posts the timer envelope like the host.
func fireTimer(t testing.TB, base, envelope string) timerAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/main_orchestrator", strings.NewReader(envelope))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Azure-Functions-InvocationId", fmt.Sprintf("timer-%d", time.Now().UnixNano()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return timerAnswer{Status: 0, Logs: []string{err.Error()}}
	}
	defer resp.Body.Close()
	var body struct {
		Logs []string `json:"Logs"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return timerAnswer{Status: resp.StatusCode, Logs: body.Logs}
}

// runStatus is GET /api/runs/{id} in short.
type runStatus struct {
	ID           int64  `json:"id"`
	Status       string `json:"status"`
	ErrorSummary string `json:"error_summary"`
	Steps        []struct {
		Stage      string `json:"stage"`
		Enterprise string `json:"enterprise"`
		Status     string `json:"status"`
		Error      string `json:"error"`
	} `json:"steps"`
}

// latestRun returns the newest run with its steps.
func latestRun(t testing.TB, base string) runStatus {
	t.Helper()
	var list struct {
		Runs []runStatus `json:"runs"`
	}
	getJSON(t, base+"/api/runs?limit=1", &list)
	if len(list.Runs) == 0 {
		t.Fatal("no run")
	}
	var run runStatus
	getJSON(t, fmt.Sprintf("%s/api/runs/%d", base, list.Runs[0].ID), &run)
	return run
}

func getJSON(t testing.TB, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// runToEnd fires the timer until the run of the day has finished (the orchestrator may
// pause at its budget) and returns it.
func runToEnd(t testing.TB, base string) runStatus {
	t.Helper()
	for i := range 20 {
		env := envelopeLater
		if i == 0 {
			env = envelopeFirstRun
		}
		ans := fireTimer(t, base, env)
		if ans.Status != http.StatusOK {
			t.Fatalf("timer answered %d: %v", ans.Status, ans.Logs)
		}
		if run := latestRun(t, base); run.Status != "running" {
			return run
		}
	}
	t.Fatal("the run did not finish after 20 invocations")
	return runStatus{}
}

// readExports returns the exported files by their slash-separated path under dir
// (latest/dora_metrics.csv, archive/2026-11-26/dora_metrics_20261126.csv); temporary
// files excluded.
func readExports(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// latestOf is the latest/ part of an export tree.
func latestOf(files map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for name, b := range files {
		if strings.HasPrefix(name, "latest/") {
			out[name] = b
		}
	}
	return out
}
