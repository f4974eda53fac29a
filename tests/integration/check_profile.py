#!/usr/bin/env python3
"""Check a folded profile against a fixture's expectation file.

    check_profile.py EXPECT_FILE FOLDED_FILE [--threads] [--lines]
                     [--python-version X.Y] [--python-root PERCENT]

The folded file has one stack per line, root first:

    root;[thread;]frame;...;frame COUNT

root is the process name; with --threads the second frame is the thread,
`NAME (TID)`. COUNT is a non-negative number (decimals allowed). The marker
frames `[truncated]` and `[unknown]` say the walk was cut; they are
recognised wherever they stand in the stack. A frame's trailing `_[i]`
(inlined), `_[k]` (kernel) or `_[j]` (JIT) annotation is ignored when names
are compared. A Python frame is `QUALNAME (FILE)`, or `QUALNAME (FILE:LINE)`
with hotspy's --lines (pass --lines here too); a qualified name holds no
blank, so the first ` (` ends it. Native frames take the same shape with
--lines (`deflate (deflate.c:1002)`): a frame is Python when its FILE is
Python source (`.py`, `.pyw`) or a pseudo-file (`<string>`, `<frozen os>`).

The expectation file (fixtures/<name>.expect) has one expectation per line;
`#` starts a comment; a name with blanks is quoted ("f(int, long)"). Each
line ends in SHARE TOL, both percentages of all samples (summed COUNTs), and
holds when |measured - SHARE| <= TOL:

    leaf F SHARE TOL        the leaf is F: the innermost frame that is neither
                            a marker nor a kernel frame
    inlined F SHARE TOL     the leaf is F, marked as an inlined frame (_[i])
    under F SHARE TOL       F is somewhere in the stack (root and thread
                            frames excluded)
    caller F G SHARE TOL    somewhere in the stack F is called by G: G is the
                            frame right outside F (toward the root)
    path A B ... SHARE TOL  A, B, ... are in the stack in this order from
                            the root toward the leaf, not necessarily
                            adjacent (a Python caller, a C function, the
                            Python callback it runs)
    repeated F N SHARE TOL  F is in the stack at least N times (recursion)
    python SHARE TOL        the stack holds a Python frame
    native-under F SHARE TOL
                            the leaf is a native frame (not Python, marker
                            or kernel) and the innermost Python frame is F:
                            time in C code charged to the Python line that
                            called it (mixed stacks)
    line F MARK SHARE TOL   the leaf is the Python frame F, on a line whose
                            source text holds the comment `# MARK` (needs
                            --lines)
    bottom F SHARE TOL      the walk reached the stack's end at F: there is no
                            marker and the outermost frame is F (e.g. _start)
    truncated SHARE TOL     the stack contains the [truncated] marker
    kernel SHARE TOL        the stack has kernel frames (`_[k]`, --kernel)
    thread NAME KIND ... SHARE TOL
                            restrict KIND (one of the above, or `all` for
                            every sample) to the samples of the threads named
                            NAME; still a share of ALL samples; needs --threads
    thread-of F SHARE TOL   every sample of the threads (told apart by tid)
                            that run F in some stack: threads told apart by
                            what they do, where they share one name; needs
                            --threads

and one expectation that states no share (needs --lines):

    hottest F MARK          among the samples whose leaf is the Python frame
                            F, the line with the most samples holds `# MARK`

Frame names (F, G, A ...) are matched exactly, or by pattern:

    py:QUALNAME             a Python frame of that function, whatever its file
                            and line (`py:work`, `py:Shape.area`, `py:<lambda>`)
    py:QUALNAME@FILE        the same, and FILE is the base name of its file
                            (`py:naïve_work@modulé_名前.py`)
    re:REGEX                any frame whose whole name matches REGEX
                            (`re:qsort(_r)?`)

A line may start with a guard on the target's Python version (given with
--python-version; a guarded line without it is an error): `py>=3.11` or
`py<3.12` (both may appear): the line is checked only when the version
satisfies them, so one file states what differs between versions (co_name
before 3.11, qualified names from 3.11; list comprehensions inlined from
3.12). The marks of `line` and `hottest` are looked up in the source file
named by the frame, or, when that cannot be read, in the file of that base
name beside the expectation file.

--python-root PERCENT: at least PERCENT of the samples that hold a Python
frame must reach the outermost Python frame of their thread: `<module>`, a
thread's `_bootstrap` (threading.py; `__bootstrap` on 2.7), or what the interpreter runs from C at
start-up and exit (`_find_and_load`, threading's `_shutdown`); a walk cut
short does not.

Prints one line per expectation, `ok`, `FAIL` or `skip` (a version guard
that does not apply, a line expectation without --lines), with the measured
share. Exit status: 0 when all hold, 1 when one fails, 2 when a file cannot
be read, is malformed, or holds no samples (an empty profile never passes).
"""

