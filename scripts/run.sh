#!/usr/bin/env bash
# Command 1: set up, build, and run mod_h5s3 on 127.0.0.1 against a local,
# seeded S3 server.  Prints the URLs to open; Ctrl-C stops.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec /usr/bin/python3 scripts/serve.py "$@"
