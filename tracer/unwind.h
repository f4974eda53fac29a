/*
 * unwind.h - one unwinder for every sampler: libunwind over a snapshot.
 *
 * libunwind walks the stack through a custom address space whose accessors
 * read registers and stack from the snapshot, and code and unwind tables
 * (.eh_frame_hdr, .eh_frame) from the ELF files of the mappings, opened
 * through the shared elf_cache. Nothing here touches the target, so
 * unwinding runs after the target has been resumed.
 */
#ifndef HOTSPY_UNWIND_H
#define HOTSPY_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "elf_cache.h"
#include "maps.h"
#include "snapshot.h"

/*
 * Why a walk ended. Each frame is stepped by its CFI (a cached rule, or
 * libunwind for what the rules cannot express) or, where the code has no
 * CFI at all (JIT code), by its frame pointer when that is plausible.
 */
enum unwind_end {
	UNWIND_BOTTOM,    /* reached the outermost frame (_start, clone) */
	UNWIND_CUT,       /* the next frame is in the stack past the copy (or
	                   * @max frames were stored): [truncated] */
	UNWIND_NO_INFO,   /* no CFI and no plausible frame pointer for a frame,
	                   * or unreadable memory: [unknown] */
	UNWIND_UNMAPPED,  /* a PC outside every known mapping: the maps are
	                   * stale; reload them and unwind again */
};

struct unwinder;

/* @cache is borrowed and must outlive the unwinder. NULL with errno. */
struct unwinder *unwinder_new(struct elf_cache *cache);
void unwinder_free(struct unwinder *uw);   /* accepts NULL */

/*
 * Walk @snap of a process whose mappings are @maps. Stores at most @max
 * addresses in @addrs, leaf first: the leaf's PC, then each caller's return
 * address minus one (the call instruction). When the walk does not reach the
 * bottom, the last stored address is a PROFILE_ADDR_* marker, so the result
 * can go to profile_add_sample as it is. When @sps is not NULL (room for
 * @max), sps[i] receives frame i's stack pointer (the leaf's RSP, then each
 * caller's RSP at the call, which is its callee's CFA), so the C stack
 * frame of frame i is [sps[i], sps[i + 1]); a marker's entry is left as it
 * was. Returns the number of addresses stored; *@end says why the walk
 * ended. @max must be at least 2.
 */
size_t unwinder_unwind(struct unwinder *uw, const struct maps *maps,
		       const struct snapshot *snap, uint64_t *addrs, uint64_t *sps,
		       size_t max, enum unwind_end *end);

/* Forget cached unwind rules: call when the mappings of the process changed
 * (code unmapped, library replaced). */
void unwinder_flush(struct unwinder *uw);

/*
 * Walks go first through hotspy's own cache of CFI rules (libdw reads the
 * CFI), and to libunwind only when a frame needs more than the rules of
 * compiled code (expressions, signal frames, PLT stubs). @fast false sends
 * every walk to libunwind: for tests that compare the two.
 */
void unwinder_set_fast(struct unwinder *uw, bool fast);

/* Walks done by the rule cache and by libunwind so far. */
void unwinder_counts(const struct unwinder *uw, uint64_t *fast, uint64_t *slow);

#endif
