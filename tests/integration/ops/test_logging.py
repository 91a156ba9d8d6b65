"""Logging: conf/h5s3-json-log.conf writes one JSON object per line for
every request, whatever its key holds; `LogLevel h5s3:traceN` traces the
router; no log ever holds the S3 secret key, even at trace8."""

import datetime
import json
import os
import socket

import pytest

from harness.common import q
from harness.s3server import REPO
from harness.ops_util import ops_vhost

A = "a.test"
JSON_CONF = os.path.join(REPO, "conf", "h5s3-json-log.conf")

# Keys that break naive log formats: quotes, backslashes, non-ASCII,
# control characters, invalid UTF-8 (sent as raw %XX escapes).
AWKWARD = ['we"ird\\name.h5', "données/été 2024.h5", "日本/データ.h5",
           "tab\there.h5", "emoji 😀.h5"]
RAW = ["bad%FFutf8.h5", "ctl%01%1b.h5"]


def json_log_conf(h):
    return ("Include %s\nCustomLog %s h5s3json\n"
            % (JSON_CONF, h.path("json.log")))


def read_json_log(h, min_count):
    import time
    end = time.monotonic() + 3
    while True:
        with open(h.path("json.log"), "rb") as f:
            raw = f.read()
        lines = raw.decode("ascii").splitlines()   # ASCII only, by design
        if len(lines) >= min_count or time.monotonic() > end:
            return [json.loads(ln) for ln in lines]
        time.sleep(0.05)


@pytest.fixture
def logged(rgw, make_httpd):
    h = make_httpd("", mpm="event", start=False)
    h.conf_body = (json_log_conf(h)
                   + ops_vhost(rgw, A, ["h5data"],
                               loc="        H5S3CORSAllowOrigin *\n"
                                   "        H5S3RateLimit 1000 1000\n"))
    return h.start()


def test_every_json_log_line_parses(logged, rgw):
    h = logged
    sent = 0
    assert h.get("/hdf/files", host=A)[0] == 200
    sent += 1
    assert h.get("/hdf/files/%s/children" % q("samples/grid.h5"),
                 host=A)[0] == 200
    sent += 1
    for key in AWKWARD:
        s, _, _ = h.get("/hdf/files/%s/children" % q(key), host=A)
        assert s in (200, 404)   # données/été 2024.h5 is in the seed
        sent += 1
    for raw in RAW:
        s, _, _ = h.get("/hdf/files/%s/meta?path=/" % raw, host=A)
        assert s >= 400   # the log line is what matters here
        sent += 1
    # a preflight, a page the module does not serve, mod_status
    h.request("OPTIONS", "/hdf/files", host=A, headers={
        "Origin": "https://x.example", "Access-Control-Request-Method": "GET"})
    h.get("/nothing/here", host=A)
    h.get("/server-status?auto")
    sent += 3
    # a request line full of junk bytes and quotes
    with socket.create_connection(("127.0.0.1", h.port), timeout=10) as c:
        c.sendall(b'GET /hdf/files/\xff"\x01\\ HTTP/1.1\r\nHost: a.test\r\n'
                  b'Connection: close\r\n\r\n')
        c.recv(4096)
    sent += 1
    entries = read_json_log(h, sent)
    assert len(entries) == sent
    for e in entries:
        assert set(e) == {"ts", "ip", "vhost", "route", "status",
                          "latency_ms", "bytes_out", "bucket", "key",
                          "cache", "s3_requests", "s3_bytes",
                          "codec_cmd", "codec_ms", "codec_rc"}
        datetime.datetime.fromisoformat(e["ts"])
        assert e["ip"] == "127.0.0.1"
        assert isinstance(e["status"], int) and isinstance(
            e["latency_ms"], int) and isinstance(e["bytes_out"], int)
        assert e["s3_requests"] is None or isinstance(e["s3_requests"], int)
        assert e["s3_bytes"] is None or isinstance(e["s3_bytes"], int)
    by_route = {}
    for e in entries:
        by_route.setdefault(e["route"], []).append(e)
    files = by_route["files"][0]
    assert files["status"] == 200 and files["bucket"] == "h5data"
    assert files["cache"] == "miss" and files["s3_requests"] >= 1
    assert files["s3_bytes"] > 0 and files["bytes_out"] > 0
    assert files["vhost"] == A
    keys = [e["key"] for e in by_route["children"]]
    assert "samples/grid.h5" in keys   # lines come in completion order
    # The awkward keys come back exactly as S3 would see them.
    for key in AWKWARD:
        assert key in keys, (key, keys)
    metas = [e["key"] for e in by_route.get("meta", [])]
    for k in metas:   # invalid UTF-8 replaced, never a broken line
        assert k is None or "\ufffd" in k or "\x01" in k
    assert by_route["preflight"][0]["status"] == 204
    assert by_route[None]   # status page, 404 page, junk request
    assert any(e["status"] == 400 for e in by_route[None]) or any(
        e["status"] == 404 for e in by_route[None])


def test_trace_logging(rgw, make_httpd):
    h = make_httpd(ops_vhost(rgw, A, ["h5data"]), mpm="event",
                   log_levels=["h5s3:trace2"])
    assert h.get("/hdf/files", host=A)[0] == 200
    assert h.get("/hdf/nope", host=A)[0] == 404
    lines = h.error_log_lines()
    assert any("[h5s3:trace2]" in ln and "route files" in ln
               for ln in lines)
    assert any("[h5s3:trace2]" in ln and "no route for GET /nope" in ln
               for ln in lines)
    # without the trace level, none of it
    h2 = make_httpd(ops_vhost(rgw, A, ["h5data"]), mpm="event")
    assert h2.get("/hdf/files", host=A)[0] == 200
    assert not any(":trace" in ln for ln in h2.error_log_lines())


@pytest.mark.parametrize("levels", [["h5s3:trace8"], ["debug"],
                                    ["trace8"]])
def test_no_secret_in_any_log(rgw, make_httpd, levels):
    h = make_httpd("", mpm="prefork", start=False, log_levels=levels)
    bad = ops_vhost(rgw, "bad.test", ["other"]).replace(
        rgw.secret_key, rgw.secret_key[:-4] + "XXXX")
    h.conf_body = (json_log_conf(h) + ops_vhost(rgw, A, ["h5data"]) + bad)
    h.start()
    assert h.get("/hdf/files", host=A)[0] == 200
    assert h.get("/hdf/files/%s/children" % q("samples/grid.h5"),
                 host=A)[0] == 200
    assert h.get("/hdf/files/%s/meta?path=/" % q("samples/grid.h5"),
                 host=A)[0] == 200
    assert h.get("/hdf/files/nope.h5/children", host=A)[0] == 404
    assert h.get("/hdf/files", host="bad.test")[0] == 502
    h.stop()
    secrets = [rgw.secret_key, rgw.secret_key[:-4] + "XXXX"]
    checked = 0
    for name in os.listdir(h.workdir):
        path = h.path(name)
        if not os.path.isfile(path) or not name.endswith((".log",)):
            continue
        with open(path, "rb") as f:
            data = f.read()
        checked += len(data)
        for s in secrets:
            assert s.encode() not in data, "secret key in %s" % name
    assert checked > 0
    if "trace8" in levels[0]:
        assert any(":trace" in ln for ln in h.error_log_lines())
