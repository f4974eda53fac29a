/*
 * pylayout.h - where CPython keeps what a frame-chain reader needs, per
 * interpreter version, as data: one table of struct offsets per supported
 * version (austin's approach), and on 3.13+ the same offsets read from the
 * target's own _Py_DebugOffsets, which makes a new version work without a
 * new table.
 *
 * Every table is checked field by field against offsetof()/sizeof() over
 * that version's own headers (tests/python/pylayout_test.py); docs/python.md
 * says where each number comes from and how to add a version.
 *
 * Offsets are bytes from the start of the named struct. 0 is a real offset,
 * so a field the version does not have is PYLAYOUT_ABSENT.
 */
#ifndef HOTSPY_PYLAYOUT_H
#define HOTSPY_PYLAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "pylinetable.h"

/* The version has no such field (or it is not known for this patch range). */
#define PYLAYOUT_ABSENT UINT32_MAX

/* How a thread state leads to its innermost Python frame. */
enum pylayout_frame_model {
	/* 2.7-3.10: tstate->frame, a PyFrameObject chained by f_back. */
	PYLAYOUT_FRAME_OBJECTS,
	/* 3.11-3.12: tstate->cframe->current_frame, a _PyInterpreterFrame
	 * chained by previous. */
	PYLAYOUT_FRAME_CFRAME,
	/* 3.13+: tstate->current_frame, a _PyInterpreterFrame. */
	PYLAYOUT_FRAME_CURRENT,
};

/* What the frame's instruction field (frame.instr) holds. */
enum pylayout_instr {
	PYLAYOUT_INSTR_BYTE_OFFSET,  /* <=3.9 f_lasti: byte offset in co_code */
	PYLAYOUT_INSTR_CODE_UNIT,    /* 3.10 f_lasti: index of a 2-byte unit */
	PYLAYOUT_INSTR_POINTER,      /* 3.11+ prev_instr / instr_ptr: address
	                              * inside co_code_adaptive */
};

/* Where a layout came from. */
enum pylayout_source {
	PYLAYOUT_SOURCE_TABLE,          /* a table of this file, checked against
	                                 * the version's headers */
	PYLAYOUT_SOURCE_DEBUG_OFFSETS,  /* the target's _Py_DebugOffsets */
};

struct pylayout {
	/* A table's first version (PY_VERSION_HEX with release level and
	 * serial 0, e.g. 0x03080900 for 3.8.9); for a layout read from
	 * _Py_DebugOffsets, the target's own PY_VERSION_HEX. */
	uint32_t hexversion;
	enum pylayout_source source;
	enum pylayout_frame_model frame_model;
	enum pylayout_instr instr;
	enum pylinetable_format linetable;

	/* _PyRuntimeState (3.7+; Include/internal/pycore_runtime.h, 3.7:
	 * internal/pystate.h). The GIL fields live in the runtime up to 3.11. */
	struct {
		uint32_t interpreters_head;  /* newest interpreter */
		uint32_t interpreters_main;
		uint32_t tstate_current;     /* gilstate.tstate_current, <=3.11 */
		uint32_t gil_locked;         /* ceval.gil.locked, <=3.11 */
		uint32_t gil_last_holder;    /* ceval.gil.last_holder, <=3.11 */
	} runtime;

	/* PyInterpreterState (pycore_interp.h; <=3.7 pystate.h). */
	struct {
		uint32_t next;
		uint32_t threads_head;       /* tstate_head <=3.10, threads.head */
		uint32_t gil;                /* ceval.gil, a pointer, 3.12+ */
		uint32_t modules;            /* sys.modules: modules <=3.11,
		                              * imports.modules 3.12+ */
	} interp;

	/* struct _gil_runtime_state (pycore_gil.h; <=3.11 internal/gil.h or
	 * ceval_gil.h), the struct interp.gil points to on 3.12+. */
	struct {
		uint32_t last_holder;
		uint32_t locked;
	} gil;

	/* PyThreadState (cpython/pystate.h). */
	struct {
		uint32_t next;
		uint32_t interp;
		uint32_t frame;              /* PyFrameObject *, <=3.10 */
		uint32_t cframe;             /* _PyCFrame *, 3.11-3.12 */
		uint32_t current_frame;      /* _PyInterpreterFrame *, 3.13+ */
		uint32_t thread_id;          /* pthread_t */
		uint32_t native_thread_id;   /* the OS tid, 3.11+ */
		uint32_t datastack_chunk;    /* _PyStackChunk *, 3.11+ */
		uint32_t datastack_top;
		uint32_t datastack_limit;
	} tstate;

	/* _PyCFrame (cpython/pystate.h, 3.11-3.12). */
	struct {
		uint32_t current_frame;
	} cframe;

	/* _PyStackChunk (cpython/pystate.h, 3.11+): a thread's frames are
	 * contiguous in data[], up to the thread's datastack_top. */
	struct {
		uint32_t previous;
		uint32_t size;
		uint32_t top;
		uint32_t data;
	} chunk;

