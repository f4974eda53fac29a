#!/usr/bin/env python3
"""Benchmark: how long the target is really held at each ptrace stop, as the
kernel's scheduler sees it, beside what hotspy's --stats calls "held".

    bench_held.py --hotspy BIN --python PATH [--rate 100] [--seconds 4]

Runs tests/bench/pystack50.py, attaches `hotspy record --stats -r RATE`,
and records the target's sched:sched_switch and sched:sched_wakeup events
with `perf record -a` (root, tracepoints) at the same time. For each stop:
  stopped  from the switch out into the traced state (prev_state t) to the
           wake-up by PTRACE_CONT: the time the thread is held
  lost     from that switch out to the switch back in: what the target loses
           (the wait for a CPU after the resume included)
hotspy's "held" counts from PTRACE_INTERRUPT to the resume: it includes the
time before the stop, when the thread still runs or waits for a CPU.
Prints medians and 90th percentiles; never passes or fails.
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hotspy", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=4)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hotspy-held-") as tmp:
        target = subprocess.Popen([a.python, os.path.join(HERE, "pystack50.py"), "-n", "1000000"],
                                  stdout=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            tid = str(target.pid)
            data = os.path.join(tmp, "sched.data")
            perf = subprocess.Popen(
                ["perf", "record", "-q", "-a", "-o", data,
                 "-e", "sched:sched_switch", "--filter", "prev_pid == %s || next_pid == %s" % (tid, tid),
                 "-e", "sched:sched_wakeup", "--filter", "pid == %s" % tid,
                 "--", "sleep", str(a.seconds + 1)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)
            r = subprocess.run([a.hotspy, "record", "--stats", "-r", str(a.rate), "-d", str(a.seconds),
                                "-p", tid, "-o", os.path.join(tmp, "out.folded")],
                               stderr=subprocess.PIPE, text=True)
            perf.wait()
        finally:
            target.kill()
            target.wait()
        for line in r.stderr.splitlines():
            if "held per snapshot" in line or "samples in" in line or "stats: ticks" in line:
                print(line)
        script = subprocess.run(["perf", "script", "-i", data, "-F", "time,event,trace"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    stopped, lost = scheduler_view(script, tid)
    if not stopped:
        print("no stop seen by the scheduler (perf tracepoints unavailable?)")
        return 0
    print("scheduler: %d stops; stopped (traced stop to wake-up) median %.0f us, 90th %.0f; "
          "lost (to back on a CPU) median %.0f us, 90th %.0f"
          % (len(stopped), statistics.median(stopped), pct(stopped, .9),
             statistics.median(lost), pct(lost, .9)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
