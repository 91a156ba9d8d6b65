"""Integration-test fixtures: a real S3 (Ceph RGW) and private httpds.

Everything the tests share is the package harness/ (see its docstring);
its pytest plugin (harness/plugin.py: fixtures, hooks, the --mpm option)
is loaded here.  pytest puts this folder on sys.path (rootdir-relative
conftest), so test files anywhere below import `harness.*`.
"""

pytest_plugins = ["harness.plugin"]
