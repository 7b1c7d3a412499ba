package deploycheck

// Rules of the platform hardening (issue 15, items 9 and 10) that can be read from the
// templates: the database takes no passwords and is reached with a verified certificate,
// its disk grows and is watched, the vault's audit events are kept, and private
// networking and IP restrictions exist but are off unless asked for.

import (
	"regexp"
	"strings"
	"testing"
)

// mustMatch fails when src does not match each pattern.
func mustMatch(t *testing.T, file, src string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(src) {
			t.Errorf("%s: no match for %s", file, p)
		}
	}
}

func TestDatabaseIsPasswordless(t *testing.T) {
	t.Parallel()
	files := bicepFiles(t)
	pg := files["infra/modules/postgres.bicep"]
	mustMatch(t, "infra/modules/postgres.bicep", pg,
		`activeDirectoryAuth: 'Enabled'`,
		`passwordAuth: passwordAuth \? 'Enabled' : 'Disabled'`,
		`resource \w+ 'Microsoft\.DBforPostgreSQL/flexibleServers/administrators@[0-9-]+' = \{`,
		`principalName: entraAdminName`,
	)
	mustMatch(t, "infra/main.bicep", files["infra/main.bicep"],
		`(?m)^param postgresPasswordAuth bool = false$`,
		`(?m)^    passwordAuth: postgresPasswordAuth$`,
	)
	for file, src := range files {
		// No password reaches the server, the vault or the app: no admin password, no
		// secure parameter anywhere.
		for _, banned := range []string{"administratorLoginPassword", "@secure()", "database-password", "DATABASE_PASSWORD_SECRET"} {
			if strings.Contains(src, banned) {
				t.Errorf("%s contains %s; the database takes Microsoft Entra tokens only", file, banned)
			}
		}
	}
	if strings.Contains(readRepoFile(t, "infra/main.parameters.json"), "PASSWORD") {
		t.Error("infra/main.parameters.json still passes a password")
	}
	app := files["infra/modules/functionapp.bicep"]
	mustMatch(t, "infra/modules/functionapp.bicep", app, `name: 'DATABASE_AUTH'\n\s+value: 'entra'`)
}

func TestDatabaseURLVerifiesTheServer(t *testing.T) {
	t.Parallel()
	main := bicepFiles(t)["infra/main.bicep"]
	m := regexp.MustCompile(`(?m)^var databaseURL = '([^']*)'$`).FindStringSubmatch(main)
	if m == nil {
		t.Fatal("infra/main.bicep has no `var databaseURL = '...'`")
	}
	url := m[1]
	if !strings.Contains(url, "?sslmode=verify-full&") && !strings.HasSuffix(url, "?sslmode=verify-full") {
		t.Errorf("DATABASE_URL %s: want sslmode=verify-full, and nothing that lowers it", url)
	}
	if !strings.HasPrefix(url, "postgres://${appName}@") { // the user and no ":password"
		t.Errorf("DATABASE_URL %s: want the app's own role as the user, and no password", url)
	}
	if !strings.Contains(url, "options=-c%20role%3D${postgresOwnerRole}") {
		t.Errorf("DATABASE_URL %s: want the app to act as the owner role (options=-c%%20role%%3D...)", url)
	}
	if regexp.MustCompile(`sslmode=\$\{|'require'`).MatchString(main) {
		t.Error("infra/main.bicep can still lower sslmode")
	}
	mustMatch(t, "infra/main.bicep", main, `(?m)^    databaseURL: databaseURL$`)
}

func TestDatabaseStorageGrowsAndIsWatched(t *testing.T) {
	t.Parallel()
	files := bicepFiles(t)
	mustMatch(t, "infra/modules/postgres.bicep", files["infra/modules/postgres.bicep"], `autoGrow: 'Enabled'`)
	if strings.Contains(files["infra/modules/postgres.bicep"], "autoGrow: 'Disabled'") {
		t.Error("infra/modules/postgres.bicep turns auto-grow off")
	}
	mustMatch(t, "infra/modules/alerts.bicep", files["infra/modules/alerts.bicep"],
		`resource storageAlert 'Microsoft\.Insights/metricAlerts@[0-9-]+' = \{`,
		`metricName: 'storage_percent'`,
		`threshold: postgresStorageAlertPercent`,
		`(?s)scopes: \[\s+postgresServerId\s+\]`,
	)
	mustMatch(t, "infra/main.bicep", files["infra/main.bicep"], `(?m)^    postgresServerId: postgres\.outputs\.id$`)
}

