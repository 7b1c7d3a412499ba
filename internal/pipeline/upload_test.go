package pipeline_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/postgres/pgtest"
)

// fakeUploader stores what it is given; fail decides per file name whether to refuse.
type fakeUploader struct {
	mu     sync.Mutex
	stored map[string][]byte
	calls  []string
	fail   func(name string) error
}

func (f *fakeUploader) Upload(ctx context.Context, name string, size int64, r io.ReaderAt) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	if f.fail != nil {
		if err := f.fail(name); err != nil {
			return "", err
		}
	}
	buf := make([]byte, size)
	if _, err := r.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	if f.stored == nil {
		f.stored = map[string][]byte{}
	}
	f.stored[name] = buf
	return "item-" + name, nil
}

func (f *fakeUploader) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// graphDown is how an uploader reports an outage outlasting its retries.
type graphDown struct{}

func (graphDown) Error() string   { return "graph: 503 after 4 attempts" }
func (graphDown) Retryable() bool { return true }

var allFiles = []string{"copilot_idle_seats_20261126.csv", "copilot_impact_20261126.csv", "copilot_metrics_20261126.csv",
	"copilot_seat_utilisation_20261126.csv", "copilot_seats_20261126.csv", "copilot_user_metrics_20261126.csv",
	"dora_metrics_20261126.csv", "dora_rolling_20261126.csv", "velocity_metrics_20261126.csv", "manifest_20261126.json"}

// exported returns a store with a finished export of 2026-11-26 in dir.
func exported(t *testing.T) (*postgres.Store, string) {
	t.Helper()
	store := pgtest.New(t)
	seedMetrics(t, store)
	dir := t.TempDir()
	if _, err := newExport(store, dir).Run(t.Context(), exportRequest()); err != nil {
		t.Fatal(err)
	}
	return store, dir
}

func newUpload(store pipeline.UploadStore, up pipeline.Uploader, dir string) *pipeline.UploadStage {
	opts := pipeline.UploadOptions{Store: store, Dir: dir, Now: func() time.Time { return exportNow }}
	if up != nil {
		opts.Uploader = up
	}
	return pipeline.NewUploadStage(opts)
}

func manualRun(t *testing.T, store *postgres.Store) pipeline.Request {
	t.Helper()
	run, err := store.ManualRun(t.Context(), exportNow)
	if err != nil {
		t.Fatal(err)
	}
	return pipeline.Request{RunID: run.ID, Now: exportNow, Shards: 1}
}

func TestUploadSkippedWhenNotConfigured(t *testing.T) {
	t.Parallel()
	stage := newUpload(nil, nil, t.TempDir())
	if stage.Name() != "upload_sharepoint" || stage.PerEnterprise() {
		t.Fatalf("stage %s, per enterprise %v", stage.Name(), stage.PerEnterprise())
	}
	res, err := stage.Run(t.Context(), pipeline.Request{Now: exportNow})
	if err != nil || res.Status != pipeline.StatusSkipped || !res.Done || res.Error != "" {
		t.Errorf("Run = %+v, %v; want skipped and done without an error", res, err)
	}
}

func TestUploadSkippedBeforeFirstExport(t *testing.T) {
	t.Parallel()
	up := &fakeUploader{}
	res, err := newUpload(pgtest.New(t), up, t.TempDir()).Run(t.Context(), pipeline.Request{Now: exportNow})
	if err != nil || res.Status != pipeline.StatusSkipped || !res.Done || len(up.calls) != 0 {
		t.Errorf("Run = %+v, %v, calls %v; want skipped, nothing uploaded", res, err, up.calls)
	}
}

func TestUploadOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	store, dir := exported(t)
	up := &fakeUploader{}
	stage := newUpload(store, up, dir)
	req := manualRun(t, store)
	res, err := stage.Run(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != pipeline.StatusSucceeded || !res.Done || res.Records != int64(len(allFiles)) {
		t.Errorf("first upload = %+v", res)
	}
	if diff := cmp.Diff(allFiles, up.takeCalls()); diff != "" {
		t.Errorf("uploads (-want +got), manifest last:\n%s", diff)
	}
	for _, name := range allFiles {
		local, _ := os.ReadFile(filepath.Join(dir, name))
		if string(up.stored[name]) != string(local) {
			t.Errorf("%s: uploaded bytes differ from the file", name)
		}
	}
	recorded, err := store.UploadedFiles(t.Context(), allFiles)
	if err != nil || len(recorded) != len(allFiles) || recorded[allFiles[0]].RunID != req.RunID || recorded[allFiles[0]].DriveItemID != "item-"+allFiles[0] {
		t.Errorf("uploaded_files = %+v, %v", recorded, err)
	}

	// Nothing changed: nothing is sent.
	res, err = stage.Run(t.Context(), req)
	if err != nil || res.Records != 0 || res.Status != pipeline.StatusSucceeded {
		t.Errorf("second upload = %+v, %v", res, err)
	}
	if calls := up.takeCalls(); len(calls) != 0 {
		t.Errorf("unchanged files uploaded again: %v", calls)
	}

	// One file changes: it and the manifest go.
	sqlExec(t, store, `UPDATE velocity_metrics SET prs_merged = 9`)
	if _, err := newExport(store, dir).Run(t.Context(), exportRequest()); err != nil {
		t.Fatal(err)
	}
	if _, err := stage.Run(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"velocity_metrics_20261126.csv", "manifest_20261126.json"}, up.takeCalls()); diff != "" {
		t.Errorf("after a change (-want +got):\n%s", diff)
	}
}

func TestUploadFailureIsPartialAndCaughtUpLater(t *testing.T) {
	t.Parallel()
	store, dir := exported(t)
	up := &fakeUploader{fail: func(name string) error {
		if strings.HasPrefix(name, "dora_metrics") {
			return errors.New("graph: 403 accessDenied: the app has no write grant on the site")
		}
		return nil
	}}
	stage := newUpload(store, up, dir)
	res, err := stage.Run(t.Context(), manualRun(t, store))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != pipeline.StatusPartial || !res.Done || res.Records != 8 ||
		!strings.Contains(res.Error, "dora_metrics_20261126.csv: graph: 403 accessDenied") ||
		!strings.Contains(res.Error, "manifest_20261126.json: held back until the files it lists are uploaded (missing: dora_metrics_20261126.csv)") {
		t.Errorf("Run = %+v; want partial naming the file, its reason and the held-back manifest", res)
	}
	wantCalls := allFiles[:len(allFiles)-1]
	if diff := cmp.Diff(wantCalls, up.takeCalls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}

	// The next run (permission fixed) uploads exactly what was missed.
	up.fail = nil
	res, err = stage.Run(t.Context(), manualRun(t, store))
	if err != nil || res.Status != pipeline.StatusSucceeded || res.Records != 2 {
		t.Errorf("catch-up run = %+v, %v", res, err)
	}
	if diff := cmp.Diff([]string{"dora_metrics_20261126.csv", "manifest_20261126.json"}, up.takeCalls()); diff != "" {
		t.Errorf("catch-up uploads (-want +got):\n%s", diff)
	}
}

