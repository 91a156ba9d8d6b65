"""The DeltaGlider core (through tests/tools/h5s3-dg) against a real Ceph
RGW seeded by tests/s3/seed.py (buckets dgdata and dgedge), with boto3,
hashlib and the xdelta3 CLI as independent oracles."""

import hashlib
import os
import subprocess

import pytest

from harness.api_common import (logical, python_savings, refcache_name,
                                sha256_file)
from harness.common import make_bucket
from harness.tools import built_tool, run_json

BUCKET = "dgtest"       # this module's own bucket for uploads


@pytest.fixture(scope="module")
def tool():
    return built_tool("h5s3-dg")


@pytest.fixture(scope="module")
def s3(rgw):
    return make_bucket(rgw.client(), BUCKET)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("dgcache"))


def run(tool, rgw, *args, timeout=120):
    """(exit code, parsed JSON) of one h5s3-dg command."""
    return run_json(tool, rgw, *args, timeout=timeout,
                    env={"H5S3_TOKEN_SECRET": "integration-secret"})


# ------------------------------------------------------------ listing ----

def test_logical_listing_hides_internals(tool, rgw):
    rc, out = run(tool, rgw, "list", "dgdata", "--all")
    assert rc == 0
    want = logical(rgw, "dgdata")
    got = {o["key"]: o for o in out["objects"]}
    assert sorted(got) == sorted(want)
    assert not [k for k in got if k.endswith(".delta")
                or k.endswith("reference.bin")]
    for key, o in got.items():
        m = want[key]
        assert o["original_bytes"] == m["original_size"], key
        assert o["stored_bytes"] == m["size"], key
        assert o["compressed"] is (m["kind"] == "dg-delta"), key
    # Deltas show original sizes far above what they store.
    assert got["releases/v1/app-1.1.zip"]["original_bytes"] > \
        10 * got["releases/v1/app-1.1.zip"]["stored_bytes"]


def test_delimiter_and_internal_folders(tool, rgw):
    rc, out = run(tool, rgw, "list", "dgdata", "-d", "/")
    assert rc == 0
    assert out["common_prefixes"] == ["legacy/", "proxy/", "releases/"]
    assert [o["key"] for o in out["objects"]] == ["README.txt"]
    rc, out = run(tool, rgw, "list", "dgedge", "-d", "/")
    assert rc == 0
    # .deltaglider/ is internal; orphan/ holds only a reference.bin.
    assert out["common_prefixes"] == ["corrupt-ref/", "tampered/", "tgz/"]
    rc, out = run(tool, rgw, "list", "dgdata", "-P", "releases/v1/",
                  "-d", "/")
    assert sorted(o["key"] for o in out["objects"]) == [
        "releases/v1/app-1.0.zip", "releases/v1/app-1.1.zip",
        "releases/v1/notes.txt", "releases/v1/plain.txt"]


@pytest.mark.parametrize("sort,order", [("name", "asc"), ("size", "desc"),
                                        ("savings_pct", "desc"),
                                        ("modified", "asc")])
def test_cursor_paging_matches_full_sort(tool, rgw, sort, order):
    rc, full = run(tool, rgw, "list", "dgdata", "-s", sort, "-O", order,
                   "-n", "1000")
    assert rc == 0 and full["cursor"] is None
    keys = [o["key"] for o in full["objects"]]
    # The order itself, checked in python.
    def savings(o):
        return max(0.0, (1 - o["stored_bytes"] / o["original_bytes"]) * 100) \
            if o["original_bytes"] else 0.0
    val = {"name": lambda o: 0, "size": lambda o: o["original_bytes"],
           "savings_pct": savings, "modified": lambda o: o["modified"]}[sort]
    if sort == "modified":
        # Sorted on S3's millisecond times; JSON shows whole seconds.
        stamps = [o["modified"] for o in full["objects"]]
        assert stamps == sorted(stamps)
    else:
        expect = sorted(full["objects"], key=lambda o: (val(o), o["key"]),
                        reverse=(order == "desc"))
        assert keys == [o["key"] for o in expect]
    paged, cursor, pages = [], None, 0
    while True:
        args = ["list", "dgdata", "-s", sort, "-O", order, "-n", "3"]
        if cursor:
            args += ["-C", cursor]
        rc, out = run(tool, rgw, *args)
        assert rc == 0 and len(out["objects"]) <= 3
        paged += [o["key"] for o in out["objects"]]
        pages += 1
        cursor = out["cursor"]
        if not cursor:
            break
    assert paged == keys
    assert pages == (len(keys) + 2) // 3


