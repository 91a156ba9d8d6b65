#!/usr/bin/python3
"""Warm GET /files/{key}/children of a 60-dataset HDF5 file against a
static file of the same bytes served by the same httpd (prefork, 4
children), with wrk -t2 -c16: requests/s of both and their ratio (issue
14, row 1).  Then, on the same server, conditional requests (row 3): does
the JSON answer carry a strong ETag, and does If-None-Match with it give
304?

    bench/bench_warm.py [--duration 10] [--connections 16]
                        [--datasets 60] [--mpm prefork]

Needs the module built (scripts/setup.sh) and wrk.  Prints BENCH_JSON
lines (bench/README.md) named warm_children and conditional.
"""

import argparse
import http.client
import os
import shutil
import sys
import tempfile
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import PREFORK4, emit, s3_conf, wrk  # noqa: E402
from harness import RGW, Httpd, default_module_so  # noqa: E402

BUCKET = "benchwarm"


def make_file(path, datasets):
    """datasets small float32 datasets with three attributes each."""
    rng = np.random.default_rng(14)
    with h5py.File(path, "w") as f:
        for i in range(datasets):
            d = f.create_dataset("d%03d" % i, data=rng.random(
                (64, 32), dtype=np.float32), chunks=(16, 32),
                compression="gzip" if i % 2 else None)
            d.attrs["index"] = i
            d.attrs["units"] = "m/s"
            d.attrs["scale"] = np.float64(0.5 * i)


def raw_get(port, path, headers=None):
    """(status, headers, body) without the harness's contract check (a
    304 is checked here, not by openapi.yaml)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return r.status, r.headers, r.read()
    finally:
        c.close()


def conditional(port, path):
    """(figure, ok, detail) for one JSON route."""
    st, hd, _ = raw_get(port, path)
    etag = hd.get("ETag")
    det = {"status": st, "etag": etag,
           "last_modified": hd.get("Last-Modified"),
           "cache_control": hd.get("Cache-Control")}
    if not etag:
        return "no ETag, always %d" % st, False, det
    strong = not etag.startswith("W/")
    st2, _, body2 = raw_get(port, path, {"If-None-Match": etag})
    det.update(strong=strong, if_none_match_status=st2,
               body_304=len(body2))
    ok = strong and st2 == 304
    return ("%s ETag, If-None-Match -> %d" % (
        "strong" if strong else "weak", st2)), ok, det


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--datasets", type=int, default=60)
    ap.add_argument("--mpm", default="prefork", choices=("prefork", "event"))
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="h5s3-bench-warm-")
    key = "wide%d.h5" % args.datasets
    path = os.path.join(tmp, key)
    make_file(path, args.datasets)
    rgw = RGW().start()
    h = None
    try:
        s3 = rgw.client()
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(path, BUCKET, key)
        conf = s3_conf(rgw.endpoint, rgw, BUCKET,
                       extra=PREFORK4 if args.mpm == "prefork" else "")
        h = Httpd(default_module_so(), mpm=args.mpm, conf_body=conf).start()
        children = "/hdf/files/%s/children?path=/" % key
        # Warm every child (each keeps its own open file; the answer is
        # in the shared cache after the first).
        body = None
        for _ in range(40):
            st, hd, body = raw_get(h.port, children)
            assert st == 200, body[:300]
        with open(os.path.join(h.htdocs, "children.json"), "wb") as f:
            f.write(body)
        time.sleep(0.5)
        static = wrk(h.url("/children.json"), args.duration,
                     args.connections)
        warm = wrk(h.url(children), args.duration, args.connections)
        ratio = warm / static
        print("%s, %d datasets, body %d bytes, wrk -t2 -c%d, %d s each" % (
            args.mpm + (" (4 children)" if args.mpm == "prefork" else ""),
            args.datasets, len(body), args.connections, args.duration))
        print("static file:           %10.0f requests/s" % static)
        print("warm /children:        %10.0f requests/s" % warm)
        print("ratio /children / static: %.2f (target >= 0.9)" % ratio)
        emit("warm_children", "%.2f (%.0f vs %.0f req/s)" % (
            ratio, warm, static), round(ratio, 3), ">= 0.9", ratio >= 0.9,
            static_rps=static, module_rps=warm, body_bytes=len(body),
            datasets=args.datasets, mpm=args.mpm)

        rows = []
        for p in (children, "/hdf/files",
                  "/hdf/files/%s/meta?path=/d001" % key):
            fig, ok, det = conditional(h.port, p)
            print("conditional %-40s %s %s" % (p, fig, det))
            rows.append((p, fig, ok, det))
        ok = all(r[2] for r in rows)
        emit("conditional", ("yes: " if ok else "no: ") + rows[0][1],
             None, "strong ETag; If-None-Match -> 304", ok,
             routes={r[0]: r[3] for r in rows})
    finally:
        if h:
            h.stop()
            h.cleanup()
        rgw.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
