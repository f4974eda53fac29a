# Busy Python for pyfind_test.py (2.7 and 3.x): prints what the interpreter
# knows of itself as `script key=value ...`, then spins for at most argv[1]
# seconds (default 60). No imports beyond ctypes/sys/time.
import ctypes
import sys
import time


def address(name):
    try:
        return ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, name))
    except ValueError:
        return 0


api = ctypes.pythonapi
api.PyInterpreterState_Head.restype = ctypes.c_void_p
facts = [
    ("hexversion", sys.hexversion),
    ("runtime", address("_PyRuntime")),
    ("tstate_current", address("_PyThreadState_Current")),
    ("head", api.PyInterpreterState_Head() or 0),
]
sys.stdout.write("script " + " ".join("%s=%d" % kv for kv in facts) + "\n")
sys.stdout.flush()
deadline = time.time() + (float(sys.argv[1]) if len(sys.argv) > 1 else 60)
n = 0
while time.time() < deadline:
    n += sum(range(1000))
