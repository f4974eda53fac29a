#!/usr/bin/env python3
"""The reliability battery: hotspy under faults, and the promises it keeps
(docs/reliability.md says what each category does and how to run it).

    battery.py --hotspy BIN --fixtures DIR [--trials N] [--early N]
               [--only CATEGORY,...] [--seed S] [--fuzz-seconds N]
               [--source DIR] [--valgrind] [--keep]

Categories (CATEGORIES below, in order):
  signals   SIGKILL, SIGINT, SIGTERM at a random moment of a recording:
            both samplers, attached and launched, plain, --idle, --threads,
            --subprocesses, 100 and 4000 Hz, also during the write (-d)
  early     SIGINT, SIGTERM 0-50 ms after hotspy's exec, spread
  faults    the target exits, crashes, execs, churns threads, forks fast,
            exits while being attached, is a zombie
  inputs    bad files to flamegraph, diff and report
  outputs   output paths that cannot be written, or move
  fds       hotspy's descriptors do not grow; the target's are untouched
  release   200 busy threads, ptrace, -d 3: all released when sampling ends
            (heavy: not in the CTest run)
  fuzz      the libFuzzer entries for --fuzz-seconds each (long runs only)
  valgrind  short commands under valgrind (with --valgrind)

After each trial the promises of DESIGN.md are checked: the target is never
left stopped or traced once hotspy has exited, an attached target is never
killed (it runs on and exits 0 at the end of its run), a program hotspy
started ends with the recording; the output is complete (it parses in its
format) or absent, and no temporary file is left beside it; the exit status
is the one hotspy(1) gives; an error is one clear line; hotspy's memory and
descriptors stay bounded; no sanitizer report.

--trials N is the number of signal trials (default 20, the CTest run; the
long run: --trials 1000); --early N the number of early-signal trials
(default: N / 3, at least 20); --fault-rounds N runs every fault with each
sampler N times (default N / 250; 0, the CTest run: each fault once).
Trials run one after another, niced. Each failure is printed with the
command that shows it. A trial that cannot run here is counted as skipped
with its reason, never as passed.

Exit status: 0 no failure, 1 failures, 77 every trial skipped (CTest's
SKIP_RETURN_CODE), 2 bad arguments.
"""
import argparse
import gzip
import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

SKIP = 77
# A file command must not take more than this much memory on any input
# (issue 14, item 7: /dev/zero grew past 2 GB).
MEMORY_LIMIT_KB = 512 * 1024
# The longest any single hotspy run of the battery may take before it is a
# hang: a recording ends, and writes, within this many seconds of its end.
HANG_SECONDS = 30.0
SANITIZER_WORDS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: UndefinedBehaviorSanitizer")
# Words that gave wrong reasons before (issue 14, item 9): an error naming
# them is not the real cause.
WRONG_REASONS = ("Input/output error", "Success")
FORMATS = {"folded": "folded", "flamegraph": "svg", "speedscope": "json", "pprof": "pb.gz"}


# ---------------------------------------------------------------- processes

def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


def thread_ids(pid):
    try:
        return [int(t) for t in os.listdir("/proc/%d/task" % pid)]
    except OSError:
        return []


def thread_held(pid, tid):
    """'t'/'T' or 'traced by N' when the thread is stopped or traced, None
    when it runs free (or is gone)."""
    st = read_text("/proc/%d/task/%d/stat" % (pid, tid))
    status = read_text("/proc/%d/task/%d/status" % (pid, tid))
    if st is None or status is None:
        return None
    state = st[st.rindex(")") + 2]
    m = re.search(r"^TracerPid:\s*(\d+)", status, re.M)
    if state in "tT":
        return "state %s" % state
    if m and m.group(1) != "0":
        return "traced by %s" % m.group(1)
    return None


def alive(pid):
    """True while @pid exists and is not a zombie."""
    st = read_text("/proc/%d/stat" % pid)
    return st is not None and st[st.rindex(")") + 2] not in "ZX"


def tagged(tag):
    """The live processes whose environment carries HOTSPY_BATTERY=@tag (the
    programs a launched trial started, and their children)."""
    want = ("HOTSPY_BATTERY=" + tag).encode()
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                if want in f.read().split(b"\0") and alive(int(d)):
                    pids.append(int(d))
        except OSError:
            pass
    return pids


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def fd_targets(pid):
    out = {}
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                out[int(fd)] = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                pass
    except OSError:
        pass
    return out


def rss_kb(pid):
    status = read_text("/proc/%d/status" % pid)
    m = re.search(r"^VmRSS:\s*(\d+)", status or "", re.M)
    return int(m.group(1)) if m else 0


def nice_self():
    try:
        os.nice(5)
    except OSError:
        pass


# ---------------------------------------------------------------- checks
# Each returns a list of problems (empty: the promise held).

def check_released(pid, settle=1.0):
    """No thread of @pid is stopped or traced: waited for up to @settle s
    (the kernel takes a moment to release the tracees of a killed tracer),
    then watched for 0.1 s more."""
    deadline = time.monotonic() + settle
    held = []
    while True:
        held = [(t, h) for t in thread_ids(pid) for h in [thread_held(pid, t)] if h]
        if not held or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    if held:
        return ["%d thread(s) of %d held after hotspy exited: %s" %
                (len(held), pid, ", ".join("%d %s" % x for x in held[:5]))]
    for _ in range(5):
        time.sleep(0.02)
        held = [(t, h) for t in thread_ids(pid) for h in [thread_held(pid, t)] if h]
        if held:
            return ["thread %d of %d %s after hotspy exited" % (held[0][0], pid, held[0][1])]
    return []


def check_no_temp(directory, keep=()):
    """Nothing but @keep in @directory: no temporary file (.NAME.XXXXXX)."""
    try:
        extra = sorted(set(os.listdir(directory)) - set(keep))
    except OSError:
        return []
    return ["left in the output directory: %s" % ", ".join(extra)] if extra else []


def parse_output(path, fmt):
    """None when @path is a complete file of format @fmt, else what is wrong."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return "cannot read: %s" % e
    try:
        if fmt == "folded":
            for i, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                if not re.match(r"^.+ [0-9]+(\.[0-9]+)?$", line):
                    return "line %d is not 'stack COUNT': %r" % (i, line[:80])
        elif fmt == "flamegraph":
            root = ET.fromstring(data)
            if not root.tag.endswith("svg"):
                return "root element %s" % root.tag
            m = re.search(rb'(?:width|x|y|height|fill)="[^"]*\b(nan|inf)', data, re.I)
            if m:
                return "a number that is not one: %s" % m.group(0)[:80].decode()
        elif fmt == "speedscope":
            doc = json.loads(data)
            if "profiles" not in doc:
                return "no profiles in the JSON"
        elif fmt == "pprof":
            gzip.decompress(data)
    except (ET.ParseError, ValueError, OSError, EOFError) as e:
        return "does not parse: %s" % str(e)[:120]
    return None


def check_output(path, fmt, required):
    """Complete or absent (absent is a problem when @required)."""
    if not os.path.exists(path):
        return ["no output written"] if required else []
    bad = parse_output(path, fmt)
    return ["partial output %s: %s" % (os.path.basename(path), bad)] if bad else []


def check_status(rc, allowed, what="exit status", err=""):
    """@rc among @allowed; else a problem quoting @err's first line."""
    if rc in allowed:
        return []
    said = (err.strip().splitlines() or [""])[0][:160]
    return ["%s %s, expected one of %s%s" % (what, rc, sorted(allowed),
                                              " (%s)" % said if said else "")]


