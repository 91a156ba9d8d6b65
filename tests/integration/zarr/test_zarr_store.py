"""The Zarr v2 store view (docs/zarr.md) against a real httpd and RGW:
zarr-python (Debian's python3-zarr over fsspec's HTTP file system) opens
h5py-written files through .zmetadata and reads every dtype as h5py
does; chunks pass through unchanged when the filters allow (S3 bytes
counted from RGW's log), unallocated chunks are 404 and read as the fill
value; HEAD, Range, ETag and 304; hostile store keys get JSON errors."""

import json
import os
import uuid

import h5py
import hdf5plugin
import numpy as np
import pytest
import zarr

from harness.common import make_bucket, vhost
from harness.plugin import module_httpd, selected_mpms

BUCKET = "h5zarr"
OTHER = "h5zarr2"
HOST = "zarr.test"
LIMITED = "zarrlimit.test"


def write_types(path):
    """One dataset per dtype the store serves, and a few it leaves out."""
    rng = np.random.default_rng(11)
    with h5py.File(path, "w") as f:
        f.attrs["title"] = "types"
        f.attrs["nan"] = np.float64("nan")
        f.attrs["inf"] = np.array([1.0, np.inf, -np.inf])
        for dt in ("<i1", "<u1", "<i2", ">i2", "<u2", "<i4", ">u4", "<i8",
                   "<u8", "<f2", "<f4", ">f4", "<f8", ">f8"):
            a = (rng.normal(size=(37, 11)) * 100).astype(dt)
            f.create_dataset("num/" + dt.replace("<", "le_").replace(
                ">", "be_"), data=a, chunks=(8, 4))
        f.create_dataset("bool", data=rng.normal(size=50) > 0, chunks=(16,))
        f.create_dataset("fixed", data=np.array([b"alpha", b"be", b"",
                                                 b"0123456789"], "S10"))
        f.create_dataset("vlen", data=np.array(["a", "\u00e9t\u00e9", "",
                                                "longer string"] * 5,
                                               dtype=h5py.string_dtype()),
                         chunks=(6,))
        f.create_dataset("vlen_big", data=np.array(["x" * 600] * 4,
                                                   dtype=h5py.string_dtype()),
                         chunks=(4,))
        cmp = np.dtype([("x", "<i4"), ("y", ">f8"), ("s", "S3")])
        c = np.zeros(9, cmp)
        c["x"] = np.arange(9)
        c["y"] = np.arange(9) / 3
        c["s"] = b"ab"
        f.create_dataset("compound", data=c, chunks=(4,))
        f.create_dataset("complex", data=np.arange(10) * (1 + 2j),
                         chunks=(3,))
        et = h5py.enum_dtype({"RED": 0, "GREEN": 1, "BLUE": 2},
                             basetype="i1")
        f.create_dataset("enum", data=np.array([0, 1, 2, 1], "i1"),
                         dtype=et)
        f.create_dataset("scalar", data=np.float32(2.5))
        f.create_dataset("contig", data=np.arange(3000.0).reshape(300, 10))
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        space = h5py.h5s.create_simple((12,))
        did = h5py.h5d.create(f.id, b"compact", h5py.h5t.STD_I16LE, space,
                              dcpl=dcpl)
        did.write(h5py.h5s.ALL, h5py.h5s.ALL, np.arange(12, dtype="<i2"))
        # Left out, named in the root's .zattrs.
        f.create_dataset("refs", data=np.array([f["bool"].ref] * 2),
                         dtype=h5py.ref_dtype)
        f.create_dataset("opaque", data=np.void(b"\x01\x02\x03"))
        # Names with spaces and non-ASCII letters, percent-encoded by
        # the client in the store key.
        f.create_dataset("sp ace/\u00fcml \u00e9", data=np.arange(7.0),
                         chunks=(3,))
        g = f.create_group("grp/sub")
        g.attrs["units"] = "m"
        g.create_dataset("deep", data=np.arange(5, dtype="<i4"))


