"""A private Apache httpd (Debian's /usr/sbin/apache2) for integration tests.

Httpd writes a complete, minimal httpd.conf of its own (nothing from
/etc/apache2 and no /etc/apache2/envvars), loads the standard modules the
tests need plus, optionally, mod_h5s3, and appends the caller's conf_body
(vhosts, <Location>s, H5S3* directives).  Everything lives in workdir.

Every response request() receives from below an h5s3 <Location> is
validated against openapi.yaml (harness/schema.py): a response
that breaks the contract raises AssertionError.
"""

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

from .s3server import REPO, free_port

APACHE2 = "/usr/sbin/apache2"
MODULES_DIR = "/usr/lib/apache2/modules"
STANDARD_MODULES = ["authz_core", "authz_host", "mime", "alias", "dir",
                    "socache_shmcb", "status", "headers", "setenvif",
                    "log_config"]

# httpd 2.4 writes "[module:level]", e.g. "[h5s3:error]", "[core:crit]".
_PROBLEM_RE = re.compile(r"\[[A-Za-z0-9_.-]*:(error|crit|alert|emerg)\]")
# Worse than any log level: a crashed child (logged at notice) or a
# sanitizer report (written to stderr, which httpd sends to the error log).
_CRASH_RE = re.compile(r"exit signal|AddressSanitizer|LeakSanitizer|"
                       r"ThreadSanitizer|runtime error:|double free|"
                       r"corrupted (size|double)|stack smashing|"
                       r"Segmentation fault|Aborted \(core dumped\)")

ACCESS_LOG_FORMAT = ('%h %{%s}t "%r" %>s %B %D route=%{h5s3-route}n '
                     'cache=%{h5s3-cache}n s3=%{h5s3-s3-requests}n '
                     's3bytes=%{h5s3-s3-bytes}n bucket=%{h5s3-bucket}n '
                     'vhost=%v pid=%P')
_ACCESS_RE = re.compile(
    r'^(?P<client>\S+) (?P<time>\d+) "(?P<request>[^"]*)" (?P<status>\d{3}) '
    r'(?P<bytes>\d+) (?P<usec>\d+) route=(?P<route>\S+) cache=(?P<cache>\S+) '
    r's3=(?P<s3>\S+) s3bytes=(?P<s3bytes>\S+) bucket=(?P<bucket>\S+) '
    r'vhost=(?P<vhost>\S+) pid=(?P<pid>\d+)$')


def default_module_so():
    """$H5S3_MODULE, else <repo>/.libs/mod_h5s3.so."""
    return os.environ.get("H5S3_MODULE") or os.path.join(
        REPO, ".libs", "mod_h5s3.so")


_builtin = None


def builtin_modules():
    """Module names compiled into apache2 (`apache2 -l`), e.g. log_config."""
    global _builtin
    if _builtin is None:
        out = subprocess.run([APACHE2, "-l"], capture_output=True,
                             text=True, stdin=subprocess.DEVNULL,
                             env=_clean_env()).stdout
        _builtin = {m.group(1) for m in re.finditer(r"mod_(\w+)\.c", out)}
    return _builtin


_libasan = None


def sanitizer_env():
    """$H5S3_SANITIZE=1: the module was built with --enable-sanitizers
    (gcc) but apache2 is not, so gcc's ASan runtime is preloaded, leak
    checks are off (httpd's own allocations) and reports go to stderr,
    which httpd turns into error.log: error_log_problems() flags them.
    Values already in the environment win.  {} otherwise."""
    global _libasan
    if os.environ.get("H5S3_SANITIZE") != "1":
        return {}
    if _libasan is None:
        _libasan = subprocess.run(
            ["gcc", "-print-file-name=libasan.so"], capture_output=True,
            text=True, check=True).stdout.strip()
        if not os.path.isabs(_libasan):
            raise HttpdError("H5S3_SANITIZE=1 but gcc has no libasan.so")
    preload = os.environ.get("LD_PRELOAD", "")
    return {
        "LD_PRELOAD": " ".join(x for x in (_libasan, preload) if x),
        "ASAN_OPTIONS": os.environ.get(
            "ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0:"
            "allow_user_segv_handler=0"),
        "UBSAN_OPTIONS": os.environ.get(
            "UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=0"),
    }


