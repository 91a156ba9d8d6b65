#!/usr/bin/python3
"""DeltaGlider listings with 20 ms added to every S3 request (issue 14,
rows 10-12), each on a fresh httpd (empty listing and metadata caches):

  objects_page   cold GET /api/objects of a prefix holding --prefix-deltas
                 delta objects, one page of --limit (200);
  sort_size      then, on the same server, sort=size_desc over the same
                 prefix (every delta's original size is needed; the first
                 page's are cached);
  savings        POST /api/buckets/{b}/compute-savings on a bucket of
                 --savings-deltas deltas, until GET /api/buckets shows the
                 figures (polled every 20 ms).

    bench/bench_dg_listing.py [--delay-ms 20] [--prefix-deltas 600]
                              [--limit 200] [--savings-deltas 10000]
                              [--runs 1]

Deltas are small fake ones (dg-file-size metadata, never downloaded), as
the API tests' many_bucket makes them.  S3 requests are RGW's own access
log.  Needs the module built (scripts/setup.sh).  Prints BENCH_JSON lines
(bench/README.md).
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import emit  # noqa: E402
from harness import RGW, Httpd, default_module_so  # noqa: E402
from harness.api_common import HOST, LOC, api_conf  # noqa: E402
from harness.delay_proxy import SpawnedProxy  # noqa: E402

LIST_BUCKET, LIST_ALIAS = "dglist", "list"
SAVE_BUCKET, SAVE_ALIAS = "dgsave", "save"
PREFIX = "rel/"


def seed(rgw, bucket, keys_and_sizes, folders):
    """Small fake deltas (original size in dg-file-size) and one
    reference.bin per folder, put with 48 connections."""
    import boto3
    from botocore.config import Config
    s3 = boto3.client(
        "s3", endpoint_url=rgw.endpoint, region_name=rgw.region,
        aws_access_key_id=rgw.access_key,
        aws_secret_access_key=rgw.secret_key,
        config=Config(s3={"addressing_style": "path"},
                      max_pool_connections=48,
                      retries={"max_attempts": 3}))
    s3.create_bucket(Bucket=bucket)
    items = [(f + "reference.bin", b"r" * 4096, {"dg-note": "reference"})
             for f in folders]
    for key, size in keys_and_sizes:
        folder = key[:key.rfind("/") + 1]
        items.append((key, b"d" * 10, {
            "dg-file-size": str(size), "dg-file-sha256": "0" * 64,
            "dg-ref-key": folder + "reference.bin",
            "dg-ref-sha256": "1" * 64}))

    def put(item):
        k, data, meta = item
        s3.put_object(Bucket=bucket, Key=k, Body=data, Metadata=meta)

    with concurrent.futures.ThreadPoolExecutor(48) as ex:
        list(ex.map(put, items))
    return len(items)


def call(h, method, path, body=None):
    """(seconds, status, parsed JSON), raw http.client (no contract check
    inside the timed part)."""
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=600)
    hdrs = {"Host": HOST}
    if method == "POST":
        hdrs["Content-Type"] = "application/json"
    t0 = time.monotonic()
    c.request(method, LOC + path, body=body, headers=hdrs)
    r = c.getresponse()
    data = r.read()
    dt = time.monotonic() - t0
    c.close()
    return dt, r.status, json.loads(data)


def timed(rgw, fn):
    mark = rgw.request_count()
    res = fn()
    n = len(rgw.requests_since(mark))
    return res, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay-ms", type=float, default=20)
    ap.add_argument("--prefix-deltas", type=int, default=600)
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--savings-deltas", type=int, default=10000)
    ap.add_argument("--conf", default="",
                    help="directives put before the generated configuration,"
                    " e.g. 'H5S3ProbeParallel 128'")
    ap.add_argument("--runs", type=int, default=1,
                    help="fresh servers per measure (median reported)")
    args = ap.parse_args()

    rgw = RGW().start()
    proxy = None
    h = None
    try:
        t0 = time.monotonic()
        sizes = {PREFIX + "v-%05d.zip.delta" % i: 1000000 + 7919 * i % 100003
                 for i in range(args.prefix_deltas)}
        n1 = seed(rgw, LIST_BUCKET, sorted(sizes.items()), [PREFIX])
        save = [("f%02d/v-%05d.zip.delta" % (i % 10, i), 2000 + i)
                for i in range(args.savings_deltas)]
        n2 = seed(rgw, SAVE_BUCKET, save,
                  ["f%02d/" % i for i in range(10)])
        print("seeded %d + %d objects in %.1f s" % (
            n1, n2, time.monotonic() - t0))
        proxy = SpawnedProxy(rgw.port, delay=args.delay_ms / 1000.0)
        conf = api_conf(rgw, buckets=((LIST_BUCKET, LIST_ALIAS),
                                      (SAVE_BUCKET, SAVE_ALIAS)),
                        endpoint=proxy.endpoint)
        if args.conf:
            conf = args.conf.replace("\\n", "\n") + "\n" + conf
        print("delay proxy %s, %g ms before each S3 request" % (
            proxy.endpoint, args.delay_ms))

        page_q = "/api/objects?" + urllib.parse.urlencode(
            {"bucket": LIST_ALIAS, "prefix": PREFIX,
             "limit": str(args.limit)})
        sort_q = page_q + "&sort=size_desc"
        pages, sorts, savings = [], [], []
        want_sorted = sorted(sizes.values(), reverse=True)[:args.limit]
        for _ in range(args.runs):
            h = Httpd(default_module_so(), mpm="event",
                      conf_body=conf).start()
            (dt, st, body), n = timed(rgw, lambda: call(h, "GET", page_q))
            assert st == 200, body
            objs = body["objects"]
            assert len(objs) == min(args.limit, len(sizes)), len(objs)
            assert all(o["compressed"] for o in objs)
            assert [o["original_bytes"] for o in objs] == [
                sizes[o["key"] + ".delta"] for o in objs]
            pages.append((dt, n))
            (dt, st, body), n = timed(rgw, lambda: call(h, "GET", sort_q))
            assert st == 200, body
            got = [o["original_bytes"] for o in body["objects"]]
            assert got == want_sorted, got[:5]
            sorts.append((dt, n))
            h.stop()
            h.cleanup()

            h = Httpd(default_module_so(), mpm="event",
                      conf_body=conf).start()

            def job():
                t0 = time.monotonic()
                _, st, body = call(h, "POST", "/api/buckets/%s/"
                                   "compute-savings" % SAVE_ALIAS)
                assert st == 202, body
                while True:
                    _, st, body = call(h, "GET", "/api/buckets")
                    row = {b["name"]: b for b in body["buckets"]}[SAVE_ALIAS]
                    if not row["pending"] and row["object_count"] is not None:
                        return time.monotonic() - t0, row
                    if time.monotonic() - t0 > 1800:
                        raise RuntimeError("savings job still pending")
                    time.sleep(0.02)
            (dt, row), n = timed(rgw, job)
            assert row["object_count"] == args.savings_deltas, row
            savings.append((dt, n))
            h.stop()
            h.cleanup()
            h = None

        def med(rows):
            return sorted(rows)[len(rows) // 2]

        p, s, v = med(pages), med(sorts), med(savings)
        print("cold /api/objects page of %d deltas (prefix of %d): %.3f s, "
              "%d S3 requests" % (args.limit, len(sizes), p[0], p[1]))
        print("then sort=size_desc over the %d-delta prefix: %.3f s, %d S3 "
              "requests" % (len(sizes), s[0], s[1]))
        print("compute-savings of %d deltas, cold: %.3f s, %d S3 requests"
              % (args.savings_deltas, v[0], v[1]))
        if args.runs > 1:
            print("per run: pages %s; sorts %s; savings %s" % (
                pages, sorts, savings))
        emit("objects_page", "%.2f s, %d requests" % p, round(p[0], 3),
             "<= 0.3 s", p[0] <= 0.3, seconds=p[0], s3_requests=p[1],
             limit=args.limit, prefix_deltas=len(sizes),
             delay=args.delay_ms / 1000.0)
        emit("sort_size", "%.2f s, %d requests" % s, round(s[0], 3),
             "<= 0.5 s", s[0] <= 0.5, seconds=s[0], s3_requests=s[1],
             prefix_deltas=len(sizes), delay=args.delay_ms / 1000.0)
        emit("savings", "%.2f s, %d requests (%d deltas)" % (
            v[0], v[1], args.savings_deltas), round(v[0], 3),
             "<= 3 s", v[0] <= 3, seconds=v[0], s3_requests=v[1],
             deltas=args.savings_deltas, delay=args.delay_ms / 1000.0,
             runs=len(savings))
    finally:
        if h:
            h.stop()
            h.cleanup()
        if proxy:
            proxy.stop()
        rgw.stop()


if __name__ == "__main__":
    main()
