#!/usr/bin/python3
"""A small threaded HTTP/1.1 proxy on 127.0.0.1 that adds latency (and,
for tests, faults) between an S3 client and the S3 server.

Each connection accepted is paired with one upstream connection.  Every
request head read from the client (request line and headers) waits
`delay` seconds, then goes upstream with its body (Content-Length bytes or
a chunked body); responses are streamed back unchanged.  So a keep-alive
connection pays the delay once per request, as it would over a real
network, and concurrent connections pay it concurrently.

A policy decides what happens to each request (tests use it to break S3
half-way through a read):

    policy(n, method, target, headers) -> "forward" | "close" | "stall"

n counts the requests seen so far (from 0); headers is a dict with lower
case names.  "close" drops both connections without an answer; "stall"
holds the request unanswered until the client gives up (or the proxy
stops).  proxy.policy may be replaced at any time.

    p = DelayProxy("127.0.0.1", rgw_port, delay=0.02).start()
    ... point clients at p.endpoint ...
    p.stop()

Run alone: delay_proxy.py UPSTREAM_PORT [--delay 0.02] [--port N], or
from Python in a process of its own with spawn() when that process also
runs clients that block holding the GIL (h5py calls into HDF5, the ROS3
driver included, without releasing it).
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time

_HEAD_MAX = 64 * 1024


def forward_all(n, method, target, headers):
    return "forward"


class _Conn:
    """One client connection and its upstream twin."""

    def __init__(self, proxy, client):
        self.proxy = proxy
        self.client = client
        self.upstream = None
        self.buf = b""

    # ---- reading the client's bytes ----------------------------------------

    def _fill(self):
        data = self.client.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def _read_head(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > _HEAD_MAX or not self._fill():
                return None
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return head + b"\r\n\r\n"

    def _take(self, n):
        """Up to n bytes: what is buffered first, then the socket."""
        if not self.buf and not self._fill():
            return b""
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_body(self, headers):
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                while b"\r\n" not in self.buf:
                    if not self._fill():
                        return False
                line, self.buf = self.buf.split(b"\r\n", 1)
                self.upstream.sendall(line + b"\r\n")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Trailers, ended by an empty line.
                    while True:
                        while b"\r\n" not in self.buf:
                            if not self._fill():
                                return False
                        t, self.buf = self.buf.split(b"\r\n", 1)
                        self.upstream.sendall(t + b"\r\n")
                        if not t:
                            return True
                if not self._copy(size + 2):
                    return False
        return self._copy(int(headers.get("content-length", "0") or 0))

    def _copy(self, n):
        while n > 0:
            data = self._take(n)
            if not data:
                return False
            self.upstream.sendall(data)
            n -= len(data)
        return True

    # ---- the two directions ------------------------------------------------

    def _pump_responses(self):
        try:
            while True:
                data = self.upstream.recv(65536)
                if not data:
                    break
                with self.proxy.lock:
                    self.proxy.bytes_back += len(data)
                self.client.sendall(data)
        except OSError:
            pass
        finally:
            self._close()

    def _stall(self):
        """Hold the request until the client hangs up or the proxy stops."""
        self.client.settimeout(0.1)
        while not self.proxy.stopping.is_set():
            try:
                if not self.client.recv(65536):
                    break
            except socket.timeout:
                continue
            except OSError:
                break

    def _close(self):
        for s in (self.client, self.upstream):
            if s is None:
                continue
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def run(self):
        p = self.proxy
        try:
            while True:
                head = self._read_head()
                if head is None:
                    break
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                method, target = parts[0], parts[1] if len(parts) > 1 else ""
                headers = {}
                for ln in lines[1:]:
                    if ":" in ln:
                        k, v = ln.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                with p.lock:
                    n = p.requests
                    p.requests += 1
                action = p.policy(n, method, target, headers)
                if action == "close":
                    with p.lock:
                        p.faults += 1
                    break
                if action == "stall":
                    with p.lock:
                        p.faults += 1
                    self._stall()
                    break
                if p.delay > 0:
                    time.sleep(p.delay)
                if self.upstream is None:
                    self.upstream = socket.create_connection(p.upstream,
                                                             timeout=None)
                    self.upstream.setsockopt(socket.IPPROTO_TCP,
                                             socket.TCP_NODELAY, 1)
                    threading.Thread(target=self._pump_responses,
                                     daemon=True).start()
                self.upstream.sendall(head)
                if not self._send_body(headers):
                    break
        except OSError:
            pass
        finally:
            self._close()
            with p.lock:
                p.conns.discard(self)


class DelayProxy:
    def __init__(self, upstream_host, upstream_port, delay=0.020,
                 port=0, policy=None):
        self.upstream = (upstream_host, int(upstream_port))
        self.delay = delay
        self.policy = policy or forward_all
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.requests = 0       # request heads seen
        self.faults = 0         # requests closed or stalled by the policy
        self.bytes_back = 0     # response bytes, headers included
        self.conns = set()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self._thread = None

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        self.sock.listen(256)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def _accept(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                break
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(self, c)
            with self.lock:
                self.conns.add(conn)
            threading.Thread(target=conn.run, daemon=True).start()

    def drop_connections(self):
        """Close every open connection (clients see a reset)."""
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            c._close()

    def stop(self):
        self.stopping.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.drop_connections()
        if self._thread:
            self._thread.join(2)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class SpawnedProxy:
    """DelayProxy in a child process: .endpoint, .port, .stop()."""

    def __init__(self, upstream_port, delay=0.020,
                 upstream_host="127.0.0.1"):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), str(upstream_port),
             "--upstream-host", upstream_host, "--delay", repr(delay)],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("proxy "):
            self.stop()
            raise RuntimeError("delay_proxy.py did not start: %r" % line)
        self.endpoint = line.split()[1]
        self.port = int(self.endpoint.rsplit(":", 1)[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc.stdout.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("upstream_port", type=int)
    ap.add_argument("--upstream-host", default="127.0.0.1")
    ap.add_argument("--delay", type=float, default=0.020)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    p = DelayProxy(args.upstream_host, args.upstream_port, args.delay,
                   args.port).start()
    print("proxy %s -> %s:%d, %.0f ms per request" % (
        p.endpoint, args.upstream_host, args.upstream_port, 1000 * args.delay),
        flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        p.stop()


if __name__ == "__main__":
    main()
