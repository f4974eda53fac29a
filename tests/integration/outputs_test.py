#!/usr/bin/env python3
"""Outputs and inputs that fail give the real reason; a killed or disturbed
recording leaves nothing behind and its profile is found.

    outputs_test.py --hotspy BIN --fixtures DIR CASE

Cases:
  inputs   a directory given as the input of flamegraph, diff and report is
           called a directory (it was "Input/output error").
  full     -o /dev/full, and a 64 KiB tmpfs that fills up (as root; that part
           is skipped where mount is refused): "No space left on device" with
           the remedy, rc 1, and the destination as it was, nothing else left.
  kill     SIGKILL of `record -o DIR/x.svg` at several moments (just started,
           sampling, while naming and writing): no hidden temporary file
           (".x.svg.*") is ever left in DIR, and an x.svg there is whole.
  moved    the output's directory renamed during the recording: the profile
           is in the directory's new place, and hotspy says where.

Exit status: 0 pass, 1 fail, 77 skip (CTest SKIP_RETURN_CODE).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

SKIP = 77
ARGS = None


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run_hotspy(args, timeout=60):
    print("$ hotspy " + " ".join(args))
    r = subprocess.run([ARGS.hotspy] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    sys.stdout.write(r.stderr)
    return r


def fixture(name):
    return os.path.join(ARGS.fixtures, name)


def expect_fail(args, words, refused=()):
    r = run_hotspy(args)
    if r.returncode != 1:
        fail("hotspy %s: exit %d, expected 1" % (" ".join(args), r.returncode))
    for w in words:
        if w not in r.stderr:
            fail("hotspy %s: message lacks %r" % (" ".join(args), w))
    for w in refused:
        if w in r.stderr:
            fail("hotspy %s: says %r" % (" ".join(args), w))
    return r


def case_inputs():
    with tempfile.TemporaryDirectory() as tmp:
        folded = os.path.join(tmp, "a.folded")
        with open(folded, "w") as f:
            f.write("main;a 1\n")
        for args in (["flamegraph", tmp], ["diff", tmp, folded], ["diff", folded, tmp],
                     ["report", tmp]):
            expect_fail(args, ["cannot read " + tmp, "is a directory"],
                        ["Input/output error"])


def case_full():
    busy = [fixture("hotspots"), "0.5"]
    expect_fail(["record", "-q", "-o", "/dev/full", "--"] + busy,
                ["cannot write /dev/full", "No space left on device", "free some space"],
                ["Input/output error"])
    with tempfile.TemporaryDirectory() as tmp:
        folded = os.path.join(tmp, "a.folded")
        with open(folded, "w") as f:
            f.write("main;a 1\nmain;b 2\n")
        for args in (["flamegraph", folded, "-o", "/dev/full"],
                     ["diff", folded, folded, "-o", "/dev/full"]):
            expect_fail(args, ["No space left on device", "free some space"],
                        ["Input/output error"])

        # Standard output on a full device: the same reason.
        big = os.path.join(tmp, "big.folded")
        with open(big, "w") as f:
            f.write("".join("main;f%d;g 1\n" % i for i in range(3000)))
        with open("/dev/full", "w") as full:
            print("$ hotspy flamegraph big.folded > /dev/full")
            r = subprocess.run([ARGS.hotspy, "flamegraph", big], stdout=full,
                               stderr=subprocess.PIPE, text=True, timeout=60)
        sys.stdout.write(r.stderr)
        if r.returncode != 1 or "standard output: No space left on device" not in r.stderr:
            fail("flamegraph > /dev/full: exit %d, %r" % (r.returncode, r.stderr))

        small = os.path.join(tmp, "small")
        os.mkdir(small)
        if os.geteuid() != 0 or subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", small],
                stderr=subprocess.DEVNULL).returncode != 0:
            print("a small tmpfs cannot be mounted here: /dev/full only")
            return
        try:
            out = os.path.join(small, "x.svg")
            with open(out, "w") as f:
                f.write("old\n")
            # Leave less room than a flamegraph of hotspots takes (~25 KiB).
            with open(os.path.join(small, "fill"), "wb") as f:
                f.write(b"\0" * (52 << 10))
            expect_fail(["record", "-q", "-r", "1000", "-o", out, "--"] + busy,
                        ["cannot write " + out, "No space left on device",
                         "free some space"], ["Input/output error"])
            with open(out) as f:
                if f.read() != "old\n":
                    fail("the destination was changed by a failed write")
            left = sorted(os.listdir(small))
            if left != ["fill", "x.svg"]:
                fail("a failed write left %s" % left)
        finally:
            subprocess.run(["umount", small])


def hidden(d):
    return [n for n in os.listdir(d) if n.startswith(".x.svg")]


def case_kill():
    """Each trial attaches to a running fixture, so a killed hotspy leaves
    nothing running that the test did not start."""
    target = subprocess.Popen([fixture("hotspots"), "60"])
    try:
        time.sleep(0.2)
        # Seconds after the start: at once, sampling, and steps across the
        # end of -d 0.6, when the profile is named and written (the whole run
        # takes ~0.7 s here; a step may land after the commit, when a whole
        # x.svg is there).
        for when in (0.02, 0.3) + tuple(0.6 + 0.04 * i for i in range(4)):
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "x.svg")
                h = subprocess.Popen([ARGS.hotspy, "record", "-q", "-r", "2000", "--threads",
                                      "-d", "0.6", "-o", out, "-p", str(target.pid)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(when)
                h.kill()
                h.wait()
                print("SIGKILL after %.2f s: %s" % (when, sorted(os.listdir(tmp))))
                if hidden(tmp):
                    fail("SIGKILL after %.2f s left %s" % (when, hidden(tmp)))
                if os.path.exists(out):
                    with open(out, "rb") as f:
                        if not f.read().rstrip().endswith(b"</svg>"):
                            fail("SIGKILL after %.2f s left a partial x.svg" % when)
            if target.poll() is not None:
                fail("the target died")
    finally:
        target.kill()
        target.wait()


def case_moved():
    target = subprocess.Popen([fixture("hotspots"), "30"])
    try:
        time.sleep(0.2)
        with tempfile.TemporaryDirectory() as tmp:
            a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
            os.mkdir(a)
            args = ["record", "-d", "1.5", "-o", os.path.join(a, "x.svg"), "-p",
                    str(target.pid)]
            print("$ hotspy " + " ".join(args))
            h = subprocess.Popen([ARGS.hotspy] + args, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            time.sleep(0.7)
            os.rename(a, b)
            _, err = h.communicate(timeout=60)
            sys.stdout.write(err)
            where = os.path.join(os.path.realpath(b), "x.svg")
            if h.returncode != 0:
                fail("record exited %d when its directory moved" % h.returncode)
            if sorted(os.listdir(b)) != ["x.svg"]:
                fail("the moved directory holds %s" % sorted(os.listdir(b)))
            with open(where, "rb") as f:
                if not f.read().rstrip().endswith(b"</svg>"):
                    fail("the profile in the moved directory is not whole")
            if "moved" not in err or where not in err:
                fail("hotspy does not say the profile is at %s" % where)
    finally:
        target.kill()
        target.wait()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--hotspy", required=True)
    p.add_argument("--fixtures", required=True)
    p.add_argument("case", choices=["inputs", "full", "kill", "moved"])
    ARGS = p.parse_args()
    {"inputs": case_inputs, "full": case_full, "kill": case_kill,
     "moved": case_moved}[ARGS.case]()
    print("PASS")


if __name__ == "__main__":
    main()
