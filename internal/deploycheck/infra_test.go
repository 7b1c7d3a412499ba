package deploycheck

// The Bicep in infra/ cannot be compiled on our machines (no Bicep CLI), so these tests
// check what can be checked from the text: every module parameter wired, every file a
// template loads present, the app settings the functions need set, the alert and
// workbook queries using only the telemetry names of docs/architecture.md, and every
// resource type and API version listed in docs/deploy.md, where each was checked
// against Microsoft's reference. CI compiles the templates with `az bicep build`.

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"metrics-collector/internal/config"
)

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// bicepFiles returns infra/main.bicep and every module, keyed by repository path.
func bicepFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(filepath.Join(repoRoot, "infra"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".bicep") {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		files[filepath.ToSlash(rel)] = readRepoFile(t, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d Bicep files under infra/", len(files))
	}
	return files
}

var (
	moduleBlock   = regexp.MustCompile(`(?ms)^module (\w+) '([^']+)' = \{\n(.*?)^\}`)
	paramsBlock   = regexp.MustCompile(`(?ms)^  params: \{\n(.*?)^  \}`)
	passedParam   = regexp.MustCompile(`(?m)^    (\w+):`)
	declaredParam = regexp.MustCompile(`(?m)^param (\w+) [^\n]*$`)
	loadedFile    = regexp.MustCompile(`loadTextContent\('([^']+)'\)`)
	resourceType  = regexp.MustCompile(`'([A-Za-z]+\.[A-Za-z]+/[A-Za-z/]+)@([0-9]{4}-[0-9]{2}-[0-9]{2}(?:-preview)?)'`)
	scheduleParam = regexp.MustCompile(`(?m)^param orchestratorSchedule string = '([^']*)'$`)
	settingName   = regexp.MustCompile(`(?m)^    name: '([A-Za-z_][A-Za-z0-9_]*)'$`)
)

func TestBicepModulesWired(t *testing.T) {
	t.Parallel()
	files := bicepFiles(t)
	main := files["infra/main.bicep"]
	modules := moduleBlock.FindAllStringSubmatch(main, -1)
	if len(modules) == 0 {
		t.Fatal("infra/main.bicep declares no modules")
	}
	used := map[string]bool{"infra/main.bicep": true}
	for _, m := range modules {
		name, file, body := m[1], "infra/"+m[2], m[3]
		used[file] = true
		src, ok := files[file]
		if !ok {
			t.Errorf("module %s: %s does not exist", name, file)
			continue
		}
		var passed []string
		if pb := paramsBlock.FindStringSubmatch(body); pb != nil {
			for _, p := range passedParam.FindAllStringSubmatch(pb[1], -1) {
				passed = append(passed, p[1])
			}
		}
		var declared []string
		for _, d := range declaredParam.FindAllStringSubmatch(src, -1) {
			declared = append(declared, d[1])
			hasDefault := strings.Contains(d[0], " = ")
			if !hasDefault && !slices.Contains(passed, d[1]) {
				t.Errorf("module %s: required parameter %s of %s is not passed", name, d[1], file)
			}
		}
		for _, p := range passed {
			if !slices.Contains(declared, p) {
				t.Errorf("module %s: passes %s, which %s does not declare", name, p, file)
			}
		}
	}
	for file := range files {
		if !used[file] {
			t.Errorf("%s is not used by infra/main.bicep", file)
		}
	}
}

func TestBicepLoadedFilesExist(t *testing.T) {
	t.Parallel()
	loaded := map[string]bool{}
	for file, src := range bicepFiles(t) {
		for _, m := range loadedFile.FindAllStringSubmatch(src, -1) {
			target := filepath.ToSlash(filepath.Join(filepath.Dir(file), m[1]))
			loaded[target] = true
			if _, err := os.Stat(filepath.Join(repoRoot, target)); err != nil {
				t.Errorf("%s loads %s: %v", file, m[1], err)
			}
		}
	}
	queries, _ := filepath.Glob(filepath.Join(repoRoot, "infra", "queries", "*.kql"))
	if len(queries) == 0 {
		t.Fatal("no alert queries in infra/queries")
	}
	for _, q := range queries {
		rel, _ := filepath.Rel(repoRoot, q)
		if !loaded[filepath.ToSlash(rel)] {
			t.Errorf("%s is not used by any alert", rel)
		}
	}
}

// TestScheduleDefault: main_orchestrator's schedule is %ORCHESTRATOR_SCHEDULE%, so the
// six-field rule applies to the default the infra sets and local.settings.json.example
// shows.
func TestScheduleDefault(t *testing.T) {
	t.Parallel()
	m := scheduleParam.FindStringSubmatch(readRepoFile(t, "infra/main.bicep"))
	if m == nil {
		t.Fatal("infra/main.bicep has no `param orchestratorSchedule string = '...'` default")
	}
	infraDefault := m[1]
	if err := CheckSchedule(infraDefault); err != nil {
		t.Errorf("infra default ORCHESTRATOR_SCHEDULE: %v", err)
	}
	// The day's run starts at 06:00 UTC (DESIGN §1) and is invoked again until it has
	// finished (issue 14): the service's default and the infra's must be the same.
	if infraDefault != config.DefaultSchedule {
		t.Errorf("infra default ORCHESTRATOR_SCHEDULE %q; want the service's default %q (every 10 minutes from 06:00 UTC)", infraDefault, config.DefaultSchedule)
	}

	data, err := os.ReadFile(filepath.Join(repoRoot, "local.settings.json.example"))
	if err != nil {
		t.Fatalf("local.settings.json.example (DESIGN §2) must show ORCHESTRATOR_SCHEDULE: %v", err)
	}
	var local struct {
		Values map[string]string `json:"Values"`
	}
	if err := json.Unmarshal(data, &local); err != nil {
		t.Fatalf("local.settings.json.example: %v", err)
	}
	schedule, ok := local.Values["ORCHESTRATOR_SCHEDULE"]
	if !ok {
		t.Fatal("local.settings.json.example: Values has no ORCHESTRATOR_SCHEDULE; the timer function cannot start without it")
	}
	if err := CheckSchedule(schedule); err != nil {
		t.Errorf("local.settings.json.example ORCHESTRATOR_SCHEDULE: %v", err)
	}
	if schedule != config.DefaultSchedule {
		t.Errorf("local.settings.json.example ORCHESTRATOR_SCHEDULE %q; want the default %q", schedule, config.DefaultSchedule)
	}
	// azd passes AZURE_PRINCIPAL_TYPE on, so azd running as a service principal gets
	// its Key Vault role (issue 14).
	params := readRepoFile(t, "infra/main.parameters.json")
	if !strings.Contains(params, `"deployerPrincipalType"`) || !strings.Contains(params, "${AZURE_PRINCIPAL_TYPE=User}") {
		t.Error("infra/main.parameters.json does not set deployerPrincipalType from AZURE_PRINCIPAL_TYPE (default User)")
	}
}

// The DESIGN §3 settings the infra sets (plus the Go runtime's GOMEMLIMIT); the rest
// keep their documented defaults.
var wiredServiceSettings = []string{
	"APPLICATIONINSIGHTS_CONNECTION_STRING", "COLLECTOR_ENTERPRISES", "DATABASE_AUTH",
	"DATABASE_URL", "GOMEMLIMIT", "KEY_VAULT_URI", "ORCHESTRATOR_SCHEDULE", "SHAREPOINT_DRIVE_ID",
	"SHAREPOINT_FOLDER", "SHAREPOINT_SITE_ID", "STAGE_BUDGET_SECONDS",
}

func TestAppSettingsWired(t *testing.T) {
	t.Parallel()
	src := readRepoFile(t, "infra/modules/functionapp.bicep")
	objects := map[string][]string{}
	for _, name := range []string{"serviceSettings", "flexHostSettings", "consumptionHostSettings"} {
		block := regexp.MustCompile(`(?ms)^var ` + name + ` = \[\n(.*?)^\]`).FindStringSubmatch(src)
		if block == nil {
			t.Fatalf("infra/modules/functionapp.bicep has no `var %s = [...]`", name)
		}
		for _, k := range settingName.FindAllStringSubmatch(block[1], -1) {
			objects[name] = append(objects[name], k[1])
		}
	}
	// Secrets reach the app through Key Vault, never as app settings: the module that
	// writes the settings takes no secure parameter.
	if strings.Contains(src, "@secure()") {
		t.Error("infra/modules/functionapp.bicep takes a @secure() parameter; pass secrets through Key Vault instead")
	}
	slices.Sort(objects["serviceSettings"])
	if !slices.Equal(objects["serviceSettings"], wiredServiceSettings) {
		t.Errorf("serviceSettings = %v, want %v", objects["serviceSettings"], wiredServiceSettings)
	}

	app, err := Load(os.DirFS(repoRoot))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range app.Settings() {
		if !slices.Contains(objects["serviceSettings"], s) {
			t.Errorf("a function.json reads %%%s%%, which infra/modules/functionapp.bicep does not set", s)
		}
	}
	// The timer needs host storage on both plans.
	if !slices.Contains(objects["flexHostSettings"], "AzureWebJobsStorage__accountName") {
		t.Error("Flex Consumption settings lack AzureWebJobsStorage__accountName")
	}
	for _, s := range []string{"AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"} {
		if !slices.Contains(objects["consumptionHostSettings"], s) {
			t.Errorf("Linux Consumption settings lack %s", s)
		}
	}
	// Flex Consumption refuses these as app settings (they live in functionAppConfig).
	for _, s := range []string{"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_CONTENTSHARE"} {
		if slices.Contains(objects["flexHostSettings"], s) || slices.Contains(objects["serviceSettings"], s) {
			t.Errorf("%s must not be set on Flex Consumption", s)
		}
	}
}

// TestEverySettingDocumented: each variable the service reads (internal/config) is
// explained in docs/deploy.md, with what the infra sets it to or why it is left unset.
func TestEverySettingDocumented(t *testing.T) {
	t.Parallel()
	doc := readRepoFile(t, "docs/deploy.md")
	config := readRepoFile(t, "internal/config/config.go")
	read := regexp.MustCompile(`getenv(?:, )?\(?"([A-Z][A-Z0-9_]+)"`).FindAllStringSubmatch(config, -1)
	if len(read) < 10 {
		t.Fatalf("found only %d settings read in internal/config/config.go", len(read))
	}
	names := wiredServiceSettings
	for _, m := range read {
		names = append(names, m[1])
	}
	for _, name := range names {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("docs/deploy.md does not explain `%s`", name)
		}
	}
}

