package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/csvexport"
	"metrics-collector/internal/postgres"
)

// ExportStore is what export_csv needs of the store.
type ExportStore interface {
	// StreamExport streams the rows of one file kind for the window [from, to]: columns
	// once with the query's column names, then row for each row in file order.
	StreamExport(ctx context.Context, kind string, from, to time.Time, columns func([]string) error, row func([]any) error) error
	RecordExport(ctx context.Context, f postgres.ExportedFile) error
	ExportedFiles(ctx context.Context, exportDate time.Time) ([]postgres.ExportedFile, error)
}

// ExportOptions configure export_csv.
type ExportOptions struct {
	Store ExportStore
	// Dir is EXPORT_DIR: the folder the files are written to. It must exist.
	Dir string
	// RetentionDays is how many days of daily data each file holds, ending at the
	// export date (weekly data: the weeks starting in those days). Default
	// config.DefaultExportRetention.
	RetentionDays int
	Now           func() time.Time // default time.Now; tests use a fixed clock
	Logger        *slog.Logger
	// NoUserLevel is EXPORT_USER_LEVEL=false: the files that name people
	// (csvexport.Spec.UserLevel) are not written, nor listed in the manifest.
	NoUserLevel bool
}

// ExportStage is export_csv: it writes one full snapshot per file kind for the export
// date (DESIGN §6), records each file, and ends with the manifest.
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
// in the future, and a cursor that is not ours.
func (s *ExportStage) Validate(req Request) error {
	if req.Since != nil {
		return BadInput("since", "export_csv writes the full retention window ending at the export date; give only until (the export date)")
	}
	today := utcDate(req.Now)
	if req.Until != nil && utcDate(*req.Until).After(today) {
		return BadInput("until", "%s is in the future; the export date must be %s or earlier", req.Until.Format(time.DateOnly), today.Format(time.DateOnly))
	}
	if req.Cursor != "" {
		date, n, err := parseFileCursor(req.Cursor)
		if err == nil && n > len(s.specs()) {
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

// Run writes the files from where the cursor says, then the manifest.
func (s *ExportStage) Run(ctx context.Context, req Request) (Result, error) {
	exportDate, next := utcDate(req.Now), 0
	if req.Until != nil {
		exportDate = utcDate(*req.Until)
	}
	if req.Cursor != "" {
		date, n, err := parseFileCursor(req.Cursor)
		if err != nil || n > len(s.specs()) {
			return Result{}, BadInput("cursor", "%q is not a cursor of this stage", req.Cursor)
		}
		// The cursor pins the export date, so a run that crosses midnight finishes the
		// export it started.
		exportDate, next = date, n
	}
	if err := csvexport.CheckDir(s.opts.Dir); err != nil {
		return Result{}, folderError(err)
	}
	if err := csvexport.RemoveLeftovers(s.opts.Dir); err != nil {
		// Only litter: the files written now are complete either way.
		s.log.WarnContext(ctx, "temporary files of an interrupted export remain", "dir", s.opts.Dir, "error", err.Error())
	}
	windowStart := exportDate.AddDate(0, 0, -(s.opts.RetentionDays - 1))

	specs := s.specs()
	var records int64
	for i := next; i < len(specs); i++ {
		if i > next && nearDeadline(req, s.opts.Now()) {
			return Result{Status: StatusSucceeded, Done: false, Cursor: fileCursor(exportDate, i), Records: records}, nil
		}
		rows, err := s.exportFile(ctx, req.RunID, specs[i], exportDate, windowStart)
		if err != nil {
			return Result{Records: records}, err
		}
		records += rows
	}
	if err := s.writeManifest(ctx, req.RunID, specs, exportDate, windowStart); err != nil {
		return Result{Records: records}, err
	}
	return Result{Status: StatusSucceeded, Done: true, Records: records}, nil
}

// specs are the files this export writes, in order.
func (s *ExportStage) specs() []csvexport.Spec { return csvexport.ExportSpecs(!s.opts.NoUserLevel) }

// nearDeadline reports whether too little time is left to start another file.
func nearDeadline(req Request, now time.Time) bool {
	return !req.Deadline.IsZero() && req.Deadline.Sub(now) < unitMargin
}

// exportFile streams one file kind from the store into its file and records it.
func (s *ExportStage) exportFile(ctx context.Context, runID int64, spec csvexport.Spec, exportDate, windowStart time.Time) (int64, error) {
	name := spec.FileName(exportDate)
	want := csvexport.Names(spec.Columns)
	var sum csvexport.Summary
	err := csvexport.WriteFile(s.opts.Dir, name, func(f io.Writer) error {
		w, err := csvexport.NewWriter(f, spec.Columns)
		if err != nil {
			return err
		}
		checkColumns := func(got []string) error {
			if !slices.Equal(got, want) {
				return fmt.Errorf("the query's columns %v differ from the file's %v", got, want)
			}
			return nil
		}
		if err := s.opts.Store.StreamExport(ctx, spec.Kind, windowStart, exportDate, checkColumns, w.WriteRow); err != nil {
			return err
		}
		sum, err = w.Finish()
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
	err = s.opts.Store.RecordExport(ctx, postgres.ExportedFile{
		FileName: name, Kind: spec.Kind, ExportDate: exportDate, Rows: sum.Rows, Bytes: sum.Bytes,
		SHA256: sum.SHA256, SchemaVersion: csvexport.SchemaVersion, RunID: runID,
	})
	if err != nil {
		return 0, err
	}
	s.log.InfoContext(ctx, "exported file", "file", name, "rows", sum.Rows, "bytes", sum.Bytes)
	return sum.Rows, nil
}

// writeManifest lists the export's files from their records (some may have been
// written by an earlier call of the same export) and writes it last, so a manifest
// only ever describes complete files.
func (s *ExportStage) writeManifest(ctx context.Context, runID int64, specs []csvexport.Spec, exportDate, windowStart time.Time) error {
	recorded, err := s.opts.Store.ExportedFiles(ctx, exportDate)
	if err != nil {
		return err
	}
	byName := make(map[string]postgres.ExportedFile, len(recorded))
	for _, f := range recorded {
		byName[f.FileName] = f
	}
	files := make([]csvexport.ManifestFile, 0, len(specs))
	for _, spec := range specs {
		name := spec.FileName(exportDate)
		f, ok := byName[name]
		if !ok {
			return fmt.Errorf("manifest: %s was not recorded", name)
		}
		files = append(files, csvexport.ManifestFile{
			Name: name, Kind: spec.Kind, Rows: f.Rows, Bytes: f.Bytes, SHA256: f.SHA256,
			Columns: csvexport.Names(spec.Columns),
		})
	}
	data, sum, err := csvexport.NewManifest(exportDate, windowStart, files).Encode()
	if err != nil {
		return err
	}
	name := csvexport.ManifestName(exportDate)
	err = csvexport.WriteFile(s.opts.Dir, name, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return folderError(fmt.Errorf("write %s: %w", name, err))
	}
	return s.opts.Store.RecordExport(ctx, postgres.ExportedFile{
		FileName: name, Kind: csvexport.KindManifest, ExportDate: exportDate, Rows: sum.Rows,
		Bytes: sum.Bytes, SHA256: sum.SHA256, SchemaVersion: csvexport.SchemaVersion, RunID: runID,
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
