"""The oracle for /children and /meta: what h5py reports for an object,
under the upstream reader's rules (docs/viewer-api.md §1.5-1.6), plus
h5grove's type object.  Shared by the core tool test and the route test."""

import math

import h5py
import numpy as np

FILTER_NAMES = {1: "gzip", 2: "shuffle", 3: "fletcher32", 4: "szip",
                5: "nbit", 6: "scaleoffset", 307: "bzip2", 32000: "lzf",
                32001: "blosc", 32004: "lz4", 32008: "bitshuffle",
                32015: "zstd"}


# ---------------------------------------------------------------------------
# The oracle: h5py + the upstream reader's rules.

def sanitize(v, f):
    """Upstream attribute conversion plus the §3.3 sanitiser."""
    if isinstance(v, h5py.Empty):
        return None
    if isinstance(v, (h5py.Reference, h5py.RegionReference)):
        return f[v].name if v else None
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="ignore")
    if isinstance(v, str):
        return v
    if isinstance(v, np.void):
        if v.dtype.names:
            return [sanitize(v[n], f) for n in v.dtype.names]
        return bytes(v).decode("utf-8", errors="ignore")
    if isinstance(v, np.ndarray):
        if v.dtype.names:
            return [sanitize(x, f) for x in v]
        if v.dtype.kind == "O" or v.ndim > 1:
            return [sanitize(x, f) for x in v]
        return [sanitize(x, f) for x in v.tolist()]
    if isinstance(v, np.floating):
        return sanitize(float(v), f)
    if isinstance(v, np.generic):
        return sanitize(v.item(), f)
    if isinstance(v, complex):
        return str(v)
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, int) and not isinstance(v, bool) and v >= 2**63:
        return float(v)         # JSON integers are signed 64-bit in C
    if isinstance(v, (list, tuple)):
        return [sanitize(x, f) for x in v]
    return v


def attr_items(obj, limit, f):
    out = []
    for name in list(obj.attrs.keys())[:limit]:
        try:
            out.append((name, sanitize(obj.attrs[name], f)))
        except Exception:       # h5py cannot read it: so says upstream
            out.append((name, "<unreadable>"))
    return out


def filters_of(d):
    """hdf5_reader._get_filters_info, plus every other filter by id."""
    out = []
    if d.compression:
        info = {"name": d.compression,
                "id": {"gzip": 1, "lzf": 32000, "szip": 4}[d.compression]}
        if d.compression == "gzip" and d.compression_opts:
            info["level"] = d.compression_opts
        out.append(info)
    if d.shuffle:
        out.append({"name": "shuffle", "id": 2})
    if d.fletcher32:
        out.append({"name": "fletcher32", "id": 3})
    dcpl = d.id.get_create_plist()
    comp_id = {"gzip": 1, "lzf": 32000, "szip": 4}.get(d.compression)
    for i in range(dcpl.get_nfilters()):
        code = dcpl.get_filter(i)[0]
        if code in (comp_id, 2, 3):
            continue
        out.append({"name": FILTER_NAMES[code], "id": code})
    return out


def type_info(dt):
    t = {}
    if dt.kind in "iu":
        t["class"] = "Integer"
        t["signed"] = dt.kind == "i"
    elif dt.kind == "f":
        t["class"] = "Float"
    elif dt.kind in "SUO":
        t["class"] = "String"
    elif dt.kind == "b":
        t["class"] = "Boolean"
    else:
        t["class"] = "Unknown"
    t["endianness"] = {"<": "little-endian", ">": "big-endian",
                       "=": "native"}.get(dt.byteorder, "not-applicable")
    t["size"] = dt.itemsize * 8
    return t


def raw_type(dt):
    r = {"type": dt.num, "size": dt.itemsize,
         "littleEndian": dt.byteorder in ("<", "="),
         "vlen": dt.metadata is not None and "vlen" in str(dt.metadata),
         "total_size": dt.itemsize}
    if dt.kind in "iu":
        r["signed"] = dt.kind == "i"
    return r


def stringify_dtype(dt):
    if dt.fields is None:
        return dt.str
    return {k: stringify_dtype(v[0]) for k, v in dt.fields.items()}


def grove_type(tid, members_as_list=False):
    """h5grove's type metadata of an h5py type id: get_type_metadata_h5py
    (compound members as an object, what /meta's hdf5_type shows), or,
    with members_as_list, utils.get_type_metadata (members as a list of
    {name, ...}, what /h5grove/meta/ shows)."""
    def sub(t):
        return grove_type(t, members_as_list)

    base = {"class": tid.get_class(), "dtype": stringify_dtype(tid.dtype),
            "size": tid.get_size()}
    if isinstance(tid, h5py.h5t.TypeIntegerID):
        return dict(base, order=tid.get_order(), sign=tid.get_sign())
    if isinstance(tid, (h5py.h5t.TypeFloatID, h5py.h5t.TypeBitfieldID)):
        return dict(base, order=tid.get_order())
    if isinstance(tid, h5py.h5t.TypeStringID):
        return dict(base, cset=tid.get_cset(), strpad=tid.get_strpad(),
                    vlen=bool(tid.is_variable_str()))
    if isinstance(tid, h5py.h5t.TypeOpaqueID):
        return dict(base, tag=tid.get_tag().decode())
    if isinstance(tid, h5py.h5t.TypeCompoundID):
        names = [tid.get_member_name(i).decode()
                 for i in range(tid.get_nmembers())]
        types = [sub(tid.get_member_type(i))
                 for i in range(tid.get_nmembers())]
        if members_as_list:
            return dict(base, members=[dict(name=n, **t)
                                       for n, t in zip(names, types)])
        return dict(base, members=dict(zip(names, types)))
    if isinstance(tid, h5py.h5t.TypeEnumID):
        return dict(base, members={
            tid.get_member_name(i).decode(): tid.get_member_value(i)
            for i in range(tid.get_nmembers())},
            base=sub(tid.get_super()))
    if isinstance(tid, h5py.h5t.TypeVlenID):
        return dict(base, base=sub(tid.get_super()))
    if isinstance(tid, h5py.h5t.TypeArrayID):
        return dict(base, dims=list(tid.get_array_dims()),
                    base=sub(tid.get_super()))
    return base


