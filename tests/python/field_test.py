#!/usr/bin/env python3
"""Interpreters met in the field, through hotspy itself (record and dump):

    field_test.py --hotspy BIN --probe PYFIND_PROBE CASE

  venv        pythreads launched through a venv's `python` symlink (pyenv
              3.12): `record -- VENV/bin/python ...` shows its Python
              frames.
  pidns       pythreads in a PID namespace of its own (unshare --pid
              --fork --mount-proc): CPython keeps the thread ids of its
              namespace, hotspy shows the host's; `dump` must show every
              thread, by its host tid, with its Python frames and the name
              Python gives it, and `record` Python frames. 3.9 (a thread
              state is matched by the tid in its struct pthread; names by
              Thread._native_id) and 3.12 (by native_thread_id): the two
              ways a thread state meets a tid.
  stripped    pythreads under pyenv 3.12 running a copy of its libpython
              stripped of .symtab (strip --strip-all): `dump` shows every
              thread with its frames and Python name.
  embed       a C program with libpython inside (tests/python/embed.c
              linked with Debian's libpython3.11.a, as PyInstaller-style
              bundles and static embedders are), stripped of every symbol:
              the runtime is found by its .PyRuntime section alone, and
              `dump` and `record` show the Python frames of the code it
              runs.
  freethreaded  a made-up free-threaded libpython3.13t (fakepython.c)
              preloaded into sleep: pyfind says free-threaded and
              unsupported (told by _Py_DebugOffsets.free_threaded, and by
              the t of the name, each alone too); `dump` and `record` say so in one line naming
              the build and show native frames.
  subinterp NAME  pysubinterp.py under NAME (3.12, 3.13): a thread running
              code in a subinterpreter. `dump` shows that thread with the
              subinterpreter's frames inside its own, the main thread
              without them; `record` the same frames.
Every target runs on after hotspy: not stopped, not traced.

Exit 77 (skip) when what a case needs is not on the machine.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import hotspy_test as ht  # noqa: E402
import interpreters  # noqa: E402
import pyfind_test  # noqa: E402

SKIP = 77
FIXTURES = os.path.join(ROOT, "fixtures", "python")


def skip(why):
    print("skip: " + why)
    sys.exit(SKIP)


def python_frames_share(folded, needle):
    """The percentage of the samples of @folded whose stack holds a frame
    containing @needle, and the total number of samples."""
    hit = total = 0
    with open(folded, encoding="utf-8", errors="replace") as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            total += int(n)
            if needle in stack:
                hit += int(n)
    if not total:
        ht.fail("no samples in " + folded)
    return 100.0 * hit / total, total


def dump_blocks(pid):
    """`hotspy dump -p PID`: [(tid, os name, python name, [frame lines])]."""
    r = ht.run_hotspy(["dump", "-p", str(pid)])
    print(r.stdout)
    if r.returncode != 0:
        ht.fail("dump exited %d" % r.returncode)
    out = []
    for b in [b for b in r.stdout.split("\n\n") if b.strip()][1:]:
        lines = b.split("\n")
        m = ht.DUMP_THREAD_LINE.match(lines[0])
        if not m:
            ht.fail("not a thread line: %r" % lines[0])
        out.append((int(m.group(1)), m.group(2), m.group(4), [l.strip() for l in lines[1:]]))
    return r, out


def unharmed(pid):
    """The target runs on after hotspy: alive, not stopped, not traced."""
    state = ht.proc_state(pid)
    if state is None or state in ("t", "T"):
        ht.fail("target %d harmed (state %s)" % (pid, state))
    with open("/proc/%d/status" % pid) as f:
        if "\nTracerPid:\t0\n" not in f.read():
            ht.fail("target %d still traced after hotspy" % pid)


# --- venv --------------------------------------------------------------------

def case_venv(_):
    python = interpreters.find_or_skip("3.12")
    with tempfile.TemporaryDirectory() as d:
        venv = os.path.join(d, "venv")
        r = subprocess.run([python, "-m", "venv", "--without-pip", venv],
                           capture_output=True, text=True)
        exe = os.path.join(venv, "bin", "python")
        if r.returncode != 0 or not os.path.islink(exe):
            skip("no venv from %s: %s" % (python, r.stderr.strip()[-200:]))
        out = os.path.join(d, "out.folded")
        r = ht.run_hotspy(["record", "-r", "200", "-o", out, "--", exe,
                           os.path.join(FIXTURES, "pythreads.py"), "1"], env=ht.python_env())
        if r.returncode != 0:
            ht.fail("record exited %d" % r.returncode)
        share, total = python_frames_share(out, "(pythreads.py)")
        whole, _ = python_frames_share(out, "/pythreads.py)")
        print("%d samples, %.1f %% with frames of pythreads.py, %.1f %% naming it whole"
              % (total, share, whole))
        # The start of the interpreter is the rest: a few percent, more on
        # a loaded machine (the run is short).
        if share < 30:
            ht.fail("only %.1f %% of the samples have pythreads' Python frames" % share)
        # As Python imports it: relative to sys.path[0], which the
        # interpreter sets after its first code objects were read.
        if whole:
            ht.fail("pythreads.py named by its whole path, not relative to sys.path")
    print("PASS")


# --- pidns -------------------------------------------------------------------

def check_pythreads_dump(pid, what):
    """`dump` of pythreads: its four threads, each with its Python frames
    and the name Python gives it. Returns dump_blocks' list."""
    _, blocks = dump_blocks(pid)
    threads = [(b[1], b[2], {ht.py_function(l) for l in b[3] if "pythreads.py" in l})
               for b in blocks]
    ht.check_py_names(what, threads, True)
    for funcs, count in ht.PY_DUMP_THREADS:
        n = sum(1 for t in threads if set(funcs) <= t[2])
        if n != count:
            ht.fail("%s: %d threads with the Python frames %s, expected %d"
                    % (what, n, funcs, count))
    return blocks


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def nspid(pid, tid):
    with open("/proc/%d/task/%d/status" % (pid, tid)) as f:
        for line in f:
            if line.startswith("NSpid:"):
                return [int(x) for x in line.split()[1:]]
    return []


