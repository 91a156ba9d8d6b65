"""The test harness itself works: real S3, seeded data, private httpds."""

import hashlib
import os
import socket
import shutil
import subprocess
import tempfile
import textwrap

import pytest
from botocore.exceptions import ClientError

from harness import Httpd, closed_port, silent_port
from harness.s3server import PYTHON, REPO

# Where the package harness is: the inner pytest runs below imports it.
INTEGRATION = os.path.join(REPO, "tests", "integration")


def count_keys(s3, bucket):
    n = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        n += len(page.get("Contents", []))
    return n


def error_code(exc_info):
    err = exc_info.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


# ---- S3 ------------------------------------------------------------------

def test_rgw_is_seeded(rgw):
    s3 = rgw.client()
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {"h5data", "dgdata", "dgedge", "other", "many"} <= names
    assert count_keys(s3, "many") == 1205
    for bucket, n in rgw.manifest["counts"].items():
        assert count_keys(s3, bucket) == n, bucket
    first = s3.list_objects_v2(Bucket="many")
    assert first["IsTruncated"] and first["KeyCount"] == 1000


def test_seeded_objects_match_fixtures(rgw):
    s3 = rgw.client()
    keys = ["top.h5", "Folder_1/random_05.h5", "samples/grid.h5",
            "données/été 2024.h5", "with space/file one.h5",
            "percent/100%.h5", "plus/a+b.h5", "notes/readme.txt"]
    for key in keys:
        body = s3.get_object(Bucket="h5data", Key=key)["Body"].read()
        with open(os.path.join(rgw.fixtures, "h5data", key), "rb") as f:
            assert body == f.read(), key
    assert s3.head_object(Bucket="h5data",
                          Key="empty-folder/")["ContentLength"] == 0
    top = s3.get_object(Bucket="h5data", Key="top.h5")["Body"].read()
    assert top[:8] == b"\x89HDF\r\n\x1a\n"


def test_dg_fixture_reconstructs_with_xdelta3(rgw, tmp_path):
    """The seeded DeltaGlider layout is what the format doc says."""
    s3 = rgw.client()
    head = s3.head_object(Bucket="dgdata", Key="releases/v1/app-1.1.zip.delta")
    meta = head["Metadata"]
    assert meta["dg-ref-key"] == "releases/v1/reference.bin"
    ref = s3.get_object(Bucket="dgdata", Key=meta["dg-ref-key"])
    refb = ref["Body"].read()
    assert hashlib.sha256(refb).hexdigest() == meta["dg-ref-sha256"]
    assert ref["Metadata"]["dg-note"] == "reference"
    delta = s3.get_object(Bucket="dgdata",
                          Key="releases/v1/app-1.1.zip.delta")["Body"].read()
    (tmp_path / "ref").write_bytes(refb)
    (tmp_path / "d").write_bytes(delta)
    subprocess.run(["xdelta3", "-d", "-f", "-s", str(tmp_path / "ref"),
                    str(tmp_path / "d"), str(tmp_path / "out")], check=True)
    out = (tmp_path / "out").read_bytes()
    assert len(out) == int(meta["dg-file-size"])
    assert hashlib.sha256(out).hexdigest() == meta["dg-file-sha256"]
    zero = s3.head_object(Bucket="dgdata", Key="releases/v1/app-1.0.zip.delta")
    assert zero["Metadata"]["dg-note"] == "zero-diff (reference identical)"
    proxy = s3.head_object(Bucket="dgdata", Key="proxy/v1/app-1.1.zip.delta")
    assert proxy["Metadata"]["dg-ref-path"] == "reference.bin"
    legacy = s3.head_object(Bucket="dgdata",
                            Key="legacy/v1/app-1.1.zip.delta")
    assert "file-sha256" in legacy["Metadata"]
    assert not any(k.startswith("dg-") for k in legacy["Metadata"])


def test_signatures_are_enforced(rgw):
    with pytest.raises(ClientError) as e:
        rgw.client(secret_key="wrong-secret").list_objects_v2(Bucket="h5data")
    assert error_code(e) == ("SignatureDoesNotMatch", 403)
    with pytest.raises(ClientError) as e:
        rgw.client(access_key="NOSUCHKEY").list_objects_v2(Bucket="h5data")
    assert error_code(e) == ("InvalidAccessKeyId", 403)
    with pytest.raises(ClientError) as e:
        rgw.client(anonymous=True).get_object(Bucket="h5data", Key="top.h5")
    assert error_code(e) == ("AccessDenied", 403)


def test_request_count_sees_each_s3_request(rgw):
    s3 = rgw.client()
    mark = rgw.request_count()
    for _ in range(3):
        s3.head_object(Bucket="other", Key="other-only.txt")
    s3.get_object(Bucket="h5data", Key="top.h5", Range="bytes=0-7")
    new = rgw.requests_since(mark)
    assert [(r["method"], r["status"]) for r in new] == \
        [("HEAD", 200)] * 3 + [("GET", 206)]
    assert new[-1]["target"] == "/h5data/top.h5"
    assert rgw.request_count() == mark + 4


def test_down_and_silent_ports():
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", closed_port()), timeout=2)
    with socket.create_connection(("127.0.0.1", silent_port()),
                                  timeout=2) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        c.settimeout(0.3)
        with pytest.raises(socket.timeout):
            c.recv(1)


# ---- httpd ---------------------------------------------------------------

