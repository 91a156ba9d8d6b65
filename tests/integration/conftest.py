"""Integration-test fixtures: a real S3 (Ceph RGW) and private httpds.

The fixtures live in harness/plugin.py; see its docstring.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.plugin import *  # noqa: E402,F401,F403
from harness.plugin import (pytest_addoption, pytest_configure,  # noqa
                            pytest_generate_tests, pytest_runtest_makereport,
                            pytest_terminal_summary)