def write_chunks(path):
    """Filters passed through, filters decoded, unallocated chunks, edges."""
    rng = np.random.default_rng(5)
    a = (rng.normal(size=(200, 130)) * 50).astype("<f4")
    with h5py.File(path, "w") as f:
        f.create_dataset("gzip_shuffle", data=a, chunks=(32, 32),
                         compression="gzip", compression_opts=6,
                         shuffle=True)
        f.create_dataset("gzip", data=a.astype(">f8"), chunks=(50, 64),
                         compression="gzip")
        f.create_dataset("fletcher", data=a, chunks=(64, 64),
                         fletcher32=True, compression="gzip")
        f.create_dataset("lzf", data=a, chunks=(64, 64), compression="lzf")
        p = f.create_dataset("partial", shape=(100, 100), dtype="<i4",
                             chunks=(30, 30), fillvalue=-7,
                             compression="gzip")
        p[:30] = np.arange(3000, dtype="<i4").reshape(30, 100)
        f.create_dataset("plain", data=a, chunks=(64, 64))
        f.create_dataset("default_fill", shape=(10,), dtype="<u2",
                         chunks=(5,))
        f.create_dataset("full_user_fill", data=np.arange(10, dtype="<i2"),
                         chunks=(5,), fillvalue=5)
        f.create_dataset("blosc", data=a, chunks=(64, 64),
                         **hdf5plugin.Blosc(cname="lz4", clevel=5,
                                            shuffle=hdf5plugin.Blosc.SHUFFLE))
        f.create_dataset("bzip2", data=a, chunks=(64, 64),
                         **hdf5plugin.BZip2(blocksize=9))
        f.create_dataset("lz4", data=a, chunks=(64, 64), **hdf5plugin.LZ4())


def write_dims(path):
    """Dimension scales as h5py and netCDF-4 write them."""
    with h5py.File(path, "w") as f:
        f["time"] = np.arange(4.0)
        f["time"].make_scale("time")
        f["time"].attrs["units"] = "days since 2000-01-01"
        # A netCDF dimension without a coordinate variable.
        f.create_dataset("x", data=np.zeros(3, "<f4"))
        f["x"].make_scale("This is a netCDF dimension but not a netCDF "
                          "variable.         3")
        t = f.create_dataset("temp", data=np.arange(12, dtype="<i2")
                             .reshape(4, 3), fillvalue=-1)
        t.dims[0].attach_scale(f["time"])
        t.dims[1].attach_scale(f["x"])
        t.attrs["_FillValue"] = np.int16(-1)
        t.attrs["scale_factor"] = np.float32(0.5)
        t.attrs["_Netcdf4Dimid"] = 0
        f.attrs["_NCProperties"] = "version=2"
        f.create_dataset("plain", data=np.zeros((4, 5)))


def write_netcdf(path):
    """netCDF-C's own layout: an unlimited dimension, packed shorts with
    _FillValue and scale_factor, a dimension without a coordinate."""
    import netCDF4
    with netCDF4.Dataset(path, "w") as nc:
        nc.title = "nc"
        nc.createDimension("time", None)
        nc.createDimension("station", 5)
        t = nc.createVariable("time", "f8", ("time",))
        t.units = "hours since 2020-01-01"
        t[:] = np.arange(6.0)
        v = nc.createVariable("temp", "i2", ("time", "station"),
                              fill_value=-999)
        v.scale_factor = 0.01
        v.add_offset = 273.15
        v.units = "K"
        v.set_auto_maskandscale(False)
        raw = (np.arange(30, dtype="i2") * 7).reshape(6, 5)
        raw[2, 3] = -999
        v[:] = raw
        n = nc.createVariable("count", "i4", ("station",))
        n[:] = np.arange(5, dtype="i4")


@pytest.fixture(scope="module")
def files(rgw, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("zarr"))
    write_types(os.path.join(out, "types.h5"))
    write_chunks(os.path.join(out, "chunks.h5"))
    write_dims(os.path.join(out, "dims.h5"))
    write_netcdf(os.path.join(out, "nc4.nc"))
    s3 = make_bucket(rgw.client(), BUCKET, OTHER)
    for name in ("types.h5", "chunks.h5", "dims.h5", "nc4.nc"):
        s3.upload_file(os.path.join(out, name), BUCKET, "dir/" + name)
    s3.upload_file(os.path.join(out, "types.h5"), OTHER,
                   "other dir/t\u00e9st file.h5")
    return out


