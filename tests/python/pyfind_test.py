#!/usr/bin/env python3
"""tracer/pyfind against live interpreters: the probe (pyfind_probe) must
find the CPython runtime of a process, its version and whether it is up,
and agree with what the interpreter itself says (sys.hexversion, the
address of _PyRuntime or _PyThreadState_Current by ctypes, and
PyInterpreterState_Head()). Nothing of this is written down here: each
expected value comes from the running interpreter.

usage: pyfind_test.py PROBE CASE [NAME]
  interp NAME    NAME's python (interpreters.py) running a busy script
  venv NAME      the same from a venv of NAME (--without-pip)
  spawn NAME     started stopped at its exec (as `hotspy record --`): not
                 found or not initialised there, found and up later
  stripped       pyenv 3.12 with a copy of libpython stripped of .symtab
  deleted        the same with the copy deleted once it is loaded
  mountns        the same with the copy on a tmpfs of the target's own
                 mount namespace
  embed-shared   a C program linked with pyenv 3.11's libpython3.11.so
  embed-copyreloc  the same naming _PyRuntime itself: the live runtime is
                 the executable's copy (R_X86_64_COPY), not libpython's
  embed-static   a C program linked with Debian's libpython3.11.a
  embed-stripped the same, strip --strip-all: no _PyRuntime symbol at all,
                 only the .PyRuntime section, no Py_Version, no name
  fake35, fake314, fake314debug
                 made-up libpythons (tests/python/fakepython.c) in sleep:
                 unsupported 3.5, 3.14 without and with _Py_DebugOffsets
  notpython      sleep: not found
Exit 77 (skip) when what a case needs is not on the machine.
"""
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import interpreters  # noqa: E402

SKIP = 77
BUSY = os.path.join(HERE, "pyfind_busy.py")
failures = []


def check(cond, what):
    print("%s: %s" % ("ok" if cond else "FAIL", what))
    if not cond:
        failures.append(what)


def skip(why):
    print("skip: " + why)
    sys.exit(SKIP)


def parse_probe(text):
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        out[key] = value
    return out


