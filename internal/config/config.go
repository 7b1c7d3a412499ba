// Package config parses and validates the service's settings (DESIGN §3). It is given a
// getenv function: only handler/ reads the process environment.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"metrics-collector/internal/metrics"
)

// Defaults.
const (
	DefaultPort   = "8080"
	DefaultAPIURL = "https://api.github.com/"
	// DefaultProductionPattern matches production and prod, and the environments of
	// several production services or regions named after them: production/api,
	// production-eu, prod_us.
	DefaultProductionPattern  = `(?i)^prod(uction)?([-_/:. ].*)?$`
	DefaultRolloutWindowHours = 24
	DefaultStageBudget        = 150 * time.Second
	MaxStageBudget            = 200 * time.Second // plus a 25 s grace stays under the 230 s HTTP limit
	DefaultCopilotBackfill    = 28
	DefaultRecomputeWeeks     = 12
	DefaultFailureWindow      = 7 * 24 * time.Hour
	DefaultExportRetention    = 400 // days of daily data in each snapshot file
	DefaultRetentionDays      = 400 // days of collected data kept in the database
	DefaultOrchestratorBudget = 9 * time.Minute
	DefaultEnterpriseParallel = 2
)

// How the service authenticates to PostgreSQL (DATABASE_AUTH).
const (
	// DatabaseAuthPassword: the URL's password, or DATABASE_PASSWORD_SECRET, or none
	// (trust): local development and tests.
	DatabaseAuthPassword = "password"
	// DatabaseAuthEntra: a Microsoft Entra access token of the app's managed identity
	// as the password of each new connection (Azure; password authentication off).
	DatabaseAuthEntra = "entra"
)

// Deployment signals an enterprise can choose (DESIGN §5).
const (
	SignalDeployments = "deployments"
	SignalWorkflows   = "workflows"
)

// Repository collection APIs (repo_api): GraphQL (default) reads pull requests,
// deployments and incidents through GitHub's GraphQL API; REST reads them as before
// issue 13, one request per pull request detail and deployment status list (decision
// 0006). Everything else is REST either way.
const (
	RepoAPIGraphQL = "graphql"
	RepoAPIREST    = "rest"
)

// Enterprise is one entry of COLLECTOR_ENTERPRISES.
type Enterprise struct {
	ID          string   `json:"id"`
	Slug        string   `json:"enterprise"`
	Orgs        []string `json:"orgs"`
	APIURL      string   `json:"api_url"`
	TokenSecret string   `json:"token_secret"`

	// Metric options.
	DeploymentSignal  string   `json:"deployment_signal"`  // "deployments" (default) or "workflows"
	ProductionPattern string   `json:"production_pattern"` // regexp on environment names
	DeployWorkflows   []string `json:"deploy_workflows"`   // workflow file names or paths, for the workflows signal
	IncidentLabels    []string `json:"incident_labels"`    // default ["incident"]
	BotLogins         []string `json:"bot_logins"`         // extra logins treated as bots
	HotfixPattern     string   `json:"hotfix_pattern"`     // regexp on PR titles/branches marking a hotfix
	// RolloutWindowHours groups deployments of one SHA to several production
	// environments of a repository finishing within this many hours of the first into
	// one rollout (regions count once); default 24, 0 counts every environment's
	// deployment alone (docs/metrics.md, "Rollouts").
	RolloutWindowHours *int `json:"rollout_window_hours"`

	// Collection options.
	CopilotBackfillDays int  `json:"copilot_backfill_days"` // first-run back-fill, default 28
	CopilotUserTeams    bool `json:"copilot_user_teams"`    // also fetch the user-teams report
	RepoShards          int  `json:"repo_shards"`           // collect_repos fan-out, default 1
	RepoBackfillDays    int  `json:"repo_backfill_days"`    // first-run history for repository data, default 90
	FullSweepDays       int  `json:"full_sweep_days"`       // full repository sweep every N days, default 7
	// RepoAPI is the API collect_repos reads pull requests, deployments and incidents
	// through: "graphql" (default; "" means it too) or "rest", the fallback.
	RepoAPI string `json:"repo_api"`
	// MaxRequestsPerSecond caps the request rate of the enterprise's token (default 10:
	// under GitHub's secondary limit of 900 points a minute per endpoint). The hourly
	// budget paces collection well below it; raise it only for a simulator or a proxy.
	MaxRequestsPerSecond float64 `json:"max_requests_per_second"`
	// CopilotDownloadHosts are the hosts Copilot report files may be downloaded from:
	// names, IP addresses, or names with "*" inside a label (*.blob.core.windows.net).
	// Empty: the hosts GitHub serves reports from for api_url
	// (github.DefaultDownloadHosts). Links and redirects elsewhere are refused.
	CopilotDownloadHosts []string `json:"copilot_download_hosts"`

	productionRE *regexp.Regexp
	hotfixRE     *regexp.Regexp
}

