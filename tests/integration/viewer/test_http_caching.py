"""HTTP caching of the viewer's JSON answers (docs/viewer-api.md, "HTTP
caching"): a strong ETag made from the object's ETag, the route and its
parameters, Last-Modified, Cache-Control (H5S3CacheControl), 304 for
If-None-Match / If-Modified-Since without an S3 request while the ETag is
trusted, and a warm hit that costs one shared-cache lookup."""

import json
import os
import time

import h5py
import numpy as np
import pytest

from harness.common import get_json, make_bucket, q, vhost

BUCKET = "httpcache"
A = "a.test"
B = "b.test"
C = "c.test"
DEFAULT_CC = "private, max-age=0, must-revalidate"


def write(path, n):
    with h5py.File(path, "w") as f:
        g = f.create_group("g")
        for i in range(n):
            g.create_dataset("d%02d" % i, data=np.arange(10 + i))
        f.create_dataset("m", data=np.arange(24.0).reshape(4, 6))


@pytest.fixture(scope="module")
def fix(rgw, tmp_path_factory):
    d = tmp_path_factory.mktemp("httpcache")
    write(os.path.join(d, "one.h5"), 3)
    write(os.path.join(d, "two.h5"), 5)
    s3 = make_bucket(rgw.client(), BUCKET)
    for name in ("one.h5", "two.h5"):
        s3.upload_file(os.path.join(d, name), BUCKET, name)
    return str(d)


@pytest.fixture
def server(rgw, make_httpd, mpm, fix):
    b = vhost(rgw, B, [BUCKET], extra="    H5S3ValidateTTL 60\n")
    # B's answers say what its Location's H5S3CacheControl says.
    b = b.replace("    </Location>",
                  '        H5S3CacheControl "public, max-age=60"\n'
                  "    </Location>")
    conf = (vhost(rgw, A, [BUCKET], extra="    H5S3ValidateTTL 60\n") + b
            + vhost(rgw, C, [BUCKET], extra="    H5S3ValidateTTL 1\n"))
    return make_httpd(conf, mpm=mpm)


def url(key, what, **params):
    u = "/hdf/files/%s/%s" % (q(key), what)
    if params:
        u += "?" + "&".join("%s=%s" % (k, q(str(v)))
                            for k, v in params.items())
    return u


def get(h, u, host=A, headers=None, method="GET"):
    return h.request(method, u, host=host, headers=headers)


