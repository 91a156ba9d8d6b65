#!/usr/bin/env bash
# Installs what mod_h5s3 needs from Debian 12 and builds it.  Idempotent:
# packages already present are not fetched again.
#   scripts/setup.sh [--sanitizers] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # build
  gcc make autoconf automake libtool pkg-config check
  apache2 apache2-dev libapr1-dev libaprutil1-dev
  libhdf5-dev libcurl4-openssl-dev libjansson-dev libssl-dev
  # runtime codecs and HDF5 filter plugins
  xdelta3 hdf5-filter-plugin hdf5-filter-plugin-blosc-serial hdf5-tools
  libdeflate-dev
  # tests: python side and the real S3 server (Ceph RGW)
  python3 python3-pytest python3-h5py python3-hdf5plugin python3-numpy
  python3-boto3 python3-botocore
  # tests: responses validated against openapi.yaml, HTTP fuzzing
  python3-jsonschema python3-yaml python3-hypothesis
  # tests: the Zarr store read by zarr-python over fsspec's HTTP
  python3-zarr python3-fsspec python3-aiohttp python3-xarray
  ceph-mon ceph-osd radosgw ceph-common
  # benchmarks
  wrk curl
  # fuzzing (libFuzzer: clang and its runtimes) and the private build
  # copies of scripts/fuzz.sh and scripts/sanitize.sh
  clang libclang-rt-14-dev rsync
  # operations tests: fleet caches, Basic auth, load; the TLS tests' CAs
  redis-server memcached apache2-utils openssl
  # the Debian package (scripts/build-deb.sh) and its test
  debhelper dpkg-dev devscripts equivs fakeroot lintian
  # viewer page (npm: see build-viewer.sh) and its browser test
  nodejs chromium
  # the Zarr store view's other clients (issue 15): xarray (with dask),
  # netCDF-C's writer and reader for the fixtures and the oracle
  python3-xarray python3-dask python3-netcdf4
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi

[ "${1:-}" = "--no-build" ] && exit 0

# Built in the source tree: the module ends up in .libs/mod_h5s3.so.
configure_args=(--enable-werror)
if [ "${1:-}" = "--sanitizers" ]; then
  configure_args+=(--enable-sanitizers)
fi
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
  autoreconf -fi >/dev/null
fi
want="${configure_args[*]}"
if [ ! -f Makefile ] || [ configure -nt Makefile ] || [ "$(cat .configured-with 2>/dev/null)" != "$want" ]; then
  ./configure "${configure_args[@]}" >/dev/null
  echo "$want" > .configured-with
  make clean >/dev/null 2>&1 || true
fi
make -j"$(nproc)" >/dev/null
echo "setup: built $(pwd)/.libs/mod_h5s3.so"
# npm tools for openapi.yaml (lint in the tests, TypeScript types): before
# the viewer, whose build generates its API types with them.
scripts/install-node-tools.sh
scripts/build-viewer.sh
