package main

// End-to-end proofs of the daily job (issue 8): the whole run through the real routes,
// against the GitHub simulator and a real PostgreSQL, compared byte for byte with
// golden exports. Further files: e2e_rerun_test.go (a second pass with nothing new),
// e2e_faults_test.go (injected GitHub failures), e2e_budget_test.go (stage calls cut
// short by their budget), e2e_kill_test.go (a killed process resumed),
// e2e_dbrestart_test.go (PostgreSQL restarting under a run).

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"metrics-collector/internal/githubsim"
)

var update = flag.Bool("update", false, "rewrite the golden exports in testdata/e2e")

// e2eDay is the simulated morning of every in-process end-to-end run: the timer's
// 06:00 UTC on a Thursday.
var e2eDay = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)

// goldenDir holds latest/ of a clean run of simSettings' world on e2eDay (the dated
// copies in archive/ are checked against it by checkExportContract).
const goldenDir = "testdata/e2e/clean"

// serviceClock is a service clock that starts at start and runs at wall-clock speed, so
// budgets and durations behave while the date stays fixed.
func serviceClock(start time.Time) func() time.Time {
	wall := time.Now()
	return func() time.Time { return start.Add(time.Since(wall)) }
}

// e2eWorld serves simSettings' world shrunk further — fewer people, so the per-user
// Copilot export stays small enough to keep as a golden file — as of now. With eight
// developers a cohort of five authors is rare, so the impact cohorts are judged with a
// threshold of 2: the goldens hold shown and suppressed cohorts.
func e2eWorld(t *testing.T, now time.Time) (map[string]string, []string, *githubsim.Simulator) {
	t.Helper()
	settings, tokens, sim := simSettingsWith(t, now, func(c *githubsim.Config) {
		for i := range c.Enterprises {
			c.Enterprises[i].Developers = 8
			c.Enterprises[i].CopilotUsers = 6
		}
	})
	settings["COPILOT_IMPACT_MIN_AUTHORS"] = "2"
	return settings, tokens, sim
}

// startE2E serves the handler in this process on e2eDay with GitHub waits that take no
// real time (the simulator's now does not move).
func startE2E(t *testing.T, settings map[string]string) *inproc {
	t.Helper()
	now := serviceClock(e2eDay)
	return startInProcess(t, settings, hooks{now: now, githubClock: instantClock{now: now}})
}

func TestE2ECleanRunMatchesGoldenFiles(t *testing.T) {
	settings, tokens, sim := e2eWorld(t, e2eDay)
	p := startE2E(t, settings)
	run := runToEnd(t, p.base)
	if run.Status != "succeeded" {
		t.Fatalf("run ended %s: %s", run.Status, run.ErrorSummary)
	}
	dir := settings["EXPORT_DIR"]
	files := readExports(t, dir)
	checkExportContract(t, files, tokens)
	checkNoLitter(t, dir)
	compareWithGolden(t, files)
	checkGraphQLAudit(t, p.base, run.ID, sim.Requests())
	t.Logf("simulator requests: %d", len(sim.Requests()))
}

// checkGraphQLAudit: the run's stage calls record the GraphQL queries the simulator
// received and the points it charged for them, and the GraphQL budget's lowest remaining.
func checkGraphQLAudit(t *testing.T, base string, runID int64, reqs []githubsim.Request) {
	t.Helper()
	var detail struct {
		Calls []struct {
			GraphQLRequests     int64 `json:"graphql_requests"`
			GraphQLPoints       int64 `json:"graphql_points"`
			GraphQLRateLimitLow *int  `json:"graphql_rate_limit_low"`
		} `json:"calls"`
	}
	getJSON(t, fmt.Sprintf("%s/api/runs/%d", base, runID), &detail)
	var queries, points int64
	lowSeen := false
	for _, c := range detail.Calls {
		queries += c.GraphQLRequests
		points += c.GraphQLPoints
		lowSeen = lowSeen || c.GraphQLRateLimitLow != nil
	}
	var simQueries, simPoints int64
	for _, r := range reqs {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/graphql") {
			simQueries++
			simPoints += int64(r.Points)
		}
	}
	if simQueries == 0 || queries != simQueries || points != simPoints || !lowSeen {
		t.Errorf("stage calls record %d GraphQL queries costing %d points (remaining seen: %v); the simulator received %d costing %d",
			queries, points, lowSeen, simQueries, simPoints)
	}
}

