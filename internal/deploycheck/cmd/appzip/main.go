// Command appzip checks the Functions app layout and writes the deployable zip; with
// -verify it checks a zip that was built before (deploy does this before uploading).
//
//	appzip -root . -executable /tmp/build/handler -out dist/metrics-collector.zip
//	appzip -verify dist/metrics-collector.zip
//
// scripts/package.sh builds the executable and calls this; see docs/deploy.md.
package main

import (
	"archive/zip"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"metrics-collector/internal/deploycheck"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "appzip:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("appzip", flag.ContinueOnError)
	root := fl.String("root", ".", "app root: the folder holding host.json and the function folders")
	exe := fl.String("executable", "", "the built handler executable (linux/amd64, static)")
	out := fl.String("out", "", "the zip to write")
	verify := fl.String("verify", "", "check this zip and write nothing")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *verify != "" {
		return verifyZip(*verify, stdout)
	}
	if *exe == "" || *out == "" {
		return errors.New("-executable and -out are required (or -verify <zip>)")
	}

	fsys := os.DirFS(*root)
	app, err := deploycheck.Load(fsys)
	if err != nil {
		return err
	}
	if err := app.Check(); err != nil {
		return fmt.Errorf("app layout in %s:\n%w", *root, err)
	}
	if err := deploycheck.CheckExecutableFile(*exe); err != nil {
		return err
	}
	if err := writeZip(*out, fsys, app, *exe); err != nil {
		return err
	}
	return verifyZip(*out, stdout)
}

// writeZip writes next to the target and renames, so a failed run never leaves a
// half-written package where deploy would pick it up.
func writeZip(out string, fsys fs.FS, app deploycheck.App, exe string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("create output folder: %w", err)
	}
	src, err := os.Open(exe)
	if err != nil {
		return fmt.Errorf("open executable: %w", err)
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(out), ".appzip-*")
	if err != nil {
		return fmt.Errorf("create zip: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := deploycheck.WriteZip(tmp, fsys, app, src); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("set zip mode: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write zip: %w", err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("move zip into place: %w", err)
	}
	return nil
}

func verifyZip(name string, stdout io.Writer) error {
	zr, err := zip.OpenReader(name)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer zr.Close()
	if err := deploycheck.VerifyZip(&zr.Reader); err != nil {
		return fmt.Errorf("%s:\n%w", name, err)
	}
	info, err := os.Stat(name)
	if err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	fmt.Fprintf(stdout, "%s: %d entries, %.1f MiB, layout ok\n", name, len(zr.File), float64(info.Size())/(1<<20))
	for _, e := range deploycheck.Entries(&zr.Reader) {
		fmt.Fprintln(stdout, "  "+e)
	}
	return nil
}
