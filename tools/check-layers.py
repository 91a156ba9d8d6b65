#!/usr/bin/python3
"""Checks the core's layering from its #include lines.

The core (mod_h5s3/core/, headers under include/) is made of layer
folders; a file belongs to the folder it sits in (mod_h5s3/core/hdf5/io/
vfd.c and include/hdf5/io/h5s3_h5_io.h are both "hdf5/io").  Every
#include "..." of a core file names a header of some folder, which gives
an arrow between folders.  This prints the folders and their arrows, and
exits 1 when:
  - the arrows between folders make a cycle;
  - a core file includes an httpd header (httpd.h, http_*.h, ap_*.h,
    util_*.h, mod_*.h): the core never depends on httpd;
  - a .c file lies loose in mod_h5s3/core/ (outside a layer folder);
  - an include names a header that does not exist;
  - a function of the core is longer than MAX_FUNCTION_LINES lines
    (a function that long does several jobs: split it).
  - a file outside a layer folder includes that layer's private header
    (include/<layer>/*_internal.h: the glue, tests and tools included).

    tools/check-layers.py [REPO]
"""

import os
import re
import sys

HTTPD = re.compile(r'^(httpd|http_\w+|ap_\w+|util_\w+|mod_\w+|mpm_\w+)\.h$')
INC = re.compile(r'^\s*#\s*include\s+([<"])([^>"]+)[>"]', re.M)
MAX_FUNCTION_LINES = 150
FUNC_HEAD = re.compile(r'(\w+)\s*\([^;{}=]*\)\s*$')


def long_functions(src, limit):
    """(name, first line, lines) of every function body longer than limit:
    a top-level brace block whose head reads like a definition."""
    src = re.sub(r'/\*.*?\*/', lambda m: "\n" * m.group(0).count("\n"), src,
                 flags=re.S)
    src = re.sub(r'"(\\.|[^"\\\n])*"', '""', src)
    src = re.sub(r"'(\\.|[^'\\\n])*'", "''", src)
    out, depth, start, head = [], 0, None, ""
    for i, line in enumerate(src.split("\n")):
        if depth == 0 and "{" in line:
            text = (head + " " + line[:line.index("{")]).strip()
            m = FUNC_HEAD.search(text)
            start = (m.group(1), i) if m else None
        depth += line.count("{") - line.count("}")
        if depth == 0:
            if start and "}" in line and i - start[1] + 1 > limit:
                out.append((start[0], start[1] + 1, i - start[1] + 1))
            if "}" in line:
                start = None
            # What may head the next block: the lines since the last
            # declaration, block or directive ended.
            t = line.strip()
            if not t or t.startswith("#") or t.endswith((";", "}")):
                head = ""
            else:
                head += " " + t
    return out


def layer_of(rel):
    """The layer folder of a core file, or None for a non-core file."""
    for top in ("mod_h5s3/core/", "include/"):
        if rel.startswith(top):
            return os.path.dirname(rel[len(top):]) or None
    return None


def private_includes(repo):
    """Includes of a layer's *_internal.h from outside that layer."""
    problems = []
    for top in ("mod_h5s3", "include", "tests"):
        for d, _, names in os.walk(os.path.join(repo, top)):
            for n in names:
                if not n.endswith((".c", ".h")):
                    continue
                rel = os.path.relpath(os.path.join(d, n), repo)
                with open(os.path.join(repo, rel), errors="replace") as f:
                    src = f.read()
                for kind, name in INC.findall(src):
                    if kind == '"' and name.endswith("_internal.h") \
                            and os.path.dirname(name) != layer_of(rel):
                        problems.append("%s includes %s, private to the "
                                        "layer %s" % (rel, name,
                                                      os.path.dirname(name)))
    return problems


def main(repo):
    problems, arrows = [], {}
    files = []
    for top in ("mod_h5s3/core", "include"):
        for d, _, names in os.walk(os.path.join(repo, top)):
            for n in names:
                if n.endswith((".c", ".h")):
                    files.append(os.path.relpath(os.path.join(d, n), repo))
    for rel in sorted(files):
        layer = layer_of(rel)
        if layer is None:
            if rel.endswith(".c"):
                problems.append("%s: a .c file outside a layer folder" % rel)
            continue
        arrows.setdefault(layer, set())
        with open(os.path.join(repo, rel), errors="replace") as f:
            src = f.read()
        if rel.endswith(".c"):
            for name, line, n in long_functions(src, MAX_FUNCTION_LINES):
                problems.append("%s:%d: %s is %d lines (at most %d)"
                                % (rel, line, name, n, MAX_FUNCTION_LINES))
        for kind, name in INC.findall(src):
            if HTTPD.match(os.path.basename(name)):
                problems.append("%s includes the httpd header %s"
                                % (rel, name))
                continue
            if kind != '"':
                continue
            target = os.path.join(repo, "include", name)
            if not os.path.exists(target):
                problems.append("%s includes %s, which is not under "
                                "include/" % (rel, name))
                continue
            dep = os.path.dirname(name)
            if dep != layer:
                arrows[layer].add(dep)
    problems += private_includes(repo)
    # Cycles, by depth-first search over the folder graph.
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(arrows.get(n, ())):
            if state.get(m) == 1:
                problems.append("cycle: " + " -> ".join(
                    stack[stack.index(m):] + [m]))
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(arrows):
        if n not in state:
            visit(n)
    for n in sorted(arrows):
        print("%-14s -> %s" % (n, ", ".join(sorted(arrows[n])) or "-"))
    for p in problems:
        print("PROBLEM: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else
                  os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "..")))
