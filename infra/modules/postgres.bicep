// Azure Database for PostgreSQL Flexible Server: Burstable B1ms, 32 GB, TLS required,
// 7-day backups, reached over its public endpoint through firewall rules.

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

@description('Administrator login the app connects as.')
param adminLogin string

@description('Administrator password.')
@secure()
param adminPassword string

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
    administratorLogin: adminLogin
    administratorLoginPassword: adminPassword
    authConfig: {
      activeDirectoryAuth: 'Disabled'
      passwordAuth: 'Enabled'
    }
    storage: {
      storageSizeGB: 32
      autoGrow: 'Disabled'
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: {
      publicNetworkAccess: 'Enabled'
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

resource azureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (allowAzureServices) {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
  dependsOn: [
    database
  ]
}

@batchSize(1)
resource extraRules 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = [
  for rule in firewallRules: {
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

output name string = server.name
output fqdn string = server.properties.fullyQualifiedDomainName
