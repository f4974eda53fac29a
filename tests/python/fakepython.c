/*
 * fakepython.c - a shared object that looks like a libpython to tracer/
 * pyfind and to nothing else, for versions this machine has no interpreter
 * of. pyfind_test.py builds it as libpythonX.Y.so.1.0 and LD_PRELOADs it
 * into `sleep`.
 *
 *   -DFAKE_OLD         3.5-style: _PyThreadState_Current, interp_head and a
 *                      PY_VERSION string ("3.5.10"): unsupported.
 *   -DFAKE_DEBUG=0|1   3.14-style: Py_Version 0x030e00f0 and a _PyRuntime
 *                      that starts with _Py_DebugOffsets (1) or not (0).
 *                      interpreters.head, at the offset the debug offsets
 *                      name, points at the runtime itself.
 *   -DFAKE_VERSION=H   another Py_Version (and debug-offsets version).
 *   -DFAKE_FREE_THREADED=1  _Py_DebugOffsets.free_threaded set: a
 *                      free-threaded build (3.13t), which hotspy names and
 *                      does not read.
 */
#include <stdint.h>

#ifdef FAKE_OLD
void *_PyThreadState_Current;
void *interp_head = &interp_head;
const char *fake_version = "3.5.10";
#else
#ifndef FAKE_VERSION
#define FAKE_VERSION 0x030e00f0
#endif
#ifndef FAKE_FREE_THREADED
#define FAKE_FREE_THREADED 0
#endif
const unsigned long Py_Version = FAKE_VERSION;

/* Include/internal/pycore_debug_offsets.h (3.14): cookie, version,
 * free_threaded, runtime_state { size, finalizing, interpreters_head }. */
struct fake_runtime {
	char cookie[8];
	uint64_t version, free_threaded;
	uint64_t size, finalizing, interpreters_head;
	uint64_t pad[2];
	void *head;   /* at 64 */
	char rest[4096];
};

struct fake_runtime _PyRuntime = {
#if FAKE_DEBUG
	.cookie = "xdebugpy",
	.version = FAKE_VERSION,
	.free_threaded = FAKE_FREE_THREADED,
	.size = sizeof(struct fake_runtime),
	.interpreters_head = 64,
#endif
	.head = &_PyRuntime,
};
#endif
