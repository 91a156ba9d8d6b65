#!/usr/bin/python3
"""Cold and warm GET /data?mode=heatmap&max_size=1024 of a 16384x16384
float32 dataset (256x256 chunks, gzip; 1 GiB raw) on a private RGW, beside
h5py reading the same strided selection through a 5 MiB read-ahead
file object doing ranged GETs with boto3.  Optionally every S3 request
goes through a proxy adding a delay (default 20 ms) per request.

    bench/bench_heatmap.py [--delay-ms 20] [--side 16384] [--keep DIR]
                           [--max-size 1024] [--runs 1]

Prints S3 requests, bytes and wall time of each, and a BENCH_JSON line
(bench/README.md) named heatmap_cold: h5py's time over the module's cold
one.  Needs the module built ($H5S3_MODULE or .libs/mod_h5s3.so).
"""

import argparse
import json
import math
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.request

import h5py
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from harness import RGW, Httpd, default_module_so  # noqa: E402
from harness.plugin import s3_directives  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import emit  # noqa: E402

BUCKET = "benchheat"
KEY = "heat.h5"


def make_file(path, side, chunk=256):
    """Smooth, compressible data written one chunk row at a time."""
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("data", shape=(side, side), dtype=np.float32,
                              chunks=(chunk, chunk), compression="gzip",
                              compression_opts=1, shuffle=True)
        j = np.arange(side) // 16
        for r in range(0, side, chunk):
            i = (np.arange(r, r + chunk) // 16)[:, None]
            ds[r:r + chunk] = (i * 0.5 + j[None, :] * 0.25).astype(
                np.float32)


class DelayProxy:
    """A threaded TCP proxy that waits DELAY before forwarding each burst
    a client sends (one HTTP request on a keep-alive connection)."""

    def __init__(self, target_port, delay):
        self.target = ("127.0.0.1", target_port)
        self.delay = delay
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            c, _ = self.sock.accept()
            s = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(c, s, True),
                             daemon=True).start()
            threading.Thread(target=self._pipe, args=(s, c, False),
                             daemon=True).start()

    def _pipe(self, src, dst, delayed):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if delayed:
                    time.sleep(self.delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for x in (src, dst):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class S3ReadAhead:
    """A read-only file object over ranged GETs, buffered 5 MiB ahead."""

    def __init__(self, s3, bucket, key, block=5 * 1024 * 1024):
        self.s3, self.bucket, self.key, self.block = s3, bucket, key, block
        self.size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        self.pos = 0
        self.buf_start, self.buf = 0, b""
        self.requests = 1
        self.bytes = 0

    def seekable(self):
        return True

    def readable(self):
        return True

    def tell(self):
        return self.pos

    def seek(self, off, whence=0):
        self.pos = off if whence == 0 else (
            self.pos + off if whence == 1 else self.size + off)
        return self.pos

    def _fetch(self, start, length):
        end = min(self.size, start + length) - 1
        r = self.s3.get_object(Bucket=self.bucket, Key=self.key,
                               Range="bytes=%d-%d" % (start, end))
        data = r["Body"].read()
        self.requests += 1
        self.bytes += len(data)
        return data

    def read(self, n=-1):
        if n < 0:
            n = self.size - self.pos
        out = b""
        while n > 0 and self.pos < self.size:
            off = self.pos - self.buf_start
            if 0 <= off < len(self.buf):
                piece = self.buf[off:off + n]
            else:
                self.buf_start = self.pos
                self.buf = self._fetch(self.pos, max(n, self.block))
                piece = self.buf[:n]
            out += piece
            self.pos += len(piece)
            n -= len(piece)
        return out

    def readinto(self, b):
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)


