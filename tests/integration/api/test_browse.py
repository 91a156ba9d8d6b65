"""Bucket browser API, read side: GET /api/buckets, /api/objects and
/api/objects/{bucket}/{key}/metadata against a real httpd and a real Ceph
RGW seeded with DeltaGlider data (dgdata, dgedge) and a 10,000-object
bucket; the seed manifest and boto3 are the oracles."""

import urllib.parse

import pytest

from harness.api_common import (HOST, MANY_BUCKET, api_conf, api_json,
                                assert_api_error, logical, many_bucket)
from harness.common import q, vhost
from harness.s3server import closed_port

OTHER = "other.test"


@pytest.fixture(scope="module")
def many(rgw):
    return many_bucket(rgw)


def conf(rgw, extra_vhosts=""):
    return (api_conf(rgw, buckets=(("dgdata", "data"), ("dgedge", "edge"),
                                   (MANY_BUCKET, "many")))
            + api_conf(rgw, name=OTHER, buckets=(("other", "data2"),))
            + extra_vhosts)


@pytest.fixture
def server(rgw, make_httpd, many):
    return make_httpd(conf(rgw))


def listing(h, host=HOST, **params):
    status, hdrs, body = api_json(
        h, "GET", "/api/objects?" + urllib.parse.urlencode(params),
        host=host)
    return status, hdrs, body


def walk(h, **params):
    """Every page of a listing; (keys, pages, objects)."""
    objs, pages, cursor = [], 0, None
    while True:
        p = dict(params)
        if cursor:
            p["cursor"] = cursor
        status, _, body = listing(h, **p)
        assert status == 200, body
        objs += body["objects"]
        pages += 1
        cursor = body["cursor"]
        if not cursor:
            return [o["key"] for o in objs], pages, objs


def test_buckets_are_the_vhost_aliases(server):
    status, hdrs, body = api_json(server, "GET", "/api/buckets")
    assert status == 200
    assert [b["name"] for b in body["buckets"]] == ["data", "edge", "many"]
    for b in body["buckets"]:
        # Nothing computed yet: figures unknown, nothing pending.
        assert b["pending"] is False
        for f in ("object_count", "original_bytes", "stored_bytes",
                  "savings_pct"):
            assert b[f] is None
    _, _, other = api_json(server, "GET", "/api/buckets/", host=OTHER)
    assert [b["name"] for b in other["buckets"]] == ["data2"]


def test_folder_listing_hides_internals(server, rgw):
    want = logical(rgw, "dgdata")
    status, _, body = listing(server, bucket="data")
    assert status == 200
    assert body["bucket"] == "data" and body["prefix"] == ""
    assert body["common_prefixes"] == ["legacy/", "proxy/", "releases/"]
    assert [o["key"] for o in body["objects"]] == ["README.txt"]
    assert body["cursor"] is None
    o = body["objects"][0]
    assert set(o) == {"key", "original_bytes", "stored_bytes", "compressed",
                      "modified"}
    assert o["original_bytes"] == o["stored_bytes"] == \
        want["README.txt"]["original_size"]
    assert o["compressed"] is False
    assert o["modified"].endswith("Z") and "T" in o["modified"]
    # The default bucket is the first mapped one.
    _, _, dflt = listing(server)
    assert dflt["objects"] == body["objects"]
    # dgedge: .deltaglider/ and the orphan's folder are internal.
    _, _, edge = listing(server, bucket="edge")
    assert edge["common_prefixes"] == ["corrupt-ref/", "tampered/", "tgz/"]


@pytest.mark.parametrize("bucket,alias", [("dgdata", "data"),
                                          ("dgedge", "edge")])
def test_flat_listing_matches_manifest(server, rgw, bucket, alias):
    want = logical(rgw, bucket)
    status, _, body = listing(server, bucket=alias, delimiter="",
                              limit="1000")
    assert status == 200 and body["cursor"] is None
    got = {o["key"]: o for o in body["objects"]}
    assert sorted(got) == sorted(want)
    assert body["common_prefixes"] == []
    for key, o in got.items():
        m = want[key]
        assert not key.endswith(".delta")
        assert "reference.bin" not in key and ".deltaglider" not in key
        assert o["original_bytes"] == m["original_size"], key
        assert o["stored_bytes"] == m["size"], key
        assert o["compressed"] is (m["kind"] == "dg-delta"), key
    if bucket == "dgdata":
        # Deltas: far more original bytes than stored ones.
        big = got["releases/v1/app-1.1.zip"]
        assert big["original_bytes"] > 10 * big["stored_bytes"]


