"""GET /files/{key}/data (matrix, heatmap, line) against a real httpd and
RGW, compared element by element with h5py (docs/viewer-api.md §1.8)."""

import math
import uuid

import numpy as np
import pytest

from harness.datafx import (err, files, get, h5, ok, sanitize,  # noqa: F401
                            srv)

TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
         "uint64", "float16", "float32", "float64", "big_f8", "big_i4",
         "bool", "complex64", "complex128", "enum", "fixed_str", "vlen_str",
         "compound"]
FILTERS = ["gzip", "shuffle_gzip_fletcher", "szip", "lz4", "bzip2", "blosc",
           "blosc_zstd"]


def fresh():
    return uuid.uuid4().hex


@pytest.mark.parametrize("name", TYPES)
def test_matrix_every_dtype(srv, h5, name):
    ds = h5["types/" + name]
    b = ok(srv, "data", path="/types/" + name, mode="matrix", row_offset=2,
           row_limit=13, row_step=3, col_offset=1, col_step=2, etag=fresh())
    want = ds[2:15:3, 1:101:2]
    assert b["data"] == sanitize(want)
    assert b["shape"] == list(want.shape)
    assert b["dtype"] == str(ds.dtype)
    assert b["downsample_info"] == {"row_step": 3, "col_step": 2}
    assert (b["row_offset"], b["col_offset"]) == (2, 1)
    assert b["source_shape"] == [20, 15] and b["source_ndim"] == 2
    assert b["display_dims"] == [0, 1] and b["fixed_indices"] == {}
    assert b["mode"] == "matrix" and b["cached"] is False


@pytest.mark.parametrize("name", FILTERS)
def test_every_available_filter(srv, h5, name):
    b = ok(srv, "data", path="/filters/" + name, mode="matrix",
           row_limit=2000, col_limit=2000)
    assert b["data"] == sanitize(h5["filters/" + name][()])


def test_missing_filter_plugin_is_422(srv):
    st, _, b = get(srv, "data", path="/filters/lzf", mode="matrix")
    assert st == 422
    assert "'lzf' filter (id 32000)" in b["error"]


def test_nd_selection_wraps_negative_indices(srv, h5):
    d4 = h5["d4/u8"][()]
    b = ok(srv, "data", path="/d4/u8", mode="matrix", display_dims="-1,1",
           fixed_indices="0=-1,2:-50", row_limit=1000, col_limit=1000)
    assert b["display_dims"] == [3, 1]
    assert b["fixed_indices"] == {"0": 2, "2": 0}
    assert b["data"] == sanitize(d4[2, :, 0, :].T)
    d3 = h5["d3/i32"][()]
    b = ok(srv, "data", path="/d3/i32", mode="matrix")
    assert b["fixed_indices"] == {"0": 2}
    assert b["data"] == sanitize(d3[2, :40, :30])


def test_contiguous_reads_only_the_rows(srv, h5):
    # open the file first so the measured request reads values only
    ok(srv, "data", path="/contig", mode="matrix", row_limit=1)
    st, hdrs, b = get(srv, "data", path="/contig", mode="matrix",
                      row_offset=300, row_limit=3, col_limit=400,
                      etag=fresh())
    assert b["data"] == sanitize(h5["contig"][300:303])
    # 3 rows of 1600 bytes: at most two 64 KiB pages, of an 800 KB dataset
    assert int(hdrs["X-H5S3-S3-Bytes"]) <= 2 * 65536
    assert int(hdrs["X-H5S3-S3-Requests"]) <= 2


def test_stride_skipping_chunks_skips_their_bytes(srv, files):
    import h5py
    with h5py.File(files + "/stride.h5", "r") as f:
        want = f["big"][::512, ::512]
    st, hdrs, b = get(srv, "data", key="stride.h5", path="/big",
                      mode="heatmap", max_size=4, etag=fresh())
    assert st == 200, b
    assert b["data"] == sanitize(want)
    assert b["downsample_info"] == {"row_step": 512, "col_step": 512}
    # 16 of 256 chunks (64 KiB each, fetched by their own bytes, not the
    # unaligned pages around them) of a 16 MiB file, plus the chunk index
    # and the file's first 128 KiB
    assert int(hdrs["X-H5S3-S3-Bytes"]) < 16 * 65536 + 512 * 1024
    # far apart, so a range each (S3 has no multi-range GET), all in one
    # batch in flight at once; and the open and the index's levels
    assert int(hdrs["X-H5S3-S3-Requests"]) <= 16 + 4


