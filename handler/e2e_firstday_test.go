package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"metrics-collector/internal/config"
	"metrics-collector/internal/sharepoint/graphfake"
)

// TestE2EFirstDayUnderTheDefaultSchedule is the first day of an install whose
// repository back-fill outlasts an invocation, through the real binary, with
// SharePoint (the Graph fake) configured: the timer fires at each occurrence of the
// default schedule (every 10 minutes from 06:00, fired here back to back); the first
// invocation delivers the Copilot files — the seat utilisation and the idle seats
// (calculate_copilot) among them — while the back-fill goes on; DORA and velocity
// follow when the repositories are done; the run finishes the date it started, and
// the later occurrences answer "already finished". SharePoint and EXPORT_DIR get the
// latest/ + archive/ layout, and archive folders older than SHAREPOINT_RETENTION_DAYS
// go.
//
// Scaled down so it takes seconds instead of hours: the orchestrator's budget is 40 s
// (the smallest accepted is 30: 5 s to start, 15 s reserve, a 10 s call) and each
// token is paced at 15 requests/s (the Copilot and the repository collection share it),
// so the back-fill of this small world needs several invocations, as 2 × 1,000
// repositories need under 5,000 requests/h and the default 540 s budget
// (docs/deploy.md, "The first day").
func TestE2EFirstDayUnderTheDefaultSchedule(t *testing.T) {
	now := time.Now().UTC()
	occurrences, err := config.SchedulePerDay(config.DefaultSchedule)
	if err != nil {
		t.Fatal(err)
	}
	if now.Add(15*time.Minute).Day() != now.Day() {
		t.Skip("too close to UTC midnight: the run's date would change under it")
	}
	settings, tokens, _ := e2eWorld(t, now)
	settings["COLLECTOR_ENTERPRISES"] = withEnterpriseOption(t, settings["COLLECTOR_ENTERPRISES"], "max_requests_per_second", 15)
	// A week of Copilot reports against 30 days of repository activity: as in a large
	// estate, the Copilot collection is small beside the repository back-fill.
	settings["COLLECTOR_ENTERPRISES"] = withEnterpriseOption(t, settings["COLLECTOR_ENTERPRISES"], "copilot_backfill_days", 7)
	// Without teams (issue 16): every team is a unit of collect_copilot, and a stage call
	// of this scaled-down budget does about one unit, so the world's 16 teams would hold
	// the Copilot collection past the first invocation — a budget artefact of the test,
	// not of the default 540 s budget, where a call lists an org's teams in seconds.
	settings["COLLECTOR_ENTERPRISES"] = withEnterpriseOption(t, settings["COLLECTOR_ENTERPRISES"], "teams", nil)
	settings["COLLECTOR_ENTERPRISES"] = withEnterpriseOption(t, settings["COLLECTOR_ENTERPRISES"], "team_repositories", nil)
	// Through REST (one request per pull request detail): the GraphQL collection (issue
	// 13) reads this small world in a few dozen requests, too few for a back-fill that
	// outlasts an invocation at any budget the service accepts.
	settings["COLLECTOR_ENTERPRISES"] = withEnterpriseOption(t, settings["COLLECTOR_ENTERPRISES"], "repo_api", "rest")
	settings["ORCHESTRATOR_BUDGET_SECONDS"] = "40"
	settings["SHAREPOINT_RETENTION_DAYS"] = "35"
	graph := graphfake.New()
	t.Cleanup(graph.Close)
	for k, v := range graph.Settings("metrics") {
		settings[k] = v
	}
	today := now.Truncate(24 * time.Hour)
	dir := settings["EXPORT_DIR"]
	// What earlier days left: dated folders 36 and 35 days old (the first goes, the
	// second is the oldest kept), and a folder that is not a date (kept).
	old, kept := today.AddDate(0, 0, -35).Format(time.DateOnly), today.AddDate(0, 0, -34).Format(time.DateOnly)
	for _, p := range []string{"archive/" + old + "/dora_metrics.csv", "archive/" + kept + "/dora_metrics.csv", "archive/notes/readme.txt"} {
		graph.Put("metrics/"+p, []byte("old"), now.AddDate(0, 0, -36))
		local := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(local, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	p := startHost(t, settings)
	waitReady(t, p.base)
	copilotKinds := []string{"copilot_metrics", "copilot_user_metrics", "copilot_seats", "copilot_seat_utilisation", "copilot_idle_seats"}
	firstRound := map[string][]byte{} // latest/ of the Copilot kinds after the first invocation
	var run runStatus
	invocations := 0
	for invocations < occurrences {
		env := envelopeLater
		if invocations == 0 {
			env = envelopeFirstRun
		}
		ans := fireTimer(t, p.base, env)
		invocations++
		if ans.Status != http.StatusOK {
			t.Fatalf("invocation %d answered %d: %v", invocations, ans.Status, ans.Logs)
		}
		run = latestRun(t, p.base)
		if invocations == 1 {
			// The first invocation: paused, the Copilot files delivered, not the others.
			if run.Status != "running" {
				t.Fatalf("the back-fill fitted in one invocation (run %s); the test needs a longer one", run.Status)
			}
			logs := strings.Join(ans.Logs, "\n")
			if !strings.Contains(logs, "delivered so far: "+strings.Join(copilotKinds, ", ")+"; ") {
				t.Errorf("the first invocation's answer does not say what it delivered:\n%s", logs)
			}
			local, remote := readExports(t, dir), graph.Files()
			for _, k := range copilotKinds {
				if _, ok := local["latest/"+k+".csv"]; !ok {
					t.Errorf("after the first invocation latest/%s.csv is not in EXPORT_DIR", k)
				}
				if !bytes.Equal(remote["metrics/latest/"+k+".csv"], local["latest/"+k+".csv"]) {
					t.Errorf("after the first invocation latest/%s.csv is not in SharePoint", k)
				}
				firstRound[k] = local["latest/"+k+".csv"]
			}
			// Seat utilisation of today's seat listings, for every enterprise, and the
			// idle seats: not empty files waiting for the repositories.
			for _, ent := range []string{"ent1", "ent2"} {
				if !bytes.Contains(firstRound["copilot_seat_utilisation"], []byte("\n"+ent+";enterprise;")) ||
					!bytes.Contains(firstRound["copilot_seat_utilisation"], []byte(";"+today.Format(time.DateOnly)+";")) {
					t.Errorf("the first round's copilot_seat_utilisation has no enterprise row of %s for %s:\n%s",
						ent, today.Format(time.DateOnly), firstRound["copilot_seat_utilisation"])
				}
				if !bytes.Contains(firstRound["copilot_idle_seats"], []byte("\n"+ent+";")) {
					t.Errorf("the first round's copilot_idle_seats has no idle seat of %s:\n%s", ent, firstRound["copilot_idle_seats"])
				}
			}
			for _, k := range []string{"dora_metrics", "velocity_metrics"} {
				if _, ok := remote["metrics/latest/"+k+".csv"]; ok {
					t.Errorf("%s delivered before the repositories were collected", k)
				}
			}
			var manifest struct {
				Pending []struct {
					Kind string `json:"kind"`
				} `json:"pending"`
			}
			var pending []string
			err := json.Unmarshal(remote["metrics/latest/manifest.json"], &manifest)
			for _, p := range manifest.Pending {
				pending = append(pending, p.Kind)
			}
			// Every kind computed from the repositories (DORA, velocity, rolling DORA) or
			// from both collections (impact cohorts) waits.
			wantPending := []string{"dora_metrics", "velocity_metrics", "copilot_impact", "dora_rolling"}
			if err != nil || !slices.Equal(pending, wantPending) {
				t.Errorf("the first manifest's pending kinds %v (%v); want %v", pending, err, wantPending)
			}
			var detail struct {
				Deliveries []struct{ Kind string } `json:"deliveries"`
				Steps      []struct {
					Stage      string `json:"stage"`
					Enterprise string `json:"enterprise"`
					Status     string `json:"status"`
				} `json:"steps"`
				Calls []struct {
					Stage      string `json:"stage"`
					Enterprise string `json:"enterprise"`
				} `json:"calls"`
			}
			getJSON(t, fmt.Sprintf("%s/api/runs/%d", p.base, run.ID), &detail)
			if len(detail.Deliveries) != len(copilotKinds)+1 {
				t.Errorf("run status lists deliveries %+v; want the five Copilot files and the report", detail.Deliveries)
			}
			// The Copilot calculation is a step and a stage call of the run like the others.
			var calcSteps, calcCalls []string
			for _, st := range detail.Steps {
				if st.Stage == "calculate_copilot" {
					calcSteps = append(calcSteps, st.Enterprise+" "+st.Status)
				}
			}
			for _, c := range detail.Calls {
				if c.Stage == "calculate_copilot" {
					calcCalls = append(calcCalls, c.Enterprise)
				}
			}
			slices.Sort(calcSteps)
			slices.Sort(calcCalls)
			if !slices.Equal(calcSteps, []string{"ent1 succeeded", "ent2 succeeded"}) || !slices.Equal(calcCalls, []string{"ent1", "ent2"}) {
				t.Errorf("calculate_copilot steps %v, calls %v; want one succeeded step and one call per enterprise", calcSteps, calcCalls)
			}
		}
		if run.Status != "running" {
			break
		}
	}
	if run.Status != "succeeded" {
		t.Fatalf("after %d invocations the run is %s: %s", invocations, run.Status, run.ErrorSummary)
	}
	if invocations < 2 {
		t.Fatalf("finished in %d invocation(s); the test needs a back-fill longer than one", invocations)
	}
	t.Logf("the run finished at invocation %d of the %d the default schedule gives a day", invocations, occurrences)
	var listed struct {
		Runs []struct {
			RunDate time.Time `json:"run_date"`
		} `json:"runs"`
	}
	getJSON(t, p.base+"/api/runs?limit=5", &listed)
	if len(listed.Runs) != 1 || !listed.Runs[0].RunDate.Equal(today) {
		t.Errorf("runs %+v: want one run, of %s", listed.Runs, today.Format(time.DateOnly))
	}

	// The next occurrence: nothing left but "already finished".
	ans := fireTimer(t, p.base, envelopeLater)
	if ans.Status != http.StatusOK || !strings.Contains(strings.Join(ans.Logs, " "), "already finished") {
		t.Errorf("the occurrence after the run finished: %d %v", ans.Status, ans.Logs)
	}
	p.stop(t)

	// Both places hold the layout: latest/ complete and equal, today's archive, the
	// pruned and the kept folders.
	local := readExports(t, dir)
	checkExportContract(t, local, tokens)
	remote := map[string][]byte{}
	for path, b := range graph.Files() {
		remote[strings.TrimPrefix(path, "metrics/")] = b
	}
	stamp := today.Format("20060102")
	for _, k := range append(slices.Clone(copilotKinds), "dora_metrics", "velocity_metrics") {
		for _, name := range []string{"latest/" + k + ".csv", "archive/" + today.Format(time.DateOnly) + "/" + k + "_" + stamp + ".csv"} {
			if !bytes.Equal(remote[name], local[name]) || len(local[name]) == 0 {
				t.Errorf("%s: SharePoint and EXPORT_DIR differ or lack it", name)
			}
		}
	}
	if !bytes.Equal(remote["latest/manifest.json"], local["latest/manifest.json"]) {
		t.Error("latest/manifest.json differs between SharePoint and EXPORT_DIR")
	}
	// Nothing after the Copilot round changed the seat figures: calculate_velocity no
	// longer writes them, and the last round re-exported the same bytes.
	for _, k := range []string{"copilot_seat_utilisation", "copilot_idle_seats"} {
		if !bytes.Equal(firstRound[k], local["latest/"+k+".csv"]) {
			t.Errorf("latest/%s.csv changed after the Copilot round", k)
		}
	}
	for where, files := range map[string]map[string][]byte{"SharePoint": remote, "EXPORT_DIR": local} {
		if _, ok := files["archive/"+old+"/dora_metrics.csv"]; ok {
			t.Errorf("%s: archive/%s (36 days old) was not pruned", where, old)
		}
		for _, keep := range []string{"archive/" + kept + "/dora_metrics.csv", "archive/notes/readme.txt"} {
			if _, ok := files[keep]; !ok {
				t.Errorf("%s: %s was deleted", where, keep)
			}
		}
	}
	var manifest struct {
		Pending []any `json:"pending"`
		Files   []struct {
			Kind            string            `json:"kind"`
			CompleteThrough map[string]string `json:"complete_through"`
		} `json:"files"`
	}
	if err := json.Unmarshal(remote["latest/manifest.json"], &manifest); err != nil {
		t.Fatal(err)
	}
	yesterday := today.AddDate(0, 0, -1).Format(time.DateOnly)
	for _, f := range manifest.Files {
		if f.Kind == "dora_metrics" && (f.CompleteThrough["ent1"] != yesterday || f.CompleteThrough["ent2"] != yesterday) {
			t.Errorf("dora_metrics complete through %v, want %s for both enterprises", f.CompleteThrough, yesterday)
		}
	}
	if len(manifest.Pending) != 0 {
		t.Errorf("the final manifest still lists pending kinds: %v", manifest.Pending)
	}
	var deletes []string
	for _, r := range graph.Requests() {
		if r.Method == http.MethodDelete {
			deletes = append(deletes, r.Path)
		}
	}
	if !slices.Equal(deletes, []string{"metrics/archive/" + old}) {
		t.Errorf("SharePoint deletions %v, want only metrics/archive/%s", deletes, old)
	}
}

// waitReady waits until the handler's app is built (a database route answers).
func waitReady(t *testing.T, base string) {
	t.Helper()
	for range 300 {
		resp, err := http.Get(base + "/api/runs?limit=1")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("handler not ready")
}
