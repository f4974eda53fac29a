"""What /proc says of a process, for the tests: its state, its nice value,
its threads' states and tracers. Every function returns None (or an empty
dict) for a process that is gone."""
import os


def stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (field 3, the
    state, first), or None. The name is skipped by its last ')': it may hold
    spaces and parentheses."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def proc_state(pid):
    """The state letter of a process (R, S, t, T, Z...), or None."""
    fields = stat_fields(pid)
    return fields[0] if fields else None


def nice_of(pid):
    """The nice value of a process (field 19), or None."""
    fields = stat_fields(pid)
    return int(fields[16]) if fields else None


def thread_status(pid):
    """{tid: (state letter, tracer pid)} of every thread of @pid."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                text = f.read()
        except OSError:
            continue
        state = tracer = None
        for line in text.splitlines():
            if line.startswith("State:"):
                state = line.split()[1]
            elif line.startswith("TracerPid:"):
                tracer = int(line.split()[1])
        out[int(tid)] = (state, tracer)
    return out
