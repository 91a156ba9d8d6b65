"""Hostile web input against the httpd glue (issue 12): %2F in the fixed
parts of a route never slips past a <Location> rule, and keys keep their
%2F; POSTs a web page on another site could make a browser send are
refused (form media types: 415, foreign Origin or Sec-Fetch-Site: 403)
and do nothing, while browsers on allowed or the same origin and clients
without those headers (curl) keep working; H5S3RateLimit counts an IPv6
client by its /64, an IPv4 one (mapped or not) by its address."""

import hashlib
import http.client
import json
import os
import socket
import subprocess
import urllib.parse

import pytest

from harness.api_common import logical
from harness.common import make_bucket
from harness.plugin import s3_directives
from harness.ops_util import REMOTEIP, ops_vhost

HOST = "sec.test"
LOC = "/hdf"
UP_BUCKET = "secweb"
SECRET = "sec-web-token-secret-0123456789"

# Each of these <Location>s is refused outright; the module's Location
# (/hdf) itself is open.
DENIED = ["/hdf/api/upload", "/hdf/api/download/prepare",
          "/hdf/files/refresh", "/hdf/api/buckets", "/hdf/api/objects",
          "/hdf/h5grove/meta", "/hdf/health"]

OCTET = {"Content-Type": "application/octet-stream"}
JSON_CT = {"Content-Type": "application/json"}

GOOD = "https://viewer.example.org"
EVIL = "https://evil.example.net"
CORS = "        H5S3CORSAllowOrigin %s\n" % GOOD


def vhost(rgw, name, loc, loc_extra="", extra=""):
    return ("<VirtualHost *:*>\n    ServerName %s\n"
            "    AllowEncodedSlashes NoDecode\n%s"
            "    H5S3TokenSecret %s\n"
            "    <Location %s>\n        SetHandler h5s3\n"
            "        H5S3Upload On\n%s    </Location>\n%s"
            "</VirtualHost>\n"
            % (name, s3_directives(rgw, [("h5data", "h5"),
                                         ("dgdata", "data"),
                                         (UP_BUCKET, "up")]),
               SECRET, loc, loc_extra, extra))


def sec_conf(rgw):
    """sec.test: /hdf with a <Location> refusing each of DENIED;
    open.test: the same buckets and token secret under /open, unguarded;
    star.test: /star, CORS for any origin.  GOOD may read and POST on
    the first two."""
    denied = "".join("    <Location %s>\n        Require all denied\n"
                     "    </Location>\n" % d for d in DENIED)
    return (vhost(rgw, HOST, LOC, CORS, denied)
            + vhost(rgw, "open.test", "/open", CORS)
            + vhost(rgw, "star.test", "/star",
                    "        H5S3CORSAllowOrigin *\n"))


@pytest.fixture(scope="module")
def s3(rgw):
    return make_bucket(rgw.client(), UP_BUCKET)


def unique(name):
    """A fresh key prefix: the bucket outlives a test (and its MPM)."""
    return "%s-%s/" % (name, os.urandom(4).hex())


def keys_under(s3, prefix):
    return sorted(o["Key"] for o in s3.list_objects_v2(
        Bucket=UP_BUCKET, Prefix=prefix).get("Contents", []))


def body_json(data):
    return json.loads(data)


def is_api_error(j, code):
    return set(j) == {"error"} and j["error"]["code"] == code


# ---- %2F in the fixed parts of a route --------------------------------------

@pytest.fixture
def server(rgw, make_httpd, mpm, s3):
    h = make_httpd(sec_conf(rgw), mpm=mpm, log_levels=("h5s3:trace2",))
    # mod_authz_core logs every refusal of the DENIED <Location>s.
    h.expect_errors(r"AH01630: client denied by server configuration")
    return h


# (method, path as sent, the family's 404 check)
API_404 = lambda j: is_api_error(j, "not_found")                # noqa: E731
VIEWER_404 = lambda j: j == {"success": False,                  # noqa: E731
                             "error": "Not found"}
GROVE_404 = lambda j: j == {"message": "Not found"}             # noqa: E731

