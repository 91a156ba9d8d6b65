"""GET /files/{key}/export/csv: streamed CSV parsed back and compared with
h5py; validation errors as JSON before any CSV (docs/viewer-api.md §1.9)."""

import csv
import io

import numpy as np
import pytest

from harness.datafx import HOST, err, files, h5, sanitize, srv, url  # noqa: F401


def export(srv, **params):
    status, hdrs, body = srv.get(url("export/csv", **params), host=HOST)
    assert status == 200, body[:300]
    assert hdrs["Content-Type"] == "text/csv; charset=utf-8"
    assert hdrs["Cache-Control"] == "no-store"
    assert hdrs["X-Accel-Buffering"] == "no"
    assert hdrs.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in hdrs
    assert body.startswith(b"\xef\xbb\xbf")
    text = body[3:].decode("utf-8")
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")  # every row ends in CRLF
    return hdrs, list(csv.reader(io.StringIO(text, newline="")))


def cell(v):
    """What the contract writes for one sanitised value."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v)
    return str(v)


def test_matrix_float32_round_trips(srv, h5):
    data = h5["d2/f32"][()]
    hdrs, rows = export(srv, path="/d2/f32", mode="matrix", chunk_rows=7)
    assert hdrs["Content-Disposition"] == \
        'attachment; filename="values.h5_d2_f32_matrix_full.csv"'
    assert rows[0] == ["row\\col"] + [str(c) for c in range(250)]
    assert len(rows) == 301
    got = np.array([[float(x) for x in r[1:]] for r in rows[1:]])
    assert [r[0] for r in rows[1:]] == [str(i) for i in range(300)]
    # Python repr of the float32 value as a double: exact round trip
    assert np.array_equal(got, data.astype(np.float64))
    assert rows[1][1] == repr(float(data[0, 0]))


def test_window_transposed_nd(srv, h5):
    d3 = h5["d3/i32"][()]
    _, rows = export(srv, path="/d3/i32", mode="heatmap", display_dims="2,1",
                     fixed_indices="0=-1", row_offset=5, row_limit=10,
                     col_offset=3)
    plane = d3[4].T[5:15, 3:]
    assert rows[0] == ["row\\col"] + [str(c) for c in range(3, 40)]
    assert [r[0] for r in rows[1:]] == [str(i) for i in range(5, 15)]
    assert [[int(x) for x in r[1:]] for r in rows[1:]] == plane.tolist()


@pytest.mark.parametrize("name", ["int64", "uint64", "float16", "bool",
                                  "complex64", "enum", "fixed_str",
                                  "vlen_str", "compound", "big_f8"])
def test_cells_of_every_dtype(srv, h5, name):
    data = sanitize(h5["types/" + name][()])
    _, rows = export(srv, path="/types/" + name, mode="matrix")
    for i, row in enumerate(data):
        want = []
        for v in row:
            if isinstance(v, list):
                v = str(v)
            c = cell(v)
            if (c.lstrip()[:1] in ("=", "+", "-", "@")
                    and not isinstance(v, (int, float))):
                c = "'" + c
            want.append(c)
        assert rows[i + 1][1:] == want, (name, i)


def test_negative_numbers_are_not_prefixed(srv):
    _, rows = export(srv, path="/types/int16", mode="matrix", row_limit=1,
                     col_limit=3)
    assert rows[1] == ["0", "-150", "-149", "-148"]
    _, rows = export(srv, path="/types/float64", mode="matrix", row_limit=1)
    assert rows[1][1] == repr(-150 / 7.0)
    _, rows = export(srv, path="/types/vlen_str", mode="matrix", row_limit=1)
    assert rows[1][1] == "'=cmd"
    _, rows = export(srv, path="/types/fixed_str", mode="matrix",
                     row_limit=1)
    assert rows[1][1] == "s0,0"     # quoted in the file, one cell parsed


def test_line_with_compare_paths(srv, h5):
    a = h5["line_cmp/a"][()]
    b = h5["line_cmp/b"][()]
    hdrs, rows = export(srv, path="/line_cmp/a", mode="line",
                        compare_paths="line_cmp/b, /line_cmp/b,/line_cmp/a",
                        line_offset=10, line_limit=500, chunk_points=33)
    assert hdrs["Content-Disposition"] == \
        'attachment; filename="values.h5_line_cmp_a_line_full.csv"'
    assert rows[0] == ["index", "base", "b"]
    assert len(rows) == 501
    for k, r in enumerate(rows[1:]):
        i = 10 + k
        assert r == [str(i), repr(float(a[i])), str(int(b[i]))]
    # NaN and inf become empty cells
    _, rows = export(srv, path="/d1/f64", mode="line", line_limit=20)
    assert rows[6] == ["5", ""] and rows[18] == ["17", ""]


def test_errors_are_json_before_any_csv(srv):
    err(srv, "export/csv", 400, "Missing required parameter: path")
    err(srv, "export/csv", 400, "Invalid mode parameter", path="/d2/f32")
    err(srv, "export/csv", 400, "Invalid mode parameter", path="/d2/f32",
        mode="table")
    err(srv, "export/csv", 400, "Mode requires a 2D or higher dataset",
        path="/d1/f64", mode="matrix")
    err(srv, "export/csv", 400,
        "Line CSV export requires numeric dataset dtype.",
        path="/types/vlen_str", mode="line")
    err(srv, "export/csv", 400,
        "Line CSV export requires numeric dataset dtype.",
        path="/types/complex64", mode="line")
    err(srv, "export/csv", 400, "Requested export window is empty.",
        path="/d2/f32", mode="matrix", row_offset=300)
    err(srv, "export/csv", 400,
        "CSV export exceeds limit (12000000 > 10000000 cells).",
        path="/huge_sparse", mode="matrix")
    err(srv, "export/csv", 400,
        "Line CSV export exceeds limit (6000000 > 5000000 points).",
        path="/huge_line", mode="line")
    err(srv, "export/csv", 400, "Requested export window is empty.",
        path="/huge_line", mode="line", line_offset=6000000)
    err(srv, "export/csv", 400,
        "Compare dataset '/line_cmp/c' shape does not match base dataset.",
        path="/line_cmp/a", mode="line", compare_paths="line_cmp/c")
    err(srv, "export/csv", 400,
        "Compare dataset '/line_cmp/s' is not numeric.",
        path="/line_cmp/a", mode="line", compare_paths="line_cmp/s")
    err(srv, "export/csv", 400,
        "Up to 4 compare_paths are supported per line export.",
        path="/d1/f64", mode="line",
        compare_paths="/a,/b,/c,/d,/e")
    err(srv, "export/csv", 400, "chunk_rows must be >= 1", path="/d2/f32",
        mode="matrix", chunk_rows=0)
    err(srv, "export/csv", 400, "line_index out of range", path="/big2d",
        mode="line", line_index=700)
    err(srv, "export/csv", 404, "Path '/nope' not found in 'values.h5'",
        path="/nope", mode="line")
    status, _, body = srv.get(url("export/csv", path="/filters/lzf",
                                  mode="matrix"), host=HOST)
    assert status == 422 and b"lzf" in body
