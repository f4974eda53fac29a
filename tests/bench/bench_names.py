#!/usr/bin/env python3
"""How fast hotspy names frames, beside elfutils and perf. Prints; never
passes or fails.

1. Addresses per second: bench_names (hotspy's symbolizer, functions +
   inlined frames + lines) over every STEP bytes of a library's code, and
   eu-addr2line -f -i -C on the same addresses; how often the two agree on
   the function.
2. Attach to first names: wall time of a 0.2 s recording of a running
   program written as a named profile, hotspy (record -p -d 0.2, folded)
   beside perf (record -p -- sleep 0.2, then report), medians.

    python3 tests/bench/bench_names.py --build build/dev \\
        --library /usr/lib/x86_64-linux-gnu/debug/libstdc++.so.6.0.30
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time


def timed(cmd, **kw):
    t = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    return time.monotonic() - t, r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/dev")
    ap.add_argument("--library", default="/usr/lib/x86_64-linux-gnu/debug/libstdc++.so.6.0.30")
    ap.add_argument("--step", type=int, default=64)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    bench = os.path.join(a.build, "tests", "bench_names")
    hotspy = os.path.join(a.build, "src", "hotspy")
    fixture = os.path.join(a.build, "fixtures", "cxxhot")

    with tempfile.TemporaryDirectory() as tmp:
        vaddrs = os.path.join(tmp, "v.txt")
        rates, firsts = [], []
        for _ in range(a.runs):
            r = subprocess.run([bench, a.library, str(a.step), vaddrs,
                                os.path.join(tmp, "names.txt")], capture_output=True,
                               text=True, check=True)
            lines = r.stdout.splitlines()
            first = float(lines[1].split("first name after ")[1].split(" ms")[0])
            rate = float(lines[1].split("; ")[1].split(" addresses/s")[0])
            firsts.append(first)
            rates.append(rate)
        print(lines[0])
        n = sum(1 for _ in open(vaddrs))
        print("hotspy symbolizer: %.0f addresses/s (median of %d), first name after %.1f ms"
              % (statistics.median(rates), a.runs, statistics.median(firsts)))
        if shutil.which("eu-addr2line"):
            walls = []
            for _ in range(3):
                with open(vaddrs) as f:
                    w, r = timed(["eu-addr2line", "-f", "-i", "-C", "-e", a.library], stdin=f)
                walls.append(w)
            # Agreement on the outermost function, parameters aside.
            with open(vaddrs) as f:
                r = subprocess.run(["eu-addr2line", "-a", "-f", "-i", "-C", "-e", a.library],
                                   stdin=f, capture_output=True, text=True)
            theirs, cur = [], None
            for line in r.stdout.splitlines():
                if line.startswith("0x"):
                    if cur is not None:
                        theirs.append(cur)
                    cur = "??"
                elif not (":" in line and line.rsplit(":", 1)[1].isdigit()) and line != "??:0":
                    cur = line
            theirs.append(cur)
            ours = open(os.path.join(tmp, "names.txt")).read().splitlines()
            def base(name):
                """The function's own name: no clone or .cold part suffix, no
                parameters, no enclosing scopes (eu-addr2line prints DWARF's
                short names where hotspy prints the symbol's full one)."""
                name = name.replace("(anonymous namespace)", "{anon}")
                name = re.sub(r" \[clone [^]]*\]$", "", name)
                name = re.sub(r"\.(cold|part\.\d+|constprop\.\d+|isra\.\d+)+$", "", name)
                depth, cut = 0, len(name)
                for i, c in enumerate(name):
                    if c == "<":
                        depth += 1
                    elif c == ">":
                        depth -= 1
                    elif c == "(" and depth == 0 and i > 0:
                        cut = i
                        break
                name = name[:cut]
                # A template function's demangled name starts with its return
                # type: keep what follows the last blank outside <...>.
                depth, start = 0, 0
                for i, c in enumerate(name):
                    if c == "<":
                        depth += 1
                    elif c == ">":
                        depth -= 1
                    elif c == " " and depth == 0:
                        start = i + 1
                name = name[start:]
                depth, out = 0, []
                for c in name:
                    if c == "<":
                        depth += 1
                    elif c == ">":
                        depth -= 1
                    elif depth == 0:
                        out.append(c)
                return "".join(out).rsplit("::", 1)[-1].strip()
            both = [(x, y) for x, y in zip(ours, theirs) if x != "??" and y != "??"]
            same = sum(1 for x, y in both if base(x) == base(y))
            print("named by both: %d of %d; same function: %.1f %%; named by hotspy "
                  "only: %d, by eu-addr2line only: %d"
                  % (len(both), n, 100.0 * same / max(len(both), 1),
                     sum(1 for x, y in zip(ours, theirs) if x != "??" and y == "??"),
                     sum(1 for x, y in zip(ours, theirs) if x == "??" and y != "??")))
            print("eu-addr2line -f -i -C: %.0f addresses/s (median of 3, process start "
                  "included); hotspy is %.1fx faster"
                  % (n / statistics.median(walls),
                     statistics.median(rates) / (n / statistics.median(walls))))
        else:
            print("eu-addr2line: not installed (apt-get install elfutils)")

        # Attach to first names.
        target = subprocess.Popen([fixture, "30"])
        try:
            time.sleep(0.5)
            out = os.path.join(tmp, "p.folded")
            hs = [timed([hotspy, "record", "-q", "-f", "folded", "-o", out, "-d", "0.2",
                         "-p", str(target.pid)])[0] for _ in range(a.runs)]
            print("hotspy record -p -d 0.2 to a named profile: %.0f ms (median of %d)"
                  % (statistics.median(hs) * 1e3, a.runs))
            if shutil.which("perf"):
                data = os.path.join(tmp, "perf.data")
                pf = []
                for _ in range(a.runs):
                    t = time.monotonic()
                    subprocess.run(["perf", "record", "-q", "-e", "task-clock", "--call-graph",
                                    "dwarf", "-o", data, "-p", str(target.pid), "--",
                                    "sleep", "0.2"], capture_output=True)
                    subprocess.run(["perf", "report", "-i", data, "--stdio"],
                                   capture_output=True)
                    pf.append(time.monotonic() - t)
                print("perf record -p -- sleep 0.2 + perf report --stdio: %.0f ms (median "
                      "of %d); ratio perf / hotspy %.1f"
                      % (statistics.median(pf) * 1e3, a.runs,
                         statistics.median(pf) / statistics.median(hs)))
        finally:
            target.kill()
            target.wait()
    return 0


if __name__ == "__main__":
    main()
