// Parses and type-checks every KQL query the alerts (infra/queries/*.kql) and the
// workbook (infra/workbook.json) run, with Microsoft's Kusto.Language library, against
// the columns of the Application Insights tables they read. Exits 1 on any diagnostic.
//
//   npm ci && node check.js ../../queries/*.kql ../../workbook.json
'use strict';

require('@kusto/language-service-next/bridge.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.js');
const fs = require('fs');

const K = globalThis.Kusto.Language;
const S = K.Symbols;

// Columns of the workspace-based Application Insights tables, as the classic (App
// Insights scoped) query surface names them; only what the queries may touch.
const common = 'timestamp:datetime, name:string, itemType:string, customDimensions:dynamic, '
  + 'customMeasurements:dynamic, operation_Id:string, cloud_RoleName:string, cloud_RoleInstance:string';
const tables = [
  ['customEvents', common],
  ['customMetrics', common + ', value:real, valueCount:int, valueSum:real, valueMin:real, valueMax:real, valueStdDev:real'],
  ['exceptions', common + ', type:string, outerMessage:string, outerType:string, innermostMessage:string, problemId:string, severityLevel:int'],
  ['traces', common + ', message:string, severityLevel:int'],
].map(([name, columns]) => new S.TableSymbol.$ctor7(name, '(' + columns + ')'));

const database = new S.DatabaseSymbol.$ctor1('appinsights', tables);
const cluster = new S.ClusterSymbol.$ctor1('appinsights', [database]);
const globals = K.GlobalState.Default.WithCluster(cluster).WithDatabase(database);

function queriesOf(file) {
  const text = fs.readFileSync(file, 'utf8');
  if (!file.endsWith('.json')) {
    return [[file, text]];
  }
  return JSON.parse(text).items
    .filter((item) => item.type === 3)
    .map((item) => [file + '#' + item.name, item.content.query]);
}

let problems = 0;
let checked = 0;
for (const file of process.argv.slice(2)) {
  for (const [origin, query] of queriesOf(file)) {
    checked++;
    const diagnostics = K.KustoCode.ParseAndAnalyze(query, globals).GetDiagnostics();
    for (let i = 0; i < diagnostics.Count; i++) {
      const d = diagnostics.getItem(i);
      problems++;
      const line = query.slice(0, d.Start).split('\n').length;
      console.log(`${origin}:${line}: ${d.Message}`);
    }
  }
}
console.log(`${checked} queries checked, ${problems} problems`);
process.exit(problems > 0 || checked === 0 ? 1 : 0);