SMUGGLED = [
    ("POST", "/hdf/api%2Fupload?bucket=up&key=smuggled/a.bin", API_404),
    ("POST", "/hdf/api%2fupload?bucket=up&key=smuggled/b.bin", API_404),
    ("POST", "/hdf/api/upload%2F?bucket=up&key=smuggled/c.bin", API_404),
    ("POST", "/hdf/api%2Fdownload/prepare", API_404),
    ("POST", "/hdf/api/download%2Fprepare", API_404),
    ("POST", "/hdf/api%2Fdownload%2Fprepare", API_404),
    ("POST", "/hdf/files%2Frefresh", VIEWER_404),
    ("POST", "/hdf/files%2frefresh", VIEWER_404),
    ("POST", "/hdf/api%2Fbuckets/up/compute-savings", API_404),
    ("POST", "/hdf/api%2Fbuckets%2Fup%2Fcompute-savings", API_404),
    ("GET", "/hdf/api%2Fobjects?bucket=data", API_404),
    ("GET", "/hdf/api%2Fobjects%2Fdata/README.txt/metadata", API_404),
    ("GET", "/hdf/h5grove%2Fmeta?file=top.h5", GROVE_404),
    ("GET", "/hdf/h5grove%2Fmeta/?file=top.h5", GROVE_404),
    ("GET", "/hdf/health%2F", VIEWER_404),
    ("GET", "/hdf/files/top.h5%2Fchildren", VIEWER_404),
    ("GET", "/hdf/files%2Ftop.h5%2Fmeta?path=/", VIEWER_404),
    # Other escapes do not spell a fixed part either (httpd decodes them
    # before it picks the <Location>, so here on the unguarded vhost).
    ("POST", "/open/api/uplo%61d?bucket=up&key=smuggled/d.bin", API_404),
    ("POST", "/open/api%2Fupload?bucket=up&key=smuggled/e.bin", API_404),
    ("GET", "/open/%68ealth", VIEWER_404),
    ("GET", "/open/h5grove/m%65ta?file=top.h5", GROVE_404),
]


def test_encoded_slash_never_reaches_a_route(server, s3):
    before = keys_under(s3, "smuggled/")
    for method, path, is_404 in SMUGGLED:
        hdrs = dict(OCTET if "upload" in path else JSON_CT)
        body = b"smuggled" if "upload" in path else b"{}"
        host = "open.test" if path.startswith("/open/") else HOST
        status, h, data = server.request(method, path, body=body,
                                         headers=hdrs, host=host)
        assert status == 404, (method, path, status, data[:200])
        assert h["Content-Type"].startswith("application/json")
        assert is_404(body_json(data)), (path, data)
        assert "X-H5S3-Route" not in h
    # Nothing was stored by any of the upload variants.
    assert keys_under(s3, "smuggled/") == before == []
    # The routes they aimed at are really refused by their <Location>s.
    for method, path in (
            ("POST", "/hdf/api/upload?bucket=up&key=smuggled/a.bin"),
            ("POST", "/hdf/api/download/prepare"),
            ("POST", "/hdf/files/refresh"),
            ("POST", "/hdf/api/buckets/up/compute-savings"),
            ("GET", "/hdf/api/objects?bucket=data"),
            ("GET", "/hdf/api/objects/data/README.txt/metadata"),
            ("GET", "/hdf/h5grove/meta/?file=top.h5"),
            ("GET", "/hdf/health")):
        hdrs = dict(OCTET if "upload" in path else JSON_CT)
        status, h, data = server.request(method, path, body=b"{}",
                                         headers=hdrs, host=HOST)
        assert status == 403, (method, path, status, data[:200])
        assert not h["Content-Type"].startswith("application/json")
    assert keys_under(s3, "smuggled/") == []
    # httpd's trace of the module names the path as sent.
    lines = server.error_log_lines()
    assert any("no route for POST /api%2Fupload" in ln for ln in lines)


