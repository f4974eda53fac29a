#!/usr/bin/env python3
"""Integration tests: run hotspy against the fixtures and check what it says.

    hotspy_test.py --hotspy BIN --fixtures DIR --expect-dir DIR CASE [ARGS]

Cases:
  profile NAME launch|attach [--threads] [--expect E] [-- HOTSPY-ARGS]
      record fixture NAME (started under hotspy, or attached by PID) and check
      the folded output against fixtures/NAME.expect (or E.expect) with
      check_profile.py;
      an attached fixture must also finish its run and exit 0 (unharmed).
  signal INT|TERM|KILL [SAMPLER]
      interrupt hotspy mid-recording; the target must keep running (state not
      t/T) and, for INT and TERM, a complete profile must have been written.
  errors
      wrong PID, unwritable output, bad arguments, a command that cannot run.
  permission
      an unprivileged user attaching to root's process gets the remedy.
  perf [NAME [SAMPLER]]
      hotspy and perf, attached to the same run, agree on leaf shares (3 points).
  progress
      a progress line on a terminal (through script(1)), none on a pipe.
  shortthreads
      the perf sampler cannot see threads that live less than one period
      (churn at 100 Hz); hotspy says how much CPU that is, measured by the
      kernel, and the figure agrees with the fixture's own CPU time.
  sampler NOPERF
      --sampler auto takes perf where the kernel allows it, falls back to
      ptrace with the reason where perf_event_open is refused (NOPERF runs a
      command under a seccomp filter that refuses it), and takes ptrace for
      --idle; the summary names the sampler and the time model.
  smoke record FORMAT SAMPLER launch|attach
      one short recording of hotspots to FORMAT (folded, flamegraph,
      speedscope): hotspy exits 0 with its summary, the file parses in its
      format and names hot_a and hot_b, an attached fixture runs on and exits
      0. No shares are checked: this is the run of record in the ASan tier,
      where hotspy's own slowness makes shares meaningless.
  smoke top
      hotspy top --batch -n 2 on hotspots: exits 0, two tables naming hot_a,
      the fixture runs on, untraced.
  pyprofile FIXTURE NAME launch|attach [--threads] [--expect E] [-- HOTSPY-ARGS]
      fixtures/python/FIXTURE.py under the interpreter NAME (system, 2.7,
      3.6 ... 3.13: tests/python/interpreters.py; a missing one, or a
      version the fixture cannot run on, is a skip); pyembed is the C
      program embedding libpython (NAME unused). Launched:
      `hotspy record -- PYTHON FIXTURE.py SECONDS`; attached: started with
      --ready, attached once it says so, must finish and exit 0. The folded
      output must meet fixtures/python/FIXTURE.expect (version guards,
      --lines when given to hotspy) and >= 99 % of the samples with Python
      frames must reach <module> (or a thread's _bootstrap). Worker
      processes (pyworkers, hotspy's -s): --fixture-arg MODE, --processes
      N:FUNC (N root frames NAME (PID) run FUNC), --steady FUNC and
      --startup-max PERCENT (what a launch leaves out).
  exec SAMPLER launch|attach
      execer burns in before_exec, then execs itself as execed, which burns
      in after_exec: the samples of each half are named with that half's
      program (before_exec under the root execer, after_exec under execed),
      both roots are there, and hardly any sample is [unknown].
  pysignal NAME
      hotspy recording pysplit under NAME is killed with SIGKILL: the target
      runs on, untraced, and exits 0.
  pydump NAME
      hotspy dump (text, --json) of pythreads under NAME: every Python
      thread once, by the name Python knows, with its Python frames.
  pyworkersdump [--run MODE:NAME]... [NAME...]
      hotspy dump -s of pyworkers (fork pool) under each interpreter NAME
      present, and MODE (spawn, executor, prefork) under NAME: each worker
      under its own pid with its Python frames, /bin/sleep natively, all
      left running; text and `top --batch -s` under the first.
  bpf
      --sampler bpf on hotspots, launched and attached: no thread of the
      target is ever traced (TracerPid 0, looked at every 20 ms while it
      is recorded), its stacks unwind whole down to _start, an attached
      fixture runs on; without CAP_BPF and CAP_PERFMON (setpriv) hotspy
      says so and what to do. A skip where the BPF sampler is refused
      or not built, with hotspy's reason.

  allcpus
      the whole machine: --comm (a substring and a glob) narrows -a to
      the processes it names, one of them started during the recording;
      -p A,B lists two; each process is a root `NAME (PID)` with its own
      frames; --sampler bpf takes the same per-CPU events (skipped where
      refused); an unprivileged user is refused with the remedy where
      kernel.perf_event_paranoid > 0.
  allcpus_shares
      `record -a -r 500` of hotspots and sharedlib started in parallel:
      each process's samples meet its .expect, the two processes' samples
      are in the ratio of their CPU times (within 35 %), hotspy has none.

Exit status: 0 pass, 1 fail, 77 skip (CTest SKIP_RETURN_CODE).
"""
import argparse
import json
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

from procinfo import proc_state, thread_status

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKER = os.path.join(HERE, "check_profile.py")
SKIP = 77


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def wait_for_threads(pid, count, timeout=5.0):
    """Wait until a started fixture has created its threads."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if len(os.listdir("/proc/%d/task" % pid)) >= count:
                return
        except OSError:
            return
        time.sleep(0.05)


def check_profile(name, folded, threads):
    cmd = [sys.executable, CHECKER, os.path.join(ARGS.expect_dir, name + ".expect"), folded]
    if threads:
        cmd.append("--threads")
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(r.stdout, end="")
    return r.returncode == 0


# A Python frame as hotspy writes it: `name (file.py)`, `name (file.py:12)`,
# `name (<string>)`.
PY_FRAME_TEXT = re.compile(r" \((.*\.pyw?|<[^>]*>)(:\d+)?\)$")


def check_no_guesses(folded, marker_pos):
    """A walk that went wrong reads stale stack slots as return addresses:
    unmapped addresses (non-marker "[unknown]" frames) inside a stack, or the
    program's code above libc's start-up frames. A walk that cannot go on
    must end in a marker instead."""
    with open(folded) as f:
        for line in f:
            frames = line.rpartition(" ")[0].split(";")
            # While the dynamic loader places libraries at start-up, a
            # sample can hold addresses of mappings that are gone by the
            # time names are resolved: real frames, named [unknown].
            loading = any(fr.startswith(("ld-linux", "_dl_")) for fr in frames)
            # A stack of nothing but markers attributes nothing to any
            # function: the known case is a sample of a child taken just
            # before its exec and named with the maps after it (its pc is
            # in no mapping, and the stack copied for it may be short:
            # `[truncated];[unknown]`); no walk guessed a frame there.
            if all(fr in ("[unknown]", "[truncated]") for fr in frames[marker_pos:]):
                continue
            for i, fr in enumerate(frames):
                # Under a Python frame, [unknown] is where the native walk
                # stopped before the eval loops of the Python frames
                # rootward of it (tracer/pymerge.h): those frames are the
                # interpreter's, read from its own structures, not guessed.
                if (fr == "[unknown]" and i != marker_pos and not loading
                        and not PY_FRAME_TEXT.search(frames[i - 1])):
                    fail("guessed frames in a stack: " + line[:300])
            # The start-up frames below main (_start, __libc_start_main,
            # libc's unnamed __libc_start_call_main) are entered once; seen
            # again above main, they were read from stale stack slots. Other
            # libc frames above main are calls main makes (pthread_join).
            names = frames[marker_pos:]
            if "main" in names:
                top = names.index("main")
                startup = set(names[:top])
                if any(fr in startup for fr in names[top + 1:]):
                    fail("program code above libc's start-up: " + line[:300])


def bpf_refusal(r):
    """hotspy's reason for not sampling with BPF (built without it, or the
    kernel refused the program), or None."""
    for line in r.stderr.splitlines():
        if "BPF sampler was not built" in line or "cannot load the BPF sampler" in line:
            return line
    return None


def skip_if_bpf_refused(r):
    """A skip, with hotspy's reason, when --sampler bpf cannot run here."""
    why = bpf_refusal(r)
    if r.returncode != 0 and why:
        print("SKIP: " + why)
        sys.exit(SKIP)


def run_hotspy(args, timeout=60, env=None):
    print("$ hotspy " + " ".join(args))
    r = subprocess.run([ARGS.hotspy] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout, env=env)
    sys.stdout.write(r.stderr)
    return r

# The rate of the profile and pyprofile cases (see case_profile).
PROFILE_RATE = 450


def case_profile(rest):
    p = argparse.ArgumentParser(prog="profile")
    p.add_argument("name")
    p.add_argument("mode", choices=["launch", "attach"])
    p.add_argument("--threads", action="store_true")
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--expect", help="expectation file name (default: NAME)")
    p.add_argument("--env", action="append", default=[],
                   help="KEY=VALUE in the fixture's environment")
    p.add_argument("--max-unsampled", type=float, default=None,
                   help="at most this percentage of the threads that exited was "
                        "never sampled (from --stats; perf sampler)")
    p.add_argument("--min-processes", type=int, default=0,
                   help="at least this many process roots `NAME (PID)` with samples")
    p.add_argument("--min-threads", type=int, default=0,
                   help="at least this many distinct threads in the profile (--threads)")
    p.add_argument("--summary-says", action="append", default=[],
                   help="text hotspy's summary (stderr) must contain")
    # Arguments after "--" go to hotspy as they are.
    extra = rest[rest.index("--") + 1:] if "--" in rest else []
    a = p.parse_args(rest[:rest.index("--")] if "--" in rest else rest)
    a.extra = extra
    fixture = os.path.join(ARGS.fixtures, a.name)
    env = dict(os.environ)
    env.update(kv.split("=", 1) for kv in a.env)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.folded")
        # 450 Hz for 2 s: ~900 samples, so the expectations' tolerances
        # (about 3 sigma at 300 samples) stand near 5 sigma and a run on a
        # noisy machine does not fail by chance. (The suite's time goes
        # mostly to these runs: more samples a second, fewer seconds.)
        rate = [] if "-r" in a.extra else ["-r", str(PROFILE_RATE)]
        common = ["record", "-o", out] + rate + (["--threads"] if a.threads else []) + a.extra
        if a.mode == "launch":
            r = run_hotspy(common + ["--", fixture, str(a.seconds)], env=env)
            skip_if_bpf_refused(r)
            if r.returncode != 0:
                fail("hotspy exited %d" % r.returncode)
        else:
            # The fixture outlives the recording by about a second (0.5 s
            # before the attach, the rest after the detach), so that the
            # detach itself is tested and the target is seen running on.
            target = subprocess.Popen([fixture, str(a.seconds + 1.5)], env=env)
            try:
                time.sleep(0.5)
                wait_for_threads(target.pid, 1)
                r = run_hotspy(common + ["-p", str(target.pid), "-d", str(a.seconds)])
                skip_if_bpf_refused(r)
                if r.returncode != 0:
                    fail("hotspy exited %d" % r.returncode)
                if "duration reached" not in r.stderr:
                    fail("hotspy did not end on its -d duration; the fixture may have "
                         "exited first")
                state = proc_state(target.pid)
                if state in ("t", "T"):
                    fail("target left stopped (state %s) after hotspy detached" % state)
                code = target.wait(timeout=30)
                if code != 0:
                    fail("attached fixture exited %d instead of 0" % code)
            finally:
                if target.poll() is None:
                    target.kill()
                    target.wait()
                # A JIT fixture leaves its perf map behind, as JITs do.
                try:
                    os.unlink("/tmp/perf-%d.map" % target.pid)
                except FileNotFoundError:
                    pass
        if "samples in" not in r.stderr:
            fail("no summary line on stderr")
        for text in a.summary_says:
            if text not in r.stderr:
                fail("the summary does not say %r" % text)
        expect = a.expect or a.name
        if not check_profile(expect, out, a.threads):
            fail("profile of %s (%s) does not meet %s.expect" % (a.name, a.mode, expect))
        check_no_guesses(out, 2 if a.threads else 1)
        if a.max_unsampled is not None:
            m = re.search(r"stats: (\d+) threads exited, (\d+) never sampled", r.stderr)
            if not m:
                fail("no count of exited threads in the --stats output")
            exited, never = int(m.group(1)), int(m.group(2))
            if exited < 50 or never > a.max_unsampled / 100.0 * exited:
                fail("%d of %d exited threads never sampled (at most %g %% expected)"
                     % (never, exited, a.max_unsampled))
        if a.min_processes:
            roots = set()
            with open(out) as f:
                for line in f:
                    roots.add(line.split(";", 1)[0])
            print("process roots: %s" % ", ".join(sorted(roots)))
            if not all(r.endswith(")") for r in roots):
                fail("a process root is not `NAME (PID)`")
            if len(roots) < a.min_processes:
                fail("only %d processes sampled, expected at least %d"
                     % (len(roots), a.min_processes))
        if a.min_threads:
            tids = set()
            with open(out) as f:
                for line in f:
                    frames = line.split(";")
                    if len(frames) > 1 and frames[1].endswith(")"):
                        tids.add(frames[1].rsplit("(", 1)[-1])
            print("distinct threads sampled: %d" % len(tids))
            if len(tids) < a.min_threads:
                fail("only %d distinct threads sampled, expected at least %d"
                     % (len(tids), a.min_threads))
    print("PASS")


