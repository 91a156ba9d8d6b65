#!/usr/bin/python3
"""Seed an S3 endpoint (Ceph RGW in tests) with the project's sample data.

    /usr/bin/python3 tests/s3/seed.py --endpoint URL --access K --secret S \
        [--fixtures DIR] [--region R]

Buckets:
  h5data  HDF5 files written by h5py in nested prefixes, awkward key names
          (space, unicode, %, +), a non-HDF5 object and a folder object.
  dgdata  DeltaGlider objects made with the real xdelta3, as described in
          docs/deltaglider-format.md §9 "Making test objects by hand": the
          canonical layout (releases/v1/), a legacy bare-metadata variant
          (legacy/v1/) and a proxy-style dg-ref-path variant (proxy/v1/).
  dgedge  DeltaGlider failure cases: corrupted reference, tampered delta,
          orphaned reference, a .tgz delta made without -D, a stats object.
  other   objects that must never be visible from a vhost not mapped to it.
  many    1205 small objects (ListObjectsV2 continuation beyond 1000).

Every generated file is also written under --fixtures (default: a new temp
dir) as FIXTURES/<bucket>/<key>, originals of DeltaGlider objects as
FIXTURES/dg-originals/<bucket>/<logical key>, and FIXTURES/manifest.json
describes every object (bucket, key, size, sha256, metadata, logical info).

Idempotent and deterministic: the same bytes every run; objects whose ETag
already matches are not uploaded again.
"""

import argparse
import concurrent.futures
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

import boto3
import h5py
import numpy as np
from botocore.config import Config

