#!/usr/bin/python3
"""Cached GET /files against a static JSON file of the same size, served by
the same httpd (event MPM) in the same run.  Prints requests/s of both and
their ratio.

    bench/bench_files.py [--duration 10] [--connections 16] [--bucket many]
                         [--mpm event|prefork] [--rounds 1]

--mpm prefork runs 4 children (the issue-14 table); --rounds N measures
both N times in turn and reports the median of the N ratios.  Needs the module
built (scripts/setup.sh) and wrk (Debian package).  Prints a BENCH_JSON
line (bench/README.md) named files_cached.
"""

import argparse
import os
import sys
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from harness import RGW, Httpd, default_module_so  # noqa: E402
from harness.plugin import s3_directives  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import PREFORK4, emit, wrk_pair  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--bucket", default="h5data")
    ap.add_argument("--mpm", default="event", choices=("event", "prefork"))
    ap.add_argument("--rounds", type=int, default=1)
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
        static, files, ratio, pairs = wrk_pair(
            h.url("/static.json"), url, args.duration, args.rounds,
            args.connections)
        print("body %d bytes, %d connections, %d s each, %s MPM, %d "
              "round(s)" % (len(body), args.connections, args.duration,
                            args.mpm, args.rounds))
        if args.rounds > 1:
            print("rounds (static, /files req/s): %s; medians below" %
                  ", ".join("%.0f/%.0f" % p for p in pairs))
        print("static file:    %10.0f requests/s" % static)
        print("cached /files:  %10.0f requests/s" % files)
        print("ratio /files / static: %.2f" % ratio)
        emit("files_cached", "%.2f (%.0f vs %.0f req/s)" % (
            ratio, files, static), round(ratio, 3), ">= 0.9", ratio >= 0.9,
            static_rps=static, module_rps=files, body_bytes=len(body),
            mpm=args.mpm, duration=args.duration, rounds=pairs)
    finally:
        if h:
            h.stop()
        rgw.stop()


if __name__ == "__main__":
    main()
