"""The Zarr v2 store view's limits and exactness (docs/zarr.md): chunk
buffers are charged to H5S3MemoryBudget (a chunk over it is the same 503
with Retry-After as /data), a Range of a passthrough chunk reads only its
bytes from S3, a u8 fill value above 2^63 reads back exactly through
zarr-python, and a chunk stored with filters skipped still reads."""

import json
import os
import zlib
from urllib.parse import quote, urlencode

import h5py
import numpy as np
import pytest
import zarr

from harness.common import make_bucket, vhost
from harness.plugin import module_httpd, selected_mpms

BUCKET = "h5zarrlim"
HOST = "zarrlimits.test"
BIG = 20 * 1024 * 1024          # one chunk, over the 16M budget


def write_limits(path):
    rng = np.random.default_rng(3)
    with h5py.File(path, "w") as f:
        # Random bytes barely compress: the stored chunk is over 16M.
        f.create_dataset("big_pass", data=rng.integers(0, 256, BIG, "u1"),
                         chunks=(BIG,), compression="gzip",
                         compression_opts=1)
        # fletcher32 makes it decoded: 20M decoded from a tiny stored one.
        f.create_dataset("big_dec", shape=(BIG,), dtype="u1", chunks=(BIG,),
                         fletcher32=True, compression="gzip",
                         fillvalue=0)[:] = 1
        f.create_dataset("small_pass", data=np.arange(4096, dtype="<f8"),
                         chunks=(1024,), compression="gzip")
        f.create_dataset("small_dec", data=np.arange(4096, dtype="<f8"),
                         chunks=(1024,), fletcher32=True)
        f.create_dataset("ranged", data=rng.normal(size=(256, 256)),
                         chunks=(256, 256), compression="gzip",
                         shuffle=True)
        u = f.create_dataset("u8fill", shape=(10,), dtype="<u8",
                             chunks=(5,), fillvalue=np.uint64(2**64 - 1))
        u[:5] = np.arange(5, dtype="<u8")
        # Chunk 0 stored without its deflate (filter mask 1), as HDF5 does
        # when an optional filter fails; chunk 1 compressed as usual.
        m = f.create_dataset("masked", shape=(20,), dtype="<i4",
                             chunks=(10,), compression="gzip")
        m[10:] = np.arange(10, 20, dtype="<i4")
        m.id.write_direct_chunk((0,), np.arange(10, dtype="<i4").tobytes(),
                                filter_mask=1)


@pytest.fixture(scope="module")
def files(rgw, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("zarrlimits"))
    write_limits(os.path.join(out, "limits.h5"))
    s3 = make_bucket(rgw.client(), BUCKET)
    s3.upload_file(os.path.join(out, "limits.h5"), BUCKET, "limits.h5")
    return out


@pytest.fixture(scope="module")
def srv(rgw, files, request):
    with module_httpd(selected_mpms(request.config)[0],
                      "H5S3MemoryBudget 16M\n"
                      + vhost(rgw, HOST, [BUCKET])) as h:
        yield h


def get(srv, path, headers=None, method="GET"):
    return srv.request(method, path, headers=headers, host=HOST)


def store_path(rest, key="limits.h5"):
    return "/hdf/zarr/%s/%s" % (quote(key, safe=""), rest)


async def few_connections(**kw):
    """fsspec's aiohttp session with at most 4 connections (the test
    httpd's workers are few)."""
    import aiohttp
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=4), **kw)


def open_store(srv, key="limits.h5"):
    from zarr.storage import FSStore
    url = "http://127.0.0.1:%d/hdf/zarr/%s/" % (srv.port, quote(key, safe=""))
    store = FSStore(url, get_client=few_connections,
                    client_kwargs={"headers": {"Host": HOST}})
    return zarr.open_consolidated(store, mode="r")


def data_url(path):
    return "/hdf/h5grove/data/?" + urlencode(dict(
        file="limits.h5", path=path, format="bin"))


@pytest.mark.parametrize("name", ["big_pass", "big_dec"])
def test_chunk_over_the_memory_budget_is_503_as_data_is(srv, name):
    st, hdrs, body = get(srv, store_path(name + "/0"))
    assert st == 503, body[:200]
    err = json.loads(body)
    assert err["success"] is False and "memory budget" in err["error"]
    assert hdrs.get("Retry-After") == "5"
    assert hdrs.get("Cache-Control") == "no-store"
    # /data of the same dataset says the same.
    st2, hdrs2, body2 = get(srv, data_url("/" + name))
    assert st2 == 503 and hdrs2.get("Retry-After") == "5"
    assert "memory budget" in body2.decode()
    # The size of a passthrough chunk is known without its bytes.
    if name == "big_pass":
        st, hh, _ = get(srv, store_path(name + "/0"), method="HEAD")
        assert st == 200 and int(hh["Content-Length"]) > 16 * 1024 * 1024


