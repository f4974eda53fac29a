"""The CPython interpreters of this machine that the Python tests run under.

Debian's /usr/bin/python3.11 (static, non-PIE) and each of pyenv's
$(pyenv root)/versions/X.Y.Z (shared libpython). A version that is not
installed is a skip (exit 77) for the test that asked for it, never a pass.

    python3 interpreters.py             list NAME PATH, one a line
"""
import glob
import os
import shutil
import subprocess
import sys

SKIP = 77
# Names the tests use: "system" is Debian's interpreter, X.Y a pyenv version.
VERSIONS = ["2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]
NAMES = ["system"] + VERSIONS


def pyenv_roots():
    roots = []
    if os.environ.get("PYENV_ROOT"):
        roots.append(os.environ["PYENV_ROOT"])
    exe = shutil.which("pyenv")
    if exe:
        try:
            r = subprocess.run([exe, "root"], capture_output=True, text=True, timeout=10)
            if r.returncode == 0 and r.stdout.strip():
                roots.append(r.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    roots += [os.path.expanduser("~/.pyenv"), "/root/.pyenv"]
    seen = []
    for r in roots:
        if r not in seen and os.path.isdir(os.path.join(r, "versions")):
            seen.append(r)
    return seen


def find(name):
    """The path of interpreter @name ("system" or "3.12"), or None."""
    if name == "system":
        p = "/usr/bin/python3.11"
        return p if os.access(p, os.X_OK) else None
    for root in pyenv_roots():
        # 3.1 must not match 3.10: the patch level follows a dot.
        for d in sorted(glob.glob(os.path.join(root, "versions", name + ".*"))):
            rest = os.path.basename(d)[len(name) + 1:]
            if not rest.isdigit():
                continue
            for exe in ("python" + name, "python"):
                p = os.path.join(d, "bin", exe)
                if os.access(p, os.X_OK):
                    return p
    return None


def find_or_skip(name):
    p = find(name)
    if not p:
        print("skip: no CPython %s on this machine" % name)
        sys.exit(SKIP)
    return p


if __name__ == "__main__":
    for n in NAMES:
        print(n, find(n) or "-")