func TestAPIVersionsDocumented(t *testing.T) {
	t.Parallel()
	doc := readRepoFile(t, "docs/deploy.md")
	seen := map[string]bool{}
	for file, src := range bicepFiles(t) {
		for _, m := range resourceType.FindAllStringSubmatch(src, -1) {
			typ := m[1] + "@" + m[2]
			if seen[typ] {
				continue
			}
			seen[typ] = true
			if !strings.Contains(doc, "`"+typ+"`") {
				t.Errorf("%s uses %s, which docs/deploy.md does not list as checked against the reference", file, typ)
			}
		}
	}
	if len(seen) < 10 {
		t.Errorf("found only %d resource types in infra/", len(seen))
	}
}

// telemetry is the contract table of docs/architecture.md, "Telemetry names".
type telemetry struct {
	names        map[string]string // event or metric name -> kind
	properties   map[string]bool   // customDimensions keys
	measurements map[string]bool   // customMeasurements keys
}

func readTelemetry(t *testing.T) telemetry {
	t.Helper()
	doc := readRepoFile(t, "docs/architecture.md")
	_, section, ok := strings.Cut(doc, "## Telemetry names")
	if !ok {
		t.Fatal("docs/architecture.md has no \"Telemetry names\" section")
	}
	tel := telemetry{names: map[string]string{}, properties: map[string]bool{}, measurements: map[string]bool{}}
	row := regexp.MustCompile(`(?m)^\| (event|metric|exception) \| ([^|]*)\|([^|]*)\|([^|]*)\|`)
	ident := regexp.MustCompile("`([A-Za-z_]+)`")
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		if n := ident.FindStringSubmatch(m[2]); n != nil {
			tel.names[n[1]] = m[1]
		}
		for _, p := range ident.FindAllStringSubmatch(m[3], -1) {
			tel.properties[p[1]] = true
		}
		for _, p := range ident.FindAllStringSubmatch(m[4], -1) {
			tel.measurements[p[1]] = true
		}
	}
	if len(tel.names) < 5 {
		t.Fatalf("read only %d names from the telemetry table", len(tel.names))
	}
	return tel
}

