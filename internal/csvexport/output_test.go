package csvexport

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestWriteFileIsAtomic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(content string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, content); return err }
	}
	if err := WriteFile(dir, "a.csv", write("first")); err != nil {
		t.Fatal(err)
	}
	// A failed write leaves the previous file alone and no temporary file behind.
	boom := errors.New("query failed")
	err := WriteFile(dir, "a.csv", func(w io.Writer) error {
		io.WriteString(w, "half of the sec")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("WriteFile error = %v, want the write's error", err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "a.csv"))
	if string(got) != "first" {
		t.Errorf("after a failed rewrite the file holds %q, want the first version", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries after a failed write, want 1 (no temp files)", len(entries))
	}
	if err := WriteFile(dir, "a.csv", write("second")); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(filepath.Join(dir, "a.csv"))
	if string(got) != "second" {
		t.Errorf("rewrite: file holds %q", got)
	}
}

func TestRemoveLeftovers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// What a process killed inside WriteFile leaves, beside files that must stay.
	for _, name := range []string{".dora_metrics_20261126.csv.tmp-123", ".manifest_20261126.json.tmp-9", "dora_metrics_20261126.csv", ".keep"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveLeftovers(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if strings.Join(left, " ") != ".keep dora_metrics_20261126.csv" {
		t.Errorf("left %v; want only the finished file and the unrelated one", left)
	}
}

func TestWriteFileRejectsPaths(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "../x.csv", "sub/x.csv", ".hidden"} {
		err := WriteFile(t.TempDir(), name, func(io.Writer) error { return nil })
		if err == nil {
			t.Errorf("WriteFile(%q) succeeded", name)
		}
	}
}

func TestCheckDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := CheckDir(dir); err != nil {
		t.Fatalf("CheckDir(writable): %v", err)
	}
	file := filepath.Join(dir, "plain")
	os.WriteFile(file, nil, 0o644)
	tests := []struct {
		dir, want string
	}{
		{"", "no folder given"},
		{filepath.Join(dir, "missing"), "does not exist"},
		{file, "is not a folder"},
	}
	if runtime.GOOS != "windows" && os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		tests = append(tests, struct{ dir, want string }{ro, "is not writable"})
	}
	for _, tt := range tests {
		err := CheckDir(tt.dir)
		if !errors.Is(err, ErrFolder) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckDir(%q) = %v, want ErrFolder mentioning %q", tt.dir, err, tt.want)
		}
	}
	if err := WriteFile(filepath.Join(dir, "missing"), "x.csv", func(io.Writer) error { return nil }); !errors.Is(err, ErrFolder) {
		t.Errorf("WriteFile into a missing folder = %v, want ErrFolder", err)
	}
}

func TestManifestEncode(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	through := "2026-11-25"
	m := NewManifest(day, day.AddDate(0, 0, -399), []ManifestFile{
		{Name: "dora_metrics.csv", Kind: KindDORAMetrics, ExportDate: "2026-11-25", WindowStart: "2025-10-22",
			Archive: "archive/2026-11-25/dora_metrics_20261125.csv", Rows: 2, Bytes: 300, SHA256: "ab",
			CompleteThrough: map[string]*string{"ent2": nil, "ent1": &through}, Columns: []string{"enterprise_id", "scope"}},
	}, []PendingKind{{Kind: KindDORAMetrics, WaitsFor: []Source{SourceRepos}, LastFile: "2026-11-25"}})
	data, sum, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	compareGolden(t, "manifest.json", data)
	h := sha256.Sum256(data)
	if sum.Rows != 1 || sum.Bytes != int64(len(data)) || sum.SHA256 != hex.EncodeToString(h[:]) {
		t.Errorf("summary %+v does not describe the bytes", sum)
	}
	again, _, _ := m.Encode()
	if string(again) != string(data) {
		t.Error("two encodings of one manifest differ")
	}
	if got := ManifestName(day); got != "manifest_20261126.json" {
		t.Errorf("ManifestName = %q", got)
	}
	if got := Specs()[1].FileName(day); got != "dora_metrics_20261126.csv" {
		t.Errorf("FileName = %q", got)
	}
	if got := ArchivePath(day, Specs()[1].FileName(day)); got != "archive/2026-11-26/dora_metrics_20261126.csv" {
		t.Errorf("ArchivePath = %q", got)
	}
	if got := LatestPath(KindManifest, Ext(KindManifest)); got != "latest/manifest.json" {
		t.Errorf("LatestPath = %q", got)
	}
}

func TestPruneArchive(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, p := range []string{"archive/2026-10-01/a.csv", "archive/2026-10-02/b.csv", "archive/2026-10-03/c.csv", "archive/notes/x.txt", "latest/a.csv"} {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := PruneArchive(root, time.Date(2026, 10, 3, 0, 0, 0, 0, time.UTC))
	if err != nil || strings.Join(removed, " ") != "2026-10-01 2026-10-02" {
		t.Fatalf("PruneArchive = %v, %v", removed, err)
	}
	for _, p := range []string{"archive/2026-10-03/c.csv", "archive/notes/x.txt", "latest/a.csv"} {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if removed, err := PruneArchive(t.TempDir(), time.Now()); err != nil || removed != nil {
		t.Errorf("PruneArchive of a root without archive/ = %v, %v", removed, err)
	}
}
