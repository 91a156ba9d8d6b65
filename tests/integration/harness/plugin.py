"""pytest fixtures and hooks for the integration tests.

Loaded by tests/integration/conftest.py (`pytest_plugins =
["harness.plugin"]`), and so by a throwaway conftest too (the harness
self-test).

Fixtures:
  rgw          session-wide Ceph RGW, seeded once by tests/s3/seed.py;
               rgw.fixtures (dir), rgw.manifest (dict), rgw.client().
  module_so    path of mod_h5s3.so ($H5S3_MODULE or <repo>/.libs); fails,
               never skips, when it is missing.
  make_httpd   factory for Httpd; stops every server at teardown and fails
               the test on unexpected error-log lines (see expect_errors).
  mpm          "prefork" and "event" (parametrized); --mpm / $H5S3_MPM
               restricts it to one.
Helpers:
  s3_directives(rgw, buckets)   H5S3 directive lines for a vhost.
  module_httpd(mpm, conf_body)  a private httpd for a whole test module.
Marker:
  @pytest.mark.expect_errors(regex, ...)   error-log lines the test
               provokes on purpose (or call httpd.expect_errors()).
"""

import contextlib
import json
import os
import time

import pytest

from .httpd import Httpd, default_module_so
from .s3server import RGW

MPMS = ("prefork", "event")
_DEFAULT = object()
_timings = {}


def pytest_addoption(parser):
    parser.addoption("--mpm", choices=MPMS + ("both",), default=None,
                     help="MPM for httpd tests (default: $H5S3_MPM or both)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "expect_errors(*regexes): error-log lines this test "
        "provokes on purpose")


def selected_mpms(config):
    v = config.getoption("--mpm") or os.environ.get("H5S3_MPM") or "both"
    if v == "both":
        return list(MPMS)
    if v not in MPMS:
        raise pytest.UsageError("H5S3_MPM must be prefork, event or both")
    return [v]


def pytest_generate_tests(metafunc):
    if "mpm" in metafunc.fixturenames:
        metafunc.parametrize("mpm", selected_mpms(metafunc.config))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def pytest_terminal_summary(terminalreporter):
    if _timings:
        terminalreporter.write_line(
            "h5s3 harness: RGW start %.2fs, seed %.2fs; %s"
            % (_timings.get("rgw_start", 0), _timings.get("seed", 0),
               _timings.get("seed_summary", "")))


def s3_directives(rgw, buckets=(), region=None, credentials=True):
    """H5S3 directive lines pointing a vhost at `rgw`.  buckets: names or
    (name, alias) pairs."""
    lines = ["H5S3Endpoint %s" % rgw.endpoint,
             "H5S3Region %s" % (region or rgw.region)]
    if credentials:
        lines.append("H5S3Credentials %s %s" % (rgw.access_key,
                                                rgw.secret_key))
    for b in buckets:
        lines.append("H5S3Bucket %s" % (b if isinstance(b, str)
                                        else " ".join(b)))
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def module_httpd(mpm, conf_body, expect_errors=()):
    """A private httpd with mod_h5s3 for a whole test module (make_httpd's
    live one test), under `mpm`; conf_body is the text, or a function of
    the Httpd (for paths in its workdir); expect_errors as make_httpd's.
    Started on entry; at exit stopped, failing on unexpected error-log
    lines, and removed.  In a module fixture:

        with module_httpd(selected_mpms(request.config)[0], conf) as h:
            yield h
    """
    so = default_module_so()
    if not os.path.isfile(so):
        pytest.fail("mod_h5s3 not built: %s" % so)
    h = Httpd(so, mpm=mpm)
    h.conf_body = conf_body(h) if callable(conf_body) else conf_body
    h.expect_errors(*expect_errors)
    h.start()
    yield h
    h.stop()
    bad = h.error_log_problems()
    assert not bad, "unexpected error-log lines:\n" + "\n".join(bad)
    h.cleanup()


@pytest.fixture(scope="session")
def rgw(tmp_path_factory):
    server = RGW()
    server.start()
    _timings["rgw_start"] = server.start_seconds
    try:
        fixtures = str(tmp_path_factory.mktemp("s3fixtures"))
        t0 = time.monotonic()
        summary = server.seed(fixtures)
        _timings["seed"] = time.monotonic() - t0
        _timings["seed_summary"] = summary
        server.fixtures = fixtures
        with open(os.path.join(fixtures, "manifest.json")) as f:
            server.manifest = json.load(f)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def module_so():
    so = default_module_so()
    if not os.path.isfile(so):
        pytest.fail("mod_h5s3 not built: %s (set H5S3_MODULE or run make)"
                    % so)
    return so


@pytest.fixture
def make_httpd(request):
    """make_httpd(conf_body="", mpm=None, module_so=<mod_h5s3>, start=True,
    log_levels=(), env=None, ...) -> Httpd.  module_so=None: standard
    modules only."""
    servers = []
    allow = [r for m in request.node.iter_markers("expect_errors")
             for r in m.args]
    callspec = getattr(request.node, "callspec", None)
    default_mpm = (callspec.params.get("mpm") if callspec else None) \
        or selected_mpms(request.config)[0]

    def factory(conf_body="", mpm=None, module_so=_DEFAULT, start=True,
                **kw):
        if module_so is _DEFAULT:
            module_so = default_module_so()
            if not os.path.isfile(module_so):
                pytest.fail("mod_h5s3 not built: %s" % module_so)
        h = Httpd(module_so, mpm=mpm or default_mpm, conf_body=conf_body,
                  **kw)
        h.expect_errors(*allow)
        servers.append(h)
        if start:
            h.start()
        return h

    yield factory

    problems = []
    for h in servers:
        h.stop()
        bad = h.error_log_problems()
        if bad:
            problems.append("%s (%s):\n  %s" % (h.error_log, h.mpm,
                                                "\n  ".join(bad)))
    failed = any(getattr(request.node, "rep_" + w, None) is not None
                 and getattr(request.node, "rep_" + w).failed
                 for w in ("setup", "call"))
    if problems:
        pytest.fail("unexpected error-log lines (mark expected ones with "
                    "@pytest.mark.expect_errors or httpd.expect_errors):\n"
                    + "\n".join(problems), pytrace=False)
    if not failed:
        for h in servers:
            h.cleanup()