// kqlQueries returns every query the alerts and the workbook run, keyed by origin.
func kqlQueries(t *testing.T) map[string]string {
	t.Helper()
	queries := map[string]string{}
	files, _ := filepath.Glob(filepath.Join(repoRoot, "infra", "queries", "*.kql"))
	for _, f := range files {
		rel, _ := filepath.Rel(repoRoot, f)
		queries[rel] = readRepoFile(t, rel)
	}
	var wb struct {
		Version string `json:"version"`
		Items   []struct {
			Type    int    `json:"type"`
			Name    string `json:"name"`
			Content struct {
				Query        string `json:"query"`
				ResourceType string `json:"resourceType"`
			} `json:"content"`
		} `json:"items"`
	}
	raw := readRepoFile(t, "infra/workbook.json")
	if err := json.Unmarshal([]byte(raw), &wb); err != nil {
		t.Fatalf("infra/workbook.json: %v", err)
	}
	if wb.Version != "Notebook/1.0" {
		t.Errorf("infra/workbook.json version %q, want Notebook/1.0", wb.Version)
	}
	if !strings.Contains(raw, "__APP_INSIGHTS_ID__") {
		t.Error("infra/workbook.json lost the __APP_INSIGHTS_ID__ placeholder that workbook.bicep replaces")
	}
	for _, it := range wb.Items {
		if it.Type != 3 {
			continue
		}
		if strings.TrimSpace(it.Content.Query) == "" || it.Content.ResourceType != "microsoft.insights/components" {
			t.Errorf("workbook item %s: empty query or resource type %q", it.Name, it.Content.ResourceType)
		}
		queries["infra/workbook.json#"+it.Name] = it.Content.Query
	}
	if len(queries) < 10 {
		t.Fatalf("found only %d queries", len(queries))
	}
	return queries
}

