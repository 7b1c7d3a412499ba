package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"metrics-collector/internal/githubsim"
)

// appWorld is childWorld with a GitHub App installed on every organization: each
// enterprise entry authenticates its organizations as the app (the first organization's
// installation configured, the second's looked up) and keeps its PAT for the
// enterprise's Copilot reports and seats. It returns the key's PEM too.
func appWorld(t *testing.T, now time.Time) (map[string]string, []string, *githubsim.Simulator, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	settings, tokens, sim := simSettingsWith(t, now, func(c *githubsim.Config) {
		for i := range c.Enterprises {
			c.Enterprises[i].Developers = 8
			c.Enterprises[i].CopilotUsers = 6
		}
		c.App = &githubsim.AppConfig{AppID: 4711, ClientID: "Iv23liE2Eapp", PublicKey: &key.PublicKey}
	})
	settings["COPILOT_IMPACT_MIN_AUTHORS"] = "2" // as e2eWorld, whose PAT run it is compared with
	var ents []map[string]any
	if err := json.Unmarshal([]byte(settings["COLLECTOR_ENTERPRISES"]), &ents); err != nil {
		t.Fatal(err)
	}
	installs := sim.Installations()
	for _, e := range ents {
		id := e["id"].(string)
		firstOrg := e["orgs"].([]any)[0].(string)
		e["max_requests_per_second"] = 500
		e["auth"] = map[string]any{
			"client_id":          "Iv23liE2Eapp",
			"private_key_secret": "github-app-key-" + id,
			"installations":      map[string]int64{firstOrg: installs[firstOrg]},
		}
		settings["GITHUB_APP_KEY_"+strings.ToUpper(id)] = string(keyPEM)
	}
	raw, _ := json.Marshal(ents)
	settings["COLLECTOR_ENTERPRISES"] = string(raw)
	return settings, tokens, sim, keyPEM
}

// TestE2EAppAuthThroughTokenRenewal runs the daily job with GitHub App authentication
// in the real binary while the simulator ends every installation token's life over
// and over (every 150 requests): organization and repository endpoints go out with
// installation tokens only, enterprise endpoints with the PAT, refused tokens are
// renewed and the request repeated, and the files are byte for byte those of a run
// with the PAT alone. No key, JWT or token reaches the logs.
func TestE2EAppAuthThroughTokenRenewal(t *testing.T) {
	now := time.Now().UTC()
	if now.Add(10*time.Minute).Day() != now.Day() {
		t.Skip("too close to UTC midnight: the two runs would export different dates")
	}
	patSettings, _, _ := childWorld(t, now)
	pat := startHost(t, patSettings)
	if run := runToEnd(t, pat.base); run.Status != "succeeded" {
		t.Fatalf("PAT run ended %s: %s", run.Status, run.ErrorSummary)
	}
	pat.stop(t)
	want := readExports(t, patSettings["EXPORT_DIR"])

	settings, tokens, sim, keyPEM := appWorld(t, now)
	p := startHost(t, settings)
	var expired atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		next := 150
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if n := len(sim.Requests()); n >= next {
				expired.Add(int64(sim.ExpireInstallationTokens()))
				next = n + 150
			}
		}
	}()
	run := runToEnd(t, p.base)
	close(stop)
	<-done
	if run.Status != "succeeded" {
		t.Fatalf("app run ended %s: %s", run.Status, run.ErrorSummary)
	}
	p.stop(t)

	var refused, orgPAT, enterpriseApp, installed int
	for _, r := range sim.Requests() {
		if r.Host != githubsim.HostAPI || strings.HasPrefix(r.Path, "/app/") || strings.HasSuffix(r.Path, "/installation") {
			continue
		}
		switch {
		case r.Status == http.StatusUnauthorized:
			refused++
		case strings.HasPrefix(r.Path, "/enterprises/") && r.Installation != 0:
			enterpriseApp++
		case (strings.HasPrefix(r.Path, "/orgs/") || strings.HasPrefix(r.Path, "/repos/")) && r.Installation == 0:
			orgPAT++
		case r.Installation != 0:
			installed++
		}
	}
	minted := sim.InstallationTokens()
	t.Logf("%d requests with installation tokens, %d tokens minted, %d expired by the test, %d refused and repeated",
		installed, minted, expired.Load(), refused)
	if orgPAT != 0 || enterpriseApp != 0 {
		t.Errorf("%d organization requests carried the PAT, %d enterprise requests an installation token", orgPAT, enterpriseApp)
	}
	if expired.Load() < 2 || refused < 2 || minted < 4+2 { // one token per organization, then renewals
		t.Errorf("renewal not exercised: %d expired, %d refused, %d minted", expired.Load(), refused, minted)
	}
	got := readExports(t, settings["EXPORT_DIR"])
	checkExportContract(t, got, tokens)
	compareFiles(t, want, got, "PAT run's", "app run's")

	logs := p.stdout.String()
	if !strings.Contains(logs, "github app installation token minted") || !strings.Contains(logs, "minting a new one") {
		t.Errorf("the logs do not show the minting and the renewal after a refusal")
	}
	for _, leak := range append(tokens, string(keyPEM[40:90]), "ghs_sim", "eyJhbGciOiJSUzI1NiIs") {
		if strings.Contains(logs, leak) {
			t.Errorf("the logs hold a credential (%.12s…)", leak)
		}
	}
}

// TestHostRefusesUnusableAppKey: a key secret that is not a PEM key, or an
// installation configured on the wrong organization, stops the binary at start with
// the setting and the fix, and without a byte of the key.
func TestHostRefusesUnusableAppKey(t *testing.T) {
	settings, _, sim, keyPEM := appWorld(t, time.Now().UTC())
	for name, tc := range map[string]struct {
		adjust func(map[string]string)
		says   []string
	}{
		"not a PEM key": {
			adjust: func(s map[string]string) { s["GITHUB_APP_KEY_ENT1"] = "MIIEowIBAAKCAQEA" + strings.Repeat("q", 40) },
			says:   []string{"COLLECTOR_ENTERPRISES[0].auth", "not a PEM block", "github-app-key-ent1"},
		},
		"no key": {
			adjust: func(s map[string]string) { delete(s, "GITHUB_APP_KEY_ENT2") },
			says:   []string{"COLLECTOR_ENTERPRISES[1].auth.private_key_secret", "github-app-key-ent2"},
		},
		"wrong installation": {
			adjust: func(s map[string]string) {
				var ents []map[string]any
				_ = json.Unmarshal([]byte(s["COLLECTOR_ENTERPRISES"]), &ents)
				ids := sim.Installations()
				ents[0]["auth"].(map[string]any)["installations"] = map[string]int64{"contoso-web": ids["fabrikam-apps"]}
				raw, _ := json.Marshal(ents)
				s["COLLECTOR_ENTERPRISES"] = string(raw)
			},
			says: []string{"COLLECTOR_ENTERPRISES[0].auth", "fabrikam-apps", "not on organization contoso-web", "fix auth.installations.contoso-web"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range settings {
				env[k] = v
			}
			tc.adjust(env)
			cmd := exec.Command(binary)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "FUNCTIONS_CUSTOMHANDLER_PORT=" + freeTCPPort(t)}
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("started with %s:\n%s", name, out)
			}
			for _, want := range tc.says {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(string(out), string(keyPEM[40:90])) || strings.Contains(string(out), "MIIEowIBAAKCAQEA") {
				t.Errorf("output holds the key:\n%s", out)
			}
		})
	}
}
