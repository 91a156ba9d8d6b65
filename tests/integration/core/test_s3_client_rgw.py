"""The core S3 client (through tests/tools/h5s3-s3) against a real,
signature-checking Ceph RGW, with boto3 as the independent oracle."""

import hashlib
import json
import os
import random
import time

import pytest

from harness.common import make_bucket
from harness.s3server import closed_port, silent_port
from harness.tools import built_tool, run_json

BUCKET = "s3client"     # this module's own bucket: writes stay out of others'

ODD_KEYS = [
    "sp ace/file one.h5",
    "uni/\u00e9\u20ac\u00fc \u30d5\u30a1\u30a4\u30eb.bin",
    "pct/100%.bin",
    "pct/%41%2F%zz.bin",
    "plus/a+b+.bin",
    "mix/a b+c%d~e!'()*&=;:@,$.h5",
    "dots/x//y/./z/../w",
    "tilde~/under_score-dash.dot.",
]


@pytest.fixture(scope="module")
def tool():
    return built_tool("h5s3-s3")


@pytest.fixture(scope="module")
def s3(rgw):
    return make_bucket(rgw.client(), BUCKET)


def run(tool, rgw, *args, env=None, timeout=60):
    """(exit code, parsed JSON) of one h5s3-s3 command."""
    return run_json(tool, rgw, *args, env=env, timeout=timeout)


def boto_keys(s3, bucket, **kw):
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                             **kw):
        out.extend(page.get("Contents", []))
    return out


def test_list_continuation_over_1205_objects(tool, rgw, s3):
    rc, out = run(tool, rgw, "list", "many", "--all")
    assert rc == 0
    assert out["pages"] == 2 and out["requests"] == 2
    assert out["truncated"] is False and out["next_token"] is None
    ours = [(k["key"], k["size"], k["etag"]) for k in out["keys"]]
    theirs = [(o["Key"], o["Size"], o["ETag"].strip('"'))
              for o in boto_keys(s3, "many")]
    assert len(ours) == 1205
    assert ours == theirs
    assert ours[0] == ("obj-0000.txt", 9,
                       hashlib.md5(b"object 0\n").hexdigest())


def test_list_small_pages_and_one_page(tool, rgw):
    rc, out = run(tool, rgw, "list", "many", "-n", "500", "--all")
    assert rc == 0 and out["pages"] == 3 and len(out["keys"]) == 1205
    rc, out = run(tool, rgw, "list", "many", "-n", "7")
    assert rc == 0 and len(out["keys"]) == 7 and out["truncated"] is True
    token = out["next_token"]
    assert token
    rc, nxt = run(tool, rgw, "list", "many", "-n", "7", "-t", token)
    assert rc == 0
    assert nxt["keys"][0]["key"] == "obj-0007.txt"


def test_list_delimiter_matches_boto3(tool, rgw, s3):
    rc, out = run(tool, rgw, "list", "h5data", "-d", "/")
    assert rc == 0
    resp = s3.list_objects_v2(Bucket="h5data", Delimiter="/")
    assert out["prefixes"] == [p["Prefix"]
                               for p in resp.get("CommonPrefixes", [])]
    assert out["prefixes"], "h5data should have folders"
    assert [k["key"] for k in out["keys"]] == \
        [o["Key"] for o in resp.get("Contents", [])]


def test_seeded_awkward_keys_listed_like_boto3(tool, rgw, s3):
    rc, out = run(tool, rgw, "list", "h5data", "--all")
    assert rc == 0
    theirs = boto_keys(s3, "h5data")
    assert [(k["key"], k["size"]) for k in out["keys"]] == \
        [(o["Key"], o["Size"]) for o in theirs]
    for k, o in zip(out["keys"], theirs):
        assert abs(k["mtime"] - o["LastModified"].timestamp()) < 1


