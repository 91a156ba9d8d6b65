"""The h5grove-compatible API under /h5grove/ through httpd, Ceph RGW and
the S3 HDF5 driver, compared field by field with what h5grove 4.0 computes
with h5py (grove_oracle.py, written after h5grove's sources), decoded the
way H5Web's H5GroveProvider decodes it."""

import io
import json
import os
import subprocess
import urllib.parse

import h5py
import numpy as np
import pytest

from harness import grove_oracle as go
from harness.common import make_bucket, vhost
from harness.h5oracle import walk
from harness.s3server import REPO

FIXTURES = os.path.join(REPO, "tests", "fixtures")
H5FILES = ("types.h5", "links.h5", "attrs.h5", "filters.h5")
BUCKET = "grovefix"
A = "grove.test"


@pytest.fixture(scope="module")
def fix(rgw, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("grovefix"))
    subprocess.run(["/usr/bin/python3",
                    os.path.join(FIXTURES, "make_h5_fixtures.py"), d],
                   check=True)
    subprocess.run(["/usr/bin/python3",
                    os.path.join(FIXTURES, "make_data_fixtures.py"), d],
                   check=True)
    s3 = make_bucket(rgw.client(), BUCKET)
    for name in H5FILES + ("values.h5",):
        s3.upload_file(os.path.join(d, name), BUCKET, name)
    s3.upload_file(os.path.join(d, "types.h5"), BUCKET, "sub dir/t+1.h5")
    s3.put_object(Bucket=BUCKET, Key="text.h5", Body=b"not HDF5\n" * 40)
    return d


@pytest.fixture
def server(rgw, make_httpd, mpm, fix):
    return make_httpd(vhost(rgw, A, [BUCKET], location="/v"), mpm=mpm)


def get(h, route, **params):
    """(status, headers, body bytes) of GET /v/h5grove/<route>/?params."""
    items = []
    for k, v in params.items():
        for x in (v if isinstance(v, list) else [v]):
            items.append((k, x))
    url = "/v/h5grove/%s?%s" % (route, urllib.parse.urlencode(items))
    return h.request("GET", url, host=A)


def get_json(h, route, **params):
    status, hdrs, body = get(h, route, **params)
    assert hdrs["Content-Type"].startswith("application/json"), body[:200]
    assert int(hdrs["Content-Length"]) == len(body)
    return status, hdrs, json.loads(body)


def numeric_paths(f):
    out = []
    _, paths = walk(f)
    for p in paths[1:]:
        link = f.get(p, getlink=True)
        if not isinstance(link, h5py.HardLink):
            continue
        o = f[p]
        if isinstance(o, h5py.Dataset) and o.shape is not None and \
                (np.issubdtype(o.dtype, np.number)
                 or np.issubdtype(o.dtype, np.bool_)):
            out.append(p)
    return out


def h5web_dtype(t):
    """The typed array H5GroveProvider decodes a bin answer with."""
    cls, size = t["class"], t["size"]
    if cls == 0:
        return np.dtype("<%s%d" % ("i" if t["sign"] else "u", size))
    if cls == 1:
        return np.dtype("<f4" if size == 2 else "<f8" if size > 8
                        else "<f%d" % size)
    if cls == 8:
        if t["members"] == {"FALSE": 0, "TRUE": 1}:
            return np.dtype("|b1")
        return h5web_dtype(t["base"])
    if cls == 6:
        return np.dtype("<c%d" % size)
    if cls == 4:
        return np.dtype("<u%d" % size)
    raise AssertionError(t)


def test_root_and_errors_shape(server):
    status, hdrs, body = server.request("GET", "/v/h5grove/", host=A)
    assert (status, body) == (200, b"ok")
    status, hdrs, body = get_json(server, "nope", file="types.h5")
    assert status == 404 and set(body) == {"message"}
    status, hdrs, body = server.request("POST", "/v/h5grove/meta/?file=x",
                                        host=A)
    assert status == 405 and json.loads(body) == {
        "message": "Method not allowed"}
    assert "GET" in hdrs["Allow"]


@pytest.mark.parametrize("fname", H5FILES)
def test_meta_matches_h5grove(server, fix, fname):
    with h5py.File(os.path.join(fix, fname), "r") as f:
        _, paths = walk(f)
        for p in paths:
            status, _, body = get_json(server, "meta/", file=fname, path=p)
            assert status == 200, (p, body)
            assert body == go.metadata(f, p), p
        # no path: the root
        status, _, body = get_json(server, "meta", file=fname)
        assert body == go.metadata(f, "/")