def test_prefix_sort_filter_search(server, rgw):
    want = logical(rgw, "dgdata")
    _, _, body = listing(server, bucket="data", prefix="releases/v1/")
    assert [o["key"] for o in body["objects"]] == [
        "releases/v1/app-1.0.zip", "releases/v1/app-1.1.zip",
        "releases/v1/notes.txt", "releases/v1/plain.txt"]
    # sort=size_desc: by original size, largest first.
    _, _, body = listing(server, bucket="data", delimiter="",
                         sort="size_desc")
    sizes = [o["original_bytes"] for o in body["objects"]]
    assert sizes == sorted(sizes, reverse=True)
    assert len(sizes) == len(want)
    # sort=name with order=desc
    _, _, body = listing(server, bucket="data", delimiter="", sort="name",
                         order="desc")
    keys = [o["key"] for o in body["objects"]]
    assert keys == sorted(want, reverse=True)
    # compressed filter
    _, _, body = listing(server, bucket="data", delimiter="",
                         compressed="true")
    assert {o["key"] for o in body["objects"]} == {
        k for k, m in want.items() if m["kind"] == "dg-delta"}
    _, _, body = listing(server, bucket="data", delimiter="",
                         compressed="false")
    assert {o["key"] for o in body["objects"]} == {
        k for k, m in want.items() if m["kind"] != "dg-delta"}
    # search: case-insensitive substring
    _, _, body = listing(server, bucket="data", delimiter="",
                         search="APP-1.1")
    assert sorted(o["key"] for o in body["objects"]) == [
        "legacy/v1/app-1.1.zip", "proxy/v1/app-1.1.zip",
        "releases/v1/app-1.1.zip"]


@pytest.mark.parametrize("sort", ["name_asc", "savings_pct_desc",
                                  "size_asc", "modified_desc"])
def test_cursor_paging_equals_one_page(server, sort):
    _, _, full = listing(server, bucket="data", delimiter="", sort=sort,
                         limit="1000")
    keys, pages, _ = walk(server, bucket="data", delimiter="", sort=sort,
                          limit="3")
    assert keys == [o["key"] for o in full["objects"]]
    assert pages == (len(keys) + 2) // 3


def test_ten_thousand_objects_paged(server, many):
    keys, pages, objs = walk(server, bucket="many", delimiter="",
                             limit="1000")
    assert keys == many["logical"]
    assert pages == 10
    assert len(keys) == many["plain"] + many["deltas"] == 10000
    for o in objs:
        assert o["original_bytes"] == many["sizes"][o["key"]], o
        assert o["compressed"] is o["key"].endswith(".zip")
    # Folder view of the same bucket.
    _, _, top = listing(server, bucket="many")
    assert top["common_prefixes"] == ["deltas/", "plain/"]
    assert top["objects"] == []
    # Default limit is 200 (docs/browser-api.md §5.1).
    _, _, first = listing(server, bucket="many", delimiter="")
    assert len(first["objects"]) == 200 and first["cursor"]


def test_tampered_and_foreign_cursors(server):
    _, _, body = listing(server, bucket="data", delimiter="", limit="2")
    cur = body["cursor"]
    assert cur
    i = len(cur) // 3
    bad = cur[:i] + ("A" if cur[i] != "A" else "B") + cur[i + 1:]
    status, _, err = listing(server, bucket="data", delimiter="",
                             limit="2", cursor=bad)
    assert status == 400
    assert_api_error(err, "invalid_parameter")
    assert err["error"]["details"] == {"parameter": "cursor"}
    # A genuine cursor of another query is refused too.
    status, _, err = listing(server, bucket="data", delimiter="",
                             limit="2", sort="size_desc", cursor=cur)
    assert status == 400 and err["error"]["details"]["parameter"] == "cursor"
    status, _, err = listing(server, bucket="edge", delimiter="",
                             limit="2", cursor=cur)
    assert status == 400 and err["error"]["code"] == "invalid_parameter"


@pytest.mark.parametrize("params,code,param", [
    ({"limit": "0"}, "invalid_parameter", "limit"),
    ({"limit": "1001"}, "invalid_parameter", "limit"),
    ({"limit": "ten"}, "invalid_parameter", "limit"),
    ({"sort": "colour"}, "invalid_parameter", "sort"),
    ({"order": "sideways"}, "invalid_parameter", "order"),
    ({"compressed": "maybe"}, "invalid_parameter", "compressed"),
    ({"delimiter": "-"}, "invalid_parameter", "delimiter"),
    ({"prefix": ".deltaglider/"}, "invalid_prefix", "prefix"),
    ({"prefix": "a/.deltaglider/x"}, "invalid_prefix", "prefix"),
    ({"prefix": "bad\x01prefix"}, "invalid_prefix", "prefix"),
    ({"prefix": "p" * 1025}, "invalid_prefix", "prefix"),
])
def test_bad_parameters(server, params, code, param):
    params = dict(params, bucket="data")
    status, _, body = listing(server, **params)
    assert status == 400, body
    assert_api_error(body, code)
    assert body["error"]["details"]["parameter"] == param


@pytest.mark.parametrize("prefix", ["releases/v1/", "legacy/v1/",
                                    "proxy/v1/"])
