package config

import (
	"strings"
	"testing"
)

func TestOrchestratorBudgetThatCanNeverCallAStageIsRefused(t *testing.T) {
	for _, c := range []struct {
		budget, stage string
		ok            bool
	}{
		{"24", "", false}, // the 15 s reserve leaves 9 s: below the 10 s a call needs
		{"10", "", false},
		{"29", "", false}, // 5 s to start, 15 s reserve, 10 s call
		{"30", "", true},
		{"25", "5", true}, // a 5 s stage budget needs 5 + 15 + 5
		{"24", "5", false},
		{"540", "", true},
	} {
		m := valid()
		m["ORCHESTRATOR_BUDGET_SECONDS"] = c.budget
		if c.stage != "" {
			m["STAGE_BUDGET_SECONDS"] = c.stage
		}
		_, err := Parse(env(m))
		if c.ok != (err == nil) {
			t.Errorf("budget %s, stage %q: err = %v, want ok=%v", c.budget, c.stage, err, c.ok)
		}
		if err != nil && (!strings.Contains(err.Error(), "ORCHESTRATOR_BUDGET_SECONDS: "+c.budget) || !strings.Contains(err.Error(), "set at least")) {
			t.Errorf("budget %s: %v; want the setting named with the fix", c.budget, err)
		}
	}
}

func TestScheduleAndRetentionDefaults(t *testing.T) {
	c, err := Parse(env(valid()))
	if err != nil {
		t.Fatal(err)
	}
	if c.OrchestratorSchedule != DefaultSchedule || c.SharePointRetentionDays != 35 {
		t.Errorf("schedule %q, SharePoint retention %d", c.OrchestratorSchedule, c.SharePointRetentionDays)
	}
	m := valid()
	m["ORCHESTRATOR_SCHEDULE"] = "0 0 6 * *"
	m["SHAREPOINT_RETENTION_DAYS"] = "0"
	_, err = Parse(env(m))
	for _, want := range []string{"ORCHESTRATOR_SCHEDULE: \"0 0 6 * *\" has 5 fields", "SHAREPOINT_RETENTION_DAYS: \"0\" must be a whole number between 1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

func TestSchedulePerDay(t *testing.T) {
	for expr, want := range map[string]int{
		DefaultSchedule:        108, // 06:00 … 23:50
		"0 0 6 * * *":          1,
		"0 */10 * * * *":       144,
		"0 0,30 6-7 * * MON":   4,
		"*/30 5/20 22 * * *":   6, // seconds 0, 30 × minutes 5, 25, 45
		"0 15 6-23/6 * * *":    3, // 06:15, 12:15, 18:15
		"0 0 6,6 * * *":        1,
		"0 0-59/15 0-1 * * *":  8,
		"0 0 6 1 JAN-DEC *":    1,
		"0 0 23 * * SUN":       1,
		"0 */10 6-23 * * 1-5":  108,
		"30 */5 6-23/2 * * *":  108,
		"0 0/10 6-23 * * *":    108,
		"0 1-59/10 6-23 * * *": 108,
	} {
		got, err := SchedulePerDay(expr)
		if err != nil || got != want {
			t.Errorf("SchedulePerDay(%q) = %d, %v; want %d", expr, got, err, want)
		}
	}
}

func TestAppAuth(t *testing.T) {
	m := valid()
	m["COLLECTOR_ENTERPRISES"] = `[{"id":"ent1","enterprise":"contoso","orgs":["contoso-web","contoso-data"],"token_secret":"github-pat-ent1",
		"auth":{"client_id":"Iv23liAbC","private_key_secret":"github-app-key-ent1","installations":{"contoso-web":42}}}]`
	c, err := Parse(env(m))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Enterprises[0].Auth
	if a == nil || a.Issuer() != "Iv23liAbC" || a.Installations["contoso-web"] != 42 {
		t.Fatalf("auth = %+v", a)
	}
	if (AppAuth{AppID: 123}).Issuer() != "123" {
		t.Error("an app id is the issuer when no client id is given")
	}
	// Organizations only: no PAT needed.
	m["COLLECTOR_ENTERPRISES"] = `[{"id":"ent1","orgs":["contoso-web"],"auth":{"app_id":7,"private_key_secret":"k"}}]`
	if _, err := Parse(env(m)); err != nil {
		t.Fatalf("app auth for organizations only: %v", err)
	}

	for raw, want := range map[string]string{
		`{"id":"e","orgs":["o"],"auth":{"private_key_secret":"k"}}`:                                    "COLLECTOR_ENTERPRISES[0].auth.app_id: the GitHub App needs its app_id",
		`{"id":"e","orgs":["o"],"auth":{"app_id":-3,"private_key_secret":"k"}}`:                        "auth.app_id: -3 is not an app id",
		`{"id":"e","orgs":["o"],"auth":{"app_id":3}}`:                                                  "auth.private_key_secret: not set",
		`{"id":"e","orgs":["o"],"auth":{"app_id":3,"private_key_secret":"my key.pem"}}`:                "auth.private_key_secret: \"my key.pem\" is not a secret name",
		`{"id":"e","orgs":["o"],"auth":{"app_id":3,"private_key_secret":"k","installations":{"x":1}}}`: "auth.installations.x: \"x\" is not one of this entry's orgs",
		`{"id":"e","orgs":["o"],"auth":{"app_id":3,"private_key_secret":"k","installations":{"o":0}}}`: "auth.installations.o: 0 is not an installation id",
		`{"id":"e","enterprise":"contoso","orgs":["o"],"auth":{"app_id":3,"private_key_secret":"k"}}`:  "COLLECTOR_ENTERPRISES[0].token_secret: enterprise \"contoso\" is set",
		`{"id":"e","enterprise":"contoso","auth":{"app_id":3,"private_key_secret":"k"}}`:               "COLLECTOR_ENTERPRISES[0].auth: a GitHub App is installed on organizations",
		`{"id":"e","orgs":["o"],"auth":{"app_id":3,"private_key_secret":"k","key":"x"}}`:               `unknown field "key"`,
		`{"id":"e","orgs":["o"],"token_secret":"pat/1"}`:                                               "token_secret: \"pat/1\" is not a secret name",
	} {
		m["COLLECTOR_ENTERPRISES"] = "[" + raw + "]"
		_, err := Parse(env(m))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", raw, err, want)
		}
	}
}
