#!/usr/bin/env python3
"""hotspy dump --locals on fixtures/python/pylocals.py under every
interpreter of this machine (interpreters.py: Debian's and pyenv's; absent
ones are skipped, none at all is a skip): the frame hold's arguments and
locals, by name, in text (py-spy's "Arguments:" / "Locals:" sections) and
in JSON ("locals" of the frame, with "arg"), each value checked against
what Python's own repr() gives for it (the test's Python 3 computes them;
2.7 spells unicode u'..', long ..L and str without b), the big int and the
long string bounded; no terminal control byte from the target's strings
reaches the text, and a string made to close a JSON string parses back
whole; the target is left running, not stopped.

One hotspy dump takes well under a second: the whole loop is one test.

usage: pylocals_test.py HOTSPY
"""
import json
import os
import re
import select
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import interpreters  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "fixtures", "python",
                       "pylocals.py")
SKIP = 77
ADDR = r"0x[0-9a-f]+"

failures = 0


def check(cond, what):
    global failures
    if not cond:
        print("FAIL " + what)
        failures += 1
    return cond


def expected(py2):
    """name -> (exact text or compiled pattern, is an argument), as the
    fixture sets them (its header), from Python's repr()."""
    u = "u" if py2 else ""
    e = {
        "flag": ("True", True),
        "count": ("3", True),
        "args": (re.compile(r"<tuple at %s>" % ADDR), True),
        "kwargs": (re.compile(r"<dict at %s>" % ADDR), True),
        "nothing": ("None", False),
        "small": (repr(42), False),
        "negative": (repr(-7), False),
        "big": (repr(2 ** 100) + ("L" if py2 else ""), False),
        # Past 120 bits an int is its size, not its digits.
        "huge": ("<int of %d bits>" % (10 ** 50).bit_length(), False),
        "real": (repr(1.5), False),
        "plain": (repr("plain"), False),
        "text": (u + repr(u"na\xefve\x1b[31m'"), False),
        "wide": (u + repr(u"\u51fd\u6570"), False),
        "astral": (u + repr(u"\U0001F600x"), False),
        "raw": (repr(b"a\x00b")[1:] if py2 else repr(b"a\x00b"), False),
        "evil": (u + repr(u'"}\x1b]0;owned\x07\n'), False),
        # 128 characters shown, and how many there were.
        "long_text": (repr("x" * 128) + "... (1000 %s)" % ("bytes" if py2 else "characters"),
                      False),
        "items": (re.compile(r"<list at %s>" % ADDR), False),
        "table": (re.compile(r"<dict at %s>" % ADDR), False),
        "thing": (re.compile(r"<Thing at %s>" % ADDR), False),
        "peek": (re.compile(r"<function at %s>" % ADDR), False),
        "captured": (repr("cell"), False),
    }
    if not py2:
        e["key"] = (repr("k"), True)  # keyword-only: 3.x only
    return e


def matches(want, got):
    return want.fullmatch(got) is not None if hasattr(want, "fullmatch") else want == got


def check_locals(where, want, got):
    """@got: name -> (value, arg) as hotspy showed them."""
    for name, (value, arg) in sorted(want.items()):
        if not check(name in got, "%s: no local %s (got %s)" % (where, name, sorted(got))):
            continue
        check(matches(value, got[name][0]),
              "%s: %s is %r, expected %r" % (where, name, got[name][0],
                                            getattr(value, "pattern", value)))
        check(got[name][1] == arg, "%s: %s %s an argument" % (where, name,
                                                            "is not" if arg else "is"))


def text_locals(out):
    """The locals under the frame hold in dump's text: name -> (value, arg)."""
    got, section, inside = {}, None, False
    for line in out.split("\n"):
        if re.match(r"^    \S", line):
            inside = line.startswith("    hold (")
            continue
        if not inside:
            continue
        if line in ("        Arguments:", "        Locals:"):
            section = line.strip()
            continue
        m = re.match(r"^            (\S+): (.*)$", line)
        if m:
            got[m.group(1)] = (m.group(2), section == "Arguments:")
    return got


def json_locals(doc):
    for t in doc.get("threads", []):
        for f in t.get("frames", []):
            if f.get("kind") == "python" and f.get("function", "").endswith("hold"):
                return {v["name"]: (v["value"], v["arg"]) for v in f.get("locals", [])}, \
                    [v["arg"] for v in f.get("locals", [])]
    return {}, []


def start(py):
    env = dict(os.environ, LC_ALL="C.UTF-8")
    for k in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONOPTIMIZE"):
        env.pop(k, None)
    target = subprocess.Popen([py, FIXTURE, "--ready", "30"], stdout=subprocess.PIPE, env=env)
    ready, _, _ = select.select([target.stdout], [], [], 20)
    line = target.stdout.readline() if ready else b""
    if line.strip() != b"ready":
        target.kill()
        target.wait()
        return None
    return target


def state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def one(hotspy, name, py):
    py2 = name == "2.7"
    target = start(py)
    if not check(target is not None, "%s: the fixture did not say ready" % name):
        return
    try:
        want = expected(py2)
        pid = str(target.pid)
        t0 = time.time()
        r = subprocess.run([hotspy, "dump", "--locals", "-p", pid], capture_output=True,
                           timeout=60)
        text = r.stdout.decode("utf-8", "replace")
        if not check(r.returncode == 0, "%s: dump --locals exited %d: %s"
                     % (name, r.returncode, r.stderr.decode("utf-8", "replace"))):
            return
        # The target's ESC and BEL must not reach a terminal raw.
        check(b"\x1b" not in r.stdout and b"\x07" not in r.stdout,
              "%s: a control byte from the target in the text" % name)
        check_locals(name + " text", want, text_locals(text))
        r = subprocess.run([hotspy, "dump", "-j", "-l", "-p", pid], capture_output=True,
                           timeout=60)
        if not check(r.returncode == 0, "%s: dump -j -l exited %d" % (name, r.returncode)):
            return
        try:
            doc = json.loads(r.stdout.decode("utf-8"))
        except ValueError as e:
            check(False, "%s: dump -j -l is not JSON: %s" % (name, e))
            return
        got, order = json_locals(doc)
        check_locals(name + " json", want, got)
        check(order == sorted(order, reverse=True), "%s json: arguments not first" % name)
        print("%s: %d locals checked in text and JSON (%.2f s)" % (name, len(want),
                                                                   time.time() - t0))
        st = state(target.pid)
        check(st is not None and st not in ("t", "T"),
              "%s: the target is not running on (state %s)" % (name, st))
    finally:
        target.kill()
        target.wait()


def main():
    hotspy = sys.argv[1]
    ran = 0
    # `pyenv root` takes half a second: asked once, not once a version.
    roots = interpreters.pyenv_roots()
    interpreters.pyenv_roots = lambda: roots
    for name in interpreters.NAMES:
        py = interpreters.find(name)
        if not py:
            print("%s: not installed, skipped" % name)
            continue
        one(hotspy, name, py)
        ran += 1
    if not ran:
        print("SKIP: no interpreter")
        return SKIP
    print("%d interpreters, %d failure(s)" % (ran, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
