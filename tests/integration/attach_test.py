#!/usr/bin/env python3
"""A PID that cannot be profiled is refused with the real reason, the same
whichever sampler is asked for, and no profile is written.

    attach_test.py --hotspy BIN --fixtures DIR CASE

Cases:
  zombie   a process that has exited and waits for its parent: "zombie",
           never "kernel thread" or "--sampler ptrace" (record with each
           sampler, dump, top).
  kthread  -p 2 (kthreadd) and hotspy's own PID: refused by the perf
           sampler too (it wrote an empty profile with rc 0), with the
           words the ptrace sampler uses.
  root     as root: without CAP_SYS_PTRACE (setpriv drops it) the reason is
           that capability; -p 1 where root cannot read /proc/1/maps (a
           policy guards init: checked only then, init is never attached)
           names a security policy, not a bare "Permission denied".
  exiting  processes that exit while hotspy attaches with the perf sampler:
           never "use --sampler ptrace" (ptrace would do no better).

Exit status: 0 pass, 1 fail, 77 skip (CTest SKIP_RETURN_CODE).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77
ARGS = None
SAMPLERS = ("perf", "ptrace", "auto")


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(argv, timeout=60):
    print("$ " + " ".join(argv))
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    sys.stdout.write(r.stderr)
    return r


def refused(args, words, wrong, prefix=()):
    """hotspy ARGS exits 1 naming every one of @words and none of @wrong."""
    r = run(list(prefix) + [ARGS.hotspy] + args)
    if r.returncode != 1:
        fail("hotspy %s: exit %d, expected 1" % (" ".join(args), r.returncode))
    for w in words:
        if w not in r.stderr:
            fail("hotspy %s: message lacks %r" % (" ".join(args), w))
    for w in wrong:
        if w in r.stderr:
            fail("hotspy %s: says %r" % (" ".join(args), w))
    return r


def case_zombie(tmp):
    out = os.path.join(tmp, "z.folded")
    # sh starts a child that exits at once and becomes sleep, which never
    # waits: the child stays a zombie.
    parent = subprocess.Popen(["sh", "-c", "sleep 0 & exec sleep 30"])
    try:
        zombie = None
        deadline = time.time() + 5
        while time.time() < deadline and zombie is None:
            time.sleep(0.1)
            try:
                with open("/proc/%d/task/%d/children" % (parent.pid, parent.pid)) as f:
                    kids = f.read().split()
                if kids:
                    with open("/proc/%s/stat" % kids[0]) as f:
                        if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                            zombie = kids[0]
            except OSError:
                pass
        if zombie is None:
            print("SKIP: no zombie could be made (no /proc/PID/task/TID/children)")
            sys.exit(SKIP)
        wrong = ["kernel thread", "--sampler ptrace", "even as root"]
        for s in SAMPLERS:
            refused(["record", "-d", "1", "-o", out, "-p", zombie, "--sampler", s],
                    ["cannot attach to " + zombie, "zombie", "exited",
                     "parent (process %d" % parent.pid], wrong)
        refused(["dump", "-p", zombie], ["zombie"], wrong)
        refused(["top", "--batch", "-n", "1", "-p", zombie], ["zombie"], wrong)
        if os.path.exists(out):
            fail("a profile was written for a zombie")
    finally:
        parent.kill()
        parent.wait()


def case_kthread(tmp):
    out = os.path.join(tmp, "k.folded")
    with open("/proc/2/stat") as f:
        flags = int(f.read().rsplit(")", 1)[1].split()[6])
    if not flags & 0x00200000:
        print("SKIP: process 2 is not a kernel thread here (a PID namespace)")
        sys.exit(SKIP)
    for s in SAMPLERS:
        refused(["record", "-d", "0.5", "-o", out, "-p", "2", "--sampler", s],
                ["cannot attach to 2", "kernel thread", "only user processes"], [])
        if os.path.exists(out):
            fail("--sampler %s wrote a profile of a kernel thread" % s)
    # exec keeps the PID: $$ of the shell is hotspy's own.
    for s in SAMPLERS:
        r = run(["sh", "-c", 'exec "$0" record -d 0.5 -o "$1" -p $$ --sampler "$2"',
                 ARGS.hotspy, out, s])
        if r.returncode != 1 or "that is hotspy itself" not in r.stderr:
            fail("--sampler %s: hotspy's own PID not refused (exit %d)" % (s, r.returncode))
        if os.path.exists(out):
            fail("--sampler %s wrote a profile of hotspy itself" % s)


def case_root(tmp):
    if os.geteuid() != 0:
        print("SKIP: needs root")
        sys.exit(SKIP)
    out = os.path.join(tmp, "r.folded")
    setpriv = shutil.which("setpriv")
    checked = False
    if setpriv:
        target = subprocess.Popen([os.path.join(ARGS.fixtures, "hotspots"), "20"])
        try:
            time.sleep(0.2)
            refused(["record", "-d", "0.5", "-o", out, "-p", str(target.pid),
                     "--sampler", "ptrace"],
                    ["operation not permitted", "without the CAP_SYS_PTRACE",
                     "--cap-add SYS_PTRACE"], ["kernel thread"],
                    prefix=[setpriv, "--bounding-set", "-sys_ptrace"])
            checked = True
        finally:
            target.kill()
            target.wait()
    try:
        with open("/proc/1/maps") as f:
            f.read(1)
        print("root can read /proc/1/maps here: -p 1 is not refused, not checked")
    except PermissionError:
        for s in ("perf", "ptrace"):
            refused(["record", "-d", "0.5", "-o", out, "-p", "1", "--sampler", s],
                    ["cannot attach to 1", "security policy", "process 1 is this "
                     "system's init"], ["kernel thread", "Permission denied"])
        checked = True
    if not checked:
        print("SKIP: no setpriv, and process 1 is not guarded")
        sys.exit(SKIP)


def case_exiting(tmp):
    out = os.path.join(tmp, "e.folded")
    for delay in (0.0, 0.005, 0.01, 0.02, 0.03, 0.05):
        target = subprocess.Popen(["sleep", "0.04"])
        try:
            time.sleep(delay)
            r = run([ARGS.hotspy, "record", "-d", "0.3", "-o", out, "-p", str(target.pid),
                     "--sampler", "perf"])
            if "--sampler ptrace" in r.stderr:
                fail("a process that exited during the attach: told to use ptrace")
            if r.returncode not in (0, 1):
                fail("exit %d" % r.returncode)
        finally:
            target.wait()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--hotspy", required=True)
    p.add_argument("--fixtures", required=True)
    p.add_argument("case", choices=["zombie", "kthread", "root", "exiting"])
    ARGS = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        {"zombie": case_zombie, "kthread": case_kthread, "root": case_root,
         "exiting": case_exiting}[ARGS.case](tmp)
    print("PASS")


if __name__ == "__main__":
    main()
