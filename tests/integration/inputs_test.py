#!/usr/bin/env python3
"""What the file commands (flamegraph, diff, report) take from their input.

deep    stacks of 100,000 and 200,000 frames are read by all three (no frame
        limit); what record writes with --sampler ptrace --stack-size 2M on
        the deep fixture (20,000 frames) is read back in each format.
limits  /dev/zero ends at once with an error naming line 1 and the line
        limit, in bounded memory; a long line's error names its number; a
        profile past HOTSPY_MEMORY_MAX is refused naming the limit; no
        output is left by a refused input.
wait    a FIFO or a pipe that sends nothing for a second gets one line on
        stderr saying hotspy waits on it, and the data that comes then is
        read; a regular file gets no such line.

usage: inputs_test.py HOTSPY FIXTURES_DIR CASE
Exit status: 0 pass, 1 fail, 77 skip.
"""
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

SKIP = 77
failures = 0


def check(cond, what):
    global failures
    if not cond:
        print("FAIL:", what)
        failures += 1


def run(hotspy, args, env=None, timeout=60, **kw):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([hotspy] + args, capture_output=True, timeout=timeout, env=e, **kw)


def deep_line(depth, distinct=50):
    return (";".join("f%d" % (i % distinct) for i in range(depth)) + " 5\n").encode()


def svg_frames(path):
    with open(path, "rb") as f:
        return len(re.findall(rb'<g class="f"', f.read()))


def case_deep(hotspy, fixtures, tmp):
    for depth in (100000, 200000):
        folded = os.path.join(tmp, "d%d.folded" % depth)
        with open(folded, "wb") as f:
            f.write(deep_line(depth))
        svg = os.path.join(tmp, "d%d.svg" % depth)
        # The SVG of the deepest only (40 MB): every frame is drawn, as
        # wide as the graph (one stack).
        if depth == 200000:
            r = run(hotspy, ["flamegraph", folded, "-o", svg])
            check(r.returncode == 0, "flamegraph of %d frames exited %d: %s"
                  % (depth, r.returncode, r.stderr.decode(errors="replace")))
            if r.returncode == 0:
                n = svg_frames(svg)
                check(n >= depth, "flamegraph of %d frames drew %d" % (depth, n))
        r = run(hotspy, ["diff", "-f", "folded", folded, folded, "-o",
                         os.path.join(tmp, "diff.folded")])
        check(r.returncode == 0, "diff of %d frames exited %d: %s"
              % (depth, r.returncode, r.stderr.decode(errors="replace")))
        r = run(hotspy, ["report", "--top", "0", folded])
        check(r.returncode == 0 and b"f49" in r.stdout and b"malformed" not in r.stderr,
              "report of %d frames exited %d: %s" % (depth, r.returncode,
                                                      r.stderr.decode(errors="replace")))

    # What record writes, read back: a recursion of 20,000 frames, whole
    # with a 2 MiB stack copy (64 bytes a frame).
    deep = os.path.join(fixtures, "deep")
    for fmt in ("folded", "speedscope", "pprof"):
        out = os.path.join(tmp, "rec." + fmt)
        r = run(hotspy, ["record", "-q", "--sampler", "ptrace", "--stack-size", "2M", "-r", "50",
                         "-f", fmt, "-o", out, "--", deep, "-n", "40"],
                env={"DEEP_DEPTH": "20000"}, timeout=120)
        err = r.stderr.decode(errors="replace")
        if r.returncode != 0 and ("not permitted" in err or "ptrace" in err):
            print("SKIP: cannot trace here:", err.strip())
            return SKIP
        check(r.returncode == 0, "record -f %s exited %d: %s" % (fmt, r.returncode, err))
        if r.returncode != 0:
            continue
        r = run(hotspy, ["report", "--json", "--top", "0", out])
        check(r.returncode == 0 and b'"deep_leaf' in r.stdout,
              "report of the recorded %s exited %d: %s"
              % (fmt, r.returncode, r.stderr.decode(errors="replace")))
        if fmt == "speedscope":
            continue    # flamegraph and diff read folded and pprof
        svg = os.path.join(tmp, "rec-%s.svg" % fmt)
        r = run(hotspy, ["flamegraph", out, "-o", svg])
        check(r.returncode == 0, "flamegraph of the recorded %s exited %d: %s"
              % (fmt, r.returncode, r.stderr.decode(errors="replace")))
        if r.returncode == 0:
            n = svg_frames(svg)
            check(n > 20000, "flamegraph of the recorded %s drew %d frames, not the "
                  "20,000 of the recursion" % (fmt, n))
        r = run(hotspy, ["diff", out, out, "-o", os.path.join(tmp, "rec-diff.svg")])
        check(r.returncode == 0, "diff of the recorded %s exited %d" % (fmt, r.returncode))
    return 0


