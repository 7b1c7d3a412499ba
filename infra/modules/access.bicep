// Role assignments for the Function App's managed identity: read secrets from the vault
// and, on Flex Consumption, use host storage and the deployment container. Nothing
// broader: no Contributor, no access to other accounts.

@description('Object id of the Function App system-assigned identity.')
param principalId string

@description('Key Vault the app reads secrets from.')
param keyVaultName string

@description('Storage account of the Functions host.')
param storageAccountName string

@description('Grant storage data roles (Flex Consumption reaches storage with the identity; Linux Consumption uses a connection string).')
param grantStorage bool

// Built-in roles.
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // host leases, timer state, deployment package
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // host internal queues
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // host diagnostic events

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in (grantStorage ? [storageBlobDataOwner, storageQueueDataContributor, storageTableDataContributor] : []): {
    name: guid(storage.id, principalId, role)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]
