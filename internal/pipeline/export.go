package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/csvexport"
	"metrics-collector/internal/postgres"
	"metrics-collector/internal/report"
)

// ExportStore is what export_csv needs of the store.
type ExportStore interface {
	// StreamExport streams the rows of one file kind for the window [from, to]: columns
	// once with the query's column names, then row for each row in file order.
	StreamExport(ctx context.Context, kind string, from, to time.Time, columns func([]string) error, row func([]any) error) error
	RecordExport(ctx context.Context, f postgres.ExportedFile) error
	// LatestExports is the newest recorded file of each kind: what latest/ holds.
	LatestExports(ctx context.Context) ([]postgres.ExportedFile, error)
	// CompleteThrough is, per enterprise id, the date through which a source's data is
	// complete (enterprises never completed are absent).
	CompleteThrough(ctx context.Context, source string, enterpriseIDs []string) (map[string]time.Time, error)
	// GetRun and ListSteps give the report its run status.
	GetRun(ctx context.Context, id int64) (postgres.Run, error)
	ListSteps(ctx context.Context, runID int64) ([]postgres.Step, error)
}

// ExportOptions configure export_csv.
type ExportOptions struct {
	Store ExportStore
	// Dir is EXPORT_DIR: the root of the export layout (latest/, archive/). It must
	// exist.
	Dir string
	// Enterprises are the configured enterprise ids, for the manifest's
	// complete_through.
	Enterprises []string
	// RetentionDays is how many days of daily data each file holds, ending at the
	// export date (weekly data: the weeks starting in those days). Default
	// config.DefaultExportRetention.
	RetentionDays int
	// ArchiveDays is how many days of dated snapshots archive/ keeps (the export date's
	// included); older folders are deleted after an export. Default
	// config.DefaultSharePointRetention.
	ArchiveDays int
	// ReportDocsURL is where the report links its definitions (docs/metrics.md);
	// REPORT_DOCS_URL, default report.DefaultDocsURL.
	ReportDocsURL string
	Now           func() time.Time // default time.Now; tests use a fixed clock
	Logger        *slog.Logger
	// NoUserLevel is EXPORT_USER_LEVEL=false: the files that name people
	// (csvexport.Spec.UserLevel) are not written, nor listed in the manifest.
	NoUserLevel bool
}

// ExportStage is export_csv: for the export date it writes a full snapshot of each
// requested file kind (DESIGN §6) — a dated copy in archive/YYYY-MM-DD/ and the
// stable-named copy in latest/ —, records each file, and ends with the manifest of
// what latest/ holds.
type ExportStage struct {
	opts ExportOptions
	log  *slog.Logger
}

// unitMargin is the time a stage keeps in hand before starting another unit of work
// (a file), so the call answers before its deadline.
const unitMargin = 30 * time.Second

