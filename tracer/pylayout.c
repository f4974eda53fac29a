#include "pylayout.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "banned.h"

/*
 * The tables. Every number below is offsetof()/sizeof() over the named
 * version's own headers (Include/ and Include/internal/, Py_BUILD_CORE),
 * x86-64, GIL build, as tests/python/pylayout_test.py computes them from
 * the interpreters installed here: 2.7.18, 3.6.15, 3.7.16, 3.8.18,
 * 3.9.18, 3.10.13, 3.11.2 (Debian) and 3.11.7, 3.12.1, 3.13.0. That test
 * fails when a table and the headers disagree.
 */
#define A PYLAYOUT_ABSENT

/* Fields that a frame-object (<=3.10) layout does not have. */
#define NO_NEW_THREAD_FIELDS \
	.native_thread_id = A, .datastack_chunk = A, .datastack_top = A, \
	.datastack_limit = A, .cframe = A, .current_frame = A
#define NO_CHUNK { .previous = A, .size = A, .top = A, .data = A }
#define NO_CFRAME { .current_frame = A }
#define CHUNK_311 { .previous = 0, .size = 8, .top = 16, .data = 24 }
/* PyASCIIObject: length 16, state 32; 3.12 dropped wstr (48 -> 40) and
 * PyCompactUnicodeObject's wstr_length (72 -> 56). */
#define STR_3X(ascii, compact) \
	{ .ascii_size = ascii, .compact_size = compact, .length = 16, .state = 32, .sval = A }
#define BYTES_3X { .ob_size = 16, .ob_sval = 32 }

/*
 * What the thread-name walk reads (pyreader.c: sys.modules, threading's
 * _active dict, each Thread's instance dict). PyTypeObject's fields have
 * not moved since 2.7; PyDictObject's since 3.6; 3.6-3.10 share
 * PyDictKeysObject (Objects/dict-common.h) and 3.11+ theirs
 * (pycore_dict.h).
 */
#define TYPE_OF(cached, managed, inline_) \
	{ .basicsize = 32, .dictoffset = 288, .flags = 168, .cached_keys = cached, \
	  .managed_dict_flag = managed, .inline_values_flag = inline_, .name = 24, \
	  .heaptype_flag = 1u << 9 }
/* What dump --locals reads of tuples, floats and cells: the same in every
 * version. */
#define VALUES_ALL \
	.tuple = { .size = 16, .items = 24 }, .floating = { .value = 16 }, \
	.cell = { .ref = 16 }
#define NO_UNICODE27 .unicode27 = { .length = A, .data = A, .width = A }
/* A <=3.10 code object's names of its fast locals. */
#define LOCALS_OLD(argc, kwonly, nloc, flags_, varnames_, cellvars_, freevars_) \
	.argcount = argc, .kwonlyargcount = kwonly, .nlocals = nloc, .flags = flags_, \
	.varnames = varnames_, .cellvars = cellvars_, .freevars = freevars_, \
	.localsplusnames = A, .localspluskinds = A, .nlocalsplus = A
/* A 3.11+ code object's. */
#define LOCALS_311(argc, kwonly, nloc, flags_, nlp) \
	.argcount = argc, .kwonlyargcount = kwonly, .nlocals = nloc, .flags = flags_, \
	.varnames = A, .cellvars = A, .freevars = A, .localsplusnames = 96, \
	.localspluskinds = 104, .nlocalsplus = nlp
#define DICT_3X { .keys = 32, .values = 40, .mask = A, .table = A }
#define DICTKEYS_36 { .size = 8, .log2_index_bytes = A, .kind = A, .nentries = 32, \
		      .indices = 40, .entry_size = 24, .unicode_entry_size = A }
#define DICTKEYS_311 { .size = 8, .log2_index_bytes = 9, .kind = 10, .nentries = 24, \
		       .indices = 32, .entry_size = 24, .unicode_entry_size = 16 }
#define LONG_3X { .ival = A, .size = 16, .tag = A, .digits = 24 }
#define LONG_312 { .ival = A, .size = A, .tag = 16, .digits = 24 }
#define OBJECT_OLD { .ob_type = 8, .managed_dict = A, .managed_values = A }
#define MODULE_ALL { .dict = 16 }
/* A 3.x <=3.10 layout's name fields, with ht_cached_keys at @cached. */
#define NAMES_36(cached) \
	.module = MODULE_ALL, .type = TYPE_OF(cached, A, A), .dict = DICT_3X, \
	.dictkeys = DICTKEYS_36, \
	.dictvalues = { .values = 0, .valid = A }, .integer = LONG_3X

/* 2.7: no _PyRuntime (the current thread state is the global
 * _PyThreadState_Current); str and bytes are both PyStringObject. */
