"""The README's run command serves /files from a seeded S3, and
`make install` puts the module where apxs says."""

import os
import re
import shutil
import subprocess
import tempfile
import urllib.request

from harness.s3server import REPO


def test_run_command_serves_files():
    # Not pytest's tmp_path: httpd's children (www-data) must reach it.
    work = tempfile.mkdtemp(prefix="h5s3-serve-")
    os.chmod(work, 0o755)
    try:
        r = subprocess.run(
            ["/usr/bin/python3", os.path.join(REPO, "scripts", "serve.py"),
             "--once", "--workdir", work],
            capture_output=True, text=True, timeout=240,
            stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert r.returncode == 0, r.stdout + r.stderr
    urls = re.findall(r"http://127\.0\.0\.1:\d+/hdf/\S+", r.stdout)
    assert any(u.endswith("/hdf/files") for u in urls), r.stdout
    m = re.search(r"\((\d+) objects in h5data\)", r.stdout)
    assert m and int(m.group(1)) > 5, r.stdout
    # --once stopped everything again
    for u in urls[:1]:
        try:
            urllib.request.urlopen(u, timeout=2)
            raise AssertionError("httpd still answers after --once")
        except OSError:
            pass


def test_make_install_uses_apxs_libexecdir(tmp_path):
    libexec = subprocess.run(["apxs", "-q", "LIBEXECDIR"], text=True,
                             capture_output=True, check=True).stdout.strip()
    r = subprocess.run(["make", "-s", "install", "DESTDIR=%s" % tmp_path],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    so = os.path.join(str(tmp_path) + libexec, "mod_h5s3.so")
    assert os.path.isfile(so), os.listdir(str(tmp_path) + libexec)