func quotedList(s string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestQueriesUseTelemetryNames(t *testing.T) {
	t.Parallel()
	tel := readTelemetry(t)
	app, err := Load(os.DirFS(repoRoot))
	if err != nil {
		t.Fatal(err)
	}
	var functions []string
	for _, f := range app.Functions {
		functions = append(functions, f.Name)
	}
	nameEq := regexp.MustCompile(`\bname\s*==\s*("[^"]*")`)
	nameIn := regexp.MustCompile(`\bname\s+in\s*\(([^)]*)\)`)
	stageEq := regexp.MustCompile(`\bstage\s*==\s*("[^"]*")`)
	stageIn := regexp.MustCompile(`\bstage\s+in\s*\(([^)]*)\)`)
	dims := regexp.MustCompile(`customDimensions\.(\w+)`)
	meas := regexp.MustCompile(`customMeasurements\.(\w+)`)

	used := map[string]bool{}
	for origin, q := range kqlQueries(t) {
		var names, stages []string
		for _, m := range append(nameEq.FindAllStringSubmatch(q, -1), nameIn.FindAllStringSubmatch(q, -1)...) {
			names = append(names, quotedList(m[1])...)
		}
		for _, m := range append(stageEq.FindAllStringSubmatch(q, -1), stageIn.FindAllStringSubmatch(q, -1)...) {
			stages = append(stages, quotedList(m[1])...)
		}
		if len(names) == 0 && !strings.Contains(q, "exceptions") {
			t.Errorf("%s: selects no event or metric by name", origin)
		}
		for _, n := range names {
			used[n] = true
			if _, ok := tel.names[n]; !ok {
				t.Errorf("%s: %q is not an event or metric of docs/architecture.md", origin, n)
			}
		}
		for _, s := range stages {
			if !slices.Contains(functions, s) {
				t.Errorf("%s: stage %q is not a function of the app", origin, s)
			}
		}
		for _, m := range dims.FindAllStringSubmatch(q, -1) {
			if !tel.properties[m[1]] {
				t.Errorf("%s: customDimensions.%s is not a property of docs/architecture.md", origin, m[1])
			}
		}
		for _, m := range meas.FindAllStringSubmatch(q, -1) {
			if !tel.measurements[m[1]] {
				t.Errorf("%s: customMeasurements.%s is not a measurement of docs/architecture.md", origin, m[1])
			}
		}
	}
	// Every event and metric the service sends shows up somewhere.
	for n := range tel.names {
		if !used[n] {
			t.Errorf("telemetry %q is neither alerted on nor shown in the workbook", n)
		}
	}
}

func TestScriptsExecutable(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"scripts/package.sh", "scripts/deploy.sh", "scripts/bootstrap-db.sh"} {
		info, err := os.Stat(filepath.Join(repoRoot, name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s is not executable (mode %v); azure.yaml and the Makefile run it directly", name, info.Mode())
		}
	}
	for _, file := range []string{"azure.yaml", ".github/workflows/ci.yml"} {
		src := readRepoFile(t, file)
		for _, m := range regexp.MustCompile(`\./?(scripts/[\w.-]+)`).FindAllStringSubmatch(src, -1) {
			if _, err := os.Stat(filepath.Join(repoRoot, m[1])); err != nil {
				t.Errorf("%s runs %s: %v", file, m[1], err)
			}
		}
		if file == "azure.yaml" && !strings.Contains(src, "path: infra") {
			t.Error("azure.yaml does not point azd at infra/")
		}
	}
}

// skipOrFail skips locally and fails in CI (CI=true), where every check must run.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// TestQueriesCompile parses and type-checks every alert and workbook query with
// Microsoft's Kusto language library (infra/tools/kqlcheck, run by Node.js), so a typo
// in a query fails here instead of in Azure Monitor. A broken query must fail it too.
func TestQueriesCompile(t *testing.T) {
	t.Parallel()
	node, errNode := exec.LookPath("node")
	npm, errNPM := exec.LookPath("npm")
	if errNode != nil || errNPM != nil {
		skipOrFail(t, "node and npm are needed to check the KQL queries: %v %v", errNode, errNPM)
	}
	dir := t.TempDir()
	for _, name := range []string{"package.json", "package-lock.json", "check.js"} {
		data := readRepoFile(t, "infra/tools/kqlcheck/"+name)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	install := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		skipOrFail(t, "npm ci in infra/tools/kqlcheck: %v\n%s", err, out)
	}

	// One run (loading the library takes seconds): the real queries plus one broken
	// query, which must be the only one reported, so the check is known to bite.
	broken := filepath.Join(t.TempDir(), "broken.kql")
	if err := os.WriteFile(broken, []byte("customEvents\n| where nme == \"RunFinished\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(repoRoot, "infra", "queries", "*.kql"))
	args := []string{"check.js", broken}
	for _, f := range append(files, filepath.Join(repoRoot, "infra", "workbook.json")) {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, abs)
	}
	cmd := exec.Command(node, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the checker accepted a query with an unknown column:\n%s", out)
	}
	var problems []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(line, ": ") && !strings.HasPrefix(line, broken+":") {
			problems = append(problems, line)
		}
	}
	if len(problems) > 0 || !strings.Contains(string(out), broken+":2: The name 'nme'") {
		t.Fatalf("the alert or workbook queries do not compile:\n%s", out)
	}
}