def pidns_one(name, record):
    argv, _ = ht.python_target("pythreads", name)
    unshare = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
    # Killed once checked: a long life costs nothing, and a slow hotspy
    # (ASan, a loaded machine) still finds it running.
    target = ht.start_ready(unshare + argv, 20.0)
    try:
        kids = children(target.pid)
        if len(kids) != 1:
            ht.fail("unshare has children %s, expected the interpreter alone" % kids)
        pid = kids[0]
        tids = sorted(int(t) for t in os.listdir("/proc/%d/task" % pid))
        inner = [nspid(pid, t) for t in tids]
        print("host tids %s, tids in the namespace %s" % (tids, [n[-1] for n in inner]))
        if not all(len(n) == 2 and n[0] != n[1] for n in inner):
            ht.fail("the target is not in a PID namespace of its own: %s" % inner)
        blocks = check_pythreads_dump(pid, "pidns " + name)
        if sorted(b[0] for b in blocks) != tids:
            ht.fail("dump shows threads %s, the host's are %s"
                    % (sorted(b[0] for b in blocks), tids))
        if record:
            with tempfile.TemporaryDirectory() as d:
                out = os.path.join(d, "out.folded")
                r = ht.run_hotspy(["record", "-r", "200", "-d", "0.5", "-o", out,
                                   "-p", str(pid)])
                if r.returncode != 0:
                    ht.fail("record exited %d" % r.returncode)
                share, total = python_frames_share(out, "duty_cycle (pythreads.py")
                print("%d samples, %.1f %% under duty_cycle (pythreads.py)" % (total, share))
                # On-CPU samples: the two workers, both under duty_cycle.
                if share < 90:
                    ht.fail("only %.1f %% of the samples under duty_cycle" % share)
        unharmed(pid)
    finally:
        ht.stop(target)


def case_pidns(_):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        skip("PID namespaces need root and unshare")
    r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        skip("unshare --pid refused: %s" % r.stderr.strip())
    ran = 0
    for name, record in (("3.9", False), ("3.12", True)):
        if not interpreters.find(name):
            print("no CPython %s: left out" % name)
            continue
        pidns_one(name, record)
        ran += 1
    if not ran:
        skip("neither 3.9 nor 3.12 on this machine")
    print("PASS")


# --- stripped ----------------------------------------------------------------

