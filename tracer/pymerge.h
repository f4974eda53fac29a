/*
 * pymerge.h - one stack from a thread's native frames and its Python frames.
 *
 * Each eval-loop native frame (a C call of the interpreter's
 * _PyEval_EvalFrameDefault) is replaced by the Python frames that call was
 * running, the interpreter's own C frames around them are hidden, and every
 * other native frame stays where it is: a C extension or library called
 * from Python sits under the Python line that called it, and Python called
 * back from C sits under that C function.
 *
 * Pairing is exact where the interpreter allows it (3.11+): each eval-loop
 * call keeps a structure on its own C stack frame (its _PyCFrame, or its
 * shim frame), whose address (the anchor, pystack.h) lies between that
 * frame's stack pointer and its caller's. Up to 3.10 the k-th eval-loop
 * native frame, found by the eval function's address range, runs the k-th
 * Python frame. No sample is ever dropped: Python frames whose call is not
 * found on the native stack (a native walk cut short) go to the root end,
 * in their order, and a marker says what is missing.
 *
 * Pure: no target, no allocation; safe to unit-test on made-up stacks.
 */
#ifndef HOTSPY_PYMERGE_H
#define HOTSPY_PYMERGE_H

#include <stddef.h>
#include <stdint.h>

#include "pystack.h"

struct addr_range {
	uint64_t start, end;    /* [start, end) */
};

enum pymerge_mode {
	PYMERGE_MIXED,          /* default: Python frames, native frames outside
				 * the interpreter */
	PYMERGE_PYTHON_ONLY,    /* Python frames alone (py-spy's default) */
	PYMERGE_ALL_NATIVE,     /* the interpreter's C frames kept too */
};

struct pymerge_input {
	/* The unwound native stack, leaf first, possibly ending in a marker
	 * (addrspace.h); sps[i] is frame i's stack pointer (unwind.h). */
	const uint64_t *native;
	const uint64_t *sps;
	size_t nnative;
	/* The Python frames (status NONE: the native stack is kept as it is)
	 * and their python addresses (pyreader_resolve), py->n of them. */
	const struct pystack *py;
	const uint64_t *pyaddrs;
	/* The interpreter's code: its native frames are hidden. */
	const struct addr_range *interp;
	size_t ninterp;
	/* The eval loop function(s): pairing by order when no anchor is known
	 * (<= 3.10). May be empty with anchors. */
	const struct addr_range *eval;
	size_t neval;
	/* Code whose frames are hidden rootward of the outermost Python frame
	 * only: the C library's process and thread start (_start,
	 * __libc_start_main, start_thread, clone3), which say nothing of a
	 * Python program. Frames of a program that embeds Python stay. */
	const struct addr_range *startup;
	size_t nstartup;
	/* The C runtime (libc, the dynamic linker, libm): its frames called
	 * straight from the interpreter's own code (malloc behind the object
	 * allocator, __tls_get_addr behind the thread state, the system call
	 * behind time.sleep) are the interpreter's doing, hidden with it;
	 * called from a C extension or library they stay. */
	const struct addr_range *runtime;
	size_t nruntime;
};

struct pymerge_stats {
	uint64_t paired;        /* eval-loop calls paired with a native frame */
	uint64_t unpaired;      /* calls whose native frame was not found */
};

/*
 * Merge @in into @out (room for @max >= 2 addresses), leaf first, ready for
 * profile_add_sample. Returns the number stored. A result that would not
 * fit is cut at the root end with PROFILE_ADDR_TRUNCATED. @st (may be
 * NULL) gets counts added.
 */
size_t pymerge(const struct pymerge_input *in, enum pymerge_mode mode, uint64_t *out,
	       size_t max, struct pymerge_stats *st);

#endif
