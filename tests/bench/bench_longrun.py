#!/usr/bin/env python3
"""Benchmark: hotspy's memory over a long recording of a service-like target.

    bench_longrun.py --hotspy BIN --fixture fixtures/service [--duration 3600]
                     [--rate 100] [--sampler perf] [--out DIR]

Starts the fixture (fixtures/service.c: 32 worker threads that come and go,
thousands of distinct call paths, about a third of one core) for longer than
the recording, then runs

    hotspy record --stats -r RATE -p PID -d DURATION -o DIR/longrun.folded

and reads hotspy's resident memory (VmRSS and VmHWM of /proc/PID/status)
every 30 s for the first 5 minutes and every 5 minutes after, printing each
reading as it is taken (so a log shows progress). At the end it prints:

  write time   hotspy's wall time less the sampling time its summary reports
               (attaching, which takes milliseconds, is counted in it too),
               and the CPU of naming and writing from --stats
  profile      the folded file's size and its distinct stacks (lines), and
               the distinct stacks over all threads (thread names stripped
               where --threads would add them: not used here)
  peak RSS     VmHWM read just before hotspy exits, and ru_maxrss

Benchmarks print; they do not pass or fail. The fixture is killed at the end.
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import time


def status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def threads_of(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hotspy", required=True)
    p.add_argument("--fixture", required=True)
    p.add_argument("--duration", type=int, default=3600)
    p.add_argument("--rate", type=int, default=100)
    p.add_argument("--sampler", default="perf")
    p.add_argument("--out", default=".")
    args = p.parse_args()

    os.makedirs(args.out, exist_ok=True)
    out = os.path.join(args.out, "longrun.folded")
    # The fixture outlives the recording; it is killed at the end.
    target = subprocess.Popen([args.fixture, str(args.duration + 120)])
    time.sleep(2)
    argv = [args.hotspy, "record", "--stats", "-r", str(args.rate), "--sampler",
            args.sampler, "-p", str(target.pid), "-d", str(args.duration), "-o", out]
    print("command:", " ".join(argv), flush=True)
    print(f"load average at start: {loadavg()}", flush=True)
    errpath = os.path.join(args.out, "longrun.stderr")
    errf = open(errpath, "w")
    t0 = time.monotonic()
    prof = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errf)

    # Readings at 30 s steps for 5 minutes, then at 5-minute steps.
    marks = [30 * i for i in range(1, 10)] + list(range(300, args.duration + 1, 300))
    marks = [m for m in marks if m < args.duration]
    print(f"{'t (s)':>7} {'VmRSS (KiB)':>12} {'VmHWM (KiB)':>12} {'target threads':>15} "
          f"{'load':>16}", flush=True)
    hwm = 0
    ended = []

    def running():
        # wait4 rather than Popen.poll: the rusage of the exit is wanted.
        if not ended:
            pid, st, ru = os.wait4(prof.pid, os.WNOHANG)
            if pid:
                ended.append((st, ru))
        return not ended

    for m in marks:
        while running() and time.monotonic() - t0 < m:
            time.sleep(min(1.0, max(0.05, m - (time.monotonic() - t0))))
        if not running():
            break
        rss = status_kb(prof.pid, "VmRSS")
        h = status_kb(prof.pid, "VmHWM")
        hwm = max(hwm, h or 0)
        print(f"{m:>7} {rss!s:>12} {h!s:>12} {threads_of(target.pid):>15} "
              f"{loadavg():>16}", flush=True)
    # Near the end: keep the last peak reading before hotspy exits.
    while running():
        h = status_kb(prof.pid, "VmHWM")
        if h:
            hwm = max(hwm, h)
        time.sleep(0.2)
    status, ru = ended[0]
    wall = time.monotonic() - t0
    errf.close()
    target.send_signal(signal.SIGKILL)
    target.wait()

    err = open(errpath).read()
    m = re.search(r"(\d+) samples in ([\d.]+) s from (\d+) threads", err)
    samples, secs, nthreads = (int(m.group(1)), float(m.group(2)), int(m.group(3))) if m \
        else (0, float("nan"), 0)
    m = re.search(r"naming and writing ([\d.]+) ms", err)
    name_ms = float(m.group(1)) if m else float("nan")
    m = re.search(r"hotspy cpu ([\d.]+) ms in all", err)
    cpu_ms = float(m.group(1)) if m else float("nan")
    stacks = 0
    size = 0
    if os.path.exists(out):
        size = os.path.getsize(out)
        with open(out) as f:
            stacks = sum(1 for line in f if line.strip())
    print(f"hotspy exit status {os.waitstatus_to_exitcode(status)}; "
          f"load average at end: {loadavg()}")
    print(f"samples {samples} in {secs:.1f} s from {nthreads} threads")
    print(f"write time (wall less sampling) {wall - secs:.2f} s; naming and writing CPU "
          f"{name_ms / 1e3:.2f} s; hotspy CPU in all {cpu_ms / 1e3:.1f} s "
          f"({cpu_ms * 1e3 / samples if samples else float('nan'):.1f} us per sample)")
    print(f"profile {size} bytes, {stacks} distinct stacks (folded lines)")
    # ru_maxrss of a child counts the high-water mark of the process it was
    # forked from (this script) too: VmHWM is hotspy's own.
    print(f"peak RSS: VmHWM {hwm} KiB (ru_maxrss {ru.ru_maxrss} KiB, this script's "
          f"included)")
    if err.strip():
        sys.stdout.write("hotspy stderr:\n" + err)


if __name__ == "__main__":
    main()
