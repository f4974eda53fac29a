#!/usr/bin/env python3
"""The recipes of docs/ci.md, run exactly as written.

    ci_doc_test.py HOTSPY FIXTURES CI_MD

Every ```sh block of the page runs, in order, with bash -e -o pipefail in
one scratch directory where `hotspy` is the built program and `./run-tests`
runs the hotspots fixture for 1 s. `main.folded` (the main branch's profile,
downloaded by a real job) is a copy of the first recorded profile. Each block
must exit 0 and the files it names must exist; each `run:` line of the
YAML example must be one of the sh lines.

Exit status: 0 pass, 1 fail, 77 skip (no permission to profile).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def blocks(text, lang):
    return re.findall(r"^```%s\n(.*?)^```$" % lang, text, re.M | re.S)


def main():
    hotspy, fixtures, page = sys.argv[1:4]
    with open(page) as f:
        text = f.read()
    sh = blocks(text, "sh")
    if len(sh) < 4:
        fail("docs/ci.md has %d sh blocks, expected the recipes" % len(sh))
    sh_lines = {l.strip() for b in sh for l in b.splitlines() if l.strip()}
    for y in blocks(text, "yaml"):
        in_run = False
        for line in y.splitlines():
            if re.match(r"\s*(- name: .*|- uses: .*|with:.*)$", line):
                in_run = False
            if line.strip() == "run: |":
                in_run = True
                continue
            if in_run and line.strip() and line.strip() not in sh_lines:
                fail("the YAML example runs %r, which no sh recipe does" % line.strip())
    with tempfile.TemporaryDirectory(prefix="hotspy-ci-") as tmp:
        bindir = os.path.join(tmp, "bin")
        os.mkdir(bindir)
        os.symlink(os.path.abspath(hotspy), os.path.join(bindir, "hotspy"))
        work = os.path.join(tmp, "job")
        os.mkdir(work)
        with open(os.path.join(work, "run-tests"), "w") as f:
            f.write("#!/bin/sh\nexec %s 1\n" % os.path.join(os.path.abspath(fixtures),
                                                            "hotspots"))
        os.chmod(os.path.join(work, "run-tests"), 0o755)
        env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"])
        env.pop("GITHUB_STEP_SUMMARY", None)
        for i, b in enumerate(sh):
            if "main.folded" in b and not os.path.exists(os.path.join(work, "main.folded")):
                shutil.copy(os.path.join(work, "profile.folded"),
                            os.path.join(work, "main.folded"))
            r = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", b], cwd=work, env=env,
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 0 and "not permitted" in r.stderr:
                print("SKIP: cannot profile here: " + r.stderr.strip())
                return SKIP
            if r.returncode != 0:
                fail("recipe %d exited %d:\n%s\nstdout: %s\nstderr: %s"
                     % (i + 1, r.returncode, b, r.stdout, r.stderr))
            for name in re.findall(r"-o (\S+)", b):
                if not os.path.exists(os.path.join(work, name)):
                    fail("recipe %d did not write %s" % (i + 1, name))
            print("recipe %d: ok (%s)" % (i + 1, b.splitlines()[0][:70]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