def test_filter_and_search(tool, rgw):
    rc, out = run(tool, rgw, "list", "dgdata", "--all", "-c", "true")
    assert {o["key"] for o in out["objects"]} == {
        k for k, m in logical(rgw, "dgdata").items() if m["kind"] == "dg-delta"}
    rc, out = run(tool, rgw, "list", "dgdata", "--all", "-q", "APP-1.1")
    assert sorted(o["key"] for o in out["objects"]) == [
        "legacy/v1/app-1.1.zip", "proxy/v1/app-1.1.zip",
        "releases/v1/app-1.1.zip"]


def test_tampered_cursor_is_an_error(tool, rgw):
    rc, out = run(tool, rgw, "list", "dgdata", "-n", "2")
    cur = out["cursor"]
    assert cur
    bad = cur[:5] + ("A" if cur[5] != "A" else "B") + cur[6:]
    rc, out = run(tool, rgw, "list", "dgdata", "-n", "2", "-C", bad)
    assert rc == 1 and out["status"] == "invalid"
    # A genuine cursor of another query is refused as well.
    rc, out = run(tool, rgw, "list", "dgdata", "-n", "2", "-s", "size",
                  "-C", cur)
    assert rc == 1 and out["status"] == "invalid"


# ----------------------------------------------------------- metadata ----

@pytest.mark.parametrize("prefix", ["releases/v1/", "legacy/v1/",
                                    "proxy/v1/"])
def test_metadata_all_styles(tool, rgw, prefix):
    want = logical(rgw, "dgdata")
    key = prefix + "app-1.1.zip"
    rc, out = run(tool, rgw, "meta", "dgdata", key)
    assert rc == 0
    assert out["key"] == key
    assert out["accept_ranges"] is False
    assert out["compressed"] is True
    assert out["original_bytes"] == want[key]["original_size"]
    assert out["stored_bytes"] == want[key]["size"]
    assert out["sha256"] == want[key]["original_sha256"]
    assert out["reference_key"] == prefix + "reference.bin"
    rc, out = run(tool, rgw, "meta", "dgdata", prefix + "plain.txt")
    assert rc == 0 and out["compressed"] is False
    assert out["storage"] == "plain" and "sha256" not in out
    rc, out = run(tool, rgw, "meta", "dgdata", prefix + "reference.bin")
    assert rc == 1 and out["status"] == "not_found"


# ------------------------------------------------------------ savings ----

@pytest.mark.parametrize("bucket", ["dgdata", "dgedge"])
def test_savings_match_independent_computation(tool, rgw, s3, bucket):
    want = python_savings(s3, bucket)
    count, orig, stored, pct = (want["object_count"], want["original_bytes"],
                                want["stored_bytes"], want["savings_pct"])
    rc, out = run(tool, rgw, "savings", bucket)
    assert rc == 0
    assert out["object_count"] == count
    assert out["original_bytes"] == orig
    assert out["stored_bytes"] == stored
    assert abs(out["savings_pct"] - pct) < 1e-9
    if bucket == "dgdata":
        assert count == 13 and 40 < pct < 100


# ----------------------------------------------------- reconstruction ----