// NewExportStage builds export_csv.
func NewExportStage(opts ExportOptions) *ExportStage {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetentionDays < 1 {
		opts.RetentionDays = config.DefaultExportRetention
	}
	if opts.ArchiveDays < 1 {
		opts.ArchiveDays = config.DefaultSharePointRetention
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ExportStage{opts: opts, log: log}
}

// Name is the route name.
func (s *ExportStage) Name() string { return StageExportCSV }

// PerEnterprise is false: one set of files covers every enterprise.
func (s *ExportStage) PerEnterprise() bool { return false }

// Validate refuses since (a file is always the full retention window), an export date
// in the future, unknown kinds, and a cursor that is not ours.
func (s *ExportStage) Validate(req Request) error {
	if req.Since != nil {
		return BadInput("since", "export_csv writes the full retention window ending at the export date; give only until (the export date)")
	}
	today := utcDate(req.Now)
	if req.Until != nil && utcDate(*req.Until).After(today) {
		return BadInput("until", "%s is in the future; the export date must be %s or earlier", req.Until.Format(time.DateOnly), today.Format(time.DateOnly))
	}
	specs, err := s.selectSpecs(req.Kinds)
	if err != nil {
		return err
	}
	if req.Cursor != "" {
		date, n, err := parseFileCursor(req.Cursor)
		if err == nil && n > len(specs) {
			err = fmt.Errorf("%q points past the last file", req.Cursor)
		}
		if err != nil {
			return BadInput("cursor", "%v", err)
		}
		if date.After(today) {
			return BadInput("cursor", "belongs to the export of %s, which is in the future", date.Format(time.DateOnly))
		}
		if req.Until != nil && !date.Equal(utcDate(*req.Until)) {
			return BadInput("cursor", "belongs to the export of %s, not %s", date.Format(time.DateOnly), req.Until.Format(time.DateOnly))
		}
	}
	return nil
}

// SelectSpecs returns the file specs of kinds in export order; every spec when kinds
// is empty. An unknown or repeated kind is an *InputError naming "kinds".
func SelectSpecs(kinds []string) ([]csvexport.Spec, error) {
	all := csvexport.Specs()
	if len(kinds) == 0 {
		return all, nil
	}
	want := make(map[string]bool, len(kinds))
	for _, k := range kinds {
		if want[k] {
			return nil, BadInput("kinds", "%q is listed twice", k)
		}
		want[k] = true
	}
	var out []csvexport.Spec
	for _, spec := range all {
		if want[spec.Kind] {
			out = append(out, spec)
			delete(want, spec.Kind)
		}
	}
	if len(want) > 0 {
		var unknown, known []string
		for k := range want {
			unknown = append(unknown, k)
		}
		for _, spec := range all {
			known = append(known, spec.Kind)
		}
		slices.Sort(unknown)
		return nil, BadInput("kinds", "%s: not a file kind; use some of %s", strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	return out, nil
}

// Run writes the files from where the cursor says, then the manifest, then prunes the
// archive.
func (s *ExportStage) Run(ctx context.Context, req Request) (Result, error) {
	exportDate, next := utcDate(req.Now), 0
	if req.Until != nil {
		exportDate = utcDate(*req.Until)
	}
	specs, err := s.selectSpecs(req.Kinds)
	if err != nil {
		return Result{}, err
	}
	if req.Cursor != "" {
		date, n, err := parseFileCursor(req.Cursor)
		if err != nil || n > len(specs) {
			return Result{}, BadInput("cursor", "%q is not a cursor of this stage", req.Cursor)
		}
		// The cursor pins the export date, so a run that crosses midnight finishes the
		// export it started.
		exportDate, next = date, n
	}
	if err := csvexport.CheckDir(s.opts.Dir); err != nil {
		return Result{}, folderError(err)
	}
	latestDir, archiveDir, err := csvexport.EnsureLayout(s.opts.Dir, exportDate)
	if err != nil {
		return Result{}, folderError(err)
	}
	for _, dir := range []string{s.opts.Dir, latestDir, archiveDir} {
		if err := csvexport.RemoveLeftovers(dir); err != nil {
			// Only litter: the files written now are complete either way.
			s.log.WarnContext(ctx, "temporary files of an interrupted export remain", "dir", dir, "error", err.Error())
		}
	}
	windowStart := exportDate.AddDate(0, 0, -(s.opts.RetentionDays - 1))
	f := &fileExport{s: s, runID: req.RunID, exportDate: exportDate, windowStart: windowStart,
		latestDir: latestDir, archiveDir: archiveDir, coverage: map[csvexport.Source]map[string]time.Time{}}

	var records int64
	for i := next; i < len(specs); i++ {
		if i > next && nearDeadline(req, s.opts.Now()) {
			return Result{Status: StatusSucceeded, Done: false, Cursor: fileCursor(exportDate, i), Records: records}, nil
		}
		rows, err := f.export(ctx, specs[i])
		if err != nil {
			return Result{Records: records}, err
		}
		records += rows
	}
	if err := f.report(ctx); err != nil {
		return Result{Records: records}, err
	}
	if err := f.manifest(ctx); err != nil {
		return Result{Records: records}, err
	}
	keepFrom := exportDate.AddDate(0, 0, -(s.opts.ArchiveDays - 1))
	removed, err := csvexport.PruneArchive(s.opts.Dir, keepFrom)
	if err != nil {
		// The export itself is complete; the next one prunes again.
		s.log.WarnContext(ctx, "pruning the export archive", "dir", s.opts.Dir, "error", err.Error())
	}
	if len(removed) > 0 {
		s.log.InfoContext(ctx, "pruned archive folders", "folders", removed, "kept_from", keepFrom.Format(time.DateOnly))
	}
	return Result{Status: StatusSucceeded, Done: true, Records: records}, nil
}

// specs are the files this export writes, in order.
func (s *ExportStage) specs() []csvexport.Spec { return csvexport.ExportSpecs(!s.opts.NoUserLevel) }

// selectSpecs is SelectSpecs less the files naming people when EXPORT_USER_LEVEL is
// off: a request for them (the orchestrator asks for every kind whose collection is
// complete) writes nothing for them.
func (s *ExportStage) selectSpecs(kinds []string) ([]csvexport.Spec, error) {
	specs, err := SelectSpecs(kinds)
	if err != nil || !s.opts.NoUserLevel {
		return specs, err
	}
	return slices.DeleteFunc(specs, func(sp csvexport.Spec) bool { return sp.UserLevel }), nil
}

// nearDeadline reports whether too little time is left to start another file.
func nearDeadline(req Request, now time.Time) bool {
	return !req.Deadline.IsZero() && req.Deadline.Sub(now) < unitMargin
}

// fileExport is one call's export of an export date.
type fileExport struct {
	s                     *ExportStage
	runID                 int64
	exportDate            time.Time
	windowStart           time.Time
	latestDir, archiveDir string
	coverage              map[csvexport.Source]map[string]time.Time // read once per call
}

// export streams one file kind from the store into its dated file in archive/, copies
// it to latest/ and records it.
func (f *fileExport) export(ctx context.Context, spec csvexport.Spec) (int64, error) {
	s := f.s
	name := spec.FileName(f.exportDate)
	want := csvexport.Names(spec.Columns)
	through, err := f.completeThrough(ctx, spec.Needs())
	if err != nil {
		return 0, err
	}
	var sum csvexport.Summary
	err = csvexport.WriteFile(f.archiveDir, name, func(w io.Writer) error {
		cw, err := csvexport.NewWriter(w, spec.Columns)
		if err != nil {
			return err
		}
		checkColumns := func(got []string) error {
			if !slices.Equal(got, want) {
				return fmt.Errorf("the query's columns %v differ from the file's %v", got, want)
			}
			return nil
		}
		if err := s.opts.Store.StreamExport(ctx, spec.Kind, f.windowStart, f.exportDate, checkColumns, cw.WriteRow); err != nil {
			return err
		}
		sum, err = cw.Finish()
		return err
	})
	switch {
	case err == nil:
	case errors.Is(err, csvexport.ErrBadValue):
		// Data the contract cannot represent; exporting again will not help.
		return 0, fmt.Errorf("export %s: %w: %w", name, err, ErrPermanent)
	case isFileSystemError(err):
		return 0, folderError(fmt.Errorf("write %s: %w", name, err))
	default:
		return 0, fmt.Errorf("export %s: %w", name, err)
	}
	latest := csvexport.LatestName(spec.Kind, ".csv")
	if err := copyInto(f.latestDir, latest, filepath.Join(f.archiveDir, name)); err != nil {
		return 0, folderError(fmt.Errorf("write %s/%s: %w", csvexport.LatestDir, latest, err))
	}
	err = s.opts.Store.RecordExport(ctx, postgres.ExportedFile{
		FileName: name, Kind: spec.Kind, ExportDate: f.exportDate, Rows: sum.Rows, Bytes: sum.Bytes,
		SHA256: sum.SHA256, SchemaVersion: csvexport.SchemaVersion, RunID: f.runID,
		WindowStart: f.windowStart, CompleteThrough: through,
	})
	if err != nil {
		return 0, err
	}
	s.log.InfoContext(ctx, "exported file", "file", name, "rows", sum.Rows, "bytes", sum.Bytes)
	return sum.Rows, nil
}

// report renders the HTML report from the CSVs of latest/ (the newest file of every
// kind, this export's and earlier ones') and the run's status, into archive/ and
// latest/, and records it like a data file, so the manifest lists it and the upload
// delivers it.
func (f *fileExport) report(ctx context.Context) error {
	s := f.s
	tables, err := report.Load(func(kind string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(f.latestDir, csvexport.LatestName(kind, ".csv")))
	}, func(err error) bool { return errors.Is(err, fs.ErrNotExist) })
	if err != nil {
		return fmt.Errorf("export report: %w", err)
	}
	status, err := f.runStatus(ctx)
	if err != nil {
		return err
	}
	name := csvexport.FileName(csvexport.KindReport, f.exportDate, ".html")
	var sum csvexport.Summary
	err = csvexport.WriteFile(f.archiveDir, name, func(w io.Writer) error {
		d := csvexport.NewDigest(w)
		if err := report.Render(d, report.Data{ExportDate: f.exportDate, Tables: tables, Status: status, DocsURL: s.opts.ReportDocsURL}); err != nil {
			return err
		}
		sum = d.Summary()
		return nil
	})
	if err != nil {
		if isFileSystemError(err) {
			return folderError(fmt.Errorf("write %s: %w", name, err))
		}
		return err
	}
	if err := copyInto(f.latestDir, csvexport.LatestName(csvexport.KindReport, ".html"), filepath.Join(f.archiveDir, name)); err != nil {
		return folderError(fmt.Errorf("write %s/report.html: %w", csvexport.LatestDir, err))
	}
	if err := s.opts.Store.RecordExport(ctx, postgres.ExportedFile{
		FileName: name, Kind: csvexport.KindReport, ExportDate: f.exportDate, Bytes: sum.Bytes,
		SHA256: sum.SHA256, SchemaVersion: csvexport.SchemaVersion, RunID: f.runID, WindowStart: f.windowStart,
	}); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "exported report", "file", name, "bytes", sum.Bytes)
	return nil
}

// runStatus is what the report says of the run that exported the files: its date and
// trigger, and per enterprise the status of the Copilot collection and the weekly
// calculations. Without a run (a call by hand without run_id) it is empty.
func (f *fileExport) runStatus(ctx context.Context) (report.RunStatus, error) {
	if f.runID == 0 {
		return report.RunStatus{}, nil
	}
	run, err := f.s.opts.Store.GetRun(ctx, f.runID)
	if err != nil {
		return report.RunStatus{}, err
	}
	steps, err := f.s.opts.Store.ListSteps(ctx, f.runID)
	if err != nil {
		return report.RunStatus{}, err
	}
	st := report.RunStatus{RunID: run.ID, RunDate: run.RunDate, Trigger: run.Trigger, Status: run.Status}
	for _, step := range steps {
		switch step.Stage {
		case StageCollectCopilot, StageCalculateDORA, StageCalculateVelocity:
			if step.EnterpriseID != "" {
				st.Datasets = append(st.Datasets, report.DatasetStatus{EnterpriseID: step.EnterpriseID, Dataset: step.Stage,
					Status: step.Status, Error: step.Error})
			}
		}
	}
	return st, nil
}

// completeThrough is, per configured enterprise, the earliest of the dates through
// which the file's sources are complete (nil when one of them never completed).
func (f *fileExport) completeThrough(ctx context.Context, sources []csvexport.Source) (map[string]*time.Time, error) {
	ids := f.s.opts.Enterprises
	out := make(map[string]*time.Time, len(ids))
	for _, src := range sources {
		cov, ok := f.coverage[src]
		if !ok {
			var err error
			if cov, err = f.s.opts.Store.CompleteThrough(ctx, string(src), ids); err != nil {
				return nil, err
			}
			f.coverage[src] = cov
		}
		for _, id := range ids {
			t, ok := cov[id]
			prev, seen := out[id]
			switch {
			case !ok:
				out[id] = nil
			case !seen:
				out[id] = &t
			case prev != nil && t.Before(*prev):
				out[id] = &t
			}
		}
	}
	return out, nil
}

// copyInto writes dir/name as a copy of the file at src, atomically.
func copyInto(dir, name, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return csvexport.WriteFile(dir, name, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

// manifest describes latest/ from the records: the newest file of every kind (some
// exported by earlier calls or on earlier dates) and the kinds not exported on this
// date. It is written last, in archive/ and latest/, so a manifest only ever
// describes complete files.
func (f *fileExport) manifest(ctx context.Context) error {
	s := f.s
	recorded, err := s.opts.Store.LatestExports(ctx)
	if err != nil {
		return err
	}
	byKind := make(map[string]postgres.ExportedFile, len(recorded))
	for _, r := range recorded {
		byKind[r.Kind] = r
	}
	var files []csvexport.ManifestFile
	var pending []csvexport.PendingKind
	for _, spec := range s.specs() {
		r, ok := byKind[spec.Kind]
		if !ok || !r.ExportDate.Equal(f.exportDate) {
			p := csvexport.PendingKind{Kind: spec.Kind, WaitsFor: spec.Needs()}
			if ok {
				p.LastFile = r.ExportDate.Format(time.DateOnly)
			}
			pending = append(pending, p)
		}
		if !ok {
			continue
		}
		window := r.WindowStart
		if window.IsZero() {
			window = r.ExportDate.AddDate(0, 0, -(s.opts.RetentionDays - 1))
		}
		through := make(map[string]*string, len(r.CompleteThrough))
		for id, t := range r.CompleteThrough {
			if t == nil {
				through[id] = nil
				continue
			}
			d := t.Format(time.DateOnly)
			through[id] = &d
		}
		files = append(files, csvexport.ManifestFile{
			Name: csvexport.LatestName(spec.Kind, ".csv"), Kind: spec.Kind,
			ExportDate: r.ExportDate.Format(time.DateOnly), WindowStart: window.Format(time.DateOnly),
			Archive: csvexport.ArchivePath(r.ExportDate, r.FileName),
			Rows:    r.Rows, Bytes: r.Bytes, SHA256: r.SHA256, CompleteThrough: through,
			Columns: csvexport.Names(spec.Columns),
		})
	}
	if r, ok := byKind[csvexport.KindReport]; ok {
		files = append(files, csvexport.ManifestFile{
			Name: csvexport.LatestName(csvexport.KindReport, ".html"), Kind: csvexport.KindReport,
			ExportDate: r.ExportDate.Format(time.DateOnly), WindowStart: r.WindowStart.Format(time.DateOnly),
			Archive: csvexport.ArchivePath(r.ExportDate, r.FileName), Bytes: r.Bytes, SHA256: r.SHA256,
		})
	}
	data, sum, err := csvexport.NewManifest(f.exportDate, f.windowStart, files, pending).Encode()
	if err != nil {
		return err
	}
	name := csvexport.ManifestName(f.exportDate)
	write := func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}
	if err := csvexport.WriteFile(f.archiveDir, name, write); err != nil {
		return folderError(fmt.Errorf("write %s: %w", name, err))
	}
	if err := csvexport.WriteFile(f.latestDir, csvexport.LatestName(csvexport.KindManifest, ".json"), write); err != nil {
		return folderError(fmt.Errorf("write %s/manifest.json: %w", csvexport.LatestDir, err))
	}
	return s.opts.Store.RecordExport(ctx, postgres.ExportedFile{
		FileName: name, Kind: csvexport.KindManifest, ExportDate: f.exportDate, Rows: sum.Rows,
		Bytes: sum.Bytes, SHA256: sum.SHA256, SchemaVersion: csvexport.SchemaVersion, RunID: f.runID,
		WindowStart: f.windowStart,
	})
}

// folderError reports an export folder problem as the configuration problem it is: a
// failed stage naming EXPORT_DIR and the fix, not an internal error.
func folderError(err error) error {
	return fmt.Errorf("EXPORT_DIR: %w; create the folder or point EXPORT_DIR at a writable one: %w", err, ErrPermanent)
}

func isFileSystemError(err error) bool {
	var pathErr *fs.PathError
	var linkErr *os.LinkError
	return errors.Is(err, csvexport.ErrFolder) || errors.As(err, &pathErr) || errors.As(err, &linkErr)
}

func utcDate(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// export_csv and upload_sharepoint work through the files of one export date; their
// cursor is "<YYYYMMDD>:<index of the next file>".
func fileCursor(exportDate time.Time, next int) string {
	return exportDate.Format("20060102") + ":" + strconv.Itoa(next)
}

func parseFileCursor(cursor string) (time.Time, int, error) {
	datePart, nPart, ok := strings.Cut(cursor, ":")
	date, err := time.Parse("20060102", datePart)
	n, nErr := strconv.Atoi(nPart)
	if !ok || err != nil || nErr != nil || n < 0 {
		return time.Time{}, 0, fmt.Errorf("%q is not a cursor of this stage", cursor)
	}
	return date, n, nil
}
