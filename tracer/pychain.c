#include "pychain.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "hash.h"

#include "banned.h"

/*
 * The seen set: open addressing over frame addresses, each slot tagged with
 * the walk that wrote it, so a new walk starts empty without clearing the
 * table. Twice as many slots as a walk can insert keeps probes short.
 */
#define SEEN_SLOTS (4u * PYSTACK_MAX_FRAMES)

struct seen_slot {
	uint64_t addr;
	uint32_t walk;
};

struct pychain_seen {
	uint32_t walk;
	struct seen_slot slots[SEEN_SLOTS];
};

struct pychain_seen *pychain_seen_new(void)
{
	return calloc(1, sizeof(struct pychain_seen));
}

void pychain_seen_free(struct pychain_seen *s)
{
	free(s);
}

static void seen_start(struct pychain_seen *s)
{
	if (++s->walk == 0) {
		/* Tags wrapped: stale slots could look current. */
		memset(s->slots, 0, sizeof(s->slots));
		s->walk = 1;
	}
}

/* Add @addr; false when this walk has met it already (a cycle). */
static bool seen_add(struct pychain_seen *s, uint64_t addr)
{
	size_t i = hash_mix64(addr) & (SEEN_SLOTS - 1);

	for (size_t probes = 0; probes < SEEN_SLOTS; probes++) {
		struct seen_slot *slot = &s->slots[i];

		if (slot->walk != s->walk) {
			slot->walk = s->walk;
			slot->addr = addr;
			return true;
		}
		if (slot->addr == addr)
			return false;
		i = (i + 1) & (SEEN_SLOTS - 1);
	}
	/* Cannot happen: a walk inserts at most PYSTACK_MAX_FRAMES times 2
	 * (frames and shims); treat as a cycle all the same. */
	return false;
}