@pytest.fixture(scope="module")
def srv(rgw, files, request):
    with module_httpd(selected_mpms(request.config)[0],
                      "H5S3PageCache 64M\n"
                      + vhost(rgw, HOST, [BUCKET, (OTHER, "second")])
                      + vhost(rgw, LIMITED, [BUCKET],
                              extra="    H5S3Limit entries 5\n"
                              "    H5S3Limit vlen-bytes 1K\n")) as h:
        yield h


def root_url(srv, key, alias=None):
    from urllib.parse import quote
    return "http://%s:%d/hdf/zarr/%s%s/" % (
        "127.0.0.1", srv.port, "@%s/" % alias if alias else "",
        quote(key, safe=""))


async def few_connections(**kw):
    """fsspec's aiohttp session, with at most 4 connections: the test
    httpd has 10 prefork workers, and a full server logs an error."""
    import aiohttp
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=4), **kw)


def open_store(srv, key, alias=None):
    from zarr.storage import FSStore
    store = FSStore(root_url(srv, key, alias), get_client=few_connections,
                    client_kwargs={"headers": {"Host": HOST}})
    return zarr.open_consolidated(store, mode="r")


def get(srv, path, headers=None, method="GET"):
    return srv.request(method, path, headers=headers, host=HOST)


def store_path(key, rest, alias=None):
    from urllib.parse import quote
    return "/hdf/zarr/%s%s/%s" % ("@%s/" % alias if alias else "",
                                  quote(key, safe=""), rest)


def check_equal(z, d):
    """zarr array z reads as h5py dataset d does, dtype included."""
    want = d[()]
    got = z[()]
    if d.dtype.kind == "O":
        want = np.array([s.decode() if isinstance(s, bytes) else s
                         for s in want.ravel()], object).reshape(want.shape)
    assert got.dtype == want.dtype, (d.name, got.dtype, want.dtype)
    assert got.shape == want.shape, d.name
    if want.dtype.kind == "f":
        np.testing.assert_array_equal(got, want)
    else:
        assert (got == want).all(), d.name


def test_every_dtype_reads_as_h5py(srv, files):
    g = open_store(srv, "dir/types.h5")
    with h5py.File(os.path.join(files, "types.h5"), "r") as f:
        names = []
        f.visititems(lambda n, o: names.append(n)
                     if isinstance(o, h5py.Dataset) else None)
        for n in names:
            if n in ("refs", "opaque"):
                assert n not in g
                continue
            check_equal(g[n], f[n])
        assert g["num/be_f8"].dtype == np.dtype(">f8")
        assert g["compound"].dtype == np.dtype([("x", "<i4"), ("y", ">f8"),
                                                ("s", "S3")])
        assert g["enum"].dtype == np.dtype("i1")
    skipped = g.attrs["_h5s3_skipped"]
    assert "reference" in skipped["refs"]
    assert "opaque" in skipped["opaque"]
    assert g.attrs["title"] == "types"
    assert g["grp/sub"].attrs["units"] == "m"


def test_attributes_spell_nan_and_infinity(srv):
    st, _, body = get(srv, store_path("dir/types.h5", ".zattrs"))
    assert st == 200
    text = body.decode()
    assert '"NaN"' in text and '"Infinity"' in text and '"-Infinity"' in text
    attrs = json.loads(text)
    assert attrs["inf"] == [1.0, "Infinity", "-Infinity"]
    # Same lengths, same phony names; two dims of one array differ.
    dims = [json.loads(get(srv, store_path("dir/types.h5", "num/%s/.zattrs"
                                           % n))[2])["_ARRAY_DIMENSIONS"]
            for n in ("le_f4", "be_f8")]
    assert dims[0] == dims[1]
    assert dims[0][0] != dims[0][1]
    assert all(d.startswith("phony_dim_") for d in dims[0])


def test_second_bucket_by_alias_and_unicode_key(srv, files):
    g = open_store(srv, "other dir/t\u00e9st file.h5", alias="second")
    with h5py.File(os.path.join(files, "types.h5"), "r") as f:
        check_equal(g["num/be_f8"], f["num/be_f8"])
    st, _, body = get(srv, store_path("dir/types.h5", ".zmetadata",
                                      alias="nosuch"))
    assert st == 404 and "nosuch" in json.loads(body)["error"]


