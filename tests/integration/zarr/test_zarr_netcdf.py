"""xarray (Debian's python3-xarray) opens files through the Zarr store view
(docs/zarr.md) as its own netCDF reading opens the same bytes: netCDF-4
written by netCDF-C (unlimited dimension, packed shorts with _FillValue,
scale_factor and add_offset, a dimension without a coordinate variable)
and HDF5 with dimension scales written by h5py.  The oracle is
xr.open_dataset(local_copy, engine="netcdf4") (netCDF-C reading the file),
and h5py for .sel slices."""

import os

import h5py
import numpy as np
import xarray as xr

from harness.zarrfx import (ALIAS2, ARCHIVE_KEY, open_xr, store_url,  # noqa
                            zfiles,  # noqa: F401
                            zsrv)  # noqa: F401 (fixtures)


def open_both(zsrv, zfiles, name, key=None, alias=None):
    z = open_xr(store_url(zsrv, key or name, alias))
    n = xr.open_dataset(os.path.join(zfiles, name), engine="netcdf4")
    return z, n


def assert_same_dataset(z, n):
    """Same dims, coords, variables, decoded values, dtypes and the
    attributes a reader sees (global and per variable)."""
    assert dict(z.sizes) == dict(n.sizes)
    assert set(z.coords) == set(n.coords)
    assert set(z.data_vars) == set(n.data_vars)
    for name in list(n.variables):
        zv, nv = z[name], n[name]
        assert zv.dims == nv.dims, (name, zv.dims, nv.dims)
        assert zv.dtype == nv.dtype, (name, zv.dtype, nv.dtype)
        assert zv.attrs == nv.attrs, (name, zv.attrs, nv.attrs)
    xr.testing.assert_equal(z.load(), n.load())
    for k, v in n.attrs.items():
        assert z.attrs[k] == v, k


def test_netcdf4_by_netcdf_c_opens_as_netcdf_does(zsrv, zfiles):
    z, n = open_both(zsrv, zfiles, "netcdf4.nc")
    with z, n:
        assert_same_dataset(z, n)
        # The unlimited dimension and the dimension without coordinates.
        assert z.sizes["time"] == 5 and "nv" not in z.coords
        assert z["time_bnds"].dims == ("time", "nv")
        # Packed shorts decoded: scale, offset, _FillValue as NaN.
        assert z["sst"].dtype == np.float32
        assert np.isnan(z["sst"].values[:, :2, :]).all()
        assert not np.isnan(z["sst"].values[:, 2:, :]).any()
        assert z["sst"].encoding["dtype"] == np.dtype("int16")
        assert z["sst"].encoding["scale_factor"] == np.float32(0.01)
        assert np.issubdtype(z["time"].dtype, np.datetime64)


def test_netcdf4_by_alias_opens_the_same(zsrv, zfiles):
    z = open_xr(store_url(zsrv, ARCHIVE_KEY, ALIAS2))
    n = xr.open_dataset(os.path.join(zfiles, "netcdf4.nc"),
                        engine="netcdf4")
    with z, n:
        assert_same_dataset(z, n)


def test_netcdf4_sel_equals_h5py_slice(zsrv, zfiles):
    z = open_xr(store_url(zsrv, "netcdf4.nc"))
    with z, h5py.File(os.path.join(zfiles, "netcdf4.nc"), "r") as f:
        sel = z["sst"].sel(lat=slice(-30, 40), lon=slice(90, 200)).isel(
            time=slice(1, 4))
        lat, lon = f["lat"][()], f["lon"][()]
        i = np.nonzero((lat >= -30) & (lat <= 40))[0]
        j = np.nonzero((lon >= 90) & (lon <= 200))[0]
        raw = f["sst"][1:4, i[0]:i[-1] + 1, j[0]:j[-1] + 1]
        a = f["sst"].attrs
        want = np.where(raw == a["_FillValue"], np.nan,
                        raw * a["scale_factor"] + a["add_offset"])
        np.testing.assert_allclose(sel.values, want.astype(np.float32),
                                   rtol=0, atol=1e-6)
        assert sel.values.shape == (3, len(i), len(j))


def test_dimension_scales_by_h5py_open_as_netcdf_does(zsrv, zfiles):
    z, n = open_both(zsrv, zfiles, "dimscales.h5")
    with z, n:
        assert_same_dataset(z, n)
        assert z["temperature"].dims == ("y", "x")
        assert z["pressure"].dims == ("time", "y", "x")
        assert set(z.coords) >= {"x", "y", "time"}


def test_dimension_scales_sel_equals_h5py_slice(zsrv, zfiles):
    z = open_xr(store_url(zsrv, "dimscales.h5"))
    with z, h5py.File(os.path.join(zfiles, "dimscales.h5"), "r") as f:
        x, y = f["x"][()], f["y"][()]
        got = z["temperature"].sel(y=slice(50, 200), x=slice(-2.0, 3.0))
        i = np.nonzero((y >= 50) & (y <= 200))[0]
        j = np.nonzero((x >= -2.0) & (x <= 3.0))[0]
        want = f["temperature"][i[0]:i[-1] + 1, j[0]:j[-1] + 1]
        np.testing.assert_array_equal(got.values, want)
        got = z["pressure"].sel(y=120, x=x[7], method="nearest")
        np.testing.assert_array_equal(got.values, f["pressure"][:, 12, 7])


def test_datasets_without_scales_get_netcdfs_phony_dims(zsrv, zfiles):
    """No dimension scales: the same phony_dim_N names, per variable, as
    netCDF-C gives them (a square dataset has two distinct dimensions)."""
    z, n = open_both(zsrv, zfiles, "phony.h5")
    with z, n:
        assert {k: z[k].dims for k in z.data_vars} == \
            {k: n[k].dims for k in n.data_vars}
        assert_same_dataset(z, n)


def test_netcdf4_group_opens_as_netcdf_does(zsrv, zfiles):
    """A netCDF-4 group with a dimension of its own (no coordinate)."""
    import xarray as xr
    from harness.zarrfx import STORAGE_OPTIONS
    z = xr.open_zarr(store_url(zsrv, "netcdf4.nc"), group="station",
                     consolidated=True, storage_options=STORAGE_OPTIONS)
    n = xr.open_dataset(os.path.join(zfiles, "netcdf4.nc"),
                        engine="netcdf4", group="station")
    with z, n:
        assert dict(z.sizes) == {"obs": 7}
        assert_same_dataset(z, n)
