#!/usr/bin/python3
"""Seed inputs for the fuzz targets: tests/fuzz/corpus/<target>/seed-*.

Valid, realistic inputs (S3 listings and errors, tokens and cursors
signed with the fuzzers' keys, DeltaGlider metadata, real xdelta3
deltas, small HDF5 files written by h5py) so that libFuzzer starts deep
inside each parser.  Deterministic; re-run after changing an input
format.  The rest of each corpus is what libFuzzer found (-merge=1).

    /usr/bin/python3 tests/fuzz/make_seeds.py [CORPUS_DIR]
"""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")

TOKEN_KEY = b"fuzz-token-secret"     # fuzz_token.c
CURSOR_KEY = b"fuzz-cursor-secret"   # fuzz_dg_catalog.c


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sign(key, payload):
    body = b64url(payload)
    mac = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return body + "." + b64url(mac)


def s3_xml():
    t = "fuzz_s3_xml"
    put(t, "list-aws", """<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Name>bucket</Name><Prefix/><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>
<IsTruncated>true</IsTruncated>
<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
<Contents><Key>my-image.jpg</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>
<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>
<StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>a &amp; b/c.h5</Key><LastModified>2024-01-01T00:00:00Z</LastModified>
<ETag>"x-2"</ETag><Size>0</Size></Contents>
<CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes>
<CommonPrefixes><Prefix>other/</Prefix></CommonPrefixes>
</ListBucketResult>
""")
    put(t, "list-url", "<ListBucketResult><EncodingType>url</EncodingType>"
        "<IsTruncated>false</IsTruncated><Delimiter>%2F</Delimiter>"
        "<Contents><Key>dir%2Fa%20b%2Bc%25.h5</Key><Size>12</Size>"
        "<LastModified>2020-02-29T23:59:59.999Z</LastModified></Contents>"
        "<CommonPrefixes><Prefix>dir%2Fsub%2F</Prefix></CommonPrefixes>"
        "</ListBucketResult>")
    put(t, "error", '<?xml version="1.0" encoding="UTF-8"?>\n<Error>'
        "<Code>SignatureDoesNotMatch</Code><Message>The request signature "
        "we calculated does not match</Message><RequestId>tx0</RequestId>"
        "<HostId>h</HostId></Error>")
    put(t, "error-nomsg", "<Error><Code>NoSuchKey</Code></Error>")
    put(t, "time", "2009-10-12T17:50:30.000Z")


def token():
    t = "fuzz_token"
    dl = json.dumps({"t": "dl", "b": "bucket", "k": "dir/a.h5",
                     "e": "etag", "x": 1700000300},
                    separators=(",", ":")).encode()
    put(t, "payload", dl)
    put(t, "token", sign(TOKEN_KEY, dl))
    put(t, "expired", sign(TOKEN_KEY, dl.replace(b"1700000300",
                                                  b"1600000000")))
    put(t, "b64", b64url(bytes(range(40))))


def fingerprint(bucket, prefix, delim, sort, desc, comp, search):
    h = hashlib.sha256()
    for part in (bucket, prefix, delim, "%d.%d.%d" % (sort, desc, comp),
                 search):
        h.update(part.encode() + b"\0")
    return b64url(h.digest()[:12])


def dg_catalog():
    t = "fuzz_dg_catalog"
    keys = "\n".join([
        "data/reference.bin", "data/a.zip.delta", "data/b.zip.delta",
        "data/c.txt", "data/sub/d.tar.gz.delta", "data/sub/reference.bin",
        "data/.deltaglider/x", "data/only-internal/reference.bin",
        "top.h5", "data/a.zip"])
    # fields: sort, order, compressed, limit, prefix, flags, search, cursor
    cur = json.dumps({"t": "cur",
                      "q": fingerprint("bucket", "data/", "/", 0, 0, 0, ""),
                      "k": "data/a.zip", "i": 0, "d": 0.0},
                     separators=(",", ":"))
    put(t, "delim-cursor", "\n".join(["name", "asc", "any", "1", "data/",
                                      "\x01", "", cur, keys]))
    cur2 = json.dumps({"t": "cur",
                       "q": fingerprint("bucket", "", "", 1, 1, 1, "zip"),
                       "k": "data/b.zip", "i": 3000, "d": 0.0},
                      separators=(",", ":"))
    put(t, "size-desc", "\n".join(["size_desc", "", "true", "2", "",
                                   "\x00", "zip", cur2, keys]))
    put(t, "savings", "\n".join(["savings_pct", "desc", "false", "1000",
                                 "", "\x00", "", "", keys]))
    put(t, "raw-cursor", "\n".join(["modified_desc", "", "", "3", "",
                                    "\x01", "", "!" + sign(CURSOR_KEY,
                                                           cur.encode()),
                                    keys]))


