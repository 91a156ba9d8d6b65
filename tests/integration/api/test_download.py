"""Downloads through the bucket browser API: POST /api/download/prepare and
GET /api/download/{token}, against a real httpd (both MPMs where it
matters) and a real Ceph RGW.  Every original is checked by SHA-256
against the seed manifest; failure cases come from dgedge and from
objects this module makes with the xdelta3 CLI."""

import concurrent.futures
import hashlib
import http.client
import json
import os
import time

import pytest

from harness.api_common import (HOST, LOC, SECRET, api_conf, api_json,
                                assert_api_error, dg_meta, forge_token,
                                logical, prepare, rgw_refcache_name, sha256,
                                token_payload, xdelta)
from harness.common import make_bucket

BUCKET = "dgapi"        # this module's own objects


@pytest.fixture(scope="module")
def objects(rgw, tmp_path_factory):
    """dgapi: a delta whose reference is missing, a 3 MB delta whose
    dg-file-sha256 lies (fails only after most bytes went out), an empty
    object and a non-ASCII name."""
    s3 = rgw.client()
    tmp = str(tmp_path_factory.mktemp("dgapi"))
    make_bucket(s3, BUCKET)
    rnd = hashlib.sha256(b"seed").digest()
    base = b"".join(hashlib.sha256(rnd + i.to_bytes(4, "big")).digest()
                    for i in range(3 * 1024 * 1024 // 32))
    v2 = base[:1000000] + b"CHANGED" * 1000 + base[1007000:]
    out = {}

    # Missing reference: a real delta, its reference never stored.
    d = xdelta(base, v2, tmp)
    s3.put_object(Bucket=BUCKET, Key="missing/app-2.zip.delta", Body=d,
                  Metadata=dg_meta("app-2.zip", v2, "missing/reference.bin",
                                   sha256(base), d))
    # A lying dg-file-sha256: decodes fine, hash check fails at the end.
    s3.put_object(Bucket=BUCKET, Key="lying/reference.bin", Body=base,
                  Metadata={"dg-tool": "test/1", "dg-file-sha256":
                            sha256(base), "dg-note": "reference"})
    m = dg_meta("app-2.zip", v2, "lying/reference.bin", sha256(base), d)
    m["dg-file-sha256"] = sha256(v2 + b"not this")
    s3.put_object(Bucket=BUCKET, Key="lying/app-2.zip.delta", Body=d,
                  Metadata=m)
    out["lying_size"] = len(v2)
    # The honest twin: 3 MB through the streaming path, byte-exact.
    s3.put_object(Bucket=BUCKET, Key="good/reference.bin", Body=base,
                  Metadata={"dg-tool": "test/1", "dg-file-sha256":
                            sha256(base), "dg-note": "reference"})
    s3.put_object(Bucket=BUCKET, Key="good/app-2.zip.delta", Body=d,
                  Metadata=dg_meta("app-2.zip", v2, "good/reference.bin",
                                   sha256(base), d))
    out["good_sha"] = sha256(v2)
    out["good_size"] = len(v2)
    s3.put_object(Bucket=BUCKET, Key="empty.txt", Body=b"")
    out["odd_key"] = "docs/r\u00e9sum\u00e9 \u20ac \"1\".txt"
    out["odd_body"] = "caf\u00e9\n".encode()
    s3.put_object(Bucket=BUCKET, Key=out["odd_key"], Body=out["odd_body"])
    return out


def conf(rgw, secret=SECRET, name=HOST):
    return api_conf(rgw, name=name, secret=secret,
                    buckets=(("dgdata", "data"), ("dgedge", "edge"),
                             (BUCKET, "api")))


@pytest.fixture
def server(rgw, make_httpd, mpm, objects):
    return make_httpd(conf(rgw), mpm=mpm)


def fetch(h, token, host=HOST, method="GET"):
    """(status, headers, body) of a download."""
    return h.request(method, LOC + "/api/download/" + token, host=host)


def download_ok(h, bucket, key, want_sha, want_size):
    tok = prepare(h, bucket, key)
    assert tok["estimated_bytes"] == want_size, key
    assert tok["download_url"] == LOC + "/api/download/" + \
        tok["download_token"]
    status, hdrs, body = fetch(h, tok["download_token"])
    assert status == 200, (key, body[:300])
    assert sha256(body) == want_sha, key
    assert len(body) == want_size
    assert hdrs["Accept-Ranges"] == "none"
    assert hdrs["Content-Length"] == str(want_size)
    assert hdrs["Content-Type"] == "application/octet-stream"
    assert hdrs["Content-Disposition"].startswith("attachment; filename=")
    assert hdrs["X-DG-Logical-ETag"].startswith('"')
    return hdrs


def test_every_dgdata_object_byte_exact(server, rgw):
    want = logical(rgw, "dgdata")
    assert len(want) == 13
    for key, m in sorted(want.items()):
        hdrs = download_ok(server, "data", key, m["original_sha256"],
                           m["original_size"])
        name = key.rsplit("/", 1)[-1]
        assert hdrs["Content-Disposition"] == \
            'attachment; filename="%s"' % name
        if m["kind"] != "plain":
            assert hdrs["X-DG-Logical-ETag"] == '"%s"' % \
                m["original_sha256"]
    # References are cached on disk by scope, bucket, key and SHA-256,
    # each verified; nothing else is left (the last download's spools
    # go just after its last byte reached us: give them a moment).
    cache = server.path("h5s3-refcache")
    refs = {o["key"]: o["sha256"] for o in rgw.manifest["objects"]
            if o["bucket"] == "dgdata" and o["kind"] == "dg-reference"}
    assert len(refs) == 3
    want = {rgw_refcache_name(rgw, "dgdata", k, h): h
            for k, h in refs.items()}
    end = time.monotonic() + 5
    while sorted(os.listdir(cache)) != sorted(want) \
            and time.monotonic() < end:
        time.sleep(0.05)
    assert sorted(os.listdir(cache)) == sorted(want)
    for n, h in want.items():
        with open(os.path.join(cache, n), "rb") as f:
            assert sha256(f.read()) == h


def test_streamed_delta_and_odd_objects(server, objects):
    download_ok(server, "api", "good/app-2.zip", objects["good_sha"],
                objects["good_size"])
    # An empty object is an empty download, not an error.
    tok = prepare(server, "api", "empty.txt")
    status, hdrs, body = fetch(server, tok["download_token"])
    assert status == 200 and body == b"" and hdrs["Content-Length"] == "0"
    # Non-ASCII file names: an ASCII fallback plus RFC 6266 filename*.
    tok = prepare(server, "api", objects["odd_key"])
    status, hdrs, body = fetch(server, tok["download_token"])
    assert status == 200 and body == objects["odd_body"]
    assert hdrs["Content-Disposition"] == (
        "attachment; filename=\"r_sum_ _ _1_.txt\"; "
        "filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%82%AC%20%221%22.txt")
    # HEAD: the headers a GET would send, no body.
    status, hdrs, body = fetch(server, tok["download_token"], method="HEAD")
    assert status == 200 and body == b""
    assert hdrs["Content-Length"] == str(len(objects["odd_body"]))


def test_parallel_downloads(server, rgw):
    want = logical(rgw, "dgdata")
    keys = sorted(want)[:8]
    assert len(keys) == 8
    tokens = {k: prepare(server, "data", k)["download_token"] for k in keys}

    def one(key):
        status, _, body = fetch(server, tokens[key])
        return key, status, sha256(body)

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        for key, status, digest in ex.map(one, keys * 2):
            assert status == 200, key
            assert digest == want[key]["original_sha256"], key


@pytest.mark.parametrize("key,reason", [
    ("corrupt-ref/app-1.1.zip", "reference"),
    ("tampered/app-1.1.zip", None),
    ("tgz/b.tgz", "recompression"),
])
def test_integrity_failures_before_the_body(server, key, reason):
    tok = prepare(server, "edge", key)
    status, hdrs, body = fetch(server, tok["download_token"])
    assert status == 400, body[:200]
    assert hdrs["Content-Type"].startswith("application/json")
    err = json.loads(body)
    assert_api_error(err, "integrity_failed")
    if reason:
        assert reason in err["error"]["details"]["reason"]


def test_missing_reference_is_integrity_failed(server):
    tok = prepare(server, "api", "missing/app-2.zip")
    status, _, body = fetch(server, tok["download_token"])
    assert status == 400
    err = json.loads(body)
    assert_api_error(err, "integrity_failed")
    assert "reference" in err["error"]["details"]["reason"]


@pytest.mark.expect_errors(r"H5S3-0132: download of dgapi/lying/app-2\.zip "
                           r"aborted")
def test_failure_after_the_body_started_truncates(server, objects):
    tok = prepare(server, "api", "lying/app-2.zip")["download_token"]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", LOC + "/api/download/" + tok,
                  headers={"Host": HOST})
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Length") == str(objects["lying_size"])
    got = b""
    with pytest.raises(http.client.IncompleteRead) as ei:
        got = resp.read()
    got = ei.value.partial
    conn.close()
    # Most bytes went out, never all of them: no plausible whole file.
    assert 0 < len(got) < objects["lying_size"]
    log = "\n".join(server.error_log_lines())
    assert "H5S3-0132: download of dgapi/lying/app-2.zip aborted" in log


@pytest.fixture(scope="module")
def rot_object(rgw, objects, tmp_path_factory):
    """rot/app-3.zip: the first 2 MB of a 40 MB reference.  The delta
    never reads the reference's tail, so rot there leaves the output
    right: only the reference's own hash can tell."""
    s3 = rgw.client()
    tmp = str(tmp_path_factory.mktemp("dgrot"))
    ref = os.urandom(40 * 1024 * 1024)
    orig = ref[:2 * 1024 * 1024]
    d = xdelta(ref, orig, tmp)
    s3.put_object(Bucket=BUCKET, Key="rot/reference.bin", Body=ref,
                  Metadata={"dg-tool": "test/1", "dg-file-sha256":
                            sha256(ref), "dg-note": "reference"})
    s3.put_object(Bucket=BUCKET, Key="rot/app-3.zip.delta", Body=d,
                  Metadata=dg_meta("app-3.zip", orig, "rot/reference.bin",
                                   sha256(ref), d))
    return {"ref_sha": sha256(ref), "ref_size": len(ref),
            "sha": sha256(orig), "size": len(orig)}


@pytest.mark.expect_errors(r"H5S3-0132: download of dgapi/rot/app-3\.zip "
                           r"aborted after \d+ bytes: cached reference")
def test_rotten_cached_reference_never_completes(server, rgw, rot_object):
    """The cached reference is re-hashed while xdelta3 already decodes;
    one flipped byte in the cache is caught on the next download, which
    never completes a file from it."""
    ro = rot_object
    download_ok(server, "api", "rot/app-3.zip", ro["sha"], ro["size"])
    cached = os.path.join(server.path("h5s3-refcache"), rgw_refcache_name(
        rgw, BUCKET, "rot/reference.bin", ro["ref_sha"]))
    with open(cached, "r+b") as f:
        f.seek(ro["ref_size"] - 1000)
        b = f.read(1)
        f.seek(ro["ref_size"] - 1000)
        f.write(bytes([b[0] ^ 0xFF]))

    tok = prepare(server, "api", "rot/app-3.zip")["download_token"]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", LOC + "/api/download/" + tok,
                 headers={"Host": HOST})
    resp = conn.getresponse()
    assert resp.status == 200
    try:
        body, whole = resp.read(), True
    except http.client.IncompleteRead as e:
        body, whole = e.partial, False
    conn.close()
    log = "\n".join(server.error_log_lines())
    assert "cached reference %s" % cached in log
    if whole:
        # Caught before the first byte: started over from a fresh copy.
        assert sha256(body) == ro["sha"]
    else:
        # Caught after: stopped short of Content-Length.
        assert len(body) < ro["size"]
        assert "H5S3-0132: download of dgapi/rot/app-3.zip aborted" in log
    # The next download is whole and right, from a healed cache.
    download_ok(server, "api", "rot/app-3.zip", ro["sha"], ro["size"])
    with open(cached, "rb") as f:
        assert sha256(f.read()) == ro["ref_sha"]


