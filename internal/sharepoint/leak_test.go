package sharepoint_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/csvexport"
	"metrics-collector/internal/logging"
	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
	"metrics-collector/internal/secrets"
	"metrics-collector/internal/server"
	"metrics-collector/internal/sharepoint"
	"metrics-collector/internal/sharepoint/graphfake"
	"metrics-collector/internal/telemetry"
)

// ingestion is a fake Application Insights endpoint that keeps every (decompressed)
// batch it receives.
type ingestion struct {
	mu      sync.Mutex
	batches []string
}

func (in *ingestion) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		http.Error(w, "not gzip", http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(zr)
	in.mu.Lock()
	in.batches = append(in.batches, string(body))
	in.mu.Unlock()
	w.Write([]byte(`{"itemsReceived":1,"itemsAccepted":1,"errors":[]}`))
}

func (in *ingestion) text() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return strings.Join(in.batches, "\n")
}

// syncBuffer is a log sink safe for the concurrent writes of a request.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// exportFiles writes files into dir and records them as the newest complete export.
func exportFiles(t *testing.T, store *postgres.Store, dir string, date time.Time, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		// The export layout: the dated copy in archive/, the stable one in latest/.
		kind := strings.TrimSuffix(name, "_"+date.Format("20060102")+filepath.Ext(name))
		for _, p := range []string{csvexport.ArchivePath(date, name), csvexport.LatestPath(kind, filepath.Ext(name))} {
			full := filepath.Join(dir, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		sum := sha256.Sum256(data)
		if err := store.RecordExport(t.Context(), postgres.ExportedFile{
			FileName: name, Kind: kind, ExportDate: date, Rows: 1, Bytes: int64(len(data)),
			SHA256: hex.EncodeToString(sum[:]), SchemaVersion: 1,
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// A chunk upload that keeps failing on the network ends the call 503. The upload URL
// carries the session's credential (tempauth) in its query; it must reach neither the
// HTTP answer, nor the audit rows, nor the logs, nor telemetry. The redactor knows no
// value here: what it catches, it catches by shape.
func TestFailingChunkLeavesNoCredentialAnywhere(t *testing.T) {
	t.Parallel()
	store := pgtest.New(t)
	now := time.Date(2026, 11, 26, 6, 30, 0, 0, time.UTC)
	dir := t.TempDir()
	exportFiles(t, store, dir, now, map[string][]byte{
		"copilot_user_metrics_20261126.csv": content(5<<20 + 99), // an upload session
		"manifest_20261126.json":            []byte(`{"files":[]}`),
	})

	redactor := secrets.NewRedactor()
	logs := &syncBuffer{}
	log := slog.New(logging.NewHandler(logs, slog.LevelDebug, redactor.Handler))
	in := &ingestion{}
	ai := httptest.NewServer(in)
	t.Cleanup(ai.Close)
	tel, err := telemetry.New("InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint="+ai.URL+"/",
		telemetry.Options{Redact: redactor.Redact})
	if err != nil {
		t.Fatal(err)
	}

	f := newGraphFake(t)
	f.BeforeChunk(func(n int) graphfake.Fault {
		if n == 0 {
			return nil // the first chunk goes through; every later attempt is cut off
		}
		return graphfake.ResetConnection
	})
	client, err := sharepoint.New(sharepoint.Options{
		Credential: staticCredential{}, BaseURL: f.URL() + "/v1.0", DriveID: graphfake.DriveID, Folder: folder,
		HTTPClient: f.Client(), ChunkSize: 4 * sharepoint.ChunkUnit, Sleep: (&sleeper{}).Sleep, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	stage := pipeline.NewUploadStage(pipeline.UploadOptions{
		Store: store, Uploader: client, Dir: dir, Now: func() time.Time { return now }, Logger: log,
	})
	srv := httptest.NewServer(server.New(server.Options{
		Log: log, Store: store, Config: config.Config{StageBudget: 100 * time.Second},
		Stages: []pipeline.Stage{stage}, Telemetry: tel, Redact: redactor.Redact, Now: func() time.Time { return now },
	}))
	t.Cleanup(srv.Close)

	resp, err := http.Post(srv.URL+"/api/upload_sharepoint", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := tel.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	// The failure happened where this test means it to, and is still described.
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "copilot_user_metrics_20261126.csv") {
		t.Fatalf("answer %d %s; want 503 naming the file", resp.StatusCode, body)
	}
	chunkAttempts := 0
	for _, r := range f.Requests() {
		if r.URLPath == graphfake.UploadSessionPath && r.Method == http.MethodPut {
			chunkAttempts++
		}
	}
	if chunkAttempts < 2 {
		t.Fatalf("%d chunk requests; the test needs a failing chunk", chunkAttempts)
	}

	var audit string
	if err := store.Pool().QueryRow(context.Background(), `
		SELECT (SELECT coalesce(string_agg(row_to_json(c)::text, E'\n'), '') FROM stage_calls c) || E'\n' ||
		       (SELECT coalesce(string_agg(row_to_json(r)::text, E'\n'), '') FROM collection_runs r)`).Scan(&audit); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(audit, "copilot_user_metrics_20261126.csv") {
		t.Fatalf("audit rows do not record the failure: %s", audit)
	}
	credential := f.UploadCredential(1)
	for where, text := range map[string]string{
		"HTTP answer": string(body), "audit rows": audit, "logs": logs.String(), "telemetry": in.text(),
	} {
		if text == "" {
			t.Errorf("%s: empty; nothing to check", where)
		}
		for _, leak := range []string{credential, "tempauth=v1."} {
			if strings.Contains(text, leak) {
				t.Errorf("%s hold the upload session's credential (%q):\n%s", where, leak, text)
			}
		}
	}
}