def test_meta_links_modes(server, fix):
    with h5py.File(os.path.join(fix, "links.h5"), "r") as f:
        for p in ("/soft_to_group", "/soft_to_dataset", "/soft_relative",
                  "/dangling", "/external", "/hardlink_to_data",
                  "/named_type"):
            for mode in ("none", "only_valid"):
                status, _, body = get_json(server, "meta", file="links.h5",
                                           path=p, resolve_links=mode)
                assert status == 200 and body == go.metadata(f, p, mode), \
                    (p, mode)
        status, _, body = get_json(server, "meta", file="links.h5",
                                   path="/soft_to_dataset",
                                   resolve_links="all")
        assert body == go.metadata(f, "/soft_to_dataset", "all")
    status, _, body = get_json(server, "meta", file="links.h5",
                               path="/dangling", resolve_links="all")
    assert status == 404
    assert body == {"message": 'Cannot resolve <SoftLink to '
                    '"/no/such/object"> at /dangling of links.h5'}
    status, _, body = get_json(server, "meta", file="links.h5",
                               path="/external", resolve_links="all")
    assert status == 404 and "Cannot resolve <ExternalLink to" in \
        body["message"]
    status, _, body = get_json(server, "meta", file="links.h5",
                               path="/", resolve_links="sometimes")
    assert status == 422 and "not a valid value for link resolution" in \
        body["message"]


def test_errors(server):
    cases = [
        (dict(file="missing.h5"), 404, "File not found"),
        (dict(file="types.h5", path="/nope/x"), 404,
         "/nope/x is not a valid path in types.h5"),
        (dict(file="text.h5"), 422, "is not a valid HDF5 file"),
        (dict(path="/"), 422, "File argument is required"),
        (dict(file="types.h5", bucket="other"), 404, "File not found"),
    ]
    for params, st, phrase in cases:
        status, _, body = get_json(server, "meta", **params)
        assert status == st and phrase in body["message"], (params, body)
    data_cases = [
        (dict(path="/strings/fixed_ascii", dtype="safe", format="bin"),
         "Unsupported dtype safe for non-numeric data"),
        (dict(path="/strings/vlen_utf8", format="npy"),
         "Unsupported encoding npy for non-numeric content"),
        (dict(path="/shapes/scalar_f8", format="csv"),
         "Unsupported encoding csv for empty and scalar datasets"),
        (dict(path="/numeric/float64", format="xml"),
         "Unsupported encoding xml"),
        (dict(path="/numeric/float64", dtype="float"),
         "Unsupported dtype float"),
        (dict(path="/numeric/float64", selection="0,0"),
         "0,0 has too many members to slice a 1D dataset"),
        (dict(path="/numeric/float64", selection="7"),
         "Index (7) out of range for (0-4)"),
        (dict(path="/numeric/float64", selection="::0"),
         "Step must be >= 1"),
        (dict(path="/numeric", format="json"), "/numeric is not a dataset"),
        (dict(path="/shapes/cube", format="tiff"),
         "Unsupported encoding tiff for data that is not 2-D"),
    ]
    for params, phrase in data_cases:
        status, _, body = get_json(server, "data", file="types.h5", **params)
        assert status == 422 and phrase in body["message"], (params, body)
    status, _, body = get_json(server, "data", file="types.h5",
                               path="/missing")
    assert status == 404 and body["message"] == \
        "/missing is not a valid path in types.h5"


def test_data_bin_safe_as_h5web_decodes(server, fix):
    """format=bin&dtype=safe, decoded with the typed array H5Web picks
    from the /meta/ type object (float16 and float128 upcast, big-endian
    swapped, bool one byte)."""
    for fname in ("types.h5", "values.h5"):
        with h5py.File(os.path.join(fix, fname), "r") as f:
            for p in numeric_paths(f):
                if f[p].size > 2000000:
                    continue
                if p == "/filters/lzf":
                    # h5py has LZF built in; this server has no plugin
                    status, _, body = get_json(server, "data", file=fname,
                                               path=p, format="bin")
                    assert status == 422 and "'lzf' filter" in \
                        body["message"]
                    continue
                _, _, meta = get_json(server, "meta", file=fname, path=p)
                status, hdrs, body = get(server, "data", file=fname, path=p,
                                         format="bin", dtype="safe")
                assert status == 200, (p, body[:200])
                assert hdrs["Content-Type"] == "application/octet-stream"
                assert int(hdrs["Content-Length"]) == len(body)
                want = go.data(f, p, dtype="safe")
                got = np.frombuffer(body, dtype=h5web_dtype(meta["type"]))
                assert got.dtype.byteorder in ("<", "|", "=")
                assert got.tobytes() == np.ascontiguousarray(
                    want).tobytes(), p
                np.testing.assert_array_equal(got, np.ravel(want), str(p))


