"""The S3 HDF5 driver, page cache, open-file table and group prefetch
(through tests/tools/h5s3-h5cat) against a real Ceph RGW, with h5py
reading the same files locally as the oracle and RGW's access log as an
independent count of the requests."""

import json
import os
import subprocess

import h5py
import numpy as np
import pytest

from harness.common import make_bucket
from harness.s3server import REPO
from harness.tools import built_tool, tool_env

GEN = os.path.join(REPO, "tests", "fixtures", "make_vfd_fixtures.py")
PYTHON = "/usr/bin/python3"

BUCKET = "vfdtest"      # this module's own bucket


@pytest.fixture(scope="module")
def tool():
    return built_tool("h5s3-h5cat")


@pytest.fixture(scope="module")
def files(rgw, tmp_path_factory):
    """Local copies (the oracle) of what is uploaded to BUCKET."""
    d = tmp_path_factory.mktemp("vfd")
    out = {}
    for kind, extra in (("basic", []), ("big", ["50"]), ("wide", [])):
        path = str(d / ("%s.h5" % kind))
        subprocess.run([PYTHON, GEN, kind, path] + extra, check=True,
                       timeout=120)
        out[kind] = path
    with open(out["basic"], "rb") as f:
        data = f.read()
    out["truncated"] = str(d / "truncated.h5")
    with open(out["truncated"], "wb") as f:
        f.write(data[:len(data) // 2])
    out["text"] = str(d / "notes.txt")
    with open(out["text"], "w") as f:
        f.write("not an HDF5 file\n" * 100)

    s3 = make_bucket(rgw.client(), BUCKET)
    for name, path in out.items():
        s3.upload_file(path, BUCKET, os.path.basename(path))
    return out


def run(tool, rgw, *args, timeout=120):
    """The JSON lines (one per pass) of one h5s3-h5cat run."""
    r = subprocess.run([tool] + list(args), env=tool_env(rgw),
                       capture_output=True, timeout=timeout)
    assert r.returncode in (0, 1), r.stderr.decode(errors="replace")
    passes = [json.loads(ln) for ln in r.stdout.decode().splitlines()]
    assert passes, r.stderr.decode(errors="replace")
    assert (r.returncode == 0) == all(p["status"] == "ok" for p in passes)
    return passes


def values(node):
    return np.array(node["values"], dtype=float)


def test_values_equal_h5py(tool, rgw, files):
    mark = rgw.request_count()
    [p] = run(tool, rgw, BUCKET, "basic.h5", "/data", "/group/ints",
              "/group/sub/name", "/group", "/")
    assert p["status"] == "ok"
    with h5py.File(files["basic"], "r") as f:
        np.testing.assert_array_equal(values(p["paths"]["/data"]),
                                      f["data"][:])
        ints = p["paths"]["/group/ints"]
        assert ints["shape"] == [100, 7]
        np.testing.assert_array_equal(values(ints),
                                      f["group/ints"][:].ravel())
        assert p["paths"]["/group/sub/name"]["values"] == [
            f["group/sub/name"][()].decode()]
        assert p["paths"]["/group"]["children"] == [
            {"name": n, "type": "group" if isinstance(f["group"][n],
                                                      h5py.Group)
             else "dataset"} for n in f["group"]]
        assert [c["name"] for c in p["paths"]["/"]["children"]] == list(f)
    # HEAD + one read of the whole 21 KB file; RGW counts the same.
    assert p["s3_requests"] == 2
    assert len(rgw.requests_since(mark)) == p["s3_requests"]
    etag = rgw.client().head_object(Bucket=BUCKET, Key="basic.h5")["ETag"]
    assert p["etag"] == etag.strip('"')
    assert p["size"] == os.path.getsize(files["basic"])


def test_big_file_reads_a_little(tool, rgw, files):
    size = os.path.getsize(files["big"])
    assert size > 50 * 1024 * 1024
    mark = rgw.request_count()
    [p] = run(tool, rgw, BUCKET, "big.h5", "/tail")
    assert p["status"] == "ok"
    with h5py.File(files["big"], "r") as f:
        np.testing.assert_array_equal(values(p["paths"]["/tail"]),
                                      f["tail"][:])
    # Superblock and root at the start, /tail at the end: a few pages.
    assert p["s3_bytes"] < 1024 * 1024, p
    assert p["s3_requests"] <= 4, p
    entries = rgw.requests_since(mark)
    assert len(entries) == p["s3_requests"]
    print("big.h5: %d bytes, read %d bytes in %d requests"
          % (size, p["s3_bytes"], p["s3_requests"]))


def test_second_open_hits_page_cache(tool, rgw, files):
    p1, p2 = run(tool, rgw, "--passes", "2", "--reopen", BUCKET, "big.h5",
                 "/tail", "/")
    assert p1["status"] == p2["status"] == "ok"
    assert p1["paths"] == p2["paths"]
    assert p1["page_misses"] > 0
    # A fresh open (another table, as in another process): one HEAD to
    # learn the ETag, and every page from the cache.
    assert p2["s3_requests"] == 1
    assert p2["s3_bytes"] == 0
    assert p2["page_misses"] == 0
    assert p2["page_hits"] > 0


def test_warm_request_costs_nothing(tool, rgw, files):
    mark = rgw.request_count()
    p1, p2, p3 = run(tool, rgw, "--passes", "3", BUCKET, "basic.h5",
                     "/data", "/group/ints")
    assert p1["paths"] == p2["paths"] == p3["paths"]
    # The open file is reused while its ETag is trusted: zero S3 requests.
    assert p2["s3_requests"] == 0 and p3["s3_requests"] == 0
    assert len(rgw.requests_since(mark)) == p1["s3_requests"]


def test_ttl_zero_revalidates_with_one_head(tool, rgw, files):
    mark = rgw.request_count()
    p1, p2 = run(tool, rgw, "-t", "0", "--passes", "2", BUCKET,
                 "basic.h5", "/data")
    assert p2["s3_requests"] == 1 and p2["s3_bytes"] == 0
    methods = [e.get("method") for e in rgw.requests_since(mark)][-1:]
    assert methods == ["HEAD"]


def upload_variant(rgw, key, tmp_path, scale):
    """Overwrite key with basic.h5 whose /data is scaled: a new ETag."""
    path = str(tmp_path / ("v%s.h5" % scale))
    with h5py.File(path, "w", libver="earliest") as f:
        f.create_dataset("data", data=np.arange(1000) * scale,
                         track_times=False)
        g = f.create_group("group")
        g.create_dataset("ints", data=np.full((100, 7), int(scale), "i4"),
                         track_times=False)
    rgw.client().upload_file(path, BUCKET, key)


def test_etag_change_reopens_without_stale_pages(tool, rgw, files,
                                                 tmp_path):
    key = "changing.h5"
    upload_variant(rgw, key, tmp_path, 1.0)
    proc = subprocess.Popen([tool, "-t", "0", "--wait", "--passes", "2",
                             BUCKET, key, "/data"], env=tool_env(rgw),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        p1 = json.loads(proc.stdout.readline())
        upload_variant(rgw, key, tmp_path, 3.0)
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        p2 = json.loads(proc.stdout.readline())
    finally:
        proc.communicate(timeout=60)
    assert p1["status"] == p2["status"] == "ok"
    assert p1["etag"] != p2["etag"]
    np.testing.assert_array_equal(values(p1["paths"]["/data"]),
                                  np.arange(1000) * 1.0)
    np.testing.assert_array_equal(values(p2["paths"]["/data"]),
                                  np.arange(1000) * 3.0)
    assert p2["page_misses"] > 0


def test_change_mid_read_fails_then_recovers(tool, rgw, files, tmp_path):
    """The object changes while the file is open and trusted: the next
    read's If-Match fails, the status comes out of that call, the file is
    dropped, and the next request reopens the new object."""
    key = "midread.h5"
    upload_variant(rgw, key, tmp_path, 1.0)
    # No page cache: every read goes to S3.
    proc = subprocess.Popen([tool, "-c", "0", "--wait", "--passes", "3",
                             BUCKET, key, "1:/data", "2:/group/ints",
                             "3:/group/ints"], env=tool_env(rgw),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        p1 = json.loads(proc.stdout.readline())
        upload_variant(rgw, key, tmp_path, 5.0)
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        p2 = json.loads(proc.stdout.readline())
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        p3 = json.loads(proc.stdout.readline())
    finally:
        proc.communicate(timeout=60)
    assert p1["status"] == "ok"
    assert p2["status"] == "changed", p2
    assert p3["status"] == "ok", p3
    assert p3["etag"] != p1["etag"]
    assert values(p3["paths"]["/group/ints"]).tolist() == [5.0] * 700


def test_group_prefetch_issues_few_requests(tool, rgw, files):
    with h5py.File(files["wide"], "r") as f:
        expected = [{"name": n, "type": "dataset"} for n in f["wide"]]
    assert len(expected) == 200
    [plain] = run(tool, rgw, BUCKET, "wide.h5", "/wide")
    mark = rgw.request_count()
    [pre] = run(tool, rgw, "--prefetch", BUCKET, "wide.h5", "/wide")
    assert plain["paths"]["/wide"]["children"] == expected
    assert pre["paths"]["/wide"]["children"] == expected
    # HEAD, open read, the B-tree's root and heap, its leaves, then the
    # headers: each level one batch in flight at once, each block by its
    # own bytes (neighbours within 32 KiB share a range), not the pages
    # around them: a range per cluster of headers (and of leaves), and
    # a small part of the file.  S3 has no multi-range GET, so fewer
    # bytes here means more ranges, fetched concurrently.
    with h5py.File(files["wide"], "r") as f:
        addrs = sorted(h5py.h5o.get_info(f["wide"][n].id).addr
                       for n in f["wide"])
    clusters = 1 + sum(1 for a, b in zip(addrs, addrs[1:])
                       if b - a > 32 * 1024)
    assert pre["s3_requests"] <= 8 + 2 * clusters, (pre, clusters)
    assert pre["s3_bytes"] <= os.path.getsize(files["wide"]) // 4, pre
    assert plain["s3_requests"] >= 20, plain
    assert len(rgw.requests_since(mark)) == pre["s3_requests"]
    print("wide.h5 /wide (200 children): %d requests without prefetch, "
          "%d with; %d vs %d bytes of %d"
          % (plain["s3_requests"], pre["s3_requests"], plain["s3_bytes"],
             pre["s3_bytes"], os.path.getsize(files["wide"])))


@pytest.mark.parametrize("key,status", [
    ("notes.txt", "not_hdf5"),
    ("truncated.h5", "not_hdf5"),
    ("no/such/file.h5", "not_found"),
])
def test_bad_objects(tool, rgw, files, key, status):
    [p] = run(tool, rgw, BUCKET, key)
    assert p["status"] == status, p


def test_missing_path(tool, rgw, files):
    [p] = run(tool, rgw, BUCKET, "basic.h5", "/nope")
    assert p["status"] == "no_path"


@pytest.mark.parametrize("ttl", ["30", "0"])
def test_threads_share_open_files_and_cache(tool, rgw, files, ttl):
    """Event-MPM-like use: 8 threads x 25 requests on one table and one
    cache; every result equals h5py's, none fails."""
    [p] = run(tool, rgw, "--threads", "8", "--iterations", "25", "-t", ttl,
              BUCKET, "basic.h5", "/data", "/group/ints", "/group")
    assert p["status"] == "ok", p
    assert p["failures"] == 0 and p["mismatches"] == 0
    assert p["requests_done"] == 200
    with h5py.File(files["basic"], "r") as f:
        np.testing.assert_array_equal(values(p["paths"]["/data"]),
                                      f["data"][:])
        np.testing.assert_array_equal(values(p["paths"]["/group/ints"]),
                                      f["group/ints"][:].ravel())
    if ttl == "30":
        # Racing first opens aside, the file is opened once and reused.
        assert p["s3_requests"] <= 8 * 2, p
    else:
        # Every request revalidates with one HEAD, pages come from cache.
        assert p["s3_requests"] <= 200 + 8 * 1, p


def test_threads_prefetch_wide_group(tool, rgw, files):
    [p] = run(tool, rgw, "--threads", "4", "--iterations", "5",
              "--prefetch", "--reopen", "--passes", "2", BUCKET, "wide.h5",
              "/wide", "/wide/d123")[-1:]
    assert p["status"] == "ok", p
    with h5py.File(files["wide"], "r") as f:
        np.testing.assert_array_equal(values(p["paths"]["/wide/d123"]),
                                      f["wide/d123"][:1000])
    assert len(p["paths"]["/wide"]["children"]) == 200
