#!/usr/bin/env python3
"""Programs whose file is not where its mapping says: hotspy must still read
the ELF file that is mapped, and name the profile as well as for an
ordinary run (fixtures/hotspots.expect).

- deleted: the program's file is removed after it started;
- replaced: another file now has its name (an upgrade while it runs);
- container: the program runs in its own mount namespace, from a tmpfs
  that does not exist in ours (`unshare --mount`).

usage: mapped_files_test.py HOTSPY FIXTURES EXPECT_DIR files|container
files runs the deleted and replaced cases; container exits 77 (a skip) when
it cannot be set up here (no unshare, no mount namespaces).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
failures = 0
ran = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


def profile(hotspy, expect_dir, pid, out, what):
    global ran
    ran += 1
    r = subprocess.run([hotspy, "record", "-q", "-r", "300", "-f", "folded", "-o", out,
                        "-d", "2", "-p", str(pid)], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "%s: hotspy exits 0 %s" % (what, r.stderr.strip()))
    c = subprocess.run([sys.executable, os.path.join(HERE, "check_profile.py"),
                        os.path.join(expect_dir, "hotspots.expect"), out],
                       capture_output=True, text=True)
    print(c.stdout, end="")
    check(c.returncode == 0, "%s: the profile meets hotspots.expect" % what)


def wait_running(p):
    time.sleep(0.5)
    return p.poll() is None


def case_files(hotspy, fixtures, expect_dir, tmp):
    prog = os.path.join(fixtures, "hotspots")
    out = os.path.join(tmp, "p.folded")
    for case in ("deleted", "replaced"):
        copy = os.path.join(tmp, "hotspots-" + case)
        shutil.copy2(prog, copy)
        p = subprocess.Popen([copy, "4"])
        try:
            if not wait_running(p):
                check(False, "%s: the fixture runs" % case)
                continue
            os.unlink(copy)
            if case == "replaced":
                shutil.copy2(os.path.join(fixtures, "deep"), copy)
            profile(hotspy, expect_dir, p.pid, out, case)
        finally:
            p.kill()
            p.wait()


def case_container(hotspy, fixtures, expect_dir, tmp):
    prog = os.path.join(fixtures, "hotspots")
    out = os.path.join(tmp, "p.folded")
    unshare = shutil.which("unshare")
    probe = subprocess.run([unshare, "--mount", "true"], capture_output=True) \
        if unshare else None
    if not probe or probe.returncode != 0:
        print("SKIP: no mount namespace here (%s)"
              % (probe.stderr.decode().strip() if probe else "no unshare"))
        return
    inner = os.path.join(tmp, "ns")
    os.mkdir(inner)
    script = ("mount -t tmpfs none {d} && cp {prog} {d}/hotspots && "
              "exec {d}/hotspots 4").format(d=inner, prog=prog)
    p = subprocess.Popen([unshare, "--mount", "--propagation", "private", "sh", "-c",
                          script])
    try:
        time.sleep(0.8)
        if p.poll() is not None:
            print("SKIP: the namespace could not be set up")
        else:
            check(not os.path.exists(os.path.join(inner, "hotspots")),
                  "container: the program's path does not exist out here")
            profile(hotspy, expect_dir, p.pid, out, "container")
    finally:
        p.kill()
        p.wait()


def main():
    cases = {"files": case_files, "container": case_container}
    if len(sys.argv) != 5 or sys.argv[4] not in cases:
        print("usage: mapped_files_test.py HOTSPY FIXTURES EXPECT_DIR files|container",
              file=sys.stderr)
        return 2
    hotspy, fixtures, expect_dir, case = sys.argv[1:5]
    with tempfile.TemporaryDirectory() as tmp:
        cases[case](hotspy, fixtures, expect_dir, tmp)
    print("%d failure(s)" % failures)
    # A case that profiled nothing (and failed no check) could not run here.
    if ran == 0 and failures == 0:
        return 77
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
