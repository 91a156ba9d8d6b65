"""What the read-efficiency tests share: a module httpd with a page cache
for one bucket, fresh keys (nothing of them cached yet), and GETs that
return the answer with the S3 requests and bytes the module spent on it
(the X-H5S3-S3-* debug headers)."""

import json
import os
import uuid

from .common import vhost
from .plugin import module_httpd, selected_mpms


def page_cache_httpd(request, rgw, host, bucket, extra=""):
    """A context manager: httpd (the first selected MPM) with a 64 MiB
    page cache, serving bucket on host."""
    return module_httpd(selected_mpms(request.config)[0],
                        extra + "H5S3PageCache 64M\n"
                        + vhost(rgw, host, [bucket]))


def upload_fresh(rgw, files, bucket, name):
    """Uploads files/name under a new key, so that nothing of it is cached."""
    key = "%s-%s" % (uuid.uuid4().hex[:8], name)
    rgw.client().upload_file(os.path.join(files, name), bucket, key)
    return key


def counted_get(srv, path, host):
    """(parsed JSON, S3 requests, S3 bytes) of a GET that must answer 200."""
    status, hdrs, body = srv.get(path, host=host)
    assert status == 200, body[:300]
    return (json.loads(body), int(hdrs["X-H5S3-S3-Requests"]),
            int(hdrs["X-H5S3-S3-Bytes"]))