def test_data_selections(server, fix):
    with h5py.File(os.path.join(fix, "values.h5"), "r") as f:
        cases = [("/d3/i32", "0,:,:"), ("/d3/i32", "1"), ("/d3/i32", "-1,2"),
                 ("/d3/i32", "1:5:2,3:40:7,::4"), ("/d3/i32", "4,39,29"),
                 ("/d2/f32", ":,10"), ("/d2/f32", "-5:,-3:"),
                 ("/d1/f64", "100:200:3"), ("/d1/f64", "50:10"),
                 ("/d4/u8", "2,1")]
        for p, sel in cases:
            status, hdrs, body = get(server, "data", file="values.h5",
                                     path=p, selection=sel, format="npy")
            assert status == 200, (p, sel, body[:200])
            assert hdrs["Content-Disposition"] == \
                'attachment; filename="data.npy"'
            got = np.load(io.BytesIO(body))
            want = go.data(f, p, sel)
            assert got.dtype == want.dtype and got.shape == want.shape, \
                (p, sel)
            np.testing.assert_array_equal(got, want)
            # JSON, nested and flat: numbers written as short as their
            # dtype allows (float32 0.1 is "0.1", as orjson writes it)
            status, _, body = get_json(server, "data", file="values.h5",
                                       path=p, selection=sel)
            np.testing.assert_array_equal(
                np.asarray(body, dtype=want.dtype).reshape(want.shape),
                want, str((p, sel)))
            status, _, body = get_json(server, "data", file="values.h5",
                                       path=p, selection=sel, flatten="true")
            assert np.asarray(body).ndim <= 1
            np.testing.assert_array_equal(
                np.asarray(body, dtype=want.dtype), np.ravel(want))


def test_data_npy_origin_keeps_dtype(server, fix):
    with h5py.File(os.path.join(fix, "types.h5"), "r") as f:
        for p in numeric_paths(f):
            for dtype in ("origin", "safe"):
                status, _, body = get(server, "data", file="types.h5",
                                      path=p, format="npy", dtype=dtype)
                assert status == 200, (p, body[:200])
                got = np.load(io.BytesIO(body))
                want = np.asarray(go.data(f, p, dtype=dtype))
                assert got.dtype.str == want.dtype.str, (p, dtype,
                                                         got.dtype)
                np.testing.assert_array_equal(got, want)


def _json_equal(got, want, path):
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), path
        for g, w in zip(got, want):
            _json_equal(g, w, path)
    elif isinstance(want, float):
        assert got is not None and np.float32(got) == np.float32(want) \
            if abs(want) < 1e30 else got == want, (path, got, want)
    else:
        assert got == want, (path, got, want)


def test_data_json_every_type(server, fix):
    """What H5Web fetches as JSON (flatten=true) and plain JSON: strings
    decoded, compounds as lists, complex [re, im], NaN null, references
    as h5py prints them, a null dataspace null."""
    with h5py.File(os.path.join(fix, "types.h5"), "r") as f:
        _, paths = walk(f)
        for p in paths[1:]:
            link = f.get(p, getlink=True)
            if not isinstance(link, h5py.HardLink) or \
                    not isinstance(f[p], h5py.Dataset):
                continue
            for flatten in ("false", "true"):
                status, _, body = get_json(server, "data", file="types.h5",
                                           path=p, flatten=flatten)
                assert status == 200, (p, body)
                want = go.jsonable(go.data(f, p, flatten=flatten == "true"))
                _json_equal(body, want, p)


def test_data_bin_opaque_and_strings(server, fix):
    """H5Web asks opaque data as format=bin (no dtype): the raw bytes."""
    status, hdrs, body = get(server, "data", file="types.h5",
                             path="/other/opaque", format="bin")
    assert status == 200 and body == bytes(range(1, 9))
    status, hdrs, body = get(server, "data", file="types.h5",
                             path="/strings/fixed_ascii", format="bin")
    assert status == 200 and body == b"alpha\0\0\0\0\0beta\0\0\0\0\0\0" \
        b"gamma\0\0\0\0\0"
    status, hdrs, body = get(server, "data", file="types.h5",
                             path="/shapes/scalar_f8", format="bin",
                             dtype="safe")
    assert status == 200 and np.frombuffer(body, "<f8").tolist() == [3.25]


def test_data_csv_and_tiff(server, fix):
    with h5py.File(os.path.join(fix, "values.h5"), "r") as f:
        status, hdrs, body = get(server, "data", file="values.h5",
                                 path="/nan2d", format="csv")
        assert status == 200 and hdrs["Content-Type"] == "text/csv"
        buf = io.BytesIO()
        np.savetxt(buf, f["nan2d"][()], delimiter=",")
        assert body == buf.getvalue()
        status, hdrs, body = get(server, "data", file="values.h5",
                                 path="/d2/f32", format="tiff",
                                 selection="0:7,0:5")
        assert status == 200 and hdrs["Content-Type"] == "image/tiff"
        assert body[:4] == b"II*\0"
        pixels = np.frombuffer(body[136:], "<f4").reshape(7, 5)
        np.testing.assert_array_equal(pixels, f["d2/f32"][0:7, 0:5])


