#!/usr/bin/env bash
# Installs the npm tools for openapi.yaml into tools/openapi/node_modules,
# pinned by tools/openapi/package-lock.json: @redocly/cli (the lint in
# tests/integration/ops/test_openapi.py) and openapi-typescript
# (scripts/gen-api-types.sh).  Does nothing when they are up to date.
#   scripts/install-node-tools.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/../tools/openapi"

if ! command -v npm >/dev/null 2>&1; then
  # Debian's nodejs ships npm as a separate package; NodeSource's nodejs
  # includes it and conflicts with that package, so ask only when missing.
  echo "install-node-tools: installing npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends npm </dev/null
fi

# npm writes node_modules/.package-lock.json after every install.
installed=node_modules/.package-lock.json
if [ "${1:-}" = "--force" ] || [ ! -f "$installed" ] \
   || [ package-lock.json -nt "$installed" ] || [ package.json -nt "$installed" ]; then
  echo "install-node-tools: npm ci in $(pwd)"
  npm ci --no-audit --no-fund --loglevel=error </dev/null
  touch "$installed"
fi
