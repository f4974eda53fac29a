#!/usr/bin/env python3
"""Benchmark: what sampling costs its target, in the target's own CPU time.

    bench_sample_floor.py --hotspy BIN --fixture BIN [--units N] [--runs K]
                          [--rate HZ] [--samplers LIST] [--threads LIST]

Runs the fixture (`FIXTURE -n N`, a fixed amount of work) K times in turns:
alone, then under each profiler of --samplers, each attached by PID:

  perf-count   `perf stat -e task-clock`: the same per-thread events, which
               count and never sample (what having an event costs a thread)
  perf-nocopy  `perf record -e task-clock` at the rate with no stack copy
               (the sample interrupt and perf's own record: the least any
               perf-event sampler costs)
  perf-dwarf   `perf record --call-graph dwarf,8192` (perf's usual copy)
  perf, bpf, ptrace
               `hotspy record --stats --sampler perf|bpf|ptrace`

(default: perf-nocopy,perf-dwarf,perf,bpf). Prints the medians of the
fixture's own CPU time (user + system, wait4) and their ratio to alone: what
each costs inside the target, which hardly moves with the machine's load
(unlike wall time), and its context switches (voluntary and not, wait4:
those a profiler adds, and those many threads on few cores make, at each
of which a per-thread event is switched out and in). The ratio is given
twice: median over median, and paired within a round (each run over the
alone run of its round: median and quartiles). For hotspy, also its samples and its CPU per sample (all of its
CPU from wait4, attach to written profile, over its samples: whole run, not
per additional sample), the sampling loop's part of it (--stats), the
ticks it missed and the thread snapshots it skipped as late (the ptrace
sampler's, when threads are slow to stop).

--threads 1,8,64,256 runs the table once per thread count, the fixture's
PARALLEL_THREADS set to it (fixtures/parallel): -n is rounded up to a
multiple of the largest count so that every count does the same total work
(parallel gives each thread ceil(N / threads) units).

Benchmarks print; they never pass or fail.
"""
import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile

import bench_threads


def profiler_argv(name, a, out):
    """The argv (without -p) of profiler @name, or None for alone."""
    period = str(1000000000 // a.rate)
    perf = ["perf", "record", "-q", "-e", "task-clock", "-c", period, "-o", out + ".perf"]
    if name == "alone":
        return None
    if name == "perf-count":
        return ["perf", "stat", "-e", "task-clock", "-o", out + ".stat"]
    if name == "perf-nocopy":
        return perf
    if name == "perf-dwarf":
        return perf + ["--call-graph", "dwarf,8192"]
    return [a.hotspy, "record", "--stats", "-r", str(a.rate), "--sampler", name,
            "-o", out + ".folded"]


LABELS = {"alone": "alone", "perf-count": "perf stat -e task-clock (counts, no sample)",
          "perf-nocopy": "perf record, no stack copy",
          "perf-dwarf": "perf record --call-graph dwarf,8192"}


def label(name):
    return LABELS.get(name, "hotspy --sampler " + name)


def run(fixture, units, env, prof):
    """One run of the fixture under @prof (argv without -p, or None).
    Returns the fixture's CPU seconds, and for a profiler its CPU seconds
    and (hotspy) the figures of its --stats (bench_threads.hotspy_stats)."""
    t = subprocess.Popen([fixture, "-n", str(units)], env=env)
    p = None
    if prof:
        p = subprocess.Popen(prof + ["-p", str(t.pid)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    _, _, ru = os.wait4(t.pid, 0)
    r = {"target": ru.ru_utime + ru.ru_stime, "switches": ru.ru_nvcsw + ru.ru_nivcsw}
    if p and prof[0] == "perf":
        # perf record ends on SIGINT.
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        p.communicate(timeout=120)
    elif p:
        # hotspy ends with its target; wait4 gives its own CPU.
        err = p.stderr.read()
        _, _, pru = os.wait4(p.pid, 0)
        p.returncode = 0
        f = bench_threads.hotspy_stats(err)
        r.update(samples=f.get("samples", 0), sampling_us=f.get("cpu", float("nan")),
                 missed=100.0 - f.get("ticks", float("nan")),
                 late=f.get("skipped", float("nan")))
        r["cpu"] = pru.ru_utime + pru.ru_stime
    with open("/proc/loadavg") as f:
        r["load"] = float(f.read().split()[0])
    return r


def quart(xs, form="%.3f"):
    """Median [lower quartile-upper quartile] of the numbers in @xs."""
    xs = sorted(x for x in xs if x == x)
    if not xs:
        return "n/a"
    if len(xs) < 3:
        return form % statistics.median(xs)
    q = statistics.quantiles(xs, n=4)
    return (form + " [" + form + "-" + form + "]") % (statistics.median(xs), q[0], q[2])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hotspy", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--units", type=int, default=200)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--samplers", default="perf-nocopy,perf-dwarf,perf,bpf",
                    help="comma-separated: perf-count (perf stat), perf-nocopy, perf-dwarf "
                         "(perf record), "
                         "perf, bpf, ptrace (hotspy record --sampler)")
    ap.add_argument("--threads", default=None,
                    help="comma-separated PARALLEL_THREADS counts (fixtures/parallel)")
    a = ap.parse_args()
    tools = ["alone"] + [s for s in a.samplers.split(",") if s and s != "alone"]
    counts = [int(n) for n in a.threads.split(",")] if a.threads else [None]
    units = a.units
    if a.threads:
        step = max(counts)
        units = (units + step - 1) // step * step
    res = {(n, k): [] for n in counts for k in tools}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        for i in range(a.runs):
            print("run %d of %d" % (i + 1, a.runs), file=sys.stderr, flush=True)
            for n in counts:
                env = dict(os.environ)
                if n is not None:
                    env["PARALLEL_THREADS"] = str(n)
                for k in tools:
                    res[(n, k)].append(run(a.fixture, units, env, profiler_argv(k, a, out)))
    loads = [r["load"] for v in res.values() for r in v]
    print("%s -n %d, %d Hz, %d runs in turns, load average (1 min) %.1f to %.1f" % (
        os.path.basename(a.fixture), units, a.rate, a.runs, min(loads), max(loads)))
    print()
    print("| threads | in the target | CPU (s), median | / alone | / alone, paired by run "
          "[quartiles] | context switches, median | hotspy samples | hotspy CPU per sample, whole run (us) "
          "| sampling loop per sample (us) | ticks missed (%) | snapshots skipped late (%) |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in counts:
        alone_runs = [r["target"] for r in res[(n, "alone")]]
        alone = statistics.median(alone_runs)
        for k in tools:
            v = res[(n, k)]
            m = statistics.median(r["target"] for r in v)
            paired = [r["target"] / b for r, b in zip(v, alone_runs)]
            row = ["-"] * 5
            if k not in LABELS:
                row = [quart([r["samples"] for r in v], "%.0f"),
                       quart([r["cpu"] * 1e6 / r["samples"] for r in v if r["samples"]],
                             "%.0f"),
                       quart([r["sampling_us"] for r in v], "%.0f"),
                       quart([r["missed"] for r in v], "%.0f"),
                       quart([r["late"] for r in v], "%.0f")]
            print("| %s | %s | %.3f | %.3f | %s | %.0f | %s |" % (
                n if n is not None else "-", label(k), m, m / alone, quart(paired),
                statistics.median(r["switches"] for r in v), " | ".join(row)))


if __name__ == "__main__":
    main()
