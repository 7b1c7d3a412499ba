package deploycheck

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// repoRoot is the repository root, seen from this package's folder.
const repoRoot = "../.."

// The function folders DESIGN §2 fixes, plus the runs status route and
// calculate_copilot (the Copilot-only calculations; docs/architecture.md).
var wantFunctions = []string{
	"calculate_copilot", "calculate_dora", "calculate_velocity", "collect_copilot", "collect_repos",
	"export_csv", "main_orchestrator", "runs", "upload_sharepoint",
}

func TestRepositoryApp(t *testing.T) {
	t.Parallel()
	app, err := Load(os.DirFS(repoRoot))
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Check(); err != nil {
		t.Fatalf("the repository's host.json and function.json files break the custom-handler rules:\n%v", err)
	}
	var names []string
	for _, f := range app.Functions {
		names = append(names, f.Name)
	}
	if diff := cmp.Diff(wantFunctions, names); diff != "" {
		t.Errorf("function folders (-want +got):\n%s", diff)
	}
	if got := app.Host.Executable(); got != "metrics-collector" {
		t.Errorf("host.json names executable %q; scripts/package.sh and the docs expect metrics-collector", got)
	}
	for _, f := range app.Functions {
		trigger := f.Bindings[0]
		switch f.Name {
		case "main_orchestrator":
			if trigger.Type != "timerTrigger" {
				t.Errorf("%s: trigger %q, want timerTrigger", f.Name, trigger.Type)
			}
		case "runs":
			if !slices.Equal(trigger.Methods, []string{"get"}) {
				t.Errorf("%s: methods %v, want [get]", f.Name, trigger.Methods)
			}
		default: // the seven stages take POST only (DESIGN §2.1)
			if !slices.Equal(trigger.Methods, []string{"post"}) || trigger.Route != f.Name {
				t.Errorf("%s: methods %v route %q, want [post] and route %q", f.Name, trigger.Methods, trigger.Route, f.Name)
			}
		}
	}
}

// runPackageScript runs scripts/package.sh with extra environment and returns the zip.
func runPackageScript(t *testing.T, env ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "dist", "app.zip")
	cmd := exec.Command("bash", filepath.Join(repoRoot, "scripts", "package.sh"))
	cmd.Env = append(os.Environ(), append(env, "PACKAGE_OUT="+out)...)
	msg, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/package.sh: %v\n%s", err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// checkRepositoryPackage checks a package built from this repository.
func checkRepositoryPackage(t *testing.T, data []byte) *zip.Reader {
	t.Helper()
	zr := openZip(t, data)
	if err := VerifyZip(zr); err != nil {
		t.Fatalf("package breaks the rules:\n%v", err)
	}
	want := []string{"host.json", "metrics-collector"}
	for _, f := range wantFunctions {
		want = append(want, f+"/", f+"/function.json")
	}
	if diff := cmp.Diff(want, Entries(zr)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	exe, err := zr.Open("metrics-collector")
	if err != nil {
		t.Fatal(err)
	}
	info, err := exe.Stat()
	exe.Close()
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode() != 0o755 {
		t.Errorf("executable mode %v, want -rwxr-xr-x", info.Mode())
	}
	for _, name := range append([]string{"host.json"}, want[2:]...) {
		if strings.HasSuffix(name, "/") {
			continue
		}
		inZip, err := fs.ReadFile(zr, name)
		if err != nil {
			t.Fatal(err)
		}
		onDisk, err := os.ReadFile(filepath.Join(repoRoot, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(inZip, onDisk) {
			t.Errorf("%s in the package differs from the repository's", name)
		}
	}
	return zr
}

// TestPackageScriptWithStandIn runs the real packaging path on a stand-in executable
// (a tiny static linux/amd64 program), so the zip layout is checked even before the
// handler builds and without the minutes the full build takes cold.
func TestPackageScriptWithStandIn(t *testing.T) {
	t.Parallel()
	standIn := buildStandIn(t, "amd64")
	data := runPackageScript(t, "PACKAGE_EXECUTABLE="+standIn)
	zr := checkRepositoryPackage(t, data)
	got, err := fs.ReadFile(zr, "metrics-collector")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(standIn)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("the packaged executable is not the one given")
	}
	if again := runPackageScript(t, "PACKAGE_EXECUTABLE="+standIn); !bytes.Equal(again, data) {
		t.Error("packaging the same inputs twice gave different zips")
	}
}

func TestPackageScriptRefusesBadExecutable(t *testing.T) {
	t.Parallel()
	script := filepath.Join(t.TempDir(), "handler")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "app.zip")
	cmd := exec.Command("bash", filepath.Join(repoRoot, "scripts", "package.sh"))
	cmd.Env = append(os.Environ(), "PACKAGE_EXECUTABLE="+script, "PACKAGE_OUT="+out)
	msg, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("package.sh accepted a shell script as the executable:\n%s", msg)
	}
	if !strings.Contains(string(msg), "not an ELF executable") {
		t.Errorf("package.sh output does not say why:\n%s", msg)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused package still left %s (stat: %v)", out, err)
	}
}

// TestPackageScriptBuildsHandler runs scripts/package.sh exactly as make package does:
// it builds ./handler for linux/amd64 and packages it. Until the handler package exists
// this skips locally; in CI (CI=true) it fails, because a release needs it.
func TestPackageScriptBuildsHandler(t *testing.T) {
	t.Parallel()
	mains, _ := filepath.Glob(filepath.Join(repoRoot, "handler", "*.go"))
	hasMain := slices.ContainsFunc(mains, func(name string) bool {
		if strings.HasSuffix(name, "_test.go") {
			return false
		}
		src, err := os.ReadFile(name)
		return err == nil && bytes.Contains(src, []byte("package main"))
	})
	if !hasMain {
		t.Fatal("./handler has no main package, so the deployable package cannot be built")
	}
	zr := checkRepositoryPackage(t, runPackageScript(t))
	f, err := zr.Open("metrics-collector")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || info.Size() < 1<<20 {
		t.Errorf("packaged handler is suspiciously small: %v %v", info, err)
	}
}
