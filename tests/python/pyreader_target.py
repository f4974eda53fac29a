# -*- coding: utf-8 -*-
# Target of pyreader_test.py (2.7 and 3.x): builds known Python stacks and
# writes, from inside the interpreter, what they are.
#
#   python pyreader_target.py TRUTH.json
#
# The main thread recurses through step() (a method, a lambda, a generator
# being iterated, a nested function, and functions named naïve (Latin-1),
# naïve_函数 (UCS-2) and f_𠀋 (UCS-4; ASCII names on 2.7)), in code compiled
# from a file whose name is not ASCII either, and blocks in
# block_main() at lock_main.acquire(). A second thread, "other", blocks in
# other_block(). A third thread waits until both are blocked, reads
# sys._current_frames() twice (the same both times, or again), writes
# {"threads": {tid: [[name, file, line], ...innermost first]}, "native": N}
# for the two threads (co_qualname on 3.11+, f_lineno: the interpreter's own
# line), then ends. Both threads stay blocked until the test kills the
# process. N (0 or 1) threads run no Python at all: one made with
# pthread_create through ctypes that sits in pause(), where ctypes can.
# The truth also holds {"names": {tid: threading name}} of the two threads:
# the main thread renamed to THREAD_NAMES[0], "other" THREAD_NAMES[1] (one
# UCS-4 and one UCS-2 str; UTF-8 bytes on 2.7). threading._active also
# holds odd entries (keys, values and a name that are not what a thread
# has) that the reader must pass over.
import json
import os
import sys
import threading
import time

PY3 = sys.version_info[0] >= 3
DEPTH = 25   # step() levels: about 55 frames on the main thread
truth_path = sys.argv[1]


def gettid():
    if hasattr(threading, "get_native_id"):
        return threading.get_native_id()
    import ctypes
    return ctypes.CDLL(None).syscall(186)   # SYS_gettid on x86-64


if PY3:
    NAMES = (u"na\u00efve", u"na\u00efve_\u51fd\u6570", u"f_\U0002000b")
else:
    NAMES = ("naive_a", "naive_b", "naive_c")
THREAD_NAMES = (u"main-\U0001f40d", u"oth\u00e9r-\u540d\u524d")
if not PY3:
    THREAD_NAMES = tuple(n.encode("utf-8") for n in THREAD_NAMES)
FILE = os.path.join(os.path.dirname(os.path.abspath(truth_path)),
                    u"m\u00f3dulo_\u51fd\u6570_\U0002000b.py")

SRC = u'''
def block_main():
    ready_main.set()
    lock_main.acquire()

class C(object):
    def method(self, n):
        return step(n - 1)

def gen(n):
    yield step(n - 1)

def outer(n):
    def nested(m):
        return step(m - 1)
    return nested(n)

lam = lambda n: step(n - 1)

def NAME0(n):
    return step(n - 1)

def NAME1(n):
    x = n - 1
    return step(x)

def NAME2(n):
    return step(n - 1)

def step(n):
    if n <= 0:
        return block_main()
    k = n % 7
    if k == 0:
        return C().method(n)
    if k == 1:
        return lam(n)
    if k == 2:
        for x in gen(n):
            return x
    if k == 3:
        return outer(n)
    if k == 4:
        return NAME0(n)
    if k == 5:
        return NAME1(n)
    return NAME2(n)
'''
for i, name in enumerate(NAMES):
    SRC = SRC.replace(u"NAME%d" % i, name)

lock_main = threading.Lock()
lock_main.acquire()
lock_other = threading.Lock()
lock_other.acquire()
ready_main = threading.Event()
ready_other = threading.Event()
tids = {}
native = 0


def other_block():
    tids[threading.current_thread().ident] = gettid()
    ready_other.set()
    lock_other.acquire()


def other_main():
    other_block()


def text(s):
    return s if PY3 else s.decode("utf-8")


def stacks(me):
    out = {}
    for ident, f in sys._current_frames().items():
        if ident == me or ident not in tids:
            continue
        stack = []
        while f is not None:
            co = f.f_code
            stack.append([text(getattr(co, "co_qualname", co.co_name)),
                          text(co.co_filename), f.f_lineno])
            f = f.f_back
        out[str(tids[ident])] = stack
    return out


def reporter():
    ready_main.wait()
    ready_other.wait()
    me = threading.current_thread().ident
    time.sleep(0.3)
    before = stacks(me)
    while True:
        time.sleep(0.3)
        now = stacks(me)
        if now == before and len(now) == 2:
            break
        before = now
    tmp = truth_path + ".tmp"
    with open(tmp, "w") as f:
        names = dict((str(tids[t.ident]), text(t.name)) for t in threading.enumerate()
                     if getattr(t, "ident", None) in tids)
        json.dump({"threads": now, "native": native, "names": names}, f)
    os.rename(tmp, truth_path)


def native_thread():
    """A thread with no thread state: pthread_create(pause). 1, or 0
    when ctypes cannot do it here."""
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        handle = ctypes.c_ulong()
        pause = ctypes.cast(libc.pause, ctypes.c_void_p)
        if libc.pthread_create(ctypes.byref(handle), None, pause, None) != 0:
            return 0
        return 1
    except (OSError, AttributeError, ImportError):
        return 0


def main():
    g = {"ready_main": ready_main, "lock_main": lock_main}
    code = compile(SRC if PY3 else SRC.encode("utf-8"),
                   FILE if PY3 else FILE.encode("utf-8"), "exec")
    eval(code, g)
    global native
    native = native_thread()
    tids[threading.current_thread().ident] = gettid()
    threading.current_thread().name = THREAD_NAMES[0]
    # Odd entries beside the real ones, which the reader must pass over:
    # ints that are no pthread_t (too big, negative), a key that is no
    # int, values that are no Thread, a name far too long.
    class Odd(object):
        pass
    odd = Odd()
    odd._name = "y" * 5000
    odd._Thread__name = odd._name
    threading._active.update({2 ** 100: odd, -7: odd, 1: odd, 2: 12345, 3: None})
    threading._active["not an int"] = odd
    threading.Thread(target=other_main, name=THREAD_NAMES[1]).start()
    threading.Thread(target=reporter, name="reporter").start()
    g["step"](DEPTH)


main()
