"""Hostile HDF5 files that try to make the module read the server's own
disk: datasets whose raw data lives in "external files" (H5Pset_external,
h5py's external=) and virtual datasets whose sources are local files.

The local files hold a known marker.  Every value route of the three
families (viewer JSON and CSV, h5grove json/bin/npy/csv/tiff and stats)
must answer a JSON 422 naming the reason, the marker must never appear in
any response, and inotify must see no process open or read the local
files.  The describing routes still describe such datasets, as facts
(layout, external file names, virtual sources), without opening anything.
"""

import json
import os
import shutil
import tempfile

import h5py
import numpy as np
import pytest

from harness.common import vhost
from harness.hostile import (FileWatch, contains_marker, describe_routes,
                             value_routes)

BUCKET = "hostile-local"
A = "hostile.test"
MARKER = b"H5S3-LOCAL-SECRET-7f3a9c"


@pytest.fixture(scope="module")
def local_files():
    """A marker file and a local HDF5 file holding it, readable by the
    httpd user (www-data), in a directory of their own."""
    d = tempfile.mkdtemp(prefix="h5s3-hostile-", dir="/tmp")
    os.chmod(d, 0o755)
    secret = os.path.join(d, "secret.txt")
    with open(secret, "wb") as f:
        f.write((MARKER + b"\n") * 200)
    os.chmod(secret, 0o644)
    src = os.path.join(d, "source.h5")
    with h5py.File(src, "w") as f:
        f["data"] = np.frombuffer(MARKER * 4, dtype=np.uint8)
        f["grid"] = np.frombuffer((MARKER * 16)[:256], dtype=np.uint8) \
            .reshape(16, 16)
    os.chmod(src, 0o644)
    yield {"dir": d, "secret": secret, "source": src}
    shutil.rmtree(d, ignore_errors=True)


def write_external(path, secret):
    n = len(MARKER) * 4
    with h5py.File(path, "w") as f:
        f["ok"] = np.arange(10, dtype=np.float64)
        f.create_dataset("ext_u8", shape=(n,), dtype="u1",
                         external=[(secret, 0, n)])
        f.create_dataset("ext_f8", shape=(4, 8), dtype="<f8",
                         external=[(secret, 0, 256)])
        f.create_dataset("ext_s", shape=(8,), dtype="S16",
                         external=[(secret, 0, 128)])
        # Two segments, the second at an offset of the same file.
        f.create_dataset("ext_multi", shape=(2, 24), dtype="u1",
                         external=[(secret, 0, 24), (secret, 25, 24)])
        # A relative name: resolved against the server's working directory.
        f.create_dataset("ext_rel", shape=(16,), dtype="u1",
                         external=[("secret.txt", 0, 16)])
        g = f.create_group("g")
        g.create_dataset("ext", shape=(n,), dtype="u1",
                         external=[(secret, 0, n)])


def write_virtual(path, source):
    n = len(MARKER) * 4
    with h5py.File(path, "w") as f:
        f["plain"] = np.arange(n, dtype=np.uint8)
        lay = h5py.VirtualLayout(shape=(n,), dtype="u1")
        lay[:] = h5py.VirtualSource(source, "data", shape=(n,))
        f.create_virtual_dataset("vds_abs", lay, fillvalue=0)
        lay = h5py.VirtualLayout(shape=(16, 16), dtype="u1")
        lay[:, :] = h5py.VirtualSource(source, "grid", shape=(16, 16))
        f.create_virtual_dataset("vds_2d", lay, fillvalue=0)
        lay = h5py.VirtualLayout(shape=(n,), dtype="u1")
        lay[:] = h5py.VirtualSource(os.path.basename(source), "data",
                                    shape=(n,))
        f.create_virtual_dataset("vds_rel", lay, fillvalue=0)
        # Sources in this very file are still a virtual dataset: refused.
        lay = h5py.VirtualLayout(shape=(n,), dtype="u1")
        lay[:] = h5py.VirtualSource(".", "plain", shape=(n,))
        f.create_virtual_dataset("vds_self", lay, fillvalue=0)
        # An unlimited mapping: HDF5 works out its extent from the sources
        # (low-level API: h5py's high level checks against the shape).
        unl = h5py.h5s.UNLIMITED
        vspace = h5py.h5s.create_simple((n,), (unl,))
        vspace.select_hyperslab((0,), (1,), stride=(1,), block=(unl,))
        sspace = h5py.h5s.create_simple((n,), (unl,))
        sspace.select_hyperslab((0,), (1,), stride=(1,), block=(unl,))
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_virtual(vspace, source.encode(), b"data", sspace)
        h5py.h5d.create(f.id, b"vds_unlim", h5py.h5t.NATIVE_UINT8, vspace,
                        dcpl=dcpl).close()


