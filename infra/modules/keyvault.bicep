// Key Vault with Azure RBAC. It holds the GitHub tokens github-pat-<enterprise id>
// (written by an operator, never by a deployment: see docs/deploy.md); the database needs
// no secret (Microsoft Entra tokens). Every data-plane access (AuditEvent) goes to the
// Log Analytics workspace. The app's read access is granted in access.bicep.

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Key Vault name (3-24 characters).')
@minLength(3)
@maxLength(24)
param name string

@description('Purge protection: a deleted vault and its secrets stay recoverable for 90 days and cannot be purged early.')
param purgeProtection bool

@description('Log Analytics workspace that receives the vault\'s audit events (who read or changed which secret).')
param logAnalyticsWorkspaceId string

@description('Public endpoint. Off with private networking: the vault is reached only through its private endpoint (network.bicep), and operators store tokens from inside the network.')
param publicNetworkAccess bool

@description('Object id of the person or pipeline that deploys; it gets Key Vault Secrets Officer to write the GitHub tokens. Empty: no grant.')
param deployerPrincipalId string

@description('Kind of the deployer principal.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param deployerPrincipalType string

// Built-in role: Key Vault Secrets Officer (read, write and delete secrets).
var secretsOfficerRoleId = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

var vaultProperties = {
  tenantId: subscription().tenantId
  sku: {
    family: 'A'
    name: 'standard'
  }
  enableRbacAuthorization: true
  enableSoftDelete: true
  softDeleteRetentionInDays: 90
  publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
  networkAcls: {
    bypass: 'AzureServices'
    defaultAction: publicNetworkAccess ? 'Allow' : 'Deny'
  }
}

// Purge protection cannot be switched off once on, and false is refused: leave the
// property out instead.
resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: union(vaultProperties, purgeProtection ? { enablePurgeProtection: true } : {})
}

// Audit: every secret read, write, delete and every refused access, kept as long as the
// workspace keeps logs (logRetentionDays).
resource auditLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'AuditEvent'
        enabled: true
      }
    ]
  }
}

resource deployerSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, secretsOfficerRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsOfficerRoleId)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