def start(argv, env=None):
    """Start @argv; return (process, facts of its `script` line)."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, env=env)
    deadline = time.time() + 30
    line = b""
    while time.time() < deadline and b"\n" not in line:
        r, _, _ = select.select([p.stdout], [], [], 1)
        if r:
            c = os.read(p.stdout.fileno(), 4096)
            if not c:
                break
            line += c
    text = line.decode().split("\n")[0]
    if not text.startswith("script "):
        p.kill()
        p.wait()
        raise SystemExit("FAIL: %s did not report itself: %r" % (argv, text))
    facts = dict(kv.split("=") for kv in text.split()[1:])
    return p, {k: int(v) for k, v in facts.items()}


def probe(probe_exe, pid):
    r = subprocess.run([probe_exe, str(pid)], capture_output=True, text=True, timeout=60)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    return r.returncode, parse_probe(r.stdout)


def check_found(res, facts, module_has=None, exact=None, by=None):
    """The probe's result @res against the interpreter's own @facts."""
    check(res.get("status") == "found", "status found (%s)" % res.get("status"))
    if res.get("status") != "found":
        return
    hexv = int(res["hexversion"], 16)
    want = facts["hexversion"]
    check(hexv >> 16 == want >> 16, "major.minor 0x%x == 0x%x" % (hexv >> 16, want >> 16))
    if res["version_exact"] == "1":
        check(hexv == want, "exact version 0x%08x == 0x%08x" % (hexv, want))
    else:
        check(hexv & 0xffff == 0, "inexact version has no patch bits")
    if exact is not None:
        check(res["version_exact"] == ("1" if exact else "0"),
              "version_exact %s (from %s)" % (exact, res["version_from"]))
    runtime = int(res["runtime_addr"], 16)
    section = int(res["section_addr"], 16)
    if want >= 0x03070000:
        check(runtime == facts["runtime"] and runtime != 0,
              "runtime 0x%x == &_PyRuntime 0x%x" % (runtime, facts["runtime"]))
        if want >= 0x030a0000 and res["runtime_from"] != "copy":
            check(section == facts["runtime"], ".PyRuntime section 0x%x == &_PyRuntime" % section)
    else:
        check(runtime == 0 and section == 0, "no _PyRuntime before 3.7")
        check(int(res["tstate_current_addr"], 16) == facts["tstate_current"] != 0,
              "tstate_current 0x%s == 0x%x" % (res["tstate_current_addr"], facts["tstate_current"]))
    if by:
        check(res["runtime_from"] == by, "runtime from %s (%s)" % (by, res["runtime_from"]))
    check(res["initialized"] == "1", "initialized")
    if int(res["interp_head_addr"], 16):
        check(int(res["interp_head"], 16) == facts["head"] != 0,
              "interpreters.head %s == PyInterpreterState_Head() 0x%x"
              % (res["interp_head"], facts["head"]))
    else:
        check(want < 0x03070000, "interp_head located on 3.7+")
    check(res["debug_offsets"] == ("1" if want >= 0x030d0000 else "0"),
          "_Py_DebugOffsets present exactly on 3.13+")
    if module_has:
        check(module_has in res["module"], "module %s holds %r" % (res["module"], module_has))


def run_case(probe_exe, argv, env=None, **kw):
    p, facts = start(argv, env)
    try:
        rc, res = probe(probe_exe, p.pid)
        check(rc == 0, "probe exit 0 (%d)" % rc)
        check_found(res, facts, **kw)
    finally:
        p.kill()
        p.wait()


def module_of(name, python):
    return "/usr/bin/python3.11" if name == "system" else "libpython"


def case_interp(probe_exe, name):
    python = interpreters.find_or_skip(name)
    ver = subprocess.run([python, "-c", "import sys; print(sys.hexversion)"],
                         capture_output=True, text=True, check=True).stdout
    # Py_Version exists from 3.11: there the version must be exact.
    exact = True if int(ver) >= 0x030b0000 else None
    run_case(probe_exe, [python, BUSY], module_has=module_of(name, python), exact=exact)


def case_venv(probe_exe, name):
    python = interpreters.find_or_skip(name)
    with tempfile.TemporaryDirectory() as d:
        venv = os.path.join(d, "venv")
        r = subprocess.run([python, "-m", "venv", "--without-pip", venv],
                           capture_output=True, text=True)
        exe = os.path.join(venv, "bin", "python")
        if r.returncode != 0 or not os.access(exe, os.X_OK):
            skip("no venv from %s: %s" % (python, r.stderr.strip()[-200:]))
        run_case(probe_exe, [exe, BUSY], module_has=module_of(name, python))


def case_spawn(probe_exe, name):
    python = interpreters.find_or_skip(name)
    ver = int(subprocess.run([python, "-c", "import sys; print(sys.hexversion)"],
                             capture_output=True, text=True, check=True).stdout)
    r = subprocess.run([probe_exe, "--spawn", python, "-c",
                        "import time\nwhile 1: time.sleep(0.01)"],
                       capture_output=True, text=True, timeout=120)
    sys.stdout.write(r.stdout)
    res = parse_probe(r.stdout)
    if name == "system":
        # Static: the runtime is in the executable, mapped at the exec,
        # and nothing of it has run yet.
        check(res.get("exec_status") == "found", "found at the exec (static)")
        check(res.get("exec_initialized") == "0", "not initialised at the exec")
        check(res.get("exec_interp_head") == "0x0", "no interpreter at the exec")
    else:
        # Shared: libpython is not mapped before ld.so runs.
        check(res.get("exec_status") == "not_found", "not found at the exec (shared)")
    check(r.returncode == 0 and res.get("status") == "found", "found later")
    check(res.get("initialized") == "1", "initialised later")
    check(int(res.get("hexversion", "0"), 16) >> 16 == ver >> 16, "major.minor later")


def case_stripped(probe_exe):
    python = interpreters.find_or_skip("3.12")
    lib = os.path.join(os.path.dirname(os.path.dirname(python)), "lib", "libpython3.12.so.1.0")
    strip = shutil.which("strip")
    if not os.path.exists(lib) or not strip:
        skip("no libpython3.12.so.1.0 or no strip")
    with tempfile.TemporaryDirectory() as d:
        copy = os.path.join(d, "libpython3.12.so.1.0")
        subprocess.run([strip, "--strip-all", "-o", copy, lib], check=True)
        sections = subprocess.run(["readelf", "-SW", copy], capture_output=True, text=True).stdout
        check(".symtab" not in sections, "the copy has no .symtab")
        # The executable's RUNPATH names pyenv's lib: preload the copy, which
        # then answers for its SONAME.
        env = dict(os.environ, LD_PRELOAD=copy)
        run_case(probe_exe, [python, BUSY], env=env, module_has=d, exact=True)


def case_elsewhere(probe_exe, how):
    """pyenv 3.12 running a copy of its libpython that the probe cannot
    open by its path: deleted once loaded, or in a mount namespace of its
    own (a tmpfs only the target sees)."""
    python = interpreters.find_or_skip("3.12")
    lib = os.path.join(os.path.dirname(os.path.dirname(python)), "lib", "libpython3.12.so.1.0")
    if not os.path.exists(lib):
        skip("no libpython3.12.so.1.0")
    with tempfile.TemporaryDirectory() as d:
        if how == "deleted":
            copy = os.path.join(d, "libpython3.12.so.1.0")
            shutil.copy(lib, copy)
            p, facts = start([python, BUSY], env=dict(os.environ, LD_PRELOAD=copy))
            os.unlink(copy)
        else:
            unshare = shutil.which("unshare")
            if not unshare or os.geteuid() != 0:
                skip("mount namespaces need unshare and root")
            mnt = os.path.join(d, "mnt")
            os.mkdir(mnt)
            copy = os.path.join(mnt, "libpython3.12.so.1.0")
            script = ('mount -t tmpfs none "$1" && cp "$2" "$1"/ && '
                      'LD_PRELOAD="$1"/libpython3.12.so.1.0 exec "$3" "$4"')
            r = subprocess.run([unshare, "-m", "--propagation", "private", "true"],
                               capture_output=True)
            if r.returncode != 0:
                skip("unshare -m refused: %s" % r.stderr.decode().strip())
            p, facts = start([unshare, "-m", "--propagation", "private", "sh", "-c", script,
                              "sh", mnt, lib, python, BUSY])
            check(not os.path.exists(copy), "the copy is not in the probe's namespace")
        try:
            rc, res = probe(probe_exe, p.pid)
            check(rc == 0, "probe exit 0 (%d)" % rc)
            check_found(res, facts, module_has=copy, exact=True)
        finally:
            p.kill()
            p.wait()


def build_embed(d, static, copy=False):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        skip("no C compiler")
    exe = os.path.join(d, "embed")
    src = os.path.join(HERE, "embed.c")
    if static:
        config = "/usr/bin/python3.11-config"
        if not os.access(config, os.X_OK) or not os.path.exists(
                "/usr/lib/x86_64-linux-gnu/libpython3.11.a"):
            skip("no Debian python3.11-dev (libpython3.11.a)")
        cflags = subprocess.run([config, "--cflags"], capture_output=True, text=True).stdout.split()
        libs = subprocess.run([config, "--embed", "--ldflags"], capture_output=True,
                              text=True).stdout.split()
        libs = [x for x in libs if x != "-lpython3.11"]
        # Debian's archive is not built for a PIE.
        cmd = [cc, "-no-pie", "-o", exe, src] + cflags \
            + ["-Wl,-Bstatic", "-lpython3.11", "-Wl,-Bdynamic"] \
            + libs + ["-lexpat", "-lz", "-lpthread", "-lutil", "-lm"]
    else:
        python = interpreters.find_or_skip("3.11")
        config = python + "-config"
        if not os.access(config, os.X_OK):
            skip("no %s" % config)
        cflags = subprocess.run([config, "--cflags"], capture_output=True, text=True).stdout.split()
        libs = subprocess.run([config, "--embed", "--ldflags"], capture_output=True,
                              text=True).stdout.split()
        cmd = [cc, "-o", exe, src] + cflags + libs + ["-ldl"]
        if not copy:
            cmd.insert(1, "-DEMBED_DLSYM")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        skip("cannot build embed.c: %s" % r.stderr.strip()[-400:])
    return exe


def case_embed(probe_exe, kind):
    with tempfile.TemporaryDirectory() as d:
        exe = build_embed(d, kind not in ("shared", "copyreloc"), kind == "copyreloc")
        if kind == "shared":
            run_case(probe_exe, [exe], module_has="libpython3.11", exact=True, by="symbol")
        elif kind == "copyreloc":
            # The live _PyRuntime is the executable's copy, not libpython's.
            run_case(probe_exe, [exe], module_has="libpython3.11", exact=True, by="copy")
        elif kind == "static":
            run_case(probe_exe, [exe], module_has=exe, exact=True)
        else:
            subprocess.run(["strip", "--strip-all", exe], check=True)
            syms = subprocess.run(["readelf", "-sW", "--dyn-syms", exe], capture_output=True,
                                  text=True).stdout
            check("_PyRuntime" not in syms and "Py_Version" not in syms,
                  "no _PyRuntime, no Py_Version symbol left")
            # Version from PY_VERSION in .rodata, the last resort.
            run_case(probe_exe, [exe], module_has=exe, exact=True, by="section")


def case_fake(probe_exe, kind):
    """A made-up libpython preloaded into sleep: 3.5 (unsupported: the
    version is named), 3.14 without _Py_DebugOffsets (unsupported: no
    table), 3.14 with them (found from the target's own offsets)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        skip("no C compiler")
    name, flags = {
        "fake35": ("libpython3.5m.so.1.0", ["-DFAKE_OLD"]),
        "fake314": ("libpython3.14.so.1.0", ["-DFAKE_DEBUG=0"]),
        "fake314debug": ("libpython3.14.so.1.0", ["-DFAKE_DEBUG=1"]),
    }[kind]
    with tempfile.TemporaryDirectory() as d:
        lib = os.path.join(d, name)
        subprocess.run([cc, "-shared", "-fPIC", "-O0", "-o", lib,
                        os.path.join(HERE, "fakepython.c")] + flags, check=True)
        p = subprocess.Popen(["sleep", "30"], env=dict(os.environ, LD_PRELOAD=lib))
        try:
            time.sleep(0.3)
            rc, res = probe(probe_exe, p.pid)
            hexv = int(res.get("hexversion", "0"), 16)
            if kind == "fake35":
                check(rc == 3 and res.get("status") == "unsupported", "3.5 unsupported")
                check(hexv == 0x03050af0, "version 3.5.10 named (0x%x)" % hexv)
                check(res.get("version_from") == "banner", "from PY_VERSION")
            elif kind == "fake314":
                check(rc == 3 and res.get("status") == "unsupported",
                      "3.14 without debug offsets unsupported")
                check(hexv == 0x030e00f0, "version 3.14.0 named (0x%x)" % hexv)
            else:
                check(rc == 0 and res.get("status") == "found", "3.14 with debug offsets found")
                check(hexv == 0x030e00f0 and res.get("version_exact") == "1", "3.14.0 exact")
                rt = int(res.get("runtime_addr", "0"), 16)
                check(rt != 0 and int(res.get("interp_head_addr", "0"), 16) == rt + 64,
                      "interpreters.head where the target's offsets say")
                check(int(res.get("interp_head", "0"), 16) == rt, "head read from the target")
                check(res.get("initialized") == "1" and res.get("debug_offsets") == "1",
                      "initialised, debug offsets")
            check(res.get("module", "").endswith(name), "module named")
        finally:
            p.kill()
            p.wait()


def case_notpython(probe_exe):
    p = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.2)
        rc, res = probe(probe_exe, p.pid)
        check(rc == 2 and res.get("status") == "not_found", "sleep is not Python")
    finally:
        p.kill()
        p.wait()


def main():
    probe_exe, case = sys.argv[1], sys.argv[2]
    name = sys.argv[3] if len(sys.argv) > 3 else None
    if case == "interp":
        case_interp(probe_exe, name)
    elif case == "venv":
        case_venv(probe_exe, name)
    elif case == "spawn":
        case_spawn(probe_exe, name)
    elif case == "stripped":
        case_stripped(probe_exe)
    elif case.startswith("embed-"):
        case_embed(probe_exe, case[len("embed-"):])
    elif case in ("deleted", "mountns"):
        case_elsewhere(probe_exe, case)
    elif case.startswith("fake"):
        case_fake(probe_exe, case)
    elif case == "notpython":
        case_notpython(probe_exe)
    else:
        raise SystemExit("unknown case " + case)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
