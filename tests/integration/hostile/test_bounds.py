"""Hostile HDF5 files (tests/fixtures/make_hostile_fixtures.py) on every
value route of the three families, and /meta, /children, /h5grove/meta/:
shapes whose element count wraps 64 bits, chunk dims patched into the
layout message (v1 and v2 object headers), chunk B-tree nodes claiming
0 or 65535 entries or sized for 65534, N vlen elements pointing at one
big heap object (datasets and an attribute).

Each answer is a clear JSON 4xx (or a correct 200 where the answer is
legitimately small), fast, and no child dies: the harness fails the test
on a crashed child or an unexpected [error] line, and every response is
validated against openapi.yaml.
"""

import io
import json
import os
import subprocess
import time
import urllib.parse

import numpy as np
import pytest

from harness.common import make_bucket, q, vhost
from harness.s3server import REPO

GEN = os.path.join(REPO, "tests", "fixtures", "make_hostile_fixtures.py")
BUCKET = "hostile"
A = "hostile.test"
FILES = ("wrap_shape.h5", "chunk_wrap.h5", "chunk_wrap_v2.h5",
         "btree_zero.h5", "btree_many.h5", "btree_huge.h5", "vlen_amp.h5")
# What one request may take on this shared, loaded machine: the point is
# that none runs for minutes (or 2^40 iterations).
FAST = 10.0

WRAP = "more than 2^64 elements"
BIG_CHUNKS = "268435456 bytes this server decodes"
GROVE_BIG_CHUNKS = "has chunks larger than this server decodes"
VLEN = "limit vlen-bytes"


@pytest.fixture(scope="module")
def fix(rgw, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("hostile"))
    subprocess.run(["/usr/bin/python3", GEN, d], check=True)
    s3 = make_bucket(rgw.client(), BUCKET)
    for name in FILES:
        with open(os.path.join(d, name), "rb") as f:
            s3.put_object(Bucket=BUCKET, Key=name, Body=f.read())
    return d


@pytest.fixture
def server(rgw, make_httpd, mpm, fix):
    return make_httpd(vhost(rgw, A, [BUCKET]), mpm=mpm)


def timed(h, url):
    t = time.monotonic()
    status, hdrs, body = h.request("GET", url, host=A)
    took = time.monotonic() - t
    assert took < FAST, "%s took %.1f s" % (url, took)
    return status, hdrs, body


def error_of(status, hdrs, body, url):
    """The message of a JSON error of either envelope."""
    assert hdrs.get("Content-Type", "").startswith("application/json"), \
        (url, status, hdrs.get("Content-Type"), body[:200])
    j = json.loads(body)
    if "success" in j:
        assert j["success"] is False, (url, j)
        return j["error"]
    return j["message"]


def viewer(key, path, route, **params):
    qs = urllib.parse.urlencode(dict(path=path, **params))
    return "/hdf/files/%s/%s?%s" % (q(key), route, qs)


def grove(route, key, path, **params):
    qs = urllib.parse.urlencode(dict(file=key, path=path, **params))
    return "/hdf/h5grove/%s/?%s" % (route, qs)


def value_routes(key, path):
    """Every route that reads a dataset's values, by name."""
    r = {
        "preview": viewer(key, path, "preview"),
        "preview table": viewer(key, path, "preview", mode="table",
                                detail="fast"),
        "matrix": viewer(key, path, "data", mode="matrix"),
        "heatmap": viewer(key, path, "data", mode="heatmap"),
        "line": viewer(key, path, "data", mode="line"),
        "csv matrix": viewer(key, path, "export/csv", mode="matrix"),
        "csv line": viewer(key, path, "export/csv", mode="line"),
        "stats": grove("stats", key, path),
    }
    for fmt in ("json", "bin", "npy", "csv", "tiff"):
        r["grove " + fmt] = grove("data", key, path, format=fmt)
    return r


def describe_routes(key, path):
    return {
        "meta": viewer(key, path, "meta"),
        "children": viewer(key, "/", "children"),
        "grove meta": grove("meta", key, path),
        "grove attr": grove("attr", key, "/"),
    }


