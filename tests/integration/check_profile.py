#!/usr/bin/env python3
"""Check a folded profile against a fixture's expectation file.

    check_profile.py EXPECT_FILE FOLDED_FILE [--threads]

The folded file has one stack per line, root first:

    root;[thread;]frame;...;frame COUNT

root is the process name; with --threads the second frame is the thread,
`NAME (TID)`. COUNT is a non-negative number (decimals allowed). The marker
frames `[truncated]` and `[unknown]` say the walk was cut; they are
recognised wherever they stand in the stack. A frame's trailing `_[i]`
(inlined), `_[k]` (kernel) or `_[j]` (JIT) annotation is ignored when names
are compared.

The expectation file (fixtures/<name>.expect) has one expectation per line;
`#` starts a comment; a name with blanks is quoted ("f(int, long)"). Each line ends in SHARE TOL, both percentages of all
samples (summed COUNTs), and holds when |measured - SHARE| <= TOL:

    leaf F SHARE TOL        the leaf is F: the innermost frame that is neither
                            a marker nor a kernel frame
    inlined F SHARE TOL     the leaf is F, marked as an inlined frame (_[i])
    under F SHARE TOL       F is somewhere in the stack (root and thread
                            frames excluded)
    bottom F SHARE TOL      the walk reached the stack's end at F: there is no
                            marker and the outermost frame is F (e.g. _start)
    truncated SHARE TOL     the stack contains the [truncated] marker
    kernel SHARE TOL        the stack has kernel frames (`_[k]`, --kernel)
    thread NAME KIND ... SHARE TOL
                            restrict KIND (one of the above, or `all` for
                            every sample) to the samples of the threads named
                            NAME; still a share of ALL samples; needs --threads

Prints one line per expectation, `ok` or `FAIL`, with the measured share.
Exit status: 0 when all hold, 1 when one fails, 2 when a file cannot be read,
is malformed, or holds no samples (an empty profile never passes).
"""

import argparse
import math
import re
import shlex
import sys

MARKERS = {"[truncated]", "[unknown]"}
COUNT = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)$")
THREAD_FRAME = re.compile(r"^(?P<name>.*) \((?P<tid>\d+)\)$")
ANNOTATION = re.compile(r"_\[[ikj]\]$")


class InputError(Exception):
    pass


class Stack:
    def __init__(self, thread, frames):
        self.thread = thread
        self.frames = [ANNOTATION.sub("", f) for f in frames]
        self.truncated = "[truncated]" in frames
        self.kernel = any(f.endswith("_[k]") for f in frames)
        real = [(f, n) for f, n in zip(frames, self.frames) if f not in MARKERS]
        self.names = {n for _, n in real}
        user = [(f, n) for f, n in real if not f.endswith("_[k]")]
        self.leaf = user[-1][1] if user else None
        self.raw_leaf = user[-1][0] if user else None
        complete = real and len(real) == len(frames)
        self.bottom = real[0][1] if complete else None


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
        thread = None
        if threads:
            m = THREAD_FRAME.match(frames[1]) if len(frames) > 1 else None
            if not m:
                raise InputError("%s: no `NAME (TID)` thread frame after the "
                                 "root (is this --threads output?)" % where)
            thread = m.group("name")
            frames = frames[2:]
        else:
            frames = frames[1:]
        stacks.append((Stack(thread, frames), float(count)))
    if not stacks or sum(c for _, c in stacks) <= 0:
        raise InputError("%s: no samples" % path)
    return stacks


def parse_kind(words, where, threads):
    """Return a predicate on Stack for the words of one expectation."""
    kind, args = words[0], words[1:]
    if kind == "thread":
        if not threads:
            raise InputError("%s: `thread` needs --threads folded input" % where)
        if len(args) < 2 or args[1] == "thread":
            raise InputError("%s: expected `thread NAME KIND ...`" % where)
        name, inner = args[0], parse_kind(args[1:], where, threads)
        return lambda s: s.thread == name and inner(s)
    arity = {"leaf": 1, "inlined": 1, "under": 1, "bottom": 1, "truncated": 0, "kernel": 0, "all": 0}
    if kind not in arity:
        raise InputError("%s: unknown kind `%s`" % (where, kind))
    if len(args) != arity[kind]:
        raise InputError("%s: `%s` takes %d argument(s)" % (where, kind, arity[kind]))
    if kind == "leaf":
        return lambda s: s.leaf == args[0]
    if kind == "inlined":
        return lambda s: s.raw_leaf == args[0] + "_[i]"
    if kind == "under":
        return lambda s: args[0] in s.names
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


def read_expectations(path, threads):
    """Return [(text, predicate, share, tolerance)]."""
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
        if not words:
            continue
        if len(words) < 3:
            raise InputError("%s: expected `KIND ... SHARE TOL`" % where)
        if words[0] == "all":
            raise InputError("%s: `all` is only meaningful inside `thread`" % where)
        predicate = parse_kind(words[:-2], where, threads)
        share, tol = number(words[-2], where), number(words[-1], where)
        expectations.append((" ".join(words[:-2]), predicate, share, tol))
    if not expectations:
        raise InputError("%s: no expectations" % path)
    return expectations


def main():
    ap = argparse.ArgumentParser(
        description="Check a folded profile against a fixture's .expect file.")
    ap.add_argument("expect", help="fixtures/<name>.expect")
    ap.add_argument("folded", help="folded stacks to check")
    ap.add_argument("--threads", action="store_true",
                    help="the folded stacks have a thread frame after the root")
    args = ap.parse_args()
    try:
        expectations = read_expectations(args.expect, args.threads)
        stacks = read_folded(args.folded, args.threads)
    except InputError as e:
        print("check_profile: %s" % e, file=sys.stderr)
        return 2

    total = sum(c for _, c in stacks)
    failed = 0
    for text, predicate, share, tol in expectations:
        measured = 100.0 * sum(c for s, c in stacks if predicate(s)) / total
        ok = abs(measured - share) <= tol
        failed += not ok
        print("%-4s %s: %.1f %% (expected %g +- %g)"
              % ("ok" if ok else "FAIL", text, measured, share, tol))
    print("%d of %d expectations hold (%g samples)"
          % (len(expectations) - failed, len(expectations), total))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
