"""Huge groups: a file whose group holds 110,000 links (old-style symbol
table and new-style dense storage) must cost a bounded page of work per
request, never GBs of JSON from one HDF5 call under the library's lock.

/files/{key}/children lists pages (offset, limit; total and next_offset
say what is left), /h5grove/paths/ and /h5grove/meta/ of such a group
answer a JSON 422 naming the "entries" limit, and `H5S3Limit entries`
moves that limit.
"""

import json
import time

import h5py
import numpy as np
import pytest

from harness.common import vhost

BUCKET = "hostile-groups"
A = "groups.test"
B = "groups-small.test"
N = 110000
# No request may hang: a generous bound (speed is for bench/, not tests).
NO_HANG = 120


def write_big(path, libver):
    with h5py.File(path, "w", libver=libver) as f:
        d = f.create_dataset("d", data=np.arange(4, dtype=np.int32))
        g = f.create_group("big")
        for i in range(N):
            g["l%06d" % i] = d          # hard links: cheap, all describable
        s = f.create_group("small")
        for i in range(100):
            s["x%03d" % i] = d


@pytest.fixture(scope="module")
def files(rgw, tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile-groups")
    out = {}
    for name, libver in (("old.h5", "earliest"), ("new.h5", "latest")):
        path = str(d / name)
        write_big(path, libver)
        out[name] = path
    rgw.create_buckets(BUCKET)
    s3 = rgw.client()
    for name, path in out.items():
        s3.upload_file(path, BUCKET, name)
    with h5py.File(out["old.h5"], "r") as f:
        keys = list(f["big"].keys())
    assert len(keys) == N
    return {"paths": out, "keys": keys}


@pytest.fixture
def server(rgw, make_httpd, mpm, files):
    conf = vhost(rgw, A, [BUCKET]) + vhost(
        rgw, B, [BUCKET], extra="    H5S3Limit entries 50\n")
    return make_httpd(conf, mpm=mpm)


def get(server, url, host=A):
    t0 = time.monotonic()
    status, hdrs, body = server.request("GET", "/hdf" + url, host=host)
    took = time.monotonic() - t0
    assert hdrs["Content-Type"].startswith("application/json"), body[:200]
    return status, json.loads(body), took


@pytest.mark.parametrize("key", ["old.h5", "new.h5"])
def test_children_of_a_huge_group_come_in_pages(server, files, key):
    keys = files["keys"]
    status, body, took = get(server, "/files/%s/children?path=/big" % key)
    assert status == 200, body
    assert took < NO_HANG, took
    assert body["total"] == N
    assert body["offset"] == 0 and body["limit"] == 10000
    assert body["next_offset"] == 10000
    assert [c["name"] for c in body["children"]] == keys[:10000]
    assert all(c["type"] == "dataset" and c["shape"] == [4]
               for c in body["children"])

    status, body, _ = get(server, "/files/%s/children?path=/big&offset=%d"
                          "&limit=25" % (key, N - 10))
    assert status == 200, body
    assert [c["name"] for c in body["children"]] == keys[-10:]
    assert body["next_offset"] is None and body["total"] == N

    status, body, _ = get(server, "/files/%s/children?path=/big&offset=70000"
                          "&limit=3" % key)
    assert [c["name"] for c in body["children"]] == keys[70000:70003]
    assert body["next_offset"] == 70003

    # Past the end: an empty page, not an error.
    status, body, _ = get(server, "/files/%s/children?path=/big&offset=%d"
                          % (key, N + 5))
    assert status == 200 and body["children"] == [], body
    assert body["next_offset"] is None

    # A small group fits the default page whole.
    status, body, _ = get(server, "/files/%s/children?path=/small" % key)
    assert len(body["children"]) == 100 and body["next_offset"] is None
    assert body["total"] == 100


@pytest.mark.parametrize("param,value", [
    ("limit", "0"), ("limit", "100001"), ("limit", "x"), ("offset", "-1"),
    ("offset", "1e3"), ("limit", "")])
def test_children_page_parameters_are_checked(server, files, param, value):
    status, body, _ = get(server, "/files/old.h5/children?path=/big&%s=%s"
                          % (param, value))
    assert status == 400, body
    assert body["success"] is False
    assert "Invalid %s parameter" % param in body["error"], body


@pytest.mark.parametrize("key", ["old.h5", "new.h5"])
def test_grove_paths_and_meta_of_a_huge_group_are_refused(server, files,
                                                          key):
    for route in ("paths", "meta"):
        status, body, took = get(server, "/h5grove/%s/?file=%s&path=/big"
                                 % (route, key))
        assert status == 422, (route, body)
        assert "limit entries" in body["message"], (route, body)
        assert "100000 links listed" in body["message"], (route, body)
        assert took < NO_HANG, (route, took)
    # The whole file's paths: the same limit, whatever the starting group.
    status, body, _ = get(server, "/h5grove/paths/?file=%s" % key)
    assert status == 422 and "limit entries" in body["message"], body
    # A small group is fine.
    status, body, _ = get(server, "/h5grove/paths/?file=%s&path=/small"
                          % key)
    assert status == 200 and len(body) == 101, body


def test_the_entries_limit_is_a_directive(server, files):
    # H5S3Limit entries 50 in vhost B: the default page shrinks to 50 and
    # larger pages are refused by name; h5grove's whole-group answers too.
    status, body, _ = get(server, "/files/old.h5/children?path=/small",
                          host=B)
    assert status == 200 and len(body["children"]) == 50, body
    assert body["limit"] == 50 and body["next_offset"] == 50
    status, body, _ = get(server, "/files/old.h5/children?path=/small"
                          "&limit=51", host=B)
    assert status == 400 and "between 1 and 50" in body["error"], body
    status, body, _ = get(server, "/h5grove/meta/?file=old.h5&path=/small",
                          host=B)
    assert status == 422, body
    assert "more than 50 links listed" in body["message"], body
    # The same group in vhost A, with the default limit: fine.
    status, body, _ = get(server, "/h5grove/meta/?file=old.h5&path=/small")
    assert status == 200 and len(body["children"]) == 100, body