def static_httpd(make_httpd, mpm, extra=""):
    h = make_httpd(module_so=None, mpm=mpm, start=False, conf_body="""
Alias /static "{static}"
<Directory "{static}">
    Require all granted
</Directory>
<Location /denied>
    Require all denied
</Location>
{extra}
""".format(static="/dev/null", extra=extra))
    static = h.path("static")
    h.conf_body = h.conf_body.replace("/dev/null", static)
    os.makedirs(static)
    os.chmod(static, 0o755)
    with open(os.path.join(static, "hello.txt"), "w") as f:
        f.write("hello from the harness\n")
    with open(os.path.join(static, "été 1.txt"), "w") as f:
        f.write("unicode name\n")
    return h.start()


def test_httpd_serves_static_file(make_httpd, mpm):
    h = static_httpd(make_httpd, mpm)
    status, headers, body = h.get("/static/hello.txt")
    assert status == 200 and body == b"hello from the harness\n"
    assert headers["Content-Type"].startswith("text/plain")
    assert h.get("/static/missing.txt")[0] == 404
    assert h.get("/static/été 1.txt")[2] == b"unicode name\n"
    assert h.get("/static/%C3%A9t%C3%A9%201.txt")[2] == b"unicode name\n"
    kids = h.child_pids()
    assert len(kids) >= (3 if mpm == "prefork" else 2)
    status, _, body = h.get("/server-status?auto")
    assert status == 200 and b"ServerMPM: " + mpm.encode() in body
    # Lines are written after each response, so their order may differ.
    entries = {e["request"]: e for e in h.access_log_entries(min_count=5)}
    hello = entries["GET /static/hello.txt HTTP/1.1"]
    assert hello["status"] == 200
    assert entries["GET /static/missing.txt HTTP/1.1"]["status"] == 404
    assert hello["route"] == "-" and hello["s3"] == "-"
    assert h.error_log_problems() == []


def test_httpd_graceful_and_vhost(make_httpd, mpm):
    vhosts = """
<VirtualHost 127.0.0.1:*>
    ServerName a.test
    Alias /who "{d}/a"
</VirtualHost>
<VirtualHost 127.0.0.1:*>
    ServerName b.test
    Alias /who "{d}/b"
</VirtualHost>
<Directory "{d}">
    Require all granted
</Directory>
"""
    h = make_httpd(module_so=None, mpm=mpm, start=False)
    for name in "ab":
        os.makedirs(h.path("v", name))
        with open(h.path("v", name, "id.txt"), "w") as f:
            f.write(name)
    os.chmod(h.path("v"), 0o755)
    h.conf_body = vhosts.format(d=h.path("v"))
    h.start()
    assert h.get("/who/id.txt", host="a.test")[2] == b"a"
    assert h.get("/who/id.txt", host="b.test")[2] == b"b"
    before = h.child_pids()
    h.graceful(conf_body=vhosts.replace("/a\"", "/b\"").format(d=h.path("v")))
    assert h.get("/who/id.txt", host="a.test")[2] == b"b"
    assert h.pid and h.running() and h.child_pids() != []
    assert not set(h.child_pids()) & set(before)
    vh = {e["vhost"] for e in h.access_log_entries(min_count=3)}
    assert {"a.test", "b.test"} <= vh


def test_config_errors_are_reported():
    h = Httpd(None, conf_body="NoSuchDirective foo\n")
    rc, out = h.check()
    assert rc != 0 and "NoSuchDirective" in out
    h.cleanup()
    ok = Httpd(None, mpm="event")
    assert ok.check() == (0, "Syntax OK\n")
    ok.cleanup()


def test_error_log_check_catches_errors(make_httpd, mpm):
    h = static_httpd(make_httpd, mpm)
    assert h.error_log_problems() == []
    assert h.get("/denied/x")[0] == 403
    problems = h.error_log_problems()
    assert len(problems) == 1
    assert "[authz_core:error]" in problems[0] and "AH01630" in problems[0]
    assert h.error_log_problems(allow=[r"AH01630"]) == []
    h.expect_errors(r"AH01630")   # so teardown accepts it


@pytest.mark.expect_errors(r"AH01630")
def test_expect_errors_marker(make_httpd):
    h = static_httpd(make_httpd, None)
    assert h.get("/denied/y")[0] == 403
    assert h.error_log_problems(allow=[]) == []


def test_teardown_fails_on_unexpected_errors(tmp_path):
    """make_httpd really fails a test that leaves an error line behind."""
    # Failed tests keep their httpd dirs; keep these apart and remove them.
    workdirs = tempfile.mkdtemp(prefix="h5s3-inner-")
    os.chmod(workdirs, 0o755)
    (tmp_path / "conftest.py").write_text(textwrap.dedent("""
        pytest_plugins = ["harness.plugin"]
        """))
    (tmp_path / "test_inner.py").write_text(textwrap.dedent("""
        import pytest
        CONF = '<Location /denied>\\n  Require all denied\\n</Location>\\n'
        def test_unexpected(make_httpd):
            h = make_httpd(CONF, module_so=None)
            assert h.get("/denied/z")[0] == 403
        @pytest.mark.expect_errors("AH01630")
        def test_expected(make_httpd):
            h = make_httpd(CONF, module_so=None)
            assert h.get("/denied/z")[0] == 403
        """))
    env = dict(os.environ, H5S3_HTTPD_TMP=workdirs)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (INTEGRATION, os.environ.get("PYTHONPATH")) if p)
    r = subprocess.run([PYTHON, "-m", "pytest", "-q", "-p",
                        "no:cacheprovider", "--mpm", "prefork",
                        str(tmp_path)], capture_output=True, text=True,
                       cwd=str(tmp_path), timeout=120, env=env)
    out = r.stdout + r.stderr
    shutil.rmtree(workdirs)
    assert r.returncode == 1, out
    assert "2 passed, 1 error" in out, out
    assert "ERROR at teardown of test_unexpected" in out, out
    assert "unexpected error-log lines" in out and "AH01630" in out, out
