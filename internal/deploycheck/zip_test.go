package deploycheck

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// buildStandIn compiles a tiny program for goarch with cgo off: a stand-in for the
// handler executable that is a real ELF file, so the package and executable checks run
// on the real format without building the whole service.
func buildStandIn(t *testing.T, goarch string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":  "module standin\n\ngo 1.22\n",
		"main.go": "package main\n\nfunc main() {}\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "standin")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOWORK=off", "GOFLAGS=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build stand-in executable: %v\n%s", err, msg)
	}
	return out
}

func TestCheckExecutable(t *testing.T) {
	t.Parallel()
	if err := CheckExecutableFile(buildStandIn(t, "amd64")); err != nil {
		t.Errorf("static linux/amd64 build refused: %v", err)
	}

	tests := []struct {
		name string
		file func(t *testing.T) string
		says string
	}{
		{"not ELF", func(t *testing.T) string {
			name := filepath.Join(t.TempDir(), "script")
			if err := os.WriteFile(name, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			return name
		}, "not an ELF executable"},
		{"arm64", func(t *testing.T) string { return buildStandIn(t, "arm64") }, "need linux/amd64"},
		{"folder", func(t *testing.T) string { return t.TempDir() }, "not a regular file"},
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nothing") }, "open executable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckExecutableFile(tt.file(t))
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("CheckExecutableFile = %v, want an error containing %q", err, tt.says)
			}
		})
	}
}

func TestCheckExecutableRefusesDynamicLinking(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("needs a linux/amd64 machine, whose own programs are linux/amd64 ELF files")
	}
	// The machine's own shell is a dynamically linked linux/amd64 ELF file: exactly what
	// a cgo build would produce.
	shell := "/bin/sh"
	if out, err := exec.Command("readlink", "-f", shell).Output(); err == nil {
		shell = strings.TrimSpace(string(out))
	}
	err := CheckExecutableFile(shell)
	if err == nil {
		t.Skipf("%s is statically linked on this machine; nothing to compare with", shell)
	}
	if !strings.Contains(err.Error(), "dynamically linked") && !strings.Contains(err.Error(), "shared libraries") {
		t.Fatalf("CheckExecutableFile(%s) = %v, want a refusal of dynamic linking", shell, err)
	}
}

func writeTestZip(t *testing.T, fsys fs.FS, exe []byte) []byte {
	t.Helper()
	app, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteZip(&buf, fsys, app, bytes.NewReader(exe)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func openZip(t *testing.T, data []byte) *zip.Reader {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return zr
}

func TestWriteZip(t *testing.T) {
	t.Parallel()
	exe, err := os.ReadFile(buildStandIn(t, "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	fsys := goodApp()
	data := writeTestZip(t, fsys, exe)
	zr := openZip(t, data)

	if err := VerifyZip(zr); err != nil {
		t.Fatalf("VerifyZip on a fresh package: %v", err)
	}
	type entry struct {
		Name string
		Mode fs.FileMode
	}
	var got []entry
	for _, f := range zr.File {
		got = append(got, entry{f.Name, f.Mode()})
	}
	want := []entry{
		{"host.json", 0o644},
		{"metrics-collector", 0o755},
		{"collect_copilot/", fs.ModeDir | 0o755},
		{"collect_copilot/function.json", 0o644},
		{"main_orchestrator/", fs.ModeDir | 0o755},
		{"main_orchestrator/function.json", 0o644},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}

	// Contents are copied byte for byte.
	for name, wantData := range map[string][]byte{
		"host.json":                       fsys["host.json"].Data,
		"collect_copilot/function.json":   fsys["collect_copilot/function.json"].Data,
		"main_orchestrator/function.json": fsys["main_orchestrator/function.json"].Data,
		"metrics-collector":               exe,
	} {
		gotData, err := fs.ReadFile(zr, name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(gotData, wantData) {
			t.Errorf("%s: content differs from the source (%d bytes, want %d)", name, len(gotData), len(wantData))
		}
	}

	// The same inputs give the same bytes.
	if again := writeTestZip(t, fsys, exe); !bytes.Equal(again, data) {
		t.Error("two packages of the same inputs differ")
	}
}

// zipEntry is one hand-made entry for packages that break the rules.
type zipEntry struct {
	name string
	mode fs.FileMode
	data []byte
}

func handMadeZip(t *testing.T, entries []zipEntry) *zip.Reader {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		h.SetMode(e.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return openZip(t, buf.Bytes())
}

func TestVerifyZipRefuses(t *testing.T) {
	t.Parallel()
	exe, err := os.ReadFile(buildStandIn(t, "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	good := func() []zipEntry {
		return []zipEntry{
			{"host.json", 0o644, []byte(goodHost)},
			{"metrics-collector", 0o755, exe},
			{"collect_copilot/function.json", 0o644, []byte(goodHTTP)},
			{"main_orchestrator/function.json", 0o644, []byte(goodTimer)},
		}
	}
	if err := VerifyZip(handMadeZip(t, good())); err != nil {
		t.Fatalf("a package without directory entries is fine, got %v", err)
	}
	tests := []struct {
		name string
		edit func([]zipEntry) []zipEntry
		says string
	}{
		{"exec bit lost", func(es []zipEntry) []zipEntry { es[1].mode = 0o644; return es }, "metrics-collector: mode: is -rw-r--r--; it must be -rwxr-xr-x"},
		{"executable missing", func(es []zipEntry) []zipEntry { return append(es[:1], es[2:]...) }, "metrics-collector: entry: missing from the package"},
		{"host names another file", func(es []zipEntry) []zipEntry {
			es[0].data = []byte(strings.Replace(goodHost, `"metrics-collector"`, `"handler"`, 1))
			return es
		}, "handler: entry: missing from the package"},
		{"executable is not ELF", func(es []zipEntry) []zipEntry { es[1].data = []byte("#!/bin/sh\n"); return es }, "not an ELF executable"},
		{"local settings", func(es []zipEntry) []zipEntry {
			return append(es, zipEntry{"local.settings.json", 0o644, []byte(`{"Values": {}}`)})
		}, "local.settings.json: entry: does not belong in the package"},
		{"sources", func(es []zipEntry) []zipEntry {
			return append(es, zipEntry{"handler/main.go", 0o644, []byte("package main")})
		}, "handler/main.go: entry: does not belong"},
		{"extra file in a function folder", func(es []zipEntry) []zipEntry {
			return append(es, zipEntry{"collect_copilot/readme.md", 0o644, []byte("#")})
		}, "collect_copilot/readme.md: entry: does not belong"},
		{"executable config", func(es []zipEntry) []zipEntry { es[0].mode = 0o755; return es }, "host.json: mode"},
		{"duplicate", func(es []zipEntry) []zipEntry { return append(es, es[2]) }, "appears twice"},
		{"broken function", func(es []zipEntry) []zipEntry {
			es[2].data = []byte(strings.Replace(goodHTTP, `"function"`, `"anonymous"`, 1))
			return es
		}, "authLevel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := VerifyZip(handMadeZip(t, tt.edit(good())))
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("VerifyZip = %v, want an error containing %q", err, tt.says)
			}
		})
	}
}