def test_keys_with_encoded_slash_still_work(server, rgw):
    # /files/{key}/children: %2F in the key decodes to '/'.
    status, _, data = server.get("/hdf/files/Folder_1%2Frandom_05.h5/"
                                 "children?path=/", host=HOST)
    j = body_json(data)
    assert status == 200 and j["success"] is True, data[:300]
    assert j["key"] == "Folder_1/random_05.h5"
    # ... the same as with a plain '/'.
    status, _, plain = server.get("/hdf/files/Folder_1/random_05.h5/"
                                  "children?path=/", host=HOST)
    assert status == 200
    assert body_json(plain)["children"] == j["children"]
    # %25 in a key is a literal %, decoded once.
    status, _, data = server.get("/hdf/files/percent%2F100%25.h5/children"
                                 "?path=/", host=HOST)
    assert status == 200 and body_json(data)["key"] == "percent/100%.h5"
    # /api/download/{token}: the token, escaped, still downloads (prepare
    # is refused by its Location here, so sign it on an open vhost).
    want = logical(rgw, "dgdata")
    key = sorted(k for k in want if k.startswith("releases/v1/")
                 and want[k]["kind"] == "dg-delta")[0]
    status, _, data = server.request(
        "POST", "/open/api/download/prepare",
        body=json.dumps({"bucket": "data", "key": key}),
        headers=JSON_CT, host="open.test")
    assert status == 200, data[:300]
    tok = body_json(data)["download_token"]
    enc = "".join("%%%02X" % ord(c) if c in ".-_" else c for c in tok)
    assert enc != tok
    status, h, data = server.get("/hdf/api/download/" + enc, host=HOST)
    assert status == 200, data[:300]
    assert hashlib.sha256(data).hexdigest() == want[key]["original_sha256"]
    # /api/objects/{bucket}/{key}/metadata with %2F in the key.
    status, _, data = server.get("/open/api/objects/data/%s/metadata"
                                 % urllib.parse.quote(key, safe=""),
                                 host="open.test")
    assert status == 200, data[:300]
    assert body_json(data)["key"] == key


# ---- cross-site POSTs ---------------------------------------------------------

OPEN = "open.test"

# Content-Type values a form (or a preflight-free fetch) can send, and
# the missing one.
FORM_TYPES = [None, "text/plain", "text/plain;charset=UTF-8",
              "application/x-www-form-urlencoded",
              "multipart/form-data; boundary=x",
              " Multipart/Form-Data ; boundary=x", "TEXT/PLAIN",
              "application/json, text/plain"]


def post(h, path, ctype=None, body=b"", headers=None, host=OPEN):
    hdrs = dict(headers or {})
    if ctype is not None:
        hdrs["Content-Type"] = ctype
    status, rh, data = h.request("POST", path, body=body, headers=hdrs,
                                 host=host)
    assert rh["Content-Type"].startswith("application/json"), data[:200]
    return status, rh, body_json(data)


def upload(h, key, ctype="application/octet-stream", headers=None,
           host=OPEN, loc="/open"):
    return post(h, "%s/api/upload?bucket=up&key=%s"
                % (loc, urllib.parse.quote(key, safe="")),
                ctype, body=b"payload of " + key.encode(), headers=headers,
                host=host)


def refresh(h, ctype="application/json", headers=None, host=OPEN,
            loc="/open"):
    return post(h, loc + "/files/refresh", ctype, headers=headers,
                host=host)


def prepare(h, ctype="application/json", headers=None):
    return post(h, "/open/api/download/prepare", ctype,
                body=json.dumps({"bucket": "data",
                                 "key": "README.txt"}).encode(),
                headers=headers)


def savings(h, ctype="application/json", headers=None):
    return post(h, "/open/api/buckets/up/compute-savings", ctype,
                headers=headers)


def listing_cached(h, host=OPEN, loc="/open"):
    status, _, data = h.get(loc + "/files", host=host)
    assert status == 200
    return body_json(data)["cached"]


def savings_row(h):
    status, _, data = h.get("/open/api/buckets", host=OPEN)
    assert status == 200
    return {b["name"]: b for b in body_json(data)["buckets"]}["up"]