def test_metadata(server, rgw, prefix):
    want = logical(rgw, "dgdata")
    key = prefix + "app-1.1.zip"
    status, _, body = api_json(server, "GET",
                               "/api/objects/data/%s/metadata" % q(key))
    assert status == 200
    assert body["key"] == key and body["bucket"] == "data"
    assert body["accept_ranges"] is False
    assert body["compressed"] is True
    assert body["original_bytes"] == want[key]["original_size"]
    assert body["stored_bytes"] == want[key]["size"]
    assert body["sha256"] == want[key]["original_sha256"]
    assert body["reference_key"] == prefix + "reference.bin"
    assert body["modified"].endswith("Z")
    status, _, body = api_json(
        server, "GET", "/api/objects/data/%splain.txt/metadata" % prefix)
    assert status == 200 and body["compressed"] is False
    assert body["original_bytes"] == body["stored_bytes"]


@pytest.mark.parametrize("path,status,code", [
    ("/api/objects/data/releases/v1/reference.bin/metadata", 404,
     "key_not_found"),
    ("/api/objects/data/releases/v1/app-1.1.zip.delta/metadata", 404,
     "key_not_found"),
    ("/api/objects/data/no/such.zip/metadata", 404, "key_not_found"),
    ("/api/objects/nope/README.txt/metadata", 404, "bucket_not_found"),
    ("/api/objects/dgdata/README.txt/metadata", 404, "bucket_not_found"),
    ("/api/objects/data/metadata", 400, "invalid_parameter"),
    ("/api/objects?bucket=nope", 404, "bucket_not_found"),
    ("/api/buckets/nope/compute-savings", 404, "bucket_not_found"),
    ("/api/nothing/here", 404, "not_found"),
    ("/api", 404, "not_found"),
])
def test_errors_use_the_rfc_envelope(server, path, status, code):
    method = "POST" if path.endswith("compute-savings") else "GET"
    st, _, body = api_json(server, method, path)
    assert st == status, body
    assert_api_error(body, code)


def test_wrong_method_is_405_with_allow(server):
    st, hdrs, body = api_json(server, "POST", "/api/buckets")
    assert st == 405
    assert_api_error(body, "method_not_allowed")
    assert hdrs["Allow"] == "GET, HEAD"
    st, hdrs, body = api_json(server, "GET", "/api/download/prepare/x/y")
    assert st == 400 or st == 404


def test_vhosts_are_isolated(server):
    # OTHER maps only bucket "other" (alias data2): A's aliases and
    # bucket names are unknown there, and the other way round.
    for path in ("/api/objects?bucket=data", "/api/objects?bucket=dgdata",
                 "/api/objects/data/README.txt/metadata"):
        st, _, body = api_json(server, "GET", path, host=OTHER)
        assert st == 404, path
        assert_api_error(body, "bucket_not_found")
    st, _, body = api_json(server, "GET", "/api/objects?bucket=data2")
    assert st == 404
    st, _, body = api_json(server, "GET", "/api/objects?delimiter=",
                           host=OTHER)
    assert st == 200
    assert {o["key"] for o in body["objects"]} == {"other-only.txt",
                                                   "secret/hidden.h5"}


def test_listing_cache_is_shared(server):
    path = "/api/objects?bucket=data&prefix=releases/v1/"
    s1, h1, b1 = api_json(server, "GET", path)
    seen = {h1["X-H5S3-Cache"]}
    for _ in range(6):   # several connections: several processes
        s2, h2, b2 = api_json(server, "GET", path)
        assert b2 == b1
        seen.add(h2["X-H5S3-Cache"])
        if h2["X-H5S3-Cache"] == "hit":
            assert h2["X-H5S3-S3-Requests"] == "0"
    assert h1["X-H5S3-Cache"] == "miss" and "hit" in seen


def test_s3_failures(rgw, make_httpd):
    ghost = vhost(rgw, HOST, [("h5s3-no-such-bucket", "ghost")],
                  location="/dg",
                  extra="    H5S3TokenSecret 0123456789abcdef0123\n")
    down = vhost(rgw, "down.test", [("dgdata", "data")], location="/dg",
                 endpoint="http://127.0.0.1:%d" % closed_port(),
                 extra="    H5S3Timeout 1 2\n")
    h = make_httpd(ghost + down)
    st, _, body = api_json(h, "GET", "/api/objects?bucket=ghost")
    assert st == 404
    assert_api_error(body, "bucket_not_found")
    assert body["error"]["details"]["s3_code"] == "NoSuchBucket"
    st, hdrs, body = api_json(h, "GET", "/api/objects", host="down.test")
    assert st == 503
    assert_api_error(body, "sdk_error")
    assert hdrs["Retry-After"]
    st, hdrs, body = api_json(h, "GET",
                              "/api/objects/data/README.txt/metadata",
                              host="down.test")
    assert st == 503 and hdrs["Retry-After"]
