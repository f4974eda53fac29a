#!/usr/bin/env python3
"""hotspy's decoder of CPython line tables against interpreter NAME's own
answers (PyCode_Addr2Line, and co_positions() on 3.11+) at every instruction
of every code object of tests/python/linetable_cases.py and a sample of that
interpreter's standard library. Exit 77 when NAME is not installed.

usage: linetable_test.py NAME TEST_PYLINETABLE
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interpreters  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    name, test = sys.argv[1], sys.argv[2]
    python = interpreters.find_or_skip(name)
    with tempfile.TemporaryDirectory() as d:
        dump = os.path.join(d, "lines.txt")
        subprocess.run([python, os.path.join(HERE, "dump_linetables.py"), dump,
                        os.path.join(HERE, "linetable_cases.py")], check=True)
        return subprocess.run([test, dump]).returncode


if __name__ == "__main__":
    sys.exit(main())