def dataset_fields(d, f, meta):
    o = {"shape": list(d.shape) if d.shape is not None else None,
         "dtype": str(d.dtype),
         "size": int(d.size) if d.size is not None else None,
         "ndim": d.ndim}
    if d.chunks:
        o["chunks"] = list(d.chunks)
    if d.compression:
        o["compression"] = d.compression
    if meta:
        o["type"] = type_info(d.dtype)
        o["rawType"] = raw_type(d.dtype)
        o["filters"] = filters_of(d)
        o["hdf5_type"] = grove_type(d.id.get_type())
        opts = d.compression_opts
        if opts:
            o["compression_opts"] = list(opts) if isinstance(opts, tuple) \
                else opts
        o.update(storage_of(d))
    return o


_LAYOUTS = {h5py.h5d.COMPACT: "compact", h5py.h5d.CONTIGUOUS: "contiguous",
            h5py.h5d.CHUNKED: "chunked", h5py.h5d.VIRTUAL: "virtual"}


def storage_of(d):
    """Where the dataset keeps its values, as /meta states it."""
    dcpl = d.id.get_create_plist()
    layout = _LAYOUTS.get(dcpl.get_layout(), "unknown")
    n = dcpl.get_external_count()
    if layout == "contiguous" and n > 0:
        files = []
        for i in range(min(n, 64)):
            name, offset, size = dcpl.get_external(i)
            files.append({"name": name.decode(), "offset": offset,
                          "size": -1 if size == 2 ** 64 - 1 else size})
        out = {"layout": "external", "external_files": files}
        if n > 64:
            out["external_file_count"] = n
        return out
    if layout == "virtual":
        n = dcpl.get_virtual_count()
        out = {"layout": "virtual", "virtual_sources": [
            {"file": dcpl.get_virtual_filename(i),
             "dataset": dcpl.get_virtual_dsetname(i)}
            for i in range(min(n, 64))]}
        if n > 64:
            out["virtual_source_count"] = n
        return out
    return {"layout": layout}


def link_of(f, path):
    if path.strip("/") == "":
        return h5py.HardLink()
    return f.get(path, getlink=True)


def resolve(f, path, o):
    """(object or None, entry with link fields) -- upstream h5py semantics
    for hard links; links it could not open become link entries."""
    link = link_of(f, path)
    if isinstance(link, h5py.ExternalLink):
        o.update(type="external_link", target_file=link.filename,
                 target_path=link.path)
        return None
    if isinstance(link, h5py.SoftLink):
        try:
            obj = f[path]
        except KeyError:
            o.update(type="soft_link", target=link.path)
            return None
        o.update(link="soft", target=link.path)
        return obj
    return f[path]


def expected_child(f, gpath, name):
    cpath = gpath.rstrip("/") + "/" + name
    o = {"name": name, "path": cpath}
    full = (gpath.rstrip("/") + "/" + name) if gpath.strip("/") else "/" + name
    obj = resolve(f, full, o)
    if obj is None:
        return o
    if isinstance(obj, h5py.Group):
        o.update(type="group", num_children=len(obj.keys()))
    elif isinstance(obj, h5py.Dataset):
        o["type"] = "dataset"
        o.update(dataset_fields(obj, f, False))
        if len(obj.attrs) > 0:
            o["attributes"] = dict(attr_items(obj, 10, f))
            o["num_attributes"] = len(obj.attrs)
            if len(obj.attrs) > 10:
                o["attributes_truncated"] = True
    elif isinstance(obj, h5py.Datatype):
        o.update(type="datatype", dtype=str(obj.dtype))
    return o


def expected_meta(f, path):
    o = {"name": path.split("/")[-1] if path != "/" else "", "path": path}
    obj = resolve(f, path, o)
    if obj is None:
        o["kind"] = o["type"]
        o["attributes"] = []
        o["num_attributes"] = 0
        return o
    o["attributes"] = [{"name": n, "value": v}
                       for n, v in attr_items(obj, 20, f)]
    o["num_attributes"] = len(obj.attrs)
    if len(obj.attrs) > 20:
        o["attributes_truncated"] = True
    if isinstance(obj, h5py.Group):
        o.update(kind="group", type="group", num_children=len(obj.keys()))
    elif isinstance(obj, h5py.Dataset):
        o["kind"] = "dataset"
        o.update(dataset_fields(obj, f, True))
    elif isinstance(obj, h5py.Datatype):
        o.update(kind="datatype", dtype=str(obj.dtype),
                 type=type_info(obj.dtype), rawType=raw_type(obj.dtype),
                 hdf5_type=grove_type(obj.id))
    return o


def walk(f):
    """(groups, every path) in the file, links included, never followed
    except hard links to groups."""
    groups, paths = ["/"], ["/"]
    todo = ["/"]
    while todo:
        g = todo.pop()
        for name in f[g].keys():
            p = g.rstrip("/") + "/" + name
            paths.append(p)
            link = f[g].get(name, getlink=True)
            if isinstance(link, h5py.HardLink) and \
                    isinstance(f[p], h5py.Group):
                groups.append(p)
                todo.append(p)
    return groups, paths


