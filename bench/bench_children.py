#!/usr/bin/python3
"""Cold and warm GET /files/{key}/children on a wide HDF5 file in S3,
beside HDF5's own ROS3 driver and a 5 MiB read-ahead reader (h5py over
ranged GETs, as fsspec/s3fs read by default), all three through the same
latency proxy (tests/integration/harness/delay_proxy.py) in front of the
same Ceph RGW.

    bench/bench_children.py [--delay 0.02] [--datasets 200] [--size-mib 1024]
                            [--runs 3] [--concurrency 8] [--wide-kib 256]
                            [--cache-dir /tmp/h5s3-bench]

Measured per client: S3 requests and bytes (RGW's own access log; for the
module also its X-H5S3-S3-Requests / X-H5S3-S3-Bytes headers) and wall
time of listing the root group's children with shape, dtype, chunks,
compression and attributes.  Then: warm /children and /meta (must cost no
S3 request), and N concurrent cold /children on N copies of a wide file
under the event MPM, against the same N one after another.

The test file is written once by h5py into --cache-dir and reused: each
dataset's object header is followed by its data (metadata aggregation
off), so the headers are spread across the whole file.  Needs the module
built (scripts/setup.sh) and the Debian packages of scripts/setup.sh
(ceph radosgw, python3-h5py built with ROS3, python3-boto3).
"""

import argparse
import ctypes
import io
import os
import re
import shlex
import statistics
import sys
import threading
import time

import h5py
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from harness import RGW, Httpd, default_module_so  # noqa: E402
from harness.delay_proxy import SpawnedProxy  # noqa: E402
from harness.h5oracle import expected_child  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import emit  # noqa: E402

import json  # noqa: E402

MiB = 1024 * 1024
BUCKET = "bench"
READ_AHEAD = 5 * MiB


# ---- the test file -------------------------------------------------------

def _hdf5_lib():
    """The libhdf5 h5py is linked with (for one call h5py does not wrap)."""
    with open("/proc/self/maps") as f:
        m = re.search(r"/\S*libhdf5(_serial)?\.so[.\d]*\b", f.read())
    lib = ctypes.CDLL(m.group(0))
    lib.H5Pset_meta_block_size.argtypes = [ctypes.c_int64, ctypes.c_uint64]
    return lib


