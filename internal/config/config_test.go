package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func valid() map[string]string {
	return map[string]string{
		"DATABASE_URL":          "postgres://collector@127.0.0.1:5432/metrics?sslmode=disable",
		"COLLECTOR_ENTERPRISES": `[{"id":"ent1","enterprise":"contoso","orgs":["contoso-web"],"token_secret":"github-pat-ent1"}]`,
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse(env(valid()))
	if err != nil {
		t.Fatal(err)
	}
	e := c.Enterprises[0]
	if c.Port != "8080" || c.StageBaseURL != "http://127.0.0.1:8080" || c.StageBudget != 150*time.Second ||
		c.RecomputeWeeks != 12 || c.FailureWindow != 7*24*time.Hour || c.ThresholdsVersion != "2024" ||
		c.SharePoint.Enabled() || c.OrchestratorBudget != 9*time.Minute {
		t.Errorf("defaults: %+v", c)
	}
	if e.APIURL != "https://api.github.com/" || e.DeploymentSignal != SignalDeployments || e.CopilotBackfillDays != 28 ||
		e.RepoShards != 1 || e.RepoAPI != RepoAPIGraphQL || len(e.IncidentLabels) != 1 || e.IncidentLabels[0] != "incident" || e.MaxRequestsPerSecond != 10 {
		t.Errorf("enterprise defaults: %+v", e)
	}
	// Services and regions named after production are production too (metric_version 2;
	// the old default left prod-eu out).
	for env, want := range map[string]bool{"production": true, "Prod": true, "PRODUCTION": true, "staging": false,
		"prod-eu": true, "production/api": true, "Production EU": true, "prod_us": true,
		"preprod": false, "production2": false, "productionish": false, "pre-production": false} {
		if got := e.IsProduction(env); got != want {
			t.Errorf("IsProduction(%q) = %v, want %v", env, got, want)
		}
	}
	if e.RolloutWindow() != 24*time.Hour {
		t.Errorf("rollout window = %s, want 24h", e.RolloutWindow())
	}
	if !e.HotfixRE().MatchString("Hotfix: null check") {
		t.Error("default hotfix pattern misses a hotfix title")
	}
}

func TestPortFromHost(t *testing.T) {
	m := valid()
	m["FUNCTIONS_CUSTOMHANDLER_PORT"] = "7071"
	c, err := Parse(env(m))
	if err != nil || c.Port != "7071" || c.StageBaseURL != "http://127.0.0.1:7071" {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestErrorsNameTheVariable(t *testing.T) {
	cases := []struct {
		set  map[string]string
		want string
	}{
		{map[string]string{"DATABASE_URL": ""}, "DATABASE_URL: not set"},
		{map[string]string{"DATABASE_URL": "mysql://x"}, "DATABASE_URL: not a postgres:// URL"},
		{map[string]string{"DATABASE_URL": "postgres://u:pw@db.example.com/x"}, "DATABASE_URL: host db.example.com is not loopback"},
		{map[string]string{"DATABASE_URL": "postgres://u:pw@db.example.com/x?sslmode=disable"}, "sslmode=verify-full"},
		{map[string]string{"COLLECTOR_ENTERPRISES": ""}, "COLLECTOR_ENTERPRISES: not set"},
		{map[string]string{"COLLECTOR_ENTERPRISES": "{"}, "COLLECTOR_ENTERPRISES: not a JSON array"},
		{map[string]string{"COLLECTOR_ENTERPRISES": "[]"}, "COLLECTOR_ENTERPRISES: the array is empty"},
		{map[string]string{"COLLECTOR_ENTERPRISES": `[{"id":"ent1","orgs":["a"],"token_secret":"s","tokn":"x"}]`}, `unknown field "tokn"`},
		{map[string]string{"COLLECTOR_ENTERPRISES": `[{"id":"Ent 1","orgs":["a"],"token_secret":"s"}]`}, "COLLECTOR_ENTERPRISES[0].id"},
		{map[string]string{"COLLECTOR_ENTERPRISES": `[{"id":"a","orgs":["x"],"token_secret":"s"},{"id":"a","orgs":["y"],"token_secret":"s"}]`}, "COLLECTOR_ENTERPRISES[1].id: \"a\" is configured twice"},
		{map[string]string{"COLLECTOR_ENTERPRISES": `[{"id":"a","token_secret":"s"}]`}, "COLLECTOR_ENTERPRISES[0].orgs"},
		{map[string]string{"COLLECTOR_ENTERPRISES": `[{"id":"a","orgs":["x/y"],"token_secret":"s"}]`}, "COLLECTOR_ENTERPRISES[0].orgs[0]"},
		{map[string]string{"COLLECTOR_ENTERPRISES": `[{"id":"a","orgs":["x"]}]`}, "COLLECTOR_ENTERPRISES[0].token_secret"},
		{map[string]string{"COLLECTOR_ENTERPRISES": `[{"id":"a","orgs":["x"],"token_secret":"s","api_url":"http://api.example.com/"}]`}, "COLLECTOR_ENTERPRISES[0].api_url"},
		{map[string]string{"COLLECTOR_ENTERPRISES": `[{"id":"a","orgs":["x"],"token_secret":"s","deployment_signal":"releases"}]`}, "COLLECTOR_ENTERPRISES[0].deployment_signal"},
		{map[string]string{"COLLECTOR_ENTERPRISES": `[{"id":"a","orgs":["x"],"token_secret":"s","deployment_signal":"workflows"}]`}, "COLLECTOR_ENTERPRISES[0].deploy_workflows"},
		{map[string]string{"COLLECTOR_ENTERPRISES": `[{"id":"a","orgs":["x"],"token_secret":"s","production_pattern":"(["}]`}, "COLLECTOR_ENTERPRISES[0].production_pattern"},
		{map[string]string{"COLLECTOR_ENTERPRISES": `[{"id":"a","orgs":["x"],"token_secret":"s","repo_shards":99}]`}, "COLLECTOR_ENTERPRISES[0].repo_shards"},
		{map[string]string{"COLLECTOR_ENTERPRISES": `[{"id":"a","orgs":["x"],"token_secret":"s","repo_api":"soap"}]`}, "COLLECTOR_ENTERPRISES[0].repo_api"},
		{map[string]string{"COLLECTOR_ENTERPRISES": `[{"id":"a","orgs":["x"],"token_secret":"s","rollout_window_hours":-1}]`}, "COLLECTOR_ENTERPRISES[0].rollout_window_hours: -1 must be between 0"},
		{map[string]string{"COLLECTOR_ENTERPRISES": `[{"id":"a","orgs":["x"],"token_secret":"s","copilot_backfill_days":400}]`}, "COLLECTOR_ENTERPRISES[0].copilot_backfill_days"},
		{map[string]string{"COLLECTOR_ENTERPRISES": `[{"id":"a","orgs":["x"],"token_secret":"s","max_requests_per_second":5000}]`}, "COLLECTOR_ENTERPRISES[0].max_requests_per_second"},
		{map[string]string{"COLLECTOR_ENTERPRISES": `[{"id":"a","orgs":["x"],"token_secret":"s","copilot_download_hosts":["https://copilot-reports.github.com/"]}]`}, "COLLECTOR_ENTERPRISES[0].copilot_download_hosts[0]"},
		{map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "eighty"}, "FUNCTIONS_CUSTOMHANDLER_PORT"},
		{map[string]string{"STAGE_BASE_URL": "ftp://x"}, "STAGE_BASE_URL"},
		{map[string]string{"STAGE_BUDGET_SECONDS": "600"}, "STAGE_BUDGET_SECONDS: \"600\" must be a whole number of seconds between 5 and 200"},
		{map[string]string{"ORCHESTRATOR_BUDGET_SECONDS": "x"}, "ORCHESTRATOR_BUDGET_SECONDS"},
		{map[string]string{"RECOMPUTE_WEEKS": "0"}, "RECOMPUTE_WEEKS"},
		{map[string]string{"CHANGE_FAILURE_WINDOW_DAYS": "365"}, "CHANGE_FAILURE_WINDOW_DAYS"},
		{map[string]string{"EXPORT_RETENTION_DAYS": "-1"}, "EXPORT_RETENTION_DAYS"},
		{map[string]string{"ENTERPRISE_PARALLELISM": "100"}, "ENTERPRISE_PARALLELISM"},
		{map[string]string{"KEY_VAULT_URI": "http://vault"}, "KEY_VAULT_URI"},
		{map[string]string{"SHAREPOINT_SITE_ID": "site"}, "SHAREPOINT_DRIVE_ID"},
		{map[string]string{"GRAPH_API_URL": "http://graph.example.com"}, "GRAPH_API_URL"},
		{map[string]string{"GRAPH_CLIENT_ID": "app"}, "GRAPH_CLIENT_ID"},
		{map[string]string{"DORA_THRESHOLDS": "2019"}, "DORA_THRESHOLDS"},
		{map[string]string{"REPORT_DOCS_URL": "http://wiki.example.com/metrics"}, "REPORT_DOCS_URL"},
	}
	for _, tc := range cases {
		m := valid()
		for k, v := range tc.set {
			m[k] = v
		}
		_, err := Parse(env(m))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("with %v: error %v, want it to contain %q", tc.set, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), ":pw@") {
			t.Errorf("error echoes the database password: %v", err)
		}
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	_, err := Parse(env(map[string]string{"STAGE_BUDGET_SECONDS": "1"}))
	for _, v := range []string{"DATABASE_URL", "COLLECTOR_ENTERPRISES", "STAGE_BUDGET_SECONDS"} {
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("error %v does not report %s", err, v)
		}
	}
}

func TestLoopbackAllowsPlainText(t *testing.T) {
	for _, u := range []string{"postgres://u@localhost/x", "postgres://u@127.0.0.1/x?sslmode=disable", "postgres://u@[::1]:5432/x", "postgres://u@db.example.com/x?sslmode=verify-full"} {
		m := valid()
		m["DATABASE_URL"] = u
		if _, err := Parse(env(m)); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	m := valid()
	m["COLLECTOR_ENTERPRISES"] = `[{"id":"sim","orgs":["x"],"token_secret":"s","api_url":"http://127.0.0.1:9999"}]`
	c, err := Parse(env(m))
	if err != nil || c.Enterprises[0].APIURL != "http://127.0.0.1:9999/" {
		t.Errorf("loopback simulator URL: %+v %v", c.Enterprises, err)
	}
}

// TestTransportSecurity: a credential never travels in clear or to an unverified
// server. The database rules look at the connection settings as pgx parses them (every
// host, fallbacks included), not at the URL's host.
func TestTransportSecurity(t *testing.T) {
	refused := []struct {
		variable, value, want string
	}{
		{"STAGE_BASE_URL", "http://myapp.azurewebsites.net", "STAGE_BASE_URL: \"http://myapp.azurewebsites.net\" is plain http to a host that is not loopback"},
		{"STAGE_BASE_URL", "http://10.0.0.4:8080", "use https://"},
		{"DATABASE_URL", "postgres://u:pw@127.0.0.1/x?host=db.example.com&sslmode=disable", "DATABASE_URL: host db.example.com is not loopback"},
		{"DATABASE_URL", "postgres://u:pw@127.0.0.1/x?host=db.example.com&sslmode=require", "host db.example.com"},
		{"DATABASE_URL", "postgres://u:pw@db.example.com/x?sslmode=require", "does not verify the server's certificate"},
		{"DATABASE_URL", "postgres://u:pw@db.example.com/x?sslmode=verify-ca", "sslmode=verify-full"},
		{"DATABASE_URL", "postgres://u:pw@db.example.com/x?sslmode=prefer", "sslmode=verify-full"},
		{"DATABASE_URL", "postgres://u:pw@db.example.com/x?sslmode=allow", "sslmode=verify-full"},
		{"DATABASE_URL", "postgres://u:pw@127.0.0.1:5432,db.example.com:5432/x?sslmode=disable", "host db.example.com"},
		{"DATABASE_URL", "postgres://u:pw@db.example.com/x?sslmode=verify-full&sslrootcert=/nonexistent/root.crt", "DATABASE_URL: cannot be used"},
		{"DATABASE_URL", "postgres://u:pw@db.example.com/x?sslmode=sometimes", "DATABASE_URL: cannot be used"},
	}
	for _, tc := range refused {
		m := valid()
		m[tc.variable] = tc.value
		_, err := Parse(env(m))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: error %v, want it to contain %q", tc.variable, tc.value, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), ":pw@") {
			t.Errorf("error echoes the database password: %v", err)
		}
	}
	accepted := []struct{ variable, value string }{
		{"STAGE_BASE_URL", "https://myapp.azurewebsites.net"},
		{"STAGE_BASE_URL", "http://127.0.0.1:7071"},
		{"STAGE_BASE_URL", "http://localhost:7071"},
		{"DATABASE_URL", "postgres://u@127.0.0.1/x?host=db.example.com&sslmode=verify-full"},
		{"DATABASE_URL", "postgres://u@db.example.com/x?sslmode=require&sslrootcert=system"}, // pgx: system roots mean verify-full
		{"DATABASE_URL", "postgres://u@127.0.0.1:5432,[::1]:5433/x?sslmode=disable"},
		{"DATABASE_URL", "postgres://u@/x?host=/var/run/postgresql"}, // a Unix socket
	}
	for _, tc := range accepted {
		m := valid()
		m[tc.variable] = tc.value
		if _, err := Parse(env(m)); err != nil {
			t.Errorf("%s=%s: %v", tc.variable, tc.value, err)
		}
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	m := valid()
	m["DATABASE_URL"] = "postgres://u:hunter2-db-secret@127.0.0.1/x"
	m["STAGE_FUNCTION_KEY"] = "function-key-value-123"
	m["APPLICATIONINSIGHTS_CONNECTION_STRING"] = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://x/"
	c, err := Parse(env(m))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "db", c.DatabaseURL, "key", c.StageFunctionKey, "ai", c.AppInsights)
	raw, _ := json.Marshal(c)
	printed := fmt.Sprintf("%v %+v %s %s", c, c, raw, buf.String())
	for _, secret := range []string{"hunter2-db-secret", "function-key-value-123", "00000000-0000-0000-0000-000000000000"} {
		if strings.Contains(printed, secret) {
			t.Errorf("a secret is printed: %s", secret)
		}
	}
	if c.DatabaseURL.Value() != m["DATABASE_URL"] {
		t.Error("Value() must return the secret itself")
	}
}
