"""H5S3RateLimit: one token bucket per client IP (as mod_remoteip reports
it) and Location, shared by every httpd process, kept across graceful
restarts, answered with 429 + Retry-After in the route family's JSON."""

import json

import pytest

from harness.ops_util import (REMOTEIP, hammer, one_request, ops_vhost,
                              status_auto)

A = "a.test"
# More prefork children than the harness's 3, so that one client's requests
# really are spread over 4+ processes.
MANY_CHILDREN = ("<IfModule mpm_prefork_module>\n    StartServers 6\n"
                 "    MinSpareServers 6\n    MaxSpareServers 8\n"
                 "</IfModule>\n")


def _xff(ip):
    return {"X-Forwarded-For": ip}


@pytest.mark.parametrize("rate,burst", [(40, 40)])
def test_accuracy_under_concurrency(make_httpd, mpm, rate, burst):
    """Two clients (by X-Forwarded-For) hammer from 4 threads each, a new
    connection per request: each gets burst + rate * elapsed requests
    through, within 10 %, whatever process served them."""
    h = make_httpd(MANY_CHILDREN + REMOTEIP + ops_vhost(
        None, A, loc="        H5S3RateLimit %d %d\n" % (rate, burst)),
        mpm=mpm)
    ips = ["192.0.2.10", "192.0.2.20"]
    results, first, last = hammer(
        h.port, "/hdf/health", seconds=3.0, threads=8, host=A,
        headers_for=lambda i: _xff(ips[i % 2]))
    elapsed = last - first
    assert {r[1] for r in results} <= {200, 429}, \
        {r[1] for r in results}
    for k, ip in enumerate(ips):
        mine = [r for r in results if r[0] % 2 == k]
        ok = sum(1 for r in mine if r[1] == 200)
        limited = len(mine) - ok
        want = burst + rate * elapsed
        print("rate-limit %s %s: %d allowed of %d sent in %.2fs, expected "
              "%.1f (%.1f%% off)" % (mpm, ip, ok, len(mine), elapsed, want,
                                    100.0 * (ok - want) / want))
        assert limited > ok, "the load did not exceed the limit"
        assert abs(ok - want) <= 0.10 * want
    # Several processes served the run (prefork: one request per child at
    # a time, so the bucket is shared through shared memory).
    pids = {e["pid"] for e in h.access_log_entries(min_count=len(results))}
    assert len(pids) >= (4 if mpm == "prefork" else 2), pids
    st = status_auto(h)
    assert int(st["H5S3RateLimitRejections"]) == \
        sum(1 for r in results if r[1] == 429)


def test_429_shape_per_route_family(make_httpd):
    h = make_httpd(ops_vhost(None, A, loc="        H5S3RateLimit 1 2\n"),
                   mpm="event")
    for _ in range(2):
        assert h.get("/hdf/health", host=A)[0] == 200
    s, hd, body = h.get("/hdf/health", host=A)
    assert s == 429
    assert hd["Content-Type"].startswith("application/json")
    assert 1 <= int(hd["Retry-After"]) <= 2
    j = json.loads(body)
    assert j["success"] is False and "Too many requests" in j["error"]
    # Any route of the Location shares the bucket, each with its envelope.
    s, hd, body = h.get("/hdf/api/buckets", host=A)
    assert s == 429 and int(hd["Retry-After"]) >= 1
    j = json.loads(body)
    assert j["error"]["code"] == "throttled" and j["error"]["details"] == {}
    assert "Too many requests" in j["error"]["message"]
    s, hd, body = h.get("/hdf/h5grove/meta/?file=x.h5", host=A)
    assert s == 429 and "Too many requests" in json.loads(body)["message"]
    # HEAD too, without a body.
    s, hd, body = h.request("HEAD", "/hdf/health", host=A)
    assert s == 429 and body == b""


def test_buckets_are_per_client_and_per_location(make_httpd):
    conf = REMOTEIP + ops_vhost(
        None, A, loc="        H5S3RateLimit 1 3\n",
        extra="    <Location /other>\n        SetHandler h5s3\n"
              "        H5S3RateLimit 1 3\n    </Location>\n"
              "    <Location /free>\n        SetHandler h5s3\n"
              "    </Location>\n")
    h = make_httpd(conf, mpm="prefork")

    def statuses(path, ip, n):
        return [one_request(h.port, path, host=A, headers=_xff(ip))[0]
                for _ in range(n)]

    assert statuses("/hdf/health", "198.51.100.1", 4) == [200] * 3 + [429]
    # Another client: its own bucket; another Location: another bucket.
    assert statuses("/hdf/health", "198.51.100.2", 3) == [200] * 3
    assert statuses("/other/health", "198.51.100.1", 4) == \
        [200] * 3 + [429]
    # A Location without the directive is not limited.
    assert statuses("/free/health", "198.51.100.1", 10) == [200] * 10


def test_many_clients_do_not_push_out_an_active_one(make_httpd):
    """Bounded table, keyed hash: 1500 other clients leave the throttled
    client's bucket in place."""
    h = make_httpd(REMOTEIP + ops_vhost(
        None, A, loc="        H5S3RateLimit 0.1 2\n"), mpm="event")
    ip = "203.0.113.7"
    for want in (200, 200, 429):
        assert one_request(h.port, "/hdf/health", host=A,
                           headers=_xff(ip))[0] == want
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    for i in range(1500):
        conn.request("GET", "/hdf/health", headers={
            "Host": A, "X-Forwarded-For": "10.%d.%d.1" % (i // 250, i % 250)})
        r = conn.getresponse()
        r.read()
        assert r.status == 200
    conn.close()
    assert one_request(h.port, "/hdf/health", host=A,
                       headers=_xff(ip))[0] == 429
    st = status_auto(h)
    assert 1500 <= int(st["H5S3RateLimitBuckets"]) <= \
        int(st["H5S3RateLimitSlots"])


def test_state_survives_graceful_restart(make_httpd, mpm):
    """A client that used its burst is still throttled after a graceful
    restart (a fresh table would give it a full bucket)."""
    conf = ops_vhost(None, A, loc="        H5S3RateLimit 0.1 3\n")
    h = make_httpd(conf, mpm=mpm)
    assert [h.get("/hdf/health", host=A)[0] for _ in range(4)] == \
        [200, 200, 200, 429]
    before = h.child_pids()
    h.graceful()
    assert not set(before) & set(h.child_pids())
    s, hd, _ = h.get("/hdf/health", host=A)
    assert s == 429 and int(hd["Retry-After"]) >= 1
    # and a hard restart keeps it as well (same parent process)
    h.restart()
    assert h.get("/hdf/health", host=A)[0] == 429
    # New configuration, same Location: the new limit applies at once.
    h.graceful(conf.replace("H5S3RateLimit 0.1 3", "H5S3RateLimit Off"))
    assert [h.get("/hdf/health", host=A)[0] for _ in range(5)] == [200] * 5


@pytest.mark.parametrize("args,needle", [
    ("0", "'0' is not valid"),
    ("abc", "'abc' is not valid"),
    ("10 0.5", "'0.5' is not valid"),
    ("10 -3", "'-3' is not valid"),
    ("1 2 3", "H5S3RateLimit takes"),
])
def test_bad_values_fail_the_config_test(make_httpd, args, needle):
    h = make_httpd(ops_vhost(None, A, loc="        H5S3RateLimit %s\n"
                             % args), start=False)
    rc, out = h.check()
    assert rc != 0 and "H5S3RateLimit" in out and needle in out, out