static const struct pylayout py27 = {
	.hexversion = 0x02070000,
	.frame_model = PYLAYOUT_FRAME_OBJECTS,
	.instr = PYLAYOUT_INSTR_BYTE_OFFSET,
	.linetable = PYLINETABLE_LNOTAB_UNSIGNED,
	.runtime = { .interpreters_head = A, .interpreters_main = A, .tstate_current = A,
		     .gil_locked = A, .gil_last_holder = A },
	.interp = { .next = 0, .threads_head = 8, .gil = A, .modules = 16 },
	.gil = { .last_holder = A, .locked = A },
	.tstate = { .next = 0, .interp = 8, .frame = 16, .thread_id = 144,
		    NO_NEW_THREAD_FIELDS },
	.cframe = NO_CFRAME,
	.chunk = NO_CHUNK,
	.frame = { .back = 24, .code = 32, .instr = 120, .is_entry = A, .owner = A,
		   .owner_not_python = A, .code_tag_mask = 0, .localsplus = 376 },
	.object = OBJECT_OLD,
	.module = MODULE_ALL,
	.type = TYPE_OF(A, A, A),
	.dict = { .keys = A, .values = A, .mask = 32, .table = 40 },
	.dictkeys = { .size = A, .log2_index_bytes = A, .kind = A, .nentries = A,
		      .indices = A, .entry_size = 24, .unicode_entry_size = A },
	.dictvalues = { .values = A, .valid = A },
	.integer = { .ival = 16, .size = 16, .tag = A, .digits = 24 },
	.code = { .filename = 80, .name = 88, .qualname = A, .linetable = 104,
		  .firstlineno = 96, .code = 32, .code_adaptive = A,
		  LOCALS_OLD(16, A, 20, 28, 56, 72, 64) },
	.str = { .ascii_size = A, .compact_size = A, .length = 16, .state = A, .sval = 36 },
	.bytes = { .ob_size = 16, .ob_sval = 36 },
	VALUES_ALL,
	.unicode27 = { .length = 16, .data = 24, .width = 4 },
};

/* 3.6: no _PyRuntime either (_PyThreadState_Current); the GIL struct is
 * private to ceval_gil.h. */
static const struct pylayout py36 = {
	.hexversion = 0x03060000,
	.frame_model = PYLAYOUT_FRAME_OBJECTS,
	.instr = PYLAYOUT_INSTR_BYTE_OFFSET,
	.linetable = PYLINETABLE_LNOTAB,
	.runtime = { .interpreters_head = A, .interpreters_main = A, .tstate_current = A,
		     .gil_locked = A, .gil_last_holder = A },
	.interp = { .next = 0, .threads_head = 8, .gil = A, .modules = 16 },
	.gil = { .last_holder = A, .locked = A },
	.tstate = { .next = 8, .interp = 16, .frame = 24, .thread_id = 152,
		    NO_NEW_THREAD_FIELDS },
	.cframe = NO_CFRAME,
	.chunk = NO_CHUNK,
	.frame = { .back = 24, .code = 32, .instr = 120, .is_entry = A, .owner = A,
		   .owner_not_python = A, .code_tag_mask = 0, .localsplus = 376 },
	.object = OBJECT_OLD,
	NAMES_36(856),
	.code = { .filename = 96, .name = 104, .qualname = A, .linetable = 112,
		  .firstlineno = 36, .code = 40, .code_adaptive = A,
		  LOCALS_OLD(16, 20, 24, 32, 64, 80, 72) },
	.str = STR_3X(48, 72),
	.bytes = BYTES_3X,
	VALUES_ALL,
	NO_UNICODE27,
};

/*
 * 3.7 (internal/pystate.h, internal/gil.h). The numbers are 3.7.16's.
 * 3.7.0-3.7.3 had gilstate.tstate_current 88 bytes earlier (1392 on
 * x86-64 Linux, py-spy's pyruntime table; no such build is here to check
 * it against headers); where the GIL fields were then is not known, so
 * that range has them absent. The interpreter list before them did not
 * move (py-spy reads interpreters.head at 24 for every 3.7).
 */
#define PY37(HEX_, TSTATE_CUR_, LOCKED_, HOLDER_) { \
	.hexversion = HEX_, \
	.frame_model = PYLAYOUT_FRAME_OBJECTS, \
	.instr = PYLAYOUT_INSTR_BYTE_OFFSET, \
	.linetable = PYLINETABLE_LNOTAB, \
	.runtime = { .interpreters_head = 24, .interpreters_main = 32, \
		     .tstate_current = TSTATE_CUR_, .gil_locked = LOCKED_, \
		     .gil_last_holder = HOLDER_ }, \
	.interp = { .next = 0, .threads_head = 8, .gil = A, .modules = 40 }, \
	.gil = { .last_holder = 8, .locked = 16 }, \
	.tstate = { .next = 8, .interp = 16, .frame = 24, .thread_id = 176, \
		    NO_NEW_THREAD_FIELDS }, \
	.cframe = NO_CFRAME, \
	.chunk = NO_CHUNK, \
	.frame = { .back = 24, .code = 32, .instr = 104, .is_entry = A, .owner = A, \
		   .owner_not_python = A, .code_tag_mask = 0, .localsplus = 360 }, \
	.object = OBJECT_OLD, \
	NAMES_36(856), \
	.code = { .filename = 96, .name = 104, .qualname = A, .linetable = 112, \
		  .firstlineno = 36, .code = 40, .code_adaptive = A, \
		  LOCALS_OLD(16, 20, 24, 32, 64, 80, 72) }, \
	.str = STR_3X(48, 72), \
	.bytes = BYTES_3X, \
	VALUES_ALL, \
	NO_UNICODE27, \
}
static const struct pylayout py37_early = PY37(0x03070000, 1392, A, A);
static const struct pylayout py37 = PY37(0x03070400, 1480, 1280, 1272);

