"""Helpers for the operations tests (ops/): vhost blocks with
per-Location directives, loads of modules the harness does not load, and
a load generator that opens a new connection per request so that several
httpd processes serve it."""

import http.client
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

from .httpd import MODULES_DIR, builtin_modules
from .plugin import s3_directives
from .s3server import free_port


def load(*names):
    """LoadModule lines for standard modules the harness does not load."""
    out = ""
    for n in names:
        if n in builtin_modules():
            continue
        out += "LoadModule %s_module %s/mod_%s.so\n" % (n, MODULES_DIR, n)
    return out


def ops_vhost(rgw, name, buckets=("h5data",), location="/hdf", loc="",
              extra="", creds=True):
    """A name-based vhost with `loc` inside its h5s3 <Location>."""
    body = s3_directives(rgw, buckets, credentials=creds) if rgw else ""
    return ("<VirtualHost *:*>\n    ServerName %s\n"
            "    AllowEncodedSlashes NoDecode\n%s%s"
            "    <Location %s>\n        SetHandler h5s3\n"
            "        H5S3DebugHeaders On\n%s    </Location>\n"
            "</VirtualHost>\n" % (name, body, extra, location, loc))


REMOTEIP = (load("remoteip") + "RemoteIPHeader X-Forwarded-For\n"
            "RemoteIPInternalProxy 127.0.0.1\n")


def one_request(port, path, host=None, headers=None, method="GET",
                timeout=30):
    """(status, headers, body) on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = dict(headers or {})
        if host:
            h["Host"] = host
        conn.request(method, path, headers=h)
        r = conn.getresponse()
        return r.status, r.headers, r.read()
    finally:
        conn.close()


def hammer(port, path, seconds, threads=8, host=None, headers_for=None,
           per_second=400):
    """Send about `per_second` requests a second from `threads` threads
    for `seconds`, each on a new connection (paced: every connection
    leaves a TIME_WAIT socket, and the machine's ephemeral ports are
    shared with everyone).  Returns (results, first_start, last_end) where
    results are (thread index, status, headers, body, start, end).  port
    may be a list: a fleet behind a round-robin balancer, the n-th request
    going to port[n % len(port)]."""
    results = []
    lock = threading.Lock()
    ports = port if isinstance(port, (list, tuple)) else [port]
    sent = [0]
    start = time.monotonic()
    stop_at = start + seconds
    interval = float(threads) / per_second

    def worker(i):
        hdrs = headers_for(i) if headers_for else None
        due = start + interval * i / threads
        while True:
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)
            if time.monotonic() >= stop_at:
                break
            due += interval
            with lock:
                to = ports[sent[0] % len(ports)]
                sent[0] += 1
            t0 = time.monotonic()
            try:
                s, h, b = one_request(to, path, host=host, headers=hdrs)
            except OSError as e:
                s, h, b = -1, {}, repr(e).encode()
            with lock:
                results.append((i, s, h, b, t0, time.monotonic()))

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    first = min(r[4] for r in results)
    last = max(r[5] for r in results)
    return results, first, last


def status_auto(h):
    """/server-status?auto as a dict of the mod_h5s3 lines."""
    s, _, body = h.get("/server-status?auto")
    assert s == 200
    out = {}
    for ln in body.decode().splitlines():
        k, _, v = ln.partition(": ")
        if k.startswith("H5S3"):
            out[k] = v
    return out


class Daemon:
    """A redis-server or memcached on a free loopback port."""

    def __init__(self, argv_for_port, name):
        self.port = free_port()
        self.name = name
        self.argv_for_port = argv_for_port
        self.start()

    def start(self):
        """(Re)start on the same port."""
        self.proc = subprocess.Popen(self.argv_for_port(self.port),
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=0.5):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("%s did not start on port %d"
                           % (self.name, self.port))

    def command(self, line):
        """One text-protocol command; the first reply chunk."""
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=5) as s:
            s.sendall(line.encode() + b"\r\n")
            return s.recv(65536).decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def redis_server():
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    return Daemon(lambda port: [exe, "--port", str(port), "--bind",
                                "127.0.0.1", "--save", "", "--appendonly",
                                "no", "--daemonize", "no"], "redis-server")


def memcached():
    exe = shutil.which("memcached") or "/usr/bin/memcached"
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    return Daemon(lambda port: [exe, "-l", "127.0.0.1", "-p", str(port),
                                "-U", "0", "-m", "64"] + user, "memcached")
