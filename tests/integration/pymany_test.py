#!/usr/bin/env python3
"""Many Python threads (issue 15): hotspy on fixtures/python/pymany.py.

    pymany_test.py --hotspy BIN --fixtures DIR --expect-dir DIR MODE NAME...

MODE and NAME (interpreters, tests/python/interpreters.py) as case_pymany
says. Exits 0 on pass, 1 on failure, 77 when it cannot run here. Shares
hotspy_test.py's helpers (attaching, the interpreter matrix).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

import hotspy_test
from hotspy_test import (CHECKER, HERE, PY_FIXTURES_DIR, SKIP, fail, proc_state,
                         python_target, run_hotspy, skip_if_bpf_refused, start_ready, stop,
                         traced_threads)

PYMANY_THREADS = 64   # the fixture's default: 4 busy, 60 waiting


def pymany_threads(folded):
    """{thread name: [samples, set of Python functions]} of a folded
    profile with thread frames; the fixture's names are unique."""
    threads = {}
    with open(folded, encoding="utf-8", errors="replace") as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            frames = stack.split(";")
            if len(frames) < 2 or not count.isdigit():
                continue
            name = frames[1].rsplit(" (", 1)[0]
            entry = threads.setdefault(name, [0, set()])
            entry[0] += int(count)
            entry[1].update(fr.split(" (", 1)[0] for fr in frames[2:])
    return threads


def pymany_names(nthreads, nbusy):
    """The thread names pymany gives (its header), and the function each
    waiter waits in."""
    names = {"MainThread": "main"}
    for i in range(1, nthreads + 1):
        if i <= nbusy:
            names["busy-%d" % i] = "busy_%d" % ((i - 1) % 4 + 1)
        else:
            kind = ("event", "queue", "sleep")[(i - nbusy - 1) % 3]
            names["wait-%s-%d" % (kind, i - nbusy)] = "wait_" + kind
    return names


def pymany_record(argv, fixture_args, seconds, hotspy_args, tmp, outlive=1.0,
                  untraced=False):
    """Start pymany (@fixture_args), attach `hotspy record` for @seconds
    (the fixture runs @outlive seconds longer, so that it is seen running on
    after the detach);
    fail when hotspy fails, does not end on -d, or harms the target; with
    @untraced, also when a thread of the target is ever traced while it is
    recorded (looked at every 20 ms). Returns (folded path, hotspy's stderr,
    hotspy's wall time, the fixture's stdout after `ready`)."""
    out = os.path.join(tmp, "out.folded")
    target = start_ready(argv + fixture_args, seconds + outlive)
    traced, looks, done = [], [0], threading.Event()

    def watch():
        while not done.is_set():
            traced.extend(traced_threads(target.pid))
            looks[0] += 1
            done.wait(0.02)

    watcher = threading.Thread(target=watch) if untraced else None
    try:
        if watcher:
            watcher.start()
        t0 = time.monotonic()
        try:
            r = run_hotspy(["record", "-o", out, "-f", "folded", "--threads", "-d",
                            str(seconds), "-p", str(target.pid)] + hotspy_args, timeout=60)
        finally:
            done.set()
            if watcher:
                watcher.join()
        wall = time.monotonic() - t0
        skip_if_bpf_refused(r)
        if r.returncode != 0:
            fail("hotspy exited %d" % r.returncode)
        if untraced:
            print("TracerPid looked at %d times while recording" % looks[0])
            if traced:
                fail("threads of the target were traced while recorded: %s"
                     % ", ".join(sorted(set(traced))[:10]))
            if looks[0] < 10:
                fail("the target was looked at only %d times" % looks[0])
        if "duration reached" not in r.stderr:
            fail("hotspy did not end on its -d duration")
        state = proc_state(target.pid)
        if state in ("t", "T"):
            fail("target left stopped (state %s) after hotspy detached" % state)
        rest, _ = target.communicate(timeout=60)
        if target.returncode != 0:
            fail("attached fixture exited %d instead of 0" % target.returncode)
    finally:
        stop(target)
    return out, r.stderr, wall, rest.decode("utf-8", "replace")


