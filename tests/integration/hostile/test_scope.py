"""The shared HDF5 page cache is scoped by endpoint and credentials, not
only by (bucket, key, ETag).

One httpd, two virtual hosts mapping the same bucket name: vhost A talks
to the real RGW; vhost B's endpoint is an S3 look-alike that a tenant
controls, answering with A's ETag and size, and the first bytes of A's
file, but failing every other read.  Once A has read the file (its pages
cached), B must not be served A's pages: its reads go to its own endpoint
and fail (502), where an unscoped cache would answer B from A's pages.
"""

import http.server
import json
import re
import threading

import pytest

from harness.common import vhost
from harness.h5files import write_wide

BUCKET = "scope-pages"
KEY = "wide.h5"
A = "scope-a.test"
B = "scope-b.test"
OPEN_READ = 128 * 1024          # what opening a file reads first


class LookAlike:
    """An S3 look-alike on loopback: HEAD and GET of any key answer with
    a given ETag and size; a ranged GET starting at 0 gets the first
    bytes of the given data, any other range a 500."""

    def __init__(self, data, etag):
        outer = self
        self.data, self.etag, self.ranges = data, etag, []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _head(self, status, length, extra=()):
                self.send_response(status)
                self.send_header("ETag", outer.etag)
                self.send_header("Content-Length", str(length))
                for k, v in extra:
                    self.send_header(k, v)
                self.end_headers()

            def do_HEAD(self):
                self._head(200, len(outer.data))

            def do_GET(self):
                rng = self.headers.get("Range", "")
                outer.ranges.append(rng)
                m = re.match(r"bytes=(\d+)-(\d+)", rng)
                if not m or int(m.group(1)) != 0:
                    body = b"<Error><Code>InternalError</Code></Error>"
                    self._head(500, len(body))
                    self.wfile.write(body)
                    return
                end = min(int(m.group(2)), OPEN_READ - 1,
                          len(outer.data) - 1)
                body = outer.data[:end + 1]
                self._head(206, len(body), [(
                    "Content-Range", "bytes 0-%d/%d" % (end,
                                                        len(outer.data)))])
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.endpoint = "http://127.0.0.1:%d" % self.server.server_port
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def wide(rgw, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("scope") / KEY)
    write_wide(path)
    rgw.create_buckets(BUCKET)
    s3 = rgw.client()
    s3.upload_file(path, BUCKET, KEY)
    etag = s3.head_object(Bucket=BUCKET, Key=KEY)["ETag"]
    with open(path, "rb") as f:
        data = f.read()
    assert len(data) > 4 * OPEN_READ
    return {"data": data, "etag": etag}


def test_page_cache_is_not_shared_across_endpoints(rgw, make_httpd, mpm,
                                                   wide):
    fake = LookAlike(wide["data"], wide["etag"])
    try:
        # The page cache is shared by every child: A's pages are there.
        conf = (vhost(rgw, A, [BUCKET]) +
                vhost(rgw, B, [BUCKET], endpoint=fake.endpoint))
        h = make_httpd(conf, mpm=mpm)
        url = "/hdf/files/%s/children?path=/" % KEY
        status, _, body = h.request("GET", url, host=A)
        assert status == 200, body[:300]
        kids = json.loads(body)["children"]
        assert len(kids) == 200 and kids[0]["name"] == "d000"

        h.expect_errors(r"H5S3-00\d\d")
        status, _, body = h.request("GET", url, host=B)
        # B's own endpoint was asked for more than the first bytes, and
        # failed: its answer never came from A's pages.
        assert any(not r.startswith("bytes=0-") for r in fake.ranges), \
            fake.ranges
        assert status == 502, body[:300]
        assert b"d000" not in body and b"d199" not in body

        # A still reads its file from the cache.
        status, _, body = h.request("GET", url, host=A)
        assert status == 200 and json.loads(body)["children"] == kids
    finally:
        fake.stop()