def test_chunks_read_as_h5py_with_each_pipeline(srv, files):
    g = open_store(srv, "dir/chunks.h5")
    with h5py.File(os.path.join(files, "chunks.h5"), "r") as f:
        for n in ("gzip_shuffle", "gzip", "fletcher", "plain", "partial",
                  "blosc", "bzip2", "lz4"):
            check_equal(g[n], f[n])
    # No LZF plugin on the server: left out, and said why.
    assert "lzf" not in g
    assert "lzf" in g.attrs["_h5s3_skipped"]["lzf"]
    meta = json.loads(get(srv, store_path("dir/chunks.h5", ".zmetadata"))[2])
    m = meta["metadata"]
    assert m["gzip_shuffle/.zarray"]["compressor"] == {"id": "zlib",
                                                      "level": 6}
    assert m["gzip_shuffle/.zarray"]["filters"] == [
        {"id": "shuffle", "elementsize": 4}]
    assert m["gzip/.zarray"]["dtype"] == ">f8"
    assert m["fletcher/.zarray"]["compressor"] is None
    assert m["partial/.zarray"]["fill_value"] == -7
    # No _FillValue attribute: HDF5's fill when chunks are missing, null
    # when none is (xarray would mask the data's values equal to it).
    assert m["default_fill/.zarray"]["fill_value"] == 0
    assert m["plain/.zarray"]["fill_value"] is None
    assert m["full_user_fill/.zarray"]["fill_value"] is None
    assert m["blosc/.zarray"]["compressor"]["id"] == "blosc"
    assert m["blosc/.zarray"]["compressor"]["cname"] == "lz4"
    assert m["bzip2/.zarray"]["compressor"]["id"] == "bz2"
    # LZ4's HDF5 framing is not numcodecs' LZ4: decoded on the server.
    assert m["lz4/.zarray"]["compressor"] is None


@pytest.mark.parametrize("name", ["blosc", "bzip2"])
def test_blosc_and_bzip2_chunks_pass_through(srv, files, name):
    with h5py.File(os.path.join(files, "chunks.h5"), "r") as f:
        raw = f[name].id.read_direct_chunk((64, 0))[1]
    st, _, body = get(srv, store_path("dir/chunks.h5", name + "/1.0"))
    assert st == 200 and body == raw


def test_dimension_scales_name_dimensions(srv, files):
    meta = json.loads(get(srv, store_path("dir/dims.h5", ".zmetadata"))[2])
    m = meta["metadata"]
    assert m["temp/.zattrs"]["_ARRAY_DIMENSIONS"] == ["time", "x"]
    assert m["time/.zattrs"]["_ARRAY_DIMENSIONS"] == ["time"]
    assert m["time/.zattrs"]["units"] == "days since 2000-01-01"
    # The dimension-only scale is no array; bookkeeping is dropped.
    assert "x/.zarray" not in m and "x/.zattrs" not in m
    assert set(m["temp/.zattrs"]) == {"_ARRAY_DIMENSIONS", "_FillValue",
                                      "scale_factor"}
    assert m["temp/.zattrs"]["_FillValue"] == -1
    assert m["temp/.zarray"]["fill_value"] == -1
    assert m["temp/.zattrs"]["scale_factor"] == 0.5
    assert "_NCProperties" not in m[".zattrs"]
    assert "_h5s3_skipped" not in m[".zattrs"]
    assert m["plain/.zattrs"]["_ARRAY_DIMENSIONS"][0].startswith("phony_dim")
    g = open_store(srv, "dir/dims.h5")
    with h5py.File(os.path.join(files, "dims.h5"), "r") as f:
        check_equal(g["temp"], f["temp"])
        check_equal(g["time"], f["time"])


