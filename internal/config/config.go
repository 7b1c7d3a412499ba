// Package config parses and validates the service's settings (DESIGN §3). It is given a
// getenv function: only handler/ reads the process environment.
package config

import (
	"crypto/tls"
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

	"github.com/jackc/pgx/v5/pgconn"

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
	// DefaultSharePointRetention is how many days of dated snapshots the archive
	// folders (SharePoint and EXPORT_DIR) keep; latest/ always holds the newest files.
	DefaultSharePointRetention = 35
	// OrchestratorReserve is the time an orchestrator invocation keeps in hand after its
	// last stage call (the call answers within its budget plus a grace).
	OrchestratorReserve = 15 * time.Second
	// MinStageCall is the shortest stage call the orchestrator starts (or
	// STAGE_BUDGET_SECONDS when that is shorter).
	MinStageCall = 10 * time.Second
	// orchestratorStartup is what an invocation spends before its first stage call
	// (the lock, the run, the step rows), allowed for when checking the budget.
	orchestratorStartup = 5 * time.Second
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
	ID     string   `json:"id"`
	Slug   string   `json:"enterprise"`
	Orgs   []string `json:"orgs"`
	APIURL string   `json:"api_url"`
	// TokenSecret names the secret holding a classic PAT. Without Auth every request
	// uses it; with Auth only the enterprise-level endpoints (Copilot reports and seats
	// of the enterprise, which installation tokens cannot read) do.
	TokenSecret string `json:"token_secret"`
	// Auth, when set, authenticates the organization endpoints as a GitHub App
	// installation instead of the PAT.
	Auth *AppAuth `json:"auth"`

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

	// Teams are the teams collected daily (with their members) for the team scope:
	// "all" of the orgs' teams, or a list of "org/team-slug"; none by default.
	Teams Teams `json:"teams"`
	// TeamRepositories maps teams to repositories for team DORA rows: "permissions" (the
	// repositories a team has admin or maintain permission on) or an object of
	// "org/team-slug" → repositories; none by default (no team DORA rows).
	TeamRepositories TeamRepositories `json:"team_repositories"`

	productionRE *regexp.Regexp
	hotfixRE     *regexp.Regexp
}

// AppAuth is the GitHub App an enterprise entry authenticates with (its "auth" object).
type AppAuth struct {
	// AppID or ClientID identifies the app: the JWT's issuer. GitHub recommends the
	// client ID; one of the two is required.
	AppID    int64  `json:"app_id"`
	ClientID string `json:"client_id"`
	// PrivateKeySecret names the secret (Key Vault) holding the app's PEM private key.
	PrivateKeySecret string `json:"private_key_secret"`
	// Installations maps an organization login to the app's installation id there;
	// organizations left out are looked up with GET /orgs/{org}/installation.
	Installations map[string]int64 `json:"installations"`
}

