#!/usr/bin/env python3
"""The include graph runs one way: program -> libraries -> core.

    src/cli     the program: may include anything
    tracer/     capture (ptrace, perf, unwinding): src/core only
    flamegraph/ every writer and reader of profile files: src/core only
    ui/         the ncurses top view: src/core only
    src/core    the model: nothing of the project but itself
    fixtures/   the programs profiled by the tests: libc and each other

and, whatever the folder says, curses headers appear only in ui/, and
ptrace, perf_event and libunwind headers only in tracer/.

Usage: layout_test.py SOURCE_DIR     check the tree, list every violation
       layout_test.py --self-test    check that a tree with back edges fails

The checker runs on a small tree made to break each rule before it checks
the real one, so a checker that stopped seeing violations fails too.
"""
import os
import re
import sys
import tempfile

# Folder (relative to the source root) -> the folders its quoted includes
# may resolve to, itself always included.
ALLOWED = {
    "src/core": set(),
    "tracer": {"src/core"},
    "flamegraph": {"src/core"},
    "ui": {"src/core"},
    "src/cli": {"src/core", "tracer", "flamegraph", "ui"},
    "fixtures": set(),
}
# banned.h lives in the core and guards every C file of the project.
ALWAYS = {"src/core/banned.h"}

SYSTEM_ONLY_IN = [
    (re.compile(r"^(n?curses(w)?/)?(n?curses|term|panel|menu|form)\.h$"), "ui",
     "curses"),
    (re.compile(r"^sys/ptrace\.h$|^linux/perf_event\.h$|^libunwind(-[a-z0-9_]+)?\.h$"
                r"|^linux/ptrace\.h$"),
     "tracer", "ptrace/perf/unwind"),
]

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def folder_of(rel):
    for f in sorted(ALLOWED, key=len, reverse=True):
        if rel == f or rel.startswith(f + "/"):
            return f
    return None


def source_files(root):
    for f in ALLOWED:
        top = os.path.join(root, f)
        for dirpath, _, names in os.walk(top):
            for n in names:
                if n.endswith((".c", ".h", ".cpp")):
                    yield os.path.relpath(os.path.join(dirpath, n), root)


def check(root):
    """Every violation in the tree at @root, as text lines."""
    files = sorted(set(source_files(root)))
    # Where a quoted name can resolve: same directory first, then any
    # project folder that has a header of that name.
    headers = {}
    for rel in files:
        if rel.endswith(".h"):
            headers.setdefault(os.path.basename(rel), []).append(rel)
    problems = []
    for rel in files:
        me = folder_of(rel)
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        for m in INCLUDE.finditer(text):
            kind, name = m.group(1), m.group(2)
            line = text.count("\n", 0, m.start()) + 1
            where = f"{rel}:{line}"
            for pattern, owner, what in SYSTEM_ONLY_IN:
                if pattern.search(name) and me != owner:
                    problems.append(f"{where}: {what} header <{name}> outside {owner}/")
            if kind != '"':
                continue
            target = os.path.normpath(os.path.join(os.path.dirname(rel), name))
            if target in files:
                cands = [target]
            else:
                cands = headers.get(os.path.basename(name), [])
            if not cands:
                continue    # generated (svg_script.inc) or a system header
            if any(c in ALWAYS for c in cands):
                continue
            ok = [c for c in cands
                  if folder_of(c) == me or folder_of(c) in ALLOWED[me]]
            if not ok:
                owners = ", ".join(sorted({folder_of(c) for c in cands}))
                problems.append(f'{where}: "{name}" is in {owners}/, which {me}/ '
                                "may not include")
    return problems


def self_test():
    """A tree with one violation of each rule must give each of them."""
    bad = {
        "src/core/profile.h": '#include "sampler.h"\n',      # core -> tracer
        "src/core/log.c": '#include <curses.h>\n',            # curses out of ui
        "tracer/sampler.h": '#include "options.h"\n',         # tracer -> cli
        "flamegraph/svg.c": '#include <sys/ptrace.h>\n#include "topview.h"\n',
        "ui/topview.h": '#include "profile.h"\n#include <ncursesw/curses.h>\n',
        "src/cli/options.h": '#include "svg.h"\n#include "sampler.h"\n',
        "src/core/banned.h": "",
        "fixtures/a.c": '#include "../src/core/banned.h"\n',
    }
    expect = [
        ("src/core/profile.h", "sampler.h"),
        ("src/core/log.c", "curses"),
        ("tracer/sampler.h", "options.h"),
        ("flamegraph/svg.c", "ptrace"),
        ("flamegraph/svg.c", "topview.h"),
    ]
    with tempfile.TemporaryDirectory() as d:
        for rel, text in bad.items():
            os.makedirs(os.path.join(d, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(d, rel), "w") as fh:
                fh.write(text)
        problems = check(d)
    missed = [e for e in expect
              if not any(p.startswith(e[0] + ":") and e[1] in p for p in problems)]
    extra = [p for p in problems if not any(p.startswith(e[0] + ":") and e[1] in p
                                            for e in expect)]
    for e in missed:
        print(f"layout_test: self-test: the checker missed {e[1]} in {e[0]}")
    for p in extra:
        print(f"layout_test: self-test: the checker reported an allowed include: {p}")
    return not missed and not extra


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    if not self_test():
        return 1
    if sys.argv[1] == "--self-test":
        print("layout_test: the checker finds every kind of back edge")
        return 0
    problems = check(sys.argv[1])
    for p in problems:
        print(p)
    if problems:
        print(f"layout_test: {len(problems)} include(s) against the layout "
              "(see the docstring of tests/layout_test.py)")
        return 1
    print("layout_test: every include runs program -> libraries -> core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
