"""Graceful restarts under load (wrk on loopback): no request lost to a
crash, the shared state (rate-limit table, caches) still right after;
a configuration error on reload leaves the running server serving."""

import os
import re
import shutil
import subprocess
import threading
import time

from harness.httpd import _clean_env
from harness.ops_util import ops_vhost, status_auto

A = "a.test"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
# Pace each connection (wrk has no rate option): every request is a new
# connection, and TIME_WAIT sockets use up the machine's ephemeral ports.
PACE_LUA = 'function delay() return 8 end\n'


def run_wrk(h, path, seconds, script):
    out = subprocess.run(
        [WRK, "-t2", "-c8", "-d%ds" % seconds, "--timeout", "10s",
         "-s", script, "-H", "Host: " + A, "-H", "Connection: close",
         "http://127.0.0.1:%d%s" % (h.port, path)],
        capture_output=True, text=True, timeout=seconds + 30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def wrk_figures(text):
    total = int(re.search(r"(\d+) requests in", text).group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", text)
    errors = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    non2xx = int(m.group(1)) if m else 0
    return total, errors, non2xx


def test_graceful_restarts_under_load(rgw, make_httpd, mpm):
    conf = ops_vhost(rgw, A, ["h5data"], loc=(
        "        H5S3RateLimit 100000 100000\n")) + (
        "<VirtualHost *:*>\n    ServerName b.test\n"
        "    <Location /lim>\n        SetHandler h5s3\n"
        "        H5S3RateLimit 0.1 3\n    </Location>\n</VirtualHost>\n")
    h = make_httpd(conf, mpm=mpm)
    assert h.get("/hdf/files?prefix=Folder_1/", host=A)[0] == 200
    # A client throttled before the restarts must still be afterwards.
    assert [h.get("/lim/health", host="b.test")[0] for _ in range(4)] == \
        [200, 200, 200, 429]
    script = h.path("pace.lua")
    with open(script, "w") as f:
        f.write(PACE_LUA)
    result = {}

    def load():
        result["out"] = run_wrk(h, "/hdf/files?prefix=Folder_1/", 5, script)

    t = threading.Thread(target=load)
    t.start()
    time.sleep(1.0)
    h.graceful()
    time.sleep(0.8)
    h.graceful()
    t.join()
    total, errors, non2xx = wrk_figures(result["out"])
    print("graceful %s: wrk %d requests, %d socket errors, %d non-2xx"
          % (mpm, total, errors, non2xx))
    assert total > 500, result["out"]
    assert errors == 0 and non2xx == 0, result["out"]
    entries = [e for e in h.access_log_entries(min_count=total + 5)
               if e["route"] == "files"]
    assert len(entries) >= total
    assert {e["status"] for e in entries} == {200}
    # Shared state is still right: the throttled client stays throttled,
    # the listing is still served from the cache, the table is consistent.
    assert h.get("/lim/health", host="b.test")[0] == 429
    s, hd, _ = h.get("/hdf/files?prefix=Folder_1/", host=A)
    assert s == 200 and hd["X-H5S3-Cache"] == "hit"
    st = status_auto(h)
    assert 1 <= int(st["H5S3RateLimitBuckets"]) <= 2
    assert int(st["H5S3Responses5xx"]) == 0


def apachectl(h, *args):
    env = _clean_env({"APACHE_CONFDIR": h.workdir,
                      "APACHE_ENVVARS": os.path.join(h.workdir, "none"),
                      "APACHE_ARGUMENTS": "-f " + h.conf_path})
    return subprocess.run(["/usr/sbin/apache2ctl", *args],
                          capture_output=True, text=True, env=env,
                          timeout=60)


def test_config_error_on_reload_keeps_serving(rgw, make_httpd, mpm):
    good = ops_vhost(rgw, A, ["h5data"], loc="        H5S3RateLimit 5\n")
    h = make_httpd(good, mpm=mpm)
    assert h.get("/hdf/files", host=A)[0] == 200
    kids = h.child_pids()
    h.conf_body = good.replace("H5S3RateLimit 5", "H5S3RateLimit lots")
    h.write_conf()
    r = apachectl(h, "graceful")
    assert r.returncode != 0
    assert "H5S3RateLimit" in r.stdout + r.stderr and "'lots'" in \
        r.stdout + r.stderr
    time.sleep(0.5)
    assert h.running() and h.child_pids() == kids
    s, _, _ = h.get("/hdf/files", host=A)
    assert s == 200
    # Fixed, the reload goes through.
    h.conf_body = good.replace("H5S3RateLimit 5", "H5S3RateLimit 1 2")
    h.write_conf()
    r = apachectl(h, "graceful")
    assert r.returncode == 0, r.stdout + r.stderr
    end = time.monotonic() + 10
    while set(h.child_pids()) & set(kids) and time.monotonic() < end:
        time.sleep(0.05)
    assert not set(h.child_pids()) & set(kids)
    assert [h.get("/hdf/health", host=A)[0] for _ in range(3)] == \
        [200, 200, 429]