def check_sanitizers(stderr):
    return ["sanitizer report: %s" % line.strip()[:160] for line in stderr.splitlines()
            if any(w in line for w in SANITIZER_WORDS)][:1]


def check_error_line(stderr, words=()):
    """An error is one clear line: 'hotspy: ...', naming its cause (@words),
    not a wrong reason, printable, short enough to read."""
    lines = [x for x in stderr.splitlines() if x.strip()]
    if not lines:
        return ["no error message"]
    first = lines[0]
    problems = []
    if not first.startswith("hotspy: "):
        problems.append("error does not start with 'hotspy: ': %r" % first[:120])
    if len(first) > 400 or any(ord(c) < 32 and c != "\t" for c in first):
        problems.append("error line unreadable: %r" % first[:120])
    for w in WRONG_REASONS:
        if w in first:
            problems.append("wrong reason %r: %s" % (w, first[:160]))
    for w in words:
        if w.lower() not in stderr.lower():
            problems.append("error lacks %r: %s" % (w, first[:160]))
    if len(lines) > 3:
        problems.append("%d lines of error output" % len(lines))
    return problems


# ---------------------------------------------------------------- results

class Results:
    """Per category: trials, failures (with the command and what broke) and
    skips (with the reason)."""

    def __init__(self):
        self.cats = {}
        self.last = time.monotonic()

    def _cat(self, cat):
        return self.cats.setdefault(cat, {"trials": 0, "failed": [], "skipped": []})

    def record(self, cat, name, cmd, problems):
        c = self._cat(cat)
        c["trials"] += 1
        if problems:
            c["failed"].append((name, cmd, problems))
            print("FAIL %s/%s: %s\n     $ %s" % (cat, name, "; ".join(problems),
                                                 cmd), flush=True)
        elif ARGS.verbose:
            print("ok   %s/%s (%.1f s)" % (cat, name, time.monotonic() - self.last), flush=True)
        self.last = time.monotonic()

    def skip(self, cat, name, reason):
        self._cat(cat)["skipped"].append((name, reason))
        print("SKIP %s/%s: %s" % (cat, name, reason), flush=True)

    def report(self, seconds):
        print("\n%-10s %7s %7s %7s" % ("category", "trials", "failed", "skipped"))
        for cat, c in self.cats.items():
            print("%-10s %7d %7d %7d" % (cat, c["trials"], len(c["failed"]), len(c["skipped"])))
        failed = sum(len(c["failed"]) for c in self.cats.values())
        trials = sum(c["trials"] for c in self.cats.values())
        print("%d trials, %d failed, %d skipped in %.0f s (seed %d)" %
              (trials, failed, sum(len(c["skipped"]) for c in self.cats.values()),
               seconds, ARGS.seed))
        print("command: %s" % " ".join(shlex.quote(a) for a in sys.argv))
        for cat, c in self.cats.items():
            kinds = {}
            for _, _, problems in c["failed"]:
                for p in problems:
                    key = re.sub(r"\.[^ ,/']*\.[A-Za-z0-9]{6}\b", ".NAME.XXXXXX", p)
                    key = re.sub(r"/tmp/[^ :,']+", "PATH", key)
                    key = re.sub(r"\d+", "N", key)[:100]
                    kinds[key] = kinds.get(key, 0) + 1
            for k, n in sorted(kinds.items(), key=lambda x: -x[1]):
                print("  %s: %d x %s" % (cat, n, k))
        if failed:
            return 1
        return SKIP if trials == 0 else 0


# ---------------------------------------------------------------- running

def quoted(argv):
    return " ".join(shlex.quote(a) for a in argv)


def run(argv, timeout=HANG_SECONDS, stdin=subprocess.DEVNULL, env=None, limit_kb=None):
    """Run @argv; (returncode, stdout, stderr, problems). A run longer than
    @timeout, or whose memory passes @limit_kb, is killed and a problem."""
    problems = []
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=err, env=env,
                             preexec_fn=nice_self)
        deadline = time.monotonic() + timeout
        peak = 0
        while p.poll() is None:
            if limit_kb:
                peak = max(peak, rss_kb(p.pid))
            if limit_kb and peak > limit_kb:
                problems.append("memory past %d MB (unbounded)" % (limit_kb // 1024))
                break
            if time.monotonic() > deadline:
                problems.append("still running after %.0f s (hang)" % timeout)
                break
            time.sleep(0.01)
        if p.poll() is None:
            p.kill()
            p.wait()
        out.seek(0)
        err.seek(0)
        return (p.returncode, out.read().decode("utf-8", "replace"),
                err.read().decode("utf-8", "replace"), problems)


class Hotspy:
    """A hotspy run in the background, its stderr in a file (not a pipe: a
    program it started inherits it, and may outlive a killed hotspy)."""

    def __init__(self, argv, env=None, session=False, stdout=subprocess.DEVNULL):
        self.argv = argv
        self.errfile = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout,
                                     stderr=self.errfile, env=env, start_new_session=session,
                                     preexec_fn=nice_self)
        self.pid = self.proc.pid

    def finish(self, timeout=HANG_SECONDS, what="its end"):
        """(exit status, stderr, problems): a hang is killed and a problem."""
        problems = []
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            problems.append("hotspy did not end within %.0f s of %s" % (timeout, what))
        self.errfile.seek(0)
        err = self.errfile.read().decode("utf-8", "replace")
        self.errfile.close()
        return self.proc.returncode, err, problems


class Target:
    """A fixture started by the battery (to be attached to), with the end it
    must come to by itself: exit 0 at the end of its run."""

    def __init__(self, argv, seconds, env=None):
        self.argv = argv
        self.end = time.monotonic() + seconds
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=env, preexec_fn=nice_self)
        self.pid = self.proc.pid
        self.fds = None

    def left(self):
        return self.end - time.monotonic()

    def finish(self, expect=(0,)):
        """Wait for the end of its run: [] when it exited with @expect. The
        fixtures count their work in CPU time per thread, so on a loaded
        machine a run lasts longer than its seconds: one still running 5 s
        after its end must be released and end on a SIGTERM (it was alive
        and not stopped, which is what is promised)."""
        try:
            rc = self.proc.wait(timeout=max(0.0, self.left()) + 5)
        except subprocess.TimeoutExpired:
            problems = check_released(self.pid, settle=0.1)
            self.proc.terminate()
            try:
                rc = self.proc.wait(timeout=5)
                expect = tuple(expect) + (-signal.SIGTERM,)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append("the target (%s) did not end on SIGTERM" % quoted(self.argv))
            if problems:
                self.proc.stderr.close()
                return problems
        self.proc.stderr.close()
        return check_status(rc, expect, "the target's exit status")

    def unharmed(self):
        """[] while it runs, or when it ended its run by itself (exit 0, not
        before its end); else how it ended."""
        rc = self.proc.poll()
        if rc is None or rc == 0 and self.left() < 1.0:
            return []
        return ["the attached target (%d) ended with status %s, %.1f s before the end of "
                "its run" % (self.pid, rc, self.left())]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stderr.close()


def kill_tagged(tag):
    for pid in tagged(tag):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def new_tag():
    return "%d-%d" % (os.getpid(), random.getrandbits(40))


def tagged_env(tag, extra=None):
    env = dict(os.environ, HOTSPY_BATTERY=tag)
    env.update(extra or {})
    return env


def fixture(name):
    return os.path.join(ARGS.fixtures, name)


