"""HTTP caching of the h5grove JSON answers (docs/h5grove.md, "HTTP
caching"): /meta/, /attr/, /paths/ and /stats/ carry a strong ETag and
Cache-Control, If-None-Match gives a 304 with no S3 request while the
object's ETag is trusted, and a warm hit is one shared-cache lookup --
also for the children's /meta/ answers a group's /meta/ stored ahead."""

import os
import time
import urllib.parse

import h5py
import numpy as np
import pytest

from harness.common import make_bucket, vhost

BUCKET = "grovecache"
A = "grove.test"
C = "grove-short.test"
DEFAULT_CC = "private, max-age=0, must-revalidate"


def write(path, scale):
    with h5py.File(path, "w") as f:
        g = f.create_group("g")
        g.attrs["title"] = "t%d" % scale
        for i in range(4):
            g.create_dataset("d%d" % i, data=np.arange(12.0) * scale + i)


@pytest.fixture(scope="module")
def fix(rgw, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("grovecache"))
    write(os.path.join(d, "one.h5"), 1)
    write(os.path.join(d, "two.h5"), 2)
    s3 = make_bucket(rgw.client(), BUCKET)
    for name in ("one.h5", "two.h5"):
        s3.upload_file(os.path.join(d, name), BUCKET, name)
    return d


@pytest.fixture
def server(rgw, make_httpd, mpm, fix):
    conf = (vhost(rgw, A, [BUCKET], location="/v",
                  extra="    H5S3ValidateTTL 60\n")
            + vhost(rgw, C, [BUCKET], location="/v",
                    extra="    H5S3ValidateTTL 1\n"))
    return make_httpd(conf, mpm=mpm)


def get(h, route, host=A, headers=None, method="GET", **params):
    url = "/v/h5grove/%s/?%s" % (route, urllib.parse.urlencode(params))
    return h.request(method, url, host=host, headers=headers)


ROUTES = (("meta", {"path": "/g"}),
          ("meta", {"path": "/g/d1"}),
          ("attr", {"path": "/g"}),
          ("paths", {"path": "/g"}),
          ("stats", {"path": "/g/d2"}))


def test_etag_304_and_one_lookup(server, rgw):
    etags = {}
    for route, params in ROUTES:
        s, h, body = get(server, route, file="one.h5", **params)
        assert s == 200, (route, body[:200])
        assert h["Cache-Control"] == DEFAULT_CC and h["Last-Modified"]
        etags[(route, params["path"])] = h["ETag"]
    assert len(set(etags.values())) == len(etags)
    mark = rgw.request_count()
    for route, params in ROUTES:
        etag = etags[(route, params["path"])]
        for _ in range(4):       # new connections: other processes too
            s, h, body = get(server, route, file="one.h5", **params)
            assert s == 200 and h["ETag"] == etag, route
            assert h["X-H5S3-Cache"] == "hit"
            assert h["X-H5S3-Cache-Lookups"] == "1", route
            s, h, body = get(server, route, file="one.h5",
                             headers={"If-None-Match": etag}, **params)
            assert s == 304 and body == b"" and h["ETag"] == etag, route
            assert h["Cache-Control"] == DEFAULT_CC
            assert h["X-H5S3-Cache-Lookups"] == "1", route
    assert rgw.request_count() == mark
    # Another file, same route and path: another ETag.
    s, h, _ = get(server, "meta", file="two.h5", path="/g")
    assert s == 200 and h["ETag"] != etags[("meta", "/g")]


def test_children_meta_stored_ahead_is_one_lookup(server, rgw):
    s, h, _ = get(server, "meta", file="two.h5", path="/g")
    assert s == 200 and h["X-H5S3-Cache"] == "miss"
    mark = rgw.request_count()
    for d in ("/g/d0", "/g/d3"):
        s, h, _ = get(server, "meta", file="two.h5", path=d)
        assert s == 200 and h["X-H5S3-Cache"] == "hit", d
        assert h["X-H5S3-Cache-Lookups"] == "1"
        s, h2, _ = get(server, "meta", file="two.h5", path=d,
                       headers={"If-None-Match": h["ETag"]})
        assert s == 304 and h2["ETag"] == h["ETag"]
    assert rgw.request_count() == mark


def test_head_and_new_object(server, rgw, fix):
    s3 = rgw.client()
    s3.upload_file(os.path.join(fix, "one.h5"), BUCKET, "changing.h5")
    s, h1, b1 = get(server, "attr", host=C, file="changing.h5", path="/g")
    assert s == 200 and b"t1" in b1
    s, hh, body = get(server, "attr", host=C, method="HEAD",
                      file="changing.h5", path="/g")
    assert s == 200 and body == b"" and hh["ETag"] == h1["ETag"]
    assert hh["Content-Length"] == h1["Content-Length"]
    s3.upload_file(os.path.join(fix, "two.h5"), BUCKET, "changing.h5")
    time.sleep(1.2)     # past H5S3ValidateTTL 1: S3 is asked again
    s, h2, b2 = get(server, "attr", host=C, file="changing.h5", path="/g",
                    headers={"If-None-Match": h1["ETag"]})
    assert s == 200 and b"t2" in b2 and h2["ETag"] != h1["ETag"]


def test_data_is_validated_not_kept(server, rgw):
    """/data/ answers are not in the shared cache, but a slice asked again
    with its ETag is a 304 that reads no value and asks S3 nothing."""
    etags = set()
    for params in ({"path": "/g/d1", "format": "json"},
                   {"path": "/g/d1", "format": "bin"},
                   {"path": "/g/d1", "format": "json", "selection": "2:5"},
                   {"path": "/g/d2", "format": "json"}):
        s, h, body = get(server, "data", file="one.h5", **params)
        assert s == 200 and body, params
        assert h["Cache-Control"] == DEFAULT_CC and h["Last-Modified"]
        etag = h["ETag"]
        etags.add(etag)
        mark = rgw.request_count()
        s, h2, body2 = get(server, "data", file="one.h5",
                           headers={"If-None-Match": etag}, **params)
        assert s == 304 and body2 == b"" and h2["ETag"] == etag, params
        assert h2["X-H5S3-S3-Requests"] == "0"
        s, h3, body3 = get(server, "data", file="one.h5", **params)
        assert s == 200 and body3 == body and h3["ETag"] == etag
        assert rgw.request_count() == mark
    assert len(etags) == 4
    s, h, _ = get(server, "data", file="one.h5", path="/nope")
    assert s == 404 and h["Cache-Control"] == "no-store" and "ETag" not in h
