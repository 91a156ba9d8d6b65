#!/usr/bin/python3
"""A cloud-optimised HDF5 file (issue 14, row 5): written by h5py with
paged aggregation (fs_strategy="page", fs_page_size=1 MiB; the HDF Group's
recipe, like `h5repack -S PAGE -G 1048576`), 100 datasets.  On a fresh
server: cold /children of / and then /meta of every dataset.  Prints the
S3 requests (and bytes) RGW saw for all of it; the target is one.

    bench/bench_paged.py [--datasets 100] [--page-mib 1] [--kib 64]
                         [--runs 3] [--delay-ms 20]

One event-MPM process serves every request (so the count is the
module's reading plan, not how many processes happened to open the
file).  Needs the module built (scripts/setup.sh).  Prints a BENCH_JSON
line (bench/README.md) named paged_requests.
"""

import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import MiB, emit, rgw_measure, s3_conf  # noqa: E402
from harness import RGW, Httpd, default_module_so  # noqa: E402
from harness.delay_proxy import SpawnedProxy  # noqa: E402

BUCKET = "benchpaged"

ONE_PROCESS = ("<IfModule mpm_event_module>\n    StartServers 1\n"
               "    ServerLimit 1\n    ThreadsPerChild 8\n"
               "    ThreadLimit 8\n    MinSpareThreads 1\n"
               "    MaxSpareThreads 8\n    MaxRequestWorkers 8\n"
               "</IfModule>\n")


def make_file(path, datasets, kib, page):
    rng = np.random.default_rng(5)
    n = kib * 1024 // 4
    with h5py.File(path, "w", fs_strategy="page", fs_page_size=page,
                   fs_persist=True) as f:
        for i in range(datasets):
            d = f.create_dataset("d%03d" % i, data=rng.random(
                n, dtype=np.float32), chunks=(min(n, 4096),))
            d.attrs["index"] = i
            d.attrs["units"] = "m/s"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=100)
    ap.add_argument("--page-mib", type=int, default=1)
    ap.add_argument("--kib", type=int, default=64,
                    help="data per dataset")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--delay-ms", type=float, default=20)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="h5s3-bench-paged-")
    key = "paged%d.h5" % args.datasets
    path = os.path.join(tmp, key)
    make_file(path, args.datasets, args.kib, args.page_mib * MiB)
    with h5py.File(path, "r") as f:
        names = sorted(f)
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
        paths = (["/hdf/files/%s/children?path=/" % key]
                 + ["/hdf/files/%s/meta?path=/%s" % (key, n)
                    for n in names])
        runs = []
        for _ in range(args.runs):
            h = Httpd(default_module_so(), mpm="event",
                      conf_body=s3_conf(endpoint, rgw, BUCKET,
                                        extra=ONE_PROCESS)).start()
            try:
                def walk():
                    c = http.client.HTTPConnection("127.0.0.1", h.port,
                                                   timeout=120)
                    t0 = time.monotonic()
                    for p in paths:
                        c.request("GET", p)
                        r = c.getresponse()
                        body = r.read()
                        assert r.status == 200, (p, body[:300])
                        if p.endswith("path=/"):
                            assert len(json.loads(body)["children"]) \
                                == len(names)
                    c.close()
                    return time.monotonic() - t0
                secs, n, nb = rgw_measure(rgw, walk)
            finally:
                h.stop()
                h.cleanup()
            runs.append((n, nb, secs))
        med = sorted(runs)[len(runs) // 2]
        print("file %s: %d bytes, %d datasets, paged aggregation, %d MiB "
              "pages; %g ms per S3 request" % (
                  key, os.path.getsize(path), len(names), args.page_mib,
                  args.delay_ms))
        for i, (n, nb, secs) in enumerate(runs):
            print("  cold run %d: /children + %d x /meta: %d S3 requests, "
                  "%d bytes, %.3f s" % (i + 1, len(names), n, nb, secs))
        n = statistics.median(r[0] for r in runs)
        print("S3 requests (median): %g (target 1)" % n)
        emit("paged_requests", "%g requests, %.2f MiB, %.2f s" % (
            n, med[1] / MiB, med[2]), n, "1 request", n <= 1,
            s3_bytes=med[1], seconds=med[2], file_bytes=os.path.getsize(
                path), datasets=len(names), runs=len(runs))
    finally:
        if proxy:
            proxy.stop()
        rgw.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
