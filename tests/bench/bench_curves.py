#!/usr/bin/env python3
"""Benchmark: how hotspy's cost grows with the work (issue 16, items 3 and 4).

    bench_curves.py depth   --hotspy BIN --fixtures DIR [--rounds K] [--rate R]
    bench_curves.py threads --hotspy BIN --fixtures DIR [--rounds K] [--rate R]
    bench_curves.py cpu     --hotspy BIN --fixtures DIR [--rounds K] [--rate R]
                            [--hotspy-before OLD]
    bench_curves.py program --hotspy BIN --fixtures DIR [--rounds K] [--seconds S]

Every run starts a fixture doing a fixed amount of work (`-n UNITS`) and, but
for the `alone` runs, attaches `hotspy record --stats -r RATE -p PID` to it
at once. Measured per run:

  cpu/sample   all of hotspy's CPU (user + sys of the process, from wait4,
               what /usr/bin/time reports: attach, sampling, unwinding,
               interning, naming, writing) divided by its samples
  sampling     the part of it spent while sampling, per sample (--stats)
  slowdown     (threads) the fixture's wall time profiled / alone, paired
               within a round: work per second alone / profiled
  truncated    the share of samples whose walk did not reach the bottom

Rounds are interleaved (every configuration once per round) and medians
are printed with the lower and upper quartiles.

  depth    fixtures/deep at DEEP_DEPTH 100, 1000, 10000 (64 bytes a frame):
           the ptrace sampler with --stack-size 1M (whole stacks), and the
           perf sampler with its default 64 KiB copy (whole at 100 frames,
           cut beyond ~1000)
  threads  fixtures/parallel with PARALLEL_THREADS 1, 8, 64, 256, both
           samplers: the CPU per additional sample (recordings of 1 and
           --seconds s) and the work per second alone / profiled
  cpu      the perf sampler on hotspots (one thread) and parallel (eight)
  program  a big real program: Debian's chromium, headless, its renderer
           running a JavaScript loop; per round, hotspy record -d SECONDS on
           the renderer (the waits from --stats: attach to first sample,
           end of sampling to written profile; peak RSS from wait4), then
           perf record --call-graph dwarf for as long and perf report
           (wall time past the SECONDS, peak RSS of each)

Benchmarks print; they do not pass or fail. The machine is shared: read the
ratios within one run, and the load average printed with them.
"""
import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run_alone(argv, env):
    t0 = time.monotonic()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    os.wait4(p.pid, 0)
    return time.monotonic() - t0


