"""Hostile DeltaGlider input and process hardening (issue 12), against a
real httpd (both MPMs where it matters), a real Ceph RGW and deltas made
by the xdelta3 tool: the reference cache is kept apart per vhost scope
and bucket, a delta's dg-ref-path cannot leave its deltaspace, the
savings job list stays bounded, and xdelta3 inherits no descriptor but
its standard three."""

import hashlib
import http.client
import json
import os
import re
import shutil
import time

import pytest

from harness.api_common import (HOST, LOC, api_conf, assert_api_error, dg_meta,
                                prepare, rgw_refcache_name, sha256, xdelta)
from harness.common import make_bucket
from harness.delay_proxy import DelayProxy
from harness.ops_util import status_auto

A, B = "dgseca", "dgsecb"       # this module's own buckets
REF = "rel/reference.bin"
KEY = "rel/app-2.zip"


@pytest.fixture(scope="module")
def hostile(rgw, tmp_path_factory):
    """A and B each hold rel/reference.bin and the same delta against it,
    whose dg-ref-sha256 is the hash of A's reference; B's reference has
    one byte flipped (its own metadata still claims the good hash)."""
    s3 = rgw.client()
    tmp = str(tmp_path_factory.mktemp("dgsec"))
    make_bucket(s3, A, B)
    seed = hashlib.sha256(b"sec").digest()
    base = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest()
                    for i in range(1024 * 1024 // 32))
    v2 = base[:300000] + b"PATCHED" * 500 + base[303500:]
    bad = bytearray(base)
    bad[500000] ^= 0xFF
    d = xdelta(base, v2, tmp)
    refmeta = {"dg-tool": "test/1", "dg-file-sha256": sha256(base),
               "dg-note": "reference"}
    for b, ref in ((A, base), (B, bytes(bad))):
        s3.put_object(Bucket=b, Key=REF, Body=ref, Metadata=refmeta)
        s3.put_object(Bucket=b, Key=KEY + ".delta", Body=d,
                      Metadata=dg_meta("app-2.zip", v2, REF, sha256(base),
                                       d))
    return {"ref_sha": sha256(base), "sha": sha256(v2), "size": len(v2),
            "delta": d, "v2": v2, "base": base}


def conf(rgw, name=HOST, endpoint=None):
    return api_conf(rgw, name=name, buckets=((A, "a"), (B, "b")),
                    endpoint=endpoint)


def fetch(h, token, host=HOST):
    return h.request("GET", LOC + "/api/download/" + token, host=host)


def download_ok(h, alias, key, want, host=HOST):
    tok = prepare(h, alias, key, host=host)["download_token"]
    status, _, body = fetch(h, tok, host=host)
    assert status == 200, body[:300]
    assert sha256(body) == want["sha"] and len(body) == want["size"]


def cached_refs(h):
    """The reference files in h's cache (the directory also holds the
    spools of requests still cleaning up after their last byte)."""
    return sorted(n for n in os.listdir(h.path("h5s3-refcache"))
                  if re.fullmatch(r"ref-[0-9a-f]{64}\.bin", n))


def s3_gets(rgw, mark):
    """The targets of the S3 GETs since mark (query strings cut off)."""
    return [e["target"].split("?")[0] for e in rgw.requests_since(mark)
            if e and e["method"] == "GET"]


# ------------------------------------------------ the reference cache ----

def test_reference_cached_for_one_bucket_never_serves_another(
        rgw, make_httpd, mpm, hostile):
    h = make_httpd(conf(rgw), mpm=mpm)
    cache = h.path("h5s3-refcache")
    a_file = rgw_refcache_name(rgw, A, REF, hostile["ref_sha"])
    download_ok(h, "a", KEY, hostile)
    assert len(cached_refs(h)) == 1

    # B's delta names the same reference hash; A's good copy is cached,
    # yet B's own (corrupted) reference is fetched, and refused.
    mark = rgw.request_count()
    tok = prepare(h, "b", KEY)["download_token"]
    status, hdrs, body = fetch(h, tok)
    assert status == 400, body[:300]
    assert hdrs["Content-Type"].startswith("application/json")
    err = json.loads(body)
    assert_api_error(err, "integrity_failed")
    assert err["error"]["details"]["reason"].startswith(
        "reference %s has SHA-256 " % REF)
    assert "/%s/%s" % (B, REF) in s3_gets(rgw, mark)
    # Nothing of B's was cached, A's copy is intact and still serves A
    # without another S3 GET of its reference.
    assert cached_refs(h) == [a_file]
    with open(os.path.join(cache, a_file), "rb") as f:
        assert sha256(f.read()) == hostile["ref_sha"]
    mark = rgw.request_count()
    download_ok(h, "a", KEY, hostile)
    assert "/%s/%s" % (A, REF) not in s3_gets(rgw, mark)


@pytest.fixture
def other_endpoint(rgw):
    """Another S3 endpoint (a forwarding proxy) in front of the same RGW."""
    proxy = DelayProxy("127.0.0.1", rgw.port, delay=0).start()
    try:
        yield proxy.endpoint
    finally:
        proxy.stop()


def test_vhosts_with_other_endpoints_keep_their_own_copies(
        rgw, make_httpd, hostile, other_endpoint):
    """Two vhosts reach the same bucket through different endpoints:
    each fetches and caches its own copy of the reference."""
    other = other_endpoint
    assert other != rgw.endpoint
    h = make_httpd(conf(rgw, name="one.test")
                   + conf(rgw, name="two.test", endpoint=other))
    target = "/%s/%s" % (A, REF)

    mark = rgw.request_count()
    download_ok(h, "a", KEY, hostile, host="one.test")
    assert target in s3_gets(rgw, mark)
    mark = rgw.request_count()
    download_ok(h, "a", KEY, hostile, host="two.test")
    assert target in s3_gets(rgw, mark)
    mark = rgw.request_count()
    download_ok(h, "a", KEY, hostile, host="one.test")
    download_ok(h, "a", KEY, hostile, host="two.test")
    assert target not in s3_gets(rgw, mark)
    assert cached_refs(h) == sorted([
        rgw_refcache_name(rgw, A, REF, hostile["ref_sha"]),
        rgw_refcache_name(rgw, A, REF, hostile["ref_sha"], endpoint=other)])


# ------------------------------------------------------- dg-ref-path ----

# dg-ref-path values that leave (or could leave) the delta's deltaspace.
HOSTILE_PATHS = {
    "dotdot": "../secret/reference.bin",
    "dotdot-deep": "sub/../../secret/reference.bin",
    "absolute": "/secret/reference.bin",
    "empty-segment": "sub//reference.bin",
    "dot": "./reference.bin",
    "backslash": "..\\secret\\reference.bin",
}
# (Control characters never get this far: RGW refuses them in metadata.
# The unit tests and the fuzz seeds of fuzz_dg_meta cover them.)


@pytest.fixture(scope="module")
def ref_paths(rgw, hostile, tmp_path_factory):
    """In A: secret/reference.bin (outside hp/) and, for each hostile
    path, hp/<case>.zip.delta: a real delta against that secret
    reference, its dg-ref-sha256 right, reached only by dg-ref-path."""
    s3 = rgw.client()
    tmp = str(tmp_path_factory.mktemp("dgsecpath"))
    secret = hashlib.sha256(b"secret").digest() * 4096
    target = secret[:50000] + b"leaked?" + secret[50000:]
    d = xdelta(secret, target, tmp)
    s3.put_object(Bucket=A, Key="secret/reference.bin", Body=secret,
                  Metadata={"dg-tool": "test/1", "dg-note": "reference",
                            "dg-file-sha256": sha256(secret)})
    for case, path in HOSTILE_PATHS.items():
        m = dg_meta(case + ".zip", target, None, sha256(secret), d)
        del m["dg-ref-key"]
        m["dg-ref-path"] = path
        s3.put_object(Bucket=A, Key="hp/%s.zip.delta" % case, Body=d,
                      Metadata=m)
        got = s3.head_object(Bucket=A, Key="hp/%s.zip.delta" % case)
        assert got["Metadata"]["dg-ref-path"] == path, case
    return {"size": len(target)}


def api(h, method, path, body=None):
    hdrs = {"Content-Type": "application/json"} if body else {}
    status, _, data = h.request(method, LOC + path, host=HOST, headers=hdrs,
                                body=json.dumps(body) if body else None)
    return status, json.loads(data)


def assert_refused(status, body, why):
    assert status == 400, body
    assert_api_error(body, "integrity_failed")
    assert body["error"]["message"] == \
        "The object's DeltaGlider metadata is malformed"
    assert why in body["error"]["details"]["reason"], body


@pytest.mark.parametrize("case", sorted(HOSTILE_PATHS))
def test_ref_path_outside_the_deltaspace_is_refused(
        rgw, make_httpd, ref_paths, case):
    h = make_httpd(conf(rgw))
    key = "hp/%s.zip" % case
    why = {"dotdot": "'..'", "dotdot-deep": "'..'", "absolute": "absolute",
           "empty-segment": "empty segment", "dot": "'.'",
           "backslash": "backslash"}[case]
    mark = rgw.request_count()
    status, body = api(h, "GET", "/api/objects/a/%s/metadata" % key)
    assert_refused(status, body, why)
    assert body["error"]["details"]["key"] == key
    status, body = api(h, "POST", "/api/download/prepare",
                       {"bucket": "a", "key": key})
    assert_refused(status, body, why)
    # Nothing but a look at the delta itself went to S3: no GET, and no
    # request at all outside hp/.
    seen = rgw.requests_since(mark)
    assert seen and all(e["method"] == "HEAD" for e in seen), seen
    assert all(e["target"].split("?")[0].startswith("/%s/hp/" % A)
               for e in seen), seen
    # The listing still shows the object (at its stored size).
    status, body = api(h, "GET", "/api/objects?bucket=a&prefix=hp/")
    assert status == 200, body
    row = {o["key"]: o for o in body["objects"]}[key]
    assert row["compressed"] is True
    log = "\n".join(h.error_log_lines())
    assert "H5S3-0136: %s/%s: DeltaGlider metadata refused: dg-ref-path" \
        % (A, key) in log


def test_ref_path_refused_at_download_too(rgw, make_httpd, ref_paths):
    """A token prepared before the metadata turned hostile: the download
    itself refuses, and fetches nothing."""
    h = make_httpd(conf(rgw))
    s3 = rgw.client()
    key = "hp/late.zip"
    src = s3.get_object(Bucket=A, Key="hp/dotdot.zip.delta")
    body = src["Body"].read()
    good = dict(src["Metadata"], **{"dg-ref-path": "reference.bin"})
    s3.put_object(Bucket=A, Key=key + ".delta", Body=body, Metadata=good)
    tok = prepare(h, "a", key)["download_token"]
    # Same bytes (same ETag), the metadata rewritten in place.
    bad = dict(good, **{"dg-ref-path": "../secret/reference.bin"})
    s3.copy_object(Bucket=A, Key=key + ".delta", Metadata=bad,
                   MetadataDirective="REPLACE",
                   CopySource={"Bucket": A, "Key": key + ".delta"})
    mark = rgw.request_count()
    status, _, data = fetch(h, tok)
    assert_refused(status, json.loads(data), "'..'")
    assert [e["method"] for e in rgw.requests_since(mark)] == ["HEAD"]


# ------------------------------------------------------ savings jobs ----

SAV = "dgsecsav"        # one small object: a job takes a few milliseconds
POSTS = 2000


def status_gauges(h):
    """(running, held) savings jobs from /server-status?auto."""
    st = status_auto(h)
    return int(st["H5S3SavingsJobs"]), int(st["H5S3SavingsJobRecords"])


def wait_gauges(h, want, timeout=20):
    end = time.monotonic() + timeout
    while True:
        got = status_gauges(h)
        if got == want or time.monotonic() > end:
            return got
        time.sleep(0.05)


def test_savings_job_records_stay_bounded(rgw, make_httpd, mpm):
    """Thousands of compute-savings POSTs on one keep-alive connection
    (so one process takes them all): finished jobs are forgotten, and
    mod_status's exact count of job records never grows."""
    s3 = make_bucket(rgw.client(), SAV)
    s3.put_object(Bucket=SAV, Key="notes.txt", Body=b"small\n")
    h = make_httpd("KeepAlive On\nMaxKeepAliveRequests 0\n"
                   "KeepAliveTimeout 30\n"
                   + api_conf(rgw, buckets=((SAV, "s"),)), mpm=mpm)
    conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    path = LOC + "/api/buckets/s/compute-savings"

    def post():
        conn.request("POST", path, headers={"Host": HOST, "Content-Type":
                                            "application/json"})
        r = conn.getresponse()
        body = json.loads(r.read())
        assert r.status == 202, body
        assert not r.will_close     # still the same connection, process
        return body["task_id"]

    tasks, peak = set(), (0, 0)
    try:
        for i in range(POSTS):
            tasks.add(post())
            if i % 100 == 99:
                got = status_gauges(h)
                peak = max(peak, got)
                # At most the running job and one whose claim was just
                # dropped, in the one process that took the POSTs.
                assert got[1] <= 2 and got[0] <= got[1], (i, got)
        # Many jobs were started (and forgotten) along the way.
        assert len(tasks) >= 50, len(tasks)
        # All finished: each is held until the next POST of its process,
        # which forgets every finished job and holds only its own.
        assert wait_gauges(h, (0, 1)) == (0, 1)
        tasks.add(post())
        assert wait_gauges(h, (0, 1)) == (0, 1)
    finally:
        conn.close()
    # A graceful restart retires the process: nothing is left anywhere.
    h.graceful()
    assert wait_gauges(h, (0, 0)) == (0, 0)
    done = [ln for ln in h.error_log_lines() if "H5S3-0120" in ln]
    assert len(done) == len(tasks), (len(done), len(tasks), peak)


# ------------------------------------------- what xdelta3 inherits ----

# First on httpd's PATH: records the descriptors the spawned process
# holds (its own shell's script descriptor aside) and its blocked and
# ignored signals, then runs the real xdelta3 in its place.  A child
# shell writes the records: dash applies a simple command's
# redirections in the shell itself (saving the originals on descriptors
# of its own), which would be listed too.  The signals are read from
# grep's own /proc/self: a fork child starts with the mask its parent
# had, while the parent's /proc/$1/status may be read in the middle of
# one of its forks, when the C library blocks every signal for a moment.
FD_WRAPPER = """#!/bin/sh
out=%(dir)s/run.$$
/bin/sh -c 'ls -l /proc/$1/fd > "$2.fds"
grep -E "^Sig(Blk|Ign):" /proc/self/status > "$2.sig"' rec $$ "$out"
echo "$*" > "$out.args"
exec %(real)s "$@"
"""


def inherited(path, wrapper):
    """fd -> link target of one recorded run, the wrapper's own (the
    shell reading the script) left out."""
    fds = {}
    with open(path) as f:
        for line in f:
            if " -> " not in line:
                continue
            left, target = line.rstrip("\n").split(" -> ", 1)
            if target == wrapper:
                continue
            fds[int(left.split()[-1])] = target
    return fds


@pytest.fixture
def fd_server(rgw, make_httpd, mpm, hostile):
    h = make_httpd(conf(rgw).replace(
        "    H5S3TokenSecret", "    H5S3Upload On\n    H5S3TokenSecret"),
        mpm=mpm, start=False)
    # Run by the children (www-data when we are root).
    wrap_dir = h.path("xdelta3-fds")
    os.makedirs(wrap_dir, exist_ok=True)
    os.chmod(wrap_dir, 0o777)
    wrapper = os.path.join(wrap_dir, "xdelta3")
    with open(wrapper, "w") as f:
        f.write(FD_WRAPPER % {"dir": wrap_dir,
                              "real": shutil.which("xdelta3")})
    os.chmod(wrapper, 0o755)
    h.env["PATH"] = wrap_dir + ":/usr/sbin:/usr/bin:/sbin:/bin"
    h.start()
    h.wrap_dir, h.wrapper = wrap_dir, wrapper
    return h


def test_xdelta3_inherits_only_its_standard_descriptors(fd_server, rgw,
                                                        hostile):
    h = fd_server
    # Decoding: a download (twice: fetched reference, then cached).
    for _ in range(2):
        download_ok(h, "a", KEY, hostile)
    # Encoding: an upload that makes a reference and a zero-diff delta,
    # then one that is a delta against it.
    prefix = "up-%s/" % h.port
    for name, data in (("v1.zip", hostile["base"]),
                       ("v2.zip", hostile["v2"])):
        status, _, body = h.request(
            "POST", LOC + "/api/upload?bucket=a&key=" + prefix + name,
            body=data, host=HOST,
            headers={"Content-Type": "application/octet-stream"})
        assert status == 200, body
        assert json.loads(body)["compressed"] is True
    runs = sorted(f[:-4] for f in os.listdir(h.wrap_dir)
                  if f.endswith(".fds"))
    assert len(runs) == 4, runs
    kinds = []
    for run in runs:
        with open(os.path.join(h.wrap_dir, run + ".args")) as f:
            args = f.read().split()
        fds = inherited(os.path.join(h.wrap_dir, run + ".fds"), h.wrapper)
        assert sorted(fds) == [0, 1, 2], (args, fds)
        # No signal blocked, none of the standard ones ignored (as httpd
        # ignores SIGPIPE); glibc keeps its internal 32 and 33 ignored.
        with open(os.path.join(h.wrap_dir, run + ".sig")) as f:
            sig = dict(line.split(":") for line in f.read().split("\n")
                       if line)
        assert int(sig["SigBlk"], 16) == 0, sig
        assert int(sig["SigIgn"], 16) & 0x7fffffff == 0, sig
        assert "/dgerr-" in fds[2], fds
        if args[0] == "-d":
            kinds.append("decode")
            assert args[:5] == ["-d", "-c", "-B", "8388608", "-s"], args
            assert "/dgdelta-" in fds[0], fds
            assert fds[1].startswith("socket:"), fds
        else:
            kinds.append("encode")
            assert args[0] == "-e", args
            assert fds[0] == fds[1] == "/dev/null", fds
    assert sorted(kinds) == ["decode"] * 2 + ["encode"] * 2
    # Every xdelta3 was reaped: no zombie child of any httpd process.
    children = set(h.child_pids())
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        assert not (fields[0] == "Z" and int(fields[1]) in children), pid