// IsProduction reports whether an environment name matches the production pattern.
func (e Enterprise) IsProduction(environment string) bool {
	if e.productionRE == nil {
		return regexp.MustCompile(DefaultProductionPattern).MatchString(environment)
	}
	return e.productionRE.MatchString(environment)
}

// RolloutWindow is rollout_window_hours as a duration.
func (e Enterprise) RolloutWindow() time.Duration {
	if e.RolloutWindowHours == nil {
		return DefaultRolloutWindowHours * time.Hour
	}
	return time.Duration(*e.RolloutWindowHours) * time.Hour
}

// HotfixRE is the compiled hotfix pattern.
func (e Enterprise) HotfixRE() *regexp.Regexp { return e.hotfixRE }

// SharePoint is the upload target; Enabled is false when it is not configured.
type SharePoint struct {
	SiteID  string
	DriveID string
	Folder  string
}

// Enabled reports whether uploads are configured.
func (s SharePoint) Enabled() bool { return s.SiteID != "" || s.DriveID != "" }

// Graph holds the Microsoft Graph endpoint and app-only credential settings.
type Graph struct {
	APIURL             string // default https://graph.microsoft.com/v1.0
	ClientID           string
	ClientSecretSecret string // name of the secret holding the client secret
	TenantID           string
}

// Config is the whole, validated configuration.
type Config struct {
	Port                   string
	Enterprises            []Enterprise
	KeyVaultURI            string
	DatabaseURL            Secret // may carry a password
	DatabaseAuth           string // DatabaseAuthPassword (default) or DatabaseAuthEntra
	DatabasePasswordSecret string
	ExportDir              string
	ExportRetentionDays    int
	RetentionDays          int // collected data older than this many days is pruned daily
	SharePoint             SharePoint
	Graph                  Graph
	AppInsights            Secret // the connection string (carries the instrumentation key)
	StageBaseURL           string
	StageFunctionKey       Secret
	StageBudget            time.Duration
	OrchestratorBudget     time.Duration
	EnterpriseParallelism  int
	RecomputeWeeks         int
	FailureWindow          time.Duration
	ThresholdsVersion      string
	SecretCacheTTL         time.Duration
}

// Enterprise returns the configured enterprise with the given id.
func (c Config) Enterprise(id string) (Enterprise, bool) {
	for _, e := range c.Enterprises {
		if e.ID == id {
			return e, true
		}
	}
	return Enterprise{}, false
}

// Secret is a string that never prints its value.
type Secret string

// Value returns the secret itself. Call it only where the value is used.
func (s Secret) Value() string { return string(s) }

// String masks the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "***"
}

// LogValue masks the value in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON masks the value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Error is a configuration problem: the variable, what is wrong, and the fix.
type Error struct {
	Variable string
	Problem  string
}

