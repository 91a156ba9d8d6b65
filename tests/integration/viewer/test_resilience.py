"""/files/{key}/children when S3 fails half-way through a read, and what a
cold and a warm listing of a wide group cost in S3 requests.

The file: 200 datasets of 100 kB written one after another with HDF5's
metadata aggregation off, so each object header sits right before its own
data and the root group's symbol-table leaves are spread over the file
(harness/h5files.py: the layout bench/bench_children.py uses, 50 times
smaller).
"""

import http.client
import json
import os
import struct
import time

import h5py
import pytest

from harness.common import get_json, make_bucket, vhost
from harness.delay_proxy import DelayProxy
from harness.h5files import NCHILD, write_wide
from harness.h5oracle import expected_child

BUCKET = "h5wide"
KEY = "wide/200.h5"
A = "wide.test"
CHILDREN = "/hdf/files/%s/children?path=/" % KEY
PAGE = 64 * 1024                # the module's page size


def symbol_table_pages(path):
    """Pages of the root group's B-tree nodes, symbol nodes and local heap:
    parsed from the file (superblock v0, 8-byte offsets and lengths)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89HDF\r\n\x1a\n" and data[8] == 0
    assert data[13] == 8 and data[14] == 8
    btree, heap = struct.unpack_from("<QQ", data, 80)
    pages = set()

    def span(addr, n):
        pages.update(range(addr // PAGE, (addr + n - 1) // PAGE + 1))

    hsize, _, hdata = struct.unpack_from("<QQQ", data, heap + 8)
    span(heap, 32)
    span(hdata, hsize)
    nodes, snods = [btree], 0
    while nodes:
        nxt = []
        for a in nodes:
            assert data[a:a + 4] == b"TREE"
            level, used = data[a + 5], struct.unpack_from("<H", data, a + 6)[0]
            span(a, 24 + 16 * used + 8)
            kids = [struct.unpack_from("<Q", data, a + 24 + 8 + 16 * k)[0]
                    for k in range(used)]
            if level == 0:
                for s in kids:
                    assert data[s:s + 4] == b"SNOD"
                    span(s, 8 + 40 * struct.unpack_from("<H", data,
                                                          s + 6)[0])
                snods += len(kids)
            else:
                nxt += kids
        nodes = nxt
    return pages, snods


@pytest.fixture(scope="module")
def wide(rgw, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("wide") / "wide.h5")
    write_wide(path)
    s3 = make_bucket(rgw.client(), BUCKET)
    s3.upload_file(path, BUCKET, KEY)
    with h5py.File(path, "r") as f:
        want = [expected_child(f, "/", n) for n in f["/"].keys()]
        headers = sorted(h5py.h5o.get_info(f[n].id).addr for n in f)
    assert len(want) == NCHILD
    return {"path": path, "want": want, "headers": headers}


class Conn:
    """One keep-alive connection: its requests are served by one process."""

    def __init__(self, h):
        self.c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=60)

    def get(self, path):
        self.c.request("GET", path, headers={"Host": A})
        r = self.c.getresponse()
        body = r.read()
        assert r.getheader("Content-Type", "").startswith(
            "application/json"), (r.status, body[:200])
        return r.status, r.headers, json.loads(body)

    def close(self):
        self.c.close()


def fail_reads_past_open(action):
    """Let HEADs and the open's first read (bytes=0-...) through; break
    every later ranged GET."""
    def policy(n, method, target, headers):
        rng = headers.get("range", "")
        if method == "GET" and rng and not rng.startswith("bytes=0-"):
            return action
        return "forward"
    return policy


def pids_of(h, n):
    """Serving pids of the last n access-log lines, in log order."""
    return [e["pid"] for e in h.access_log_entries(n)][-n:]


def check_failure_then_recovery(rgw, make_httpd, mpm, wide, action):
    proxy = DelayProxy("127.0.0.1", rgw.port, delay=0).start()
    try:
        h = make_httpd(vhost(rgw, A, [BUCKET], endpoint=proxy.endpoint,
                             extra="    H5S3Timeout 1 1\n"), mpm=mpm)
        conn = Conn(h)
        proxy.policy = fail_reads_past_open(action)
        t0 = time.monotonic()
        status, hdrs, body = conn.get(CHILDREN)
        took = time.monotonic() - t0
        # The open (HEADs, first 128 KiB) went through, later reads failed.
        assert proxy.faults > 0
        if action == "close":
            assert status == 502, body
            assert "S3 storage failed" in body["error"]
        else:
            assert status == 504, body
            assert "did not answer in time" in body["error"]
            assert hdrs["Retry-After"]
            assert took < 10, took
        assert body["success"] is False
        # Broken S3 stays an error (and the broken file is not reused).
        status2, _, body2 = conn.get(CHILDREN)
        assert status2 == status and body2["success"] is False

        proxy.policy = lambda *a: "forward"
        status, hdrs, body = conn.get(CHILDREN)
        assert status == 200, body
        assert body["cached"] is False       # errors were not cached
        assert body["children"] == wide["want"]
        pids = pids_of(h, 3)
        assert len(pids) == 3 and len(set(pids)) == 1, pids
        conn.close()
        assert h.running() and not h.error_log_problems()
    finally:
        proxy.stop()


def test_s3_connection_closed_mid_read_is_502_then_recovers(
        rgw, make_httpd, mpm, wide):
    check_failure_then_recovery(rgw, make_httpd, mpm, wide, "close")


def test_s3_stalled_mid_read_is_504_then_recovers(rgw, make_httpd, wide):
    # Event MPM only: each failed request waits out the 1 s timeouts.
    check_failure_then_recovery(rgw, make_httpd, "event", wide, "stall")


def test_s3_dropping_connections_between_requests(rgw, make_httpd, wide):
    """Kept-alive S3 connections cut while idle: the next request retries
    on a fresh one and succeeds."""
    proxy = DelayProxy("127.0.0.1", rgw.port, delay=0).start()
    try:
        h = make_httpd(vhost(rgw, A, [BUCKET], endpoint=proxy.endpoint,
                             extra="    H5S3ValidateTTL 0\n"
                                   "    H5S3MetaTTL 0\n"), mpm="event")
        conn = Conn(h)
        for _ in range(3):
            status, _, body = conn.get(CHILDREN)
            assert status == 200, body
            assert body["children"] == wide["want"]
            proxy.drop_connections()
            time.sleep(0.05)
        conn.close()
    finally:
        proxy.stop()


def test_cold_listing_cost_and_warm_is_free(rgw, make_httpd, mpm, wide):
    """What a cold /children may cost: 2 HEADs (ETag, open) + the open's
    first 128 KiB + at most one GET per page of the symbol table (B-tree
    nodes, symbol nodes, local heap: scattered over the file, and read
    before the children's addresses are known) + a range per object
    header, by its own bytes (S3 has no multi-range GET; a header's
    continuation block rides with the next one's), all of them in one
    batch in flight at once.  Never a GET per HDF5 read: describing the
    200 children reads cached extents only."""
    stab_pages, snods = symbol_table_pages(wide["path"])
    hdr = wide["headers"]
    assert max(b - a for a, b in zip(hdr, hdr[1:])) < 7 * PAGE
    budget = 3 + len(stab_pages) + len(hdr) + 1
    assert snods >= NCHILD // 8

    h = make_httpd(vhost(rgw, A, [BUCKET]), mpm=mpm)
    mark = rgw.request_count()
    status, hdrs, body = get_json(h, CHILDREN, host=A)
    cold = rgw.requests_since(mark)
    assert status == 200 and body["cached"] is False
    assert body["children"] == wide["want"]
    assert hdrs["X-H5S3-Cache"] == "miss"
    assert int(hdrs["X-H5S3-S3-Requests"]) == len(cold)
    assert [e["method"] for e in cold].count("HEAD") <= 2
    assert all(e["status"] in (200, 206) for e in cold), cold
    assert len(cold) <= budget, (len(cold), budget, len(stab_pages))
    # Far from the whole file: only metadata pages and the header runs.
    # No page twice: at most the file, whatever the coalescing.
    assert sum(e["bytes"] for e in cold) <= \
        os.path.getsize(wide["path"]) + 128 * 1024

    # Warm: new connections (any process), no S3 request at all.
    mark = rgw.request_count()
    for _ in range(10):
        status, hdrs, body = get_json(h, CHILDREN, host=A)
        assert status == 200 and body["cached"] is True
        assert body["children"] == wide["want"]
        assert hdrs["X-H5S3-Cache"] == "hit"
        assert hdrs["X-H5S3-S3-Requests"] == "0"
        assert hdrs["X-H5S3-S3-Bytes"] == "0"
    assert rgw.request_count() == mark
