"""S3 over TLS for tests: a private PKI made with the openssl CLI, and a
small TLS-terminating forwarder in front of a plain-HTTP S3 (the RGW).

    pki = make_pki(directory)        # CAs, server and client certificates
    with TLSFront(rgw.port, pki.server_cert, pki.server_key) as front:
        endpoint = front.endpoint    # https://127.0.0.1:PORT
        ...
        front.handshakes             # completed handshakes (full + resumed)
        front.resumed                # of which resumed a TLS session
        front.failed                 # handshakes that failed

client_ca= makes the front require a client certificate signed by that
CA (ssl.CERT_REQUIRED).  Each accepted connection is served by a thread
of its own that forwards bytes both ways to one upstream connection, so
one TLS connection is one upstream connection: the RGW's access log
counts the requests, the front counts the handshakes.
"""

import os
import select
import socket
import ssl
import subprocess
import threading
from types import SimpleNamespace

OPENSSL = "openssl"


def _run(*args, cwd):
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True,
                   stdin=subprocess.DEVNULL, capture_output=True)


def _ca(d, name, cn):
    _run("req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", name + ".key",
         "-out", name + ".pem", "-days", "3", "-subj", "/CN=" + cn,
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def _leaf(d, name, ca, cn, ext):
    """A P-256 key and a certificate for it signed by CA `ca`."""
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\n" + ext + "\n")
    _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
         "-subj", "/CN=" + cn, cwd=d)
    _run("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem",
         "-CAkey", ca + ".key", "-CAcreateserial", "-out", name + ".pem",
         "-days", "3", "-extfile", name + ".ext", cwd=d)


def make_pki(d):
    """Every file the TLS tests need, in directory d (made world-readable
    but for the keys, which stay 0600 like a real deployment's)."""
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    _ca(d, "ca", "h5s3 test CA")
    _ca(d, "other-ca", "h5s3 unrelated CA")
    _ca(d, "client-ca", "h5s3 test client CA")
    _leaf(d, "server", "ca", "127.0.0.1",
          "extendedKeyUsage=serverAuth\n"
          "subjectAltName=IP:127.0.0.1,DNS:localhost")
    _leaf(d, "wrong-name", "ca", "s3.elsewhere.test",
          "extendedKeyUsage=serverAuth\n"
          "subjectAltName=DNS:s3.elsewhere.test")
    _leaf(d, "client", "client-ca", "h5s3 module",
          "extendedKeyUsage=clientAuth")
    _leaf(d, "stranger", "other-ca", "h5s3 stranger",
          "extendedKeyUsage=clientAuth")
    # A hashed directory holding the CA, as `H5S3CACertificatePath` wants.
    cadir = os.path.join(d, "cadir")
    os.makedirs(cadir, exist_ok=True)
    with open(os.path.join(d, "ca.pem"), "rb") as src, \
            open(os.path.join(cadir, "ca.pem"), "wb") as dst:
        dst.write(src.read())
    _run("rehash", cadir, cwd=d)
    for n in os.listdir(d):
        p = os.path.join(d, n)
        if os.path.isfile(p):
            os.chmod(p, 0o600 if n.endswith(".key") else 0o644)
    os.chmod(cadir, 0o755)
    for n in os.listdir(cadir):
        os.chmod(os.path.join(cadir, n), 0o644)
    j = lambda n: os.path.join(d, n)   # noqa: E731
    return SimpleNamespace(
        dir=d, ca=j("ca.pem"), ca_dir=cadir, other_ca=j("other-ca.pem"),
        client_ca=j("client-ca.pem"),
        server_cert=j("server.pem"), server_key=j("server.key"),
        wrong_name_cert=j("wrong-name.pem"), wrong_name_key=j("wrong-name.key"),
        client_cert=j("client.pem"), client_key=j("client.key"),
        stranger_cert=j("stranger.pem"), stranger_key=j("stranger.key"))


class TLSFront:
    """A threaded TLS terminator on 127.0.0.1 forwarding to upstream_port."""

    def __init__(self, upstream_port, certfile, keyfile, client_ca=None):
        self.upstream_port = upstream_port
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        if client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(client_ca)
        self.ctx = ctx
        self.handshakes = 0
        self.resumed = 0
        self.failed = 0
        self.errors = []
        self._lock = threading.Lock()
        self._socks = set()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        self._stopping = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def endpoint(self):
        return "https://127.0.0.1:%d" % self.port

    def counts(self):
        with self._lock:
            return self.handshakes, self.resumed, self.failed

    def _accept(self):
        while not self._stopping:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _track(self, s, add=True):
        with self._lock:
            (self._socks.add if add else self._socks.discard)(s)

    def _serve(self, conn):
        self._track(conn)
        conn.settimeout(10)
        tls = None
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True,
                                       do_handshake_on_connect=False)
            self._track(tls)
            tls.do_handshake()
        except (OSError, ssl.SSLError) as e:
            with self._lock:
                self.failed += 1
                self.errors.append(str(e))
            self._linger(tls or conn)
            return
        with self._lock:
            self.handshakes += 1
            self.resumed += 1 if tls.session_reused else 0
        try:
            up = socket.create_connection(("127.0.0.1", self.upstream_port),
                                          timeout=10)
        except OSError:
            tls.close()
            self._track(conn, False)
            return
        self._track(up)
        try:
            self._pump(tls, up)
        except (OSError, ssl.SSLError):
            pass
        finally:
            for s in (tls, up):
                try:
                    s.close()
                except OSError:
                    pass
                self._track(s, False)
            self._track(conn, False)

    def _linger(self, s):
        """Close the way a careful server does: our alert goes out, then
        what the client already sent is read, so the kernel sends no RST
        (which would discard the alert before the client reads it)."""
        try:
            socket.socket.shutdown(s, socket.SHUT_WR)
            s.settimeout(2)
            while socket.socket.recv(s, 65536):
                pass
        except OSError:
            pass
        finally:
            s.close()
            self._track(s, False)

    @staticmethod
    def _pump(tls, up):
        """Bytes both ways on one thread (an SSL object is not for two)."""
        tls.settimeout(None)
        up.settimeout(None)
        while True:
            ready = [tls] if tls.pending() else \
                select.select([tls, up], [], [], 60)[0]
            if not ready:
                return
            if tls in ready:
                data = tls.recv(65536)
                if not data:
                    return
                up.sendall(data)
            if up in ready:
                data = up.recv(65536)
                if not data:
                    return
                tls.sendall(data)

    def stop(self):
        self._stopping = True
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
