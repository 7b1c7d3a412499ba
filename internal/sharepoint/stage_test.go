package sharepoint_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres/pgtest"
	"metrics-collector/internal/sharepoint"
	"metrics-collector/internal/sharepoint/graphfake"
)

// The real uploader behind upload_sharepoint, against the Graph fake: what a run
// uploads, what the next run does not, and how failures surface.
var _ pipeline.Uploader = (*sharepoint.Client)(nil)

func TestUploadStageWithGraph(t *testing.T) {
	t.Parallel()
	store := pgtest.New(t)
	ctx := t.Context()
	now := time.Date(2026, 11, 26, 6, 30, 0, 0, time.UTC)
	if _, err := store.Pool().Exec(ctx, `INSERT INTO dora_metrics (enterprise_id, scope_type, scope, week_start, deployments, metric_version)
		VALUES ('ent1', 'organization', 'octo-org', '2026-11-16', 4, 1)`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	export := pipeline.NewExportStage(pipeline.ExportOptions{Store: store, Dir: dir, RetentionDays: 30, Now: func() time.Time { return now }})
	if _, err := export.Run(ctx, pipeline.Request{Now: now}); err != nil {
		t.Fatal(err)
	}

	f := newGraphFake(t)
	s := &sleeper{}
	stage := pipeline.NewUploadStage(pipeline.UploadOptions{
		Store: store, Uploader: newClient(t, f, s, 0), Dir: dir, Now: func() time.Time { return now },
	})
	run := func() (pipeline.Result, error) {
		r, err := store.ManualRun(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		return stage.Run(ctx, pipeline.Request{RunID: r.ID, Now: now})
	}

	// Graph throttles past the wait budget: the call fails as unavailable (503 to the
	// orchestrator, which retries later), nothing is recorded as uploaded.
	f.FailNext(graphfake.Throttle(http.StatusTooManyRequests, "3600"))
	if _, err := run(); !errors.Is(err, pipeline.ErrUnavailable) {
		t.Fatalf("throttled run: %v, want ErrUnavailable", err)
	}

	// A refusal for one file (the first uploaded: the dated copy of copilot_idle_seats):
	// partial, the reason recorded, the other 21 of 22 delivered (nine CSVs, the report
	// and the manifest, each twice).
	f.FailNext(graphfake.ODataError(http.StatusForbidden, "accessDenied", "Access denied"))
	res, err := run()
	if err != nil || res.Status != pipeline.StatusPartial || res.Records != 21 ||
		!strings.Contains(res.Error, "archive/2026-11-26/copilot_idle_seats_20261126.csv: sharepoint upload: graph status 403: accessDenied") {
		t.Fatalf("run with a refusal = %+v, %v", res, err)
	}

	// The next run uploads exactly what was missed.
	before := len(f.Requests())
	res, err = run()
	if err != nil || res.Status != pipeline.StatusSucceeded || res.Records != 1 {
		t.Fatalf("catch-up run = %+v, %v", res, err)
	}
	var paths []string
	for _, r := range f.Requests()[before:] {
		paths = append(paths, r.Method+" "+r.URLPath)
	}
	// The missed dated copy (the manifest describes latest/, which was complete), then
	// the archive listing (nothing older than 35 days to delete).
	if len(paths) != 2 || !strings.Contains(paths[0], "archive/2026-11-26/copilot_idle_seats_20261126.csv") ||
		!strings.HasPrefix(paths[1], "GET ") || !strings.HasSuffix(paths[1], "/archive:/children") {
		t.Errorf("catch-up requests = %v", paths)
	}
	for _, name := range []string{"latest/dora_metrics.csv", "archive/2026-11-26/dora_metrics_20261126.csv", "latest/manifest.json", "latest/copilot_metrics.csv"} {
		if _, ok := f.File(folder + "/" + name); !ok {
			t.Errorf("%s is not in SharePoint", name)
		}
	}

	// Nothing changed: no upload, only the archive listing.
	before = len(f.Requests())
	if res, err := run(); err != nil || res.Records != 0 {
		t.Fatalf("unchanged run = %+v, %v", res, err)
	}
	if reqs := f.Requests()[before:]; len(reqs) != 1 || reqs[0].Method != http.MethodGet {
		t.Errorf("unchanged files caused Graph requests %+v; want only the archive listing", reqs)
	}

	// 36 days later, with a folder of that day in the archive: the old folder goes,
	// latest/ stays.
	later := now.AddDate(0, 0, 36)
	f.Put(folder+"/archive/"+later.Format(time.DateOnly)+"/note.txt", []byte("x"), later)
	stage = pipeline.NewUploadStage(pipeline.UploadOptions{
		Store: store, Uploader: newClient(t, f, s, 0), Dir: dir, ArchiveDays: 35, Now: func() time.Time { return later },
	})
	if _, err := export.Run(ctx, pipeline.Request{Now: later}); err != nil {
		t.Fatal(err)
	}
	if res, err := run(); err != nil || res.Status != pipeline.StatusSucceeded {
		t.Fatalf("run 36 days later = %+v, %v", res, err)
	}
	if _, ok := f.File(folder + "/archive/2026-11-26/dora_metrics_20261126.csv"); ok {
		t.Error("the archive folder of 2026-11-26 was not pruned after 35 days")
	}
	if _, ok := f.File(folder + "/latest/dora_metrics.csv"); !ok {
		t.Error("latest/ was pruned")
	}
}

func TestListFoldersAndDelete(t *testing.T) {
	t.Parallel()
	f := newGraphFake(t)
	c := newClient(t, f, &sleeper{}, 0)
	for _, p := range []string{"archive/2026-10-01/a.csv", "archive/2026-10-01/b.csv", "archive/2026-10-02/c.csv", "archive/readme.txt"} {
		f.Put(folder+"/"+p, []byte("x"), time.Now())
	}
	got, err := c.ListFolders(t.Context(), "archive")
	slices.Sort(got)
	if err != nil || strings.Join(got, " ") != "2026-10-01 2026-10-02" {
		t.Fatalf("ListFolders = %v, %v; want the two dated folders, not the file", got, err)
	}
	if got, err := c.ListFolders(t.Context(), "nothing-here"); err != nil || got != nil {
		t.Errorf("ListFolders of a missing folder = %v, %v; want nil, nil", got, err)
	}
	if err := c.Delete(t.Context(), "archive/2026-10-01"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.File(folder + "/archive/2026-10-01/a.csv"); ok {
		t.Error("the folder's files survived its deletion")
	}
	if _, ok := f.File(folder + "/archive/2026-10-02/c.csv"); !ok {
		t.Error("a neighbouring folder was deleted")
	}
	if err := c.Delete(t.Context(), "archive/2026-10-01"); err != nil {
		t.Errorf("deleting what is gone = %v, want nil", err)
	}
	for _, bad := range []string{"", "../x", "a//b", "a/./b", "a:b"} {
		if err := c.Delete(t.Context(), bad); err == nil {
			t.Errorf("Delete(%q) accepted", bad)
		}
	}
	// Throttling past the wait budget is retryable.
	f.FailNext(graphfake.Throttle(http.StatusServiceUnavailable, "3600"))
	if _, err := c.ListFolders(t.Context(), "archive"); !errors.Is(err, sharepoint.ErrUnavailable) {
		t.Errorf("throttled listing = %v, want ErrUnavailable", err)
	}
}