def peak_rss_kib(argv, env=None, timeout=30):
    """Run argv; return its exit status, peak RSS (KiB), stderr and seconds."""
    e = dict(os.environ)
    e.update(env or {})
    # RUSAGE_CHILDREN is the max over all of a process's children, so argv
    # runs in a probe of its own. The probe caps argv's address space at
    # 4 GiB and kills it at the timeout: an unbounded reader (as hotspy was
    # on /dev/zero) must not take the machine's memory while it fails.
    probe = ("import resource, subprocess, sys\n"
             "def cap():\n"
             "    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n"
             "try:\n"
             "    r = subprocess.run(sys.argv[2:], capture_output=True, preexec_fn=cap,\n"
             "                       timeout=float(sys.argv[1]))\n"
             "    rc, err = r.returncode, r.stderr\n"
             "except subprocess.TimeoutExpired as t:\n"
             "    rc, err = -1, t.stderr or b'timed out'\n"
             "sys.stderr.buffer.write(err)\n"
             "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-c", probe, str(timeout)] + argv, capture_output=True,
                       timeout=timeout + 30, env=e)
    rc, rss = (int(x) for x in r.stdout.split())
    return rc, rss, r.stderr.decode(errors="replace"), time.monotonic() - start


def case_limits(hotspy, fixtures, tmp):
    good = os.path.join(tmp, "good.folded")
    with open(good, "w") as f:
        f.write("main;a 1\nmain;b 2\n")
    # /dev/zero: no newline ever. An error naming line 1 and the limit,
    # soon, in memory near one line's (64 MiB), never the 2 GB it took.
    for args in (["flamegraph", "/dev/zero", "-o", os.path.join(tmp, "zero.svg")],
                 ["report", "/dev/zero"],
                 ["diff", good, "/dev/zero", "-o", os.path.join(tmp, "zero-diff.svg")]):
        rc, rss, err, secs = peak_rss_kib([hotspy] + args)
        check(rc == 1, "%s: exit %d, not 1" % (" ".join(args), rc))
        check("line 1 is longer than 64 MiB" in err and "HOTSPY_LINE_MAX" in err,
              "%s: the error does not name the line and the limit: %r" % (args[0], err))
        check(rss < 256 * 1024, "%s /dev/zero: peak RSS %d KiB" % (args[0], rss))
        check(secs < 30, "%s /dev/zero took %.1f s" % (args[0], secs))
    check(not os.path.exists(os.path.join(tmp, "zero.svg")), "an output was left for /dev/zero")

    # A long line: its number and the limit in the error.
    long = os.path.join(tmp, "long.folded")
    with open(long, "w") as f:
        f.write("main;a 1\n\nmain;b 2\nmain;" + "x" * 10000 + " 1\nmain;c 1\n")
    env = {"HOTSPY_LINE_MAX": "4K"}
    for args in (["flamegraph", long, "-o", os.path.join(tmp, "long.svg")],
                 ["report", long], ["diff", good, long, "-o", os.path.join(tmp, "l.svg")]):
        r = run(hotspy, args, env=env)
        err = r.stderr.decode(errors="replace")
        check(r.returncode == 1 and "line 4 is longer than 4 KiB" in err and long in err,
              "%s of a long line: exit %d, %r" % (args[0], r.returncode, err))
    # The same line under the default limit is read.
    r = run(hotspy, ["report", long])
    check(r.returncode == 0, "report of a 10 KB line exited %d" % r.returncode)
    r = run(hotspy, ["report", long], env={"HOTSPY_LINE_MAX": "lots"})
    check(r.returncode == 1 and b"invalid HOTSPY_LINE_MAX 'lots'" in r.stderr,
          "a bad HOTSPY_LINE_MAX: exit %d, %r" % (r.returncode, r.stderr))

    # A model past the memory limit: refused with the limit named.
    many = os.path.join(tmp, "many.folded")
    with open(many, "w") as f:
        for i in range(100000):
            f.write("main;s%d;leaf%d 1\n" % (i, i))
    env = {"HOTSPY_MEMORY_MAX": "4M"}
    for args in (["flamegraph", many, "-o", os.path.join(tmp, "many.svg")],
                 ["report", many], ["diff", many, good, "-o", os.path.join(tmp, "m.svg")]):
        r = run(hotspy, args, env=env)
        err = r.stderr.decode(errors="replace")
        check(r.returncode == 1 and "more than 4 MiB of memory" in err and
              "HOTSPY_MEMORY_MAX" in err,
              "%s past the memory limit: exit %d, %r" % (args[0], r.returncode, err))
    check(not os.path.exists(os.path.join(tmp, "many.svg")), "an output was left past the limit")
    return 0


