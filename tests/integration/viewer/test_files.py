"""GET /health, GET /files, POST /files/refresh against a real httpd and a
real, signature-checking S3 (docs/viewer-api.md §1.2-1.4)."""

import http.client
import json
import time

import pytest

from harness.common import get_json, s3_keys, vhost

A, B = "a.test", "b.test"


@pytest.fixture
def server(rgw, make_httpd, mpm):
    conf = (vhost(rgw, A, ["h5data", ("many", "many")])
            + vhost(rgw, B, [("other", "main")]))
    return make_httpd(conf, mpm=mpm)


def expected_rows(objects, prefix="", folders=True):
    """The listing rows the contract derives from S3 objects."""
    files, dirs = [], set()
    norm = prefix.lstrip("/")
    for o in objects:
        key = o["Key"]
        if folders:
            parts = key.split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i]) + "/"
                if d.startswith(norm):
                    dirs.add(d)
        if not key.endswith("/"):
            files.append(key)
    return files + (sorted(dirs) if folders else [])


def test_health(server):
    status, _, body = get_json(server, "/hdf/health", host=A)
    assert status == 200
    assert body["status"] == "healthy"
    assert body["service"] == "HDF Viewer Backend"
    # datetime.utcnow().isoformat(): no offset, no Z
    assert "T" in body["timestamp"] and not body["timestamp"].endswith("Z")
    assert "+" not in body["timestamp"]


def test_listing_matches_s3(server, rgw):
    objects = s3_keys(rgw, "h5data")
    status, _, body = get_json(server, "/hdf/files", host=A)
    assert status == 200 and body["success"] is True
    assert [r["key"] for r in body["files"]] == expected_rows(objects)
    by_key = {o["Key"]: o for o in objects}
    for row in body["files"]:
        if row["is_folder"]:
            assert row == {"etag": None, "is_folder": True, "key": row["key"],
                           "last_modified": None, "size": 0,
                           "type": "folder"}
        else:
            o = by_key[row["key"]]
            assert row["type"] == "file"
            assert row["size"] == o["Size"]
            assert row["etag"] == o["ETag"].strip('"')
            assert row["last_modified"] == o["LastModified"].isoformat()
    n_files = len([o for o in objects if not o["Key"].endswith("/")])
    assert body["files_count"] == n_files
    assert body["count"] == len(body["files"])
    assert body["folders_count"] == body["count"] - n_files
    assert body["truncated"] is False
    assert body["include_folders"] is True
    assert body["max_items"] == 20000
    assert body["prefix"] == ""
    # awkward keys survive untouched
    keys = {r["key"] for r in body["files"]}
    for o in objects:
        assert o["Key"] in keys or o["Key"].endswith("/")
    assert any(" " in k for k in keys)
    assert any(ord(c) > 127 for k in keys for c in k)
    assert any("%" in k for k in keys) and any("+" in k for k in keys)


def test_trailing_slash_and_prefix(server, rgw):
    s1, _, b1 = get_json(server, "/hdf/files/", host=A)
    assert s1 == 200 and b1["success"]
    prefix = "Folder_1/"
    objects = s3_keys(rgw, "h5data", prefix)
    assert objects, "seed data has no Folder_1/"
    status, _, body = get_json(server, "/hdf/files?prefix=%20/Folder_1/%20",
                               host=A)
    assert status == 200
    assert body["prefix"] == "/Folder_1/"
    assert [r["key"] for r in body["files"]] == expected_rows(objects, prefix)


def test_include_folders_false_and_max_items(server, rgw):
    objects = s3_keys(rgw, "h5data")
    _, _, body = get_json(server, "/hdf/files?include_folders=NO", host=A)
    assert [r["key"] for r in body["files"]] == expected_rows(objects,
                                                              folders=False)
    assert body["folders_count"] == 0 and body["include_folders"] is False
    _, _, body = get_json(server, "/hdf/files?max_items=2&include_folders=0",
                          host=A)
    assert body["files_count"] == 2 and body["truncated"] is True
    assert [r["key"] for r in body["files"]] == \
        expected_rows(objects, folders=False)[:2]


@pytest.mark.parametrize("query,message", [
    ("include_folders=maybe", "Invalid include_folders parameter"),
    ("max_items=abc", "Invalid max_items parameter"),
    ("max_items=0", "max_items must be between 1 and 50000"),
    ("max_items=50001", "max_items must be between 1 and 50000"),
    ("max_items=99999999999999999999999", "Invalid max_items parameter"),
])
def test_invalid_parameters(server, query, message):
    status, _, body = get_json(server, "/hdf/files?" + query, host=A)
    assert status == 400
    assert body == {"success": False, "error": message}


def test_paging_beyond_1000_keys(server, rgw):
    status, hdrs, body = get_json(server, "/hdf/files?bucket=many", host=A)
    assert status == 200
    assert body["files_count"] == 1205
    assert [r["key"] for r in body["files"] if not r["is_folder"]] == \
        [o["Key"] for o in s3_keys(rgw, "many")]
    assert hdrs["X-H5S3-S3-Requests"] == "2"


