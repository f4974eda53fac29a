#!/usr/bin/env python3
"""Benchmark: hotspy on a Python program with a ~50-frame stack, beside austin.

    bench_python.py --hotspy BIN [--python PATH ...] [--austin PATH]
                    [--units N] [--rounds K] [--rates 100,1000] [--agree-runs R]
                    [--sampler auto|bpf|ptrace]

The target is tests/bench/pystack50.py doing a fixed amount of work
(`-n UNITS`): 49 Python frames deep, three leaves splitting the work 6:3:1.
For each interpreter and rate:

  slowdown     wall time of the fixed work alone, with `hotspy record` attached
               by PID from its start, with `austin -s -i 1e6/RATE -p PID`
               attached from its start; run one after the other in each of K
               rounds (interleaved, so the machine's drift hits all alike);
               medians over the rounds, as ratios to the median alone
  cpu/sample   the profiler's own CPU (user+sys from wait4) over its samples:
               hotspy's from its summary line, austin's the lines it wrote
               (one line per sample and thread; with -s it writes no idle one)
  stopped      how long hotspy held a thread stopped per snapshot (--stats:
               mean of the run), median over the rounds and the largest
               single stop of any round; and per stop (--stats: median and
               90th percentile of the run, medians over the rounds), split
               into stopping (PTRACE_INTERRUPT until the thread is seen
               stopped: the kernel's and the VM's part, the floor) and
               reading (registers, stack, Python frames, PTRACE_CONT: what
               hotspy adds), with the reads per Python frame chain; austin
               never stops the target (it reads the target's memory while
               the target runs)
  agreement    hotspy --python-only and austin -s attached to the SAME run at
               the same time (both attached after the interpreter's start-up,
               ATTACH_DELAY into the run), R runs pooled; leaf shares by Python
               function (austin's weighted by its CPU-time metric, as austin's
               own tools do); the largest difference over all leaves, in points

The issue's goals, printed beside the figures: stopped <= 50 us per thread
per sample (judged on the median per stop); hotspy cpu/sample <= austin's; leaf shares within 2 points.

Benchmarks print; they never pass or fail. The machine is shared and noisy:
compare the ratios within one run, not absolute times across runs.
"""
import argparse
import collections
import ctypes
import glob
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "pystack50.py")
ATTACH_DELAY = 0.3  # s: the target is past start-up and in its work by then
NO_PY = "(no Python frame)"


def target_argv(python, units):
    return [python, FIXTURE, "-n", str(units)]


def hotspy_argv(args, rate, out, extra=()):
    how = ["--sampler", args.sampler] if args.sampler else []
    return [args.hotspy, "record", "--stats", "-r", str(rate), "-f", "folded",
            "-o", out] + how + list(extra) + ["-p", "{pid}"]


