#!/usr/bin/env python3
"""The ptrace sampler lets go of the target in time: no thread is held
stopped for longer than a snapshot, -d and Ctrl-C end a recording on time
however slow the threads are to stop, and a stopped hotspy holds nothing.

    release_test.py --hotspy BIN --crowd BIN CASE

The target is the crowd program (crowd.c): busy threads, plus threads that
take long to stop (SCHED_IDLE spinners beside the busy ones, a thread in
vfork), attached by PID.

Cases:
  duration  -d 2 on busy and late threads: every thread is let go within
            2 s + 1.5 s of the attach, none is ever held stopped for 1.5 s
            (through the detach, naming and writing), and the busy threads
            are sampled at the rate, or the summary says sampling fell
            behind.
  sigint    SIGINT 1 s in: every thread is let go within 1.5 s, hotspy
            exits 0 and writes the profile.
  vfork     --idle at 100 Hz beside a thread stuck in vfork: the other
            threads get at least half the samples due.
  tstp      SIGTSTP at 4000 Hz, three times: while hotspy is stopped no
            thread of the target is held ('t', traced by hotspy); after
            SIGCONT it records on and exits 0.
  priority  hotspy samples at nice -10 (run as root at nice 0), so that
            120 busy threads at nice 0 on the machine's CPUs do not starve
            it: -d 1 lets go of them within 1 + 2 s of the attach and
            hotspy ends within 1 + 5 s of it. A program it starts runs at
            the caller's nice value; a hotspy started at nice 3 stays
            there; --nice 5 is taken, --nice 30 refused.

Exit status: 0 pass, 1 fail, 77 skip (no ptrace here).
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

from procinfo import nice_of, proc_state, thread_status

SKIP = 77
HELD_MAX = 1.5       # seconds a thread may be seen held without a break: the
                     # detach holds stops for at most 1 s, a snapshot for far less


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def start_crowd(args):
    target = subprocess.Popen([ARGS.crowd] + args, stdout=subprocess.PIPE, text=True)
    if target.stdout.readline().strip() != "ready":
        target.kill()
        fail("crowd did not start")
    return target


def start_hotspy(args, out, own_group=False, nice=0):
    """hotspy record ARGS; with @own_group in a process group of its own,
    whose parent (this script) is in another group of the same session:
    a group that is not orphaned, where a stop signal's default action is
    taken (in an orphaned one, as under a CI runner with no job control,
    the kernel discards SIGTSTP, and hotspy's own raise(SIGTSTP) with it);
    @nice added to this script's nice value."""
    cmd = [ARGS.hotspy, "record", "--sampler", "ptrace", "-o", out] + args
    print("$ " + " ".join(cmd))
    def pre():
        if own_group:
            os.setpgrp()
        if nice:
            os.nice(nice)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=pre)


def skip_if_refused(hs):
    _, err = hs.communicate(timeout=30)
    sys.stdout.write(err)
    if hs.returncode != 0 and ("not permitted" in err or "ptrace_scope" in err):
        print("SKIP: ptrace refused here")
        sys.exit(SKIP)
    return err


class Watch:
    """Polls the target's threads while hotspy runs: the longest run of
    looks in which one thread was held (stopped, traced by hotspy), and
    when hotspy let go of the last one."""

    def __init__(self, target, hs_pid):
        self.target, self.hs_pid = target, hs_pid
        self.held_since = {}
        self.longest = (0.0, None)
        self.attached_at = None
        self.released_at = None

    def look(self):
        now = time.monotonic()
        st = thread_status(self.target)
        traced = False
        for tid, (state, tracer) in st.items():
            ours = tracer == self.hs_pid
            traced = traced or ours
            if ours and state in ("t", "T"):
                since = self.held_since.setdefault(tid, now)
                if now - since > self.longest[0]:
                    self.longest = (now - since, tid)
            else:
                self.held_since.pop(tid, None)
        if traced:
            if self.attached_at is None:
                self.attached_at = now
            self.released_at = None
        elif self.released_at is None:
            self.released_at = now
        return st


def watch_until_exit(hs, target, start, sigint_at=None):
    w = Watch(target.pid, hs.pid)
    sent = None
    while hs.poll() is None:
        w.look()
        if sigint_at is not None and sent is None and time.monotonic() - start >= sigint_at:
            hs.send_signal(signal.SIGINT)
            sent = time.monotonic()
        time.sleep(0.01)
    # Once more after the exit: the last look in the loop may have come
    # just before hotspy let go (under load a look of /proc takes a while).
    w.look()
    return w, sent


