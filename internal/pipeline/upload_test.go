package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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

// ListFolders lists the folders directly inside path, from the stored paths.
func (f *fakeUploader) ListFolders(ctx context.Context, path string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for name := range f.stored {
		rest, ok := strings.CutPrefix(name, path+"/")
		if !ok {
			continue
		}
		if dir, _, isDir := strings.Cut(rest, "/"); isDir && !seen[dir] {
			seen[dir] = true
			out = append(out, dir)
		}
	}
	return out, nil
}

// Delete removes path and everything under it.
func (f *fakeUploader) Delete(ctx context.Context, path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "delete "+path)
	for name := range f.stored {
		if name == path || strings.HasPrefix(name, path+"/") {
			delete(f.stored, name)
		}
	}
	return nil
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

// both is a kind's two remote copies, dated one first: archive/2026-11-26/<kind>_20261126.csv
// and latest/<kind>.csv (.json for the manifest, .html for the report).
func both(kind string) []string {
	ext := ".csv"
	switch kind {
	case "manifest":
		ext = ".json"
	case "report":
		ext = ".html"
	}
	return []string{"archive/2026-11-26/" + kind + "_20261126" + ext, "latest/" + kind + ext}
}

// allFiles are the remote paths of an export of 2026-11-26 in upload order: by kind,
// the manifest last.
var allFiles = slices.Concat(both("copilot_idle_seats"), both("copilot_impact"), both("copilot_metrics"),
	both("copilot_seat_utilisation"), both("copilot_seats"), both("copilot_user_metrics"),
	both("dora_metrics"), both("dora_rolling"), both("report"), both("velocity_metrics"), both("manifest"))

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
	if diff := cmp.Diff(slices.Concat(both("velocity_metrics"), both("manifest")), up.takeCalls()); diff != "" {
		t.Errorf("after a change (-want +got):\n%s", diff)
	}
}

func TestUploadFailureIsPartialAndCaughtUpLater(t *testing.T) {
	t.Parallel()
	store, dir := exported(t)
	up := &fakeUploader{fail: func(name string) error {
		if strings.HasPrefix(name, "latest/dora_metrics") {
			return errors.New("graph: 403 accessDenied: the app has no write grant on the site")
		}
		return nil
	}}
	stage := newUpload(store, up, dir)
	res, err := stage.Run(t.Context(), manualRun(t, store))
	if err != nil {
		t.Fatal(err)
	}
	// Every file but the failed one and the two manifests.
	if res.Status != pipeline.StatusPartial || !res.Done || res.Records != int64(len(allFiles)-3) ||
		!strings.Contains(res.Error, "latest/dora_metrics.csv: graph: 403 accessDenied") ||
		!strings.Contains(res.Error, "archive/2026-11-26/manifest_20261126.json: held back until the files it lists are uploaded (missing: latest/dora_metrics.csv)") ||
		!strings.Contains(res.Error, "latest/manifest.json: held back") {
		t.Errorf("Run = %+v; want partial naming the file, its reason and the held-back manifest", res)
	}
	if diff := cmp.Diff(allFiles[:len(allFiles)-2], up.takeCalls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}

	// The next run (permission fixed) uploads exactly what was missed.
	up.fail = nil
	res, err = stage.Run(t.Context(), manualRun(t, store))
	if err != nil || res.Status != pipeline.StatusSucceeded || res.Records != 3 {
		t.Errorf("catch-up run = %+v, %v", res, err)
	}
	if diff := cmp.Diff(slices.Concat([]string{"latest/dora_metrics.csv"}, both("manifest")), up.takeCalls()); diff != "" {
		t.Errorf("catch-up uploads (-want +got):\n%s", diff)
	}
}

