#!/usr/bin/env python3
"""Naming in depth, on fixtures built for it:

- cxxhot with --lines: the hottest frame is the inlined member function,
  demangled, marked _[i], at a line of its loop (the source marks them
  HOT-LOOP);
- cxxhot names as perf prints them (scope::name<T>, no return or
  parameter types) by default, with them under --full-names;
- cxxhot with --no-demangle: the same frames keep their mangled names;
- a stripped hotspots whose debug file lies only under a build-id tree:
  without --debug-dir its functions fall back to module+offset (and the
  profile says so), with it they are named;
- a debuglink whose file has another CRC: not used.

usage: symbols_test.py HOTSPY FIXTURES SOURCE_DIR
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


def record(hotspy, out, argv, *opts):
    r = subprocess.run([hotspy, "record", "-q", "-r", "300", "-f", "folded", "-o", out,
                        *opts, "--", *argv], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "hotspy record %s exits 0 %s" % (" ".join(opts), r.stderr))
    leaves = {}
    names = set()
    with open(out) as f:
        for line in f:
            stack, count = line.rsplit(" ", 1)
            frames = stack.split(";")
            names.update(frames)
            leaves[frames[-1]] = leaves.get(frames[-1], 0) + float(count)
    return leaves, names


def main():
    hotspy, fixtures, src = sys.argv[1:4]
    hot_lines = {i for i, l in enumerate(open(os.path.join(src, "fixtures/cxxhot.cpp")), 1)
                 if "// HOT-LOOP" in l}
    check(len(hot_lines) >= 2, "the source marks the hot loop's lines")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "p.folded")
        cxx = [os.path.join(fixtures, "cxxhot"), "2"]

        leaves, _ = record(hotspy, out, cxx, "--lines")
        total = sum(leaves.values())
        step = re.compile(r"^hotspy_fixture::Mixer<unsigned long>::step_\[i\]"
                          r" \((?P<file>.*):(?P<line>\d+)\)$")
        on_loop = sum(c for l, c in leaves.items()
                      if (m := step.match(l)) and m.group("file").endswith("/cxxhot.cpp")
                      and int(m.group("line")) in hot_lines)
        hottest = max(leaves, key=leaves.get)
        print("hottest leaf: %s (%.1f %%)" % (hottest, 100 * leaves[hottest] / total))
        check(step.match(hottest) is not None,
              "the hottest frame is the inlined step(), demangled, with file:line")
        check(abs(100 * on_loop / total - 70) <= 8,
              "step()'s samples on its HOT-LOOP lines: %.1f %% (70 +- 8)" % (100 * on_loop / total))

        leaves, names = record(hotspy, out, cxx)
        check("hotspy_fixture::crunch<unsigned long>" in names and
              "hotspy_fixture::Mixer<unsigned long>::step_[i]" in names,
              "default: C++ names without return and parameter types: %s"
              % sorted(n for n in names if "hotspy_fixture" in n))
        check(not any(n.endswith(")") for n in names if "hotspy_fixture" in n),
              "default: no parameter list")
        leaves, names = record(hotspy, out, cxx, "--full-names")
        check("unsigned long hotspy_fixture::crunch<unsigned long>(hotspy_fixture::"
              "Mixer<unsigned long>&, unsigned long)" in names and
              "hotspy_fixture::Mixer<unsigned long>::step(unsigned long)_[i]" in names,
              "--full-names: return and parameter types: %s"
              % sorted(n for n in names if "hotspy_fixture" in n))

        # The full signatures stay where there is room: SVG tooltips (a
        # second line of the title) and speedscope's frame names.
        svg = os.path.join(tmp, "p.svg")
        r = subprocess.run([hotspy, "record", "-q", "-r", "300", "-o", svg, "--",
                            cxx[0], "1"], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "hotspy record -o p.svg exits 0 %s" % r.stderr)
        titles = re.findall(r"<title>([^<]*)</title>", open(svg).read())
        crunch = [t for t in titles if t.startswith("hotspy_fixture::crunch&lt;unsigned long&gt; (")]
        check(len(crunch) > 0 and all(
            t.endswith("\nunsigned long hotspy_fixture::crunch&lt;unsigned long&gt;"
                       "(hotspy_fixture::Mixer&lt;unsigned long&gt;&amp;, unsigned long)")
            for t in crunch), "SVG: the short name's tooltip ends with its full signature: %s"
            % crunch[:1])
        js = os.path.join(tmp, "p.json")
        r = subprocess.run([hotspy, "record", "-q", "-r", "300", "-o", js, "--",
                            cxx[0], "1"], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "hotspy record -o p.json exits 0 %s" % r.stderr)
        import json
        frames = [f["name"] for f in json.load(open(js))["shared"]["frames"]]
        check("unsigned long hotspy_fixture::crunch<unsigned long>(hotspy_fixture::"
              "Mixer<unsigned long>&, unsigned long)" in frames,
              "speedscope: frames named by their full signature: %s"
              % [f for f in frames if "crunch" in f])

        leaves, names = record(hotspy, out, cxx, "--no-demangle")
        check(any(n.startswith("_ZN14hotspy_fixture5MixerImE4step") and n.endswith("_[i]")
                  for n in names), "--no-demangle keeps the mangled name of step()")
        check(not any("hotspy_fixture::" in n for n in names),
              "--no-demangle: no demangled name")

        stripped = os.path.join(fixtures, "stripped", "buildid", "hotspots")
        leaves, names = record(hotspy, out, [stripped, "1"])
        check("hot_a" not in names and any(n.startswith("hotspots+0x") for n in names),
              "stripped, debug file out of reach: module+offset frames")
        leaves, names = record(hotspy, out, [stripped, "1"], "--debug-dir",
                               os.path.join(fixtures, "stripped", "root"))
        check("hot_a" in leaves and "hot_b" in leaves,
              "stripped, --debug-dir with the build-id tree: named")
        # A debug file whose CRC does not match the debuglink is not used.
        link = os.path.join(fixtures, "stripped", "link")
        os.makedirs(os.path.join(tmp, "bad", ".debug"))
        shutil.copy2(os.path.join(link, "hotspots"), os.path.join(tmp, "bad", "hotspots"))
        with open(os.path.join(link, ".debug", "hotspots.debug"), "rb") as f:
            data = f.read()
        with open(os.path.join(tmp, "bad", ".debug", "hotspots.debug"), "wb") as f:
            f.write(data + b"\0")   # still ELF, another CRC
        leaves, names = record(hotspy, out, [os.path.join(tmp, "bad", "hotspots"), "1"])
        check("hot_a" not in names, "a debuglink target with the wrong CRC is not used")
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
