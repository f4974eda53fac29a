#!/usr/bin/env python3
"""hotspy top on the threads fixture.

batch:  --batch (and a pipe without it) prints a header and the table each
        refresh, -n N stops after N; each worker's hot function has its
        share of threads.expect in the OwnTime column; the header names the
        program, its 5 threads and its CPU use; a program that exits ends
        top with its status; the fixture runs on.
screen: inside tmux at WxH: the hot function first with its %Own within the
        expected tolerance; `2` sorts by %Total; `t` narrows to one named
        thread whose own hot function leads; `/` filters; `q` (or Ctrl-C)
        quits with status 0 and the fixture runs on, never stopped; when
        the program exits the last view stays with a message until `q`.

all:    `top -a` inside tmux with hotspots and sharedlib running: the title
        says all processes, the header names several processes with their
        shares, `p` cycles through them and narrowed to hotspots its hot_a
        leads; `q` quits with status 0 and both fixtures run on untraced.

usage: top_test.py HOTSPY FIXTURES EXPECT batch
       top_test.py HOTSPY FIXTURES EXPECT screen WIDTHxHEIGHT
       top_test.py HOTSPY FIXTURES EXPECT all
"""
import os
import re
import shutil
import subprocess
import sys
import time

failures = 0
ROW = re.compile(r"^\s*([\d.]+)%\s+([\d.]+)%\s+([\d.]+)s\s+([\d.]+)s\s+(\S+)")


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


def load_expect(path):
    """{function: (share, tolerance)} of the 'thread T leaf F SHARE TOL' lines."""
    out = {}
    with open(path) as f:
        for line in f:
            w = line.split()
            if len(w) == 6 and w[0] == "thread" and w[2] == "leaf":
                out[w[3]] = (float(w[4]), float(w[5]))
    return out


def rows_of(lines):
    """(own%, total%, own s, total s, function) of each table row."""
    out = []
    for line in lines:
        m = ROW.match(line)
        if m:
            out.append((float(m.group(1)), float(m.group(2)), float(m.group(3)),
                        float(m.group(4)), m.group(5)))
    return out


def running_untraced(pid):
    """The process exists, is not stopped, and has no tracer."""
    try:
        with open("/proc/%d/status" % pid) as f:
            status = f.read()
    except OSError:
        return False
    state = re.search(r"^State:\s+(\S)", status, re.M).group(1)
    tracer = int(re.search(r"^TracerPid:\s+(\d+)", status, re.M).group(1))
    return state not in ("t", "T", "Z", "X") and tracer == 0


