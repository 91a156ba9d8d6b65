#!/usr/bin/env bash
# The test suite against an AddressSanitizer + UBSan build (gcc,
# configure --enable-sanitizers) made in a private copy of the tree:
#   1. make check: unit tests with ASan, UBSan (halt on the first
#      report) and LeakSanitizer (on by default);
#   2. the integration tests with that copy's mod_h5s3.so loaded into
#      Debian's apache2, with gcc's libasan preloaded (H5S3_SANITIZE=1,
#      tests/integration/harness/httpd.py); any sanitizer report in an
#      error log fails the test that caused it.
#
#   scripts/sanitize.sh [--unit-only | --full] [PYTEST_ARGS...]
#
# scripts/test.sh (CI) passes --full.  Without it, the integration step
# runs a representative subset, for a quicker look: the
# routes that parse requests and S3/HDF5 data and move the most memory
# (viewer HDF5/data/preview/CSV/files, h5grove, DeltaGlider download,
# upload, savings and core tool, S3 failure and resilience paths), about
# a minute under ASan.  --full runs every integration test (~2.5 min).
#
# Environment: SAN_BUILD_DIR (default /tmp/h5s3-asan-build); H5S3_MPM
# (default here: event, threads and processes; both MPMs run in the
# normal suite).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
BUILD=${SAN_BUILD_DIR:-/tmp/h5s3-asan-build}
unit_only=0
full=0
case "${1:-}" in
  --unit-only) unit_only=1; shift ;;
  --full) full=1; shift ;;
esac
# Files below tests/integration/, without .py.
SUBSET=(viewer/test_hdf5 viewer/test_data viewer/test_preview viewer/test_csv
        viewer/test_files grove/test_grove_api api/test_download
        api/test_upload api/test_savings core/test_dg_core_rgw
        viewer/test_s3_failures viewer/test_resilience)
t0=$(date +%s)

echo "== sanitizers: build (gcc, ASan + UBSan) in $BUILD"
. "$REPO/scripts/build-copy.sh"
copy_tree "$REPO" "$BUILD"
if needs_configure enable-sanitizers; then
  # -O1: quicker to build, and what ASan recommends for useful reports.
  ./configure --enable-sanitizers CFLAGS="-g -O1" >configure.out 2>&1 \
    || { tail -20 configure.out; exit 1; }
fi
make -j"$(nproc)" >make.out 2>&1 || { tail -40 make.out; exit 1; }

echo "== sanitizers: unit tests (make check; ASan, UBSan, LeakSanitizer)"
# UBSan is recoverable in this build: halt so a report fails the test.
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export LSAN_OPTIONS="suppressions=$REPO/tests/sanitize/lsan.supp:print_suppressions=0"
if ! make -j"$(nproc)" check >check.out 2>&1; then
  grep -E '^(PASS|FAIL|ERROR|# )' check.out || true
  for log in $(find tests/unit -name '*.log' | sort); do
    if grep -qE 'Sanitizer|runtime error:|^FAIL|Failures: [1-9]|Errors: [1-9]' "$log"; then
      echo "---- $log"; tail -n 40 "$log"
    fi
  done
  echo "sanitizers: unit tests failed"
  exit 1
fi
grep -E '^# (TOTAL|PASS|FAIL|ERROR):' check.out || true
# A sanitizer report in a forked check child need not fail the test.
if grep -rlE --include='*.log' 'ERROR: (Address|Leak)Sanitizer|runtime error:' tests/unit; then
  echo "sanitizers: a unit test log has a sanitizer report (files above)"
  exit 1
fi
unset UBSAN_OPTIONS ASAN_OPTIONS LSAN_OPTIONS
echo "== sanitizers: unit tests clean ($(( $(date +%s) - t0 )) s so far)"
[ "$unit_only" = 1 ] && exit 0

echo "== sanitizers: integration tests, module under ASan in apache2"
export H5S3_SANITIZE=1
export H5S3_MPM=${H5S3_MPM:-event}
unset H5S3_MODULE
if [ "$full" = 1 ]; then
  # test_run_and_install and test_deb_package check the run/install
  # scripts and the Debian package (a build of its own, without ASan),
  # not the module under ASan.
  tests=(tests/integration
         --deselect tests/integration/ops/test_run_and_install.py
         --deselect tests/integration/ops/test_deb_package.py)
else
  tests=()
  for t in "${SUBSET[@]}"; do
    # A renamed or moved test must not drop out of the subset unnoticed.
    if [ ! -f "tests/integration/$t.py" ]; then
      echo "sanitizers: SUBSET names tests/integration/$t.py, which does not exist"
      exit 1
    fi
    tests+=("tests/integration/$t.py")
  done
  echo "   subset: ${SUBSET[*]} (--full: all)"
fi
set +e
# A temporary folder of its own: scripts/test.sh runs this beside the
# normal integration pass, whose pytest keeps its own under /tmp.
rm -rf "$BUILD/pytest-tmp"
/usr/bin/python3 -m pytest -p no:cacheprovider -q -rfEs \
  --basetemp="$BUILD/pytest-tmp" "${tests[@]}" "$@" 2>&1 | tee pytest.out
rc=${PIPESTATUS[0]}
set -e
if grep -qE '[0-9]+ skipped' pytest.out; then
  echo "a test was skipped: that is a failure here"
  rc=1
fi
echo "== sanitizers: $(( $(date +%s) - t0 )) s"
exit $rc
