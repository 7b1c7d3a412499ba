package demo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"metrics-collector/internal/githubsim"
	"metrics-collector/internal/postgres/pgtest"
)

// TestDemoWithGitHubApp runs `metrics-collector demo -app` on a small world: the
// organizations are read with installation tokens, the enterprises with the PAT, the
// files reach the SharePoint fake, and the summary says when each kind was delivered.
func TestDemoWithGitHubApp(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "metrics-collector")
	build := exec.Command("go", "build", "-o", exe, "../../handler")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the handler: %v\n%s", err, out)
	}
	cfg := githubsim.DemoConfig(time.Now().UTC())
	cfg.HistoryDays = 30
	for i := range cfg.Enterprises {
		for j := range cfg.Enterprises[i].Orgs {
			cfg.Enterprises[i].Orgs[j].Repos = 3
			cfg.Enterprises[i].Orgs[j].BusyRepo = false
		}
	}
	var out strings.Builder
	dbURL := pgtest.NewDatabase(t)
	sum, err := Run(t.Context(), Options{
		Dir: filepath.Join(dir, "demo"), Executable: exe, Sim: &cfg, Out: &out, App: true,
		Getenv: func(k string) string {
			if k == "DATABASE_URL" {
				return dbURL
			}
			return os.Getenv(k)
		},
	})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	if sum.Status != "succeeded" || sum.InstallationTokens < 4 || sum.InstallationRequests == 0 || sum.PATRequests == 0 {
		t.Errorf("summary %+v", sum)
	}
	var kinds []string
	for _, d := range sum.Deliveries {
		kinds = append(kinds, d.Kind)
		if d.Invocation < 1 {
			t.Errorf("delivery %+v names no invocation", d)
		}
	}
	slices.Sort(kinds)
	if fmt.Sprint(kinds) != "[copilot_idle_seats copilot_impact copilot_metrics copilot_seat_utilisation copilot_seats copilot_user_metrics dora_metrics dora_rolling velocity_metrics]" {
		t.Errorf("deliveries %v", sum.Deliveries)
	}
	if !slices.Contains(sum.SharePointFiles, "metrics/latest/manifest.json") {
		t.Errorf("SharePoint files %v", sum.SharePointFiles)
	}
	for _, want := range []string{"GitHub App Iv23liDemoApp installed on 4 organizations", "delivered to SharePoint latest/", "installation tokens minted"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
