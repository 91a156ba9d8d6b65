"""S3 down, slow, or refusing our credentials: a clear JSON answer, fast,
and the next request on the same server still works."""

import time

import pytest

from harness.common import get_json, vhost
from harness import closed_port, silent_port

A = "a.test"


def test_s3_down_is_503_json_fast(rgw, make_httpd, mpm):
    port = closed_port()
    h = make_httpd(vhost(rgw, A, ["h5data"],
                         endpoint="http://127.0.0.1:%d" % port), mpm=mpm)
    t0 = time.monotonic()
    status, hdrs, body = get_json(h, "/hdf/files", host=A)
    assert time.monotonic() - t0 < 5
    assert status == 503
    assert body["success"] is False
    assert "unreachable" in body["error"]
    assert hdrs.get("Retry-After")
    # health does not depend on S3
    assert get_json(h, "/hdf/health", host=A)[0] == 200


def test_s3_silent_is_504_within_timeout(rgw, make_httpd, mpm):
    port = silent_port()
    h = make_httpd(vhost(rgw, A, ["h5data"],
                         endpoint="http://127.0.0.1:%d" % port,
                         extra="    H5S3Timeout 1 2\n"), mpm=mpm)
    t0 = time.monotonic()
    status, _, body = get_json(h, "/hdf/files", host=A)
    elapsed = time.monotonic() - t0
    assert status == 504, body
    assert 1.5 < elapsed < 6
    assert "did not answer in time" in body["error"]


def test_wrong_secret_is_a_clear_502(rgw, make_httpd, mpm):
    conf = vhost(rgw, A, ["h5data"]).replace(
        "H5S3Credentials %s %s" % (rgw.access_key, rgw.secret_key),
        "H5S3Credentials %s wrong-secret-value" % rgw.access_key)
    h = make_httpd(conf, mpm=mpm)
    status, _, body = get_json(h, "/hdf/files", host=A)
    assert status == 502
    assert "SignatureDoesNotMatch" in body["error"]
    assert "H5S3Credentials" in body["error"]
    # the secret never reaches a response or a log
    assert "wrong-secret-value" not in str(body)
    with open(h.error_log) as f:
        assert "wrong-secret-value" not in f.read()


def test_anonymous_on_private_bucket_is_denied(rgw, make_httpd, mpm):
    h = make_httpd(vhost(rgw, A, ["h5data"], creds=False), mpm=mpm)
    status, _, body = get_json(h, "/hdf/files", host=A)
    assert status == 502
    assert "AccessDenied" in body["error"]


def test_recovers_after_s3_failure(rgw, make_httpd):
    """A failed listing leaves the process healthy: same server, good bucket."""
    conf = (vhost(rgw, A, ["h5data"], endpoint="http://127.0.0.1:%d"
                  % closed_port())
            + vhost(rgw, "ok.test", ["h5data"]))
    h = make_httpd(conf, mpm="prefork")
    for _ in range(5):
        assert get_json(h, "/hdf/files", host=A)[0] == 503
        assert get_json(h, "/hdf/files", host="ok.test")[0] == 200


def test_wrong_credentials_never_read_another_vhosts_cache(rgw, make_httpd):
    """Same bucket, same endpoint, two vhosts: the one whose secret S3 would
    refuse must not be served what the good one cached."""
    good = vhost(rgw, A, ["h5data"])
    bad = vhost(rgw, "bad.test", ["h5data"]).replace(
        "H5S3Credentials %s %s" % (rgw.access_key, rgw.secret_key),
        "H5S3Credentials %s not-the-secret" % rgw.access_key)
    h = make_httpd(good + bad, mpm="prefork")
    assert get_json(h, "/hdf/files", host=A)[0] == 200
    assert get_json(h, "/hdf/files", host=A)[2]["cached"] is True
    status, _, body = get_json(h, "/hdf/files", host="bad.test")
    assert status == 502 and "SignatureDoesNotMatch" in body["error"]
    for path in ("/hdf/files/top.h5/children", "/hdf/files/top.h5/meta?path=/",
                 "/hdf/h5grove/meta/?file=top.h5&path=/"):
        assert get_json(h, path, host=A)[0] == 200
        assert get_json(h, path, host=A)[1]["X-H5S3-Cache"] == "hit"
        status, _, body = get_json(h, path, host="bad.test")
        # h5grove's contract spells S3's refusal 403 "Permission denied".
        assert status == (403 if "h5grove" in path else 502), (path, body)
