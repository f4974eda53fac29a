#!/usr/bin/env python3
"""The documents say what the program does, and install with it.

  options   every long option a command's --help lists is in the manual
            page's SYNOPSIS line of that command and described in it
  roff      the manual page built from docs/hotspy.1.md is roff that groff
            reads without a warning, and names every command
  install   `cmake --install` puts the program and the manual page under a
            prefix; the installed program runs and man(1) reads the page
  setup     scripts/demo.sh installs what the profiler needs, not the test
            tools (browser, node, tmux, perf); scripts/test.sh adds them

usage: docs_test.py SOURCE_DIR BUILD_DIR HOTSPY options|roff|install|setup
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77


def commands(hotspy):
    """The commands `hotspy --help` lists."""
    out = subprocess.run([hotspy, "--help"], capture_output=True, text=True).stdout
    found = re.findall(r"^  ([a-z]+)\s", out, re.M)
    if not found:
        sys.exit("FAIL: `hotspy --help` lists no command:\n" + out)
    return found


SVG_OPTIONS = {"--title", "--subtitle", "--width", "--height", "--minwidth", "--inverted",
               "--reverse", "--colors"}


def options_of(hotspy, cmd):
    """{long option: its short form or None} of the option lines of `hotspy
    CMD --help` (a line "  -p, --pid PID" or "      --json ...")."""
    r = subprocess.run([hotspy, cmd, "--help"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("FAIL: `hotspy %s --help` exited %d" % (cmd, r.returncode))
    opts = {}
    for m in re.finditer(r"^\s+(?:(-[a-zA-Z]), )?(--[a-z][a-z0-9-]*)", r.stdout, re.M):
        opts[m.group(2)] = m.group(1)
    opts.pop("--help", None)
    # "SVG options (...): --title, ..." / "the SVG options of ...": the
    # synopsis says [SVG options] for them.
    if "SVG options" in r.stdout:
        opts.update({o: None for o in SVG_OPTIONS})
    return opts


def synopsis_of(page, cmd):
    """The SYNOPSIS lines of @cmd: from `hotspy CMD` to the next command."""
    m = re.search(r"^## SYNOPSIS\n(.*?)^## ", page, re.S | re.M)
    if not m:
        return ""
    text, out, inside = m.group(1), [], False
    for line in text.splitlines():
        if line.startswith("hotspy "):
            inside = line.startswith("hotspy %s " % cmd) or line == "hotspy " + cmd
        if inside:
            out.append(line)
    return "\n".join(out)


def case_options(src, hotspy):
    with open(os.path.join(src, "docs", "hotspy.1.md"), encoding="utf-8") as f:
        page = f.read()
    failures = []
    for cmd in commands(hotspy):
        syn = synopsis_of(page, cmd)
        if not syn:
            failures.append("`hotspy %s` has no SYNOPSIS line" % cmd)
            continue
        for opt, short in sorted(options_of(hotspy, cmd).items()):
            spelled = [o for o in (opt, short) if o and
                       re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(o), syn)]
            if not spelled and not (opt in SVG_OPTIONS and "[SVG options]" in syn):
                failures.append("hotspy %s %s: not in the SYNOPSIS" % (cmd, opt))
            if "**%s**" % opt not in page:
                failures.append("hotspy %s %s: not described (no **%s**)" % (cmd, opt, opt))
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


def case_roff(build, hotspy):
    groff = shutil.which("groff")
    if not groff:
        print("SKIP: no groff to read the manual page")
        return SKIP
    page = os.path.join(build, "hotspy.1")
    r = subprocess.run([groff, "-man", "-Tutf8", "-ww", page], capture_output=True, text=True)
    print(r.stderr)
    if r.returncode != 0 or r.stderr.strip():
        print("FAIL: groff warns about %s" % page)
        return 1
    text = re.sub(r".\x08", "", r.stdout)
    missing = [c for c in commands(hotspy) if "hotspy %s" % c not in text]
    if missing or "EXIT STATUS" not in text:
        print("FAIL: the rendered page lacks %s" % (missing or "EXIT STATUS"))
        return 1
    return 0


def case_install(build):
    with tempfile.TemporaryDirectory() as prefix:
        r = subprocess.run(["cmake", "--install", build, "--prefix", prefix],
                           capture_output=True, text=True)
        print(r.stdout, r.stderr)
        if r.returncode != 0:
            print("FAIL: cmake --install exited %d" % r.returncode)
            return 1
        exe = os.path.join(prefix, "bin", "hotspy")
        page = os.path.join(prefix, "share", "man", "man1", "hotspy.1")
        v = subprocess.run([exe, "--version"], capture_output=True, text=True)
        if v.returncode != 0 or "hotspy" not in v.stdout:
            print("FAIL: the installed %s --version: %r" % (exe, v.stdout + v.stderr))
            return 1
        if not os.path.isfile(page):
            print("FAIL: no manual page at %s" % page)
            return 1
        man = shutil.which("man")
        if man:
            env = dict(os.environ, MANPATH=os.path.join(prefix, "share", "man"),
                       MANWIDTH="80", MANPAGER="cat", PAGER="cat")
            m = subprocess.run([man, "hotspy"], capture_output=True, text=True, env=env)
            if m.returncode != 0 or "record" not in m.stdout:
                print("FAIL: man hotspy with MANPATH=%s: %s" % (env["MANPATH"], m.stderr))
                return 1
    return 0


TEST_TOOLS = {"chromium", "nodejs", "npm", "tmux", "linux-perf"}


def case_setup(src):
    setup = os.path.join(src, "scripts", "setup.sh")

    def packages(*args):
        r = subprocess.run(["bash", setup, "--print-packages"] + list(args),
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("FAIL: setup.sh --print-packages %s: %s" % (" ".join(args), r.stderr))
        return set(r.stdout.split())

    def setup_args(script):
        with open(os.path.join(src, "scripts", script)) as f:
            calls = re.findall(r"^\s*bash scripts/setup\.sh(.*)$", f.read(), re.M)
        return [c.split() for c in calls]

    failures = []
    base, full = packages(), packages("--tests")
    if base & TEST_TOOLS:
        failures.append("the profiler's packages include test tools: %s" %
                        sorted(base & TEST_TOOLS))
    if not TEST_TOOLS - {"npm"} <= full or not base < full:
        failures.append("--tests does not add the test tools: %s" % sorted(full - base))
    for must in ("cmake", "libunwind-dev", "libdw-dev", "libncurses-dev"):
        if must not in base:
            failures.append("the profiler's packages lack %s" % must)
    demo, test = setup_args("demo.sh"), setup_args("test.sh")
    if not demo or any("--tests" in a for a in demo):
        failures.append("demo.sh runs setup.sh with the test tools: %s" % demo)
    if not test or not all("--tests" in a for a in test):
        failures.append("test.sh runs setup.sh without --tests: %s" % test)
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    src, build, hotspy, case = sys.argv[1:]
    if case == "options":
        rc = case_options(src, hotspy)
    elif case == "roff":
        rc = case_roff(build, hotspy)
    elif case == "install":
        rc = case_install(build)
    elif case == "setup":
        rc = case_setup(src)
    else:
        sys.exit("unknown case " + case)
    if rc == 0:
        print("PASS")
    return rc


if __name__ == "__main__":
    sys.exit(main())
