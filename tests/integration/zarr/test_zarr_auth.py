"""The Zarr store view behind Apache's own authentication
(mod_auth_basic): xarray opens a netCDF-4 file with the credentials given
to fsspec's HTTP client as the README says, and without them gets nothing
but 401s.  A real httpd and Ceph RGW; the oracle is netCDF's reading of the
same file."""

import os
import subprocess

import aiohttp
import pytest
import xarray as xr

from harness.ops_util import load
from harness.plugin import s3_directives
from harness.zarrfx import (BUCKET, BUCKET2, STORAGE_OPTIONS, raw_get,
                            store_path, zfiles)  # noqa: F401 (fixture)

AUTH_MODULES = load("authn_core", "authn_file", "auth_basic", "authz_user")
REFUSED = r"\[auth_basic:error\].*AH0161[78]"


@pytest.fixture
def locked(rgw, make_httpd, zfiles):  # noqa: F811
    h = make_httpd("", start=False)
    users = h.path("zarr.htpasswd")
    subprocess.run(["htpasswd", "-b", "-B", "-c", users, "ada",
                    "love lace"], check=True, capture_output=True,
                   stdin=subprocess.DEVNULL)
    h.conf_body = (AUTH_MODULES + "AllowEncodedSlashes NoDecode\n"
                   + s3_directives(rgw, [BUCKET, (BUCKET2, "archive")])
                   + "<Location /hdf>\n    SetHandler h5s3\n"
                   '    AuthType Basic\n    AuthName "zarr"\n'
                   "    AuthBasicProvider file\n"
                   "    AuthUserFile %s\n    Require valid-user\n"
                   "</Location>\n" % users)
    return h.start()


@pytest.mark.expect_errors(REFUSED)
def test_xarray_with_basic_auth(locked, zfiles):  # noqa: F811
    h = locked
    url = h.url(store_path("netcdf4.nc"))
    status, hdrs, _ = raw_get(url + ".zmetadata")
    assert status == 401 and "Basic" in hdrs["WWW-Authenticate"]
    opts = dict(STORAGE_OPTIONS, client_kwargs={
        "auth": aiohttp.BasicAuth("ada", "love lace")})
    z = xr.open_zarr(url, consolidated=True, storage_options=opts)
    n = xr.open_dataset(os.path.join(zfiles, "netcdf4.nc"),
                        engine="netcdf4")
    with z, n:
        xr.testing.assert_equal(z.load(), n.load())
    # A wrong password opens nothing.
    bad = dict(STORAGE_OPTIONS, client_kwargs={
        "auth": aiohttp.BasicAuth("ada", "wrong")})
    with pytest.raises(Exception):
        xr.open_zarr(url, consolidated=True, storage_options=bad).load()
