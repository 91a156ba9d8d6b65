"""S3 traffic of cold reads of big chunked datasets, against a real httpd
and RGW: the chunk index is fetched a level at a time (not a node per
request), no byte of the object is fetched twice, selective reads fetch
only their part, and the values still equal h5py's."""

import os
import urllib.parse
import uuid

import h5py
import numpy as np
import pytest

from harness.common import make_bucket
from harness.datafx import sanitize
from harness.counted import counted_get, page_cache_httpd, upload_fresh

BUCKET = "h5effic"
HOST = "effic.test"
SIDE = 2048
CHUNK = 64          # 32 x 32 = 1024 chunks: 16 B-tree leaves and a root


def write(path, libver="earliest"):
    with h5py.File(path, "w", libver=libver) as f:
        d = f.create_dataset("data", shape=(SIDE, SIDE), dtype=np.float32,
                             chunks=(CHUNK, CHUNK), compression="gzip",
                             shuffle=True)
        rng = np.random.default_rng(3)
        for r in range(0, SIDE, CHUNK):
            d[r:r + CHUNK] = (rng.normal(size=(CHUNK, SIDE)) * 100).astype(
                np.float16).astype(np.float32)
        # Decoded outside HDF5 too: no filter, uneven chunks, 3 dims.
        f.create_dataset("cube", data=(np.arange(40 * 300 * 301) % 65521)
                         .astype(np.uint16).reshape(40, 300, 301),
                         chunks=(7, 64, 50))
        # Half the chunks never written: they read as the fill value.
        p = f.create_dataset("partial", shape=(512, 512), dtype=np.int32,
                             chunks=(64, 64), fillvalue=-7,
                             compression="gzip")
        p[:256] = np.arange(256 * 512, dtype=np.int32).reshape(256, 512)


@pytest.fixture(scope="module")
def files(rgw, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("effic"))
    write(os.path.join(out, "v1.h5"))
    write(os.path.join(out, "latest.h5"), libver="latest")
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


@pytest.mark.parametrize("name", ["v1.h5", "latest.h5"])
def test_cold_strided_heatmap_is_a_few_batches(srv, rgw, files, name):
    key = upload(rgw, files, name)
    size = os.path.getsize(os.path.join(files, name))
    b, reqs, nbytes = data(srv, key, path="/data", mode="heatmap",
                           max_size=256)
    step = b["downsample_info"]["row_step"]
    assert step == SIDE // 256          # every chunk is touched
    with h5py.File(os.path.join(files, name), "r") as f:
        want = f["data"][::step, ::step]
    assert b["data"] == sanitize(want)
    # HEAD and the open read; the index a level at a time: the root, then
    # the 16 leaves with the chunks between them, at most 8 ranges (or a
    # fixed array's header and data block); the few chunks left over.
    # Reading a B-tree leaf per request, as HDF5 does, made it 22.
    assert reqs <= 2 + 1 + 8 + 4, reqs
    # No page twice: never more than the object.
    assert nbytes <= size, (nbytes, size)
    # Warm: no byte from S3 (at most a HEAD revalidating the ETag).
    _, reqs, nbytes = data(srv, key, path="/data", mode="heatmap",
                           max_size=256, etag="warm")
    assert nbytes == 0 and reqs <= 1, (reqs, nbytes)


def test_cold_row_band_fetches_its_part_only(srv, rgw, files):
    key = upload(rgw, files, "v1.h5")
    size = os.path.getsize(os.path.join(files, "v1.h5"))
    b, reqs, nbytes = data(srv, key, path="/data", mode="matrix",
                           row_offset=1000, row_limit=3, col_limit=2000)
    with h5py.File(os.path.join(files, "v1.h5"), "r") as f:
        assert b["data"] == sanitize(f["data"][1000:1003, :2000])
    # One chunk row of 32: HEAD, open, the root, one or two leaves (one
    # batch), the chunks (one batch of at most two ranges); not 16 leaves.
    assert reqs <= 2 + 1 + 2 + 2, reqs
    assert nbytes < size / 4, (nbytes, size)


def test_unwritten_chunks_read_as_fill_value(srv, rgw, files):
    key = upload(rgw, files, "v1.h5")
    b, _, _ = data(srv, key, path="/partial", mode="heatmap", max_size=64)
    step = b["downsample_info"]["row_step"]
    with h5py.File(os.path.join(files, "v1.h5"), "r") as f:
        want = f["partial"][::step, ::step]
    assert (want == -7).any() and (want != -7).any()
    assert b["data"] == sanitize(want)


def test_decoded_3d_selection_equals_h5py(srv, rgw, files):
    key = upload(rgw, files, "v1.h5")
    b, _, _ = data(srv, key, path="/cube", mode="matrix",
                   display_dims="2,0", fixed_indices="1=123",
                   row_offset=3, row_limit=298, row_step=5, col_offset=1,
                   col_limit=39, col_step=3)
    with h5py.File(os.path.join(files, "v1.h5"), "r") as f:
        want = f["cube"][1::3, 123, 3::5].T
    assert b["data"] == sanitize(want)
    b, _, _ = data(srv, key, path="/cube", mode="heatmap", max_size=128,
                   fixed_indices="0=39")
    step = b["downsample_info"]["row_step"]
    cstep = b["downsample_info"]["col_step"]
    with h5py.File(os.path.join(files, "v1.h5"), "r") as f:
        assert b["data"] == sanitize(f["cube"][39, ::step, ::cstep])


def test_cold_open_is_one_request(srv, rgw, files, tmp_path):
    """Cold, one ranged GET tells the ETag and size and brings the bytes the
    open reads first: no HEAD before it.  A file smaller than that read is
    then served whole from the page cache."""
    path = str(tmp_path / "small.h5")
    with h5py.File(path, "w") as f:
        f["small"] = np.arange(100, dtype=np.int32).reshape(10, 10)
    assert os.path.getsize(path) < 128 * 1024
    key = "%s-small.h5" % uuid.uuid4().hex[:8]
    rgw.client().upload_file(path, BUCKET, key)
    b, reqs, _ = data(srv, key, path="/small", mode="matrix")
    assert b["data"] == np.arange(100).reshape(10, 10).tolist()
    assert reqs == 1, reqs
    _, reqs, nbytes = data(srv, key, path="/small", mode="matrix")
    assert reqs == 0 and nbytes == 0, (reqs, nbytes)


def test_cold_missing_empty_and_not_hdf5(srv, rgw, files):
    s3 = rgw.client()
    tag = uuid.uuid4().hex[:8]
    s3.put_object(Bucket=BUCKET, Key=tag + "-empty.h5", Body=b"")
    s3.put_object(Bucket=BUCKET, Key=tag + "-text.h5", Body=b"not hdf5\n")

    def status(key):
        st, _, body = srv.get("/hdf/files/%s/data?path=/x&mode=matrix"
                              % key, host=HOST)
        return st, body

    st, body = status(tag + "-missing.h5")
    assert st == 404, (st, body[:200])
    st_text, body = status(tag + "-text.h5")
    assert 400 <= st_text < 500 and st_text != 404, (st_text, body[:200])
    # Empty: S3 answers the ranged GET with 416; not a gateway failure.
    st, body = status(tag + "-empty.h5")
    assert st == st_text, (st, body[:200])
