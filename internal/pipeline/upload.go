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
	"slices"
	"strings"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/csvexport"
	"metrics-collector/internal/postgres"
)

// UploadStore is what upload_sharepoint needs of the store.
type UploadStore interface {
	// LatestExports is the newest recorded file of each kind, the manifest included:
	// what latest/ holds.
	LatestExports(ctx context.Context) ([]postgres.ExportedFile, error)
	// UploadedFiles returns what was last uploaded under each remote path.
	UploadedFiles(ctx context.Context, names []string) (map[string]postgres.UploadedFile, error)
	RecordUpload(ctx context.Context, f postgres.UploadedFile) error
}

// Uploader is the upload target (*sharepoint.Client implements it). Paths are
// relative to the configured folder and use "/" (latest/dora_metrics.csv,
// archive/2026-11-26/dora_metrics_20261126.csv).
//
// Upload puts one file at path, replacing a file of the same name (creating missing
// folders), and returns the stored item's id once it has checked the stored size is
// size. ListFolders lists the names of the folders directly inside path (nil when
// path does not exist); Delete removes a file or folder with everything in it (no
// error when it is gone already). Each retries throttling and transient failures
// itself; an error it gives up on that a later attempt may fix (Graph throttling or
// down) has a Retryable() bool method returning true somewhere in its chain.
type Uploader interface {
	Upload(ctx context.Context, path string, size int64, r io.ReaderAt) (itemID string, err error)
	ListFolders(ctx context.Context, path string) ([]string, error)
	Delete(ctx context.Context, path string) error
}

// UploadOptions configure upload_sharepoint.
type UploadOptions struct {
	Store UploadStore
	// Uploader is nil when SharePoint is not configured: the stage then answers skipped.
	Uploader Uploader
	Dir      string // EXPORT_DIR, where export_csv wrote the files
	// ArchiveDays is SHAREPOINT_RETENTION_DAYS: archive/YYYY-MM-DD folders older than
	// this many days (the newest export's date included) are deleted after an upload.
	// Default config.DefaultSharePointRetention.
	ArchiveDays int
	Now         func() time.Time
	Logger      *slog.Logger
}

// UploadStage is upload_sharepoint: it mirrors the export layout into the upload
// target — the newest file of each kind into latest/ under its stable name and into
// archive/YYYY-MM-DD/ under its dated name, where its checksum differs from what was
// last uploaded there, the manifest last — then deletes archive folders older than
// the retention.
type UploadStage struct {
	opts UploadOptions
	log  *slog.Logger
}

