package deploycheck

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

const goodHost = `{
  "version": "2.0",
  "functionTimeout": "00:10:00",
  "extensions": {"http": {"routePrefix": "api"}},
  "customHandler": {
    "description": {"defaultExecutablePath": "metrics-collector", "workingDirectory": "", "arguments": []},
    "enableForwardingHttpRequest": true
  }
}`

const goodHTTP = `{"bindings": [
  {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "function", "methods": ["post"], "route": "collect_copilot"},
  {"type": "http", "direction": "out", "name": "res"}
]}`

const goodTimer = `{"bindings": [
  {"name": "timer", "type": "timerTrigger", "direction": "in", "schedule": "%ORCHESTRATOR_SCHEDULE%", "runOnStartup": false}
]}`

// goodApp is a small app that follows every rule; tests break one thing at a time.
func goodApp() fstest.MapFS {
	return fstest.MapFS{
		"host.json":                       {Data: []byte(goodHost)},
		"collect_copilot/function.json":   {Data: []byte(goodHTTP)},
		"main_orchestrator/function.json": {Data: []byte(goodTimer)},
		"internal/config/config.go":       {Data: []byte("package config")},
		"README.md":                       {Data: []byte("# app")},
	}
}

func TestLoadFindsOnlyFunctionFolders(t *testing.T) {
	t.Parallel()
	app, err := Load(goodApp())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range app.Functions {
		names = append(names, f.Name)
	}
	if diff := cmp.Diff([]string{"collect_copilot", "main_orchestrator"}, names); diff != "" {
		t.Errorf("functions (-want +got):\n%s", diff)
	}
	if got := app.Host.Executable(); got != "metrics-collector" {
		t.Errorf("executable = %q", got)
	}
	if err := app.Check(); err != nil {
		t.Errorf("good app has problems:\n%v", err)
	}
	if diff := cmp.Diff([]string{"ORCHESTRATOR_SCHEDULE"}, app.Settings()); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(fstest.MapFS)
		wants string
	}{
		{"no host.json", func(m fstest.MapFS) { delete(m, "host.json") }, "read host.json"},
		{"host.json not JSON", func(m fstest.MapFS) { m["host.json"] = &fstest.MapFile{Data: []byte("{")} }, "parse host.json"},
		{"function.json not JSON", func(m fstest.MapFS) {
			m["collect_copilot/function.json"] = &fstest.MapFile{Data: []byte(`{"bindings": [}`)}
		}, "parse collect_copilot/function.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := goodApp()
			tt.edit(fsys)
			_, err := Load(fsys)
			if err == nil || !strings.Contains(err.Error(), tt.wants) {
				t.Fatalf("Load error = %v, want one containing %q", err, tt.wants)
			}
		})
	}
}