DG_TOOL = "deltaglider/6.1.2"
DG_CREATED = "2025-10-16T12:00:00.123456Z"
ZIP_DATE = (2024, 1, 2, 3, 4, 6)
MANY_COUNT = 1205


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Seeder:
    def __init__(self, s3, fixtures):
        self.s3 = s3
        self.fixtures = fixtures
        self.objects = []      # manifest entries
        self.uploaded = 0
        self.skipped = 0
        self._etags = {}

    def bucket(self, name):
        try:
            self.s3.create_bucket(Bucket=name)
        except self.s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        except self.s3.exceptions.BucketAlreadyExists:
            pass
        etags = {}
        pager = self.s3.get_paginator("list_objects_v2")
        for page in pager.paginate(Bucket=name):
            for o in page.get("Contents", []):
                etags[o["Key"]] = o["ETag"].strip('"')
        self._etags[name] = etags

    def put(self, bucket, key, data, metadata=None, local=True, **extra):
        """Queue-free upload; returns the manifest entry."""
        metadata = metadata or {}
        if local and not key.endswith("/"):
            path = os.path.join(self.fixtures, bucket, key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        if self._etags[bucket].get(key) == hashlib.md5(data).hexdigest():
            self.skipped += 1
        else:
            self.s3.put_object(Bucket=bucket, Key=key, Body=data,
                               Metadata=metadata)
            self.uploaded += 1
        entry = {"bucket": bucket, "key": key, "size": len(data),
                 "sha256": sha256(data), "metadata": metadata}
        entry.update(extra)
        self.objects.append(entry)
        return entry


# ---------------------------------------------------------------- HDF5 ----

def h5_bytes(build):
    """Run build(h5py.File) on an in-memory file and return its bytes."""
    bio = io.BytesIO()
    with h5py.File(bio, "w", track_order=False) as f:
        build(f)
    return bio.getvalue()


def build_top(f):
    f.attrs["title"] = "mod_h5s3 sample"
    f.attrs["version"] = np.int32(3)
    f.attrs["nan_attr"] = np.float64("nan")
    f.attrs["inf_attr"] = np.float64("inf")
    f.attrs["vector"] = np.array([1.5, 2.5, 3.5])
    g = f.create_group("group1")
    g.attrs["description"] = "first group"
    v = g.create_dataset("values", data=np.linspace(0.0, 9.9, 100),
                         track_times=False)
    v.attrs["units"] = "m"
    v.attrs["missing"] = np.float64("nan")
    sub = g.create_group("subgroup")
    m = np.arange(200 * 300, dtype=np.float32).reshape(200, 300) / 7.0
    sub.create_dataset("matrix", data=m, chunks=(50, 60), compression="gzip",
                       compression_opts=4, track_times=False)
    f.create_dataset("ints", data=np.arange(-5, 15, dtype=np.int32),
                     track_times=False)
    f.create_dataset("scalar", data=np.float64(3.14), track_times=False)
    f.create_dataset("with_nonfinite",
                     data=np.array([1.0, np.nan, -2.0, np.inf, -np.inf, 4.0]),
                     track_times=False)
    f.create_dataset("strings", data=["alpha", "beta", "gamma", "été"],
                     dtype=h5py.string_dtype("utf-8"), track_times=False)
    f.create_dataset("fixed_strings", data=np.array([b"one", b"two", b"six"],
                                                    dtype="S4"),
                     track_times=False)
    ct = np.dtype([("id", "<i4"), ("x", "<f8"), ("name", "S8")])
    rows = np.array([(i, i * 0.5, b"row%d" % i) for i in range(10)], dtype=ct)
    f.create_dataset("compound", data=rows, track_times=False)
    f.create_group("empty_group")
    f["soft_link"] = h5py.SoftLink("/group1/values")


def build_random(f):
    rng = np.random.default_rng(5)
    f.attrs["seed"] = np.int64(5)
    f.create_dataset("data", data=rng.random(1000), track_times=False)
    f.create_dataset("random2d", data=rng.standard_normal((100, 100)),
                     chunks=(25, 25), compression="gzip", track_times=False)


def build_grid(f):
    y, x = np.mgrid[0:512, 0:512].astype(np.float32)
    g = f.create_group("grids")
    d = g.create_dataset("grid", data=np.sin(x / 40.0) * np.cos(y / 25.0),
                         chunks=(64, 64), compression="gzip",
                         track_times=False)
    d.attrs["long_name"] = "sin(x) cos(y)"
    d.attrs["fill"] = np.float32("nan")
    cube = np.arange(10 * 20 * 30, dtype=np.int16).reshape(10, 20, 30)
    g.create_dataset("cube", data=cube, chunks=(5, 10, 10),
                     compression="gzip", track_times=False)


def build_tiny(f):
    f.create_dataset("x", data=np.arange(4, dtype=np.float64),
                     track_times=False)
    f.attrs["name"] = "tiny"


def seed_h5data(sd):
    b = "h5data"
    sd.bucket(b)
    top = h5_bytes(build_top)
    rnd = h5_bytes(build_random)
    grid = h5_bytes(build_grid)
    tiny = h5_bytes(build_tiny)
    sd.put(b, "top.h5", top, kind="hdf5")
    sd.put(b, "Folder_1/random_05.h5", rnd, kind="hdf5")
    sd.put(b, "samples/grid.h5", grid, kind="hdf5")
    sd.put(b, "samples/deep/a/b/c/tiny.h5", tiny, kind="hdf5")
    sd.put(b, "with space/file one.h5", tiny, kind="hdf5")
    sd.put(b, "données/été 2024.h5", tiny, kind="hdf5")
    sd.put(b, "percent/100%.h5", tiny, kind="hdf5")
    sd.put(b, "plus/a+b.h5", tiny, kind="hdf5")
    sd.put(b, "notes/readme.txt", b"This bucket holds HDF5 samples.\n",
           kind="text")
    sd.put(b, "notes/not-really.h5", b"this is not an HDF5 file\n",
           kind="text")
    sd.put(b, "empty-folder/", b"", kind="folder")


# ---------------------------------------------------------- DeltaGlider ----

def make_zip(files):
    """Deterministic stored (uncompressed) zip: deltas stay small."""
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_STORED) as z:
        for name, data in files:
            zi = zipfile.ZipInfo(name, ZIP_DATE)
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data)
    return bio.getvalue()