import argparse
import collections
import math
import os
import re
import shlex
import sys

MARKERS = {"[truncated]", "[unknown]"}
COUNT = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)$")
THREAD_FRAME = re.compile(r"^(?P<name>.*) \((?P<tid>\d+)\)$")
ANNOTATION = re.compile(r"_\[[ikj]\]$")
# QUALNAME (FILE) or QUALNAME (FILE:LINE): a qualified name has no blank.
PY_FRAME = re.compile(r"^(?P<func>[^ ]+) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")
PY_FILE = re.compile(r"(\.pyw?|^<.*>)$")
GUARD = re.compile(r"^py(?P<op>>=|<)(?P<major>\d+)\.(?P<minor>\d+)$")
# The outermost Python frame of a complete stack: a script's or module's
# top level, the start of a threading.Thread, and the two entries the
# interpreter calls from C around a program's run: the import of site and
# the like at start-up (importlib's _find_and_load) and the wait for the
# threads at exit (threading's _shutdown).
PY_ROOTS = {"<module>", "_bootstrap", "Thread._bootstrap", "__bootstrap",  # 2.7's
            "_find_and_load", "_shutdown"}


class InputError(Exception):
    pass


class Frame:
    """One frame of a stack; python is (qualname, file, line or None) for a
    Python frame, else None."""

    def __init__(self, raw):
        self.raw = raw
        self.name = ANNOTATION.sub("", raw)
        self.kernel = raw.endswith("_[k]")
        self.marker = raw in MARKERS
        m = None if self.marker or self.kernel else PY_FRAME.match(self.name)
        self.python = None
        if m and PY_FILE.search(m.group("file")):
            line = int(m.group("line")) if m.group("line") else None
            self.python = (m.group("func"), m.group("file"), line)


class Stack:
    def __init__(self, thread, frames, thread_key=None):
        self.thread = thread
        self.thread_key = thread_key      # the whole `NAME (TID)` frame
        self.frames = [Frame(f) for f in frames]            # root first
        self.truncated = any(f.raw == "[truncated]" for f in self.frames)
        self.kernel = any(f.kernel for f in self.frames)
        real = [f for f in self.frames if not f.marker]
        user = [f for f in real if not f.kernel]
        self.leaf_frame = user[-1] if user else None
        self.leaf = user[-1].name if user else None
        self.raw_leaf = user[-1].raw if user else None
        complete = real and len(real) == len(self.frames)
        self.bottom = real[0].name if complete else None
        py = [f for f in self.frames if f.python]
        self.python = bool(py)
        self.py_inner = py[-1] if py else None
        self.py_outer = py[0] if py else None


def frame_matcher(pattern):
    """A predicate on Frame for one frame pattern of an expectation."""
    if pattern.startswith("re:"):
        try:
            rx = re.compile(pattern[3:])
        except re.error as e:
            raise InputError("bad regular expression %r: %s" % (pattern, e)) from None
        return lambda f: not f.marker and rx.fullmatch(f.name) is not None
    if pattern.startswith("py:"):
        func, _, base = pattern[3:].partition("@")
        if not func:
            raise InputError("empty Python function name in %r" % pattern)
        return lambda f: (f.python is not None and f.python[0] == func and
                          (not base or os.path.basename(f.python[1]) == base))
    return lambda f: f.name == pattern and not f.marker


