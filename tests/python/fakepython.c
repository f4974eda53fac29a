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
 */
#include <stdint.h>

#ifdef FAKE_OLD
void *_PyThreadState_Current;
void *interp_head = &interp_head;
const char *fake_version = "3.5.10";
#else
const unsigned long Py_Version = 0x030e00f0;

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
	.version = 0x030e00f0,
	.size = sizeof(struct fake_runtime),
	.interpreters_head = 64,
#endif
	.head = &_PyRuntime,
};
#endif
