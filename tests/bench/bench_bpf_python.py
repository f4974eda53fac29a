#!/usr/bin/env python3
"""Benchmark: the bpf sampler beside the ptrace sampler and austin on a
Python program with 1, 8 and 64 busy threads (issue 17, point 5).

    bench_bpf_python.py --hotspy BIN [--python PATH] [--threads 1,8,64]
                        [--rates 100,1000] [--mode nogil|flat] [--seconds S]
                        [--rounds K] [--austin PATH]

The target is fixtures/python/pymany.py with every thread busy
(`--threads N --busy N`): `nogil` hashes 1 MiB in C with the GIL released
(N threads runnable at once), `flat` spins in pure Python (one thread at a
time holds the GIL). For each rate and thread count, K interleaved rounds
of: the fixture alone for S seconds; the fixture attached, once it says it
is ready, by `hotspy record --sampler bpf`, by `hotspy record --sampler
ptrace`, and by austin 3.7 (`austin -s -i 1e6/RATE -p PID`, when built:
fetch and build it outside this tree), each for S - 1 whole seconds. Medians
over the rounds:

  slowdown    the fixture's rounds of work per second alone / under the tool
  cpu/sample  the tool's whole CPU time (user + system, wait4; attached, so
              the fixture's is not in it) over its samples: hotspy's
              samples from its summary, austin's the lines it wrote (one per
              sample of a thread not idle)
  samples     as above
  torn        hotspy: the share of samples whose Python frame chain could
              not be read whole (its summary); the bpf sampler copies the
              chain at the sample instant
  held        ptrace: the median time a thread is held per snapshot
              (--stats, from PTRACE_INTERRUPT to the resume); bpf: 0

Benchmarks print; they never pass or fail. The machine is shared and noisy:
compare within one run.
"""
import argparse
import os
import re
import select
import subprocess
import tempfile
import time

from bench_threads import FIXTURE, NAN, med, work_rate


def fixture_argv(a, n):
    return [a.python, FIXTURE, "--threads", str(n), "--busy", str(n), "--" + a.mode, "-v"]


def start_ready(argv, seconds):
    """The fixture started with --ready, once it says so (or None)."""
    p = subprocess.Popen(argv + ["--ready", str(seconds)], stdout=subprocess.PIPE)
    deadline = time.time() + 30
    line = b""
    while time.time() < deadline and not line.endswith(b"\n"):
        if not select.select([p.stdout], [], [], 1.0)[0]:
            continue
        chunk = os.read(p.stdout.fileno(), 64)
        if not chunk:
            break
        line += chunk
    return p if b"ready" in line else None


def run_tool(cmd):
    """Run @cmd to its end: (stdout, stderr). Once reaped, its CPU time is
    in this process's children's totals (children_cpu)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p.communicate(timeout=600)


def children_cpu():
    """CPU seconds of the children reaped so far (user + system)."""
    r = os.times()
    return r.children_user + r.children_system


def run_alone(a, n):
    r = subprocess.run(fixture_argv(a, n) + [str(a.seconds)], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True, timeout=a.seconds * 20 + 60)
    return {"rate": work_rate(r.stdout)}


def run_attached(a, tool, n, rate, tmp):
    f = {}
    target = start_ready(fixture_argv(a, n), a.seconds)
    if not target:
        return f
    # Whole seconds: austin's -x takes no fraction.
    secs = max(1, int(a.seconds) - 1)
    out = os.path.join(tmp, tool + ".out")
    if tool == "austin":
        cmd = [a.austin, "-s", "-i", str(1000000 // rate), "-x", str(secs), "-o", out,
               "-p", str(target.pid)]
    else:
        cmd = [a.hotspy, "record", "--stats", "--sampler", tool, "-r", str(rate), "-d",
               str(secs), "-f", "folded", "-o", out, "-p", str(target.pid)]
    before = children_cpu()
    _, err = run_tool(cmd)
    cpu = children_cpu() - before
    said, _ = target.communicate(timeout=a.seconds * 20 + 60)
    f["rate"] = work_rate(said.decode("utf-8", "replace"))
    if tool == "austin":
        try:
            with open(out, errors="replace") as fh:
                f["samples"] = sum(1 for line in fh if line.strip() and not line.startswith("#"))
        except OSError:
            f["samples"] = 0
    else:
        m = re.search(r"(\d+) samples in", err)
        f["samples"] = int(m.group(1)) if m else 0
        m = re.search(r"(\d+) frame chains could not be read", err)
        f["torn"] = 100.0 * (int(m.group(1)) if m else 0) / max(1, f["samples"])
        m = re.search(r"held per snapshot, median / 90th pct: ([\d.]+) /", err)
        f["held"] = float(m.group(1)) if m else (0.0 if tool == "bpf" else NAN)
    f["cpu"] = 1e6 * cpu / f["samples"] if f.get("samples") else NAN
    return f


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hotspy", required=True)
    p.add_argument("--python", default=os.path.expanduser("~/.pyenv/versions/3.12.1/bin/python3"))
    p.add_argument("--threads", default="1,8,64")
    p.add_argument("--rates", default="100,1000")
    p.add_argument("--mode", default="nogil", choices=["nogil", "flat"])
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--austin", default="/work/austin-build/src/austin")
    a = p.parse_args()
    tools = ["bpf", "ptrace"] + (["austin"] if os.access(a.austin, os.X_OK) else [])
    print("hotspy %s, Python %s, %s, %g s runs, %d rounds, load %s"
          % (a.hotspy, a.python, a.mode, a.seconds, a.rounds,
             open("/proc/loadavg").read().split()[0]))
    print("| rate | threads | tool | slowdown | cpu/sample us | samples | torn % | held us |")
    print("|---" * 8 + "|")
    with tempfile.TemporaryDirectory() as tmp:
        for rate in (int(x) for x in a.rates.split(",")):
            for n in (int(x) for x in a.threads.split(",")):
                res = {t: [] for t in ["alone"] + tools}
                for _ in range(a.rounds):
                    res["alone"].append(run_alone(a, n))
                    for t in tools:
                        res[t].append(run_attached(a, t, n, rate, tmp))
                alone = med([r.get("rate", NAN) for r in res["alone"]])
                for t in tools:
                    def m(key, t=t):
                        return med([r.get(key, NAN) for r in res[t]])
                    w = m("rate")
                    print("| %d | %d | %s | %.3f | %.1f | %.0f | %s | %s |"
                          % (rate, n, t, alone / w if w else NAN, m("cpu"), m("samples"),
                             "%.2f" % m("torn") if t != "austin" else "-",
                             "%.0f" % m("held") if t != "austin" else "-"))


if __name__ == "__main__":
    main()