def assert_refused(resp, want_status, api, header):
    """resp (from post()) is the refusal, in the family's envelope, naming
    the header."""
    status, _, j = resp
    assert status == want_status, j
    if api:
        assert is_api_error(j, "unsupported_media_type" if want_status
                            == 415 else "cross_site_request"), j
        assert j["error"]["details"] == {"header": header}, j
        assert header in j["error"]["message"]
    else:
        assert j["success"] is False and header in j["error"], j


def test_form_types_are_refused_and_do_nothing(server, s3):
    pre = unique("csrf")
    listing_cached(server)
    assert listing_cached(server) is True
    for i, ctype in enumerate(FORM_TYPES):
        key = pre + "form-%d.bin" % i
        resp = upload(server, key, ctype)
        assert_refused(resp, 415, True, "Content-Type")
        assert "octet-stream" in resp[2]["error"]["message"]
        resp = prepare(server, ctype)
        assert_refused(resp, 415, True, "Content-Type")
        assert "application/json" in resp[2]["error"]["message"]
        assert_refused(savings(server, ctype), 415, True, "Content-Type")
        if ctype is not None:   # a body-less refresh may come with none
            assert_refused(refresh(server, ctype), 415, False,
                           "Content-Type")
    # Nothing happened: no object, no savings job, the listing still
    # cached.
    assert keys_under(s3, pre) == []
    row = savings_row(server)
    assert row["pending"] is False and row["computed_at"] is None
    assert "task_id" not in row
    assert listing_cached(server) is True
    # The JSON routes want exactly JSON; uploads any type but a form's.
    assert_refused(savings(server, "application/octet-stream"), 415, True,
                   "Content-Type")
    assert_refused(refresh(server, "application/x-json"), 415, False,
                   "Content-Type")
    assert listing_cached(server) is True
    # The right types go through.
    assert refresh(server, "application/json; charset=utf-8")[0] == 200
    assert listing_cached(server) is False
    for ctype in ("application/octet-stream", "application/zip",
                  "application/x-hdf5"):
        key = pre + "ok-%s.bin" % ctype.split("/")[1]
        status, _, j = upload(server, key, ctype)
        assert status == 200 and j["key"] == key, j
    assert keys_under(s3, pre) == [
        pre + "ok-octet-stream.bin", pre + "ok-x-hdf5.bin",
        pre + "ok-zip.bin"]
    assert prepare(server)[0] == 200
    status, _, j = savings(server)
    assert status == 202 and j["bucket"] == "up", j


def test_cross_site_posts_are_refused(server, s3):
    pre = unique("csrf")
    port = server.port
    foreign = [EVIL, "null", GOOD + ".evil.net", GOOD + ":443",
               "http://open.test:%d" % (port + 1), "https://open.test",
               "http://evil.open.test", "http://open.test.evil.net",
               "http://open.test/path", "http://user@open.test"]
    listing_cached(server)
    for i, origin in enumerate(foreign):
        hdrs = {"Origin": origin, "Sec-Fetch-Site": "same-site"}
        resp = upload(server, pre + "x-%d.bin" % i, headers=hdrs)
        assert_refused(resp, 403, True, "Origin")
        # Not readable by that page either.
        assert "Access-Control-Allow-Origin" not in resp[1]
        assert_refused(prepare(server, headers=hdrs), 403, True,
                       "Origin")
        assert_refused(savings(server, headers=hdrs), 403, True,
                       "Origin")
        assert_refused(refresh(server, headers=hdrs), 403, False,
                       "Origin")
        # The body-less refresh a page may send with no type: the same.
        assert_refused(refresh(server, None, headers=hdrs), 403, False,
                       "Origin")
    # Sec-Fetch-Site: cross-site without Origin, or with the page's own.
    for hdrs in ({"Sec-Fetch-Site": "cross-site"},
                 {"Sec-Fetch-Site": "Cross-Site"},
                 {"Sec-Fetch-Site": "cross-site",
                  "Origin": "http://open.test"}):
        assert_refused(upload(server, pre + "sfs.bin", headers=hdrs), 403,
                       True, "Sec-Fetch-Site")
        assert_refused(refresh(server, headers=hdrs), 403, False,
                       "Sec-Fetch-Site")
    # A wrong type from a foreign page: refused for its origin first.
    assert_refused(upload(server, pre + "y.bin", "text/plain",
                          headers={"Origin": EVIL}), 403, True, "Origin")
    # Nothing happened.
    assert keys_under(s3, pre) == []
    assert savings_row(server)["pending"] is False
    assert listing_cached(server) is True
    # A GET from anywhere is still answered (reading is CORS's business).
    status, _, _ = server.get("/open/files", headers={
        "Origin": EVIL, "Sec-Fetch-Site": "cross-site"}, host=OPEN)
    assert status == 200


