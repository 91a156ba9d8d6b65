#!/usr/bin/python3
"""The issue-14 performance table in one run: every measure by its bench
in bench/, one after another (never two at once: they would share the
2 CPUs), then one Markdown table

    | # | measure | figure now | target | pass/fail | command |

with the exact command line that produced each figure, so any row can be
run again alone.  Figures are read from the BENCH_JSON lines the benches
print (bench/README.md); each bench's full output goes to a log file.

    /usr/bin/python3 bench/table.py [--quick] [--rows 1,2,10-12]
                                    [--log-dir DIR] [--json FILE]

--quick: smaller sizes and fewer runs (a few minutes; figures are
indicative, each row says what it ran).  The default (full) mode runs
the sizes of the issue (about half an hour).  Run from the repository
root after building the module (scripts/setup.sh); $H5S3_MODULE is
passed on to the benches.  Big test files are written once to
/tmp/h5s3-bench and reused.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PYTHON = "/usr/bin/python3"
CACHE = "/tmp/h5s3-bench"

# One entry per row: (number, measure, target, bench name in BENCH_JSON,
# full command, quick command).  Rows naming the same command share
# one run of it.
WARM = ["bench/bench_warm.py", "--duration", "10"]
WARM_Q = ["bench/bench_warm.py", "--duration", "3"]
LIST = ["bench/bench_dg_listing.py", "--savings-deltas", "10000"]
LIST_Q = ["bench/bench_dg_listing.py", "--savings-deltas", "1000"]

ROWS = [
    (1, "warm `/files/{key}/children` of a 60-dataset file / static file "
        "of the same bytes, same httpd (prefork, 4 children, wrk -t2 -c16)",
     ">= 0.9", "warm_children", WARM, WARM_Q),
    (2, "cached `/files` / static file (prefork, 4 children, wrk -t2 -c16)",
     ">= 0.9", "files_cached",
     ["bench/bench_files.py", "--mpm", "prefork", "--duration", "10"],
     ["bench/bench_files.py", "--mpm", "prefork", "--duration", "3"]),
    (3, "conditional requests on JSON answers (strong ETag, "
        "If-None-Match -> 304)",
     "yes", "conditional", WARM, WARM_Q),
    (4, "16x16 strided heatmap of a 4096^2 f32 dataset in 64^2 chunks: "
        "S3 bytes / stored bytes of the touched chunks (cold)",
     "<= 1.25x", "heatmap_bytes",
     ["bench/bench_chunks.py", "--runs", "3"],
     ["bench/bench_chunks.py", "--runs", "1"]),
    (5, "paged aggregation file (1 MiB pages, 100 datasets): cold "
        "`/children` + `/meta` of each, S3 requests",
     "1", "paged_requests",
     ["bench/bench_paged.py", "--runs", "3"],
     ["bench/bench_paged.py", "--runs", "1"]),
    (6, "cold `/children` of 200 scattered headers (50 MiB file, metadata "
        "aggregation off), 20 ms per S3 request",
     "<= 0.25 s, <= 1.5 MiB", "children_scattered",
     ["bench/bench_children.py", "--size-mib", "50", "--runs", "3",
      "--module-only", "--skip-concurrency", "--cache-dir", CACHE,
      "--name", "children_scattered"],
     ["bench/bench_children.py", "--size-mib", "50", "--runs", "1",
      "--module-only", "--skip-concurrency", "--cache-dir", CACHE,
      "--name", "children_scattered"]),
    (7, "the same on bench_children.py's 1 GiB file (ROS3 beside; quick: "
        "256 MiB)",
     "<= 0.25 s, <= 1.5 MiB", "children_big",
     ["bench/bench_children.py", "--runs", "3", "--skip-concurrency",
      "--cache-dir", CACHE, "--name", "children_big"],
     ["bench/bench_children.py", "--size-mib", "256", "--runs", "1",
      "--skip-concurrency", "--cache-dir", CACHE, "--name",
      "children_big"]),
    (8, "cold 1024 heatmap of 16k^2 f32 gzip at 20 ms: h5py + 5 MiB "
        "read-ahead time / module time",
     ">= 8x", "heatmap_cold",
     ["bench/bench_heatmap.py", "--delay-ms", "20", "--keep", CACHE,
      "--runs", "3"],
     ["bench/bench_heatmap.py", "--delay-ms", "20", "--keep", CACHE]),
    (9, "DeltaGlider download, cached reference, 200 MB: module / "
        "`xdelta3 -d -B 8MiB` to a new file (throughput)",
     ">= 0.8", "restore_cached",
     ["bench/bench_restore.py", "--size-mb", "200", "--runs", "3"],
     ["bench/bench_restore.py", "--size-mb", "200", "--runs", "1"]),
    (10, "cold `/api/objects` page of 200 deltas, 20 ms per S3 request",
     "<= 0.3 s", "objects_page", LIST, LIST_Q),
    (11, "cold `sort=size_desc` over a 600-delta prefix after one page "
         "was listed, 20 ms",
     "<= 0.5 s", "sort_size", LIST, LIST_Q),
    (12, "`compute-savings` of a 10k-delta bucket (quick: 1k), cold "
         "metadata cache, 20 ms",
     "<= 3 s", "savings", LIST, LIST_Q),
]


def parse_rows(spec):
    out = set()
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.update(range(int(a), int(b) + 1))
        elif part:
            out.add(int(part))
    return out


def shown(argv):
    return " ".join(shlex.quote(a) for a in [PYTHON] + argv)


def run(argv, log_path):
    """Run one bench from the repository root; (rc, seconds, records)."""
    t0 = time.monotonic()
    recs = {}
    with open(log_path, "w") as log:
        log.write("$ %s\n" % shown(argv))
        log.flush()
        p = subprocess.Popen([PYTHON] + argv, cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True,
                             stdin=subprocess.DEVNULL)
        for line in p.stdout:
            log.write(line)
            if line.startswith("BENCH_JSON "):
                try:
                    rec = json.loads(line[len("BENCH_JSON "):])
                    recs[rec["name"]] = rec
                except (ValueError, KeyError):
                    pass
        rc = p.wait()
    return rc, time.monotonic() - t0, recs


def cell(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def git_head():
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                              cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain",
                                "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True).stdout
        return head + ("+changes" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="smaller sizes, fewer runs")
    ap.add_argument("--rows", default="1-12", help="e.g. 1,2,10-12")
    ap.add_argument("--log-dir", help="where each bench's output goes "
                    "(default: a new directory in the temp dir)")
    ap.add_argument("--json", help="write every BENCH_JSON record here")
    args = ap.parse_args()

    want = parse_rows(args.rows)
    rows = [r for r in ROWS if r[0] in want]
    log_dir = args.log_dir or tempfile.mkdtemp(prefix="h5s3-bench-table-")
    os.makedirs(log_dir, exist_ok=True)
    os.makedirs(CACHE, exist_ok=True)
    so = os.environ.get("H5S3_MODULE") or os.path.join(REPO, ".libs",
                                                       "mod_h5s3.so")
    if not os.path.exists(so):
        sys.exit("table.py: %s not built (scripts/setup.sh)" % so)

    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load0 = os.getloadavg()[0]
    t_all = time.monotonic()
    results = {}    # tuple(argv) -> (rc, seconds, records, log)
    for num, measure, target, name, full, quick in rows:
        argv = quick if args.quick else full
        key = tuple(argv)
        if key in results:
            continue
        log = os.path.join(log_dir, "%02d-%s.log" % (
            num, os.path.basename(argv[0])[:-3]))
        print("[table] row %d: %s" % (num, shown(argv)), file=sys.stderr,
              flush=True)
        rc, secs, recs = run(argv, log)
        results[key] = (rc, secs, recs, log)
        print("[table]   rc %d, %.0f s, %s; log %s" % (
            rc, secs, ", ".join(sorted(recs)) or "no BENCH_JSON", log),
            file=sys.stderr, flush=True)
    total = time.monotonic() - t_all

    print("mod_h5s3 %s, %s mode, started %s, %d CPUs, load %.1f at the "
          "start and %.1f at the end, %.0f s in all" % (
              git_head(), "quick" if args.quick else "full", started,
              os.cpu_count(), load0, os.getloadavg()[0], total))
    print()
    print("| # | measure | figure now | target | pass/fail | command |")
    print("|---|---|---|---|---|---|")
    records = []
    failed_runs = []
    for num, measure, target, name, full, quick in rows:
        argv = quick if args.quick else full
        rc, secs, recs, log = results[tuple(argv)]
        rec = recs.get(name)
        if rec:
            fig = rec["figure"]
            verdict = {True: "pass", False: "fail"}.get(rec.get("pass"),
                                                        "-")
            records.append(dict(rec, row=num))
        else:
            fig = "no figure (rc %d, see %s)" % (rc, log)
            verdict = "error"
            if (rc, log) not in failed_runs:
                failed_runs.append((rc, log))
        print("| %d | %s | %s | %s | %s | `%s` |" % (
            num, cell(measure), cell(fig), cell(target), verdict,
            cell(shown(argv))))
    print()
    print("Run from %s; each bench's output is in %s." % (REPO, log_dir))
    for rc, log in failed_runs:
        print()
        print("%s (rc %d), last lines:" % (log, rc))
        with open(log, errors="replace") as f:
            for ln in f.readlines()[-15:]:
                print("    " + ln.rstrip("\n"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"started": started, "quick": args.quick,
                       "commit": git_head(), "records": records}, f,
                      indent=1, sort_keys=True)
    return 1 if failed_runs else 0


if __name__ == "__main__":
    sys.exit(main())
