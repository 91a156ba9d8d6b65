"""GET /files/{key}/children and /meta through httpd, S3 (Ceph RGW) and the
S3 HDF5 driver, compared field by field with h5py (docs/viewer-api.md
§1.5-1.6, with the fixes of §6)."""

import os
import subprocess
import time

import h5py
import pytest

from harness.common import get_json, make_bucket, q, vhost
from harness.h5oracle import expected_child, expected_meta, walk
from harness import closed_port
from harness.s3server import REPO

MAKE_FIXTURES = os.path.join(REPO, "tests", "fixtures", "make_h5_fixtures.py")
FILES = ("types.h5", "filters.h5", "links.h5", "attrs.h5")
BUCKET = "h5fix"
A = "a.test"
# Keys under awkward names too: the same file, reached through encoding.
ODD = "dir with space/été+100%.h5"


@pytest.fixture(scope="module")
def fix(rgw, tmp_path_factory):
    d = tmp_path_factory.mktemp("h5fix")
    subprocess.run(["/usr/bin/python3", MAKE_FIXTURES, str(d)], check=True)
    s3 = make_bucket(rgw.client(), BUCKET)
    for name in FILES:
        s3.upload_file(os.path.join(d, name), BUCKET, name)
    s3.upload_file(os.path.join(d, "types.h5"), BUCKET, ODD)
    with open(os.path.join(d, "types.h5"), "rb") as f:
        head = f.read(2048)
    s3.put_object(Bucket=BUCKET, Key="truncated.h5", Body=head)
    s3.put_object(Bucket=BUCKET, Key="text.h5", Body=b"not HDF5 at all\n" * 50)
    return str(d)


@pytest.fixture
def server(rgw, make_httpd, mpm, fix):
    return make_httpd(vhost(rgw, A, [BUCKET], extra="    H5S3ValidateTTL 1\n"),
                      mpm=mpm)


def url(key, what, path=None):
    u = "/hdf/files/%s/%s" % (q(key), what)
    if path is not None:
        u += "?path=" + q(path).replace("+", "%2B").replace("&", "%26")
    return u


@pytest.mark.parametrize("fname", FILES)
def test_children_match_h5py(server, fix, fname):
    with h5py.File(os.path.join(fix, fname), "r") as f:
        groups, _ = walk(f)
        for g in groups:
            status, _, body = get_json(server, url(fname, "children", g),
                                       host=A)
            assert status == 200, (g, body)
            assert body["success"] is True and body["key"] == fname
            assert body["path"] == g
            want = [expected_child(f, g, n) for n in f[g].keys()]
            assert body["children"] == want, g


@pytest.mark.parametrize("fname", FILES)
def test_meta_matches_h5py(server, fix, fname):
    with h5py.File(os.path.join(fix, fname), "r") as f:
        _, paths = walk(f)
        for p in paths:
            status, _, body = get_json(server, url(fname, "meta", p), host=A)
            assert status == 200, (p, body)
            assert body["metadata"] == expected_meta(f, p), p


def test_children_default_path_and_awkward_key(server, fix):
    with h5py.File(os.path.join(fix, "types.h5"), "r") as f:
        want = [expected_child(f, "/", n) for n in f["/"].keys()]
    status, _, body = get_json(server, url(ODD, "children"), host=A)
    assert status == 200 and body["key"] == ODD and body["path"] == "/"
    assert body["children"] == want
    # %2F in the key decodes to '/'
    enc = "/hdf/files/%s/children" % q(ODD).replace("/", "%2F")
    status, _, body2 = get_json(server, enc, host=A)
    assert status == 200 and body2["children"] == want


def test_warm_requests_cost_no_s3_request(server, rgw):
    u = url("links.h5", "children", "/a")
    s, h1, b1 = get_json(server, u, host=A)
    assert s == 200 and h1["X-H5S3-Cache"] == "miss"
    mark = rgw.request_count()
    for _ in range(10):   # new connections: other processes too
        s, h, b = get_json(server, u, host=A)
        assert s == 200 and b["cached"] is True
        assert h["X-H5S3-Cache"] == "hit" and h["X-H5S3-S3-Requests"] == "0"
        assert b["children"] == b1["children"]
    assert rgw.request_count() == mark


def test_cache_follows_the_etag(server, rgw, fix):
    s3 = rgw.client()
    s3.upload_file(os.path.join(fix, "links.h5"), BUCKET, "changing.h5")
    first = get_json(server, url("changing.h5", "children"), host=A)[2]
    names = {c["name"] for c in first["children"]}
    s3.upload_file(os.path.join(fix, "attrs.h5"), BUCKET, "changing.h5")
    # The ETag is trusted for H5S3ValidateTTL (1 s here), then re-checked.
    with h5py.File(os.path.join(fix, "attrs.h5"), "r") as f:
        want = set(f["/"].keys())
    deadline = time.monotonic() + 5
    while True:
        body = get_json(server, url("changing.h5", "children"), host=A)[2]
        got = {c["name"] for c in body["children"]}
        if got == want or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert got == want and got != names


@pytest.mark.parametrize("key,what,path,status,needle", [
    ("nope.h5", "children", "/", 404, "not found"),
    ("nope.h5", "meta", "/", 404, "not found"),
    ("links.h5", "children", "/no/such", 404, "/no/such"),
    ("links.h5", "meta", "/no/such", 404, "/no/such"),
    ("links.h5", "meta", None, 400, "Missing required parameter: path"),
    ("text.h5", "children", "/", 422, "not a valid HDF5 file"),
    ("text.h5", "meta", "/", 422, "not a valid HDF5 file"),
    ("truncated.h5", "children", "/", 422, "not a valid HDF5 file"),
])
def test_errors_are_json(server, key, what, path, status, needle):
    for _ in range(2):   # and the process stays healthy
        s, _, body = get_json(server, url(key, what, path), host=A)
        assert s == status, body
        assert body["success"] is False and needle in body["error"]
    assert get_json(server, url("links.h5", "children", "/"), host=A)[0] \
        == 200


def test_s3_down_is_503(rgw, make_httpd, fix):
    h = make_httpd(vhost(rgw, A, [BUCKET], endpoint="http://127.0.0.1:%d"
                         % closed_port()), mpm="event")
    s, _, body = get_json(h, url("links.h5", "children", "/"), host=A)
    assert s == 503 and "unreachable" in body["error"]


def test_unmapped_bucket_is_404(server):
    s, _, body = get_json(server, url("links.h5", "children", "/")
                          + "&bucket=h5data", host=A)
    assert s == 404 and "h5data" in body["error"]
