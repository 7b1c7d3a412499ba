package main

import (
	"archive/zip"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the repository root, seen from this package's folder.
const repoRoot = "../../../.."

func standIn(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":  "module standin\n\ngo 1.22\n",
		"main.go": "package main\n\nfunc main() {}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "build", "-o", "standin", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build stand-in: %v\n%s", err, out)
	}
	return filepath.Join(dir, "standin")
}

func TestBuildThenVerify(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "nested", "app.zip")
	var stdout bytes.Buffer
	if err := run([]string{"-root", repoRoot, "-executable", standIn(t), "-out", out}, &stdout); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "layout ok") || !strings.Contains(stdout.String(), "  metrics-collector\n") {
		t.Errorf("report does not list the package:\n%s", stdout.String())
	}
	info, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o644 {
		t.Errorf("zip file mode %v, want -rw-r--r--", info.Mode())
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".appzip-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}

	stdout.Reset()
	if err := run([]string{"-verify", out}, &stdout); err != nil {
		t.Fatalf("-verify on a fresh package: %v", err)
	}

	// A package someone added a file to is refused by -verify (deploy.sh runs it).
	tampered := filepath.Join(t.TempDir(), "tampered.zip")
	src, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	f, err := os.Create(tampered)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, e := range src.File {
		if err := zw.Copy(e); err != nil {
			t.Fatal(err)
		}
	}
	w, err := zw.Create("local.settings.json")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(`{"Values": {"GITHUB_PAT_ENT1": "x"}}`))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	err = run([]string{"-verify", tampered}, &stdout)
	if err == nil || !strings.Contains(err.Error(), "local.settings.json: entry: does not belong") {
		t.Fatalf("-verify on a tampered package = %v", err)
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		says string
	}{
		{"no arguments", nil, "-executable and -out are required"},
		{"missing zip", []string{"-verify", filepath.Join(t.TempDir(), "none.zip")}, "open"},
		{"missing executable", []string{"-root", repoRoot, "-executable", filepath.Join(t.TempDir(), "none"), "-out", filepath.Join(t.TempDir(), "a.zip")}, "open executable"},
		{"not an app", []string{"-root", t.TempDir(), "-executable", "x", "-out", filepath.Join(t.TempDir(), "a.zip")}, "read host.json"},
		{"unknown flag", []string{"-frobnicate"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout bytes.Buffer
			err := run(tt.args, &stdout)
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("run(%v) = %v, want an error containing %q", tt.args, err, tt.says)
			}
		})
	}
}
