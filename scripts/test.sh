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

# ---------------------------------------------------------------------------
# Sanitizers: a gcc ASan + UBSan build in a private copy; make check with
# LeakSanitizer, then the whole integration suite (under the event MPM,
# threads and processes) with that module in apache2 (libasan preloaded).
# Any sanitizer report fails.  It runs beside the normal integration pass
# and the fuzzers: most of an integration test's time is spent waiting on
# httpd, RGW and the delay proxies, not on the CPU, and every run has its
# own ports, RGW and temporary folders (its own --basetemp), so the two
# passes do not see each other.  Its output is shown when it ends.
san_log=/tmp/h5s3-sanitize.log
echo "== sanitizers (scripts/sanitize.sh --full), in the background: $san_log"
scripts/sanitize.sh --full "$@" >"$san_log" 2>&1 </dev/null &
san_pid=$!
# Stopped with the suite (Ctrl-C, a CI timeout), not left behind.
trap 'kill -- "$san_pid" 2>/dev/null || true' INT TERM

echo "== integration tests (pytest)"
set +e
/usr/bin/python3 -m pytest -p no:cacheprovider -q -rfEs --durations=15 tests/integration "$@" 2>&1 \
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

echo "== sanitizers: waiting for the background pass"
if ! wait "$san_pid"; then
  rc=1
  echo "== sanitizers FAILED: $san_log"
fi
cat "$san_log"

echo "== suite wall time: $(( $(date +%s) - t0 )) s"
exit $rc
