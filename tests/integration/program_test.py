#!/usr/bin/env python3
"""A program started with `--`: hotspy's exit status is the program's, and
the program ends with the recording unless --keep-running.

  - `record -- sh -c 'exit 3'` exits 3; a program killed by SIGKILL gives
    128 + 9; hotspy's own errors keep 1 (cannot write) and 2 (usage);
  - `record -d 1 -- hotspots 60`: hotspy stops the program (SIGTERM) once
    the duration is reached, exits 0, and no hotspots process is left;
    --summary-json says so, and its sample count is the folded file's total;
  - with --keep-running the program runs on, neither stopped nor traced;
  - SIGTERM to hotspy ends the program too; a Ctrl-C (SIGINT to the whole
    process group, as a terminal sends it) ends both, and hotspy reports
    and exits with the program's 128 + 2;
  - `top` passes the program's status through as record does.

usage: program_test.py HOTSPY FIXTURES
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

failures = 0


def check(cond, what):
    global failures
    if not cond:
        print("FAIL:", what)
        failures += 1
    else:
        print("ok  ", what)


def gone(pid):
    """True when @pid is no process (reaped) or a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def status_field(pid, name):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split()[1]
    return None


def folded_total(path):
    with open(path) as f:
        return sum(int(line.rsplit(" ", 1)[1]) for line in f if line.strip())


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    hotspy, fixtures = sys.argv[1:]
    hotspots = os.path.join(fixtures, "hotspots")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "x.folded")
        summary = os.path.join(tmp, "s.json")

        def record(args, **kw):
            return subprocess.run([hotspy, "record", "-o", out] + args,
                                  stderr=subprocess.PIPE, text=True, timeout=60, **kw)

        r = record(["--", "sh", "-c", "exit 3"])
        check(r.returncode == 3, "exit 3 of the program is hotspy's (got %d)" % r.returncode)
        check(os.path.exists(out), "the profile is written before")
        r = record(["--", "sh", "-c", "kill -KILL $$"])
        check(r.returncode == 128 + 9, "killed by SIGKILL: 137 (got %d)" % r.returncode)
        r = record(["--", "true"])
        check(r.returncode == 0, "exit 0 is 0")
        r = subprocess.run([hotspy, "record", "-o", os.path.join(tmp, "no/such/dir/x"), "--",
                            "sh", "-c", "exit 3"], stderr=subprocess.PIPE, timeout=60)
        check(r.returncode == 1, "hotspy's own error is 1 (got %d)" % r.returncode)
        r = subprocess.run([hotspy, "record", "--no-such-option"], stderr=subprocess.PIPE)
        check(r.returncode == 2, "a usage error is 2 (got %d)" % r.returncode)

        # -d: the program is stopped with the recording.
        r = record(["-d", "0.5", "--summary-json", summary, "--", hotspots, "60"])
        check(r.returncode == 0, "-d 1 exits 0 (got %d: %s)" % (r.returncode, r.stderr))
        with open(summary) as f:
            s = json.load(f)
        pid = s["program"]["pid"]
        check(s["schema"] == "hotspy-summary/1", "summary schema hotspy-summary/1")
        check(s["end"] == "duration", "summary end: duration")
        check(s["program"]["end"] == "stopped" and s["program"]["signal"] == signal.SIGTERM,
              "summary: the program was stopped with SIGTERM (%s)" % s["program"])
        check(gone(pid), "no hotspots process (pid %d) is left" % pid)
        check("stopped the program it started" in r.stderr, "the summary says it stopped it")
        check(s["samples"] > 0 and s["samples"] == folded_total(out),
              "summary samples %d = the folded file's total %d" % (s["samples"],
                                                                   folded_total(out)))
        check(s["top"] and s["top"][0]["function"] in ("hot_a", "hot_b"),
              "summary top function is a hot one (%s)" % (s["top"][:1],))
        check(s["output"]["path"] == out and s["output"]["format"] == "folded",
              "summary output path and format")

        # --keep-running: it runs on, not stopped, not traced. (Its stderr
        # is not a pipe: the program keeps it open.)
        with open(os.path.join(tmp, "stderr"), "w") as errf:
            r = subprocess.run([hotspy, "record", "-o", out, "-d", "0.5", "--keep-running",
                                "--summary-json", summary, "--", hotspots, "60"],
                               stderr=errf, timeout=60)
        with open(summary) as f:
            s = json.load(f)
        pid = s["program"]["pid"]
        try:
            check(r.returncode == 0 and s["program"]["end"] == "kept",
                  "--keep-running: exit 0, program kept")
            time.sleep(0.2)
            state = status_field(pid, "State")
            check(state == "R" or state == "S", "the kept program runs (state %s)" % state)
            check(status_field(pid, "TracerPid") == "0", "the kept program is not traced")
        finally:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

        # SIGTERM to hotspy alone: the program ends too; hotspy exits 0.
        p = subprocess.Popen([hotspy, "record", "-o", out, "--summary-json", summary, "--",
                              hotspots, "60"], stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        err = p.communicate(timeout=30)[1]
        with open(summary) as f:
            s = json.load(f)
        check(p.returncode == 0, "SIGTERM to hotspy: exit 0 (got %d)" % p.returncode)
        check(s["end"] == "interrupted" and s["end_signal"] == signal.SIGTERM,
              "summary: interrupted by SIGTERM")
        check(gone(s["program"]["pid"]), "SIGTERM to hotspy: the program is gone")

        # Ctrl-C: SIGINT to the whole process group.
        p = subprocess.Popen([hotspy, "record", "-o", out, "--summary-json", summary, "--",
                              hotspots, "60"], stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
        time.sleep(0.5)
        os.killpg(p.pid, signal.SIGINT)
        err = p.communicate(timeout=30)[1]
        with open(summary) as f:
            s = json.load(f)
        check(p.returncode == 128 + 2, "Ctrl-C: exit 130 (got %d)" % p.returncode)
        check(s["program"]["end"] == "exited" and s["program"]["signal"] == signal.SIGINT,
              "Ctrl-C is what ended the program (%s)" % s["program"])
        check("killed by signal 2" in err, "the summary says the program got SIGINT")

        # top passes the status through too.
        r = subprocess.run([hotspy, "top", "--batch", "-q", "--", "sh", "-c", "exit 4"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        check(r.returncode == 4, "top: exit 4 of the program (got %d)" % r.returncode)
    print("FAILED: %d checks" % failures if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
