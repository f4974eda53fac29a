#!/usr/bin/env python3
"""hotspy's CPython layout table for interpreter NAME against that
interpreter's own headers: a C file of offsetof()/sizeof() over the
version's structs (internal headers included, -DPy_BUILD_CORE) is compiled
and run, and its "field value" lines are compared with what PYLAYOUT_DUMP
prints for the interpreter's version, field by field. On 3.13+ the
_Py_DebugOffsets at the start of the library's .PyRuntime section (bytes
from the file, through objcopy) must give the same offsets through
pylayout_from_debug_offsets().

Exit 77 when NAME, its headers or a compiler is absent; 1 with the
differing fields listed.

usage: pylayout_test.py NAME PYLAYOUT_DUMP
       pylayout_test.py NAME --print    the headers' values only (to write
                                        the table of a new version)
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interpreters  # noqa: E402

SKIP = 77
ABSENT = "absent"


def interp_info(python):
    """(hexversion, include dir, libdir, executable) as the interpreter
    says; asking it is fine here: the test is about its headers."""
    code = ("import sys, sysconfig\n"
            "print(sys.hexversion)\n"
            "print(sysconfig.get_paths()['include'])\n"
            "print(sysconfig.get_config_var('LIBDIR') or '')\n"
            "print(sysconfig.get_config_var('LDLIBRARY') or '')\n"
            "print(sys.executable)\n")
    out = subprocess.run([python, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    return int(out[0]), out[1], out[2], out[3], out[4]


def spec(minor):
    """field -> C expression for CPython 3.MINOR (2 for 2.7); None = absent.
    Struct and field names as each version's headers spell them."""
    s = {}
    RT = "_PyRuntimeState"
    IS = "PyInterpreterState"
    TS = "PyThreadState"
    CO = "PyCodeObject"
    if minor == 2:  # 2.7: no runtime struct; PyStringObject for str and bytes
        FR = "PyFrameObject"
    elif minor <= 10:
        FR = "PyFrameObject"
    else:
        FR = "_PyInterpreterFrame"

    def off(t, f):
        return "offsetof(%s, %s)" % (t, f)

    py3 = minor != 2
    s["frame_model"] = ("0" if minor <= 10 else "1" if minor <= 12 else "2")
    s["instr"] = ("0" if minor <= 9 else "1" if minor == 10 else "2")
    s["linetable"] = ("0" if minor == 2 else "1" if minor <= 9 else
                      "2" if minor == 10 else "3")
    # runtime
    has_rt = py3 and minor >= 7
    s["runtime.interpreters_head"] = off(RT, "interpreters.head") if has_rt else None
    s["runtime.interpreters_main"] = off(RT, "interpreters.main") if has_rt else None
    old_gil = has_rt and minor <= 11
    s["runtime.tstate_current"] = off(RT, "gilstate.tstate_current") if old_gil else None
    s["runtime.gil_locked"] = off(RT, "ceval.gil.locked") if old_gil else None
    s["runtime.gil_last_holder"] = off(RT, "ceval.gil.last_holder") if old_gil else None
    # interpreter
    s["interp.next"] = off(IS, "next")
    s["interp.threads_head"] = off(IS, "tstate_head" if minor <= 10 else "threads.head")
    s["interp.gil"] = off(IS, "ceval.gil") if minor >= 12 else None
    if minor >= 7:
        s["gil.last_holder"] = off("struct _gil_runtime_state", "last_holder")
        s["gil.locked"] = off("struct _gil_runtime_state", "locked")
    else:
        s["gil.last_holder"] = s["gil.locked"] = None
    # thread state
    s["tstate.next"] = off(TS, "next")
    s["tstate.interp"] = off(TS, "interp")
    s["tstate.frame"] = off(TS, "frame") if minor <= 10 else None
    s["tstate.cframe"] = off(TS, "cframe") if 11 <= minor <= 12 else None
    s["tstate.current_frame"] = off(TS, "current_frame") if minor >= 13 else None
    s["tstate.thread_id"] = off(TS, "thread_id")
    new = minor >= 11
    s["tstate.native_thread_id"] = off(TS, "native_thread_id") if new else None
    s["tstate.datastack_chunk"] = off(TS, "datastack_chunk") if new else None
    s["tstate.datastack_top"] = off(TS, "datastack_top") if new else None
    s["tstate.datastack_limit"] = off(TS, "datastack_limit") if new else None
    s["cframe.current_frame"] = off("_PyCFrame", "current_frame") if 11 <= minor <= 12 else None
    for f in ("previous", "size", "top", "data"):
        s["chunk." + f] = off("_PyStackChunk", f) if new else None
    # frame
    s["frame.back"] = off(FR, "f_back" if minor <= 10 else "previous")
    s["frame.code"] = off(FR, "f_code" if minor <= 12 else "f_executable")
    s["frame.instr"] = off(FR, "f_lasti" if minor <= 10 else
                           "prev_instr" if minor <= 12 else "instr_ptr")
    s["frame.is_entry"] = off(FR, "is_entry") if minor == 11 else None
    s["frame.owner"] = off(FR, "owner") if new else None
    s["frame.owner_not_python"] = "FRAME_OWNED_BY_CSTACK" if minor >= 12 else None
    s["frame.code_tag_mask"] = "0"
    s["object.ob_type"] = off("PyObject", "ob_type")
    # code
    s["code.filename"] = off(CO, "co_filename")
    s["code.name"] = off(CO, "co_name")
    s["code.qualname"] = off(CO, "co_qualname") if new else None
    s["code.linetable"] = off(CO, "co_lnotab" if minor <= 9 else "co_linetable")
    s["code.firstlineno"] = off(CO, "co_firstlineno")
    s["code.code"] = off(CO, "co_code") if minor <= 10 else None
    s["code.code_adaptive"] = off(CO, "co_code_adaptive") if new else None
    # strings
    if py3:
        s["str.ascii_size"] = "sizeof(PyASCIIObject)"
        s["str.compact_size"] = "sizeof(PyCompactUnicodeObject)"
        s["str.length"] = off("PyASCIIObject", "length")
        # state is a bit-field: it is the word right after hash.
        s["str.state"] = "offsetof(PyASCIIObject, hash) + sizeof(Py_hash_t)"
        s["str.sval"] = None
        s["bytes.ob_size"] = off("PyBytesObject", "ob_base.ob_size")
        s["bytes.ob_sval"] = off("PyBytesObject", "ob_sval")
    else:
        s["str.ascii_size"] = s["str.compact_size"] = s["str.state"] = None
        s["str.length"] = off("PyStringObject", "ob_size")
        s["str.sval"] = off("PyStringObject", "ob_sval")
        s["bytes.ob_size"] = off("PyStringObject", "ob_size")
        s["bytes.ob_sval"] = off("PyStringObject", "ob_sval")
    # thread names: sys.modules -> threading._active -> Thread._name
    s["interp.modules"] = off(IS, "imports.modules" if minor >= 12 else "modules")
    s["object.managed_dict"] = (None if minor <= 10 else
                                "3 * sizeof(PyDictOrValues)" if minor == 12 else
                                "-MANAGED_DICT_OFFSET")
    s["object.managed_values"] = "4 * sizeof(PyDictValues *)" if minor == 11 else None
    # PyModuleObject is private to Objects/moduleobject.c before 3.10:
    # PyObject_HEAD, then md_dict.
    s["module.dict"] = off("PyModuleObject", "md_dict") if minor >= 10 else "sizeof(PyObject)"
    TY = "PyTypeObject"
    s["type.basicsize"] = off(TY, "tp_basicsize")
    s["type.dictoffset"] = off(TY, "tp_dictoffset")
    s["type.flags"] = off(TY, "tp_flags")
    s["type.cached_keys"] = off("PyHeapTypeObject", "ht_cached_keys") if py3 else None
    s["type.managed_dict_flag"] = "Py_TPFLAGS_MANAGED_DICT" if new else None
    s["type.inline_values_flag"] = "Py_TPFLAGS_INLINE_VALUES" if minor >= 13 else None
    s["dict.keys"] = off("PyDictObject", "ma_keys") if py3 else None
    s["dict.values"] = off("PyDictObject", "ma_values") if py3 else None
    s["dict.mask"] = None if py3 else off("PyDictObject", "ma_mask")
    s["dict.table"] = None if py3 else off("PyDictObject", "ma_table")
    # 3.6-3.10's PyDictKeysObject is private to Objects/dict-common.h,
    # which is not installed: c_source() declares it as that file does.
    DK = "PyDictKeysObject" if new else "struct hotspy_dk"
    s["dictkeys.size"] = off(DK, "dk_log2_size" if new else "dk_size") if py3 else None
    s["dictkeys.log2_index_bytes"] = off(DK, "dk_log2_index_bytes") if new else None
    s["dictkeys.kind"] = off(DK, "dk_kind") if new else None
    s["dictkeys.nentries"] = off(DK, "dk_nentries") if py3 else None
    s["dictkeys.indices"] = off(DK, "dk_indices") if py3 else None
    s["dictkeys.entry_size"] = ("sizeof(PyDictKeyEntry)" if new else
                                "sizeof(struct hotspy_dk_entry)" if py3 else
                                "sizeof(PyDictEntry)")
    s["dictkeys.unicode_entry_size"] = "sizeof(PyDictUnicodeEntry)" if new else None
    s["dictvalues.values"] = off("PyDictValues", "values") if new else "0" if py3 else None
    s["dictvalues.valid"] = off("PyDictValues", "valid") if minor >= 13 else None
    s["integer.ival"] = None if py3 else off("PyIntObject", "ob_ival")
    if minor >= 12:
        s["integer.size"] = None
        s["integer.tag"] = off("PyLongObject", "long_value.lv_tag")
        s["integer.digits"] = off("PyLongObject", "long_value.ob_digit")
    elif py3:
        s["integer.size"] = off("PyLongObject", "ob_base.ob_size")
        s["integer.tag"] = None
        s["integer.digits"] = off("PyLongObject", "ob_digit")
    else:
        s["integer.size"] = s["integer.tag"] = s["integer.digits"] = None
    # dump --locals: a frame's fast locals, the code object's names for
    # them, and the values shown (float, cell, tuple; 2.7's unicode and
    # long; a type's name and whether it is a heap type).
    s["frame.localsplus"] = off(FR, "f_localsplus" if minor <= 10 else "localsplus")
    s["code.argcount"] = off(CO, "co_argcount")
    s["code.kwonlyargcount"] = off(CO, "co_kwonlyargcount") if py3 else None
    s["code.nlocals"] = off(CO, "co_nlocals")
    s["code.flags"] = off(CO, "co_flags")
    s["code.varnames"] = off(CO, "co_varnames") if minor <= 10 else None
    s["code.cellvars"] = off(CO, "co_cellvars") if minor <= 10 else None
    s["code.freevars"] = off(CO, "co_freevars") if minor <= 10 else None
    s["code.localsplusnames"] = off(CO, "co_localsplusnames") if new else None
    s["code.localspluskinds"] = off(CO, "co_localspluskinds") if new else None
    s["code.nlocalsplus"] = off(CO, "co_nlocalsplus") if new else None
    s["type.name"] = off(TY, "tp_name")
    s["type.heaptype_flag"] = "Py_TPFLAGS_HEAPTYPE"
    s["tuple.size"] = off("PyTupleObject", "ob_base.ob_size" if py3 else "ob_size")
    s["tuple.items"] = off("PyTupleObject", "ob_item")
    s["floating.value"] = off("PyFloatObject", "ob_fval")
    s["cell.ref"] = off("PyCellObject", "ob_ref")
    s["unicode27.length"] = None if py3 else off("PyUnicodeObject", "length")
    s["unicode27.data"] = None if py3 else off("PyUnicodeObject", "str")
    s["unicode27.width"] = None if py3 else "Py_UNICODE_SIZE"
    if not py3:
        # 2.7's long (PyLongObject), beside its int (PyIntObject).
        s["integer.size"] = off("PyLongObject", "ob_size")
        s["integer.digits"] = off("PyLongObject", "ob_digit")
    return s