/*
 * 3.8 and 3.9 are reported to have moved the runtime's GIL fields
 * (ceval.gil.locked / last_holder) in 3.8.9 and 3.9.3 (the project's PYTHON.md);
 * the numbers here are 3.8.18's and 3.9.18's. For the earlier patches the
 * two fields are absent: no such build is here to check them.
 * gilstate.tstate_current, after them, is the same in every 3.8 (1368)
 * and 3.9 (568) in py-spy's x86-64 table, and the interpreter list is
 * before both.
 */
#define PY38(HEX_, TSTATE_CUR_, LOCKED_, HOLDER_, MODULES_, CACHED_) { \
	.hexversion = HEX_, \
	.frame_model = PYLAYOUT_FRAME_OBJECTS, \
	.instr = PYLAYOUT_INSTR_BYTE_OFFSET, \
	.linetable = PYLINETABLE_LNOTAB, \
	.runtime = { .interpreters_head = 32, .interpreters_main = 40, \
		     .tstate_current = TSTATE_CUR_, .gil_locked = LOCKED_, \
		     .gil_last_holder = HOLDER_ }, \
	.interp = { .next = 0, .threads_head = 8, .gil = A, .modules = MODULES_ }, \
	.gil = { .last_holder = 8, .locked = 16 }, \
	.tstate = { .next = 8, .interp = 16, .frame = 24, .thread_id = 176, \
		    NO_NEW_THREAD_FIELDS }, \
	.cframe = NO_CFRAME, \
	.chunk = NO_CHUNK, \
	.frame = { .back = 24, .code = 32, .instr = 104, .is_entry = A, .owner = A, \
		   .owner_not_python = A, .code_tag_mask = 0, .localsplus = 360 }, \
	.object = OBJECT_OLD, \
	NAMES_36(CACHED_), \
	.code = { .filename = 104, .name = 112, .qualname = A, .linetable = 120, \
		  .firstlineno = 40, .code = 48, .code_adaptive = A, \
		  LOCALS_OLD(16, 24, 28, 36, 72, 88, 80) }, \
	.str = STR_3X(48, 72), \
	.bytes = BYTES_3X, \
	VALUES_ALL, \
	NO_UNICODE27, \
}
static const struct pylayout py38_early = PY38(0x03080000, 1368, A, A, 56, 872);
static const struct pylayout py38 = PY38(0x03080900, 1368, 1168, 1160, 56, 872);
/* 3.9 is 3.8 with a smaller _PyRuntimeState.ceval (pycore_runtime.h). */
static const struct pylayout py39_early = PY38(0x03090000, 568, A, A, 856, 864);
static const struct pylayout py39 = PY38(0x03090300, 568, 368, 360, 856, 864);

/* 3.10: f_lasti counts code units; co_linetable replaces co_lnotab. */
static const struct pylayout py310 = {
	.hexversion = 0x030a0000,
	.frame_model = PYLAYOUT_FRAME_OBJECTS,
	.instr = PYLAYOUT_INSTR_CODE_UNIT,
	.linetable = PYLINETABLE_310,
	.runtime = { .interpreters_head = 32, .interpreters_main = 40, .tstate_current = 568,
		     .gil_locked = 368, .gil_last_holder = 360 },
	.interp = { .next = 0, .threads_head = 8, .gil = A, .modules = 856 },
	.gil = { .last_holder = 8, .locked = 16 },
	.tstate = { .next = 8, .interp = 16, .frame = 24, .thread_id = 176,
		    NO_NEW_THREAD_FIELDS },
	.cframe = NO_CFRAME,
	.chunk = NO_CHUNK,
	.frame = { .back = 24, .code = 32, .instr = 96, .is_entry = A, .owner = A,
		   .owner_not_python = A, .code_tag_mask = 0, .localsplus = 352 },
	.object = OBJECT_OLD,
	NAMES_36(872),
	.code = { .filename = 104, .name = 112, .qualname = A, .linetable = 120,
		  .firstlineno = 40, .code = 48, .code_adaptive = A,
		  LOCALS_OLD(16, 24, 28, 36, 72, 88, 80) },
	.str = STR_3X(48, 72),
	.bytes = BYTES_3X,
	VALUES_ALL,
	NO_UNICODE27,
};