def batch(hotspy, fixtures, expect):
    target = subprocess.Popen([os.path.join(fixtures, "threads"), "30"])
    try:
        time.sleep(0.5)
        r = subprocess.run([hotspy, "top", "--batch", "-p", str(target.pid), "-r", "200",
                            "-n", "3"], capture_output=True, text=True, timeout=60)
        print(r.stdout[-3000:], r.stderr)
        check(r.returncode == 0, "top --batch -n 3 exits 0")
        tables = [t for t in r.stdout.split("hotspy top: ")[1:]]
        check(len(tables) == 3, "-n 3 prints three tables (%d)" % len(tables))
        last = tables[-1].splitlines() if tables else []
        head = "hotspy top: " + "\n".join(last[:2])
        check(re.search(r"threads \(pid %d\)" % target.pid, head) is not None,
              "the header names the program and its pid")
        m = re.search(r"threads (\d+) running / (\d+)\s+CPU (\d+)%", head)
        check(m is not None and int(m.group(2)) == 5 and int(m.group(1)) <= 5,
              "the header counts the fixture's 5 threads")
        # The workers keep ~one core busy between them.
        check(m is not None and 50 <= int(m.group(3)) <= 150,
              "the header shows the fixture's CPU use near 100 %%")
        rows = rows_of(last)
        check(len(rows) > 0 and rows[0][4] == "spin_a", "spin_a leads (sorted by OwnTime)")
        check(all(rows[i][2] >= rows[i + 1][2] for i in range(len(rows) - 1)),
              "rows are sorted by OwnTime")
        total = sum(row[2] for row in rows)
        for fn, (share, tol) in expect.items():
            own = sum(row[2] for row in rows if row[4] == fn)
            pct = 100.0 * own / total if total else 0.0
            check(abs(pct - share) <= tol,
                  "%s: %.1f %% of OwnTime (expected %g +- %g)" % (fn, pct, share, tol))
        check(running_untraced(target.pid), "the fixture runs on, untraced")

        # stdout a pipe: batch without --batch; -d ends it.
        p = subprocess.Popen([hotspy, "top", "-p", str(target.pid), "--delay", "0.5",
                              "-d", "1.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        out, err = p.communicate(timeout=60)
        check(p.returncode == 0 and out.count("hotspy top: ") == 2,
              "a pipe gets batch output; -d 1.2 at --delay 0.5 gives two tables")
        check(running_untraced(target.pid), "the fixture runs on after -d")
    finally:
        target.kill()
        target.wait()

    # A program started under top: it exits, top prints the last table and
    # the status, and exits 0.
    r = subprocess.run([hotspy, "top", "--batch", "--delay", "0.5", "--",
                        os.path.join(fixtures, "threads"), "1.5"],
                       capture_output=True, text=True, timeout=60)
    print(r.stdout[-1500:], r.stderr)
    check(r.returncode == 0, "top -- CMD exits 0 when the program does")
    check("the program exited with status 0" in r.stdout, "the exit is said")

    # A program that works, then sleeps past two refreshes, then exits: the
    # last window holds no on-CPU sample, and the table kept at the end
    # shows the whole run's shares, not 0.0 % on every row.
    busy_then_sleep = ("import time\n"
                       "t = time.monotonic()\n"
                       "while time.monotonic() - t < 0.6: pass\n"
                       "time.sleep(1.3)\n")
    r = subprocess.run([hotspy, "top", "--batch", "--delay", "0.5", "--", sys.executable,
                        "-c", busy_then_sleep], capture_output=True, text=True, timeout=60)
    final = r.stdout.split("hotspy top: ")[-1].splitlines()
    print("\n".join(final[:6]), r.stderr)
    rows = rows_of(final)
    check(r.returncode == 0 and "(shares: whole run)" in "\n".join(final[:3]),
          "the table kept at the end says its shares are the whole run's")
    check(len(rows) > 0 and max(row[0] for row in rows) > 10.0,
          "and it shows them (top %%Own %s)" % (max(row[0] for row in rows) if rows else "-"))

    # Wrong input: clear errors, exit 2 / 1.
    r = subprocess.run([hotspy, "top", "--delay", "0"], capture_output=True, text=True)
    check(r.returncode == 2 and "invalid delay" in r.stderr, "a bad --delay is refused")
    r = subprocess.run([hotspy, "top", "--batch", "-p", "999999999"], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode != 0 and "999999999" in r.stderr, "a wrong PID is a clear error")


class Tmux:
    def __init__(self, width, height, cmd):
        self.name = "hotspy-top-%d" % os.getpid()
        env = dict(os.environ, TERM="xterm-256color")
        env.pop("NO_COLOR", None)
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)
        # The shell keeps the pane after hotspy exits, to read its status;
        # its trap (reset in hotspy by exec) keeps a Ctrl-C from ending it.
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(width),
                        "-y", str(height), "sh -c 'trap : INT; %s; echo hotspy-exit=$?; sleep 60'" % cmd],
                       check=True, env=env)

    def screen(self, escapes=False):
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name] +
                              (["-e"] if escapes else []),
                              capture_output=True, text=True).stdout

    def resize(self, width, height):
        subprocess.run(["tmux", "resize-window", "-t", self.name, "-x", str(width),
                        "-y", str(height)], check=True)

    def keys(self, *keys):
        subprocess.run(["tmux", "send-keys", "-t", self.name] + list(keys), check=True)

    def wait_for(self, pattern, timeout=10):
        """The screen once @pattern shows on it and it has stopped changing:
        tmux may be read in the middle of a redraw (the status line already
        new, the table not yet), so a match counts only when two reads 0.15 s
        apart agree. The last screen when the time runs out."""
        deadline = time.time() + timeout
        s = self.screen()
        while time.time() < deadline:
            if re.search(pattern, s, re.M):
                time.sleep(0.15)
                again = self.screen()
                if again == s:
                    return s
                s = again
                continue
            time.sleep(0.1)
            s = self.screen()
        return s

    def close(self):
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def screen_test(hotspy, fixtures, expect, width, height):
    if not shutil.which("tmux"):
        print("SKIP: tmux is not installed (scripts/setup.sh installs it)")
        return 77
    target = subprocess.Popen([os.path.join(fixtures, "threads"), "40"])
    tmux = None
    try:
        time.sleep(0.5)
        # -v: a message is logged once the view is open.
        tmux = Tmux(width, height, "%s top -v -p %d -r 200 --delay 2" % (hotspy, target.pid))
        # The second refresh: two full windows of samples.
        s = tmux.wait_for(r"^\d+ samples in [4-9]\.\d s", timeout=15)
        print(s)
        lines = s.splitlines()
        # While curses owns the terminal, messages go to the bottom line
        # through the view's logging sink, never raw to stderr.
        check(lines and re.match(r"sampling threads \(pid \d+\) with the \w+ sampler",
                                 lines[-1]) is not None,
              "a message logged while the view is open is on its bottom line")
        check(not any(x.startswith("hotspy:") for x in lines),
              "nothing is written raw to the terminal while the view is open")
        check(len(lines) <= height and all(len(x) <= width for x in lines),
              "the view fits %dx%d" % (width, height))
        check(any("%Own" in x and "TotalTime" in x for x in lines), "the table header shows")
        check(any("*OwnTime" in x and "Function (file)" in x for x in lines),
              "the header marks the sort column and names what the rows show")
        rows = rows_of(lines)
        share, tol = expect["spin_a"]
        check(len(rows) > 0 and rows[0][4] == "spin_a" and abs(rows[0][0] - share) <= tol,
              "spin_a first with %%Own within %g +- %g: %s" % (share, tol,
                                                           rows[0] if rows else None))
        check(len(rows) <= height - 6, "no more rows than fit")
        # Colour: SGR colour codes (30-37/40-47) on the screen.
        colour = re.compile(r"\x1b\[[0-9;]*[34][0-7]m")
        check(colour.search(tmux.screen(escapes=True)) is not None,
              "colour where the terminal has it")

        # The terminal changes size: the view follows.
        tmux.resize(width + 20, height + 6)
        s = tmux.wait_for(r"^%s" % re.escape(lines[0][:20]))
        time.sleep(0.5)
        s = tmux.wait_for(r"%Own")
        lines2 = s.splitlines()
        check(len(rows_of(lines2)) >= min(len(rows), 1) and
              any("%Own" in x for x in lines2), "after a resize the table shows again")
        tmux.resize(width, height)
        time.sleep(0.3)

        tmux.keys("2")
        s = tmux.wait_for(r"sort: %Total")
        check("*%Total" in s, "`2` moves the mark to %Total")
        rows = rows_of(s.splitlines())
        check("sort: %Total" in s and rows and
              all(rows[i][1] >= rows[i + 1][1] for i in range(len(rows) - 1)) and
              rows[0][1] >= 99.0, "`2` sorts by %Total (callers of everything first)")

        tmux.keys("3", "t")
        s = tmux.wait_for(r"^thread (worker-\w|threads|blocker) \(\d+\)")
        m = re.search(r"^thread (\S+) \(\d+\), 1 of", s, re.M)
        check(m is not None, "`t` narrows the view to one named thread")
        if m and m.group(1).startswith("worker-"):
            hot = "spin_" + m.group(1)[-1]
            rows = rows_of(s.splitlines())
            check(rows and rows[0][4] == hot and rows[0][0] >= 90.0,
                  "%s's own hot function %s leads with ~100 %%" % (m.group(1), hot))
        # Through every thread seen (3 workers, perhaps main) back to all.
        for _ in range(8):
            tmux.keys("t")
            time.sleep(0.3)
            s = tmux.wait_for(r"^(all threads|thread )", timeout=2)
            if re.search(r"^all threads", s, re.M):
                break
        check(re.search(r"^all threads", s, re.M) is not None, "`t` comes back to all threads")

        tmux.keys("/", "s", "p", "i", "n", "_", "b", "Enter")
        s = tmux.wait_for(r"filter: spin_b")
        rows = rows_of(s.splitlines())
        check(rows and all(r[4] == "spin_b" for r in rows), "`/spin_b` keeps only spin_b")
        tmux.keys("/", "n", "o", "n", "e", "_", "s", "u", "c", "h", "Enter")
        s = tmux.wait_for(r"filter: none_such")
        check(not rows_of(s.splitlines()) and 'no function matches the filter "none_such"' in s,
              "a filter that matches nothing says so")
        tmux.keys("Escape")
        tmux.keys("?")
        s = tmux.wait_for(r"hotspy top: keys")
        check("pause the display" in s, "`?` shows the keys")
        tmux.keys("x")

        if width >= 200:
            tmux.keys("C-c")
            how = "Ctrl-C"
        else:
            tmux.keys("q")
            how = "`q`"
        s = tmux.wait_for(r"hotspy-exit=\d+")
        check("hotspy-exit=0" in s, "%s quits with status 0" % how)
        time.sleep(0.2)
        check(running_untraced(target.pid), "the fixture runs on, never stopped or traced")
        tmux.close()

        # The program exits: the view stays until `q`.
        # Also: NO_COLOR is honoured.
        tmux = Tmux(width, height, "NO_COLOR=1 %s top --delay 0.5 -- %s 1" %
                    (hotspy, os.path.join(fixtures, "threads")))
        s = tmux.wait_for(r"the program exited with status 0", timeout=15)
        check("the program exited with status 0" in s and "q quits" in s and
              rows_of(s.splitlines()), "after the program exits the last view stays")
        check(colour.search(tmux.screen(escapes=True)) is None, "no colour with NO_COLOR")
        time.sleep(0.5)
        check("hotspy-exit" not in tmux.screen(), "... until `q`")
        tmux.keys("q")
        s = tmux.wait_for(r"hotspy-exit=\d+")
        check("hotspy-exit=0" in s, "`q` then quits with status 0")
    finally:
        if tmux:
            tmux.close()
        target.kill()
        target.wait()
    return 0