// compareWithGolden compares the exported latest/ files with the golden ones, or
// rewrites these with -update.
func compareWithGolden(t *testing.T, files map[string][]byte) {
	t.Helper()
	files = latestOf(files)
	if *update {
		if err := os.RemoveAll(goldenDir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			path := filepath.Join(goldenDir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	compareFiles(t, readExports(t, goldenDir), files, "golden", "exported")
}

// compareFiles reports every file missing on either side or differing in a byte.
func compareFiles(t *testing.T, want, got map[string][]byte, wantName, gotName string) {
	t.Helper()
	for _, name := range sortedKeys(want) {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: in the %s files, missing from the %s ones", name, wantName, gotName)
		case !bytes.Equal(g, want[name]):
			t.Errorf("%s differs from the %s file: %s", name, wantName, firstDifference(want[name], g))
		}
	}
	for _, name := range sortedKeys(got) {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: in the %s files, not in the %s ones", name, gotName, wantName)
		}
	}
}

// withoutRunStatus returns an export's files with what names the run that wrote them
// taken out: the report's header and status section (everything before its DORA
// section) and the report's size and digest in the manifests. The rest — every data
// file, the report's figures, the manifests' other entries — is kept byte for byte.
func withoutRunStatus(t *testing.T, files map[string][]byte) map[string][]byte {
	t.Helper()
	out := make(map[string][]byte, len(files))
	for name, b := range files {
		base := name[strings.LastIndex(name, "/")+1:]
		switch {
		case strings.HasPrefix(base, "report"):
			if i := bytes.Index(b, []byte(`<section id="dora">`)); i >= 0 {
				b = b[i:]
			}
		case strings.HasPrefix(base, "manifest"):
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			entries, _ := m["files"].([]any)
			for _, e := range entries {
				if f, ok := e.(map[string]any); ok && f["kind"] == "report" {
					delete(f, "bytes")
					delete(f, "sha256")
				}
			}
			var err error
			if b, err = json.MarshalIndent(m, "", "  "); err != nil {
				t.Fatal(err)
			}
		}
		out[name] = b
	}
	return out
}

// firstDifference describes where two files part: the line number and both lines.
func firstDifference(want, got []byte) string {
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := range max(len(wl), len(gl)) {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n  want " + quote(w) + "\n  got  " + quote(g)
		}
	}
	return "same lines, different bytes"
}

func sortedKeys(m map[string][]byte) []string {
	names := keys(m)
	slices.Sort(names)
	return names
}

