package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"metrics-collector/internal/metrics"
)

func TestInsightsDefaults(t *testing.T) {
	c, err := Parse(env(valid()))
	if err != nil {
		t.Fatal(err)
	}
	if c.ImpactMinAuthors != 5 || !c.ExportUserLevel {
		t.Errorf("min authors %d, user level %v; want 5, true", c.ImpactMinAuthors, c.ExportUserLevel)
	}
	if diff := cmp.Diff(metrics.DefaultSeatPrices(), c.SeatPrices); diff != "" {
		t.Errorf("seat prices (-want +got):\n%s", diff)
	}
	if e := c.Enterprises[0]; e.Teams.Enabled() || e.TeamRepositories.Enabled() {
		t.Errorf("teams are collected only when configured: %+v %+v", e.Teams, e.TeamRepositories)
	}
	m := valid()
	m["COLLECTOR_ENTERPRISES"] = `[{"id":"ent1","orgs":["a"],"token_secret":"s","teams":"","team_repositories":""}]`
	if c, err := Parse(env(m)); err != nil || c.Enterprises[0].Teams.Enabled() || c.Enterprises[0].TeamRepositories.Enabled() {
		t.Errorf("empty team settings: %v; want none", err)
	}
}

func TestInsightsSettings(t *testing.T) {
	m := valid()
	m["COPILOT_IMPACT_MIN_AUTHORS"] = "10"
	m["COPILOT_SEAT_PRICES"] = `{"business": 21.5, "currency": "EUR"}`
	m["EXPORT_USER_LEVEL"] = "false"
	m["COLLECTOR_ENTERPRISES"] = `[{"id":"ent1","orgs":["contoso-web","contoso-data"],"token_secret":"s",
		"teams":["contoso-web/platform","Contoso-Data/ml"],
		"team_repositories":{"contoso-web/platform":["api","contoso-data/models"]}}]`
	c, err := Parse(env(m))
	if err != nil {
		t.Fatal(err)
	}
	want := metrics.SeatPrices{Currency: "EUR", Monthly: map[string]float64{"business": 21.5, "enterprise": 39}}
	if diff := cmp.Diff(want, c.SeatPrices); diff != "" {
		t.Errorf("prices: a plan not given keeps its default (-want +got):\n%s", diff)
	}
	if c.ImpactMinAuthors != 10 || c.ExportUserLevel {
		t.Errorf("min authors %d, user level %v", c.ImpactMinAuthors, c.ExportUserLevel)
	}
	e := c.Enterprises[0]
	if !e.Teams.Wants("contoso-data", "ML") || e.Teams.Wants("contoso-web", "data") {
		t.Errorf("teams %+v", e.Teams)
	}
	repos, ok := e.TeamRepositories.Repos("contoso-web", "platform")
	if !ok || !cmp.Equal(repos, []string{"contoso-web/api", "contoso-data/models"}) {
		t.Errorf("team repositories %v %v", repos, ok)
	}
	if _, ok := e.TeamRepositories.Repos("contoso-data", "ml"); ok {
		t.Error("a team the map does not name has no repositories")
	}

	m["COLLECTOR_ENTERPRISES"] = `[{"id":"ent1","orgs":["contoso-web"],"token_secret":"s","teams":"all","team_repositories":"permissions"}]`
	c, err = Parse(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if e := c.Enterprises[0]; !e.Teams.All || !e.Teams.Wants("contoso-web", "anything") || !e.TeamRepositories.FromPermissions {
		t.Errorf("all teams, from permissions: %+v %+v", e.Teams, e.TeamRepositories)
	}
}

func TestInsightsErrorsNameTheSetting(t *testing.T) {
	ent := func(extra string) string {
		return `[{"id":"ent1","orgs":["contoso-web"],"token_secret":"s"` + extra + `}]`
	}
	for _, tc := range []struct {
		set  map[string]string
		want string
	}{
		{map[string]string{"COPILOT_IMPACT_MIN_AUTHORS": "0"}, "COPILOT_IMPACT_MIN_AUTHORS: \"0\" must be a whole number between 1 and 1000"},
		{map[string]string{"COPILOT_IMPACT_MIN_AUTHORS": "five"}, "COPILOT_IMPACT_MIN_AUTHORS"},
		{map[string]string{"EXPORT_USER_LEVEL": "maybe"}, "EXPORT_USER_LEVEL: \"maybe\" must be true or false"},
		{map[string]string{"COPILOT_SEAT_PRICES": "19"}, "COPILOT_SEAT_PRICES: not a JSON object"},
		{map[string]string{"COPILOT_SEAT_PRICES": `{"business": "cheap"}`}, "COPILOT_SEAT_PRICES: business: \"\\\"cheap\\\"\" is not a number"},
		{map[string]string{"COPILOT_SEAT_PRICES": `{"business": -19}`}, "COPILOT_SEAT_PRICES: business: -19 is not a price"},
		{map[string]string{"COPILOT_SEAT_PRICES": `{"currency": "dollars"}`}, "COPILOT_SEAT_PRICES: currency: \"dollars\""},
		{map[string]string{"COLLECTOR_ENTERPRISES": ent(`,"teams":"some"`)}, `teams: "some" must be "all"`},
		{map[string]string{"COLLECTOR_ENTERPRISES": ent(`,"teams":["platform"]`)}, `COLLECTOR_ENTERPRISES[0].teams[0]: "platform" is not "org/team-slug"`},
		{map[string]string{"COLLECTOR_ENTERPRISES": ent(`,"teams":["other-org/platform"]`)}, "COLLECTOR_ENTERPRISES[0].teams[0]: \"other-org/platform\": organization other-org is not in orgs"},
		{map[string]string{"COLLECTOR_ENTERPRISES": `[{"id":"ent1","enterprise":"contoso","token_secret":"s","teams":"all"}]`}, "COLLECTOR_ENTERPRISES[0].teams: teams belong to organizations"},
		{map[string]string{"COLLECTOR_ENTERPRISES": ent(`,"team_repositories":"permissions"`)}, "COLLECTOR_ENTERPRISES[0].team_repositories: needs teams"},
		{map[string]string{"COLLECTOR_ENTERPRISES": ent(`,"teams":"all","team_repositories":"owners"`)}, `team_repositories: "owners" must be "permissions"`},
		{map[string]string{"COLLECTOR_ENTERPRISES": ent(`,"teams":["contoso-web/a"],"team_repositories":{"contoso-web/b":["api"]}`)}, `COLLECTOR_ENTERPRISES[0].team_repositories["contoso-web/b"]: team contoso-web/b is not collected`},
		{map[string]string{"COLLECTOR_ENTERPRISES": ent(`,"teams":"all","team_repositories":{"contoso-web/a":["x/y/z"]}`)}, `COLLECTOR_ENTERPRISES[0].team_repositories["contoso-web/a"][0]: "x/y/z" is not a repository`},
	} {
		m := valid()
		for k, v := range tc.set {
			m[k] = v
		}
		_, err := Parse(env(m))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want it to contain %q", tc.set, err, tc.want)
		}
	}
}

// local.settings.json.example shows every setting, the issue 16 ones included, with
// values the service accepts.
func TestExampleSettingsAreValid(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "local.settings.json.example"))
	if err != nil {
		t.Fatal(err)
	}
	var local struct {
		Values map[string]string `json:"Values"`
	}
	if err := json.Unmarshal(data, &local); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"COPILOT_IMPACT_MIN_AUTHORS", "COPILOT_SEAT_PRICES", "EXPORT_USER_LEVEL"} {
		if _, ok := local.Values[name]; !ok {
			t.Errorf("the example does not show %s", name)
		}
	}
	c, err := Parse(func(k string) string { return local.Values[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !c.Enterprises[0].Teams.All || !c.Enterprises[0].TeamRepositories.FromPermissions || c.ImpactMinAuthors != 5 {
		t.Errorf("example parsed as %+v", c.Enterprises[0])
	}
}
