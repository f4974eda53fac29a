#!/usr/bin/env python3
"""hotspy report and the threshold rules (docs/ci.md).

    report_test.py HOTSPY FIXTURES CASE

Cases:
  agree     record hotspots to folded and to speedscope JSON; report --json
            of each agrees with the file's own sums, computed here from the
            folded lines and the speedscope samples (self: the leaf; total:
            each stack once per function, recursion or not); the text and
            Markdown forms name the same top function.
  gate      hotspy record --fail-above 'hot_a=50' -- hotspots 2 exits 3 (the
            documented code), names hot_a and its share (the folded file's
            own share of hot_a), and still writes the profile; a rule that
            holds exits 0.
  baseline  a synthetic folded profile with 10 points of samples moved to
            one function: report --baseline catches it (exit 3, the
            measured and allowed figures printed); the same profile against
            itself, and a limit above 10 points, pass (exit 0).
  errors    a missing file, a directory, an empty file, malformed folded and
            speedscope files, a gzip (pprof) file: exit 1 with the file
            named and why; a bad rule, --fail-increase without --baseline:
            exit 2.

Exit status: 0 pass, 1 fail, 77 skip.
"""
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile

SKIP = 77
EXIT_THRESHOLD = 3


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(args, **kw):
    return subprocess.run([HOTSPY] + args, capture_output=True, text=True, timeout=60, **kw)


def record(out, extra=(), seconds="1"):
    r = run(["record", "-o", out] + list(extra) + ["--", os.path.join(FIXTURES, "hotspots"),
                                                   seconds])
    if r.returncode not in (0, EXIT_THRESHOLD) and "not permitted" in r.stderr:
        print("SKIP: cannot profile here: " + r.stderr.strip())
        sys.exit(SKIP)
    return r


def folded_sums(path):
    """Self and total per function from the folded lines (root = process)."""
    self_, total, all_ = {}, {}, 0.0
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            stack, count = line.rsplit(" ", 1)
            count = float(count)
            frames = stack.split(";")[1:]
            all_ += count
            self_[frames[-1]] = self_.get(frames[-1], 0) + count
            for fn in set(frames):
                total[fn] = total.get(fn, 0) + count
    return self_, total, all_


def speedscope_sums(path):
    with open(path) as f:
        doc = json.load(f)
    names = [fr["name"] for fr in doc["shared"]["frames"]]
    self_, total, all_ = {}, {}, 0.0
    for prof in doc["profiles"]:
        for sample, weight in zip(prof["samples"], prof["weights"]):
            if not sample or weight <= 0:
                continue
            frames = [names[i] for i in sample]
            all_ += weight
            self_[frames[-1]] = self_.get(frames[-1], 0) + weight
            for fn in set(frames):
                total[fn] = total.get(fn, 0) + weight
    return self_, total, all_


def report_json(path, *extra):
    r = run(["report", "--json", "--top", "0", path] + list(extra))
    if r.returncode != 0:
        fail("report --json %s exited %d: %s" % (path, r.returncode, r.stderr))
    return json.loads(r.stdout)


def compare(path, sums, fmt):
    self_, total, all_ = sums
    doc = report_json(path)
    if doc["schema"] != "hotspy-report/1" or doc["inputs"][0]["format"] != fmt:
        fail("%s: schema or format wrong: %s %s" % (path, doc["schema"], doc["inputs"]))
    if abs(doc["total"] - all_) > 1e-6 * all_:
        fail("%s: report total %s, the file sums to %s" % (path, doc["total"], all_))
    for key in ("time_model", "sampler", "duration_s"):
        if doc[key] is not None:
            fail("%s: %s is %r, but the file does not say it" % (path, key, doc[key]))
    rows = {row["name"]: row for row in doc["rows"]}
    if set(rows) != set(total):
        fail("%s: report rows %s, the file's functions %s"
             % (path, sorted(rows), sorted(total)))
    for fn, row in rows.items():
        if abs(row["self"] - self_.get(fn, 0)) > 1e-6 * all_ or \
           abs(row["total"] - total[fn]) > 1e-6 * all_:
            fail("%s: %s self/total %s/%s, the file says %s/%s"
                 % (path, fn, row["self"], row["total"], self_.get(fn, 0), total[fn]))
        if abs(row["self_share"] - 100 * row["self"] / all_) > 1e-6:
            fail("%s: %s self share %s is not its self over the total" % (path, fn,
                                                                         row["self_share"]))
    shares = [row["self_share"] for row in doc["rows"]]
    if shares != sorted(shares, reverse=True):
        fail("%s: rows not ordered by self share: %s" % (path, shares))
    return doc


