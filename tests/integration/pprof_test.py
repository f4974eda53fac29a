#!/usr/bin/env python3
"""pprof output checked by a real decoder, Go's `go tool pprof`.

For each fixture (hotspots, and cxxhot for inlined frames) the program is
recorded once, to pprof, with --summary-json. Then:
  - `go tool pprof -raw` and hotspy's own reader (`hotspy diff F F -f folded`,
    which reads pprof) give the same stacks (function names, inlined lines
    included) with the same counts, and both totals equal the summary's;
  - `go tool pprof -top` gives the same self time per function as the
    stacks hotspy reads back, and the same top five; so does `hotspy
    report`, on these and on the other timed fixtures (threads, sharedlib,
    deep, jitted, syscalls);
  - the stacks hotspy reads back meet the fixture's .expect (shares: this
    test is labelled `shares`);
  - the file has the sample types, period and mappings (with build-ids) the
    format asks for.

usage: pprof_test.py HOTSPY FIXTURES EXPECT_DIR CHECK_PROFILE
Exit 77 when `go` is missing (scripts/setup.sh installs golang-go).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

RATE = 300
SECONDS = 2
failures = 0
SUFFIX = re.compile(r"_\[[ikj]\]$")


def check(cond, what):
    global failures
    if not cond:
        print("FAIL:", what)
        failures += 1


def go_env(tmp):
    env = dict(os.environ)
    # go wants a home for its caches; nothing is fetched (-symbolize=none).
    env.setdefault("HOME", tmp)
    env["GOCACHE"] = os.path.join(tmp, "gocache")
    env["GOTOOLCHAIN"] = "local"
    env["PPROF_TMPDIR"] = tmp
    return env


def go_pprof(args, env):
    r = subprocess.run(["go", "tool", "pprof", "-symbolize=none"] + args, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=120)
    if r.returncode != 0:
        print(r.stderr)
    check(r.returncode == 0, "go tool pprof %s runs" % " ".join(args))
    return r.stdout


def parse_raw(text):
    """{(process, frame, ..., leaf): count} from `go tool pprof -raw`:
    samples are `COUNT NANOS: LOC LOC ...` (leaf first) with their labels
    on the next lines; a location is `ID: ADDR M=N FUNC FILE:LINE s=0` and
    an inlined location's further lines follow, indented, innermost first."""
    samples, locs, section, cur = [], {}, None, None
    for line in text.splitlines():
        if line in ("Samples:", "Locations", "Mappings"):
            section = line
            continue
        if section == "Samples:":
            m = re.match(r"\s*(\d+)\s+(\d+):\s*([\d ]*)$", line)
            if m:
                samples.append([int(m.group(1)), [int(x) for x in m.group(3).split()], None])
                continue
            m = re.search(r"process:\[([^\]]*)\]", line)
            if m and samples:
                samples[-1][2] = m.group(1)
        elif section == "Locations":
            m = re.match(r"\s*(\d+): 0x[0-9a-f]+ (?:M=\d+ )?(.*) s=\d+$", line)
            if m:
                cur = int(m.group(1))
                locs[cur] = [m.group(2)]
                continue
            m = re.match(r"\s+(.*) s=\d+$", line)
            if m and cur is not None:
                locs[cur].append(m.group(1))
    stacks = {}
    for count, ids, process in samples:
        names = []
        for i in ids:
            # "FUNC FILE:LINE": the file is the last word (names have blanks).
            names += [re.sub(r" \S*:-?\d+$", "", x) for x in locs.get(i, ["?"])]
        key = tuple([process] + names[::-1])
        stacks[key] = stacks.get(key, 0) + count
    return stacks


