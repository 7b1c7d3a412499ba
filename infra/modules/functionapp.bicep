// The Function App (Linux, custom handler) with a system-assigned managed identity, on
// Flex Consumption (default) or Linux Consumption, and every app setting of DESIGN §3.

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Function App name (becomes <name>.azurewebsites.net).')
param appName string

@description('Hosting plan name.')
param planName string

@description('flex: Flex Consumption (FC1), the default. consumption: Linux Consumption (Y1): 10-minute function limit, no VNet, takes no new features and retires on 2028-09-30.')
@allowed([
  'flex'
  'consumption'
])
param hostingPlan string

@description('Storage account for AzureWebJobsStorage (and the Flex deployment container).')
param storageAccountName string

@description('Blob container that holds the Flex Consumption deployment package.')
param deploymentContainerName string

@description('Flex Consumption: most instances the app may scale out to (40-1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('Flex Consumption: memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Application Insights component the app reports to.')
param appInsightsName string

// --- the service's settings (DESIGN §3) ---

@description('KEY_VAULT_URI: the vault the service reads secrets from with its managed identity.')
param keyVaultUri string

@description('DATABASE_URL: the role of the app\'s managed identity, no password (DATABASE_AUTH=entra: each connection logs in with a Microsoft Entra token), sslmode=verify-full.')
param databaseURL string

@description('COLLECTOR_ENTERPRISES: the JSON array of enterprises (DESIGN §3).')
param collectorEnterprises string

@description('ORCHESTRATOR_SCHEDULE: six-field NCRONTAB schedule of main_orchestrator, UTC.')
param orchestratorSchedule string

@description('STAGE_BUDGET_SECONDS: time budget of one stage call (5-200; with a 25 s grace, HTTP calls answer within 230 s).')
@minValue(5)
@maxValue(200)
param stageBudgetSeconds int

@description('SHAREPOINT_SITE_ID; empty skips uploads.')
param sharePointSiteId string

@description('SHAREPOINT_DRIVE_ID; empty skips uploads.')
param sharePointDriveId string

@description('SHAREPOINT_FOLDER inside the drive.')
param sharePointFolder string

// --- network ---

@description('Subnet for virtual network integration (Flex Consumption only; network.bicep). Empty: none.')
param virtualNetworkSubnetId string

@description('Client address ranges (CIDR) allowed to call the app\'s HTTP functions; empty: any address (function keys still required). The timer and the orchestrator\'s calls on loopback are not affected.')
param allowedClientIpRanges array

var isFlex = hostingPlan == 'flex'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// Settings the service reads (DESIGN §3). Anything not set here takes its documented
// default: STAGE_BASE_URL (loopback, so STAGE_FUNCTION_KEY is not needed), EXPORT_DIR (a
// temp folder), GRAPH_* (managed identity against graph.microsoft.com). The settings are
// written as name/value lists, not built in a loop: a loop over values known only at
// deployment time (the connection strings) does not compile.
var serviceSettings = [
  {
    name: 'COLLECTOR_ENTERPRISES'
    value: collectorEnterprises
  }
  {
    name: 'KEY_VAULT_URI'
    value: keyVaultUri
  }
  {
    name: 'DATABASE_URL'
    value: databaseURL
  }
  {
    // Passwordless: the managed identity's Microsoft Entra token is the password.
    name: 'DATABASE_AUTH'
    value: 'entra'
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: appInsights.properties.ConnectionString
  }
  {
    name: 'ORCHESTRATOR_SCHEDULE'
    value: orchestratorSchedule
  }
  {
    name: 'STAGE_BUDGET_SECONDS'
    value: string(stageBudgetSeconds)
  }
  {
    // Go's soft memory limit, three quarters of the instance (Linux Consumption: 1.5 GB):
    // the garbage collector works harder before the platform kills the process.
    name: 'GOMEMLIMIT'
    value: isFlex ? '${instanceMemoryMB * 3 / 4}MiB' : '1100MiB'
  }
  {
    name: 'SHAREPOINT_SITE_ID'
    value: sharePointSiteId
  }
  {
    name: 'SHAREPOINT_DRIVE_ID'
    value: sharePointDriveId
  }
  {
    name: 'SHAREPOINT_FOLDER'
    value: sharePointFolder
  }
]

// Flex Consumption reaches host storage with the managed identity; the runtime and its
// version live in functionAppConfig, not in app settings.
var flexHostSettings = [
  {
    name: 'AzureWebJobsStorage__accountName'
    value: storage.name
  }
]

// Linux Consumption needs a connection string: its package upload and content share
// cannot use the managed identity.
var storageConnection = 'DefaultEndpointsProtocol=https;AccountName=${storage.name};EndpointSuffix=${environment().suffixes.storage};AccountKey=${storage.listKeys().keys[0].value}'
var consumptionHostSettings = [
  {
    name: 'AzureWebJobsStorage'
    value: storageConnection
  }
  {
    name: 'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING'
    value: storageConnection
  }
  {
    name: 'WEBSITE_CONTENTSHARE'
    value: toLower(appName)
  }
  {
    name: 'FUNCTIONS_EXTENSION_VERSION'
    value: '~4'
  }
  {
    name: 'FUNCTIONS_WORKER_RUNTIME'
    value: 'custom'
  }
]

var flexSku = {
  name: 'FC1'
  tier: 'FlexConsumption'
}
var consumptionSku = {
  name: 'Y1'
  tier: 'Dynamic'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: isFlex ? flexSku : consumptionSku
  properties: {
    reserved: true // Linux
  }
}

// Flex Consumption only: where the package lives, how far the app scales, the runtime.
var flexConfig = {
  functionAppConfig: {
    deployment: {
      storage: {
        type: 'blobContainer'
        value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
        authentication: {
          type: 'SystemAssignedIdentity'
        }
      }
    }
    scaleAndConcurrency: {
      maximumInstanceCount: maximumInstanceCount
      instanceMemoryMB: instanceMemoryMB
    }
    runtime: {
      name: 'custom'
      version: '1.0'
    }
  }
}

// Access restrictions: with ranges given, only they reach the HTTP functions (and the
// admin endpoint that fires the timer); everything else gets 403 before the host. The
// deployment (SCM) endpoint keeps its own, Entra-only access, so CI can still deploy.
var ipRules = [
  for (cidr, i) in allowedClientIpRanges: {
    name: 'allowed-${i}'
    ipAddress: cidr
    action: 'Allow'
    priority: 100 + i
  }
]
var restrictionsOn = {
  ipSecurityRestrictions: ipRules
  ipSecurityRestrictionsDefaultAction: 'Deny'
  scmIpSecurityRestrictionsUseMain: false
}
var restrictions = empty(allowedClientIpRanges) ? {} : restrictionsOn

var baseSiteConfig = {
  minTlsVersion: '1.2'
  ftpsState: 'Disabled'
  appSettings: concat(serviceSettings, isFlex ? flexHostSettings : consumptionHostSettings)
}

var siteProperties = {
  serverFarmId: plan.id
  reserved: true
  httpsOnly: true
  publicNetworkAccess: 'Enabled'
  siteConfig: union(baseSiteConfig, restrictions)
}

// Outbound traffic through the virtual network, to the private endpoints.
var vnetIntegration = empty(virtualNetworkSubnetId) ? {} : { virtualNetworkSubnetId: virtualNetworkSubnetId }

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: union(siteProperties, isFlex ? flexConfig : {}, vnetIntegration)
}

// Deployments authenticate with Entra ID (az login / OIDC); publishing passwords stay off.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output principalId string = site.identity.principalId
output defaultHostName string = site.properties.defaultHostName
