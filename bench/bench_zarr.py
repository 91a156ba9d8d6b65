#!/usr/bin/python3
"""Reading a whole gzip+shuffle dataset from S3: xarray through the Zarr
store view (`/zarr/{key}/`, docs/zarr.md) against h5py over an fsspec
HTTP file object with read-ahead, both reading the same object of the
same Ceph RGW on loopback.

    bench/bench_zarr.py [--size-mib 256] [--runs 2] [--block-mib 5]
                        [--cache-dir /tmp/h5s3-bench-zarr] [--mpm event]

    --size-mib 1024 is the issue-15 figure (a 1 GiB dataset).

The file: h5py writes one float32 dataset of about --size-mib MiB of
values in 256 x 4096 chunks (4 MiB raw each), shuffle + gzip level 1
(tests/fixtures/make_zarr_fixtures.py write_big), once into --cache-dir.

The clients, each cold (a fresh httpd, empty page and answer caches, for
every run of the module):
- xarray: xr.open_zarr("http://127.0.0.1:PORT/hdf/zarr/KEY/",
  consolidated=True)["data"].values, through Debian's python3-xarray,
  python3-zarr, fsspec's HTTP file system and dask; chunks pass through
  the module unchanged (zlib + shuffle) and are decoded by the client.
- h5py over fsspec: fsspec.filesystem("http").open(RGW_URL,
  cache_type="readahead", block_size=--block-mib MiB) on the object made
  public-read, given to h5py.File; h5py decodes.

Figures: wall time, MiB/s of decoded values, and the S3 requests and
bytes RGW's own access log counts for each client.  The values of both are
compared with h5py's reading of the local file.  Prints the command line.
"""

import argparse
import os
import shlex
import statistics
import sys
import time
import urllib.parse

import h5py
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.join(REPO, "tests", "fixtures"))

from harness import RGW, Httpd, default_module_so, parse_beast  # noqa: E402
from harness.plugin import s3_directives  # noqa: E402
import make_zarr_fixtures  # noqa: E402

MiB = 1024 * 1024
BUCKET = "benchzarr"


def s3_traffic(rgw, mark, key):
    """(GET requests, body bytes) RGW served for `key` since `mark`."""
    entries = [parse_beast(ln) for ln in rgw.log_lines()[mark:]]
    mine = [e for e in entries if e and "/%s/%s" % (BUCKET, key)
            in urllib.parse.unquote(e["target"])]
    return len(mine), sum(e["bytes"] for e in mine)


def conf(h, rgw):
    return ("AllowEncodedSlashes NoDecode\n"
            "H5S3Cache shmcb:%s/payloads(67108864)\n"
            "H5S3PageCache 256M\n" % h.workdir
            + s3_directives(rgw, [BUCKET])
            + "<Location /hdf>\n    SetHandler h5s3\n</Location>\n")


async def _client_of_8(**kwargs):
    import aiohttp
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=8), **kwargs)