def test_token_errors(server):
    tok = prepare(server, "data", "README.txt")["download_token"]
    i = 5
    bad = tok[:i] + ("A" if tok[i] != "A" else "B") + tok[i + 1:]
    for t in (bad, tok + "x", "garbage", tok.split(".")[0], "a.b.c"):
        status, _, body = fetch(server, t)
        assert status == 400, t
        assert_api_error(json.loads(body), "invalid_token")
    # A list cursor is signed with the same key but is no download token.
    _, _, page = api_json(server, "GET",
                          "/api/objects?bucket=data&delimiter=&limit=1")
    status, _, body = fetch(server, page["cursor"])
    assert status == 400
    p = token_payload(tok)
    assert set(p) == {"t", "b", "k", "e", "x"} and p["b"] == "dgdata"
    # Expired: a genuine token (right key) whose lifetime is over.
    old = forge_token(dict(p, x=int(time.time()) - 1))
    status, _, body = fetch(server, old)
    assert status == 410
    assert_api_error(json.loads(body), "token_expired")
    # The forged token is good while it lasts (so the format is right) ...
    status, _, body = fetch(server, forge_token(dict(p, x=int(time.time())
                                                     + 60)))
    assert status == 200 and body == b"Top-level plain object.\n"
    # ... but not when signed with another key, nor for an unmapped bucket.
    status, _, body = fetch(server, forge_token(p, secret="another-secret"))
    assert status == 400
    status, _, body = fetch(server, forge_token(dict(p, b="other")))
    assert status == 404
    assert_api_error(json.loads(body), "bucket_not_found")
    # The expiry the server sets: 300 s from now.
    assert abs(p["x"] - (time.time() + 300)) < 30