/* 3.11: _PyInterpreterFrame in per-thread data-stack chunks, reached
 * through tstate->cframe (pycore_frame.h, cpython/pystate.h); is_entry
 * marks the first frame of each eval-loop call. */
static const struct pylayout py311 = {
	.hexversion = 0x030b0000,
	.frame_model = PYLAYOUT_FRAME_CFRAME,
	.instr = PYLAYOUT_INSTR_POINTER,
	.linetable = PYLINETABLE_LOCATIONS,
	.runtime = { .interpreters_head = 40, .interpreters_main = 48, .tstate_current = 576,
		     .gil_locked = 376, .gil_last_holder = 368 },
	.interp = { .next = 0, .threads_head = 16, .gil = A, .modules = 888 },
	.gil = { .last_holder = 8, .locked = 16 },
	.tstate = { .next = 8, .interp = 16, .frame = A, .cframe = 56, .current_frame = A,
		    .thread_id = 152, .native_thread_id = 160, .datastack_chunk = 296,
		    .datastack_top = 304, .datastack_limit = 312 },
	.cframe = { .current_frame = 8 },
	.chunk = CHUNK_311,
	.frame = { .back = 48, .code = 32, .instr = 56, .is_entry = 68, .owner = 69,
		   .owner_not_python = A, .code_tag_mask = 0, .localsplus = 72 },
	.object = { .ob_type = 8, .managed_dict = 24, .managed_values = 32 },
	.module = MODULE_ALL,
	.type = TYPE_OF(872, 1u << 4, A),
	.dict = DICT_3X,
	.dictkeys = DICTKEYS_311,
	.dictvalues = { .values = 0, .valid = A },
	.integer = LONG_3X,
	.code = { .filename = 112, .name = 120, .qualname = 128, .linetable = 136,
		  .firstlineno = 72, .code = A, .code_adaptive = 184,
		  LOCALS_311(56, 64, 80, 48, 76) },
	.str = STR_3X(48, 72),
	.bytes = BYTES_3X,
	VALUES_ALL,
	NO_UNICODE27,
};

/* 3.12: the GIL is per interpreter (interp->ceval.gil, pycore_ceval_state.h);
 * each eval-loop call pushes a shim frame owned by FRAME_OWNED_BY_CSTACK. */
static const struct pylayout py312 = {
	.hexversion = 0x030c0000,
	.frame_model = PYLAYOUT_FRAME_CFRAME,
	.instr = PYLAYOUT_INSTR_POINTER,
	.linetable = PYLINETABLE_LOCATIONS,
	.runtime = { .interpreters_head = 40, .interpreters_main = 48, .tstate_current = A,
		     .gil_locked = A, .gil_last_holder = A },
	.interp = { .next = 0, .threads_head = 72, .gil = 384, .modules = 944 },
	.gil = { .last_holder = 8, .locked = 16 },
	.tstate = { .next = 8, .interp = 16, .frame = A, .cframe = 56, .current_frame = A,
		    .thread_id = 136, .native_thread_id = 144, .datastack_chunk = 232,
		    .datastack_top = 240, .datastack_limit = 248 },
	.cframe = { .current_frame = 0 },
	.chunk = CHUNK_311,
	.frame = { .back = 8, .code = 0, .instr = 56, .is_entry = A, .owner = 70,
		   .owner_not_python = 3, .code_tag_mask = 0, .localsplus = 72 },
	.object = { .ob_type = 8, .managed_dict = 24, .managed_values = A },
	.module = MODULE_ALL,
	.type = TYPE_OF(880, 1u << 4, A),
	.dict = DICT_3X,
	.dictkeys = DICTKEYS_311,
	.dictvalues = { .values = 0, .valid = A },
	.integer = LONG_312,
	.code = { .filename = 112, .name = 120, .qualname = 128, .linetable = 136,
		  .firstlineno = 68, .code = A, .code_adaptive = 192,
		  LOCALS_311(52, 60, 80, 48, 72) },
	.str = STR_3X(40, 56),
	.bytes = BYTES_3X,
	VALUES_ALL,
	NO_UNICODE27,
};

/* 3.13: tstate->current_frame, f_executable, instr_ptr. _PyRuntime starts
 * with _Py_DebugOffsets, which pylayout_from_debug_offsets() reads; this
 * table is the fallback and the check of that reader. */