def check_all(h, key, path, expect_values, expect_describe=200):
    """expect_values: (status, message part) every value route answers."""
    for name, url in value_routes(key, path).items():
        status, hdrs, body = timed(h, url)
        msg = error_of(status, hdrs, body, url)
        assert (status, expect_values[1] in msg) == (expect_values[0],
                                                     True), \
            (name, url, status, msg)
    for name, url in describe_routes(key, path).items():
        status, hdrs, body = timed(h, url)
        assert status == expect_describe, (name, url, status, body[:300])


def test_wrapping_shapes_are_refused_on_every_value_route(server):
    # (1, 16384, 2^50+1) looked like 16384 elements (the preview's child
    # died dividing by a wrapped 0), (2^33, 2^33) like 0, (2^61+1, 8) like
    # 8: every value route now says the shape is corrupt.
    for path in ("/wrap3", "/wrap0", "/wrap8"):
        check_all(server, "wrap_shape.h5", path, (422, WRAP))
        status, _, body = timed(server, viewer("wrap_shape.h5", path,
                                               "meta"))
        assert status == 200
        assert json.loads(body)["metadata"]["shape"][0] > 0


def test_a_huge_shape_that_does_not_wrap_answers_small(server):
    key, path = "wrap_shape.h5", "/big"        # (2^31, 2^31), nothing stored
    status, _, body = timed(server, viewer(key, path, "preview"))
    assert status == 200, body[:300]
    j = json.loads(body)
    assert j["shape"] == [2**31, 2**31]
    assert np.all(np.array(j["table"]["data"]) == 0)
    assert 0 < j["plot"]["shape"][0] <= 512
    assert np.all(np.array(j["plot"]["data"]) == 0)
    assert j["stats"]["min"] == 0 and j["stats"]["max"] == 0
    for mode in ("matrix", "heatmap", "line"):
        status, _, body = timed(server, viewer(key, path, "data", mode=mode))
        assert status == 200, (mode, body[:300])
    # Whole-plane requests are over the routes' own caps: 4xx, fast.
    for url, want in ((viewer(key, path, "export/csv", mode="matrix"), 400),
                      (viewer(key, path, "export/csv", mode="line"), 400),
                      (grove("data", key, path), 413),
                      (grove("data", key, path, format="bin"), 413),
                      (grove("stats", key, path), 413)):
        status, hdrs, body = timed(server, url)
        assert status == want, (url, status, body[:300])
        error_of(status, hdrs, body, url)
    status, hdrs, body = timed(server, grove("data", key, path,
                                             selection="5:8,2**31-1:"
                                             .replace("2**31-1",
                                                      str(2**31 - 3))))
    assert status == 200, body[:300]
    assert json.loads(body) == [[0.0] * 3] * 3
    status, hdrs, body = timed(server, grove("stats", key, path,
                                             selection="0:100,0:100"))
    assert status == 200 and json.loads(body)["max"] == 0


def test_wrapping_chunk_sizes_are_refused(server):
    # 2^31 x 2^31 x 4 chunk dims of 4-byte elements: 2^66 bytes, a 64-bit
    # product of 0 (HDF5 opens it and reads garbage).  v1 and v2 headers.
    check_all(server, "chunk_wrap.h5", "/c64", (422, ""))
    check_all(server, "chunk_wrap_v2.h5", "/c", (422, ""))
    for key, path in (("chunk_wrap.h5", "/c64"), ("chunk_wrap_v2.h5", "/c")):
        for name in ("preview", "matrix", "csv matrix"):
            url = value_routes(key, path)[name]
            status, hdrs, body = timed(server, url)
            assert BIG_CHUNKS in error_of(status, hdrs, body, url), name
        for name in ("grove json", "stats"):
            url = value_routes(key, path)[name]
            status, hdrs, body = timed(server, url)
            assert GROVE_BIG_CHUNKS in error_of(status, hdrs, body, url)
    # HDF5 refuses (65537, 65536, 1) itself (its 32-bit size wraps to
    # 256 KiB): a 4xx too, and the good dataset beside it still reads.
    for name, url in value_routes("chunk_wrap.h5", "/c32").items():
        status, hdrs, body = timed(server, url)
        assert 400 <= status < 500, (name, status, body[:300])
        error_of(status, hdrs, body, url)
    status, _, body = timed(server, grove("data", "chunk_wrap.h5", "/ok"))
    assert status == 200
    assert json.loads(body) == np.arange(64).reshape(4, 4, 4).tolist()


