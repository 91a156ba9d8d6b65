"""Helpers shared by the /api tests (api/, hostile/test_sec_*.py and the
DeltaGlider core tool's core/test_dg_core_rgw.py): vhost configs, the
manifest views, token forging and a bucket with many objects."""

import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import time

from botocore.config import Config

from .common import make_bucket, vhost

SECRET = "api-integration-secret-0123456789"
HOST = "api.test"
LOC = "/dg"

# Big enough that paging means something, small enough to seed in seconds.
MANY_BUCKET = "dgmany"
MANY_PLAIN = 8000
MANY_DELTAS = 2000


def api_conf(rgw, name=HOST, buckets=(("dgdata", "data"), ("dgedge", "edge")),
             extra="", secret=SECRET, location=LOC, endpoint=None):
    """A vhost serving the API under `location` (aliases differ from the
    bucket names on purpose: the API speaks aliases)."""
    lines = ""
    if secret:
        lines += "    H5S3TokenSecret %s\n" % secret
    return vhost(rgw, name, buckets, location=location, extra=lines + extra,
                 endpoint=endpoint)


def logical(rgw, bucket):
    """logical key -> manifest entry, for what a user should see."""
    return {o["logical_key"]: o for o in rgw.manifest["objects"]
            if o["bucket"] == bucket and o.get("logical_key")}


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    """SHA-256 hex of a file, read in 4 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(4 * 1024 * 1024), b""):
            h.update(block)
    return h.hexdigest()


def xdelta(ref, target, tmp):
    """A delta of target against ref, made by the xdelta3 tool."""
    rp, tp, op = (os.path.join(tmp, n) for n in ("r", "t", "o"))
    for p, d in ((rp, ref), (tp, target)):
        with open(p, "wb") as f:
            f.write(d)
    subprocess.run(["xdelta3", "-e", "-f", "-9", "-S", "none", "-s", rp, tp,
                    op], check=True, capture_output=True)
    with open(op, "rb") as f:
        return f.read()


def dg_meta(name, data, ref_key, ref_sha, delta):
    """DeltaGlider metadata of a delta of `data` against ref_key."""
    return {"dg-tool": "test/1", "dg-original-name": name,
            "dg-file-sha256": sha256(data), "dg-file-size": str(len(data)),
            "dg-ref-key": ref_key, "dg-ref-sha256": ref_sha,
            "dg-delta-size": str(len(delta)),
            "dg-created-at": "2025-10-16T12:00:00Z"}


def cache_scope(endpoint, access_key, secret_key):
    """What the module scopes its caches by (glue/config.c): the endpoint,
    "#", the first 16 bytes of SHA-256(access NUL secret) in hex."""
    cred = hashlib.sha256(access_key.encode() + b"\0" + secret_key.encode())
    return "%s#%s" % (endpoint, cred.hexdigest()[:32])


def refcache_name(scope, bucket, ref_key, ref_sha):
    """The reference cache's file for one reference (include/dg/h5s3_dg.h,
    h5s3_dg_ref_cache_name): "ref-" SHA-256 of the four parts, each
    NUL-terminated, ".bin"."""
    h = hashlib.sha256()
    for part in (scope, bucket, ref_key, ref_sha):
        h.update(part.encode() + b"\0")
    return "ref-%s.bin" % h.hexdigest()


def rgw_refcache_name(rgw, bucket, ref_key, ref_sha, endpoint=None):
    """refcache_name for a vhost made by api_conf/vhost against rgw."""
    return refcache_name(cache_scope(endpoint or rgw.endpoint,
                                     rgw.access_key, rgw.secret_key),
                         bucket, ref_key, ref_sha)


def release_and_patch(v1, v2, size):
    """v1: size random bytes; v2: v1 with 39 scattered edits (a release
    and its patch, the case DeltaGlider exists for)."""
    with open(v1, "wb") as f:
        left = size
        while left > 0:
            n = min(left, 8 * 1024 * 1024)
            f.write(os.urandom(n))
            left -= n
    shutil.copyfile(v1, v2)
    with open(v2, "r+b") as f:
        for i in range(1, 40):
            f.seek(i * size // 40)
            f.write(b"patched block %d " % i * 64)


def api_json(h, method, path, body=None, host=HOST, headers=None):
    """(status, headers, parsed JSON); fails loudly on a non-JSON body.
    A POST says Content-Type: application/json unless headers name
    another type (the module refuses the types a web page could send
    cross-site)."""
    hdrs = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        hdrs.setdefault("Content-Type", "application/json")
    if method == "POST" and not any(k.lower() == "content-type"
                                    for k in hdrs):
        hdrs["Content-Type"] = "application/json"
    status, rh, data = h.request(method, LOC + path, body=body,
                                 headers=hdrs, host=host)
    ctype = rh.get("Content-Type", "")
    assert ctype.startswith("application/json"), (status, ctype, data[:300])
    return status, rh, json.loads(data)


def assert_api_error(body, code):
    """The /api error envelope (docs/browser-api.md §2), exactly."""
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "details"}, err
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["details"], dict)


def prepare(h, bucket, key, host=HOST):
    status, _, body = api_json(h, "POST", "/api/download/prepare",
                               {"bucket": bucket, "key": key}, host=host)
    assert status == 200, body
    return body


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def forge_token(payload, secret=SECRET):
    """A token the way include/base/h5s3_token.h makes them: b64url(payload)
    "." b64url(HMAC-SHA256(secret, b64url(payload)))."""
    body = b64url(json.dumps(payload, separators=(",", ":")).encode())
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return body + "." + b64url(mac)


def token_payload(token):
    return json.loads(b64url_decode(token.split(".")[0]))


def many_bucket(rgw):
    """MANY_BUCKET with MANY_PLAIN plain objects and MANY_DELTAS small
    fake deltas (dg-file-size metadata, never downloaded) spread over
    folders; idempotent, so every module may call it."""
    s3 = make_bucket(rgw.client(), MANY_BUCKET)
    have = 0
    for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=MANY_BUCKET):
        have += page.get("KeyCount", 0)
    items = []
    for i in range(MANY_PLAIN):
        items.append(("plain/p%02d/f-%05d.txt" % (i % 10, i),
                      b"x" * (i % 97), None))
    for i in range(MANY_DELTAS):
        items.append(("deltas/d%02d/v-%05d.zip.delta" % (i % 10, i),
                      b"d" * 10, {"dg-file-size": str(1000 + i),
                                  "dg-file-sha256": "0" * 64,
                                  "dg-ref-key": "deltas/d%02d/reference.bin"
                                  % (i % 10),
                                  "dg-ref-sha256": "1" * 64}))
    if have < len(items):
        import boto3
        client = boto3.client(
            "s3", endpoint_url=rgw.endpoint, region_name=rgw.region,
            aws_access_key_id=rgw.access_key,
            aws_secret_access_key=rgw.secret_key,
            config=Config(s3={"addressing_style": "path"},
                          max_pool_connections=48,
                          retries={"max_attempts": 3}))
        t0 = time.monotonic()

        def put(item):
            key, data, meta = item
            client.put_object(Bucket=MANY_BUCKET, Key=key, Body=data,
                              Metadata=meta or {})

        with concurrent.futures.ThreadPoolExecutor(48) as ex:
            list(ex.map(put, items))
        print("seeded %s: %d objects in %.1fs" % (
            MANY_BUCKET, len(items), time.monotonic() - t0))
    return {"bucket": MANY_BUCKET, "plain": MANY_PLAIN,
            "deltas": MANY_DELTAS,
            "logical": sorted(k[:-6] if k.endswith(".delta") else k
                              for k, _, _ in items),
            "sizes": {(k[:-6] if k.endswith(".delta") else k):
                      (int(m["dg-file-size"]) if m else len(d))
                      for k, d, m in items}}


def python_savings(s3, bucket):
    """docs/deltaglider-format.md §7, computed with boto3: the
    independent oracle of both the core tool and the /api savings jobs."""
    objs = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        objs += page.get("Contents", [])
    count = orig = stored = 0
    refs, with_delta = {}, set()
    for o in objs:
        k, size = o["Key"], o["Size"]
        space = k[:k.rfind("/") + 1]
        if k.rsplit("/", 1)[-1] == "reference.bin":
            refs[space] = size
            continue
        if k.startswith(".deltaglider/") or "/.deltaglider/" in k:
            continue
        count += 1
        stored += size
        if k.endswith(".delta"):
            meta = s3.head_object(Bucket=bucket, Key=k)["Metadata"]
            fs = None
            for name in ("dg-file-size", "dg_file_size", "file_size",
                         "file-size"):
                if name in meta:
                    fs = meta[name]
                    break
            orig += int(fs) if fs is not None else size
            with_delta.add(space)
        else:
            orig += size
    stored += sum(v for s, v in refs.items() if s in with_delta)
    pct = max(0.0, (1 - stored / orig) * 100) if orig else 0.0
    return {"object_count": count, "original_bytes": orig,
            "stored_bytes": stored, "savings_pct": pct}


def wait_savings(h, name, timeout=60, host=HOST):
    """Poll GET /api/buckets until `name` has figures and is not pending."""
    end = time.monotonic() + timeout
    while True:
        status, _, body = api_json(h, "GET", "/api/buckets", host=host)
        assert status == 200
        row = {b["name"]: b for b in body["buckets"]}[name]
        if not row["pending"] and row["object_count"] is not None:
            return row
        assert time.monotonic() < end, row
        time.sleep(0.1)