@pytest.mark.parametrize("key", ODD_KEYS)
def test_odd_key_round_trip(tool, rgw, s3, tmp_path, key):
    data = os.urandom(3000) + key.encode()
    src = tmp_path / "src"
    src.write_bytes(data)
    rc, out = run(tool, rgw, "put", BUCKET, key, str(src), "-c",
                  "application/x-hdf5", "-M", "Author=Ann Smith",
                  "-M", "origin=h5s3 test")
    assert rc == 0, out
    # boto3 sees the very key, bytes, type and metadata.
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"') == hashlib.md5(data).hexdigest()
    assert head["ContentType"] == "application/x-hdf5"
    assert head["Metadata"] == {"author": "Ann Smith",
                                "origin": "h5s3 test"}
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data
    # And the client reads it back the same ways.
    rc, out = run(tool, rgw, "head", BUCKET, key)
    assert rc == 0
    info = out["info"]
    assert info["size"] == len(data)
    assert info["etag"] == hashlib.md5(data).hexdigest()
    assert info["content_type"] == "application/x-hdf5"
    assert info["meta"] == {"author": "Ann Smith", "origin": "h5s3 test"}
    assert abs(info["mtime"] - head["LastModified"].timestamp()) < 1
    got = tmp_path / "got"
    rc, out = run(tool, rgw, "get-range", BUCKET, key, "100", "50", "-o",
                  str(got))
    assert rc == 0 and out["got"] == 50
    assert got.read_bytes() == data[100:150]
    rc, out = run(tool, rgw, "get", BUCKET, key, "-o", str(got))
    assert rc == 0 and got.read_bytes() == data
    prefix = key.split("/")[0]
    rc, out = run(tool, rgw, "list", BUCKET, "-P", prefix)
    assert rc == 0
    assert key in [k["key"] for k in out["keys"]]
    assert [k["key"] for k in out["keys"]] == \
        [o["Key"] for o in boto_keys(s3, BUCKET, Prefix=prefix)]


def test_key_written_by_boto3_read_by_client(tool, rgw, s3, tmp_path):
    key = "boto/\u00c5ngstr\u00f6m + 50% & <more>.h5"
    data = b"written by boto3\n" * 100
    s3.put_object(Bucket=BUCKET, Key=key, Body=data,
                  Metadata={"dg-ref": "a/b c.bin", "x": "1"})
    rc, out = run(tool, rgw, "head", BUCKET, key)
    assert rc == 0
    assert out["info"]["meta"] == {"dg-ref": "a/b c.bin", "x": "1"}
    rc, out = run(tool, rgw, "list", BUCKET, "-P", "boto/")
    assert [k["key"] for k in out["keys"]] == [key]
    got = tmp_path / "got"
    rc, out = run(tool, rgw, "get", BUCKET, key, "-o", str(got))
    assert rc == 0 and got.read_bytes() == data


def largest_local_object(rgw, bucket="h5data"):
    objs = [o for o in rgw.manifest["objects"]
            if o["bucket"] == bucket and not o["key"].endswith("/")
            and os.path.isfile(os.path.join(rgw.fixtures, bucket, o["key"]))]
    o = max(objs, key=lambda o: o["size"])
    with open(os.path.join(rgw.fixtures, bucket, o["key"]), "rb") as f:
        return o["key"], f.read()


def test_ranged_get_bytes_match(tool, rgw, tmp_path):
    key, data = largest_local_object(rgw)
    size = len(data)
    assert size > 4096
    got = tmp_path / "got"
    for off, n in [(0, 1), (0, 512), (1000, 3000), (size - 10, 10),
                   (size - 10, 100)]:
        rc, out = run(tool, rgw, "get-range", "h5data", key, str(off),
                      str(n), "-o", str(got))
        assert rc == 0, out
        want = data[off:off + n]
        assert out["got"] == len(want)
        assert got.read_bytes() == want
    # At or past the end: nothing, and not an error.
    rc, out = run(tool, rgw, "get-range", "h5data", key, str(size), "10")
    assert rc == 0 and out["got"] == 0 and out["errors"] == 0


def test_if_match(tool, rgw):
    key, data = largest_local_object(rgw)
    etag = hashlib.md5(data).hexdigest()
    rc, out = run(tool, rgw, "get-range", "h5data", key, "0", "8",
                  "-m", etag)
    assert rc == 0 and out["got"] == 8
    rc, out = run(tool, rgw, "get-range", "h5data", key, "0", "8",
                  "-m", "0" * 32)
    assert rc == 1
    assert out["status"] == "changed" and out["http_status"] == 412
    rc, out = run(tool, rgw, "get", "h5data", key, "-m", "0" * 32)
    assert out["status"] == "changed"


def test_get_ranges_twenty(tool, rgw, tmp_path):
    key, data = largest_local_object(rgw)
    rnd = random.Random(7)
    ranges = []
    for _ in range(19):
        off = rnd.randrange(0, len(data) - 1)
        ranges.append((off, rnd.randrange(1, 5000)))
    ranges.append((len(data) - 3, 3))
    spec = ",".join("%d:%d" % r for r in ranges)
    got = tmp_path / "got"
    rc, out = run(tool, rgw, "get-ranges", "h5data", key, spec, "-p", "6",
                  "-o", str(got))
    assert rc == 0, out
    assert out["requests"] == 20 and out["errors"] == 0
    want = b"".join(data[o:o + n] for o, n in ranges)
    assert [r["got"] for r in out["ranges"]] == \
        [len(data[o:o + n]) for o, n in ranges]
    assert got.read_bytes() == want
    assert out["bytes"] == len(want)


