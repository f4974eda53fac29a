#!/usr/bin/env python3
"""hotspy flamegraph as a converter: valid XML whatever the names, no loss of
weight or frames from perf/py-spy folded input, malformed lines reported but
not fatal, empty input an error, identical input identical bytes.

usage: svg_test.py HOTSPY
Exit 77 when xmllint is missing.
"""
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SVG_NS = "{http://www.w3.org/2000/svg}"

PERF_FOLDED = (
    "prog;_start;__libc_start_main;main;compute(std::vector<int> const&) 120\n"
    "prog;_start;__libc_start_main;main;compute(std::vector<int> const&);std::sort<int*> 80\n"
    "prog;_start;__libc_start_main;main;[unknown] 3\n"
    "prog;[libc.so.6];__GI___clone3;start_thread;worker_[k] 40\n"
    "py;<module> (app.py:3);work (app.py:12) 2.5\n"
)

HOSTILE = (
    "main;<script>alert(1)</script> 3\n"
    "main;]]></script><script>alert(2)</script> 3\n"
    "main;a & b \"q\" 'r' 2\n"
    "main;x\" onload=\"alert(3) 2\n"
).encode() + b"main;\xff\xfe\xc0\xaf bad\x01utf8 1\n" + b"main;" + b"B" * 10240 + b" 1\n"

failures = 0


def check(cond, what):
    global failures
    if not cond:
        print("FAIL:", what)
        failures += 1


def run(hotspy, data, *args):
    return subprocess.run([hotspy, "flamegraph", *args], input=data,
                          capture_output=True, timeout=60)


def frames(svg_bytes):
    root = ET.fromstring(svg_bytes)
    out = []
    for g in root.iter(SVG_NS + "g"):
        if g.get("class") == "f":
            title = g.find(SVG_NS + "title").text
            m = re.match(r"^(.*) \(([0-9.e+]+) samples, ([0-9.]+)%\)$", title, re.S)
            out.append((m.group(1), float(m.group(2)), int(g.get("{https://hotspy.invalid/flamegraph}d"))))
    return out


