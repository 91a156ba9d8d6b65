"""Test harness for mod_h5s3 integration tests (stdlib + boto3 only).

s3server: a real S3 server (private Ceph RGW) and port helpers.
httpd:    a private Apache httpd with a generated config.
"""

from .s3server import (RGW, TEST_ACCESS_KEY, TEST_SECRET_KEY, closed_port,
                       free_port, parse_beast, silent_port)
from .httpd import Httpd, HttpdError, default_module_so

__all__ = ["RGW", "TEST_ACCESS_KEY", "TEST_SECRET_KEY", "closed_port",
           "free_port", "parse_beast", "silent_port", "Httpd", "HttpdError",
           "default_module_so"]
