#!/usr/bin/python3
"""Run mod_h5s3 locally: a private Ceph RGW seeded with sample HDF5 and
DeltaGlider data, and httpd (event MPM) with the freshly built module on
127.0.0.1.  Prints the URLs to open; Ctrl-C (or SIGTERM) stops both.

    scripts/serve.py [--port 8080] [--workdir /tmp/h5s3-run] [--once]

--once starts everything, checks /files answers, prints the URLs and stops
(used by the test suite to prove this command works).
"""

import argparse
import json
import os
import shutil
import signal
import sys
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from harness import RGW, Httpd, default_module_so, free_port  # noqa: E402
from harness.httpd import _traversable  # noqa: E402
from harness.plugin import s3_directives  # noqa: E402

VIEWER_DIST = os.path.join(REPO, "viewer", "dist")


def viewer_conf(workdir):
    """conf/h5s3-viewer.conf pointed at viewer/dist (built by
    scripts/build-viewer.sh), or "" when the page is not built.  httpd's
    children (www-data) must reach it: if the repository is not readable
    by them, serve a copy from the workdir."""
    if not os.path.isfile(os.path.join(VIEWER_DIST, "index.html")):
        print("serve: viewer/dist is missing (scripts/build-viewer.sh "
              "builds it): no /viewer/ page", flush=True)
        return ""
    dist = VIEWER_DIST
    if os.geteuid() == 0 and not _traversable(os.path.join(dist, "x")):
        dist = os.path.join(workdir, "viewer")
        shutil.rmtree(dist, ignore_errors=True)
        shutil.copytree(VIEWER_DIST, dist)
    return ("Define H5S3_VIEWER_DIR %s\nInclude %s\n"
            % (dist, os.path.join(REPO, "conf", "h5s3-viewer.conf")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8080)
    # Under /tmp: httpd children (www-data) must be able to reach it.
    ap.add_argument("--workdir", default="/tmp/h5s3-run")
    ap.add_argument("--once", action="store_true")
    args = ap.parse_args()

    so = default_module_so()
    if not os.path.isfile(so):
        sys.exit("serve: %s is missing: run scripts/setup.sh" % so)
    os.makedirs(args.workdir, exist_ok=True)
    rgw = RGW(workdir=os.path.join(args.workdir, "rgw"))
    print("serve: starting Ceph RGW (S3) on 127.0.0.1 ...", flush=True)
    rgw.start()
    httpd = None
    try:
        print("serve: seeding sample data ...", flush=True)
        print("serve: " + rgw.seed(os.path.join(args.workdir, "fixtures")))
        port = args.port
        if not args.once:
            pass
        else:
            port = free_port()
        conf = (
            "AllowEncodedSlashes NoDecode\n"
            + s3_directives(rgw, ["h5data", ("dgdata", "dg"),
                                  ("many", "many")])
            + "H5S3DebugHeaders On\n"
            "<Location /hdf>\n    SetHandler h5s3\n</Location>\n"
            + viewer_conf(args.workdir))
        httpd = Httpd(default_module_so(), mpm="event", conf_body=conf,
                      workdir=os.path.join(args.workdir, "httpd"),
                      port=port)
        httpd.start()
        base = "http://127.0.0.1:%d/hdf" % port
        with urllib.request.urlopen(base + "/files", timeout=30) as r:
            files = json.load(r)
        print("\nmod_h5s3 is serving S3 at %s (%d objects in h5data)\n"
              % (rgw.endpoint, files["files_count"]))
        for path in ("/health", "/files", "/files?prefix=Folder_1/",
                     "/files?bucket=dg", "/files?bucket=many&max_items=5"):
            print("  %s%s" % (base, path))
        print("\nS3 keys: %s / %s; httpd config: %s; error log: %s"
              % (rgw.access_key, rgw.secret_key, httpd.conf_path,
                 httpd.error_log), flush=True)
        if "H5S3_VIEWER_DIR" in conf:
            print("\nBrowse the HDF5 files in S3 (H5Web) at\n"
                  "  http://127.0.0.1:%d/viewer/\n" % port, flush=True)
        if args.once:
            return 0
        print("Ctrl-C stops.", flush=True)
        stop = []
        signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
        try:
            while not stop:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        return 0
    finally:
        if httpd:
            httpd.stop()
        rgw.stop(remove=False)


if __name__ == "__main__":
    sys.exit(main())
