#!/usr/bin/env python3
"""speedscope output against speedscope's published schema: the writer's
unit-test file (hostile names, inlined and kernel frames) and a recording of
the `threads` fixture (one frame per function), whose per-thread profiles, turned back into folded
stacks, must meet threads.expect, and whose weights must add up to the
samples the summary reports.

usage: speedscope_test.py HOTSPY TEST_SPEEDSCOPE FIXTURES EXPECT_DIR SCHEMA
Exit 77 when the schema (npm package speedscope, installed by
scripts/setup.sh) or python3-jsonschema is missing.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

RATE = 300
failures = 0


def check(cond, what):
    global failures
    if not cond:
        print("FAIL:", what)
        failures += 1


def validate(validator, path, what):
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        check(False, "%s is not JSON in UTF-8: %s" % (what, e))
        return None
    errors = list(validator.iter_errors(doc))
    for e in errors[:5]:
        print("schema:", what, "/".join(str(p) for p in e.absolute_path), e.message[:200])
    check(not errors, "%s is valid against speedscope's schema" % what)
    return doc


def to_folded(doc, program, path):
    """Each thread's stacks as folded lines under `program;THREAD (TID)`,
    weights back in samples (ms * rate / 1000)."""
    frames = doc["shared"]["frames"]
    with open(path, "w") as f:
        for prof in doc["profiles"]:
            for stack, w in zip(prof["samples"], prof["weights"]):
                names = [program, prof["name"]] + [frames[i]["name"] for i in stack]
                f.write("%s %d\n" % (";".join(names), round(w * RATE / 1000.0)))


def main():
    if len(sys.argv) != 6:
        print(__doc__)
        return 2
    hotspy, unit, fixtures, expect_dir, schema_path = sys.argv[1:]
    try:
        import jsonschema
    except ImportError:
        print("SKIP: python3-jsonschema is not installed (scripts/setup.sh installs it)")
        return 77
    if not os.path.exists(schema_path):
        print("SKIP: no speedscope schema at %s (scripts/setup.sh installs the npm package)"
              % schema_path)
        return 77
    with open(schema_path) as f:
        schema = json.load(f)
    validator = jsonschema.Draft7Validator(schema)

    with tempfile.TemporaryDirectory() as tmp:
        # 1. Hostile names, inlined and kernel frames, several processes.
        unit_json = os.path.join(tmp, "unit.json")
        r = subprocess.run([unit, unit_json], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        check(r.returncode == 0, "the speedscope unit test passes:\n" + r.stdout)
        doc = validate(validator, unit_json, "the unit test's file")
        if doc:
            names = [fr["name"] for fr in doc["shared"]["frames"]]
            check(any(n.startswith("<script>\"a\\b\"\n") for n in names),
                  "a hostile name reads back as the bytes it stood for")

        # 2. A recording of the threads fixture.
        out = os.path.join(tmp, "threads.json")
        r = subprocess.run([hotspy, "record", "-r", str(RATE), "-o", out, "--",
                            os.path.join(fixtures, "threads"), "3"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=60)
        print(r.stderr, end="")
        check(r.returncode == 0, "hotspy record -o threads.json exits 0")
        m = re.search(r"(\d+) samples in", r.stderr)
        check(m is not None, "a summary line with the sample count")
        doc = validate(validator, out, "the recording of threads")
        if doc and m:
            samples = int(m.group(1))
            total_ms = sum(sum(p["weights"]) for p in doc["profiles"])
            check(abs(total_ms - samples * 1000.0 / RATE) < 1e-6 * max(total_ms, 1),
                  "weights add up to the %d samples (%.3f ms)" % (samples, total_ms))
            names = [p["name"] for p in doc["profiles"]]
            print("profiles:", ", ".join(names))
            for w in ("worker-a", "worker-b", "worker-c"):
                check(any(n.startswith(w + " (") for n in names),
                      "a profile for thread %s" % w)
            # One frame per function (speedscope's Sandwich view lists
            # frames): no name twice, no line without --lines.
            fnames = [(fr["name"], fr.get("file")) for fr in doc["shared"]["frames"]]
            check(len(fnames) == len(set(fnames)), "each function is one frame: %s"
                  % sorted(n for n in set(fnames) if fnames.count(n) > 1)[:5])
            check(not any("line" in fr for fr in doc["shared"]["frames"]),
                  "no line in a frame without --lines")
            for p in doc["profiles"]:
                check(abs(p["endValue"] - sum(p["weights"])) < 1e-6 * max(p["endValue"], 1),
                      "endValue of %s is its total" % p["name"])
            folded = os.path.join(tmp, "threads.folded")
            to_folded(doc, "threads", folded)
            r = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__),
                                                             "check_profile.py"),
                                os.path.join(expect_dir, "threads.expect"), folded,
                                "--threads"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            print(r.stdout, end="")
            check(r.returncode == 0, "the per-thread profiles meet threads.expect")

        # 3. --lines: a frame per line the functions were sampled at. The
        # threads fixture's duty_cycle calls its spinning function and the
        # clock from two lines, so it is a frame at each. The clock's line
        # holds a few percent of duty_cycle's time: at 300 Hz for 1 s it
        # went unsampled in 1 run of 3, so this run takes ~1000 Hz.
        r = subprocess.run([hotspy, "record", "-q", "-r", "997", "--lines", "-o", out,
                            "--", os.path.join(fixtures, "threads"), "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=60)
        check(r.returncode == 0, "hotspy record --lines -o threads.json exits 0")
        doc = validate(validator, out, "the recording with --lines")
        if doc:
            names = [fr["name"] for fr in doc["shared"]["frames"] if "line" in fr]
            check(len(names) > len(set(names)),
                  "--lines: some function is a frame at more than one line")
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
