"""The mod_h5s3 section of mod_status: /server-status (HTML) and ?auto,
with figures that add up to what the requests reported."""

import time

from harness.common import q
from harness.ops_util import ops_vhost, status_auto

A = "a.test"


def wait_status(h, key, want, timeout=3.0):
    """mod_h5s3 counts in log_transaction, after the response: poll."""
    end = time.monotonic() + timeout
    while True:
        st = status_auto(h)
        if int(st[key]) >= want or time.monotonic() > end:
            return st
        time.sleep(0.05)


def test_status_figures_add_up(rgw, make_httpd, mpm):
    h = make_httpd(ops_vhost(rgw, A, ["h5data"], loc=(
        "        H5S3CORSAllowOrigin *\n"
        "        H5S3RateLimit 1 12\n")), mpm=mpm)
    s3_reqs = s3_bytes = 0
    statuses = []
    urls = ["/hdf/files", "/hdf/files",
            "/hdf/files/%s/children" % q("samples/grid.h5"),
            "/hdf/files/%s/children" % q("samples/grid.h5"),
            "/hdf/files/nope.h5/children", "/hdf/nope"]
    for u in urls:
        s, hd, _ = h.get(u, host=A)
        statuses.append(s)
        s3_reqs += int(hd["X-H5S3-S3-Requests"])
        s3_bytes += int(hd["X-H5S3-S3-Bytes"])
    assert statuses == [200, 200, 200, 200, 404, 404]
    throttled = 0
    for _ in range(10):   # burst 12: six used, then 429s
        s, hd, _ = h.get("/hdf/health", host=A)
        throttled += s == 429
    assert throttled >= 3
    for _ in range(2):
        assert h.request("OPTIONS", "/hdf/files", host=A, headers={
            "Origin": "https://x.example",
            "Access-Control-Request-Method": "GET"})[0] == 204
    st = wait_status(h, "H5S3Requests", len(urls) + 10)
    assert int(st["H5S3Requests"]) == len(urls) + 10
    assert int(st["H5S3CacheHits"]) == 2      # second /files, /children
    assert int(st["H5S3CacheMisses"]) >= 2
    assert 0 < float(st["H5S3CacheHitRatio"]) < 1
    assert int(st["H5S3S3Requests"]) == s3_reqs > 0
    assert int(st["H5S3S3Bytes"]) == s3_bytes > 0
    assert int(st["H5S3Responses4xx"]) == 2 + throttled
    assert int(st["H5S3Responses5xx"]) == 0
    assert int(st["H5S3RateLimitRejections"]) == throttled
    assert int(st["H5S3RateLimitBuckets"]) == 1
    assert int(st["H5S3CORSPreflights"]) == 2
    assert int(st["H5S3CacheLookupHits"]) >= 2
    assert st["H5S3CacheProvider"] == "shmcb"
    assert int(st["H5S3PageCacheUsed"]) > 0
    # A cold open stores the pages of its first read directly (no miss).
    assert int(st["H5S3PageCacheInserts"]) > 0
    assert int(st["H5S3PageCacheSlots"]) >= int(st["H5S3PageCacheUsed"])
    assert st["H5S3SavingsJobs"] == "0"
    # The HTML page has the same section.
    s, _, body = h.get("/server-status")
    html = body.decode()
    assert s == 200 and "<h2>mod_h5s3</h2>" in html
    assert "rate-limit rejections (429)" in html and "savings jobs" in html
    # Counters are kept across a graceful restart, like mod_status's own.
    h.graceful()
    st2 = status_auto(h)
    assert int(st2["H5S3Requests"]) >= int(st["H5S3Requests"])
    assert int(st2["H5S3RateLimitRejections"]) == throttled