def hotspy_stacks(hotspy, path):
    """{(process, frame, ..., leaf): count} as hotspy reads the file back."""
    r = subprocess.run([hotspy, "diff", path, path, "-f", "folded", "-q"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(r.returncode == 0, "hotspy reads %s back: %s" % (path, r.stderr.strip()))
    stacks, folded = {}, []
    for line in r.stdout.splitlines():
        stack, _, after = line.rsplit(" ", 2)
        folded.append("%s %s" % (stack, after))
        key = tuple(SUFFIX.sub("", f) for f in stack.split(";"))
        stacks[key] = stacks.get(key, 0) + int(after)
    return stacks, "\n".join(folded) + "\n"


def parse_top(text):
    """[(function, flat ms)] from `go tool pprof -top` (all nodes)."""
    rows = []
    for line in text.splitlines():
        m = re.match(r"\s*([\d.]+)(ms|s)\s+[\d.]+%\s+[\d.]+%\s+[\d.]+(?:ms|s)\s+[\d.]+%\s+(.*)$",
                     line)
        if m:
            ms = float(m.group(1)) * (1000 if m.group(2) == "s" else 1)
            # go marks an inlined function " (inline)"; hotspy "_[i]".
            rows.append((re.sub(r" \(inline\)$", "", m.group(3)), ms))
    return rows


def go_counts(path, env):
    """[(function, self samples)] from `go tool pprof -top -sample_index=samples`,
    in go's order; an inlined function ("X (inline)") spelt as hotspy
    spells it, "X_[i]"."""
    rows = []
    text = go_pprof(["-top", "-sample_index=samples", "-nodecount=1000", "-nodefraction=0",
                     path], env)
    for line in text.splitlines():
        m = re.match(r"\s*(\d+)\s+[\d.]+%\s+[\d.]+%\s+\d+\s+[\d.]+%\s+(.*)$", line)
        if m:
            rows.append((re.sub(r" \(inline\)$", "_[i]", m.group(2)), int(m.group(1))))
    return rows


def agree_with_report(hotspy, path, fixture, env):
    """`hotspy report` on the pprof file gives go tool pprof -top's top five
    functions by self samples, with go's counts, and go's total."""
    go = go_counts(path, env)
    go_self = {name: n for name, n in go if n > 0}
    r = subprocess.run([hotspy, "report", "--json", "--top", "5", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(r.returncode == 0, "%s: hotspy report reads the pprof file: %s" %
          (fixture, r.stderr.strip()))
    if r.returncode != 0:
        return
    doc = json.loads(r.stdout)
    rows = [(row["name"], row["self"]) for row in doc["rows"] if row["self"] > 0]
    go_top5 = [(name, n) for name, n in go if n > 0][:5]
    # Equal counts may come in either order: compare as sets.
    check(set(rows) == set(go_top5) or
          sorted(n for _, n in rows) == sorted(n for _, n in go_top5) and
          all(go_self.get(name) == n for name, n in rows),
          "%s: report's top five %s, go tool pprof -top's %s" % (fixture, rows, go_top5))
    check(doc["total"] == sum(go_self.values()),
          "%s: report's total %s samples, go's %d" % (fixture, doc["total"],
                                                       sum(go_self.values())))


def top_only(hotspy, fixtures, fixture, args, tmp, env):
    """A fixture recorded to pprof only for report against go's -top."""
    path = os.path.join(tmp, fixture + "-top.pb.gz")
    r = subprocess.run([hotspy, "record", "-q", "-r", str(RATE), "-o", path, "-d", "1.5",
                        "--", os.path.join(fixtures, fixture)] + args,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    check(r.returncode == 0, "%s recorded: %s" % (fixture, r.stderr.strip()))
    if r.returncode == 0:
        agree_with_report(hotspy, path, fixture, env)


def one(hotspy, fixtures, expect_dir, check_profile, fixture, tmp, env):
    path = os.path.join(tmp, fixture + ".pb.gz")
    summary = os.path.join(tmp, fixture + ".json")
    r = subprocess.run([hotspy, "record", "-q", "-r", str(RATE), "-o", path,
                        "--summary-json", summary, "--",
                        os.path.join(fixtures, fixture), str(SECONDS)],
                       stderr=subprocess.PIPE, text=True, timeout=120)
    check(r.returncode == 0, "%s recorded: %s" % (fixture, r.stderr.strip()))
    if r.returncode != 0:
        return
    with open(summary) as f:
        s = json.load(f)
    with open(path, "rb") as f:
        check(f.read(2) == b"\x1f\x8b", "%s is gzip'd" % path)

    raw = go_pprof(["-raw", path], env)
    check("PeriodType: cpu nanoseconds" in raw, "period type cpu/nanoseconds")
    check("Period: %d" % (10**9 // RATE) in raw, "period %d ns" % (10**9 // RATE))
    check(re.search(r"samples/count cpu/nanoseconds", raw) is not None,
          "sample types samples/count and cpu/nanoseconds")
    check(re.search(r"\n1: 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ \S*%s [0-9a-f]{16,}" % fixture,
                    raw) is not None, "the program's mapping with its build-id")
    go = parse_raw(raw)
    ours, folded = hotspy_stacks(hotspy, path)
    total = sum(go.values())
    check(total == s["samples"], "%s: go reads %d samples, the summary says %d"
          % (fixture, total, s["samples"]))
    check(sum(ours.values()) == s["samples"], "%s: hotspy reads back %d samples of %d"
          % (fixture, sum(ours.values()), s["samples"]))
    check(go == ours, "%s: go tool pprof and hotspy read the same stacks" % fixture)
    if go != ours:
        for k in sorted(set(go) | set(ours))[:6]:
            if go.get(k) != ours.get(k):
                print("  %r: go %s, hotspy %s" % (";".join(k), go.get(k), ours.get(k)))

    period_ms = 1000.0 / RATE
    top = parse_top(go_pprof(["-top", "-nodecount=1000", "-nodefraction=0", path], env))
    flat = {}
    for stack, count in ours.items():
        flat[stack[-1]] = flat.get(stack[-1], 0) + count
    go_flat = {name: ms for name, ms in top if ms > 0}
    check(set(go_flat) == set(flat), "%s: the same functions have self time (go %s, "
          "hotspy %s)" % (fixture, sorted(go_flat), sorted(flat)))
    for name, count in flat.items():
        if name in go_flat:
            check(abs(go_flat[name] - count * period_ms) < 0.01 * count * period_ms + 0.6,
                  "%s: %s self %.1f ms (go) vs %d samples of %.2f ms (hotspy)"
                  % (fixture, name, go_flat[name], count, period_ms))
    go_top5 = [name for name, ms in top if ms > 0][:5]
    ours_top5 = [n for n, _ in sorted(flat.items(), key=lambda x: (-x[1], x[0]))][:5]
    check(set(go_top5) == set(ours_top5) or
          sorted(go_flat[n] for n in go_top5) == sorted(flat[n] * period_ms for n in ours_top5),
          "%s: the same top five (go %s, hotspy %s)" % (fixture, go_top5, ours_top5))
    check(ours_top5[:1] == [s["top"][0]["function"]] if s["top"] else False,
          "%s: the summary's top function is hotspy's" % fixture)
    agree_with_report(hotspy, path, fixture, env)

    fpath = os.path.join(tmp, fixture + ".folded")
    with open(fpath, "w") as f:
        f.write(folded)
    r = subprocess.run([sys.executable, check_profile,
                        os.path.join(expect_dir, fixture + ".expect"), fpath],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(r.stdout.strip())
    check(r.returncode == 0, "%s read back from pprof meets %s.expect" % (fixture, fixture))


def main():
    if len(sys.argv) != 5:
        print(__doc__)
        return 2
    hotspy, fixtures, expect_dir, check_profile = sys.argv[1:]
    if not shutil.which("go"):
        print("SKIP: no go (scripts/setup.sh installs golang-go for go tool pprof)")
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        env = go_env(tmp)
        for fixture in ("hotspots", "cxxhot"):
            one(hotspy, fixtures, expect_dir, check_profile, fixture, tmp, env)
        # The other fixtures that run for a given time: report and go agree
        # on their top five too (threads, shared libraries, deep recursion,
        # JIT-named code, a forking program's parent).
        for fixture in ("threads", "sharedlib", "deep", "jitted", "syscalls"):
            top_only(hotspy, fixtures, fixture, ["2"], tmp, env)
    print("FAILED: %d checks" % failures if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
