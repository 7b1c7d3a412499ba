package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"metrics-collector/internal/csvexport"
	"metrics-collector/internal/postgres"
)

// UploadStore is what upload_sharepoint needs of the store.
type UploadStore interface {
	// LatestExport returns the files of the newest complete export; postgres.ErrNotFound
	// when there is none.
	LatestExport(ctx context.Context) ([]postgres.ExportedFile, error)
	UploadedFiles(ctx context.Context, names []string) (map[string]postgres.UploadedFile, error)
	RecordUpload(ctx context.Context, f postgres.UploadedFile) error
}

// Uploader puts one file into the upload target, replacing a file of the same name,
// and returns the stored item's id once it has checked the stored size is size.
// It retries throttling and transient failures itself; an error it gives up on that a
// later attempt may fix (Graph throttling or down) has a Retryable() bool method
// returning true somewhere in its chain. (*sharepoint.Client implements it.)
type Uploader interface {
	Upload(ctx context.Context, name string, size int64, r io.ReaderAt) (itemID string, err error)
}

// UploadOptions configure upload_sharepoint.
type UploadOptions struct {
	Store UploadStore
	// Uploader is nil when SharePoint is not configured: the stage then answers skipped.
	Uploader Uploader
	Dir      string // EXPORT_DIR, where export_csv wrote the files
	Now      func() time.Time
	Logger   *slog.Logger
}

// UploadStage is upload_sharepoint: it uploads the newest export's files whose
// checksum differs from what was last uploaded, the manifest last.
type UploadStage struct {
	opts UploadOptions
	log  *slog.Logger
}

// NewUploadStage builds upload_sharepoint.
func NewUploadStage(opts UploadOptions) *UploadStage {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &UploadStage{opts: opts, log: log}
}

// Name is the route name.
func (s *UploadStage) Name() string { return StageUploadSharePoint }

// PerEnterprise is false: the files cover every enterprise.
func (s *UploadStage) PerEnterprise() bool { return false }

// Validate refuses a window (the stage always uploads the newest complete export) and
// a cursor that is not ours.
func (s *UploadStage) Validate(req Request) error {
	if req.Since != nil {
		return BadInput("since", "upload_sharepoint uploads the newest export; it takes no window")
	}
	if req.Until != nil {
		return BadInput("until", "upload_sharepoint uploads the newest export; to deliver an older date, call export_csv with until first")
	}
	if req.Cursor != "" {
		if _, _, err := parseFileCursor(req.Cursor); err != nil {
			return BadInput("cursor", "%v", err)
		}
	}
	return nil
}