def case_pymany(rest):
    """pymany shares|idle|busy [--sampler=KIND] NAME...: pymany (64 threads)
    under each interpreter NAME, attached at 100 Hz (by the sampler auto
    picks, or KIND).
      shares  the default run (4 busy, 60 waiting), on-CPU: the busy
              threads' split meets pymany.expect
      idle    --idle: every one of the 65 threads is sampled, named as
              Python names it, and each waiter is seen where it waits;
              interpreters absent are skipped, all absent is a skip
      busy    64 threads busy in a C call without the GIL (--nogil), all
              runnable on 2 CPUs: the recording ends within a bound, no
              thread is left unlet at the detach, every thread is sampled,
              and each one's share is near its share of the CPU (-v)"""
    mode, names = rest[0], rest[1:]
    sampler = []
    if names and names[0].startswith("--sampler="):
        sampler = ["--sampler", names[0].split("=", 1)[1]]
        names = names[1:]
    if mode == "shares":
        argv, version = python_target("pymany", names[0])
        with tempfile.TemporaryDirectory() as tmp:
            out, _, _, said = pymany_record(argv, ["-v"], 3, ["-r", "100"], tmp)
            # What the busy threads used (the fixture's whole run): on a
            # machine too loaded to give them their duties, the split
            # flattens, and the expectation does not describe the run.
            print(said.strip())
            stated = {"busy-1": 40.0, "busy-2": 30.0, "busy-3": 20.0, "busy-4": 10.0}
            for name, share in stated.items():
                m = re.search(r"\b%s ([0-9.]+) %%" % name, said)
                if not m:
                    fail("the fixture did not print its CPU split (-v): %r" % said[-300:])
                if abs(float(m.group(1)) - share) > 5.0:
                    print("SKIP: the machine is too loaded for the fixture's split: %s used "
                          "%s %% of the busy threads' CPU, not %g %%"
                          % (name, m.group(1), share))
                    sys.exit(SKIP)
            cmd = [sys.executable, CHECKER, os.path.join(PY_FIXTURES_DIR, "pymany.expect"),
                   out, "--threads", "--python-version", version]
            c = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            print(c.stdout, end="")
            if c.returncode != 0:
                fail("profile of pymany under %s does not meet pymany.expect" % names[0])
    elif mode == "idle":
        sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
        import interpreters
        present = [n for n in names if interpreters.find(n)]
        if not present:
            print("SKIP: none of %s is installed" % ", ".join(names))
            sys.exit(SKIP)
        expected = pymany_names(PYMANY_THREADS, 4)
        for name in present:
            argv, version = python_target("pymany", name)
            with tempfile.TemporaryDirectory() as tmp:
                out, _, _, _ = pymany_record(argv, [], 1, ["-r", "100", "--idle"], tmp,
                                             outlive=0.5)
                threads = pymany_threads(out)
            missing = sorted(set(expected) - set(threads))
            if missing:
                fail("Python %s, --idle: %d of %d threads never sampled (or not named as "
                     "Python names them): %s" % (version, len(missing), len(expected),
                                                 ", ".join(missing[:10])))
            for thread, func in sorted(expected.items()):
                if func not in threads[thread][1]:
                    fail("Python %s: thread %s never seen in %s" % (version, thread, func))
            total = float(sum(v[0] for v in threads.values()))
            shares = sorted(100.0 * threads[t][0] / total for t in expected)
            print("Python %s: %d threads sampled, each %.2f-%.2f %% of the samples "
                  "(equal: %.2f)" % (version, len(expected), shares[0], shares[-1],
                                      100.0 / len(expected)))
            # Wall-clock time: every thread at every tick, or, when a tick
            # cannot stop them all, in turns that rotate (the rotor).
            if shares[0] < 0.4 or shares[-1] > 4.0:
                fail("Python %s, --idle: thread shares spread %.2f-%.2f %%, not near "
                     "equal" % (version, shares[0], shares[-1]))
    elif mode == "busy":
        argv, version = python_target("pymany", names[0])
        seconds = 3.0
        with tempfile.TemporaryDirectory() as tmp:
            # The fixture outlives the recording by more: the attach to
            # 65 threads and the first look at the interpreter take a
            # while when 64 threads keep both CPUs busy.
            out, err, wall, said = pymany_record(
                argv, ["--busy", str(PYMANY_THREADS), "--nogil", "-v"], seconds,
                ["-r", "100"] + sampler, tmp, outlive=1.5, untraced=sampler == ["--sampler", "bpf"])
            if sampler and "%s sampler" % sampler[1] not in err:
                fail("the summary does not name the %s sampler" % sampler[1])
            threads = pymany_threads(out)
        print("hotspy ran %.1f s for -d %g" % (wall, seconds))
        # The stall: a -d 5 recording ran 8 s, 14 threads were not
        # let go in time. Start-up and detach take well under a second.
        if wall > seconds + 3.0:
            fail("hotspy took %.1f s for a %g s recording: sampling stalled" % (wall, seconds))
        if "did not stop" in err:
            fail("threads were not let go at the detach")
        m = re.search(r"cpu seconds in ([0-9.]+) s: (.*)", said)
        if not m:
            fail("the fixture did not print its CPU times (-v): %r" % said[-300:])
        run_wall = float(m.group(1))
        cpu = dict((kv.split("=")[0], float(kv.split("=")[1])) for kv in m.group(2).split())
        busy = ["busy-%d" % i for i in range(1, PYMANY_THREADS + 1)]
        cpu_total = sum(cpu.get(t, 0.0) for t in busy) or 1.0
        # Periods of CPU each thread used while recorded, about (its time
        # spread evenly over the fixture's run): what its samples stand for.
        periods = dict((t, cpu.get(t, 0.0) * seconds / run_wall * 100) for t in busy)
        print("the fixture's 64 threads used %.2f s of CPU in %.2f s (%.2f CPUs)"
              % (cpu_total, run_wall, cpu_total / run_wall))
        # A thread with a few periods of CPU has a sample with near
        # certainty (its credit is spent at its next snapshot); one that
        # the machine's load left with less may have none, rightly.
        owed = [t for t in busy if periods[t] >= 4]
        if len(owed) < len(busy) // 4:
            print("SKIP: the machine is too loaded: the fixture's threads got %.2f CPUs, "
                  "%d of them 4 periods of CPU or more" % (cpu_total / run_wall, len(owed)))
            sys.exit(SKIP)
        missing = [t for t in owed if t not in threads]
        if missing:
            fail("%d of %d busy threads with 4 periods of CPU or more never sampled: %s"
                 % (len(missing), len(owed), ", ".join(missing[:10])))
        total = float(sum(threads[t][0] for t in busy if t in threads))
        worst, worst_t = 0.0, None
        for t in busy:
            diff = abs(100.0 * threads.get(t, [0])[0] / total - 100.0 * cpu.get(t, 0.0) / cpu_total)
            if diff > worst:
                worst, worst_t = diff, t
        print("busy threads: %d sampled; the largest difference between a thread's share "
              "of the samples and of the CPU: %.2f points (%s)"
              % (len([t for t in busy if t in threads]), worst, worst_t))
        # ~200 samples over 64 threads: 3 samples a thread, one standard
        # deviation about 0.9 points; a thread always left out or always
        # taken first would be off by its whole share or more. The bpf
        # sampler takes every period of every thread (~600 samples): 3
        # points, the bound.
        if worst > (3.0 if sampler == ["--sampler", "bpf"] else 4.0):
            fail("thread %s: sample share %.2f points away from its CPU share"
                 % (worst_t, worst))
    else:
        fail("pymany: unknown mode " + mode)
    print("PASS")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hotspy", required=True)
    p.add_argument("--fixtures", required=True)
    p.add_argument("--expect-dir", required=True)
    p.add_argument("mode", choices=["shares", "idle", "busy"])
    p.add_argument("--sampler", help="busy: hotspy's --sampler (bpf: TracerPid watched too)")
    p.add_argument("names", nargs="+", metavar="NAME")
    args = p.parse_args()
    if not os.path.exists(args.hotspy):
        fail("no hotspy binary at " + args.hotspy)
    hotspy_test.ARGS = args
    case_pymany([args.mode] + (["--sampler=" + args.sampler] if args.sampler else [])
                + args.names)


if __name__ == "__main__":
    main()
