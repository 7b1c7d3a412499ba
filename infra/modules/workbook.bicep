// The operations workbook: collection status over the last 7 days, GitHub API usage
// trends, error breakdown and data freshness. Its content is infra/workbook.json.

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Application Insights component the workbook reads.')
param appInsightsId string

@description('Name shown in the portal.')
param displayName string = 'metrics-collector operations'

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's resource name must be a GUID; this one is stable per component.
  name: guid(appInsightsId, 'metrics-collector-operations')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    version: 'Notebook/1.0'
    sourceId: appInsightsId
    serializedData: replace(loadTextContent('../workbook.json'), '__APP_INSIGHTS_ID__', appInsightsId)
  }
}

output id string = workbook.id
