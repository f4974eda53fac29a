#!/usr/bin/env python3
"""Benchmark: how long the target is really held at each ptrace stop, as the
kernel's scheduler sees it, beside what hotspy's --stats calls "held".

    bench_held.py --hotspy BIN [--hotspy BIN2 ...] --python PATH [--python PATH2 ...]
                  [--rate 100] [--seconds 4] [--rounds 1]

Runs tests/bench/pystack50.py, attaches `hotspy record --stats -r RATE`,
and records the target's sched:sched_switch and sched:sched_wakeup events
with `perf record -a` (root, tracepoints) at the same time. For each stop:
  stopped  from the switch out into the traced state (prev_state t) to the
           wake-up by PTRACE_CONT: the time the thread is held
  lost     from that switch out to the switch back in: what the target loses
           (the wait for a CPU after the resume included)
hotspy's "held" counts from PTRACE_INTERRUPT to the resume: it includes the
time before the stop, when the thread still runs or waits for a CPU.
Also printed: hotspy's whole CPU (user + system, from wait4) per sample
and per tick.

With several --hotspy binaries (before / after) and --rounds N, the runs
are interleaved (round by round, interpreter by interpreter, binary by
binary) and the end prints, for each binary and interpreter, the medians
over the rounds. Prints medians and 90th percentiles; never passes or
fails.
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


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))]


def scheduler_view(script, tid):
    """(stopped, lost) lists in us from `perf script` output."""
    out, wake, stopped, lost = None, None, [], []
    for line in script.splitlines():
        m = re.match(r"\s*([\d.]+):\s+(\S+):\s+(.*)", line)
        if not m:
            continue
        t, ev, tr = float(m.group(1)), m.group(2), m.group(3)
        if ev.endswith("sched_switch"):
            pm = re.search(r"prev_pid=(\d+) .*prev_state=(\S+) ==> .*next_pid=(\d+)", tr)
            if not pm:
                continue
            if pm.group(1) == tid and pm.group(2).startswith("t"):
                out, wake = t, None
            elif pm.group(3) == tid and out is not None:
                if wake is not None:
                    stopped.append((wake - out) * 1e6)
                    lost.append((t - out) * 1e6)
                out = None
        elif ev.endswith("sched_wakeup") and out is not None and wake is None:
            wake = t
    return stopped, lost


def one_run(hotspy, python, rate, seconds, tmp):
    """One recording; returns a dict of figures (None where not measured)."""
    target = subprocess.Popen([python, os.path.join(HERE, "pystack50.py"), "-n", "1000000"],
                              stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        tid = str(target.pid)
        data = os.path.join(tmp, "sched.data")
        perf = subprocess.Popen(
            ["perf", "record", "-q", "-a", "-o", data,
             "-e", "sched:sched_switch", "--filter", "prev_pid == %s || next_pid == %s" % (tid, tid),
             "-e", "sched:sched_wakeup", "--filter", "pid == %s" % tid,
             "--", "sleep", str(seconds + 1)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        p = subprocess.Popen([hotspy, "record", "--stats", "-r", str(rate), "-d", str(seconds),
                              "-p", tid, "-o", os.path.join(tmp, "out.folded")],
                             stderr=subprocess.PIPE, text=True)
        err = p.stderr.read()
        _, _, ru = os.wait4(p.pid, 0)
        perf.wait()
    finally:
        target.kill()
        target.wait()
    script = subprocess.run(["perf", "script", "-i", data, "-F", "time,event,trace"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    stopped, lost = scheduler_view(script, tid)
    cpu = (ru.ru_utime + ru.ru_stime) * 1e6
    m = re.search(r"(\d+) samples in", err)
    ticks = re.search(r"stats: ticks (\d+)", err)
    h = re.search(r"held per snapshot, median / 90th pct: (\d+) / \d+ us; "
                  r"stopping (\d+) / \d+ us, reading and resuming (\d+)", err)
    sm = re.search(r"stops that made a sample \d+, reading and resuming median / 90th pct: "
                   r"(\d+) / (\d+) us", err)
    r = {"lines": [line for line in err.splitlines()
                   if "held per snapshot" in line or "samples in" in line or "stats: ticks" in line
                   or "stops that made a sample" in line],
         "sampled": [int(x) for x in sm.groups()] if sm else None,
         "samples": int(m.group(1)) if m else 0,
         "ticks": int(ticks.group(1)) if ticks else 0,
         "cpu": cpu,
         "held": [int(x) for x in h.groups()] if h else None,
         "stopped": statistics.median(stopped) if stopped else None,
         "stopped90": pct(stopped, .9) if stopped else None,
         "lost": statistics.median(lost) if lost else None,
         "lost90": pct(lost, .9) if lost else None,
         "nstops": len(stopped)}
    r["cpu_sample"] = cpu / r["samples"] if r["samples"] else None
    r["cpu_tick"] = cpu / r["ticks"] if r["ticks"] else None
    return r


def med(rows, key, i=None):
    v = [r[key] if i is None else r[key][i] for r in rows if r[key] is not None]
    return statistics.median(v) if v else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hotspy", required=True, action="append")
    ap.add_argument("--python", required=True, action="append")
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=1)
    a = ap.parse_args()
    res = {}
    with tempfile.TemporaryDirectory(prefix="hotspy-held-") as tmp:
        for rnd in range(a.rounds):
            for py in a.python:
                for hs in a.hotspy:
                    load = open("/proc/loadavg").read().split()[0]
                    r = one_run(hs, py, a.rate, a.seconds, tmp)
                    res.setdefault((py, hs), []).append(r)
                    print("round %d, %s, %s, %d Hz, load %s" % (rnd, py, hs, a.rate, load))
                    for line in r["lines"]:
                        print(line)
                    if r["stopped"] is None:
                        print("no stop seen by the scheduler (perf tracepoints unavailable?)")
                    else:
                        print("scheduler: %d stops; stopped (traced stop to wake-up) median %.0f us, "
                              "90th %.0f; lost (to back on a CPU) median %.0f us, 90th %.0f"
                              % (r["nstops"], r["stopped"], r["stopped90"], r["lost"], r["lost90"]))
                    print("hotspy cpu (wait4) %.1f ms: %.0f us per sample, %.0f us per tick"
                          % (r["cpu"] / 1000, r["cpu_sample"] or float("nan"),
                             r["cpu_tick"] or float("nan")), flush=True)
    if a.rounds > 1 or len(a.hotspy) > 1:
        print()
        print("medians over %d round(s), %d Hz:" % (a.rounds, a.rate))
        for py in a.python:
            for hs in a.hotspy:
                rows = res[(py, hs)]
                print("%s %s: held %.0f = stopping %.0f + reading %.0f us (stops that made a "
                      "sample: reading %.0f, 90th %.0f); scheduler stopped "
                      "%.0f (90th %.0f), lost %.0f (90th %.0f) us; cpu per sample %.0f us, "
                      "per tick %.0f us; samples %.0f"
                      % (py, hs, med(rows, "held", 0), med(rows, "held", 1), med(rows, "held", 2),
                         med(rows, "sampled", 0), med(rows, "sampled", 1),
                         med(rows, "stopped"), med(rows, "stopped90"), med(rows, "lost"),
                         med(rows, "lost90"), med(rows, "cpu_sample"), med(rows, "cpu_tick"),
                         med(rows, "samples")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
