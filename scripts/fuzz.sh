#!/usr/bin/env bash
# Coverage-guided fuzzing of the core's parsers (libFuzzer, clang, ASan +
# UBSan).  Builds the targets of tests/fuzz in a private copy of the tree
# (CC=clang ./configure --enable-fuzzing), replays every corpus and
# regression input, then fuzzes each target for N seconds.
#
#   scripts/fuzz.sh [--seconds N] [--jobs N] [--replay-only] [--no-build]
#                   [--merge] [--known-issues] [TARGET...]
#
#   --seconds N     fuzzing time per target (default $FUZZ_SECONDS or 15)
#   --jobs N        targets run at once (default: number of CPUs)
#   --replay-only   only replay tests/fuzz/corpus and tests/fuzz/regressions
#   --no-build      use the targets already built in $FUZZ_BUILD_DIR
#   --merge         add the new inputs that grow coverage to tests/fuzz/corpus
#   --known-issues  replay tests/fuzz/known-issues (HDF5-internal crashers)
#                   and tests/fuzz/pending (crashers of the module not yet
#                   fixed) and say which still crash; nothing else
#   TARGET          e.g. fuzz_s3_xml (default: every tests/fuzz/fuzz_*.c)
#
# Environment: FUZZ_BUILD_DIR (default /tmp/h5s3-fuzz-build).  Crashers
# land in $FUZZ_BUILD_DIR/out/<target>/; once fixed, keep one as
# tests/fuzz/regressions/<target>/<name>.  Exit status: 0 when nothing
# crashed (HDF5-internal crashes of the fuzz_h5_* targets are reported,
# not counted: see tests/fuzz/known-issues/README.md), 1 otherwise.
#
# The fuzz_h5_* targets hit crashes inside HDF5 1.10 within seconds, so
# they fuzz in libFuzzer's fork mode, which records a crash and goes on;
# every artifact is then replayed alone and classified.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

seconds=${FUZZ_SECONDS:-15}
jobs=$(nproc)
replay_only=0
build=1
merge=0
known=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --replay-only) replay_only=1; shift ;;
    --no-build) build=0; shift ;;
    --merge) merge=1; shift ;;
    --known-issues) known=1; shift ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do
    targets+=("$(basename "$f" .c)")
  done
fi

BUILD=${FUZZ_BUILD_DIR:-/tmp/h5s3-fuzz-build}
OUT=$BUILD/out
BIN=$BUILD/tests/fuzz

# ---- build -------------------------------------------------------------
if [ "$build" = 1 ]; then
  command -v clang >/dev/null || {
    echo "fuzz.sh: clang missing (scripts/setup.sh installs it)" >&2; exit 1; }
  # A copy without the in-tree build products, so the clang build never
  # mixes with the gcc objects of the main tree.
  . "$REPO/scripts/build-copy.sh"
  copy_tree "$REPO" "$BUILD"
  if needs_configure enable-fuzzing; then
    echo "== fuzz: configure (clang, ASan + UBSan + libFuzzer) in $BUILD"
    CC=clang ./configure --enable-fuzzing >configure.out 2>&1 \
      || { tail -20 configure.out; exit 1; }
  fi
  echo "== fuzz: build ${#targets[@]} targets"
  make -j"$(nproc)" fuzz-targets >make.out 2>&1 || { tail -40 make.out; exit 1; }
  cd "$REPO"
fi
for t in "${targets[@]}"; do
  [ -x "$BIN/$t" ] || { echo "fuzz.sh: $BIN/$t not built" >&2; exit 1; }
done

# ---- run options -------------------------------------------------------
# Huge allocations return NULL (as under a memory rlimit) instead of
# taking the process down; UB and leaks are failures.
export ASAN_OPTIONS="allocator_may_return_null=1:max_allocation_size_mb=512:detect_leaks=1:abort_on_error=0:handle_abort=1:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# While fuzzing, crash reports are not symbolized: llvm-symbolizer cost
# about 140 ms of CPU a crash, and the fuzz_h5_* targets meet a crash
# inside HDF5 every few hundred executions (a fifth of fuzz_h5_struct's
# CPU went to llvm-symbolizer).  Every artifact is replayed alone
# afterwards, symbolized, and classified from that report.  Everything
# else is checked the same.
# Other sanitizer options cost little here: malloc_context_size=10 or
# quarantine_size_mb=64 changed the HDF5 targets' CPU per execution by
# less than the noise (5-10%), for shorter reports and a shorter
# use-after-free window, so the defaults stay (tests/fuzz/README.md).
nosym=symbolize=0
# libFuzzer's fork mode creates and deletes files for every job (one a
# crash) in $TMPDIR: on ext4 the inode allocation after many deletions was
# 7-8% of the HDF5 targets' CPU.  A tmpfs has no such cost.
fuzz_tmp=${TMPDIR:-/tmp}
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  fuzz_tmp=/dev/shm
fi
export LSAN_OPTIONS="suppressions=$REPO/tests/fuzz/lsan.supp:print_suppressions=0"
export HDF5_USE_FILE_LOCKING=FALSE
common=(-rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10
        -print_final_stats=1)
