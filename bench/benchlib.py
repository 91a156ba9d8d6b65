"""Helpers shared by the benches in bench/: the BENCH_JSON line that
bench/table.py reads, the command line a bench ran, wrk, and the
MPM settings of the issue-14 table (prefork, 4 children).

Not a bench itself.  Import it after putting bench/ on sys.path (a
script in bench/ has it there already, as its own directory).
"""

import json
import os
import re
import shlex
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.join(REPO, "tests", "integration") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

# Prefork with exactly 4 children (appended after the harness's own MPM
# block, so these values win).
PREFORK4 = ("<IfModule mpm_prefork_module>\n    StartServers 4\n"
            "    MinSpareServers 4\n    MaxSpareServers 4\n"
            "    ServerLimit 4\n    MaxRequestWorkers 4\n"
            "    MaxConnectionsPerChild 0\n</IfModule>\n")

MiB = 1024 * 1024


def command_line():
    """The command this bench was started with, ready to paste."""
    return " ".join(shlex.quote(a) for a in ["/usr/bin/python3"] + sys.argv)


def emit(name, figure, value=None, target=None, ok=None, **detail):
    """Print one machine-readable result line:

        BENCH_JSON {"name": ..., "figure": ..., "value": ...,
                    "target": ..., "pass": ..., "command": ..., ...}

    name: what is measured (unique within one bench); figure: the human
    figure for the table; value: the number compared with the target
    (or null); target: the target as text; ok: true/false, null when
    there is no target; detail: further JSON-able fields."""
    rec = {"name": name, "figure": figure, "value": value,
           "target": target, "pass": ok, "command": command_line()}
    rec.update(detail)
    print("BENCH_JSON " + json.dumps(rec, sort_keys=True), flush=True)
    return rec


def wrk(url, duration, connections=16, threads=2):
    """Requests/s of `wrk -tT -cC -dDs url`; exits on non-2xx/3xx."""
    out = subprocess.run(
        ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % duration,
         url], capture_output=True, text=True, check=True).stdout
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        sys.exit("wrk saw errors on %s:\n%s" % (url, out))
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def s3_conf(endpoint, rgw, bucket, page_cache="512M", extra="",
            location="/hdf", inner=""):
    """Server-wide H5S3 lines for one bucket, S3 at `endpoint` (RGW
    itself or a delay proxy in front of it), and a <Location> with
    debug headers."""
    return ("H5S3PageCache %s\n"
            "H5S3Endpoint %s\nH5S3Region %s\nH5S3Credentials %s %s\n"
            "H5S3Bucket %s\n%s"
            "<Location %s>\n    SetHandler h5s3\n"
            "    H5S3DebugHeaders On\n%s</Location>\n"
            % (page_cache, endpoint, rgw.region, rgw.access_key,
               rgw.secret_key, bucket, extra, location, inner))


def rgw_measure(rgw, fn):
    """(result, S3 requests, S3 bytes) that RGW logged while fn ran."""
    mark = rgw.request_count()
    res = fn()
    entries = rgw.requests_since(mark)
    return res, len(entries), sum(e["bytes"] for e in entries)