// Run uploads what changed. One file that cannot be uploaded makes the call partial
// (the others still go, and the next run retries it); a Graph outage that outlasts
// the uploader's retries stops the call with an error wrapping ErrUnavailable.
func (s *UploadStage) Run(ctx context.Context, req Request) (Result, error) {
	if s.opts.Uploader == nil {
		return Result{Status: StatusSkipped, Done: true,
			Warnings: []string{"SharePoint is not configured (SHAREPOINT_SITE_ID, SHAREPOINT_DRIVE_ID): nothing uploaded"}}, nil
	}
	files, err := s.opts.Store.LatestExport(ctx)
	if errors.Is(err, postgres.ErrNotFound) {
		return Result{Status: StatusSkipped, Done: true, Warnings: []string{"no complete export to upload yet"}}, nil
	}
	if err != nil {
		return Result{}, err
	}
	if len(files) == 0 {
		return Result{Status: StatusSkipped, Done: true, Warnings: []string{"no complete export to upload yet"}}, nil
	}
	files = manifestLast(files)
	exportDate := files[0].ExportDate
	start := 0
	if req.Cursor != "" {
		date, n, _ := parseFileCursor(req.Cursor)
		// A cursor of an older export no longer applies: start the newer one afresh.
		if date.Equal(exportDate) && n <= len(files) {
			start = n
		}
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.FileName
	}
	uploaded, err := s.opts.Store.UploadedFiles(ctx, names)
	if err != nil {
		return Result{}, err
	}

	var res Result
	var failures []string
	for i := start; i < len(files); i++ {
		f := files[i]
		if prev, ok := uploaded[f.FileName]; ok && prev.SHA256 == f.SHA256 {
			continue
		}
		if i > start && nearDeadline(req, s.opts.Now()) {
			res.Done, res.Cursor = false, fileCursor(exportDate, i)
			break
		}
		if f.Kind == csvexport.KindManifest {
			// The manifest in SharePoint must describe files that are there.
			if missing := notUploaded(files, uploaded); len(missing) > 0 {
				failures = append(failures, f.FileName+": held back until the files it lists are uploaded (missing: "+strings.Join(missing, ", ")+")")
				continue
			}
		}
		itemID, err := s.uploadFile(ctx, f)
		if err != nil {
			var r interface{ Retryable() bool }
			if errors.As(err, &r) && r.Retryable() {
				return res, fmt.Errorf("upload %s: %w: %w", f.FileName, err, ErrUnavailable)
			}
			if ctx.Err() != nil {
				return res, err
			}
			s.log.WarnContext(ctx, "file not uploaded", "file", f.FileName, "error", err)
			failures = append(failures, fmt.Sprintf("%s: %v", f.FileName, err))
			continue
		}
		done := postgres.UploadedFile{FileName: f.FileName, SHA256: f.SHA256, Bytes: f.Bytes, DriveItemID: itemID, RunID: req.RunID}
		if err := s.opts.Store.RecordUpload(ctx, done); err != nil {
			return res, err
		}
		uploaded[f.FileName] = done
		s.log.InfoContext(ctx, "uploaded file", "file", f.FileName, "bytes", f.Bytes)
		res.Records++
	}
	if res.Cursor == "" {
		res.Done = true
	}
	res.Status = StatusSucceeded
	if len(failures) > 0 {
		res.Status = StatusPartial
		res.Error = fmt.Sprintf("%d of %d files not uploaded: %s", len(failures), len(files), strings.Join(failures, "; "))
	}
	return res, nil
}

// uploadFile checks the local file is the one that was exported, then uploads it.
func (s *UploadStage) uploadFile(ctx context.Context, f postgres.ExportedFile) (string, error) {
	file, err := os.Open(filepath.Join(s.opts.Dir, f.FileName))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("not in EXPORT_DIR %q (exported by another instance, or removed); export_csv must run again", s.opts.Dir)
	}
	if err != nil {
		return "", fmt.Errorf("open: %w", err)
	}
	defer file.Close()
	h := sha256.New()
	size, err := io.Copy(h, file)
	if err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 || size != f.Bytes {
		return "", fmt.Errorf("the file in EXPORT_DIR changed since it was exported (sha256 %s, %d bytes; recorded %s, %d bytes); export_csv must run again", got, size, f.SHA256, f.Bytes)
	}
	return s.opts.Uploader.Upload(ctx, f.FileName, size, file)
}

// notUploaded lists the data files whose current version is not in SharePoint.
func notUploaded(files []postgres.ExportedFile, uploaded map[string]postgres.UploadedFile) []string {
	var missing []string
	for _, f := range files {
		if f.Kind != csvexport.KindManifest && uploaded[f.FileName].SHA256 != f.SHA256 {
			missing = append(missing, f.FileName)
		}
	}
	return missing
}

// manifestLast orders the data files by name and puts the manifest after them.
func manifestLast(files []postgres.ExportedFile) []postgres.ExportedFile {
	var data, manifest []postgres.ExportedFile
	for _, f := range files {
		if f.Kind == csvexport.KindManifest {
			manifest = append(manifest, f)
		} else {
			data = append(data, f)
		}
	}
	return append(data, manifest...)
}
