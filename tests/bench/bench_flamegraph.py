#!/usr/bin/env python3
"""CPU time, throughput and peak memory of `hotspy flamegraph` (and `hotspy
diff`) on large folded files (see gen_folded.py), beside flamegraph.pl and
beside an older hotspy. Rounds are interleaved (A, B, A, B...) so that the
load of a shared machine falls on all alike; prints medians and quartiles,
asserts nothing.

usage: bench_flamegraph.py HOTSPY FOLDED [--runs N] [--old HOTSPY]
           [--diff AFTER] [--flamegraph-pl PATH] [--slice LINES]

  CPU        user + system time of the child (wait4), what the goals count;
             wall time on a loaded machine says little
  MB/s       input bytes / median CPU time
  peak RSS   the child's ru_maxrss, and its ratio to the input's size
  --diff     also `hotspy diff FOLDED AFTER` (input: both files)
  --flamegraph-pl
             also flamegraph.pl and hotspy on the first --slice lines of
             FOLDED (default 20,000: flamegraph.pl takes minutes on the
             whole); found from this option, $FLAMEGRAPH_PL or PATH. It is
             not packaged by Debian: take flamegraph.pl from a checkout of
             https://github.com/brendangregg/FlameGraph outside this tree.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time


def run(cmd, stdout=subprocess.DEVNULL):
    """One run: (wall s, cpu s, peak RSS MB)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("failed (%d): %s" % (os.waitstatus_to_exitcode(status), " ".join(cmd)))
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024 / 1e6


def quart(xs):
    q = statistics.quantiles(xs, n=4) if len(xs) > 1 else [xs[0]] * 3
    return statistics.median(xs), q[0], q[2]


def report(name, runs, in_bytes):
    cpu = quart([r[1] for r in runs])
    wall = statistics.median([r[0] for r in runs])
    rss = statistics.median([r[2] for r in runs])
    print("%-34s CPU %.3f s (q1 %.3f, q3 %.3f), %6.1f MB/s; wall %.2f s; "
          "peak RSS %.1f MB = %.2fx input" %
          (name, cpu[0], cpu[1], cpu[2], in_bytes / 1e6 / cpu[0], wall, rss,
           rss * 1e6 / in_bytes))
    return cpu[0]


def rounds(cases, n):
    """Run each (name, cmd, stdout path) n times, interleaved."""
    res = {name: [] for name, _, _ in cases}
    for _ in range(n):
        for name, cmd, out in cases:
            if out:
                with open(out, "w") as f:
                    res[name].append(run(cmd, f))
            else:
                res[name].append(run(cmd))
    return res


def find_pl(opt):
    for c in (opt, os.environ.get("FLAMEGRAPH_PL"), shutil.which("flamegraph.pl")):
        if c and os.path.exists(c):
            return c
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hotspy")
    ap.add_argument("folded")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--old", help="an older hotspy to compare with")
    ap.add_argument("--diff", metavar="AFTER", help="also hotspy diff FOLDED AFTER")
    ap.add_argument("--flamegraph-pl", metavar="PATH")
    ap.add_argument("--slice", type=int, default=20000)
    a = ap.parse_args()
    bins = [("hotspy", a.hotspy)] + ([("old hotspy", a.old)] if a.old else [])
    size = os.path.getsize(a.folded)
    with tempfile.TemporaryDirectory() as d:
        svg = os.path.join(d, "bench.svg")
        print("input %s: %.1f MB; load average %.1f %.1f %.1f" %
              ((a.folded, size / 1e6) + os.getloadavg()))
        res = rounds([("%s flamegraph" % n, [b, "flamegraph", "-q", a.folded, "-o", svg], None)
                      for n, b in bins], a.runs)
        for n, _ in bins:
            report("%s flamegraph" % n, res["%s flamegraph" % n], size)
        print("  output SVG %.1f MB" % (os.path.getsize(svg) / 1e6))
        if a.diff:
            both = size + os.path.getsize(a.diff)
            res = rounds([("%s diff" % n, [b, "diff", "-q", a.folded, a.diff, "-o", svg], None)
                          for n, b in bins], a.runs)
            for n, _ in bins:
                report("%s diff (both inputs)" % n, res["%s diff" % n], both)
        pl = find_pl(a.flamegraph_pl)
        if not pl:
            print("flamegraph.pl not found (--flamegraph-pl, $FLAMEGRAPH_PL, PATH): "
                  "no comparison")
            return
        part = os.path.join(d, "slice.folded")
        with open(a.folded) as f, open(part, "w") as g:
            for i, line in enumerate(f):
                if i >= a.slice:
                    break
                g.write(line)
        psize = os.path.getsize(part)
        print("slice: the first %d lines, %.1f MB" % (a.slice, psize / 1e6))
        # hotspy takes a fraction of a second here: three runs a round.
        cases = [("%s flamegraph" % n, [b, "flamegraph", "-q", part, "-o", svg], None)
                 for n, b in bins] * 3
        cases.append(("flamegraph.pl", ["perl", pl, part], os.path.join(d, "pl.svg")))
        # flamegraph.pl is slow: fewer rounds of it suffice.
        res = rounds(cases, max(3, a.runs // 2))
        pl_cpu = report("flamegraph.pl", res["flamegraph.pl"], psize)
        for n, _ in bins:
            cpu = report("%s flamegraph" % n, res["%s flamegraph" % n], psize)
            print("  %s: %.1fx less CPU than flamegraph.pl" % (n, pl_cpu / cpu))
        print("  frames drawn: hotspy %d, flamegraph.pl %d" % (
            open(svg, errors="replace").read().count("<title>"),
            open(os.path.join(d, "pl.svg"), errors="replace").read().count("<title>")))
        print("load average at the end: %.1f %.1f %.1f" % os.getloadavg())


if __name__ == "__main__":
    main()