def case_stripped(_):
    python = interpreters.find_or_skip("3.12")
    lib = os.path.join(os.path.dirname(os.path.dirname(python)), "lib", "libpython3.12.so.1.0")
    if not os.path.exists(lib) or not shutil.which("strip"):
        skip("no libpython3.12.so.1.0 or no strip")
    with tempfile.TemporaryDirectory() as d:
        copy = os.path.join(d, "libpython3.12.so.1.0")
        subprocess.run(["strip", "--strip-all", "-o", copy, lib], check=True)
        if ".symtab" in subprocess.run(["readelf", "-SW", copy], capture_output=True,
                                       text=True).stdout:
            ht.fail("the copy still has .symtab")
        # The executable's RUNPATH names pyenv's lib: preloaded, the copy
        # answers for its SONAME.
        env = dict(ht.python_env(), LD_PRELOAD=copy)
        target = subprocess.Popen([python, os.path.join(FIXTURES, "pythreads.py"),
                                   "--ready", "20"], stdout=subprocess.PIPE, env=env)
        try:
            if target.stdout.readline().strip() != b"ready":
                ht.fail("pythreads did not say ready")
            with open("/proc/%d/maps" % target.pid) as f:
                if copy not in f.read():
                    ht.fail("the stripped copy is not the libpython mapped")
            check_pythreads_dump(target.pid, "stripped libpython")
            unharmed(target.pid)
        finally:
            ht.stop(target)
    print("PASS")


# --- embed -------------------------------------------------------------------

def case_embed(_):
    with tempfile.TemporaryDirectory() as d:
        exe = pyfind_test.build_embed(d, static=True)   # skips without the .a
        subprocess.run(["strip", "--strip-all", exe], check=True)
        syms = subprocess.run(["readelf", "-sW", "--dyn-syms", exe], capture_output=True,
                              text=True).stdout
        if "_PyRuntime" in syms:
            ht.fail("the stripped program still names _PyRuntime")
        sections = subprocess.run(["readelf", "-SW", exe], capture_output=True,
                                  text=True).stdout
        if ".PyRuntime" not in sections:
            ht.fail("the program has no .PyRuntime section")
        # dump of the running program: the embedded code's frame.
        p, _ = pyfind_test.start([exe, "30"])
        try:
            _, blocks = dump_blocks(p.pid)
            if len(blocks) != 1 or not any(l.startswith("<module> (<string>")
                                           for l in blocks[0][3]):
                ht.fail("dump shows no <module> (<string>) frame")
            unharmed(p.pid)
        finally:
            p.kill()
            p.wait()
        out = os.path.join(d, "out.folded")
        r = ht.run_hotspy(["record", "-r", "200", "-o", out, "--", exe, "2"])
        if r.returncode != 0:
            ht.fail("record exited %d" % r.returncode)
        if "Python frames in" not in r.stderr:
            ht.fail("the summary does not speak of Python frames")
        # embed.c runs `while n < ...: n += 1` as <string>'s module code.
        share, total = python_frames_share(out, "<module> (<string>")
        print("%d samples, %.1f %% under <module> (<string>)" % (total, share))
        # The rest is the start of the runtime (more on a loaded machine).
        if share < 60:
            ht.fail("only %.1f %% of the samples have the embedded code's frame" % share)
    print("PASS")


# --- freethreaded ------------------------------------------------------------

FT_LINE = re.compile(r"Python 3\.13t \(free-threaded build, [^)]*libpython3\.13t\.so[^)]*\) "
                     r"is not supported yet; profiling native frames only")


def fake_python(d, name, flag):
    """sleep with a made-up 3.13 libpython @name preloaded whose
    _Py_DebugOffsets.free_threaded is @flag; the process."""
    lib = os.path.join(d, name)
    subprocess.run([ARGS.cc, "-shared", "-fPIC", "-O0", "-o", lib,
                    os.path.join(HERE, "fakepython.c"), "-DFAKE_DEBUG=1",
                    "-DFAKE_VERSION=0x030d00f0", "-DFAKE_FREE_THREADED=%d" % flag], check=True)
    return subprocess.Popen(["sleep", "30"], env=dict(os.environ, LD_PRELOAD=lib))


