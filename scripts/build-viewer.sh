#!/usr/bin/env bash
# Builds the viewer page (viewer/: H5Web + React, bundled by Vite) into
# viewer/dist, which httpd serves through conf/h5s3-viewer.conf.  Packages
# come from the npm registry as pinned by viewer/package-lock.json.  The
# API types (src/api-types.ts, gitignored) are generated from openapi.yaml
# first and `tsc --noEmit` checks the page against them, so a contract
# change that breaks the page fails the build.  Does nothing when
# node_modules and dist are newer than every source, so repeated runs are
# cheap.
#   scripts/build-viewer.sh [--force]
set -euo pipefail
. "$(dirname "$0")/need-npm.sh"
cd "$(dirname "$0")/../viewer"

need_npm build-viewer

force=0
[ "${1:-}" = "--force" ] && force=1

# npm writes node_modules/.package-lock.json after every install.
installed=node_modules/.package-lock.json
if [ $force = 1 ] || [ ! -f "$installed" ] \
   || [ package-lock.json -nt "$installed" ] || [ package.json -nt "$installed" ]; then
  echo "build-viewer: npm ci"
  npm ci --no-audit --no-fund --loglevel=error </dev/null
  touch "$installed"
fi

# Always: the file is gitignored, and only rewritten when openapi.yaml
# changes what it holds.
../scripts/gen-api-types.sh src/api-types.ts

stamp=dist/index.html
if [ $force = 0 ] && [ -f "$stamp" ] \
   && [ -z "$(find package.json package-lock.json vite.config.js tsconfig.json \
                   index.html src ../openapi.yaml "$installed" \
                   -newer "$stamp" -print -quit)" ]; then
  echo "build-viewer: $(pwd)/dist is up to date"
  exit 0
fi
npm run --silent typecheck </dev/null
npm run --silent build -- --logLevel warn </dev/null
echo "build-viewer: built $(pwd)/dist"