def case_duration():
    target = start_crowd(["--late", "8", "4", "8"])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.folded")
            start = time.monotonic()
            hs = start_hotspy(["-d", "2", "-p", str(target.pid)], out)
            w, _ = watch_until_exit(hs, target, start)
            err = skip_if_refused(hs)
            if hs.returncode != 0:
                fail("hotspy exited %d" % hs.returncode)
            if w.longest[0] >= HELD_MAX:
                fail("thread %s was held stopped for %.2f s" % (w.longest[1], w.longest[0]))
            if w.released_at is None or w.attached_at is None:
                fail("threads still traced when hotspy exited, or never seen traced")
            # From the attach (-d counts from there: a slow start, as
            # under ASan, is not the sampler's).
            took = w.released_at - w.attached_at
            print("let go of every thread %.2f s after the attach; longest hold seen %.3f s"
                  % (took, w.longest[0]))
            if took > 2 + 1.5:
                fail("-d 2 let go of the threads only %.2f s after the attach" % took)
            # The late threads (nice 19 beside 4 busy ones) stop only when
            # they get a CPU. Either the ticks kept their rate, a late
            # thread read the moment it stops and the others sampled
            # meanwhile (then nothing was lost, and the summary says
            # nothing), or sampling fell behind and the summary says so.
            m = re.search(r"(\d+) samples in", err)
            samples = int(m.group(1)) if m else 0
            if "fell behind" not in err and samples < 100:
                fail("%d samples in a 2 s recording at 100 Hz of 4 busy threads, and the "
                     "summary does not say that sampling fell behind" % samples)
            if not os.path.exists(out):
                fail("no profile written")
    finally:
        target.kill()
        target.wait()
    print("PASS")


def case_sigint():
    target = start_crowd(["--late", "8", "4", "10"])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.folded")
            start = time.monotonic()
            hs = start_hotspy(["-p", str(target.pid)], out)
            w, sent = watch_until_exit(hs, target, start, sigint_at=1.0)
            skip_if_refused(hs)
            if sent is None:
                fail("hotspy ended before the SIGINT")
            if hs.returncode != 0:
                fail("hotspy exited %d after SIGINT" % hs.returncode)
            if w.released_at is None:
                fail("threads still traced when hotspy exited")
            took = w.released_at - sent
            print("let go of every thread %.2f s after SIGINT" % took)
            if took > 1.5:
                fail("SIGINT took %.2f s to let go of the threads" % took)
            if w.longest[0] >= HELD_MAX:
                fail("thread %s was held stopped for %.2f s" % (w.longest[1], w.longest[0]))
            if not os.path.exists(out):
                fail("no profile written after SIGINT")
    finally:
        target.kill()
        target.wait()
    print("PASS")


def children(pid):
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids += [int(k) for k in f.read().split()]
    except OSError:
        pass
    return kids


def case_vfork():
    rate, secs = 100, 2
    target = start_crowd(["--sleepers", "2", "--vfork", "0", "5"])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.folded")
            js = os.path.join(tmp, "summary.json")
            hs = start_hotspy(["--idle", "-r", str(rate), "-d", str(secs), "--summary-json", js,
                               "-p", str(target.pid)], out)
            skip_if_refused(hs)
            if hs.returncode != 0:
                fail("hotspy exited %d" % hs.returncode)
            with open(js) as f:
                summary = json.load(f)
            # main and the two sleepers at every tick; the vforker never.
            due = 3 * rate * summary["duration_s"]
            print("%d samples, %.0f due from the threads that can stop"
                  % (summary["samples"], due))
            if summary["samples"] < 0.5 * due:
                fail("a thread stuck in vfork starved the others: %d samples of %.0f due"
                     % (summary["samples"], due))
    finally:
        # The vfork child sleeps on; it is the target's child.
        for kid in children(target.pid):
            try:
                os.kill(kid, signal.SIGKILL)
            except OSError:
                pass
        target.kill()
        target.wait()
    print("PASS")


def case_tstp():
    target = start_crowd(["2", "20"])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.folded")
            # -d 8: long enough for three Ctrl-Z trials after a slow attach.
            hs = start_hotspy(["-r", "4000", "-d", "8", "-p", str(target.pid)], out,
                              own_group=True)
            # Sampling, not still attaching (slow on a loaded machine): the
            # target is traced by hotspy.
            deadline = time.monotonic() + 10
            while (thread_status(target.pid).get(target.pid, (None, None))[1] != hs.pid
                   and time.monotonic() < deadline):
                time.sleep(0.01)
            time.sleep(0.2)
            for trial in range(3):
                if hs.poll() is not None:
                    break
                hs.send_signal(signal.SIGTSTP)
                deadline = time.monotonic() + 5
                while proc_state(hs.pid) != "T" and time.monotonic() < deadline:
                    time.sleep(0.005)
                if proc_state(hs.pid) != "T":
                    fail("hotspy did not stop on SIGTSTP (state %s)" % proc_state(hs.pid))
                for _ in range(10):
                    for tid, (state, tracer) in thread_status(target.pid).items():
                        if state in ("t", "T"):
                            hs.send_signal(signal.SIGCONT)
                            fail("trial %d: thread %d held (%s) while hotspy is stopped"
                                 % (trial, tid, state))
                    time.sleep(0.02)
                hs.send_signal(signal.SIGCONT)
                time.sleep(0.3)
            err = skip_if_refused(hs)
            if hs.returncode != 0:
                fail("hotspy exited %d after SIGTSTP and SIGCONT" % hs.returncode)
            if "samples" not in err or not os.path.exists(out):
                fail("no summary or no profile after SIGTSTP and SIGCONT")
    finally:
        target.kill()
        target.wait()
    print("PASS")