class Marks:
    """Line numbers of source lines that carry `# MARK`, per file."""

    def __init__(self, expect_dir):
        self.expect_dir = expect_dir
        self.cache = {}

    def lines(self, path, mark):
        key = (path, mark)
        if key not in self.cache:
            found = set()
            for p in (path, os.path.join(self.expect_dir, os.path.basename(path))):
                try:
                    with open(p, encoding="utf-8") as f:
                        text = f.read().splitlines()
                except (OSError, UnicodeDecodeError):
                    continue
                rx = re.compile(r"#\s*%s\b" % re.escape(mark))
                found = {n for n, l in enumerate(text, 1) if rx.search(l)}
                break
            self.cache[key] = found
        return self.cache[key]

    def marked(self, frame, mark):
        func, path, line = frame.python
        return line is not None and line in self.lines(path, mark)


def read_folded(path, threads):
    """Return [(Stack, count)]; raise InputError on anything malformed."""
    stacks = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise InputError("cannot read %s: %s" % (path, e.strerror)) from None
    for lineno, line in enumerate(lines, 1):
        where = "%s:%d" % (path, lineno)
        if not line.strip():
            continue
        stack, sep, count = line.rpartition(" ")
        if not sep or not COUNT.match(count):
            raise InputError("%s: expected `frame;...;frame COUNT`" % where)
        frames = stack.split(";")
        if any(not f for f in frames):
            raise InputError("%s: empty frame name" % where)
        thread = thread_key = None
        if threads:
            m = THREAD_FRAME.match(frames[1]) if len(frames) > 1 else None
            if not m:
                raise InputError("%s: no `NAME (TID)` thread frame after the "
                                 "root (is this --threads output?)" % where)
            thread = m.group("name")
            thread_key = frames[1]
            frames = frames[2:]
        else:
            frames = frames[1:]
        stacks.append((Stack(thread, frames, thread_key), float(count)))
    if not stacks or sum(c for _, c in stacks) <= 0:
        raise InputError("%s: no samples" % path)
    return stacks


LINE_KINDS = {"line", "hottest"}


class ThreadOf:
    """Predicate of `thread-of F`: set up with every stack (bind) before use."""

    def __init__(self, matcher):
        self.matcher = matcher
        self.keys = set()

    def bind(self, stacks):
        self.keys = {s.thread_key for s, _ in stacks
                     if any(self.matcher(f) for f in s.frames)}

    def __call__(self, s):
        return s.thread_key in self.keys


