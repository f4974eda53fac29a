/*
 * pychain.h - the walk of one thread's CPython frame chain over bytes
 * already copied out of the target, into a struct pystack. Private to
 * tracer/: the Python reader (pyreader.c) does the copying, this file only
 * parses, so that it can be fuzzed (tests/unit/fuzz_pychain.c) and unit
 * tested over hand-made chains.
 *
 * Everything read is untrusted: the walk is bounded by PYSTACK_MAX_FRAMES,
 * detects cycles, and turns anything out of range into PYSTACK_TORN.
 */
#ifndef HOTSPY_PYCHAIN_H
#define HOTSPY_PYCHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "pylayout.h"
#include "pystack.h"

/*
 * Where the walk gets the target's bytes: @read returns a pointer to a copy
 * of [@addr, @addr + @len) of the target, valid until the next call, or
 * NULL when that range cannot be had (unmapped, out of the copies).
 */
struct pychain_source {
	const uint8_t *(*read)(void *ctx, uint64_t addr, size_t len);
	void *ctx;
};

/* The frame addresses a walk has met, to find cycles: a scratch set reused
 * by every walk (no clearing between walks). */
struct pychain_seen;

struct pychain_seen *pychain_seen_new(void);     /* NULL with errno */
void pychain_seen_free(struct pychain_seen *s);  /* accepts NULL */

/* Bytes of a frame (PyFrameObject or _PyInterpreterFrame) the walk reads:
 * from its start to the end of the last field it uses. */
size_t pychain_frame_size(const struct pylayout *l);

/*
 * Walk the chain whose innermost frame is at @frame (tstate->frame,
 * tstate->cframe->current_frame or tstate->current_frame; 0: no frame)
 * and fill @out: frames innermost first, grouped by eval-loop call
 * (pystack.h). On 3.11 @cframe is tstate->cframe: the chain of _PyCFrame
 * structs from it (the thread state's root_cframe, whose previous is NULL,
 * excluded) gives the anchors; 0 otherwise. Sets out->status and returns
 * it. Never fails otherwise: what could not be read ends the walk as
 * PYSTACK_TORN with the frames found so far. Signal-safe (no allocation).
 */
enum pystack_status pychain_walk(const struct pylayout *l, const struct pychain_source *src,
				 uint64_t frame, uint64_t cframe, struct pychain_seen *seen,
				 struct pystack *out);

/* Largest instruction index accepted (code units): far beyond any real code
 * object (CPython caps a code object's size well below), far below what a
 * python address holds. */
#define PYCHAIN_INDEX_MAX (1u << 24)

#endif
