"""POST /api/upload (H5S3Upload On): the raw body is stored the way
DeltaGlider stores files; checked with boto3 and the xdelta3 CLI, then
downloaded back through the API byte-exactly."""

import gzip
import http.client
import os
import subprocess
import urllib.parse

import pytest

from harness.api_common import (HOST, LOC, api_conf, api_json,
                                assert_api_error, prepare, sha256)
from harness.common import make_bucket

BUCKET = "dgupload"


@pytest.fixture(scope="module")
def bucket(rgw):
    return make_bucket(rgw.client(), BUCKET)


def conf(rgw, upload="On", limit="2M"):
    extra = "    H5S3Upload %s\n    H5S3MaxUploadSize %s\n" % (upload, limit)
    return api_conf(rgw, buckets=((BUCKET, "up"),), extra=extra)


def upload(h, key, data, headers=None, bucket="up"):
    """POST the raw file, as application/octet-stream unless headers say
    otherwise."""
    path = "/api/upload?" + urllib.parse.urlencode(
        {"bucket": bucket, "key": key})
    hdrs = {"Content-Type": "application/octet-stream"}
    hdrs.update(headers or {})
    return api_json(h, "POST", path, body=data, headers=hdrs)


def test_upload_then_download(rgw, make_httpd, mpm, bucket, tmp_path):
    h = make_httpd(conf(rgw), mpm=mpm)
    prefix = "rt/%s/" % os.urandom(4).hex()
    base = os.urandom(400000)
    v1 = base
    v2 = base[:150000] + b"patched" * 50 + base[150000:] + os.urandom(5000)
    notes = b"uploaded notes\n"
    tgz = gzip.compress(base, mtime=0)

    # The listing of the prefix is cached (30 s) before the upload ...
    _, _, before = api_json(h, "GET", "/api/objects?bucket=up&prefix="
                            + prefix)
    assert before["objects"] == []

    status, _, r1 = upload(h, prefix + "v1.zip", v1)
    assert status == 200, r1
    assert r1["status"] == "ok" and r1["key"] == prefix + "v1.zip"
    assert r1["compressed"] is True and r1["sha256"] == sha256(v1)
    status, _, r2 = upload(h, prefix + "v2.zip", v2)
    assert status == 200 and r2["compressed"] is True
    assert r2["stored_bytes"] < 20000 and r2["original_bytes"] == len(v2)
    # A file's own media type does as well as octet-stream (text/plain
    # is a form type: hostile/test_sec_web.py).
    status, _, r3 = upload(h, prefix + "notes.txt", notes,
                           headers={"Content-Type": "text/markdown"})
    assert status == 200 and r3["compressed"] is False
    status, _, r4 = upload(h, prefix + "a.tgz", tgz)
    assert status == 200 and r4["compressed"] is True

    # ... and is dropped everywhere by the upload.
    _, hdrs, after = api_json(h, "GET", "/api/objects?bucket=up&prefix="
                              + prefix)
    assert sorted(o["key"] for o in after["objects"]) == [
        prefix + k for k in ("a.tgz", "notes.txt", "v1.zip", "v2.zip")]
    sizes = {o["key"]: o["original_bytes"] for o in after["objects"]}
    assert sizes[prefix + "v2.zip"] == len(v2)

    # S3 holds DeltaGlider's layout (boto3 as the oracle).
    keys = sorted(o["Key"] for o in bucket.list_objects_v2(
        Bucket=BUCKET, Prefix=prefix)["Contents"])
    assert keys == [prefix + k for k in ("a.tgz.delta", "notes.txt",
                                         "reference.bin", "v1.zip.delta",
                                         "v2.zip.delta")]
    d2 = bucket.head_object(Bucket=BUCKET,
                            Key=prefix + "v2.zip.delta")["Metadata"]
    assert d2["dg-file-sha256"] == sha256(v2)
    assert d2["dg-ref-sha256"] == sha256(v1)
    # The plain xdelta3 CLI decodes what we stored.
    rp, dp, op = (str(tmp_path / n) for n in ("r", "d", "o"))
    bucket.download_file(BUCKET, prefix + "reference.bin", rp)
    bucket.download_file(BUCKET, prefix + "v2.zip.delta", dp)
    subprocess.run(["xdelta3", "-d", "-f", "-s", rp, dp, op], check=True)
    with open(op, "rb") as f:
        assert f.read() == v2

    # Round trip through the API.
    for name, data in (("v1.zip", v1), ("v2.zip", v2), ("notes.txt", notes),
                       ("a.tgz", tgz)):
        tok = prepare(h, "up", prefix + name)["download_token"]
        status, _, body = h.request("GET", LOC + "/api/download/" + tok,
                                    host=HOST)
        assert status == 200 and sha256(body) == sha256(data), name


