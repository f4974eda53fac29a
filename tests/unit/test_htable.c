/*
 * The core containers: array_grow's growth and limits, and the hash index
 * (htable) with collisions, growth, the id limit and release.
 */
#include <errno.h>
#include <stdlib.h>

#include "array.h"
#include "check.h"
#include "hash.h"
#include "htable.h"

struct entry {
	uint64_t key;
	uint64_t hash;
};

struct table {
	struct entry *items;
	size_t n, cap;
	struct htable index;
};

/* The id of @key, or HTABLE_NONE; counts the candidates compared. */
static uint32_t table_find(const struct table *t, uint64_t key, uint64_t hash,
			   size_t *compared)
{
	struct htable_iter it;

	for (uint32_t id = htable_find(&t->index, hash, &it); id != HTABLE_NONE;
	     id = htable_next(&t->index, &it)) {
		(*compared)++;
		if (t->items[id].key == key)
			return id;
	}
	return HTABLE_NONE;
}

static int table_add(struct table *t, uint64_t key, uint64_t hash)
{
	struct entry *e = array_grow(t->items, &t->cap, t->n + 1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	t->items = e;
	t->items[t->n] = (struct entry){ key, hash };
	if (htable_insert(&t->index, hash, (uint32_t)t->n) < 0)
		return -ENOMEM;
	t->n++;
	return 0;
}

static void test_many(void)
{
	struct table t = { .index = HTABLE_INIT };
	size_t compared = 0, n = 200000, found = 0;

	CHECK(htable_find(&t.index, 42, &(struct htable_iter){ 0 }) == HTABLE_NONE);
	for (uint64_t k = 0; k < n; k++)
		CHECK(table_add(&t, k * 7919, hash_mix64(k * 7919)) == 0);
	CHECK_EQ_U64(t.index.count, n);
	/* At most 3/4 full after every growth. */
	CHECK(t.index.count * 4 <= (t.index.mask + 1) * 3);
	for (uint64_t k = 0; k < n; k++) {
		uint32_t id = table_find(&t, k * 7919, hash_mix64(k * 7919), &compared);

		found += id == k;
	}
	CHECK_EQ_U64(found, n);
	/* The tag keeps comparisons near one per lookup. */
	CHECK(compared < n + n / 100);
	compared = 0;
	CHECK(table_find(&t, 3, hash_mix64(3), &compared) == HTABLE_NONE);
	/* Cleared: nothing found, the slots kept, and ids start over. */
	{
		size_t mask = t.index.mask;

		htable_clear(&t.index);
		CHECK(t.index.count == 0 && t.index.mask == mask && t.index.slots);
		CHECK(table_find(&t, 7919, hash_mix64(7919), &compared) == HTABLE_NONE);
		t.n = 0;
		CHECK(table_add(&t, 5, hash_mix64(5)) == 0);
		CHECK(table_find(&t, 5, hash_mix64(5), &compared) == 0);
		CHECK(t.index.mask == mask);
	}
	htable_release(&t.index);
	CHECK(t.index.slots == NULL && t.index.count == 0);
	htable_release(&t.index);     /* again: accepted */
	free(t.items);
}

/* Equal hashes, and hashes equal in their high half only: every id is
 * offered, and the caller's comparison decides. */
static void test_collisions(void)
{
	struct table t = { .index = HTABLE_INIT };
	size_t compared = 0;
	uint64_t same = UINT64_C(0xdeadbeef00000001);

	for (uint64_t k = 0; k < 100; k++)
		CHECK(table_add(&t, k, k < 50 ? same : same + k) == 0);
	for (uint64_t k = 0; k < 100; k++) {
		uint32_t id = table_find(&t, k, k < 50 ? same : same + k, &compared);

		CHECK(id == k);
	}
	/* All 100 share the tag: each lookup walks the run of candidates. */
	CHECK(compared > 100);
	compared = 0;
	CHECK(table_find(&t, 1000, same, &compared) == HTABLE_NONE);
	CHECK_EQ_U64(compared, 100);
	htable_release(&t.index);
	free(t.items);
}

static void test_limits(void)
{
	struct htable h = HTABLE_INIT;
	size_t cap = 4;
	char *p = malloc(4), *q;

	CHECK(htable_insert(&h, 1, ARRAY_ID_MAX) == -ENOMEM);
	CHECK(h.count == 0 && h.slots == NULL);
	CHECK(htable_insert(&h, 1, ARRAY_ID_MAX - 1) == 0);
	CHECK(htable_find(&h, 1, &(struct htable_iter){ 0 }) == ARRAY_ID_MAX - 1);
	htable_release(&h);
	CHECK(array_id_room(ARRAY_ID_MAX - 1));
	CHECK(!array_id_room(ARRAY_ID_MAX));

	/* No growth needed: the same array. */
	CHECK(array_grow(p, &cap, 3, 1) == p && cap == 4);
	/* Past SIZE_MAX / 2 bytes: refused, the array and its capacity intact. */
	CHECK(array_grow(p, &cap, SIZE_MAX / 2, 2) == NULL && cap == 4);
	CHECK(array_grow(p, &cap, SIZE_MAX, 1) == NULL && cap == 4);
	q = array_grow(p, &cap, 5, 1);
	CHECK(q != NULL && cap == 8);
	free(q ? q : p);
	cap = 0;
	q = array_grow(NULL, &cap, 1, 8);
	CHECK(q != NULL && cap == 16);
	free(q);
}

int main(void)
{
	test_many();
	test_collisions();
	test_limits();
	return check_status();
}
