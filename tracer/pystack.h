/*
 * pystack.h - the CPython frames of one thread at one sample, as the Python
 * reader copies them out of the target while the thread is stopped, and
 * before anything is named. Private to tracer/.
 *
 * Frames are grouped by the eval-loop call (one C call of the interpreter's
 * _PyEval_EvalFrameDefault, PyEval_EvalFrameEx on 2.7) that runs them: the
 * merge with the native stack (pymerge.h) replaces each eval-loop native
 * frame by the Python frames of its call. Up to 3.10 each call runs exactly
 * one frame. From 3.11 a call runs a chain of frames, delimited by the
 * entry frame (3.11, is_entry) or the shim frame (3.12+, owner CSTACK), and
 * an address inside the call's own C stack frame is known (its _PyCFrame on
 * 3.11, its shim frame from 3.12): the anchor that pairs the call with its
 * native frame exactly, whatever else is on the C stack.
 */
#ifndef HOTSPY_PYSTACK_H
#define HOTSPY_PYSTACK_H

#include <stddef.h>
#include <stdint.h>

/* Deepest Python stack kept: CPython's default recursion limit is 1000
 * (3.12+: C recursion is limited apart, Python frames much deeper). */
#define PYSTACK_MAX_FRAMES 4096

enum pystack_status {
	PYSTACK_NONE,     /* the thread runs no Python code (no thread state,
			   * or no frame): a native sample */
	PYSTACK_OK,       /* every frame to the outermost one */
	PYSTACK_CUT,      /* PYSTACK_MAX_FRAMES reached: the outermost frames
			   * are missing */
	PYSTACK_TORN,     /* the chain could not be followed to its end (a
			   * frame unreadable, a cycle, a value out of range):
			   * the frames found are kept, the rest is missing */
};

/* Whether the thread held the GIL at the instant of its frames. */
enum pystack_gil {
	PYSTACK_GIL_UNKNOWN,  /* not asked for, unreadable, or a version whose
			       * GIL hotspy cannot read */
	PYSTACK_GIL_HELD,
	PYSTACK_GIL_FREE,     /* held by another thread, or by none */
};

struct pyframe_raw {
	uint64_t code;    /* address of the code object in the target */
	uint32_t index;   /* the instruction: code units from the start of the
			   * bytecode (bytes on 2.x), as pycodes_line takes */
	uint32_t call;    /* the eval-loop call that runs it: 0 the innermost */
	uint64_t addr;    /* the frame itself (PyFrameObject or
			   * _PyInterpreterFrame), for its locals */
};

struct pystack {
	enum pystack_status status;
	enum pystack_gil gil;
	size_t n;                 /* frames, innermost first */
	size_t ncalls;            /* eval-loop calls (frames[n-1].call + 1) */
	struct pyframe_raw frames[PYSTACK_MAX_FRAMES];
	/* Per call: an address inside that call's C stack frame, or 0 when the
	 * version keeps none (<= 3.10). Innermost call first. */
	uint64_t anchor[PYSTACK_MAX_FRAMES];
};

#endif