	/* PyFrameObject (<=3.10, frameobject.h) or _PyInterpreterFrame
	 * (3.11+, pycore_frame.h). */
	struct {
		uint32_t back;         /* f_back, or previous */
		uint32_t code;         /* f_code, or f_executable (3.13+) */
		uint32_t instr;        /* f_lasti, prev_instr or instr_ptr */
		uint32_t is_entry;     /* char, 3.11 only */
		uint32_t owner;        /* char, 3.11+ */
		/* 3.12+: an owner value >= this is no Python frame (the shim
		 * of each eval-loop call, FRAME_OWNED_BY_CSTACK; 3.14 also
		 * FRAME_OWNED_BY_INTERPRETER). PYLAYOUT_ABSENT before. */
		uint32_t owner_not_python;
		/* Low bits of f_executable that are tags, not address (3.14's
		 * _PyStackRef); 0 before. */
		uint32_t code_tag_mask;
		/* The fast locals, cells and free variables, one PyObject *
		 * each: f_localsplus (<=3.10) or localsplus (3.11+). */
		uint32_t localsplus;
	} frame;

	/* PyObject (object.h). managed_dict: how many bytes before a
	 * 3.11+ object whose type has type.managed_dict_flag its instance
	 * dict pointer is (_PyObject_ManagedDictPointer; 3.12's
	 * PyDictOrValues there holds a values pointer minus one instead
	 * when its low bit is set); managed_values: the same for 3.11's
	 * separate PyDictValues pointer (_PyObject_ValuesPointer). */
	struct {
		uint32_t ob_type;
		uint32_t managed_dict;
		uint32_t managed_values;     /* 3.11 only */
	} object;

	/* PyModuleObject (internal/pycore_moduleobject.h 3.10+; private to
	 * Objects/moduleobject.c before: PyObject_HEAD, then md_dict). */
	struct {
		uint32_t dict;               /* md_dict */
	} module;

	/* PyTypeObject (cpython/object.h) and PyHeapTypeObject: where an
	 * instance keeps its attributes. 3.13+ keeps them inline, at
	 * tp_basicsize, when the type has type.inline_values_flag; the
	 * attribute names are then the heap type's ht_cached_keys. */
	struct {
		uint32_t basicsize;          /* tp_basicsize */
		uint32_t dictoffset;         /* tp_dictoffset */
		uint32_t flags;              /* tp_flags */
		uint32_t cached_keys;        /* ht_cached_keys, 3.x */
		uint32_t managed_dict_flag;  /* Py_TPFLAGS_MANAGED_DICT, 3.11+ */
		uint32_t inline_values_flag; /* Py_TPFLAGS_INLINE_VALUES, 3.13+ */
		uint32_t name;               /* tp_name, a char * */
		uint32_t heaptype_flag;      /* Py_TPFLAGS_HEAPTYPE: a class
		                              * made by Python code */
	} type;

	/* PyTupleObject (cpython/tupleobject.h), PyFloatObject
	 * (floatobject.h), PyCellObject (cellobject.h): what dump --locals
	 * reads of them. */
	struct {
		uint32_t size;               /* ob_size */
		uint32_t items;              /* ob_item */
	} tuple;
	struct {
		uint32_t value;              /* ob_fval, a double */
	} floating;
	struct {
		uint32_t ref;                /* ob_ref */
	} cell;

	/* 2.7's PyUnicodeObject (unicodeobject.h): length, a pointer to
	 * the Py_UNICODE characters, and sizeof(Py_UNICODE) (2 or 4, as the
	 * build was configured). Absent on 3.x. */
	struct {
		uint32_t length;
		uint32_t data;
		uint32_t width;
	} unicode27;

	/* PyDictObject (dictobject.h; cpython/dictobject.h). 2.7 keeps an
	 * open-addressed table of mask + 1 PyDictEntry; 3.x a keys object
	 * and, for a split dict, a values array. */
	struct {
		uint32_t keys;               /* ma_keys, 3.x */
		uint32_t values;             /* ma_values, 3.x */
		uint32_t mask;               /* ma_mask, 2.7 */
		uint32_t table;              /* ma_table, 2.7 */
	} dict;

	/* PyDictKeysObject (Objects/dict-common.h 3.6-3.10, not installed;
	 * internal/pycore_dict.h 3.11+): entries follow the index table,
	 * whose size is dk_size times 1, 2, 4 or 8 bytes (<=3.10) or
	 * 1 << dk_log2_index_bytes (3.11+). A 2.7 PyDictEntry, a 3.x
	 * PyDictKeyEntry is (hash, key, value); a 3.11+ dict of str keys
	 * only (dk_kind != 0) has PyDictUnicodeEntry (key, value). */
	struct {
		uint32_t size;               /* dk_size (ssize_t) <=3.10,
		                              * dk_log2_size (uint8) 3.11+ */
		uint32_t log2_index_bytes;   /* uint8, 3.11+ */
		uint32_t kind;               /* dk_kind, uint8, 3.11+ */
		uint32_t nentries;           /* dk_nentries (ssize_t) */
		uint32_t indices;            /* dk_indices */
		uint32_t entry_size;         /* sizeof(PyDictKeyEntry) */
		uint32_t unicode_entry_size; /* sizeof(PyDictUnicodeEntry), 3.11+ */
	} dictkeys;