def release_zips(tag):
    rng = random.Random(tag)
    blobs = [bytes(rng.getrandbits(8) for _ in range(40000))
             for _ in range(4)]
    v1 = make_zip([("app/lib%d.bin" % i, d) for i, d in enumerate(blobs)]
                  + [("app/VERSION", b"1.0\n")])
    blobs[2] = blobs[2][:10000] + b"patched!" * 500 + blobs[2][14000:]
    v2 = make_zip([("app/lib%d.bin" % i, d) for i, d in enumerate(blobs)]
                  + [("app/VERSION", b"1.1\n"), ("app/NEW", b"new file\n")])
    return v1, v2


def xdelta_encode(ref, target, tmp, extra=()):
    """Real xdelta3, exactly as DeltaGlider runs it."""
    rp, tp, op = (os.path.join(tmp, n) for n in ("ref", "tgt", "out"))
    with open(rp, "wb") as f:
        f.write(ref)
    with open(tp, "wb") as f:
        f.write(target)
    subprocess.run(["xdelta3", "-e", "-f", "-9", *extra, "-s", rp, tp, op],
                   check=True, stdin=subprocess.DEVNULL)
    with open(op, "rb") as f:
        delta = f.read()
    # Prove the fixture decodes back before anyone relies on it.
    dp = os.path.join(tmp, "dec")
    subprocess.run(["xdelta3", "-d", "-f", "-s", rp, op, dp], check=True,
                   stdin=subprocess.DEVNULL)
    with open(dp, "rb") as f:
        if f.read() != target and not extra:
            raise RuntimeError("xdelta3 round trip failed")
    return delta


def dg_names(style):
    """Metadata name for logical field x_y in a given writer style."""
    if style == "legacy":
        # Bare names.  RGW stores header names with '_' as '-', so the
        # legacy variant RGW can hold is the bare hyphen form ("x-y").
        return lambda n: n.replace("_", "-")
    return lambda n: "dg-" + n.replace("_", "-")