def run_profiled(argv, env, hotspy_argv):
    """Start the fixture, attach hotspy by PID, wait for both. Returns a dict."""
    t0 = time.monotonic()
    target = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    prof = subprocess.Popen(hotspy_argv + ["-p", str(target.pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    os.wait4(target.pid, 0)
    wall = time.monotonic() - t0
    err = prof.stderr.read()
    _, status, ru = os.wait4(prof.pid, 0)
    r = {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "samples": 0,
         "sampling_us": float("nan"), "truncated": float("nan"),
         "status": os.waitstatus_to_exitcode(status)}
    m = re.search(r"(\d+) samples in [\d.]+ s .*?; ([\d.]+)% did not unwind", err)
    if m:
        r["samples"] = int(m.group(1))
        r["truncated"] = float(m.group(2))
    m = re.search(r"sampling [\d.]+ ms \(([\d.]+) us per sample\)", err)
    if m:
        r["sampling_us"] = float(m.group(1))
    if r["status"] != 0 or not r["samples"]:
        r["error"] = err.strip().splitlines()[-1:] if err.strip() else ["(no output)"]
    return r


def fmt(x):
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


def quart(xs):
    """Median [lower quartile-upper quartile]."""
    xs = sorted(x for x in xs if x == x)
    if not xs:
        return "n/a"
    if len(xs) < 3:
        return fmt(statistics.median(xs))
    q = statistics.quantiles(xs, n=4)
    return f"{fmt(statistics.median(xs))} [{fmt(q[0])}-{fmt(q[2])}]"


def hotspy_argv(args, tmp, sampler, extra=()):
    return [args.hotspy, "record", "--stats", "-r", str(args.rate), "--sampler", sampler,
            "-o", os.path.join(tmp, "out.folded"), *extra]


def fixture(args, name):
    return os.path.join(args.fixtures, name)


def depth(args, tmp):
    depths = [100, 1000, 10000]
    configs = [("ptrace", ["--stack-size", "1M"]), ("perf", [])]
    res = {(d, s): [] for d in depths for s, _ in configs}
    for rnd in range(args.rounds):
        for d in depths:
            env = dict(os.environ, DEEP_DEPTH=str(d))
            for s, extra in configs:
                res[(d, s)].append(run_profiled([fixture(args, "deep"), "-n", str(args.units)],
                                                env, hotspy_argv(args, tmp, s, extra)))
    print(f"depth curve: deep -n {args.units}, {args.rate} Hz, {args.rounds} rounds; "
          f"load average {loadavg()}")
    print("| frames | sampler | samples | cpu/sample (us) | sampling/sample (us) | "
          "truncated (%) |")
    print("|---:|---|---:|---:|---:|---:|")
    for d in depths:
        for s, extra in configs:
            rs = res[(d, s)]
            print(f"| {d} | {s} {' '.join(extra)} | {quart([r['samples'] for r in rs])} | "
                  f"{quart([r['cpu'] * 1e6 / r['samples'] for r in rs if r['samples']])} | "
                  f"{quart([r['sampling_us'] for r in rs])} | "
                  f"{quart([r['truncated'] for r in rs])} |")
            for r in rs:
                if "error" in r:
                    print(f"    failed run: {r['error']}")


def work_rate(out):
    """Iterations per second from `parallel -v`."""
    m = re.search(r"(\d+) iterations in ([\d.]+) s", out)
    return int(m.group(1)) / float(m.group(2)) if m and float(m.group(2)) > 0 else float("nan")


def run_timed(argv, env, hotspy=None):
    """Run a timed fixture (-v), with hotspy attached at once if given.
    Returns (work per second, hotspy's result dict or None)."""
    target = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    r = None
    if hotspy:
        prof = subprocess.Popen(hotspy + ["-p", str(target.pid)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        err = prof.stderr.read()
        _, status, ru = os.wait4(prof.pid, 0)
        r = {"cpu": ru.ru_utime + ru.ru_stime, "samples": 0}
        m = re.search(r"(\d+) samples in", err)
        if m:
            r["samples"] = int(m.group(1))
    out = target.communicate()[0]
    return work_rate(out), r


def threads(args, tmp):
    """The fixed cost of a recording (attach, naming, writing: tens of ms)
    hides the cost per sample in short runs on a loaded machine, so each
    configuration is recorded twice, for SHORT and LONG seconds of a timed
    fixture, and the cost per sample is the difference of CPU over the
    difference of samples. The slowdown is the fixture's work per second
    alone over with the long recording (which covers all but a second of
    the run)."""
    counts = [1, 8, 64, 256]
    samplers = ["perf", "ptrace"]
    short, long_ = 1, args.seconds
    res = {(n, s): [] for n in counts for s in samplers}
    for rnd in range(args.rounds):
        for n in counts:
            env = dict(os.environ, PARALLEL_THREADS=str(n))
            argv = [fixture(args, "parallel"), "-v", str(long_ + 1)]
            for s in samplers:
                alone, _ = run_timed(argv, env)
                _, r1 = run_timed(argv, env, hotspy_argv(args, tmp, s, ["-d", str(short)]))
                rate, r2 = run_timed(argv, env, hotspy_argv(args, tmp, s, ["-d", str(long_)]))
                ds = r2["samples"] - r1["samples"]
                res[(n, s)].append({
                    "samples": r2["samples"],
                    "per_sample": (r2["cpu"] - r1["cpu"]) * 1e6 / ds if ds > 0 else float("nan"),
                    "whole": r2["cpu"] * 1e6 / r2["samples"] if r2["samples"] else float("nan"),
                    "slowdown": alone / rate if rate > 0 else float("nan")})
    print(f"thread curve: parallel -v {long_ + 1} (timed), hotspy -d {short} and -d {long_}, "
          f"{args.rate} Hz, {args.rounds} rounds; load average {loadavg()}")
    print(f"| threads | sampler | samples (-d {long_}) | cpu per additional sample (us) | "
          "cpu/sample, whole run (us) | slowdown (work/s alone / profiled) |")
    print("|---:|---|---:|---:|---:|---:|")
    for n in counts:
        for s in samplers:
            rs = res[(n, s)]
            print(f"| {n} | {s} | {quart([r['samples'] for r in rs])} | "
                  f"{quart([r['per_sample'] for r in rs])} | "
                  f"{quart([r['whole'] for r in rs])} | "
                  f"{quart([r['slowdown'] for r in rs])} |")


def cpu(args, tmp):
    cases = [("hotspots", {}), ("parallel", {"PARALLEL_THREADS": "8"})]
    # --hotspy-before: an earlier build in the same rounds, interleaved.
    builds = [("before", args.hotspy_before)] if args.hotspy_before else []
    builds.append(("hotspy", args.hotspy))
    res = {(c, b): [] for c, _ in cases for b, _ in builds}
    # A quarter-length run beside each: hotspy's fixed cost (attach,
    # naming, writing) hides its cost per sample in a run of 2 s, so the
    # CPU per additional sample is the difference of the two over the
    # difference of their samples, paired within the round.
    short = {(c, b): [] for c, _ in cases for b, _ in builds}
    for rnd in range(args.rounds):
        for c, extra_env in cases:
            env = dict(os.environ, **extra_env)
            for b, binary in builds:
                argv = hotspy_argv(args, tmp, "perf")
                argv[0] = binary
                res[(c, b)].append(run_profiled([fixture(args, c), "-n", str(args.units)],
                                                env, argv))
                short[(c, b)].append(run_profiled(
                    [fixture(args, c), "-n", str(max(1, args.units // 4))], env, argv))
    print(f"cpu per sample: perf sampler, -n {args.units}, {args.rate} Hz, "
          f"{args.rounds} rounds; load average {loadavg()}")
    print("| fixture | build | samples | cpu/sample (us) | sampling/sample (us) | "
          "cpu per additional sample (us) |")
    print("|---|---|---:|---:|---:|---:|")
    for c, _ in cases:
        for b, _ in builds:
            rs = res[(c, b)]
            extra = [(r["cpu"] - q["cpu"]) * 1e6 / (r["samples"] - q["samples"])
                     for r, q in zip(rs, short[(c, b)]) if r["samples"] > q["samples"]]
            print(f"| {c} | {b} | {quart([r['samples'] for r in rs])} | "
                  f"{quart([r['cpu'] * 1e6 / r['samples'] for r in rs if r['samples']])} | "
                  f"{quart([r['sampling_us'] for r in rs])} | {quart(extra)} |")


PAGE = """<!doctype html><title>busy</title><script>
// The renderer's main thread never comes back from this loop: a busy
// JavaScript program, as hot as the machine lets it be.
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
let sink = 0;
for (;;) sink += fib(18);
</script>"""


def descendants(pid):
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for k in kids.get(p, []):
            out.append(k)
            todo.append(k)
    return out


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return -1


def renderer_of(pid):
    """The renderer that has used the most CPU: the page's (chromium keeps
    spare renderers too)."""
    best, most = None, -1
    for d in descendants(pid):
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read()
                if b"--type=renderer" not in cmd or b"webui" in cmd:
                    continue
        except OSError:
            continue
        if cpu_ticks(d) > most:
            best, most = d, cpu_ticks(d)
    return best


def peak_rss_argv(argv, path):
    """@argv under /usr/bin/time, which writes its peak RSS (KiB) to @path.
    wait4's ru_maxrss of a child of this script would not do: a child
    keeps the high-water mark of the process it was forked from (this
    Python) across its exec."""
    return ["/usr/bin/time", "-f", "%M", "-o", path] + argv


def read_kib(path):
    try:
        with open(path) as f:
            return int(f.read().split()[-1])
    except (OSError, ValueError, IndexError):
        return float("nan")


def timed(argv, rss_path, **kw):
    t0 = time.monotonic()
    p = subprocess.Popen(peak_rss_argv(argv, rss_path), **kw)
    _, status, ru = os.wait4(p.pid, 0)
    return time.monotonic() - t0, read_kib(rss_path), ru.ru_utime + ru.ru_stime


def program(args, tmp):
    page = os.path.join(tmp, "busy.html")
    with open(page, "w") as f:
        f.write(PAGE)
    browser = subprocess.Popen(
        [args.chromium, "--headless", "--no-sandbox", "--disable-gpu",
         "--remote-debugging-port=0", f"--user-data-dir={tmp}/profile", "file://" + page],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    rows = {"hotspy": [], "perf": []}
    try:
        # Until the page's renderer runs its loop (a second of CPU; pages
        # load slowly on a loaded machine).
        pid = None
        for _ in range(120):
            time.sleep(0.5)
            pid = renderer_of(browser.pid)
            if pid and cpu_ticks(pid) >= os.sysconf("SC_CLK_TCK"):
                break
        if not pid:
            print("no chromium renderer found")
            return
        exe = os.readlink(f"/proc/{pid}/exe")
        print(f"program: {exe} ({os.path.getsize(exe) // (1 << 20)} MiB), renderer pid {pid}, "
              f"{len(os.listdir(f'/proc/{pid}/task'))} threads, "
              f"{sum(1 for _ in open(f'/proc/{pid}/maps'))} mappings")
        secs = str(args.seconds)
        for rnd in range(args.rounds):
            out = os.path.join(tmp, "h.folded")
            t0 = time.monotonic()
            rss_path = os.path.join(tmp, "rss")
            p = subprocess.Popen(peak_rss_argv([args.hotspy, "record", "--stats", "-r",
                                                str(args.rate), "-d", secs, "-p", str(pid),
                                                "-o", out], rss_path),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            err = p.stderr.read()
            _, _, ru = os.wait4(p.pid, 0)
            wall = time.monotonic() - t0
            m = re.search(r"first sample ([\d.]+) ms .*?written ([\d.]+) ms", err)
            n = re.search(r"(\d+) samples in", err)
            rows["hotspy"].append({"first": float(m.group(1)) / 1e3 if m else float("nan"),
                                   "write": float(m.group(2)) / 1e3 if m else float("nan"),
                                   "over": wall - args.seconds,
                                   "rss": read_kib(rss_path) / 1024,
                                   "cpu": ru.ru_utime + ru.ru_stime,
                                   "samples": int(n.group(1)) if n else 0})
            data = os.path.join(tmp, "perf.data")
            # perf at hotspy's priority (hotspy samples at nice -10).
            nice = ["nice", "-n", "-10"]
            wall, rss, cpu_s = timed(nice + [args.perf, "record", "-q", "-F", str(args.rate),
                                             "--call-graph", "dwarf", "-o", data, "-p",
                                             str(pid), "--", "sleep", secs], rss_path,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            rwall, rrss, rcpu = timed(nice + [args.perf, "report", "-i", data, "--stdio"],
                                      rss_path, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            rows["perf"].append({"first": float("nan"), "write": rwall,
                                 "over": wall - args.seconds + rwall,
                                 "rss": max(rss, rrss) / 1024, "cpu": cpu_s + rcpu,
                                 "samples": float("nan")})
    finally:
        os.killpg(browser.pid, 9)
        browser.wait()
    print(f"program size: chromium renderer, {args.rate} Hz, -d {args.seconds}, "
          f"{args.rounds} rounds; load average {loadavg()}")
    print("| profiler | samples | attach to first sample (s) | end of sampling to profile "
          "(s) | wall past -d (s) | cpu (s) | peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for k, label in (("hotspy", "hotspy record"),
                     ("perf", "perf record --call-graph dwarf + perf report")):
        rs = rows[k]
        print(f"| {label} | {quart([r['samples'] for r in rs])} | "
              f"{quart([r['first'] for r in rs])} | {quart([r['write'] for r in rs])} | "
              f"{quart([r['over'] for r in rs])} | {quart([r['cpu'] for r in rs])} | "
              f"{quart([r['rss'] for r in rs])} |")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("curve", choices=["depth", "threads", "cpu", "program"])
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--perf", default="perf")
    p.add_argument("--seconds", type=int, default=10,
                   help="program: -d of each recording; threads: the long recording's")
    p.add_argument("--hotspy", required=True)
    p.add_argument("--hotspy-before", default=None,
                   help="cpu: an earlier hotspy build, run in the same rounds")
    p.add_argument("--fixtures", required=True, help="the build's fixtures/ directory")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--rate", type=int, default=None,
                   help="Hz (default: 1000 for depth and cpu, 100 for threads)")
    p.add_argument("--units", type=int, default=None,
                   help="fixture work, -n (default 200; threads: 64)")
    args = p.parse_args()
    if args.rate is None:
        args.rate = 100 if args.curve in ("threads", "program") else 1000
    if args.units is None:
        args.units = 64 if args.curve == "threads" else 200
    with tempfile.TemporaryDirectory() as tmp:
        {"depth": depth, "threads": threads, "cpu": cpu, "program": program}[args.curve](args, tmp)


if __name__ == "__main__":
    main()
