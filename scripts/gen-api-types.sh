#!/usr/bin/env bash
# Generates TypeScript types for the viewer from openapi.yaml with
# openapi-typescript (npm, pinned in tools/openapi/package-lock.json):
#   scripts/gen-api-types.sh [OUTPUT]     (default viewer/src/api-types.ts)
# scripts/build-viewer.sh runs it before every build; OUTPUT is only
# rewritten when its content changes, so its mtime tells the build whether
# to rebuild.  `--check` fails when OUTPUT is not what openapi.yaml
# generates.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
check=0
if [ "${1:-}" = "--check" ]; then
  check=1
  shift
fi
out="${1:-$top/viewer/src/api-types.ts}"

"$top/scripts/install-node-tools.sh" >&2
gen="$top/tools/openapi/node_modules/.bin/openapi-typescript"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
tmp="$dir/api-types.ts"
"$gen" "$top/openapi.yaml" --output "$tmp" >/dev/null
if [ $check = 1 ]; then
  if ! cmp -s "$tmp" "$out"; then
    echo "gen-api-types: $out is stale: run scripts/gen-api-types.sh" >&2
    exit 1
  fi
  echo "gen-api-types: $out is up to date" >&2
  exit 0
fi
if cmp -s "$tmp" "$out"; then
  echo "gen-api-types: $out is up to date" >&2
  exit 0
fi
mkdir -p "$(dirname "$out")"
cp "$tmp" "$out"
echo "gen-api-types: wrote $out" >&2
