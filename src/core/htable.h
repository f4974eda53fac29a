/*
 * htable.h - the hash index every interning table of hotspy uses.
 *
 * The index maps a 64-bit hash to the ids (0 .. ARRAY_ID_MAX-1) of entries
 * that the owner keeps in its own array (array.h), so entries keep their
 * type and their order, and ids stay stable. Open addressing with linear
 * probing, at most 3/4 full; each slot holds the high half of its entry's
 * hash beside the id, so a probe compares entries only when 32 bits of the
 * hash agree, and growing never reads the entries.
 *
 * Lookup, without a callback on the hot path:
 *
 *	struct htable_iter it;
 *	for (uint32_t id = htable_find(&t, h, &it); id != HTABLE_NONE;
 *	     id = htable_next(&t, &it))
 *		if (entry_equal(&entries[id], key))
 *			return id;
 *	... not there: append the entry as id N, then htable_insert(&t, h, N)
 *
 * Hashes must be mixed (hash.h): the slot comes from the high bits.
 */
#ifndef HOTSPY_HTABLE_H
#define HOTSPY_HTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "array.h"

#define HTABLE_NONE UINT32_MAX

struct htable {
	uint64_t *slots;   /* 0 empty, else tag << 32 | (id + 1) */
	size_t mask;       /* slot count - 1 (a power of two); 0 when empty */
	size_t count;      /* ids inserted */
};

#define HTABLE_INIT { NULL, 0, 0 }

struct htable_iter {
	size_t pos;
	uint32_t tag;
};

/* Free the slots; @t is empty (HTABLE_INIT) again. Accepts an empty one. */
void htable_release(struct htable *t);

/* Forget every id but keep the slots, for an owner that empties its array
 * to start over at the same size (a bounded cache). */
void htable_clear(struct htable *t);

/*
 * Index id @id under @hash. The caller has checked that it is not there.
 * Grows the slots as needed. 0, or -ENOMEM (out of memory, or @id is not
 * below ARRAY_ID_MAX); the table is unchanged on failure.
 */
int htable_insert(struct htable *t, uint64_t hash, uint32_t id);

/* The next id after one htable_find or htable_next gave, or HTABLE_NONE. */
static inline uint32_t htable_next(const struct htable *t, struct htable_iter *it)
{
	for (;;) {
		uint64_t v = t->slots[it->pos];

		if (!v)
			return HTABLE_NONE;
		it->pos = (it->pos + 1) & t->mask;
		if ((uint32_t)(v >> 32) == it->tag)
			return (uint32_t)v - 1;
	}
}

/* A hint that a lookup of @hash follows: start loading its slot now, so
 * that a caller with several lookups to do overlaps their cache misses. */
static inline void htable_prefetch(const struct htable *t, uint64_t hash)
{
	if (t->slots)
		__builtin_prefetch(&t->slots[(uint32_t)(hash >> 32) & t->mask]);
}

/* The first id indexed under a hash whose high half equals @hash's, or
 * HTABLE_NONE; htable_next gives the others. The ids may be of entries with
 * other hashes: the caller compares. */
static inline uint32_t htable_find(const struct htable *t, uint64_t hash,
				   struct htable_iter *it)
{
	it->tag = (uint32_t)(hash >> 32);
	it->pos = it->tag & t->mask;
	/* Checked here only: htable_next follows a find that gave an id, so
	 * there are slots, and the probe loop stays free of the test. */
	if (!t->slots)
		return HTABLE_NONE;
	return htable_next(t, it);
}

#endif