static const struct pylayout py313 = {
	.hexversion = 0x030d0000,
	.frame_model = PYLAYOUT_FRAME_CURRENT,
	.instr = PYLAYOUT_INSTR_POINTER,
	.linetable = PYLINETABLE_LOCATIONS,
	.runtime = { .interpreters_head = 632, .interpreters_main = 640, .tstate_current = A,
		     .gil_locked = A, .gil_last_holder = A },
	.interp = { .next = 7264, .threads_head = 7344, .gil = 16, .modules = 7656 },
	.gil = { .last_holder = 8, .locked = 16 },
	.tstate = { .next = 8, .interp = 16, .frame = A, .cframe = A, .current_frame = 72,
		    .thread_id = 152, .native_thread_id = 160, .datastack_chunk = 232,
		    .datastack_top = 240, .datastack_limit = 248 },
	.cframe = NO_CFRAME,
	.chunk = CHUNK_311,
	.frame = { .back = 8, .code = 0, .instr = 56, .is_entry = A, .owner = 70,
		   .owner_not_python = 3, .code_tag_mask = 0, .localsplus = 72 },
	.object = { .ob_type = 8, .managed_dict = 24, .managed_values = A },
	.module = MODULE_ALL,
	.type = TYPE_OF(880, 1u << 4, 1u << 2),
	.dict = DICT_3X,
	.dictkeys = DICTKEYS_311,
	.dictvalues = { .values = 8, .valid = 3 },
	.integer = LONG_312,
	.code = { .filename = 112, .name = 120, .qualname = 128, .linetable = 136,
		  .firstlineno = 68, .code = A, .code_adaptive = 200,
		  LOCALS_311(52, 60, 80, 48, 72) },
	.str = STR_3X(40, 56),
	.bytes = BYTES_3X,
	VALUES_ALL,
	NO_UNICODE27,
};

/*
 * Which table covers which versions: for a version X.Y.P, the entry of
 * X.Y with the greatest first patch <= P. An entry with no layout marks a
 * patch range that is not supported (none today).
 */
static const struct {
	uint8_t major, minor, first_patch;
	const struct pylayout *layout;
} versions[] = {
	{ 2, 7, 0, &py27 },
	{ 3, 6, 0, &py36 },
	{ 3, 7, 0, &py37_early },
	{ 3, 7, 4, &py37 },
	{ 3, 8, 0, &py38_early },
	{ 3, 8, 9, &py38 },
	{ 3, 9, 0, &py39_early },
	{ 3, 9, 3, &py39 },
	{ 3, 10, 0, &py310 },
	{ 3, 11, 0, &py311 },
	{ 3, 12, 0, &py312 },
	{ 3, 13, 0, &py313 },
};

const struct pylayout *pylayout_for_version(uint32_t hexversion)
{
	unsigned major = hexversion >> 24, minor = (hexversion >> 16) & 0xff;
	unsigned patch = (hexversion >> 8) & 0xff;
	const struct pylayout *best = NULL;
	int best_patch = -1;

	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		if (versions[i].major != major || versions[i].minor != minor)
			continue;
		if (versions[i].first_patch <= patch && (int)versions[i].first_patch > best_patch) {
			best_patch = versions[i].first_patch;
			best = versions[i].layout;
		}
	}
	return best;
}

/*
 * _Py_DebugOffsets (3.13: Include/internal/pycore_runtime.h; 3.14:
 * Include/internal/pycore_debug_offsets.h): char cookie[8], then uint64
 * words. The struct grows between minor versions, and not only at its end
 * (3.14 put interpreter_state.threads_main after threads_head, so every
 * later group moved), so the word index of each field is kept per minor
 * version. Indexes count uint64 words from the start of the struct, the
 * cookie being word 0.
 */
struct debug_offsets_schema {
	uint8_t minor;
	uint8_t words;              /* the struct's size in words */
	uint8_t version, free_threaded;
	uint8_t rt_size, rt_interpreters_head;
	uint8_t is_size, is_next, is_threads_head, is_imports_modules, is_ceval_gil,
		is_gil_runtime_state, is_gil_locked, is_gil_holder;
	uint8_t ts_size, ts_next, ts_interp, ts_current_frame, ts_thread_id,
		ts_native_thread_id, ts_datastack_chunk;
	uint8_t fr_size, fr_previous, fr_executable, fr_instr_ptr, fr_owner;
	uint8_t co_size, co_filename, co_name, co_qualname, co_linetable, co_firstlineno,
		co_code_adaptive;
	uint8_t ob_size, ob_ob_type;
	uint8_t by_size, by_ob_size, by_ob_sval;
	uint8_t un_size, un_state, un_length, un_asciiobject_size;
	/* FRAME_OWNED_BY_CSTACK in 3.13; 3.14 put FRAME_OWNED_BY_INTERPRETER
	 * (3) before it (4): neither is a Python frame. */
	uint8_t owner_not_python;
	uint8_t code_tag_mask;
	/* What dump --locals can check the table of the same minor version
	 * against; 0: not used (the cookie is word 0). */
	uint8_t fr_localsplus, co_argcount, co_localsplusnames, co_localspluskinds;
};

