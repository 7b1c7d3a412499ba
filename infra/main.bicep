// metrics-collector on Azure: a Linux Function App (custom handler) with a system-assigned
// identity, its storage, Log Analytics + Application Insights, Key Vault (RBAC, audited),
// PostgreSQL Flexible Server (Microsoft Entra authentication only), alerts, an operations
// workbook and, optionally, private networking. Deploy into a resource group with
// `azd up` or `az deployment group create`, then run scripts/bootstrap-db.sh once
// (docs/deploy.md).
targetScope = 'resourceGroup'

@description('Environment name (azd: AZURE_ENV_NAME); part of every resource name.')
@minLength(1)
@maxLength(32)
param environmentName string

@description('Azure region. Flex Consumption is not in every region: az functionapp list-flexconsumption-locations.')
param location string = resourceGroup().location

@description('flex: Flex Consumption (default). consumption: Linux Consumption, which stops functions at 10 minutes, takes no new features and retires on 2028-09-30.')
@allowed([
  'flex'
  'consumption'
])
param hostingPlan string = 'flex'

@description('COLLECTOR_ENTERPRISES (DESIGN §3): the enterprises, e.g. [{"id":"ent1","enterprise":"contoso","orgs":["contoso-web"],"token_secret":"github-pat-ent1"}].')
@minLength(1)
param collectorEnterprises array

@description('Object id of the PostgreSQL Microsoft Entra administrator, who runs bootstrap-db (a group of operators is best). Default: the deployer.')
param postgresEntraAdminObjectId string = deployerPrincipalId

@description('Name of that administrator: a user\'s UPN or a group\'s display name (azd: POSTGRES_ENTRA_ADMIN_NAME). Its members log in to PostgreSQL with this name.')
@minLength(1)
param postgresEntraAdminName string

@description('Kind of that administrator.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param postgresEntraAdminType string = 'User'

@description('PostgreSQL password authentication. Leave off; on only while moving a deployment made before passwordless access (docs/runbook.md), then off again.')
param postgresPasswordAuth bool = false

@description('The NOLOGIN role that owns the app\'s database; the app\'s identity acts as it (bootstrap-db creates both).')
param postgresOwnerRole string = 'metrics_owner'

@description('PostgreSQL major version.')
param postgresVersion string = '16'

@description('Database name.')
param databaseName string = 'metrics'

@description('Allow connections from Azure services to PostgreSQL (needed: Consumption plans have no fixed outbound address).')
param postgresAllowAzureServices bool = true

@description('Extra PostgreSQL firewall rules for operators: [{"name": "ops", "startIpAddress": "203.0.113.7", "endIpAddress": "203.0.113.7"}].')
param postgresFirewallRules array = []

@description('ORCHESTRATOR_SCHEDULE: six-field NCRONTAB schedule of the timer, UTC. The default fires every 10 minutes from 06:00: the first invocation of a date starts its run, the next ones resume it until it has finished (a first back-fill takes hours), the rest cost one database read.')
param orchestratorSchedule string = '0 */10 6-23 * * *'

@description('STAGE_BUDGET_SECONDS: time budget of one stage call.')
@minValue(5)
@maxValue(200)
param stageBudgetSeconds int = 150

@description('SHAREPOINT_SITE_ID (e.g. contoso.sharepoint.com,<site guid>,<web guid>); empty: uploads are skipped.')
param sharePointSiteId string = ''

@description('SHAREPOINT_DRIVE_ID of the document library; empty: uploads are skipped.')
param sharePointDriveId string = ''

@description('SHAREPOINT_FOLDER inside the library.')
param sharePointFolder string = 'metrics'

@description('Address alerts are mailed to; empty: alerts fire without notifying anyone.')
param alertEmail string = ''

@description('Object id of whoever deploys (azd: AZURE_PRINCIPAL_ID); gets Key Vault Secrets Officer to store the GitHub tokens. Empty: no grant.')
param deployerPrincipalId string = ''

@description('Kind of the deployer principal (azd: AZURE_PRINCIPAL_TYPE, default User; set ServicePrincipal when azd runs as one, e.g. in CI).')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param deployerPrincipalType string = 'User'

@description('Key Vault purge protection. Leave on in production; a test environment that is torn down often may turn it off.')
param keyVaultPurgeProtection bool = true

@description('Days Log Analytics keeps telemetry and logs.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 90

@description('Private networking (Flex Consumption only): a virtual network the Function App integrates with, private endpoints and DNS zones for PostgreSQL and Key Vault, and their public endpoints off. Operators then reach the server and the vault only from inside the network. Off by default.')
param privateNetworking bool = false

@description('Private networking: address space of the virtual network.')
param vnetAddressPrefix string = '10.40.0.0/16'

@description('Private networking: subnet of the Function App (at least /27).')
param vnetAppSubnetPrefix string = '10.40.0.0/24'

@description('Private networking: subnet of the private endpoints.')
param vnetEndpointSubnetPrefix string = '10.40.1.0/24'

@description('Client address ranges (CIDR, e.g. 203.0.113.0/24) allowed to call the HTTP functions and fire the timer by hand; empty: any address (function keys still required). Off by default.')
param allowedClientIpRanges array = []

@description('PostgreSQL storage used, in percent, above which the storage alert fires.')
@minValue(50)
@maxValue(95)
param postgresStorageAlertPercent int = 75

@description('Flex Consumption: most instances (40-1000). The job runs on one instance; this only caps runaway scale-out.')
@minValue(40)
@maxValue(1000)
param flexMaximumInstanceCount int = 40

@description('Flex Consumption: instance memory in MB.')
@allowed([
  512
  2048
  4096
])
param flexInstanceMemoryMB int = 2048

@description('Tags added to every resource.')
param tags object = {}

var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var allTags = union(tags, {
  'azd-env-name': environmentName
  application: 'metrics-collector'
})
var appName = 'func-mc-${token}'
var deploymentContainerName = 'app-package'
// The app logs in as the role of its managed identity (named after the app, created by
// bootstrap-db), acting as the owner role; the server's certificate and name are checked.
var databaseURL = 'postgres://${appName}@${postgres.outputs.fqdn}:5432/${databaseName}?sslmode=verify-full&options=-c%20role%3D${postgresOwnerRole}'

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: allTags
    logAnalyticsName: 'log-mc-${token}'
    appInsightsName: 'appi-mc-${token}'
    retentionInDays: logRetentionDays
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: allTags
    name: 'stmc${token}'
    deploymentContainerName: deploymentContainerName
    allowSharedKeyAccess: hostingPlan == 'consumption'
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    tags: allTags
    name: 'kv-mc-${token}'
    purgeProtection: keyVaultPurgeProtection
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
    publicNetworkAccess: !privateNetworking
    deployerPrincipalId: deployerPrincipalId
    deployerPrincipalType: deployerPrincipalType
  }
}

