"""The Debian package, as an admin uses it: scripts/build-deb.sh builds
libapache2-mod-h5s3, apt installs it into the machine's apache2,
`a2enmod h5s3` and `apache2ctl -t` accept it, Debian's own apache2 (its
/etc/apache2 tree, started by apache2ctl, no systemd) serves the packaged
example vhost pointed at the test RGW, and purging the package leaves
/etc/apache2 (and a2enmod's state in /var/lib/apache2) as they were.

The rest of the suite runs /usr/sbin/apache2 with configs of its own and
the module built in the tree, so nothing of the package may stay behind:
the test checks that /usr/lib/apache2/modules/mod_h5s3.so is gone and
that the two trees hash as before; if they do not, it puts them back from
a snapshot taken first, and fails.
"""

import glob
import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
import time
import urllib.request

import pytest

from harness.s3server import REPO, free_port

PKG = "libapache2-mod-h5s3"
SO = "/usr/lib/apache2/modules/mod_h5s3.so"
TREES = ("/etc/apache2", "/var/lib/apache2")
EXAMPLE = "/usr/share/doc/%s/examples/h5s3-vhost.conf.example" % PKG
SITE = "h5s3-deb-test"
PID_FILE = "/var/run/apache2/apache2.pid"
ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
APT = ["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=300"]


def run(cmd, timeout=300, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL, env=ENV, **kw)
    if check:
        assert r.returncode == 0, "%s: rc %d\n%s\n%s" % (
            " ".join(cmd), r.returncode, r.stdout[-3000:], r.stderr[-3000:])
    return r


def tree_state():
    """path -> (kind, mode, link target or content hash) under TREES."""
    out = {}
    for top in TREES:
        for d, dirs, files in os.walk(top):
            for n in dirs + files:
                p = os.path.join(d, n)
                st = os.lstat(p)
                if os.path.islink(p):
                    out[p] = ("link", 0, os.readlink(p))
                elif os.path.isdir(p):
                    out[p] = ("dir", st.st_mode, "")
                else:
                    with open(p, "rb") as f:
                        out[p] = ("file", st.st_mode,
                                  hashlib.sha256(f.read()).hexdigest())
    return out


def snapshot():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for top in TREES:
            t.add(top)
    return buf.getvalue()


def restore(snap, before):
    """Puts TREES back as in `snap`: what is new goes, the rest returns."""
    now = tree_state()
    for p in sorted(set(now) - set(before), reverse=True):
        if now[p][0] == "dir":
            subprocess.run(["rm", "-rf", p])
        elif os.path.lexists(p):
            os.unlink(p)
    with tarfile.open(fileobj=io.BytesIO(snap)) as t:
        for m in t.getmembers():
            p = "/" + m.name
            if now.get(p) != before.get(p) and not m.isdir() \
                    and os.path.lexists(p):
                os.unlink(p)
            t.extract(m, "/")


def diff(before, after):
    keys = set(before) | set(after)
    return sorted("%s: %s -> %s" % (k, before.get(k), after.get(k))
                  for k in keys if before.get(k) != after.get(k))


def apache_running():
    try:
        with open(PID_FILE) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return True
    except (OSError, ValueError):
        return False


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                timeout=30) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read()


def site_conf(port, rgw, logdir):
    """The packaged example vhost, pointed at the test RGW on `port`."""
    with open(EXAMPLE) as f:
        text = f.read()
    subs = [
        (r"<VirtualHost \*:80>", "<VirtualHost 127.0.0.1:%d>" % port),
        (r"H5S3Endpoint \S+", "H5S3Endpoint " + rgw.endpoint),
        (r"H5S3Region \S+", "H5S3Region " + rgw.region),
        (r"H5S3Credentials .*", "H5S3Credentials %s %s"
         % (rgw.access_key, rgw.secret_key)),
        (r"H5S3Bucket science-data main", "H5S3Bucket h5data main"),
        (r"H5S3Bucket releases dg", "H5S3Bucket dgdata dg"),
        (r"CustomLog \S+", "ErrorLog %s/error.log\n    CustomLog %s/access.log"
         % (logdir, logdir)),
    ]
    for pattern, repl in subs:
        text, n = re.subn(pattern, lambda m: repl, text, count=1)
        assert n == 1, "the example vhost has no %r any more" % pattern
    return text


