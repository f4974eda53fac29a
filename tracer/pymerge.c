#include "pymerge.h"

#include <stdbool.h>
#include <string.h>

#include "addrspace.h"
#include "banned.h"

/* NONE: the call was not found on the native stack. */
#define NO_FRAME SIZE_MAX
/* Native frames looked at for the runtime rule (mark_runtime). */
#define PYMERGE_MARK_MAX 4096

static bool in_ranges(const struct addr_range *r, size_t n, uint64_t addr)
{
	for (size_t i = 0; i < n; i++)
		if (addr >= r[i].start && addr < r[i].end)
			return true;
	return false;
}

struct out {
	uint64_t *v;
	size_t n, max;
	bool full;
};

static void put(struct out *o, uint64_t addr)
{
	if (o->n < o->max - 1) {
		o->v[o->n++] = addr;
		return;
	}
	/* The last slot is the cut's marker. */
	if (!o->full) {
		o->v[o->n++] = PROFILE_ADDR_TRUNCATED;
		o->full = true;
	}
}

/*
 * Pair calls with native frames by anchor: call k ran in the native frame
 * whose C stack frame [sps[j], sps[j + 1]) holds its anchor. Calls go from
 * the innermost outwards and so do frames, so one pass does it. A frame
 * outside the interpreter's code cannot be an eval loop: such a match (an
 * anchor past a walk that was cut short falls in the last frame's open
 * range) is no pairing.
 */
static void pair_by_anchor(const struct pymerge_input *in, size_t nreal, size_t *frame_of)
{
	const struct pystack *py = in->py;
	size_t j = 0;

	for (size_t k = 0; k < py->ncalls; k++) {
		uint64_t a = py->anchor[k];

		frame_of[k] = NO_FRAME;
		if (!a)
			continue;
		while (j < nreal && j + 1 < nreal && a >= in->sps[j + 1])
			j++;
		if (j >= nreal || a < in->sps[j])
			continue;
		if (in->ninterp && !in_ranges(in->interp, in->ninterp, in->native[j]))
			continue;
		frame_of[k] = j++;
	}
}

/* Up to 3.10: the k-th eval-loop frame from the leaf runs call k. */
static void pair_by_order(const struct pymerge_input *in, size_t nreal, size_t *frame_of)
{
	const struct pystack *py = in->py;
	size_t j = 0;

	for (size_t k = 0; k < py->ncalls; k++) {
		while (j < nreal && !in_ranges(in->eval, in->neval, in->native[j]))
			j++;
		frame_of[k] = j < nreal ? j++ : NO_FRAME;
	}
}

/*
 * hidden[i] for the C runtime's frames that the interpreter's own code
 * called: walking from the root, the nearest caller that is not the
 * runtime's decides. Only the first PYMERGE_MARK_MAX frames are looked at:
 * deeper runtime frames stay.
 */
static void mark_runtime(const struct pymerge_input *in, size_t nreal, bool *hidden)
{
	bool caller_interp = false;

	for (size_t i = nreal; i-- > 0;) {
		uint64_t a = in->native[i];

		if (i >= PYMERGE_MARK_MAX)
			continue;
		hidden[i] = false;
		if (in_ranges(in->runtime, in->nruntime, a))
			hidden[i] = caller_interp;
		else
			caller_interp = in_ranges(in->interp, in->ninterp, a);
	}
}

/* Emit the Python frames of calls [*next, upto), innermost first. */
static void put_calls(struct out *o, const struct pymerge_input *in, size_t *frame_i,
		      size_t *next, size_t upto)
{
	const struct pystack *py = in->py;

	while (*frame_i < py->n && py->frames[*frame_i].call < upto) {
		put(o, in->pyaddrs[*frame_i]);
		(*frame_i)++;
	}
	if (*next < upto)
		*next = upto;
}

size_t pymerge(const struct pymerge_input *in, enum pymerge_mode mode, uint64_t *out,
	       size_t max, struct pymerge_stats *st)
{
	const struct pystack *py = in->py;
	struct out o = { .v = out, .max = max };
	size_t frame_of[PYSTACK_MAX_FRAMES];
	bool hidden[PYMERGE_MARK_MAX];
	size_t nreal = in->nnative, outer = NO_FRAME, next = 0, frame_i = 0;
	uint64_t marker = 0;

	if (nreal && addrspace_is_marker(in->native[nreal - 1]))
		marker = in->native[--nreal];
	if (!py || py->status == PYSTACK_NONE || !py->n) {
		for (size_t i = 0; i < in->nnative; i++)
			put(&o, in->native[i]);
		return o.n;
	}
	if (py->ncalls > PYSTACK_MAX_FRAMES)
		return 0;
	if (mode != PYMERGE_PYTHON_ONLY) {
		if (py->ncalls && py->anchor[0])
			pair_by_anchor(in, nreal, frame_of);
		else
			pair_by_order(in, nreal, frame_of);
		for (size_t k = 0; k < py->ncalls; k++) {
			if (frame_of[k] == NO_FRAME) {
				if (st)
					st->unpaired++;
				continue;
			}
			if (st)
				st->paired++;
			outer = frame_of[k];
		}
		if (mode == PYMERGE_MIXED)
			mark_runtime(in, nreal, hidden);
		for (size_t i = 0, k = 0; i < nreal; i++) {
			uint64_t a = in->native[i];

			while (k < py->ncalls && (frame_of[k] == NO_FRAME || frame_of[k] < i))
				k++;
			if (k < py->ncalls && frame_of[k] == i) {
				/* This eval loop's frames, and those of inner calls
				 * whose own native frame was not found. */
				put_calls(&o, in, &frame_i, &next, k + 1);
				continue;
			}
			if (mode == PYMERGE_MIXED &&
			    ((i < PYMERGE_MARK_MAX && hidden[i]) ||
			     in_ranges(in->interp, in->ninterp, a) ||
			     (outer != NO_FRAME && i > outer &&
			      in_ranges(in->startup, in->nstartup, a))))
				continue;
			put(&o, a);
		}
	}
	/*
	 * What is left: Python frames outer to every call found (the native
	 * walk stopped before their eval loops), after the native walk's
	 * marker, which stands for the native frames between. A walk cut only
	 * rootward of the outermost Python frame lost nothing shown but the
	 * interpreter's start, hidden anyway: its marker goes.
	 */
	if (frame_i < py->n) {
		if (marker && mode != PYMERGE_PYTHON_ONLY)
			put(&o, marker);
		put_calls(&o, in, &frame_i, &next, py->ncalls);
	} else if (marker && mode == PYMERGE_ALL_NATIVE) {
		put(&o, marker);
	}
	if (py->status == PYSTACK_CUT)
		put(&o, PROFILE_ADDR_TRUNCATED);
	else if (py->status == PYSTACK_TORN)
		put(&o, PROFILE_ADDR_UNKNOWN);
	return o.n;
}