def test_btree_nodes_claiming_zero_or_too_many_entries(server):
    # A root of 0 entries: no chunk is found, the fill value is the
    # legitimately small answer (the walk wrote offs[0] of a malloc(0)).
    status, _, body = timed(server, grove("data", "btree_zero.h5", "/zero"))
    assert status == 200 and json.loads(body) == [0] * 400
    status, _, body = timed(server, viewer("btree_zero.h5", "/zero",
                                           "preview"))
    assert status == 200
    assert json.loads(body)["table"]["values"] == [0] * 400
    # 65535 entries in a node of room for 64: HDF5 refuses too: 4xx.
    for name, url in value_routes("btree_many.h5", "/many").items():
        status, hdrs, body = timed(server, url)
        assert 400 <= status < 500, (name, status, body[:300])
        error_of(status, hdrs, body, url)


def test_btree_nodes_sized_for_65534_entries(server):
    # K patched to 32767: nodes of ~2.6 MB each past the end of a 16 KiB
    # file.  Only the entries a node uses are read; HDF5's own reads of
    # the whole node fail: a 4xx, quickly.
    for name, url in value_routes("btree_huge.h5", "/d").items():
        status, hdrs, body = timed(server, url)
        assert 400 <= status < 500, (name, status, body[:300])
        error_of(status, hdrs, body, url)
    for name, url in describe_routes("btree_huge.h5", "/d").items():
        status, _, body = timed(server, url)
        assert status == 200, (name, body[:300])


def test_vlen_amplification_is_bounded(server):
    # 200 elements (and a 20 x 10 plane) of one 1 MiB heap string: 200 MiB
    # from a 1 MiB file, over the 64 MiB vlen-bytes limit.
    key = "vlen_amp.h5"
    for path in ("/s1", "/s2"):
        r = value_routes(key, path)
        for name in ("preview", "preview table", "grove json"):
            status, hdrs, body = timed(server, r[name])
            msg = error_of(status, hdrs, body, r[name])
            assert status == 422 and VLEN in msg, (path, name, status, msg)
        for name, url in r.items():
            if path == "/s2" and name == "line":
                continue        # one row of 10: see below
            status, hdrs, body = timed(server, url)
            assert 400 <= status < 500, (path, name, status, body[:300])
            error_of(status, hdrs, body, url)
    r = value_routes(key, "/s2")
    for name in ("matrix", "heatmap", "csv matrix"):
        status, hdrs, body = timed(server, r[name])
        msg = error_of(status, hdrs, body, r[name])
        assert status == 422 and VLEN in msg, (name, status, msg)
    r = value_routes(key, "/s1")
    for name in ("line", "csv line"):
        status, hdrs, body = timed(server, r[name])
        msg = error_of(status, hdrs, body, r[name])
        assert status in (400, 422), (name, status, msg)
    # One row of the plane is ten of them: 10 MiB, within the limit.
    status, _, body = timed(server, r["line"].replace("s1", "s2"))
    assert status == 200
    assert json.loads(body)["data"] == ["x" * 2**20] * 10
    # The attributes of the root group and of /s2 (listed as a child):
    # their heap IDs say 200 MiB before anything is read.
    for url in (viewer(key, "/", "meta"), viewer(key, "/s2", "meta"),
                viewer(key, "/", "children"), grove("attr", key, "/"),
                grove("attr", key, "/s2")):
        status, hdrs, body = timed(server, url)
        msg = error_of(status, hdrs, body, url)
        assert status == 422 and VLEN in msg, (url, status, msg)
    status, _, body = timed(server, grove("attr", key, "/",
                                          attr_keys="note"))
    assert status == 200 and json.loads(body) == {"note": "fine"}
    # Short strings beside them are read as usual.
    status, _, body = timed(server, grove("data", key, "/ok"))
    assert status == 200 and json.loads(body) == ["ab"] * 10
    status, _, body = timed(server, viewer(key, "/ok", "preview"))
    assert status == 200 and json.loads(body)["table"]["values"] == \
        ["ab"] * 10
    status, _, body = timed(server, grove("meta", key, "/"))
    assert status == 200