static const struct debug_offsets_schema schemas[] = {
	/* 3.13.0, checked against libpython3.13.so's .PyRuntime by the test. */
	{ .minor = 13, .words = 73, .version = 1, .free_threaded = 2,
	  .rt_size = 3, .rt_interpreters_head = 5,
	  .is_size = 6, .is_next = 8, .is_threads_head = 9, .is_imports_modules = 11,
	  .is_ceval_gil = 14,
	  .is_gil_runtime_state = 15, .is_gil_locked = 17, .is_gil_holder = 18,
	  .ts_size = 19, .ts_next = 21, .ts_interp = 22, .ts_current_frame = 23,
	  .ts_thread_id = 24, .ts_native_thread_id = 25, .ts_datastack_chunk = 26,
	  .fr_size = 28, .fr_previous = 29, .fr_executable = 30, .fr_instr_ptr = 31,
	  .fr_owner = 33,
	  .co_size = 34, .co_filename = 35, .co_name = 36, .co_qualname = 37,
	  .co_linetable = 38, .co_firstlineno = 39, .co_code_adaptive = 43,
	  .ob_size = 44, .ob_ob_type = 45,
	  .by_size = 64, .by_ob_size = 65, .by_ob_sval = 66,
	  .un_size = 67, .un_state = 68, .un_length = 69, .un_asciiobject_size = 70,
	  .owner_not_python = 3, .code_tag_mask = 0,
	  .fr_localsplus = 32, .co_argcount = 40, .co_localsplusnames = 41,
	  .co_localspluskinds = 42 },
	/* 3.14, from its pycore_debug_offsets.h (threads_main,
	 * code_object_generation and tlbc_generation in interpreter_state;
	 * stackpointer, tlbc_index in the frame; co_tlbc; set_object,
	 * gen_object, llist_node, debugger_support). No 3.14 is installed
	 * here: this row is read from the header, not checked on a build.
	 * f_executable is a _PyStackRef whose low bits are tags. */
	{ .minor = 14, .words = 95, .version = 1, .free_threaded = 2,
	  .rt_size = 3, .rt_interpreters_head = 5,
	  .is_size = 6, .is_next = 8, .is_threads_head = 9, .is_imports_modules = 12,
	  .is_ceval_gil = 15,
	  .is_gil_runtime_state = 16, .is_gil_locked = 18, .is_gil_holder = 19,
	  .ts_size = 22, .ts_next = 24, .ts_interp = 25, .ts_current_frame = 26,
	  .ts_thread_id = 27, .ts_native_thread_id = 28, .ts_datastack_chunk = 29,
	  .fr_size = 31, .fr_previous = 32, .fr_executable = 33, .fr_instr_ptr = 34,
	  .fr_owner = 36,
	  .co_size = 39, .co_filename = 40, .co_name = 41, .co_qualname = 42,
	  .co_linetable = 43, .co_firstlineno = 44, .co_code_adaptive = 48,
	  .ob_size = 50, .ob_ob_type = 51,
	  .by_size = 74, .by_ob_size = 75, .by_ob_sval = 76,
	  .un_size = 77, .un_state = 78, .un_length = 79, .un_asciiobject_size = 80,
	  .owner_not_python = 3, .code_tag_mask = 3 },
};

/* Bounds of a sane struct: the largest (_PyRuntimeState,
 * PyInterpreterState) are ~100 KiB on 3.13; objects a few hundred bytes. */
#define MAX_STATE_SIZE (4u << 20)
#define MAX_OBJECT_SIZE 4096u

static uint64_t word(const uint8_t *buf, unsigned index)
{
	uint64_t v;

	memcpy(&v, buf + (size_t)index * 8, sizeof(v));
	return v;
}

/* The offset at word @index, which must leave @width bytes inside a struct
 * of @size bytes; false when it does not. */
