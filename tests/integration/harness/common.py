"""Helpers shared by the route tests: vhost configs, JSON requests, keys
and buckets of a test module's own."""

import json
import urllib.parse

from .plugin import s3_directives


def vhost(rgw, name, buckets, location="/hdf", extra="", creds=True,
          endpoint=None):
    """A name-based <VirtualHost> serving `buckets` under `location`."""
    body = s3_directives(rgw, buckets, credentials=creds)
    if endpoint:
        body = body.replace("H5S3Endpoint %s" % rgw.endpoint,
                            "H5S3Endpoint %s" % endpoint)
    return ("<VirtualHost *:*>\n    ServerName %s\n"
            "    AllowEncodedSlashes NoDecode\n%s%s"
            "    <Location %s>\n        SetHandler h5s3\n"
            "        H5S3DebugHeaders On\n    </Location>\n"
            "</VirtualHost>\n" % (name, body, extra, location))


def get_json(h, path, host=None, method="GET", headers=None):
    """(status, headers, parsed JSON) -- fails loudly on a non-JSON body."""
    status, hdrs, body = h.request(method, path, headers=headers, host=host)
    ctype = hdrs.get("Content-Type", "")
    assert ctype.startswith("application/json"), (status, ctype, body[:200])
    return status, hdrs, json.loads(body)


def q(s):
    """Encode one path segment (or a key, keeping '/')."""
    return urllib.parse.quote(s, safe="/")


def s3_keys(rgw, bucket, prefix=""):
    """Every key of a bucket in S3 order, by boto3 (the oracle)."""
    s3 = rgw.client()
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix):
        out.extend(page.get("Contents", []))
    return out


def make_bucket(s3, *buckets):
    """s3 (a boto3 client), after creating each of `buckets` that does not
    exist yet: the buckets a test module keeps its own objects in."""
    for b in buckets:
        try:
            s3.create_bucket(Bucket=b)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    return s3