def test_every_dgdata_object_downloads_byte_exact(tool, rgw, cache,
                                                  tmp_path):
    for key, m in sorted(logical(rgw, "dgdata").items()):
        dest = tmp_path / "out"
        rc, out = run(tool, rgw, "get", "dgdata", key, "-o", str(dest),
                      "--cache", cache, "--chunk", "65536")
        assert rc == 0, (key, out)
        assert sha256_file(dest) == m["original_sha256"], key
        assert out["sha256"] == m["original_sha256"]
        assert out["delivered"] == out["bytes"] == m["original_size"]
        assert out["compressed"] is (m["kind"] == "dg-delta")
    # References are cached by endpoint, bucket, key and SHA-256 (the tool
    # scopes by endpoint alone), and what is cached is right.
    refs = {o["key"]: o["sha256"] for o in rgw.manifest["objects"]
            if o["bucket"] == "dgdata" and o["kind"] == "dg-reference"}
    want = {refcache_name(rgw.endpoint, "dgdata", k, h): h
            for k, h in refs.items()}
    assert len(want) == 3
    assert sorted(f for f in os.listdir(cache) if f.startswith("ref-")) \
        == sorted(want)
    for f, h in want.items():
        assert sha256_file(os.path.join(cache, f)) == h


def test_corrupted_reference_detected(tool, rgw, cache, tmp_path):
    rc, out = run(tool, rgw, "get", "dgedge", "corrupt-ref/app-1.1.zip",
                  "-o", str(tmp_path / "o"), "--cache", cache)
    assert rc == 1 and out["status"] == "integrity_failed"
    assert "reference" in out["reason"]
    assert out["delivered"] == 0


def test_tampered_delta_detected(tool, rgw, cache, tmp_path):
    m = logical(rgw, "dgedge")["tampered/app-1.1.zip"]
    rc, out = run(tool, rgw, "get", "dgedge", "tampered/app-1.1.zip",
                  "-o", str(tmp_path / "o"), "--cache", cache,
                  "--chunk", "4096")
    assert rc == 1 and out["status"] == "integrity_failed", out
    print("tampered delta:", out["reason"])
    assert out["reason"]
    # Never a complete, plausible file.
    assert out["delivered"] < m["original_size"]


def test_recompressed_tgz_delta_refused(tool, rgw, cache, tmp_path):
    rc, out = run(tool, rgw, "get", "dgedge", "tgz/b.tgz",
                  "-o", str(tmp_path / "o"), "--cache", cache)
    assert rc == 1 and out["status"] == "integrity_failed"
    assert "recompression" in out["reason"]
    assert out["delivered"] == 0


def test_edge_listing(tool, rgw):
    rc, out = run(tool, rgw, "list", "dgedge", "--all")
    keys = sorted(o["key"] for o in out["objects"])
    assert keys == sorted(logical(rgw, "dgedge"))
    assert not [k for k in keys if k.startswith(".deltaglider")]


# ------------------------------------------------------------- upload ----

