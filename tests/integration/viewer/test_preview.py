"""GET /files/{key}/preview against a real httpd and RGW, values compared
with h5py on the same file (docs/viewer-api.md §1.7, §3)."""

import math
import uuid

import numpy as np
import pytest

from harness.datafx import (err, files, finite_stats, get, h5, ok,  # noqa: F401
                            sanitize, srv)

LIMIT_KEYS = {"max_elements": 250000, "max_line_points": 5000,
              "table_1d_max": 1000, "table_2d_max": 200}


def fresh():
    return uuid.uuid4().hex


def heatmap_steps(rows, cols, max_size=512):
    s = min(max_size, 512)
    tr, tc = min(rows, s), min(cols, s)
    if tr * tc > 200000:
        scale = math.sqrt(tr * tc / 200000)
        tr, tc = max(1, int(tr / scale)), max(1, int(tc / scale))
    return math.ceil(rows / tr), math.ceil(cols / tc)


def check_stats(st, values):
    mn, mx, mean, std = finite_stats(values)
    assert st["supported"] is True and st["method"] == "strided"
    assert st["min"] == mn and st["max"] == mx
    assert st["mean"] == pytest.approx(mean, rel=1e-9, abs=1e-12)
    assert st["std"] == pytest.approx(std, rel=1e-9, abs=1e-12)


def test_1d_table_line_and_stats(srv, h5):
    data = h5["d1/f64"][()]
    b = ok(srv, "preview", path="/d1/f64", etag=fresh())
    assert b["preview_type"] == "1d" and b["ndim"] == 1
    assert b["shape"] == [12001] and b["dtype"] == "float64"
    assert b["display_dims"] is None and b["fixed_indices"] == {}
    assert b["profile"] is None and b["cached"] is False
    assert b["limits"] == dict(LIMIT_KEYS, max_heatmap_size=512)
    assert b["table"] == {"kind": "1d", "values": sanitize(data[:1000]),
                          "count": 1000, "start": 0, "step": 1}
    step = math.ceil(12001 / 3000)
    y = data[::step]
    assert b["plot"] == {"type": "line", "x": list(range(0, 12001, step)),
                         "y": sanitize(y), "count": len(y), "x_start": 0,
                         "x_step": step}
    # NaN and +-inf are left out: min and max stay finite
    check_stats(b["stats"], data)
    assert b["stats"]["sample_size"] == 12001
    assert b["stats"]["sampled"] is False


def test_2d_table_heatmap_profile(srv, h5):
    data = h5["big2d"][()]
    b = ok(srv, "preview", path="/big2d", etag=fresh())
    assert b["preview_type"] == "2d" and b["display_dims"] == [0, 1]
    assert b["fixed_indices"] == {}
    assert b["table"] == {"kind": "2d", "data": sanitize(data[:200, :200]),
                          "shape": [200, 200], "row_start": 0,
                          "col_start": 0, "row_step": 1, "col_step": 1}
    sr, sc = heatmap_steps(700, 900)
    hm = data[::sr, ::sc]
    assert b["plot"] == {"type": "heatmap", "data": sanitize(hm),
                         "shape": list(hm.shape), "row_start": 0,
                         "col_start": 0, "row_step": sr, "col_step": sc}
    assert b["profile"] == {"type": "row", "index": 350,
                            "x": list(range(900)),
                            "y": sanitize(data[350]), "count": 900,
                            "x_start": 0, "x_step": 1, "dim_row": 0,
                            "dim_col": 1}
    # stride ceil(sqrt(630000/100000)) = 3 on both axes
    sample = data[::3, ::3].ravel()[:100000]
    check_stats(b["stats"], sample)
    assert b["stats"]["sample_size"] == sample.size
    assert b["stats"]["sampled"] is True


def test_max_size_and_nd_lenient_selection(srv, h5):
    d3 = h5["d3/i32"][()]
    b = ok(srv, "preview", path="/d3/i32", display_dims="2,1,x,7",
           fixed_indices="0=-4,1=3,bad", max_size="10", etag=fresh())
    assert b["preview_type"] == "nd" and b["display_dims"] == [2, 1]
    # a negative index clamps to 0 (preview is lenient, no wrap)
    assert b["fixed_indices"] == {"0": 0}
    plane = d3[0].T
    assert b["table"]["data"] == sanitize(plane[:200, :200])
    sr, sc = heatmap_steps(30, 40, 10)
    assert b["plot"]["data"] == sanitize(plane[::sr, ::sc])
    assert b["limits"]["max_heatmap_size"] == 10
    assert b["profile"]["y"] == sanitize(plane[15])
    # above 512 is clamped silently
    b = ok(srv, "preview", path="/d4/u8", max_size="100000", etag=fresh())
    d4 = h5["d4/u8"][()]
    assert b["limits"]["max_heatmap_size"] == 512
    assert b["fixed_indices"] == {"0": 1, "1": 2}
    assert b["table"]["data"] == sanitize(d4[1, 2])
    # the stats sample strides the whole 4-D dataset
    check_stats(b["stats"], d4)


@pytest.mark.parametrize("name", ["int8", "uint64", "float16", "float32",
                                  "big_f8", "big_i4", "bool", "enum",
                                  "fixed_str", "vlen_str", "compound",
                                  "complex64"])
