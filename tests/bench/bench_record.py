#!/usr/bin/env python3
"""Benchmark: what `hotspy record` costs its target, beside perf.

    bench_record.py --hotspy BIN --fixture BIN [--units N] [--pairs K] [--rates 100,1000]
                    [--samplers ptrace,perf]

For each rate, K paired runs of the fixture doing a fixed amount of work
(`FIXTURE -n N`): one alone, one with a profiler attached by PID from its
start. Reported, as medians over the pairs:

  slowdown        target wall time with the profiler / without (paired ratio)
  cpu/sample      the profiler's own CPU time (user+sys, from wait4) per sample;
                  for perf this includes `perf script`, where perf unwinds
  stop/sample     how long hotspy held a thread stopped per snapshot (--stats)

Benchmarks print; they do not pass or fail. The machine is shared and noisy:
compare the ratios in one run, not absolute times across runs.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run_alone(fixture, units):
    t0 = time.monotonic()
    p = subprocess.Popen([fixture, "-n", str(units)])
    os.wait4(p.pid, 0)
    return time.monotonic() - t0


def run_with(fixture, units, profiler_argv):
    """Start the fixture, attach the profiler by PID, wait for both.
    Returns (target wall s, profiler cpu s, profiler stderr)."""
    t0 = time.monotonic()
    target = subprocess.Popen([fixture, "-n", str(units)])
    prof = subprocess.Popen([a.replace("{pid}", str(target.pid)) for a in profiler_argv],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, _, _ = os.wait4(target.pid, 0)
    wall = time.monotonic() - t0
    err = prof.stderr.read()
    _, _, ru = os.wait4(prof.pid, 0)
    return wall, ru.ru_utime + ru.ru_stime, err


def cpu_of(argv, **kw):
    p = subprocess.Popen(argv, **kw)
    _, _, ru = os.wait4(p.pid, 0)
    return ru.ru_utime + ru.ru_stime


def hotspy_pair(args, rate, tmp, sampler):
    out = os.path.join(tmp, "h.folded")
    wall, cpu, err = run_with(args.fixture, args.units,
                              [args.hotspy, "record", "--stats", "-r", str(rate),
                               "--sampler", sampler, "-o", out, "-p", "{pid}"])
    m = re.search(r"(\d+) samples in", err)
    samples = int(m.group(1)) if m else 0
    m = re.search(r"stopped per snapshot ([\d.]+) us", err)
    stop_us = float(m.group(1)) if m else float("nan")
    return wall, cpu, samples, stop_us


def perf_pair(args, rate, tmp):
    data = os.path.join(tmp, "perf.data")
    wall, cpu, _ = run_with(args.fixture, args.units,
                            [args.perf, "record", "-q", "-e", "task-clock", "-F", str(rate),
                             "--call-graph", "dwarf", "-o", data, "-p", "{pid}"])
    script = os.path.join(tmp, "perf.txt")
    with open(script, "w") as f:
        cpu += cpu_of([args.perf, "script", "-i", data], stdout=f, stderr=subprocess.DEVNULL)
    samples = 0
    with open(script) as f:
        for line in f:
            if line and not line[0].isspace():
                samples += 1
    return wall, cpu, samples


def med(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hotspy", required=True)
    p.add_argument("--fixture", required=True)
    p.add_argument("--perf", default=shutil.which("perf"))
    p.add_argument("--units", type=int, default=200)
    p.add_argument("--pairs", type=int, default=5)
    p.add_argument("--rates", default="100,1000")
    p.add_argument("--samplers", default="ptrace,perf")
    args = p.parse_args()

    print("fixture %s -n %d, %d pairs per cell, medians" %
          (os.path.basename(args.fixture), args.units, args.pairs))
    print()
    print("| rate | profiler | slowdown | samples | cpu/sample (us) | stop/sample (us) |")
    print("|---:|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for rate in [int(r) for r in args.rates.split(",")]:
            samplers = args.samplers.split(",")
            rows = {"hotspy --sampler " + x: [] for x in samplers}
            rows["perf"] = []
            for _ in range(args.pairs):
                for sampler in samplers:
                    base = run_alone(args.fixture, args.units)
                    wall, cpu, n, stop = hotspy_pair(args, rate, tmp, sampler)
                    rows["hotspy --sampler " + sampler].append(
                        (wall / base, n, cpu / n * 1e6 if n else float("nan"), stop))
                if args.perf:
                    base = run_alone(args.fixture, args.units)
                    wall, cpu, n = perf_pair(args, rate, tmp)
                    rows["perf"].append((wall / base, n, cpu / n * 1e6 if n else float("nan"),
                                         float("nan")))
            for name, r in rows.items():
                if not r:
                    continue
                stop = med([x[3] for x in r])
                print("| %d | %s | %.3f | %d | %.1f | %s |" % (
                    rate, name if name != "perf" else "perf --call-graph dwarf + script",
                    med([x[0] for x in r]), med([x[1] for x in r]), med([x[2] for x in r]),
                    "%.1f" % stop if stop == stop else "n/a (never stops)"))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