	/* PyDictValues (internal/pycore_dict.h, 3.11+): the values of a
	 * split dict or of an object's managed attributes; before 3.11,
	 * ma_values pointed at the array itself (values 0). */
	struct {
		uint32_t values;
		uint32_t valid;              /* uint8, 3.13+ */
	} dictvalues;

	/* int: 2.7's PyIntObject (intobject.h) and its PyLongObject
	 * (size, digits), 3.x's PyLongObject (longintrepr.h): 30-bit digits; the digit count is |ob_size| up to
	 * 3.11, lv_tag >> 3 from 3.12 (lv_tag & 3: 0 positive, 1 zero,
	 * 2 negative). */
	struct {
		uint32_t ival;               /* ob_ival, 2.7 */
		uint32_t size;               /* ob_size, <=3.11 */
		uint32_t tag;                /* long_value.lv_tag, 3.12+ */
		uint32_t digits;             /* ob_digit */
	} integer;

	/* PyCodeObject (cpython/code.h; <=3.7 code.h). */
	struct {
		uint32_t filename;
		uint32_t name;
		uint32_t qualname;      /* 3.11+ */
		uint32_t linetable;     /* co_lnotab <=3.9, co_linetable */
		uint32_t firstlineno;   /* int */
		uint32_t code;          /* co_code, a bytes object, <=3.10 */
		uint32_t code_adaptive; /* co_code_adaptive, inline, 3.11+ */
		/* The names of a frame's localsplus slots (dump --locals).
		 * <=3.10: co_varnames (co_nlocals of them), then co_cellvars,
		 * then co_freevars, tuples of str; 3.11+: co_localsplusnames
		 * (co_nlocalsplus of them) and co_localspluskinds, a bytes
		 * object of CO_FAST_* kinds. Arguments come first: co_argcount
		 * positional (positional-only included), co_kwonlyargcount
		 * keyword-only, then *args and **kwargs when co_flags has
		 * CO_VARARGS / CO_VARKEYWORDS. The counts are ints. */
		uint32_t argcount;
		uint32_t kwonlyargcount;     /* 3.x */
		uint32_t nlocals;
		uint32_t flags;
		uint32_t varnames;           /* <=3.10 */
		uint32_t cellvars;           /* <=3.10 */
		uint32_t freevars;           /* <=3.10 */
		uint32_t localsplusnames;    /* 3.11+ */
		uint32_t localspluskinds;    /* 3.11+ */
		uint32_t nlocalsplus;        /* 3.11+ */
	} code;

	/* str. 3.x: PyASCIIObject / PyCompactUnicodeObject
	 * (cpython/unicodeobject.h): compact ASCII data starts at ascii_size,
	 * other compact data at compact_size; the kind and flags are bits of
	 * the 32-bit word at state (interned:2, kind:3 at bit 2, compact at
	 * bit 5, ascii at bit 6). 2.7: PyStringObject (stringobject.h), whose
	 * length is at length and characters at sval. */
	struct {
		uint32_t ascii_size;    /* 3.x */
		uint32_t compact_size;  /* 3.x */
		uint32_t length;
		uint32_t state;         /* 3.x */
		uint32_t sval;          /* 2.7 */
	} str;

	/* PyBytesObject (bytesobject.h; 2.7's PyStringObject). */
	struct {
		uint32_t ob_size;
		uint32_t ob_sval;
	} bytes;
};

/*
 * The table for CPython @hexversion (PY_VERSION_HEX, e.g. 0x030b07f0), or
 * NULL when no table covers it (an unsupported version, or a patch range
 * whose layout is not known). The result is static: never freed. Pure.
 */
const struct pylayout *pylayout_for_version(uint32_t hexversion);

/*
 * Fill @out from the _Py_DebugOffsets struct that starts _PyRuntime on
 * 3.13+, given as bytes copied from the target (@buf, @len; untrusted).
 * The word position of each field is known per minor version (3.13,
 * 3.14); a newer minor version is read with the newest positions, so its
 * values are only as good as the bounds checks. Fields the struct does not
 * carry are filled from what every 3.11+ CPython keeps (see pylayout.c). Returns 0, -EINVAL when the bytes are
 * not a debug-offsets struct (cookie, a version before 3.13, an offset out
 * of its struct's bounds, a length too short), or -ENOTSUP for a
 * pre-release (alpha/beta) of a minor version, whose struct still moves.
 * @out is untouched on error. Pure.
 */
int pylayout_from_debug_offsets(const void *buf, size_t len, struct pylayout *out);

#endif
