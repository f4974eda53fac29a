#!/usr/bin/env python3
"""Interleaved A/B of the target's slowdown: the fixture alone, under hotspy,
under `perf record --call-graph dwarf`, one after the other in each round, so
that the machine's drift over the run hits all three alike.

Prints the median wall time of each kind over the rounds as a ratio to the
median alone. Prints; never passes or fails.

    python3 tests/bench/bench_ab.py --hotspy build/dev/src/hotspy \\
        --fixture build/dev/fixtures/hotspots --units 150 --rate 1000 --rounds 11

--hotspy-before OLD adds a run under another hotspy binary (an earlier
build) to each round, as `before`: a change measured against the code it
replaces in the same run.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run_once(kind, args, tmp):
    start = time.monotonic()
    target = subprocess.Popen([args.fixture, "-n", str(args.units)])
    prof = None
    if kind in ("hotspy", "before"):
        cmd = [args.hotspy if kind == "hotspy" else args.hotspy_before, "record", "-q", "-r", str(args.rate), "-f", "folded",
               "-o", os.path.join(tmp, "ab.folded"), "-p", str(target.pid)]
        if args.sampler:
            cmd[2:2] = ["--sampler", args.sampler]
        prof = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    elif kind == "perf":
        prof = subprocess.Popen([args.perf, "record", "-q", "-e", "task-clock",
                                 "-F", str(args.rate), "--call-graph", "dwarf",
                                 "-o", os.path.join(tmp, "ab.data"), "-p", str(target.pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.waitpid(target.pid, 0)
    wall = time.monotonic() - start
    if prof:
        prof.wait()
    return wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hotspy", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--perf", default="perf")
    ap.add_argument("--units", type=int, default=150)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--sampler", default=None, help="hotspy --sampler (default: auto)")
    ap.add_argument("--hotspy-before", default=None,
                    help="another hotspy binary, run in each round too (`before`)")
    args = ap.parse_args()

    kinds = (["alone"] + (["before"] if args.hotspy_before else []) + ["hotspy"] +
             (["perf"] if shutil.which(args.perf) else []))
    walls = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="hotspy-ab-") as tmp:
        for _ in range(args.rounds):
            for k in kinds:
                walls[k].append(run_once(k, args, tmp))
    base = statistics.median(walls["alone"])
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    print("fixture %s -n %d, %d Hz, %d rounds; median wall %.3f s alone; load average %s"
          % (os.path.basename(args.fixture), args.units, args.rate, args.rounds, base, load))
    for k in kinds:
        ratios = sorted(w / base for w in walls[k])
        q1, q3 = ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]
        print("  %-7s slowdown %.3f (quartiles of runs / median alone: %.3f-%.3f)"
              % (k, statistics.median(walls[k]) / base, q1, q3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
