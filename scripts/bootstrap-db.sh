#!/usr/bin/env bash
# Sets up passwordless database access once per deployment (docs/deploy.md, step 2b):
# creates the owner role and the role of the Function App's managed identity and hands
# the database to them (metrics-collector bootstrap-db, internal/postgres/bootstrap.go).
# Run it as the server's Microsoft Entra administrator (POSTGRES_ENTRA_ADMIN_NAME, or a
# member of that group) after `az login`; it is idempotent. azd runs it after provisioning.
#
# Needs the infra outputs in the environment (azd sets them; otherwise take them from
# `az deployment group show -g <rg> -n main --query properties.outputs`):
#   POSTGRES_FQDN POSTGRES_DATABASE POSTGRES_ENTRA_ADMIN_NAME POSTGRES_OWNER_ROLE
#   POSTGRES_APP_ROLE AZURE_FUNCTION_APP_PRINCIPAL_ID
# Moving a deployment made before passwordless access: also LEGACY_ADMIN_LOGIN (the old
# administrator, e.g. metricsadmin) and LEGACY_DATABASE_PASSWORD (its password, from the
# vault's database-password secret); docs/runbook.md has the whole procedure.
#
# The server must be reachable from here: your address in postgresFirewallRules, or, with
# privateNetworking, a machine inside the virtual network.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fqdn="${POSTGRES_FQDN:?set POSTGRES_FQDN (an output of infra/main.bicep)}"
database="${POSTGRES_DATABASE:-metrics}"
admin="${POSTGRES_ENTRA_ADMIN_NAME:?set POSTGRES_ENTRA_ADMIN_NAME to the Microsoft Entra administrator of the server}"
owner="${POSTGRES_OWNER_ROLE:-metrics_owner}"
login="${POSTGRES_APP_ROLE:?set POSTGRES_APP_ROLE (an output of infra/main.bicep: the Function App name)}"
object_id="${AZURE_FUNCTION_APP_PRINCIPAL_ID:?set AZURE_FUNCTION_APP_PRINCIPAL_ID (an output of infra/main.bicep)}"

# The administrator's name goes into a URL: percent-encode what a UPN or a group name
# holds ('%' first). Pick a group name of letters, digits, spaces, '-', '_' and '.'.
enc() { local s="$1"; s="${s//%/%25}"; s="${s//@/%40}"; s="${s// /%20}"; s="${s//:/%3A}"; s="${s//\//%2F}"; printf '%s' "$s"; }

args=(bootstrap-db
  -admin-url "postgres://$(enc "$admin")@${fqdn}:5432/postgres?sslmode=verify-full"
  -database "$database" -owner "$owner" -login "$login" -object-id "$object_id")
if [[ -n "${LEGACY_ADMIN_LOGIN:-}" ]]; then
  : "${LEGACY_DATABASE_PASSWORD:?set LEGACY_DATABASE_PASSWORD (the password of the old administrator) in the environment}"
  args+=(-legacy-url "postgres://$(enc "$LEGACY_ADMIN_LOGIN")@${fqdn}:5432/${database}?sslmode=verify-full")
fi

cd "$root"
echo "bootstrap-db: $login (object id $object_id) acting as $owner in $database on $fqdn, as $admin"
go run ./handler "${args[@]}"
