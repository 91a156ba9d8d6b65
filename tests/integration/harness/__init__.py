"""The integration tests' own package: the harness (a real S3, private
httpds), the pytest plugin built on it, and every helper the tests share.
conftest.py loads it through pytest_plugins; test files import from it
(`from harness.common import vhost`).  Importing the package loads the
harness only (stdlib + boto3); the other modules are imported by name.

s3server      a real S3 server (private Ceph RGW) and port helpers
httpd         a private Apache httpd with a generated config
plugin        the pytest fixtures and hooks (rgw, make_httpd, mpm, ...),
              module_httpd (a private httpd for a whole test module)
schema        openapi.yaml, the contract every response is checked against
delay_proxy   a latency (and fault) proxy between an S3 client and S3
common        vhosts, JSON requests, path segments, S3 keys, own buckets
tools         the tools built from the core (tests/tools/h5s3-*)
api_common    /api and DeltaGlider: configs, metadata, tokens, savings
datafx        viewer values: h5py fixtures in the RGW, the NumPy oracle
h5oracle      the viewer's description of an HDF5 object, from h5py
grove_oracle  the h5grove answers, from h5py
hostile       hostile files: a watch on local files, the value routes
h5files       HDF5 files in layouts h5py does not write by itself
ops_util      operations: module loads, vhosts, load, redis, memcached
zarrfx        the Zarr store's clients: fixtures in two buckets, store URLs
"""

from .s3server import (RGW, TEST_ACCESS_KEY, TEST_SECRET_KEY, closed_port,
                       free_port, parse_beast, silent_port)
from .httpd import Httpd, HttpdError, default_module_so

__all__ = ["RGW", "TEST_ACCESS_KEY", "TEST_SECRET_KEY", "closed_port",
           "free_port", "parse_beast", "silent_port", "Httpd", "HttpdError",
           "default_module_so"]