def test_heatmap_sizes_and_stats(srv, h5):
    data = h5["big2d"][()]
    b = ok(srv, "data", path="/big2d", mode="heatmap", etag=fresh())
    assert b["requested_max_size"] == 512
    assert b["effective_max_size"] == 512 and b["max_size_clamped"] is False
    assert b["downsample_info"] == {"row_step": 2, "col_step": 2}
    assert b["data"] == sanitize(data[::2, ::2])
    assert b["shape"] == [350, 450] and b["sampled"] is True
    assert b["stats"] == {"min": float(data[::2, ::2].min()),
                          "max": float(data[::2, ::2].max())}
    assert (b["row_offset"], b["col_offset"]) == (0, 0)
    b = ok(srv, "data", path="/big2d", mode="heatmap", max_size=1024,
           include_stats="false", etag=fresh())
    # largest s with min(700,s)*min(900,s) <= 500000
    assert b["effective_max_size"] == 714 and b["max_size_clamped"] is True
    assert b["downsample_info"] == {"row_step": 1, "col_step": 2}
    assert b["data"] == sanitize(data[:, ::2])
    assert b["stats"] is None
    b = ok(srv, "data", path="/nan2d", mode="heatmap")
    assert b["stats"] == {"min": 1.0, "max": 119.0}   # finite values only
    assert b["sampled"] is False
    b = ok(srv, "data", path="/types/vlen_str", mode="heatmap")
    assert b["stats"] is None


def test_line_modes(srv, h5):
    v = h5["d1/f64"][()]
    b = ok(srv, "data", path="/d1/f64", mode="line", etag=fresh())
    assert b["axis"] == "dim" and b["index"] is None
    assert b["quality_requested"] == "auto"
    assert b["quality_applied"] == "exact" and b["line_step"] == 1
    assert b["data"] == sanitize(v)
    assert b["line_limit"] == b["requested_points"] == 12001
    assert b["returned_points"] == 12001 and b["shape"] == [12001]
    b = ok(srv, "data", path="/d1/f64", mode="line", quality="overview",
           max_points=100, line_offset=10, line_limit=5000)
    assert b["line_step"] == 50 and b["downsample_info"] == {"step": 50}
    assert b["data"] == sanitize(v[10:5010:50])
    assert b["line_offset"] == 10 and b["returned_points"] == 100
    long = h5["d1/long"][()]
    b = ok(srv, "data", path="/d1/long", mode="line", max_points=99999)
    assert b["quality_applied"] == "overview"
    assert b["line_step"] == math.ceil(30000 / 5000)
    assert b["data"] == sanitize(long[::6])
    d2 = h5["big2d"][()]
    b = ok(srv, "data", path="/big2d", mode="line")
    assert (b["axis"], b["index"]) == ("row", 350)
    assert b["data"] == sanitize(d2[350])
    b = ok(srv, "data", path="/big2d", mode="line", line_dim="col",
           line_index=7)
    assert (b["axis"], b["index"]) == ("col", 7)
    assert b["data"] == sanitize(d2[:, 7])
    d3 = h5["d3/i32"][()]
    b = ok(srv, "data", path="/d3/i32", mode="line", line_dim="-3",
           display_dims="0,2", fixed_indices="1=4")
    assert (b["axis"], b["index"]) == ("dim", None)
    assert b["data"] == sanitize(d3[:, 4, 15])
    # display dims other than the varying one stand at their middle
    b = ok(srv, "data", path="/d3/i32", mode="line", line_dim="0",
           fixed_indices="1=4")
    assert b["data"] == sanitize(d3[:, 20, 15])


