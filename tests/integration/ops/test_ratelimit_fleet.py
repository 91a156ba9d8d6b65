"""H5S3RateLimit across a fleet: three httpd servers sharing one
redis-server (or memcached) through `H5S3Cache` hold a client spread
round-robin over them to the configured rate in total; when the provider
stops, each server limits on its own (no failed request, one log line),
and the fleet's budget comes back with the provider."""

import signal
import time

import pytest

from harness.ops_util import (hammer, load, memcached, ops_vhost,
                              redis_server, status_auto)

A = "a.test"
# (rate, burst) per provider: redis keeps a token bucket; memcached a
# counter per window of burst/rate seconds, off by up to one burst from
# the bucket's count, so its burst is kept small next to rate * seconds.
LIMITS = {"redis": (10, 10), "memcache": (10, 2)}
SECONDS = 4.0
# Well above the fleet's 10/s on a loaded 2-CPU machine, and what 8
# threads each opening a connection per request keep up.
LOAD = 60
FAILED = "H5S3-0610"
RECOVERED = "H5S3-0611"


@pytest.fixture(params=["redis", "memcache"])
def fleet(request, make_httpd, mpm):
    kind = request.param
    daemon = redis_server() if kind == "redis" else memcached()
    request.addfinalizer(daemon.stop)
    rate, burst = LIMITS[kind]
    conf = (load("socache_" + kind)
            + "H5S3Cache %s:127.0.0.1:%d\n" % (kind, daemon.port)
            + ops_vhost(None, A, loc="        H5S3RateLimit %g %g\n"
                        % (rate, burst)))
    servers = [make_httpd(conf, mpm=mpm) for _ in range(3)]
    for h in servers:
        # mod_socache_<kind>'s own complaints while the provider is down.
        h.expect_errors(r"socache_%s|\[%s" % (kind, kind))
    return kind, daemon, servers, rate, burst


def run(servers, seconds):
    """Round-robin over the servers: (count of 200s, all, elapsed)."""
    results, first, last = hammer([h.port for h in servers], "/hdf/health",
                                  seconds=seconds, threads=8, host=A,
                                  per_second=LOAD)
    ok = sum(1 for r in results if r[1] == 200)
    return ok, results, last - first


def assert_fleet_rate(kind, mpm, servers, rate, burst, label):
    ok, results, elapsed = run(servers, SECONDS)
    statuses = {r[1] for r in results}
    want = burst + rate * elapsed
    print("fleet rate-limit %s %s %s: %d allowed of %d sent in %.2fs over "
          "3 servers, expected %.1f (%.1f%% off)"
          % (kind, mpm, label, ok, len(results), elapsed, want,
             100.0 * (ok - want) / want))
    assert statuses <= {200, 429}, statuses
    assert len(results) - ok > ok, "the load did not exceed the limit"
    assert abs(ok - want) <= 0.10 * want
    # Every server answered its share and throttled some of it.
    for h in servers:
        st = status_auto(h)
        assert st["H5S3RateLimitBudget"] == "fleet", st
        assert int(st["H5S3RateLimitRejections"]) > 0


def log_count(h, code):
    return sum(1 for ln in h.error_log_lines() if code in ln)


def test_fleet_is_held_to_the_rate_in_total(fleet, mpm):
    kind, daemon, servers, rate, burst = fleet
    st = status_auto(servers[0])
    assert st["H5S3RateLimitProvider"] == \
        "%s 127.0.0.1:%d" % (kind, daemon.port)
    assert st["H5S3RateLimitProviderFailures"] == "0"
    assert_fleet_rate(kind, mpm, servers, rate, burst, "shared")
    for h in servers:
        assert log_count(h, FAILED) == 0


def test_provider_stops_and_comes_back(fleet, mpm):
    kind, daemon, servers, rate, burst = fleet
    ok, before, _ = run(servers, 1.5)
    assert {r[1] for r in before} <= {200, 429}
    daemon.stop()
    # Each server on its own: answered, limited, never a 5xx.
    ok, results, elapsed = run(servers, SECONDS)
    statuses = [r[1] for r in results]
    assert set(statuses) <= {200, 429}, set(statuses)
    assert statuses.count(429) > 0 and ok > 0
    # Three machines' budgets now: more than the fleet's, at most three.
    print("provider %s down (%s): %d allowed of %d in %.2fs"
          % (kind, mpm, ok, len(results), elapsed))
    assert ok <= 3 * (burst + rate * elapsed) * 1.1 + 3 * burst
    for h in servers:
        assert log_count(h, FAILED) == 1, h.error_log_lines()[-20:]
        assert any(FAILED in ln and "[h5s3:warn]" in ln
                   for ln in h.error_log_lines())
        st = status_auto(h)
        assert st["H5S3RateLimitBudget"] == "local (provider down)", st
        assert int(st["H5S3RateLimitProviderFailures"]) >= 1
    daemon.start()
    # Children ask again a second after their last failure.
    time.sleep(1.5)
    run(servers, 1.0)
    for h in servers:
        assert log_count(h, RECOVERED) == 1, h.error_log_lines()[-20:]
        assert log_count(h, FAILED) == 1
    time.sleep(burst / rate + 0.5)          # the buckets refill
    assert_fleet_rate(kind, mpm, servers, rate, burst, "after restart")


def test_a_hung_provider_costs_no_answer_and_little_time(fleet, mpm):
    """A provider that takes connections but never answers (stopped with
    SIGSTOP): each child waits for it at most its timeout once a second,
    and limits locally in between."""
    kind, daemon, servers, rate, burst = fleet
    daemon.proc.send_signal(signal.SIGSTOP)
    try:
        ok, results, elapsed = run(servers, 3.0)
    finally:
        daemon.proc.send_signal(signal.SIGCONT)
    statuses = {r[1] for r in results}
    assert statuses <= {200, 429}, statuses
    assert ok > 0 and len(results) > ok
    slowest = max(r[5] - r[4] for r in results)
    print("provider %s hung (%s): %d allowed of %d, slowest answer %.3fs"
          % (kind, mpm, ok, len(results), slowest))
    assert slowest < 1.5
    for h in servers:
        assert log_count(h, FAILED) == 1, h.error_log_lines()[-20:]
        st = status_auto(h)
        assert st["H5S3RateLimitBudget"] == "local (provider down)", st