def test_stats_match_h5grove(server, fix):
    with h5py.File(os.path.join(fix, "values.h5"), "r") as f:
        cases = [("/nan2d", None), ("/d1/f64", None), ("/d2/f32", "3,:"),
                 ("/d3/i32", "1:4,:,::3"), ("/types/uint64", None),
                 ("/types/int8", None), ("/types/bool", None),
                 ("/types/float16", None), ("/types/big_f8", None),
                 ("/types/enum", None), ("/empty2d", None),
                 ("/scalar", None), ("/d1/long", "-10:")]
        for p, sel in cases:
            params = dict(file="values.h5", path=p)
            if sel:
                params["selection"] = sel
            status, _, body = get_json(server, "stats", **params)
            assert status == 200, (p, body)
            want = go.stats(f, p, sel)
            assert set(body) == set(want)
            for k, w in want.items():
                if w is None or isinstance(w, int):
                    assert body[k] == w, (p, k, body[k], w)
                else:
                    assert body[k] == pytest.approx(w, rel=1e-6, abs=1e-9), \
                        (p, k)
        status, _, body = get_json(server, "stats", file="values.h5",
                                   path="/types/fixed_str")
        assert status == 422


def test_stats_stream_large_and_caps(server, fix):
    # 6M float32, never written: read block by block, all zeros
    status, _, body = get_json(server, "stats", file="values.h5",
                               path="/huge_line")
    assert status == 200 and body == {
        "strict_positive_min": None, "positive_min": 0.0, "min": 0.0,
        "max": 0.0, "mean": 0.0, "std": 0.0}
    status, _, body = get_json(server, "data", file="values.h5",
                               path="/huge_line")
    assert status == 413 and "ask for a smaller selection" in \
        body["message"]
    status, hdrs, body = get(server, "data", file="values.h5",
                             path="/huge_line", format="bin",
                             selection="0:2000000")
    assert status == 200 and len(body) == 8000000
    assert int(hdrs["Content-Length"]) == 8000000


def test_attr_values(server, fix):
    with h5py.File(os.path.join(fix, "attrs.h5"), "r") as f:
        groups, paths = walk(f)
        for p in paths:
            o = f[p]
            status, _, body = get_json(server, "attr", file="attrs.h5",
                                       path=p)
            assert status == 200, (p, body)
            assert list(body) == list(o.attrs.keys()), p
            for k in o.attrs.keys():
                _json_equal(body[k], go.jsonable(o.attrs[k]), (p, k))
        keys = list(f["/"].attrs.keys())[:2][::-1]
        status, _, body = get_json(server, "attr", file="attrs.h5", path="/",
                                   attr_keys=keys)
        assert status == 200 and list(body) == keys


def test_paths(server, fix):
    with h5py.File(os.path.join(fix, "links.h5"), "r") as f:
        for base in ("/", "/a"):
            for mode in ("none", "only_valid"):
                status, _, body = get_json(server, "paths", file="links.h5",
                                           path=base, resolve_links=mode)
                assert status == 200 and body == go.paths(f, base, mode)
    status, _, body = get_json(server, "paths", file="links.h5",
                               resolve_links="all")
    assert status == 404 and "Cannot resolve" in body["message"]
    with h5py.File(os.path.join(fix, "types.h5"), "r") as f:
        status, _, body = get_json(server, "paths", file="types.h5")
        assert body == go.paths(f, "/")


def test_warm_meta_costs_no_s3_request(server, fix):
    """A group's /meta/ also stores its children's answers: H5Web's next
    requests (one per child) cost no S3 request, in any process."""
    with h5py.File(os.path.join(fix, "types.h5"), "r") as f:
        children = ["/numeric/" + n for n in f["numeric"].keys()]
    key = "sub dir/t+1.h5"
    status, hdrs, _ = get_json(server, "meta", file=key, path="/numeric")
    assert status == 200 and hdrs["X-H5S3-Cache"] == "miss"
    for _ in range(3):
        for c in children:
            status, hdrs, body = get_json(server, "meta", file=key, path=c)
            assert status == 200 and body["name"] == c.split("/")[-1]
            assert hdrs["X-H5S3-Cache"] == "hit", c
            assert hdrs["X-H5S3-S3-Requests"] == "0", c
        status, hdrs, _ = get_json(server, "meta", file=key, path="/numeric")
        assert hdrs["X-H5S3-S3-Requests"] == "0"
        status, hdrs, _ = get_json(server, "attr", file=key, path="/")
        assert status == 200
