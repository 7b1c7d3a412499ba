// Azure Database for PostgreSQL Flexible Server: Burstable B1ms, 32 GB growing on its own,
// TLS required, 7-day backups, Microsoft Entra authentication only (no passwords), reached
// over its public endpoint through firewall rules or, with private networking, only
// through a private endpoint (network.bicep).

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Server name (becomes <name>.postgres.database.azure.com).')
param name string

@description('PostgreSQL major version.')
@allowed([
  '14'
  '15'
  '16'
  '17'
])
param version string

@description('Object id of the Microsoft Entra administrator (a group is best): the only one who runs bootstrap-db. The app never connects as it.')
@minLength(36)
@maxLength(36)
param entraAdminObjectId string

@description('Name of that administrator: a user\'s UPN, or the display name of a group or service principal. Its members log in with this name as the user.')
@minLength(1)
param entraAdminName string

@description('Kind of the administrator.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param entraAdminType string

@description('Password authentication. Off: only Microsoft Entra tokens log in. On only for the move of a deployment made before passwordless access (docs/runbook.md).')
param passwordAuth bool

@description('Public endpoint (behind the firewall rules). Off with private networking: the server is reached only through its private endpoint.')
param publicNetworkAccess bool

@description('Database the service uses.')
param databaseName string

@description('Let Azure services reach the server (the 0.0.0.0 rule). Needed on Consumption plans, whose outbound addresses are not fixed; see docs/security.md.')
param allowAzureServices bool

@description('Extra firewall rules, e.g. an operator address for restores: [{"name": "ops", "startIpAddress": "203.0.113.7", "endIpAddress": "203.0.113.7"}].')
param firewallRules array

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard_B1ms'
    tier: 'Burstable'
  }
  properties: {
    version: version
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: passwordAuth ? 'Enabled' : 'Disabled'
      tenantId: subscription().tenantId
    }
    storage: {
      storageSizeGB: 32
      // Grows the disk before it fills (the storage alert in alerts.bicep warns first).
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: {
      publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    }
  }
}

// The server applies one change at a time, so the child resources below are chained.

resource requireTLS 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'require_secure_transport'
  properties: {
    value: 'on'
    source: 'user-override'
  }
}

resource minimumTLS 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'ssl_min_protocol_version'
  properties: {
    value: 'TLSv1.2'
    source: 'user-override'
  }
  dependsOn: [
    requireTLS
  ]
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  dependsOn: [
    minimumTLS
  ]
}

// The Microsoft Entra administrator: runs bootstrap-db, which creates the app's role.
resource entraAdmin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: server
  name: entraAdminObjectId
  properties: {
    principalName: entraAdminName
    principalType: entraAdminType
    tenantId: subscription().tenantId
  }
  dependsOn: [
    database
  ]
}

resource azureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (allowAzureServices && publicNetworkAccess) {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
  dependsOn: [
    entraAdmin
  ]
}

@batchSize(1)
resource extraRules 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = [
  for rule in (publicNetworkAccess ? firewallRules : []): {
    parent: server
    name: rule.name
    properties: {
      startIpAddress: rule.startIpAddress
      endIpAddress: rule.endIpAddress
    }
    dependsOn: [
      azureServices
    ]
  }
]

output id string = server.id
output name string = server.name
output fqdn string = server.properties.fullyQualifiedDomainName
