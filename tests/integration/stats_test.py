#!/usr/bin/env python3
"""`record --stats` counts all of hotspy's CPU: the "hotspy cpu" figure it
prints must be close to what the kernel reports for the hotspy process when
it is reaped (wait4's rusage), naming and writing included. An attached
target (not a child of hotspy) keeps the target's own CPU out of wait4's
figure; --lines and a high rate make naming and sampling both cost.

usage: stats_test.py HOTSPY FIXTURES
Exit 77 when hotspy may not attach here.
"""
import os
import re
import subprocess
import sys
import time

# What hotspy may spend after printing the figure: freeing and exiting.
SLACK_MS = 15


def main():
    hotspy, fixtures = sys.argv[1:3]
    target = subprocess.Popen([os.path.join(fixtures, "hotspots"), "10"])
    try:
        time.sleep(0.3)
        out = "/dev/null"
        p = subprocess.Popen([hotspy, "record", "--stats", "-q", "-r", "997", "-d", "1",
                              "--lines", "-f", "flamegraph", "-o", out,
                              "-p", str(target.pid)],
                             stderr=subprocess.PIPE, text=True)
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
    finally:
        target.kill()
        target.wait()
    print(err, end="")
    code = os.waitstatus_to_exitcode(status)
    if code != 0 and re.search(r"not permitted|permission", err, re.I):
        print("SKIP: hotspy may not attach here")
        return 77
    if code != 0:
        print("FAIL: hotspy record --stats exits %d" % code)
        return 1
    m = re.search(r"hotspy cpu ([\d.]+) ms", err)
    if not m:
        print("FAIL: no \"hotspy cpu N ms\" line")
        return 1
    stated = float(m.group(1))
    measured = (ru.ru_utime + ru.ru_stime) * 1e3
    print("--stats says %.1f ms, wait4 measures %.1f ms" % (stated, measured))
    # Clock ticks round rusage to a few ms either way.
    ok = measured * 0.85 - SLACK_MS <= stated <= measured + SLACK_MS
    print(("ok   " if ok else "FAIL ") +
          "--stats' CPU within 85-100 %% of wait4's (less %d ms for exiting)" % SLACK_MS)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