def test_object_changed_or_gone_after_prepare(server, rgw):
    s3 = rgw.client()
    s3.put_object(Bucket=BUCKET, Key="changing.txt", Body=b"version 1\n")
    s3.put_object(Bucket=BUCKET, Key="going.txt", Body=b"here\n")
    t1 = prepare(server, "api", "changing.txt")["download_token"]
    t2 = prepare(server, "api", "going.txt")["download_token"]
    s3.put_object(Bucket=BUCKET, Key="changing.txt", Body=b"version 2!\n")
    s3.delete_object(Bucket=BUCKET, Key="going.txt")
    status, _, body = fetch(server, t1)
    assert status == 409
    assert_api_error(json.loads(body), "object_changed")
    status, _, body = fetch(server, t2)
    assert status == 404
    assert_api_error(json.loads(body), "key_not_found")
    # Prepared again, the new version downloads.
    t3 = prepare(server, "api", "changing.txt")["download_token"]
    assert fetch(server, t3)[2] == b"version 2!\n"


@pytest.mark.parametrize("body,status,code", [
    ("not json", 400, "invalid_parameter"),
    ("[1, 2]", 400, "invalid_parameter"),
    ({"bucket": "data"}, 400, "invalid_parameter"),
    ({"bucket": 5, "key": "README.txt"}, 400, "invalid_parameter"),
    ({"bucket": "nope", "key": "README.txt"}, 404, "bucket_not_found"),
    ({"bucket": "data", "key": "no/such.txt"}, 404, "key_not_found"),
    ({"bucket": "data", "key": "releases/v1/reference.bin"}, 404,
     "key_not_found"),
    ({"key": "x" * 70000}, 413, "payload_too_large"),
])
def test_prepare_errors(server, body, status, code):
    st, _, got = api_json(server, "POST", "/api/download/prepare", body)
    assert st == status, got
    assert_api_error(got, code)