def test_upload_then_download_round_trip(tool, rgw, s3, cache, tmp_path):
    base = os.urandom(400000)
    v1 = tmp_path / "v1.zip"
    v1.write_bytes(base)
    v2 = tmp_path / "v2.zip"
    v2.write_bytes(base[:150000] + b"patched" * 50 + base[150000:]
                   + os.urandom(5000))
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"uploaded notes\n")
    import gzip
    tgz1 = tmp_path / "a.tgz"
    tgz1.write_bytes(gzip.compress(base, mtime=0))
    prefix = "up/%s/" % os.urandom(4).hex()

    rc, out = run(tool, rgw, "put", BUCKET, prefix + "v1.zip", str(v1),
                  "--cache", cache)
    assert rc == 0 and out["created_reference"] and out["compressed"]
    rc, out = run(tool, rgw, "put", BUCKET, prefix + "v2.zip", str(v2),
                  "--cache", cache)
    assert rc == 0 and not out["created_reference"]
    assert out["stored_bytes"] < 20000
    rc, out = run(tool, rgw, "put", BUCKET, prefix + "notes.txt",
                  str(notes), "--cache", cache)
    assert rc == 0 and not out["compressed"]
    rc, out = run(tool, rgw, "put", BUCKET, prefix + "a.tgz", str(tgz1),
                  "--cache", cache)
    assert rc == 0 and out["compressed"]

    # What landed in S3 is DeltaGlider's layout, seen by boto3.
    keys = sorted(o["Key"] for o in s3.list_objects_v2(
        Bucket=BUCKET, Prefix=prefix)["Contents"])
    assert keys == [prefix + k for k in ("a.tgz.delta", "notes.txt",
                                         "reference.bin", "v1.zip.delta",
                                         "v2.zip.delta")]
    ref = s3.head_object(Bucket=BUCKET, Key=prefix + "reference.bin")
    assert ref["Metadata"]["dg-note"] == "reference"
    assert ref["Metadata"]["dg-file-sha256"] == sha256_file(v1)
    d2 = s3.head_object(Bucket=BUCKET, Key=prefix + "v2.zip.delta")["Metadata"]
    assert d2["dg-file-sha256"] == sha256_file(v2)
    assert d2["dg-file-size"] == str(v2.stat().st_size)
    assert d2["dg-ref-key"] == prefix + "reference.bin"
    assert d2["dg-ref-sha256"] == sha256_file(v1)
    z = s3.head_object(Bucket=BUCKET, Key=prefix + "v1.zip.delta")["Metadata"]
    assert z["dg-note"] == "zero-diff (reference identical)"
    n = s3.head_object(Bucket=BUCKET, Key=prefix + "notes.txt")["Metadata"]
    assert n["dg-compression"] == "none"

    # The plain xdelta3 CLI (as DeltaGlider decodes) agrees with us.
    rp, dp, op = (str(tmp_path / n) for n in ("r", "d", "o"))
    s3.download_file(BUCKET, prefix + "reference.bin", rp)
    s3.download_file(BUCKET, prefix + "v2.zip.delta", dp)
    subprocess.run(["xdelta3", "-d", "-f", "-s", rp, dp, op], check=True)
    assert sha256_file(op) == sha256_file(v2)

    for name, src in (("v1.zip", v1), ("v2.zip", v2), ("notes.txt", notes),
                      ("a.tgz", tgz1)):
        dest = tmp_path / ("got-" + name)
        rc, out = run(tool, rgw, "get", BUCKET, prefix + name, "-o",
                      str(dest), "--cache", cache)
        assert rc == 0, (name, out)
        assert sha256_file(dest) == sha256_file(src), name

    rc, out = run(tool, rgw, "list", BUCKET, "-P", prefix, "--all")
    assert sorted(o["key"] for o in out["objects"]) == [
        prefix + k for k in ("a.tgz", "notes.txt", "v1.zip", "v2.zip")]
    sizes = {o["key"]: o["original_bytes"] for o in out["objects"]}
    assert sizes[prefix + "v2.zip"] == v2.stat().st_size


def test_cache_holds_only_verified_references(rgw, cache):
    """Runs last: no spool or temp file survives any of the above, and
    every cached file is a verified reference of one of the buckets."""
    names = os.listdir(cache)
    assert names
    known = {}
    for bucket in ("dgdata", "dgedge", BUCKET):
        for o in rgw.client().list_objects_v2(
                Bucket=bucket).get("Contents", []):
            if o["Key"].endswith("reference.bin"):
                body = rgw.client().get_object(Bucket=bucket,
                                               Key=o["Key"])["Body"].read()
                h = hashlib.sha256(body).hexdigest()
                known[refcache_name(rgw.endpoint, bucket, o["Key"], h)] = h
    for f in names:
        assert f in known, f
        assert sha256_file(os.path.join(cache, f)) == known[f], f
