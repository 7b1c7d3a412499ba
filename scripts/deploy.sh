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

# On Flex Consumption the upload goes to the app's deployment container with the app's
# own identity (One Deploy). Right after `azd provision` / the first infrastructure
# deployment its new role assignment (Storage Blob Data Owner) may not have propagated
# yet, and the upload is refused with 403 for a few minutes: retry that, and only
# that, with a bounded backoff. DEPLOY_RETRIES (default 6) and DEPLOY_RETRY_WAIT
# (seconds before the first retry, doubled each time up to 120; default 20) tune it.
retries="${DEPLOY_RETRIES:-6}"
wait="${DEPLOY_RETRY_WAIT:-20}"
echo "deploying $zip to $app in $group"
for attempt in $(seq 1 "$((retries + 1))"); do
  if err="$(az functionapp deployment source config-zip \
      --resource-group "$group" --name "$app" --src "$zip" --output none 2>&1)"; then
    break
  fi
  if ! grep -qiE '403|forbidden|AuthorizationPermissionMismatch|AuthorizationFailure|not authorized' <<<"$err"; then
    echo "$err" >&2
    echo "deploy: the upload failed (not a permission refusal, so not retried)" >&2
    exit 1
  fi
  if (( attempt > retries )); then
    echo "$err" >&2
    echo "deploy: the upload was still refused (403) after $attempt attempts. The Function App's identity needs Storage Blob Data Owner on its deployment storage account (infra/modules/access.bicep); if the role assignment exists, it has not propagated yet: run scripts/deploy.sh again in a few minutes" >&2
    exit 1
  fi
  echo "deploy: the upload was refused (403): the Function App's new role assignment on its deployment storage (Storage Blob Data Owner) takes a few minutes to propagate; retrying in ${wait}s (attempt $attempt of $((retries + 1)))" >&2
  sleep "$wait"
  wait=$(( wait * 2 > 120 ? 120 : wait * 2 ))
done

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
