"""S3 over TLS as intranets run it (issue 19): the test RGW behind a TLS
front (harness/tlsfront.py) whose certificates come from CAs these tests
make with the openssl CLI.

- a CA the module does not trust: a quick JSON 502 naming TLS, in every
  family's envelope, logged once per process with the endpoint;
- H5S3CACertificateFile (or H5S3CACertificatePath): every route family
  works, a DeltaGlider download byte-exact;
- a certificate for another host name is refused, CA trusted or not;
- mutual TLS: H5S3ClientCertificateFile works (key readable by root
  only), a missing or unknown client certificate fails clearly;
- bad files are refused by `apachectl -t`, naming directive and file;
- one handshake per pooled connection, not per request.
"""

import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from harness.api_common import logical, sha256
from harness.common import get_json, vhost
from harness.httpd import _workdir_base
from harness.tlsfront import TLSFront, make_pki

A = "tls.test"
TLS_ERROR = r"S3 endpoint https://127\.0\.0\.1:\d+: TLS: "
SECRET = "tls-integration-secret-0123456789"


@pytest.fixture(scope="module")
def pki():
    # Somewhere www-data can reach: curl reads H5S3CACertificatePath in
    # the children, while the files of the other directives are read by
    # the parent, as root.
    d = tempfile.mkdtemp(prefix="h5s3-pki-", dir=_workdir_base())
    try:
        yield make_pki(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def front(rgw, pki):
    with TLSFront(rgw.port, pki.server_cert, pki.server_key) as f:
        yield f


@pytest.fixture(scope="module")
def mtls_front(rgw, pki):
    with TLSFront(rgw.port, pki.server_cert, pki.server_key,
                  client_ca=pki.client_ca) as f:
        yield f


@pytest.fixture(scope="module")
def wrong_name_front(rgw, pki):
    with TLSFront(rgw.port, pki.wrong_name_cert, pki.wrong_name_key) as f:
        yield f


def tls_vhost(rgw, endpoint, name=A, extra="",
              buckets=("h5data", ("dgdata", "data"))):
    return vhost(rgw, name, list(buckets), endpoint=endpoint,
                 extra="    H5S3TokenSecret %s\n%s" % (SECRET, extra))


def ca_file(path):
    return "    H5S3CACertificateFile %s\n" % path


def error_message(family, body):
    """The message of each family's error envelope."""
    if family == "viewer":
        assert body["success"] is False
        return body["error"]
    if family == "grove":
        return body["message"]
    assert set(body) == {"error"}, body
    return body["error"]["message"]


# One route of each family; every one needs S3.
FAMILIES = (("viewer", "GET", "/hdf/files", None),
            ("viewer", "GET", "/hdf/files/top.h5/children?path=/", None),
            ("grove", "GET", "/hdf/h5grove/meta/?file=top.h5&path=/", None),
            ("api", "GET", "/hdf/api/objects?bucket=data", None),
            ("api", "POST", "/hdf/api/download/prepare",
             {"bucket": "data", "key": "README.txt"}))


def api_call(h, method, path, body=None, host=A):
    """api_common.api_json for a Location at /hdf rather than /dg."""
    status, hdrs, data = h.request(
        method, path, body=json.dumps(body) if body is not None else None,
        headers={"Content-Type": "application/json"}
        if method == "POST" else None, host=host)
    assert hdrs.get("Content-Type", "").startswith("application/json"), \
        (status, data[:300])
    return status, hdrs, json.loads(data)


def request(h, family, method, path, body, host=A):
    if family == "api":
        return api_call(h, method, path, body, host=host)
    return get_json(h, path, host=host, method=method)


def tls_error_lines(h, what):
    return [ln for ln in h.error_log_lines()
            if re.search(r"\[h5s3:error\].*" + TLS_ERROR + re.escape(what),
                         ln)]


def pids_of(lines):
    return [re.search(r"\[pid (\d+)", ln).group(1) for ln in lines]


# ---- trust ------------------------------------------------------------------

@pytest.mark.expect_errors(TLS_ERROR + "certificate not trusted")
def test_untrusted_ca_is_a_quick_502_naming_tls(rgw, make_httpd, mpm, pki,
                                                front):
    """No CA directive (the system store does not know the test CA), and
    a CA file naming another CA: both refuse the endpoint."""
    conf = (tls_vhost(rgw, front.endpoint, name="system.test")
            + tls_vhost(rgw, front.endpoint, name="other.test",
                        extra=ca_file(pki.other_ca)))
    h = make_httpd(conf, mpm=mpm)
    for host in ("system.test", "other.test"):
        for family, method, path, body in FAMILIES:
            t0 = time.monotonic()
            status, _, got = request(h, family, method, path, body,
                                     host=host)
            assert time.monotonic() - t0 < 5, (host, path)
            assert status == 502, (host, path, got)
            msg = error_message(family, got)
            assert "TLS: certificate not trusted" in msg, (host, path, msg)
            assert "H5S3CACertificateFile" in msg
    lines = tls_error_lines(h, "certificate not trusted")
    assert lines, h.error_log_lines()[-20:]
    assert front.endpoint in lines[0]
    # Once per process and vhost (two vhosts here), not once per request
    # or per range.
    pids = pids_of(lines)
    assert all(pids.count(p) <= 2 for p in pids), lines


def download(h, key, host=A):
    status, _, tok = api_call(h, "POST", "/hdf/api/download/prepare",
                              {"bucket": "data", "key": key}, host=host)
    assert status == 200, tok
    status, hdrs, body = h.request("GET", tok["download_url"], host=host)
    assert status == 200, body[:300]
    return body


def every_family_works(h, rgw, host=A):
    status, _, listing = get_json(h, "/hdf/files", host=host)
    assert status == 200, listing
    assert "top.h5" in [f["key"] for f in listing["files"]]
    status, _, kids = get_json(h, "/hdf/files/top.h5/children?path=/",
                               host=host)
    assert status == 200 and kids["children"], kids
    status, _, meta = get_json(h, "/hdf/h5grove/meta/?file=top.h5&path=/",
                               host=host)
    assert status == 200 and meta["kind"] == "group", meta
    status, _, objs = api_call(h, "GET", "/hdf/api/objects?bucket=data",
                               host=host)
    assert status == 200 and objs["objects"], objs
    want = {k: m for k, m in logical(rgw, "dgdata").items()
            if m["kind"] == "dg-delta" and not k.startswith("proxy/")}
    key, m = sorted(want.items())[0]
    body = download(h, key, host=host)
    assert sha256(body) == m["original_sha256"], key


def test_ca_by_directive_serves_every_family(rgw, make_httpd, mpm, pki,
                                             front):
    conf = (tls_vhost(rgw, front.endpoint, extra=ca_file(pki.ca))
            + tls_vhost(rgw, front.endpoint, name="dir.test",
                        extra="    H5S3CACertificatePath %s\n" % pki.ca_dir))
    conf += tls_vhost(rgw, rgw.endpoint, name="plain.test")
    h = make_httpd(conf, mpm=mpm)
    every_family_works(h, rgw)
    every_family_works(h, rgw, host="dir.test")
    # The TLS front in the way changes nothing: the same answers as over
    # plain HTTP.
    for path in ("/hdf/files", "/hdf/files/top.h5/children?path=/",
                 "/hdf/h5grove/meta/?file=top.h5&path=/"):
        _, _, tls = get_json(h, path, host=A)
        _, _, plain = get_json(h, path, host="plain.test")
        for body in (tls, plain):
            body.pop("cached", None)
        assert tls == plain, path


@pytest.mark.expect_errors(TLS_ERROR + "certificate name does not match")
def test_certificate_for_another_host_is_refused(rgw, make_httpd, mpm, pki,
                                                 wrong_name_front):
    h = make_httpd(tls_vhost(rgw, wrong_name_front.endpoint,
                             extra=ca_file(pki.ca)), mpm=mpm)
    for family, method, path, body in FAMILIES[:3]:
        t0 = time.monotonic()
        status, _, got = request(h, family, method, path, body)
        assert time.monotonic() - t0 < 5
        assert status == 502, got
        assert "TLS: certificate name does not match" in \
            error_message(family, got)
    assert tls_error_lines(h, "certificate name does not match")


# ---- mutual TLS -------------------------------------------------------------

def client_cert(cert, key=None):
    return "    H5S3ClientCertificateFile %s%s\n" % (cert,
                                                    " " + key if key else "")


@pytest.mark.expect_errors(TLS_ERROR + "the endpoint requires a client",
                           TLS_ERROR + "the endpoint refused the client")
def test_mutual_tls(rgw, make_httpd, mpm, pki, mtls_front):
    # The key file is root's alone, as it would be in production; the
    # children (www-data) never open it.
    assert os.stat(pki.client_key).st_mode & 0o077 == 0
    both = os.path.join(pki.dir, "client-and-key.pem")
    with open(both, "w") as f:
        f.write(open(pki.client_cert).read() + open(pki.client_key).read())
    os.chmod(both, 0o600)
    ep = mtls_front.endpoint
    conf = (tls_vhost(rgw, ep, extra=ca_file(pki.ca)
                      + client_cert(pki.client_cert, pki.client_key))
            + tls_vhost(rgw, ep, name="onefile.test",
                        extra=ca_file(pki.ca) + client_cert(both))
            + tls_vhost(rgw, ep, name="nocert.test", extra=ca_file(pki.ca))
            + tls_vhost(rgw, ep, name="stranger.test", extra=ca_file(pki.ca)
                        + client_cert(pki.stranger_cert, pki.stranger_key)))
    h = make_httpd(conf, mpm=mpm, log_levels=("h5s3:trace8",))
    every_family_works(h, rgw)
    status, _, got = get_json(h, "/hdf/files", host="onefile.test")
    assert status == 200, got
    for host, needle in (("nocert.test",
                          "TLS: the endpoint requires a client certificate"),
                         ("stranger.test",
                          "TLS: the endpoint refused the client "
                          "certificate")):
        for family, method, path, body in FAMILIES:
            t0 = time.monotonic()
            status, _, got = request(h, family, method, path, body,
                                     host=host)
            assert time.monotonic() - t0 < 5, (host, path)
            assert status == 502, (host, path, got)
            msg = error_message(family, got)
            assert needle in msg, (host, path, msg)
            assert "H5S3ClientCertificateFile" in msg
    # The key never reaches a log, even at trace8.
    key_lines = [ln for ln in open(pki.client_key).read().splitlines()
                 if ln and not ln.startswith("-----")]
    log = open(h.error_log).read()
    assert key_lines and not any(ln in log for ln in key_lines)


# ---- apachectl -t -----------------------------------------------------------

def check(make_httpd, rgw, extra):
    h = make_httpd(tls_vhost(rgw, "https://127.0.0.1:1", extra=extra),
                   start=False)
    return h.check()


def test_good_tls_files_pass_the_check(make_httpd, rgw, pki):
    rc, out = check(make_httpd, rgw, ca_file(pki.ca)
                    + "    H5S3CACertificatePath %s\n" % pki.ca_dir
                    + client_cert(pki.client_cert, pki.client_key))
    assert rc == 0, out


def test_bad_tls_files_are_named_by_the_check(make_httpd, rgw, pki):
    d = pki.dir
    notpem = os.path.join(d, "not-pem.txt")
    with open(notpem, "w") as f:
        f.write("this is not a certificate\n")
    broken = os.path.join(d, "broken.pem")
    with open(broken, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot!base64\n"
                "-----END CERTIFICATE-----\n")
    enc = os.path.join(d, "encrypted.key")
    subprocess.run(["openssl", "pkey", "-in", pki.client_key, "-out", enc,
                    "-aes256", "-passout", "pass:secret"], check=True,
                   capture_output=True)
    emptydir = tempfile.mkdtemp(dir=d)
    missing = os.path.join(d, "no-such-file.pem")
    cases = [
        (ca_file(missing), ["H5S3CACertificateFile", missing, "cannot be "
                            "read"]),
        (ca_file(notpem), ["H5S3CACertificateFile", notpem, "no PEM "
                           "certificate"]),
        (ca_file(pki.client_key), ["H5S3CACertificateFile", pki.client_key,
                                   "no PEM certificate"]),
        (ca_file(broken), ["H5S3CACertificateFile", broken, "not parse"]),
        (ca_file(d), ["H5S3CACertificateFile", d, "not a regular file"]),
        ("    H5S3CACertificatePath %s\n" % emptydir,
         ["H5S3CACertificatePath", emptydir, "hashed"]),
        ("    H5S3CACertificatePath %s\n" % missing,
         ["H5S3CACertificatePath", missing]),
        (client_cert(missing, pki.client_key),
         ["H5S3ClientCertificateFile", missing, "cannot be read"]),
        (client_cert(pki.client_cert, missing),
         ["H5S3ClientCertificateFile", missing, "cannot be read"]),
        (client_cert(notpem, pki.client_key),
         ["H5S3ClientCertificateFile", notpem, "no PEM certificate"]),
        (client_cert(pki.client_cert, notpem),
         ["H5S3ClientCertificateFile", notpem, "no PEM private key"]),
        (client_cert(pki.client_cert),
         ["H5S3ClientCertificateFile", pki.client_cert,
          "no PEM private key"]),
        (client_cert(pki.client_cert, pki.stranger_key),
         ["H5S3ClientCertificateFile", pki.stranger_key, "does not match",
          pki.client_cert]),
        (client_cert(pki.client_cert, enc),
         ["H5S3ClientCertificateFile", enc, "encrypted"]),
    ]
    for extra, needles in cases:
        rc, out = check(make_httpd, rgw, extra)
        assert rc != 0, (extra, out)
        for n in needles:
            assert n in out, (n, out)
    # A key's bytes are never quoted, whatever the failure.
    body = [ln for ln in open(pki.client_key).read().splitlines()
            if not ln.startswith("-----")]
    rc, out = check(make_httpd, rgw, ca_file(pki.client_key))
    assert not any(ln in out for ln in body)


# ---- one handshake per pooled connection ------------------------------------

def test_one_handshake_per_pooled_connection(rgw, make_httpd, mpm, pki):
    """Forty listings, each an S3 request (H5S3ListTTL 0): the handshakes
    the TLS front counts stay at most one per httpd process (the pooled
    handle's connection is reused), far below the requests the RGW
    served."""
    with TLSFront(rgw.port, pki.server_cert, pki.server_key) as f:
        h = make_httpd(tls_vhost(rgw, f.endpoint, extra=ca_file(pki.ca)
                                 + "    H5S3ListTTL 0\n"), mpm=mpm)
        mark = rgw.request_count()
        n = 40
        for _ in range(n):
            status, _, got = get_json(h, "/hdf/files", host=A)
            assert status == 200 and got["cached"] is False, got
        requests = len(rgw.requests_since(mark))
        handshakes, resumed, failed = f.counts()
        procs = 10 if mpm == "prefork" else 4      # harness ServerLimit
        print("\n%s: %d HTTP requests, %d S3 requests, %d TLS handshakes "
              "(%d resumed), %d failed" % (mpm, n, requests, handshakes,
                                           resumed, failed))
        assert requests >= n
        assert failed == 0, f.errors
        assert 1 <= handshakes <= procs, (handshakes, requests)
        assert handshakes * 4 <= requests
        # Concurrent requests need more connections in one process: they
        # resume the TLS session of the process's first one.
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            for _ in range(3):
                for status, _, got in ex.map(
                        lambda _: get_json(h, "/hdf/files", host=A),
                        range(8)):
                    assert status == 200, got
        h2, r2, failed = f.counts()
        print("%s: then 24 concurrent: %d handshakes (%d resumed)"
              % (mpm, h2, r2))
        # Still one per pooled connection: at most one per request a
        # process can serve at once (harness: prefork 10 x 1, event 4 x 8).
        assert failed == 0 and h2 <= (10 if mpm == "prefork" else 32), h2