func TestProblems(t *testing.T) {
	t.Parallel()
	host := func(old, new string) func(fstest.MapFS) {
		return func(m fstest.MapFS) {
			m["host.json"] = &fstest.MapFile{Data: []byte(strings.Replace(goodHost, old, new, 1))}
		}
	}
	fn := func(name, content string) func(fstest.MapFS) {
		return func(m fstest.MapFS) { m[name+"/function.json"] = &fstest.MapFile{Data: []byte(content)} }
	}
	httpWith := func(old, new string) func(fstest.MapFS) {
		return fn("collect_copilot", strings.Replace(goodHTTP, old, new, 1))
	}
	timerWith := func(old, new string) func(fstest.MapFS) {
		return fn("main_orchestrator", strings.Replace(goodTimer, old, new, 1))
	}
	tests := []struct {
		name  string
		edit  func(fstest.MapFS)
		file  string
		field string
		says  string
	}{
		{"host version", host(`"2.0"`, `"1.0"`), "host.json", "version", `must be "2.0"`},
		{"no executable", host(`"metrics-collector"`, `""`), "host.json", "customHandler.description.defaultExecutablePath", "not set"},
		{"executable in a folder", host(`"metrics-collector"`, `"bin/metrics-collector"`), "host.json", "customHandler.description.defaultExecutablePath", "bare file name"},
		{"working directory", host(`"workingDirectory": ""`, `"workingDirectory": "bin"`), "host.json", "customHandler.description.workingDirectory", "must be empty"},
		{"forwarding off", host(`"enableForwardingHttpRequest": true`, `"enableForwardingHttpRequest": false`), "host.json", "customHandler.enableForwardingHttpRequest", "must be true"},
		{"forwarding missing", host(`,
    "enableForwardingHttpRequest": true`, ``), "host.json", "customHandler.enableForwardingHttpRequest", "must be true"},
		{"route prefix", host(`"routePrefix": "api"`, `"routePrefix": ""`), "host.json", "extensions.http.routePrefix", `must be "api"`},
		{"timeout too long", host(`"00:10:00"`, `"00:30:00"`), "host.json", "functionTimeout", "at most 00:10:00"},
		{"timeout zero", host(`"00:10:00"`, `"00:00:00"`), "host.json", "functionTimeout", "more than zero"},
		{"timeout malformed", host(`"00:10:00"`, `"10m"`), "host.json", "functionTimeout", "hh:mm:ss"},
		{"timeout missing", host(`"functionTimeout": "00:10:00",`, ``), "host.json", "functionTimeout", "not set"},
		{"no functions", func(m fstest.MapFS) {
			delete(m, "collect_copilot/function.json")
			delete(m, "main_orchestrator/function.json")
		}, "*/function.json", "bindings", "no function folder"},
		{"bad function name", fn("9lives", goodHTTP), "9lives/function.json", "folder", "not a function name"},
		{"no trigger", fn("collect_copilot", `{"bindings": [{"type": "http", "direction": "out", "name": "res"}]}`), "collect_copilot/function.json", "bindings", "0 trigger bindings"},
		{"two triggers", httpWith(`{"type": "http", "direction": "out", "name": "res"}`, `{"type": "timerTrigger", "direction": "in", "name": "t", "schedule": "0 0 6 * * *"}`), "collect_copilot/function.json", "bindings", "2 trigger bindings"},
		{"unknown trigger", fn("collect_copilot", `{"bindings": [{"type": "queueTrigger", "direction": "in", "name": "msg"}]}`), "collect_copilot/function.json", "bindings[0].type", "is not handled"},
		{"extra binding on http", httpWith(`{"type": "http", "direction": "out", "name": "res"}`, `{"type": "http", "direction": "out", "name": "res"}, {"type": "blob", "direction": "out", "name": "b"}`), "collect_copilot/function.json", "bindings", "3 bindings"},
		{"foreign binding type", httpWith(`{"type": "http", "direction": "out", "name": "res"}`, `{"type": "blob", "direction": "out", "name": "res"}`), "collect_copilot/function.json", "bindings[1].type", "only httpTrigger and http"},
		{"no http output", httpWith(`{"type": "http", "direction": "out", "name": "res"}`, `{"type": "blob", "direction": "out", "name": "res"}`), "collect_copilot/function.json", "bindings", "0 http output"},
		{"trigger direction", httpWith(`"direction": "in"`, `"direction": "out"`), "collect_copilot/function.json", "bindings[0].direction", `must be "in"`},
		{"trigger name", httpWith(`"name": "req"`, `"name": ""`), "collect_copilot/function.json", "bindings[0].name", "not set"},
		{"anonymous", httpWith(`"authLevel": "function"`, `"authLevel": "anonymous"`), "collect_copilot/function.json", "bindings[0].authLevel", "anonymous stage routes"},
		{"auth level missing", httpWith(`"authLevel": "function", `, ``), "collect_copilot/function.json", "bindings[0].authLevel", `must be "function"`},
		{"no methods", httpWith(`"methods": ["post"]`, `"methods": []`), "collect_copilot/function.json", "bindings[0].methods", "not set"},
		{"bad method", httpWith(`["post"]`, `["post", "fetch"]`), "collect_copilot/function.json", "bindings[0].methods", `"fetch" is not an HTTP method`},
		{"foreign route", httpWith(`"route": "collect_copilot"`, `"route": "collect/copilot"`), "collect_copilot/function.json", "bindings[0].route", "serves /api/<function>"},
		{"output direction", httpWith(`"direction": "out"`, `"direction": "in"`), "collect_copilot/function.json", "bindings[1].direction", `must be "out"`},
		{"output name", httpWith(`"name": "res"`, `"name": ""`), "collect_copilot/function.json", "bindings[1].name", "not set"},
		{"timer extra binding", timerWith(`"runOnStartup": false}`, `"runOnStartup": false}, {"type": "blob", "direction": "out", "name": "b"}`), "main_orchestrator/function.json", "bindings", "2 bindings"},
		{"timer direction", timerWith(`"direction": "in"`, `"direction": "out"`), "main_orchestrator/function.json", "timer.direction", `must be "in"`},
		{"timer name", timerWith(`"name": "timer"`, `"name": ""`), "main_orchestrator/function.json", "timer.name", "not set"},
		{"run on startup", timerWith(`"runOnStartup": false`, `"runOnStartup": true`), "main_orchestrator/function.json", "timer.runOnStartup", "must be false"},
		{"five-field schedule", timerWith(`"%ORCHESTRATOR_SCHEDULE%"`, `"0 6 * * *"`), "main_orchestrator/function.json", "timer.schedule", "has 5 fields"},
		{"timespan schedule", timerWith(`"%ORCHESTRATOR_SCHEDULE%"`, `"24:00:00"`), "main_orchestrator/function.json", "timer.schedule", "has 1 fields"},
		{"bad setting reference", timerWith(`"%ORCHESTRATOR_SCHEDULE%"`, `"%ORCHESTRATOR SCHEDULE%"`), "main_orchestrator/function.json", "timer.schedule", "fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := goodApp()
			tt.edit(fsys)
			app, err := Load(fsys)
			if err != nil {
				t.Fatal(err)
			}
			var found []string
			for _, p := range app.Problems() {
				found = append(found, p.Error())
				if p.File == tt.file && p.Field == tt.field && strings.Contains(p.Message, tt.says) {
					if err := app.Check(); err == nil || !strings.Contains(err.Error(), tt.says) {
						t.Errorf("Check() = %v, want the problem in it", err)
					}
					return
				}
			}
			t.Errorf("no problem %s: %s: …%s…; got:\n%s", tt.file, tt.field, tt.says, strings.Join(found, "\n"))
		})
	}
}