// Issuer is the JWT issuer: the client ID when given, else the app ID.
func (a AppAuth) Issuer() string {
	if a.ClientID != "" {
		return a.ClientID
	}
	return strconv.FormatInt(a.AppID, 10)
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
	// ReportDocsURL is REPORT_DOCS_URL: where the HTML report links the definitions
	// (docs/metrics.md); empty means the report's relative default.
	ReportDocsURL       string
	ExportRetentionDays int
	RetentionDays       int // collected data older than this many days is pruned daily
	SharePoint          SharePoint
	Graph               Graph
	AppInsights         Secret // the connection string (carries the instrumentation key)
	StageBaseURL        string
	StageFunctionKey    Secret
	StageBudget         time.Duration
	OrchestratorBudget  time.Duration
	// OrchestratorSchedule is ORCHESTRATOR_SCHEDULE (read by the Functions host; the
	// service only checks it), DefaultSchedule when unset.
	OrchestratorSchedule    string
	SharePointRetentionDays int
	EnterpriseParallelism   int
	RecomputeWeeks          int
	FailureWindow           time.Duration
	ThresholdsVersion       string
	SecretCacheTTL          time.Duration
	// ImpactMinAuthors is COPILOT_IMPACT_MIN_AUTHORS: Copilot impact cohorts with fewer
	// distinct authors are exported suppressed.
	ImpactMinAuthors int
	// SeatPrices is COPILOT_SEAT_PRICES: monthly seat prices per plan and their currency.
	SeatPrices metrics.SeatPrices
	// ExportUserLevel is EXPORT_USER_LEVEL: when false, no file naming people is exported
	// (copilot_user_metrics, copilot_seats, copilot_idle_seats).
	ExportUserLevel bool
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
	} else if !secureOrLoopback(u) {
		// The orchestrator sends STAGE_FUNCTION_KEY with every call.
		bad("STAGE_BASE_URL", "%q is plain http to a host that is not loopback, so the function key would travel in clear; use https://<app>.azurewebsites.net, or leave it empty to call the stages on 127.0.0.1", c.StageBaseURL)
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
	c.ImpactMinAuthors = intSetting(getenv, "COPILOT_IMPACT_MIN_AUTHORS", metrics.DefaultImpactMinAuthors, 1, 1000, bad)
	c.SeatPrices = parseSeatPrices(getenv("COPILOT_SEAT_PRICES"), bad)
	c.ExportUserLevel = boolSetting(getenv, "EXPORT_USER_LEVEL", true, bad)
	c.SharePointRetentionDays = intSetting(getenv, "SHAREPOINT_RETENTION_DAYS", DefaultSharePointRetention, 1, 3660, bad)
	if v := strings.TrimSpace(getenv("REPORT_DOCS_URL")); v != "" {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "" && u.Scheme != "https") || u.RawQuery != "" || u.Fragment != "" {
			bad("REPORT_DOCS_URL", "%q must be an https address (or a relative path) of docs/metrics.md without query or fragment, e.g. https://github.com/contoso/metrics-collector/blob/main/docs/metrics.md", v)
		} else {
			c.ReportDocsURL = v
		}
	}
	checkProgress(&c, getenv, bad)

	if c.DatabaseURL == "" {
		bad("DATABASE_URL", "not set; set a PostgreSQL URL, e.g. postgres://user@host:5432/metrics?sslmode=verify-full")
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

// checkProgress refuses settings under which the daily run can never make progress:
// an orchestrator budget too short for one stage call after its reserve (every
// invocation would stop before its first call and the run would stay "running"
// forever), and a timer schedule the host cannot read.
func checkProgress(c *Config, getenv func(string) string, bad func(string, string, ...any)) {
	minCall := min(MinStageCall, c.StageBudget)
	if need := orchestratorStartup + OrchestratorReserve + minCall; c.OrchestratorBudget < need {
		bad("ORCHESTRATOR_BUDGET_SECONDS", "%d leaves no time for a stage call: an invocation needs a few seconds to start, keeps %d s in reserve and starts a call only with at least %d s for it (STAGE_BUDGET_SECONDS=%d), so every invocation would stop before its first call and the run would never finish; set at least %d (default %d)",
			int(c.OrchestratorBudget.Seconds()), int(OrchestratorReserve.Seconds()), int(minCall.Seconds()), int(c.StageBudget.Seconds()),
			int(need.Seconds()), int(DefaultOrchestratorBudget.Seconds()))
	}
	c.OrchestratorSchedule = strings.TrimSpace(getenv("ORCHESTRATOR_SCHEDULE"))
	if c.OrchestratorSchedule == "" {
		c.OrchestratorSchedule = DefaultSchedule
	} else if err := CheckSchedule(c.OrchestratorSchedule); err != nil {
		bad("ORCHESTRATOR_SCHEDULE", "%v; the Functions host cannot start the timer with it: use six NCRONTAB fields in UTC, e.g. %q (every 10 minutes from 06:00 until the day's run has finished)", err, DefaultSchedule)
	}
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
		switch {
		case e.Auth != nil:
			checkAppAuth(e, field, bad)
		case e.TokenSecret == "":
			bad(field("token_secret"), "not set; name the secret that holds the GitHub token, e.g. github-pat-%s (or configure \"auth\" for a GitHub App)", e.ID)
		}
		if e.TokenSecret != "" && !secretNamePattern.MatchString(e.TokenSecret) {
			bad(field("token_secret"), "%q is not a secret name: use letters, digits and dashes, e.g. github-pat-%s", e.TokenSecret, e.ID)
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
		checkTeams(i, e, bad)
	}
	return list
}

// secretNamePattern is Key Vault's rule for secret names, which every secret source
// applies.
var secretNamePattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,127}$`)

// checkAppAuth checks an entry's GitHub App settings: who the app is, where its key
// is, which installation serves each organization, and that the enterprise-level
// endpoints (which take no installation token) still have a PAT.
func checkAppAuth(e *Enterprise, field func(string) string, bad func(string, string, ...any)) {
	a := e.Auth
	switch {
	case a.AppID == 0 && strings.TrimSpace(a.ClientID) == "":
		bad(field("auth.app_id"), "the GitHub App needs its app_id (a number) or client_id (e.g. Iv23li…), from the app's settings page")
	case a.AppID < 0:
		bad(field("auth.app_id"), "%d is not an app id; use the positive number from the app's settings page, or client_id", a.AppID)
	case a.ClientID != "" && (a.ClientID != strings.TrimSpace(a.ClientID) || strings.ContainsAny(a.ClientID, " /\"")):
		bad(field("auth.client_id"), "%q is not a client id; copy it from the app's settings page (e.g. Iv23li…)", a.ClientID)
	}
	if a.PrivateKeySecret == "" {
		bad(field("auth.private_key_secret"), "not set; name the Key Vault secret holding the app's PEM private key, e.g. github-app-key-%s", e.ID)
	} else if !secretNamePattern.MatchString(a.PrivateKeySecret) {
		bad(field("auth.private_key_secret"), "%q is not a secret name: use letters, digits and dashes, e.g. github-app-key-%s", a.PrivateKeySecret, e.ID)
	}
	if len(e.Orgs) == 0 {
		bad(field("auth"), "a GitHub App is installed on organizations: list them in orgs, or remove auth and use a PAT for the enterprise")
	}
	for org, id := range a.Installations {
		known := false
		for _, o := range e.Orgs {
			known = known || strings.EqualFold(o, org)
		}
		if !known {
			bad(field("auth.installations."+org), "%q is not one of this entry's orgs %v; key installations by organization login", org, e.Orgs)
		}
		if id <= 0 {
			bad(field("auth.installations."+org), "%d is not an installation id; use the number in the installation's settings URL (…/settings/installations/<id>), or leave the org out to look it up", id)
		}
	}
	if e.Slug != "" && e.TokenSecret == "" {
		bad(field("token_secret"), "enterprise %q is set, and its Copilot reports and seats accept no GitHub App installation token: name the secret holding a classic PAT (read:enterprise) for them, or remove \"enterprise\" to collect organization data only", e.Slug)
	}
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

// checkDatabaseURL refuses connections to a non-loopback host that are not TLS with a
// verified certificate and host name (sslmode=verify-full). It judges the settings as
// pgx parses them — every host, including the fallbacks of a host list, a host given
// as a query parameter (?host=) and PG* environment defaults — because that is what
// the store connects to. verify-ca is refused: it checks the chain but not the name,
// so any server with a certificate from the same CA (every Azure server shares one)
// could stand in for ours.
func checkDatabaseURL(raw string) error {
	if !strings.HasPrefix(raw, "postgres://") && !strings.HasPrefix(raw, "postgresql://") {
		return errors.New("not a postgres:// URL; use postgres://user@host:5432/dbname?sslmode=verify-full")
	}
	cfg, err := pgconn.ParseConfig(raw)
	if err != nil {
		// pgx's message quotes the connection string (password masked); give only the
		// reason.
		reason := "check the host, port and parameters"
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) && pe.Unwrap() != nil {
			reason = pe.Unwrap().Error()
		}
		return fmt.Errorf("cannot be used as a PostgreSQL URL (%s); use postgres://user@host:5432/dbname?sslmode=verify-full", reason)
	}
	targets := []struct {
		host string
		tls  *tls.Config
	}{{cfg.Host, cfg.TLSConfig}}
	for _, f := range cfg.Fallbacks {
		targets = append(targets, struct {
			host string
			tls  *tls.Config
		}{f.Host, f.TLSConfig})
	}
	// A host with a plaintext fallback (sslmode allow/prefer) is reported as plaintext.
	for _, t := range targets {
		if !isLocalDatabaseHost(t.host) && t.tls == nil {
			return fmt.Errorf("host %s is not loopback, and the URL lets the connection go unencrypted (sslmode absent, disable, allow or prefer); add sslmode=verify-full", t.host)
		}
	}
	for _, t := range targets {
		if !isLocalDatabaseHost(t.host) && t.tls.InsecureSkipVerify {
			return fmt.Errorf("host %s is not loopback, and the sslmode does not verify the server's certificate and name (require and verify-ca do not); use sslmode=verify-full", t.host)
		}
	}
	return nil
}

// isLocalDatabaseHost: loopback or a Unix socket directory.
func isLocalDatabaseHost(host string) bool {
	return strings.HasPrefix(host, "/") || isLoopback(host)
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