# Objects/dict-common.h of 3.6-3.10 (3.6: dk_indices a union of arrays).
DICT_COMMON = """
typedef struct { Py_hash_t me_hash; PyObject *me_key; PyObject *me_value; } hotspy_dk_entry_t;
struct hotspy_dk_entry { Py_hash_t me_hash; PyObject *me_key; PyObject *me_value; };
struct hotspy_dk {
    Py_ssize_t dk_refcnt;
    Py_ssize_t dk_size;
    void *dk_lookup;
    Py_ssize_t dk_usable;
    Py_ssize_t dk_nentries;
    char dk_indices[];
};
"""


def includes(minor):
    inc = ["Python.h", "frameobject.h"]
    if minor == 7:
        inc += ["internal/pystate.h"]
    elif minor == 8:
        inc += ["internal/pycore_pystate.h"]
    elif minor >= 9:
        inc += ["internal/pycore_runtime.h", "internal/pycore_interp.h",
                "internal/pycore_pystate.h"]
    if minor >= 11:
        inc += ["internal/pycore_frame.h", "internal/pycore_code.h"]
    if minor in (8, 9, 10):
        inc += ["internal/pycore_gil.h"] if minor >= 8 else []
    if minor >= 12:
        inc += ["internal/pycore_gil.h"]
    if minor <= 10:
        inc += ["longintrepr.h"]
    if minor >= 10:
        inc += ["internal/pycore_moduleobject.h"]
    if minor >= 11:
        inc += ["internal/pycore_dict.h", "internal/pycore_object.h"]
    return inc