def scope_of(screen):
    """(pid, index) of the process the view is narrowed to, (0, 0) for all."""
    m = re.search(r"^process .*? \((\d+)\), (\d+) of \d+", screen, re.M)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def pick_process(tmux, pid):
    """Press `p` until top's scope is process @pid (at most once per
    process it can pick, up to the 64 it tells apart); whether it came.
    Each key's effect is awaited before the next: under load keys are
    read in bursts, and a screen that lags behind would let the process
    go by."""
    for _ in range(70):
        before = scope_of(tmux.screen())
        tmux.keys("p")
        deadline = time.time() + 3
        now = before
        while now == before and time.time() < deadline:
            time.sleep(0.05)
            now = scope_of(tmux.screen())
        if now[0] == pid:
            return True
    return False


def all_test(hotspy, fixtures):
    if not shutil.which("tmux"):
        print("SKIP: tmux is not installed (scripts/setup.sh installs it)")
        return 77
    hot = subprocess.Popen([os.path.join(fixtures, "hotspots"), "30"])
    lib = subprocess.Popen([os.path.join(fixtures, "sharedlib"), "30"])
    # A Python program among them: with the bpf sampler (auto's choice
    # where BPF is allowed) its Python frames are in the view.
    pysplit = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "fixtures", "python", "pysplit.py")
    python = shutil.which("python3.11") or shutil.which("python3")
    py = subprocess.Popen([python, pysplit, "30"], env=dict(os.environ,
                          PYTHONDONTWRITEBYTECODE="1")) if python else None
    tmux = None
    try:
        time.sleep(0.3)
        tmux = Tmux(200, 40, "%s top -a --delay 0.5" % hotspy)
        # The first refresh names the frames of every process seen: ELF
        # and DWARF files read for the first time, slow on a busy machine.
        s = tmux.wait_for(r"processes: .*\(\d+\) \d+%|hotspy-exit=", timeout=30)
        print(s)
        if "cannot sample the whole machine" in s:
            print("SKIP: perf events on every CPU are refused here")
            return 77
        check(re.search(r"^hotspy top: all processes", s, re.M) is not None,
              "the title says all processes")
        named = re.findall(r"(\S+) \((\d+)\) \d+%", s)
        check(len(named) >= 2, "the header names several processes with shares: %s" % named)
        # `p` through the processes seen until hotspots is picked.
        found = pick_process(tmux, hot.pid)
        check(found, "`p` picks hotspots (%d)" % hot.pid)
        if found:
            time.sleep(0.6)
            s = tmux.wait_for(r"^process hotspots", timeout=3)
            print(s)
            rows = rows_of(s.splitlines())
            check(rows and rows[0][4] in ("hot_a", "hot_b") and
                  any(r[4] == "hot_a" for r in rows[:2]),
                  "narrowed to hotspots, its hot functions lead: %s" % rows[:3])
            check(not any(r[4] in ("lib_hot", "main_local") for r in rows),
                  "and sharedlib's are not in it")
        if py and "bpf sampler" in tmux.screen():
            # `p` on to the Python program: its functions by Python's names.
            found = pick_process(tmux, py.pid)
            check(found, "`p` picks the Python program (%d)" % py.pid)
            if found:
                time.sleep(0.6)
                s = tmux.wait_for(r"work.*pysplit\.py", timeout=5)
                print(s)
                check(re.search(r"work.*pysplit\.py", s) is not None,
                      "the Python program's hot function, work (pysplit.py), is shown")
        elif py:
            print("(Python frames not checked: the view does not say the bpf sampler)")
        tmux.keys("q")
        s = tmux.wait_for(r"hotspy-exit=\d+")
        check("hotspy-exit=0" in s, "`q` quits with status 0")
        check(running_untraced(hot.pid) and running_untraced(lib.pid),
              "the fixtures run on, never stopped or traced")
    finally:
        if tmux:
            tmux.close()
        for t in (hot, lib, py):
            if t:
                t.kill()
                t.wait()
    return 0


def main():
    hotspy, fixtures, expect_path, mode = sys.argv[1:5]
    expect = load_expect(expect_path)
    if mode == "all":
        if all_test(hotspy, fixtures) == 77:
            return 77
    elif mode == "batch":
        batch(hotspy, fixtures, expect)
    else:
        w, h = (int(x) for x in sys.argv[5].split("x"))
        if screen_test(hotspy, fixtures, expect, w, h) == 77:
            return 77
    print("%d failures" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
