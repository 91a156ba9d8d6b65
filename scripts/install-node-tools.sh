#!/usr/bin/env bash
# Installs the npm tools for openapi.yaml into tools/openapi/node_modules,
# pinned by tools/openapi/package-lock.json: @redocly/cli (the lint in
# tests/integration/ops/test_openapi.py) and openapi-typescript
# (scripts/gen-api-types.sh).  Does nothing when they are up to date.
#   scripts/install-node-tools.sh [--force]
set -euo pipefail
. "$(dirname "$0")/need-npm.sh"
cd "$(dirname "$0")/../tools/openapi"

need_npm install-node-tools

# npm writes node_modules/.package-lock.json after every install.
installed=node_modules/.package-lock.json
if [ "${1:-}" = "--force" ] || [ ! -f "$installed" ] \
   || [ package-lock.json -nt "$installed" ] || [ package.json -nt "$installed" ]; then
  echo "install-node-tools: npm ci in $(pwd)"
  npm ci --no-audit --no-fund --loglevel=error </dev/null
  touch "$installed"
fi
