#!/usr/bin/env python3
"""Convert `perf script` output to hotspy's folded format.

    perf record -F 499 --call-graph dwarf -o p.data -- ./fixture 3
    perf script -i p.data | perf_to_folded.py [--threads] > p.folded

perf is the reference the fixtures' expectations are checked against, so
its stacks are written the way hotspy writes them (flamegraph/folded.h):

    root;[thread;]outermost;...;leaf COUNT

- root is the process name: the comm of the thread whose tid is the pid,
  else of the lowest tid seen (the pid is known only when the output has it,
  e.g. `perf script -F comm,pid,tid,ip,sym`);
- with --threads the second frame is `COMM (TID)`, COMM the last name
  perf saw for that thread;
- each sample counts 1; identical stacks are summed; lines are sorted;
- a frame is the function name without its `+0x..` offset; inlined frames
  get `_[i]`, kernel frames `_[k]`; a frame perf could not name becomes
  `MODULE+0xADDR` (as hotspy names it), never `[unknown]`, which in folded
  stacks is a marker;
- perf's DWARF unwinder stops silently where its stack dump ends (8 KiB by
  default). A stack whose outermost frame is not a known bottom of a stack
  (`_start`, the clone functions) therefore gets hotspy's `[truncated]`
  marker just below the root (thread) frame, where hotspy puts the frames
  it could not find. --no-truncation-marker turns this off; it also needs
  libc symbols (libc6-dbg) to name clone3.

Input it cannot parse is an error (exit 2), as is input with no samples.
"""

import argparse
import io
import os
import re
import sys
from collections import Counter

TRUNCATED = "[truncated]"
STACK_BOTTOMS = {"_start", "clone", "clone3", "__clone", "__clone3",
                 "__GI___clone", "__GI___clone3"}
KERNEL_START = 0xffff800000000000

# The tid (pid/tid) is the last number before the optional [cpu] and the
# time stamp when they are printed; otherwise the first number after comm.
HEADER_WITH_TIME = re.compile(
    r"^(?P<comm>.*?)\s+(?:(?P<pid>-?\d+)/)?(?P<tid>-?\d+)\s+"
    r"(?:\[\d+\]\s+)?\d+\.\d+:")
HEADER_PLAIN = re.compile(
    r"^(?P<comm>.*?)\s+(?:(?P<pid>-?\d+)/)?(?P<tid>-?\d+)(?=\s|$)")
FRAME = re.compile(r"^\s+(?P<addr>[0-9a-fA-F]+)(?:\s+(?P<rest>.*?))?\s*$")
SYMOFF = re.compile(r"\+0x[0-9a-fA-F]+$")


class InputError(Exception):
    pass


def parse_header(line):
    m = HEADER_WITH_TIME.match(line) or HEADER_PLAIN.match(line)
    if not m or not m.group("comm").strip():
        raise InputError("not a sample header: %r" % line)
    pid = int(m.group("pid")) if m.group("pid") else None
    return m.group("comm").strip(), pid, int(m.group("tid"))


def split_dso(rest):
    """'sym+0x1 (dso)' -> ('sym+0x1', 'dso'); the dso group is optional."""
    m = re.match(r"^(.*?)\s*\(([^()]*)\)$", rest)
    if m and (m.group(2) == "inlined" or "/" in m.group(2)
              or m.group(2).startswith("[")):
        return m.group(1), m.group(2)
    return rest, None


def frame_name(line):
    m = FRAME.match(line)
    if not m:
        raise InputError("not a call chain line: %r" % line)
    addr = int(m.group("addr"), 16)
    sym, dso = split_dso(m.group("rest") or "")
    sym = SYMOFF.sub("", sym)
    if addr >= KERNEL_START:
        return (sym if sym and sym != "[unknown]" else "0x%x" % addr) + "_[k]"
    if not sym or sym == "[unknown]":
        if dso and dso != "inlined" and not dso.startswith("["):
            return "%s+0x%x" % (os.path.basename(dso), addr)
        return "0x%x" % addr
    if dso == "inlined":
        return sym + "_[i]"
    return sym


def read_samples(lines):
    """Yield (comm, pid, tid, frames leaf first) for each sample."""
    sample = None
    for lineno, line in enumerate(lines, 1):
        line = line.rstrip("\n")
        try:
            if not line.strip():
                if sample:
                    yield sample
                sample = None
            elif line[0].isspace():
                if sample is None:
                    raise InputError("call chain line outside a sample")
                sample[3].append(frame_name(line))
            else:
                if sample:
                    yield sample
                comm, pid, tid = parse_header(line)
                sample = (comm, pid, tid, [])
        except InputError as e:
            raise InputError("line %d: %s" % (lineno, e)) from None
    if sample:
        yield sample


def fold(samples, threads, mark_truncated):
    samples = list(samples)
    if not samples:
        raise InputError("no samples in the input")
    thread_comm = {}
    thread_pid = {}
    for comm, pid, tid, _ in samples:
        thread_comm[tid] = comm
        thread_pid[tid] = pid
    process_name = {}
    for tid in sorted(thread_comm):
        pid = thread_pid[tid]
        if pid == tid or pid not in process_name:
            process_name[pid] = thread_comm[tid]

    counts = Counter()
    for _, pid, tid, frames in samples:
        stack = [process_name[pid]]
        if threads:
            stack.append("%s (%d)" % (thread_comm[tid], tid))
        if mark_truncated and frames and frames[-1] not in STACK_BOTTOMS:
            stack.append(TRUNCATED)
        stack.extend(reversed(frames))
        counts[";".join(f.replace(";", ":") for f in stack)] += 1
    return counts


def main():
    ap = argparse.ArgumentParser(
        description="Convert `perf script` output (stdin or FILE) to folded stacks.")
    ap.add_argument("file", nargs="?", help="perf script output (default: stdin)")
    ap.add_argument("--threads", action="store_true",
                    help="add a `COMM (TID)` frame below the process root")
    ap.add_argument("--no-truncation-marker", action="store_true",
                    help="do not mark stacks that stop above _start/clone")
    args = ap.parse_args()
    try:
        if args.file:
            with open(args.file, encoding="utf-8", errors="replace") as f:
                counts = fold(read_samples(f), args.threads,
                              not args.no_truncation_marker)
        else:
            stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8",
                                     errors="replace")
            counts = fold(read_samples(stdin), args.threads,
                          not args.no_truncation_marker)
    except (OSError, InputError) as e:
        print("perf_to_folded: %s" % e, file=sys.stderr)
        return 2
    for stack in sorted(counts, key=lambda s: s.encode()):
        print("%s %d" % (stack, counts[stack]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