func (e *Error) Error() string { return e.Variable + ": " + e.Problem }

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Parse reads and validates every setting. All problems are reported at once.
func Parse(getenv func(string) string) (Config, error) {
	var errs []error
	bad := func(variable, format string, args ...any) {
		errs = append(errs, &Error{Variable: variable, Problem: fmt.Sprintf(format, args...)})
	}

	c := Config{
		Port:                   firstNonEmpty(getenv("FUNCTIONS_CUSTOMHANDLER_PORT"), getenv("FUNCTIONS_HTTPWORKER_PORT"), DefaultPort),
		KeyVaultURI:            strings.TrimSpace(getenv("KEY_VAULT_URI")),
		DatabaseURL:            Secret(strings.TrimSpace(getenv("DATABASE_URL"))),
		DatabasePasswordSecret: strings.TrimSpace(getenv("DATABASE_PASSWORD_SECRET")),
		DatabaseAuth:           firstNonEmpty(strings.TrimSpace(getenv("DATABASE_AUTH")), DatabaseAuthPassword),
		ExportDir:              strings.TrimSpace(getenv("EXPORT_DIR")),
		SharePoint: SharePoint{
			SiteID:  strings.TrimSpace(getenv("SHAREPOINT_SITE_ID")),
			DriveID: strings.TrimSpace(getenv("SHAREPOINT_DRIVE_ID")),
			Folder:  strings.Trim(strings.TrimSpace(getenv("SHAREPOINT_FOLDER")), "/"),
		},
		Graph: Graph{
			APIURL:             firstNonEmpty(strings.TrimSpace(getenv("GRAPH_API_URL")), "https://graph.microsoft.com/v1.0"),
			ClientID:           strings.TrimSpace(getenv("GRAPH_CLIENT_ID")),
			ClientSecretSecret: strings.TrimSpace(getenv("GRAPH_CLIENT_SECRET_SECRET")),
			TenantID:           strings.TrimSpace(getenv("GRAPH_TENANT_ID")),
		},
		AppInsights:       Secret(strings.TrimSpace(getenv("APPLICATIONINSIGHTS_CONNECTION_STRING"))),
		StageBaseURL:      strings.TrimSpace(getenv("STAGE_BASE_URL")),
		StageFunctionKey:  Secret(strings.TrimSpace(getenv("STAGE_FUNCTION_KEY"))),
		ThresholdsVersion: firstNonEmpty(strings.TrimSpace(getenv("DORA_THRESHOLDS")), "2024"),
	}

	if p, err := strconv.Atoi(c.Port); err != nil || p < 1 || p > 65535 {
		bad("FUNCTIONS_CUSTOMHANDLER_PORT", "%q is not a TCP port; set a number between 1 and 65535", c.Port)
	}
	if c.StageBaseURL == "" {
		c.StageBaseURL = "http://127.0.0.1:" + c.Port
	} else if u, err := url.Parse(c.StageBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("STAGE_BASE_URL", "%q is not an http(s) URL; set the app's base URL, e.g. https://myapp.azurewebsites.net", c.StageBaseURL)
	}
	c.StageBaseURL = strings.TrimRight(c.StageBaseURL, "/")

	c.StageBudget = durationSeconds(getenv, "STAGE_BUDGET_SECONDS", DefaultStageBudget, 5*time.Second, MaxStageBudget, bad)
	c.OrchestratorBudget = durationSeconds(getenv, "ORCHESTRATOR_BUDGET_SECONDS", DefaultOrchestratorBudget, 10*time.Second, 24*time.Hour, bad)
	c.SecretCacheTTL = durationSeconds(getenv, "SECRET_CACHE_SECONDS", 15*time.Minute, 0, 24*time.Hour, bad)
	c.FailureWindow = time.Duration(intSetting(getenv, "CHANGE_FAILURE_WINDOW_DAYS", 7, 1, 90, bad)) * 24 * time.Hour
	c.RecomputeWeeks = intSetting(getenv, "RECOMPUTE_WEEKS", DefaultRecomputeWeeks, 1, 260, bad)
	c.ExportRetentionDays = intSetting(getenv, "EXPORT_RETENTION_DAYS", DefaultExportRetention, 1, 3660, bad)
	c.EnterpriseParallelism = intSetting(getenv, "ENTERPRISE_PARALLELISM", DefaultEnterpriseParallel, 1, 16, bad)
	c.RetentionDays = intSetting(getenv, "RETENTION_DAYS", DefaultRetentionDays, 1, 3660, bad)

	if c.DatabaseURL == "" {
		bad("DATABASE_URL", "not set; set a PostgreSQL URL, e.g. postgres://user@host:5432/metrics?sslmode=require")
	} else if err := checkDatabaseURL(c.DatabaseURL.Value()); err != nil {
		bad("DATABASE_URL", "%v", err)
	}
	if c.KeyVaultURI != "" {
		if u, err := url.Parse(c.KeyVaultURI); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("KEY_VAULT_URI", "%q is not an https URL; set it to the vault's URI, e.g. https://myvault.vault.azure.net/", c.KeyVaultURI)
		}
	}
	if c.SharePoint.Enabled() && (c.SharePoint.SiteID == "" || c.SharePoint.DriveID == "") {
		bad("SHAREPOINT_DRIVE_ID", "SHAREPOINT_SITE_ID and SHAREPOINT_DRIVE_ID must be set together (or both left empty to skip uploads)")
	}
	if u, err := url.Parse(c.Graph.APIURL); err != nil || u.Host == "" || !secureOrLoopback(u) {
		bad("GRAPH_API_URL", "%q must be an https URL (http only on loopback, for tests)", c.Graph.APIURL)
	}
	if (c.Graph.ClientID != "") != (c.Graph.ClientSecretSecret != "") || (c.Graph.ClientID != "" && c.Graph.TenantID == "") {
		bad("GRAPH_CLIENT_ID", "client credentials need GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET_SECRET and GRAPH_TENANT_ID together; leave all three empty to use the managed identity")
	}
	switch c.ThresholdsVersion {
	case "2024", "2023", "2022":
	default:
		bad("DORA_THRESHOLDS", "%q is not a known threshold set; use 2024, 2023 or 2022", c.ThresholdsVersion)
	}

	c.Enterprises = parseEnterprises(getenv("COLLECTOR_ENTERPRISES"), bad)
	checkRetention(c, bad)
	checkDatabaseAuth(c, bad)

	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

