# Sourced by scripts/build-viewer.sh and scripts/install-node-tools.sh.

# need_npm NAME: installs npm (as NAME says) when it is missing.
need_npm() {
  if ! command -v npm >/dev/null 2>&1; then
    # Debian's nodejs ships npm as a separate package; NodeSource's nodejs
    # includes it and conflicts with that package, so ask only when missing.
    echo "$1: installing npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends npm </dev/null
  fi
}
