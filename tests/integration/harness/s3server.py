"""A real S3 server for tests: private single-node Ceph RGW on loopback.

Wraps tests/s3/rgw.sh.  Every request radosgw serves is one "beast:" line in
WORKDIR/rgw.log, which request_count()/log_lines() read so a test can state
how many S3 requests one HTTP request caused.
"""

import os
import re
import shutil
import random
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
RGW_SH = os.path.join(REPO, "tests", "s3", "rgw.sh")
SEED_PY = os.path.join(REPO, "tests", "s3", "seed.py")
PYTHON = "/usr/bin/python3"

TEST_ACCESS_KEY = "H5S3TESTACCESSKEY001"
TEST_SECRET_KEY = "h5s3TestSecretKey/0123456789abcdefABCDEF"

# ... [21/Nov/2026:03:59:35.691 +0000] "GET /b/k HTTP/1.1" 206 231 - ...
_BEAST_RE = re.compile(
    r'beast: \S+ (?P<client>\S+) - (?P<user>\S+) \[[^\]]*\] '
    r'"(?P<method>[A-Z]+) (?P<target>\S+) [^"]*" (?P<status>\d{3}) '
    r'(?P<bytes>\d+|-)')

_rng = random.SystemRandom()

# Sockets kept open so the ports they reserve stay ours (see closed_port).
_reserved = []


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago.

    Chosen below the kernel's ephemeral range: load tests can leave tens of
    thousands of TIME-WAIT sockets there, which makes bind(0) fail."""
    for _ in range(1000):
        port = _rng.randrange(20000, 32000)
        if _ports_free(port, 1):
            return port
    raise RuntimeError("no free port found")


def closed_port():
    """A port on 127.0.0.1 that refuses connections ("S3 down").

    The socket stays bound (never listening) for the life of the process,
    so no other test can start a server there by chance."""
    s = socket.socket()
    s.bind(("127.0.0.1", free_port()))
    _reserved.append(s)
    return s.getsockname()[1]


def silent_port():
    """A port that accepts TCP connections and never answers ("S3 hangs").

    The kernel completes handshakes into the backlog; nobody accepts."""
    s = socket.socket()
    s.bind(("127.0.0.1", free_port()))
    s.listen(128)
    _reserved.append(s)
    return s.getsockname()[1]


def _ports_free(base, count):
    for p in range(base, base + count):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                return False
    return True


def _port_block(count=10):
    """A base port with `count` consecutive free ports after it."""
    for _ in range(1000):
        base = _rng.randrange(20000, 32000 - count)
        if _ports_free(base, count):
            return base
    raise RuntimeError("no block of %d free ports found" % count)


def parse_beast(line):
    """{'method', 'target', 'status', 'bytes', 'user'} for one access line."""
    m = _BEAST_RE.search(line)
    if not m:
        return None
    d = m.groupdict()
    d["status"] = int(d["status"])
    d["bytes"] = 0 if d["bytes"] == "-" else int(d["bytes"])
    return d


class RGW:
    """One private Ceph RGW.  start() rebuilds it from scratch (memstore)."""

    def __init__(self, workdir=None, port=None, access_key=TEST_ACCESS_KEY,
                 secret_key=TEST_SECRET_KEY, region="us-east-1"):
        self._own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="h5s3-rgw-")
        self.port = port
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.started = False
        self.start_seconds = None

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def log_path(self):
        return os.path.join(self.workdir, "rgw.log")

    def start(self, timeout=90, attempts=3):
        """Start and wait for 'ready'; retries on another block of ports."""
        last = None
        for _ in range(attempts):
            port = self.port or _port_block()
            t0 = time.monotonic()
            r = subprocess.run(
                [RGW_SH, "start", self.workdir, str(port), self.access_key,
                 self.secret_key],
                stdin=subprocess.DEVNULL, capture_output=True, text=True,
                timeout=timeout)
            if r.returncode == 0 and r.stdout.strip().endswith("ready"):
                self.port = port
                self.started = True
                self.start_seconds = time.monotonic() - t0
                return self
            last = "rc=%d\n%s\n%s" % (r.returncode, r.stdout, r.stderr)
            if self.port:
                break
        raise RuntimeError("rgw.sh start failed: " + (last or ""))

    def stop(self, remove=None):
        subprocess.run([RGW_SH, "stop", self.workdir],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=60)
        self.started = False
        if remove if remove is not None else self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def create_buckets(self, *names):
        subprocess.run([RGW_SH, "mb", self.workdir, *names],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       check=True, timeout=90)

    def seed(self, fixtures_dir, timeout=300):
        """Run tests/s3/seed.py against this server; returns its summary."""
        r = subprocess.run(
            [PYTHON, SEED_PY, "--endpoint", self.endpoint, "--access",
             self.access_key, "--secret", self.secret_key, "--region",
             self.region, "--fixtures", fixtures_dir],
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("seed.py failed:\n%s\n%s" % (r.stdout,
                                                             r.stderr))
        return r.stdout.strip()

    def client(self, secret_key=None, access_key=None, anonymous=False):
        """A boto3 S3 client (path style): the independent oracle."""
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config
        cfg = {"s3": {"addressing_style": "path"},
               "retries": {"max_attempts": 1}}
        if anonymous:
            cfg["signature_version"] = UNSIGNED
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=self.region,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(**cfg))

    # ---- access log ------------------------------------------------------

    def _raw_beast_lines(self):
        try:
            with open(self.log_path, encoding="utf-8",
                      errors="replace") as f:
                return [ln.rstrip("\n") for ln in f if " beast: " in ln]
        except FileNotFoundError:
            return []

    def log_lines(self, settle=True):
        """All radosgw access lines so far.

        radosgw writes its log from a separate thread: with settle, wait
        until the count stops changing (100 ms quiet, 2 s at most)."""
        lines = self._raw_beast_lines()
        if not settle:
            return lines
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            time.sleep(0.1)
            again = self._raw_beast_lines()
            if len(again) == len(lines):
                break
            lines = again
        return lines

    def request_count(self, settle=True):
        """Number of S3 requests radosgw has served so far."""
        return len(self.log_lines(settle))

    def requests_since(self, mark, settle=True):
        """Parsed access entries after a request_count() mark."""
        return [parse_beast(ln) for ln in self.log_lines(settle)[mark:]]