def case_agree(tmp):
    fo = os.path.join(tmp, "hs.folded")
    ss = os.path.join(tmp, "hs.json")
    for out, extra in ((fo, []), (ss, ["--threads"])):
        r = record(out, extra)
        if r.returncode != 0:
            fail("record %s exited %d: %s" % (out, r.returncode, r.stderr))
    doc = compare(fo, folded_sums(fo), "folded")
    compare(ss, speedscope_sums(ss), "speedscope")
    top = doc["rows"][0]["name"]
    # Text and Markdown: the same first row, the table shape.
    r = run(["report", fo, "--top", "3"])
    lines = r.stdout.splitlines()
    if r.returncode != 0 or len(lines) != 5 or not lines[2].endswith("  " + top):
        fail("report text: exit %d, rows %r" % (r.returncode, lines))
    r = run(["report", fo, "--top", "3", "--markdown"])
    lines = r.stdout.splitlines()
    if r.returncode != 0 or not lines[0].startswith("| Self % |") or len(lines) != 5 or \
       top.replace("_", "\\_") not in lines[2]:
        fail("report --markdown: exit %d, %r" % (r.returncode, lines))
    # Two files add up.
    both = report_json(fo, fo)
    if abs(both["total"] - 2 * doc["total"]) > 1e-6:
        fail("two files: total %s, expected twice %s" % (both["total"], doc["total"]))
    # speedscope has a profile per thread: per-thread totals.
    d = report_json(ss, "--threads")
    if not d["threads"] or abs(sum(t["total"] for t in d["threads"]) - d["total"]) > 1e-6:
        fail("speedscope --threads: threads %s" % d["threads"])
    print("agree: %s and %s: %d rows each, top %s" % (fo, ss, len(doc["rows"]), top))


def case_gate(tmp):
    out = os.path.join(tmp, "gate.folded")
    # 2 s: enough samples that hot_a's ~70 % stays far above 50 % on a busy
    # machine.
    r = record(out, ["--fail-above", "hot_a=50"], seconds="2")
    if r.returncode != EXIT_THRESHOLD:
        fail("record --fail-above 'hot_a=50' exited %d, expected %d: %s"
             % (r.returncode, EXIT_THRESHOLD, r.stderr))
    m = re.search(r"self share of 'hot_a' is ([0-9.]+) %, above the limit of 50 %", r.stderr)
    if not m:
        fail("no violation naming hot_a and its share: %s" % r.stderr)
    self_, _, all_ = folded_sums(out)
    share = 100 * self_.get("hot_a", 0) / all_
    if abs(float(m.group(1)) - share) > 0.051:
        fail("the message says %s %%, the written profile %.2f %%" % (m.group(1), share))
    # The same profile judged by report: the same verdict and figure.
    r2 = run(["report", "-q", out, "--fail-above", "hot_a=50"])
    if r2.returncode != EXIT_THRESHOLD or m.group(0) not in r2.stderr:
        fail("report on the written profile: exit %d, %s" % (r2.returncode, r2.stderr))
    r = record(os.path.join(tmp, "pass.folded"), ["-q", "--fail-above", "hot_a=99",
                                                 "--fail-below", "total:hotspots=90"])
    if r.returncode != 0:
        fail("rules that hold: exit %d: %s" % (r.returncode, r.stderr))
    print("gate: exit 3, hot_a %s %% (file: %.2f %%)" % (m.group(1), share))


def write(path, lines):
    with open(path, "w") as f:
        f.write("".join("%s %d\n" % kv for kv in lines))


