#!/usr/bin/env bash
# Zip-deploys dist/metrics-collector.zip (built by scripts/package.sh) to the Function
# App with the Azure CLI, then lists the functions the host found. Needs `az login` (or
# OIDC in CI) with rights to deploy to the app.
#
#   AZURE_RESOURCE_GROUP=rg-metrics AZURE_FUNCTION_APP_NAME=func-mc-abc scripts/deploy.sh
#
# azd sets both variables from the infra outputs; elsewhere, take them from
# `az deployment group show -g <rg> -n main --query properties.outputs`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
zip="${PACKAGE_OUT:-$root/dist/metrics-collector.zip}"
app="${AZURE_FUNCTION_APP_NAME:?set AZURE_FUNCTION_APP_NAME to the Function App name (an output of infra/main.bicep)}"
group="${AZURE_RESOURCE_GROUP:?set AZURE_RESOURCE_GROUP to the resource group of the Function App}"

if [[ ! -f "$zip" ]]; then
  echo "deploy: no package at $zip; run scripts/package.sh (make package) first" >&2
  exit 1
fi
command -v az >/dev/null || { echo "deploy: the Azure CLI (az) is not installed" >&2; exit 1; }

# Check the package again right before it ships: layout, exec bit, static linux/amd64.
(cd "$root" && go run ./internal/deploycheck/cmd/appzip -verify "$zip")

echo "deploying $zip to $app in $group"
az functionapp deployment source config-zip \
  --resource-group "$group" --name "$app" --src "$zip" --output none

# The host reads host.json and the function folders when the package lands; list what
# it found so a broken layout shows here rather than at 06:00 tomorrow.
for attempt in 1 2 3 4 5 6; do
  functions="$(az functionapp function list --resource-group "$group" --name "$app" \
    --query "[].name" --output tsv 2>/dev/null || true)"
  if grep -q "main_orchestrator" <<<"$functions"; then
    echo "functions on $app:"
    sed 's/^/  /' <<<"$functions"
    exit 0
  fi
  echo "waiting for the host to index the functions (attempt $attempt)"
  sleep 10
done
echo "deploy: the package was uploaded but $app lists no main_orchestrator function; check the app's logs (docs/runbook.md)" >&2
exit 1
