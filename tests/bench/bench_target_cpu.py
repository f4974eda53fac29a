#!/usr/bin/env python3
"""Benchmark: the CPU time a sampler costs inside its target.

    bench_target_cpu.py --hotspy BIN --fixture BIN [--units N] [--runs K]
                        [--rate HZ] [--samplers perf,bpf]

Runs the fixture (`FIXTURE -n N`, a fixed amount of work) K times alone and
K times with hotspy attached by PID under each sampler, in turns, and
prints the medians of the fixture's own user and system CPU time (wait4).
What a sampler does in the target's context (perf's copy of the stack, the
BPF program, a ptrace stop) is charged to the target, mostly as system
time; unlike the wall-clock slowdown of bench_record.py, this hardly moves
with the load of a shared machine.

Benchmarks print; they do not pass or fail.
"""
import argparse
import os
import statistics
import subprocess
import tempfile


def run(args, sampler, out):
    target = subprocess.Popen([args.fixture, "-n", str(args.units)])
    prof = None
    if sampler:
        prof = subprocess.Popen([args.hotspy, "record", "-q", "-r", str(args.rate),
                                 "--sampler", sampler, "-o", out, "-p", str(target.pid)])
    _, _, ru = os.wait4(target.pid, 0)
    if prof:
        prof.wait()
    return ru.ru_utime, ru.ru_stime


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hotspy", required=True)
    p.add_argument("--fixture", required=True)
    p.add_argument("--units", type=int, default=200)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--rate", type=int, default=1000)
    p.add_argument("--samplers", default="perf,bpf")
    args = p.parse_args()
    samplers = [None] + args.samplers.split(",")
    res = {s: [] for s in samplers}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.folded")
        for _ in range(args.runs):
            for s in samplers:
                res[s].append(run(args, s, out))
    base = statistics.median(u + s for u, s in res[None])
    print("fixture %s -n %d at %d Hz, %d runs each, medians"
          % (os.path.basename(args.fixture), args.units, args.rate, args.runs))
    print()
    print("| sampler | target user (s) | target sys (s) | target CPU / alone |")
    print("|---|---:|---:|---:|")
    for s in samplers:
        u = statistics.median(x[0] for x in res[s])
        y = statistics.median(x[1] for x in res[s])
        total = statistics.median(a + b for a, b in res[s])
        print("| %s | %.3f | %.3f | %.3f |" % (s or "none (alone)", u, y, total / base))


if __name__ == "__main__":
    main()
