#!/usr/bin/env python3
"""Check that two hotspy binaries write the same bytes for the same inputs:
`flamegraph` (SVG) under a set of options, `diff` (SVG and folded) and
`report` (text, JSON, Markdown). For a change meant to make these commands
faster and nothing else (docs/benchmarks.md, issue 16 item 1). Prints each
difference and a count; exit status 1 when any.

usage: same_output.py OLD NEW [--big FILE...] [--small DIR...] [--random N]

  --big FILE   large inputs (the benchmark's): each with every option set,
               and its first 20,000 lines with --minwidth 0.01 too
  --small DIR  every file in DIR (small folded files: recordings, the
               fuzz corpus), with every option set
  --random N   also N generated inputs whose stacks share prefixes, end
               inside other stacks, repeat, and have decimal counts (the
               cases of the folded reader's runs), seeded
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile

OPTION_SETS = [
    [], ["--minwidth", "0.01"], ["--minwidth", "2"], ["--minwidth", "0.5%"],
    ["--inverted"], ["--colors", "mem"], ["--colors", "kind"], ["--reverse"],
    ["--width", "800"], ["--width", "300", "--reverse", "--inverted"],
    ["--title", "T <&> \"x\"", "--subtitle", "s"],
]
REPORT_SETS = [[], ["--json"], ["--markdown"], ["--by", "total", "-n", "0"]]


def run(binary, args, out_path):
    """(exit status, stdout, stderr, bytes written to out_path or None)."""
    if out_path and os.path.exists(out_path):
        os.unlink(out_path)
    p = subprocess.run([binary] + args, capture_output=True)
    data = None
    if out_path and os.path.exists(out_path):
        with open(out_path, "rb") as f:
            data = f.read()
    return p.returncode, p.stdout, p.stderr, data


def same(old, new, args, tmp):
    """Run both, compare everything; a description of the difference or None."""
    res = []
    for b, tag in ((old, "old"), (new, "new")):
        out = os.path.join(tmp, "out." + tag)
        a = [x.replace("@OUT", out) for x in args]
        r = run(b, a, out if "@OUT" in args else None)
        # The messages name the output file: make them comparable.
        res.append((r[0], r[1], r[2].replace(out.encode(), b"@OUT"), r[3]))
    if res[0] == res[1]:
        return None
    what = [n for i, n in enumerate(("status", "stdout", "stderr", "output"))
            if res[0][i] != res[1][i]]
    return ", ".join(what)


def gen_random(path, seed):
    rnd = random.Random(seed)
    names = ["f%d" % i for i in range(rnd.choice([3, 8, 40]))]
    names += ["k%d_[k]" % i for i in range(2)] + ["a&b<%d>" % i for i in range(2)]
    two = rnd.random() < 0.2
    lines = []
    stacks = []
    for _ in range(rnd.randint(1, 400)):
        r = rnd.random()
        if stacks and r < 0.3:
            # A prefix of an earlier stack, or an earlier one extended.
            s = rnd.choice(stacks)
            s = s[:rnd.randint(1, len(s))] if rnd.random() < 0.5 else \
                s + [rnd.choice(names) for _ in range(rnd.randint(1, 20))]
        elif stacks and r < 0.45:
            s = list(rnd.choice(stacks))          # the same stack again
        elif stacks and r < 0.7:
            # Parts from an earlier stack somewhere inside it.
            s = rnd.choice(stacks)
            s = s[:rnd.randint(0, len(s))] + [rnd.choice(names)
                                               for _ in range(rnd.randint(0, 30))]
        else:
            s = [rnd.choice(names) for _ in range(rnd.randint(1, 40))]
        if not s:
            continue
        stacks.append(s)
        count = rnd.choice(["%d" % rnd.randint(1, 1000), "%.3f" % rnd.uniform(0, 9),
                            "0.1", "1e3", "0"])
        if two:
            count = "%s %s" % (rnd.choice(["0", "3", "2.5"]), count)
        lines.append(";".join(s) + " " + count)
    if rnd.random() < 0.5:
        lines.sort()
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--big", nargs="*", default=[])
    ap.add_argument("--small", nargs="*", default=[])
    ap.add_argument("--random", type=int, default=0)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="same_output.")
    inputs = []             # (path, big)
    for b in a.big:
        inputs.append((b, True))
        cut = os.path.join(tmp, os.path.basename(b) + ".20k")
        with open(b, "rb") as f, open(cut, "wb") as g:
            for i, line in enumerate(f):
                if i == 20000:
                    break
                g.write(line)
        inputs.append((cut, False))
    for d in a.small:
        for n in sorted(os.listdir(d)):
            if os.path.isfile(os.path.join(d, n)):
                inputs.append((os.path.join(d, n), False))
    for i in range(a.random):
        p = os.path.join(tmp, "random%d.folded" % i)
        gen_random(p, i)
        inputs.append((p, False))
    cases = []
    for path, big in inputs:
        for opts in OPTION_SETS:
            cases.append(["flamegraph", path, "-o", "@OUT"] + opts)
        if not big:
            cases.append(["flamegraph", path, "--minwidth", "0.01", "-o", "@OUT"])
        for opts in REPORT_SETS:
            cases.append(["report", path] + opts)
    # diff: each input against the next, both ways of writing it.
    for (x, _), (y, _) in zip(inputs, inputs[1:] + inputs[:1]):
        cases.append(["diff", x, y, "-o", "@OUT", "-f", "flamegraph"])
        cases.append(["diff", x, y, "-o", "@OUT", "-f", "folded"])
        cases.append(["diff", x, y, "-o", "@OUT", "--normalize", "-f", "flamegraph"])
    bad = 0
    for c in cases:
        d = same(a.old, a.new, c, tmp)
        if d:
            bad += 1
            print("DIFFERENT (%s): %s" % (d, " ".join(c)))
    print("%d cases, %d inputs, %d different" % (len(cases), len(inputs), bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
