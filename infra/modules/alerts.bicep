// Azure Monitor log alerts over the service's telemetry (docs/architecture.md,
// "Telemetry names") and the action group that mails the operators. The KQL of each rule
// is in infra/queries/, so it can be read and pasted into Logs as it is.

@description('Azure region of the rules (that of Application Insights).')
param location string

@description('Tags for every resource.')
param tags object

@description('Short unique suffix for resource names.')
param nameSuffix string

@description('Application Insights component the rules query.')
param appInsightsId string

@description('Address alerts are mailed to. Empty: rules fire but notify nobody.')
param alertEmail string

@description('PostgreSQL flexible server whose storage is watched.')
param postgresServerId string

@description('Storage used, in percent, above which the storage alert fires.')
@minValue(50)
@maxValue(95)
param postgresStorageAlertPercent int

var actionGroupName = 'ag-metrics-collector-${nameSuffix}'

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'metricscol'
    enabled: true
    emailReceivers: [
      {
        name: 'operators'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

// Every rule fires when its query returns rows. Event rules (a failure happened) are
// stateless: each failure alerts once and is closed by hand. State rules (a condition
// holds) resolve themselves when the condition clears.
var rules = [
  {
    name: 'collection-failed'
    displayName: 'metrics-collector: collection failed'
    description: 'A run ended failed, a collect stage failed for good, or GitHub refused a token. docs/runbook.md: "A failed run".'
    severity: 1
    frequency: 'PT15M'
    window: 'PT15M'
    queryRange: 'P1D'
    autoMitigate: false
    splitByEnterprise: false
    query: loadTextContent('../queries/collection-failed.kql')
  }
  {
    name: 'rate-limit'
    displayName: 'metrics-collector: GitHub rate-limit usage above 80 %'
    description: 'An enterprise token used more than 80 % of its GitHub rate limit. docs/runbook.md: "A rate-limit alert".'
    severity: 2
    frequency: 'PT15M'
    window: 'PT15M'
    queryRange: ''
    autoMitigate: true
    splitByEnterprise: true
    query: loadTextContent('../queries/rate-limit.kql')
  }
  {
    name: 'long-run'
    displayName: 'metrics-collector: collection longer than 2 hours'
    description: 'A run has been going (or went) for more than 2 hours. docs/runbook.md: "A long run".'
    severity: 2
    frequency: 'PT15M'
    window: 'PT15M'
    queryRange: 'P1D'
    autoMitigate: true
    splitByEnterprise: false
    query: loadTextContent('../queries/long-run.kql')
  }
  {
    name: 'export-upload-failed'
    displayName: 'metrics-collector: export or upload failed'
    description: 'export_csv or upload_sharepoint failed for good in a finished run. docs/runbook.md: "Export or upload failed".'
    severity: 2
    frequency: 'PT15M'
    window: 'PT15M'
    queryRange: 'P1D'
    autoMitigate: false
    splitByEnterprise: false
    query: loadTextContent('../queries/export-upload-failed.kql')
  }
  {
    name: 'no-success'
    displayName: 'metrics-collector: no successful run in 26 hours'
    description: 'No run has delivered data for more than 26 hours; the CSVs in SharePoint are going stale. docs/runbook.md: "No successful run".'
    severity: 1
    frequency: 'PT1H'
    window: 'PT1H'
    queryRange: 'P2D'
    autoMitigate: true
    splitByEnterprise: false
    query: loadTextContent('../queries/no-success.kql')
  }
  {
    name: 'token-expiring'
    displayName: 'metrics-collector: GitHub token expires within 14 days'
    description: 'Rotate the token before it expires. docs/runbook.md: "Rotating a GitHub token".'
    severity: 3
    frequency: 'PT1H'
    window: 'PT1H'
    queryRange: 'P1D'
    autoMitigate: true
    splitByEnterprise: true
    query: loadTextContent('../queries/token-expiring.kql')
  }
]

// One alert per enterprise for the rules whose query returns an enterprise column.
var enterpriseDimension = [
  {
    name: 'enterprise'
    operator: 'Include'
    values: [
      '*'
    ]
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for rule in rules: {
    name: 'mc-${rule.name}-${nameSuffix}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: rule.displayName
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [
        appInsightsId
      ]
      evaluationFrequency: rule.frequency
      windowSize: rule.window
      overrideQueryTimeRange: empty(rule.queryRange) ? null : rule.queryRange
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
            dimensions: rule.splitByEnterprise ? enterpriseDimension : []
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      autoMitigate: rule.autoMitigate
      actions: {
        actionGroups: empty(alertEmail) ? [] : [resourceId('Microsoft.Insights/actionGroups', actionGroupName)]
      }
    }
    dependsOn: [
      actionGroup
    ]
  }
]

var metricAlertActions = [
  {
    actionGroupId: resourceId('Microsoft.Insights/actionGroups', actionGroupName)
  }
]

// Storage: auto-grow (postgres.bicep) adds disk before it fills, but a disk that keeps
// growing means data is not pruned (RETENTION_DAYS) or the estate grew; this says so
// before the bill or the disk limit does.
resource storageAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'metrics-collector-postgres-storage-${nameSuffix}'
  location: 'global'
  tags: tags
  properties: {
    description: 'PostgreSQL storage used above ${postgresStorageAlertPercent} %. docs/runbook.md: "Database storage alert".'
    severity: 2
    enabled: true
    scopes: [
      postgresServerId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          name: 'storage-percent'
          criterionType: 'StaticThresholdCriterion'
          metricNamespace: 'Microsoft.DBforPostgreSQL/flexibleServers'
          metricName: 'storage_percent'
          operator: 'GreaterThan'
          threshold: postgresStorageAlertPercent
          timeAggregation: 'Maximum'
        }
      ]
    }
    autoMitigate: true
    actions: empty(alertEmail) ? [] : metricAlertActions
  }
  dependsOn: [
    actionGroup
  ]
}

output ruleNames array = [for (rule, i) in rules: alertRules[i].name]