func TestKeyVaultAuditEventsKept(t *testing.T) {
	t.Parallel()
	files := bicepFiles(t)
	mustMatch(t, "infra/modules/keyvault.bicep", files["infra/modules/keyvault.bicep"],
		`resource \w+ 'Microsoft\.Insights/diagnosticSettings@[0-9a-z-]+' = \{\n\s+name: '[^']+'\n\s+scope: vault`,
		`workspaceId: logAnalyticsWorkspaceId`,
		`category: 'AuditEvent'\n\s+enabled: true`,
	)
	mustMatch(t, "infra/main.bicep", files["infra/main.bicep"], `(?m)^    logAnalyticsWorkspaceId: monitoring\.outputs\.workspaceId$`)
}

func TestPrivateNetworkingAndIPRestrictionsOffByDefault(t *testing.T) {
	t.Parallel()
	files := bicepFiles(t)
	main := files["infra/main.bicep"]
	mustMatch(t, "infra/main.bicep", main,
		`(?m)^param privateNetworking bool = false$`,
		`(?m)^param allowedClientIpRanges array = \[\]$`,
		`(?m)^    enabled: privateNetworking$`,
		`(?m)^    publicNetworkAccess: !privateNetworking$`,
		`(?m)^    virtualNetworkSubnetId: network\.outputs\.appSubnetId$`,
		`(?m)^    allowedClientIpRanges: allowedClientIpRanges$`,
	)
	if n := strings.Count(main, "publicNetworkAccess: !privateNetworking"); n != 2 {
		t.Errorf("publicNetworkAccess follows privateNetworking for %d resources, want 2 (PostgreSQL and Key Vault)", n)
	}
	// Every resource of the network module exists only when enabled.
	network := files["infra/modules/network.bicep"]
	resources := regexp.MustCompile(`(?m)^resource (\w+) '[^']+' = (.*)$`).FindAllStringSubmatch(network, -1)
	if len(resources) < 5 {
		t.Fatalf("infra/modules/network.bicep declares %d resources, want the network, zones, links, endpoints, zone groups", len(resources))
	}
	for _, r := range resources {
		if !strings.Contains(r[2], "if (enabled)") && !regexp.MustCompile(`^\[$`).MatchString(r[2]) {
			t.Errorf("network.bicep resource %s is not conditional on enabled: %s", r[1], r[2])
		}
	}
	for _, loop := range regexp.MustCompile(`(?m)^  for [^:]+: (.*)$`).FindAllStringSubmatch(network, -1) {
		if !strings.HasPrefix(loop[1], "if (enabled)") {
			t.Errorf("network.bicep loop body is not conditional on enabled: %s", loop[1])
		}
	}
	mustMatch(t, "infra/modules/network.bicep", network,
		`groupId: 'postgresqlServer'`, `zone: 'privatelink\.postgres\.database\.azure\.com'`,
		`groupId: 'vault'`, `zone: 'privatelink\.vaultcore\.azure\.net'`,
		`serviceName: 'Microsoft\.App/environments'`,
	)
	pg := files["infra/modules/postgres.bicep"]
	mustMatch(t, "infra/modules/postgres.bicep", pg,
		`publicNetworkAccess: publicNetworkAccess \? 'Enabled' : 'Disabled'`,
		`if \(allowAzureServices && publicNetworkAccess\)`,
	)
	kv := files["infra/modules/keyvault.bicep"]
	mustMatch(t, "infra/modules/keyvault.bicep", kv,
		`publicNetworkAccess: publicNetworkAccess \? 'Enabled' : 'Disabled'`,
		`defaultAction: publicNetworkAccess \? 'Allow' : 'Deny'`,
	)
	app := files["infra/modules/functionapp.bicep"]
	mustMatch(t, "infra/modules/functionapp.bicep", app,
		`var restrictions = empty\(allowedClientIpRanges\) \? \{\} : restrictionsOn`,
		`ipSecurityRestrictionsDefaultAction: 'Deny'`,
		`var vnetIntegration = empty\(virtualNetworkSubnetId\) \? \{\} : \{ virtualNetworkSubnetId: virtualNetworkSubnetId \}`,
	)
}