def c_source(minor):
    lines = ["#define Py_BUILD_CORE 1", "#include <stddef.h>", "#include <stdio.h>"]
    lines += ['#include "%s"' % h for h in includes(minor)]
    if 6 <= minor <= 10:
        lines += [DICT_COMMON]
    lines += ["int main(void)", "{"]
    for field, expr in spec(minor).items():
        if expr is None:
            lines.append('\tputs("%s %s");' % (field, ABSENT))
        else:
            lines.append('\tprintf("%s %%lu\\n", (unsigned long)(%s));' % (field, expr))
    lines += ["\treturn 0;", "}"]
    return "\n".join(lines) + "\n"


def parse(text):
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = parts[1]
    return out


def compare(what, want, got):
    bad = []
    for field in sorted(set(want) | set(got)):
        if want.get(field) != got.get(field):
            bad.append("  %-28s headers %-8s hotspy %s" % (
                field, want.get(field, "-"), got.get(field, "-")))
    if bad:
        print("%s: %d field(s) differ:" % (what, len(bad)))
        print("\n".join(bad))
    else:
        print("%s: %d fields agree" % (what, len(want)))
    return not bad


def runtime_bytes(libdir, ldlibrary, executable, d):
    """The .PyRuntime section of the file that holds _PyRuntime: the shared
    library when there is one, else the executable."""
    objcopy = shutil.which("objcopy")
    if not objcopy:
        return None
    cands = []
    if ldlibrary and (ldlibrary.endswith(".so") or ".so." in ldlibrary):
        cands.append(os.path.join(libdir, ldlibrary))
    cands.append(executable)
    for f in cands:
        if not os.path.isfile(f):
            continue
        out = os.path.join(d, "pyruntime.bin")
        r = subprocess.run([objcopy, "-O", "binary", "--only-section=.PyRuntime",
                            os.path.realpath(f), out], capture_output=True)
        if r.returncode == 0 and os.path.getsize(out) > 0:
            return out
    return None


