"""The Zarr store view (docs/zarr.md) read by real clients nobody here
wrote: zarr-python 2 (Debian's python3-zarr) over fsspec's HTTP file
system (python3-aiohttp), against a real httpd and Ceph RGW.  Every
dataset of tests/fixtures/make_zarr_fixtures.py's dtypes.h5 is compared
with h5py's reading of the same file, dtype included, and so is the
project's own values.h5 (tests/fixtures/make_data_fixtures.py, every
filter); unallocated chunks read as the fill value; keys with folders, spaces and
unicode, and a second bucket by its alias; the S3 bytes of reading a
gzip+shuffle dataset are its stored chunk bytes (passthrough), counted
from RGW's access log."""

import json
import os
import subprocess

import h5py
import numpy as np
import zarr

from harness.zarrfx import (ALIAS2, ARCHIVE_KEY, AWKWARD_KEY, BUCKET,
                            gen_module, open_zarr_group, raw_get,
                            store_url, zfiles, zsrv)  # noqa: F401

SKIPPED_TYPES = {"refs"}        # object references: left out of the store


def h5_datasets(path):
    """{zarr path: h5py dataset name} of every dataset of the file."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj.name
        f.visititems(visit)
    return out


def h5_values(ds):
    """h5py's reading, with variable-length strings as str (as zarr's
    vlen-utf8 codec gives them)."""
    if h5py.check_string_dtype(ds.dtype) is not None \
            and ds.dtype.kind == "O":
        return np.asarray(ds.asstr()[()], dtype=object)
    return np.asarray(ds[()])


def assert_same(got, want, what):
    assert got.shape == want.shape, (what, got.shape, want.shape)
    if want.dtype.kind == "O":
        assert got.tolist() == want.tolist(), what
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def test_every_dtype_equals_h5py(zsrv, zfiles):
    path = os.path.join(zfiles, "dtypes.h5")
    g = open_zarr_group(store_url(zsrv, "dtypes.h5"))
    names = h5_datasets(path)
    with h5py.File(path, "r") as f:
        assert dict(g.attrs)["title"] == f.attrs["title"]
        checked = []
        for zpath, h5name in sorted(names.items()):
            if zpath in SKIPPED_TYPES:
                continue
            ds = f[h5name]
            arr = g[zpath]
            assert isinstance(arr, zarr.Array), zpath
            want = h5_values(ds)
            # The dtype as stored: byte order, width, kind, members.
            if ds.dtype.kind == "O":
                assert arr.dtype == np.dtype("O"), zpath
            else:
                assert arr.dtype == ds.dtype, (zpath, arr.dtype, ds.dtype)
                assert arr.dtype.str == ds.dtype.str, (zpath, arr.dtype.str)
            got = np.asarray(arr[...])
            assert_same(got, want, zpath)
            # A slice across chunk edges too.
            if ds.ndim == 2:
                assert_same(np.asarray(arr[3:29:2, 5:]),
                            want[3:29:2, 5:], zpath + " slice")
            checked.append(zpath)
    # Every dataset but the skipped ones was reached through .zmetadata.
    assert len(checked) == len(names) - len(SKIPPED_TYPES), checked
    assert "chunked/be_f8" in checked and "vlen_utf8" in str(checked)


def test_fill_values_are_read_where_nothing_was_written(zsrv, zfiles):
    """Explicit HDF5 fill values (-9.5, NaN) in chunks never written."""
    g = open_zarr_group(store_url(zsrv, "dtypes.h5"))
    with h5py.File(os.path.join(zfiles, "dtypes.h5"), "r") as f:
        for name in ("fill_f4", "fill_nan"):
            ds = f[name]
            assert ds.id.get_num_chunks() == 1       # of 3
            assert_same(np.asarray(g[name][...]), ds[()], name)
        assert (f["fill_f4"][10:] == -9.5).all()
        assert np.isnan(f["fill_nan"][:10]).all()


def test_layouts_and_codecs_in_zarray(zsrv):
    """Passthrough chunks name numcodecs' equivalent of the HDF5
    pipeline; contiguous datasets get synthetic chunks of whole rows."""
    base = store_url(zsrv, "dtypes.h5")
    _, _, body = raw_get(base + ".zmetadata")
    meta = json.loads(body)["metadata"]
    za = meta["chunked/le_f8/.zarray"]
    assert za["chunks"] == [10, 8] and za["shape"] == [37, 23]
    assert za["compressor"]["id"] == "zlib"
    assert za["filters"] == [{"id": "shuffle", "elementsize": 8}]
    assert za["dimension_separator"] == "."
    zc = meta["contiguous/be_f8/.zarray"]
    assert zc["dtype"] == ">f8" and zc["chunks"][1:] == [23]
    assert meta["chunked/vlen_utf8/.zarray"]["filters"] == [
        {"id": "vlen-utf8"}]
    # References are left out, with the reason in the parent's .zattrs.
    assert "refs/.zarray" not in meta
    assert "refs" in meta[".zattrs"]["_h5s3_skipped"]


def test_unallocated_chunks_read_as_fill_value(zsrv, zfiles):
    url = store_url(zsrv, "sparse.h5")
    g = open_zarr_group(url)
    with h5py.File(os.path.join(zfiles, "sparse.h5"), "r") as f:
        for name in ("grid", "never", "never_zero"):
            want = f[name][()]
            assert_same(np.asarray(g[name][...]), want, name)
        # What this reads: chunks never written, three fill values.
        assert f["grid"].id.get_num_chunks() == 5          # of 16
        assert f["never"].id.get_num_chunks() == 0
        assert f["never_zero"].id.get_num_chunks() == 0
        assert (f["grid"][()] == -7).any() and (f["never"][()] == 1.5).all()
        assert (f["never_zero"][()] == 0).all()


def test_key_with_folders_spaces_and_unicode(zsrv, zfiles):
    url = store_url(zsrv, AWKWARD_KEY)
    assert "%2F" in url and "%20" in url and "%C3%A9" in url
    g = open_zarr_group(url)
    with h5py.File(os.path.join(zfiles, "dimscales.h5"), "r") as f:
        for name in ("temperature", "pressure", "x", "y", "time"):
            assert_same(np.asarray(g[name][...]), f[name][()], name)


def test_second_bucket_by_alias(zsrv, zfiles):
    url = store_url(zsrv, ARCHIVE_KEY, alias=ALIAS2)
    assert ("/zarr/@%s/" % ALIAS2) in url
    g = open_zarr_group(url)
    with h5py.File(os.path.join(zfiles, "netcdf4.nc"), "r") as f:
        for name in ("sst", "lat", "lon", "time_bnds"):
            assert g[name].dtype == f[name].dtype, name
            assert_same(np.asarray(g[name][...]), f[name][()], name)
    # The default bucket does not have that key; an unmapped alias is 404.
    status, _, _ = raw_get(store_url(zsrv, ARCHIVE_KEY) + ".zmetadata")
    assert status == 404
    status, _, _ = raw_get(store_url(zsrv, ARCHIVE_KEY, alias="nope")
                           + ".zmetadata")
    assert status == 404


def _gets_of(entries, key):
    return [e for e in entries if e and e["method"] == "GET"
            and ("/%s/%s" % (BUCKET, key)) in e["target"]]


def test_gzip_shuffle_reads_the_stored_chunk_bytes(zsrv, rgw, zfiles):
    """Passthrough: reading the whole dataset costs S3 its stored chunks
    (plus the file's metadata), never the decoded size and never a chunk
    twice.  Counted from RGW's own access log, on a fresh key."""
    gm = gen_module()
    local = os.path.join(zfiles, "gzipshuf.h5")
    nchunks, stored = gm.stored_chunk_bytes(local, "data")
    key = "fresh/gzipshuf-%s.h5" % os.urandom(4).hex()
    rgw.client().upload_file(local, BUCKET, key)

    mark = rgw.request_count()
    g = open_zarr_group(store_url(zsrv, key))
    arr = g["data"]
    assert arr.compressor.codec_id == "zlib"
    assert [c.codec_id for c in arr.filters] == ["shuffle"]
    opened = _gets_of(rgw.requests_since(mark), key)
    mark2 = rgw.request_count()
    got = arr[...]
    read = _gets_of(rgw.requests_since(mark2), key)
    with h5py.File(local, "r") as f:
        np.testing.assert_array_equal(got, f["data"][()])
    open_bytes = sum(e["bytes"] for e in opened)
    read_bytes = sum(e["bytes"] for e in read)
    total = open_bytes + read_bytes
    raw = got.nbytes
    print("gzip+shuffle: %d chunks, stored %d B, decoded %d B; S3: open "
          "%d B in %d GETs, chunks %d B in %d GETs"
          % (nchunks, stored, raw, open_bytes, len(opened), read_bytes,
             len(read)))
    assert stored < raw / 2            # the data really is compressed
    # The key is fresh: every stored byte came from S3 at least once.
    # Reading the chunks costs their stored bytes, one ranged GET each
    # (never the decoded size); the open adds the file's metadata and its
    # first read, part of which the chunk GETs fetch again.
    assert total >= stored, (total, stored)
    assert read_bytes <= stored * 1.01 + 4096, (read_bytes, stored)
    assert len(read) <= nchunks + 2, (len(read), nchunks)
    assert total <= stored * 1.05 + 256 * 1024, (total, stored)


def test_the_projects_dtype_fixture_equals_h5py(zsrv, zfiles, rgw):
    """tests/fixtures/make_data_fixtures.py's values.h5 (every dtype of the
    viewer tests, every filter h5py writes here: gzip, shuffle+fletcher32,
    szip, lz4, bzip2, blosc, blosc+zstd, lzf; empty, scalar, strings):
    every dataset the store lists reads as h5py reads it, dtype included,
    and every one it leaves out is named, with a reason, in its parent
    group's .zattrs."""
    import hdf5plugin  # noqa: F401 (h5py's reading of the plugin filters)
    gen = os.path.join(os.path.dirname(gen_module().__file__),
                       "make_data_fixtures.py")
    subprocess.run(["/usr/bin/python3", gen, zfiles], check=True,
                   stdin=subprocess.DEVNULL)
    local = os.path.join(zfiles, "values.h5")
    rgw.client().upload_file(local, BUCKET, "values.h5")
    url = store_url(zsrv, "values.h5")
    _, _, body = raw_get(url + ".zmetadata")
    meta = json.loads(body)["metadata"]
    g = open_zarr_group(url)
    served, skipped = [], []
    with h5py.File(local, "r") as f:
        for zpath, h5name in sorted(h5_datasets(local).items()):
            ds = f[h5name]
            if zpath + "/.zarray" not in meta:
                parent = zpath.rpartition("/")[0]
                why = meta[(parent + "/" if parent else "") + ".zattrs"] \
                    .get("_h5s3_skipped", {})
                base = zpath.rpartition("/")[2]
                assert why.get(base), (zpath, why)
                skipped.append(zpath)
                continue
            arr = g[zpath]
            if ds.dtype.kind != "O":
                assert arr.dtype == ds.dtype, (zpath, arr.dtype, ds.dtype)
            # Big ones: a corner across chunk edges; the rest: all of it.
            if ds.size > 1 << 20:
                sel = tuple(slice(0, min(n, 300)) for n in ds.shape)
                want = ds[sel]
                got = np.asarray(arr[sel])
            else:
                want = h5_values(ds)
                got = np.asarray(arr[...])
            assert_same(got, want, zpath)
            served.append(zpath)
    print("served %d: %s; left out %d: %s" % (len(served), served,
                                              len(skipped), skipped))
    for must in ("types/big_f8", "types/compound", "filters/gzip",
                 "filters/blosc", "filters/bzip2", "filters/lz4",
                 "filters/shuffle_gzip_fletcher", "huge_sparse", "contig"):
        assert must in served, must
    assert "refs" in skipped and "opaque" in skipped
