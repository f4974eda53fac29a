#!/usr/bin/env python3
"""Benchmark: two hotspy binaries (before / after) and austin on the same
Python program, interleaved, at one rate.

    bench_python_ab.py --before BIN --after BIN [--austin PATH]
                       [--python PATH ...] [--rate 100] [--rounds 3] [--seconds 4]

In each round and for each interpreter: tests/bench/pystack50.py is started
three times, and each run is recorded for SECONDS by one of: `BEFORE record
--stats -r RATE -p PID`, `AFTER record ...`, `austin -s -i 1e6/RATE -x
SECONDS -p PID`. Each profiler's CPU (user+sys from wait4) is printed for the
whole recording and per sample (hotspy: its summary's samples, on-CPU
weights; austin: the lines it wrote, one per sample of a thread not idle,
so a thread waiting for a CPU counts for austin and not for hotspy). The
end: medians over the rounds, and the median of each round's ratio to
austin. Benchmarks print; they never pass or fail.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "pystack50.py")


def run(cmd):
    """(stderr, CPU in us) of @cmd."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = p.stderr.read()
    _, _, ru = os.wait4(p.pid, 0)
    return err, (ru.ru_utime + ru.ru_stime) * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--austin", default="/work/austin-build/src/austin")
    ap.add_argument("--python", action="append")
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=4)
    a = ap.parse_args()
    pythons = a.python or ["/usr/bin/python3"]
    tools = ["before", "after"] + (["austin"] if os.access(a.austin, os.X_OK) else [])
    res = {}
    with tempfile.TemporaryDirectory(prefix="hotspy-pyab-") as tmp:
        for r in range(a.rounds):
            for py in pythons:
                for tool in tools:
                    target = subprocess.Popen([py, FIXTURE, "-n", "1000000"],
                                              stdout=subprocess.DEVNULL)
                    try:
                        time.sleep(0.3)
                        if tool == "austin":
                            out = os.path.join(tmp, "austin.out")
                            _, cpu = run([a.austin, "-s", "-i", str(1000000 // a.rate), "-x",
                                          str(a.seconds), "-o", out, "-p", str(target.pid)])
                            with open(out, errors="replace") as f:
                                n = sum(1 for line in f if line.startswith("P"))
                            extra = ""
                        else:
                            err, cpu = run([getattr(a, tool), "record", "--stats", "-r", str(a.rate),
                                            "-d", str(a.seconds), "-p", str(target.pid),
                                            "-o", os.path.join(tmp, "out.folded")])
                            m = re.search(r"(\d+) samples in", err)
                            n = int(m.group(1)) if m else 0
                            h = re.search(r"held per snapshot, median / 90th pct: (\d+) / \d+ us; "
                                          r"stopping (\d+) / \d+ us, reading and resuming (\d+)", err)
                            extra = ("held %s = stopping %s + reading %s" % h.groups()) if h else ""
                    finally:
                        target.kill()
                        target.wait()
                    res.setdefault((py, tool), []).append((cpu, n))
                    print("round %d %s %-6s samples %4d cpu %6.0f ms %6.0f us/sample %s"
                          % (r, py, tool, n, cpu / 1000, cpu / n if n else float("nan"), extra),
                          flush=True)
    print()
    for py in pythons:
        line = "%s, %d Hz, %ds: whole-run CPU median (ms)" % (py, a.rate, a.seconds)
        for tool in tools:
            line += " %s %.0f" % (tool, statistics.median(c for c, _ in res[(py, tool)]) / 1000)
        if "austin" in tools:
            for tool in ("before", "after"):
                ratios = [x[0] / y[0] for x, y in zip(res[(py, tool)], res[(py, "austin")])]
                line += "; %s/austin %.2f" % (tool, statistics.median(ratios))
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