def hotspy_works(sampler):
    """None when `record --sampler SAMPLER` can record here, else why not."""
    with tempfile.TemporaryDirectory(dir=ARGS.workdir) as tmp:
        out = os.path.join(tmp, "probe.folded")
        rc, _, err, _ = run([ARGS.hotspy, "record", "-q", "--sampler", sampler, "-d", "0.2",
                             "-o", out, "--", fixture("hotspots"), "0.5"])
        if rc != 0:
            return "the %s sampler cannot record here: %s" % (
                sampler, (err.strip().splitlines() or ["exit %d" % rc])[0])
    return None


# ---------------------------------------------------------------- signals

# What each variant records: the fixture, its arguments to hotspy, and the
# samplers it runs with (--idle is the ptrace sampler's).
VARIANTS = {
    "plain": ("hotspots", [], ("ptrace", "perf"), {}),
    "idle": ("sleeper", ["--idle"], ("ptrace",), {}),
    "threads": ("threads", ["--threads"], ("ptrace", "perf"), {}),
    "subprocesses": ("forker", ["--subprocesses"], ("ptrace", "perf"), {"FORKER_DELAY": "0"}),
}
SIGNALS = (signal.SIGKILL, signal.SIGINT, signal.SIGTERM)


def plan_signal_trials(n, samplers):
    """@n trials spread evenly over the samplers, the rest drawn at random:
    mode, variant, rate, signal, format, and whether -d ends the recording
    first (the signal then lands in the detach, naming or writing)."""
    plan = []
    for i in range(n):
        sampler = samplers[i % len(samplers)]
        variants = [v for v, spec in VARIANTS.items() if sampler in spec[2]]
        plan.append({
            "sampler": sampler,
            "mode": random.choice(("attach", "launch")),
            "variant": random.choice(variants),
            "rate": random.choice((100, 4000)),
            "signal": SIGNALS[i // len(samplers) % 3] if n <= 60 else random.choice(SIGNALS),
            "format": random.choice(tuple(FORMATS)),
            "duration": random.random() < 0.25,
            "moment": random.uniform(0.05, 0.9),
        })
    # Grouped so that one attached target serves the trials of its variant.
    plan.sort(key=lambda t: (t["mode"], t["variant"]))
    return plan


def recorded(rc, sig, err):
    """Whether hotspy's status says a recording was made (and written): 0,
    or 128 + N for a started program the signal killed too, unless it killed
    it before its exec ("before it started": nothing to record)."""
    return rc == 0 or rc == 128 + sig and "before it started" not in err


def signal_trial(res, t, target):
    """One signal trial: hotspy records (attached to @target, or launching
    the variant's fixture), gets t["signal"] at t["moment"]; the promises
    are checked once it has ended."""
    sig = t["signal"]
    fx, extra, _, fx_env = VARIANTS[t["variant"]]
    tag = new_tag()
    name = "%s-%s-%s-%dHz-SIG%s%s" % (t["sampler"], t["mode"], t["variant"], t["rate"],
                                      signal.Signals(sig).name[3:],
                                      "-during-write" if t["duration"] else "")
    with tempfile.TemporaryDirectory(dir=ARGS.workdir) as tmp:
        out = os.path.join(tmp, "out." + FORMATS[t["format"]])
        argv = [ARGS.hotspy, "record", "-q", "-f", t["format"], "-o", out, "-r", str(t["rate"]),
                "--sampler", t["sampler"]] + extra
        if t["duration"]:
            argv += ["-d", "%.2f" % (t["moment"] * random.uniform(0.3, 0.9))]
        if t["mode"] == "attach":
            argv += ["-p", str(target.pid)]
            fds_before = fd_targets(target.pid)
        else:
            argv += ["--", fixture(fx), "10"]
        env = tagged_env(tag, fx_env)
        # A session of its own: a launched trial's SIGINT/SIGTERM goes to the
        # whole group, as a terminal's Ctrl-C does (the program gets it too).
        hs = Hotspy(argv, env=env, session=True)
        time.sleep(t["moment"])
        ended_first = hs.proc.poll() is not None
        if not ended_first:
            try:
                if t["mode"] == "launch" and sig != signal.SIGKILL:
                    os.killpg(hs.pid, sig)
                else:
                    hs.proc.send_signal(sig)
            except ProcessLookupError:   # it ended in between
                ended_first = True
        rc, err, problems = hs.finish(what="SIG" + signal.Signals(sig).name[3:])
        # What hotspy(1) says: SIGINT, SIGTERM end the recording (exit 0,
        # or a started program's own status when the signal killed it too:
        # 128 + N); a signal that comes before hotspy set up (while the
        # loader runs) kills it, with nothing done.
        if ended_first:
            allowed = {0}
        elif sig == signal.SIGKILL:
            # 0 when the kill landed while hotspy was already exiting, its
            # profile written (then it must be whole: checked below).
            allowed = {-signal.SIGKILL, 0}
        elif t["mode"] == "attach":
            allowed = {0, -sig}
        else:
            allowed = {0, 128 + sig, -sig}
        problems += check_status(rc, allowed, err=err)
        if rc == -sig and sig != signal.SIGKILL and err.strip():
            problems.append("killed by the signal after it had started: %s" %
                            err.strip().splitlines()[0][:120])
        problems += check_output(out, t["format"], required=recorded(rc, sig, err))
        problems += check_no_temp(tmp, keep=("out." + FORMATS[t["format"]],))
        problems += check_sanitizers(err)
        if t["mode"] == "attach":
            problems += check_released(target.pid)
            problems += target.unharmed()
            after = fd_targets(target.pid)
            if after != fds_before and alive(target.pid):
                problems.append("the target's descriptors changed: %s -> %s" %
                                (sorted(fds_before.items()), sorted(after.items())))
        else:
            left = tagged(tag)
            for pid in left:
                problems += check_released(pid)
            if sig == signal.SIGKILL and left and not any(alive(p) for p in left):
                problems.append("the started program died with hotspy")
            # A program hotspy started ends with the recording (its children
            # of --subprocesses may run on to the end of their run).
            if sig != signal.SIGKILL and t["variant"] != "subprocesses" and left:
                problems.append("the started program runs on: pids %s" % left)
            kill_tagged(tag)
        res.record("signals", name, quoted(argv) + "  # SIG%s after %.3f s" %
                   (signal.Signals(sig).name[3:], t["moment"]), problems)


def cat_signals(res):
    samplers = [s for s in ("ptrace", "perf") if not SAMPLER_SKIPS.get(s)]
    for s, why in SAMPLER_SKIPS.items():
        if why:
            res.skip("signals", s, why)
    if not samplers:
        return
    target = None
    key = None
    plan = plan_signal_trials(ARGS.trials, samplers)
    for t in plan:
        fx, _, _, fx_env = VARIANTS[t["variant"]]
        # A fresh target when the variant changes or this one is near the
        # end of its run; the old one must end it by itself, with 0.
        if target and (t["mode"] != "attach" or key != t["variant"] or target.left() < 2.0):
            res.record("signals", "target-%s-exit" % key, quoted(target.argv), target.finish())
            target = None
        if t["mode"] != "attach":
            signal_trial(res, t, None)
            continue
        if not target:
            key = t["variant"]
            # Long enough for this variant's trials (about 1.3 s each), so
            # that its end, awaited, costs little.
            count = sum(1 for x in plan if x["mode"] == "attach" and x["variant"] == key)
            seconds = min(20.0, 1.5 + 1.3 * count)
            target = Target([fixture(fx), "%g" % seconds], seconds, dict(os.environ, **fx_env))
            time.sleep(0.3)   # its threads and children are made
        signal_trial(res, t, target)
    if target:
        res.record("signals", "target-%s-exit" % key, quoted(target.argv), target.finish())


def cat_early(res):
    """Item 3: SIGINT/SIGTERM in hotspy's first 50 ms. Before hotspy blocks
    them (the loader and option parsing) they kill it, with nothing done;
    from then on they end the recording as at any other moment."""
    n = ARGS.early
    target = Target([fixture("hotspots"), "60"], 60)
    outcomes = {"killed before set-up": 0, "recording ended": 0}
    try:
        time.sleep(0.2)
        # Half are a Ctrl-C to a launched program's group: the signal can
        # then reach the program while hotspy starts it, too.
        kinds = [("launch", signal.SIGINT), ("attach", signal.SIGINT),
                 ("launch", signal.SIGINT), ("attach", signal.SIGTERM),
                 ("launch", signal.SIGINT), ("launch", signal.SIGTERM)]
        for i in range(n):
            mode, sig = kinds[i % len(kinds)]
            moment = 0.050 * (i + random.random()) / n
            # A loaded machine makes the trials outlast the target's run:
            # a fresh one before its end.
            if mode == "attach" and target.left() < 5:
                target.kill()
                target = Target([fixture("hotspots"), "60"], 60)
                time.sleep(0.2)
            tag = new_tag()
            with tempfile.TemporaryDirectory(dir=ARGS.workdir) as tmp:
                out = os.path.join(tmp, "early.folded")
                argv = [ARGS.hotspy, "record", "-o", out]
                argv += (["-p", str(target.pid)] if mode == "attach"
                         else ["--", fixture("hotspots"), "10"])
                hs = Hotspy(argv, env=tagged_env(tag), session=True)
                time.sleep(moment)
                # Launched: a Ctrl-C reaches the whole group; SIGTERM is sent
                # to hotspy alone (kill PID), which ends the program.
                if mode == "launch" and sig == signal.SIGINT:
                    os.killpg(hs.pid, sig)
                else:
                    hs.proc.send_signal(sig)
                rc, err, problems = hs.finish(what="the signal")
                allowed = {0, -sig} if mode == "attach" or sig == signal.SIGTERM \
                    else {0, 128 + sig, -sig}
                problems += check_status(rc, allowed, err=err)
                if rc == -sig:
                    outcomes["killed before set-up"] += 1
                    if err.strip() or os.path.exists(out):
                        problems.append("killed by the signal after it set up: %r" %
                                        err.strip()[:120])
                else:
                    outcomes["recording ended"] += 1
                problems += check_output(out, "folded", required=recorded(rc, sig, err))
                if rc == 128 + sig and not recorded(rc, sig, err) and os.path.exists(out):
                    problems.append("a profile written for a program that never started")
                problems += check_no_temp(tmp, keep=("early.folded",))
                problems += check_sanitizers(err)
                if mode == "attach":
                    problems += check_released(target.pid) + target.unharmed()
                else:
                    left = tagged(tag)
                    if left:
                        problems.append("the started program runs on: %s" % left)
                        kill_tagged(tag)
                res.record("early", "%s-SIG%s-%.0fms" % (mode, signal.Signals(sig).name[3:],
                                                         moment * 1000),
                           quoted(argv) + "  # SIG%s after %.1f ms" %
                           (signal.Signals(sig).name[3:], moment * 1000), problems)
    finally:
        target.kill()
    print("early: %s" % ", ".join("%s %d" % kv for kv in outcomes.items()))


# ---------------------------------------------------------------- faults

CHURN_PY = r"""
import threading, time
end = time.time() + float(__import__('sys').argv[1])
def work():
    sum(range(50))
n = 0
while time.time() < end:
    ts = [threading.Thread(target=work) for _ in range(20)]
    for t in ts: t.start()
    for t in ts: t.join()
    n += 20
"""
FORKS_PY = r"""
import os, sys, time
time.sleep(float(sys.argv[1]))
for i in range(100):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
t = time.time()
while time.time() - t < 0.3: pass
"""
CRASH_PY = r"""
import ctypes, sys, time
t = time.time()
while time.time() - t < float(sys.argv[1]): pass
ctypes.string_at(0)
"""
# Threads and processes that come and go, for as long as asked.
TURNOVER_PY = r"""
import os, sys, threading, time
end = time.time() + float(sys.argv[1])
while time.time() < end:
    ts = [threading.Thread(target=sum, args=(range(50),)) for _ in range(20)]
    for t in ts: t.start()
    for t in ts: t.join()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
"""
EXEC_PY = r"""
import os, sys, time
t = time.time()
while time.time() - t < float(sys.argv[1]): pass
os.execv(sys.argv[2], [sys.argv[2], "0.5"])
"""


def py(script, *args):
    return [sys.executable, "-c", script] + [str(a) for a in args]


def fault_trial(res, sampler, name, mode, program, expect_rc, expect_target=(0,),
                hotspy_args=(), attach_delay=0.3):
    """hotspy records @program (launched, or attached after @attach_delay s)
    through to its end: hotspy exits with @expect_rc, the profile is
    complete, an attached target ends by itself with @expect_target."""
    tag = new_tag()
    with tempfile.TemporaryDirectory(dir=ARGS.workdir) as tmp:
        out = os.path.join(tmp, "f.folded")
        argv = [ARGS.hotspy, "record", "-q", "-o", out, "--sampler", sampler] + list(hotspy_args)
        target = None
        if mode == "attach":
            target = Target(program, 10, tagged_env(tag))
            time.sleep(attach_delay)
            argv += ["-p", str(target.pid)]
        else:
            argv += ["--"] + program
        rc, _, err, problems = run(argv, env=tagged_env(tag))
        problems += check_status(rc, expect_rc, err=err)
        if rc == 0 or rc in expect_rc and rc > 3:
            problems += check_output(out, "folded", required=True)
        elif rc == 1:
            problems += check_error_line(err)
        problems += check_no_temp(tmp, keep=("f.folded",))
        problems += check_sanitizers(err)
        for pid in tagged(tag):
            problems += check_released(pid)
        if target:
            problems += target.finish(expect_target)
        kill_tagged(tag)
        res.record("faults", "%s-%s-%s" % (name, sampler, mode), quoted(argv), problems)


def zombie_trial(res, sampler):
    """A zombie PID is refused with the right reason (not 'kernel thread')."""
    z = subprocess.Popen(["sleep", "0"])
    # The child exits and stays a zombie: the battery does not reap it yet.
    time.sleep(0.3)
    argv = [ARGS.hotspy, "record", "-q", "--sampler", sampler, "-o",
            os.path.join(ARGS.workdir, "z.folded"), "-p", str(z.pid)]
    rc, _, err, problems = run(argv)
    problems += check_status(rc, {1})
    problems += check_error_line(err)
    if "kernel thread" in err:
        problems.append("a zombie called a kernel thread: %s" % err.strip()[:120])
    if os.path.exists(os.path.join(ARGS.workdir, "z.folded")):
        problems.append("output written for a zombie")
        os.unlink(os.path.join(ARGS.workdir, "z.folded"))
    z.wait()
    res.record("faults", "zombie-%s" % sampler, quoted(argv), problems)


def fault_list():
    """(name, mode, program, hotspy's exit statuses, the attached target's
    own, hotspy's extra arguments, attach delay) of every target fault."""
    hot = fixture("hotspots")
    return [
        # The program exits during the recording.
        ("exit", "launch", [hot, "0.4"], {0}, (0,), [], 0.3),
        ("exit", "attach", [hot, "2"], {0}, (0,), [], 0.3),
        # It exits while hotspy attaches to it.
        ("exit-during-attach", "attach", [hot, "%.3f" % random.uniform(0.02, 0.08)],
         {0, 1}, (0,), [], 0.0),
        # It crashes (SIGSEGV): launched, its status is hotspy's (128 + 11).
        ("crash", "launch", py(CRASH_PY, 0.4), {128 + signal.SIGSEGV}, (0,), [], 0.3),
        ("crash", "attach", py(CRASH_PY, 0.8), {0}, (-signal.SIGSEGV,), [], 0.3),
        # It execs another program mid-recording.
        ("exec", "launch", py(EXEC_PY, 0.3, hot), {0}, (0,), [], 0.3),
        ("exec", "attach", py(EXEC_PY, 0.6, hot), {0}, (0,), [], 0.3),
        # Thread churn: ~2000 short threads a second.
        ("churn", "launch", py(CHURN_PY, 1.0), {0}, (0,), ["--threads", "-r", "1000"], 0.3),
        ("churn", "attach", py(CHURN_PY, 1.3), {0}, (0,), ["--threads", "-r", "1000"], 0.3),
        # 100 quick forks, followed.
        ("forks", "launch", py(FORKS_PY, 0.1), {0}, (0,), ["--subprocesses"], 0.3),
        ("forks", "attach", py(FORKS_PY, 0.5), {0}, (0,), ["--subprocesses"], 0.3),
    ]


def cat_faults(res):
    """Every fault with each sampler in every round (--fault-rounds); with
    0 rounds (the CTest run) each fault once, the samplers taking turns."""
    samplers = []
    for s in ("ptrace", "perf"):
        if SAMPLER_SKIPS.get(s):
            res.skip("faults", s, SAMPLER_SKIPS[s])
        else:
            samplers.append(s)
    if not samplers:
        return
    if ARGS.fault_rounds == 0:
        for i, f in enumerate(fault_list()):
            fault_trial(res, samplers[i % len(samplers)], *f)
        zombie_trial(res, "ptrace")
        return
    for _ in range(ARGS.fault_rounds):
        for sampler in samplers:
            for f in fault_list():
                fault_trial(res, sampler, *f)
            zombie_trial(res, sampler)


# ---------------------------------------------------------------- inputs

def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def bad_inputs(d):
    """(name, command args, allowed exit statuses, words the error must
    name or None when it must succeed, output format of -o or None)."""
    good = write(os.path.join(d, "good.folded"), b"main;a 5\nmain;b 3\n")
    deep100k = write(os.path.join(d, "deep100k.folded"),
                     b"main;" + b";".join(b"f%d" % i for i in range(100000)) + b" 7\n")
    deep5k = write(os.path.join(d, "deep5k.folded"),
                   b";".join([b"deep"] + [b"deep_rec"] * 5000 + [b"deep_leaf"]) + b" 3\n")
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    cases = [
        ("missing", ["flamegraph", os.path.join(d, "nope.folded")], {1}, ["nope.folded"]),
        ("directory", ["flamegraph", d], {1}, ["directory"]),
        ("empty", ["flamegraph", write(os.path.join(d, "empty.folded"), b"")], {1}, ["empty"]),
        ("binary", ["flamegraph", write(os.path.join(d, "bin.folded"),
                                        bytes(random.Random(7).getrandbits(8)
                                              for _ in range(4096)))], {1}, ["line"]),
        ("no-count", ["flamegraph", write(os.path.join(d, "nocount.folded"),
                                          b"main;a\n")], {1}, ["line 1"]),
        # Malformed lines among good ones are skipped and counted in a
        # warning naming the first (hotspy(1)); a file of nothing else fails.
        ("bad-count", ["flamegraph", write(os.path.join(d, "badcount.folded"),
                                           b"main;a 1\nmain;b abc\n")], {0}, ["line 2"]),
        ("negative", ["flamegraph", write(os.path.join(d, "neg.folded"),
                                          b"main;a -5\n")], {1}, ["neg.folded"]),
        ("inf", ["flamegraph", write(os.path.join(d, "inf.folded"),
                                     b"main;a 1\nmain;b 1e309\n")], {0}, ["line 2"]),
        ("nan", ["flamegraph", write(os.path.join(d, "nan.folded"),
                                     b"main;a 1\nmain;b nan\n")], {0}, ["line 2"]),
        ("sum-overflow", ["flamegraph", write(os.path.join(d, "huge.folded"),
                                              b"main;a 1.7e308\nmain;b 1.7e308\n")],
         {0}, ["line 2"]),
        ("diff-overflow", ["diff", good, os.path.join(d, "huge.folded")], {0}, ["line 2"]),
        ("report-overflow", ["report", os.path.join(d, "huge.folded")], {0}, ["line 2"]),
        ("deep-5000", ["flamegraph", deep5k], {0}, None),
        ("deep-100000", ["flamegraph", deep100k], {0}, None),
        ("report-deep-100000", ["report", deep100k], {0}, None),
        ("diff-deep-100000", ["diff", deep100k, deep100k], {0}, None),
        ("controls", ["flamegraph", write(os.path.join(d, "ctl.folded"),
                                          b"ma\x1b]0;x\x07in;<a&b>\"';\xc2\x9b\xff\xfe 4\n"
                                          b"main;\x00zero 1\n")], {0, 1}, None),
        ("speedscope-truncated", ["report", write(os.path.join(d, "t.speedscope.json"),
                                                  b'{"$schema": "https://www.speedscope.app/'
                                                  b'file-format-schema.json", "profiles": [')],
         {1}, ["speedscope"]),
        ("pprof-garbage", ["report", write(os.path.join(d, "g.pb.gz"),
                                           gzip.compress(b"\xff" * 64))], {1}, ["pprof"]),
        ("pprof-truncated-gzip", ["report", write(os.path.join(d, "t.pb.gz"),
                                                  gzip.compress(b"\x0a\x02" * 50)[:20])],
         {1}, ["t.pb.gz"]),
        ("diff-bad-after", ["diff", good, os.path.join(d, "bin.folded")], {1}, ["line"]),
        ("baseline-bad", ["report", good, "--baseline", os.path.join(d, "nocount.folded"),
                          "--fail-increase", "a=5"], {1}, ["line 1"]),
        ("dev-zero", ["flamegraph", "/dev/zero"], {1}, ["line"]),
    ]
    return cases, fifo


def stream_trial(res, name, argv, data_chunk, words):
    """hotspy reads an endless stream on stdin (no newline, or NULs): it
    must stop with a clear error naming the limit, its memory bounded."""
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, preexec_fn=nice_self)
    sent = [0]

    def feed():
        try:
            while True:
                p.stdin.write(data_chunk)
                sent[0] += len(data_chunk)
        except (BrokenPipeError, OSError, ValueError):
            pass
    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    problems = []
    deadline = time.monotonic() + 8
    while p.poll() is None and time.monotonic() < deadline:
        if rss_kb(p.pid) > MEMORY_LIMIT_KB:
            problems.append("memory past %d MB after %d MB of input (unbounded)" %
                            (MEMORY_LIMIT_KB // 1024, sent[0] >> 20))
            break
        time.sleep(0.01)
    if p.poll() is None and not problems:
        problems.append("still reading after 8 s and %d MB" % (sent[0] >> 20))
    if p.poll() is None:
        p.kill()
    p.wait()
    writer.join(5)
    try:
        p.stdin.close()
    except OSError:
        pass
    err = p.stderr.read().decode("utf-8", "replace")
    p.stderr.close()
    if not problems:
        problems += check_status(p.returncode, {1})
        problems += check_error_line(err, words)
    problems += check_sanitizers(err)
    res.record("inputs", name, quoted(argv) + "  < endless input", problems)


def fifo_trial(res, fifo, d):
    """A FIFO nobody writes to: hotspy says within a couple of seconds that
    it waits on it (issue 14, item 7), and a SIGINT ends it."""
    argv = [ARGS.hotspy, "flamegraph", fifo, "-o", os.path.join(d, "fifo.svg")]
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         preexec_fn=nice_self)
    time.sleep(2.5)
    problems = []
    if p.poll() is not None:
        problems.append("exited %s without input" % p.returncode)
    p.send_signal(signal.SIGINT)
    try:
        _, err = p.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        problems.append("SIGINT did not end it")
    err = err.decode("utf-8", "replace")
    if "wait" not in err.lower():
        problems.append("no word that it waits on the FIFO: %r" % err.strip()[:120])
    problems += check_sanitizers(err)
    left = [f for f in os.listdir(d) if f == "fifo.svg" or f.startswith(".fifo.svg")]
    if left:
        problems.append("written or left for an input never read: %s" % left)
    res.record("inputs", "fifo-never-written", quoted(argv), problems)


def cat_inputs(res):
    with tempfile.TemporaryDirectory(dir=ARGS.workdir) as d:
        cases, fifo = bad_inputs(d)
        before = set(os.listdir(d))
        for name, args, allowed, words in cases:
            out = os.path.join(d, "out-%s.svg" % name)
            argv = [ARGS.hotspy] + args
            if args[0] != "report":
                argv += ["-o", out]
            rc, stdout, err, problems = run(argv, timeout=10, limit_kb=MEMORY_LIMIT_KB)
            if not problems:
                problems += check_status(rc, allowed)
                if rc == 1:
                    problems += check_error_line(err, words or ())
                else:
                    # A warning names the line skipped.
                    problems += ["no word of %r: %s" % (w, err.strip()[:160])
                                 for w in words or () if w not in err]
                if args[0] == "report" and re.search(r"\b(-?nan|-?inf)\b", stdout):
                    problems.append("a share that is not a number: %s" %
                                    re.search(r".*\b(nan|inf)\b.*", stdout).group(0)[:120])
                if args[0] != "report":
                    problems += check_output(out, "flamegraph", required=rc == 0)
                if rc == 1 and os.path.exists(out):
                    problems.append("an output written for a failed command")
            problems += check_sanitizers(err)
            if os.path.exists(out):
                os.unlink(out)
            problems += check_no_temp(d, keep=before)
            res.record("inputs", name, quoted(argv), problems)
        for i in range(max(1, ARGS.fault_rounds)):
            stream_trial(res, "endless-line", [ARGS.hotspy, "flamegraph", "-o",
                                               os.path.join(d, "s.svg")],
                         b"frame;" * 10922 + b"f", ["line 1"])
            stream_trial(res, "endless-nul", [ARGS.hotspy, "flamegraph", "-o",
                                              os.path.join(d, "z.svg")], b"\0" * 65536,
                         ["line 1"])
        fifo_trial(res, fifo, d)


# ---------------------------------------------------------------- outputs

def output_trial(res, name, out, expect_rc, words, during=None, check_dir=None,
                 sampler="ptrace"):
    """record -o @out of an attached fixture: exit @expect_rc, error naming
    @words, the target untouched. @during(tmp) runs 0.4 s into the run."""
    target = Target([fixture("hotspots"), "5"], 5)
    try:
        time.sleep(0.2)
        argv = [ARGS.hotspy, "record", "-q", "--sampler", sampler, "-d", "1", "-o", out,
                "-p", str(target.pid)]
        # In the directory above the output's: where a profile whose
        # directory was removed goes, inside the trial's own.
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             preexec_fn=nice_self,
                             cwd=os.path.dirname(os.path.dirname(os.path.abspath(out))))
        if during:
            time.sleep(0.4)
            during()
        problems = []
        try:
            _, err = p.communicate(timeout=HANG_SECONDS)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
            problems.append("hang")
        err = err.decode("utf-8", "replace")
        problems += check_status(p.returncode, expect_rc, err=err)
        if p.returncode == 1:
            problems += check_error_line(err, words)
        problems += check_sanitizers(err)
        problems += check_released(target.pid) + target.unharmed()
        if check_dir:
            problems += check_dir(p.returncode, err)
    finally:
        target.kill()
    res.record("outputs", name, quoted(argv), problems)


