"""The Ryu tables are what tools/gen-ryu-tables.py writes, byte for byte.

mod_h5s3/core/json/ryu_tables.c is generated and committed; an edit by
hand, or a change to the script not carried into the file, fails here.
"""

import os
import subprocess

from harness.s3server import REPO

SCRIPT = os.path.join(REPO, "tools", "gen-ryu-tables.py")
TABLES = os.path.join(REPO, "mod_h5s3", "core", "json", "ryu_tables.c")
HEADER = os.path.join(REPO, "include", "json", "h5s3_ryu_tables.h")


def test_committed_tables_are_generated():
    out = subprocess.run(["/usr/bin/python3", SCRIPT], check=True,
                         stdout=subprocess.PIPE).stdout
    with open(TABLES, "rb") as f:
        committed = f.read()
    assert out == committed, (
        "%s differs from what %s writes: run it again "
        "(tools/gen-ryu-tables.py > mod_h5s3/core/json/ryu_tables.c)"
        % (TABLES, SCRIPT))


def test_header_counts_match():
    """The declared counts are the ones the script derives (the compiler
    also refuses a mismatch, this says which)."""
    with open(TABLES) as f:
        tables = f.read()
    with open(HEADER) as f:
        header = f.read()
    for name, macro in (("h5s3_ryu_pow5", "H5S3_RYU_POW5_COUNT"),
                        ("h5s3_ryu_pow5_inv", "H5S3_RYU_POW5_INV_COUNT")):
        rows = tables.split("const apr_uint64_t %s[" % name, 1)[1]
        count = int(rows.split("]", 1)[0])
        assert "#define %s %d" % (macro, count) in " ".join(header.split())