def test_package_installs_serves_and_purges(rgw, tmp_path):
    # Nothing of the package may be here yet, nor a Debian apache2 running.
    assert not os.path.exists(SO), SO
    status = run(["dpkg-query", "-W", "-f=${Status}", PKG],
                 check=False).stdout
    assert "installed" not in status.replace("not-installed", "") \
        and "config-files" not in status, status
    assert not apache_running(), "a Debian apache2 is running already"
    shmcb_was_on = os.path.lexists(
        "/etc/apache2/mods-enabled/socache_shmcb.load")
    before = tree_state()
    snap = snapshot()
    with open("/etc/apache2/ports.conf", "rb") as f:
        ports_conf = f.read()

    out = tmp_path / "deb"
    t0 = time.monotonic()
    r = run([os.path.join(REPO, "scripts", "build-deb.sh"), "--nocheck",
             "--out", str(out)], timeout=900)
    build_s = time.monotonic() - t0
    assert r.stdout.strip().splitlines()[-1] == str(out), r.stdout
    debs = glob.glob(str(out / ("%s_*.deb" % PKG)))
    assert len(debs) == 1, os.listdir(out)
    print("package build: %.0f s" % build_s)
    # Lintian has nothing to say about it: no error, no warning.
    r = run(["lintian", "--fail-on", "error,warning", debs[0]], check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not [ln for ln in r.stdout.splitlines()
                if re.match(r"[EW]: ", ln)], r.stdout

    logdir = "/tmp/h5s3-deb-test-%d" % os.getpid()
    os.makedirs(logdir, exist_ok=True)
    port = free_port()
    started = False
    try:
        run(APT + ["install", "--no-install-recommends", debs[0]])
        assert os.path.isfile(SO)
        files = run(["dpkg", "-L", PKG]).stdout.split()
        for p in ("/etc/apache2/mods-available/h5s3.load",
                  "/etc/apache2/mods-available/h5s3.conf", EXAMPLE,
                  "/usr/share/doc/%s/README.md.gz" % PKG,
                  "/usr/share/doc/%s/copyright" % PKG):
            assert p in files, p
        conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", PKG]).stdout
        assert "/etc/apache2/mods-available/h5s3.load" in conffiles
        assert "/etc/apache2/mods-available/h5s3.conf" in conffiles

        run(["a2enmod", "h5s3"])
        assert os.path.lexists("/etc/apache2/mods-enabled/h5s3.load")
        # "# Depends: socache_shmcb" in h5s3.load
        assert os.path.lexists("/etc/apache2/mods-enabled/socache_shmcb.load")

        # A loopback port instead of Listen 80, and the example vhost.
        with open("/etc/apache2/ports.conf", "w") as f:
            f.write("Listen 127.0.0.1:%d\n" % port)
        with open("/etc/apache2/sites-available/%s.conf" % SITE, "w") as f:
            f.write(site_conf(port, rgw, logdir))
        run(["a2ensite", SITE])

        r = run(["apache2ctl", "-t"])
        assert "Syntax OK" in r.stderr + r.stdout
        started = True      # stopped in any case, even half started
        run(["apache2ctl", "start"], timeout=60)
        deadline = time.monotonic() + 20
        while True:
            try:
                status, ctype, body = get(port, "/hdf/health")
                break
            except OSError:
                assert time.monotonic() < deadline, open(
                    "/var/log/apache2/error.log").read()[-3000:]
                time.sleep(0.2)
        assert status == 200 and ctype.startswith("application/json")
        assert json.loads(body)["status"] == "healthy"
        status, ctype, body = get(port, "/hdf/files/top.h5/children?path=/")
        kids = json.loads(body)
        assert status == 200 and kids["children"], kids
    finally:
        errors = []
        if started:
            run(["apache2ctl", "stop"], timeout=60, check=False)
            deadline = time.monotonic() + 20
            while apache_running() and time.monotonic() < deadline:
                time.sleep(0.2)
            if apache_running():
                errors.append("apache2 still running after apache2ctl stop")
        if os.path.lexists("/etc/apache2/sites-enabled/%s.conf" % SITE):
            run(["a2dissite", "-p", "-f", "-q", SITE], check=False)
        if os.path.exists("/etc/apache2/sites-available/%s.conf" % SITE):
            os.unlink("/etc/apache2/sites-available/%s.conf" % SITE)
        with open("/etc/apache2/ports.conf", "wb") as f:
            f.write(ports_conf)
        r = run(APT + ["purge", PKG], check=False)
        if r.returncode:
            errors.append("purge failed:\n" + r.stdout + r.stderr)
        # The package's postinst enabled socache_shmcb with h5s3; purging
        # leaves it on, as Debian does for every dependency of a module.
        if not shmcb_was_on:
            run(["a2dismod", "-m", "-p", "-f", "-q", "socache_shmcb"],
                check=False)
        # a2dismod and a2dissite keep their markers in folders of
        # /var/lib/apache2 they create; purged, those stay empty.
        for p in sorted(set(tree_state()) - set(before), reverse=True):
            if os.path.isdir(p) and not os.listdir(p):
                os.rmdir(p)
        after = tree_state()
        changed = diff(before, after)
        if changed:
            restore(snap, before)
            errors.append("apache2's trees changed:\n" + "\n".join(changed))
        if os.path.exists(SO):
            errors.append("%s is left behind" % SO)
        elog = os.path.join(logdir, "error.log")
        if os.path.exists(elog):
            bad = [ln for ln in open(elog)
                   if re.search(r":(error|crit|alert|emerg)\]", ln)]
            if bad:
                errors.append("error log:\n" + "".join(bad))
        subprocess.run(["rm", "-rf", logdir])
        assert not errors, "\n".join(errors)