def parse_kind(words, where, opts, marks):
    """Return a predicate on Stack for the words of one expectation."""
    kind, args = words[0], words[1:]
    if kind == "thread":
        if not opts.threads:
            raise InputError("%s: `thread` needs --threads folded input" % where)
        if len(args) < 2 or args[1] == "thread":
            raise InputError("%s: expected `thread NAME KIND ...`" % where)
        name, inner = args[0], parse_kind(args[1:], where, opts, marks)
        return lambda s: s.thread == name and inner(s)
    if kind == "thread-of":
        # Every sample of the threads (by tid) that run frame F at some
        # point: threads told apart by what they do, where the OS gives
        # them all one name.
        if not opts.threads:
            raise InputError("%s: `thread-of` needs --threads folded input" % where)
        if len(args) != 1:
            raise InputError("%s: `thread-of` takes one frame" % where)
        try:
            m0 = frame_matcher(args[0])
        except InputError as e:
            raise InputError("%s: %s" % (where, e)) from None
        pred = ThreadOf(m0)
        return pred
    arity = {"leaf": 1, "inlined": 1, "under": 1, "caller": 2, "repeated": 2, "python": 0,
             "native-under": 1, "line": 2, "bottom": 1, "truncated": 0, "kernel": 0,
             "all": 0}
    if kind == "path":
        if not args:
            raise InputError("%s: `path` takes at least one frame" % where)
    elif kind not in arity:
        raise InputError("%s: unknown kind `%s`" % (where, kind))
    elif len(args) != arity[kind]:
        raise InputError("%s: `%s` takes %d argument(s)" % (where, kind, arity[kind]))
    if kind in ("leaf", "under", "caller", "repeated", "native-under", "line"):
        try:
            m0 = frame_matcher(args[0])
        except InputError as e:
            raise InputError("%s: %s" % (where, e)) from None
    if kind == "leaf":
        return lambda s: s.leaf_frame is not None and m0(s.leaf_frame)
    if kind == "inlined":
        return lambda s: s.raw_leaf == args[0] + "_[i]"
    if kind == "under":
        return lambda s: any(m0(f) for f in s.frames)
    if kind == "caller":
        try:
            m1 = frame_matcher(args[1])
        except InputError as e:
            raise InputError("%s: %s" % (where, e)) from None

        def caller(s):
            real = [f for f in s.frames if not f.marker]
            return any(m0(real[i]) and m1(real[i - 1]) for i in range(1, len(real)))
        return caller
    if kind == "path":
        try:
            ms = [frame_matcher(a) for a in args]
        except InputError as e:
            raise InputError("%s: %s" % (where, e)) from None

        def path(s):
            i = 0
            for f in s.frames:
                if i < len(ms) and ms[i](f):
                    i += 1
            return i == len(ms)
        return path
    if kind == "repeated":
        if not args[1].isdigit() or int(args[1]) < 1:
            raise InputError("%s: `repeated` takes a count >= 1, not %r" % (where, args[1]))
        n = int(args[1])
        return lambda s: sum(1 for f in s.frames if m0(f)) >= n
    if kind == "python":
        return lambda s: s.python
    if kind == "native-under":
        return lambda s: (s.leaf_frame is not None and s.leaf_frame.python is None and
                          s.py_inner is not None and m0(s.py_inner))
    if kind == "line":
        if not args[0].startswith("py:"):
            raise InputError("%s: `line` takes a Python frame (py:NAME)" % where)
        mark = args[1]
        return lambda s: (s.leaf_frame is not None and s.leaf_frame.python is not None and
                          m0(s.leaf_frame) and marks.marked(s.leaf_frame, mark))
    if kind == "bottom":
        return lambda s: s.bottom == args[0]
    if kind == "truncated":
        return lambda s: s.truncated
    if kind == "kernel":
        return lambda s: s.kernel
    return lambda s: True


def number(word, where):
    try:
        value = float(word)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise InputError("%s: `%s` is not a percentage" % (where, word))
    return value


def guard_holds(word, version, where):
    """Whether the guard @word (py>=3.11, py<3.12) holds for @version."""
    m = GUARD.match(word)
    if version is None:
        raise InputError("%s: `%s` needs --python-version" % (where, word))
    bound = (int(m.group("major")), int(m.group("minor")))
    return version >= bound if m.group("op") == ">=" else version < bound


class Expectation:
    def __init__(self, text, kind, predicate=None, share=None, tol=None, active=True,
                 why=""):
        self.text, self.kind, self.predicate = text, kind, predicate
        self.share, self.tol, self.active, self.why = share, tol, active, why
        self.func = self.mark = None


def read_expectations(path, opts, marks):
    """Return [Expectation]."""
    expectations = []
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError("cannot read %s: %s" % (path, e)) from None
    for lineno, line in enumerate(lines, 1):
        where = "%s:%d" % (path, lineno)
        try:
            words = shlex.split(line, comments=True)
        except ValueError as e:
            raise InputError("%s: %s" % (where, e)) from None
        active, why, guarded = True, "", False
        while words and GUARD.match(words[0]):
            guarded = True
            if not guard_holds(words[0], opts.version, where):
                active, why = False, "Python %d.%d" % opts.version
            words = words[1:]
        if not words:
            if guarded:
                raise InputError("%s: a version guard with no expectation" % where)
            continue
        text = " ".join(words)
        if words[0] == "hottest":
            if len(words) != 3 or not words[1].startswith("py:"):
                raise InputError("%s: expected `hottest py:NAME MARK`" % where)
            e = Expectation(text, "hottest", active=active, why=why)
            try:
                e.func = frame_matcher(words[1])
            except InputError as err:
                raise InputError("%s: %s" % (where, err)) from None
            e.mark = words[2]
        else:
            if len(words) < 3:
                raise InputError("%s: expected `KIND ... SHARE TOL`" % where)
            if words[0] == "all":
                raise InputError("%s: `all` is only meaningful inside `thread`" % where)
            predicate = parse_kind(words[:-2], where, opts, marks)
            share, tol = number(words[-2], where), number(words[-1], where)
            kind = words[0] if words[0] != "thread" else words[2]
            e = Expectation(" ".join(words[:-2]), kind, predicate, share, tol, active, why)
        if active and e.kind in LINE_KINDS and not opts.lines:
            e.active, e.why = False, "no --lines"
        expectations.append(e)
    if not expectations:
        raise InputError("%s: no expectations" % path)
    return expectations