func parseEnterprises(raw string, bad func(string, string, ...any)) []Enterprise {
	const v = "COLLECTOR_ENTERPRISES"
	if strings.TrimSpace(raw) == "" {
		bad(v, `not set; set a JSON array, e.g. [{"id":"ent1","enterprise":"contoso","orgs":["contoso-web"],"token_secret":"github-pat-ent1"}]`)
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	var list []Enterprise
	if err := dec.Decode(&list); err != nil {
		bad(v, "not a JSON array of enterprises: %v", err)
		return nil
	}
	if len(list) == 0 {
		bad(v, "the array is empty; configure at least one enterprise")
	}
	seen := map[string]bool{}
	for i := range list {
		e := &list[i]
		field := func(name string) string { return fmt.Sprintf("%s[%d].%s", v, i, name) }
		if !idPattern.MatchString(e.ID) {
			bad(field("id"), "%q must be 1–32 lower-case letters, digits, '-' or '_'", e.ID)
		} else if seen[e.ID] {
			bad(field("id"), "%q is configured twice; ids must be unique", e.ID)
		}
		seen[e.ID] = true
		if e.Slug == "" && len(e.Orgs) == 0 {
			bad(field("orgs"), "set an enterprise slug, at least one org, or both")
		}
		for j, o := range e.Orgs {
			if strings.TrimSpace(o) == "" || strings.ContainsAny(o, "/ ") {
				bad(fmt.Sprintf("%s[%d].orgs[%d]", v, i, j), "%q is not an organization login", o)
			}
		}
		if e.TokenSecret == "" {
			bad(field("token_secret"), "not set; name the secret that holds the GitHub token, e.g. github-pat-%s", e.ID)
		}
		if e.APIURL == "" {
			e.APIURL = DefaultAPIURL
		}
		if u, err := url.Parse(e.APIURL); err != nil || u.Host == "" || !secureOrLoopback(u) {
			bad(field("api_url"), "%q must be an https URL such as https://api.github.com/ or https://api.<sub>.ghe.com/ (http only on loopback)", e.APIURL)
		} else if !strings.HasSuffix(e.APIURL, "/") {
			e.APIURL += "/"
		}
		switch e.DeploymentSignal {
		case "":
			e.DeploymentSignal = SignalDeployments
		case SignalDeployments:
		case SignalWorkflows:
			if len(e.DeployWorkflows) == 0 {
				bad(field("deploy_workflows"), "the workflows signal needs at least one deploy workflow file name, e.g. [\"deploy.yml\"]")
			}
		default:
			bad(field("deployment_signal"), "%q must be %q or %q", e.DeploymentSignal, SignalDeployments, SignalWorkflows)
		}
		if e.ProductionPattern == "" {
			e.ProductionPattern = DefaultProductionPattern
		}
		re, err := regexp.Compile(e.ProductionPattern)
		if err != nil {
			bad(field("production_pattern"), "not a valid regular expression: %v", err)
		}
		e.productionRE = re
		if e.HotfixPattern == "" {
			e.HotfixPattern = `(?i)\bhotfix\b`
		}
		if re, err := regexp.Compile(e.HotfixPattern); err != nil {
			bad(field("hotfix_pattern"), "not a valid regular expression: %v", err)
		} else {
			e.hotfixRE = re
		}
		if len(e.IncidentLabels) == 0 {
			e.IncidentLabels = []string{"incident"}
		}
		if h := e.RolloutWindowHours; h != nil && (*h < 0 || *h > 168) {
			bad(field("rollout_window_hours"), "%d must be between 0 (every environment's deployment counts alone) and 168", *h)
		}
		e.CopilotBackfillDays = defaultInt(e.CopilotBackfillDays, DefaultCopilotBackfill)
		if e.CopilotBackfillDays < 1 || e.CopilotBackfillDays > 365 {
			bad(field("copilot_backfill_days"), "%d must be between 1 and 365", e.CopilotBackfillDays)
		}
		switch e.RepoAPI {
		case "":
			e.RepoAPI = RepoAPIGraphQL
		case RepoAPIGraphQL, RepoAPIREST:
		default:
			bad(field("repo_api"), "%q must be %q (default) or %q (the fallback)", e.RepoAPI, RepoAPIGraphQL, RepoAPIREST)
		}
		e.RepoShards = defaultInt(e.RepoShards, 1)
		if e.RepoShards < 1 || e.RepoShards > 32 {
			bad(field("repo_shards"), "%d must be between 1 and 32", e.RepoShards)
		}
		e.RepoBackfillDays = defaultInt(e.RepoBackfillDays, 90)
		if e.RepoBackfillDays < 1 || e.RepoBackfillDays > 730 {
			bad(field("repo_backfill_days"), "%d must be between 1 and 730", e.RepoBackfillDays)
		}
		if e.MaxRequestsPerSecond == 0 {
			e.MaxRequestsPerSecond = 10
		}
		if e.MaxRequestsPerSecond < 0.1 || e.MaxRequestsPerSecond > 1000 {
			bad(field("max_requests_per_second"), "%g must be between 0.1 and 1000", e.MaxRequestsPerSecond)
		}
		for j, h := range e.CopilotDownloadHosts {
			// The GitHub client checks the pattern rules in full at start-up.
			if h == "" || h != strings.ToLower(strings.TrimSpace(h)) || strings.ContainsAny(h, "/?#@ ") {
				bad(fmt.Sprintf("%s[%d].copilot_download_hosts[%d]", v, i, j), "%q must be a lower-case host name without scheme, port or path, e.g. copilot-reports.github.com or *.blob.core.windows.net", h)
			}
		}
		e.FullSweepDays = defaultInt(e.FullSweepDays, 7)
		if e.FullSweepDays < 1 || e.FullSweepDays > 90 {
			bad(field("full_sweep_days"), "%d must be between 1 and 90", e.FullSweepDays)
		}
	}
	return list
}

// MinRetentionDays is the least RETENTION_DAYS that keeps every row the weekly
// recompute still reads: the calculations cover the recomputeWeeks weeks ending with the
// current one, and DORA reads deployments from metrics.DeploymentLookbackDays before the
// first of them (metrics.DataWindow). The first week starts at most 7·recomputeWeeks − 1
// days before today, so 7·recomputeWeeks + DeploymentLookbackDays days always suffice.
func MinRetentionDays(recomputeWeeks int) int {
	return 7*recomputeWeeks + metrics.DeploymentLookbackDays
}

// checkRetention refuses a RETENTION_DAYS that would prune data another setting still
// needs: the recompute window with the DORA look-back, the CSV window, and the first
// back-fill of each enterprise (pruned at once, and fetched again by the next sweep).
func checkRetention(c Config, bad func(string, string, ...any)) {
	if minDays := MinRetentionDays(c.RecomputeWeeks); c.RetentionDays < minDays {
		bad("RETENTION_DAYS", "%d is too small for RECOMPUTE_WEEKS=%d: the weekly recompute reads the last %d weeks plus the %d-day DORA look-back, so at least %d days must be kept; raise RETENTION_DAYS or lower RECOMPUTE_WEEKS",
			c.RetentionDays, c.RecomputeWeeks, c.RecomputeWeeks, metrics.DeploymentLookbackDays, minDays)
	}
	if c.RetentionDays < c.ExportRetentionDays {
		bad("RETENTION_DAYS", "%d is smaller than EXPORT_RETENTION_DAYS=%d: the CSVs would lose their oldest days; raise RETENTION_DAYS or lower EXPORT_RETENTION_DAYS",
			c.RetentionDays, c.ExportRetentionDays)
	}
	for i, e := range c.Enterprises {
		for _, f := range []struct {
			name string
			days int
		}{{"repo_backfill_days", e.RepoBackfillDays}, {"copilot_backfill_days", e.CopilotBackfillDays}} {
			if f.days > c.RetentionDays {
				bad(fmt.Sprintf("COLLECTOR_ENTERPRISES[%d].%s", i, f.name), "%d is more than RETENTION_DAYS=%d: data older than that is pruned the day it is collected; lower it or raise RETENTION_DAYS",
					f.days, c.RetentionDays)
			}
		}
	}
}

// checkDatabaseAuth checks DATABASE_AUTH against the URL. With entra the URL names the
// role mapped to the app's managed identity and carries no password (the token is the
// password), and a remote server must be verified (sslmode=verify-full): the token is a
// bearer credential, and a server that only encrypts could be anyone's.
func checkDatabaseAuth(c Config, bad func(string, string, ...any)) {
	switch c.DatabaseAuth {
	case DatabaseAuthPassword:
		return
	case DatabaseAuthEntra:
	default:
		bad("DATABASE_AUTH", "%q is not a database authentication mode; use %q (Microsoft Entra token of the managed identity) or %q (the default: password or trust)",
			c.DatabaseAuth, DatabaseAuthEntra, DatabaseAuthPassword)
		return
	}
	if c.DatabasePasswordSecret != "" {
		bad("DATABASE_PASSWORD_SECRET", "must be empty with DATABASE_AUTH=entra: the password is a Microsoft Entra token; remove the setting")
	}
	u, err := url.Parse(c.DatabaseURL.Value())
	if err != nil || c.DatabaseURL == "" {
		return // reported for DATABASE_URL already
	}
	if u.User == nil || u.User.Username() == "" {
		bad("DATABASE_URL", "DATABASE_AUTH=entra needs the user: the PostgreSQL role mapped to the app's managed identity, e.g. postgres://func-mc-abc@server.postgres.database.azure.com:5432/metrics?sslmode=verify-full")
	}
	if _, has := u.User.Password(); has {
		bad("DATABASE_URL", "must carry no password with DATABASE_AUTH=entra: the password is a Microsoft Entra token")
	}
	if host := u.Hostname(); host != "" && !isLoopback(host) && u.Query().Get("sslmode") != "verify-full" {
		bad("DATABASE_URL", "DATABASE_AUTH=entra sends an access token as the password, so the server's certificate and name must be checked; use sslmode=verify-full")
	}
}

// checkDatabaseURL refuses plaintext connections to non-loopback hosts.
func checkDatabaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return errors.New("not a postgres:// URL; use postgres://user@host:5432/dbname?sslmode=require")
	}
	host := u.Hostname()
	if host == "" || isLoopback(host) {
		return nil
	}
	switch u.Query().Get("sslmode") {
	case "require", "verify-ca", "verify-full":
		return nil
	default:
		return fmt.Errorf("host %s is not loopback, so TLS is required; add sslmode=require (or verify-full) to the URL", host)
	}
}

func secureOrLoopback(u *url.URL) bool {
	return u.Scheme == "https" || (u.Scheme == "http" && isLoopback(u.Hostname()))
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func durationSeconds(getenv func(string) string, name string, def, lo, hi time.Duration, bad func(string, string, ...any)) time.Duration {
	raw := strings.TrimSpace(getenv(name))
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	d := time.Duration(n) * time.Second
	if err != nil || d < lo || d > hi {
		bad(name, "%q must be a whole number of seconds between %d and %d", raw, int(lo.Seconds()), int(hi.Seconds()))
		return def
	}
	return d
}

func intSetting(getenv func(string) string, name string, def, lo, hi int, bad func(string, string, ...any)) int {
	raw := strings.TrimSpace(getenv(name))
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		bad(name, "%q must be a whole number between %d and %d", raw, lo, hi)
		return def
	}
	return n
}

func defaultInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
