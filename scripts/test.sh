#!/usr/bin/env bash
# Command 2: set up, build, and run the whole test suite: unit tests
# (libcheck, on the same objects the module is built from) and integration
# tests (pytest: real httpd under prefork and event, real Ceph RGW).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)

scripts/setup.sh

echo "== unit tests (make check)"
if ! make -j"$(nproc)" check >/tmp/h5s3-unit.log 2>&1; then
  cat /tmp/h5s3-unit.log
  find tests/unit -name '*.log' -exec tail -n 30 {} + 2>/dev/null || true
  echo "unit tests failed"
  exit 1
fi
grep -E '^# (TOTAL|PASS|FAIL|ERROR|SKIP|XFAIL|XPASS):' /tmp/h5s3-unit.log || true
if grep -qE '^# (SKIP|XFAIL):[[:space:]]*[1-9]' /tmp/h5s3-unit.log; then
  echo "a unit test was skipped: that is a failure here"
  exit 1
fi

echo "== integration tests (pytest)"
set +e
/usr/bin/python3 -m pytest -p no:cacheprovider -q -rfEs tests/integration "$@" 2>&1 \
  | tee /tmp/h5s3-pytest.log
rc=${PIPESTATUS[0]}
set -e
if grep -qE '[0-9]+ skipped' /tmp/h5s3-pytest.log; then
  echo "a test was skipped: that is a failure here"
  rc=1
fi

# ---------------------------------------------------------------------------
# Fuzzing: every parser of the core under libFuzzer (clang, ASan + UBSan),
# in a private build copy.  Replays tests/fuzz/corpus and
# tests/fuzz/regressions, then fuzzes each target for a few seconds.
echo "== fuzzing (scripts/fuzz.sh: replay + ${H5S3_FUZZ_SECONDS:-6} s per target)"
if ! scripts/fuzz.sh --seconds "${H5S3_FUZZ_SECONDS:-6}"; then
  rc=1
fi

# ---------------------------------------------------------------------------
# Sanitizers: a gcc ASan + UBSan build in a private copy; make check with
# LeakSanitizer, then the whole integration suite (under the event MPM,
# threads and processes) with that module in apache2 (libasan preloaded).
# Any sanitizer report fails.
echo "== sanitizers (scripts/sanitize.sh --full)"
if ! scripts/sanitize.sh --full "$@"; then
  rc=1
fi

echo "== suite wall time: $(( $(date +%s) - t0 )) s"
exit $rc
