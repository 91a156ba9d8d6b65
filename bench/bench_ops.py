#!/usr/bin/python3
"""What the operations features cost: GET /health with and without
H5S3RateLimit (one global-mutex lock per request) and CORS, on one httpd
per MPM.  Prints requests/s for each and the ratio to the plain Location.

    bench/bench_ops.py [--duration 5] [--connections 16] [--mpm event]

Keep-alive connections (wrk's default), loopback only.  Needs the module
built and wrk (Debian package).  No S3 needed: /health does not call it.
"""

import argparse
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from harness import Httpd, default_module_so  # noqa: E402

LOCATIONS = {
    "plain": "",
    "ratelimit": "    H5S3RateLimit 1000000 1000000\n",
    "cors": "    H5S3CORSAllowOrigin https://a.example\n",
    "both": ("    H5S3RateLimit 1000000 1000000\n"
             "    H5S3CORSAllowOrigin https://a.example\n"),
}


def wrk(url, duration, connections):
    out = subprocess.run(
        ["wrk", "-t2", "-c%d" % connections, "-d%ds" % duration,
         "-H", "Origin: https://a.example", url],
        capture_output=True, text=True, check=True).stdout
    # Socket read errors happen when httpd retires an idle process with
    # keep-alive connections; wrong answers must not.
    if re.search(r"Non-2xx or 3xx responses", out):
        sys.exit("wrk saw errors on %s:\n%s" % (url, out))
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--mpm", default="event", choices=("event", "prefork"))
    a = ap.parse_args()
    # Unlimited keep-alive: wrk counts a server-side close as a read error.
    conf = "MaxKeepAliveRequests 0\n" + "".join("<Location /%s>\n    SetHandler h5s3\n%s</Location>\n"
                   % (name, body) for name, body in LOCATIONS.items())
    h = Httpd(default_module_so(), mpm=a.mpm, conf_body=conf).start()
    try:
        rates = {name: wrk(h.url("/%s/health" % name), a.duration,
                           a.connections) for name in LOCATIONS}
    finally:
        h.cleanup()
    for name, rps in rates.items():
        print("%-10s %10.0f req/s  %5.2fx plain"
              % (name, rps, rps / rates["plain"]))


if __name__ == "__main__":
    main()
