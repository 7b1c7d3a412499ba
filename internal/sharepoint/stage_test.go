package sharepoint_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"metrics-collector/internal/pipeline"
	"metrics-collector/internal/postgres/pgtest"
	"metrics-collector/internal/sharepoint"
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
	f.failNext = append(f.failNext, throttle(http.StatusTooManyRequests, "3600"))
	if _, err := run(); !errors.Is(err, pipeline.ErrUnavailable) {
		t.Fatalf("throttled run: %v, want ErrUnavailable", err)
	}

	// A refusal for one file: partial, the reason recorded, the rest delivered.
	f.failNext = append(f.failNext, func(w http.ResponseWriter) bool {
		odataError(w, http.StatusForbidden, "accessDenied", "Access denied")
		return true
	})
	res, err := run()
	// The first file in name order is copilot_idle_seats; nine of ten files are delivered.
	if err != nil || res.Status != pipeline.StatusPartial || res.Records != 8 ||
		!strings.Contains(res.Error, "copilot_idle_seats_20261126.csv: sharepoint upload: graph status 403: accessDenied") {
		t.Fatalf("run with a refusal = %+v, %v", res, err)
	}

	// The next run uploads exactly what was missed.
	before := len(f.Requests())
	res, err = run()
	if err != nil || res.Status != pipeline.StatusSucceeded || res.Records != 2 {
		t.Fatalf("catch-up run = %+v, %v", res, err)
	}
	var paths []string
	for _, r := range f.Requests()[before:] {
		paths = append(paths, r.Path)
	}
	if len(paths) != 2 || !strings.Contains(paths[0], "copilot_idle_seats_20261126.csv") || !strings.Contains(paths[1], "manifest_20261126.json") {
		t.Errorf("catch-up requests = %v", paths)
	}
	for _, name := range []string{"dora_metrics_20261126.csv", "manifest_20261126.json"} {
		if _, ok := f.File(folder + "/" + name); !ok {
			t.Errorf("%s is not in SharePoint", name)
		}
	}

	// Nothing changed: not a single request.
	before = len(f.Requests())
	if res, err := run(); err != nil || res.Records != 0 {
		t.Fatalf("unchanged run = %+v, %v", res, err)
	}
	if n := len(f.Requests()) - before; n != 0 {
		t.Errorf("unchanged files caused %d Graph requests", n)
	}
}
