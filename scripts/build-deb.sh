#!/usr/bin/env bash
# Builds the Debian package libapache2-mod-h5s3 (debian/) and prints the
# folder that holds the .deb.  Installs the build dependencies first
# (mk-build-deps from debian/control; apt-get, non-interactive), then runs
# dpkg-buildpackage in a temporary copy of the tree, so the working tree
# keeps no build products.  No network is needed beyond apt: the package
# holds the module only, which is C built by autotools (the viewer page,
# built with npm, is not in it).
#   scripts/build-deb.sh [--out DIR] [--nocheck] [--no-deps]
#     --out DIR   where the .deb (and .buildinfo, .changes) go
#                 (default: build/deb in the tree, gitignored)
#     --nocheck   skip `make check` (the unit tests) in the package build
#     --no-deps   do not install the build dependencies
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="$repo/build/deb"
nocheck=0
deps=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --nocheck) nocheck=1; shift ;;
    --no-deps) deps=0; shift ;;
    *) echo "usage: $0 [--out DIR] [--nocheck] [--no-deps]" >&2; exit 2 ;;
  esac
done

export DEBIAN_FRONTEND=noninteractive
if [ $nocheck = 1 ]; then
  export DEB_BUILD_OPTIONS="nocheck${DEB_BUILD_OPTIONS:+ $DEB_BUILD_OPTIONS}"
  export DEB_BUILD_PROFILES="nocheck${DEB_BUILD_PROFILES:+ $DEB_BUILD_PROFILES}"
fi
apt_opts=(-y -qq --no-install-recommends -o DPkg::Lock::Timeout=300)

if [ $deps = 1 ]; then
  tools=()
  for p in devscripts equivs dpkg-dev fakeroot lintian rsync; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
      || tools+=("$p")
  done
  if [ ${#tools[@]} -gt 0 ]; then
    echo "build-deb: installing ${tools[*]}"
    apt-get update -qq
    apt-get install "${apt_opts[@]}" "${tools[@]}" </dev/null >/dev/null
  fi
  # dpkg-checkbuilddeps says nothing and succeeds when all are there.
  if ! dpkg-checkbuilddeps "$repo/debian/control" >/dev/null 2>&1; then
    echo "build-deb: installing the build dependencies (mk-build-deps)"
    tmpd=$(mktemp -d)
    (cd "$tmpd" && mk-build-deps -i -r \
       -t "apt-get ${apt_opts[*]}" "$repo/debian/control" </dev/null >/dev/null)
    rm -rf "$tmpd"
  fi
fi

work=$(mktemp -d /tmp/h5s3-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
src="$work/libapache2-mod-h5s3"
mkdir -p "$src"
# The files git knows (tracked, and new ones not ignored): what a clean
# checkout holds, plus uncommitted work; never build products.
if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard \
     | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
     | rsync -a --from0 --files-from=- ./ "$src/")
else
  . "$repo/scripts/build-copy.sh"
  (copy_tree "$repo" "$src" && rm -rf "$src/build" "$src/viewer/node_modules" \
     "$src/viewer/dist" "$src/tools/openapi/node_modules")
fi

t0=$(date +%s)
echo "build-deb: dpkg-buildpackage in $src"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b -jauto) >"$work/build.log" 2>&1; then
  tail -n 60 "$work/build.log"
  echo "build-deb: dpkg-buildpackage failed" >&2
  exit 1
fi
mkdir -p "$out"
for f in "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes; do
  [ -e "$f" ] && cp "$f" "$out/"
done
cp "$work/build.log" "$out/build.log"
echo "build-deb: built in $(( $(date +%s) - t0 )) s: $(cd "$out" && ls ./*.deb | tr '\n' ' ')"
echo "$out"