def get(h, path, host):
    t0 = time.monotonic()
    req = urllib.request.Request(h.url(path), headers={"Host": host})
    with urllib.request.urlopen(req, timeout=600) as r:
        body = r.read()
        hdrs = r.headers
    dt = time.monotonic() - t0
    return (json.loads(body), int(hdrs["X-H5S3-S3-Requests"]),
            int(hdrs["X-H5S3-S3-Bytes"]), dt)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=16384)
    ap.add_argument("--delay-ms", type=float, default=0)
    ap.add_argument("--keep", help="directory holding/keeping the file")
    ap.add_argument("--max-size", type=int, default=1024,
                    help="heatmap max_size (64: the same chunks, little "
                    "JSON)")
    ap.add_argument("--runs", type=int, default=1,
                    help="cold runs (a fresh httpd each) and h5py runs; "
                    "the medians are compared")
    args = ap.parse_args()

    work = args.keep or tempfile.mkdtemp(prefix="bench-heat-")
    path = os.path.join(work, "heat_%d.h5" % args.side)
    if not os.path.exists(path):
        t0 = time.monotonic()
        make_file(path, args.side)
        print("wrote %s (%.0f MiB) in %.1fs" % (
            path, os.path.getsize(path) / 2**20, time.monotonic() - t0))
    rgw = RGW()
    rgw.start()
    proxy = None
    try:
        s3 = rgw.client()
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(path, BUCKET, KEY)
        endpoint = rgw.endpoint
        if args.delay_ms:
            proxy = DelayProxy(rgw.port, args.delay_ms / 1000.0)
            endpoint = "http://127.0.0.1:%d" % proxy.port
        conf = s3_directives(rgw, [BUCKET]).replace(
            "H5S3Endpoint %s" % rgw.endpoint, "H5S3Endpoint %s" % endpoint)
        conf = ("H5S3PageCache 512M\n"
                "<VirtualHost *:*>\nServerName bench.test\n%s"
                "<Location /hdf>\nSetHandler h5s3\nH5S3DebugHeaders On\n"
                "</Location>\n</VirtualHost>\n" % conf)
        q = ("/hdf/files/%s/data?path=/data&mode=heatmap&max_size=%d"
             % (KEY, args.max_size))
        colds, warms = [], []
        for _ in range(args.runs):
            h = Httpd(default_module_so(), mpm="event",
                      conf_body=conf).start()
            try:
                colds.append(get(h, q + "&etag=cold", "bench.test"))
                warms.append(get(h, q + "&etag=warm", "bench.test"))
            except Exception:
                print("error log %s:\n%s" % (h.error_log, "\n".join(
                    h.error_log_lines()[-20:])))
                raise
            finally:
                h.stop()
                h.cleanup()
        cold, creq, cbytes, ct = sorted(colds, key=lambda c: c[3])[
            len(colds) // 2]
        warm, wreq, wbytes, wt = sorted(warms, key=lambda c: c[3])[
            len(warms) // 2]
        step = cold["downsample_info"]["row_step"]
        print("mod_h5s3 heatmap %s step %d (delay %g ms), median of %d"
              % (cold["shape"], step, args.delay_ms, args.runs))
        print("  cold: %4d S3 requests, %10d bytes, %.2fs"
              % (creq, cbytes, ct))
        print("  warm: %4d S3 requests, %10d bytes, %.2fs"
              % (wreq, wbytes, wt))
        if args.runs > 1:
            print("  cold runs: %s" % ", ".join("%.2fs" % c[3]
                                                for c in colds))
        import boto3
        from botocore.config import Config
        bs3 = boto3.client("s3", endpoint_url=endpoint,
                           aws_access_key_id=rgw.access_key,
                           aws_secret_access_key=rgw.secret_key,
                           region_name=rgw.region,
                           config=Config(max_pool_connections=4))
        times = []
        for _ in range(args.runs):
            t0 = time.monotonic()
            fo = S3ReadAhead(bs3, BUCKET, KEY)
            with h5py.File(fo, "r") as f:
                ref = f["data"][::step, ::step]
            times.append(time.monotonic() - t0)
        dt = sorted(times)[len(times) // 2]
        print("h5py + 5 MiB read-ahead: %4d S3 requests, %10d bytes, %.2fs%s"
              % (fo.requests, fo.bytes, dt, " (median; %s)" % ", ".join(
                  "%.2fs" % t for t in times) if args.runs > 1 else ""))
        got = np.array(cold["data"], dtype=np.float64)
        assert np.array_equal(got, ref.astype(np.float64)), "values differ"
        print("values identical: %s" % (ref.shape,))
        speed = dt / ct
        print("h5py + read-ahead / mod_h5s3 cold: %.1fx (target >= 8x)"
              % speed)
        emit("heatmap_cold", "%.2f s vs %.2f s (%.1fx)" % (ct, dt, speed),
             round(speed, 2), ">= 8x", speed >= 8, module_seconds=ct,
             module_s3_requests=creq, module_s3_bytes=cbytes,
             warm_seconds=wt, h5py_seconds=dt, h5py_s3_requests=fo.requests,
             h5py_s3_bytes=fo.bytes, side=args.side,
             delay=args.delay_ms / 1000.0, runs=args.runs)
    finally:
        rgw.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