def run_xarray(rgw, key, mpm):
    import xarray as xr
    import dask.array  # noqa: F401 (imported before the clock starts)
    import zarr  # noqa: F401
    h = Httpd(default_module_so(), mpm=mpm)
    h.conf_body = conf(h, rgw)
    h.start()
    try:
        url = h.url("/hdf/zarr/%s/" % urllib.parse.quote(key, safe=""))
        mark = rgw.request_count()
        t0 = time.monotonic()
        ds = xr.open_zarr(url, consolidated=True)
        t_open = time.monotonic() - t0
        values = ds["data"].values
        wall = time.monotonic() - t0
        reqs, nbytes = s3_traffic(rgw, mark, key)
        # The same chunks again, warm (page cache), only fetched: what
        # HTTP + the module cost without the client's decoding.
        # 8 connections: the harness's event MPM has 32 workers, and a
        # busy one closes idle keep-alive connections under aiohttp.
        import fsspec
        fs = fsspec.filesystem("http", skip_instance_cache=True,
                               get_client=_client_of_8)
        keys = [url + "data/%d.0" % i
                for i in range(ds["data"].shape[0]
                               // ds["data"].encoding["chunks"][0])]
        t1 = time.monotonic()
        got = fs.cat(keys)
        t_fetch = time.monotonic() - t1
        fetched = sum(len(v) for v in got.values())
        bad = h.error_log_problems()
        if bad:
            raise RuntimeError("httpd error log:\n" + "\n".join(bad))
        print("  xarray run: open %.2fs, open+read %.2fs; warm fetch of the "
              "%d chunks without decoding: %.2fs (%.1f MiB)"
              % (t_open, wall, len(keys), t_fetch, fetched / MiB))
        return wall, reqs, nbytes, values, url
    finally:
        h.stop()
        h.cleanup()


def run_h5py_fsspec(rgw, key, block):
    import fsspec
    url = "%s/%s/%s" % (rgw.endpoint, BUCKET, urllib.parse.quote(key))
    fs = fsspec.filesystem("http", skip_instance_cache=True)
    mark = rgw.request_count()
    t0 = time.monotonic()
    with fs.open(url, "rb", block_size=block, cache_type="readahead") as fo:
        with h5py.File(fo, "r") as f:
            values = f["data"][()]
    wall = time.monotonic() - t0
    reqs, nbytes = s3_traffic(rgw, mark, key)
    return wall, reqs, nbytes, values, url


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--block-mib", type=float, default=5)
    ap.add_argument("--cache-dir", default="/tmp/h5s3-bench-zarr")
    ap.add_argument("--mpm", choices=("event", "prefork"), default="event")
    a = ap.parse_args()
    print("command: %s" % " ".join(shlex.quote(x) for x in
                                   ["/usr/bin/python3"] + sys.argv))

    os.makedirs(a.cache_dir, exist_ok=True)
    path = os.path.join(a.cache_dir, "big_%d.h5" % a.size_mib)
    if not os.path.exists(path):
        t0 = time.monotonic()
        make_zarr_fixtures.write_big(path + ".part", a.size_mib)
        os.rename(path + ".part", path)
        print("wrote %s in %.1fs" % (path, time.monotonic() - t0))
    nchunks, stored = make_zarr_fixtures.stored_chunk_bytes(path, "data")
    with h5py.File(path, "r") as f:
        want = f["data"][()]
    print("file: %s, %.1f MiB on disk; dataset %s float32 = %.1f MiB of "
          "values in %d gzip+shuffle chunks of %.1f MiB stored"
          % (path, os.path.getsize(path) / MiB, want.shape,
             want.nbytes / MiB, nchunks, stored / MiB))

    rgw = RGW()
    rgw.start()
    try:
        s3 = rgw.client()
        s3.create_bucket(Bucket=BUCKET)
        key = "bench/big_%d.h5" % a.size_mib
        s3.upload_file(path, BUCKET, key,
                       ExtraArgs={"ACL": "public-read"})
        results = {"xarray via /zarr": [], "h5py via fsspec read-ahead": []}
        urls = {}
        for _ in range(a.runs):
            wall, reqs, nbytes, got, url = run_xarray(rgw, key, a.mpm)
            assert np.array_equal(got, want), "xarray values differ"
            results["xarray via /zarr"].append((wall, reqs, nbytes))
            urls["xarray via /zarr"] = url
            del got
            wall, reqs, nbytes, got, url = run_h5py_fsspec(
                rgw, key, int(a.block_mib * MiB))
            assert np.array_equal(got, want), "h5py values differ"
            results["h5py via fsspec read-ahead"].append(
                (wall, reqs, nbytes))
            urls["h5py via fsspec read-ahead"] = url
            del got
    finally:
        rgw.stop()

    print("values of both clients identical to h5py's local reading")
    print("%-28s %9s %9s %9s %12s %9s" % ("client (median of %d)" % a.runs,
                                          "wall s", "MiB/s", "S3 reqs",
                                          "S3 MiB", "S3/stored"))
    for name, runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        reqs = statistics.median(r[1] for r in runs)
        nbytes = statistics.median(r[2] for r in runs)
        print("%-28s %9.2f %9.1f %9d %12.1f %9.3f"
              % (name, wall, want.nbytes / MiB / wall, reqs, nbytes / MiB,
                 nbytes / stored))
    for name, url in urls.items():
        print("  %s: %s" % (name, url))
    print("load average at the end: %.2f %.2f %.2f on %d CPUs (a shared "
          "machine makes wall times noisy; bytes are exact)"
          % (os.getloadavg() + (os.cpu_count(),)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