def test_allowed_same_origin_and_plain_clients_may_post(server, s3):
    pre = unique("ok")
    # An origin of H5S3CORSAllowOrigin, even cross-site, and it can read
    # the answer.
    for i, hdrs in enumerate(({"Origin": GOOD},
                              {"Origin": GOOD.upper()},
                              {"Origin": GOOD,
                               "Sec-Fetch-Site": "cross-site"})):
        status, rh, j = upload(server, pre + "allowed-%d.bin" % i,
                               headers=hdrs)
        assert status == 200, j
        assert rh["Access-Control-Allow-Origin"] == hdrs["Origin"]
        assert refresh(server, headers=hdrs)[0] == 200
    assert prepare(server, headers={"Origin": GOOD})[0] == 200
    assert savings(server, headers={"Origin": GOOD})[0] == 202
    # The server's own origin: Host without a port is the scheme's.
    port = server.port
    same = [({"Origin": "http://open.test"}, OPEN),
            ({"Origin": "HTTP://Open.Test:80"}, OPEN),
            ({"Origin": "http://open.test:%d" % port,
              "Sec-Fetch-Site": "same-origin"}, "open.test:%d" % port),
            ({"Origin": "http://open.test",
              "Sec-Fetch-Site": "same-site"}, "open.test:80")]
    for i, (hdrs, host) in enumerate(same):
        status, _, j = upload(server, pre + "same-%d.bin" % i, headers=hdrs,
                              host=host)
        assert status == 200, (hdrs, host, j)
        assert refresh(server, headers=hdrs, host=host)[0] == 200
    # No Origin, no Sec-Fetch-* (scripts); Sec-Fetch-Site: none (typed
    # by the user).
    assert upload(server, pre + "plain.bin")[0] == 200
    assert upload(server, pre + "none.bin",
                  headers={"Sec-Fetch-Site": "none"})[0] == 200
    # H5S3CORSAllowOrigin *: any origin may.
    status, _, j = upload(server, pre + "star.bin", headers={"Origin": EVIL},
                          host="star.test", loc="/star")
    assert status == 200, j
    assert refresh(server, headers={"Origin": "null"}, host="star.test",
                   loc="/star")[0] == 200
    assert keys_under(s3, pre) == sorted(
        [pre + "allowed-%d.bin" % i for i in range(3)]
        + [pre + "same-%d.bin" % i for i in range(len(same))]
        + [pre + "plain.bin", pre + "none.bin", pre + "star.bin"])
    assert s3.get_object(Bucket=UP_BUCKET, Key=pre + "plain.bin")[
        "Body"].read() == b"payload of " + (pre + "plain.bin").encode()


def test_curl_needs_only_the_content_type(server, s3):
    """curl sends no Origin: the right type is all it needs.  Its
    --data-binary default (a form type) is refused."""
    base = "http://127.0.0.1:%d/open" % server.port
    pre = unique("curl")

    def curl(*args):
        out = subprocess.run(
            ["curl", "-sS", "-H", "Host: " + OPEN, "-w", "\n%{http_code}"]
            + list(args), capture_output=True, check=True, timeout=60)
        body, _, code = out.stdout.rpartition(b"\n")
        return int(code), body_json(body)

    code, j = curl("--data-binary", "curl data",
                   base + "/api/upload?bucket=up&key=" + pre + "form.bin")
    assert code == 415 and j["error"]["details"] == {"header": "Content-Type"}
    code, j = curl("--data-binary", "curl data", "-H",
                   "Content-Type: application/octet-stream",
                   base + "/api/upload?bucket=up&key=" + pre + "x.bin")
    assert code == 200 and j["key"] == pre + "x.bin", j
    # The HDF Viewer's page refreshes with a body-less POST and no type.
    code, j = curl("-X", "POST", base + "/files/refresh")
    assert code == 200 and j["success"] is True
    code, j = curl("-X", "POST", "-H", "Content-Type: application/json",
                   base + "/files/refresh")
    assert code == 200 and j["success"] is True
    assert keys_under(s3, pre) == [pre + "x.bin"]


