"""How object headers are fetched for a cold listing, counted against a
real httpd and RGW: each header by its own bytes (a first block, then
the rest and its continuation blocks when the header says so), a level
of the tree per batch, never the pages around them; the listing still
equals h5py's."""

import os

import h5py
import numpy as np
import pytest

from harness.common import make_bucket
from harness.h5files import _set_meta_block_size
from harness.h5oracle import expected_child
from harness.counted import counted_get, page_cache_httpd, upload_fresh

BUCKET = "h5readhdr"
HOST = "readhdr.test"
NCHILD = 200
MiB = 1024 * 1024


def write_scattered(path, values):
    """NCHILD datasets of `values` float32 each, metadata aggregation
    off: every header sits before its own data, its attributes (written
    after the data) in a continuation block after it."""
    rng = np.random.default_rng(11)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    _set_meta_block_size(fapl, 0)
    fid = h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fapl=fapl)
    with h5py.File(fid) as f:
        for i in range(NCHILD):
            d = f.create_dataset("d%03d" % i,
                                 data=rng.random(values, dtype=np.float32))
            d.attrs["index"] = i
            d.attrs["units"] = "m/s"
            d.attrs["scale"] = np.float64(0.5 * i)
        g = f.create_group("sub")
        for i in range(20):
            g.create_dataset("s%02d" % i, data=np.arange(i + 1))


@pytest.fixture(scope="module")
def files(rgw, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("readhdr"))
    write_scattered(os.path.join(out, "scattered.h5"), 32 * 1024)
    make_bucket(rgw.client(), BUCKET)
    return out


@pytest.fixture(scope="module")
def srv(rgw, files, request):
    with page_cache_httpd(request, rgw, HOST, BUCKET) as h:
        yield h


def upload(rgw, files, name):
    return upload_fresh(rgw, files, BUCKET, name)


def children(srv, key, path="/"):
    return counted_get(srv, "/hdf/files/%s/children?path=%s" % (key, path),
                       HOST)


def test_cold_children_of_scattered_headers(srv, rgw, files):
    path = os.path.join(files, "scattered.h5")
    key = upload(rgw, files, "scattered.h5")
    body, reqs, nbytes = children(srv, key)
    with h5py.File(path, "r") as f:
        want = [expected_child(f, "/", n) for n in f["/"].keys()]
        addrs = sorted(h5py.h5o.get_info(f[n].id).addr for n in f)
    assert body["children"] == want
    size = os.path.getsize(path)
    print("scattered.h5 (%d bytes, headers %d..%d): %d requests, %d bytes"
          % (size, addrs[0], addrs[-1], reqs, nbytes))
    # The open read (128 KiB) and a few KiB per header: the pages around
    # 200 scattered headers were 12.6 MiB on a file 20 times this one.
    assert nbytes <= 1.5 * MiB, nbytes
    # S3 has no multi-range GET: a range per header (its continuation
    # rides with the next header's), per symbol-table leaf (at most 8
    # links, at least 4 after splits), HEAD, open, the B-tree root and
    # heap; each level one batch in flight at once (H5S3FetchParallel).
    assert reqs <= NCHILD + NCHILD // 4 + 16, reqs


def test_cold_children_of_a_subgroup(srv, rgw, files):
    path = os.path.join(files, "scattered.h5")
    key = upload(rgw, files, "scattered.h5")
    body, reqs, nbytes = children(srv, key, "/sub")
    with h5py.File(path, "r") as f:
        want = [expected_child(f, "/sub", n) for n in f["/sub"].keys()]
    assert body["children"] == want
    # The subgroup's headers sit together at the end of the file.
    assert nbytes <= 512 * 1024, nbytes
    assert reqs <= 12, reqs


def test_one_range_in_flight_lists_the_same(rgw, files, request):
    """H5S3FetchParallel bounds the ranges in flight, not what is
    fetched: with 1 the same ranges go one after another."""
    path = os.path.join(files, "scattered.h5")
    key = upload(rgw, files, "scattered.h5")
    with page_cache_httpd(request, rgw, HOST, BUCKET,
                          "H5S3FetchParallel 1\n") as h:
        body, reqs, nbytes = children(h, key)
    with h5py.File(path, "r") as f:
        want = [expected_child(f, "/", n) for n in f["/"].keys()]
    assert body["children"] == want
    assert nbytes <= 1.5 * MiB, nbytes
    assert reqs <= NCHILD + NCHILD // 4 + 16, reqs


@pytest.mark.parametrize("conf,why", [
    ("H5S3FetchParallel 0", "H5S3FetchParallel: '0' is not valid"),
    ("H5S3FetchParallel 1025", "H5S3FetchParallel: '1025' is not valid"),
    ("H5S3FetchParallel many", "H5S3FetchParallel: 'many' is not valid"),
    ("<VirtualHost *:*>\nH5S3FetchParallel 8\n</VirtualHost>",
     "cannot occur within <VirtualHost> section"),
])
def test_fetch_parallel_is_checked(make_httpd, conf, why):
    h = make_httpd(conf, start=False)
    rc, out = h.check()
    assert rc != 0 and why in out, out
