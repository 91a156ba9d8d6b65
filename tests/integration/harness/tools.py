"""The command-line tools built from the core (tests/tools/h5s3-*), as the
core/ tests run them against the RGW."""

import json
import os
import subprocess

from .s3server import REPO

# Where the tools were built: the source tree unless $H5S3_BUILDDIR says.
BUILD = os.environ.get("H5S3_BUILDDIR", REPO)


def tool_path(name):
    """Where tests/tools/NAME is built."""
    return os.path.join(BUILD, "tests", "tools", name)


def built_tool(name):
    """tool_path(name), there to run.  A missing tool is a broken build:
    the test fails, never skips."""
    path = tool_path(name)
    assert os.access(path, os.X_OK), (
        "%s is missing: run make (or set H5S3_BUILDDIR)" % path)
    return path


def tool_env(rgw, env=None):
    """The environment a tool finds rgw's endpoint and credentials in; env
    adds variables (None removes one)."""
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
         "H5S3_ENDPOINT": rgw.endpoint, "H5S3_REGION": rgw.region,
         "H5S3_ACCESS_KEY": rgw.access_key,
         "H5S3_SECRET_KEY": rgw.secret_key}
    for k, v in (env or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return e


def run_json(tool, rgw, *args, env=None, timeout=60):
    """(exit code, parsed JSON) of one command of a tool that answers one
    JSON object: exit 0 with status "ok", exit 1 with another status."""
    r = subprocess.run([tool] + list(args), env=tool_env(rgw, env),
                       capture_output=True, timeout=timeout)
    assert r.returncode in (0, 1), r.stderr.decode(errors="replace")
    out = json.loads(r.stdout)
    assert (r.returncode == 0) == (out["status"] == "ok"), out
    return r.returncode, out
