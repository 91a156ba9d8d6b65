#!/usr/bin/python3
"""Exact-range chunk reads (issue 14, row 4): a cold 16x16 strided
heatmap (/data?mode=heatmap&max_size=16) of a 4096x4096 float32 dataset
stored in 64x64 chunks (16 KiB each, no filter).  Prints the S3 bytes the
request cost (RGW's access log and the module's X-H5S3-S3-Bytes) over
the stored bytes of the chunks the selection touches (from HDF5's chunk
index, by h5py), and the values are checked against h5py.

    bench/bench_chunks.py [--side 4096] [--chunk 64] [--max-size 16]
                          [--runs 3] [--delay-ms 0]

Each run is a fresh httpd (empty page and metadata caches); the median
ratio is reported.  Needs the module built (scripts/setup.sh).  Prints a
BENCH_JSON line (bench/README.md) named heatmap_bytes.
"""

import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import MiB, emit, rgw_measure, s3_conf  # noqa: E402
from harness import RGW, Httpd, default_module_so  # noqa: E402
from harness.delay_proxy import SpawnedProxy  # noqa: E402

BUCKET = "benchchunks"


def make_file(path, side, chunk):
    rng = np.random.default_rng(4)
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("data", shape=(side, side), dtype=np.float32,
                              chunks=(chunk, chunk))
        for r in range(0, side, chunk * 8):
            ds[r:r + chunk * 8] = rng.random((min(chunk * 8, side - r),
                                              side), dtype=np.float32)


def touched(path, rows, cols, chunk):
    """(number of chunks, their stored bytes) the selection rows x cols
    touches, from the chunk index."""
    keys = {(r // chunk * chunk, c // chunk * chunk)
            for r in rows for c in cols}
    total = 0
    with h5py.File(path, "r") as f:
        dsid = f["data"].id
        for k in keys:
            total += dsid.get_chunk_info_by_coord(k).size
    return len(keys), total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=4096)
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--max-size", type=int, default=16)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--delay-ms", type=float, default=0,
                    help="ms added before each S3 request (delay proxy)")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="h5s3-bench-chunks-")
    key = "grid%d_c%d.h5" % (args.side, args.chunk)
    path = os.path.join(tmp, key)
    make_file(path, args.side, args.chunk)
    rgw = RGW().start()
    proxy = None
    try:
        s3 = rgw.client()
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(path, BUCKET, key)
        endpoint = rgw.endpoint
        if args.delay_ms:
            proxy = SpawnedProxy(rgw.port, delay=args.delay_ms / 1000.0)
            endpoint = proxy.endpoint
        q = ("/hdf/files/%s/data?path=/data&mode=heatmap&max_size=%d"
             % (key, args.max_size))
        runs = []
        for _ in range(args.runs):
            h = Httpd(default_module_so(), mpm="event",
                      conf_body=s3_conf(endpoint, rgw, BUCKET)).start()
            try:
                def one():
                    c = http.client.HTTPConnection("127.0.0.1", h.port,
                                                   timeout=300)
                    c.request("GET", q)
                    r = c.getresponse()
                    return r.status, r.headers, r.read()
                (st, hd, body), n, nb = rgw_measure(rgw, one)
            finally:
                h.stop()
                h.cleanup()
            assert st == 200, body[:300]
            runs.append((n, nb, int(hd["X-H5S3-S3-Requests"]),
                         int(hd["X-H5S3-S3-Bytes"]), json.loads(body)))
        ans = runs[0][4]
        rs = ans["downsample_info"]["row_step"]
        cs = ans["downsample_info"]["col_step"]
        got = np.array(ans["data"], dtype=np.float32)
        rows = list(range(0, args.side, rs))[:got.shape[0]]
        cols = list(range(0, args.side, cs))[:got.shape[1]]
        with h5py.File(path, "r") as f:
            ref = f["data"][rows[0]:rows[-1] + 1:rs, cols[0]:cols[-1] + 1:cs]
        assert np.array_equal(got, ref), "values differ from h5py"
        nchunks, stored = touched(path, rows, cols, args.chunk)
        ratios = [r[1] / stored for r in runs]
        ratio = statistics.median(ratios)
        med = sorted(runs, key=lambda r: r[1])[len(runs) // 2]
        print("file %s: %d bytes, %dx%d float32 in %dx%d chunks" % (
            key, os.path.getsize(path), args.side, args.side, args.chunk,
            args.chunk))
        print("heatmap max_size=%d: %dx%d values, steps %d/%d, touching %d "
              "chunks, %d stored bytes (%.2f MiB)" % (
                  args.max_size, got.shape[0], got.shape[1], rs, cs,
                  nchunks, stored, stored / MiB))
        for i, (n, nb, hn, hnb, _) in enumerate(runs):
            print("  cold run %d: RGW saw %d requests, %d bytes; module "
                  "headers %d requests, %d bytes; %.2fx stored" % (
                      i + 1, n, nb, hn, hnb, nb / stored))
        print("S3 bytes / stored bytes of touched chunks: %.2fx (median, "
              "target <= 1.25x)" % ratio)
        emit("heatmap_bytes", "%.2fx (%.1f MiB for %.1f, %d requests)" % (
            ratio, med[1] / MiB, stored / MiB, med[0]), round(ratio, 3),
            "<= 1.25x", ratio <= 1.25, s3_bytes=med[1], s3_requests=med[0],
            stored_bytes=stored, chunks=nchunks, runs=len(runs))
    finally:
        if proxy:
            proxy.stop()
        rgw.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