def write_wide_file(path, datasets, bytes_each, chunked=False):
    """datasets float32 datasets of bytes_each, each written right after
    it is created.  HDF5 packs small metadata into 2 KiB blocks by
    default (several headers side by side); with that off every header
    sits right before its own data, spread across the file."""
    if os.path.exists(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".part"
    rng = np.random.default_rng(3)
    count = bytes_each // 4
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    if _hdf5_lib().H5Pset_meta_block_size(fapl.id, 0) < 0:
        raise RuntimeError("H5Pset_meta_block_size failed")
    fid = h5py.h5f.create(tmp.encode(), h5py.h5f.ACC_TRUNC, fapl=fapl)
    with h5py.File(fid) as f:
        for i in range(datasets):
            d = f.create_dataset(
                "d%03d" % i, data=rng.random(count, dtype=np.float32),
                chunks=(min(count, 1 << 18),) if chunked else None)
            d.attrs["index"] = i
            d.attrs["units"] = "m/s"
            d.attrs["scale"] = np.float64(0.5 * i)
    os.rename(tmp, path)
    return path


def header_spread(path):
    with h5py.File(path, "r") as f:
        addrs = sorted(h5py.h5o.get_info(f[k].id).addr for k in f)
    return addrs, len({a // (64 * 1024) for a in addrs})


# ---- the three clients ----------------------------------------------------

def describe_h5py(f):
    """What /children reports, by h5py: name -> (shape, dtype, attrs)."""
    out = {}
    for name in f:
        obj = f[name]
        if isinstance(obj, h5py.Dataset):
            out[name] = (list(obj.shape), obj.dtype.str, obj.chunks,
                         obj.compression,
                         {k: v.tolist() if hasattr(v, "tolist") else v
                          for k, v in obj.attrs.items()})
        else:
            out[name] = ("group", len(obj))
    return out


class ReadAheadFile(io.RawIOBase):
    """A file-like S3 object for h5py: one buffer, refilled on a miss with
    [pos, end of read + 5 MiB) by a ranged GET (fsspec's "readahead")."""

    def __init__(self, s3, bucket, key, block=READ_AHEAD):
        self.s3, self.bucket, self.key, self.block = s3, bucket, key, block
        self.size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        self.pos = 0
        self.start = 0
        self.buf = b""

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.pos

    def seek(self, off, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos,
                io.SEEK_END: self.size}[whence]
        self.pos = base + off
        return self.pos

    def readinto(self, b):
        n = min(len(b), self.size - self.pos)
        if n <= 0:
            return 0
        end = self.pos + n
        if not (self.start <= self.pos
                and end <= self.start + len(self.buf)):
            stop = min(self.size, end + self.block)
            r = self.s3.get_object(Bucket=self.bucket, Key=self.key,
                                   Range="bytes=%d-%d" % (self.pos, stop - 1))
            self.buf = r["Body"].read()
            self.start = self.pos
        off = self.pos - self.start
        b[:n] = self.buf[off:off + n]
        self.pos += n
        return n


def s3_client(endpoint, rgw):
    import boto3
    from botocore.config import Config
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name=rgw.region,
        aws_access_key_id=rgw.access_key,
        aws_secret_access_key=rgw.secret_key,
        config=Config(s3={"addressing_style": "path"},
                      retries={"max_attempts": 1},
                      max_pool_connections=4))


def run_ros3(endpoint, rgw, key):
    url = "%s/%s/%s" % (endpoint, BUCKET, key)
    with h5py.File(url, "r", driver="ros3",
                   aws_region=rgw.region.encode(),
                   secret_id=rgw.access_key.encode(),
                   secret_key=rgw.secret_key.encode()) as f:
        return describe_h5py(f)


def run_readahead(endpoint, rgw, key):
    s3 = s3_client(endpoint, rgw)
    with h5py.File(ReadAheadFile(s3, BUCKET, key), "r") as f:
        return describe_h5py(f)


def get(h, path, timeout=300):
    status, hdrs, body = h.get(path, timeout=timeout)
    return status, hdrs, json.loads(body)


def measure(rgw, fn):
    """(result, seconds, S3 requests, S3 bytes) by RGW's access log."""
    mark = rgw.request_count()
    t0 = time.monotonic()
    res = fn()
    dt = time.monotonic() - t0
    entries = rgw.requests_since(mark)
    return res, dt, len(entries), sum(e["bytes"] for e in entries)


# ---- httpd -----------------------------------------------------------------

def module_conf(endpoint, rgw, page_cache="512M", extra=""):
    return ("H5S3PageCache %s\n"
            "H5S3Endpoint %s\nH5S3Region %s\nH5S3Credentials %s %s\n"
            "H5S3Bucket %s\n%s"
            "<Location /hdf>\n    SetHandler h5s3\n"
            "    H5S3DebugHeaders On\n</Location>\n"
            % (page_cache, endpoint, rgw.region, rgw.access_key,
               rgw.secret_key, BUCKET, extra))


# One event-MPM process with 8 worker threads, so the concurrent requests
# share one HDF5 library (and its global lock).
ONE_PROCESS = ("<IfModule mpm_event_module>\n    StartServers 1\n"
               "    ServerLimit 1\n    ThreadsPerChild 16\n"
               "    ThreadLimit 16\n    MinSpareThreads 1\n"
               "    MaxSpareThreads 16\n    MaxRequestWorkers 16\n"
               "</IfModule>\n")


def start_httpd(conf):
    return Httpd(default_module_so(), mpm="event", conf_body=conf).start()


def oracle_children(path):
    """/children of / for a local copy, by h5py (the tests' oracle)."""
    with h5py.File(path, "r") as f:
        return [expected_child(f, "/", n) for n in f["/"].keys()]


def check_children(body, want, key):
    assert body.get("success") is True, body
    assert body["children"] == want, key


def row(name, secs, reqs, nbytes, note=""):
    return "%-34s %9.3f %9d %14d  %s" % (name, secs, reqs, nbytes, note)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay", type=float, default=0.020,
                    help="seconds added before each S3 request")
    ap.add_argument("--datasets", type=int, default=200)
    ap.add_argument("--size-mib", type=int, default=1024,
                    help="size of the big file")
    ap.add_argument("--runs", type=int, default=3,
                    help="cold runs per client (median reported)")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--wide-kib", type=int, default=256,
                    help="data per dataset in the concurrency files")
    ap.add_argument("--cache-dir", default="/tmp/h5s3-bench")
    ap.add_argument("--skip-concurrency", action="store_true")
    ap.add_argument("--module-only", action="store_true",
                    help="no ROS3 or read-ahead clients")
    ap.add_argument("--name", default="children_cold",
                    help="name of the BENCH_JSON line")
    args = ap.parse_args()
    cmd = " ".join(shlex.quote(a) for a in ["/usr/bin/python3"] + sys.argv)

    each = (args.size_mib * MiB // args.datasets) // 4 * 4
    big = write_wide_file(os.path.join(
        args.cache_dir, "wide-%dx%d.h5" % (args.datasets, each)),
        args.datasets, each)
    wide = None
    if not args.skip_concurrency:
        wide = write_wide_file(os.path.join(
            args.cache_dir, "wide-%dx%d.h5" % (args.datasets,
                                              args.wide_kib * 1024)),
            args.datasets, args.wide_kib * 1024)
    addrs, pages = header_spread(big)
    with h5py.File(big, "r") as f:
        want = describe_h5py(f)
    want_json = oracle_children(big)
    big_key = os.path.basename(big)
    size = os.path.getsize(big)
    print("file %s: %d bytes, %d datasets, object headers from %d to %d "
          "in %d distinct 64 KiB pages" % (big, size, len(want), addrs[0],
                                          addrs[-1], pages))

    rgw = RGW().start()
    proxy = None
    h = None
    try:
        s3 = rgw.client()
        s3.create_bucket(Bucket=BUCKET)
        t0 = time.monotonic()
        s3.upload_file(big, BUCKET, big_key)
        for i in range(args.concurrency if wide else 0):
            s3.upload_file(wide, BUCKET, "copy%d/%s" % (i,
                                                       os.path.basename(wide)))
        print("uploaded to RGW %s in %.1f s" % (rgw.endpoint,
                                                time.monotonic() - t0))
        # In a process of its own: h5py holds the GIL inside HDF5 calls.
        proxy = SpawnedProxy(rgw.port, delay=args.delay)
        print("delay proxy %s -> %s, %.0f ms before each request\n"
              % (proxy.endpoint, rgw.endpoint, 1000 * args.delay))

        results = {}
        children = "/hdf/files/%s/children?path=/" % big_key

        # -- mod_h5s3, cold: a fresh httpd (empty caches) for every run.
        mod = []
        for _ in range(args.runs):
            h = start_httpd(module_conf(proxy.endpoint, rgw))
            (st, hd, body), dt, n, nb = measure(
                rgw, lambda: get(h, children))
            assert st == 200, body
            check_children(body, want_json, big_key)
            mod.append((dt, n, nb, int(hd["X-H5S3-S3-Requests"]),
                        int(hd["X-H5S3-S3-Bytes"]), hd["X-H5S3-Cache"]))
            last = h
            if len(mod) < args.runs:
                h.stop()
                h.cleanup()
        h = last

        # -- warm: /children again, /meta of every 20th dataset, twice.
        warm = []
        mark = rgw.request_count()
        t0 = time.monotonic()
        paths = [children] + ["/hdf/files/%s/meta?path=/%s" % (big_key, n)
                              for n in sorted(want)[::20]]
        for _ in range(2):
            for p in paths:
                st, hd, body = get(h, p)
                assert st == 200, body
                warm.append((p, hd["X-H5S3-S3-Requests"],
                             hd["X-H5S3-S3-Bytes"], hd["X-H5S3-Cache"]))
        warm_dt = (time.monotonic() - t0) / len(warm)
        warm_rgw = rgw.request_count() - mark
        h.stop()
        h.cleanup()
        h = None

        ros3 = []
        for _ in range(0 if args.module_only else args.runs):
            res, dt, n, nb = measure(
                rgw, lambda: run_ros3(proxy.endpoint, rgw, big_key))
            assert res == want
            ros3.append((dt, n, nb))
        ra = []
        for _ in range(0 if args.module_only else args.runs):
            res, dt, n, nb = measure(
                rgw, lambda: run_readahead(proxy.endpoint, rgw, big_key))
            assert res == want
            ra.append((dt, n, nb))

        def med(rows, i):
            if not rows:
                return float("nan")
            return statistics.median(r[i] for r in rows)

        results["mod"] = (med(mod, 0), med(mod, 1), med(mod, 2))
        results["ros3"] = (med(ros3, 0), med(ros3, 1), med(ros3, 2))
        results["ra"] = (med(ra, 0), med(ra, 1), med(ra, 2))

        print("Cold listing of / (%d datasets, %.2f GiB file), %d ms added "
              "per S3 request, median of %d runs" % (
                  len(want), size / 1024.0 ** 3, 1000 * args.delay,
                  args.runs))
        print("%-34s %9s %9s %14s" % ("client", "wall s", "S3 reqs",
                                      "S3 bytes"))
        print(row("mod_h5s3 GET /children", *results["mod"],
                  note="(module headers: %d requests, %d bytes)"
                  % (mod[0][3], mod[0][4])))
        if not args.module_only:
            print(row("HDF5 ROS3 driver (h5py)", *results["ros3"]))
            print(row("h5py + 5 MiB read-ahead (boto3)", *results["ra"]))
        print("per run, mod_h5s3: %s" % ", ".join(
            "%.3fs/%d/%d" % r[:3] for r in mod))
        if not args.module_only:
            print("per run, ROS3:     %s" % ", ".join(
                "%.3fs/%d/%d" % r for r in ros3))
            print("per run, 5 MiB RA: %s" % ", ".join(
                "%.3fs/%d/%d" % r for r in ra))
        m, r3, rd = results["mod"], results["ros3"], results["ra"]
        if not args.module_only:
            print("wall time: ROS3 / mod_h5s3 = %.1fx (target >= 5x)"
                  % (r3[0] / m[0]))
            print("bytes: read-ahead / mod_h5s3 = %.1fx (target >= 10x)"
                  % (rd[2] / max(m[2], 1)))
        fig = "%.2f s, %d requests, %.1f MiB" % (m[0], m[1], m[2] / MiB)
        if not args.module_only:
            fig += " (ROS3: %.1f s, %d, %.0f KiB)" % (r3[0], r3[1],
                                                    r3[2] / 1024)
        emit(args.name, fig, round(m[0], 3), "<= 0.25 s, <= 1.5 MiB",
             m[0] <= 0.25 and m[2] <= 1.5 * MiB, seconds=m[0],
             s3_requests=m[1], s3_bytes=m[2], file_bytes=size,
             datasets=len(want), delay=args.delay, runs=args.runs,
             ros3=None if args.module_only else list(r3),
             readahead=None if args.module_only else list(rd))
        print()
        print("Warm (same server, new connections, any process): %d "
              "requests, %.1f ms each, RGW saw %d S3 requests" % (
                  len(warm), 1000 * warm_dt, warm_rgw))
        for i, what in enumerate(("first pass (first /meta of each path)",
                                  "second pass (all repeated)")):
            part = warm[i * len(paths):(i + 1) * len(paths)]
            print("  %s: %d requests, %d with S3 traffic (%d S3 requests, "
                  "%d bytes), cache %s" % (
                      what, len(part), sum(w[1] != "0" for w in part),
                      sum(int(w[1]) for w in part),
                      sum(int(w[2]) for w in part),
                      "/".join(sorted({w[3] for w in part}))))
        for p, n, nb, c in warm[:len(paths)]:
            print("    %-50s X-H5S3-S3-Requests=%s X-H5S3-S3-Bytes=%s "
                  "X-H5S3-Cache=%s" % (p.split("/files/")[1][-50:], n, nb, c))
        if not args.skip_concurrency:
            concurrency(args, rgw, proxy, wide)
        print()
        print("command: %s" % cmd)
        print("equivalent single requests (KEY/SECRET: the RGW test keys):")
        print("  curl -s 'http://127.0.0.1:PORT%s'" % children)
        print("  h5ls --vfd=ros3 --s3-cred='(%s,KEY,SECRET)' "
              "%s/%s/%s" % (rgw.region, proxy.endpoint, BUCKET, big_key))
    finally:
        if h:
            h.stop()
            h.cleanup()
        if proxy:
            proxy.stop()
        rgw.stop()


def concurrency(args, rgw, proxy, wide):
    n = args.concurrency
    name = os.path.basename(wide)
    want = oracle_children(wide)
    urls = ["/hdf/files/copy%d/%s/children?path=/" % (i, name)
            for i in range(n)]

    def one(h, u, out, i):
        t0 = time.monotonic()
        st, hd, body = get(h, u)
        out[i] = (time.monotonic() - t0, st, body, hd)

    res = {}
    for mode in ("sequential", "concurrent"):
        h = start_httpd(module_conf(proxy.endpoint, rgw, extra=ONE_PROCESS))
        try:
            out = [None] * n
            mark = rgw.request_count()
            t0 = time.monotonic()
            if mode == "sequential":
                for i, u in enumerate(urls):
                    one(h, u, out, i)
            else:
                ts = [threading.Thread(target=one, args=(h, u, out, i))
                      for i, u in enumerate(urls)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
            wall = time.monotonic() - t0
            s3n = rgw.request_count() - mark
            for dt, st, body, hd in out:
                assert st == 200, body
                check_children(body, want, "copy")
            pids = {e["pid"] for e in h.access_log_entries(n)}
            res[mode] = (wall, [o[0] for o in out], s3n, len(pids))
        finally:
            h.stop()
            h.cleanup()
    seq, con = res["sequential"], res["concurrent"]
    print()
    print("Event MPM, one process (%d threads), %d cold /children on %d "
          "copies of %s (%d datasets, headers %d KiB apart), %.0f ms per "
          "S3 request:" % (16, n, n, name, len(want), args.wide_kib,
                           1000 * args.delay))
    for mode in ("sequential", "concurrent"):
        wall, each, s3n, npids = res[mode]
        print("  %-10s wall %6.3f s, per request %.3f..%.3f s (median %.3f),"
              " %d S3 requests, %d process(es)" % (
                  mode, wall, min(each), max(each),
                  statistics.median(each), s3n, npids))
    print("  speed-up concurrent vs sequential: %.1fx (%d-way)"
          % (seq[0] / con[0], n))


if __name__ == "__main__":
    main()
