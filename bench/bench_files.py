#!/usr/bin/python3
"""Cached GET /files against a static JSON file of the same size, served by
the same httpd (event MPM) in the same run.  Prints requests/s of both and
their ratio.

    bench/bench_files.py [--duration 10] [--connections 16] [--bucket many]
                         [--mpm event|prefork]

--mpm prefork runs 4 children (the issue-14 table).  Needs the module
built (scripts/setup.sh) and wrk (Debian package).  Prints a BENCH_JSON
line (bench/README.md) named files_cached.
"""

import argparse
import os
import re
import subprocess
import sys
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from harness import RGW, Httpd, default_module_so  # noqa: E402
from harness.plugin import s3_directives  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import PREFORK4, emit  # noqa: E402


def wrk(url, duration, connections):
    out = subprocess.run(
        ["wrk", "-t2", "-c%d" % connections, "-d%ds" % duration, url],
        capture_output=True, text=True, check=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        sys.exit("wrk saw errors on %s:\n%s" % (url, out))
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--bucket", default="h5data")
    ap.add_argument("--mpm", default="event", choices=("event", "prefork"))
    args = ap.parse_args()

    rgw = RGW().start()
    h = None
    try:
        rgw.seed(os.path.join(rgw.workdir, "fixtures"))
        conf = ((PREFORK4 if args.mpm == "prefork" else "")
                + s3_directives(rgw, [args.bucket])
                + "<Location /hdf>\n    SetHandler h5s3\n</Location>\n")
        h = Httpd(default_module_so(), mpm=args.mpm, conf_body=conf)
        h.start()
        url = h.url("/hdf/files")
        urllib.request.urlopen(url).read()          # fill the cache
        body = urllib.request.urlopen(url).read()   # a hit: "cached": true
        assert b'"cached":true' in body, body[:100]
        with open(os.path.join(h.htdocs, "static.json"), "wb") as f:
            f.write(body)
        static = wrk(h.url("/static.json"), args.duration, args.connections)
        files = wrk(url, args.duration, args.connections)
        print("body %d bytes, %d connections, %d s each" %
              (len(body), args.connections, args.duration))
        print("static file:    %10.0f requests/s" % static)
        print("cached /files:  %10.0f requests/s" % files)
        print("ratio /files / static: %.2f" % (files / static))
        ratio = files / static
        emit("files_cached", "%.2f (%.0f vs %.0f req/s)" % (
            ratio, files, static), round(ratio, 3), ">= 0.9", ratio >= 0.9,
            static_rps=static, module_rps=files, body_bytes=len(body),
            mpm=args.mpm, duration=args.duration)
    finally:
        if h:
            h.stop()
        rgw.stop()


if __name__ == "__main__":
    main()
