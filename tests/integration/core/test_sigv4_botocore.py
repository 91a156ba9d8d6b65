"""The core's SigV4 signer against botocore, with no server involved.

For each request, botocore signs it (S3SigV4Auth on an AWSRequest with a
fixed clock, and boto3's own S3 client whose prepared request is caught
before it is sent) and tests/tools/h5s3-sign signs the same raw inputs; the
Authorization headers, and the encoded path and query, must be identical.
"""

import datetime
import hashlib
import json
import subprocess
import urllib.parse
from unittest import mock

import boto3
import botocore.auth
import botocore.config
import botocore.credentials
from botocore.awsrequest import AWSRequest
import pytest

from harness.tools import built_tool

HOST = "127.0.0.1:7480"
ACCESS = "AKIDH5S3BOTOCORE01"
SECRET = "s3cr3t/With+Odd=Chars/0123456789abcdef"
REGION = "eu-central-1"
WHEN = datetime.datetime(2024, 5, 1, 12, 34, 56)
AMZ_DATE = "20240501T123456Z"

EMPTY = hashlib.sha256(b"").hexdigest()
TOKEN = "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="


@pytest.fixture(scope="module")
def sign_tool():
    return built_tool("h5s3-sign")


def h5s3_sign(tool, method, host, path, query, headers, payload_hash,
              date=AMZ_DATE, region=REGION):
    req = {"method": method, "host": host, "path": path,
           "query": [list(kv) for kv in query],
           "headers": [list(kv) for kv in headers],
           "payload_hash": payload_hash, "date": date, "region": region,
           "service": "s3", "access_key": ACCESS, "secret_key": SECRET}
    out = subprocess.run([tool, "--json"], input=json.dumps(req).encode(),
                         capture_output=True, timeout=10)
    assert out.returncode == 0, out.stderr.decode()
    return json.loads(out.stdout)


# (name, method, key or None for the bucket, query pairs, headers, body)
CASES = [
    ("get-range", "GET", "data/file 1.h5", [],
     [("Range", "bytes=1024-2047")], b""),
    ("get-range-if-match", "GET", "deep/path/x.h5", [],
     [("Range", "bytes=0-0"), ("If-Match", '"9b2cf535f27731c974343645a3985328"')],
     b""),
    ("head-unicode", "HEAD", "dir/\u00e9 \u00fc/\u30d5\u30a1\u30a4\u30eb.h5",
     [], [], b""),
    ("get-reserved-chars", "GET", "a+b%20c/d~e!'()*&=;:@,$[]#?.h5", [], [],
     b""),
    ("get-double-slash", "GET", "x//y/./z/../w", [], [], b""),
    ("list-v2", "GET", None,
     [("list-type", "2"), ("prefix", "a b/c+d%e/\u00e9\u20ac"),
      ("delimiter", "/"), ("continuation-token", TOKEN),
      ("max-keys", "1000")], [], b""),
    ("list-v2-plain", "GET", None,
     [("list-type", "2"), ("max-keys", "2"), ("prefix", "J")], [], b""),
    ("put-meta", "PUT", "uploads/new file+1.h5", [],
     [("Content-Type", "application/x-hdf5"),
      ("x-amz-meta-author", "Ann  Smith "),
      ("X-Amz-Meta-Mixed-Case", "v1"),
      ("x-amz-meta-sha256", hashlib.sha256(b"x").hexdigest())],
     b"hello, world\n" * 10),
]


def raw_path(key, bucket="h5data"):
    return "/" + bucket + ("/" + key if key is not None else "")