def dg_meta():
    t = "fuzz_dg_meta"
    sha = "a" * 64
    put(t, "delta", "data/v2.zip.delta\n"
        "dg-tool: deltaglider/5.0.0\ndg-original-name: v2.zip\n"
        "dg-file-sha256: %s\ndg-file-size: 123456\n"
        "dg-ref-key: data/reference.bin\ndg-ref-sha256: %s\n"
        "dg-delta-size: 321\ndg-delta-cmd: xdelta3 -e -9 -s ref v2 out\n"
        "dg-created-at: 2024-01-01T00:00:00Z\ndg-note: zero-diff\n"
        % (sha, "B" * 64))
    put(t, "reference", "data/reference.bin\ndg_tool: deltaglider/4\n"
        "dg_source_name: v1.zip\ndg_file_sha256: %s\n"
        "dg_file_size:  42 \n" % sha)
    put(t, "direct", "data/readme.txt\ntool: deltaglider\n"
        "compression: none\nfile-sha256: %s\nfile-size: 7\n" % sha)
    put(t, "plain", "some/key.h5")
    # Hostile dg-ref-path values (whoever writes a delta chooses them):
    # each must be refused, never followed out of the deltaspace.
    hostile = {
        "dotdot": "../../other/reference.bin",
        "dotdot-inner": "sub/../../reference.bin",
        "dotdot-alone": "..",
        "absolute": "/etc/passwd",
        "double-slash": "//host/reference.bin",
        "empty-segment": "sub//reference.bin",
        "trailing-slash": "sub/",
        "dot": "./reference.bin",
        "backslash": "..\\..\\reference.bin",
        "control": "reference.bin\x01\x1b[2J",
        "del": "ref\x7f.bin",
        "tab": "sub/\t/reference.bin",
        "cr": "reference.bin\r",
        "nul": "reference.bin\x00../../x",
        "empty": "",
        "long": "a/" * 600 + "reference.bin",
    }
    for name, path in hostile.items():
        put(t, "refpath-" + name, "data/v2.zip.delta\n"
            "dg-file-sha256: %s\ndg-file-size: 10\n"
            "dg-ref-sha256: %s\ndg-ref-path: %s\n" % (sha, sha, path))
    # Next to a dg-ref-key, and under the bare legacy spelling.
    put(t, "refpath-with-refkey", "data/v2.zip.delta\n"
        "dg-ref-key: data/reference.bin\ndg-ref-path: ../x/reference.bin\n")
    put(t, "refpath-legacy", "v2.zip.delta\nref_path: ../reference.bin\n")
    put(t, "refpath-proxy-ok", "a/b/v2.zip.delta\ndg-note: delta\n"
        "dg-ref-path: reference.bin\ndg-ref-sha256: %s\n" % sha)


def dg_vcdiff():
    t = "fuzz_dg_vcdiff"
    with tempfile.TemporaryDirectory() as d:
        src, tgt = os.path.join(d, "src"), os.path.join(d, "tgt")
        with open(src, "wb") as f:
            f.write(bytes(range(256)) * 8)
        with open(tgt, "wb") as f:
            f.write(bytes(range(256)) * 7 + b"changed" * 10)
        for name, args in (("plain", ["-e", "-9"]),
                           ("noapp", ["-e", "-A", "-n"]),
                           ("djw", ["-e", "-S", "djw"]),
                           ("nosrc", ["-e"])):
            out = os.path.join(d, name)
            cmd = ["xdelta3", *args, "-f"]
            if name != "nosrc":
                cmd += ["-s", src]
            subprocess.run(cmd + [tgt, out], check=True)
            with open(out, "rb") as f:
                put(t, name, f.read()[:512])


def conf_values():
    t = "fuzz_conf_values"
    for i, v in enumerate(["http://127.0.0.1:8000", "https://s3.example.org/",
                           "64M", "1G", "30", "-5", "my-bucket.1",
                           "alias_1", "on", "env:PATH", "literal-secret",
                           "http://[::1]:9000"]):
        put(t, str(i), v)


def h5_select():
    t = "fuzz_h5_select"
    put(t, "3d", b"\x03\x05\x06\x07" + b"0,-1\n1=2, 2:-1")
    put(t, "4d", b"\x04\x02\x03\x04\x05" + b" 1 , 3 \n0=1,2=1_0")
    put(t, "1d", b"\x01\x09" + b"0\n0=3")


def h5_query():
    t = "fuzz_h5_query"
    put(t, "preview", b"\x03\x00\x04\x05\x06" + b"mode=heatmap&detail=fast"
        b"&include_stats=true&max_size=512&display_dims=0,2"
        b"&fixed_indices=1=2")
    put(t, "line", b"\x03\x01\x04\x05\x06" + b"mode=line&line_dim=col"
        b"&line_index=3&line_offset=1&line_limit=10&quality=exact")
    put(t, "matrix", b"\x02\x03\x10\x11" + b"mode=matrix&row_offset=1"
        b"&row_limit=5&col_offset=2&col_limit=3&chunk_rows=2&chunk_cols=2")


