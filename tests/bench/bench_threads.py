#!/usr/bin/env python3
"""Benchmark: the ptrace sampler on Python programs as their threads grow.

    bench_threads.py --hotspy BIN [--python PATH] [--threads 1,8,64,256]
                     [--modes flat,nogil] [--seconds S] [--rounds K] [--rate HZ]

The target is fixtures/python/pymany.py with every thread busy
(`--threads N --busy N`), in one of two modes:

  flat   pure Python, every thread spinning (they take turns on the GIL:
         one runs at a time, the others wait for it in the kernel)
  nogil  SHA-1 of 1 MiB in C with the GIL released (every thread runnable
         at once: N threads on the machine's CPUs)

For each mode and thread count, K interleaved rounds of: the fixture alone
for S seconds; the fixture launched under `hotspy record --stats -r HZ`
(its whole run recorded). Medians over the rounds:

  work/s       the fixture's rounds of work per second of its run (-v),
               summed over its threads; slowdown = alone / under hotspy
  stop/thread  how long a thread stays stopped per sample (--stats): the
               median hold from the moment hotspy sees it stopped to its
               PTRACE_CONT (reading and resuming), and the whole hold from
               PTRACE_INTERRUPT (held: includes the wait for the stop, which
               for a thread waiting for a CPU is time it would not have run
               anyway), median and 90th percentile
  cpu/sample   hotspy's sampling CPU per sample (--stats)
  ticks        ticks taken / due, and snapshots skipped (--stats)

Beside it, py-spy's published figure (issue #872 of py-spy, 192 cores,
~159 threads of torch): a 1.5 s run took 7.6-23.8 s at 100 Hz and hung at
200 Hz, because py-spy stops every thread of the process at every sample.

Benchmarks print; they never pass or fail. The machine is shared and noisy:
compare within one run.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "fixtures", "python",
                       "pymany.py")
NAN = float("nan")


def fixture_argv(args, mode, n):
    return [args.python, FIXTURE, "--threads", str(n), "--busy", str(n), "--" + mode, "-v",
            str(args.seconds)]


def work_rate(out):
    m = re.search(r"; ([\d.]+) rounds/s", out)
    return float(m.group(1)) if m else NAN


def hotspy_stats(err):
    """Figures of one hotspy run from its --stats lines and summary."""
    f = {}
    m = re.search(r"held per snapshot, median / 90th pct: ([\d.]+) / ([\d.]+) us; "
                  r"stopping ([\d.]+) / ([\d.]+) us, reading and resuming ([\d.]+) / "
                  r"([\d.]+) us", err)
    if m:
        (f["held50"], f["held90"], _, _, f["read50"], f["read90"]) = (
            float(x) for x in m.groups())
    m = re.search(r"stats: ticks (\d+) \(missed (\d+)\), snapshots (\d+), skipped idle "
                  r"(\d+), deferred (\d+), failed (\d+).*skipped late (\d+)", err)
    if m:
        ticks, missed, snaps, _, deferred, failed, late = (int(x) for x in m.groups())
        f["ticks"] = 100.0 * ticks / max(1, ticks + missed)
        f["skipped"] = 100.0 * late / max(1, snaps + deferred + failed + late)
    m = re.search(r"sampling [\d.]+ ms \(([\d.]+) us per sample\)", err)
    if m:
        f["cpu"] = float(m.group(1))
    m = re.search(r"(\d+) samples in", err)
    if m:
        f["samples"] = int(m.group(1))
    return f


def run_alone(args, mode, n):
    r = subprocess.run(fixture_argv(args, mode, n), stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True, timeout=args.seconds * 20 + 60)
    return work_rate(r.stdout)


def run_hotspy(args, mode, n, tmp):
    out = os.path.join(tmp, "out.folded")
    r = subprocess.run([args.hotspy, "record", "--stats", "-r", str(args.rate), "-f", "folded",
                        "-o", out, "--"] + fixture_argv(args, mode, n),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=args.seconds * 20 + 60)
    f = hotspy_stats(r.stderr)
    f["rate"] = work_rate(r.stdout)
    f["detach_warnings"] = r.stderr.count("did not stop")
    return f


def med(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else NAN


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hotspy", required=True)
    p.add_argument("--python", default=os.path.expanduser("~/.pyenv/versions/3.12.1/bin/python3"))
    p.add_argument("--threads", default="1,8,64,256")
    p.add_argument("--modes", default="flat,nogil")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--rate", type=int, default=100)
    args = p.parse_args()
    counts = [int(x) for x in args.threads.split(",")]
    print("hotspy %s, Python %s, %d Hz, %g s runs, %d rounds, load %s"
          % (args.hotspy, args.python, args.rate, args.seconds, args.rounds,
             open("/proc/loadavg").read().split()[0]))
    header = ("| mode | threads | work/s alone | slowdown | stop/thread median (90th) us | "
              "held median (90th) us | cpu/sample us | ticks taken | snapshots skipped | "
              "samples | detach warnings |")
    print(header)
    print("|---" * 11 + "|")
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes.split(","):
            for n in counts:
                alone, runs = [], []
                for _ in range(args.rounds):
                    alone.append(run_alone(args, mode, n))
                    runs.append(run_hotspy(args, mode, n, tmp))
                a = med(alone)
                w = med([r.get("rate", NAN) for r in runs])

                def m(key):
                    return med([r.get(key, NAN) for r in runs])
                print("| %s | %d | %.0f | %.2f | %.0f (%.0f) | %.0f (%.0f) | %.0f | %.0f %% | "
                      "%.0f %% | %.0f | %d |"
                      % (mode, n, a, a / w if w else NAN, m("read50"), m("read90"),
                         m("held50"), m("held90"), m("cpu"), m("ticks"), m("skipped"),
                         m("samples"), sum(r["detach_warnings"] for r in runs)))
                sys.stdout.flush()
    print("py-spy (issue #872, 192 cores, ~159 threads): a 1.5 s run took 7.6-23.8 s at "
          "100 Hz, hung at 200 Hz (every thread stopped at every sample)")


if __name__ == "__main__":
    main()
