"""How raw chunk data is fetched, counted against a real httpd and RGW: a
strided heatmap fetches the chunks it touches by their own bytes (not the
64 KiB pages around them), neighbours sharing a request across small
gaps, and the values still equal h5py's."""

import os
import urllib.parse

import h5py
import numpy as np
import pytest

from harness.common import make_bucket
from harness.datafx import sanitize
from harness.counted import counted_get, page_cache_httpd, upload_fresh

BUCKET = "h5readplan"
HOST = "readplan.test"
SIDE = 4096
CHUNK = 64


@pytest.fixture(scope="module")
def files(rgw, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("readplan"))
    path = os.path.join(out, "strided.h5")
    with h5py.File(path, "w") as f:
        d = f.create_dataset("data", shape=(SIDE, SIDE), dtype=np.float32,
                             chunks=(CHUNK, CHUNK))
        rng = np.random.default_rng(5)
        for r in range(0, SIDE, 512):
            d[r:r + 512] = rng.random((512, SIDE), dtype=np.float32)
        # Chunks smaller than the gap between them and compressed: each
        # of its own size.
        z = f.create_dataset("small", shape=(1024, 1024), dtype=np.int32,
                             chunks=(32, 32), compression="gzip")
        z[:] = np.arange(1024 * 1024, dtype=np.int32).reshape(1024, 1024)
    make_bucket(rgw.client(), BUCKET)
    return out


@pytest.fixture(scope="module")
def srv(rgw, files, request):
    with page_cache_httpd(request, rgw, HOST, BUCKET) as h:
        yield h


def upload(rgw, files, name):
    return upload_fresh(rgw, files, BUCKET, name)


def data(srv, key, **params):
    """(parsed JSON, S3 requests, S3 bytes) of GET /files/key/data."""
    return counted_get(srv, "/hdf/files/%s/data?%s"
                       % (key, urllib.parse.urlencode(params)), HOST)


def touched_bytes(path, name, step):
    """Stored bytes of the chunks rows and columns 0, step, ... touch."""
    with h5py.File(path, "r") as f:
        d = f[name]
        rows = sorted({r // d.chunks[0] * d.chunks[0]
                       for r in range(0, d.shape[0], step)})
        cols = sorted({c // d.chunks[1] * d.chunks[1]
                       for c in range(0, d.shape[1], step)})
        total = 0
        for r in rows:
            for c in cols:
                total += d.id.get_chunk_info_by_coord((r, c)).size
        return total, len(rows) * len(cols)


@pytest.mark.parametrize("name,max_size", [("data", 16), ("small", 32)])
def test_strided_heatmap_fetches_the_chunks_it_touches(srv, rgw, files,
                                                       name, max_size):
    path = os.path.join(files, "strided.h5")
    key = upload(rgw, files, "strided.h5")
    b, reqs, nbytes = data(srv, key, path="/" + name, mode="heatmap",
                           max_size=max_size)
    step = b["downsample_info"]["row_step"]
    with h5py.File(path, "r") as f:
        want = f[name][::step, ::step]
    assert b["data"] == sanitize(want)
    stored, nchunks = touched_bytes(path, name, step)
    print("%s: %d chunks, %d stored bytes, %d S3 bytes (%.2fx), %d "
          "requests" % (name, nchunks, stored, nbytes, nbytes / stored,
                        reqs))
    # The open read (128 KiB), the index nodes on the way, the chunks:
    # within a quarter of the chunks' own bytes (pages made it 4.4x).
    assert nbytes <= 1.25 * stored, (nbytes, stored)
    # One request per chunk at most (far apart), plus HEAD, open and the
    # index nodes (64 chunks a leaf, each leaf by its own bytes).
    with h5py.File(path, "r") as f:
        leaves = f[name].id.get_num_chunks() // 64 + 1
    assert reqs <= nchunks + leaves + 8, (reqs, nchunks, leaves)
    # Warm: the chunks are in the page cache as extents.
    _, reqs, nbytes = data(srv, key, path="/" + name, mode="heatmap",
                           max_size=max_size, etag="warm")
    assert nbytes == 0 and reqs <= 1, (reqs, nbytes)
