"""zarrita (zarr.js from npm, pinned in viewer/package-lock.json) in
headless Debian Chromium reads the Zarr store view (docs/zarr.md) of a
file in the real RGW through the real httpd: one chunk (getChunk) and one
selection (zarr.get), compared with h5py's reading of the same file.
tests/browser/zarrita.spec.mjs drives the browser; the page and the store
are served by the same httpd (one origin).  Missing Chromium, node or node
modules is a failure, never a skip: scripts/setup.sh and
scripts/build-viewer.sh install them."""

import json
import os
import shutil
import subprocess

import h5py
import numpy as np
import pytest

from harness.s3server import REPO
from harness.zarrfx import (AWKWARD_KEY, raw_get, store_url, zfiles,  # noqa
                            zsrv)  # noqa: F401 (fixtures)

SPEC = os.path.join(REPO, "tests", "browser", "zarrita.spec.mjs")
CHROMIUM = "/usr/bin/chromium"


def _need(ok, what):
    if not ok:
        pytest.fail("%s: run scripts/setup.sh" % what, pytrace=False)


@pytest.fixture(scope="module")
def page(zsrv):
    """The zarrita page in httpd's DocumentRoot; its URL."""
    _need(shutil.which("node"), "node is not installed")
    _need(os.access(CHROMIUM, os.X_OK), "%s is not installed" % CHROMIUM)
    r = subprocess.run([os.path.join(REPO, "scripts", "build-viewer.sh")],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    _need(os.path.isdir(os.path.join(REPO, "viewer", "node_modules",
                                     "zarrita")),
          "viewer/node_modules/zarrita is missing")
    out = os.path.join(zsrv.htdocs, "zarrita")
    r = subprocess.run(["node", SPEC, "--bundle", out],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=120, cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    for root, dirs, files in os.walk(out):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    url = zsrv.url("/zarrita/index.html")
    status, _, body = raw_get(url)
    assert status == 200 and b"zarrita.js" in body
    return url


def run_zarrita(page, store, array, chunk, select=None):
    cmd = ["node", SPEC, page, "--store", store, "--array", array,
           "--chunk", ",".join(map(str, chunk))]
    if select:
        cmd += ["--select", ",".join("%d:%d" % ab for ab in select)]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=120, cwd=REPO)
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and lines and lines[-1] == "PASS", \
        r.stdout + r.stderr
    return json.loads(lines[-2])


def as_array(part, dtype):
    return np.array([float(v) if dtype.kind == "f" else int(v)
                     for v in part["data"]],
                    dtype=dtype).reshape(part["shape"])


def chunk_region(chunks, idx, shape):
    return tuple(slice(i * c, min((i + 1) * c, n))
                 for i, c, n in zip(idx, chunks, shape))


@pytest.mark.parametrize("key,array,chunk,select", [
    # gzip + shuffle, big-endian float64, 3-D, a key with folders, spaces
    # and unicode.
    (AWKWARD_KEY, "pressure", (1, 1, 1), ((1, 4), (10, 22), (5, 33))),
    # A partial edge chunk of a gzip+shuffle little-endian int32.
    ("dtypes.h5", "chunked/le_i4", (3, 2), ((8, 37), (0, 23))),
    # Contiguous big-endian int64: a synthetic chunk of whole rows.
    ("dtypes.h5", "contiguous/be_i8", (0, 0), ((30, 37), (2, 9))),
])
def test_zarrita_reads_a_chunk_as_h5py(zsrv, zfiles, page, key, array,
                                       chunk, select):
    local = "dimscales.h5" if key == AWKWARD_KEY else key
    store = store_url(zsrv, key)
    got = run_zarrita(page, store, array, chunk, select)
    with h5py.File(os.path.join(zfiles, local), "r") as f:
        ds = f[array]
        want_all = ds[()]
    dt = want_all.dtype.newbyteorder("=")
    assert got["shape"] == list(want_all.shape)
    chunks = got["chunks"]
    c = as_array(got["chunk"], dt)
    assert list(c.shape) == chunks          # full chunk shape, edges too
    region = chunk_region(chunks, chunk, want_all.shape)
    inside = tuple(slice(0, r.stop - r.start) for r in region)
    np.testing.assert_array_equal(c[inside], want_all[region])
    assert c[inside].size > 0
    s = as_array(got["select"], dt)
    np.testing.assert_array_equal(s, want_all[tuple(slice(a, b)
                                                    for a, b in select)])
    # Every request the page made went to this httpd and succeeded; the
    # chunk was fetched by its Zarr key.
    reqs = got["requests"]
    assert all(u.startswith(zsrv.url("/")) for _, u in reqs), reqs
    assert all(st == 200 for st, _ in reqs), reqs
    ckey = store + array + "/" + ".".join(map(str, chunk))
    assert any(u == ckey for _, u in reqs), (ckey, reqs)