def cat_outputs(res):
    sampler = "ptrace"
    with tempfile.TemporaryDirectory(dir=ARGS.workdir) as d:
        output_trial(res, "no-such-directory", os.path.join(d, "nope", "x.folded"), {1},
                     ["cannot write", "nope"])
        output_trial(res, "is-a-directory", d, {1}, ["cannot write"])
        output_trial(res, "dev-full", "/dev/full", {1}, ["no space"])
        if os.geteuid() == 0:
            res.skip("outputs", "read-only-directory", "running as root: permissions "
                     "do not stop root from writing")
        else:
            ro = os.path.join(d, "ro")
            os.mkdir(ro, 0o555)
            output_trial(res, "read-only-directory", os.path.join(ro, "x.folded"), {1},
                         ["cannot write", "permission"])

        # The directory of the output removed, or moved, during the recording:
        # a clear error or the profile where the directory went, never a
        # temporary file left behind.
        gone = os.path.join(d, "gone")
        os.mkdir(gone)

        def check_gone(rc, err):
            # Written in hotspy's current directory (the trial's), and said.
            if rc == 1:
                return []
            if "removed" not in err or not os.path.exists(os.path.join(d, "x.folded")):
                return ["exit %d and no word of it, or no profile in the current "
                        "directory" % rc]
            os.unlink(os.path.join(d, "x.folded"))
            return []
        output_trial(res, "directory-removed", os.path.join(gone, "x.folded"), {0, 1},
                     ["gone"], during=lambda: shutil.rmtree(gone), check_dir=check_gone)

        moved_from = os.path.join(d, "dir")
        moved_to = os.path.join(d, "moved")
        os.mkdir(moved_from)

        def check_moved(rc, err):
            problems = []
            left = os.listdir(moved_to)
            temps = [f for f in left if f.startswith(".")]
            if temps:
                problems.append("temporary file left in the moved directory: %s" % temps)
            if rc == 0:
                if "x.folded" not in left and not os.path.exists(
                        os.path.join(moved_from, "x.folded")):
                    problems.append("exit 0 but no profile anywhere")
                elif "moved" not in err and "x.folded" in left:
                    problems.append("the profile went to the moved directory unsaid")
            return problems
        output_trial(res, "directory-moved", os.path.join(moved_from, "x.folded"), {0, 1},
                     ["dir"], during=lambda: os.rename(moved_from, moved_to),
                     check_dir=check_moved)

        # -o - into a pipe whose reader has gone: an error, no death by SIGPIPE.
        r, w = os.pipe()
        os.close(r)
        argv = [ARGS.hotspy, "record", "-q", "--sampler", sampler, "-d", "0.3", "-o", "-",
                "--", fixture("hotspots"), "2"]
        p = subprocess.Popen(argv, stdout=w, stderr=subprocess.PIPE, preexec_fn=nice_self)
        os.close(w)
        _, err = p.communicate(timeout=HANG_SECONDS)
        err = err.decode("utf-8", "replace")
        problems = check_status(p.returncode, {1}) + check_sanitizers(err)
        if p.returncode == 1:
            problems += check_error_line(err, ["pipe"])
        res.record("outputs", "closed-pipe", quoted(argv) + " >closed-pipe", problems)

        # flamegraph into a directory that does not exist.
        good = write(os.path.join(d, "g.folded"), b"main;a 1\n")
        argv = [ARGS.hotspy, "flamegraph", good, "-o", os.path.join(d, "nope", "g.svg")]
        rc, _, err, problems = run(argv)
        problems += check_status(rc, {1}) + check_error_line(err, ["cannot write"])
        res.record("outputs", "flamegraph-no-such-directory", quoted(argv), problems)