func TestUploadGraphDownIsUnavailable(t *testing.T) {
	t.Parallel()
	store, dir := exported(t)
	up := &fakeUploader{fail: func(name string) error {
		if strings.HasPrefix(name, "archive/2026-11-26/copilot_user") {
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
	failed := slices.Index(allFiles, "archive/2026-11-26/copilot_user_metrics_20261126.csv")
	if diff := cmp.Diff(allFiles[:failed+1], up.takeCalls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	up.fail = nil
	res, err := stage.Run(t.Context(), manualRun(t, store))
	if err != nil || res.Records != int64(len(allFiles)-failed) {
		t.Errorf("retry = %+v, %v", res, err)
	}
	if diff := cmp.Diff(allFiles[failed:], up.takeCalls()); diff != "" {
		t.Errorf("retry uploads (-want +got):\n%s", diff)
	}
}

func TestUploadLocalFileProblems(t *testing.T) {
	t.Parallel()
	store, dir := exported(t)
	os.Remove(filepath.Join(dir, "latest", "copilot_seats.csv"))
	os.WriteFile(filepath.Join(dir, "archive", "2026-11-26", "velocity_metrics_20261126.csv"), []byte("edited by hand"), 0o644)
	up := &fakeUploader{}
	res, err := newUpload(store, up, dir).Run(t.Context(), manualRun(t, store))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != pipeline.StatusPartial ||
		!strings.Contains(res.Error, "latest/copilot_seats.csv: not in EXPORT_DIR") ||
		!strings.Contains(res.Error, "archive/2026-11-26/velocity_metrics_20261126.csv: the file in EXPORT_DIR changed since it was exported") {
		t.Errorf("Run = %+v", res)
	}
	for _, name := range up.takeCalls() {
		if name == "latest/copilot_seats.csv" || name == "archive/2026-11-26/velocity_metrics_20261126.csv" || strings.Contains(name, "manifest") {
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
	for range 2 * len(allFiles) {
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
	var want []string
	for i := 1; i < len(allFiles); i++ {
		want = append(want, fmt.Sprintf("20261126:%d", i))
	}
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
		if strings.HasPrefix(name, "latest/copilot_metrics") {
			return errors.New("graph status 400: invalidRequest")
		}
		return nil
	}}
	stage := newUpload(store, up, dir)
	req := manualRun(t, store)
	req.Deadline = exportNow.Add(time.Second) // one file per call
	var last pipeline.Result
	for range 2 * len(allFiles) {
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
	if last.Status != pipeline.StatusPartial || !strings.Contains(last.Error, "missing: latest/copilot_metrics.csv") {
		t.Errorf("last call = %+v, want the manifest held back", last)
	}
	for _, name := range up.takeCalls() {
		if strings.Contains(name, "manifest") {
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
		{pipeline.Request{Now: exportNow, Kinds: []string{"dora_metrics"}}, "kinds"},
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

// TestUploadPrunesArchive: after a complete upload, archive folders older than the
// retention go; other folders and files in archive/ stay, and nothing is pruned after
// an upload that left a file behind.
func TestUploadPrunesArchive(t *testing.T) {
	t.Parallel()
	store, dir := exported(t)
	up := &fakeUploader{stored: map[string][]byte{
		"archive/2026-10-22/dora_metrics_20261022.csv":     []byte("old"),  // 35 days before 2026-11-26: goes
		"archive/2026-10-23/dora_metrics_20261023.csv":     []byte("kept"), // the 35th day: stays
		"archive/reports/q3.xlsx":                          []byte("someone else's"),
		"archive/2026-10-01/velocity_metrics_20261001.csv": []byte("older"),
	}}
	fail := true
	up.fail = func(name string) error {
		if fail && name == "latest/velocity_metrics.csv" {
			return errors.New("graph status 423: resourceLocked")
		}
		return nil
	}
	stage := pipeline.NewUploadStage(pipeline.UploadOptions{Store: store, Uploader: up, Dir: dir, ArchiveDays: 35,
		Now: func() time.Time { return exportNow }})
	res, err := stage.Run(t.Context(), manualRun(t, store))
	if err != nil || res.Status != pipeline.StatusPartial {
		t.Fatalf("Run = %+v, %v; want partial", res, err)
	}
	for _, c := range up.takeCalls() {
		if strings.HasPrefix(c, "delete") {
			t.Errorf("pruned after an incomplete upload: %s", c)
		}
	}
	fail = false
	if res, err := stage.Run(t.Context(), manualRun(t, store)); err != nil || res.Status != pipeline.StatusSucceeded {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	var deletes []string
	for _, c := range up.takeCalls() {
		if strings.HasPrefix(c, "delete") {
			deletes = append(deletes, c)
		}
	}
	if diff := cmp.Diff([]string{"delete archive/2026-10-01", "delete archive/2026-10-22"}, deletes); diff != "" {
		t.Errorf("deletes (-want +got):\n%s", diff)
	}
	for _, keep := range []string{"archive/2026-10-23/dora_metrics_20261023.csv", "archive/reports/q3.xlsx", "latest/dora_metrics.csv"} {
		if _, ok := up.stored[keep]; !ok {
			t.Errorf("%s was deleted", keep)
		}
	}
}

// A file whose newest export is older than the retention (its collection failed for
// weeks) stays in latest/ but gets no archive copy that the next prune would delete.
func TestUploadSkipsArchiveCopiesPastRetention(t *testing.T) {
	t.Parallel()
	store, dir := exported(t)
	sqlExec(t, store, `UPDATE exported_files SET export_date = '2026-10-01', file_name = 'dora_metrics_20261001.csv' WHERE kind = 'dora_metrics'`)
	if err := os.MkdirAll(filepath.Join(dir, "archive", "2026-10-01"), 0o755); err != nil {
		t.Fatal(err)
	}
	up := &fakeUploader{}
	stage := pipeline.NewUploadStage(pipeline.UploadOptions{Store: store, Uploader: up, Dir: dir, ArchiveDays: 35,
		Now: func() time.Time { return exportNow }})
	if res, err := stage.Run(t.Context(), manualRun(t, store)); err != nil || res.Status != pipeline.StatusSucceeded {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	calls := up.takeCalls()
	if !slices.Contains(calls, "latest/dora_metrics.csv") || slices.ContainsFunc(calls, func(c string) bool { return strings.Contains(c, "20261001") }) {
		t.Errorf("calls %v: want latest/dora_metrics.csv and no copy in archive/2026-10-01", calls)
	}
}
