#!/usr/bin/env python3
"""The inflated copies of compressed debug files (src/core/debug_cache.h),
seen from `hotspy dump` of a sleeping `sleep`, whose stack runs through libc
frames named from Debian's libc debug file (zlib-compressed DWARF: file,
line, inlined frames):

- the first dump with a cache writes libc's entry, named by its build-id,
  under an XDG_CACHE_HOME that does not exist yet, and names every frame
  exactly as a dump without the cache does;
- a later dump reads the entry (its mtime, which a hit refreshes, moves)
  and names the frames the same again;
- a damaged entry (cut short) is not read but rewritten, names unchanged;
- a cache that cannot be made (its parent is a file) costs nothing but the
  speed: the same names, exit 0.

Skips (77) when libc has no separate debug file with compressed DWARF.

usage: debug_cache_test.py HOTSPY
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


def libc_of(pid):
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            path = line.split()[-1]
            if re.search(r"/libc[.-][^/]*\.so|/libc\.so", path):
                return path
    return None


def build_id(path):
    r = subprocess.run(["readelf", "-n", path], capture_output=True, text=True)
    m = re.search(r"Build ID: ([0-9a-f]+)", r.stdout)
    return m.group(1) if m else None


def compressed_debug(path):
    r = subprocess.run(["readelf", "-SW", path], capture_output=True, text=True)
    return any(".debug_info" in l and re.search(r"\s[A-Z]*C[A-Z]*\s+\d+\s+\d+\s+\d+\s*$", l)
               for l in r.stdout.splitlines())


def dump(hotspy, pid, env):
    r = subprocess.run([hotspy, "dump", "-p", str(pid)], capture_output=True, text=True,
                       timeout=60, env=env)
    return r.returncode, r.stdout, r.stderr


def main():
    hotspy = sys.argv[1]
    sleep = shutil.which("sleep")
    if not sleep or not shutil.which("readelf"):
        print("skip: no sleep or readelf")
        return 77
    target = subprocess.Popen([sleep, "60"])
    tmp = tempfile.mkdtemp(prefix="hotspy-debug-cache-")
    try:
        time.sleep(0.2)
        libc = libc_of(target.pid)
        bid = build_id(libc) if libc else None
        debug = bid and "/usr/lib/debug/.build-id/%s/%s.debug" % (bid[:2], bid[2:])
        if not debug or not os.path.exists(debug) or not compressed_debug(debug):
            print("skip: no compressed debug file for %s (libc6-dbg)" % libc)
            return 77
        base = dict(os.environ)
        base.pop("HOTSPY_DEBUG_CACHE", None)
        off = dict(base, HOTSPY_DEBUG_CACHE="off")
        # A cache home yet to be made, as on a fresh account.
        home = os.path.join(tmp, "cache")
        on = dict(base, XDG_CACHE_HOME=home)
        entry = os.path.join(home, "hotspy", "debug", bid + ".debug")

        code, ref, err = dump(hotspy, target.pid, off)
        print(ref)
        check(code == 0 and "at ../csu/libc-start.c:" in ref,
              "without a cache, libc's frames have DWARF lines %s" % err)
        check(not os.listdir(tmp), "nothing written when off")

        code, cold, err = dump(hotspy, target.pid, on)
        check(code == 0 and cold == ref, "first dump with a cache: the same names %s" % err)
        check(os.path.isfile(entry), "libc's entry written: %s" % entry)
        if not os.path.isfile(entry):
            return 1
        size = os.path.getsize(entry)
        check(size > os.path.getsize(debug), "the entry is larger than the compressed file")
        check(not [n for n in os.listdir(os.path.dirname(entry)) if n.startswith(".")],
              "no temporary file left")

        os.utime(entry, (946684800, 946684800))   # 2000-01-01
        code, warm, err = dump(hotspy, target.pid, on)
        check(code == 0 and warm == ref, "a later dump: the same names %s" % err)
        check(os.path.getmtime(entry) > 946684800 + 86400, "the later dump read the entry")

        with open(entry, "r+b") as f:
            f.truncate(size // 2)
        code, fixed, err = dump(hotspy, target.pid, on)
        check(code == 0 and fixed == ref, "a damaged entry: the same names %s" % err)
        check(os.path.getsize(entry) == size, "the damaged entry was rewritten")

        code, nodir, err = dump(hotspy, target.pid, dict(base, XDG_CACHE_HOME="/proc/version"))
        check(code == 0 and nodir == ref, "no cache directory possible: the same names %s" % err)
    finally:
        target.kill()
        target.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