def test_vhosts_are_isolated(server, rgw):
    other_keys = {o["Key"] for o in s3_keys(rgw, "other")}
    assert other_keys
    _, _, a = get_json(server, "/hdf/files", host=A)
    assert not other_keys & {r["key"] for r in a["files"]}
    # A cannot reach B's bucket, by bucket name or by B's alias
    for name in ("other", "main"):
        status, _, body = get_json(server, "/hdf/files?bucket=" + name,
                                   host=A)
        assert status == 404 and body["success"] is False
        assert name in body["error"]
    # B sees its own bucket, by default and by alias, and not A's
    _, _, b = get_json(server, "/hdf/files", host=B)
    assert {r["key"] for r in b["files"] if not r["is_folder"]} == \
        {k for k in other_keys if not k.endswith("/")}
    status, _, _ = get_json(server, "/hdf/files?bucket=main", host=B)
    assert status == 200
    status, _, _ = get_json(server, "/hdf/files?bucket=h5data", host=B)
    assert status == 404


def test_cache_is_shared_by_processes(server, mpm):
    url = "/hdf/files?prefix=Folder_1/"
    s, hdrs, first = get_json(server, url, host=A)
    assert first["cached"] is False and hdrs["X-H5S3-Cache"] == "miss"
    assert int(hdrs["X-H5S3-S3-Requests"]) >= 1
    # Keep-alive connections held open at once: under prefork each one
    # occupies a child, so several children must answer.
    conns = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
             for _ in range(3)]
    try:
        for _ in range(3):
            for c in conns:
                c.request("GET", url, headers={"Host": A})
                r = c.getresponse()
                again = json.loads(r.read())
                assert again["cached"] is True
                assert r.headers["X-H5S3-Cache"] == "hit"
                assert r.headers["X-H5S3-S3-Requests"] == "0"
                assert again["files"] == first["files"]
    finally:
        for c in conns:
            c.close()
    entries = server.access_log_entries(min_count=10)
    pids = {e["pid"] for e in entries if e["cache"] == "hit"}
    if mpm == "prefork":
        assert len(pids) >= 2, "hits all served by one process: %s" % pids


def test_refresh_clears_only_this_vhost(server):
    get_json(server, "/hdf/files", host=A)
    get_json(server, "/hdf/files", host=B)
    assert get_json(server, "/hdf/files", host=A)[2]["cached"] is True
    assert get_json(server, "/hdf/files", host=B)[2]["cached"] is True
    status, _, body = get_json(server, "/hdf/files/refresh", host=A,
                               method="POST",
                               headers={"Content-Type": "application/json"})
    assert status == 200
    assert body == {"message": "Cache cleared successfully", "success": True}
    assert get_json(server, "/hdf/files", host=A)[2]["cached"] is False
    assert get_json(server, "/hdf/files", host=B)[2]["cached"] is True


def test_ttl_is_honoured(rgw, make_httpd, mpm):
    h = make_httpd(vhost(rgw, A, ["h5data"], extra="    H5S3ListTTL 1\n"),
                   mpm=mpm)
    assert get_json(h, "/hdf/files", host=A)[2]["cached"] is False
    assert get_json(h, "/hdf/files", host=A)[2]["cached"] is True
    time.sleep(2.2)
    assert get_json(h, "/hdf/files", host=A)[2]["cached"] is False


@pytest.mark.parametrize("method,path,status,allow", [
    ("GET", "/hdf/nope", 404, None),
    ("GET", "/hdf/files/refresh", 405, "POST"),
    ("POST", "/hdf/health", 405, "GET, HEAD"),
    ("DELETE", "/hdf/files", 405, "GET, HEAD"),
])
def test_unknown_routes_and_methods_are_json(server, method, path, status,
                                             allow):
    s, hdrs, body = get_json(server, path, host=A, method=method)
    assert s == status
    assert body["success"] is False and body["error"]
    if allow:
        assert hdrs["Allow"] == allow


def test_head_has_no_body(server):
    status, hdrs, body = server.request("HEAD", "/hdf/health", host=A)
    assert status == 200 and body == b""
    assert hdrs["Content-Type"].startswith("application/json")


def test_handler_location_is_found_without_module_directives(rgw, make_httpd):
    """Only core directives in the Location, the main server, and a more
    specific Location nested below it (say, for authentication)."""
    from harness.plugin import s3_directives
    conf = (s3_directives(rgw, ["h5data"])
            + "<Location /data/v1>\n    SetHandler h5s3\n</Location>\n"
            "<Location /data/v1/files>\n    Header set X-Nested yes\n"
            "</Location>\n")
    h = make_httpd(conf, mpm="event")
    status, hdrs, body = get_json(h, "/data/v1/files")
    assert status == 200 and body["success"] is True
    assert hdrs["X-Nested"] == "yes"
    assert get_json(h, "/data/v1/health")[2]["status"] == "healthy"
    assert get_json(h, "/data/v1")[2]["service"] == "HDF Viewer Backend"
