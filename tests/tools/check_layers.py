#!/usr/bin/env python3
"""Layering check: arrows between the library's layers point one way (docs/architecture.md, "Layers").

The layer table is read from docs/architecture.md (the block between the `layers:begin` and `layers:end`
markers, lowest layer first); each source file under src/ belongs to the layer of its longest matching path.
Two kinds of arrow are checked:
  - #include "...": a file may include headers of its own layer and of layers below it;
  - calls: a file may call a non-static function defined in its own layer or below (this catches hand-written
    prototypes and calls through the public API, which no #include shows).

    python3 tests/tools/check_layers.py [--root DIR]   # self-test, then check a tree (default: this repository)
    python3 tests/tools/check_layers.py --self-test    # only plant violations in a copy and expect them caught

Ends with "N passed, M failed" (tests/run_all.sh counts it); exits 1 on any violation.
"""
import argparse
import os
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))


def read_layers(root):
    """[(layer name, [path prefixes])], lowest first, from docs/architecture.md."""
    text = open(os.path.join(root, "docs", "architecture.md"), encoding="utf-8").read()
    m = re.search(r"layers:begin.*?\n(.*?)layers:end", text, re.S)
    if not m:
        raise SystemExit("docs/architecture.md has no layers:begin ... layers:end table")
    layers = []
    for line in m.group(1).splitlines():
        cells = [c.strip().replace("`", "") for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[1].startswith("src/"):
            continue
        layers.append((cells[0], cells[1].split()))
    return layers


def layer_of(path, layers):
    """Index of the layer owning `path` (relative, '/'-separated): the longest matching prefix wins."""
    best, best_len = None, -1
    for i, (_, prefixes) in enumerate(layers):
        for p in prefixes:
            if (path == p or (p.endswith("/") and path.startswith(p))) and len(p) > best_len:
                best, best_len = i, len(p)
    return best


def strip_code(text):
    """Comments, string and character literals removed (line structure kept)."""
    out = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    out = re.sub(r"//[^\n]*", "", out)
    out = re.sub(r'"(\\.|[^"\\\n])*"', '""', out)
    return re.sub(r"'(\\.|[^'\\\n])*'", "''", out)


DEF_RE = re.compile(r"^(?!static\b|typedef\b|return\b|else\b|extern\b)[A-Za-z_][\w \t\*]*?\b([A-Za-z_]\w*)\s*\(([^;{}]*?)\)\s*\{",
                    re.M)
STATIC_RE = re.compile(r"^static\b[^;{}=]*?\b([A-Za-z_]\w*)\s*\(", re.M)
CALL_RE = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
PROTO_RE = re.compile(r"^[A-Za-z_][\w \t\*]*?\b[A-Za-z_]\w*\s*\([^;{}]*?\)\s*(__attribute__\s*\(\(.*?\)\)\s*)?;", re.M | re.S)
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources(root):
    for d, _, files in os.walk(os.path.join(root, "src")):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                full = os.path.join(d, f)
                yield os.path.relpath(full, root).replace(os.sep, "/"), full


def check(root):
    """List of violation messages for the tree at `root`."""
    layers = read_layers(root)
    names = [n for n, _ in layers]
    files = {}
    for rel, full in sources(root):
        files[rel] = open(full, encoding="utf-8", errors="replace").read()
    bad = []
    owner = {}  # function name -> defining file (names defined in several files are left out)
    statics = {}
    code = {rel: strip_code(t) for rel, t in files.items()}
    for rel, t in code.items():
        if layer_of(rel, layers) is None:
            bad.append(f"{rel}: in no layer of docs/architecture.md")
            continue
        statics[rel] = set(STATIC_RE.findall(t))
        if rel.endswith(".c"):
            for name, _ in DEF_RE.findall(t):
                owner[name] = None if name in owner else rel
    for rel, t in files.items():
        lf = layer_of(rel, layers)
        if lf is None:
            continue
        for inc in INCLUDE_RE.findall(t):
            cand = [os.path.normpath(os.path.join(os.path.dirname(rel), inc)).replace(os.sep, "/"),
                    os.path.normpath(os.path.join("src", inc)).replace(os.sep, "/")]
            target = next((c for c in cand if c in files), None)
            if target is None:
                continue  # system, public (include/) or generated header
            lt = layer_of(target, layers)
            if lt is not None and lt > lf:
                bad.append(f"{rel} ({names[lf]}) includes {target} ({names[lt]})")
        seen = set()
        body = PROTO_RE.sub("", code[rel])  # declarations are not calls (a header may declare what it does not own)
        for name in CALL_RE.findall(body):
            g = owner.get(name)
            if not g or g == rel or name in seen or name in statics.get(rel, ()):
                continue
            seen.add(name)
            lg = layer_of(g, layers)
            if lg is not None and lg > lf:
                bad.append(f"{rel} ({names[lf]}) calls {name}, defined in {g} ({names[lg]})")
    return bad


def self_test():
    """The check must catch a planted upward include and a planted upward call, and pass a downward one."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for d in ("src", "docs"):
            shutil.copytree(os.path.join(REPO, d), os.path.join(tmp, d))
        base = set(check(tmp))
        planted = os.path.join(tmp, "src", "core", "planted_violation.c")
        with open(planted, "w") as f:
            f.write('#include "../exec/engine.h"\n#include "status.h"\n')
        got = set(check(tmp)) - base
        results.append(("upward #include caught", any("planted_violation.c" in b and "includes" in b for b in got)))
        with open(planted, "w") as f:
            f.write('#include "status.h"\nvoid planted(void) { oxrt_plan_prepare(0); }\n')
        got = set(check(tmp)) - base
        results.append(("upward call caught", any("planted_violation.c" in b and "calls" in b for b in got)))
        os.remove(planted)
        planted = os.path.join(tmp, "src", "session", "planted_fine.c")
        with open(planted, "w") as f:
            f.write('#include "../exec/engine.h"\nvoid planted(void) { oxrt_plan_prepare(0); }\n')
        got = set(check(tmp)) - base
        results.append(("downward #include and call pass", not got))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=REPO)
    ap.add_argument("--self-test", action="store_true", help="only the self-test")
    a = ap.parse_args()
    results = self_test()
    if not a.self_test:
        bad = check(a.root)
        results += [("layering: " + b, False) for b in bad]
        if not bad:
            results.append(("layering: every #include and call points to the same or a lower layer", True))
    for name, ok in results:
        print(("ok   " if ok else "FAIL ") + name)
    failed = sum(1 for _, ok in results if not ok)
    print(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