def seed_deltaspace(sd, bucket, prefix, v1, v2, tmp, style="dg",
                    v1_name="app-1.0.zip", v2_name="app-1.1.zip",
                    with_direct=True, with_plain=True, corrupt_ref=False,
                    tamper_delta=False):
    """Steps 1-5 of "Making test fixtures by hand", for one prefix.

    corrupt_ref flips a reference byte after its SHA-256 was recorded;
    tamper_delta flips a byte in the middle of the real delta."""
    nm = dg_names(style)
    h1, s1, h2, s2 = sha256(v1), len(v1), sha256(v2), len(v2)
    ref_key = prefix + "reference.bin"

    def orig(logical, data):
        path = os.path.join(sd.fixtures, "dg-originals", bucket, logical)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path

    refmeta = {nm("tool"): DG_TOOL, nm("source_name"): v1_name,
               nm("file_sha256"): h1, nm("created_at"): DG_CREATED,
               nm("note"): "reference"}
    ref_bytes = v1
    if corrupt_ref:
        bad = bytearray(v1)
        bad[1000] ^= 0xFF
        ref_bytes = bytes(bad)
    sd.put(bucket, ref_key, ref_bytes, refmeta, kind="dg-reference",
           style=style, corrupted=corrupt_ref)

    def delta_meta(name, h, s, delta, zero):
        m = {nm("tool"): DG_TOOL, nm("original_name"): name,
             nm("created_at"): DG_CREATED, nm("file_sha256"): h,
             nm("file_size"): str(s), nm("ref_sha256"): h1,
             nm("delta_size"): str(len(delta)),
             nm("delta_cmd"): "xdelta3 -e -9 -s reference.bin %s %s.delta"
             % (name, name)}
        if style == "proxy":
            m["dg-ref-path"] = "reference.bin"
            m["dg-note"] = "delta"
        else:
            m[nm("ref_key")] = ref_key
            if zero:
                m[nm("note")] = "zero-diff (reference identical)"
        return m

    z = xdelta_encode(v1, v1, tmp)
    sd.put(bucket, prefix + v1_name + ".delta", z,
           delta_meta(v1_name, h1, s1, z, True), kind="dg-delta",
           style=style, logical_key=prefix + v1_name, original_size=s1,
           original_sha256=h1, original_path=orig(prefix + v1_name, v1))
    d = xdelta_encode(v1, v2, tmp)
    if tamper_delta:
        bad = bytearray(d)
        bad[len(bad) // 2] ^= 0xFF
        d = bytes(bad)
    sd.put(bucket, prefix + v2_name + ".delta", d,
           delta_meta(v2_name, h2, s2, d, False), kind="dg-delta",
           style=style, tampered=tamper_delta,
           logical_key=prefix + v2_name, original_size=s2,
           original_sha256=h2, original_path=orig(prefix + v2_name, v2))
    if with_direct:
        notes = b"Release notes\n1.0: first\n1.1: patched lib2, added NEW\n"
        m = {nm("tool"): DG_TOOL, nm("original_name"): "notes.txt",
             nm("file_sha256"): sha256(notes),
             nm("file_size"): str(len(notes)),
             nm("created_at"): DG_CREATED, nm("compression"): "none"}
        if style == "proxy":
            m["dg-note"] = "passthrough"
        sd.put(bucket, prefix + "notes.txt", notes, m, kind="dg-direct",
               style=style, logical_key=prefix + "notes.txt",
               original_size=len(notes), original_sha256=sha256(notes),
               original_path=orig(prefix + "notes.txt", notes))
    if with_plain:
        plain = b"plain object, no DeltaGlider metadata\n"
        sd.put(bucket, prefix + "plain.txt", plain, kind="plain",
               logical_key=prefix + "plain.txt", original_size=len(plain),
               original_sha256=sha256(plain))
    return h1, h2


def seed_dgdata(sd, tmp):
    b = "dgdata"
    sd.bucket(b)
    v1, v2 = release_zips("releases")
    seed_deltaspace(sd, b, "releases/v1/", v1, v2, tmp)
    lv1, lv2 = release_zips("legacy")
    seed_deltaspace(sd, b, "legacy/v1/", lv1, lv2, tmp, style="legacy")
    pv1, pv2 = release_zips("proxy")
    seed_deltaspace(sd, b, "proxy/v1/", pv1, pv2, tmp, style="proxy")
    readme = b"Top-level plain object.\n"
    sd.put(b, "README.txt", readme, kind="plain", logical_key="README.txt",
           original_size=len(readme), original_sha256=sha256(readme))


def seed_dgedge(sd, tmp):
    """Failure cases kept apart so dgdata's totals stay clean."""
    b = "dgedge"
    sd.bucket(b)
    # Corrupted reference: metadata promise v1's SHA, bytes differ.
    v1, v2 = release_zips("corrupt")
    seed_deltaspace(sd, b, "corrupt-ref/", v1, v2, tmp, with_direct=False,
                    with_plain=False, corrupt_ref=True)
    # Tampered delta: valid reference, delta bytes flipped after encoding.
    t1, t2 = release_zips("tampered")
    seed_deltaspace(sd, b, "tampered/", t1, t2, tmp, with_direct=False,
                    with_plain=False, tamper_delta=True)
    # Orphaned reference: no delta uses it.
    o1, _ = release_zips("orphan")
    sd.put(b, "orphan/reference.bin", o1,
           {"dg-tool": DG_TOOL, "dg-source-name": "gone.zip",
            "dg-file-sha256": sha256(o1), "dg-created-at": DG_CREATED,
            "dg-note": "reference"}, kind="dg-reference", orphan=True)
    # .tgz made without -D: xdelta3 recompresses on decode (upstream #4).
    rng = random.Random("tgz")
    raw1 = bytes(rng.getrandbits(8) for _ in range(30000)) * 2
    raw2 = raw1[:20000] + b"changed" * 100 + raw1[20700:]
    g1 = gzip.compress(raw1, mtime=0)
    g2 = gzip.compress(raw2, mtime=0, compresslevel=6)
    ref_key = "tgz/reference.bin"
    sd.put(b, ref_key, g1, {"dg-tool": DG_TOOL, "dg-source-name": "a.tgz",
                            "dg-file-sha256": sha256(g1),
                            "dg-created-at": DG_CREATED,
                            "dg-note": "reference"}, kind="dg-reference")
    rp, tp, op = (os.path.join(tmp, n) for n in ("tr", "tt", "to"))
    for p, d in ((rp, g1), (tp, g2)):
        with open(p, "wb") as f:
            f.write(d)
    # xdelta3 warns loudly here; that warning is the point of the fixture.
    subprocess.run(["xdelta3", "-e", "-f", "-9", "-s", rp, tp, op],
                   check=True, stdin=subprocess.DEVNULL, capture_output=True)
    with open(op, "rb") as f:
        td = f.read()
    sd.put(b, "tgz/b.tgz.delta", td,
           {"dg-tool": DG_TOOL, "dg-original-name": "b.tgz",
            "dg-created-at": DG_CREATED, "dg-file-sha256": sha256(g2),
            "dg-file-size": str(len(g2)), "dg-ref-key": ref_key,
            "dg-ref-sha256": sha256(g1), "dg-delta-size": str(len(td))},
           kind="dg-delta", logical_key="tgz/b.tgz", original_size=len(g2),
           original_sha256=sha256(g2), recompressed=True)
    stats = json.dumps({"object_count": 0, "note": "internal"}).encode()
    sd.put(b, ".deltaglider/stats_quick.json", stats, kind="dg-internal")


# ------------------------------------------------------- other, many ----

def seed_other(sd):
    b = "other"
    sd.bucket(b)
    sd.put(b, "secret/hidden.h5", h5_bytes(build_tiny), kind="hdf5")
    sd.put(b, "other-only.txt", b"only in bucket other\n", kind="text")


def seed_many(sd, workers=32):
    b = "many"
    sd.bucket(b)
    items = [("obj-%04d.txt" % i, b"object %d\n" % i)
             for i in range(MANY_COUNT)]
    etags = sd._etags[b]
    todo = [(k, d) for k, d in items
            if etags.get(k) != hashlib.md5(d).hexdigest()]

    def up(kd):
        sd.s3.put_object(Bucket=b, Key=kd[0], Body=kd[1])

    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        list(ex.map(up, todo))
    sd.uploaded += len(todo)
    sd.skipped += len(items) - len(todo)
    # Manifest keeps a summary, not 1205 entries.
    return len(items)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--access", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--fixtures", default=None)
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    fixtures = args.fixtures or tempfile.mkdtemp(prefix="h5s3-fixtures-")
    os.makedirs(fixtures, exist_ok=True)
    s3 = boto3.client(
        "s3", endpoint_url=args.endpoint, region_name=args.region,
        aws_access_key_id=args.access, aws_secret_access_key=args.secret,
        config=Config(s3={"addressing_style": "path"},
                      max_pool_connections=32,
                      retries={"max_attempts": 3, "mode": "standard"}))
    sd = Seeder(s3, fixtures)
    tmp = tempfile.mkdtemp(prefix="h5s3-seed-")
    try:
        seed_h5data(sd)
        seed_dgdata(sd, tmp)
        seed_dgedge(sd, tmp)
        seed_other(sd)
        n_many = seed_many(sd)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    counts = {}
    for o in sd.objects:
        counts[o["bucket"]] = counts.get(o["bucket"], 0) + 1
    counts["many"] = n_many
    manifest = {"endpoint": args.endpoint, "counts": counts,
                "many": {"count": n_many, "key_format": "obj-%04d.txt",
                         "body_format": "object %d\\n"},
                "objects": sd.objects}
    with open(os.path.join(fixtures, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
    print("seeded %s in %.1fs: %s; uploaded %d, unchanged %d; fixtures %s"
          % (args.endpoint, time.monotonic() - t0,
             ", ".join("%s=%d" % kv for kv in sorted(counts.items())),
             sd.uploaded, sd.skipped, fixtures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