flags_for() {
  local t=$1 f=("${common[@]}")
  [ -f "tests/fuzz/dicts/$t.dict" ] && f+=("-dict=tests/fuzz/dicts/$t.dict")
  case "$t" in
    # HDF5 files; the harness checks each input for leaks itself, without
    # a LeakSanitizer pass per leak of HDF5's (tests/fuzz/fuzz_h5.h), and
    # HDF5's endless loops need not cost 10 s each.
    fuzz_h5_*) f=("${f[@]/-timeout=10/-timeout=5}")
               f+=(-max_len=16384 -detect_leaks=0) ;;
    *) f+=(-max_len=4096) ;;
  esac
  printf '%s\n' "${f[@]}"
}

# A crash whose innermost frame outside the sanitizer runtime and libc
# is in libhdf5: HDF5's bug, not ours.
# (Frames of the sanitizers, libFuzzer and libc are skipped: a wild free
# in HDF5 stops in ASan's free, a bad memcpy in libc's, a timeout in
# libFuzzer's alarm handler.)
innermost_frame() {
  awk '/^ *#[0-9]+ /{
         if ($0 ~ /libclang_rt|sanitizer_common|compiler-rt|libc\.so|libc_start|interceptor|__interceptor_|__sanitizer|__asan|__lsan|__ubsan|fuzzer::|sysdeps\/| in (malloc|calloc|realloc|free|strdup|strndup|strlen|strnlen|strcmp|memcpy|memmove|memset|memcmp) /) next;
         print; exit }' "$1"
}
hdf5_internal() {
  innermost_frame "$1" | grep -q 'libhdf5'
}

# Where a crash happened, as "function file.c:line" of that innermost
# frame (no directories, no column, no address), for comparing crashes.
crash_site() {
  innermost_frame "$1" | sed -E 's/^ *#[0-9]+ +0x[0-9a-f]+ +(in +)?//;
    s#[^ ]*/##g; s/(:[0-9]+):[0-9]+$/\1/'
}

# The inputs stored in directory $1 (its notes, *.md and *.txt, aside),
# one a line.
stored_inputs() {
  local f
  for f in "$1"/*; do
    [ -f "$f" ] || continue
    case "$f" in *.md|*.txt) continue ;; esac
    printf '%s\n' "$f"
  done
}

mkdir -p "$OUT"

# ---- known issues ------------------------------------------------------
# replay_stored DIR VERDICT: every input stored in DIR/<target>/ for a
# target that is built, run alone (its report in $OUT/known.log), then
# judged by VERDICT STATUS TARGET INPUT, which says what it found and
# fails when that is a failure of the run.
replay_stored() {
  local d t f st failed=0
  local -a fl
  for d in "$1"/*/; do
    d=${d%/}
    t=$(basename "$d")
    [ -x "$BIN/$t" ] || continue
    mapfile -t fl < <(flags_for "$t")
    while IFS= read -r f; do
      st=0
      "$BIN/$t" "${fl[@]}" "$f" >"$OUT/known.log" 2>&1 </dev/null || st=$?
      "$2" "$st" "$t" "$f" || failed=1
    done < <(stored_inputs "$d")
  done
  return $failed
}
known_issue() {
  if [ "$1" = 0 ]; then
    echo "known issue no longer crashes: $3"
  elif hdf5_internal "$OUT/known.log"; then
    echo "still crashes inside HDF5: $3"
  else
    echo "crashes OUTSIDE HDF5 (our bug): $3"; return 1
  fi
}
pending_issue() {
  if [ "$1" = 0 ]; then
    echo "fixed, move to tests/fuzz/regressions/$2/: $3"
  else
    echo "module bug still open: $3"; return 1
  fi
}
if [ "$known" = 1 ]; then
  rc=0
  replay_stored tests/fuzz/known-issues known_issue || rc=1
  # The module's own crashers, kept out of regressions/ until fixed.
  replay_stored tests/fuzz/pending pending_issue || rc=1
  exit $rc
fi