def test_passthrough_reads_the_stored_bytes_only(srv, rgw, files):
    """A fresh key: every chunk of gzip+shuffle is one ranged GET of its
    stored size, the bytes equal what h5py reads raw."""
    key = "pass-%s.h5" % uuid.uuid4().hex[:8]
    rgw.client().upload_file(os.path.join(files, "chunks.h5"), BUCKET, key)
    st, _, _ = get(srv, store_path(key, ".zmetadata"))
    assert st == 200
    with h5py.File(os.path.join(files, "chunks.h5"), "r") as f:
        d = f["gzip_shuffle"]
        infos = [d.id.get_chunk_info(i) for i in
                 range(d.id.get_num_chunks())]
        mark = rgw.request_count()
        total = 0
        for info in infos:
            idx = ".".join(str(o // c) for o, c in
                           zip(info.chunk_offset, d.chunks))
            st, hdrs, body = get(srv, store_path(key, "gzip_shuffle/" + idx))
            assert st == 200, body[:200]
            assert hdrs["Content-Type"] == "application/octet-stream"
            assert body == d.id.read_direct_chunk(info.chunk_offset)[1]
            total += info.size
    reqs = [r for r in rgw.requests_since(mark) if r["method"] == "GET"]
    got = sum(r["bytes"] for r in reqs)
    assert len(reqs) == len(infos)
    assert got == total


def test_unallocated_chunk_is_404_and_reads_as_fill(srv, files):
    st, hdrs, body = get(srv, store_path("dir/chunks.h5", "partial/3.3"))
    assert st == 404
    assert "not allocated" in json.loads(body)["error"]
    g = open_store(srv, "dir/chunks.h5")
    assert (g["partial"][90:, 90:] == -7).all()


def test_edge_chunks_are_full_size(srv):
    # contig: 300 rows of 10 doubles fit one synthetic chunk.
    meta = json.loads(get(srv, store_path("dir/types.h5", ".zmetadata"))[2])
    za = meta["metadata"]["contig/.zarray"]
    assert za["chunks"] == [300, 10] and za["compressor"] is None
    # plain: 200 x 130 in 64 x 64 chunks, decoded; the corner is padded.
    st, _, body = get(srv, store_path("dir/chunks.h5", "plain/3.2"))
    assert st == 200 and len(body) == 64 * 64 * 4
    st, _, body = get(srv, store_path("dir/chunks.h5", "partial/0.3"))
    assert st == 200
    # gzip-compressed: decompress and check the padding holds the fill.
    import zlib
    a = np.frombuffer(zlib.decompress(body), "<i4").reshape(30, 30)
    assert (a[:, 10:] == 0).all() or (a[:, 10:] == -7).all()


def test_head_range_etag_and_304(srv):
    path = store_path("dir/chunks.h5", "plain/0.0")
    st, hdrs, body = get(srv, path)
    assert st == 200 and len(body) == 64 * 64 * 4
    etag = hdrs["ETag"]
    assert etag.startswith('"') and "max-age" in hdrs["Cache-Control"]
    st, h2, b2 = get(srv, path, method="HEAD")
    assert st == 200 and b2 == b"" and h2["ETag"] == etag
    assert int(h2["Content-Length"]) == len(body)
    # HEAD of a passed-through chunk: its size, without fetching it.
    gz = store_path("dir/chunks.h5", "gzip_shuffle/1.1")
    st, hg, bg = get(srv, gz)
    st2, hh, bh = get(srv, gz, method="HEAD")
    assert st == st2 == 200 and bh == b"" and hh["ETag"] == hg["ETag"]
    assert int(hh["Content-Length"]) == len(bg)
    assert hh["X-H5S3-S3-Bytes"] == "0"
    st, h3, b3 = get(srv, path, headers={"Range": "bytes=100-199"})
    assert st == 206 and b3 == body[100:200]
    assert h3["Content-Range"] == "bytes 100-199/%d" % len(body)
    st, _, b4 = get(srv, path, headers={"Range": "bytes=-16"})
    assert st == 206 and b4 == body[-16:]
    st, h5, b5 = get(srv, path, headers={"Range": "bytes=999999-"})
    assert st == 416 and "Range" in json.loads(b5)["error"]
    st, _, b6 = get(srv, path, headers={"If-None-Match": etag})
    assert st == 304 and b6 == b""
    # Another key of the same object has another ETag.
    st, h7, _ = get(srv, store_path("dir/chunks.h5", "plain/0.1"))
    assert st == 200 and h7["ETag"] != etag
    st, h8, _ = get(srv, store_path("dir/chunks.h5", ".zmetadata"))
    assert st == 200 and h8["ETag"] and "max-age" in h8["Cache-Control"]


@pytest.mark.parametrize("rest,status,words", [
    ("plain/0.x", 400, "decimal"),
    ("plain/0", 400, "2 decimal"),
    ("plain/0.0.0", 400, "decimal"),
    ("plain/4.0", 404, "outside the chunk grid"),
    ("plain/99999999999999999999999.0", 404, "outside the chunk grid"),
    ("nosuch/0.0", 404, "not an array"),
    ("nosuch/.zarray", 404, "not found"),
    ("plain%2F0.0", 400, "%2F"),
    ("plain/.zgroup", 404, "not found"),
    ("plain/..%2F..%2F0.0", 400, "%2F"),
    ("grp/../plain/0.0", 404, "not an array"),
    ("0", 404, "not an array"),
    ("plain/" + "1" * 5000 + ".0", 404, "outside the chunk grid"),
    ("compound/0", 404, "not an array"),
    (".zarray", 404, "not found"),
])
def test_hostile_store_keys_get_json_errors(srv, rest, status, words):
    st, hdrs, body = get(srv, store_path("dir/chunks.h5", rest))
    assert st == status, body[:200]
    assert hdrs["Content-Type"].startswith("application/json")
    assert words in json.loads(body)["error"]


def test_missing_file_and_not_hdf5(srv, rgw):
    st, _, body = get(srv, store_path("dir/nosuch.h5", ".zmetadata"))
    assert st == 404 and "nosuch" in json.loads(body)["error"]
    rgw.client().put_object(Bucket=BUCKET, Key="dir/text.h5",
                            Body=b"not an hdf5 file at all" * 100)
    st, _, body = get(srv, store_path("dir/text.h5", ".zmetadata"))
    assert st == 422 and "not a valid HDF5" in json.loads(body)["error"]


def test_xarray_opens_dims_coordinates_and_cf_decoding(srv, files):
    import xarray as xr
    from zarr.storage import FSStore
    store = FSStore(root_url(srv, "dir/dims.h5"), get_client=few_connections)
    ds = xr.open_zarr(store, consolidated=True)
    assert set(ds.data_vars) == {"temp", "plain"}
    assert list(ds.coords) == ["time"]
    assert ds["temp"].dims == ("time", "x")
    assert ds.sizes["x"] == 3 and "x" not in ds.variables
    with h5py.File(os.path.join(files, "dims.h5"), "r") as f:
        want = f["temp"][()].astype("f4") * np.float32(0.5)
        np.testing.assert_array_equal(ds["temp"].values, want)
        # CF time decoding, from the units attribute passed through.
        np.testing.assert_array_equal(
            ds["time"].values, np.datetime64("2000-01-01", "ns")
            + (f["time"][()] * 86400e9).astype("timedelta64[ns]"))
        np.testing.assert_array_equal(
            ds["temp"].isel(time=slice(1, 3)).values,
            f["temp"][1:3].astype("f4") * np.float32(0.5))


def test_budgets_bound_the_metadata_walk(srv, rgw, files):
    """A vhost allowing 5 links per request: types.h5 has more, and the
    whole walk is refused with the limit named, not cut short.  A fresh
    key: an answer cached for another vhost of the same S3 scope would be
    served as it is (the work is done)."""
    key = "limit-%s.h5" % uuid.uuid4().hex[:8]
    rgw.client().upload_file(os.path.join(files, "types.h5"), BUCKET, key)
    st, _, body = srv.request("GET", store_path(key, ".zmetadata"),
                              host=LIMITED)
    assert st == 422, body[:300]
    assert "entries" in json.loads(body)["error"]
    # Four strings of 600 bytes: over 1K of vlen data.
    st, _, body = srv.request("GET", store_path("dir/types.h5",
                                                "vlen_big/0"), host=LIMITED)
    assert st == 422 and "vlen-bytes" in json.loads(body)["error"]
    # A chunk lists no links: still served.
    st, _, body = srv.request("GET", store_path("dir/chunks.h5", "plain/0.0"),
                              host=LIMITED)
    assert st == 200 and len(body) == 64 * 64 * 4


@pytest.mark.parametrize("path,status,words", [
    ("/hdf/zarr/dir%2Fchunks.h5", 404, ".zmetadata below it"),
    ("/hdf/zarr/dir%2Fchunks.h5/", 404, ".zmetadata below it"),
    ("/hdf/zarr/@/dir%2Fchunks.h5/.zmetadata", 400, "@{alias}"),
    ("/hdf/zarr/@second", 400, "@{alias}"),
    ("/hdf/zarr/%40x/.zmetadata", 404, "not found"),
])
def test_hostile_store_paths_get_json_errors(srv, path, status, words):
    st, hdrs, body = get(srv, path)
    assert st == status, body[:200]
    assert hdrs["Content-Type"].startswith("application/json")
    assert words in json.loads(body)["error"]


def test_only_get_and_head(srv):
    st, hdrs, body = srv.request("PUT", store_path("dir/chunks.h5",
                                                   "plain/0.0"),
                                 body=b"x", host=HOST)
    assert st == 405 and "GET" in hdrs["Allow"]
    assert json.loads(body)["success"] is False


def test_netcdf4_opens_as_netcdf_does(srv, files):
    import xarray as xr
    from zarr.storage import FSStore
    store = FSStore(root_url(srv, "dir/nc4.nc"), get_client=few_connections)
    got = xr.open_zarr(store, consolidated=True).load()
    want = xr.open_dataset(os.path.join(files, "nc4.nc"),
                           engine="netcdf4").load()
    assert got.sizes == want.sizes
    assert list(got.coords) == list(want.coords) == ["time"]
    assert "station" not in got.variables
    for name in want.variables:
        assert got[name].dims == want[name].dims, name
        assert got[name].dtype == want[name].dtype, name
        xr.testing.assert_equal(got[name], want[name])
        assert {k: v for k, v in got[name].attrs.items()} == \
            {k: v for k, v in want[name].attrs.items()}, name
    assert got.attrs["title"] == "nc"
    assert np.isnan(got["temp"].values[2, 3])
    xr.testing.assert_equal(got["temp"].sel(time=slice("2020-01-01T01",
                                                       "2020-01-01T03")),
                            want["temp"].sel(time=slice("2020-01-01T01",
                                                        "2020-01-01T03")))


def test_external_and_virtual_storage_never_read(srv, rgw, tmp_path):
    """Values in local files (external storage, virtual sources) are left
    out of the store with the reason, and their chunks are 422: nothing
    local is opened (inotify on the files)."""
    from harness.hostile import FileWatch
    secret = os.path.join(str(tmp_path), "secret.bin")
    with open(secret, "wb") as f:
        f.write(b"S" * 256)
    src = os.path.join(str(tmp_path), "src.h5")
    with h5py.File(src, "w") as f:
        f["data"] = np.arange(16, dtype="u1")
    path = os.path.join(str(tmp_path), "local.h5")
    with h5py.File(path, "w") as f:
        f["ok"] = np.arange(4.0)
        f.create_dataset("ext", shape=(16,), dtype="u1",
                         external=[(secret, 0, 16)])
        lay = h5py.VirtualLayout(shape=(16,), dtype="u1")
        lay[:] = h5py.VirtualSource(src, "data", shape=(16,))
        f.create_virtual_dataset("vds", lay, fillvalue=0)
    key = "local-%s.h5" % uuid.uuid4().hex[:8]
    rgw.client().upload_file(path, BUCKET, key)
    watch = FileWatch(secret, src)
    try:
        m = json.loads(get(srv, store_path(key, ".zmetadata"))[2])["metadata"]
        skipped = m[".zattrs"]["_h5s3_skipped"]
        assert "external raw data storage" in skipped["ext"]
        assert "virtual dataset" in skipped["vds"]
        assert "ok/.zarray" in m and "ext/.zarray" not in m
        for name in ("ext", "vds"):
            st, _, body = get(srv, store_path(key, name + "/0"))
            assert st == 422, body[:200]
            assert "storage" in json.loads(body)["error"] or \
                "virtual" in json.loads(body)["error"]
        assert watch.poll() == []
    finally:
        watch.close()
