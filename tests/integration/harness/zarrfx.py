"""Shared by the client-side tests of the Zarr store view (issue 15,
docs/zarr.md) in tests/integration/zarr/ (test_zarr_clients.py,
test_zarr_netcdf.py, test_zarr_browser.py): the files of
tests/fixtures/make_zarr_fixtures.py uploaded to two buckets of the real
RGW, one httpd per module serving them without a name-based vhost (so
fsspec, aiohttp and Chromium reach it by 127.0.0.1 as any client would),
and the store URLs as docs/zarr.md spells them."""

import os
import subprocess
import sys
import urllib.parse
import urllib.request
import urllib.error

import pytest

from .common import make_bucket
from .plugin import module_httpd, s3_directives, selected_mpms
from .s3server import REPO

FIXTURES_DIR = os.path.join(REPO, "tests", "fixtures")
GEN = os.path.join(FIXTURES_DIR, "make_zarr_fixtures.py")
BUCKET = "zarrcli"
BUCKET2 = "zarrcli-archive"
ALIAS2 = "archive"
LOCATION = "/hdf"
# Keys of the default bucket; every fixture is also under its plain name.
AWKWARD_KEY = "runs/2024/\u00e9t\u00e9 a b/dimscales \u65e5\u672c.h5"
ARCHIVE_KEY = "old/netcdf4 copy.nc"


# fsspec's HTTP file system opens up to 100 connections at once (aiohttp's
# default) for zarr-python's batched chunk reads; the harness's httpd has
# 10 (prefork) or 32 (event) workers, and a busy event MPM closes idle
# keep-alive connections, which aiohttp does not retry: zarr-python then
# silently reads those chunks as missing.  The clients here keep to 4
# connections, as a small server's users would configure them.
CLIENT_CONNECTIONS = 4


async def _get_client(**kwargs):
    import aiohttp
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=CLIENT_CONNECTIONS), **kwargs)


STORAGE_OPTIONS = {"get_client": _get_client}


def open_zarr_group(url):
    """zarr.open_consolidated over fsspec HTTP, read-only."""
    import zarr
    return zarr.open_consolidated(url, mode="r",
                                  storage_options=STORAGE_OPTIONS)


def open_xr(url):
    """xr.open_zarr(url, consolidated=True) over fsspec HTTP."""
    import xarray as xr
    return xr.open_zarr(url, consolidated=True,
                        storage_options=STORAGE_OPTIONS)


def gen_module():
    """tests/fixtures/make_zarr_fixtures.py as a module (its writers and
    stored_chunk_bytes)."""
    if FIXTURES_DIR not in sys.path:
        sys.path.insert(0, FIXTURES_DIR)
    import make_zarr_fixtures
    return make_zarr_fixtures


def conf_body(h, rgw):
    """Main-server config (no vhost): the two buckets, the default first."""
    return ("AllowEncodedSlashes NoDecode\n"
            "H5S3Cache shmcb:%s/payloads(67108864)\n"
            "H5S3PageCache 64M\n" % h.workdir
            + s3_directives(rgw, [BUCKET, (BUCKET2, ALIAS2)])
            + "<Location %s>\n    SetHandler h5s3\n"
            "    H5S3DebugHeaders On\n</Location>\n" % LOCATION)


@pytest.fixture(scope="module")
def zfiles(rgw, tmp_path_factory):
    """Local dir of the fixture files, uploaded to both buckets."""
    out = str(tmp_path_factory.mktemp("zarrfx"))
    subprocess.run(["/usr/bin/python3", GEN, out], check=True,
                   stdin=subprocess.DEVNULL)
    s3 = make_bucket(rgw.client(), BUCKET, BUCKET2)
    for name in sorted(os.listdir(out)):
        s3.upload_file(os.path.join(out, name), BUCKET, name)
    s3.upload_file(os.path.join(out, "dimscales.h5"), BUCKET, AWKWARD_KEY)
    s3.upload_file(os.path.join(out, "netcdf4.nc"), BUCKET2, ARCHIVE_KEY)
    return out


@pytest.fixture(scope="module")
def zsrv(rgw, zfiles, request):
    with module_httpd(selected_mpms(request.config)[0],
                      lambda h: conf_body(h, rgw)) as h:
        yield h


def store_path(key, alias=None):
    """The store root's path: {Location}/zarr/[@alias/]{key}/ with every
    '/' of the key written %2F, other characters percent-encoded."""
    k = urllib.parse.quote(key, safe="")
    if k.startswith("@"):
        k = "%40" + k[1:]
    return "%s/zarr/%s%s/" % (LOCATION, "@%s/" % alias if alias else "", k)


def store_url(h, key, alias=None):
    return h.url(store_path(key, alias))


def raw_get(url, headers=None, method="GET"):
    """(status, headers, body) by urllib, errors included."""
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()