// checkExportContract checks what DESIGN §6 and the export layout promise of every
// export independently of the golden files: latest/ holds the three contract files and
// the manifest, CSVs are UTF-8 with BOM, ';'-delimited with the contract's leading
// columns, hold data rows; the manifest's sizes and checksums describe the files next
// to it, and each names its dated copy in archive/, byte for byte the same; no token
// anywhere.
func checkExportContract(t *testing.T, files map[string][]byte, tokens []string) {
	t.Helper()
	leading := map[string]string{
		"copilot_metrics":  "enterprise_id;scope_type;scope;date;daily_active_users;weekly_active_users;monthly_active_users;user_initiated_interactions;code_generations;code_acceptances;completion_acceptance_rate;loc_suggested_to_add;loc_added;seats_total;seats_active_30d",
		"dora_metrics":     "enterprise_id;scope_type;scope;week_start;deployments;deployment_days;lead_time_p50_hours;lead_time_p90_hours;change_failure_rate;recovery_time_p50_hours;rework_rate;performance_level;metric_version",
		"velocity_metrics": "enterprise_id;scope_type;scope;week_start;prs_opened;prs_merged;prs_closed_unmerged;pr_cycle_time_p50_hours;pickup_time_p50_hours;review_time_p50_hours;prs_merged_without_review;commits;active_contributors;workflow_runs;workflow_success_rate;metric_version",
	}
	raw, ok := files["latest/manifest.json"]
	if !ok {
		t.Fatalf("no latest/manifest.json among %v", sortedKeys(files))
	}
	for kind, header := range leading {
		name := "latest/" + kind + ".csv"
		b, ok := files[name]
		if !ok {
			t.Errorf("%s missing from %v", name, sortedKeys(files))
			continue
		}
		if !bytes.HasPrefix(b, []byte("\xEF\xBB\xBF"+header)) {
			first, _, _ := strings.Cut(string(b), "\n")
			t.Errorf("%s starts %q; want the BOM and the contract's leading columns", name, first)
		}
		if n := bytes.Count(b, []byte("\n")); n < 2 {
			t.Errorf("%s has %d lines; want a header and data rows", name, n)
		}
	}
	var manifest struct {
		ExportDate string `json:"export_date"`
		Files      []struct {
			Name            string             `json:"name"`
			Archive         string             `json:"archive"`
			Rows            int64              `json:"rows"`
			Bytes           int64              `json:"bytes"`
			SHA256          string             `json:"sha256"`
			CompleteThrough map[string]*string `json:"complete_through"`
		} `json:"files"`
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatalf("latest/manifest.json: %v", err)
	}
	latest := latestOf(files)
	if len(manifest.Files) != len(latest)-1 {
		t.Errorf("manifest lists %d files; latest/ holds %d besides it", len(manifest.Files), len(latest)-1)
	}
	dated := "archive/" + manifest.ExportDate + "/manifest_" + strings.ReplaceAll(manifest.ExportDate, "-", "") + ".json"
	if !bytes.Equal(files[dated], raw) {
		t.Errorf("%s differs from latest/manifest.json", dated)
	}
	for _, f := range manifest.Files {
		b, ok := files["latest/"+f.Name]
		if !ok {
			t.Errorf("manifest lists %s, which is not in latest/", f.Name)
			continue
		}
		sum := sha256.Sum256(b)
		if int64(len(b)) != f.Bytes || hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Errorf("%s: %d bytes, sha256 %x; the manifest says %d bytes, %s", f.Name, len(b), sum, f.Bytes, f.SHA256)
		}
		if lines := int64(bytes.Count(b, []byte("\n"))); lines < f.Rows+1 {
			t.Errorf("%s: %d lines for %d rows and a header", f.Name, lines, f.Rows)
		}
		if !bytes.Equal(files[f.Archive], b) {
			t.Errorf("%s: its dated copy %s is missing or differs", f.Name, f.Archive)
		}
		if f.Name == "report.html" {
			// The report is a page, not data: its freshness is on it, not in the manifest.
			if !bytes.HasPrefix(b, []byte("<!DOCTYPE html>")) || bytes.Contains(b, []byte("<script")) || !bytes.Contains(b, []byte(`id="dora"`)) {
				t.Errorf("report.html is not the self-contained report page")
			}
			continue
		}
		if len(f.CompleteThrough) == 0 {
			t.Errorf("%s: the manifest says nothing of how complete its data is", f.Name)
		}
	}
	for name, b := range files {
		for _, tok := range tokens {
			if bytes.Contains(b, []byte(tok)) {
				t.Errorf("%s contains a GitHub token", name)
			}
		}
	}
}

// checkNoLitter fails when the export folder holds anything but the layout's finished
// files (temp files of an interrupted write, probes, files outside latest/ and
// archive/).
func checkNoLitter(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		top, _, _ := strings.Cut(rel, "/")
		if strings.HasPrefix(d.Name(), ".") || (top != "latest" && top != "archive") {
			t.Errorf("export folder holds %q besides the exported files", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