def main():
    name, dumper = sys.argv[1], sys.argv[2]
    python = interpreters.find_or_skip(name)
    hexversion, include, libdir, ldlibrary, executable = interp_info(python)
    major, minor = hexversion >> 24, (hexversion >> 16) & 0xff
    if major == 2:
        minor = 2
    if not os.path.isfile(os.path.join(include, "Python.h")):
        print("skip: no headers for %s in %s" % (name, include))
        return SKIP
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        print("skip: no C compiler")
        return SKIP
    ok = True
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "offsets.c")
        exe = os.path.join(d, "offsets")
        with open(src, "w") as f:
            f.write(c_source(minor))
        r = subprocess.run([cc, "-std=gnu11", "-w", "-I", include,
                            "-I", os.path.join(include, "internal"), src, "-o", exe],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print("cannot compile the offsets of %s's headers:\n%s" % (name, r.stderr[-4000:]))
            return 1
        text = subprocess.run([exe], capture_output=True, text=True, check=True).stdout
        if dumper == "--print":
            print("# %s 0x%x, from %s" % (name, hexversion, include))
            sys.stdout.write(text)
            return 0
        want = parse(text)
        r = subprocess.run([dumper, "0x%x" % hexversion], capture_output=True, text=True)
        if r.returncode != 0:
            print("hotspy has no layout for %s (0x%x): %s" % (name, hexversion, r.stderr))
            return 1
        table = parse(r.stdout)
        ok = compare("%s table vs headers" % name, want, table)

        if minor >= 13:
            blob = runtime_bytes(libdir, ldlibrary, executable, d)
            if not blob:
                print("no .PyRuntime section found for %s" % name)
                return 1
            r = subprocess.run([dumper, "--debug-offsets", blob],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print("pylayout_from_debug_offsets refused %s's _PyRuntime: %s"
                      % (name, r.stderr))
                return 1
            got = parse(r.stdout)
            # Both must agree with the headers, except the version the
            # layout starts at (a table's is X.Y.0, the struct's the build's).
            want.pop("hexversion", None)
            got.pop("hexversion", None)
            got.pop("source", None)
            ok = compare("%s _Py_DebugOffsets vs headers" % name, want, got) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
