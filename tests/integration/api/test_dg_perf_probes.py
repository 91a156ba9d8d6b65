"""Delta metadata probes issued together (issue 14): a cold /api/objects
page of N deltas costs one LIST and N HEADs, the HEADs in flight at once
(at most H5S3ProbeParallel), each remembered in the shared cache; a size
sort over a prefix HEADs only the deltas not probed yet; a savings job
probes each page of the listing together.

Concurrency is counted, not timed: the S3 endpoint is a delay proxy whose
policy holds every request a moment and records how many were held at
the same instant.  Requests one after another never overlap there."""

import threading
import time

import pytest

from harness.api_common import api_conf, api_json, python_savings
from harness.common import make_bucket
from harness.delay_proxy import DelayProxy

BUCKET = "dgperfprobe"
SAVINGS_BUCKET = "dgperfsav"
PAGE = 60           # deltas under perf/page/
SORT = 90           # deltas under perf/sort/
SAV_DELTAS = 150
SAV_PLAIN = 20
BOUND = 8           # H5S3ProbeParallel in these tests


class InFlight:
    """A delay-proxy policy: counts requests by kind and the most held
    at once (each is held hold seconds before it goes on)."""

    def __init__(self, hold=0.05):
        self.hold = hold
        self.lock = threading.Lock()
        self.now = 0
        self.max = 0
        self.heads = []
        self.lists = 0
        self.other = []

    def __call__(self, n, method, target, headers):
        with self.lock:
            if method == "HEAD":
                self.heads.append(target)
            elif "list-type=2" in target:
                self.lists += 1
            else:
                self.other.append((method, target))
            self.now += 1
            self.max = max(self.max, self.now)
        time.sleep(self.hold)
        with self.lock:
            self.now -= 1
        return "forward"


def fake_delta(i):
    """Metadata of a small fake delta (never downloaded)."""
    return {"dg-file-size": str(100000 + 37 * i), "dg-file-sha256": "0" * 64,
            "dg-ref-sha256": "1" * 64, "dg-tool": "test/1"}


@pytest.fixture(scope="module")
def seeded(rgw):
    s3 = make_bucket(rgw.client(), BUCKET, SAVINGS_BUCKET)
    for i in range(PAGE):
        s3.put_object(Bucket=BUCKET, Key="perf/page/v-%03d.zip.delta" % i,
                      Body=b"d" * (10 + i), Metadata=fake_delta(i))
    for i in range(SORT):
        # Original sizes in a scrambled order, so the sort means something.
        j = (i * 37) % SORT
        s3.put_object(Bucket=BUCKET, Key="perf/sort/s-%03d.zip.delta" % i,
                      Body=b"d" * 10, Metadata=fake_delta(j))
    for i in range(SAV_DELTAS):
        s3.put_object(Bucket=SAVINGS_BUCKET,
                      Key="d%d/v-%03d.zip.delta" % (i % 3, i),
                      Body=b"d" * 10, Metadata=fake_delta(i))
    for i in range(SAV_PLAIN):
        s3.put_object(Bucket=SAVINGS_BUCKET, Key="plain/p-%02d.txt" % i,
                      Body=b"p" * (i + 1))
    for d in range(3):
        s3.put_object(Bucket=SAVINGS_BUCKET, Key="d%d/reference.bin" % d,
                      Body=b"r" * 1000)
    return s3


@pytest.fixture
def proxy(rgw):
    p = DelayProxy("127.0.0.1", rgw.port, delay=0).start()
    try:
        yield p
    finally:
        p.stop()


def conf(rgw, endpoint, parallel=BOUND):
    return ("H5S3ProbeParallel %d\n" % parallel
            + api_conf(rgw, buckets=((BUCKET, "perf"),
                                     (SAVINGS_BUCKET, "sav")),
                       endpoint=endpoint))


def listing(h, prefix, **params):
    query = "&".join("%s=%s" % kv for kv in params.items())
    status, rh, body = api_json(h, "GET", "/api/objects?bucket=perf&prefix="
                                + prefix + ("&" + query if query else ""))
    assert status == 200, body
    return rh, body