# ---- one target --------------------------------------------------------
run_target() {
  local t=$1 dir=$OUT/$1 corpus=tests/fuzz/corpus/$1 reg=tests/fuzz/regressions/$1
  local -a fl files
  mapfile -t fl < <(flags_for "$t")
  rm -rf "$dir"; mkdir -p "$dir/new"
  : >"$dir/result"
  # Replay: every stored input once (files given one by one: no fuzzing).
  mapfile -t files < <(find "$corpus" "$reg" -type f 2>/dev/null | sort)
  if [ ${#files[@]} -gt 0 ]; then
    if ! printf '%s\0' "${files[@]}" \
        | xargs -0 -n 500 "$BIN/$t" "${fl[@]}" >"$dir/replay.log" 2>&1; then
      echo "replay FAILED (${#files[@]} inputs): see $dir/replay.log" >"$dir/result"
      return 1
    fi
  fi
  echo "replay ok (${#files[@]} inputs)" >"$dir/result"
  [ "$replay_only" = 1 ] && return 0
  local seeds=()
  [ -d "$corpus" ] && seeds+=("$corpus")
  [ -d "$reg" ] && seeds+=("$reg")
  local rc=0 runrc=0
  local -a fork=()
  case "$t" in
    fuzz_h5_*) fork=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1) ;;
  esac
  TMPDIR=$fuzz_tmp \
  ASAN_OPTIONS="$ASAN_OPTIONS:$nosym" UBSAN_OPTIONS="$UBSAN_OPTIONS:$nosym" \
  "$BIN/$t" "${fl[@]}" "${fork[@]}" -max_total_time="$seconds" \
    -artifact_prefix="$dir/" "$dir/new" "${seeds[@]}" >"$dir/fuzz.log" 2>&1 || runrc=$?
  local execs
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" | tail -1)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$dir/fuzz.log" | tail -1)
  local newu
  newu=$(find "$dir/new" -type f | wc -l)
  # Each artifact alone: ours fails the run, HDF5's own is reported.
  local art ours=0 internal=0 gone=0 known=0 p site
  # The module's crashers already written down in pending/ (not fixed
  # yet): fuzzing finds them again, e.g. fuzz_h5_struct the page cache
  # overflow within seconds.  Such a crash (same innermost frame, file and
  # line) is reported and not counted; the bug stays open in pending/,
  # and `--known-issues` fails until it is fixed.  Any other crash of
  # the module fails the run as before.
  local -A pending_site=()
  local pending_done=0
  pending_sites() {   # once, when an artifact needs them
    [ $pending_done = 1 ] && return 0
    pending_done=1
    while IFS= read -r p; do
      if ! "$BIN/$t" "${fl[@]}" "$p" >"$dir/pending.log" 2>&1 </dev/null; then
        site=$(crash_site "$dir/pending.log")
        [ -z "$site" ] || pending_site[$site]=$p
      fi
    done < <(stored_inputs "tests/fuzz/pending/$t")
    return 0
  }
  for art in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* \
             "$dir"/slow-unit-*; do
    [ -f "$art" ] || continue
    if "$BIN/$t" "${fl[@]}" "$art" >"$art.log" 2>&1; then
      gone=$((gone + 1))
    elif [[ "$t" = fuzz_h5_* ]] && hdf5_internal "$art.log"; then
      internal=$((internal + 1))
      echo "HDF5-internal: $art (not counted; see tests/fuzz/known-issues/README.md)" >>"$dir/result"
    elif site=$(crash_site "$art.log") && [ -n "$site" ] \
         && pending_sites && [ -n "${pending_site[$site]:-}" ]; then
      known=$((known + 1))
      echo "known module bug at $site, as ${pending_site[$site]} (not counted): $art" >>"$dir/result"
    else
      ours=$((ours + 1))
      echo "CRASH: $art (log: $art.log)" >>"$dir/result"
    fi
  done
  if [ $ours -eq 0 ] && [ $internal -eq 0 ] && [ $known -eq 0 ] \
     && [ ${#fork[@]} -eq 0 ] \
     && [ $runrc -ne 0 ]; then
    ours=1
    echo "CRASH (no artifact): see $dir/fuzz.log" >>"$dir/result"
  fi
  [ $ours -eq 0 ] || rc=1
  echo "fuzzed ${seconds}s: ${execs:-?} execs, $newu new inputs, $ours crashes, $internal inside HDF5, $known known (pending/), $gone not reproduced" >>"$dir/result"
  if [ "$merge" = 1 ] && [ "$newu" -gt 0 ]; then
    mkdir -p "$corpus"
    "$BIN/$t" "${fl[@]}" -merge=1 "$corpus" "$dir/new" >"$dir/merge.log" 2>&1 || true
    echo "merged into $corpus: $(find "$corpus" -type f | wc -l) inputs" >>"$dir/result"
  fi
  return $rc
}

# ---- all targets, $jobs at a time ---------------------------------------
t0=$(date +%s)
if [ "$replay_only" = 1 ]; then
  echo "== fuzz: replay corpora and regressions of ${#targets[@]} targets"
else
  echo "== fuzz: replay, then ${seconds}s per target, $jobs at a time (${#targets[@]} targets)"
fi
declare -A pids=()
failed=0
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
    wait -n || true
  done
  run_target "$t" &
  pids[$t]=$!
done
for t in "${targets[@]}"; do
  if ! wait "${pids[$t]}"; then
    failed=1
  fi
done
for t in "${targets[@]}"; do
  printf '%-18s %s\n' "$t" "$(paste -sd ';' "$OUT/$t/result" | sed 's/;/; /g')"
done
echo "== fuzz: $(( $(date +%s) - t0 )) s; logs in $OUT"
if [ $failed -ne 0 ]; then
  echo "fuzz: a target crashed or a stored input fails (logs above)"
  exit 1
fi
