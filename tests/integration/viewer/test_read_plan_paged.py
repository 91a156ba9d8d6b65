"""A file written with paged aggregation (the HDF Group's cloud-optimised
layout: metadata and raw data in separate 1 MiB file-space pages): a cold
listing and the metadata of every child, counted against a real httpd
and RGW; the answers still equal h5py's."""

import os

import h5py
import numpy as np
import pytest

from harness.common import make_bucket
from harness.h5oracle import expected_child, expected_meta
from harness.counted import counted_get, page_cache_httpd, upload_fresh

BUCKET = "h5readpaged"
HOST = "readpaged.test"
NCHILD = 100


@pytest.fixture(scope="module")
def files(rgw, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("readpaged"))
    path = os.path.join(out, "paged.h5")
    rng = np.random.default_rng(13)
    with h5py.File(path, "w", fs_strategy="page", fs_page_size=1 << 20,
                   fs_persist=False) as f:
        for i in range(NCHILD):
            d = f.create_dataset("d%03d" % i,
                                 data=rng.random(20000, dtype=np.float32))
            d.attrs["index"] = i
            d.attrs["units"] = "m/s"
    make_bucket(rgw.client(), BUCKET)
    return out


@pytest.fixture(scope="module")
def srv(rgw, files, request):
    with page_cache_httpd(request, rgw, HOST, BUCKET) as h:
        yield h


def get(srv, key, route, path):
    return counted_get(srv, "/hdf/files/%s/%s?path=%s" % (key, route, path),
                       HOST)


def test_cold_children_and_meta_of_a_paged_file(srv, rgw, files):
    path = os.path.join(files, "paged.h5")
    key = upload_fresh(rgw, files, BUCKET, "paged.h5")
    body, reqs, nbytes = get(srv, key, "children", "/")
    with h5py.File(path, "r") as f:
        want = [expected_child(f, "/", n) for n in f["/"].keys()]
    assert body["children"] == want
    total = reqs
    with h5py.File(path, "r") as f:
        for i in range(NCHILD):
            m, r, _ = get(srv, key, "meta", "/d%03d" % i)
            assert m["metadata"] == expected_meta(f, "/d%03d" % i), m
            total += r
    print("paged.h5 (%d bytes): /children %d requests %d bytes; with every "
          "/meta %d requests" % (os.path.getsize(path), reqs, nbytes, total))
    # The open read (128 KiB) holds the whole metadata page (all of it
    # lies below 37 KiB here); the second request is the page holding the
    # global heap collection of the "units" strings, which HDF5 allocates
    # as raw data, after the first dataset's values (1.08 MiB in).  Every
    # /meta after it is served from the cache (was 3).  One request would
    # need the open read to reach that collection, which only the
    # attributes' heap IDs tell.
    assert total <= 2, total