def test_chunked_upload(rgw, make_httpd, bucket):
    h = make_httpd(conf(rgw))
    data = os.urandom(300000)
    conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    conn.putrequest("POST", LOC + "/api/upload?bucket=up&key=chunked/x.bin",
                    skip_host=True)
    conn.putheader("Host", HOST)
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for i in range(0, len(data), 65536):
        piece = data[i:i + 65536]
        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    conn.send(b"0\r\n\r\n")
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    resp.read()
    conn.close()
    got = bucket.get_object(Bucket=BUCKET, Key="chunked/x.bin")["Body"]
    assert sha256(got.read()) == sha256(data)


def test_upload_limits_and_refusals(rgw, make_httpd, bucket):
    h = make_httpd(conf(rgw, limit="100K"))
    status, _, body = upload(h, "big/x.bin", b"x" * (100 * 1024 + 1))
    assert status == 413
    assert_api_error(body, "payload_too_large")
    assert body["error"]["details"]["limit"] == 100 * 1024
    status, _, body = upload(h, "big/ok.bin", b"x" * (100 * 1024))
    assert status == 200
    # Chunked bodies are counted as they arrive.
    conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    conn.putrequest("POST", LOC + "/api/upload?bucket=up&key=big/c.bin",
                    skip_host=True)
    conn.putheader("Host", HOST)
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    try:
        for _ in range(5):
            conn.send(b"8000\r\n" + b"y" * 0x8000 + b"\r\n")
        conn.send(b"0\r\n\r\n")
    except OSError:
        pass
    resp = conn.getresponse()
    assert resp.status == 413
    conn.close()
    keys = [o["Key"] for o in bucket.list_objects_v2(
        Bucket=BUCKET, Prefix="big/").get("Contents", [])]
    assert keys == ["big/ok.bin"]
    for key in ("", "/abs.txt", "dir/", "x/reference.bin", "x/y.zip.delta",
                ".deltaglider/x.json"):
        status, _, body = upload(h, key, b"data")
        assert status == 400, key
        assert_api_error(body, "invalid_parameter")
        assert body["error"]["details"]["parameter"] == "key"
    status, _, body = upload(h, "m.txt", b"--x\r\n",
                             headers={"Content-Type":
                                      "multipart/form-data; boundary=x"})
    assert status == 415
    assert_api_error(body, "unsupported_media_type")
    assert body["error"]["details"]["header"] == "Content-Type"
    status, _, body = upload(h, "m.txt", b"data", bucket="nope")
    assert status == 404
    assert_api_error(body, "bucket_not_found")


def test_upload_disabled_by_default(rgw, make_httpd):
    h = make_httpd(api_conf(rgw, buckets=((BUCKET, "up"),)))
    status, _, body = upload(h, "x.txt", b"data")
    assert status == 403
    assert_api_error(body, "upload_disabled")
    h2 = make_httpd(conf(rgw, upload="Off"))
    assert upload(h2, "x.txt", b"data")[0] == 403


@pytest.mark.parametrize("line,message", [
    ("H5S3MaxUploadSize lots", "H5S3MaxUploadSize: 'lots' is not valid"),
    ("H5S3MaxUploadSize 0", "H5S3MaxUploadSize: '0' is not valid"),
    ("H5S3Upload maybe", "H5S3Upload"),
    ("H5S3TokenSecret short", "H5S3TokenSecret: the secret needs at least"),
    ("H5S3TokenSecret env:H5S3_NO_SUCH_VARIABLE",
     "H5S3TokenSecret: 'env:H5S3_NO_SUCH_VARIABLE'"),
])
def test_directives_are_checked(rgw, make_httpd, line, message):
    h = make_httpd(api_conf(rgw, secret=None, extra="    %s\n" % line),
                   start=False)
    rc, out = h.check()
    assert rc != 0 and message in out, out
    if "short" in line:
        # A literal secret is never echoed.
        assert "'short'" not in out


def test_token_secret_from_file(rgw, make_httpd):
    path = "/tmp/h5s3-api-secret-%d" % os.getpid()
    with open(path, "w") as f:
        f.write("a-secret-read-from-a-file-0123\n")
    try:
        h = make_httpd(api_conf(rgw, secret="file:" + path,
                                buckets=((BUCKET, "up"),)))
        assert not [ln for ln in h.error_log_lines()
                    if "H5S3TokenSecret is not set" in ln]
        bucket_keys = api_json(h, "GET", "/api/objects?delimiter=&limit=1")
        assert bucket_keys[0] == 200
    finally:
        os.unlink(path)
