package deploycheck

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

// MaxFunctionTimeout is the largest functionTimeout every supported plan accepts: Linux
// Consumption stops at 10 minutes (Flex Consumption allows more).
const MaxFunctionTimeout = 10 * time.Minute

// Problem is one rule the app breaks: the file, the field and what is wrong.
type Problem struct {
	File    string
	Field   string
	Message string
}

func (p Problem) Error() string { return p.File + ": " + p.Field + ": " + p.Message }

var (
	functionNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,127}$`)
	settingPattern      = regexp.MustCompile(`^%([A-Za-z_][A-Za-z0-9_]*)%$`)
	httpMethods         = []string{"get", "post", "put", "delete", "patch", "head", "options"}
)

// Check returns every problem as one error, or nil when the app follows the rules.
func (a App) Check() error {
	var errs []error
	for _, p := range a.Problems() {
		errs = append(errs, p)
	}
	return errors.Join(errs...)
}

// Problems lists every custom-handler rule the app breaks.
func (a App) Problems() []Problem {
	var ps []Problem
	ps = append(ps, hostProblems(a.Host)...)
	if len(a.Functions) == 0 {
		ps = append(ps, Problem{"*/" + FunctionFile, "bindings", "no function folder found; each function needs <name>/function.json"})
	}
	for _, f := range a.Functions {
		ps = append(ps, functionProblems(f)...)
	}
	return ps
}

// Settings returns the app settings the bindings read through %NAME% expressions, sorted.
func (a App) Settings() []string {
	var names []string
	for _, f := range a.Functions {
		for _, b := range f.Bindings {
			if m := settingPattern.FindStringSubmatch(b.Schedule); m != nil && !slices.Contains(names, m[1]) {
				names = append(names, m[1])
			}
		}
	}
	slices.Sort(names)
	return names
}

func hostProblems(h Host) []Problem {
	var ps []Problem
	bad := func(field, format string, args ...any) {
		ps = append(ps, Problem{HostFile, field, fmt.Sprintf(format, args...)})
	}
	if h.Version != "2.0" {
		bad("version", "%q must be \"2.0\"", h.Version)
	}
	exe := h.Executable()
	switch {
	case exe == "":
		bad("customHandler.description.defaultExecutablePath", "not set; name the handler executable, e.g. \"metrics-collector\"")
	case exe == "." || exe == ".." || strings.ContainsAny(exe, `/\`):
		bad("customHandler.description.defaultExecutablePath", "%q must be a bare file name: the package puts the executable at the app root", exe)
	}
	if wd := h.CustomHandler.Description.WorkingDirectory; wd != "" {
		bad("customHandler.description.workingDirectory", "%q must be empty (the app root, where the executable is)", wd)
	}
	if !h.CustomHandler.EnableForwardingHTTPRequest {
		bad("customHandler.enableForwardingHttpRequest", "must be true: the stage routes expect the caller's request unchanged at /api/<function>")
	}
	if p := h.Extensions.HTTP.RoutePrefix; p != nil && *p != "api" {
		bad("extensions.http.routePrefix", "%q must be \"api\" (or left out): the orchestrator calls /api/<stage>", *p)
	}
	if d, err := parseTimeSpan(h.FunctionTimeout); err != nil {
		bad("functionTimeout", "%q: %v", h.FunctionTimeout, err)
	} else if d <= 0 || d > MaxFunctionTimeout {
		bad("functionTimeout", "%q must be more than zero and at most 00:10:00, the Linux Consumption limit", h.FunctionTimeout)
	}
	return ps
}

func functionProblems(f Function) []Problem {
	file := path.Join(f.Name, FunctionFile)
	var ps []Problem
	bad := func(field, format string, args ...any) {
		ps = append(ps, Problem{file, field, fmt.Sprintf(format, args...)})
	}
	if !functionNamePattern.MatchString(f.Name) {
		bad("folder", "%q is not a function name: start with a letter, then letters, digits, '_' or '-' (at most 128)", f.Name)
	}
	var triggers []int
	for i, b := range f.Bindings {
		if strings.HasSuffix(b.Type, "Trigger") {
			triggers = append(triggers, i)
		}
	}
	if len(triggers) != 1 {
		bad("bindings", "has %d trigger bindings; a function needs exactly one", len(triggers))
		return ps
	}
	trigger := f.Bindings[triggers[0]]
	switch trigger.Type {
	case "httpTrigger":
		ps = append(ps, httpProblems(f, file)...)
	case "timerTrigger":
		ps = append(ps, timerProblems(f, file)...)
	default:
		bad(fmt.Sprintf("bindings[%d].type", triggers[0]), "%q is not handled: this custom handler serves httpTrigger (forwarded) and timerTrigger functions", trigger.Type)
	}
	return ps
}

// httpProblems enforces the forwarding rule: exactly one httpTrigger in and one http out.
// Any other binding silently switches the function to the envelope format.
func httpProblems(f Function, file string) []Problem {
	var ps []Problem
	bad := func(field, format string, args ...any) {
		ps = append(ps, Problem{file, field, fmt.Sprintf(format, args...)})
	}
	if len(f.Bindings) != 2 {
		bad("bindings", "has %d bindings; an HTTP function needs exactly httpTrigger (in) and http (out), or the host stops forwarding the request", len(f.Bindings))
	}
	var outputs int
	for i, b := range f.Bindings {
		field := fmt.Sprintf("bindings[%d]", i)
		switch b.Type {
		case "httpTrigger":
			if b.Direction != "in" {
				bad(field+".direction", "%q must be \"in\"", b.Direction)
			}
			if b.Name == "" {
				bad(field+".name", "not set")
			}
			if b.AuthLevel != "function" && b.AuthLevel != "admin" {
				bad(field+".authLevel", "%q must be \"function\" (or \"admin\"): anonymous stage routes would let anyone start collection", b.AuthLevel)
			}
			if len(b.Methods) == 0 {
				bad(field+".methods", "not set; list the methods the route accepts, e.g. [\"post\"]")
			}
			for _, m := range b.Methods {
				if !slices.Contains(httpMethods, strings.ToLower(m)) {
					bad(field+".methods", "%q is not an HTTP method", m)
				}
			}
			if b.Route != "" && b.Route != f.Name && !strings.HasPrefix(b.Route, f.Name+"/") {
				bad(field+".route", "%q must be %q or start with %q: the handler serves /api/<function>", b.Route, f.Name, f.Name+"/")
			}
		case "http":
			outputs++
			if b.Direction != "out" {
				bad(field+".direction", "%q must be \"out\"", b.Direction)
			}
			if b.Name == "" {
				bad(field+".name", "not set")
			}
		default:
			bad(field+".type", "%q is not allowed in an HTTP function: only httpTrigger and http keep request forwarding on", b.Type)
		}
	}
	if outputs != 1 {
		bad("bindings", "has %d http output bindings; it needs exactly one", outputs)
	}
	return ps
}

func timerProblems(f Function, file string) []Problem {
	var ps []Problem
	bad := func(field, format string, args ...any) {
		ps = append(ps, Problem{file, field, fmt.Sprintf(format, args...)})
	}
	if len(f.Bindings) != 1 {
		bad("bindings", "has %d bindings; the timer function takes only its timerTrigger", len(f.Bindings))
	}
	b := f.Bindings[0]
	for _, x := range f.Bindings {
		if x.Type == "timerTrigger" {
			b = x
		}
	}
	if b.Direction != "in" {
		bad("timer.direction", "%q must be \"in\"", b.Direction)
	}
	if b.Name == "" {
		bad("timer.name", "not set")
	}
	if b.RunOnStartup {
		bad("timer.runOnStartup", "must be false: every restart or scale-out would start the daily job again")
	}
	if !settingPattern.MatchString(b.Schedule) {
		if err := CheckSchedule(b.Schedule); err != nil {
			bad("timer.schedule", "%v", err)
		}
	}
	return ps
}

// parseTimeSpan reads the host's hh:mm:ss duration format. (The host also takes a day
// prefix and -1, but both exceed what Linux Consumption allows.)
func parseTimeSpan(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("not set; use hh:mm:ss, e.g. 00:10:00")
	}
	var h, m, sec int
	if n, err := fmt.Sscanf(s, "%d:%d:%d", &h, &m, &sec); err != nil || n != 3 ||
		h < 0 || m < 0 || m > 59 || sec < 0 || sec > 59 || fmt.Sprintf("%02d:%02d:%02d", h, m, sec) != s {
		return 0, errors.New("not a duration; use hh:mm:ss, e.g. 00:10:00")
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second, nil
}
