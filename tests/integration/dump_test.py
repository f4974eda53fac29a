#!/usr/bin/env python3
"""hotspy dump on the threads fixture: every thread once, by name, each
worker under worker_main, the blocker waiting in read, the main thread down
to _start; --json parses and agrees; the fixture runs on (never left
stopped) and exits 0; a wrong PID is a clear error.

usage: dump_test.py HOTSPY FIXTURES
"""
import json
import os
import re
import subprocess
import sys
import time

failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


def state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def main():
    hotspy, fixtures = sys.argv[1:3]
    target = subprocess.Popen([os.path.join(fixtures, "threads"), "4"])
    try:
        time.sleep(0.6)
        ntasks = len(os.listdir("/proc/%d/task" % target.pid))
        r = subprocess.run([hotspy, "dump", "-p", str(target.pid)], capture_output=True,
                           text=True, timeout=30)
        print(r.stdout)
        check(r.returncode == 0, "dump exits 0 %s" % r.stderr)
        sections = {}
        for block in r.stdout.split("\n\n")[1:]:
            m = re.match(r'Thread (\d+) "(.*)" \((\w[\w ]*)\)\n', block)
            if m:
                sections[m.group(2)] = block
        check(len(sections) == ntasks == 5, "every thread once: %s" % sorted(sections))
        for w in ("worker-a", "worker-b", "worker-c"):
            check("worker_main (threads) at " in sections.get(w, ""),
                  "%s is under worker_main, with its line" % w)
        blocker = sections.get("blocker", "")
        check("(sleeping)" in blocker.split("\n")[0] and "read" in blocker.split("\n")[1],
              "the blocker sleeps in read")
        check(sections.get("threads", "").rstrip().endswith("_start (threads)"),
              "the main thread's stack goes down to _start")
        check(state(target.pid) not in ("t", "T"), "the fixture runs on after the dump")

        r = subprocess.run([hotspy, "dump", "-p", str(target.pid), "--json"],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 0, "dump --json exits 0")
        try:
            doc = json.loads(r.stdout)
        except ValueError as e:
            doc = None
            check(False, "--json is JSON: %s" % e)
        if doc:
            names = sorted(t["name"] for t in doc["threads"])
            check(doc["pid"] == target.pid and names ==
                  ["blocker", "threads", "worker-a", "worker-b", "worker-c"],
                  "--json: the process and its threads: %s" % names)
            check(all(t["frames"] and t["state"] in "RSD" for t in doc["threads"]),
                  "--json: every thread has frames and a state")
            main_t = [t for t in doc["threads"] if t["tid"] == target.pid]
            check(main_t and main_t[0]["frames"][-1]["function"] == "_start" and
                  main_t[0]["frames"][-1]["module"] == "threads",
                  "--json: the main thread ends in _start of the program")
        code = target.wait(timeout=30)
        check(code == 0, "the fixture exits 0 (exit %d)" % code)
    finally:
        if target.poll() is None:
            target.kill()
            target.wait()

    r = subprocess.run([hotspy, "dump", "-p", "999999999"], capture_output=True, text=True)
    check(r.returncode != 0 and "no such process" in r.stderr, "a wrong PID: %s" %
          r.stderr.strip())
    r = subprocess.run([hotspy, "dump"], capture_output=True, text=True)
    check(r.returncode == 2 and "-p PID" in r.stderr, "no PID: a usage error")
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