func TestUploadGraphDownIsUnavailable(t *testing.T) {
	t.Parallel()
	store, dir := exported(t)
	up := &fakeUploader{fail: func(name string) error {
		if strings.HasPrefix(name, "copilot_user") {
			return graphDown{}
		}
		return nil
	}}
	stage := newUpload(store, up, dir)
	_, err := stage.Run(t.Context(), manualRun(t, store))
	if !errors.Is(err, pipeline.ErrUnavailable) || !strings.Contains(err.Error(), "copilot_user_metrics_20261126.csv") {
		t.Fatalf("error = %v, want ErrUnavailable naming the file", err)
	}
	// It stopped at the outage instead of hammering Graph with the rest.
	if diff := cmp.Diff(allFiles[:6], up.takeCalls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	up.fail = nil
	res, err := stage.Run(t.Context(), manualRun(t, store))
	if err != nil || res.Records != 5 {
		t.Errorf("retry = %+v, %v", res, err)
	}
	if diff := cmp.Diff(allFiles[5:], up.takeCalls()); diff != "" {
		t.Errorf("retry uploads (-want +got):\n%s", diff)
	}
}

func TestUploadLocalFileProblems(t *testing.T) {
	t.Parallel()
	store, dir := exported(t)
	os.Remove(filepath.Join(dir, "copilot_seats_20261126.csv"))
	os.WriteFile(filepath.Join(dir, "velocity_metrics_20261126.csv"), []byte("edited by hand"), 0o644)
	up := &fakeUploader{}
	res, err := newUpload(store, up, dir).Run(t.Context(), manualRun(t, store))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != pipeline.StatusPartial ||
		!strings.Contains(res.Error, "copilot_seats_20261126.csv: not in EXPORT_DIR") ||
		!strings.Contains(res.Error, "velocity_metrics_20261126.csv: the file in EXPORT_DIR changed since it was exported") {
		t.Errorf("Run = %+v", res)
	}
	for _, name := range up.takeCalls() {
		if strings.HasPrefix(name, "copilot_seats") || strings.HasPrefix(name, "velocity") || strings.HasPrefix(name, "manifest") {
			t.Errorf("%s was uploaded", name)
		}
	}
}

func TestUploadContinuesFromCursor(t *testing.T) {
	t.Parallel()
	store, dir := exported(t)
	up := &fakeUploader{}
	stage := newUpload(store, up, dir)
	req := manualRun(t, store)
	req.Deadline = exportNow.Add(time.Second)
	var cursors []string
	for range 10 {
		res, err := stage.Run(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if res.Done {
			break
		}
		cursors = append(cursors, res.Cursor)
		req.Cursor = res.Cursor
	}
	want := []string{"20261126:1", "20261126:2", "20261126:3", "20261126:4", "20261126:5", "20261126:6", "20261126:7", "20261126:8", "20261126:9"}
	if diff := cmp.Diff(want, cursors); diff != "" {
		t.Errorf("cursors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(allFiles, up.takeCalls()); diff != "" {
		t.Errorf("uploads (-want +got):\n%s", diff)
	}
}

// A file refused in one call keeps the manifest back in a later call of the same
// export, too.
func TestUploadHoldsManifestAcrossCalls(t *testing.T) {
	t.Parallel()
	store, dir := exported(t)
	up := &fakeUploader{fail: func(name string) error {
		if strings.HasPrefix(name, "copilot_metrics") {
			return errors.New("graph status 400: invalidRequest")
		}
		return nil
	}}
	stage := newUpload(store, up, dir)
	req := manualRun(t, store)
	req.Deadline = exportNow.Add(time.Second) // one file per call
	var last pipeline.Result
	for range 10 {
		res, err := stage.Run(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		last = res
		if res.Done {
			break
		}
		req.Cursor = res.Cursor
	}
	if last.Status != pipeline.StatusPartial || !strings.Contains(last.Error, "missing: copilot_metrics_20261126.csv") {
		t.Errorf("last call = %+v, want the manifest held back", last)
	}
	for _, name := range up.takeCalls() {
		if strings.HasPrefix(name, "manifest") {
			t.Error("the manifest was uploaded while a file it lists was not")
		}
	}
}

func TestUploadValidate(t *testing.T) {
	t.Parallel()
	stage := newUpload(nil, &fakeUploader{}, t.TempDir())
	d := exportNow
	tests := []struct {
		req   pipeline.Request
		field string
	}{
		{pipeline.Request{Now: exportNow, Since: &d}, "since"},
		{pipeline.Request{Now: exportNow, Until: &d}, "until"},
		{pipeline.Request{Now: exportNow, Cursor: "20261126"}, "cursor"},
		{pipeline.Request{Now: exportNow, Cursor: "x:1"}, "cursor"},
	}
	for _, tt := range tests {
		var input *pipeline.InputError
		if err := stage.Validate(tt.req); !errors.As(err, &input) || input.Field != tt.field {
			t.Errorf("Validate(%+v) = %v, want an input error on %s", tt.req, err, tt.field)
		}
	}
	if err := stage.Validate(pipeline.Request{Now: exportNow, Cursor: "20261126:3"}); err != nil {
		t.Errorf("Validate(good cursor) = %v", err)
	}
}