def test_limits_are_set_per_server(rgw, make_httpd, mpm, fix):
    h = make_httpd(vhost(rgw, A, [BUCKET],
                         extra="    H5S3Limit vlen-bytes 100K\n"
                               "    H5S3Limit index-nodes 2\n"), mpm=mpm)
    # Short strings read within 100K; one element of 1 MiB does not.
    status, hdrs, body = timed(h, grove("data", "vlen_amp.h5", "/ok"))
    assert status == 200
    url = grove("data", "vlen_amp.h5", "/s1", selection="0:1")
    status, hdrs, body = timed(h, url)
    msg = error_of(status, hdrs, body, url)
    assert status == 422 and "102400" in msg and VLEN in msg, msg
    # A chunk index of one node reads; one of three (a root over two
    # leaves) is more than the two nodes a request may walk.
    status, hdrs, body = timed(h, grove("data", "chunk_wrap.h5", "/ok"))
    assert status == 200, body[:300]
    url = grove("data", "btree_zero.h5", "/two")
    status, hdrs, body = timed(h, url)
    msg = error_of(status, hdrs, body, url)
    assert status == 422 and "limit index-nodes" in msg, msg


def test_memory_budget_busy_is_503_with_retry_after(rgw, make_httpd, mpm,
                                                    fix):
    h = make_httpd("H5S3MemoryBudget 16M\nH5S3DecodeThreads 2\n"
                   + vhost(rgw, A, [BUCKET]), mpm=mpm)
    # 2100 x 2048 float32: a read buffer larger than the whole budget.
    url = grove("data", "wrap_shape.h5", "/big", format="bin",
                selection="0:2100,0:2048")
    status, hdrs, body = timed(h, url)
    msg = error_of(status, hdrs, body, url)
    assert status == 503 and "memory budget" in msg, (status, msg)
    assert hdrs.get("Retry-After") == "5"
    url = viewer("wrap_shape.h5", "/big", "data", mode="matrix",
                 row_limit=700, col_limit=700)
    status, hdrs, body = timed(h, url)
    assert status == 200, body[:200]
    # Below it, the same file reads.
    status, hdrs, body = timed(h, grove("data", "wrap_shape.h5", "/big",
                                        format="npy",
                                        selection="0:1024,0:1024"))
    assert status == 200
    a = np.load(io.BytesIO(body))
    assert a.shape == (1024, 1024) and not a.any()


@pytest.mark.parametrize("conf,why", [
    ("H5S3DecodeThreads 0", "H5S3DecodeThreads: '0' is not valid"),
    ("H5S3DecodeThreads many", "H5S3DecodeThreads: 'many' is not valid"),
    ("H5S3MemoryBudget 1M", "at least 16M"),
    ("H5S3MemoryBudget lots", "H5S3MemoryBudget: 'lots' is not valid"),
    ("<VirtualHost *:*>\nH5S3DecodeThreads 2\n</VirtualHost>",
     "cannot occur within <VirtualHost> section"),
    ("<VirtualHost *:*>\nH5S3MemoryBudget 64M\n</VirtualHost>",
     "cannot occur within <VirtualHost> section"),
])
def test_process_directives_are_checked(make_httpd, conf, why):
    h = make_httpd(conf, start=False)
    rc, out = h.check()
    assert rc != 0 and why in out, out
