#!/usr/bin/env python3
"""Time and peak memory of `hotspy flamegraph` on a large folded file (see
gen_folded.py). Prints the median of several runs; asserts nothing.

usage: bench_flamegraph.py HOTSPY FOLDED [--runs N]
"""
import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hotspy")
    ap.add_argument("folded")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    times, peaks = [], []
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "bench.svg")
        for _ in range(a.runs):
            t0 = time.monotonic()
            # Each run in its own child so ru_maxrss is that run's own peak.
            r = subprocess.run(["/usr/bin/env", "python3", "-c",
                                "import resource,subprocess,sys;"
                                "subprocess.run(sys.argv[1:],check=True);"
                                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
                                a.hotspy, "flamegraph", "-q", a.folded, "-o", out],
                               capture_output=True, text=True, check=True)
            times.append(time.monotonic() - t0)
            peaks.append(int(r.stdout.strip()) / 1024.0)
        size = os.path.getsize(out)
    print("input %.1f MB, output SVG %.1f MB" % (os.path.getsize(a.folded) / 1e6, size / 1e6))
    print("time: median %.3f s (min %.3f, max %.3f) over %d runs" %
          (statistics.median(times), min(times), max(times), a.runs))
    print("peak memory: median %.1f MB (max %.1f MB)" % (statistics.median(peaks), max(peaks)))


if __name__ == "__main__":
    main()