def botocore_sign(method, key, query, headers, body):
    path = urllib.parse.quote(raw_path(key), safe="/~")
    url = "http://%s%s" % (HOST, path)
    req = AWSRequest(method=method, url=url, headers=dict(headers),
                     data=body, params=dict(query))
    creds = botocore.credentials.Credentials(ACCESS, SECRET)
    with mock.patch("botocore.auth.datetime") as dt:
        dt.datetime.utcnow.return_value = WHEN
        botocore.auth.S3SigV4Auth(creds, "s3", REGION).add_auth(req)
    assert req.headers["X-Amz-Date"] == AMZ_DATE
    return req, path


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_matches_s3sigv4auth(sign_tool, case):
    _, method, key, query, headers, body = case
    req, encoded_path = botocore_sign(method, key, query, headers, body)
    payload = req.headers["X-Amz-Content-SHA256"]
    assert payload == hashlib.sha256(body).hexdigest()
    ours = h5s3_sign(sign_tool, method, HOST, raw_path(key), query,
                     list(headers) + [("x-amz-content-sha256", payload)],
                     payload)
    assert ours["authorization"] == req.headers["Authorization"]
    assert ours["canonical_uri"] == encoded_path


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_wrong_secret_or_date_differs(sign_tool, case):
    """The comparison above can fail: a changed input changes the result."""
    _, method, key, query, headers, body = case
    req, _ = botocore_sign(method, key, query, headers, body)
    payload = req.headers["X-Amz-Content-SHA256"]
    other = h5s3_sign(sign_tool, method, HOST, raw_path(key), query,
                      list(headers) + [("x-amz-content-sha256", payload)],
                      payload, date="20240501T123457Z")
    assert other["authorization"] != req.headers["Authorization"]


class Sent(Exception):
    """Raised from before-send: the prepared request, never sent."""

    def __init__(self, request):
        super().__init__("captured")
        self.request = request


def capture(call):
    """The request boto3's S3 client would send for call(client)."""
    cfg = botocore.config.Config(s3={"addressing_style": "path"},
                                 retries={"max_attempts": 1})
    s3 = boto3.session.Session().client(
        "s3", endpoint_url="http://" + HOST, region_name=REGION,
        aws_access_key_id=ACCESS, aws_secret_access_key=SECRET, config=cfg)

    def stop(request, **kwargs):
        raise Sent(request)

    s3.meta.events.register("before-send", stop)
    with pytest.raises(Sent) as caught:
        call(s3)
    return caught.value.request


CLIENT_CASES = [
    ("get_object-range", lambda s3: s3.get_object(
        Bucket="h5data", Key="dir/a b+c%d/\u00e9\u20ac x.h5",
        Range="bytes=100-199")),
    ("head_object", lambda s3: s3.head_object(
        Bucket="h5data", Key="k~ey with spaces/and (parens).h5")),
    ("list_objects_v2", lambda s3: s3.list_objects_v2(
        Bucket="h5data", Prefix="a b/c+d%e/\u00e9", Delimiter="/",
        ContinuationToken=TOKEN, MaxKeys=1000)),
    ("put_object-meta", lambda s3: s3.put_object(
        Bucket="h5data", Key="up/f+1 %.h5", Body=b"0123456789",
        ContentType="application/x-hdf5",
        Metadata={"author": "Ann Smith", "dg-ref": "x/reference.bin"})),
]


@pytest.mark.parametrize("case", CLIENT_CASES, ids=[c[0] for c in CLIENT_CASES])
def test_matches_boto3_client(sign_tool, case):
    sent = capture(case[1])
    url = urllib.parse.urlsplit(sent.url)
    auth = sent.headers["Authorization"]
    auth = auth.decode() if isinstance(auth, bytes) else auth
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")

    def header(name):
        v = sent.headers[name]
        return v.decode() if isinstance(v, bytes) else v

    headers = [(n, header(n)) for n in signed if n not in ("host",
                                                            "x-amz-date")]
    query = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
    # h5s3 gets the raw (decoded) key and query, as the core's callers do.
    ours = h5s3_sign(sign_tool, sent.method, url.netloc,
                     urllib.parse.unquote(url.path), query, headers,
                     header("x-amz-content-sha256"),
                     date=header("x-amz-date"))
    assert ours["authorization"] == auth
    # And the URL the core would send is the one boto3 sends.
    assert ours["canonical_uri"] == url.path
    assert sorted(filter(None, ours["canonical_query"].split("&"))) == \
        sorted(filter(None, url.query.split("&")))
