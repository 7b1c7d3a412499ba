package deploycheck

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"
)

// Modes of the package entries. The executable keeps its exec bit: zip entries written
// with a Unix mode carry it, and the Linux workers start the file as it is unpacked.
const (
	ExecutableMode fs.FileMode = 0o755
	FileMode       fs.FileMode = 0o644
	DirMode                    = fs.ModeDir | 0o755
)

// packageTime is every entry's modification time, so the same inputs always give the
// same zip bytes (a rebuilt commit can be compared byte for byte).
func packageTime() time.Time { return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) }

// WriteZip writes the deployable package of app: host.json and each function's
// function.json copied byte for byte from fsys, and the executable read from exe, stored
// under the name host.json gives it with mode 0755. Nothing else goes in.
func WriteZip(w io.Writer, fsys fs.FS, app App, exe io.Reader) error {
	zw := zip.NewWriter(w)
	copyFile := func(name string) error {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		return addEntry(zw, name, FileMode, bytes.NewReader(data))
	}
	if err := copyFile(HostFile); err != nil {
		return err
	}
	if err := addEntry(zw, app.Host.Executable(), ExecutableMode, exe); err != nil {
		return err
	}
	for _, f := range app.Functions {
		if err := addEntry(zw, f.Name+"/", DirMode, nil); err != nil {
			return err
		}
		if err := copyFile(path.Join(f.Name, FunctionFile)); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("finish zip: %w", err)
	}
	return nil
}

func addEntry(zw *zip.Writer, name string, mode fs.FileMode, content io.Reader) error {
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: packageTime()}
	if mode.IsDir() {
		h.Method = zip.Store
	}
	h.SetMode(mode)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return fmt.Errorf("add %s: %w", name, err)
	}
	if content == nil {
		return nil
	}
	if _, err := io.Copy(w, content); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// VerifyZip checks a built package: the entries are exactly host.json, the executable
// host.json names (a static linux/amd64 ELF with mode 0755) and the function folders with
// their function.json, and every file follows the custom-handler rules.
func VerifyZip(zr *zip.Reader) error {
	app, err := Load(zr)
	if err != nil {
		return fmt.Errorf("package: %w", err)
	}
	var errs []error
	for _, p := range app.Problems() {
		errs = append(errs, p)
	}
	bad := func(entry, field, format string, args ...any) {
		errs = append(errs, Problem{entry, field, fmt.Sprintf(format, args...)})
	}

	exe := app.Host.Executable()
	want := map[string]fs.FileMode{HostFile: FileMode}
	if exe != "" {
		want[exe] = ExecutableMode
	}
	for _, f := range app.Functions {
		want[f.Name+"/"] = DirMode
		want[path.Join(f.Name, FunctionFile)] = FileMode
	}
	seen := map[string]bool{}
	for _, f := range zr.File {
		if seen[f.Name] {
			bad(f.Name, "entry", "appears twice")
			continue
		}
		seen[f.Name] = true
		mode, ok := want[f.Name]
		if !ok {
			bad(f.Name, "entry", "does not belong in the package: it holds only %s, %s and the function folders", HostFile, exe)
			continue
		}
		if got := f.Mode(); got.Type() != mode.Type() || got.Perm() != mode.Perm() {
			bad(f.Name, "mode", "is %v; it must be %v", got, mode)
		}
		if f.Name == exe {
			if err := checkZippedExecutable(f); err != nil {
				bad(f.Name, "executable", "%v", err)
			}
		}
	}
	for name, mode := range want {
		// A zip may leave out directory entries; the host creates the folders anyway.
		if !seen[name] && !mode.IsDir() {
			bad(name, "entry", "missing from the package")
		}
	}
	return errors.Join(errs...)
}

func checkZippedExecutable(f *zip.File) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return CheckExecutable(bytes.NewReader(data))
}

// Entries lists the entry names of a package, for reports.
func Entries(zr *zip.Reader) []string {
	names := make([]string, 0, len(zr.File))
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	return names
}
