# Sourced by scripts/fuzz.sh and scripts/sanitize.sh, which each build
# the module in a private copy of the tree (clang for libFuzzer, gcc for
# ASan), so their objects never mix with those of the main tree or with
# each other's.

# copy_tree REPO BUILD: BUILD becomes a copy of REPO without the in-tree
# build products (objects, libraries, configure's output, test programs,
# logs), then the current directory.  What BUILD made itself, including
# its own configure output, stays.
copy_tree() {
  mkdir -p "$2"
  rsync -a --delete --exclude='.git' --exclude='*.o' --exclude='*.lo' \
    --exclude='*.la' --exclude='.libs' --exclude='.deps' \
    --exclude='/config.status' --exclude='/Makefile' --exclude='/config.h' \
    --exclude='/libtool' --exclude='/config.log' --exclude='/stamp-h1' \
    --exclude='/.configured-with' --exclude='.dirstamp' --exclude='/out' \
    --exclude='tests/unit/**/test_*[!c]' --exclude='/tests/tools/h5s3-*[!c]' \
    --exclude='/tests/fuzz/fuzz_*[!ch]' --exclude='/tests/fuzz/bench_*[!c]' \
    --exclude='__pycache__' \
    --exclude='/run' --exclude='*.log' --exclude='*.trs' \
    "$1/" "$2/"
  cd "$2"
}

# needs_configure OPTION: in the copy, runs autoreconf when configure is
# older than its sources; true when ./configure must run (no Makefile, one
# older than configure, or a configuration made without OPTION).
needs_configure() {
  if [ ! -x configure ] || [ configure.ac -nt configure ] \
     || [ Makefile.am -nt configure ]; then
    # (Called as a condition, where set -e does not stop the script.)
    autoreconf -fi >/dev/null 2>&1 || exit $?
  fi
  [ ! -f Makefile ] || [ configure -nt Makefile ] \
    || ! grep -q -- "$1" config.status 2>/dev/null
}
