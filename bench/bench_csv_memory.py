#!/usr/bin/python3
"""Opt-in: CSV export of a 2 GiB dataset (16384x32768 float32, 256x256
gzip chunks) with flat process memory.  Exports the largest window the
contract allows (10,000,000 cells) and a full-length line, reading the
body as it streams, and prints the httpd children's peak RSS (VmHWM)
before and after next to the bytes streamed.

    bench/bench_csv_memory.py [--keep DIR]
"""

import argparse
import os
import sys
import tempfile
import time
import urllib.request

import h5py
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from harness import RGW, Httpd, default_module_so  # noqa: E402
from harness.plugin import s3_directives  # noqa: E402

ROWS, COLS, CHUNK = 16384, 32768, 256


def make_file(path):
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("big", shape=(ROWS, COLS), dtype=np.float32,
                              chunks=(CHUNK, CHUNK), compression="gzip",
                              compression_opts=1, shuffle=True)
        j = (np.arange(COLS) // 8) * 0.125
        for r in range(0, ROWS, CHUNK):
            i = ((np.arange(r, r + CHUNK) // 8) * 0.5)[:, None]
            ds[r:r + CHUNK] = (i - j[None, :]).astype(np.float32)


def hwm(pids):
    out = {}
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                for ln in f:
                    if ln.startswith(("VmHWM", "VmRSS")):
                        k, v = ln.split(":")
                        out.setdefault(pid, {})[k] = int(v.split()[0])
        except OSError:
            pass
    return out


def stream(h, path):
    t0 = time.monotonic()
    req = urllib.request.Request(h.url(path), headers={"Host": "csv.test"})
    n = 0
    with urllib.request.urlopen(req, timeout=3600) as r:
        while True:
            b = r.read(1 << 20)
            if not b:
                break
            n += len(b)
    return n, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep")
    args = ap.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="bench-csv-")
    path = os.path.join(work, "big2g.h5")
    if not os.path.exists(path):
        t0 = time.monotonic()
        make_file(path)
        print("wrote %s (%.0f MiB on disk, 2048 MiB raw) in %.0fs" % (
            path, os.path.getsize(path) / 2**20, time.monotonic() - t0))
    rgw = RGW()
    rgw.start()
    try:
        s3 = rgw.client()
        s3.create_bucket(Bucket="benchcsv")
        s3.upload_file(path, "benchcsv", "big2g.h5")
        conf = ("<VirtualHost *:*>\nServerName csv.test\n%s"
                "<Location /hdf>\nSetHandler h5s3\n</Location>\n"
                "</VirtualHost>\n" % s3_directives(rgw, ["benchcsv"]))
        h = Httpd(default_module_so(), mpm="prefork", conf_body=conf).start()
        try:
            base = "/hdf/files/big2g.h5/export/csv?path=/big"
            stream(h, base + "&mode=matrix&row_limit=1&col_limit=10")
            before = hwm(h.child_pids())
            rows = 10000000 // COLS
            n, dt = stream(h, base + "&mode=matrix&row_offset=8000"
                           "&row_limit=%d" % rows)
            mid = hwm(h.child_pids())
            n2, dt2 = stream(h, base + "&mode=line&line_dim=0&"
                             "line_index=5&line_limit=5000000")
            after = hwm(h.child_pids())
        finally:
            h.stop()
        print("matrix %d x %d = %d cells: %.0f MiB of CSV in %.1fs"
              % (rows, COLS, rows * COLS, n / 2**20, dt))
        print("line 16384 points (all rows of one column): %.1f KiB in "
              "%.2fs" % (n2 / 1024, dt2))
        for pid in sorted(after):
            print("child %d: peak RSS %s -> %s -> %s KiB (now %s)" % (
                pid, before.get(pid, {}).get("VmHWM"),
                mid.get(pid, {}).get("VmHWM"), after[pid].get("VmHWM"),
                after[pid].get("VmRSS")))
    finally:
        rgw.stop()


if __name__ == "__main__":
    main()