module postgres 'modules/postgres.bicep' = {
  name: 'postgres'
  params: {
    location: location
    tags: allTags
    name: 'psql-mc-${token}'
    version: postgresVersion
    entraAdminObjectId: postgresEntraAdminObjectId
    entraAdminName: postgresEntraAdminName
    entraAdminType: postgresEntraAdminType
    passwordAuth: postgresPasswordAuth
    publicNetworkAccess: !privateNetworking
    databaseName: databaseName
    allowAzureServices: postgresAllowAzureServices
    firewallRules: postgresFirewallRules
  }
}

module network 'modules/network.bicep' = {
  name: 'network'
  params: {
    location: location
    tags: allTags
    enabled: privateNetworking
    vnetName: 'vnet-mc-${token}'
    addressPrefix: vnetAddressPrefix
    appSubnetPrefix: vnetAppSubnetPrefix
    endpointSubnetPrefix: vnetEndpointSubnetPrefix
    postgresServerId: postgres.outputs.id
    keyVaultId: keyVault.outputs.id
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    tags: allTags
    appName: appName
    planName: 'plan-mc-${token}'
    hostingPlan: hostingPlan
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    maximumInstanceCount: flexMaximumInstanceCount
    instanceMemoryMB: flexInstanceMemoryMB
    appInsightsName: monitoring.outputs.appInsightsName
    keyVaultUri: keyVault.outputs.uri
    databaseURL: databaseURL
    collectorEnterprises: string(collectorEnterprises)
    orchestratorSchedule: orchestratorSchedule
    stageBudgetSeconds: stageBudgetSeconds
    sharePointSiteId: sharePointSiteId
    sharePointDriveId: sharePointDriveId
    sharePointFolder: sharePointFolder
    virtualNetworkSubnetId: network.outputs.appSubnetId
    allowedClientIpRanges: allowedClientIpRanges
  }
}

module access 'modules/access.bicep' = {
  name: 'access'
  params: {
    principalId: functionApp.outputs.principalId
    keyVaultName: keyVault.outputs.name
    storageAccountName: storage.outputs.name
    grantStorage: hostingPlan == 'flex'
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    tags: allTags
    nameSuffix: token
    appInsightsId: monitoring.outputs.appInsightsId
    alertEmail: alertEmail
    postgresServerId: postgres.outputs.id
    postgresStorageAlertPercent: postgresStorageAlertPercent
  }
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  params: {
    location: location
    tags: allTags
    appInsightsId: monitoring.outputs.appInsightsId
  }
}

// azd stores these in the environment; scripts/deploy.sh and docs/deploy.md use them.
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_FUNCTION_APP_PRINCIPAL_ID string = functionApp.outputs.principalId
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_URI string = keyVault.outputs.uri
output POSTGRES_SERVER_NAME string = postgres.outputs.name
output POSTGRES_FQDN string = postgres.outputs.fqdn
output POSTGRES_DATABASE string = databaseName
output POSTGRES_ENTRA_ADMIN_NAME string = postgresEntraAdminName
output POSTGRES_OWNER_ROLE string = postgresOwnerRole
output POSTGRES_APP_ROLE string = appName
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.appInsightsName