def watch_nice(hs, target):
    """Watches hotspy until it exits: its nice values seen, and the Watch."""
    w, seen = Watch(target.pid, hs.pid), set()
    while hs.poll() is None:
        w.look()
        n = nice_of(hs.pid)
        if n is not None:
            seen.add(n)
        time.sleep(0.01)
    return w, seen


def case_priority():
    own = os.nice(0)
    if own != 0 or os.geteuid() != 0:
        print("SKIP: the default priority is raised only from nice 0, by root "
              "(here: nice %d, uid %d)" % (own, os.geteuid()))
        sys.exit(SKIP)
    # 60 busy threads a CPU, at hotspy's nice value. This script watches
    # at nice -15, so that they do not starve it; hotspy starts at 0.
    target = start_crowd([str(60 * (os.cpu_count() or 1)), "40"])
    os.nice(-15)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.folded")
            start = time.monotonic()
            hs = start_hotspy(["-d", "1", "--threads", "-p", str(target.pid)], out,
                              nice=15)
            w, seen = watch_nice(hs, target)
            end = time.monotonic()
            skip_if_refused(hs)
            if hs.returncode != 0:
                fail("hotspy exited %d" % hs.returncode)
            if w.attached_at is None:
                fail("the target was never seen traced")
            # Let go at the last look that saw none traced, or at the exit
            # when hotspy exited between two looks.
            released = (w.released_at or end) - w.attached_at
            print("nice values seen: %s; attach %.2f s after the start; let go %.2f s and "
                  "ended %.2f s after the attach; longest hold seen %.3f s" %
                  (sorted(seen), w.attached_at - start, released, end - w.attached_at,
                   w.longest[0]))
            if -10 not in seen:
                fail("hotspy never sampled at nice -10 (seen %s)" % sorted(seen))
            if released > 1 + 2:
                fail("-d 1 let go of the threads %.2f s after the attach" % released)
            if end - w.attached_at > 1 + 5:
                fail("-d 1 ended %.2f s after the attach" % (end - w.attached_at))
            if w.longest[0] >= HELD_MAX:
                fail("thread %s was held stopped for %.2f s" % (w.longest[1], w.longest[0]))

    finally:
        target.kill()
        target.wait()

    # A niced hotspy stays niced; --nice N is taken as given (once the
    # target is attached). A quiet target (sleepers): a niced hotspy beside
    # 120 busy threads would take long.
    target = start_crowd(["--sleepers", "2", "0", "20"])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.folded")
            # A started program runs at the caller's nice value.
            niced = os.path.join(tmp, "nice")
            hs = start_hotspy(["--", "sh", "-c",
                               "cut -d' ' -f19 /proc/self/stat > '%s'; sleep 0.3" % niced],
                              out, nice=15)
            skip_if_refused(hs)
            with open(niced) as f:
                child = int(f.read())
            print("a started program's nice value: %d" % child)
            if child != own:
                fail("the program hotspy started runs at nice %d, not the caller's %d"
                     % (child, own))

        for args, pre, want in ((["-p"], lambda: os.nice(18), {3}),
                                (["--nice", "5", "-p"], lambda: os.nice(15), {0, 5})):
            with tempfile.TemporaryDirectory() as tmp:
                cmd = [ARGS.hotspy, "record", "-d", "0.5", "-o",
                       os.path.join(tmp, "out.folded")] + args + [str(target.pid)]
                hs = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, preexec_fn=pre)
                w, seen = watch_nice(hs, target)
                _, err = hs.communicate()
            print("$ %s: nice values seen %s" % (" ".join(cmd), sorted(seen)))
            if hs.returncode != 0 or seen - want or max(want) not in seen:
                fail("expected nice values %s, saw %s (exit %d: %s)"
                     % (sorted(want), sorted(seen), hs.returncode, err.strip()))
        r = subprocess.run([ARGS.hotspy, "record", "--nice", "30", "-p", str(target.pid)],
                           capture_output=True, text=True)
        if r.returncode != 2 or "nice" not in r.stderr:
            fail("--nice 30: exit %d, %r" % (r.returncode, r.stderr))
    finally:
        target.kill()
        target.wait()
    print("PASS")


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--hotspy", required=True)
    p.add_argument("--crowd", required=True)
    p.add_argument("case", choices=["duration", "sigint", "vfork", "tstp", "priority"])
    ARGS = p.parse_args()
    {"duration": case_duration, "sigint": case_sigint, "vfork": case_vfork,
     "tstp": case_tstp, "priority": case_priority}[ARGS.case]()


ARGS = None
if __name__ == "__main__":
    main()