# ---------------------------------------------------------------- fds

def cat_fds(res):
    """hotspy's descriptors stay bounded while threads and processes come
    and go; a program started with -- gets only 0-2 and what it inherited."""
    for sampler in ("ptrace", "perf"):
        if SAMPLER_SKIPS.get(sampler):
            res.skip("fds", sampler, SAMPLER_SKIPS[sampler])
            continue
        with tempfile.TemporaryDirectory(dir=ARGS.workdir) as d:
            argv = [ARGS.hotspy, "record", "-q", "--sampler", sampler, "--threads",
                    "--subprocesses", "-o", os.path.join(d, "c.folded"), "-d", "2", "--"] + py(TURNOVER_PY, 3)
            p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 preexec_fn=nice_self)
            counts = []
            while p.poll() is None and len(counts) < 19:
                time.sleep(0.1)
                n = fd_count(p.pid)
                if n is not None:
                    counts.append(n)
            _, err = p.communicate(timeout=HANG_SECONDS)
            problems = check_status(p.returncode, {0}) + check_sanitizers(err.decode())
            if len(counts) >= 9:
                third = len(counts) // 3
                # A few per live thread (perf events), never one per thread
                # that ever lived: the fewest late in the run against the
                # most early in it (the end's naming opens files, briefly).
                early, late = max(counts[:third]), min(counts[-third:])
                if late > early + 16:
                    problems.append("descriptors grew from %d to %d (%s)" %
                                    (early, late, counts))
            else:
                problems.append("the recording ended before its descriptors were seen")
            res.record("fds", "hotspy-growth-%s" % sampler, quoted(argv), problems)

        # The attached target's descriptors, before and after.
        target = Target([fixture("hotspots"), "5"], 5)
        time.sleep(0.3)
        before = fd_targets(target.pid)
        argv = [ARGS.hotspy, "record", "-q", "--sampler", sampler, "-d", "0.5", "-o",
                os.path.join(ARGS.workdir, "t.folded"), "-p", str(target.pid)]
        rc, _, err, problems = run(argv)
        after = fd_targets(target.pid)
        problems += check_status(rc, {0}) + target.unharmed()
        if before != after and alive(target.pid):
            problems.append("the target's descriptors changed: %s -> %s" % (before, after))
        problems += check_released(target.pid)
        target.kill()
        res.record("fds", "target-untouched-%s" % sampler, quoted(argv), problems)

    listing = "ls /proc/$$/fd | sort -n | tr '\\n' ' '"
    base = subprocess.run(["sh", "-c", listing], capture_output=True, text=True).stdout.split()
    argv = [ARGS.hotspy, "record", "-q", "-o", os.path.join(ARGS.workdir, "p.folded"), "--",
            "sh", "-c", listing]
    rc, stdout, err, problems = run(argv)
    if stdout.split() != base:
        problems.append("the program's descriptors %s, without hotspy %s" %
                        (stdout.split(), base))
    res.record("fds", "program-descriptors", quoted(argv), problems + check_status(rc, {0}))