def case_freethreaded(_):
    ARGS.cc = shutil.which("cc") or shutil.which("gcc")
    if not ARGS.cc:
        skip("no C compiler")
    with tempfile.TemporaryDirectory() as d:
        # Both signs, then each alone: the name's t, the debug offsets' flag.
        for sub in ("byname", "byflag"):
            os.mkdir(os.path.join(d, sub))
        procs = [fake_python(d, "libpython3.13t.so.1.0", 1),
                 fake_python(os.path.join(d, "byname"), "libpython3.13t.so.1.0", 0),
                 fake_python(os.path.join(d, "byflag"), "libpython3.13.so.1.0", 1)]
        try:
            time.sleep(0.3)
            for p in procs:
                rc, res = pyfind_test.probe(ARGS.probe, p.pid)
                if rc != 3 or res.get("status") != "unsupported":
                    ht.fail("pyfind: status %s (exit %d), expected unsupported"
                            % (res.get("status"), rc))
                if res.get("free_threaded") != "1" or res.get("hexversion") != "0x030d00f0":
                    ht.fail("pyfind: free_threaded %s, version %s"
                            % (res.get("free_threaded"), res.get("hexversion")))
            p = procs[0]
            r, blocks = dump_blocks(p.pid)
            if len(FT_LINE.findall(r.stderr)) != 1:
                ht.fail("dump does not say once that 3.13t is not supported: %r" % r.stderr)
            frames = [l for b in blocks for l in b[3]]
            if not any("nanosleep" in l for l in frames):
                ht.fail("dump shows no native frame of sleep: %s" % frames)
            out = os.path.join(d, "out.folded")
            r = ht.run_hotspy(["record", "--idle", "-d", "0.3", "-o", out, "-p", str(p.pid)])
            if r.returncode != 0 or len(FT_LINE.findall(r.stderr)) != 1:
                ht.fail("record (exit %d) does not say once that 3.13t is not supported"
                        % r.returncode)
            share, total = python_frames_share(out, "nanosleep")
            if not total or share < 50:
                ht.fail("record: %d samples, %.0f %% in nanosleep (native frames)"
                        % (total, share))
            unharmed(p.pid)
        finally:
            for p in procs:
                p.kill()
                p.wait()
    print("PASS")


# --- subinterp ---------------------------------------------------------------

def case_subinterp(rest):
    name = rest[0] if rest else "3.12"
    python = interpreters.find_or_skip(name)
    r = subprocess.run([python, "-c", "import sys\ntry:\n import _interpreters\nexcept "
                        "ImportError:\n import _xxsubinterpreters\n"
                        "sys.exit(0 if sys.version_info >= (3, 12) else 1)"],
                       capture_output=True)
    if r.returncode != 0:
        skip("CPython %s has no subinterpreter module" % name)
    target = ht.start_ready([python, os.path.join(FIXTURES, "pysubinterp.py")], 20.0)
    try:
        _, blocks = dump_blocks(target.pid)
        by_name = {b[2]: b for b in blocks}
        if sorted(by_name) != ["MainThread", "sub-runner"]:
            ht.fail("threads %s, expected MainThread and sub-runner" % sorted(by_name))
        sub = by_name["sub-runner"][3]
        main = by_name["MainThread"][3]

        def at(lines, prefix):
            return next((i for i, l in enumerate(lines) if l.startswith(prefix)), None)
        spin, enter = at(sub, "sub_spin (<string>"), at(sub, "enter_sub (pysubinterp.py")
        if spin is None or enter is None or spin > enter:
            ht.fail("sub-runner does not show sub_spin (<string>) inside enter_sub: %s" % sub)
        if at(sub, "sub_main (<string>") is None or at(sub, "Thread.run (threading.py") is None:
            ht.fail("sub-runner's stack is not whole: %s" % sub)
        if any("<string>" in l for l in main) or at(main, "main (pysubinterp.py") is None:
            ht.fail("MainThread shows the subinterpreter's frames, or not its own: %s" % main)
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "out.folded")
            r = ht.run_hotspy(["record", "-r", "200", "-d", "0.5", "-o", out,
                               "-p", str(target.pid)])
            if r.returncode != 0:
                ht.fail("record exited %d" % r.returncode)
            share, total = python_frames_share(out, "enter_sub (pysubinterp.py)")
            inner, _ = python_frames_share(out, "sub_spin (<string>)")
            print("%d samples: %.1f %% under enter_sub, %.1f %% in sub_spin"
                  % (total, share, inner))
            # On-CPU: sub-runner alone runs; its loop is sub_spin.
            if share < 90 or inner < 90:
                ht.fail("the subinterpreter's frames are missing from the profile")
        unharmed(target.pid)
    finally:
        ht.stop(target)
    print("PASS")


ARGS = None


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--hotspy", required=True)
    p.add_argument("--probe", required=True)
    p.add_argument("case", choices=["venv", "pidns", "stripped", "embed", "freethreaded",
                                    "subinterp"])
    p.add_argument("rest", nargs=argparse.REMAINDER)
    ARGS = p.parse_args()
    ht.ARGS = argparse.Namespace(hotspy=ARGS.hotspy, fixtures=None)
    {"venv": case_venv, "pidns": case_pidns, "stripped": case_stripped, "embed": case_embed,
     "freethreaded": case_freethreaded, "subinterp": case_subinterp}[ARGS.case](ARGS.rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