def austin_argv(args, rate, out):
    return [args.austin, "-s", "-i", str(max(1, 1000000 // rate)), "-o", out,
            "-p", "{pid}"]


def run_target(python, units, profilers=(), delay=0.0):
    """Start the target and, @delay seconds later, each profiler (argv with
    {pid}); wait for all. Returns (target wall s, [(cpu s, stderr)])."""
    t0 = time.monotonic()
    target = subprocess.Popen(target_argv(python, units))
    if delay:
        time.sleep(delay)
    procs = [subprocess.Popen([a.replace("{pid}", str(target.pid)) for a in argv],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for argv in profilers]
    os.wait4(target.pid, 0)
    wall = time.monotonic() - t0
    res = []
    for p in procs:
        err = p.stderr.read()
        _, _, ru = os.wait4(p.pid, 0)
        res.append((ru.ru_utime + ru.ru_stime, err))
    return wall, res


# <linux/ptrace.h>, <sys/wait.h>
PTRACE_CONT, PTRACE_DETACH = 7, 17
PTRACE_SEIZE, PTRACE_INTERRUPT = 0x4206, 0x4207
WALL = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
_libc.ptrace.restype = ctypes.c_long


def ptrace_floor(python, units, rate):
    """The VM's own price of a ptrace stop, with nothing read: start the
    target, then every 1/@rate s PTRACE_INTERRUPT it, wait for the stop and
    PTRACE_CONT it, as hotspy's ptrace sampler does around its reads.
    Returns (target wall s, [stop-to-resume us]). Linux, x86-64 or arm64."""
    t0 = time.monotonic()
    target = subprocess.Popen(target_argv(python, units))
    pid, stops = target.pid, []
    if _libc.ptrace(PTRACE_SEIZE, pid, None, None) < 0:
        os.wait4(pid, 0)
        raise OSError(ctypes.get_errno(), "PTRACE_SEIZE")
    period, status = 1.0 / rate, 0
    while True:
        time.sleep(period)
        a = time.monotonic_ns()
        if _libc.ptrace(PTRACE_INTERRUPT, pid, None, None) < 0:
            break
        _, status, _ = os.wait4(pid, WALL)
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            break
        sig = os.WSTOPSIG(status)
        # A group-stop or a signal for the target: hand the signal on.
        fwd = sig if (status >> 16) == 0 and sig != 0x05 else 0
        _libc.ptrace(PTRACE_CONT, pid, None, ctypes.c_void_p(fwd))
        stops.append((time.monotonic_ns() - a) / 1000.0)
    if not (os.WIFEXITED(status) or os.WIFSIGNALED(status)):
        while True:
            _, status, _ = os.wait4(pid, WALL)
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                break
            _libc.ptrace(PTRACE_CONT, pid, None, None)
    return time.monotonic() - t0, stops


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def hotspy_hold(err):
    """(held median, held 90th pct, stopping median, stopping 90th pct,
    reading median, reading 90th pct, reads per chain) from --stats."""
    nan = float("nan")
    m = re.search(r"held per snapshot, median / 90th pct: ([\d.]+) / ([\d.]+) us; "
                  r"stopping ([\d.]+) / ([\d.]+) us, reading and resuming ([\d.]+) / "
                  r"([\d.]+) us", err)
    hold = tuple(float(x) for x in m.groups()) if m else (nan,) * 6
    m = re.search(r"frame chains copied \d+, ([\d.]+) reads each", err)
    return hold + (float(m.group(1)) if m else nan,)


def hotspy_figures(err):
    """(samples, stopped mean us, stopped max us, sampler, python share %)
    from hotspy's --stats lines and summary."""
    m = re.search(r"(\d+) samples in", err)
    n = int(m.group(1)) if m else 0
    m = re.search(r"stopped per snapshot ([\d.]+) us \(max ([\d.]+) us\)", err)
    stop, stop_max = (float(m.group(1)), float(m.group(2))) if m else (float("nan"),) * 2
    m = re.search(r", (\w+) sampler", err)
    sampler = m.group(1) if m else "?"
    m = re.search(r"Python frames in ([\d.]+)%", err)
    share = float(m.group(1)) if m else float("nan")
    return n, stop, stop_max, sampler, share


def austin_lines(path):
    """austin's collapsed stacks: 'P<pid>;T<iid>:<tid>;file:func:line;... metric',
    one line per sample and thread. Yields (leaf function or None, metric)."""
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            stack, _, metric = line.rpartition(" ")
            frames = stack.split(";")[2:]
            leaf = None
            if frames:
                parts = frames[-1].rsplit(":", 2)  # the file may hold ':'
                leaf = parts[1] if len(parts) == 3 else frames[-1]
            try:
                yield leaf, int(metric)
            except ValueError:
                continue


def austin_samples(path):
    return sum(1 for _ in austin_lines(path)) if os.path.exists(path) else 0


PYFRAME = re.compile(r"^(.*) \((.+)\)$")


def hotspy_leaves(path, acc):
    """Add hotspy's folded (--python-only) leaf counts to @acc: the innermost
    Python frame 'qualname (file)'; a sample without one (before the
    interpreter is found) counts as NO_PY."""
    with open(path, errors="replace") as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            m = PYFRAME.match(stack.split(";")[-1])
            acc[m.group(1) if m else NO_PY] += int(count)


def shares(counter):
    total = sum(counter.values())
    return {k: 100.0 * v / total for k, v in counter.items()} if total else {}


def med(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def fmt(x, spec="%.1f"):
    return spec % x if x == x else "n/a"


def bench_one(args, python, rate, tmp):
    kinds = ["alone", "hotspy"] + (["austin"] if args.austin else []) + ["floor"]
    walls = {k: [] for k in kinds}
    floor = []  # every bare stop of every round, us
    hot = []   # (cpu us per sample, samples, stop mean, stop max, sampler, py share,
               #  hotspy_hold(...))
    aus = []   # (cpu us per sample, samples)
    hout, aout = os.path.join(tmp, "h.folded"), os.path.join(tmp, "a.txt")
    for _ in range(args.rounds):
        for k in kinds:
            if k == "alone":
                walls[k].append(run_target(python, args.units)[0])
            elif k == "hotspy":
                wall, [(cpu, err)] = run_target(python, args.units, [hotspy_argv(args, rate, hout)])
                walls[k].append(wall)
                n, stop, stop_max, sampler, share = hotspy_figures(err)
                hot.append((cpu / n * 1e6 if n else float("nan"), n, stop, stop_max,
                            sampler, share, hotspy_hold(err)))
            elif k == "floor":
                wall, stops = ptrace_floor(python, args.units, rate)
                walls[k].append(wall)
                floor.append(stops)
            else:
                if os.path.exists(aout):
                    os.unlink(aout)
                wall, [(cpu, _)] = run_target(python, args.units, [austin_argv(args, rate, aout)])
                walls[k].append(wall)
                n = austin_samples(aout)
                aus.append((cpu / n * 1e6 if n else float("nan"), n))

    # Agreement: both profilers on the same run, at the same time.
    hleaf, aleaf_t, aleaf_n = collections.Counter(), collections.Counter(), collections.Counter()
    long_runs, short_runs = [], []  # (hotspy cpu s, samples, austin cpu s, samples)
    if args.austin:
        # Each long run is paired with a short one (a quarter of the work),
        # attached the same way: the difference of the two gives the CPU of
        # an additional sample, without start-up and exit.
        for units in [args.agree_units, args.agree_units // 4] * args.agree_runs:
            if os.path.exists(aout):
                os.unlink(aout)
            _, [(hcpu, herr), (acpu, _)] = run_target(
                python, units,
                [hotspy_argv(args, rate, hout, ["--python-only"]),
                 austin_argv(args, rate, aout)], delay=ATTACH_DELAY)
            runs = long_runs if units == args.agree_units else short_runs
            runs.append((hcpu, hotspy_figures(herr)[0], acpu, austin_samples(aout)))
            if units != args.agree_units:
                continue
            hotspy_leaves(hout, hleaf)
            for leaf, metric in austin_lines(aout):
                aleaf_t[leaf or NO_PY] += metric
                aleaf_n[leaf or NO_PY] += 1
    return kinds, walls, hot, aus, floor, (long_runs, short_runs), (hleaf, aleaf_t, aleaf_n)


def marginal(pairs, cpu_i, n_i):
    """CPU per additional sample, in us: (long runs - short runs) of the
    agreement, medians; start-up and exit cancel out."""
    long_runs, short_runs = pairs
    if not long_runs or not short_runs:
        return float("nan")
    lc, ln = med([r[cpu_i] for r in long_runs]), med([r[n_i] for r in long_runs])
    sc, sn = med([r[cpu_i] for r in short_runs]), med([r[n_i] for r in short_runs])
    return (lc - sc) * 1e6 / (ln - sn) if ln > sn else float("nan")


def report(args, python, rate, kinds, walls, hot, aus, floor, pairs, agree):
    base = med(walls["alone"])
    print("### %s, %d Hz (%d rounds, `-n %d`: %.2f s alone)" % (
        python, rate, args.rounds, args.units, base))
    print()
    print("| profiler | slowdown (quartiles) | samples | cpu/sample (us) | stopped/sample (us): median of runs, max |")
    print("|---|---:|---:|---:|---:|")
    for k in kinds[1:]:
        r = sorted(w / base for w in walls[k])
        q = "%.3f (%.3f-%.3f)" % (med(walls[k]) / base, r[len(r) // 4], r[(3 * len(r)) // 4])
        if k == "hotspy":
            stop = med([h[2] for h in hot])
            stop_max = max([h[3] for h in hot if h[3] == h[3]], default=float("nan"))
            name = "hotspy record (%s sampler)" % hot[0][4] if hot else "hotspy"
            print("| %s | %s | %d | %s | %s |" % (
                name, q, med([h[1] for h in hot]), fmt(med([h[0] for h in hot])),
                "never stops" if never_stops(hot) else "%s, %s" % (fmt(stop), fmt(stop_max))))
        elif k == "floor":
            all_stops = [x for r in floor for x in r]
            print("| bare ptrace stops, nothing read (mean of runs; per stop: median, 90th pct) "
                  "| %s | %d | - | %s; %s, %s; max %s |" % (
                      q, med([len(r) for r in floor]),
                      fmt(med([statistics.mean(r) for r in floor if r])),
                      fmt(pct(all_stops, 0.5)), fmt(pct(all_stops, 0.9)),
                      fmt(max(all_stops, default=float("nan")))))
        else:
            print("| austin -s | %s | %d | %s | never stops |" % (
                q, med([a[1] for a in aus]), fmt(med([a[0] for a in aus]))))
    print()
    hc = med([h[0] for h in hot])
    print("- hotspy: Python frames in %s %% of the samples (median of runs; the start-up is "
          "in these runs)" % fmt(med([h[5] for h in hot])))
    hold = [med([h[6][i] for h in hot]) for i in range(7)]
    if never_stops(hot):
        # The bpf sampler copies the frames in the kernel at the sample
        # instant: no thread is stopped.
        print("- hotspy: no thread stopped (the bpf sampler); %s reads per Python frame "
              "chain after the sample" % fmt(hold[6]))
        print("- goal stopped <= 50 us per thread per sample: met (never stopped)")
    else:
        print("- hotspy per stop (medians over runs of each run's median / 90th pct): held "
              "%s / %s us = stopping %s / %s us (the floor: until the thread is seen "
              "stopped) + reading and resuming %s / %s us; %s reads per Python frame chain"
              % tuple(fmt(x) for x in hold))
        stop = hold[0]
        print("- goal stopped <= 50 us per thread per sample: %s (median %s us, of which %s "
              "us above the stop's own floor; mean %s us)" % (
                  "met" if stop <= 50 else "MISSED", fmt(stop), fmt(hold[4]),
                  fmt(med([h[2] for h in hot]))))
    if aus:
        ac = med([a[0] for a in aus])
        print("- goal hotspy cpu/sample <= austin's: %s (%s vs %s us, ratio %.2f)" % (
            "met" if hc <= ac else "MISSED", fmt(hc), fmt(ac), hc / ac if ac else float("nan")))
        hm, am = marginal(pairs, 0, 1), marginal(pairs, 2, 3)
        print("- cpu per additional sample (agreement runs, `-n %d` minus `-n %d`: start-up "
              "and exit cancel out): hotspy --python-only %s us, austin %s us (ratio %.2f)" % (
                  args.agree_units, args.agree_units // 4,
                  fmt(hm), fmt(am), hm / am if am == am and am else float("nan")))
    hleaf, aleaf_t, aleaf_n = agree
    nopy = hleaf.pop(NO_PY, 0)
    if hleaf and aleaf_t:
        hs, at, an = shares(hleaf), shares(aleaf_t), shares(aleaf_n)
        nh, na = sum(hleaf.values()), sum(aleaf_n.values())
        keys = sorted(set(hs) | set(at), key=lambda k: -max(hs.get(k, 0), at.get(k, 0)))
        worst = max(keys, key=lambda k: abs(hs.get(k, 0) - at.get(k, 0)))
        diff = abs(hs.get(worst, 0) - at.get(worst, 0))
        diff_n = max(abs(hs.get(k, 0) - an.get(k, 0)) for k in set(hs) | set(an))
        # What two independent samplings of the same split would differ by
        # (one standard error of the difference of two proportions).
        p = (hs.get(worst, 0) + an.get(worst, 0)) / 200.0
        se = 100.0 * (p * (1 - p) * (1.0 / nh + 1.0 / na)) ** 0.5
        print("- agreement, %d runs of `-n %d` attached %.1f s in: %d hotspy samples with a "
              "Python frame (%d without: the interpreter's finalisation, which austin does "
              "not see), %d austin samples; largest difference %.1f points on %s (%.1f by "
              "austin's sample counts; sampling noise alone: %.1f points, 1 s.e.): "
              "goal <= 2 %s"
              % (args.agree_runs, args.agree_units, ATTACH_DELAY, nh, nopy, na, diff, worst,
                 diff_n, se, "met" if diff <= 2 else "MISSED"))
        print()
        print("| leaf | hotspy % | austin % (time) | austin % (samples) |")
        print("|---|---:|---:|---:|")
        for k in keys[:args.top]:
            print("| %s | %.1f | %.1f | %.1f |" % (k, hs.get(k, 0), at.get(k, 0), an.get(k, 0)))
    print()
    sys.stdout.flush()


def default_pythons():
    root = os.path.expanduser("~/.pyenv/versions")
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True,
                              check=True).stdout.strip() + "/versions"
    except (OSError, subprocess.CalledProcessError):
        pass
    found = sorted(glob.glob(os.path.join(root, "3.12*", "bin", "python3")))
    return found[-1:] or ["/usr/bin/python3"]


def never_stops(hot):
    """Were these hotspy runs made by the bpf sampler, which stops no
    thread?"""
    return bool(hot) and all(h[4] == "bpf" for h in hot)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hotspy", required=True)
    ap.add_argument("--python", action="append",
                    help="interpreter to run the fixture (repeat; default pyenv's 3.12)")
    ap.add_argument("--austin", default=None,
                    help="austin binary (3.7); without it the austin columns are left out")
    ap.add_argument("--units", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rates", default="100,1000")
    ap.add_argument("--agree-runs", type=int, default=3)
    ap.add_argument("--agree-units", type=int, default=1000,
                    help="units of work of each agreement run (longer: more samples)")
    ap.add_argument("--top", type=int, default=5, help="leaves listed in the agreement table")
    ap.add_argument("--sampler", default=None,
                    help="hotspy's --sampler (default: its own choice, auto)")
    args = ap.parse_args()
    if args.austin and not os.access(args.austin, os.X_OK):
        print("austin not found at %s: its columns are left out" % args.austin)
        args.austin = None
    pythons = args.python or default_pythons()

    print("fixture %s, %d rounds per cell, medians; austin: %s" % (
        os.path.basename(FIXTURE), args.rounds, args.austin or "absent"))
    print()
    with tempfile.TemporaryDirectory(prefix="hotspy-pybench-") as tmp:
        for python in pythons:
            for rate in [int(r) for r in args.rates.split(",")]:
                res = bench_one(args, python, rate, tmp)
                report(args, python, rate, *res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
