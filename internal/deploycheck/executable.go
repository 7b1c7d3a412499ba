package deploycheck

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
)

// CheckExecutable reports whether r holds what the Functions Linux workers can start: a
// 64-bit x86-64 ELF executable that is statically linked (no interpreter, no shared
// libraries), as CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build produces.
func CheckExecutable(r io.ReaderAt) error {
	f, err := elf.NewFile(r)
	if err != nil {
		return errors.New("not an ELF executable; build it with CGO_ENABLED=0 GOOS=linux GOARCH=amd64")
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 {
		return fmt.Errorf("built for %v %v; the Functions workers need linux/amd64 (GOOS=linux GOARCH=amd64)", f.Class, f.Machine)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("ELF type %v is not an executable", f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked (it needs a program interpreter); build with CGO_ENABLED=0")
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		return fmt.Errorf("needs shared libraries %v; build with CGO_ENABLED=0", libs)
	}
	return nil
}

// CheckExecutableFile runs CheckExecutable on a file and requires it to be a regular file.
func CheckExecutableFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("open executable: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat executable: %w", err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", name)
	}
	if err := CheckExecutable(f); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
