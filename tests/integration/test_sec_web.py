"""Hostile web input against the httpd glue (issue 12): %2F in the fixed
parts of a route never slips past a <Location> rule, and keys keep their
%2F."""

import hashlib
import json
import os
import urllib.parse

import pytest

from api_common import logical
from harness.plugin import s3_directives

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


def sec_conf(rgw, loc_extra=""):
    """sec.test: /hdf with a <Location> refusing each of DENIED;
    open.test: the same buckets and token secret under /open, unguarded."""
    denied = "".join("    <Location %s>\n        Require all denied\n"
                     "    </Location>\n" % d for d in DENIED)
    return (vhost(rgw, HOST, LOC, loc_extra, denied)
            + vhost(rgw, "open.test", "/open", loc_extra))


@pytest.fixture(scope="module")
def s3(rgw):
    client = rgw.client()
    try:
        client.create_bucket(Bucket=UP_BUCKET)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    return client


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
