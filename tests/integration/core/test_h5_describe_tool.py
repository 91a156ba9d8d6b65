"""The /children and /meta cores (tests/tools/h5s3-describe) against h5py.

Fixture files from tests/fixtures/make_h5_fixtures.py cover every HDF5
type class, shape kind, filter, link kind and attribute kind.  For every
object in them the tool's JSON must equal what the HDF Viewer's reader
computes from h5py for the same object (the oracle below re-implements
hdf5_reader.py get_children/get_metadata on h5py), with the documented
improvements: values sanitised (NaN -> null, bytes decoded, complex as
str()), links described instead of failing, plugin filters listed.
"""

import json
import os
import subprocess
import sys

import h5py
import pytest

from harness.h5oracle import expected_child, expected_meta, walk
from harness.s3server import REPO
from harness.tools import built_tool, tool_path

TOOL = tool_path("h5s3-describe")
FIXTURES = os.path.join(REPO, "tests", "fixtures", "make_h5_fixtures.py")
PLUGINS = "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins"
FILES = ("types.h5", "filters.h5", "links.h5", "attrs.h5")



@pytest.fixture(scope="module")
def fixdir(tmp_path_factory):
    built_tool("h5s3-describe")
    d = tmp_path_factory.mktemp("h5fix")
    subprocess.run(["/usr/bin/python3", FIXTURES, str(d)], check=True)
    return str(d)