def test_cold_page_probes_every_delta_at_once(rgw, make_httpd, seeded,
                                              proxy):
    pol = InFlight()
    proxy.policy = pol
    h = make_httpd(conf(rgw, proxy.endpoint))
    rh, body = listing(h, "perf/page/", limit=PAGE)
    objs = body["objects"]
    assert len(objs) == PAGE
    for o in objs:
        i = int(o["key"][-7:-4])
        assert o["compressed"] is True
        assert o["original_bytes"] == 100000 + 37 * i
        assert o["stored_bytes"] == 10 + i
    # One LIST and one HEAD per delta, no more ...
    assert pol.lists == 1, pol.lists
    assert sorted(pol.heads) == sorted(
        "/%s/perf/page/v-%03d.zip.delta" % (BUCKET, i) for i in range(PAGE))
    assert pol.other == []
    assert rh["X-H5S3-S3-Requests"] == str(PAGE + 1)
    # ... and the HEADs went together, never more than the bound.
    assert 1 < pol.max <= BOUND, pol.max

    # Another order of the same prefix: the listing again, every probe
    # remembered (shared cache), so no HEAD at all.
    pol.heads, pol.lists = [], 0
    _, body = listing(h, "perf/page/", limit=PAGE, sort="name_desc")
    assert [o["key"] for o in body["objects"]] == sorted(
        (o["key"] for o in objs), reverse=True)
    assert pol.lists == 1 and pol.heads == []


def test_size_sort_heads_only_unprobed_deltas(rgw, make_httpd, seeded,
                                              proxy):
    pol = InFlight()
    proxy.policy = pol
    h = make_httpd(conf(rgw, proxy.endpoint))
    first = 30
    _, body = listing(h, "perf/sort/", limit=first)
    assert len(body["objects"]) == first
    assert len(pol.heads) == first and pol.lists == 1

    pol.heads, pol.lists, pol.max = [], 0, 0
    _, body = listing(h, "perf/sort/", limit=SORT, sort="size_desc")
    sizes = [o["original_bytes"] for o in body["objects"]]
    assert sizes == sorted((100000 + 37 * ((i * 37) % SORT)
                            for i in range(SORT)), reverse=True)
    # The 30 probed for the first page are remembered: 60 HEADs, 1 LIST.
    assert pol.lists == 1
    assert len(pol.heads) == SORT - first
    assert len(set(pol.heads)) == SORT - first
    assert 1 < pol.max <= BOUND, pol.max


def test_savings_job_probes_pages_together(rgw, make_httpd, seeded, proxy):
    pol = InFlight(hold=0.02)
    proxy.policy = pol
    h = make_httpd(conf(rgw, proxy.endpoint, parallel=16))
    status, _, body = api_json(h, "POST", "/api/buckets/sav/compute-savings")
    assert status == 202, body
    end = time.monotonic() + 60
    while True:
        status, _, body = api_json(h, "GET", "/api/buckets")
        row = {b["name"]: b for b in body["buckets"]}["sav"]
        if not row["pending"] and row["object_count"] is not None:
            break
        assert time.monotonic() < end, row
        time.sleep(0.1)
    want = python_savings(rgw.client(), SAVINGS_BUCKET)
    for f in ("object_count", "original_bytes", "stored_bytes"):
        assert row[f] == want[f], (f, row, want)
    assert row["object_count"] == SAV_DELTAS + SAV_PLAIN
    assert len(pol.heads) == SAV_DELTAS
    assert len(set(pol.heads)) == SAV_DELTAS
    assert 1 < pol.max <= 16, pol.max


def test_probe_parallel_directive_is_checked(rgw, make_httpd):
    h = make_httpd("H5S3ProbeParallel 0\n" + api_conf(rgw), start=False)
    rc, out = h.check()
    assert rc != 0
    assert "H5S3ProbeParallel" in out, out