def test_chunks_under_the_budget_pass(srv, files):
    with h5py.File(os.path.join(files, "limits.h5"), "r") as f:
        d = f["small_pass"]
        st, _, body = get(srv, store_path("small_pass/2"))
        assert st == 200
        assert body == d.id.read_direct_chunk((2048,))[1]
        st, _, body = get(srv, store_path("small_dec/3"))
        assert st == 200
        assert (np.frombuffer(body, "<f8") == f["small_dec"][3072:]).all()
    # The budget was given back: the same chunks read again, many times.
    for _ in range(5):
        assert get(srv, store_path("small_dec/1"))[0] == 200


def test_range_of_a_passthrough_chunk_reads_only_the_range(srv, rgw,
                                                           files):
    path = store_path("ranged/0.0")
    with h5py.File(os.path.join(files, "limits.h5"), "r") as f:
        d = f["ranged"]
        size = d.id.get_chunk_info(0).size
        stored = d.id.read_direct_chunk((0, 0))[1]
    assert size > 100000
    get(srv, path)      # the file's metadata, whatever it costs, once
    st, hf, full = get(srv, path)
    assert st == 200 and full == stored
    mark = rgw.request_count()
    st, hr, part = get(srv, path, headers={"Range": "bytes=1000-1099"})
    assert st == 206 and part == full[1000:1100]
    assert hr["Content-Range"] == "bytes 1000-1099/%d" % size
    # Whatever else both requests read from S3 is the same: the range
    # costs its 100 bytes where the whole chunk cost its size.
    full_bytes = int(hf["X-H5S3-S3-Bytes"])
    part_bytes = int(hr["X-H5S3-S3-Bytes"])
    assert full_bytes - part_bytes == size - 100
    gets = [r for r in rgw.requests_since(mark) if r["method"] == "GET"]
    assert 100 in [r["bytes"] for r in gets]
    assert sum(r["bytes"] for r in gets) == part_bytes
    # A suffix range and a 304 read no more than they send.
    st, hs, tail = get(srv, path, headers={"Range": "bytes=-10"})
    assert st == 206 and tail == full[-10:]
    assert int(hs["X-H5S3-S3-Bytes"]) == part_bytes - 90
    st, hn, _ = get(srv, path, headers={"If-None-Match": hf["ETag"]})
    assert st == 304
    assert int(hn["X-H5S3-S3-Bytes"]) == part_bytes - 100


def test_u8_fill_value_above_2_63_is_exact(srv, files):
    st, _, body = get(srv, store_path("u8fill/.zarray"))
    assert st == 200
    assert b'"fill_value":18446744073709551615' in body
    assert json.loads(body)["fill_value"] == 2**64 - 1
    g = open_store(srv)
    z = g["u8fill"]
    assert z.dtype == np.dtype("<u8") and z.fill_value == 2**64 - 1
    with h5py.File(os.path.join(files, "limits.h5"), "r") as f:
        want = f["u8fill"][()]
    assert want[-1] == 2**64 - 1
    assert (z[()] == want).all()
    # The same document through the consolidated metadata, twice: the
    # second from the shared cache, as the first wrote it.
    bodies = []
    for _ in range(2):
        st, hdrs, meta = get(srv, store_path(".zmetadata"))
        assert st == 200
        za = json.loads(meta)["metadata"]["u8fill/.zarray"]
        assert za["fill_value"] == 2**64 - 1
        bodies.append(meta)
    assert hdrs["X-H5S3-Cache"] == "hit"
    assert bodies[0] == bodies[1]


def test_chunk_stored_with_filters_skipped_reads(srv, files):
    za = json.loads(get(srv, store_path("masked/.zarray"))[2])
    assert za["compressor"]["id"] == "zlib"
    st, _, body = get(srv, store_path("masked/0"))
    assert st == 200, body[:200]
    # Sent as the .zarray's codecs say, as its neighbour is.
    assert np.frombuffer(zlib.decompress(body), "<i4").tolist() \
        == list(range(10))
    g = open_store(srv)
    with h5py.File(os.path.join(files, "limits.h5"), "r") as f:
        assert (g["masked"][()] == f["masked"][()]).all()