def run(fname, path, what):
    env = dict(os.environ, HDF5_PLUGIN_PATH=PLUGINS)
    r = subprocess.run([TOOL, fname, path, what], capture_output=True,
                       env=env, timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def no_constants(name):
    raise AssertionError("invalid JSON constant %s" % name)


def tool_json(fname, path, what):
    rc, out, err = run(fname, path, what)
    assert rc == 0, (fname, path, what, rc, out, err)
    assert err == "", err           # the library prints nothing
    return json.loads(out, parse_constant=no_constants)


def cases():
    # Parametrised by file name only: paths come from h5py at run time.
    return FILES


# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fname", cases())
def test_children_match_h5py(fixdir, fname):
    fn = os.path.join(fixdir, fname)
    with h5py.File(fn, "r") as f:
        groups, _ = walk(f)
        for g in groups:
            want = [expected_child(f, g, n) for n in f[g].keys()]
            got = tool_json(fn, g, "children")
            assert [c["name"] for c in got] == list(f[g].keys()), g
            for w, c in zip(want, got):
                assert c == w, (g, w["name"])


@pytest.mark.parametrize("fname", cases())
def test_meta_matches_h5py(fixdir, fname):
    fn = os.path.join(fixdir, fname)
    with h5py.File(fn, "r") as f:
        _, paths = walk(f)
        for p in paths:
            assert tool_json(fn, p, "meta") == expected_meta(f, p), p


def test_fixtures_cover_every_type_class(fixdir):
    seen = set()
    for fname in FILES:
        with h5py.File(os.path.join(fixdir, fname), "r") as f:
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    seen.add(obj.id.get_type().get_class())
            f.visititems(visit)
    # Integer..array except time (h5py cannot write H5T_TIME).
    assert seen >= {0, 1, 3, 4, 5, 6, 7, 8, 9, 10}, seen


def test_dtype_strings_spelled_like_numpy(fixdir):
    fn = os.path.join(fixdir, "types.h5")
    got = {c["name"]: c["dtype"]
           for g in ("/numeric", "/strings", "/compound", "/other",
                     "/shapes")
           for c in tool_json(fn, g, "children")}
    assert got["float16"] == "float16"
    assert got["be_float32"] == ">f4"
    assert got["bool"] == "bool"
    assert got["enum_i1"] == "int8"
    assert got["complex64"] == "complex64"
    assert got["fixed_ascii"] == "|S10"
    assert got["vlen_utf8"] == "object"
    assert got["simple"] == "[('a', '<i4'), ('b', '<f8')]"
    assert got["padded"].startswith("{'names': ['a', 'b']")
    assert got["array_f4"] == "('<f4', (3,))"
    assert got["opaque"] == "|V8"
    assert got["obj_ref"] == "object"
    assert got["bitfield16"] == "uint16"


def test_attribute_values_are_safe_json(fixdir):
    fn = os.path.join(fixdir, "attrs.h5")
    vals = {}
    for part in range(4):
        meta = tool_json(fn, "/attrs_part%d" % part, "meta")
        vals.update((a["name"], a["value"]) for a in meta["attributes"])
    assert vals["nan"] is None and vals["inf"] is None
    assert vals["floats_nan"] == [1.0, None, None, None, 2.0]
    assert vals["complex"] == "(1+2j)"
    assert vals["complex_list"] == ["(0.5-1j)", "1j", "(nan+0j)",
                                    "(-0+1e-05j)", "(1e+16-2.5e-07j)"]
    assert vals["bytes_invalid_utf8"] == "okend"
    assert vals["str_list"] == ["ab", "cde"]
    assert vals["compound"] == [1, 2.5, "abc"]
    assert vals["bool"] is True and vals["bools"] == [True, False]
    assert vals["empty"] is None
    assert vals["obj_ref"] == "/"
    assert vals["vlen_seq"] == [[0, 1], [0, 1, 2]]
    assert vals["region_ref"] == "/all_types"
    assert vals["compound_vlen"] == [["name", "1j"]]
    meta = tool_json(fn, "/all_types", "meta")
    assert meta["num_attributes"] > 20 and meta["attributes_truncated"]


def test_attribute_order_and_truncation(fixdir):
    fn = os.path.join(fixdir, "attrs.h5")
    kids = {c["name"]: c for c in tool_json(fn, "/", "children")}
    many = kids["many_attrs"]
    assert many["num_attributes"] == 15 and many["attributes_truncated"]
    assert sorted(many["attributes"]) == ["attr_%02d" % i for i in range(10)]
    g = tool_json(fn, "/many_group_attrs", "meta")
    assert [a["name"] for a in g["attributes"]] == \
        ["g%02d" % i for i in range(20)]
    assert g["num_attributes"] == 25 and g["attributes_truncated"] is True
    tracked = tool_json(fn, "/tracked", "children")
    assert [c["name"] for c in tracked] == \
        ["zeta", "alpha", "mid", "beta_ds", "order_attrs"]
    m = tool_json(fn, "/tracked/order_attrs", "meta")
    assert [a["name"] for a in m["attributes"]] == \
        ["z_first", "a_second", "m_third"]


def test_links_are_described_not_followed(fixdir):
    fn = os.path.join(fixdir, "links.h5")
    kids = {c["name"]: c for c in tool_json(fn, "/", "children")}
    assert kids["dangling"] == {"name": "dangling", "path": "/dangling",
                                "type": "soft_link",
                                "target": "/no/such/object"}
    assert kids["external"]["type"] == "external_link"
    assert kids["external"]["target_file"] == "types.h5"
    assert kids["external"]["target_path"] == "/numeric/int32"
    assert kids["soft_to_group"]["type"] == "group"
    assert kids["soft_to_group"]["target"] == "/a/b"
    assert kids["named_type"]["type"] == "datatype"
    meta = tool_json(fn, "/external", "meta")
    assert meta["kind"] == "external_link" and "shape" not in meta
    sub = tool_json(fn, "/soft_to_group", "children")
    assert [c["path"] for c in sub] == ["/soft_to_group/c"]


@pytest.mark.parametrize("path", ["/a/b/", "a/b", "//a//b", "/a/./b"])
def test_path_spellings_h5py_accepts(fixdir, path):
    fn = os.path.join(fixdir, "links.h5")
    with h5py.File(fn, "r") as f:
        assert path in f
    got = tool_json(fn, path, "children")
    assert [c["path"] for c in got] == [path.rstrip("/") + "/c"]
    assert tool_json(fn, path, "meta")["num_children"] == 1


@pytest.mark.parametrize("path", ["/nope", "/a/nope", "/a/data/x",
                                  "/external/x", "/dangling/x", ""])
def test_missing_path_is_nopath(fixdir, path):
    fn = os.path.join(fixdir, "links.h5")
    for what in ("children", "meta"):
        rc, out, err = run(fn, path, what)
        assert (rc, out.strip(), err) == (2, "no_path", ""), (path, what)


@pytest.mark.parametrize("path", ["/a/data", "/dangling", "/external",
                                  "/named_type"])
def test_children_of_non_groups_is_empty(fixdir, path):
    fn = os.path.join(fixdir, "links.h5")
    assert tool_json(fn, path, "children") == []


def test_not_hdf5_file(fixdir, tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not an hdf5 file" * 100)
    rc, out, err = run(str(bad), "/", "meta")
    assert (rc, out.strip()) == (3, "not_hdf5")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))
