#!/usr/bin/env bash
# Builds the deployable Functions package: a static linux/amd64 build of ./handler and a
# zip whose root holds host.json, the executable host.json names (mode 0755) and every
# function folder with its function.json - nothing else. The zip is written by a small Go
# program (internal/deploycheck/cmd/appzip), so no system zip tool is needed, the exec bit
# is always set, and the same commit always gives the same bytes.
#
#   scripts/package.sh                    # -> dist/metrics-collector.zip
#   PACKAGE_OUT=/tmp/app.zip scripts/package.sh
#   PACKAGE_EXECUTABLE=/path/to/binary scripts/package.sh   # package a prebuilt binary
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${PACKAGE_OUT:-$root/dist/metrics-collector.zip}"
cd "$root"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

exe="${PACKAGE_EXECUTABLE:-}"
if [[ -z "$exe" ]]; then
  exe="$work/handler"
  echo "building ./handler for linux/amd64 (static)"
  CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -o "$exe" ./handler
fi

# appzip runs on this machine, so it is built for the host platform, not linux/amd64.
go run ./internal/deploycheck/cmd/appzip -root "$root" -executable "$exe" -out "$out"