static bool field(const uint8_t *buf, unsigned index, uint64_t size, uint64_t width,
		  uint32_t *out)
{
	uint64_t v = word(buf, index);

	if (size < width || v > size - width)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* The struct size at word @index, bounded by @max. */
static bool struct_size(const uint8_t *buf, unsigned index, uint64_t max, uint64_t *out)
{
	uint64_t v = word(buf, index);

	if (v == 0 || v > max)
		return false;
	*out = v;
	return true;
}

/*
 * What dump --locals reads (pylayout.h: frame.localsplus, the code
 * object's local names and counts, tuples, floats, cells, type names):
 * _Py_DebugOffsets carries only some of it, so it all comes from the
 * @table of the same minor version (NULL: none), and only when the
 * offsets the struct does carry agree with that table; else it is all
 * absent and locals are not read.
 */
static void locals_from_table(const uint8_t *b, const struct debug_offsets_schema *s,
			      const struct pylayout *table, uint64_t fr, uint64_t co,
			      struct pylayout *l)
{
	uint32_t localsplus, argcount, names, kinds;
	bool ok = table && s->fr_localsplus && s->co_argcount && s->co_localsplusnames &&
		  s->co_localspluskinds &&
		  field(b, s->fr_localsplus, fr, 0, &localsplus) &&
		  field(b, s->co_argcount, co, 4, &argcount) &&
		  field(b, s->co_localsplusnames, co, 8, &names) &&
		  field(b, s->co_localspluskinds, co, 8, &kinds);

	if (ok && localsplus == table->frame.localsplus && argcount == table->code.argcount &&
	    names == table->code.localsplusnames && kinds == table->code.localspluskinds) {
		l->frame.localsplus = localsplus;
		l->code.argcount = table->code.argcount;
		l->code.kwonlyargcount = table->code.kwonlyargcount;
		l->code.nlocals = table->code.nlocals;
		l->code.flags = table->code.flags;
		l->code.localsplusnames = names;
		l->code.localspluskinds = kinds;
		l->code.nlocalsplus = table->code.nlocalsplus;
		l->type.name = table->type.name;
		l->type.heaptype_flag = table->type.heaptype_flag;
		l->tuple = table->tuple;
		l->floating = table->floating;
		l->cell = table->cell;
	} else {
		l->frame.localsplus = A;
		l->code.argcount = l->code.kwonlyargcount = l->code.nlocals = A;
		l->code.flags = l->code.localsplusnames = l->code.localspluskinds = A;
		l->code.nlocalsplus = A;
		/* type.name and the flag sit in l->type: absent when the
		 * thread-name fields are. */
		if (!table)
			l->type.name = l->type.heaptype_flag = A;
		memset(&l->tuple, 0xff, sizeof(l->tuple));
		memset(&l->floating, 0xff, sizeof(l->floating));
		memset(&l->cell, 0xff, sizeof(l->cell));
	}
	l->code.varnames = l->code.cellvars = l->code.freevars = A;
	memset(&l->unicode27, 0xff, sizeof(l->unicode27));
}

int pylayout_from_debug_offsets(const void *buf, size_t len, struct pylayout *out)
{
	const uint8_t *b = buf;
	const struct debug_offsets_schema *s = NULL;
	const struct pylayout *table;
	struct pylayout l;
	uint64_t version, rt, is, ts, fr, co, ob, by, un;
	uint32_t gil_state, gil_locked, gil_holder;
	unsigned minor, level;
	bool ok = true;

	if (!buf || len < 8 * 3 || memcmp(b, "xdebugpy", 8) != 0)
		return -EINVAL;
	version = word(b, 1);
	if (version >> 32 || (version >> 24) != 3)
		return -EINVAL;
	minor = (version >> 16) & 0xff;
	level = (version >> 4) & 0xf;
	if (minor < 13 || (level != 0xa && level != 0xb && level != 0xc && level != 0xf))
		return -EINVAL;
	/* Pre-releases still move the struct: only an rc or a final
	 * release is read. */
	if (level == 0xa || level == 0xb)
		return -ENOTSUP;
	/* A minor version newer than every schema is read with the newest
	 * one: the bounds below reject most moves, not all. */
	for (size_t i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++)
		if (schemas[i].minor <= minor)
			s = &schemas[i];
	if (!s || len < (size_t)s->words * 8)
		return -EINVAL;
	if (word(b, s->free_threaded) > 1)
		return -EINVAL;

	ok = struct_size(b, s->rt_size, MAX_STATE_SIZE, &rt) &&
	     struct_size(b, s->is_size, MAX_STATE_SIZE, &is) &&
	     struct_size(b, s->ts_size, MAX_STATE_SIZE, &ts) &&
	     struct_size(b, s->fr_size, MAX_OBJECT_SIZE, &fr) &&
	     struct_size(b, s->co_size, MAX_OBJECT_SIZE, &co) &&
	     struct_size(b, s->ob_size, MAX_OBJECT_SIZE, &ob) &&
	     struct_size(b, s->by_size, MAX_OBJECT_SIZE, &by) &&
	     struct_size(b, s->un_size, MAX_OBJECT_SIZE, &un);
	if (!ok)
		return -EINVAL;

	memset(&l, 0, sizeof(l));
	l.hexversion = (uint32_t)version;
	l.source = PYLAYOUT_SOURCE_DEBUG_OFFSETS;
	l.frame_model = PYLAYOUT_FRAME_CURRENT;
	l.instr = PYLAYOUT_INSTR_POINTER;
	l.linetable = PYLINETABLE_LOCATIONS;

	/* struct pyinterpreters (pycore_runtime.h) has kept head and main
	 * side by side since 3.7; the debug offsets name only head. */
	ok = field(b, s->rt_interpreters_head, rt, 16, &l.runtime.interpreters_head);
	l.runtime.interpreters_main = l.runtime.interpreters_head + 8;
	l.runtime.tstate_current = l.runtime.gil_locked = l.runtime.gil_last_holder = A;

	ok = ok && field(b, s->is_next, is, 8, &l.interp.next) &&
	     field(b, s->is_threads_head, is, 8, &l.interp.threads_head) &&
	     field(b, s->is_ceval_gil, is, 8, &l.interp.gil) &&
	     field(b, s->is_gil_runtime_state, is, 8, &gil_state) &&
	     field(b, s->is_gil_locked, is, 4, &gil_locked) &&
	     field(b, s->is_gil_holder, is, 8, &gil_holder);
	/* The GIL fields are given within the interpreter's own
	 * _gil_runtime_state; interp.gil points at a struct of that type. */
	if (!ok || gil_locked < gil_state || gil_holder < gil_state ||
	    gil_locked - gil_state >= MAX_OBJECT_SIZE || gil_holder - gil_state >= MAX_OBJECT_SIZE)
		return -EINVAL;
	l.gil.locked = gil_locked - gil_state;
	l.gil.last_holder = gil_holder - gil_state;

	/* datastack_top and datastack_limit follow datastack_chunk in
	 * PyThreadState (cpython/pystate.h, 3.11+). */
	ok = field(b, s->ts_next, ts, 8, &l.tstate.next) &&
	     field(b, s->ts_interp, ts, 8, &l.tstate.interp) &&
	     field(b, s->ts_current_frame, ts, 8, &l.tstate.current_frame) &&
	     field(b, s->ts_thread_id, ts, 8, &l.tstate.thread_id) &&
	     field(b, s->ts_native_thread_id, ts, 8, &l.tstate.native_thread_id) &&
	     field(b, s->ts_datastack_chunk, ts, 24, &l.tstate.datastack_chunk);
	if (!ok)
		return -EINVAL;
	l.tstate.datastack_top = l.tstate.datastack_chunk + 8;
	l.tstate.datastack_limit = l.tstate.datastack_chunk + 16;
	l.tstate.frame = l.tstate.cframe = A;
	l.cframe.current_frame = A;
	/* _PyStackChunk (cpython/pystate.h) has not changed since 3.11. */
	l.chunk.previous = 0;
	l.chunk.size = 8;
	l.chunk.top = 16;
	l.chunk.data = 24;

	ok = field(b, s->fr_previous, fr, 8, &l.frame.back) &&
	     field(b, s->fr_executable, fr, 8, &l.frame.code) &&
	     field(b, s->fr_instr_ptr, fr, 8, &l.frame.instr) &&
	     field(b, s->fr_owner, fr, 1, &l.frame.owner);
	l.frame.is_entry = A;
	l.frame.owner_not_python = s->owner_not_python;
	l.frame.code_tag_mask = s->code_tag_mask;

	ok = ok && field(b, s->ob_ob_type, ob, 8, &l.object.ob_type) &&
	     field(b, s->co_filename, co, 8, &l.code.filename) &&
	     field(b, s->co_name, co, 8, &l.code.name) &&
	     field(b, s->co_qualname, co, 8, &l.code.qualname) &&
	     field(b, s->co_linetable, co, 8, &l.code.linetable) &&
	     field(b, s->co_firstlineno, co, 4, &l.code.firstlineno) &&
	     field(b, s->co_code_adaptive, co, 0, &l.code.code_adaptive);
	l.code.code = A;
	if (!ok)
		return -EINVAL;

	/* PyCompactUnicodeObject is PyASCIIObject, utf8_length and utf8
	 * since 3.12 (cpython/unicodeobject.h). */
	ok = field(b, s->by_ob_size, by, 8, &l.bytes.ob_size) &&
	     field(b, s->by_ob_sval, by, 1, &l.bytes.ob_sval) &&
	     field(b, s->un_state, un, 4, &l.str.state) &&
	     field(b, s->un_length, un, 8, &l.str.length) &&
	     field(b, s->un_asciiobject_size, un, 0, &l.str.ascii_size);
	if (!ok || l.str.ascii_size == 0 || l.str.state >= l.str.ascii_size ||
	    l.str.length >= l.str.ascii_size)
		return -EINVAL;
	l.str.compact_size = l.str.ascii_size + 16;
	l.str.sval = A;

	/* The thread-name walk (types, dicts, ints) needs more than the
	 * struct describes (tp_basicsize, tp_dictoffset, the dict keys'
	 * insides, the managed dict): those come from the table of the same
	 * minor version, checked against its headers, when there is one.
	 * Without one (3.14+, not checked on a build here) they are absent
	 * and thread names are not read. */
	table = pylayout_for_version(l.hexversion);
	if (table && (table->hexversion >> 16) == (l.hexversion >> 16) &&
	    table->interp.modules != A &&
	    field(b, s->is_imports_modules, is, 8, &l.interp.modules)) {
		l.object.managed_dict = table->object.managed_dict;
		l.object.managed_values = table->object.managed_values;
		l.module = table->module;
		l.type = table->type;
		l.dict = table->dict;
		l.dictkeys = table->dictkeys;
		l.dictvalues = table->dictvalues;
		l.integer = table->integer;
	} else {
		table = NULL;
		l.interp.modules = A;
		l.object.managed_dict = l.object.managed_values = A;
		memset(&l.module, 0xff, sizeof(l.module));
		memset(&l.type, 0xff, sizeof(l.type));
		memset(&l.dict, 0xff, sizeof(l.dict));
		memset(&l.dictkeys, 0xff, sizeof(l.dictkeys));
		memset(&l.dictvalues, 0xff, sizeof(l.dictvalues));
		memset(&l.integer, 0xff, sizeof(l.integer));
	}
	locals_from_table(b, s, table, fr, co, &l);

	*out = l;
	return 0;
}