def text():
    t = "fuzz_text"
    for i, v in enumerate([b"plain", b"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                           b"bad \xc3\x28 \xed\xa0\x80 \xf4\x90\x80\x80",
                           b"=SUM(A1),\"x\"\r\n", b"-5", b"1e-05",
                           b"0.1", b"a/b c+d%.h5", b"\x00\x00\x00\x00\x00\x00\xf0\x7f"]):
        put(t, str(i), v)


# HDF5 files for fuzz_h5_open, fuzz_h5_struct and fuzz_h5_values (the same
# seeds): every on-disk structure the module may meet, old and new style,
# and the hostile shapes of issue 12.  Each must stay under the targets'
# -max_len (16384).
H5_TARGETS = ("fuzz_h5_open", "fuzz_h5_struct", "fuzz_h5_values")


def h5_files():
    import h5py
    import numpy as np
    files = {}

    def make(name, fn, **kw):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, name + ".h5")
            with h5py.File(path, "w", **kw) as f:
                fn(f, d)
            with open(path, "rb") as f:
                data = f.read()
        files[name] = data

    def basic(f, d):
        f.attrs["title"] = "basic"
        f["x"] = np.arange(6, dtype="<f8").reshape(2, 3)
        g = f.create_group("g")
        g["i"] = np.arange(4, dtype="<i4")
        g.attrs["n"] = 3

    def latest(f, d):
        f["m"] = np.arange(12, dtype="<i2").reshape(3, 4)
        f["s"] = b"scalar"
        f.create_group("empty")
        f["soft"] = h5py.SoftLink("/m")
        f["ext"] = h5py.ExternalLink("other.h5", "/x")

    def chunked(f, d):
        f.create_dataset("c", data=np.arange(64, dtype="<f4")
                         .reshape(8, 8), chunks=(4, 4),
                         compression="gzip", shuffle=True)

    def compact(f, d):
        sid = h5py.h5s.create_simple((5,))
        plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        plist.set_layout(h5py.h5d.COMPACT)
        h5py.h5d.create(f.id, b"k", h5py.h5t.STD_U8LE, sid, plist)
        f["strs"] = np.array([b"a", b"bc"], dtype="S2")
        f["cplx"] = np.array([1 + 2j], dtype="<c16")
        f.attrs["nan"] = np.nan

    def old_groups(f, d):
        # Symbol-table groups (B-tree v1, local heap, SNOD), one with all
        # its links deleted again: B-tree and SNOD nodes left empty.
        for i in range(3):
            f.create_group("g%d" % i).attrs["i"] = i
        e = f.create_group("emptied")
        for i in range(4):
            e["x%d" % i] = i
        for i in range(4):
            del e["x%d" % i]
        f["g0"]["deep"] = np.arange(3, dtype="<u2")

    def new_groups(f, d):
        # Compact links in the object header, and a group past the
        # compact limit (8 links): dense links in a fractal heap, a v2 B-tree
        # name index (and creation order tracked: a second B-tree).
        c = f.create_group("compact", track_order=True)
        for i in range(3):
            c["l%d" % i] = np.int8(i)
        gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
        gcpl.set_link_creation_order(h5py.h5p.CRT_ORDER_TRACKED
                                     | h5py.h5p.CRT_ORDER_INDEXED)
        gid = h5py.h5g.create(f.id, b"dense", gcpl=gcpl)
        g = h5py.Group(gid)
        for i in range(12):
            g["link%02d" % i] = h5py.SoftLink("/compact/l%d" % (i % 3))
        g["hard"] = np.arange(2, dtype="<i8")

    def indexes(f, d):
        # The chunk indexes of HDF5 1.10 (libver latest): single chunk,
        # implicit, fixed array, extensible array, v2 B-tree.
        a = np.arange(16, dtype="<i4").reshape(4, 4)
        f.create_dataset("single", data=a, chunks=(4, 4))
        f.create_dataset("fixed", data=a, chunks=(2, 2))
        f.create_dataset("earray", data=np.arange(20, dtype="<i2"),
                         chunks=(4,), maxshape=(None,))
        f.create_dataset("btree2", data=a, chunks=(2, 2),
                         maxshape=(None, None))
        f.create_dataset("filtered", data=a, chunks=(2, 4),
                         compression="gzip", shuffle=True, fletcher32=True)

    def v1_btree(f, d):
        # HDF5 1.8 defaults: chunk index in a v1 B-tree, filters.
        a = np.arange(64, dtype="<u2").reshape(8, 8)
        f.create_dataset("tree", data=a, chunks=(2, 2),
                         fletcher32=True, shuffle=True)
        f.create_dataset("nodata", shape=(100, 100), dtype="<f8",
                         chunks=(10, 10))

    def types(f, d):
        s = h5py.string_dtype()
        f.create_dataset("vlen", data=np.array(["a", "bcd", "\u00e9"],
                                               dtype=object), dtype=s)
        f.create_dataset("fixed_s", data=np.array([b"xy", b"z"]))
        comp = np.dtype([("a", "<i4"), ("b", "<f8"), ("c", "S3")])
        f.create_dataset("compound", data=np.array([(1, 2.5, b"q")],
                                                   dtype=comp))
        e = h5py.enum_dtype({"RED": 0, "GREEN": 1}, basetype="i1")
        f.create_dataset("enum", data=np.array([0, 1, 1], dtype="i1"),
                         dtype=e)
        f.create_dataset("bool", data=np.array([True, False]))
        f.attrs["vlen_attr"] = "text"
        f.attrs.create("arr_attr", np.arange(3, dtype="<u8"))

    def attrs(f, d):
        # Compact attributes in the header; dense ones (fractal heap, v2
        # B-tree) past the phase change.
        x = f.create_dataset("many", data=np.arange(3, dtype="<i4"))
        for i in range(12):
            x.attrs["a%02d" % i] = np.arange(i + 1, dtype="<f4")
        f.create_group("few").attrs["one"] = 1

    def contiguous(f, d):
        f.create_dataset("contig", data=np.arange(32, dtype=">f8"))
        f.create_dataset("empty", shape=(0,), dtype="<i4")
        f.create_dataset("scalar", data=np.float32(1.5))
        f.create_dataset("null", data=h5py.Empty("f"))

    def external(f, d):
        # Raw data in another file: the driver must never open it.
        f.create_dataset("ext", shape=(100,), dtype="<i4",
                         external=[("raw.bin", 0, 400)])
        f["elink"] = h5py.ExternalLink("/etc/passwd", "/x")

    def virtual(f, d):
        src = os.path.join(d, "src.h5")
        with h5py.File(src, "w") as s:
            s["data"] = np.arange(10, dtype="<i4")
        lay = h5py.VirtualLayout(shape=(2, 10), dtype="<i4")
        lay[0] = h5py.VirtualSource(src, "data", shape=(10,))
        lay[1] = h5py.VirtualSource("other.h5", "data", shape=(10,))
        f.create_virtual_dataset("vds", lay, fillvalue=-1)

    def huge(f, d):
        # Shapes whose element count overflows 64 bits, chunks never
        # written: every size computation on them must be checked.
        f.create_dataset("huge", shape=(1, 16384, 2 ** 50 + 1),
                         maxshape=(None, 16384, 2 ** 50 + 1),
                         chunks=(1, 1, 1024), dtype="<f8")
        f.create_dataset("wide", shape=(2 ** 62,), maxshape=(None,),
                         chunks=(1 << 20,), dtype="u1")

    make("basic", basic)
    make("latest", latest, libver="latest")
    make("chunked", chunked)
    make("compact", compact, track_order=True)
    make("old-groups", old_groups, libver="earliest")
    make("new-groups", new_groups, libver="latest")
    make("indexes", indexes, libver="latest")
    make("v1-btree", v1_btree, libver="earliest")
    make("types", types)
    make("attrs-latest", attrs, libver="latest")
    make("attrs-earliest", attrs, libver="earliest", track_order=True)
    make("contiguous", contiguous)
    make("external", external)
    make("virtual", virtual, libver="latest")
    make("huge", huge, libver="latest")
    make("huge-earliest", huge, libver="earliest")
    return files


# Previewing these crashes the module today (division by zero in
# viewer/stats.c: tests/fuzz/pending/fuzz_h5_values); they seed the targets
# that preview once that is fixed.
PREVIEW_CRASHERS = ("huge", "huge-earliest")


def h5_open():
    files = h5_files()
    for t in H5_TARGETS:
        for name, data in files.items():
            if t != "fuzz_h5_struct" and name in PREVIEW_CRASHERS:
                continue
            put(t, name, data)


def grove():
    t = "fuzz_grove"
    put(t, "3d", b"\x03\x05\x06\x07" + b"0,1:5:2,-1\nall\nFalse\ng/d")
    put(t, "slices", b"\x02\x10\x11" + b"::3, -4:\nonly_valid\ntrue\n/")
    put(t, "1d", b"\x01\x09" + b"-9\nnone\n\nname")


if __name__ == "__main__":
    s3_xml()
    token()
    dg_catalog()
    dg_meta()
    dg_vcdiff()
    conf_values()
    h5_select()
    h5_query()
    text()
    h5_open()
    grove()
    print("seeds written under", OUT)