static int32_t rd32(const uint8_t *p, uint32_t off)
{
	int32_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static size_t field_end(size_t end, uint32_t off, size_t width)
{
	if (off == PYLAYOUT_ABSENT)
		return end;
	return off + width > end ? off + width : end;
}

size_t pychain_frame_size(const struct pylayout *l)
{
	size_t end = 0;

	end = field_end(end, l->frame.back, 8);
	end = field_end(end, l->frame.code, 8);
	/* f_lasti is an int; prev_instr / instr_ptr a pointer. */
	end = field_end(end, l->frame.instr, l->instr == PYLAYOUT_INSTR_POINTER ? 8 : 4);
	end = field_end(end, l->frame.is_entry, 1);
	end = field_end(end, l->frame.owner, 1);
	return end;
}

/*
 * The instruction index of a frame whose bytes are @f and code object is at
 * @code, in the unit pystack.h names; false when out of range.
 *  - <=3.9 f_lasti is a byte offset (frameobject.h); pycodes_line counts
 *    bytes on 2.x and code units from 3.6 (wordcode), hence the halving.
 *  - 3.10 f_lasti counts code units already.
 *  - 3.11/3.12 prev_instr points AT the instruction being executed (for a
 *    frame in a call, at the CALL or its last inline cache entry, whose
 *    location is the CALL's); 3.13 instr_ptr points at the instruction
 *    executing or about to begin. CPython's own line of the frame is
 *    _PyInterpreterFrame_LASTI (pycore_frame.h) = pointer - _PyCode_CODE,
 *    so the same difference gives the line the interpreter reports.
 *  - A frame pushed but not yet started has f_lasti -1 (<=3.10) or
 *    prev_instr one unit before the code (3.11/3.12): index 0.
 */
static bool frame_index(const struct pylayout *l, const uint8_t *f, uint64_t code,
			uint32_t *index)
{
	uint64_t base, ptr, units;
	int32_t lasti;

	switch (l->instr) {
	case PYLAYOUT_INSTR_BYTE_OFFSET:
	case PYLAYOUT_INSTR_CODE_UNIT:
		lasti = rd32(f, l->frame.instr);
		if (lasti < 0)
			lasti = 0;
		if (l->instr == PYLAYOUT_INSTR_BYTE_OFFSET && l->hexversion >> 24 >= 3)
			lasti /= 2;
		units = (uint64_t)lasti;
		break;
	case PYLAYOUT_INSTR_POINTER:
		if (l->code.code_adaptive == PYLAYOUT_ABSENT)
			return false;
		base = code + l->code.code_adaptive;
		ptr = bytes_u64(f, l->frame.instr);
		if (ptr + 2 == base) {
			units = 0;
			break;
		}
		if (ptr < base || (ptr - base) % 2)
			return false;
		units = (ptr - base) / 2;
		break;
	default:
		return false;
	}
	if (units > PYCHAIN_INDEX_MAX)
		return false;
	*index = (uint32_t)units;
	return true;
}

/* 3.11: the anchors of calls 0 .. out->ncalls-1 are the _PyCFrame chain
 * from tstate->cframe (each a local of one _PyEval_EvalFrameDefault call,
 * innermost first; Python/ceval.c), without the thread state's
 * root_cframe, the only one whose previous is NULL. _PyCFrame
 * (cpython/pystate.h, 3.11 and 3.12) keeps previous right after
 * current_frame. */
static void cframe_anchors(const struct pylayout *l, const struct pychain_source *src,
			   uint64_t cframe, struct pystack *out)
{
	size_t k = 0;

	if (l->cframe.current_frame != PYLAYOUT_ABSENT) {
		uint32_t prev_off = l->cframe.current_frame + 8;

		while (cframe && k < out->ncalls && !(cframe & 7)) {
			const uint8_t *c = src->read(src->ctx, cframe, prev_off + 8);
			uint64_t prev;

			if (!c)
				break;
			prev = bytes_u64(c, prev_off);
			if (!prev)
				break;
			out->anchor[k++] = cframe;
			cframe = prev;
		}
	}
	for (; k < out->ncalls; k++)
		out->anchor[k] = 0;
}

enum pystack_status pychain_walk(const struct pylayout *l, const struct pychain_source *src,
				 uint64_t frame, uint64_t cframe, struct pychain_seen *seen,
				 struct pystack *out)
{
	size_t fsize = pychain_frame_size(l);
	bool shims = l->frame.owner != PYLAYOUT_ABSENT &&
		     l->frame.owner_not_python != PYLAYOUT_ABSENT;
	bool entries = l->frame.is_entry != PYLAYOUT_ABSENT;
	bool objects = l->frame_model == PYLAYOUT_FRAME_OBJECTS;
	uint64_t code_mask = ~(uint64_t)l->frame.code_tag_mask;
	enum pystack_status status = PYSTACK_OK;
	size_t call = 0, anchored = 0;

	seen_start(seen);
	out->n = 0;
	out->ncalls = 0;
	while (frame) {
		const uint8_t *f;
		uint64_t code;
		uint32_t index;

		if (out->n == PYSTACK_MAX_FRAMES || call >= PYSTACK_MAX_FRAMES) {
			status = PYSTACK_CUT;
			break;
		}
		if ((frame & 7) || !seen_add(seen, frame) ||
		    !(f = src->read(src->ctx, frame, fsize))) {
			status = PYSTACK_TORN;
			break;
		}
		if (shims && f[l->frame.owner] >= l->frame.owner_not_python) {
			/* 3.12+: the shim frame of an eval-loop call (owner
			 * FRAME_OWNED_BY_CSTACK, pycore_frame.h) closes the
			 * call; it is a local of that call's C frame. */
			out->anchor[call] = frame;
			anchored = ++call;
			frame = bytes_u64(f, l->frame.back);
			continue;
		}
		code = bytes_u64(f, l->frame.code) & code_mask;
		if (!code || (code & 7) || !frame_index(l, f, code, &index)) {
			status = PYSTACK_TORN;
			break;
		}
		out->frames[out->n++] = (struct pyframe_raw){ .code = code, .index = index,
							      .call = (uint32_t)call,
							      .addr = frame };
		if (objects) {
			/* <=3.10: every frame is one eval-loop call. */
			out->anchor[call] = 0;
			anchored = ++call;
		} else if (entries && f[l->frame.is_entry]) {
			/* 3.11: the entry frame is the oldest of its call. */
			call++;
		}
		frame = bytes_u64(f, l->frame.back);
	}
	out->ncalls = out->n ? (size_t)out->frames[out->n - 1].call + 1 : 0;
	if (entries && cframe)
		cframe_anchors(l, src, cframe, out);
	else
		for (size_t k = anchored; k < out->ncalls; k++)
			out->anchor[k] = 0;
	if (out->n == 0 && status == PYSTACK_OK)
		status = PYSTACK_NONE;
	out->status = status;
	return status;
}
