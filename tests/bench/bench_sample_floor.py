#!/usr/bin/env python3
"""Benchmark: the floor of what a perf-event sample costs its target.

    bench_sample_floor.py --hotspy BIN --fixture BIN [--units N] [--runs K]
                          [--rate HZ]

Runs the fixture (`FIXTURE -n N`, a fixed amount of work) K times in turns:
alone; under `perf record -e task-clock` at the rate with no stack copy
(the sample interrupt and perf's own record: the least any perf-event
sampler costs); under `perf record --call-graph dwarf,8192` (perf's usual
copy); under `hotspy record --sampler perf` (and --sampler bpf). Each
attached by PID. Prints the medians of the fixture's own CPU time (user +
system, wait4) and their ratio to alone: what each costs inside the target,
which hardly moves with the machine's load (unlike wall time).

Benchmarks print; they never pass or fail.
"""
import argparse
import os
import signal
import statistics
import subprocess
import tempfile


def run(fixture, units, prof):
    """The fixture's CPU seconds under @prof (argv without -p, or None)."""
    t = subprocess.Popen([fixture, "-n", str(units)])
    p = None
    if prof:
        p = subprocess.Popen(prof + ["-p", str(t.pid)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    _, _, ru = os.wait4(t.pid, 0)
    if p:
        # perf record ends on SIGINT; hotspy ends with its target.
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        p.wait(timeout=60)
    return ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hotspy", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--units", type=int, default=200)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--rate", type=int, default=1000)
    a = ap.parse_args()
    period = str(1000000000 // a.rate)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        tools = {
            "alone": None,
            "perf record, no stack copy": ["perf", "record", "-q", "-e", "task-clock", "-c",
                                           period, "-o", out + ".perf"],
            "perf record --call-graph dwarf,8192": ["perf", "record", "-q", "-e", "task-clock",
                                                    "-c", period, "--call-graph", "dwarf,8192",
                                                    "-o", out + ".perf"],
            "hotspy --sampler perf": [a.hotspy, "record", "-q", "-r", str(a.rate), "--sampler",
                                      "perf", "-o", out + ".folded"],
            "hotspy --sampler bpf": [a.hotspy, "record", "-q", "-r", str(a.rate), "--sampler",
                                     "bpf", "-o", out + ".folded"],
        }
        res = {k: [] for k in tools}
        for _ in range(a.runs):
            for k, cmd in tools.items():
                res[k].append(run(a.fixture, a.units, cmd))
    alone = statistics.median(res["alone"])
    print("%s -n %d, %d Hz, %d runs in turns, load %s" % (
        os.path.basename(a.fixture), a.units, a.rate, a.runs,
        open("/proc/loadavg").read().split()[0]))
    print()
    print("| in the target | CPU (s), median | / alone |")
    print("|---|---:|---:|")
    for k, v in res.items():
        m = statistics.median(v)
        print("| %s | %.3f | %.3f |" % (k, m, m / alone))


if __name__ == "__main__":
    main()