def _clean_env(extra=None):
    """A small environment: nothing from /etc/apache2/envvars is needed."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C",
           "LC_ALL": "C"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "LD_PRELOAD",
              "HDF5_PLUGIN_PATH", "TMPDIR"):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(sanitizer_env())
    env.update(extra or {})
    return env


def _pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def _children_of(ppid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(rest[1]) == ppid and rest[0] != "Z":
            kids.append(int(d))
    return sorted(kids)


def _traversable(path):
    """Every ancestor of path is searchable by other users."""
    path = os.path.dirname(os.path.abspath(path))
    while True:
        if not os.stat(path).st_mode & 0o001:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


def _workdir_base():
    """Where default workdirs go: $H5S3_HTTPD_TMP, else the temp dir if
    www-data can reach it, else /tmp."""
    base = os.environ.get("H5S3_HTTPD_TMP") or tempfile.gettempdir()
    if os.geteuid() == 0 and not _traversable(os.path.join(base, "x")):
        base = "/tmp"
    return base


class HttpdError(RuntimeError):
    pass


def _schema_module():
    """harness/schema.py (the openapi.yaml contract), imported when the
    first response is checked: jsonschema and yaml load only then."""
    from . import schema
    return schema


class Httpd:
    """One httpd.  Typical use:

        h = Httpd(module_so, mpm="event", conf_body=VHOSTS).start()
        status, headers, body = h.get("/data/health", host="a.test")
        h.stop()
    """

    def __init__(self, module_so=None, mpm="prefork", conf_body="",
                 workdir=None, log_levels=(), env=None, port=None,
                 server_status=True, timeout=30, h5s3_locations=None):
        if mpm not in ("prefork", "event"):
            raise ValueError("mpm must be prefork or event: %r" % (mpm,))
        if module_so is not None and not os.path.isabs(module_so):
            module_so = os.path.abspath(module_so)
        self.module_so = module_so
        self.mpm = mpm
        self.conf_body = conf_body
        self.log_levels = list(log_levels)
        self.env = dict(env or {})
        self.server_status = server_status
        self.timeout = timeout
        self._own_dir = workdir is None
        self.workdir = os.path.abspath(
            workdir or tempfile.mkdtemp(prefix="h5s3-httpd-",
                                        dir=_workdir_base()))
        os.makedirs(self.workdir, exist_ok=True)
        # Children run as www-data when we are root: they must reach
        # the workdir (htdocs; logs are opened by the parent).
        os.chmod(self.workdir, 0o755)
        if os.geteuid() == 0 and not _traversable(self.workdir):
            raise ValueError(
                "workdir %s: a parent directory is not searchable by "
                "www-data (e.g. pytest's tmp_path); leave workdir unset"
                % self.workdir)
        self.port = port or free_port()
        self.proc = None
        self.allowed_errors = []   # regexes a test expects in error.log
        # Where SetHandler h5s3 serves: None reads the <Location>s of
        # conf_body (at each request, since tests change it).  Every
        # response from below one is checked against openapi.yaml.
        self.h5s3_locations = h5s3_locations

    # ---- paths -----------------------------------------------------------

    def path(self, *parts):
        return os.path.join(self.workdir, *parts)

    @property
    def conf_path(self):
        return self.path("httpd.conf")

    @property
    def error_log(self):
        return self.path("error.log")

    @property
    def access_log(self):
        return self.path("access.log")

    @property
    def htdocs(self):
        return self.path("htdocs")

    # ---- configuration ---------------------------------------------------

    def _load(self, name):
        if name in builtin_modules():
            return "# mod_%s is built into apache2\n" % name
        so = os.path.join(MODULES_DIR, "mod_%s.so" % name)
        return "LoadModule %s_module %s\n" % (name, so)

    def render_conf(self):
        w = self.workdir
        if self.mpm == "prefork":
            mpm = ("<IfModule mpm_prefork_module>\n"
                   "    StartServers 3\n    MinSpareServers 3\n"
                   "    MaxSpareServers 6\n    ServerLimit 10\n"
                   "    MaxRequestWorkers 10\n"
                   "    MaxConnectionsPerChild 0\n</IfModule>\n")
        else:
            mpm = ("<IfModule mpm_event_module>\n"
                   "    StartServers 2\n    ServerLimit 4\n"
                   "    ThreadsPerChild 8\n    ThreadLimit 8\n"
                   "    MinSpareThreads 8\n    MaxSpareThreads 24\n"
                   "    MaxRequestWorkers 32\n"
                   "    MaxConnectionsPerChild 0\n</IfModule>\n")
        user = ""
        if os.geteuid() == 0:
            # httpd refuses to serve as root; Debian's account for it.
            user = "User www-data\nGroup www-data\n"
        loads = self._load("mpm_" + self.mpm)
        loads += "".join(self._load(m) for m in STANDARD_MODULES)
        if self.module_so:
            loads += "LoadModule h5s3_module %s\n" % self.module_so
        levels = " ".join(["info"] + self.log_levels)
        status = ""
        if self.server_status:
            status = ("ExtendedStatus On\n<Location /server-status>\n"
                      "    SetHandler server-status\n</Location>\n")
        return (
            "# Written by tests/integration/harness/httpd.py\n"
            "ServerRoot %(w)s\n"
            "DefaultRuntimeDir %(w)s\n"
            "PidFile %(w)s/httpd.pid\n"
            "Mutex file:%(w)s default\n"
            "Listen 127.0.0.1:%(port)d\n"
            "%(loads)s"
            "%(mpm)s"
            "%(user)s"
            "ServerName 127.0.0.1\n"
            "ServerAdmin test@localhost\n"
            "ErrorLog %(w)s/error.log\n"
            "LogLevel %(levels)s\n"
            'LogFormat "%(fmt)s" h5s3test\n'
            "CustomLog %(w)s/access.log h5s3test\n"
            "TypesConfig /etc/mime.types\n"
            "Timeout 30\nKeepAlive On\nMaxKeepAliveRequests 100\n"
            "KeepAliveTimeout 5\nGracefulShutdownTimeout 3\n"
            "DocumentRoot %(w)s/htdocs\n"
            "<Directory />\n    AllowOverride None\n</Directory>\n"
            "%(status)s"
            "# ---- test configuration ----\n"
            "%(body)s\n"
            % {"w": w, "port": self.port, "loads": loads, "mpm": mpm,
               "user": user, "levels": levels, "status": status,
               "fmt": ACCESS_LOG_FORMAT.replace('"', '\\"'),
               "body": self.conf_body})

    def write_conf(self):
        os.makedirs(self.htdocs, exist_ok=True)
        os.chmod(self.htdocs, 0o755)
        with open(self.conf_path, "w") as f:
            f.write(self.render_conf())
        return self.conf_path

    def _cmd(self, *extra):
        return [APACHE2, "-d", self.workdir, "-f", self.conf_path, *extra]

    def check(self):
        """`apache2 -t`: (rc, combined output), e.g. to assert a config
        error names the directive and the bad value."""
        self.write_conf()
        r = subprocess.run(self._cmd("-t"), capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, env=_clean_env(self.env),
                           timeout=60)
        return r.returncode, (r.stdout + r.stderr)

    # ---- life cycle --------------------------------------------------------

    def _answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port),
                                          timeout=0.5):
                return True
        except OSError:
            return False

    def start(self, wait=15.0):
        """Start in the foreground of a child process; wait for the port."""
        if self.proc is not None and self.proc.poll() is None:
            raise HttpdError("already running")
        self.write_conf()
        self._stderr = open(self.path("stderr.log"), "ab")
        self.proc = subprocess.Popen(
            self._cmd("-DFOREGROUND"), stdin=subprocess.DEVNULL,
            stdout=self._stderr, stderr=self._stderr,
            env=_clean_env(self.env), start_new_session=True)
        end = time.monotonic() + wait
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise HttpdError("httpd exited with %s at start:\n%s"
                                 % (self.proc.returncode, self._tails()))
            if self._answers() and self._resumed_count() >= 1:
                return self
            time.sleep(0.03)
        self.stop()
        raise HttpdError("httpd did not answer on port %d within %.0fs:\n%s"
                         % (self.port, wait, self._tails()))

    def _tails(self, n=30):
        out = []
        for p in (self.path("stderr.log"), self.error_log):
            try:
                with open(p, errors="replace") as f:
                    out.append("---- %s\n%s" % (p, "".join(
                        f.readlines()[-n:])))
            except FileNotFoundError:
                pass
        return "\n".join(out)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def child_pids(self):
        """PIDs of the server's children (prefork/event worker processes)."""
        return _children_of(self.proc.pid) if self.running() else []

    def _resumed_count(self):
        try:
            with open(self.error_log, errors="replace") as f:
                return sum("resuming normal operations" in ln for ln in f)
        except FileNotFoundError:
            return 0

    def _restart(self, sig, wait):
        if not self.running():
            raise HttpdError("not running")
        before = self._resumed_count()
        old_kids = self.child_pids()
        self.proc.send_signal(sig)
        end = time.monotonic() + wait
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise HttpdError("httpd exited during restart:\n"
                                 + self._tails())
            # Done when the new generation runs and the old children are
            # gone: until then an old child may still accept a request
            # and answer with the old configuration.
            if (self._resumed_count() > before and self._answers()
                    and not any(_pid_alive(k) for k in old_kids)):
                return self
            time.sleep(0.03)
        raise HttpdError("restart did not complete:\n" + self._tails())

    def graceful(self, conf_body=None, wait=15.0):
        """Graceful restart (SIGUSR1), optionally with a new conf_body."""
        if conf_body is not None:
            self.conf_body = conf_body
            self.write_conf()
        return self._restart(signal.SIGUSR1, wait)

    def restart(self, conf_body=None, wait=15.0):
        """Hard restart (SIGHUP): children are killed, config reread."""
        if conf_body is not None:
            self.conf_body = conf_body
            self.write_conf()
        return self._restart(signal.SIGHUP, wait)

    def stop(self, wait=10.0):
        """Stop the server and every child; idempotent."""
        if self.proc is None:
            return
        kids = _children_of(self.proc.pid)
        if self.proc.poll() is None:
            # A hard stop right after a response races the event MPM's
            # pollset teardown against the keep-alive handling of that
            # request, which httpd logs as "AH03093 ... Bad file descriptor"
            # (httpd's shutdown race, not the module's). A short pause lets
            # the worker finish; a graceful stop would cost a second or more.
            time.sleep(0.1)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        end = time.monotonic() + 5
        for k in kids:
            while _pid_alive(k) and time.monotonic() < end:
                time.sleep(0.02)
            if _pid_alive(k):
                try:
                    os.kill(k, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if getattr(self, "_stderr", None):
            self._stderr.close()
            self._stderr = None

    def cleanup(self):
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- HTTP ------------------------------------------------------------

    def url(self, path="/", host=None):
        """Full URL; with host, the name-based vhost form (use get(host=))."""
        if not path.startswith("/"):
            path = "/" + path
        return "http://%s:%d%s" % (host or "127.0.0.1", self.port, path)

    def request(self, method, path, body=None, headers=None, host=None,
                timeout=60):
        """(status, headers, body bytes).  Characters that cannot go on
        the request line (spaces, non-ASCII) are %-encoded as UTF-8;
        existing %XX escapes are sent as given.  host overrides the Host
        header for name-based vhost tests."""
        path = urllib.parse.quote(path, safe="/%?=&+:;,@!$'()*~#[]")
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)
        try:
            hdrs = dict(headers or {})
            if host is not None and not any(k.lower() == "host"
                                            for k in hdrs):
                hdrs["Host"] = host
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        self.check_contract(method, path, resp.status, resp.headers, data,
                            hdrs)
        return resp.status, resp.headers, data

    def check_contract(self, method, path, status, headers, body,
                       request_headers=None):
        """AssertionError (path, status, the validation error) when a
        response of a mod_h5s3 route breaks openapi.yaml; JSON bodies are
        validated against their schema, other bodies (CSV, bin, npy,
        downloads) for Content-Type and headers."""
        if not self.module_so:
            return None
        sch = _schema_module()
        if self.h5s3_locations is not None:
            locs = [(loc, True) for loc in self.h5s3_locations]
        else:
            locs = sch.h5s3_locations(self.conf_body)
        base = sch.base_for(path, locs)
        if base is None:
            return None
        return sch.contract().check(method, path, base, status, headers,
                                    body, request_headers)

    def get(self, path, headers=None, host=None, timeout=60):
        return self.request("GET", path, headers=headers, host=host,
                            timeout=timeout)

    # ---- logs ------------------------------------------------------------

    def error_log_lines(self):
        try:
            with open(self.error_log, errors="replace") as f:
                return [ln.rstrip("\n") for ln in f]
        except FileNotFoundError:
            return []

    def error_log_problems(self, allow=()):
        """Error-log lines at error/crit/alert/emerg, crashed children and
        sanitizer reports, minus those matching a regex in allow (or in
        self.allowed_errors)."""
        pats = [re.compile(a) for a in list(allow) + self.allowed_errors]
        lines = self.error_log_lines()
        try:
            with open(self.path("stderr.log"), errors="replace") as f:
                lines += [ln.rstrip("\n") for ln in f]
        except FileNotFoundError:
            pass
        out = []
        for ln in lines:
            if not (_PROBLEM_RE.search(ln) or _CRASH_RE.search(ln)):
                continue
            if any(p.search(ln) for p in pats):
                continue
            out.append(ln)
        return out

    def expect_errors(self, *regexes):
        """Mark error-log lines this test provokes on purpose."""
        self.allowed_errors.extend(regexes)

    def _read_access(self):
        out = []
        try:
            with open(self.access_log, errors="replace") as f:
                for ln in f:
                    m = _ACCESS_RE.match(ln.rstrip("\n"))
                    if m:
                        d = m.groupdict()
                        d["status"] = int(d["status"])
                        out.append(d)
        except FileNotFoundError:
            pass
        return out

    def access_log_entries(self, min_count=0, wait=3.0):
        """Parsed access-log lines: dicts with request, status, route,
        cache, s3 (h5s3-s3-requests), s3bytes, bucket, vhost ('-' when a
        note is unset).  httpd logs after the response is sent, so wait
        (bounded) until at least min_count lines are there; for the same
        reason the order of lines need not be the order of requests."""
        end = time.monotonic() + wait
        out = self._read_access()
        while len(out) < min_count and time.monotonic() < end:
            time.sleep(0.02)
            out = self._read_access()
        return out