def test_prepare_defaults_to_the_first_bucket(server, rgw):
    st, _, got = api_json(server, "POST", "/api/download/prepare",
                          {"key": "README.txt"})
    assert st == 200
    assert got["estimated_bytes"] == \
        logical(rgw, "dgdata")["README.txt"]["original_size"]
    assert got["expires_in"] == 300


def test_token_works_on_another_server_with_the_same_secret(
        rgw, make_httpd, objects):
    a = make_httpd(conf(rgw), mpm="prefork")
    b = make_httpd(conf(rgw), mpm="event")
    c = make_httpd(conf(rgw, secret="a-different-secret-0123456789"),
                   mpm="event")
    tok = prepare(a, "api", "good/app-2.zip")["download_token"]
    status, _, body = fetch(b, tok)
    assert status == 200 and sha256(body) == objects["good_sha"]
    status, _, body = fetch(c, tok)
    assert status == 400
    assert_api_error(json.loads(body), "invalid_token")


def test_random_key_without_secret(rgw, make_httpd, objects):
    """No H5S3TokenSecret: a random key per start, said once in the log,
    shared by every child, gone after a restart."""
    h = make_httpd(conf(rgw, secret=None), mpm="prefork")
    notices = [ln for ln in h.error_log_lines()
               if "H5S3TokenSecret is not set" in ln]
    assert len(notices) == 1 and ":notice]" in notices[0]
    tok = prepare(h, "data", "README.txt")["download_token"]
    for _ in range(6):      # new connections: other children
        assert fetch(h, tok)[0] == 200
    h.graceful()
    status, _, body = fetch(h, tok)
    assert status == 400
    assert_api_error(json.loads(body), "invalid_token")


def test_refcache_dir_directive(rgw, make_httpd, objects):
    cache = "/tmp/h5s3-api-refcache-%d" % os.getpid()
    try:
        h = make_httpd("H5S3RefCacheDir %s\n" % cache + conf(rgw))
        download_ok(h, "api", "good/app-2.zip", objects["good_sha"],
                    objects["good_size"])
        # The download's spools go just after its last byte reached us:
        # give them a moment, then only the verified reference is left.
        end = time.monotonic() + 5
        while len(os.listdir(cache)) != 1 and time.monotonic() < end:
            time.sleep(0.05)
        names = os.listdir(cache)
        assert len(names) == 1 and names[0].startswith("ref-")
        assert not os.path.exists(h.path("h5s3-refcache"))
        # Global only: inside a vhost it is a configuration error.
        bad = make_httpd(conf(rgw).replace(
            "    H5S3TokenSecret", "    H5S3RefCacheDir /tmp\n"
            "    H5S3TokenSecret"), start=False)
        rc, out = bad.check()
        assert rc != 0 and "H5S3RefCacheDir" in out, out
    finally:
        import shutil
        shutil.rmtree(cache, ignore_errors=True)
