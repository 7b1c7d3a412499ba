// Package deploycheck checks the Azure Functions app layout against the custom-handler
// rules and writes the deployable zip: host.json, the executable host.json names (mode
// 0755) and one folder per function holding its function.json — nothing else.
//
// The same checks run on the source tree (os.DirFS of the repository root) and on a
// built package (*zip.Reader), because both are an fs.FS.
package deploycheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
)

// File names the Functions host reads.
const (
	HostFile     = "host.json"
	FunctionFile = "function.json"
)

// Host is the part of host.json the custom handler depends on.
type Host struct {
	Version         string `json:"version"`
	FunctionTimeout string `json:"functionTimeout"`
	Extensions      struct {
		HTTP struct {
			RoutePrefix *string `json:"routePrefix"`
		} `json:"http"`
	} `json:"extensions"`
	CustomHandler struct {
		Description struct {
			DefaultExecutablePath string   `json:"defaultExecutablePath"`
			WorkingDirectory      string   `json:"workingDirectory"`
			Arguments             []string `json:"arguments"`
		} `json:"description"`
		EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
	} `json:"customHandler"`
}

// Executable is the file name of the custom handler executable.
func (h Host) Executable() string { return h.CustomHandler.Description.DefaultExecutablePath }

// Binding is one entry of a function.json "bindings" array.
type Binding struct {
	Type         string   `json:"type"`
	Direction    string   `json:"direction"`
	Name         string   `json:"name"`
	AuthLevel    string   `json:"authLevel"`
	Methods      []string `json:"methods"`
	Route        string   `json:"route"`
	Schedule     string   `json:"schedule"`
	RunOnStartup bool     `json:"runOnStartup"`
}

// Function is one function folder.
type Function struct {
	Name     string // the folder name, which is the function name
	Bindings []Binding
}

// App is a parsed Functions app: host.json and every folder that holds a function.json.
type App struct {
	Host      Host
	Functions []Function // sorted by name
}

// Load parses host.json and every top-level folder of fsys that holds a function.json.
// A file that cannot be read or parsed is an error; rule violations are not (see
// App.Problems).
func Load(fsys fs.FS) (App, error) {
	var app App
	if err := readJSON(fsys, HostFile, &app.Host); err != nil {
		return App{}, err
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return App{}, fmt.Errorf("list app root: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		file := path.Join(e.Name(), FunctionFile)
		if _, err := fs.Stat(fsys, file); errors.Is(err, fs.ErrNotExist) {
			continue // not a function folder
		}
		var def struct {
			Bindings []Binding `json:"bindings"`
		}
		if err := readJSON(fsys, file, &def); err != nil {
			return App{}, err
		}
		app.Functions = append(app.Functions, Function{Name: e.Name(), Bindings: def.Bindings})
	}
	sort.Slice(app.Functions, func(i, j int) bool { return app.Functions[i].Name < app.Functions[j].Name })
	return app, nil
}

// Function returns the function with the given name.
func (a App) Function(name string) (Function, bool) {
	for _, f := range a.Functions {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}

func readJSON(fsys fs.FS, name string, v any) error {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("parse %s: %w", name, err)
	}
	return nil
}
