#include "htable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

static void slot_put(uint64_t *slots, size_t mask, uint64_t v)
{
	size_t j;

	for (j = (v >> 32) & mask; slots[j]; j = (j + 1) & mask)
		;
	slots[j] = v;
}

/* Room for one more id at most 3/4 full: the tag of each slot places it
 * anew, so the entries are not read. */
static int htable_reserve(struct htable *t)
{
	size_t nslots = t->slots ? t->mask + 1 : 0;
	size_t want = nslots ? nslots * 2 : 64;
	uint64_t *s;

	if (nslots && (t->count + 1) * 4 <= nslots * 3)
		return 0;
	/* Tags are 32 bits: more slots would leave some unreachable. */
	if (want > (size_t)UINT32_MAX + 1)
		return -ENOMEM;
	s = calloc(want, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < nslots; i++)
		if (t->slots[i])
			slot_put(s, want - 1, t->slots[i]);
	free(t->slots);
	t->slots = s;
	t->mask = want - 1;
	return 0;
}

int htable_insert(struct htable *t, uint64_t hash, uint32_t id)
{
	int err;

	if (id >= ARRAY_ID_MAX)
		return -ENOMEM;
	err = htable_reserve(t);
	if (err)
		return err;
	slot_put(t->slots, t->mask, (hash >> 32) << 32 | ((uint64_t)id + 1));
	t->count++;
	return 0;
}

void htable_release(struct htable *t)
{
	free(t->slots);
	*t = (struct htable)HTABLE_INIT;
}

void htable_clear(struct htable *t)
{
	if (t->slots)
		memset(t->slots, 0, (t->mask + 1) * sizeof(*t->slots));
	t->count = 0;
}
