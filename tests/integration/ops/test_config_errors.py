"""apachectl -t refuses bad configuration, naming the directive and value."""

import os

import pytest

from harness.common import vhost
from harness.httpd import HttpdError

GOOD = "H5S3Endpoint http://127.0.0.1:7480\nH5S3Bucket h5data\n"


def check(make_httpd, body):
    h = make_httpd(body, start=False)
    return h.check()


def test_good_config_passes(make_httpd):
    rc, out = check(make_httpd, GOOD + "<Location /hdf>\nSetHandler h5s3\n"
                    "</Location>\n")
    assert rc == 0, out
    assert "Syntax OK" in out


@pytest.mark.parametrize("body,needles", [
    ("H5S3Endpoint ftp://example.org\n", ["H5S3Endpoint", "ftp://example.org"]),
    ("H5S3Endpoint http://host/some/path\n", ["H5S3Endpoint", "/some/path"]),
    ("H5S3Endpoint http://host:99x\n", ["H5S3Endpoint", "http://host:99x"]),
    ("H5S3Cache nosuchprovider\n", ["H5S3Cache", "nosuchprovider"]),
    ("H5S3Credentials env:H5S3_TEST_SURELY_UNSET secret\n",
     ["H5S3Credentials", "env:H5S3_TEST_SURELY_UNSET"]),
    ("H5S3Credentials key file:/nonexistent/h5s3-secret\n",
     ["H5S3Credentials", "file:/nonexistent/h5s3-secret"]),
    (GOOD + "H5S3Bucket other data\nH5S3Bucket many data\n",
     ["H5S3Bucket", "data", "already mapped"]),
    ("H5S3Bucket Bad_Bucket\n", ["H5S3Bucket", "Bad_Bucket"]),
    ("H5S3Timeout 5 x\n", ["H5S3Timeout", "'x'"]),
    ("H5S3ListTTL -3\n", ["H5S3ListTTL", "-3"]),
    ("H5S3Region US_EAST\n", ["H5S3Region", "US_EAST"]),
    ("H5S3PageCache 12Q\n", ["H5S3PageCache", "12Q"]),
    ("<VirtualHost *:*>\nServerName x.test\nH5S3Cache shmcb\n"
     "</VirtualHost>\n", ["H5S3Cache", "VirtualHost"]),
])
def test_bad_values_are_named(make_httpd, body, needles):
    rc, out = check(make_httpd, body)
    assert rc != 0, out
    for n in needles:
        assert n in out, (n, out)


def test_bucket_without_endpoint(make_httpd):
    rc, out = check(make_httpd, "<VirtualHost *:*>\nServerName x.test\n"
                    "H5S3Bucket h5data\n</VirtualHost>\n")
    assert rc != 0
    assert "H5S3Endpoint" in out and "H5S3Bucket" in out


BUCKET_WITHOUT_ENDPOINT = ("<VirtualHost *:*>\nServerName x.test\n"
                           "H5S3Bucket h5data\n</VirtualHost>\n")


def running_with(conf_path):
    """Live processes whose command line names conf_path."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/stat" % d) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if conf_path.encode() in argv and state != "Z":
            pids.append(int(d))
    return pids


def test_check_names_the_vhost_and_leaves_no_process(make_httpd):
    # The check runs in httpd's check_config: apachectl -t exits 1 with
    # the message, and nothing it started is left behind.
    h = make_httpd(BUCKET_WITHOUT_ENDPOINT, start=False)
    rc, out = h.check()
    assert rc == 1, out
    assert "H5S3-0001" in out and "x.test" in out, out
    assert "<VirtualHost> at %s:" % h.conf_path in out, out
    assert "Syntax OK" not in out
    assert running_with(h.conf_path) == []


@pytest.mark.expect_errors(r"H5S3-0001")
def test_start_refuses_the_same_and_leaves_no_process(make_httpd):
    # The same check stops a start before any child or shared memory is
    # made: httpd exits 1 and no process is left.
    h = make_httpd(BUCKET_WITHOUT_ENDPOINT, start=False)
    with pytest.raises(HttpdError) as ei:
        h.start()
    assert h.proc.returncode == 1
    assert "H5S3-0001" in str(ei.value) and "x.test" in str(ei.value)
    assert running_with(h.conf_path) == []


def test_literal_secret_is_never_echoed(make_httpd):
    rc, out = check(make_httpd, "H5S3Credentials AKID env:H5S3_NOT_SET_X\n")
    assert rc != 0
    assert "AKID" not in out


def test_credentials_from_env_and_file(rgw, make_httpd, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text(rgw.secret_key + "\n")
    conf = vhost(rgw, "a.test", ["h5data"]).replace(
        "H5S3Credentials %s %s" % (rgw.access_key, rgw.secret_key),
        "H5S3Credentials env:H5S3_TEST_ACCESS file:%s" % secret)
    h = make_httpd(conf, mpm="prefork",
                   env={"H5S3_TEST_ACCESS": rgw.access_key})
    status, _, _ = h.get("/hdf/files", host="a.test")
    assert status == 200