# ---------------------------------------------------------------- release

# N threads that spin for SECONDS: compiled by the battery (a Python
# thread waits on the GIL most of the time; issue 14's case is C threads
# that are all runnable).
BUSY_C = r"""
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double end;
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
static void *spin(void *arg)
{
	volatile unsigned long x = 0;
	(void)arg;
	while (now() < end)
		for (int i = 0; i < 100000; i++)
			x += i;
	return NULL;
}
int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 200;
	pthread_t t;
	end = now() + (argc > 2 ? atof(argv[2]) : 10);
	for (int i = 0; i < n; i++)
		if (pthread_create(&t, NULL, spin, NULL) == 0)
			pthread_detach(t);
	printf("ready\n");
	fflush(stdout);
	spin(NULL);
	return 0;
}
"""


def busy_program():
    """The path of the compiled BUSY_C, or None (no C compiler)."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        return None
    src = os.path.join(ARGS.workdir, "busy.c")
    exe = os.path.join(ARGS.workdir, "busy")
    if not os.path.exists(exe):
        with open(src, "w") as f:
            f.write(BUSY_C)
        if subprocess.run([cc, "-O1", "-pthread", "-o", exe, src]).returncode != 0:
            return None
    return exe


def cat_release(res):
    """Issue 14, items 1 and 2: the ptrace sampler on 200 busy threads,
    -d 3. Every thread must be released once sampling ends, before the
    naming and writing, and the recording must end about on time: no
    thread held 2 s after -d while hotspy still runs, and hotspy's run
    under -d + 10 s. -d counts from the end of the attach (hotspy(1)): the
    first moment every thread is traced, which on 2 saturated cores (and
    more under ASan) comes seconds after hotspy starts; that time is
    printed apart. Heavy (2 cores saturated): not in the CTest run."""
    if SAMPLER_SKIPS.get("ptrace"):
        res.skip("release", "ptrace", SAMPLER_SKIPS["ptrace"])
        return
    busy = busy_program()
    if not busy:
        res.skip("release", "200-busy-threads-ptrace", "no C compiler for the busy program")
        return
    for _ in range(max(1, ARGS.fault_rounds)):
        duration = 3.0
        target = subprocess.Popen([busy, "200", "600"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, preexec_fn=nice_self)
        try:
            target.stdout.readline()
            time.sleep(0.5)
            with tempfile.TemporaryDirectory(dir=ARGS.workdir) as d:
                # --nice -10: what hotspy does by default at nice 0; the
                # battery runs niced, and a niced hotspy keeps its value.
                argv = [ARGS.hotspy, "record", "-q", "--sampler", "ptrace", "--threads",
                        "--nice", "-10", "-d", "%g" % duration, "-o",
                        os.path.join(d, "r.folded"), "-p", str(target.pid)]
                start = time.monotonic()
                hs = Hotspy(argv)
                worst, last_held, attached = 0, None, None
                while hs.proc.poll() is None and time.monotonic() - start < 120:
                    now = time.monotonic() - start
                    tids = thread_ids(target.pid)
                    if attached is None and tids and all(
                            thread_held(target.pid, t) for t in tids):
                        attached = now
                    if attached is not None and now > attached + duration + 2:
                        held = sum(1 for t in tids if thread_held(target.pid, t))
                        if held:
                            worst, last_held = max(worst, held), now - attached
                    time.sleep(0.1)
                took = time.monotonic() - start - (attached or 0.0)
                rc, err, problems = hs.finish(what="-d %g" % duration)
                problems += check_status(rc, {0}, err=err) + check_released(target.pid)
                if attached is None:
                    problems.append("never saw every thread attached")
                if last_held is not None:
                    problems.append("up to %d threads held after the recording ended (-d %g), "
                                    "the last %.1f s after the attach" %
                                    (worst, duration, last_held))
                if took > duration + 10:
                    problems.append("-d %g took %.1f s after the attach" % (duration, took))
                if target.poll() is not None:
                    problems.append("the target died (status %s)" % target.returncode)
                res.record("release", "200-busy-threads-ptrace", quoted(argv), problems)
                print("release: attach %.1f s, then -d %g took %.1f s; threads held after "
                      "it: %s" % (attached or -1.0, duration, took,
                                  "up to %d, until %.1f s" % (worst, last_held)
                                  if last_held else "none"), flush=True)
        finally:
            target.kill()
            target.wait()
            target.stdout.close()


# ---------------------------------------------------------------- fuzz, valgrind

def cat_fuzz(res):
    if ARGS.fuzz_seconds <= 0:
        res.skip("fuzz", "all", "not asked for (--fuzz-seconds N)")
        return
    if not ARGS.source:
        res.skip("fuzz", "all", "--source not given")
        return
    script = os.path.join(ARGS.source, "scripts", "fuzz.sh")
    if os.path.exists(script):
        argv = ["bash", script, str(ARGS.fuzz_seconds)]
        rc, out, err, problems = run(argv, timeout=ARGS.fuzz_seconds * 20 + 900)
        sys.stdout.write(out[-2000:])
        res.record("fuzz", "scripts/fuzz.sh", quoted(argv),
                   problems + check_status(rc, {0}, "fuzz.sh exit status"))
        return
    if not shutil.which("clang"):
        res.skip("fuzz", "all", "no clang")
        return
    build = os.path.join(ARGS.source, "build", "fuzz")
    rc, out, err, problems = run(["cmake", "-S", ARGS.source, "-B", build,
                                  "-DCMAKE_C_COMPILER=clang", "-DCMAKE_CXX_COMPILER=clang++",
                                  "-DHOTSPY_FUZZ=ON"], timeout=600)
    targets = []
    if rc == 0:
        rc, out, _, _ = run(["cmake", "--build", build, "--target", "help"], timeout=60)
        targets = sorted(set(re.findall(r"\b(fuzz_[a-z_]+)\b", out)))
    if not targets:
        res.record("fuzz", "build", "cmake -B %s -DHOTSPY_FUZZ=ON" % build,
                   ["no fuzz targets: %s" % err.strip()[-200:]])
        return
    for t in targets:
        rc, _, err, problems = run(["nice", "cmake", "--build", build, "-j2", "--target", t],
                                   timeout=900)
        if rc != 0:
            res.record("fuzz", t, "cmake --build %s --target %s" % (build, t),
                       ["build failed: %s" % err.strip()[-200:]])
            continue
        exe = [os.path.join(r, t) for r, _, files in os.walk(build) if t in files][0]
        corpus = tempfile.mkdtemp(dir=ARGS.workdir)
        argv = [exe, "-max_total_time=%d" % ARGS.fuzz_seconds, "-rss_limit_mb=2048", corpus]
        rc, out, err, problems = run(argv, timeout=ARGS.fuzz_seconds + 120)
        res.record("fuzz", t, quoted(argv), problems + check_status(rc, {0}) +
                   ([] if rc == 0 else [err.strip().splitlines()[-1][:200] if err.strip()
                                        else "no output"]))


def cat_valgrind(res):
    if not ARGS.valgrind:
        res.skip("valgrind", "all", "not asked for (--valgrind)")
        return
    vg = shutil.which("valgrind")
    if not vg:
        res.skip("valgrind", "all", "valgrind is not installed")
        return
    with tempfile.TemporaryDirectory(dir=ARGS.workdir) as d:
        folded = os.path.join(d, "v.folded")
        runs = [
            ["record", "-q", "--sampler", "ptrace", "-d", "1", "-o", folded, "--",
             fixture("threads"), "2"],
            ["flamegraph", folded, "-o", os.path.join(d, "v.svg")],
            ["diff", folded, folded, "-o", os.path.join(d, "d.svg")],
            ["report", folded],
        ]
        for args in runs:
            argv = [vg, "-q", "--error-exitcode=99", "--leak-check=full",
                    "--errors-for-leak-kinds=definite", ARGS.hotspy] + args
            rc, _, err, problems = run(argv, timeout=300)
            problems += check_status(rc, {0}, "exit status under valgrind")
            res.record("valgrind", args[0], quoted(argv), problems)


# What the battery runs, in order: name, what it covers, function.
CATEGORIES = [
    ("signals", "SIGKILL/SIGINT/SIGTERM at random moments", cat_signals),
    ("early", "SIGINT/SIGTERM in hotspy's first 50 ms", cat_early),
    ("faults", "target exits, crashes, execs, churns threads, forks", cat_faults),
    ("inputs", "bad files to flamegraph, diff, report", cat_inputs),
    ("outputs", "output paths that fail or move", cat_outputs),
    ("fds", "descriptors: hotspy's bounded, the target's untouched", cat_fds),
    ("release", "200 busy threads released when -d ends (long runs)", cat_release),
    ("fuzz", "libFuzzer entries, --fuzz-seconds each", cat_fuzz),
    ("valgrind", "short commands under valgrind", cat_valgrind),
]
SAMPLER_SKIPS = {}


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hotspy", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--source", help="the source tree (for the fuzzers)")
    ap.add_argument("--trials", type=int, default=20, help="signal trials")
    ap.add_argument("--early", type=int, help="early-signal trials")
    ap.add_argument("--fault-rounds", type=int,
                    help="rounds of every fault with each sampler (default: trials / 250; "
                    "0: each fault once)")
    ap.add_argument("--only", help="comma-separated categories")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--fuzz-seconds", type=int, default=0)
    ap.add_argument("--valgrind", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("-v", "--verbose", action="store_true")
    ARGS = ap.parse_args()
    ARGS.hotspy = os.path.abspath(ARGS.hotspy)
    ARGS.fixtures = os.path.abspath(ARGS.fixtures)
    if ARGS.early is None:
        ARGS.early = max(20, ARGS.trials // 3)
    if ARGS.fault_rounds is None:
        ARGS.fault_rounds = ARGS.trials // 250
    if ARGS.seed is None:
        ARGS.seed = int(time.time()) % 100000
    random.seed(ARGS.seed)
    names = [c[0] for c in CATEGORIES]
    only = ARGS.only.split(",") if ARGS.only else names
    unknown = set(only) - set(names)
    if unknown:
        ap.error("unknown categories %s (known: %s)" % (sorted(unknown), ", ".join(names)))
    if not os.access(ARGS.hotspy, os.X_OK) or not os.path.isdir(ARGS.fixtures):
        print("SKIP: no hotspy at %s or no fixtures at %s" % (ARGS.hotspy, ARGS.fixtures))
        return SKIP
    nice_self()
    # Started in the background of a shell (`battery.py ... &`, nohup),
    # this process ignores SIGINT and SIGQUIT, and an ignored signal stays
    # ignored across exec: every hotspy would start with SIGINT ignored, and
    # an early one (before hotspy blocks it) would be lost. The trials are
    # of a program run from a terminal: default dispositions in children.
    for sig in (signal.SIGINT, signal.SIGQUIT):
        if signal.getsignal(sig) == signal.SIG_IGN:
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT
                          else signal.SIG_DFL)
    ARGS.workdir = tempfile.mkdtemp(prefix="hotspy-battery-")
    start = time.monotonic()
    res = Results()
    try:
        if set(only) & {"signals", "faults", "fds", "early", "outputs"}:
            for s in ("ptrace", "perf"):
                SAMPLER_SKIPS[s] = hotspy_works(s)
            if SAMPLER_SKIPS["ptrace"]:
                print("SKIP: %s" % SAMPLER_SKIPS["ptrace"])
                return SKIP
        print("battery: seed %d, %d signal trials, %d early, %d fault rounds: %s" %
              (ARGS.seed, ARGS.trials, ARGS.early, ARGS.fault_rounds, ", ".join(only)),
              flush=True)
        for name, _, fn in CATEGORIES:
            if name in only:
                t0 = time.monotonic()
                fn(res)
                print("battery: %s done in %.0f s" % (name, time.monotonic() - t0), flush=True)
    finally:
        if ARGS.keep:
            print("work directory kept: %s" % ARGS.workdir)
        else:
            shutil.rmtree(ARGS.workdir, ignore_errors=True)
    return res.report(time.monotonic() - start)


if __name__ == "__main__":
    sys.exit(main())