def test_streaming_put_and_get(tool, rgw, s3, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    src = tmp_path / "big"
    src.write_bytes(data)
    rc, out = run(tool, rgw, "put", BUCKET, "stream/big.bin", str(src),
                  "--stream", "-M", "sha256=" + hashlib.sha256(data)
                  .hexdigest())
    assert rc == 0, out
    head = s3.head_object(Bucket=BUCKET, Key="stream/big.bin")
    assert head["ContentLength"] == len(data)
    assert head["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()
    got = tmp_path / "got"
    rc, out = run(tool, rgw, "get", BUCKET, "stream/big.bin", "-o",
                  str(got))
    assert rc == 0 and got.read_bytes() == data
    assert out["bytes"] == len(data)
    assert out["info"]["size"] == len(data)


def test_wrong_secret_denied(tool, rgw):
    secret = "not-the-secret-" + "x" * 20
    for args in (("list", "h5data"), ("get-range", "h5data",
                                      "notes/readme.txt", "0", "5")):
        rc, out = run(tool, rgw, *args, env={"H5S3_SECRET_KEY": secret})
        assert rc == 1
        assert out["status"] == "denied" and out["http_status"] == 403
        assert out["code"] == "SignatureDoesNotMatch"
        text = json.dumps(out)
        assert secret not in text and rgw.secret_key not in text


def test_unknown_access_key_denied(tool, rgw):
    rc, out = run(tool, rgw, "list", "h5data",
                  env={"H5S3_ACCESS_KEY": "NOSUCHKEY0000000"})
    assert out["status"] == "denied" and out["code"] == "InvalidAccessKeyId"


def test_anonymous_denied(tool, rgw):
    env = {"H5S3_ACCESS_KEY": None, "H5S3_SECRET_KEY": None}
    rc, out = run(tool, rgw, "list", "h5data", env=env)
    assert rc == 1 and out["status"] == "denied"
    assert out["code"] == "AccessDenied"
    rc, out = run(tool, rgw, "head", "h5data", "notes/readme.txt", env=env)
    assert rc == 1 and out["status"] == "denied" and out["http_status"] == 403


def test_not_found(tool, rgw):
    rc, out = run(tool, rgw, "head", "h5data", "no/such/key.h5")
    assert out["status"] == "not_found" and out["http_status"] == 404
    rc, out = run(tool, rgw, "get-range", "h5data", "no/such/key.h5", "0",
                  "10")
    assert out["status"] == "not_found" and out["code"] == "NoSuchKey"
    rc, out = run(tool, rgw, "list", "no-such-bucket-h5s3")
    assert out["status"] == "not_found" and out["code"] == "NoSuchBucket"


def test_closed_port_unreachable_fast(tool, rgw):
    port = closed_port()
    t0 = time.monotonic()
    rc, out = run(tool, rgw, "head", "h5data", "notes/readme.txt",
                  env={"H5S3_ENDPOINT": "http://127.0.0.1:%d" % port})
    elapsed = time.monotonic() - t0
    assert rc == 1 and out["status"] == "unreachable"
    assert out["http_status"] == 0 and out["code"] == "ConnectFailed"
    assert elapsed < 2.0


def test_silent_server_times_out(tool, rgw):
    port = silent_port()
    t0 = time.monotonic()
    rc, out = run(tool, rgw, "get-range", "h5data", "notes/readme.txt", "0",
                  "5", env={"H5S3_ENDPOINT": "http://127.0.0.1:%d" % port,
                            "H5S3_TIMEOUT_MS": "800"})
    elapsed = time.monotonic() - t0
    assert rc == 1 and out["status"] == "timeout"
    assert 0.7 < elapsed < 5.0


def test_threads_share_the_handle_pool(tool, rgw):
    """8 threads x 150 ranged GETs on the shared pool, every byte checked."""
    key, data = largest_local_object(rgw)
    mark = rgw.request_count()
    rc, out = run(tool, rgw, "stress", "h5data", key, "8", "150",
                  timeout=120)
    assert rc == 0, out
    assert out["mismatched"] == 0 and out["failed"] == 0
    assert out["requests"] == 1 + 8 * 150
    assert len(rgw.requests_since(mark)) == out["requests"]