@pytest.fixture(scope="module")
def hostile(rgw, local_files, tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile-local")
    ext, vds = str(d / "ext.h5"), str(d / "vds.h5")
    write_external(ext, local_files["secret"])
    write_virtual(vds, local_files["source"])
    rgw.create_buckets(BUCKET)
    s3 = rgw.client()
    s3.upload_file(ext, BUCKET, "ext.h5")
    s3.upload_file(vds, BUCKET, "dir/vds.h5")
    return {"ext": ext, "vds": vds}


@pytest.fixture
def server(rgw, make_httpd, mpm, hostile):
    return make_httpd(vhost(rgw, A, [BUCKET]), mpm=mpm)


EXTERNAL = ["/ext_u8", "/ext_f8", "/ext_s", "/ext_multi", "/ext_rel",
            "/g/ext"]
VIRTUAL = ["/vds_abs", "/vds_2d", "/vds_rel", "/vds_self", "/vds_unlim"]


def _check_refused(server, key, path, reason, watch):
    for name, url in value_routes(key, path):
        status, hdrs, body = server.request("GET", "/hdf" + url, host=A)
        assert status == 422, (name, path, status, body[:300])
        assert hdrs["Content-Type"].startswith("application/json"), name
        msg = json.loads(body)
        text = json.dumps(msg)
        assert reason in text, (name, path, text)
        assert path.rsplit("/", 1)[-1] in text, (name, path, text)
        assert not contains_marker(body, MARKER), (name, path)
        assert watch.poll() == [], (name, path, watch.events)


def test_external_storage_is_refused_on_every_value_route(
        server, local_files):
    watch = FileWatch(local_files["secret"], local_files["dir"])
    try:
        for path in EXTERNAL:
            _check_refused(server, "ext.h5", path,
                           "external raw data storage", watch)
        # A plain dataset of the same file still serves.
        status, _, body = server.request(
            "GET", "/hdf/files/ext.h5/data?path=/ok&mode=line", host=A)
        assert status == 200, body
        assert watch.poll() == []
    finally:
        watch.close()


def test_virtual_datasets_are_refused_on_every_value_route(
        server, local_files):
    watch = FileWatch(local_files["source"], local_files["dir"])
    try:
        for path in VIRTUAL:
            _check_refused(server, "dir/vds.h5", path, "virtual dataset",
                           watch)
        status, _, body = server.request(
            "GET", "/hdf/files/dir%2Fvds.h5/data?path=/plain&mode=line",
            host=A)
        assert status == 200, body
        assert watch.poll() == []
    finally:
        watch.close()


def test_describing_routes_state_the_facts_without_opening(
        server, local_files):
    watch = FileWatch(local_files["secret"], local_files["source"],
                      local_files["dir"])
    try:
        for key, paths in (("ext.h5", EXTERNAL), ("dir/vds.h5", VIRTUAL)):
            for path in paths:
                for name, url in describe_routes(key, path):
                    status, _, body = server.request("GET", "/hdf" + url,
                                                     host=A)
                    assert status == 200, (name, path, status, body[:300])
                    assert not contains_marker(body, MARKER), (name, path)
        assert watch.poll() == []

        # /meta names the storage: external files with offsets and sizes.
        status, _, body = server.request(
            "GET", "/hdf/files/ext.h5/meta?path=/ext_multi", host=A)
        meta = json.loads(body)["metadata"]
        assert meta["layout"] == "external"
        assert meta["external_files"] == [
            {"name": local_files["secret"], "offset": 0, "size": 24},
            {"name": local_files["secret"], "offset": 25, "size": 24}]
        status, _, body = server.request(
            "GET", "/hdf/files/dir%2Fvds.h5/meta?path=/vds_abs", host=A)
        meta = json.loads(body)["metadata"]
        assert meta["layout"] == "virtual"
        assert meta["virtual_sources"] == [
            {"file": local_files["source"], "dataset": "data"}]
        status, _, body = server.request(
            "GET", "/hdf/files/dir%2Fvds.h5/meta?path=/plain", host=A)
        meta = json.loads(body)["metadata"]
        assert meta["layout"] == "contiguous"
        assert "external_files" not in meta
        assert watch.poll() == []
    finally:
        watch.close()


def test_watch_sees_a_read(local_files):
    """The inotify watch above is not blind: reading the file is seen."""
    watch = FileWatch(local_files["secret"])
    try:
        with open(local_files["secret"], "rb") as f:
            f.read(10)
        kinds = {k for _, k in watch.poll()}
        assert kinds == {"open", "access"}
    finally:
        watch.close()