def test_etag_is_stable_and_304_costs_no_s3_request(server, rgw):
    u = url("one.h5", "children", path="/g")
    s, h1, b1 = get_json(server, u, host=A)
    assert s == 200 and h1["X-H5S3-Cache"] == "miss"
    etag = h1["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 20
    assert h1["Cache-Control"] == DEFAULT_CC
    assert h1["Last-Modified"]
    mark = rgw.request_count()
    # New connections: the other processes say the same ETag.
    for _ in range(8):
        s, h, b = get_json(server, u, host=A)
        assert s == 200 and h["ETag"] == etag and b["cached"] is True
        assert h["X-H5S3-Cache"] == "hit"
        assert b["children"] == b1["children"]
    for _ in range(8):
        s, h, body = get(server, u, headers={"If-None-Match": etag})
        assert s == 304 and body == b""
        assert h["ETag"] == etag and h["Cache-Control"] == DEFAULT_CC
        assert h["X-H5S3-S3-Requests"] == "0"
    # A list of ETags, one of them current, and the weak form: 304 too.
    s, _, _ = get(server, u, headers={"If-None-Match": '"x", ' + etag})
    assert s == 304
    s, _, _ = get(server, u, headers={"If-None-Match": "W/" + etag})
    assert s == 304
    # Another ETag: the answer itself.
    s, h, body = get(server, u, headers={"If-None-Match": '"other"'})
    assert s == 200 and h["ETag"] == etag and body
    assert rgw.request_count() == mark


def test_warm_hit_is_one_cache_lookup(server, rgw):
    for what, params in (("children", {"path": "/"}),
                         ("meta", {"path": "/m"}),
                         ("preview", {"path": "/m"}),
                         ("data", {"path": "/m", "mode": "matrix"})):
        u = url("one.h5", what, **params)
        s, h, _ = get_json(server, u, host=B)
        assert s == 200, (what, h)
        for _ in range(4):
            s, h, b = get_json(server, u, host=B)
            assert s == 200 and b["cached"] is True, what
            assert h["X-H5S3-Cache-Lookups"] == "1", what
            assert h["X-H5S3-S3-Requests"] == "0", what
        s, h, _ = get(server, u, host=B,
                      headers={"If-None-Match": h["ETag"]})
        assert s == 304 and h["X-H5S3-Cache-Lookups"] == "1", what


def test_etag_differs_by_route_and_parameters(server):
    seen = {}
    for what, params in (("children", {"path": "/"}),
                         ("children", {"path": "/g"}),
                         ("children", {"path": "/g", "limit": 2}),
                         ("children", {"path": "/g", "offset": 1}),
                         ("meta", {"path": "/g"}),
                         ("meta", {"path": "/m"}),
                         ("preview", {"path": "/m"}),
                         ("data", {"path": "/m", "mode": "matrix"}),
                         ("data", {"path": "/m", "mode": "line",
                                   "line_dim": "row", "line_index": 1})):
        for key in ("one.h5", "two.h5"):
            s, h, _ = get_json(server, url(key, what, **params), host=A)
            assert s == 200, (key, what, params)
            seen[(key, what, tuple(sorted(params.items())))] = h["ETag"]
    assert len(set(seen.values())) == len(seen)
    # The ETag is not the object's: another vhost (other scope) agrees
    # with itself, and a Location's Cache-Control is its own.
    s, h, _ = get_json(server, url("one.h5", "children", path="/"), host=B)
    assert h["Cache-Control"] == "public, max-age=60"


def test_head_gives_the_same_headers(server):
    u = url("one.h5", "meta", path="/m")
    get(server, u)
    s, h, body = get(server, u)       # warm, as the HEAD will be
    assert s == 200
    s2, h2, body2 = get(server, u, method="HEAD")
    assert s2 == 200 and body2 == b""
    for name in ("ETag", "Cache-Control", "Last-Modified", "Content-Length",
                 "Content-Type"):
        assert h2[name] == h[name], name
    s3, h3, _ = get(server, u, method="HEAD",
                    headers={"If-None-Match": h["ETag"]})
    assert s3 == 304 and h3["ETag"] == h["ETag"]


def test_if_modified_since(server):
    u = url("one.h5", "children", path="/")
    s, h, _ = get(server, u)
    lm = h["Last-Modified"]
    s, h2, body = get(server, u, headers={"If-Modified-Since": lm})
    assert s == 304 and body == b"" and h2["ETag"] == h["ETag"]
    s, _, body = get(server, u, headers={
        "If-Modified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"})
    assert s == 200 and body
    # If-None-Match wins over If-Modified-Since.
    s, _, _ = get(server, u, headers={"If-Modified-Since": lm,
                                      "If-None-Match": '"other"'})
    assert s == 200


def test_new_object_new_etag(server, rgw, fix):
    s3 = rgw.client()
    s3.upload_file(os.path.join(fix, "one.h5"), BUCKET, "changing.h5")
    u = url("changing.h5", "children", path="/g")
    s, h1, b1 = get_json(server, u, host=C)
    assert s == 200 and len(b1["children"]) == 3
    etag = h1["ETag"]
    s3.upload_file(os.path.join(fix, "two.h5"), BUCKET, "changing.h5")
    # Trusted for H5S3ValidateTTL (1 s here): past it, asked again.
    time.sleep(1.2)
    s, h2, body = get(server, u, host=C, headers={"If-None-Match": etag})
    assert s == 200 and h2["ETag"] != etag
    assert len(json.loads(body)["children"]) == 5
    s, h3, _ = get(server, u, host=C, headers={"If-None-Match": h2["ETag"]})
    assert s == 304 and h3["ETag"] == h2["ETag"]


def test_files_listing_etag(server, rgw):
    u = "/hdf/files?prefix=one"
    s, h1, b1 = get_json(server, u, host=A)
    assert s == 200 and h1["ETag"] and h1["Cache-Control"] == DEFAULT_CC
    mark = rgw.request_count()
    s, h2, b2 = get_json(server, u, host=A)
    assert s == 200 and h2["ETag"] == h1["ETag"] and b2["cached"] is True
    s, h3, body = get(server, u, headers={"If-None-Match": h1["ETag"]})
    assert s == 304 and body == b"" and h3["ETag"] == h1["ETag"]
    assert rgw.request_count() == mark
    s, h4, _ = get_json(server, "/hdf/files?prefix=two", host=A)
    assert h4["ETag"] != h1["ETag"]
    # A refresh starts a new generation: a new ETag.
    s, _, _ = server.request("POST", "/hdf/files/refresh", host=A,
                             headers={"Content-Type": "application/json"})
    assert s == 200
    s, h5, _ = get(server, u, headers={"If-None-Match": h1["ETag"]})
    assert s == 200 and h5["ETag"] != h1["ETag"]


def test_errors_are_not_cacheable(server):
    for u in (url("nope.h5", "children"), url("one.h5", "meta", path="/x"),
              url("one.h5", "meta")):
        s, h, _ = get(server, u)
        assert s in (400, 404)
        assert h["Cache-Control"] == "no-store" and "ETag" not in h


@pytest.mark.parametrize("value,needle", [
    ('""', "takes one argument"),
    ('" "', "it must not be empty"),
    ('"private, max-age=\x7f"', "printable ASCII"),
])
def test_bad_cache_control_is_refused(rgw, make_httpd, value, needle):
    conf = vhost(rgw, A, [BUCKET]).replace(
        "    </Location>", "        H5S3CacheControl %s\n    </Location>"
        % value)
    h = make_httpd(conf, start=False)
    rc, out = h.check()
    assert rc != 0 and "H5S3CacheControl" in out and needle in out, out
