#!/usr/bin/env python3
"""Every CTest test carries labels that scripts/test.sh can select by
(tests/CMakeLists.txt lists them):

- at least one tier label: unit, integration, browser, terminal or python;
- no label outside the known ones (a misspelt label selects nothing);
- RUN_SERIAL exactly on the tests labelled shares: they run alone, and
  nothing else is held back from ctest -j;
- shares and asan apart: the asan tier measures no shares, and no unit
  test measures them.

usage: labels_test.py CTEST BUILD_DIR
"""
import json
import subprocess
import sys

TIERS = {"unit", "integration", "browser", "terminal", "python"}
KNOWN = TIERS | {"shares", "asan", "matrix"}


def main():
    ctest, build = sys.argv[1:3]
    r = subprocess.run([ctest, "--show-only=json-v1"], cwd=build, capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        print("FAIL: ctest --show-only failed: %s" % r.stderr)
        return 1
    tests = json.loads(r.stdout)["tests"]
    problems = []
    for t in tests:
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        labels = set(props.get("LABELS", []))
        name = t["name"]
        if not labels & TIERS:
            problems.append("%s: no tier label (%s) among %s"
                            % (name, ", ".join(sorted(TIERS)), sorted(labels)))
        if labels - KNOWN:
            problems.append("%s: unknown label(s) %s" % (name, sorted(labels - KNOWN)))
        serial = bool(props.get("RUN_SERIAL", False))
        if serial != ("shares" in labels):
            problems.append("%s: RUN_SERIAL %s but labels %s (RUN_SERIAL goes with "
                            "shares, and only with it)" % (name, serial, sorted(labels)))
        if "shares" in labels and labels & {"asan", "unit"}:
            problems.append("%s: shares with %s" % (name, sorted(labels & {"asan", "unit"})))
    for p in problems:
        print("FAIL: " + p)
    print("%d tests, %d problem(s)" % (len(tests), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
