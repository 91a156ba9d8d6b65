"""H5S3CORSAllowOrigin and friends: preflights answered 204 before
authentication, one allowed origin echoed with Vary: Origin, the headers
on every response (200, 401, 404, 429, 502), nothing for other origins,
never '*' with credentials."""

import json

import pytest

from harness.ops_util import ops_vhost

A = "a.test"
GOOD = "https://viewer.example.org"
OTHER = "http://localhost:5173"
EVIL = "https://evil.example.net"

CORS = ("        H5S3CORSAllowOrigin %s %s\n"
        "        H5S3CORSMaxAge 600\n" % (GOOD, OTHER))


def preflight(h, path, origin, host=A, method="GET", headers=None):
    hdrs = {"Origin": origin, "Access-Control-Request-Method": method}
    hdrs.update(headers or {})
    return h.request("OPTIONS", path, headers=hdrs, host=host)


@pytest.fixture
def server(rgw, make_httpd, mpm):
    bad_secret = ops_vhost(rgw, "bad.test", ["other"], loc=CORS).replace(
        rgw.secret_key, "wrong" + rgw.secret_key[5:])
    conf = (ops_vhost(rgw, A, loc=CORS + "        H5S3RateLimit 1 3\n")
            + bad_secret
            + ops_vhost(rgw, "plain.test"))
    return make_httpd(conf, mpm=mpm)


def test_preflight_allowed_origin(server):
    for origin in (GOOD, OTHER):
        s, h, body = preflight(server, "/hdf/files", origin,
                               headers={"Access-Control-Request-Headers":
                                        "content-type"})
        assert s == 204 and body == b""
        assert h["Access-Control-Allow-Origin"] == origin
        assert h.get_all("Access-Control-Allow-Origin") == [origin]
        assert "Origin" in h["Vary"]
        assert "GET" in h["Access-Control-Allow-Methods"]
        assert "Content-Type" in h["Access-Control-Allow-Headers"]
        assert h["Access-Control-Max-Age"] == "600"
        assert "Access-Control-Allow-Credentials" not in h


def test_preflight_other_origin_gets_no_cors_headers(server):
    s, h, body = preflight(server, "/hdf/files", EVIL)
    assert s == 204
    assert not [k for k in h.keys() if k.lower().startswith("access-control")]
    assert "Origin" in h["Vary"]
    # Origins compare exactly (no prefix or suffix tricks)
    for o in (GOOD + ".evil.net", GOOD[:-1], "null"):
        s, h, _ = preflight(server, "/hdf/files", o)
        assert "Access-Control-Allow-Origin" not in h


def test_preflights_are_not_rate_limited(server):
    for _ in range(6):
        assert preflight(server, "/hdf/health", GOOD)[0] == 204


def test_headers_on_success_and_errors(server):
    hdr = {"Origin": GOOD}
    # 200
    s, h, _ = server.get("/hdf/files", headers=hdr, host=A)
    assert s == 200
    assert h["Access-Control-Allow-Origin"] == GOOD
    assert "Origin" in h["Vary"]
    assert "X-H5S3-Cache" in h["Access-Control-Expose-Headers"]
    # 404 (JSON from the module)
    s, h, body = server.get("/hdf/no/such/route", headers=hdr, host=A)
    assert s == 404 and json.loads(body)["success"] is False
    assert h["Access-Control-Allow-Origin"] == GOOD
    # 429 from the rate limit (burst 3, and the two calls above used 2)
    statuses = []
    for _ in range(3):
        s, h, body = server.get("/hdf/health", headers=hdr, host=A)
        statuses.append(s)
    assert statuses[-1] == 429
    assert h["Access-Control-Allow-Origin"] == GOOD
    assert "Retry-After" in h["Access-Control-Expose-Headers"]
    # 502: S3 refuses the signature of the bad.test vhost
    s, h, body = server.get("/hdf/files", headers=hdr, host="bad.test")
    assert s == 502 and json.loads(body)["success"] is False
    assert h["Access-Control-Allow-Origin"] == GOOD
    assert "Origin" in h["Vary"]


def test_disallowed_origin_and_no_origin(server):
    s, h, _ = server.get("/hdf/files", headers={"Origin": EVIL}, host=A)
    assert s == 200 and "Access-Control-Allow-Origin" not in h
    assert "Origin" in h["Vary"]
    s, h, _ = server.get("/hdf/files", host=A)
    assert s == 200 and "Access-Control-Allow-Origin" not in h


def test_location_without_cors(server):
    s, h, _ = server.get("/hdf/files", headers={"Origin": GOOD},
                         host="plain.test")
    assert s == 200
    assert not [k for k in h.keys() if k.lower().startswith("access-control")]
    # An OPTIONS there is the module's own answer: 405 JSON
    s, h, body = preflight(server, "/hdf/files", GOOD, host="plain.test")
    assert s == 405 and json.loads(body)["success"] is False


def test_star_and_credentials(make_httpd):
    conf = (ops_vhost(None, A, loc="        H5S3CORSAllowOrigin *\n")
            + ops_vhost(None, "cred.test", loc=(
                "        H5S3CORSAllowOrigin %s\n"
                "        H5S3CORSAllowCredentials On\n"
                "        H5S3CORSAllowHeaders X-Custom Content-Type\n"
                % GOOD)))
    h = make_httpd(conf, mpm="event")
    s, hd, _ = h.get("/hdf/health", headers={"Origin": EVIL}, host=A)
    assert s == 200 and hd["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in hd
    s, hd, _ = preflight(h, "/hdf/health", EVIL)
    assert s == 204 and hd["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in hd
    s, hd, _ = preflight(h, "/hdf/health", GOOD, host="cred.test")
    assert hd["Access-Control-Allow-Origin"] == GOOD
    assert hd["Access-Control-Allow-Credentials"] == "true"
    assert hd["Access-Control-Allow-Headers"] == "X-Custom, Content-Type"
    s, hd, _ = h.get("/hdf/health", headers={"Origin": GOOD},
                     host="cred.test")
    assert hd["Access-Control-Allow-Credentials"] == "true"


@pytest.mark.parametrize("loc,needle", [
    ("H5S3CORSAllowOrigin *\n        H5S3CORSAllowCredentials On",
     "cannot be combined"),
    ("H5S3CORSAllowCredentials On\n        H5S3CORSAllowOrigin *",
     "cannot be combined"),
    ("H5S3CORSAllowOrigin * https://a.example", "'*' stands alone"),
    ("H5S3CORSAllowOrigin https://a.example/path", "'https://a.example/path'"),
    ("H5S3CORSAllowOrigin ftp://a.example", "'ftp://a.example'"),
    ("H5S3CORSMaxAge soon", "'soon' is not valid"),
    ("H5S3CORSAllowHeaders X-Bad:Header", "'X-Bad:Header' is not valid"),
])
def test_bad_cors_config(make_httpd, loc, needle):
    h = make_httpd(ops_vhost(None, A, loc="        %s\n" % loc),
                   start=False)
    rc, out = h.check()
    assert rc != 0 and needle in out, out