def check_hottest(e, stacks, marks):
    """(holds, message) for a `hottest` expectation."""
    per_line = collections.Counter()
    for s, c in stacks:
        f = s.leaf_frame
        if f is not None and f.python is not None and e.func(f):
            per_line[(f.python[1], f.python[2])] += c
    if not per_line:
        return False, "no samples with that leaf"
    (path, line), count = per_line.most_common(1)[0]
    total = sum(per_line.values())
    ok = line is not None and line in marks.lines(path, e.mark)
    return ok, "hottest line %s:%s, %.1f %% of its %g samples" % (
        os.path.basename(path), line, 100.0 * count / total, total)


def python_roots(stacks):
    """(samples holding a Python frame, those whose outermost Python frame
    is a root of PY_ROOTS)."""
    python = sum(c for s, c in stacks if s.python)
    rooted = sum(c for s, c in stacks
                 if s.python and s.py_outer.python[0] in PY_ROOTS)
    return python, rooted


def parse_version(text):
    m = re.match(r"^(\d+)\.(\d+)$", text or "")
    if not m:
        raise InputError("--python-version takes X.Y, not %r" % text)
    return (int(m.group(1)), int(m.group(2)))


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Check a folded profile against a fixture's .expect file.")
    ap.add_argument("expect", help="fixtures/<name>.expect")
    ap.add_argument("folded", help="folded stacks to check")
    ap.add_argument("--threads", action="store_true",
                    help="the folded stacks have a thread frame after the root")
    ap.add_argument("--lines", action="store_true",
                    help="Python frames carry their line (hotspy --lines)")
    ap.add_argument("--python-version", metavar="X.Y",
                    help="the target's Python version, for guarded lines")
    ap.add_argument("--python-root", type=float, metavar="PERCENT",
                    help="at least PERCENT of the samples with Python frames reach "
                         "<module> or a thread's _bootstrap")
    args = ap.parse_args(argv)
    try:
        args.version = parse_version(args.python_version) if args.python_version else None
        marks = Marks(os.path.dirname(os.path.abspath(args.expect)))
        expectations = read_expectations(args.expect, args, marks)
        stacks = read_folded(args.folded, args.threads)
    except InputError as e:
        print("check_profile: %s" % e, file=sys.stderr)
        return 2

    total = sum(c for _, c in stacks)
    for e in expectations:
        if isinstance(e.predicate, ThreadOf):
            e.predicate.bind(stacks)
    failed = checked = 0
    for e in expectations:
        if not e.active:
            print("skip %s (%s)" % (e.text, e.why))
            continue
        checked += 1
        if e.kind == "hottest":
            ok, msg = check_hottest(e, stacks, marks)
            failed += not ok
            print("%-4s %s: %s" % ("ok" if ok else "FAIL", e.text, msg))
            continue
        measured = 100.0 * sum(c for s, c in stacks if e.predicate(s)) / total
        ok = abs(measured - e.share) <= e.tol
        failed += not ok
        print("%-4s %s: %.1f %% (expected %g +- %g)"
              % ("ok" if ok else "FAIL", e.text, measured, e.share, e.tol))
    if args.python_root is not None:
        checked += 1
        python, rooted = python_roots(stacks)
        share = 100.0 * rooted / python if python else 0.0
        ok = python > 0 and share >= args.python_root
        failed += not ok
        print("%-4s python root: %.1f %% of %g samples with Python frames reach "
              "<module> or _bootstrap (expected >= %g)"
              % ("ok" if ok else "FAIL", share, python, args.python_root))
    print("%d of %d expectations hold (%g samples)" % (checked - failed, checked, total))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
