"""Helpers for the hostile-file tests: a watch on local files (inotify,
through ctypes) that tells whether any process opened or read them, and
every value route of the three families for one dataset.

Every byte of a stored object is attacker-controlled: these tests put
files written by h5py into the test RGW that try to make the module read
the server's own disk, and check that nothing local is ever touched.
"""

import ctypes
import ctypes.util
import errno
import os
import struct
import urllib.parse

_IN_ACCESS = 0x001
_IN_OPEN = 0x020
_IN_NONBLOCK = 0o4000

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.inotify_init1.argtypes = [ctypes.c_int]
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p,
                                    ctypes.c_uint32]


class FileWatch:
    """Counts opens and reads of some files by any process (inotify)."""

    def __init__(self, *paths):
        self.fd = _libc.inotify_init1(_IN_NONBLOCK)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.names = {}
        for p in paths:
            wd = _libc.inotify_add_watch(self.fd, p.encode(),
                                         _IN_OPEN | _IN_ACCESS)
            if wd < 0:
                raise OSError(ctypes.get_errno(), "inotify_add_watch " + p)
            self.names[wd] = p
        self.events = []

    def poll(self):
        """Events seen so far: a list of (path, 'open'|'access')."""
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except OSError as e:
                if e.errno == errno.EAGAIN:
                    break
                raise
            off = 0
            while off < len(buf):
                wd, mask, _, ln = struct.unpack_from("iIII", buf, off)
                off += 16 + ln
                kind = "open" if mask & _IN_OPEN else "access"
                self.events.append((self.names.get(wd, "?"), kind))
        return list(self.events)

    def close(self):
        os.close(self.fd)


def value_routes(key, path, grove=True, viewer=True):
    """(name, URL below the Location) of every route that serves values of
    the dataset at path, in every encoding, for a 1-D or 2-D dataset."""
    k = urllib.parse.quote(key, safe="")
    p = urllib.parse.quote(path, safe="")
    out = []
    if viewer:
        base = "/files/%s" % k
        out += [
            ("preview", "%s/preview?path=%s" % (base, p)),
            ("preview-full", "%s/preview?path=%s&detail=full" % (base, p)),
            ("data-matrix", "%s/data?path=%s&mode=matrix" % (base, p)),
            ("data-heatmap", "%s/data?path=%s&mode=heatmap" % (base, p)),
            ("data-line", "%s/data?path=%s&mode=line" % (base, p)),
            ("csv-matrix", "%s/export/csv?path=%s&mode=matrix" % (base, p)),
            ("csv-line", "%s/export/csv?path=%s&mode=line" % (base, p)),
        ]
    if grove:
        for fmt in ("json", "bin", "npy", "csv", "tiff"):
            out.append(("grove-data-" + fmt, "/h5grove/data/?file=%s&path=%s"
                        "&format=%s" % (k, p, fmt)))
        out.append(("grove-data-flat", "/h5grove/data/?file=%s&path=%s"
                    "&flatten=true" % (k, p)))
        out.append(("grove-stats", "/h5grove/stats/?file=%s&path=%s"
                    % (k, p)))
    return out


def describe_routes(key, path):
    """Routes that describe an object without serving its values."""
    k = urllib.parse.quote(key, safe="")
    p = urllib.parse.quote(path, safe="")
    parent = urllib.parse.quote(path.rsplit("/", 1)[0] or "/", safe="")
    return [
        ("meta", "/files/%s/meta?path=%s" % (k, p)),
        ("children", "/files/%s/children?path=%s" % (k, parent)),
        ("grove-meta", "/h5grove/meta/?file=%s&path=%s" % (k, p)),
        ("grove-attr", "/h5grove/attr/?file=%s&path=%s" % (k, p)),
        ("grove-paths", "/h5grove/paths/?file=%s&path=%s" % (k, parent)),
    ]


def contains_marker(body, marker):
    """Is the marker in the body as text, or as the JSON numbers of its
    bytes (a uint8 dataset serves bytes as numbers)?"""
    if marker in body:
        return True
    nums = ",".join(str(b) for b in marker[:12])
    return nums.encode() in body.replace(b" ", b"")
