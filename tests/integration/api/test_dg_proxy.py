"""Objects written by the DeltaGlider proxy (docs/deltaglider-format.md
§3.3): its metadata spellings (dg-note reference/delta/passthrough, dg-md5,
dg-multipart-etag, user-* fields, dg-encrypted, dg-encryption-key-id,
dg-encrypted-native) on fixtures this test writes itself, read through
/api/objects, /metadata and the downloads, against a real httpd (both MPMs)
and a real Ceph RGW."""

import hashlib
import json
import os
import re
import time
import urllib.parse

import pytest

from harness.api_common import (HOST, LOC, api_conf, api_json,
                                assert_api_error, forge_token, prepare,
                                sha256, token_payload, wait_savings, xdelta)
from harness.common import make_bucket

BUCKET = "dgproxy"
ALIAS = "px"
KEY_ID = "kid-2026-04"
TOOL = "deltaglider_proxy/1.19.0"
CREATED = "2026-04-01T10:00:00.000000Z"


def md5(data):
    return hashlib.md5(data).hexdigest()


@pytest.fixture(scope="module")
def objects(rgw, tmp_path_factory):
    """p/: a reference, a delta (dg-note=delta, dg-ref-path, user-*), a
    passthrough, an encrypted delta and an encrypted passthrough, each
    with the metadata the proxy writes."""
    s3 = rgw.client()
    tmp = str(tmp_path_factory.mktemp("dgproxy"))
    make_bucket(s3, BUCKET)
    seed = hashlib.sha256(b"proxy").digest()
    base = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest()
                    for i in range(200000 // 32))
    v2 = base[:50000] + b"PROXY EDIT" * 100 + base[51000:]
    d = xdelta(base, v2, tmp)
    text = b"served as it is, by the proxy\n"
    secret = hashlib.sha256(b"ciphertext").digest() * 40

    s3.put_object(Bucket=BUCKET, Key="p/reference.bin", Body=base, Metadata={
        "dg-tool": TOOL, "dg-original-name": "app-1.zip",
        "dg-file-sha256": sha256(base), "dg-file-size": str(len(base)),
        "dg-md5": md5(base), "dg-created-at": CREATED,
        "dg-note": "reference", "dg-source-name": "app-1.zip"})
    s3.put_object(Bucket=BUCKET, Key="p/app-2.zip.delta", Body=d, Metadata={
        "dg-tool": TOOL, "dg-original-name": "app-2.zip",
        "dg-file-sha256": sha256(v2), "dg-file-size": str(len(v2)),
        "dg-md5": md5(v2), "dg-created-at": CREATED, "dg-note": "delta",
        "dg-ref-path": "reference.bin", "dg-ref-sha256": sha256(base),
        "dg-delta-size": str(len(d)), "dg-delta-cmd": "xdelta3 -e -9 -S -s",
        "dg-multipart-etag": '"0123abcd-2"',
        "user-owner": "alice", "user-build": "42"})
    s3.put_object(Bucket=BUCKET, Key="p/readme.txt", Body=text, Metadata={
        "dg-tool": TOOL, "dg-original-name": "readme.txt",
        "dg-file-sha256": sha256(text), "dg-file-size": str(len(text)),
        "dg-md5": md5(text), "dg-created-at": CREATED,
        "dg-note": "passthrough", "dg-encrypted-native": "sse-s3",
        "user-team": "web"})
    s3.put_object(Bucket=BUCKET, Key="p/secret.zip.delta", Body=secret,
                  Metadata={
                      "dg-tool": TOOL, "dg-original-name": "secret.zip",
                      "dg-file-sha256": sha256(v2),
                      "dg-file-size": str(len(v2)), "dg-md5": md5(v2),
                      "dg-created-at": CREATED, "dg-note": "delta",
                      "dg-ref-path": "reference.bin",
                      "dg-ref-sha256": sha256(base),
                      "dg-delta-size": str(len(secret)),
                      "dg-encrypted": "aes-256-gcm-v1",
                      "dg-encryption-key-id": KEY_ID})
    s3.put_object(Bucket=BUCKET, Key="p/secret.txt", Body=secret, Metadata={
        "dg-tool": TOOL, "dg-original-name": "secret.txt",
        "dg-file-sha256": sha256(text), "dg-file-size": str(len(text)),
        "dg-md5": md5(text), "dg-created-at": CREATED,
        "dg-note": "passthrough",
        "user-dg-encrypted": "aes-256-gcm-chunked-v1",
        "user-dg-encryption-key-id": KEY_ID, "user-team": "ops"})
    return {"v2": v2, "text": text, "delta": d}


@pytest.fixture
def server(rgw, make_httpd, mpm, objects):
    return make_httpd(api_conf(rgw, buckets=((BUCKET, ALIAS),)), mpm=mpm)


def metadata(h, key):
    status, _, body = api_json(h, "GET", "/api/objects/%s/%s/metadata"
                               % (ALIAS, key))
    assert status == 200, body
    return body


def test_listing_marks_encrypted(server):
    status, _, body = api_json(server, "GET", "/api/objects?bucket=%s"
                               "&prefix=p/&delimiter=/" % ALIAS)
    assert status == 200, body
    objs = {o["key"]: o for o in body["objects"]}
    assert sorted(objs) == ["p/app-2.zip", "p/readme.txt", "p/secret.txt",
                            "p/secret.zip"]
    # Deltas are read for their sizes, so the listing knows.
    assert objs["p/secret.zip"]["encrypted"] is True
    assert objs["p/secret.zip"]["encryption_key_id"] == KEY_ID
    assert "encrypted" not in objs["p/app-2.zip"]
    assert objs["p/app-2.zip"]["compressed"] is True


def test_metadata_of_proxy_objects(server, objects):
    m = metadata(server, "p/app-2.zip")
    assert m["storage"] == "delta" and m["note"] == "delta"
    assert m["reference_key"] == "p/reference.bin"
    assert m["user_metadata"] == {"owner": "alice", "build": "42"}
    assert m["md5"] == md5(objects["v2"])
    assert m["multipart_etag"] == '"0123abcd-2"'
    assert m["encrypted"] is False and "encryption_key_id" not in m
    assert m["original_bytes"] == len(objects["v2"])

    m = metadata(server, "p/readme.txt")
    assert m["storage"] == "direct" and m["note"] == "passthrough"
    assert m["user_metadata"] == {"team": "web"}
    assert m["native_encryption"] == "sse-s3"
    assert m["encrypted"] is False

    m = metadata(server, "p/secret.zip")
    assert m["encrypted"] is True and m["encryption_key_id"] == KEY_ID
    assert m["encryption"] == "aes-256-gcm-v1"
    assert m["user_metadata"] == {}

    m = metadata(server, "p/secret.txt")
    assert m["storage"] == "direct"
    assert m["encrypted"] is True and m["encryption_key_id"] == KEY_ID
    assert m["encryption"] == "aes-256-gcm-chunked-v1"
    # The proxy's markers in its user map are not the user's metadata.
    assert m["user_metadata"] == {"team": "ops"}


def test_encrypted_download_refused(server):
    for key in ("p/secret.zip", "p/secret.txt"):
        status, _, body = api_json(server, "POST", "/api/download/prepare",
                                   {"bucket": ALIAS, "key": key})
        assert status == 422, body
        assert_api_error(body, "encrypted")
        assert KEY_ID in body["error"]["message"]
        assert body["error"]["details"] == {"key": key,
                                            "encryption_key_id": KEY_ID}
    # A token for it (as if signed before): refused before the first byte.
    good = token_payload(prepare(server, ALIAS, "p/readme.txt")
                         ["download_token"])
    tok = forge_token(dict(good, k="p/secret.txt", e="",
                           x=int(time.time()) + 60))
    status, hdrs, data = server.request("GET", LOC + "/api/download/" + tok,
                                        host=HOST)
    assert status == 422, data[:300]
    assert hdrs["Content-Type"].startswith("application/json")
    assert b'"encrypted"' in data and KEY_ID.encode() in data
    assert hashlib.sha256(b"ciphertext").digest() not in data


def test_proxy_downloads_byte_exact(server, objects):
    for key, want in (("p/readme.txt", objects["text"]),
                      ("p/app-2.zip", objects["v2"])):
        tok = prepare(server, ALIAS, key)
        status, hdrs, data = server.request(
            "GET", LOC + "/api/download/" + tok["download_token"], host=HOST)
        assert status == 200, data[:300]
        assert data == want, key
        assert hdrs["Content-Length"] == str(len(want))


JSON_CONF = os.path.join(os.path.dirname(__file__), "..", "..", "..",
                         "conf", "h5s3-json-log.conf")
CODEC_LINE = re.compile(r'H5S3-0150: codec (reconstruct|upload delta) of '
                        r'(\S+): cmd="([^"]*)" duration_ms=(\d+) rc=(-?\d+)')


def read_json_log(h, want):
    end = time.monotonic() + 5
    while True:
        with open(h.path("json.log"), "rb") as f:
            lines = f.read().decode("ascii").splitlines()
        if len(lines) >= want or time.monotonic() > end:
            return [json.loads(ln) for ln in lines]
        time.sleep(0.05)


def test_codec_log(rgw, make_httpd, mpm, objects):
    """The codec log (docs/deltaglider-format.md §5.7): one INFO line per
    xdelta3 run and per savings job, and the request notes in the JSON
    access log; no directory outside the cache shows."""
    h = make_httpd("", mpm=mpm, start=False)
    h.conf_body = ("Include %s\nCustomLog %s h5s3json\n"
                   % (os.path.abspath(JSON_CONF), h.path("json.log"))
                   + api_conf(rgw, buckets=((BUCKET, ALIAS),),
                              extra="    LogLevel h5s3:info\n"
                                    "    H5S3Upload On\n"))
    h.start()
    tok = prepare(h, ALIAS, "p/app-2.zip")
    status, _, data = h.request("GET", LOC + "/api/download/"
                                + tok["download_token"], host=HOST)
    assert status == 200 and data == objects["v2"]
    space = "up-%s/" % os.urandom(4).hex()
    for name, body in (("a.zip", objects["v2"]),
                       ("b.zip", objects["v2"] + b"more")):
        status, _, res = api_json(
            h, "POST", "/api/upload?" + urllib.parse.urlencode(
                {"bucket": ALIAS, "key": space + name}), body=body,
            headers={"Content-Type": "application/octet-stream"})
        assert status == 200 and res["compressed"] is True, res
    status, _, _ = api_json(h, "POST", "/api/buckets/%s/compute-savings"
                            % ALIAS)
    assert status == 202
    wait_savings(h, ALIAS)

    end = time.monotonic() + 5
    while True:
        log = "\n".join(h.error_log_lines())
        if "H5S3-0151" in log or time.monotonic() > end:
            break
        time.sleep(0.05)
    runs = CODEC_LINE.findall(log)
    rec = [r for r in runs if r[0] == "reconstruct"]
    assert len(rec) == 1, runs
    assert rec[0][1] == BUCKET + "/p/app-2.zip"
    assert re.fullmatch(r"xdelta3 -d -c -B 8388608 -s ref-[0-9a-f]{64}\.bin",
                        rec[0][2]), rec
    assert rec[0][4] == "0"
    up = [r for r in runs if r[0] == "upload delta"]
    assert [r[1] for r in up] == [BUCKET + "/" + space + "a.zip",
                                  BUCKET + "/" + space + "b.zip"]
    # The first file is its own reference (a zero-diff delta of its
    # spool), the second is encoded against the cached reference.
    assert re.fullmatch(r"xdelta3 -e -f -9 -D -s (upload-\w+) \1 dgenc-\w+",
                        up[0][2]), up
    assert re.fullmatch(r"xdelta3 -e -f -9 -D -s ref-[0-9a-f]{64}\.bin "
                        r"upload-\w+ dgenc-\w+", up[1][2]), up
    assert all(r[4] == "0" for r in up), up
    assert re.search(r'H5S3-0151: codec savings of bucket %s \(task \S+\): '
                     r'cmd="compute-savings" duration_ms=\d+ rc=0' % BUCKET,
                     log), log[-2000:]

    entries = read_json_log(h, 5)
    coded = [e for e in entries if e["codec_cmd"] is not None]
    assert [e["route"] for e in coded] == ["api_download", "api_upload",
                                           "api_upload"], coded
    assert coded[0]["codec_cmd"] == rec[0][2]
    for e in coded:
        assert isinstance(e["codec_ms"], int) and e["codec_rc"] == 0
    for e in entries:
        if e["codec_cmd"] is None:
            assert e["codec_ms"] is None and e["codec_rc"] is None