def case_signal(rest):
    signame = rest[0]
    sampler = rest[1] if len(rest) > 1 else "auto"
    signo = getattr(signal, "SIG" + signame)
    fixture = os.path.join(ARGS.fixtures, "hotspots")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.folded")
        target = subprocess.Popen([fixture, "30"])
        try:
            time.sleep(0.3)
            hs = subprocess.Popen([ARGS.hotspy, "record", "-r", "997", "-o", out,
                                   "--sampler", sampler, "-p", str(target.pid)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(1.5)
            if hs.poll() is not None:
                fail("hotspy ended early: %s" % hs.stderr.read())
            hs.send_signal(signo)
            _, err = hs.communicate(timeout=20)
            sys.stdout.write(err)
            # The kernel may take a moment to release a SIGKILLed tracer's
            # tracees; sample the state over a short while.
            time.sleep(0.2)
            for _ in range(10):
                state = proc_state(target.pid)
                if state is None:
                    fail("target died after hotspy got SIG%s" % signame)
                if state in ("t", "T"):
                    fail("target left stopped (state %s) after hotspy got SIG%s"
                         % (state, signame))
                time.sleep(0.05)
            with open("/proc/%d/status" % target.pid) as f:
                if "\nTracerPid:\t0\n" not in f.read():
                    fail("target still traced after hotspy ended")
            if signame == "KILL":
                if hs.returncode != -signal.SIGKILL:
                    fail("hotspy was not killed? status %s" % hs.returncode)
            else:
                if hs.returncode != 0:
                    fail("hotspy exited %d after SIG%s" % (hs.returncode, signame))
                if not os.path.exists(out):
                    fail("no output written after SIG%s" % signame)
                if not check_profile("hotspots", out, False):
                    fail("output after SIG%s is not a complete profile" % signame)
            leftovers = [f for f in os.listdir(tmp) if f != "out.folded"]
            if signame != "KILL" and leftovers:
                fail("temporary files left behind: %s" % leftovers)
        finally:
            target.kill()
            target.wait()
    print("PASS")


def case_follow(rest):
    """The ptrace sampler follows threads born after the attach by clone
    events, reads no task list per tick, and lets every thread go at the
    end even while threads are being created."""
    fixture = os.path.join(ARGS.fixtures, rest[0] if rest else "churn")
    target = subprocess.Popen([fixture, "4"])
    try:
        time.sleep(0.3)
        r = run_hotspy(["record", "-o", "-", "-f", "folded", "--threads", "--stats",
                        "--sampler", "ptrace", "-p", str(target.pid), "-d", "2"])
        if r.returncode != 0:
            if "operation not permitted" in r.stderr:
                print("SKIP: ptrace not permitted here")
                sys.exit(SKIP)
            fail("hotspy exited %d" % r.returncode)
        # Threads are released: none stopped, none still traced.
        time.sleep(0.2)
        try:
            tids = os.listdir("/proc/%d/task" % target.pid)
        except OSError:
            fail("the target is gone: it should outlive the recording")
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/status" % (target.pid, tid)) as f:
                    status = f.read()
            except OSError:
                continue   # it exited meanwhile
            state = re.search(r"\nState:\t(\S)", status).group(1)
            if state in ("t", "T"):
                fail("thread %s left stopped (state %s) after the detach" % (tid, state))
            if "\nTracerPid:\t0\n" not in status:
                fail("thread %s still traced after the detach" % tid)
        m = re.search(r"ticks (\d+) .*thread list scans (\d+)", r.stderr)
        if not m:
            fail("no tick and thread list scan counts in the --stats output")
        ticks, scans = int(m.group(1)), int(m.group(2))
        # The waits a person sees: to the first sample (within the 2 s of
        # sampling, since samples were taken) and to the written profile.
        m = re.search(r"stats: first sample ([\d.]+) ms after the attach began; "
                      r"profile written ([\d.]+) ms after sampling ended", r.stderr)
        if not m:
            fail("no attach and write latencies in the --stats output")
        if not 0 < float(m.group(1)) < 2000 + ticks:
            fail("first sample %s ms after the attach in a 2 s recording" % m.group(1))
        # The scans of the attach only (until no new thread shows up): a
        # handful, not one per tick.
        if ticks < 50 or scans > 10:
            fail("%d thread list scans in %d ticks: threads must be followed by "
                 "clone events, not by reading /proc at each tick" % (scans, ticks))
        tids = set()
        for line in r.stdout.splitlines():
            frames = line.split(";")
            if len(frames) > 1 and frames[1].endswith(")"):
                tids.add(frames[1].rsplit("(", 1)[-1])
        print("distinct threads sampled: %d, %d scans in %d ticks"
              % (len(tids), scans, ticks))
        # churn makes a thread every ~10 ms, each lives ~7 ms: every one
        # after the first few was born after the attach.
        if len(tids) < 20:
            fail("only %d distinct threads sampled: threads born after the attach "
                 "were not followed" % len(tids))
        code = target.wait(timeout=30)
        if code != 0:
            fail("the fixture exited %d instead of 0 after the detach" % code)
    finally:
        if target.poll() is None:
            target.kill()
            target.wait()
    print("PASS")


def expect_error(args, code, words, **kw):
    r = run_hotspy(args, **kw)
    if r.returncode != code:
        fail("hotspy %s: exit %d, expected %d" % (" ".join(args), r.returncode, code))
    for w in words:
        if w not in r.stderr:
            fail("hotspy %s: message lacks %r" % (" ".join(args), w))
    return r


def case_errors(rest):
    del rest
    fixture = os.path.join(ARGS.fixtures, "hotspots")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "x.folded")
        # A PID that cannot exist (above pid_max).
        expect_error(["record", "-o", out, "-p", "2147483646"], 1, ["no such process"])
        if os.path.exists(out):
            fail("output written for a failed recording")
        expect_error(["record", "-p", "abc"], 2, ["invalid PID"])
        expect_error(["record", "-r", "0", "-p", "1"], 2, ["invalid rate"])
        expect_error(["record", "-o", out], 2, ["nothing to profile"])
        expect_error(["record", "--bogus", "-p", "1"], 2, ["unknown option"])
        expect_error(["record", "-o", out, "--", os.path.join(tmp, "no-such-program")], 1,
                     ["cannot run", "No such file"])

        target = subprocess.Popen([fixture, "20"])
        try:
            time.sleep(0.2)
            # Unwritable output: reported before attaching, target untouched.
            t0 = time.time()
            expect_error(["record", "-o", "/proc/version/x.folded", "-p", str(target.pid)], 1,
                         ["cannot write", "-o"])
            if time.time() - t0 > 5:
                fail("unwritable output took too long to be reported")
            # --gil (py-spy's -g; perf's -g asks for call stacks) on a
            # program that runs no Python: refused before attaching.
            expect_error(["record", "-g", "-o", out, "-p", str(target.pid)], 1,
                         ["runs no Python", "always recorded"])
            state = proc_state(target.pid)
            if state is None or state in ("t", "T"):
                fail("target harmed by failed attempts (state %s)" % state)
        finally:
            target.kill()
            target.wait()
    print("PASS")


def case_usage(rest):
    """A command line that does not parse says what is wrong with the word
    typed and what was meant: the right short option of "-xyz", "takes no
    value", a did-you-mean for typos, perf's and py-spy's spellings, every
    format record takes, and a command before the options."""
    del rest
    cases = [
        (["record", "-p", "1", "-d", "1", "-xyz"], ["unknown option '-x'"]),
        (["record", "--threads=yes", "-p", "1"], ["'--threads' takes no value"]),
        (["top", "--dealy", "2", "-p", "1"], ["did you mean '--delay'?"]),
        (["dump", "-p", "1", "--jsno"], ["did you mean '--json'?"]),
        (["flamegraph", "--titel", "x"], ["did you mean '--title'?"]),
        (["record", "-F", "99", "-p", "1"], ["-r HZ", "perf's -F"]),
        (["dump", "-a", "-p", "1"], ["hotspy record -a", "one process"]),
        # The whole machine is sampled by per-CPU perf events: ptrace (and
        # what only ptrace does) is refused, as are a command and one thread.
        (["record", "-a", "--sampler", "ptrace"], ["--sampler ptrace cannot sample the "
                                                   "whole machine", "perf, bpf or auto"]),
        (["top", "--comm", "x", "--idle"], ["--idle needs the ptrace sampler"]),
        (["record", "-p", "1,2", "--", "true"], ["give no command", "-d SECONDS"]),
        (["record", "-a", "-t", "1"], ["one thread of one process"]),
        (["record", "-p", "1,,2"], ["invalid PID list"]),
        (["dump", "-p", "1,2"], ["one PID"]),
        (["record", "-f", "zzz", "-p", "1"], ["flamegraph", "svg", "speedscope", "folded"]),
        (["-p", "42"], ["hotspy record -p", "hotspy top -p"]),
        (["recrod", "-p", "1"], ["did you mean 'record'?"]),
        (["record", "-p"], ["'-p' needs a value"]),
    ]
    for args, words in cases:
        r = expect_error(args, 2, words)
        if "unknown option '1'" in r.stderr or "unknown option 'yes'" in r.stderr:
            fail("hotspy %s: names a value as the option" % " ".join(args))
    # py-spy's raw format is folded stacks: accepted as such.
    fixture = os.path.join(ARGS.fixtures, "hotspots")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "x.txt")
        r = run_hotspy(["record", "-q", "-f", "raw", "-o", out, "--", fixture, "0.3"])
        with open(out) if os.path.exists(out) else open(os.devnull) as f:
            lines = f.read().splitlines()
        if r.returncode != 0 or not lines or not all(re.match(r".+ \d+$", x) for x in lines):
            fail("-f raw did not write folded stacks (exit %d)" % r.returncode)
    print("PASS")


def case_tid(rest):
    """-p of a thread that is not its process's main one profiles the process
    and says so; -t TID profiles that thread alone; dump -p TID dumps the
    process."""
    del rest
    target = subprocess.Popen([os.path.join(ARGS.fixtures, "threads"), "20"])
    try:
        deadline = time.time() + 5
        tids = []
        while time.time() < deadline and len(tids) < 4:
            time.sleep(0.1)
            tids = sorted(int(t) for t in os.listdir("/proc/%d/task" % target.pid))
        if len(tids) < 4:
            fail("the threads fixture did not start its workers")
        worker = tids[1]
        for t in tids:
            try:
                with open("/proc/%d/task/%d/comm" % (target.pid, t)) as f:
                    if f.read().strip() == "worker-a":    # busy: it has samples
                        worker = t
            except OSError:
                pass
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "p.folded")
            r = run_hotspy(["record", "-d", "1.5", "-r", "200", "--threads", "-o", out, "-p",
                            str(worker)])
            if r.returncode != 0:
                fail("record -p TID exited %d" % r.returncode)
            if "is a thread of process %d" % target.pid not in r.stderr:
                fail("record -p TID does not say whose thread it is: %s" % r.stderr)
            seen = thread_tids(out)
            if len(seen) < 2 or target.pid in seen and len(seen) < 3:
                fail("record -p TID did not profile the whole process: threads %s" % seen)
            out = os.path.join(tmp, "t.folded")
            r = run_hotspy(["record", "-d", "1.5", "-r", "200", "--threads", "-o", out, "-t",
                            str(worker)])
            seen = thread_tids(out)
            if r.returncode != 0 or seen != {worker}:
                fail("record -t %d: exit %d, threads %s" % (worker, r.returncode, seen))
        r = run_hotspy(["dump", "-p", str(worker)])
        if r.returncode != 0 or "Process %d" % target.pid not in r.stdout:
            fail("dump -p TID does not dump the process: %s" % r.stdout[:200])
        expect_error(["record", "-t", "2147483646"], 1, ["no thread 2147483646"])
        expect_error(["record", "-t", str(worker), "--", "true"], 2, ["not both"])
    finally:
        target.kill()
        target.wait()
    print("PASS")


def thread_tids(folded):
    """The TIDs of the "NAME (TID)" level of a --threads folded file."""
    tids = set()
    with open(folded) as f:
        for line in f:
            m = re.match(r"[^;]*;[^;]* \((\d+)\);", line)
            if m:
                tids.add(int(m.group(1)))
    return tids


def case_fds(rest):
    """A program started under hotspy gets exactly the descriptors it would
    get without it: none of hotspy's own (its output's temporary file was
    inherited as fd 3, so the program could write into its own profile)."""
    del rest
    listing = "ls /proc/$$/fd | sort -n | tr '\\n' ' '"
    base = subprocess.run(["sh", "-c", listing], capture_output=True, text=True,
                          close_fds=True).stdout.split()
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("folded", "svg", "pprof"):
            out = os.path.join(tmp, "x." + fmt)
            summary = os.path.join(tmp, "s.json")
            r = run_hotspy(["record", "-q", "-f", fmt, "-o", out, "--summary-json", summary,
                            "--", "sh", "-c", listing + "; echo 'injected;line 1' >&3"])
            under = r.stdout.split()
            if under != base:
                fail("-f %s: the program's descriptors %s, without hotspy %s" %
                     (fmt, under, base))
            with open(out, "rb") as f:
                if b"injected" in f.read():
                    fail("-f %s: the program wrote into its own profile" % fmt)
    print("PASS")