// NewUploadStage builds upload_sharepoint.
func NewUploadStage(opts UploadOptions) *UploadStage {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ArchiveDays < 1 {
		opts.ArchiveDays = config.DefaultSharePointRetention
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

// Validate refuses a window (the stage always uploads the newest files), kinds, and a
// cursor that is not ours.
func (s *UploadStage) Validate(req Request) error {
	if req.Since != nil {
		return BadInput("since", "upload_sharepoint uploads the newest export; it takes no window")
	}
	if req.Until != nil {
		return BadInput("until", "upload_sharepoint uploads the newest export; to deliver an older date, call export_csv with until first")
	}
	if len(req.Kinds) > 0 {
		return BadInput("kinds", "upload_sharepoint uploads every file that changed; give kinds to export_csv")
	}
	if req.Cursor != "" {
		if _, _, err := parseFileCursor(req.Cursor); err != nil {
			return BadInput("cursor", "%v", err)
		}
	}
	return nil
}

// uploadTarget is one remote copy of an exported file.
type uploadTarget struct {
	file   postgres.ExportedFile
	remote string // path under the folder, e.g. latest/dora_metrics.csv
	local  string // path under EXPORT_DIR
	latest bool   // the copy in latest/
}

// targets lists the remote copies of the newest files: per data file its dated copy
// in archive/ (unless that date is already past the retention) and its copy in
// latest/, by kind; the manifest's two copies last.
func (s *UploadStage) targets(files []postgres.ExportedFile, keepFrom time.Time) []uploadTarget {
	var data, manifest []uploadTarget
	for _, f := range files {
		ext := csvexport.Ext(f.Kind)
		archive := csvexport.ArchivePath(f.ExportDate, f.FileName)
		latest := csvexport.LatestPath(f.Kind, ext)
		var ts []uploadTarget
		if !f.ExportDate.Before(keepFrom) {
			ts = append(ts, uploadTarget{file: f, remote: archive, local: archive})
		}
		ts = append(ts, uploadTarget{file: f, remote: latest, local: latest, latest: true})
		if f.Kind == csvexport.KindManifest {
			manifest = append(manifest, ts...)
		} else {
			data = append(data, ts...)
		}
	}
	return append(data, manifest...)
}

// Run uploads what changed, then prunes the archive. One file that cannot be uploaded
// makes the call partial (the others still go, and the next run retries it); a Graph
// outage that outlasts the uploader's retries stops the call with an error wrapping
// ErrUnavailable.
func (s *UploadStage) Run(ctx context.Context, req Request) (Result, error) {
	if s.opts.Uploader == nil {
		return Result{Status: StatusSkipped, Done: true,
			Warnings: []string{"SharePoint is not configured (SHAREPOINT_SITE_ID, SHAREPOINT_DRIVE_ID): nothing uploaded"}}, nil
	}
	files, err := s.opts.Store.LatestExports(ctx)
	if err != nil {
		return Result{}, err
	}
	var manifestDate time.Time
	for _, f := range files {
		if f.Kind == csvexport.KindManifest {
			manifestDate = f.ExportDate
		}
	}
	if manifestDate.IsZero() {
		return Result{Status: StatusSkipped, Done: true, Warnings: []string{"no complete export to upload yet"}}, nil
	}
	slices.SortFunc(files, func(a, b postgres.ExportedFile) int { return strings.Compare(a.Kind, b.Kind) })
	keepFrom := manifestDate.AddDate(0, 0, -(s.opts.ArchiveDays - 1))
	targets := s.targets(files, keepFrom)
	start := 0
	if req.Cursor != "" {
		date, n, _ := parseFileCursor(req.Cursor)
		// A cursor of an older export no longer applies: start the newer one afresh.
		if date.Equal(manifestDate) && n <= len(targets) {
			start = n
		}
	}
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.remote
	}
	uploaded, err := s.opts.Store.UploadedFiles(ctx, names)
	if err != nil {
		return Result{}, err
	}

	var res Result
	var failures []string
	for i := start; i < len(targets); i++ {
		t := targets[i]
		if prev, ok := uploaded[t.remote]; ok && prev.SHA256 == t.file.SHA256 {
			continue
		}
		if i > start && nearDeadline(req, s.opts.Now()) {
			res.Done, res.Cursor = false, fileCursor(manifestDate, i)
			break
		}
		if t.file.Kind == csvexport.KindManifest {
			// The manifest in SharePoint must describe files that are there.
			if missing := notUploaded(targets, uploaded); len(missing) > 0 {
				failures = append(failures, t.remote+": held back until the files it lists are uploaded (missing: "+strings.Join(missing, ", ")+")")
				continue
			}
		}
		itemID, err := s.uploadFile(ctx, t)
		if err != nil {
			var r interface{ Retryable() bool }
			if errors.As(err, &r) && r.Retryable() {
				return res, fmt.Errorf("upload %s: %w: %w", t.remote, err, ErrUnavailable)
			}
			if ctx.Err() != nil {
				return res, err
			}
			s.log.WarnContext(ctx, "file not uploaded", "file", t.remote, "error", err)
			failures = append(failures, fmt.Sprintf("%s: %v", t.remote, err))
			continue
		}
		done := postgres.UploadedFile{FileName: t.remote, SHA256: t.file.SHA256, Bytes: t.file.Bytes, DriveItemID: itemID, RunID: req.RunID}
		if err := s.opts.Store.RecordUpload(ctx, done); err != nil {
			return res, err
		}
		uploaded[t.remote] = done
		s.log.InfoContext(ctx, "uploaded file", "file", t.remote, "bytes", t.file.Bytes)
		res.Records++
	}
	if res.Cursor == "" {
		res.Done = true
		if len(failures) == 0 {
			if err := s.pruneArchive(ctx, keepFrom); err != nil {
				var r interface{ Retryable() bool }
				if errors.As(err, &r) && r.Retryable() {
					return res, fmt.Errorf("prune the archive: %w: %w", err, ErrUnavailable)
				}
				if ctx.Err() != nil {
					return res, err
				}
				failures = append(failures, fmt.Sprintf("pruning %s/: %v", csvexport.ArchiveDir, err))
			}
		}
	}
	res.Status = StatusSucceeded
	if len(failures) > 0 {
		res.Status = StatusPartial
		res.Error = fmt.Sprintf("%d problem(s) in the upload of %d files: %s", len(failures), len(targets), strings.Join(failures, "; "))
	}
	return res, nil
}

// pruneArchive deletes the archive/YYYY-MM-DD folders dated before keepFrom; other
// folders and files in archive/ are left alone.
func (s *UploadStage) pruneArchive(ctx context.Context, keepFrom time.Time) error {
	folders, err := s.opts.Uploader.ListFolders(ctx, csvexport.ArchiveDir)
	if err != nil {
		return err
	}
	slices.Sort(folders)
	for _, name := range folders {
		date, ok := csvexport.ArchiveDate(name)
		if !ok || !date.Before(keepFrom) {
			continue
		}
		if err := s.opts.Uploader.Delete(ctx, csvexport.ArchiveDir+"/"+name); err != nil {
			return fmt.Errorf("delete %s/%s: %w", csvexport.ArchiveDir, name, err)
		}
		s.log.InfoContext(ctx, "deleted archive folder", "folder", csvexport.ArchiveDir+"/"+name, "kept_from", keepFrom.Format(time.DateOnly))
	}
	return nil
}

// uploadFile checks the local file is the one that was exported, then uploads it.
func (s *UploadStage) uploadFile(ctx context.Context, t uploadTarget) (string, error) {
	file, err := os.Open(filepath.Join(s.opts.Dir, filepath.FromSlash(t.local)))
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
	if got := hex.EncodeToString(h.Sum(nil)); got != t.file.SHA256 || size != t.file.Bytes {
		return "", fmt.Errorf("the file in EXPORT_DIR changed since it was exported (sha256 %s, %d bytes; recorded %s, %d bytes); export_csv must run again", got, size, t.file.SHA256, t.file.Bytes)
	}
	return s.opts.Uploader.Upload(ctx, t.remote, size, file)
}

// notUploaded lists the data files of latest/ whose current version is not in the
// target.
func notUploaded(targets []uploadTarget, uploaded map[string]postgres.UploadedFile) []string {
	var missing []string
	for _, t := range targets {
		if t.latest && t.file.Kind != csvexport.KindManifest && uploaded[t.remote].SHA256 != t.file.SHA256 {
			missing = append(missing, t.remote)
		}
	}
	return missing
}
