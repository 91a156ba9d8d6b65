"""HDF5 files the tests write with h5py in layouts h5py does not offer.

write_wide: NCHILD datasets of 100 kB written one after another with
HDF5's metadata aggregation off, so each object header sits right before
its own data and the root group's symbol-table leaves are spread over
the file (the layout bench/bench_children.py uses, 50 times smaller).
"""

import ctypes
import re

import h5py
import numpy as np

NCHILD = 200


def _set_meta_block_size(fapl, size):
    with open("/proc/self/maps") as f:
        lib = re.search(r"/\S*libhdf5(_serial)?\.so[.\d]*\b", f.read())
    hdf5 = ctypes.CDLL(lib.group(0))
    hdf5.H5Pset_meta_block_size.argtypes = [ctypes.c_int64, ctypes.c_uint64]
    assert hdf5.H5Pset_meta_block_size(fapl.id, size) >= 0


def write_wide(path):
    rng = np.random.default_rng(7)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    _set_meta_block_size(fapl, 0)
    fid = h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fapl=fapl)
    with h5py.File(fid) as f:
        for i in range(NCHILD):
            d = f.create_dataset("d%03d" % i,
                                 data=rng.random(25000, dtype=np.float32))
            d.attrs["index"] = i
            d.attrs["units"] = "m/s"
