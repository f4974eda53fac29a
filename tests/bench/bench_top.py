#!/usr/bin/env python3
"""The cost of watching: CPU used by `hotspy top` itself, on the threads
fixture, as a share of one core, beside `hotspy record` at the same rate
and `perf top` (no call graph) on the same fixture, in interleaved rounds.

Each round starts the fixture, then each profiler in turn for --seconds;
a profiler's CPU is read from /proc/PID/stat (utime + stime) after a
two-second warm-up and again at the end, so that start-up (attaching,
reading symbol tables) is left out. `hotspy top` runs in a tmux pane of
80x24, drawing as a user sees it; `--batch` runs too, its output thrown
away.

Prints medians over the rounds; never passes or fails.

    python3 tests/bench/bench_top.py --hotspy build/dev/src/hotspy \\
        --fixtures build/dev/fixtures --seconds 10 --rounds 5
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def measure(pid, seconds):
    """Share of one core used by @pid from 2 s after its start for @seconds
    (top names its first rows at 1 s: reading debug files is start-up)."""
    time.sleep(2.0)
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    c1, t1 = cpu_seconds(pid), time.monotonic()
    if c0 is None or c1 is None:
        return None
    return 100.0 * (c1 - c0) / (t1 - t0)


def run_top_tmux(args, target):
    name = "bench-top-%d" % os.getpid()
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24",
                    "exec %s top -p %d -r %d" % (args.hotspy, target, args.rate)],
                   check=True)
    pid = int(subprocess.run(["tmux", "display", "-p", "-t", name, "#{pane_pid}"],
                             capture_output=True, text=True).stdout)
    share = measure(pid, args.seconds)
    subprocess.run(["tmux", "send-keys", "-t", name, "q"])
    time.sleep(0.3)
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
    return share


def run_cmd(cmd, args):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    share = measure(p.pid, args.seconds)
    p.terminate()
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    return share


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hotspy", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--perf", default=shutil.which("perf"))
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    kinds = ["top (screen)", "top --batch", "record", "top --sampler ptrace"]
    if args.perf:
        kinds.append("perf top")
    if not shutil.which("tmux"):
        kinds.remove("top (screen)")
    results = {k: [] for k in kinds}
    for rnd in range(args.rounds):
        for kind in kinds:
            fixture = subprocess.Popen([os.path.join(args.fixtures, "threads"),
                                        str(args.seconds + 6)], stdout=subprocess.DEVNULL)
            time.sleep(0.3)
            pid = str(fixture.pid)
            if kind == "top (screen)":
                share = run_top_tmux(args, fixture.pid)
            elif kind == "top --batch":
                share = run_cmd([args.hotspy, "top", "--batch", "-p", pid, "-r",
                                 str(args.rate)], args)
            elif kind == "top --sampler ptrace":
                share = run_cmd([args.hotspy, "top", "--batch", "--sampler", "ptrace",
                                 "-p", pid, "-r", str(args.rate)], args)
            elif kind == "record":
                share = run_cmd([args.hotspy, "record", "-q", "-p", pid, "-r",
                                 str(args.rate), "-o", "/dev/null", "-f", "folded"], args)
            else:
                share = run_cmd([args.perf, "top", "--stdio", "-e", "task-clock", "-F",
                                 str(args.rate), "-p", pid, "-d", "1"], args)
            fixture.kill()
            fixture.wait()
            if share is not None:
                results[kind].append(share)
            print("round %d %-22s %.2f %% of a core" % (rnd + 1, kind, share or -1),
                  file=sys.stderr)
    print("CPU of the profiler itself on the threads fixture (~1 core busy, 5 threads), "
          "%d Hz, %g s after 2 s of warm-up, median of %d rounds:" %
          (args.rate, args.seconds, args.rounds))
    base = statistics.median(results["record"]) if results["record"] else None
    for kind in kinds:
        if not results[kind]:
            continue
        med = statistics.median(results[kind])
        ratio = " (%.2fx record)" % (med / base) if base else ""
        print("  %-22s %6.2f %% of one core%s" % (kind, med, ratio))


if __name__ == "__main__":
    main()