def case_escapes(rest):
    """Names from the target reach the terminal escaped: a program named
    with an OSC sequence (which would set the terminal's title) in the
    progress line and -v, thread names with the C1 CSI ("\\xc2\\x9b" and a
    lone 0x9b) in dump and top."""
    del rest
    script = shutil.which("script")
    with tempfile.TemporaryDirectory() as tmp:
        evil = os.path.join(tmp, "ev\x1b]0;pwn\x07il")
        shutil.copy(os.path.join(ARGS.fixtures, "hotspots"), evil)
        out = os.path.join(tmp, "x.folded")
        if script:
            cmd = "%s record -v -d 1 -o %s -- %s 3" % (
                ARGS.hotspy, out, shlex.quote(evil))
            r = subprocess.run([script, "-qec", cmd, os.path.join(tmp, "typescript")],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
            if b"recording ev" not in r.stdout:
                fail("no progress line to check: %r" % r.stdout[-300:])
            if b"\x1b]0;pwn" in r.stdout:
                fail("the program's name reached the terminal raw (progress or -v)")
        # A process whose threads name themselves with C1 controls.
        prog = ("import ctypes, threading, time\n"
                "libc = ctypes.CDLL(None)\n"
                "def named(n):\n"
                "    libc.prctl(15, n, 0, 0, 0)\n"
                "    time.sleep(30)\n"
                "threading.Thread(target=named, args=(b'a\\xc2\\x9bb',), daemon=True).start()\n"
                "threading.Thread(target=named, args=(b'c\\x9bd\\x1b[2J',), daemon=True).start()\n"
                "time.sleep(30)\n")
        target = subprocess.Popen([sys.executable, "-c", prog])
        try:
            time.sleep(1.0)
            r = subprocess.run([ARGS.hotspy, "dump", "-p", str(target.pid)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            shown = r.stdout + r.stderr
            if r.returncode != 0 or b"a?" not in shown:
                fail("dump did not show the named threads: %r" % shown[:300])
            for bad in (b"\xc2\x9b", b"\x9b", b"\x1b["):
                if bad in shown:
                    fail("dump let %r through" % bad)
            r = subprocess.run([ARGS.hotspy, "top", "--batch", "-n", "1", "--delay", "0.3",
                                "-p", str(target.pid)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            for bad in (b"\xc2\x9b", b"\x9b", b"\x1b["):
                if bad in r.stdout + r.stderr:
                    fail("top let %r through" % bad)
        finally:
            target.kill()
            target.wait()
    print("PASS")


def case_permission(rest):
    """An unprivileged user attaching to root's process is refused with a remedy."""
    del rest
    if os.geteuid() != 0 or not os.path.exists("/usr/bin/setpriv"):
        print("SKIP: needs root and setpriv to act as an unprivileged user")
        sys.exit(SKIP)
    fixture = os.path.join(ARGS.fixtures, "hotspots")
    # A copy the unprivileged user can execute, wherever the build lives.
    tmp = tempfile.mkdtemp()
    try:
        os.chmod(tmp, 0o755)
        binary = os.path.join(tmp, "hotspy")
        with open(ARGS.hotspy, "rb") as src, open(binary, "wb") as dst:
            dst.write(src.read())
        os.chmod(binary, 0o755)
        target = subprocess.Popen([fixture, "20"])
        try:
            time.sleep(0.2)
            yama = os.path.exists("/proc/sys/kernel/yama/ptrace_scope")
            # Another user's process: the cause is the owner, whatever the
            # sampler; perf_event_paranoid and (without Yama) ptrace_scope,
            # which changing would not help, are not named.
            for sampler in ("auto", "perf", "ptrace"):
                r = subprocess.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                    "--clear-groups", binary, "record", "-o", "-", "-p",
                                    str(target.pid), "--sampler", sampler],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   timeout=30)
                sys.stdout.write(r.stderr)
                if r.returncode != 1:
                    fail("unprivileged attach (%s): exit %d, expected 1" %
                         (sampler, r.returncode))
                for w in ("cannot attach", "belongs to root", "nobody", "run hotspy as root"):
                    if w not in r.stderr:
                        fail("unprivileged attach (%s): message lacks %r" % (sampler, w))
                wrong = ["perf_event_paranoid"] + ([] if yama else ["ptrace_scope"])
                for w in wrong:
                    if w in r.stderr:
                        fail("unprivileged attach (%s): blames %s, which would not help" %
                             (sampler, w))
            state = proc_state(target.pid)
            if state is None or state in ("t", "T"):
                fail("target harmed by the refused attach (state %s)" % state)
        finally:
            target.kill()
            target.wait()
    finally:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)
    print("PASS")


def leaf_shares(folded):
    """Share of samples per leaf function, in percent. The leaf is the
    innermost user frame: markers and kernel frames (perf's samples of
    interrupts taken while the function ran) are skipped."""
    counts, total = {}, 0.0
    with open(folded) as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            frames = [x for x in stack.split(";")[1:]
                      if x not in ("[truncated]", "[unknown]") and not x.endswith("_[k]")]
            if not frames:
                continue
            counts[frames[-1]] = counts.get(frames[-1], 0.0) + float(n)
            total += float(n)
    if not total:
        fail("no samples in " + folded)
    return {k: 100.0 * v / total for k, v in counts.items()}


def case_perf(rest):
    """hotspy and perf record --call-graph dwarf, attached to the same run of a
    fixture at once, agree on every leaf's share within 3 points."""
    name = rest[0] if rest else "hotspots"
    sampler = rest[1] if len(rest) > 1 else "auto"
    perf = shutil.which("perf")
    if not perf:
        print("SKIP: perf is not installed")
        sys.exit(SKIP)
    fixture = os.path.join(ARGS.fixtures, name)
    with tempfile.TemporaryDirectory() as tmp:
        data, pfold, hfold = (os.path.join(tmp, x) for x in ("perf.data", "p.folded", "h.folded"))
        target = subprocess.Popen([fixture, "12"])
        try:
            time.sleep(0.3)
            rate, secs = "997", "5"
            pr = subprocess.Popen([perf, "record", "-q", "-e", "task-clock", "-F", rate,
                                   "--call-graph", "dwarf", "-o", data, "-p", str(target.pid),
                                   "--", "sleep", secs],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            r = run_hotspy(["record", "-r", rate, "-d", secs, "-o", hfold, "--sampler", sampler,
                            "-p", str(target.pid)])
            _, perr = pr.communicate(timeout=60)
            if pr.returncode != 0:
                print(perr)
                print("SKIP: perf record cannot sample here")
                sys.exit(SKIP)
            skip_if_bpf_refused(r)
            if r.returncode != 0:
                fail("hotspy exited %d" % r.returncode)
        finally:
            target.kill()
            target.wait()
        with open(pfold, "w") as out:
            script = subprocess.Popen([perf, "script", "-i", data], stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL)
            conv = subprocess.run([sys.executable, os.path.join(HERE, "perf_to_folded.py")],
                                  stdin=script.stdout, stdout=out)
            script.wait()
            if conv.returncode != 0:
                fail("perf_to_folded.py failed")
        hs, ps = leaf_shares(hfold), leaf_shares(pfold)
        worst = 0.0
        for leaf in sorted(set(hs) | set(ps), key=lambda k: -max(hs.get(k, 0), ps.get(k, 0))):
            h, p = hs.get(leaf, 0.0), ps.get(leaf, 0.0)
            if max(h, p) < 1.0:
                continue
            print("%-40s hotspy %5.1f %%  perf %5.1f %%" % (leaf[:40], h, p))
            worst = max(worst, abs(h - p))
        if worst > 3.0:
            fail("hotspy and perf differ by %.1f points on a leaf" % worst)
    print("PASS (largest difference %.1f points)" % worst)


def kernel_share(folded):
    """Percent of the weight of @folded whose stack holds a kernel frame."""
    total = kern = 0.0
    with open(folded) as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            total += float(n)
            if any(x.endswith("_[k]") for x in stack.split(";")):
                kern += float(n)
    if not total:
        fail("no samples in " + folded)
    return 100.0 * kern / total


def case_kernel_perf(rest):
    """hotspy --kernel and perf record -g, attached to the same run of a
    fixture at once, find kernel frames in the same share of samples
    (within 10 points), and in a real part of them. Which samples carry
    kernel frames depends on where the machine delivers the sampling
    interrupt (a paravirtualised kernel delivers some at the return to user
    mode): perf's own share on the same run is the reference."""
    name = rest[0] if rest else "syscalls"
    perf = shutil.which("perf")
    if not perf:
        print("SKIP: perf is not installed")
        sys.exit(SKIP)
    fixture = os.path.join(ARGS.fixtures, name)
    with tempfile.TemporaryDirectory() as tmp:
        data, hfold = os.path.join(tmp, "perf.data"), os.path.join(tmp, "h.folded")
        target = subprocess.Popen([fixture, "8"])
        try:
            time.sleep(0.3)
            # ~3000 samples each: the two shares' noise is ~1.2 points.
            rate, secs = "1000", "3"
            # The same fixed period of task-clock as hotspy's (1 ms at
            # 1000 Hz), not perf's frequency mode, whose adaptive period
            # met the fixture's user/kernel alternation differently from
            # run to run (up to 10 points apart).
            period = str(10**9 // int(rate))
            pr = subprocess.Popen([perf, "record", "-q", "-e", "task-clock", "-c", period,
                                   "-g", "-o", data, "-p", str(target.pid), "--", "sleep", secs],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            r = run_hotspy(["record", "-r", rate, "-d", secs, "-o", hfold, "--kernel",
                            "-p", str(target.pid)])
            _, perr = pr.communicate(timeout=60)
            if pr.returncode != 0:
                print(perr)
                print("SKIP: perf record cannot sample here")
                sys.exit(SKIP)
            if r.returncode != 0:
                fail("hotspy exited %d" % r.returncode)
        finally:
            target.kill()
            target.wait()
        script = subprocess.run([perf, "script", "-i", data], capture_output=True, text=True)
        samples = [s for s in script.stdout.split("\n\n") if s.strip()]
        if len(samples) < 1000:
            fail("perf recorded only %d samples" % len(samples))
        p = 100.0 * sum("[kernel.kallsyms]" in s for s in samples) / len(samples)
        h = kernel_share(hfold)
        print("samples with kernel frames: hotspy %.1f %%, perf %.1f %% (%d samples)"
              % (h, p, len(samples)))
        if p < 10.0:
            print("SKIP: perf sees kernel frames in only %.1f %% of samples here" % p)
            sys.exit(SKIP)
        # Measured on this paravirtualised machine, the same fixed period
        # for both: 0.1-8.2 points apart over 15 runs (3000 samples each,
        # statistical noise ~1.2 points; the rest is where the machine
        # delivers each tool's interrupt). A kernel walk that went wrong
        # (no kernel frames, or kernel frames on user samples) is tens of
        # points off.
        if abs(h - p) > 10.0:
            fail("hotspy and perf differ by %.1f points on the kernel share" % abs(h - p))
    print("PASS")


def case_progress(rest):
    """On a terminal, a live progress line; the summary still ends the run."""
    del rest
    script = shutil.which("script")
    if not script:
        print("SKIP: no script(1) to give hotspy a terminal")
        sys.exit(SKIP)
    fixture = os.path.join(ARGS.fixtures, "hotspots")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.folded")
        cmd = "%s record -o %s -- %s 1.5" % (ARGS.hotspy, out, fixture)
        r = subprocess.run([script, "-qec", cmd, os.path.join(tmp, "typescript")],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        screen = r.stdout.decode(errors="replace")
        print(screen.replace("\r", "\n"))
        if r.returncode != 0:
            fail("hotspy on a terminal exited %d" % r.returncode)
        # Rewritten in place: carriage returns, no newlines between updates.
        if screen.count("\rhotspy: recording hotspots") < 2 or "Ctrl-C" not in screen:
            fail("no progress line on a terminal")
        if "samples in" not in screen:
            fail("no summary after the progress line")
        # With -d: the total and the time left; threads counted as the
        # summary counts them (those with samples; the fixture's main
        # thread only waits).
        cmd = "%s record -d 1.5 -o %s -- %s 5" % (ARGS.hotspy, out,
                                                 os.path.join(ARGS.fixtures, "threads"))
        r = subprocess.run([script, "-qec", cmd, os.path.join(tmp, "typescript")],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        screen = r.stdout.decode(errors="replace")
        lines = re.findall(r"recording threads \(pid \d+\): \d+ samples, (\d+) threads, "
                           r"[\d.]+ s of 1.5 s, ([\d.]+) s left", screen)
        summary = re.search(r"samples in [\d.]+ s from (\d+) threads", screen)
        print(screen.replace("\r", "\n")[-600:])
        if not lines:
            fail("the progress line shows neither -d's total nor the time left")
        elif not summary or lines[-1][0] != summary.group(1):
            fail("the progress line counts %s threads, the summary %s" %
                 (lines[-1][0], summary.group(1) if summary else "?"))
        elif not float(lines[0][1]) > float(lines[-1][1]):
            fail("the time left does not go down")
        # Without a terminal, no progress line (stderr is a pipe here).
        r = run_hotspy(["record", "-o", out, "--", fixture, "0.5"])
        if "recording hotspots" in r.stderr:
            fail("progress line written to a pipe")
    print("PASS")


def child_of(pid, exe, timeout=5.0):
    """The child of @pid once it runs @exe (after its exec), or None."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            return None
        for k in kids:
            try:
                if os.path.realpath("/proc/%d/exe" % k) == os.path.realpath(exe):
                    return k
            except OSError:
                pass
        time.sleep(0.01)
    return None


def traced_threads(pid):
    """The threads of @pid whose TracerPid is not 0, as "TID:TRACER"."""
    return ["%d:%d" % (tid, tracer) for tid, (_, tracer) in thread_status(pid).items()
            if tracer]


def watch_untraced(cmd, errfile, target_pid=None):
    """Run hotspy @cmd (with -v), its stderr into @errfile, and from the
    moment it says it samples (a program it starts is held at its exec
    until then) look at the target's threads every 20 ms until it exits;
    fail if one is ever traced. The target is @target_pid, or the pid
    hotspy names. Returns hotspy's exit code, its stderr and the looks."""
    print("$ " + " ".join(cmd))
    looks = 0
    with open(errfile, "w") as err:
        h = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    pid = None
    while h.poll() is None:
        if pid is None:
            with open(errfile) as f:
                m = re.search(r"sampling .* \(pid (\d+)\) with", f.read())
            if m:
                pid = target_pid or int(m.group(1))
        if pid:
            traced = traced_threads(pid)
            if traced:
                h.kill()
                h.wait()
                fail("a thread of the target is traced while the bpf sampler records: "
                     + ", ".join(traced))
            looks += 1
        time.sleep(0.02)
    with open(errfile) as f:
        text = f.read()
    sys.stdout.write(text)
    return h.returncode, text, looks


def check_whole_stacks(folded):
    """Nearly every sample (95 %: the program's start-up in ld.so is not
    under main) unwinds down to _start through main, and none is cut."""
    total = whole = 0
    with open(folded) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            n = int(count)
            total += n
            frames = stack.split(";")
            if "[truncated]" in frames:
                fail("a [truncated] stack: " + line[:300])
            if len(frames) > 2 and frames[1] == "_start" and "main" in frames:
                whole += n
    print("%d of %d samples unwind down to _start through main" % (whole, total))
    if total < 20:
        fail("only %d samples" % total)
    if whole < 0.95 * total:
        fail("only %d of %d samples unwind down to _start" % (whole, total))


def case_bpf(rest):
    fixture = os.path.join(ARGS.fixtures, "hotspots")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.folded")
        errfile = os.path.join(tmp, "stderr")
        # Launched: hotspy starts the fixture (held at its exec only while
        # the events are opened, as with the perf sampler).
        cmd = [ARGS.hotspy, "record", "-v", "--sampler", "bpf", "-r", "300", "-o", out,
               "--", fixture, "1.5"]
        code, err, looks = watch_untraced(cmd, errfile)
        skip_if_bpf_refused(subprocess.CompletedProcess(cmd, code, "", err))
        if code != 0:
            fail("hotspy exited %d" % code)
        if "bpf sampler" not in err:
            fail("the summary does not name the bpf sampler")
        print("launched: TracerPid 0 in %d looks" % looks)
        if looks < 10:
            fail("the launched fixture was looked at only %d times" % looks)
        check_whole_stacks(out)

        # Attached: the fixture runs before and after, and exits 0.
        target = subprocess.Popen([fixture, "3"])
        try:
            time.sleep(0.3)
            cmd = [ARGS.hotspy, "record", "-v", "--sampler", "bpf", "-r", "300", "-d",
                   "1.5", "-o", out, "-p", str(target.pid)]
            code, err, looks = watch_untraced(cmd, errfile, target.pid)
            if code != 0:
                fail("hotspy exited %d" % code)
            print("attached: TracerPid 0 in %d looks" % looks)
            if looks < 10:
                fail("the attached fixture was looked at only %d times" % looks)
            state = proc_state(target.pid)
            if state in ("t", "T"):
                fail("target left stopped (state %s)" % state)
            if target.wait(timeout=30) != 0:
                fail("attached fixture exited %d instead of 0" % target.returncode)
        finally:
            if target.poll() is None:
                target.kill()
                target.wait()
        check_whole_stacks(out)

        # Refused: the same root without CAP_BPF, CAP_PERFMON and
        # CAP_SYS_ADMIN (the bounding set limits what root gets at exec).
        setpriv = shutil.which("setpriv")
        if setpriv and os.geteuid() == 0:
            r = subprocess.run([setpriv, "--bounding-set", "-bpf,-perfmon,-sys_admin",
                                ARGS.hotspy, "record", "--sampler", "bpf", "-o", out,
                                "--", fixture, "0.2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=30)
            sys.stdout.write(r.stderr)
            if r.returncode != 1:
                fail("hotspy without CAP_BPF exited %d, not 1" % r.returncode)
            for words in ("cannot load the BPF sampler", "CAP_BPF", "--sampler perf"):
                if words not in r.stderr:
                    fail("the refusal does not say %r" % words)
        else:
            print("(refusal not checked: needs root and setpriv)")
    print("PASS")


def case_shortthreads(rest):
    del rest
    fixture = os.path.join(ARGS.fixtures, "churn")
    perf = shutil.which("perf")
    if not perf:
        print("SKIP: perf is not installed (scripts/setup.sh installs linux-perf)")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.folded")
        stat = os.path.join(tmp, "stat.csv")
        # The fixture's CPU time as its task clock counts it, the clock of
        # hotspy's events: on a VM whose host takes the CPU away for a while,
        # that clock runs ahead of getrusage's (seen: 17 %).
        wrapper = subprocess.Popen([perf, "stat", "-e", "task-clock", "-x", ",", "-o", stat,
                                    "--", fixture, "3"])
        try:
            pid = child_of(wrapper.pid, fixture)
            if pid is None:
                fail("perf stat did not start the fixture")
            # 50 Hz: a period (20 ms) is ~3 times a thread's CPU, so none
            # reaches one even when that clock runs ahead.
            r = run_hotspy(["record", "--sampler", "perf", "-r", "50", "-o", out,
                            "-p", str(pid)])
            status = wrapper.wait(timeout=60)
        finally:
            if wrapper.poll() is None:
                wrapper.kill()
                wrapper.wait()
        if r.returncode != 0 or status != 0:
            fail("hotspy exited %d, fixture %d" % (r.returncode, status))
        m = re.search(r"(\d+) of (\d+) threads that exited ran for less than one sampling "
                      r"period \(20.0 ms\) and were never sampled: (\d+) ms of CPU", r.stderr)
        if not m or "-r 1000" not in r.stderr or "--sampler ptrace" not in r.stderr:
            fail("no warning about threads shorter than a period, with the remedy")
        never, exited, lost_ms = int(m.group(1)), int(m.group(2)), float(m.group(3))
        with open(stat) as f:
            cpu = [l.split(",") for l in f if ",task-clock," in l]
        if not cpu:
            fail("no task-clock count from perf stat")
        cpu_ms = float(cpu[0][0])
        print("never sampled %d of %d threads; %.0f ms unseen; fixture used %.0f ms of CPU"
              % (never, exited, lost_ms, cpu_ms))
        # ~300 threads of 7 ms of CPU: nearly all are too short for a period.
        if exited < 100 or never < 0.8 * exited:
            fail("expected most of the ~300 churn threads to be reported unsampled")
        # Nearly all of churn's CPU is in those threads (main only starts and
        # joins them); the threads that began before the attach lose a bit.
        if not 0.7 * cpu_ms <= lost_ms <= 1.05 * cpu_ms:
            fail("unseen CPU %.0f ms is not the fixture's %.0f ms" % (lost_ms, cpu_ms))
    print("PASS")


def case_sampler(rest):
    noperf = rest[0]
    fixture = os.path.join(ARGS.fixtures, "hotspots")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.folded")

        # auto on this machine: perf, unless the kernel refuses it.
        r = run_hotspy(["record", "-v", "-r", "300", "-o", out, "--", fixture, "2"])
        if r.returncode != 0:
            fail("hotspy exited %d" % r.returncode)
        if "perf events refused" in r.stderr:
            if "ptrace sampler, on-CPU time" not in r.stderr:
                fail("perf refused here, but the summary does not name ptrace")
        elif "perf sampler, on-CPU time" not in r.stderr or \
                "the kernel allows perf events" not in r.stderr:
            fail("auto did not choose perf, or did not say why")
        if not check_profile("hotspots", out, False):
            fail("auto: profile does not meet hotspots.expect")

        # perf_event_open refused, as in a container: ptrace, with the reason.
        os.unlink(out)
        print("$ noperf hotspy ...")
        r = subprocess.run([noperf, ARGS.hotspy, "record", "-o", out, "-r", "300", "--",
                            fixture, "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=60)
        sys.stdout.write(r.stderr)
        if r.returncode == SKIP:
            print("SKIP: cannot install a seccomp filter here")
            sys.exit(SKIP)
        if r.returncode != 0:
            fail("fallback run exited %d" % r.returncode)
        for w in ("perf events refused", "seccomp", "using the ptrace sampler",
                  "ptrace sampler, on-CPU time"):
            if w not in r.stderr:
                fail("fallback: stderr lacks %r" % w)
        if not check_profile("hotspots", out, False):
            fail("fallback: profile does not meet hotspots.expect")

        # Asked for perf where it is refused: an error with the remedy.
        r = subprocess.run([noperf, ARGS.hotspy, "record", "--sampler", "perf", "-o", out,
                            "--", fixture, "1"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        sys.stdout.write(r.stderr)
        if r.returncode != 1 or "cannot sample" not in r.stderr or \
                "--sampler ptrace" not in r.stderr:
            fail("--sampler perf where refused: exit %d, expected 1 with the remedy"
                 % r.returncode)

        # Wall-clock time needs ptrace: auto takes it without a warning.
        r = run_hotspy(["record", "--idle", "-o", out, "--", fixture, "1"])
        if r.returncode != 0 or "ptrace sampler, wall-clock time" not in r.stderr:
            fail("--idle: auto did not take ptrace with wall-clock time")
        if "refused" in r.stderr:
            fail("--idle: a refusal was reported where none happened")
    print("PASS")


def smoke_names(fmt, path):
    """The frame names in a recording of format @fmt; fails on a file that
    does not parse in that format."""
    names = set()
    if fmt == "folded":
        with open(path) as f:
            for n, line in enumerate(f, 1):
                stack, _, count = line.rstrip("\n").rpartition(" ")
                if not stack or not count.isdigit() or int(count) <= 0:
                    fail("folded line %d is not 'STACK COUNT': %r" % (n, line[:200]))
                names.update(stack.split(";"))
    elif fmt == "flamegraph":
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as e:
            fail("the SVG is not XML: %s" % e)
        if not root.tag.endswith("svg"):
            fail("the root element is %s, not svg" % root.tag)
        for el in root.iter():
            if el.tag.endswith("title") and el.text:
                names.add(el.text.split(" (", 1)[0])
    else:
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
            names.update(fr["name"] for fr in doc["shared"]["frames"])
            if not doc["profiles"] or not any(p.get("weights") for p in doc["profiles"]):
                fail("speedscope file without weighted samples")
        except (ValueError, KeyError, TypeError) as e:
            fail("not a speedscope file: %s" % e)
    return names


def case_smoke(rest):
    fixture = os.path.join(ARGS.fixtures, "hotspots")
    if rest == ["top"]:
        target = subprocess.Popen([fixture, "20"])
        try:
            time.sleep(0.3)
            r = run_hotspy(["top", "--batch", "-n", "2", "--delay", "0.5", "-r", "200",
                            "-p", str(target.pid)])
            print(r.stdout[-1500:])
            if r.returncode != 0:
                fail("top --batch exited %d" % r.returncode)
            if r.stdout.count("hotspy top: ") != 2:
                fail("top --batch -n 2 did not print two tables")
            if "hot_a" not in r.stdout:
                fail("hot_a is not in top's table")
            time.sleep(0.1)
            state = proc_state(target.pid)
            if state is None or state in ("t", "T"):
                fail("target harmed by top (state %s)" % state)
        finally:
            target.kill()
            target.wait()
        print("PASS")
        return
    if len(rest) != 4 or rest[0] != "record" or \
            rest[1] not in ("folded", "flamegraph", "speedscope") or \
            rest[3] not in ("launch", "attach"):
        fail("usage: smoke record folded|flamegraph|speedscope SAMPLER launch|attach, "
             "or smoke top")
    fmt, sampler, mode = rest[1:]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        common = ["record", "-f", fmt, "-o", out, "-r", "300", "--sampler", sampler]
        if mode == "launch":
            r = run_hotspy(common + ["--", fixture, "1.5"])
            skip_if_bpf_refused(r)
            if r.returncode != 0:
                fail("hotspy exited %d" % r.returncode)
        else:
            target = subprocess.Popen([fixture, "3"])
            try:
                time.sleep(0.3)
                r = run_hotspy(common + ["-d", "1.5", "-p", str(target.pid)])
                skip_if_bpf_refused(r)
                if r.returncode != 0:
                    fail("hotspy exited %d" % r.returncode)
                state = proc_state(target.pid)
                if state in ("t", "T"):
                    fail("target left stopped (state %s) after hotspy detached" % state)
                code = target.wait(timeout=30)
                if code != 0:
                    fail("attached fixture exited %d instead of 0" % code)
            finally:
                if target.poll() is None:
                    target.kill()
                    target.wait()
        if "samples in" not in r.stderr:
            fail("no summary line on stderr")
        names = smoke_names(fmt, out)
        for fn in ("hot_a", "hot_b"):
            if fn not in names:
                fail("%s is not in the %s output" % (fn, fmt))
    print("PASS")


# --- Python fixtures (fixtures/python/, issue 11) ---------------------------

PY_FIXTURES_DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "fixtures", "python")
# Fixtures that need a newer Python than 2.7 (the construct does not exist).
PY_NEEDS = {"pyasync": (3, 6), "pyunicode": (3, 6)}
# The outermost Python frame every sample's Python stack must reach.
PY_ROOT_SHARE = 99.0


def python_target(fixture, name):
    """(argv prefix, "X.Y" or None) of Python fixture @fixture under the
    interpreter @name, or a skip (77) when either is missing."""
    if fixture == "pyembed":
        exe = os.path.join(ARGS.fixtures, "pyembed")
        if not os.access(exe, os.X_OK):
            print("SKIP: pyembed is not built (python3-config --embed did not work)")
            sys.exit(SKIP)
        return [exe], None
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
    import interpreters
    py = interpreters.find_or_skip(name)
    r = subprocess.run([py, "-c", "import sys; sys.stdout.write('%d.%d' % sys.version_info[:2])"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    if r.returncode != 0 or not re.match(r"^\d+\.\d+$", r.stdout):
        fail("cannot ask %s for its version: %s" % (py, r.stderr.strip()))
    version = tuple(int(x) for x in r.stdout.split("."))
    if version < PY_NEEDS.get(fixture, (0, 0)):
        print("SKIP: %s needs Python %d.%d or later, %s is %s"
              % (fixture, PY_NEEDS[fixture][0], PY_NEEDS[fixture][1], name, r.stdout))
        sys.exit(SKIP)
    script = os.path.join(PY_FIXTURES_DIR, fixture + ".py")
    if not os.path.exists(script):
        fail("no fixture " + script)
    return [py, script], r.stdout


def python_env():
    env = dict(os.environ)
    # Python 3.6 finds non-ASCII file names only with a UTF-8 locale (3.7+
    # coerces the C locale); no PYTHON* variable of the caller may change
    # what the fixture runs.
    env["LC_ALL"] = "C.UTF-8"
    for k in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONOPTIMIZE"):
        env.pop(k, None)
    return env


def start_ready(argv, seconds, timeout=30.0, session=False):
    """Start a Python fixture with --ready and wait until it says so: a
    process attached before that would be caught importing. With @session,
    in a session of its own, so that it and its children can be ended
    together (os.killpg)."""
    return wait_ready(start_fixture(argv, seconds, session), timeout)


def start_fixture(argv, seconds, session=False):
    """start_ready's start, not waiting (wait_ready waits)."""
    return subprocess.Popen(argv + ["--ready", str(seconds)], stdout=subprocess.PIPE,
                            env=python_env(), start_new_session=session)


def wait_ready(target, timeout=30.0):
    """Wait until @target (start_fixture) says it is ready; returns it.
    Kills it (its session too, when it has one) when it does not."""
    deadline = time.time() + timeout
    line = b""
    while time.time() < deadline and not line.endswith(b"\n"):
        ready, _, _ = select.select([target.stdout], [], [], max(0.0, deadline - time.time()))
        if not ready:
            break
        chunk = os.read(target.stdout.fileno(), 64)
        if not chunk:
            break
        line += chunk
    if line.strip() != b"ready":
        end_session(target)
        fail("the fixture did not say ready (got %r, exit %s)" % (line, target.poll()))
    return target


def end_session(target):
    """Kill @target, and its session when it leads one (start_fixture's
    session=True): its children with it."""
    try:
        if os.getsid(target.pid) == target.pid:
            os.killpg(target.pid, signal.SIGKILL)
    except OSError:
        pass
    if target.poll() is None:
        target.kill()
    target.wait()


def stop(target):
    if target.poll() is None:
        target.kill()
        target.wait()


# Launched, a fixture is recorded from the interpreter's first instruction:
# its start (site, the imports) and its exit are not what its expectation
# describes, and take a few percent of a 3 s run: 0.6-2 % measured, up to
# 6.9 % where samples are few (pydeep's 950 frame objects read one by one on
# 3.10: ~160 samples in 4 s, each standing for several periods).
STARTUP_SHARE_MAX = 10.0


def steady_phase(folded, source, tmp, most=STARTUP_SHARE_MAX, func=None):
    """The stacks of @folded that pass through a function of the fixture's
    own file @source (its steady phase: the start and exit of the
    interpreter, and the fixture's imports, are left out), or through the
    Python function @func when given, written to a new file in @tmp. Fails
    when what is left out is more than @most percent."""
    kept, total, lines = 0.0, 0.0, []
    with open(folded, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            total += float(n)
            # A function of the fixture's file, not its <module>: the
            # module's top level is its imports, before the steady phase.
            if func and any(py_function(fr) == func for fr in stack.split(";")[1:]):
                kept += float(n)
                lines.append(line)
            elif not func and any((("/" + source) in fr or fr.endswith("(" + source + ")")
                                   or ("(" + source + ":") in fr)
                                  and not fr.startswith("<module> ")
                                  for fr in stack.split(";")):
                kept += float(n)
                lines.append(line)
    if not total:
        fail("no samples in " + folded)
    left = 100.0 * (total - kept) / total
    print("start and exit of the interpreter and the imports: %.1f %% of the "
          "samples, left out (at most %.0f %%)" % (left, most))
    if left > most:
        fail("%.1f %% of the samples are outside %s" % (left, source))
    out = os.path.join(tmp, "steady.folded")
    with open(out, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.writelines(lines)
    return out


ROOT_FRAME = re.compile(r"^(?P<name>.*) \((?P<pid>\d+)\)$")


def check_processes(folded, spec, target_pid):
    """--subprocesses: at least N (of @spec "N:FUNC") root frames `NAME
    (PID)` whose stacks hold the Python function FUNC, none of them the
    target's (@target_pid; None when launched: its pid is hotspy's to
    know)."""
    want, func = spec.split(":", 1)
    roots = {}
    with open(folded, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            frames = stack.split(";")
            m = ROOT_FRAME.match(frames[0])
            if not m:
                fail("root frame %r is not NAME (PID): no --subprocesses?" % frames[0])
            pid = int(m.group("pid"))
            if any(py_function(fr) == func for fr in frames[1:]):
                roots[pid] = roots.get(pid, 0.0) + float(n)
    print("processes running %s: %s" % (func, ", ".join(
        "%d (%.0f samples)" % kv for kv in sorted(roots.items()))))
    if target_pid in roots:
        fail("the target %d runs %s itself: the workers' samples are under its root"
             % (target_pid, func))
    if len(roots) < int(want):
        fail("%d processes with Python frames of %s, expected at least %s"
             % (len(roots), func, want))


def case_pyprofile(rest):
    """pyprofile FIXTURE NAME launch|attach [--threads] [--expect E]
    [--seconds S] -- HOTSPY-ARGS: fixtures/python/FIXTURE.py under the
    interpreter NAME (tests/python/interpreters.py; pyembed: the C program,
    NAME unused), recorded and checked against FIXTURE.expect (or E.expect),
    with --lines when hotspy was given it, and >= 99 % of the samples with
    Python frames down to <module> or a thread's _bootstrap."""
    p = argparse.ArgumentParser(prog="pyprofile")
    p.add_argument("fixture")
    p.add_argument("interpreter")
    p.add_argument("mode", choices=["launch", "attach"])
    p.add_argument("--threads", action="store_true")
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--expect", help="expectation file name (default: FIXTURE)")
    p.add_argument("--summary-matches", action="append", default=[], metavar="REGEX",
                   help="a regular expression hotspy's stderr must match")
    p.add_argument("--fixture-arg", action="append", default=[], metavar="ARG",
                   help="an argument for the fixture, before its own options")
    p.add_argument("--startup-max", type=float, default=STARTUP_SHARE_MAX, metavar="PERCENT",
                   help="launched: at most PERCENT of the samples outside the steady "
                        "phase (default %.0f)" % STARTUP_SHARE_MAX)
    p.add_argument("--steady", metavar="FUNC",
                   help="launched: the steady phase is the stacks through the Python "
                        "function FUNC (default: through any function of the fixture's "
                        "file but its <module>)")
    p.add_argument("--processes", metavar="N:FUNC",
                   help="at least N processes (root frames NAME (PID), --subprocesses) "
                        "other than the target have Python frames of FUNC")
    extra = rest[rest.index("--") + 1:] if "--" in rest else []
    a = p.parse_args(rest[:rest.index("--")] if "--" in rest else rest)
    argv, version = python_target(a.fixture, a.interpreter)
    if "spawn" in a.fixture_arg and version and \
            tuple(int(x) for x in version.split(".")) < (3, 4):
        print("SKIP: multiprocessing has no spawn start method before 3.4 (%s is %s)"
              % (a.interpreter, version))
        sys.exit(SKIP)
    argv += a.fixture_arg
    print("target: %s (Python %s)" % (" ".join(argv), version or "of the program"))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.folded")
        rate = [] if "-r" in extra else ["-r", str(PROFILE_RATE)]
        common = ["record", "-o", out] + rate + (["--threads"] if a.threads else []) + extra
        if a.mode == "launch":
            r = run_hotspy(common + ["--"] + argv + [str(a.seconds)], env=python_env())
            if r.returncode != 0:
                fail("hotspy exited %d" % r.returncode)
        else:
            # As in `profile`, the fixture outlives the recording, so the
            # detach is tested and the target seen running on; by a second
            # only: it is attached as soon as it says it is ready.
            target = start_ready(argv, a.seconds + 1.0)
            try:
                r = run_hotspy(common + ["-p", str(target.pid), "-d", str(a.seconds)])
                if r.returncode != 0:
                    fail("hotspy exited %d" % r.returncode)
                if "duration reached" not in r.stderr:
                    fail("hotspy did not end on its -d duration; the fixture may have "
                         "exited first")
                state = proc_state(target.pid)
                if state in ("t", "T"):
                    fail("target left stopped (state %s) after hotspy detached" % state)
                code = target.wait(timeout=30)
                if code != 0:
                    fail("attached fixture exited %d instead of 0" % code)
            finally:
                stop(target)
        if "samples in" not in r.stderr:
            fail("no summary line on stderr")
        for regex in a.summary_matches:
            if not re.search(regex, r.stderr):
                fail("the summary does not match %r" % regex)
        if a.processes:
            check_processes(out, a.processes, None if a.mode == "launch" else target.pid)
        if a.mode == "launch" and a.fixture != "pyembed":
            out = steady_phase(out, a.fixture + ".py", tmp, a.startup_max, a.steady)
        expect = os.path.join(PY_FIXTURES_DIR, (a.expect or a.fixture) + ".expect")
        cmd = [sys.executable, CHECKER, expect, out, "--python-root", str(PY_ROOT_SHARE)]
        cmd += ["--threads"] if a.threads else []
        cmd += ["--lines"] if "--lines" in extra else []
        cmd += ["--python-version", version] if version else []
        c = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        print(c.stdout, end="")
        if c.returncode != 0:
            with open(out, encoding="utf-8", errors="replace") as f:
                print("--- the first stacks of the profile (cut at 400 characters):")
                for line in f.readlines()[:8]:
                    print(line[:200] + (" ... " + line[-200:] if len(line) > 400 else line[200:]),
                          end="")
            fail("profile of %s under %s (%s) does not meet %s"
                 % (a.fixture, a.interpreter, a.mode, os.path.basename(expect)))
        check_no_guesses(out, 2 if a.threads else 1)
    print("PASS")


def checked_shares(expect, folded, version):
    """check_profile.py's verdict on @folded against @expect: (passed, the
    measured share of each expectation line, by its text)."""
    cmd = [sys.executable, CHECKER, expect, folded, "--python-root", str(PY_ROOT_SHARE)]
    cmd += ["--python-version", version] if version else []
    c = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(c.stdout, end="")
    shares = {}
    for line in c.stdout.splitlines():
        m = re.match(r"(?:ok|FAIL)\s+(.*): ([0-9.]+) %", line)
        if m:
            shares[m.group(1)] = float(m.group(2))
    return c.returncode == 0, shares


def case_pybpf(rest):
    """pybpf NAME: pysplit under the interpreter NAME, attached and recorded
    at the same time by the bpf sampler (2000 Hz: a sample costs the target
    little) and the ptrace sampler (1000 Hz), for 3 s: the bpf sampler's
    profile meets pysplit.expect, and each share the expectation names agrees between the
    two within 3 points (one standard deviation of the difference of
    ~6000 and ~3000 samples of a 70 % share: ~1 point). A skip where BPF
    is refused."""
    argv, version = python_target("pysplit", rest[0])
    expect = os.path.join(PY_FIXTURES_DIR, "pysplit.expect")
    print("target: %s (Python %s)" % (" ".join(argv), version))
    with tempfile.TemporaryDirectory() as tmp:
        outs, procs = {}, {}
        target = start_ready(argv, 4.5)
        try:
            for sampler, rate in (("bpf", "2000"), ("ptrace", "1000")):
                outs[sampler] = os.path.join(tmp, sampler + ".folded")
                procs[sampler] = subprocess.Popen(
                    [ARGS.hotspy, "record", "--sampler", sampler, "-r", rate, "-d", "3",
                     "-o", outs[sampler], "-p", str(target.pid)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for sampler, h in procs.items():
                _, err = h.communicate(timeout=60)
                sys.stdout.write(err)
                r = subprocess.CompletedProcess(h.args, h.returncode, "", err)
                if sampler == "bpf":
                    skip_if_bpf_refused(r)
                if h.returncode != 0:
                    fail("hotspy --sampler %s exited %d" % (sampler, h.returncode))
                if "%s sampler" % sampler not in err or "duration reached" not in err:
                    fail("hotspy --sampler %s: the summary does not name it or did not "
                         "end on -d" % sampler)
            state = proc_state(target.pid)
            if state in ("t", "T"):
                fail("target left stopped (state %s) after hotspy detached" % state)
            if target.wait(timeout=30) != 0:
                fail("attached fixture exited %d instead of 0" % target.returncode)
        finally:
            stop(target)
        shares = {}
        for sampler in ("bpf", "ptrace"):
            print("--- %s sampler" % sampler)
            ok, shares[sampler] = checked_shares(expect, outs[sampler], version)
            # The ptrace sampler's profile of pysplit is checked by its own
            # tests (py_pysplit_*); here it is the reference.
            if not ok and sampler == "bpf":
                fail("the bpf sampler's profile of pysplit under %s does not meet "
                     "pysplit.expect" % rest[0])
    worst, what = 0.0, None
    for key, value in shares["bpf"].items():
        if key in shares["ptrace"] and abs(value - shares["ptrace"][key]) > worst:
            worst, what = abs(value - shares["ptrace"][key]), key
    if what is None:
        fail("no share measured in both profiles")
    print("largest difference between the samplers: %.1f points (%s)" % (worst, what))
    if worst > 3.0:
        fail("bpf and ptrace disagree by %.1f points on %s" % (worst, what))
    print("PASS")


def case_pysignal(rest):
    """pysignal NAME: hotspy recording a Python target under interpreter
    NAME is killed (SIGKILL) mid-recording: the target must keep running,
    not stopped, not traced, and finish its run with exit status 0."""
    argv, _ = python_target("pysplit", rest[0] if rest else "system")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.folded")
        target = start_ready(argv, 4)
        try:
            hs = subprocess.Popen([ARGS.hotspy, "record", "-r", "997", "-o", out,
                                   "-p", str(target.pid)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(1.5)
            if hs.poll() is not None:
                fail("hotspy ended early: %s" % hs.stderr.read())
            hs.kill()
            _, err = hs.communicate(timeout=20)
            sys.stdout.write(err)
            time.sleep(0.2)
            for _ in range(10):
                state = proc_state(target.pid)
                if state is None or target.poll() is not None:
                    fail("the target died after hotspy was killed")
                if state in ("t", "T"):
                    fail("target left stopped (state %s) after hotspy was killed" % state)
                time.sleep(0.05)
            with open("/proc/%d/status" % target.pid) as f:
                if "\nTracerPid:\t0\n" not in f.read():
                    fail("target still traced after hotspy was killed")
            code = target.wait(timeout=30)
            if code != 0:
                fail("the target exited %d instead of 0" % code)
        finally:
            stop(target)
    print("PASS")


# pythreads' threads, told apart by the Python functions of their stacks:
# how many threads run each, and the frames each such thread shows.
PY_DUMP_THREADS = [(["main"], 1), (["duty_cycle"], 2), (["nap"], 1)]
# The name Python gives each of them (threading.Thread(name=...)): a thread
# whose stack holds the first function (of pythreads.py) must carry one of
# the names. duty_cycle runs in two threads: spin only in py-busy,
# compress_loop only in gil-free.
PY_DUMP_NAMES = [("main", {"MainThread"}), ("nap", {"sleeper"}),
                 ("duty_cycle", {"py-busy", "gil-free"}),
                 ("spin", {"py-busy"}), ("compress_loop", {"gil-free"})]
DUMP_THREAD_LINE = re.compile(
    r'^Thread (\d+) "(.*)" \(([a-z ]+)\)(?: Python "(.*)")?( holds the GIL)?$')


def check_py_names(what, threads, names_known):
    """threads: [(os name, python name or None, set of functions)]. With
    names_known, every thread carries the name of what it runs, each name
    once; without, none has a Python name (the stated fallback: the OS
    name alone)."""
    if not names_known:
        named = [t for t in threads if t[1] is not None]
        if named:
            fail("%s: Python names %s where none can be read"
                 % (what, [t[1] for t in named]))
        return
    got = sorted(t[1] or "" for t in threads)
    if got != sorted(["MainThread", "py-busy", "gil-free", "sleeper"]):
        fail("%s: Python thread names %s, expected MainThread, py-busy, gil-free, "
             "sleeper once each" % (what, got))
    for os_name, py_name, funcs in threads:
        for func, allowed in PY_DUMP_NAMES:
            if func in funcs and py_name not in allowed:
                fail("%s: the thread running %s is named %r (OS name %r), expected "
                     "one of %s" % (what, func, py_name, os_name, sorted(allowed)))


def py_function(name):
    """The function of a Python frame `QUALNAME (FILE[:LINE])`, or None."""
    m = re.match(r"^\s*(?P<func>[^ ]+) \(.*\)", name)
    return m.group("func").rsplit(".", 1)[-1] if m else None


def case_pydump(rest):
    """pydump NAME [--seconds S] [--no-names]: hotspy dump of pythreads
    under interpreter NAME, text and --json: every Python thread once, told
    apart by the Python frames of its stack, each with the name Python
    gives it (the OS calls them all by the process's name), or with
    --no-names none (a version whose names hotspy cannot read); the target
    runs on."""
    p = argparse.ArgumentParser(prog="pydump")
    p.add_argument("interpreter", nargs="?", default="system")
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--no-names", action="store_true")
    a = p.parse_args(rest)
    argv, _ = python_target("pythreads", a.interpreter)
    target = start_ready(argv, a.seconds)
    try:
        time.sleep(0.3)
        r = run_hotspy(["dump", "-p", str(target.pid)])
        print(r.stdout)
        if r.returncode != 0:
            fail("dump exited %d" % r.returncode)
        blocks = [b for b in r.stdout.split("\n\n") if b.strip()][1:]
        if len(blocks) != 4:
            fail("%d thread sections in the dump, expected 4" % len(blocks))
        # A Python frame: the function, and the fixture's file beside it
        # (python3.X has a native main too).
        text_funcs = [{py_function(l) for l in b.split("\n")[1:] if "pythreads.py" in l}
                      for b in blocks]
        text_threads = []
        for b, funcs in zip(blocks, text_funcs):
            m = DUMP_THREAD_LINE.match(b.split("\n")[0])
            if not m:
                fail("not a thread line: %r" % b.split("\n")[0])
            text_threads.append((m.group(2), m.group(4), funcs))
        check_py_names("text", text_threads, not a.no_names)
        # Files as Python imports them: relative to the target's sys.path
        # entry (the fixture's directory, sys.path[0]), not whole.
        whole = [l for b in blocks for l in b.split("\n")
                 if "pythreads.py" in l and "(pythreads.py:" not in l]
        if whole:
            fail("pythreads.py not shown relative to sys.path: %r" % whole[:2])
        r = run_hotspy(["dump", "-p", str(target.pid), "--json"])
        if r.returncode != 0:
            fail("dump --json exited %d" % r.returncode)
        try:
            doc = json.loads(r.stdout)
            threads = doc["threads"]
        except (ValueError, KeyError, TypeError) as e:
            fail("dump --json is not the dump's JSON: %s" % e)
        json_funcs = []
        for t in threads:
            names = {f.get("function") for f in t.get("frames", [])
                     if isinstance(f, dict) and f.get("kind") == "python"
                     and any(isinstance(v, str) and "pythreads.py" in v for v in f.values())}
            json_funcs.append({n.rsplit(".", 1)[-1] for n in names if n})
        check_py_names("--json", [(t.get("name"), t.get("python_name"), f)
                                  for t, f in zip(threads, json_funcs)], not a.no_names)
        # The GIL: one holder at most, at the instant its stack was taken
        # (each thread is dumped at its own instant, so two could be seen
        # holding it in turn, never the sleeping ones: sleeper's nap and
        # MainThread's join let it go).
        for what, holders in (("text", [t for t, b in zip(text_threads, blocks)
                                        if b.split("\n")[0].endswith(" holds the GIL")]),
                              ("--json", [(t.get("name"), t.get("python_name"), f)
                                          for t, f in zip(threads, json_funcs)
                                          if t.get("gil") is True])):
            for name, pyname, funcs in holders:
                if {"nap"} <= funcs or {"main"} <= funcs:
                    fail("%s: thread %s holds the GIL while it sleeps" % (what, pyname))
        if a.interpreter != "3.14" and not all(isinstance(t.get("gil"), bool) for t in threads):
            fail("--json: a thread without its GIL state: %s"
                 % [t.get("tid") for t in threads if not isinstance(t.get("gil"), bool)])
        for what, funcs_of in (("text", text_funcs), ("--json", json_funcs)):
            for funcs, count in PY_DUMP_THREADS:
                n = sum(1 for f in funcs_of if set(funcs) <= f)
                if n != count:
                    fail("%s: %d threads with the Python frames %s of pythreads.py, "
                         "expected %d" % (what, n, funcs, count))
        state = proc_state(target.pid)
        if state is None or state in ("t", "T"):
            fail("target harmed by dump (state %s)" % state)
        code = target.wait(timeout=30)
        if code != 0:
            fail("the target exited %d instead of 0" % code)
    finally:
        stop(target)
    print("PASS")

def untouched(pid):
    """Why process @pid is harmed (stopped, traced), or None; a process
    gone is not harmed."""
    try:
        with open("/proc/%d/status" % pid) as f:
            status = f.read()
    except OSError:
        return None
    m = re.search(r"^State:\s+(\S)", status, re.M)
    if m and m.group(1) in ("t", "T"):
        return "stopped (state %s)" % m.group(1)
    if "\nTracerPid:\t0\n" not in status:
        return "still traced"
    return None


def py_functions(thread):
    """The Python functions (last part of the qualified name) of a thread
    of dump --json, innermost first."""
    return [f.get("function", "").rsplit(".", 1)[-1] for f in thread.get("frames", [])
            if isinstance(f, dict) and f.get("kind") == "python"]


def check_workers_dump(name, mode, target, text):
    """hotspy dump -s of pyworkers MODE under interpreter @name, JSON (and
    text, and `top --batch -s`, with @text): the parent, and each worker
    under its own pid with Python frames of serve (one at least in work_a
    or work_b),
    and /bin/sleep (not Python) natively; top shows each worker's share;
    every process left running, untraced."""
    t0 = time.time()
    try:
        r = run_hotspy(["dump", "-s", "-j", "-p", str(target.pid)])
        sys.stdout.write(r.stderr)
        if r.returncode != 0:
            fail("%s %s: dump -s -j exited %d: %s" % (name, mode, r.returncode, r.stderr))
        try:
            doc = json.loads(r.stdout)
            procs = [doc] + list(doc["subprocesses"])
            for proc in procs:
                proc["pid"], proc["threads"]
        except (ValueError, KeyError, TypeError) as e:
            fail("%s %s: dump -s -j is not a dump with subprocesses: %s" % (name, mode, e))
        if doc["pid"] != target.pid:
            fail("%s %s: the dump starts with process %s, not the target %d"
                 % (name, mode, doc["pid"], target.pid))
        pids = [p_["pid"] for p_ in procs]
        if len(set(pids)) != len(pids):
            fail("%s %s: a process listed twice: %s" % (name, mode, pids))
        if not any({"main"} <= set(py_functions(t)) for t in doc["threads"]):
            fail("%s %s: no thread of the parent in main" % (name, mode))
        # A worker is in serve from before --ready to its end: nearly
        # always in work_a or work_b, but a thread caught between them
        # (the clock, the slice's length) or still returning from telling
        # the parent it serves is a worker all the same.
        workers = [p_ for p_ in procs[1:]
                   if any("serve" in py_functions(t) for t in p_["threads"])]
        if not any(py_functions(t)[:1] in (["work_a"], ["work_b"])
                   for w in workers for t in w["threads"]):
            fail("%s %s: no worker in work_a or work_b" % (name, mode))
        sleepers = [p_ for p_ in procs[1:] if p_.get("process") == "sleep"]
        print("%s %s: %d processes: %s" % (name, mode, len(procs), ", ".join(
            "%s (%d)%s" % (p_.get("process"), p_["pid"],
                           " worker" if p_ in workers else "") for p_ in procs)))
        if len(workers) < 2:
            fail("%s %s: %d worker processes with serve in their Python frames, "
                 "expected 2; the others: %s" % (name, mode, len(workers), "; ".join(
                     "%s (%d): %s" % (p_.get("process"), p_["pid"], [
                         [f.get("function") for f in t.get("frames", [])][:12]
                         for t in p_["threads"]])
                     for p_ in procs[1:] if p_ not in workers)))
        if len(sleepers) != 1:
            fail("%s %s: %d sleep processes in the dump, expected 1"
                 % (name, mode, len(sleepers)))
        sl = sleepers[0]
        if any(py_functions(t) for t in sl["threads"]) or \
                not any(t.get("frames") for t in sl["threads"]):
            fail("%s %s: /bin/sleep not shown natively: %s" % (name, mode, sl["threads"]))
        if text:
            r = run_hotspy(["dump", "-s", "-p", str(target.pid)])
            heads = re.findall(r"^Process (\d+): (.*) \(\d+ threads?\)$", r.stdout, re.M)
            if r.returncode != 0 or len(heads) < 4 or int(heads[0][0]) != target.pid:
                fail("%s %s: dump -s (text): exit %d, processes %s"
                     % (name, mode, r.returncode, heads))
            # top -s: each worker's share of the window on the scope line
            # (the workers are busy: each has samples in every window).
            r = run_hotspy(["top", "--batch", "-n", "1", "--delay", "1", "-s",
                            "-p", str(target.pid)])
            shown = re.findall(r" \((\d+)\) \d+%", r.stdout.split("\n\n")[0])
            missing = [w["pid"] for w in workers if str(w["pid"]) not in shown]
            if r.returncode != 0 or "processes:" not in r.stdout or missing:
                fail("%s %s: top -s: exit %d, workers %s not among the processes shown: %r"
                     % (name, mode, r.returncode, missing, r.stdout[:600]))
            if not re.search(r"^ *\d+\.\d%.* work_[ab] \(pyworkers\.py\)", r.stdout, re.M):
                fail("%s %s: top -s: no row of work_a or work_b" % (name, mode))
        for pid in pids:
            why = untouched(pid)
            if why:
                fail("%s %s: process %d %s after the dump" % (name, mode, pid, why))
    finally:
        # The fixture runs 30 s: it and its children end here, the
        # test's to end (the dump let them go: checked above).
        end_session(target)
    print("%s %s: %.1f s" % (name, mode, time.time() - t0))


def interpreters_module():
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
    import interpreters
    return interpreters


def case_pyworkersdump(rest):
    """pyworkersdump [--run MODE:NAME]... [NAME...]: check_workers_dump of
    the fork pool under each interpreter NAME present (default: all of
    tests/python/interpreters.py; absent ones are left out, none present
    is a skip), and of pyworkers MODE under NAME for each --run; text and
    top too under the first."""
    p = argparse.ArgumentParser(prog="pyworkersdump")
    p.add_argument("--run", action="append", default=[], metavar="MODE:NAME")
    p.add_argument("names", nargs="*")
    a = p.parse_args(rest)
    names = a.names or interpreters_module().NAMES
    runs = [(n, "fork") for n in names] + [tuple(r.split(":", 1)[::-1]) for r in a.run]
    paths = dict((n, interpreters_module().find(n)) for n in set(n for n, _ in runs))
    present = [(n, m) for n, m in runs if paths[n]]
    for n, m in runs:
        if not paths[n]:
            print("%s %s: no such interpreter here, left out" % (n, m))
    if not present:
        print("SKIP: none of the interpreters %s is here" % names)
        sys.exit(SKIP)
    def start(i):
        n, m = present[i]
        return start_fixture([paths[n], os.path.join(PY_FIXTURES_DIR, "pyworkers.py"), m],
                             30.0, session=True)

    # The next fixture starts (its interpreter, imports and pool) while
    # the one before is dumped: one pair of workers at a time is busy,
    # and the test takes about one start less per interpreter.
    following = start(0)
    try:
        for i, (n, m) in enumerate(present):
            target, following = following, None
            wait_ready(target)
            if i + 1 < len(present):
                following = start(i + 1)
            check_workers_dump(n, m, target, i == 0)
    finally:
        if following:
            end_session(following)
    print("PASS")


def case_pyspyflags(rest):
    """pyspyflags: py-spy's spellings (docs/py-spy.md), each run on a Python
    fixture, with the effect the table states checked; the ones refused,
    with their message."""
    del rest
    argv, _ = python_target("pythreads", "system")
    target = start_ready(argv, 30.0)
    pid = str(target.pid)

    def folded(args, **kw):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.folded")
            r = run_hotspy(["record", "-o", out] + args, **kw)
            if r.returncode != 0:
                fail("record %s exited %d" % (" ".join(args), r.returncode))
            with open(out, encoding="utf-8", errors="replace") as f:
                return r, [l.rpartition(" ")[0].split(";") for l in f if l.strip()]

    def py_frames(stacks):
        return [fr for st in stacks for fr in st if PY_FRAME_TEXT.search(fr)]

    try:
        short = ["-p", pid, "-d", "0.6", "-r", "200"]
        r, st = folded(["-i"] + short)
        if "wall-clock" not in r.stderr:
            fail("-i: not wall-clock time (py-spy's --idle)")
        if not any("nap" in fr for s_ in st for fr in s_):
            fail("-i: the sleeping thread's nap is not in the profile")
        r, st = folded(["-s"] + short)
        if not all(re.match(r".* \(%s\)$" % pid, s_[0]) for s_ in st):
            fail("-s: the processes are not root frames NAME (PID) (--subprocesses)")
        for flag in ("-F", "--function", "--nolineno"):
            r, st = folded(["--lines", flag] + short)
            lined = [fr for fr in py_frames(st) if re.search(r"\.pyw?:\d+\)$", fr)]
            if lined:
                fail("%s: frames with lines: %s" % (flag, lined[:2]))
        r, st = folded(["-n"] + short)
        natives = [fr for fr in (s_[-1] for s_ in st) if not PY_FRAME_TEXT.search(fr)]
        if not natives:
            fail("-n: no native leaf (zlib's code under compress_loop) in mixed stacks")
        r, st = folded(["--nonblocking"] + short)
        if "never pauses the whole process" not in r.stderr:
            fail("--nonblocking: not said what it means here")
        r, st = folded(["--full-filenames"] + short)
        if not any("/pythreads.py" in fr for fr in py_frames(st)):
            fail("--full-filenames: no full path to pythreads.py")
        folded(["--hideprogress"] + short)
        r, st = folded(["-g"] + short)
        if "--gil:" not in r.stderr:
            fail("-g: the summary does not say what --gil left out")
        r, st = folded(["-d", "unlimited", "--", sys.executable, "-c", "pass"])
        if "program exited" not in r.stderr:
            fail("-d unlimited: the recording did not last until the program's end")
        with tempfile.TemporaryDirectory() as tmp:
            raw = os.path.join(tmp, "raw.txt")
            run_hotspy(["record", "-f", "raw", "-o", raw] + short)
            with open(raw) as f:
                if not all(re.match(r"^.+ \d+$", l) for l in f if l.strip()):
                    fail("-f raw: not folded stacks")
        r = run_hotspy(["dump", "-j", "-p", pid])
        try:
            json.loads(r.stdout)
        except ValueError:
            fail("dump -j: not JSON")
        r = run_hotspy(["dump", "-n", "-p", pid])
        if r.returncode != 0 or "Thread" not in r.stdout:
            fail("dump -n: exit %d" % r.returncode)
        r = run_hotspy(["dump", "-l", "-p", pid])
        if r.returncode != 0 or "Locals:" not in r.stdout:
            fail("dump -l: exit %d, no locals shown" % r.returncode)
        r = run_hotspy(["top", "--batch", "-n", "1", "--delay", "0.5", "-i", "-s",
                        "--nonblocking", "--full-filenames", "--native", "-p", pid])
        if r.returncode != 0 or "wall-clock" not in r.stdout:
            fail("top -i -s --nonblocking --full-filenames --native: exit %d" % r.returncode)
        expect_error(["record", "-F", "99", "-p", pid], 2, ["-r HZ", "perf's -F"])
        expect_error(["record", "--capture", "-p", pid], 2, ["never captured"])
        expect_error(["record", "-f", "chrometrace", "-p", pid], 2, ["speedscope"])
        expect_error(["dump", "-c", "core", "-p", pid], 2, ["not core files"])
        expect_error(["dump", "--core", "core"], 2, ["not core files"])
        expect_error(["record", "-t", "-p", pid], 2, ["py-spy's -t is --threads"])
        expect_error(["r", "-p", pid], 2, ["'record' or 'report'"])
        state = proc_state(target.pid)
        if state is None or state in ("t", "T"):
            fail("target harmed (state %s)" % state)
    finally:
        stop(target)
    print("PASS")

TOP_GIL = re.compile(r"  GIL (\d+)%")


def case_pytop(rest):
    """pytop [INTERPRETER]: `top --batch` on pygil (two threads spinning in
    Python, one hashing without the GIL) shows the share of samples that
    held the GIL (py-spy top's "GIL"): a part of them, as the hashing
    thread's are not; with -g every kept sample held it, and the hashing
    code is gone from the table while `spin` leads it."""
    p = argparse.ArgumentParser(prog="pytop")
    p.add_argument("interpreter", nargs="?", default="system")
    a = p.parse_args(rest)
    argv, _ = python_target("pygil", a.interpreter)
    target = start_ready(argv, 8.0)
    try:
        shown = {}
        for flags in ([], ["-g"]):
            r = run_hotspy(["top", "--batch", "-n", "2", "--delay", "1"] + flags +
                           ["-p", str(target.pid)])
            print(r.stdout)
            if r.returncode != 0:
                fail("top %s exited %d" % (" ".join(flags), r.returncode))
            # The last refresh: its header and its table.
            last = r.stdout.split("hotspy top:")[-1]
            m = TOP_GIL.search(last)
            if not m:
                fail("top %s: no GIL share in the header" % " ".join(flags))
            rows = [l for l in last.split("\n") if "%" in l and "(" in l][1:]
            shown[bool(flags)] = (int(m.group(1)), rows)
        gil, _ = shown[False]
        if not 5 <= gil <= 95:
            fail("top: GIL held in %d%% of the samples; the hashing thread's are not "
                 "held, the spinning ones' are: expected between 5 and 95" % gil)
        gil, rows = shown[True]
        if gil != 100:
            fail("top -g: %d%% of the kept samples held the GIL, expected 100" % gil)
        if not rows or "spin (pygil.py" not in rows[0]:
            fail("top -g: spin does not lead the table: %r" % rows[:2])
        if any("libcrypto" in l or "zlib" in l or "libz" in l for l in rows):
            fail("top -g: the hashing thread's code is in the table")
        state = proc_state(target.pid)
        if state is None or state in ("t", "T"):
            fail("target harmed by top (state %s)" % state)
    finally:
        stop(target)
    print("PASS")

MARKERS = ("[truncated]", "[unknown]")

# A node program whose time goes to JIT-compiled JavaScript, three calls
# deep, for about MS milliseconds.
NODE_LOOP = """
function leaf(n) { let s = 0; for (let i = 0; i < n; i++) s += Math.sqrt(i * 1.0001) % 7; return s; }
function mid(n) { return leaf(n) + leaf(n >> 1); }
function top(ms) { let t = 0; const end = Date.now() + ms; while (Date.now() < end) t += mid(100000); return t; }
console.log(top(MS));
"""


def case_jitstacks(rest):
    """Code without unwind information: JIT code. node's (V8 keeps frame
    pointers) must be walked through to the bottom by the frame-pointer
    fallback; PCRE2's (grep -P; no frame pointer) keeps its identity as a
    leaf and ends in [unknown], never [truncated] (the copy was whole)."""
    p = argparse.ArgumentParser(prog="jitstacks")
    p.add_argument("program", choices=["node", "grep"])
    p.add_argument("sampler", choices=["perf", "ptrace"])
    a = p.parse_args(rest)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.folded")
        common = ["record", "-r", "300", "-f", "folded", "-o", out, "--sampler", a.sampler, "--"]
        if a.program == "node":
            node = shutil.which("node")
            if not node:
                print("SKIP: node is not installed")
                sys.exit(SKIP)
            r = run_hotspy(common + [node, "-e", NODE_LOOP.replace("MS", "1500")])
        else:
            grep = shutil.which("grep")
            if not grep or subprocess.run([grep, "-P", "x"], input="", text=True,
                                          stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL).returncode == 2:
                print("SKIP: no grep with -P")
                sys.exit(SKIP)
            text = os.path.join(tmp, "text")
            with open(text, "w") as f:
                line = "static int unwind_step_%d(struct walk *w, uint64_t pc_%d) { return f(%d); }\n"
                for i in range(400000):
                    f.write(line % (i, i, i))
            # The same file 8 times: a second or so of matching.
            r = run_hotspy(common + [grep, "-cP", r"(\w+)_(\w+)\s*\(.*\d+\)\s*;"] +
                           [text] * 8)
        print(r.stderr, end="")
        if r.returncode != 0 or "samples in" not in r.stderr:
            fail("hotspy exited %d" % r.returncode)
        stacks = []
        with open(out) as f:
            for line in f:
                st, _, count = line.rstrip("\n").rpartition(" ")
                stacks.append((st.split(";")[1:], int(count)))
        total = sum(c for _, c in stacks)
        if total < 30:
            fail("only %d samples" % total)
        # The stacks are shallow: a copy is short only where the kernel
        # could not read a page of it at the sample (perf), which is rare;
        # a walk that stops in JIT code is never a short copy.
        cut = sum(c for fr, c in stacks if "[truncated]" in fr)
        for fr, c in stacks:
            if "[truncated]" in fr:
                print("cut: %s %d" % (";".join(fr)[:300], c))
        if cut > 0.05 * total:
            fail("%d of %d samples end in [truncated], though their stacks are "
                 "shallow" % (cut, total))
        jit_cut = sum(c for fr, c in stacks if "[truncated]" in fr and fr and
                      fr[-1].startswith("[anon:0x"))
        if jit_cut:
            fail("%d samples in JIT code end in [truncated]" % jit_cut)
        if a.program == "node":
            stopped = sum(c for fr, c in stacks if fr and fr[0] in MARKERS)
            depth = sum(c * len([x for x in fr if x not in MARKERS])
                        for fr, c in stacks) / total
            print("node: %.1f%% of the samples end in a marker, mean depth %.1f frames"
                  % (100.0 * stopped / total, depth))
            # Before the fallback: 93 % stopped, 1.5-2 frames deep.
            if stopped > 0.10 * total:
                fail("%.1f%% of the samples stop in code without unwind information"
                     % (100.0 * stopped / total))
            if depth < 10:
                fail("mean depth %.1f frames: the walks stop early" % depth)
        else:
            unnamed = sum(c for fr, c in stacks if fr and fr[-1] == "[unknown]")
            jit = sum(c for fr, c in stacks if fr and fr[-1].startswith("[anon:0x"))
            print("grep: %d samples in anonymous code, %d with an unnamed leaf"
                  % (jit, unnamed))
            if unnamed:
                fail("%d samples have a bare [unknown] leaf" % unnamed)
            if not jit:
                print("SKIP: grep's PCRE2 ran no JIT code")
                sys.exit(SKIP)


def case_exec(rest):
    """A process that runs another program mid-recording is shown under
    both names, each half named with its own program's mappings."""
    sampler, mode = rest[0], rest[1]
    fixture = os.path.join(ARGS.fixtures, "execer")
    args = ["record", "-o", "-", "-f", "folded", "--sampler", sampler]
    target = None
    try:
        if mode == "launch":
            # Fixed work (-n: ~0.6 s of CPU each half), not time: on a
            # loaded machine a timed half would get few on-CPU samples.
            r = run_hotspy(args + ["--", fixture, "-n", "60"])
        else:
            target = subprocess.Popen([fixture, "-n", "80"])
            time.sleep(0.3)
            r = run_hotspy(args + ["-p", str(target.pid)])
        if r.returncode != 0:
            if "not permitted" in r.stderr or "perf_event_paranoid" in r.stderr:
                print("SKIP: %s sampling not permitted here" % sampler)
                sys.exit(SKIP)
            fail("hotspy exited %d" % r.returncode)
        if target is not None and target.wait(timeout=30) != 0:
            fail("the fixture exited %d after the detach" % target.returncode)
        total = before = after = crossed = unknown = 0
        roots = set()
        for line in r.stdout.splitlines():
            stack, _, count = line.rpartition(" ")
            frames = stack.split(";")
            n = int(count)
            total += n
            roots.add(frames[0])
            if "before_exec" in frames[1:]:
                if frames[0] == "execer":
                    before += n
                else:
                    crossed += n
            if "after_exec" in frames[1:]:
                if frames[0] == "execed":
                    after += n
                else:
                    crossed += n
            if any(f.startswith("[unknown]") for f in frames[1:]):
                unknown += n
        if total < 40:
            fail("only %d samples" % total)
        share = lambda x: 100.0 * x / total
        print("%d samples: before_exec under execer %.1f %%, after_exec under execed "
              "%.1f %%, under the wrong root %.1f %%, [unknown] %.1f %%, roots %s"
              % (total, share(before), share(after), share(crossed), share(unknown),
                 sorted(roots)))
        if "execer" not in roots or "execed" not in roots:
            fail("the roots are %s: the process must be shown as execer before "
                 "the exec and as execed after" % sorted(roots))
        # Each half does as much work (launched: ~50 % each; attached
        # 0.3 s in: ~40 and ~60 % on an idle machine): a half named with
        # the other half's mappings would be [unknown] or missing.
        if share(before) < 20 or share(after) < 20:
            fail("before_exec under execer %.1f %%, after_exec under execed %.1f %%: "
                 "each half must be named with its own program"
                 % (share(before), share(after)))
        if share(crossed) > 2:
            fail("%.1f %% of the samples under the other program's root" % share(crossed))
        # The exec itself (the kernel's part, the loader) is a few samples.
        if share(unknown) > 8:
            fail("%.1f %% of the samples are [unknown]" % share(unknown))
    finally:
        if target is not None and target.poll() is None:
            target.kill()
            target.wait()
    print("PASS")


def roots_of(folded):
    """{root frame: samples} of a folded file."""
    roots = {}
    with open(folded) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            root = stack.split(";")[0]
            roots[root] = roots.get(root, 0) + float(count)
    return roots


def process_folded(folded, root, out):
    """The stacks of root `NAME (PID)` into @out, rooted at NAME as a
    single-process profile is; how many samples."""
    name = root.rpartition(" (")[0]
    total = 0.0
    with open(folded) as f, open(out, "w") as o:
        for line in f:
            if line.startswith(root + ";"):
                o.write(name + line[len(root):])
                total += float(line.rpartition(" ")[2])
    return total


def record_all(args, tmp, name, timeout=60):
    """hotspy record ARGS into a folded file; the result (with hotspy's pid
    as r.pid) and the file."""
    out = os.path.join(tmp, name + ".folded")
    cmd = ["record", "-q", "-f", "folded", "-o", out] + args
    print("$ hotspy " + " ".join(cmd))
    p = subprocess.Popen([ARGS.hotspy] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    stdout, stderr = p.communicate(timeout=timeout)
    sys.stdout.write(stderr)
    r = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    r.pid = p.pid
    return r, out


def case_allcpus(rest):
    del rest
    fixtures = ARGS.fixtures
    hot = subprocess.Popen([os.path.join(fixtures, "hotspots"), "20"])
    lib = subprocess.Popen([os.path.join(fixtures, "sharedlib"), "20"])
    late = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            time.sleep(0.2)
            # --comm: a substring (otspots) and a glob (cxxho?); cxxhot starts
            # while it records, read when first sampled.
            out = os.path.join(tmp, "comm.folded")
            rec = subprocess.Popen([ARGS.hotspy, "record", "-q", "-f", "folded", "-o", out,
                                    "-d", "1.6", "--comm", "otspots", "--comm", "cxxho?"],
                                   stderr=subprocess.PIPE, text=True)
            time.sleep(0.4)
            late = subprocess.Popen([os.path.join(fixtures, "cxxhot"), "1"])
            _, err = rec.communicate(timeout=60)
            sys.stdout.write(err)
            late.wait(timeout=30)
            if rec.returncode == 1 and "cannot sample the whole machine" in err:
                print("SKIP: " + err.strip().splitlines()[-1])
                sys.exit(SKIP)
            if rec.returncode != 0:
                fail("record --comm: exit %d" % rec.returncode)
            roots = roots_of(out)
            print("roots: %s" % roots)
            for root in roots:
                if not root.startswith(("hotspots (", "cxxhot (")):
                    fail("--comm otspots --comm cxxho? took %r" % root)
            mine = "hotspots (%d)" % hot.pid
            # Few samples ask for: the machine may be busy (no share is
            # measured here).
            if roots.get(mine, 0) < 10:
                fail("--comm: %s has %s samples" % (mine, roots.get(mine)))
            if "sharedlib (%d)" % lib.pid in roots:
                fail("--comm took sharedlib")
            one = os.path.join(tmp, "hot.folded")
            process_folded(out, mine, one)
            with open(one) as f:
                if "hot_a" not in f.read():
                    fail("--comm: no hot_a under %s" % mine)
            started = "cxxhot (%d)" % late.pid
            if roots.get(started, 0) < 3:
                fail("a process started during the recording: %s has %s samples" %
                     (started, roots.get(started)))
            process_folded(out, started, one)
            with open(one) as f:
                if ";main;" not in f.read():
                    fail("%s: its frames are not named (no main)" % started)

            # -p A,B: those two, each its own root.
            r, out = record_all(["-d", "1", "-p", "%d,%d" % (hot.pid, lib.pid)], tmp, "list")
            if r.returncode != 0:
                fail("record -p A,B: exit %d" % r.returncode)
            roots = roots_of(out)
            print("roots: %s" % roots)
            want = {"hotspots (%d)" % hot.pid, "sharedlib (%d)" % lib.pid}
            if set(roots) != want:
                fail("-p %d,%d recorded %s" % (hot.pid, lib.pid, sorted(roots)))

            # A listed id that names no process: nothing would ever come.
            r, _ = record_all(["-d", "1", "-p", "%d,999999999" % hot.pid], tmp, "gone")
            if r.returncode != 1 or "no process 999999999" not in r.stderr:
                fail("-p with a wrong PID in the list: exit %d" % r.returncode)

            # The bpf sampler on the same per-CPU events.
            r, out = record_all(["-d", "1", "-a", "-p", str(hot.pid), "--sampler", "bpf"],
                                tmp, "bpf")
            if bpf_refusal(r):
                print("bpf part skipped: " + bpf_refusal(r))
            elif r.returncode != 0:
                fail("record -a --sampler bpf: exit %d" % r.returncode)
            else:
                roots = roots_of(out)
                print("roots: %s" % roots)
                if list(roots) != [mine]:
                    fail("-a -p %d --sampler bpf recorded %s" % (hot.pid, sorted(roots)))
                process_folded(out, mine, one)
                with open(one) as f:
                    if "hot_a" not in f.read():
                        fail("--sampler bpf -a: no hot_a")

        # Without the right to per-CPU events: refused with the remedy.
        with open("/proc/sys/kernel/perf_event_paranoid") as f:
            paranoid = int(f.read())
        if os.geteuid() == 0 and paranoid > 0 and os.path.exists("/usr/bin/setpriv"):
            r = subprocess.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                "--clear-groups", ARGS.hotspy, "record", "-a", "-d", "1",
                                "-o", "/dev/null"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=30)
            sys.stdout.write(r.stderr)
            if r.returncode != 1:
                fail("unprivileged -a: exit %d, expected 1" % r.returncode)
            for w in ("cannot sample the whole machine", "perf_event_paranoid",
                      "run as root"):
                if w not in r.stderr:
                    fail("unprivileged -a: message lacks %r" % w)
        else:
            print("unprivileged part skipped: needs root, setpriv and "
                  "perf_event_paranoid > 0 (it is %d)" % paranoid)
        for t in (hot, lib):
            if proc_state(t.pid) in (None, "t", "T"):
                fail("a fixture was harmed (state %s)" % proc_state(t.pid))
    finally:
        for t in (hot, lib, late):
            if t and t.poll() is None:
                t.kill()
                t.wait()
    print("PASS")


def cpu_ticks(pid):
    """utime + stime of process @pid, in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


def case_allcpus_shares(rest):
    del rest
    fixtures = ARGS.fixtures
    hot = subprocess.Popen([os.path.join(fixtures, "hotspots"), "20"])
    lib = subprocess.Popen([os.path.join(fixtures, "sharedlib"), "20"])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            time.sleep(0.2)
            # 500 Hz: enough samples of each fixture for its .expect's
            # tolerances even when other work takes most of the CPUs (at
            # 1000 Hz a busy machine fills the rings: samples are lost).
            before = {t.pid: cpu_ticks(t.pid) for t in (hot, lib)}
            r, out = record_all(["-a", "-d", "2", "-r", "500"], tmp, "all")
            used = {t.pid: cpu_ticks(t.pid) - before[t.pid] for t in (hot, lib)}
            if r.returncode == 1 and "cannot sample the whole machine" in r.stderr:
                print("SKIP: " + r.stderr.strip().splitlines()[-1])
                sys.exit(SKIP)
            if r.returncode != 0:
                fail("record -a: exit %d" % r.returncode)
            roots = roots_of(out)
            counts = {}
            for name, t in (("hotspots", hot), ("sharedlib", lib)):
                root = "%s (%d)" % (name, t.pid)
                one = os.path.join(tmp, name + ".folded")
                counts[name] = process_folded(out, root, one)
                print("%s: %d samples" % (root, counts[name]))
                if counts[name] < 100:
                    fail("-a: %s has %d samples" % (root, counts[name]))
                if not check_profile(name, one, False):
                    fail("-a: %s does not meet %s.expect" % (root, name))
            print("%d processes in all" % len(roots))
            if any(root.endswith(" (%d)" % r.pid) for root in roots):
                fail("-a sampled hotspy itself (%d)" % r.pid)
            # Each process's samples in proportion to the CPU time it used
            # (the kernel's count, in clock ticks, taken around the
            # recording: a little wider than it, hence the tolerance).
            ratio = counts["hotspots"] / counts["sharedlib"]
            cpu = used[hot.pid] / max(used[lib.pid], 1)
            print("samples %.2f : 1, CPU time %.2f : 1" % (ratio, cpu))
            if not 1 / 1.35 <= ratio / max(cpu, 1e-9) <= 1.35:
                fail("samples %.2f : 1 where the CPU time was %.2f : 1" % (ratio, cpu))
    finally:
        for t in (hot, lib):
            t.kill()
            t.wait()
    print("PASS")


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--hotspy", required=True)
    p.add_argument("--fixtures", required=True)
    p.add_argument("--expect-dir", required=True)
    p.add_argument("case", choices=["profile", "signal", "errors", "usage", "tid", "fds", "escapes", "permission", "perf",
                                      "kernel", "progress", "sampler", "shortthreads",
                                      "smoke", "follow", "pyprofile", "pysignal",
                                      "pydump", "pytop", "pyspyflags", "jitstacks",
                                       "exec", "pyworkersdump", "bpf", "pybpf", "allcpus",
                                       "allcpus_shares"])
    p.add_argument("rest", nargs=argparse.REMAINDER)
    ARGS = p.parse_args()
    if not os.path.exists(ARGS.hotspy):
        fail("no hotspy binary at " + ARGS.hotspy)
    {"profile": case_profile, "signal": case_signal, "errors": case_errors,
     "usage": case_usage, "tid": case_tid, "fds": case_fds,
     "escapes": case_escapes,
     "permission": case_permission, "perf": case_perf, "kernel": case_kernel_perf,
     "progress": case_progress, "sampler": case_sampler,
     "shortthreads": case_shortthreads, "smoke": case_smoke,
     "follow": case_follow, "pyprofile": case_pyprofile, "pysignal": case_pysignal, "pybpf": case_pybpf,
     "pydump": case_pydump, "pytop": case_pytop, "pyspyflags": case_pyspyflags,
     "jitstacks": case_jitstacks, "exec": case_exec,
     "pyworkersdump": case_pyworkersdump, "bpf": case_bpf, "allcpus": case_allcpus,
     "allcpus_shares": case_allcpus_shares}[ARGS.case](ARGS.rest)


ARGS = None
if __name__ == "__main__":
    main()