# ---- the rate limit counts IPv6 clients by their /64 --------------------------

RL = "rl.test"


def ipv6_loopback_port():
    """A TCP port free on ::1 a moment ago."""
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sk:
        sk.bind(("::1", 0))
        return sk.getsockname()[1]


@pytest.fixture
def limited(make_httpd, mpm):
    """Burst 3, one token back every 20 s: no refill within a test.
    mod_remoteip takes the client address from X-Forwarded-For of
    127.0.0.1; httpd also listens on [::1] for real IPv6 connections."""
    port6 = ipv6_loopback_port()
    h = make_httpd("Listen [::1]:%d\n" % port6 + REMOTEIP + ops_vhost(
        None, RL, loc="        H5S3RateLimit 0.05 3\n"), mpm=mpm,
        log_levels=("h5s3:debug",))
    h.port6 = port6
    return h


def as_client(h, ip):
    """Status of GET /hdf/health from client `ip` (via mod_remoteip)."""
    status, _, data = h.get("/hdf/health",
                            headers={"X-Forwarded-For": ip}, host=RL)
    if status == 429:
        assert "Too many requests" in body_json(data)["error"]
    return status


def over_ipv6(h):
    """Status of GET /hdf/health on a real connection from ::1."""
    conn = http.client.HTTPConnection("::1", h.port6, timeout=30)
    try:
        conn.request("GET", "/hdf/health", headers={"Host": RL})
        r = conn.getresponse()
        data = r.read()
    finally:
        conn.close()
    h.check_contract("GET", "/hdf/health", r.status, r.headers, data)
    return r.status


def test_one_bucket_per_ipv6_64(limited):
    h = limited
    a, b = "2001:db8:aa:1::1", "2001:db8:aa:1:8d3c:19ff:fe42:7e01"
    assert [as_client(h, a) for _ in range(3)] == [200] * 3
    # Another address of the same /64 finds the bucket empty ...
    assert as_client(h, b) == 429
    assert as_client(h, "2001:db8:aa:1:ffff:ffff:ffff:ffff") == 429
    assert as_client(h, a) == 429
    # ... other /64s, even the neighbours, have their own.
    for other in ("2001:db8:aa:2::1", "2001:db8:aa:0:ffff::1",
                  "2001:db9:aa:1::1"):
        assert [as_client(h, other) for _ in range(3)] == [200] * 3, other
        assert as_client(h, other) == 429
    # The 429s are logged with the /64 the bucket belongs to.
    assert any("H5S3-0607: client 2001:0db8:00aa:0001::/64 throttled" in ln
               for ln in h.error_log_lines())


def test_real_ipv6_connection_shares_its_64(limited):
    h = limited
    assert [over_ipv6(h) for _ in range(2)] == [200, 200]
    # ::1 and ::abcd are both in ::/64, whichever way they arrive.
    assert as_client(h, "::abcd") == 200
    assert over_ipv6(h) == 429
    assert as_client(h, "::1:0:0:7") == 429
    assert as_client(h, "0:0:0:1::1") == 200


def test_ipv4_mapped_counts_as_ipv4(limited):
    h = limited
    assert [as_client(h, "::ffff:192.0.2.7") for _ in range(3)] == [200] * 3
    assert as_client(h, "192.0.2.7") == 429
    assert as_client(h, "::ffff:c000:207") == 429
    # IPv4 stays per address, mapped or not: no shared ::ffff:0:0/64.
    for other in ("::ffff:192.0.2.8", "192.0.2.9", "::ffff:198.51.100.7"):
        assert [as_client(h, other) for _ in range(3)] == [200] * 3, other
        assert as_client(h, other) == 429