WAITING = re.compile(r"^hotspy: waiting for input on (.*) \((a [a-zA-Z ]+)\)\.\.\.$", re.M)
DATA = b"main;a 2\nmain;b 1\n"


def case_wait(hotspy, fixtures, tmp):
    fifo = os.path.join(tmp, "in.fifo")
    os.mkfifo(fifo)
    svg = os.path.join(tmp, "fifo.svg")
    # A FIFO no one writes yet: hotspy opens it, says so, and reads what
    # comes after.
    p = subprocess.Popen([hotspy, "flamegraph", fifo, "-o", svg], stderr=subprocess.PIPE)
    time.sleep(1.8)
    with open(fifo, "wb") as w:
        w.write(DATA)
    try:
        _, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    err = err.decode(errors="replace")
    found = WAITING.findall(err)
    check(found == [(fifo, "a FIFO")], "flamegraph of a silent FIFO said %r" % err)
    check(p.returncode == 0 and os.path.exists(svg),
          "flamegraph of a FIFO written late exited %d" % p.returncode)

    # A pipe on standard input, for report-like use through flamegraph.
    p = subprocess.Popen([hotspy, "flamegraph", "-o", os.path.join(tmp, "pipe.svg")],
                         stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.8)
    try:
        _, err = p.communicate(DATA, timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    err = err.decode(errors="replace")
    check(WAITING.findall(err) == [("standard input", "a pipe")],
          "flamegraph of a silent pipe said %r" % err)
    check(p.returncode == 0, "flamegraph of a pipe written late exited %d" % p.returncode)

    # Data at once, and a regular file: no word of waiting.
    plain = os.path.join(tmp, "plain.folded")
    with open(plain, "wb") as f:
        f.write(DATA)
    for args, data in ((["report", plain], None), (["flamegraph", "-o", os.path.join(tmp, "p.svg")], DATA)):
        r = subprocess.run([hotspy] + args, input=data, capture_output=True, timeout=30)
        check(r.returncode == 0 and b"waiting" not in r.stderr,
              "%s said %r" % (args[0], r.stderr))
    return 0


CASES = {"deep": case_deep, "limits": case_limits, "wait": case_wait}


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in CASES:
        print(__doc__)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        ret = CASES[sys.argv[3]](sys.argv[1], sys.argv[2], tmp)
    if ret == SKIP:
        return SKIP
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
