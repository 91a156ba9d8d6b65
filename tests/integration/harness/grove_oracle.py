"""h5grove 4.0's answers computed with h5py, after its sources
(src/h5grove/content.py, utils.py, encoders.py at v4.0.0): the oracle the
/h5grove/ routes are compared with.  h5grove itself is not in Debian.

One deliberate difference: mod_h5s3 never follows external links (their
targets are not in S3), so here an external link is always unresolvable.
"""

import math
import os

import h5py
import numpy as np

from .h5oracle import grove_type


def type_meta(tid):
    """utils.get_type_metadata (compound members as a list)."""
    return grove_type(tid, members_as_list=True)


def _shape(s):
    return None if s is None else list(s)


def attr_meta(obj, name):
    aid = obj.attrs.get_id(name)
    return {"name": name, "shape": _shape(aid.shape),
            "type": type_meta(aid.get_type())}


def _filters(d):
    pl = d.id.get_create_plist()
    n = pl.get_nfilters()
    if n <= 0:
        return None
    out = []
    for i in range(n):
        fid, _, _, name = pl.get_filter(i)
        out.append({"id": fid, "name": name.decode()})
    return out


class NotFound(Exception):
    pass


def _entity(f, path, resolve):
    """get_entity_from_file: (kind, obj_or_link)."""
    if path == "/":
        return "obj", f["/"]
    link = f.get(path, getlink=True)
    if link is None:
        raise NotFound("%s is not a valid path in %s"
                       % (path, os.path.basename(f.filename)))
    if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
        if resolve == "none":
            return "link", link
        obj = None
        if isinstance(link, h5py.SoftLink):
            try:
                obj = f[path]
            except (OSError, KeyError):
                obj = None
        if obj is not None:
            return "obj", obj
        if resolve == "only_valid":
            return "link", link
        raise NotFound("Cannot resolve %r at %s of %s"
                       % (link, path, os.path.basename(f.filename)))
    return "obj", f[path]


def _name(path):
    return path.split("/")[-1]


def join(prefix, suffix):
    if prefix is None or prefix == "/":
        return "/" + suffix
    return prefix.rstrip("/") + "/" + suffix


def metadata(f, path="/", resolve="only_valid", depth=1):
    kind, e = _entity(f, path, resolve)
    name = _name(path)
    if kind == "link":
        if isinstance(e, h5py.SoftLink):
            return {"kind": "soft_link", "name": name,
                    "target_path": e.path}
        return {"kind": "external_link", "name": name,
                "target_file": e.filename, "target_path": e.path}
    attrs = [attr_meta(e, n) for n in sorted(e.attrs.keys())]
    if isinstance(e, h5py.Dataset):
        return {"attributes": attrs, "chunks": _shape(e.chunks),
                "filters": _filters(e), "kind": "dataset", "name": name,
                "shape": _shape(e.shape), "type": type_meta(e.id.get_type())}
    if isinstance(e, h5py.Datatype):
        return {"attributes": attrs, "kind": "datatype", "name": name,
                "type": type_meta(e.id)}
    out = {"attributes": attrs, "kind": "group", "name": name}
    if depth > 0:
        out["children"] = [metadata(f, join(path, c), "only_valid", 0)
                           for c in e.keys()]
    return out


def paths(f, path="/", resolve="only_valid"):
    kind, g = _entity(f, path, resolve)
    assert kind == "obj" and isinstance(g, h5py.Group)
    names = [path]

    def visit(name):
        full = join(path, name.decode())
        _entity(f, full, resolve)
        names.append(full)
    g.id.links.visit(visit)
    return names


def parse_slice(s):
    def member(m):
        if ":" not in m:
            return int(m)
        parts = m.split(":")
        if len(parts) == 2:
            a, b = parts
            return slice(int(a) if a != "" else 0,
                         int(b) if b != "" else None)
        a, b, c = parts
        return slice(int(a) if a != "" else None,
                     int(b) if b != "" else None,
                     int(c) if c != "" else None)
    if "," not in s:
        return (member(s),)
    return tuple(member(m) for m in s.split(","))


def is_numeric(a):
    return isinstance(a, (np.ndarray, np.number, np.bool_)) and (
        np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.bool_))


def sanitize_dtype(dt):
    if dt.kind == "f" and dt.itemsize < 4:
        return np.dtype("<f4")
    if dt.kind == "f" and dt.itemsize > 8:
        return np.dtype("<f8")
    if dt.byteorder in ("=", ">"):
        return dt.newbyteorder("<")
    return dt


def data(f, path, selection=None, flatten=False, dtype="origin"):
    d = f[path]
    r = d[()] if selection is None else d[parse_slice(selection)]
    if dtype == "safe":
        r = r.astype(sanitize_dtype(r.dtype), order="C", copy=False)
    if flatten and isinstance(r, np.ndarray):
        r = np.ravel(r)
    return r


def jsonable(x):
    """What orjson + h5grove's orjson_default make of a value."""
    if isinstance(x, h5py.Empty):
        return None
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "fc" and x.dtype.itemsize > x.dtype.alignment \
                and x.dtype.itemsize >= 16 and x.dtype.kind == "f":
            x = x.astype("f8")
        return [jsonable(v) for v in x] if x.ndim else jsonable(x[()])
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.void):
        v = x.tolist()
        return jsonable(v) if not isinstance(v, np.void) else \
            [jsonable(x[n]) for n in x.dtype.names]
    if isinstance(x, np.floating) and x.itemsize > 8:
        return jsonable(float(x))
    if isinstance(x, np.complexfloating) and x.itemsize > 16:
        return [jsonable(float(x.real)), jsonable(float(x.imag))]
    if isinstance(x, np.generic):
        return jsonable(x.tolist())
    if isinstance(x, complex):
        return [jsonable(x.real), jsonable(x.imag)]
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, bytes):
        return x.rstrip(b"\0").decode("utf-8", "ignore")
    if isinstance(x, h5py.RegionReference):
        return "<HDF5 region reference>"
    if isinstance(x, h5py.Reference):
        return "<HDF5 object reference>"
    return x


def stats(f, path, selection=None):
    a = np.asarray(data(f, path, selection))
    if np.issubdtype(a.dtype, np.floating):
        a = a[np.isfinite(a)]
    keys = ("strict_positive_min", "positive_min", "min", "max", "mean",
            "std")
    if a.size == 0:
        return dict.fromkeys(keys)
    cast = float if np.issubdtype(a.dtype, np.floating) else int
    sp, po = a[a > 0], a[a >= 0]
    return {"strict_positive_min": cast(np.min(sp)) if sp.size else None,
            "positive_min": cast(np.min(po)) if po.size else None,
            "min": cast(np.min(a)), "max": cast(np.max(a)),
            "mean": cast(np.mean(a, dtype=np.float64)),
            "std": cast(np.std(a, dtype=np.float64))}