def test_every_dtype_table(srv, h5, name):
    data = h5["types/" + name][()]
    b = ok(srv, "preview", path="/types/" + name, etag=fresh())
    assert b["table"]["data"] == sanitize(data)
    assert b["dtype"] == str(h5["types/" + name].dtype)
    numeric = data.dtype.kind in "iufbc"
    if name == "enum":
        numeric = True     # h5py: an int8 enum reads as int8
    if not numeric:
        assert b["plot"] == {"supported": False, "reason": "non-numeric"}
        assert b["stats"] == {"supported": False, "reason": "non-numeric"}
        assert b["profile"] is None
    elif data.dtype.kind == "c":
        assert b["stats"] == {"supported": False, "reason": "complex"}
        assert b["plot"]["data"] == sanitize(data)
    else:
        assert b["plot"]["data"] == sanitize(data)
        check_stats(b["stats"], data.astype(np.float64))


def test_scalar_empty_and_nan(srv, h5):
    b = ok(srv, "preview", path="/scalar", etag=fresh())
    assert b["preview_type"] == "nd" and b["shape"] == [] and b["ndim"] == 0
    assert b["table"]["values"] == [3.25]
    assert b["plot"]["y"] == [3.25]
    assert b["stats"]["min"] == 3.25 and b["stats"]["sample_size"] == 1
    b = ok(srv, "preview", path="/scalar_str", etag=fresh())
    assert b["table"]["values"] == ["hello"]
    assert b["stats"] == {"supported": False, "reason": "non-numeric"}
    b = ok(srv, "preview", path="/empty2d", etag=fresh())
    assert b["plot"] == {"supported": False, "reason": "empty"}
    assert b["stats"] == {"supported": False, "reason": "empty"}
    assert b["table"]["shape"] == [0, 10] and b["profile"] is None
    b = ok(srv, "preview", path="/nan2d", etag=fresh())
    data = h5["nan2d"][()]
    assert b["plot"]["data"] == sanitize(data)
    assert b["plot"]["data"][0][0] is None
    check_stats(b["stats"], data)


def test_detail_fast_is_selective(srv):
    b = ok(srv, "preview", path="/big2d", detail="fast", mode="TABLE",
           etag=fresh())
    assert b["mode"] == "table" and b["detail"] == "fast"
    assert b["table"] is not None
    assert b["plot"] is None and b["profile"] is None
    assert b["stats"] == {"supported": False, "reason": "disabled"}
    b = ok(srv, "preview", path="/big2d", detail="fast", mode="line",
           include_stats="yes", etag=fresh())
    assert b["table"] is None and b["plot"] is None
    assert b["profile"]["type"] == "row" and b["stats"]["supported"]
    b = ok(srv, "preview", path="/d1/f64", detail="fast", mode="heatmap",
           etag=fresh())
    assert b["table"] is None and b["plot"]["type"] == "line"
    # an unknown mode silently becomes auto, which builds everything
    b = ok(srv, "preview", path="/big2d", detail="fast", mode="pie",
           etag=fresh())
    assert b["mode"] == "auto"
    assert b["table"] and b["plot"] and b["profile"]


def test_validation_errors(srv):
    err(srv, "preview", 400, "Missing required parameter: path")
    err(srv, "preview", 400, "Missing required parameter: path", path="")
    err(srv, "preview", 400, "Invalid detail parameter", path="/big2d",
        detail="slow")
    err(srv, "preview", 400, "Invalid include_stats parameter",
        path="/big2d", include_stats="maybe")
    err(srv, "preview", 400, "Invalid max_size parameter", path="/big2d",
        max_size="1.5")
    err(srv, "preview", 400, "max_size must be a positive integer",
        path="/big2d", max_size="0")
    err(srv, "preview", 404, "Path '/nope' not found in 'values.h5'",
        path="/nope")
    err(srv, "preview", 400, "Path '/d1' is not a dataset", path="/d1")
    err(srv, "preview", 404, "File 'missing.h5' not found", key="missing.h5",
        path="/x")


def test_unservable_data_is_422(srv):
    st, _, b = get(srv, "preview", path="/filters/lzf", etag=fresh())
    assert st == 422 and "'lzf' filter (id 32000)" in b["error"]
    st, _, b = get(srv, "preview", path="/refs", etag=fresh())
    assert st == 422 and "references" in b["error"]
    st, _, b = get(srv, "preview", path="/opaque", etag=fresh())
    assert st == 422 and "opaque" in b["error"]


def test_cached_second_time(srv):
    tag = fresh()
    # (payloads larger than the cache's entry limit are not cached)
    st, h1, b1 = get(srv, "preview", path="/d3/i32", etag=tag)
    st, h2, b2 = get(srv, "preview", path="/d3/i32", etag=tag)
    assert b1["cached"] is False and b2["cached"] is True
    assert b2["cache_version"] == tag
    assert h2["X-H5S3-Cache"] == "hit" and h2["X-H5S3-S3-Requests"] == "0"
    b1.pop("cached")
    b2.pop("cached")
    assert b1 == b2
    b3 = ok(srv, "preview", path="/d3/i32")
    assert b3["cache_version"] == "ttl"