@pytest.mark.parametrize("params,message", [
    ({}, "Missing required parameter: path"),
    ({"path": "/big2d"}, "Missing required parameter: mode"),
    ({"path": "/big2d", "mode": "pie"}, "Invalid mode parameter"),
    ({"path": "/big2d", "mode": "matrix", "display_dims": "0"},
     "display_dims must include two distinct dims"),
    ({"path": "/big2d", "mode": "matrix", "display_dims": "1,-1"},
     "display_dims must include two distinct dims"),
    ({"path": "/big2d", "mode": "matrix", "display_dims": "0,a"},
     "Invalid display_dims parameter"),
    ({"path": "/big2d", "mode": "matrix", "display_dims": "0,2"},
     "display_dims out of range"),
    ({"path": "/d3/i32", "mode": "matrix", "fixed_indices": "0"},
     "Invalid fixed_indices parameter"),
    ({"path": "/d3/i32", "mode": "matrix", "fixed_indices": "3=0"},
     "fixed_indices dim out of range"),
    ({"path": "/d3/i32", "mode": "matrix", "fixed_indices": "0=-6"},
     "fixed_indices index out of range for dim 0"),
    ({"path": "/d1/f64", "mode": "matrix"},
     "Mode requires a 2D or higher dataset"),
    ({"path": "/d1/f64", "mode": "heatmap"},
     "Mode requires a 2D or higher dataset"),
    ({"path": "/big2d", "mode": "matrix", "row_limit": "0"},
     "row_limit must be >= 1"),
    ({"path": "/big2d", "mode": "matrix", "row_offset": "-1"},
     "row_offset must be >= 0"),
    ({"path": "/big2d", "mode": "matrix", "col_step": "two"},
     "Invalid col_step parameter"),
    ({"path": "/contig", "mode": "matrix", "row_limit": "2001",
      "col_limit": "10"}, None),
    ({"path": "/huge_sparse", "mode": "matrix", "row_limit": "2001"},
     "Matrix limits exceed 2000x2000"),
    ({"path": "/huge_sparse", "mode": "matrix", "row_limit": "2000",
      "col_limit": "2000"},
     "Selection too large for JSON (4000000 > 500000 elements)"),
    ({"path": "/big2d", "mode": "heatmap", "max_size": "1025"},
     "max_size exceeds 1024"),
    ({"path": "/big2d", "mode": "heatmap", "max_size": "0"},
     "max_size must be >= 1"),
    ({"path": "/big2d", "mode": "heatmap", "include_stats": "perhaps"},
     "Invalid include_stats parameter"),
    ({"path": "/big2d", "mode": "line", "line_dim": "diag"},
     "Invalid line_dim parameter"),
    ({"path": "/big2d", "mode": "line", "line_dim": "2"},
     "line_dim out of range"),
    ({"path": "/big2d", "mode": "line", "line_index": "700"},
     "line_index out of range"),
    ({"path": "/big2d", "mode": "line", "line_index": "-1"},
     "line_index must be >= 0"),
    ({"path": "/big2d", "mode": "line", "quality": "best"},
     "Invalid quality parameter"),
    ({"path": "/big2d", "mode": "line", "line_limit": "0"},
     "line_limit must be >= 1"),
    ({"path": "/big2d", "mode": "line", "max_points": "0"},
     "max_points must be >= 1"),
    ({"path": "/d1/long", "mode": "line", "quality": "exact"},
     "Exact line window exceeds 20000 points. Reduce line_limit/zoom "
     "window or use quality=overview."),
    ({"path": "/d1", "mode": "line"}, "Path '/d1' is not a dataset"),
])
def test_validation(srv, params, message):
    if message is None:
        # clamped to the plane before the 2000 check: fine
        b = ok(srv, "data", **params)
        assert len(b["data"]) == 500
        return
    err(srv, "data", 400, message, **params)


def test_not_found_and_cache(srv):
    err(srv, "data", 404, "Path '/nope' not found in 'values.h5'",
        path="/nope", mode="line")
    err(srv, "data", 404, "File 'gone.h5' not found", key="gone.h5",
        path="/x", mode="line")
    tag = fresh()
    params = dict(path="/d1/i16", mode="line", etag=tag)
    st, h1, b1 = get(srv, "data", **params)
    st, h2, b2 = get(srv, "data", **params)
    assert (b1["cached"], b2["cached"]) == (False, True)
    assert h2["X-H5S3-Cache"] == "hit" and h2["X-H5S3-S3-Requests"] == "0"
    assert b2["cache_version"] == tag and b2["data"] == list(range(-20, 20))
    # another argument is another entry
    b3 = ok(srv, "data", path="/d1/i16", mode="line", etag=tag,
            line_offset=1)
    assert b3["cached"] is False and b3["data"] == list(range(-19, 20))
