"""The Python reader against the interpreter's own view of its stacks.

    python3 pyreader_test.py NAME PROBE [pidns]

NAME is an interpreter of interpreters.py ("system", "2.7" ... "3.13"; a
missing one is a skip). Runs pyreader_target.py under it in a temporary
directory, waits for the truth it writes (every frame of its two blocked
threads from sys._current_frames(): name, file, line), then runs PROBE
(pyreader_probe) on it and requires the same frames, thread by thread, in
the same order, exactly: names (co_qualname on 3.11+), files and lines. The
probe captures every thread twice (the second time through the reader's
cached thread states). A thread the target made with pthread_create
(no thread state) must read as running no Python. Also: the probe on a
process that is not Python
process that is not Python is reported as such and left running.

With pidns the target runs in a PID namespace of its own (unshare -p -f):
CPython's thread ids are then not the probe's, and the reader translates
them (NSpid); a machine where unshare is refused is a skip.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interpreters  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def ptrace_allowed():
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            scope = int(f.read().strip())
    except (OSError, ValueError):
        return True
    return scope == 0 or os.geteuid() == 0


PYNAMES = {}   # tid -> the thread name the probe read ("-": none)


def parse(out):
    """{tid: (status, [(name, file, line, call, anchor)])} from the probe."""
    threads = {}
    for line in out.splitlines():
        f = line.split("\t")
        if f[0] == "pyname":
            PYNAMES[f[1]] = f[2]
        elif f[0] == "thread":
            threads[f[1]] = (f[2], [])
        elif f[0] == "frame":
            threads[f[1]][1].append((f[2], f[3], int(f[4]), int(f[5]), int(f[6], 16)))
    return threads


def check_calls(name, tid, frames):
    """Calls are numbered from 0 innermost, never decreasing; up to 3.10
    each frame is its own call (anchor 0); 3.11+ every call has an anchor."""
    prev = 0
    for i, fr in enumerate(frames):
        call, anchor = fr[3], fr[4]
        if call < prev or call > prev + 1 or (i == 0 and call != 0):
            fail("%s: thread %s: frame %d is in call %d after call %d" % (name, tid, i, call, prev))
        prev = call
        old = name in ("2.7", "3.6", "3.7", "3.8", "3.9", "3.10")
        if old and (call != i or anchor != 0):
            fail("%s: thread %s: frame %d: call %d anchor %x, want %d and 0" % (name, tid, i, call, anchor, i))
        if not old and anchor == 0:
            fail("%s: thread %s: frame %d (call %d) has no anchor" % (name, tid, i, call))


def nstid(pid, tid):
    """The tid of @tid in the innermost PID namespace of process @pid."""
    with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
        for line in f:
            if line.startswith("NSpid:"):
                return line.split()[-1]
    return tid


def child_of(pid, deadline):
    """The one child of @pid (unshare's forked child)."""
    while time.time() < deadline:
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
        except OSError:
            pass
        time.sleep(0.05)
    fail("unshare started no child")


def main():
    if len(sys.argv) not in (3, 4) or (len(sys.argv) == 4 and sys.argv[3] != "pidns"):
        fail("usage: pyreader_test.py NAME PROBE [pidns]")
    name, probe = sys.argv[1], sys.argv[2]
    pidns = len(sys.argv) == 4
    python = interpreters.find_or_skip(name)
    if not ptrace_allowed():
        print("skip: ptrace not permitted (kernel.yama.ptrace_scope)")
        sys.exit(interpreters.SKIP)
    tmp = tempfile.mkdtemp(prefix="pyreader_")
    proc = None
    target = None
    try:
        truth_path = os.path.join(tmp, "truth.json")
        cmd = [python, os.path.join(HERE, "pyreader_target.py"), truth_path]
        if pidns:
            if subprocess.run(["unshare", "-p", "-f", "true"]).returncode != 0:
                print("skip: unshare -p refused here")
                sys.exit(interpreters.SKIP)
            cmd = ["unshare", "-p", "-f", "--kill-child"] + cmd
        proc = subprocess.Popen(cmd)
        deadline = time.time() + 60
        target = child_of(proc.pid, deadline) if pidns else proc.pid
        while not os.path.exists(truth_path):
            if proc.poll() is not None:
                fail("%s: the target exited with %d" % (name, proc.returncode))
            if time.time() > deadline:
                fail("%s: no truth after 60 s" % name)
            time.sleep(0.05)
        with open(truth_path) as f:
            told = json.load(f)
        truth, native = told["threads"], told["native"]
        # The reporter thread ends after writing: wait for it to go.
        task = "/proc/%d/task" % target
        while len(os.listdir(task)) != 2 + native:
            if time.time() > deadline:
                fail("%s: the reporter thread did not end" % name)
            time.sleep(0.05)
        r = subprocess.run([probe, str(target), "2"], capture_output=True, text=True,
                           timeout=60)
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr)
        if r.returncode != 0:
            fail("%s: probe exited with %d" % (name, r.returncode))
        if proc.poll() is not None:
            fail("%s: the target died under the probe" % name)
        got = parse(r.stdout)
        pynames = dict(PYNAMES)
        if pidns:
            # The truth names threads as the target's namespace does.
            got = dict((nstid(target, tid), v) for tid, v in got.items())
            pynames = dict((nstid(target, tid), v) for tid, v in pynames.items())
        # The names Python gives the threads (threading), UCS-4 and UCS-2
        # ones; the thread that runs no Python has none.
        for tid, want in told["names"].items():
            if pynames.get(tid) != want:
                fail("%s: thread %s: Python name %r read, %r in the interpreter"
                     % (name, tid, pynames.get(tid), want))
        for tid, have in pynames.items():
            if tid not in told["names"] and have != "-":
                fail("%s: thread %s runs no Python but is named %r" % (name, tid, have))
        for tid, want in truth.items():
            if tid not in got:
                fail("%s: thread %s not captured" % (name, tid))
            status, frames = got[tid]
            if status != "ok":
                fail("%s: thread %s: status %s" % (name, tid, status))
            have = [[fr[0], fr[1], fr[2]] for fr in frames]
            if have != want:
                for i in range(max(len(have), len(want))):
                    h = have[i] if i < len(have) else None
                    w = want[i] if i < len(want) else None
                    if h != w:
                        print("  frame %d: read %r, interpreter %r" % (i, h, w))
                fail("%s: thread %s: %d frames read, %d in the interpreter, first difference above"
                     % (name, tid, len(have), len(want)))
            check_calls(name, tid, frames)
        # The thread that runs no Python: no thread state, no frames.
        others = [tid for tid in got if tid not in truth]
        if len(others) != native:
            fail("%s: %d threads besides the Python ones, want %d" % (name, len(others), native))
        for tid in others:
            if got[tid][0] != "none" or got[tid][1]:
                fail("%s: thread %s runs no Python but reads as %s with %d frames"
                     % (name, tid, got[tid][0], len(got[tid][1])))
        total = sum(len(v) for v in truth.values())
        print("ok: %s%s: %d threads, %d frames match; %d thread(s) without Python read as such;"
              " names %s" % (name, " in a PID namespace" if pidns else "", len(truth), total,
                             native, sorted(told["names"].values())))
        if name == "system" and not pidns:
            # Not Python: the probe says so and does not touch it.
            sleeper = subprocess.Popen(["sleep", "30"])
            try:
                time.sleep(0.1)
                r = subprocess.run([probe, str(sleeper.pid)], capture_output=True, text=True,
                                   timeout=30)
                if r.returncode != 2:
                    fail("probe on sleep: exit %d, want 2 (not Python)\n%s%s" %
                         (r.returncode, r.stdout, r.stderr))
                if sleeper.poll() is not None:
                    fail("sleep died under the probe")
            finally:
                sleeper.kill()
                sleeper.wait()
            print("ok: not python")
    finally:
        if target is not None and pidns:
            try:
                os.kill(target, signal.SIGKILL)
            except OSError:
                pass
        if proc is not None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
