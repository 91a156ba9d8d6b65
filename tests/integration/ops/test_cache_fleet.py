"""Fleet-wide caches: two httpd servers with `H5S3Cache redis:HOST:PORT`
(or memcache) share listings, HDF5 metadata and refreshes through a real
redis-server / memcached on loopback."""

import pytest

from harness.common import get_json, q
from harness.ops_util import (load, memcached, ops_vhost, redis_server,
                              status_auto)

A = "a.test"
H5KEY = "samples/grid.h5"


@pytest.fixture(params=["redis", "memcache"])
def fleet(request, rgw, make_httpd, mpm):
    daemon = redis_server() if request.param == "redis" else memcached()
    request.addfinalizer(daemon.stop)
    conf = (load("socache_" + request.param)
            + "H5S3Cache %s:127.0.0.1:%d\n" % (request.param, daemon.port)
            + ops_vhost(rgw, A, ["h5data"]))
    one = make_httpd(conf, mpm=mpm)
    two = make_httpd(conf, mpm=mpm)
    return request.param, daemon, one, two


def entries(kind, daemon):
    if kind == "redis":
        reply = daemon.command("DBSIZE")          # ":N"
        return int(reply.strip().lstrip(":"))
    stats = daemon.command("stats")
    for ln in stats.splitlines():
        if ln.startswith("STAT curr_items "):
            return int(ln.split()[2])
    raise AssertionError(stats)


def test_two_servers_share_one_cache(fleet, rgw):
    kind, daemon, one, two = fleet
    assert entries(kind, daemon) == 0
    s, h1, first = get_json(one, "/hdf/files", host=A)
    assert s == 200 and first["cached"] is False
    assert h1["X-H5S3-Cache"] == "miss"
    assert entries(kind, daemon) > 0
    # The other server answers from the shared cache: no S3 request.
    mark = rgw.request_count()
    s, h2, again = get_json(two, "/hdf/files", host=A)
    assert s == 200 and again["cached"] is True
    assert h2["X-H5S3-Cache"] == "hit" and h2["X-H5S3-S3-Requests"] == "0"
    assert again["files"] == first["files"]
    assert rgw.request_count() == mark
    # HDF5 metadata too.
    u = "/hdf/files/%s/children" % q(H5KEY)
    s, h1, c1 = get_json(one, u, host=A)
    assert s == 200 and h1["X-H5S3-Cache"] == "miss"
    mark = rgw.request_count()
    s, h2, c2 = get_json(two, u, host=A)
    assert s == 200 and h2["X-H5S3-Cache"] == "hit"
    assert h2["X-H5S3-S3-Requests"] == "0" and rgw.request_count() == mark
    assert c2["children"] == c1["children"]
    # A refresh on one server is seen by the other.
    s, _, body = get_json(two, "/hdf/files/refresh", host=A, method="POST",
                          headers={"Content-Type": "application/json"})
    assert s == 200 and body["success"] is True
    s, h1, third = get_json(one, "/hdf/files", host=A)
    assert third["cached"] is False and h1["X-H5S3-Cache"] == "miss"
    # mod_status names the provider and counts lookups.
    st = status_auto(two)
    assert st["H5S3CacheProvider"] == kind
    assert int(st["H5S3CacheLookupHits"]) >= 2


def test_a_dead_cache_server_costs_speed_not_answers(fleet):
    kind, daemon, one, two = fleet
    daemon.stop()
    one.expect_errors(r"socache_%s|\[%s" % (kind, kind))
    for _ in range(2):
        s, h, body = get_json(one, "/hdf/files", host=A)
        assert s == 200 and body["success"] is True
        assert body["cached"] is False
