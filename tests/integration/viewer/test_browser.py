"""The viewer page (viewer/, conf/h5s3-viewer.conf) in a real browser:
headless Debian Chromium driven by playwright-core
(tests/browser/viewer.spec.mjs) against httpd with mod_h5s3 and the page's
Alias, reading HDF5 files written by h5py from Ceph RGW through the /files
listing and the h5grove API.  Missing Chromium, node or node modules is a
failure, never a skip: scripts/setup.sh installs and builds all of them."""

import os
import re
import shutil
import subprocess
import urllib.parse

import h5py
import numpy as np
import pytest

from harness.common import make_bucket
from harness.plugin import s3_directives
from harness.s3server import REPO

BUCKET = "viewerdemo"
# A key that needs care in a query string: space, "+", "%", non-ASCII.
KEY = "viewer/été 2024/demo+1 100%.h5"
OTHER = "other.hdf5"
SPEC = os.path.join(REPO, "tests", "browser", "viewer.spec.mjs")
ARTIFACTS = os.path.join(REPO, "tests", "browser", "artifacts")
CHROMIUM = "/usr/bin/chromium"
_Y, _X = np.mgrid[0:64, 0:96]
IMAGE = (np.sin(_X / 8.0) * np.cos(_Y / 6.0)).astype("<f4")


def h5web_exp(v):
    """v as H5Web's colour bar writes its limits (d3-format): 9.998e-1,
    \u22121e+0 (a minus sign, not a hyphen, before the mantissa)."""
    mant, exp = ("%.3e" % abs(v)).split("e")
    mant = mant.rstrip("0").rstrip(".")
    return "%s%se%s%d" % ("\u2212" if v < 0 else "", mant,
                          "-" if int(exp) < 0 else "+", abs(int(exp)))


def _need(ok, what):
    if not ok:
        pytest.fail("%s: run scripts/setup.sh" % what, pytrace=False)


@pytest.fixture(scope="module")
def viewer_dist():
    """viewer/dist, rebuilt by scripts/build-viewer.sh if a source changed
    (a no-op otherwise)."""
    _need(shutil.which("node"), "node is not installed")
    _need(os.access(CHROMIUM, os.X_OK), "%s is not installed" % CHROMIUM)
    _need(os.path.isdir(os.path.join(REPO, "viewer", "node_modules",
                                     "playwright-core")),
          "viewer/node_modules is missing")
    r = subprocess.run([os.path.join(REPO, "scripts", "build-viewer.sh")],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    dist = os.path.join(REPO, "viewer", "dist")
    assert os.path.isfile(os.path.join(dist, "index.html"))
    return dist


@pytest.fixture(scope="module")
def demo_bucket(rgw, tmp_path_factory):
    """A bucket with two HDF5 files and one that is not HDF5 (which the
    page leaves out of its list)."""
    d = tmp_path_factory.mktemp("viewerdemo")
    path = str(d / "demo.h5")
    with h5py.File(path, "w") as f:
        f.attrs["title"] = "viewer demo"
        g = f.create_group("measurements")
        g.attrs["instrument"] = "synthetic"
        g.create_dataset("image", data=IMAGE, chunks=(16, 32),
                         compression="gzip")
        g.create_dataset("trace", data=np.sin(np.linspace(0, 12, 500)))
        f.create_dataset("counts", data=np.arange(10, dtype="<i4"))
    s3 = make_bucket(rgw.client(), BUCKET)
    s3.upload_file(path, BUCKET, KEY)
    s3.upload_file(path, BUCKET, OTHER)
    s3.put_object(Bucket=BUCKET, Key="notes.txt", Body=b"not HDF5\n")
    return BUCKET


def test_viewer_page_in_chromium(rgw, make_httpd, demo_bucket, viewer_dist):
    # The page is copied next to httpd's config: the repository may sit
    # where www-data cannot read (e.g. under /root); the Alias and its
    # <Directory> come from the shipped conf/h5s3-viewer.conf.
    h = make_httpd(start=False)
    page_dir = h.path("viewer")
    shutil.copytree(viewer_dist, page_dir)
    h.conf_body = (
        "AllowEncodedSlashes NoDecode\n"
        + s3_directives(rgw, [demo_bucket])
        + "<Location /hdf>\n    SetHandler h5s3\n</Location>\n"
        "Define H5S3_VIEWER_DIR %s\n"
        "Include %s\n" % (page_dir, os.path.join(REPO, "conf",
                                                  "h5s3-viewer.conf")))
    h.start()

    # /viewer redirects to /viewer/, which is the built page.
    status, hdrs, _ = h.get("/viewer")
    assert status == 301 and hdrs["Location"].endswith("/viewer/")
    status, hdrs, body = h.get("/viewer/")
    assert status == 200 and b'<div id="root">' in body

    r = subprocess.run(["node", SPEC, h.url("/viewer/"), "--file", KEY,
                        "--group", "/measurements",
                        "--dataset", "/measurements/image",
                        # The colour bar's limits: the values made it
                        # through S3, the module and the bin encoding.
                        "--expect", h5web_exp(float(IMAGE.max())),
                        "--expect", h5web_exp(float(IMAGE.min())),
                        "--out", ARTIFACTS],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=120, cwd=REPO)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    lines = r.stdout.splitlines()
    assert lines[-1] == "PASS", out
    # Two HDF5 files listed; notes.txt filtered out.
    assert "ok listing shows 2 HDF5 file(s), %s among them" % KEY in lines, out
    assert any(re.match(r"ok heatmap canvas drawn", ln) for ln in lines), out
    assert 'ok heatmap view shows "%s"' % h5web_exp(float(IMAGE.max())) \
        in lines, out
    assert any(re.match(r"ok line view drawn", ln) for ln in lines), out
    calls = [ln.split(" ", 2)[2] for ln in lines
             if ln.startswith("api GET ")]
    assert "200 /hdf/files?include_folders=false" in calls, out
    f = urllib.parse.urlencode({"file": KEY})     # as URLSearchParams does
    # The page went through the module's h5grove routes, all answered 200.
    for route in ("meta", "data"):
        hits = [c for c in calls if c.startswith("200 /hdf/h5grove/%s?%s"
                                                 % (route, f))]
        assert hits, (route, out)
    assert not [c for c in calls if not c.startswith("200 ")], out
    for png in ("viewer-heatmap.png", "viewer-line.png"):
        p = os.path.join(ARTIFACTS, png)
        assert os.path.getsize(p) > 10000, p
