/*
 * stackgaps.h - where a profile's stacks fall short, and at whose cost:
 * walks cut because the stack copy was too short, walks that stopped in a
 * module without unwind information, and frames left unnamed because a
 * module has no symbols. The summary names them with what to do.
 */
#ifndef HOTSPY_STACKGAPS_H
#define HOTSPY_STACKGAPS_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"
#include "symbols.h"

enum stackgap_kind {
	STACKGAP_CUT,       /* ended in [truncated]: the stack copy was too short */
	STACKGAP_STOPPED,   /* ended in [unknown] after a frame of @module: no
	                     * unwind information there, nor a frame pointer */
	STACKGAP_UNNAMED,   /* holds a frame of @module that has no symbol */
};

struct stackgap {
	enum stackgap_kind kind;
	const char *module;   /* owned by the symbolizer; NULL for STACKGAP_CUT
	                       * and for code in no mapping */
	uint64_t samples;     /* weight of the samples concerned (each counted
	                       * once per gap) */
};

/*
 * Collect the gaps of @p, naming its addresses with @sym. Stores in *@out a
 * malloc'd array (the caller frees it) sorted by samples, most first, and
 * returns its length, or -ENOMEM. Python frames are not looked at: their
 * reader reports its own gaps.
 */
long stackgaps_collect(const struct profile *p, struct symbolizer *sym,
		       struct stackgap **out);

#endif