def case_baseline(tmp):
    base = [("app;main;parse", 300), ("app;main;render", 500), ("app;main;hot_a", 200)]
    # 10 points of 1000 samples move from render to hot_a: 20 % -> 30 %.
    new = [("app;main;parse", 300), ("app;main;render", 400), ("app;main;hot_a", 300)]
    old_path, new_path = os.path.join(tmp, "old.folded"), os.path.join(tmp, "new.folded")
    write(old_path, base)
    write(new_path, [(s, 2 * n) for s, n in new])   # twice the samples: normalised
    r = run(["report", "-q", new_path, "--baseline", old_path, "--fail-increase", "hot_a=5"])
    if r.returncode != EXIT_THRESHOLD or \
       "grew by 10.0 points (20.0 % in the baseline, 30.0 % now), more than the allowed 5" \
       not in r.stderr:
        fail("regression of 10 points: exit %d: %s" % (r.returncode, r.stderr))
    for args in (["--baseline", old_path, "--fail-increase", "hot_a=15"],
                 ["--baseline", new_path, "--fail-increase", "hot_a=0"],
                 ["--baseline", old_path, "--fail-increase", "render=0"]):
        r = run(["report", "-q", new_path] + args)
        if r.returncode != 0:
            fail("%s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr))
    r = run(["report", old_path, "--baseline", old_path, "--fail-increase", "total:.*=0",
             "--json"])
    doc = json.loads(r.stdout)
    if r.returncode != 0 or doc["violations"] != 0 or doc["rules"][0]["baseline"] != 100:
        fail("unchanged profile: exit %d: %s" % (r.returncode, r.stdout))
    print("baseline: +10 points caught, unchanged and within-limit pass")


def case_errors(tmp):
    empty = os.path.join(tmp, "empty.folded")
    open(empty, "w").close()
    junk = os.path.join(tmp, "junk.folded")
    with open(junk, "w") as f:
        f.write("no count here\nnor;here\n")
    badjson = os.path.join(tmp, "bad.json")
    with open(badjson, "w") as f:
        f.write('{"shared":{"frames":[{"name":"a"}]},"profiles":[{"type":"sampled",'
                '"samples":[[3]],"weights":[1]}]}')
    trunc = os.path.join(tmp, "trunc.json")
    with open(trunc, "w") as f:
        f.write('{"shared":{"frames":[')
    pb = os.path.join(tmp, "x.pb.gz")
    with gzip.open(pb, "wb") as f:
        f.write(b"\x0a\x00")
    badpb = os.path.join(tmp, "bad.pb.gz")
    with gzip.open(badpb, "wb") as f:
        f.write(b"\x0a\xff\xff\xff\x0f")
    cases = [
        ([os.path.join(tmp, "missing.folded")], 1, "No such file"),
        ([tmp], 1, "directory"),
        ([empty], 1, "empty"),
        ([junk], 1, "malformed"),
        ([badjson], 1, "frame index out of range"),
        ([trunc], 1, "not a speedscope profile"),
        ([pb], 1, "the pprof profile is empty"),
        ([badpb], 1, "not a pprof profile"),
        ([empty, "--fail-above", "x"], 2, "expected [self:|total:]PATTERN=PERCENT"),
        ([empty, "--fail-above", "a(=3"], 2, "invalid pattern"),
        ([empty, "--fail-increase", "a=3"], 2, "--baseline"),
        ([empty, "--match", "("], 2, "--match"),
        ([empty, "--json", "--markdown"], 2, "one of"),
        ([], 2, "which profiles"),
    ]
    for args, code, text in cases:
        r = run(["report"] + args)
        if r.returncode != code or text not in r.stderr:
            fail("report %s: exit %d (expected %d), stderr %r (expected %r)"
                 % (" ".join(args), r.returncode, code, r.stderr, text))
        if code == 1 and args and args[0] not in r.stderr:
            fail("report %s: the message does not name the file: %r" % (args[0], r.stderr))
    r = run(["record", "--fail-increase", "a=3", "--", "true"])
    if r.returncode != 2 or "--baseline" not in r.stderr:
        fail("record --fail-increase without --baseline: exit %d %r" % (r.returncode, r.stderr))
    print("errors: %d cases" % len(cases))


def main():
    global HOTSPY, FIXTURES
    HOTSPY, FIXTURES, case = sys.argv[1:4]
    with tempfile.TemporaryDirectory(prefix="hotspy-report-") as tmp:
        {"agree": case_agree, "gate": case_gate, "baseline": case_baseline,
         "errors": case_errors}[case](tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
