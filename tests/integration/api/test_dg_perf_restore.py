"""Deltas at codec speed (issue 14), counted rather than timed: a cached
reference is hashed once, when it enters the cache, not on every
download; a reference that rots in place (same size, mtime and inode)
is caught by the output's SHA-256, hashed, evicted and fetched again;
direct objects are checked against dg-file-sha256 while they stream,
and a mismatch never yields a complete file."""

import hashlib
import http.client
import os
import re

import pytest

from harness.api_common import (HOST, LOC, api_conf, assert_api_error,
                                dg_meta, prepare, rgw_refcache_name, sha256,
                                xdelta)
from harness.common import make_bucket

BUCKET = "dgperfdl"


def blob(seed, size):
    rnd = hashlib.sha256(seed).digest()
    return b"".join(hashlib.sha256(rnd + i.to_bytes(4, "big")).digest()
                    for i in range(size // 32))


@pytest.fixture(scope="module")
def objects(rgw, tmp_path_factory):
    """small/: a 256 KiB original (below one output piece), big/: 12 MiB
    (more than one xdelta3 window, which checks its own window before
    writing it out); direct objects with a right and a wrong
    dg-file-sha256."""
    s3 = make_bucket(rgw.client(), BUCKET)
    tmp = str(tmp_path_factory.mktemp("dgperfdl"))
    out = {}
    for name, size in (("small", 256 * 1024), ("big", 12 * 1024 * 1024)):
        ref = blob(name.encode(), size)
        orig = ref[:size // 3] + b"PATCHED" * 300 + ref[size // 3 + 2100:]
        d = xdelta(ref, orig, tmp)
        key = "%s/reference.bin" % name
        s3.put_object(Bucket=BUCKET, Key=key, Body=ref,
                      Metadata={"dg-tool": "test/1", "dg-note": "reference",
                                "dg-file-sha256": sha256(ref)})
        s3.put_object(Bucket=BUCKET, Key="%s/app.zip.delta" % name, Body=d,
                      Metadata=dg_meta("app.zip", orig, key, sha256(ref), d))
        out[name] = {"ref_key": key, "ref_sha": sha256(ref),
                     "ref_size": len(ref), "sha": sha256(orig),
                     "size": len(orig)}
    for name, size, right in (("ok.bin", 3 * 1024 * 1024, True),
                              ("bad.bin", 3 * 1024 * 1024, False),
                              ("bad-small.txt", 1000, False)):
        data = blob(name.encode(), size)
        meta = {"dg-tool": "test/1", "dg-compression": "none",
                "dg-file-size": str(len(data)),
                "dg-file-sha256": sha256(data if right else data + b"!")}
        s3.put_object(Bucket=BUCKET, Key="direct/" + name, Body=data,
                      Metadata=meta)
        out[name] = {"sha": sha256(data), "size": len(data)}
    return out


@pytest.fixture
def server(rgw, make_httpd, objects):
    return make_httpd(api_conf(rgw, buckets=((BUCKET, "perf"),)))


def get(h, key):
    """(status, headers, body, whole) of a download of key."""
    tok = prepare(h, "perf", key)["download_token"]
    conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=60)
    conn.request("GET", LOC + "/api/download/" + tok, headers={"Host": HOST})
    resp = conn.getresponse()
    try:
        body, whole = resp.read(), True
    except http.client.IncompleteRead as e:
        body, whole = e.partial, False
    hdrs = dict(resp.getheaders())
    conn.close()
    return resp.status, hdrs, body, whole


def download_ok(h, key, want):
    status, hdrs, body, whole = get(h, key)
    assert status == 200 and whole, (key, status, body[:200])
    assert len(body) == want["size"] and sha256(body) == want["sha"], key
    assert hdrs["Content-Length"] == str(want["size"])


def hashed(h, name):
    """The 'reference NAME hashed' lines so far: [(bytes, how)]."""
    pat = re.compile(r"deltaglider: reference %s hashed \((\d+) bytes, "
                     r"(\w+)\)" % re.escape(name))
    return [m.groups() for m in map(pat.search, h.error_log_lines()) if m]


def cache_file(h, rgw, o):
    name = rgw_refcache_name(rgw, BUCKET, o["ref_key"], o["ref_sha"])
    return name, os.path.join(h.path("h5s3-refcache"), name)


def ref_gets(rgw, mark, o):
    return [e for e in rgw.requests_since(mark)
            if e and e["method"] == "GET"
            and e["target"].split("?")[0] == "/%s/%s" % (BUCKET,
                                                        o["ref_key"])]


def rot_in_place(path, offset):
    """Flip one byte, keeping size, inode and mtime (the stamp)."""
    st = os.stat(path)
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_ino, after.st_mtime_ns) == \
        (st.st_size, st.st_ino, st.st_mtime_ns)


def test_reference_hashed_once_across_downloads(server, rgw, objects):
    o = objects["small"]
    name, path = cache_file(server, rgw, o)
    mark = rgw.request_count()
    # Separate connections: under prefork, several processes.
    for _ in range(5):
        download_ok(server, "small/app.zip", o)
    assert hashed(server, name) == [(str(o["ref_size"]), "fetched")]
    assert len(ref_gets(rgw, mark, o)) == 1
    with open(path, "rb") as f:
        assert sha256(f.read()) == o["ref_sha"]


def test_rot_in_place_caught_by_output_then_refetched(server, rgw,
                                                      objects):
    """Below one output piece nothing went out when the output check
    failed: the reference is hashed, evicted and fetched again, and the
    same download completes right."""
    o = objects["small"]
    name, path = cache_file(server, rgw, o)
    download_ok(server, "small/app.zip", o)
    rot_in_place(path, 1000)            # a byte the delta copies
    mark = rgw.request_count()
    download_ok(server, "small/app.zip", o)
    assert hashed(server, name) == [(str(o["ref_size"]), "fetched"),
                                    (str(o["ref_size"]), "cached"),
                                    (str(o["ref_size"]), "fetched")]
    log = "\n".join(server.error_log_lines())
    assert "cached reference %s has SHA-256" % path in log
    assert "fetching it again" in log
    assert len(ref_gets(rgw, mark, o)) == 1
    with open(path, "rb") as f:
        assert sha256(f.read()) == o["ref_sha"]
    # Healed and stamped again: no more hashing.
    download_ok(server, "small/app.zip", o)
    assert len(hashed(server, name)) == 3


@pytest.mark.expect_errors(r"H5S3-0132: download of dgperfdl/big/app\.zip "
                           r"aborted after \d+ bytes: cached reference")
def test_rot_after_bytes_went_out_aborts_and_evicts(server, rgw, objects):
    o = objects["big"]
    name, path = cache_file(server, rgw, o)
    download_ok(server, "big/app.zip", o)
    rot_in_place(path, 11 * 1024 * 1024)    # in the second window
    status, _, body, whole = get(server, "big/app.zip")
    assert status == 200 and not whole
    assert 0 < len(body) < o["size"]
    log = "\n".join(server.error_log_lines())
    assert "H5S3-0132: download of dgperfdl/big/app.zip aborted" in log
    assert not os.path.exists(path)         # evicted
    mark = rgw.request_count()
    download_ok(server, "big/app.zip", o)
    assert len(ref_gets(rgw, mark, o)) == 1
    assert [how for _, how in hashed(server, name)] == \
        ["fetched", "cached", "fetched"]


def test_direct_object_verified_while_streaming(server, objects):
    download_ok(server, "direct/ok.bin", objects["ok.bin"])


@pytest.mark.expect_errors(r"H5S3-0132: download of dgperfdl/direct/bad\.bin "
                           r"aborted after \d+ bytes: SHA-256 [0-9a-f]{64} "
                           r"of the stored object does not match "
                           r"dg-file-sha256")
def test_direct_object_with_wrong_sha_aborts(server, objects):
    want = objects["bad.bin"]
    status, hdrs, body, whole = get(server, "direct/bad.bin")
    assert status == 200 and not whole
    assert hdrs["Content-Length"] == str(want["size"])
    # Every byte but the last piece went out, never all of them.
    assert 0 < len(body) < want["size"]
    log = "\n".join(server.error_log_lines())
    assert "H5S3-0132: download of dgperfdl/direct/bad.bin aborted" in log


def test_small_direct_object_with_wrong_sha_refused(server, objects):
    status, hdrs, body, whole = get(server, "direct/bad-small.txt")
    assert status == 400 and whole
    import json
    err = json.loads(body)
    assert_api_error(err, "integrity_failed")
    assert "dg-file-sha256" in err["error"]["details"]["reason"]
