package csvexport

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrFolder marks a missing or unusable export folder (a configuration problem, not a
// data problem).
var ErrFolder = errors.New("export folder unusable")

// CheckDir makes sure dir exists, is a directory and accepts new files, by creating and
// removing a probe file.
func CheckDir(dir string) error {
	if strings.TrimSpace(dir) == "" {
		return fmt.Errorf("%w: no folder given", ErrFolder)
	}
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %q does not exist", ErrFolder, dir)
	case err != nil:
		return fmt.Errorf("%w: %q: %w", ErrFolder, dir, err)
	case !info.IsDir():
		return fmt.Errorf("%w: %q is not a folder", ErrFolder, dir)
	}
	probe, err := os.CreateTemp(dir, ".write-probe-*")
	if err != nil {
		return fmt.Errorf("%w: %q is not writable: %w", ErrFolder, dir, err)
	}
	probe.Close()
	if err := os.Remove(probe.Name()); err != nil {
		return fmt.Errorf("%w: %q: remove probe file: %w", ErrFolder, dir, err)
	}
	return nil
}

// WriteFile creates dir/name atomically: write fills a temporary file in dir, which is
// synced and renamed over name only when write returns nil, so a reader never sees a
// half-written file and a failed export leaves the previous file in place.
func WriteFile(dir, name string, write func(io.Writer) error) error {
	if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
		return fmt.Errorf("file name %q: must be a plain file name", name)
	}
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("%w: %q: %w", ErrFolder, dir, err)
		}
		return fmt.Errorf("create %s: %w", name, err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("rename %s: %w", name, err)
	}
	committed = true
	syncDir(dir)
	return nil
}

// RemoveLeftovers deletes the temporary files WriteFile leaves in dir when its process
// dies mid-write (the host kills a function that overruns), so the folder holds only
// finished files. Call it only while nothing else writes to dir: export_csv holds its
// stage lock.
func RemoveLeftovers(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("%w: %q: %w", ErrFolder, dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, ".") || !strings.Contains(name, ".tmp-") {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove leftover %s: %w", name, err)
		}
	}
	return nil
}

// syncDir makes the rename durable where the platform allows; failing to is harmless
// (the file is complete either way), so errors are ignored.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}

// ManifestVersion is the version of the manifest's own layout: 2 added the latest/
// and archive/ names, each file's export date and window, complete_through and
// pending.
const ManifestVersion = 2

// Manifest describes what latest/ holds after an export: the newest file of each kind
// (possibly of an earlier date, when its sources are still being collected today),
// and the kinds still waiting. It holds nothing time-varying beyond dates (no
// "generated at"), so re-exporting unchanged data reproduces it byte for byte.
type Manifest struct {
	SchemaVersion   int            `json:"schema_version"`
	ManifestVersion int            `json:"manifest_version"`
	ExportDate      string         `json:"export_date"`  // YYYY-MM-DD: the export that wrote this manifest
	WindowStart     string         `json:"window_start"` // that export's first day of daily data
	Files           []ManifestFile `json:"files"`
	// Pending lists the kinds whose newest file is not from ExportDate (their sources
	// are not collected yet today, or never were), with what they wait for.
	Pending []PendingKind `json:"pending"`
}

// ManifestFile is one CSV in latest/.
type ManifestFile struct {
	Name        string `json:"name"`         // the stable name in latest/, e.g. dora_metrics.csv
	Kind        string `json:"kind"`         // dora_metrics
	ExportDate  string `json:"export_date"`  // when this file was exported
	WindowStart string `json:"window_start"` // its first day of daily data (weekly: first week_start)
	Archive     string `json:"archive"`      // its dated copy, e.g. archive/2026-11-26/dora_metrics_20261126.csv
	Rows        int64  `json:"rows"`
	Bytes       int64  `json:"bytes"`
	SHA256      string `json:"sha256"`
	// CompleteThrough says, per enterprise id, through which date the file's data is
	// complete (null: never collected in full).
	CompleteThrough map[string]*string `json:"complete_through"`
	Columns         []string           `json:"columns"`
}

// PendingKind is a kind not exported on the manifest's date.
type PendingKind struct {
	Kind     string   `json:"kind"`
	WaitsFor []Source `json:"waits_for"` // the sources it needs
	LastFile string   `json:"last_file"` // the export date of the file in latest/, "" when there is none
}

// NewManifest builds the manifest of an export from the files in latest/, in the given
// order, and the kinds still pending.
func NewManifest(exportDate, windowStart time.Time, files []ManifestFile, pending []PendingKind) Manifest {
	if pending == nil {
		pending = []PendingKind{}
	}
	return Manifest{
		SchemaVersion:   SchemaVersion,
		ManifestVersion: ManifestVersion,
		ExportDate:      exportDate.Format(time.DateOnly),
		WindowStart:     windowStart.Format(time.DateOnly),
		Files:           files,
		Pending:         pending,
	}
}

// Encode renders the manifest as indented JSON (UTF-8, no BOM, LF line ends) and
// returns the bytes with their summary (Rows is the number of files listed).
func (m Manifest) Encode() ([]byte, Summary, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, Summary{}, fmt.Errorf("encode manifest: %w", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), Summary{
		Rows:   int64(len(m.Files)),
		Bytes:  int64(buf.Len()),
		SHA256: hex.EncodeToString(sum[:]),
	}, nil
}

// EnsureLayout creates the latest/ and archive/<date>/ folders under root and returns
// both paths.
func EnsureLayout(root string, exportDate time.Time) (latest, archive string, err error) {
	latest = filepath.Join(root, LatestDir)
	archive = filepath.Join(root, filepath.FromSlash(ArchiveFolder(exportDate)))
	for _, dir := range []string{latest, archive} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", "", fmt.Errorf("%w: %q: %w", ErrFolder, dir, err)
		}
	}
	return latest, archive, nil
}

// PruneArchive deletes the archive/YYYY-MM-DD folders under root dated before
// keepFrom and returns their names, oldest first. Anything else in archive/ is left
// alone.
func PruneArchive(root string, keepFrom time.Time) ([]string, error) {
	dir := filepath.Join(root, ArchiveDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrFolder, dir, err)
	}
	var removed []string
	for _, e := range entries { // ReadDir sorts by name: oldest date first
		date, ok := ArchiveDate(e.Name())
		if !e.IsDir() || !ok || !date.Before(keepFrom) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return removed, fmt.Errorf("remove archive folder %s: %w", e.Name(), err)
		}
		removed = append(removed, e.Name())
	}
	return removed, nil
}
