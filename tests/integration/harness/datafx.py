"""Shared by viewer/test_preview, test_data and test_csv: fixtures written
by h5py (tests/fixtures/make_data_fixtures.py), uploaded to bucket
`h5values` of the real RGW, one httpd per module, and the contract's
sanitisation of NumPy values (docs/viewer-api.md §3.3) as the oracle."""

import json
import math
import os
import subprocess
import urllib.parse

import h5py
import numpy as np
import pytest

from .common import make_bucket, vhost
from .plugin import module_httpd, selected_mpms
from .s3server import REPO

GEN = os.path.join(REPO, "tests", "fixtures", "make_data_fixtures.py")
BUCKET = "h5values"
HOST = "values.test"


@pytest.fixture(scope="module")
def files(rgw, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("datafx"))
    subprocess.run(["/usr/bin/python3", GEN, out], check=True)
    s3 = make_bucket(rgw.client(), BUCKET)
    for name in ("values.h5", "stride.h5"):
        s3.upload_file(os.path.join(out, name), BUCKET, name)
    return out


@pytest.fixture(scope="module")
def srv(rgw, files, request):
    def conf(h):
        # Payloads are large: the default shmcb (512 KiB) takes 8 KiB
        # entries.
        return ("H5S3Cache shmcb:%s/payloads(67108864)\n"
                % h.workdir) + vhost(rgw, HOST, [BUCKET])

    with module_httpd(selected_mpms(request.config)[0], conf) as h:
        yield h


@pytest.fixture(scope="module")
def h5(files):
    f = h5py.File(os.path.join(files, "values.h5"), "r")
    yield f
    f.close()


def url(route, key="values.h5", **params):
    qs = urllib.parse.urlencode(params)
    return "/hdf/files/%s/%s%s" % (key, route, "?" + qs if qs else "")


def get(srv, route, key="values.h5", **params):
    """(status, headers, parsed JSON)."""
    status, hdrs, body = srv.get(url(route, key, **params), host=HOST)
    assert hdrs.get("Content-Type", "").startswith("application/json"), \
        (status, body[:300])
    return status, hdrs, json.loads(body)


def ok(srv, route, key="values.h5", **params):
    status, hdrs, body = get(srv, route, key, **params)
    assert status == 200, body
    assert body["success"] is True
    return body


def err(srv, route, status, message, key="values.h5", **params):
    st, _, body = get(srv, route, key, **params)
    assert (st, body) == (status, {"error": message, "success": False})


def _one(v):
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v).decode("utf-8", "ignore")
    if isinstance(v, (complex, np.complexfloating)):
        return str(complex(v))
    if isinstance(v, (np.void, tuple)):
        return [_one(x) for x in (v.tolist() if isinstance(v, np.void)
                                  else v)]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8", "ignore")
    if isinstance(v, tuple):
        return [_one(x) for x in v]
    return v


def sanitize(a):
    """The contract's JSON for a NumPy array or scalar."""
    a = np.asarray(a)
    if a.ndim == 0:
        return _one(a[()])
    return [sanitize(x) if a.ndim > 1 else _one(x) for x in a]


def finite_stats(values):
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    return v.min(), v.max(), v.mean(), v.std()