func TestCheckSchedule(t *testing.T) {
	t.Parallel()
	good := []string{
		"0 0 6 * * *",
		"0 */5 * * * *",
		"0 30 9 * * 1-5",
		"0 0 6 * * MON-FRI",
		"0 0 0 1 JAN,jul *",
		"0 0 6,18 1-31/2 * sun",
		"59 59 23 31 12 6",
	}
	for _, expr := range good {
		if err := CheckSchedule(expr); err != nil {
			t.Errorf("CheckSchedule(%q) = %v, want nil", expr, err)
		}
	}
	bad := map[string]string{
		"":                   "has 0 fields",
		"0 6 * * *":          "has 5 fields",
		"0 0 6 * * * *":      "has 7 fields",
		"00:05:00":           "has 1 fields",
		"60 0 6 * * *":       "second field",
		"0 60 6 * * *":       "minute field",
		"0 0 24 * * *":       "hour field",
		"0 0 6 0 * *":        "day field",
		"0 0 6 * 13 *":       "month field",
		"0 0 6 * * 7":        "day of week field",
		"0 0 6 * * FUN":      "day of week field",
		"0 0 6-1 * * *":      "runs backwards",
		"0 */0 * * * *":      "step",
		"0 */x * * * *":      "step",
		"0 0 6 * * 1--2":     "day of week field",
		"0 0 6 ? * *":        "day field",
		"0 0 %SCHEDULE% * *": "has 5 fields",
	}
	for expr, says := range bad {
		err := CheckSchedule(expr)
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("CheckSchedule(%q) = %v, want an error containing %q", expr, err, says)
		}
	}
}
