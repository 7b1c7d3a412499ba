// Optional private networking (main.bicep privateNetworking, off by default): a virtual
// network with a subnet the Function App integrates with (Flex Consumption only) and a
// subnet for private endpoints of PostgreSQL and Key Vault, each with its private DNS
// zone linked to the network, so the app resolves both names to private addresses. With
// it on, main.bicep turns the public endpoints of the server and the vault off. Every
// resource here is conditional on enabled; the outputs are empty when it is off.

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Build the network and the private endpoints.')
param enabled bool

@description('Virtual network name.')
param vnetName string

@description('Address space of the virtual network.')
param addressPrefix string

@description('Subnet the Function App integrates with (delegated to Microsoft.App/environments, as Flex Consumption requires).')
param appSubnetPrefix string

@description('Subnet that holds the private endpoints.')
param endpointSubnetPrefix string

@description('Resource id of the PostgreSQL flexible server.')
param postgresServerId string

@description('Resource id of the Key Vault.')
param keyVaultId string

var appSubnetName = 'app'
var endpointSubnetName = 'private-endpoints'

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = if (enabled) {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: appSubnetName
        properties: {
          addressPrefix: appSubnetPrefix
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: endpointSubnetName
        properties: {
          addressPrefix: endpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

// One private endpoint and one DNS zone per service: groupId is the sub-resource the
// endpoint reaches.
var endpoints = [
  {
    name: 'postgres'
    targetId: postgresServerId
    groupId: 'postgresqlServer'
    zone: 'privatelink.postgres.database.azure.com'
  }
  {
    name: 'keyvault'
    targetId: keyVaultId
    groupId: 'vault'
    zone: 'privatelink.vaultcore.azure.net'
  }
]

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for e in endpoints: if (enabled) {
    name: e.zone
    location: 'global'
    tags: tags
  }
]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (e, i) in endpoints: if (enabled) {
    parent: zones[i]
    name: '${vnetName}-link'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnet.id
      }
    }
  }
]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [
  for e in endpoints: if (enabled) {
    name: 'pe-${e.name}-${vnetName}'
    location: location
    tags: tags
    properties: {
      subnet: {
        id: resourceId('Microsoft.Network/virtualNetworks/subnets', vnetName, endpointSubnetName)
      }
      privateLinkServiceConnections: [
        {
          name: e.name
          properties: {
            privateLinkServiceId: e.targetId
            groupIds: [
              e.groupId
            ]
          }
        }
      ]
    }
    dependsOn: [
      vnet
    ]
  }
]

resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [
  for (e, i) in endpoints: if (enabled) {
    parent: privateEndpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: e.name
          properties: {
            privateDnsZoneId: zones[i].id
          }
        }
      ]
    }
  }
]

output appSubnetId string = enabled ? resourceId('Microsoft.Network/virtualNetworks/subnets', vnetName, appSubnetName) : ''