def main():
    hotspy = sys.argv[1]
    if not shutil.which("xmllint"):
        print("skip: xmllint missing (apt-get install libxml2-utils)")
        return 77
    with tempfile.TemporaryDirectory() as d:
        # Valid XML whatever the names; no script but ours.
        r = run(hotspy, HOSTILE, "-o", d + "/h.svg", "--title", "<b>&title")
        check(r.returncode == 0, "hostile names convert: %r" % r.stderr)
        x = subprocess.run(["xmllint", "--noout", d + "/h.svg"], capture_output=True)
        check(x.returncode == 0, "xmllint accepts the SVG: %r" % x.stderr)
        data = open(d + "/h.svg", "rb").read()
        check(data.count(b"<script") == 1, "one script element")
        check(b"alert(" not in data.split(b"]]></script>")[0].split(b"<![CDATA[")[1],
              "no name inside the script")
        check(b"\xff" not in data, "invalid UTF-8 replaced")
        names = [f[0] for f in frames(data)]
        check("<script>alert(1)</script>" in names, "hostile name kept as text")

        # perf and py-spy folded: all frames, all weight.
        r = run(hotspy, PERF_FOLDED.encode(), "--minwidth", "0")
        check(r.returncode == 0, "perf folded converts")
        fr = frames(r.stdout)
        total = sum(float(l.rsplit(" ", 1)[1]) for l in PERF_FOLDED.splitlines())
        check(abs(fr[0][1] - total) < 1e-6 and fr[0][0] == "all", "root holds all weight")
        want = {f for l in PERF_FOLDED.splitlines() for f in l.rsplit(" ", 1)[0].split(";")}
        check(want == {f[0] for f in fr[1:]}, "every frame drawn: %r" % (want ^ {f[0] for f in fr[1:]}))
        check(subprocess.run(["xmllint", "--noout", "-"], input=r.stdout).returncode == 0,
              "perf SVG is XML")
        r2 = run(hotspy, PERF_FOLDED.encode(), "--minwidth", "0")
        check(r.stdout == r2.stdout, "identical input, identical bytes")
        # A line order change does not change the picture.
        r3 = run(hotspy, "".join(reversed(PERF_FOLDED.splitlines(True))).encode(), "--minwidth", "0")
        check(r.stdout == r3.stdout, "line order does not matter")

        # Malformed lines: counted, reported, not fatal.
        r = run(hotspy, b"a;b 3\nnot a line\na;c x\n")
        check(r.returncode == 0, "malformed lines are not fatal")
        check(b"2 malformed lines" in r.stderr, "malformed lines reported: %r" % r.stderr)

        # Empty input: a clear error.
        r = run(hotspy, b"")
        check(r.returncode != 0 and b"no stacks" in r.stderr, "empty input is an error")
        r = subprocess.run([hotspy, "flamegraph", d + "/missing.folded"], capture_output=True)
        check(r.returncode != 0 and b"cannot read" in r.stderr, "missing file is an error")

        # --inverted and --reverse change the layout.
        r = run(hotspy, PERF_FOLDED.encode(), "--reverse", "--minwidth", "0")
        top = {f[0] for f in frames(r.stdout) if f[2] == 1}
        check("std::sort<int*>" in top and "prog" not in top, "--reverse puts leaves first")

        # hotspy diff: AFTER's shape, red where it grew, blue where it shrank.
        open(d + "/before", "w").write("main;a 10\nmain;b 10\n")
        open(d + "/after", "w").write("main;a 30\nmain;b 5\nmain;c 5\n")
        r = subprocess.run([hotspy, "diff", d + "/before", d + "/after", "-o", d + "/d.svg",
                            "--minwidth", "0"], capture_output=True)
        check(r.returncode == 0, "diff runs: %r" % r.stderr)
        check(subprocess.run(["xmllint", "--noout", d + "/d.svg"]).returncode == 0, "diff SVG is XML")
        root = ET.parse(d + "/d.svg").getroot()
        fill = {}
        for g in root.iter(SVG_NS + "g"):
            if g.get("class") == "f":
                name = g.find(SVG_NS + "title").text.split(" (")[0]
                fill[name] = g.find(SVG_NS + "rect").get("fill")
        def redish(c):
            r_, g_, b_ = map(int, c[4:-1].split(","))
            return r_ > b_
        check(redish(fill["a"]) and redish(fill["c"]) and not redish(fill["b"]),
              "diff colours: %r" % fill)
        r = subprocess.run([hotspy, "diff", d + "/before", d + "/after", "--normalize"],
                           capture_output=True)
        check(r.returncode == 0 and b"main (40 samples, 100.00%) [+0, +0.00%]" in r.stdout,
              "--normalize scales BEFORE to AFTER's total")
        r = subprocess.run([hotspy, "diff", d + "/before"], capture_output=True)
        check(r.returncode == 2, "diff needs two files")
        check(b"hotspy diff --help" in r.stderr, "a usage error points at diff's own help")
        r = subprocess.run([hotspy, "flamegraph", "--bogus"], capture_output=True)
        check(r.returncode == 2 and b"hotspy flamegraph --help" in r.stderr,
              "a usage error points at flamegraph's own help")

        # The two-column form: every stack of either file, BEFORE then AFTER.
        r = subprocess.run([hotspy, "diff", d + "/before", d + "/after", "-o", d + "/d.folded"],
                           capture_output=True)
        check(r.returncode == 0, "diff -o d.folded runs: %r" % r.stderr)
        rows = {}
        for line in open(d + "/d.folded"):
            stack, b, a = line.rsplit(" ", 2)
            rows[stack] = (float(b), float(a))
        check(rows == {"main;a": (10, 30), "main;b": (10, 5), "main;c": (0, 5)},
              "two-column lines hold both counts: %r" % rows)
        # Drawn again by hotspy flamegraph, it is the same differential SVG.
        r = subprocess.run([hotspy, "flamegraph", d + "/d.folded", "-o", d + "/d2.svg",
                            "--minwidth", "0"], capture_output=True)
        check(r.returncode == 0, "flamegraph reads two-column input: %r" % r.stderr)
        check(open(d + "/d.svg", "rb").read() == open(d + "/d2.svg", "rb").read(),
              "diff SVG == flamegraph of diff -f folded")
        # A stack only BEFORE has is kept (AFTER 0), and --normalize scales.
        r = subprocess.run([hotspy, "diff", d + "/after", d + "/before", "-f", "folded",
                            "--normalize"], capture_output=True, text=True)
        rows = {l.rsplit(" ", 2)[0]: (float(l.rsplit(" ", 2)[1]), float(l.rsplit(" ", 2)[2]))
                for l in r.stdout.splitlines()}
        check(r.returncode == 0 and abs(sum(b for b, _ in rows.values()) - 20) < 1e-9 and
              rows.get("main;c", (0, -1))[1] == 0,
              "normalized two-column output: %r" % rows)
        r = subprocess.run([hotspy, "diff", d + "/before", d + "/after", "-f", "pprof"],
                           capture_output=True)
        check(r.returncode == 2, "diff -f accepts flamegraph or folded only")
        # Unreadable input: a clear error naming the file.
        r = subprocess.run([hotspy, "diff", d + "/before", d + "/nope"], capture_output=True)
        check(r.returncode != 0 and b"cannot read" in r.stderr and b"nope" in r.stderr,
              "diff of a missing file is an error: %r" % r.stderr)
        r = subprocess.run([hotspy, "diff", d + "/before", d], capture_output=True)
        check(r.returncode != 0 and b"cannot read" in r.stderr,
              "diff of a directory is an error: %r" % r.stderr)
        open(d + "/junk", "wb").write(b"\x00\x01garbage\nmore garbage\n")
        r = subprocess.run([hotspy, "diff", d + "/before", d + "/junk"], capture_output=True)
        check(r.returncode != 0 and b"no stacks" in r.stderr and b"malformed" in r.stderr,
              "diff of a malformed file: reported, an error: %r" % r.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
