#!/usr/bin/env python3
"""Unit test of check_profile.py: hand-written folded files in hotspy's
format (native frames, Python frames `QUALNAME (FILE)` or `(FILE:LINE)`,
thread frames) against hand-written and real expectation files. Each case
states what must hold and what must fail, so a matcher that accepts
everything fails here.

usage: check_profile_test.py SOURCE_DIR
"""
import contextlib
import io
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_profile  # noqa: E402
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


def run(tmp, expect, folded, *opts):
    """(exit status, output) of check_profile on the two texts."""
    e, f = os.path.join(tmp, "t.expect"), os.path.join(tmp, "t.folded")
    with open(e, "w", encoding="utf-8") as out:
        out.write(expect)
    with open(f, "w", encoding="utf-8") as out:
        out.write(folded)
    return check_profile_main([e, f] + list(opts))


def check_profile_main(argv):
    """(exit status, output) of check_profile.main(argv), in this process:
    a unit test of ~50 runs stays well under a second."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        code = check_profile.main(argv)
    return code, buf.getvalue()


def marked_line(path, mark):
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if "# " + mark in line:
                return n
    raise SystemExit("no %s in %s" % (mark, path))


def main():
    src = os.path.abspath(sys.argv[1])
    pysplit = os.path.join(src, "fixtures", "python", "pysplit.py")
    hot = marked_line(pysplit, "HOT-LINE")
    deep = ";".join(["descend (%s)" % pysplit] * 120)
    with tempfile.TemporaryDirectory() as tmp:
        # pysplit as hotspy will write it, grouped by function (70/30 split,
        # 120 descend frames, a native root and start-up frames below).
        folded = (
            "python3.11;_start;main;<module> ({p});main ({p});{d};bottom ({p});alpha ({p});work ({p}) 70\n"
            "python3.11;_start;main;<module> ({p});main ({p});{d};bottom ({p});beta ({p});work ({p}) 29\n"
            "python3.11;_start;main;<module> ({p});main ({p});{d};bottom ({p});alpha ({p});clock_gettime 1\n"
        ).format(p=pysplit, d=deep)
        expect = ("leaf py:work 99 1\ncaller py:work py:alpha 70 1\ncaller py:work py:beta 29 1\n"
                  "repeated py:descend 120 100 0\nnative-under py:alpha 1 0.5\n"
                  "path main py:<module> py:bottom py:work 99 0\npython 100 0\n"
                  "under py:work@pysplit.py 99 0\nleaf work 0 0\n")
        code, out = run(tmp, expect, folded, "--python-root", "99")
        check(code == 0 and "9 of 10" not in out, "pysplit-like profile meets its expectations\n" + out)
        # The same file, wrong claims: each must fail on its own.
        for bad in ("caller py:work py:alpha 30 5", "caller py:work py:descend 99 5",
                    "repeated py:descend 121 100 5", "leaf py:work@other.py 99 5",
                    "native-under py:beta 1 0.5", "path py:work py:<module> 99 5",
                    "leaf py:alpha 70 5", "under re:desc.* 0 5", "python 0 5"):
            code, out = run(tmp, bad + "\n", folded)
            check(code == 1, "fails: %s (exit %d)" % (bad, code))

        # --lines: the hottest line of work is HOT-LINE; the line matcher
        # reads the marks from the file the frame names.
        lines = (
            "py;<module> ({p}:90);main ({p}:80);work ({p}:{h}) 60\n"
            "py;<module> ({p}:90);main ({p}:80);work ({p}:{f}) 30\n"
            "py;<module> ({p}:90);main ({p}:80);alpha ({p}:50) 10\n"
        ).format(p=pysplit, h=hot, f=hot - 1)
        code, out = run(tmp, "hottest py:work HOT-LINE\nline py:work HOT-LINE 60 1\n", lines, "--lines")
        check(code == 0, "hottest line and line share with --lines\n" + out)
        code, out = run(tmp, "hottest py:work HOT-LINE\n", lines.replace(" 60\n", " 20\n"), "--lines")
        check(code == 1, "hottest fails when another line has more samples\n" + out)
        code, out = run(tmp, "line py:work HOT-LINE 60 1\nleaf py:work 90 1\n", lines)
        check(code == 0 and "skip line" in out, "line kinds skipped without --lines\n" + out)
        # A frame whose file cannot be read: the mark is looked up beside
        # the expectation file, by base name.
        moved = lines.replace(pysplit, "/nonexistent/pysplit.py")
        os.symlink(pysplit, os.path.join(tmp, "pysplit.py"))
        code, out = run(tmp, "hottest py:work HOT-LINE\n", moved, "--lines")
        check(code == 0, "marks found beside the expectation file\n" + out)

        # Version guards: checked or skipped by --python-version.
        shapes = ("py;<module> (s.py);main (s.py);by_method (s.py);Shape.area (s.py) 50\n"
                  "py;<module> (s.py);main (s.py);by_listcomp (s.py) 50\n")
        expect = ("py<3.11 caller py:area py:by_method 50 1\n"
                  "py>=3.11 caller py:Shape.area py:by_method 50 1\n"
                  "py>=3.12 leaf py:by_listcomp 50 1\n"
                  "py>=3.0 py<3.12 under re:.*<listcomp>.* 50 1\n")
        code, out = run(tmp, expect, shapes, "--python-version", "3.12")
        check(code == 0 and out.count("skip") == 2, "guards at 3.12\n" + out)
        code, out = run(tmp, expect, shapes, "--python-version", "3.10")
        check(code == 1 and out.count("skip") == 2, "guards at 3.10: the 3.10 lines fail\n" + out)
        code, out = run(tmp, expect, shapes)
        check(code == 2, "a guard without --python-version is an error\n" + out)
        code, out = run(tmp, "py>=3.11\n", shapes, "--python-version", "3.12")
        check(code == 2, "a guard alone is an error")

        # Non-ASCII names and files, every string kind, UTF-8.
        uni = ("python3.12;<module> (/x/pyunicode.py);main (/x/pyunicode.py);"
               "naïve_work (/x/modulé_名前.py) 40\n"
               "python3.12;<module> (/x/pyunicode.py);main (/x/pyunicode.py);函数 (/x/modulé_名前.py) 30\n"
               "python3.12;<module> (/x/pyunicode.py);main (/x/pyunicode.py);𠜎𠜱 (/x/modulé_名前.py) 15\n"
               "python3.12;<module> (/x/pyunicode.py);main (/x/pyunicode.py);"
               "Größe.fläche (/x/modulé_名前.py) 15\n")
        with open(os.path.join(src, "fixtures", "python", "pyunicode.expect"), encoding="utf-8") as f:
            real = f.read()
        code, out = run(tmp, real, uni, "--python-version", "3.12", "--python-root", "99")
        check(code == 0, "pyunicode.expect on a profile that meets it\n" + out)
        code, out = run(tmp, real, uni.replace("naïve_work", "naive_work"), "--python-version", "3.12")
        check(code == 1, "an ASCII-folded name does not pass for naïve_work\n" + out)

        # Threads by Python's names; the Python root of threads.
        thr = ("python3.11;py-busy (11);_bootstrap (/t/threading.py);run (/t/threading.py);"
               "duty_cycle (/x/pythreads.py);spin (/x/pythreads.py) 60\n"
               "python3.11;gil-free (12);Thread._bootstrap (/t/threading.py);"
               "duty_cycle (/x/pythreads.py);compress_loop (/x/pythreads.py);deflate 39\n"
               "python3.11;gil-free (12);Thread._bootstrap (/t/threading.py);"
               "duty_cycle (/x/pythreads.py);compress_loop (/x/pythreads.py) 1\n")
        # 2.7's threads start in Thread.__bootstrap (its code name).
        thr27 = thr.replace("Thread._bootstrap (/t", "_bootstrap (/t").replace(
            "_bootstrap (/t", "__bootstrap (/t")
        with open(os.path.join(src, "fixtures", "python", "pythreads.expect"), encoding="utf-8") as f:
            real = f.read()
        code, out = run(tmp, real, thr, "--threads", "--python-root", "99")
        check(code == 0, "pythreads.expect on a profile that meets it\n" + out)
        code, out = run(tmp, real, thr27, "--threads", "--python-root", "99")
        check(code == 0 and "__bootstrap" in thr27, "2.7's __bootstrap is a thread's root\n" + out)
        code, out = run(tmp, real, thr.replace("deflate 39", "deflate (/x/pythreads.py) 39"),
                        "--threads")
        check(code == 1, "native-under fails when the leaf is a Python frame\n" + out)

        # The Python root: a walk cut inside the Python stack fails it; native-
        # only samples do not count either way.
        cut = ("py;[truncated];descend (p.py);work (p.py) 5\n"
               "py;<module> (p.py);work (p.py) 95\n"
               "py;_start;main 400\n")
        code, out = run(tmp, "python 20 1\n", cut, "--python-root", "99")
        check(code == 1 and "95.0 %" in out, "python root: 95 % of Python samples fails 99\n" + out)
        code, out = run(tmp, "python 20 1\n", cut, "--python-root", "95")
        check(code == 0, "python root: 95 % meets 95\n" + out)
        code, out = run(tmp, "leaf main 100 1\n", "py;_start;main 10\n", "--python-root", "99")
        check(code == 1, "python root: a profile with no Python frame fails\n" + out)

        # Native frames that look like nothing Python: C++ names keep working.
        cxx = ("cxxhot;_start;main;run(fixture_args const*)::{lambda(unsigned long)#1}::"
               "operator()(unsigned long) const 30\ncxxhot;_start;main;crunch_[i] 70\n")
        code, out = run(tmp, 'leaf "run(fixture_args const*)::{lambda(unsigned long)#1}::'
                             'operator()(unsigned long) const" 30 1\ninlined crunch 70 1\n'
                             'python 0 0\n', cxx)
        check(code == 0, "C++ and inlined frames are not Python frames\n" + out)

        # With --lines native frames carry a file and line too: not Python.
        native = ("py;_start;main;<module> (/x/p.py:3);compress_loop (/x/p.py:9);"
                  "zlib_compress_impl (./Modules/zlibmodule.c:216);"
                  "deflate (./deflate.c:1002) 10\n"
                  "py;_start;main;<module> (<frozen runpy>:88);work (<string>:2) 10\n")
        code, out = run(tmp, "native-under py:compress_loop 50 0\nleaf py:work@<string> 50 0\n"
                             "under py:deflate 0 0\nunder re:deflate.* 50 0\n", native,
                        "--lines", "--python-root", "100")
        check(code == 0, "native frames with lines are native, <...> files Python\n" + out)

        # Malformed expectations.
        for bad in ("caller py:work 50 5", "repeated py:work x 50 5", "path 50 5",
                    "hottest work HOT-LINE", "leaf re:( 50 5", "line work HOT 50 5"):
            code, out = run(tmp, bad + "\n", folded)
            check(code == 2, "malformed: %s (exit %d)" % (bad, code))

        # Every expectation file of the project parses (guards given a
        # version, thread kinds --threads, line kinds --lines).
        for d in (os.path.join(src, "fixtures"), os.path.join(src, "fixtures", "python")):
            for name in sorted(os.listdir(d)):
                if not name.endswith(".expect"):
                    continue
                args = [os.path.join(d, name), os.path.join(tmp, "t.folded"),
                        "--python-version", "3.11", "--lines"]
                code, out = check_profile_main(args)
                if "--threads" in out:
                    with open(os.path.join(tmp, "t.folded"), "w") as f:
                        f.write("p;t (1);x 1\n")
                    code, out = check_profile_main(args + ["--threads"])
                    with open(os.path.join(tmp, "t.folded"), "w") as f:
                        f.write(folded)
                check(code in (0, 1), "%s parses (exit %d) %s"
                      % (name, code, out if code == 2 else ""))
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
