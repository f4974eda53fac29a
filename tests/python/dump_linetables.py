# dump_linetables.py - the interpreter's own answer for the line of every
# instruction of many real code objects, with the raw line tables, for
# tests/unit/test_pylinetable.c. Runs under every CPython from 2.7 on.
#
# usage: python dump_linetables.py OUT [SOURCE...]
#
# Code objects come from SOURCE files and from a sample of the interpreter's
# own standard library, nested ones included. For each, the expected line at
# each instruction offset is PyCode_Addr2Line (what the interpreter uses for
# tracebacks and f_lineno); on 3.11+ co_positions() must agree with it.
#
# Output, one code object per pair of lines:
#   V hexversion
#   C firstlineno codelen step hex(linetable)  qualname
#   E line line ...            (one per offset 0, step, 2*step, ...; -1: none)
import ctypes
import glob
import os
import sys
import types

addr2line = ctypes.pythonapi.PyCode_Addr2Line
addr2line.argtypes = [ctypes.py_object, ctypes.c_int]
addr2line.restype = ctypes.c_int

HAS_POSITIONS = sys.version_info >= (3, 11)


def line_table(co):
    if sys.version_info >= (3, 10):
        return co.co_linetable
    return co.co_lnotab


def walk(co):
    yield co
    for c in co.co_consts:
        if isinstance(c, types.CodeType):
            for sub in walk(c):
                yield sub


def stdlib_sample():
    lib = os.path.dirname(os.__file__)
    files = sorted(glob.glob(os.path.join(lib, "*.py")))
    files += sorted(glob.glob(os.path.join(lib, "asyncio", "*.py")))
    files += sorted(glob.glob(os.path.join(lib, "json", "*.py")))
    # Every fourth file: a few hundred thousand offsets per interpreter.
    return files[::4]


def main():
    out = open(sys.argv[1], "w")
    out.write("V %d\n" % sys.hexversion)
    step = 1 if sys.version_info < (3, 6) else 2
    disagree = 0
    for path in sys.argv[2:] + stdlib_sample():
        try:
            with open(path, "rb") as fh:
                src = fh.read()
            top = compile(src, path, "exec")
        except (SyntaxError, ValueError, IOError, OSError):
            continue    # a file this version cannot compile
        for co in walk(top):
            table = bytearray(line_table(co))
            n = len(co.co_code)
            lines = [addr2line(co, off) for off in range(0, n, step)]
            if HAS_POSITIONS:
                pos = [p[0] for p in co.co_positions()]
                for i, line in enumerate(lines):
                    want = -1 if pos[i] is None else pos[i]
                    if want != line:
                        disagree += 1
            name = getattr(co, "co_qualname", co.co_name)
            out.write("C %d %d %d %s %s\n" % (co.co_firstlineno, n, step,
                                              "".join("%02x" % b for b in table) or "-",
                                              name.replace(" ", "_")))
            out.write("E %s\n" % " ".join(str(l) for l in lines))
    out.close()
    if disagree:
        sys.stderr.write("co_positions() and PyCode_Addr2Line disagree at %d "
                         "offsets\n" % disagree)
        sys.exit(1)


main()
