#include "profile.h"
#include "hash.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* Names come from the target: keep at most this many bytes of each. */
#define NAME_MAX_LEN 255

/*
 * Open-addressing index: each slot holds an entry index + 1 (0 is empty) into
 * an array kept by the owner, which also knows each entry's hash. Linear
 * probing, at most half full.
 */
struct index {
	uint32_t *slots;
	size_t mask;            /* slot count - 1; the count is a power of two */
};

struct stack {
	size_t start;           /* in the arena */
	size_t len;
	uint64_t hash;
};

struct pair {
	uint64_t key;           /* thread << 32 | stack */
	uint64_t count;
};

struct process {
	pid_t pid;
	char *name;
};

struct profile {
	/* Interned stacks; their addresses live back to back in one arena. */
	uint64_t *arena;
	size_t arena_len, arena_cap;
	struct stack *stacks;
	size_t nstacks, stacks_cap;
	struct index stack_index;

	/* Counts per (thread, stack), in first-seen order. */
	struct pair *pairs;
	size_t npairs, pairs_cap;
	struct index pair_index;

	struct profile_thread *threads;
	size_t nthreads, threads_cap;
	struct index thread_index;

	struct process *procs;
	size_t nprocs;

	uint64_t total;
	uint64_t truncated;
};

/* One multiply and one shift per word keeps the hot path short; the final
 * mix spreads the result over the low bits the index uses. */
static uint64_t hash_stack(const uint64_t *addrs, size_t n)
{
	uint64_t h = UINT64_C(0x9e3779b97f4a7c15) * (n + 1);

	for (size_t i = 0; i < n; i++) {
		h = (h ^ addrs[i]) * UINT64_C(0x9e3779b97f4a7c15);
		h ^= h >> 32;
	}
	return hash_mix64(h);
}

static uint64_t thread_key(pid_t pid, pid_t tid)
{
	return (uint64_t)(uint32_t)pid << 32 | (uint32_t)tid;
}

/*
 * @array (of @size-byte elements, *@cap of them) grown to hold @need: the
 * same or a moved array, or NULL when out of memory (@array is then intact).
 */
static void *grow(void *array, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;
	void *bigger;

	if (need <= *cap)
		return array;
	while (n < need) {
		if (n > SIZE_MAX / 2 / size)
			return NULL;
		n *= 2;
	}
	bigger = realloc(array, n * size);
	if (bigger)
		*cap = n;
	return bigger;
}

static void index_insert(struct index *ix, uint64_t hash, uint32_t i)
{
	size_t s = hash & ix->mask;

	while (ix->slots[s])
		s = (s + 1) & ix->mask;
	ix->slots[s] = i + 1;
}

typedef uint64_t (*entry_hash_fn)(const struct profile *p, uint32_t i);

/* Make room for entry number @n (0-based) while keeping the index at most
 * half full; rehashes the @n entries already there when it grows. */
static int index_reserve(struct index *ix, const struct profile *p, size_t n,
			 entry_hash_fn hash)
{
	size_t nslots = ix->slots ? ix->mask + 1 : 0;
	struct index bigger = { NULL, 0 };
	size_t want = nslots ? nslots : 64;

	if (n >= UINT32_MAX - 1)
		return -ENOMEM;
	while ((n + 1) * 2 > want)
		want *= 2;
	if (want == nslots)
		return 0;
	bigger.slots = calloc(want, sizeof(*bigger.slots));
	if (!bigger.slots)
		return -ENOMEM;
	bigger.mask = want - 1;
	for (uint32_t i = 0; i < n; i++)
		index_insert(&bigger, hash(p, i), i);
	free(ix->slots);
	*ix = bigger;
	return 0;
}

static uint64_t stack_entry_hash(const struct profile *p, uint32_t i)
{
	return p->stacks[i].hash;
}

static uint64_t pair_entry_hash(const struct profile *p, uint32_t i)
{
	return hash_mix64(p->pairs[i].key);
}

static uint64_t thread_entry_hash(const struct profile *p, uint32_t i)
{
	return hash_mix64(thread_key(p->threads[i].pid, p->threads[i].tid));
}

/* Copy of @name cut to NAME_MAX_LEN bytes; NULL stands for "". */
static char *name_dup(const char *name)
{
	return strndup(name ? name : "", NAME_MAX_LEN);
}

static bool name_equal(const char *kept, const char *name)
{
	size_t len = strnlen(name, NAME_MAX_LEN);

	return strlen(kept) == len && memcmp(kept, name, len) == 0;
}

struct profile *profile_new(void)
{
	struct profile *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	/* The arena is never NULL, so an empty stack still has an address. */
	p->arena = grow(NULL, &p->arena_cap, 1, sizeof(*p->arena));
	if (!p->arena) {
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nthreads; i++)
		free((char *)p->threads[i].name);
	for (size_t i = 0; i < p->nprocs; i++)
		free(p->procs[i].name);
	free(p->arena);
	free(p->stacks);
	free(p->stack_index.slots);
	free(p->pairs);
	free(p->pair_index.slots);
	free(p->threads);
	free(p->thread_index.slots);
	free(p->procs);
	free(p);
}

int profile_set_process(struct profile *p, pid_t pid, const char *name)
{
	char *copy = name_dup(name);
	struct process *procs;

	if (!copy)
		return -ENOMEM;
	for (size_t i = 0; i < p->nprocs; i++) {
		if (p->procs[i].pid == pid) {
			free(p->procs[i].name);
			p->procs[i].name = copy;
			return 0;
		}
	}
	procs = realloc(p->procs, (p->nprocs + 1) * sizeof(*procs));
	if (!procs) {
		free(copy);
		return -ENOMEM;
	}
	p->procs = procs;
	p->procs[p->nprocs++] = (struct process){ .pid = pid, .name = copy };
	return 0;
}

const char *profile_process_name(const struct profile *p, pid_t pid)
{
	for (size_t i = 0; i < p->nprocs; i++)
		if (p->procs[i].pid == pid)
			return p->procs[i].name;
	return NULL;
}

int profile_thread(struct profile *p, pid_t pid, pid_t tid, const char *name,
		   uint32_t *index)
{
	uint64_t key = thread_key(pid, tid);
	struct index *ix = &p->thread_index;
	struct profile_thread *t;
	int err;

	if (ix->slots) {
		for (size_t s = hash_mix64(key) & ix->mask; ix->slots[s]; s = (s + 1) & ix->mask) {
			uint32_t i = ix->slots[s] - 1;
			char *copy;

			t = &p->threads[i];
			if (thread_key(t->pid, t->tid) != key)
				continue;
			if (name && !name_equal(t->name, name)) {
				copy = name_dup(name);
				if (!copy)
					return -ENOMEM;
				free((char *)t->name);
				t->name = copy;
			}
			*index = i;
			return 0;
		}
	}

	t = grow(p->threads, &p->threads_cap, p->nthreads + 1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	p->threads = t;
	err = index_reserve(ix, p, p->nthreads, thread_entry_hash);
	if (err)
		return err;
	t = &p->threads[p->nthreads];
	t->pid = pid;
	t->tid = tid;
	t->name = name_dup(name);
	if (!t->name)
		return -ENOMEM;
	index_insert(ix, hash_mix64(key), (uint32_t)p->nthreads);
	*index = (uint32_t)p->nthreads++;
	return 0;
}

size_t profile_thread_count(const struct profile *p)
{
	return p->nthreads;
}

const struct profile_thread *profile_thread_at(const struct profile *p, uint32_t index)
{
	return index < p->nthreads ? &p->threads[index] : NULL;
}

/* The id of stack @addrs[0..n), interned on first sight. */
static int intern_stack(struct profile *p, const uint64_t *addrs, size_t n,
			uint32_t *id)
{
	uint64_t h = hash_stack(addrs, n);
	struct stack *st;
	uint64_t *arena;
	int err;

	if (p->stack_index.slots) {
		for (size_t s = h & p->stack_index.mask; p->stack_index.slots[s];
		     s = (s + 1) & p->stack_index.mask) {
			uint32_t i = p->stack_index.slots[s] - 1;

			st = &p->stacks[i];
			if (st->hash == h && st->len == n &&
			    (n == 0 || memcmp(p->arena + st->start, addrs,
					      n * sizeof(*addrs)) == 0)) {
				*id = i;
				return 0;
			}
		}
	}

	if (n > SIZE_MAX / sizeof(*addrs) - p->arena_len)
		return -ENOMEM;
	arena = grow(p->arena, &p->arena_cap, p->arena_len + n, sizeof(*arena));
	if (!arena)
		return -ENOMEM;
	p->arena = arena;
	st = grow(p->stacks, &p->stacks_cap, p->nstacks + 1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	p->stacks = st;
	err = index_reserve(&p->stack_index, p, p->nstacks, stack_entry_hash);
	if (err)
		return err;

	if (n)
		memcpy(p->arena + p->arena_len, addrs, n * sizeof(*addrs));
	p->stacks[p->nstacks] = (struct stack){
		.start = p->arena_len, .len = n, .hash = h
	};
	p->arena_len += n;
	index_insert(&p->stack_index, h, (uint32_t)p->nstacks);
	*id = (uint32_t)p->nstacks++;
	return 0;
}

static int count_pair(struct profile *p, uint64_t key, uint64_t weight)
{
	uint64_t h = hash_mix64(key);
	struct pair *pairs;
	int err;

	if (p->pair_index.slots) {
		for (size_t s = h & p->pair_index.mask; p->pair_index.slots[s];
		     s = (s + 1) & p->pair_index.mask) {
			struct pair *pr = &p->pairs[p->pair_index.slots[s] - 1];

			if (pr->key == key) {
				pr->count += weight;
				return 0;
			}
		}
	}

	pairs = grow(p->pairs, &p->pairs_cap, p->npairs + 1, sizeof(*pairs));
	if (!pairs)
		return -ENOMEM;
	p->pairs = pairs;
	err = index_reserve(&p->pair_index, p, p->npairs, pair_entry_hash);
	if (err)
		return err;
	p->pairs[p->npairs] = (struct pair){ .key = key, .count = weight };
	index_insert(&p->pair_index, h, (uint32_t)p->npairs++);
	return 0;
}

int profile_add_sample(struct profile *p, uint32_t thread, const uint64_t *addrs,
		       size_t n, uint64_t weight)
{
	uint32_t id;
	int err;

	if (thread >= p->nthreads)
		return -EINVAL;
	err = intern_stack(p, addrs, n, &id);
	if (!err)
		err = count_pair(p, (uint64_t)thread << 32 | id, weight);
	if (err)
		return err;
	p->total += weight;
	if (n && addrspace_is_marker(addrs[n - 1]))
		p->truncated += weight;
	return 0;
}

uint64_t profile_total(const struct profile *p)
{
	return p->total;
}

uint64_t profile_truncated(const struct profile *p)
{
	return p->truncated;
}

size_t profile_stack_count(const struct profile *p)
{
	return p->nstacks;
}

const uint64_t *profile_stack(const struct profile *p, uint32_t id, size_t *n)
{
	if (id >= p->nstacks) {
		*n = 0;
		return NULL;
	}
	*n = p->stacks[id].len;
	return p->arena + p->stacks[id].start;
}

int profile_for_each(const struct profile *p, profile_visit_fn fn, void *ctx)
{
	for (size_t i = 0; i < p->npairs; i++) {
		const struct pair *pr = &p->pairs[i];
		int ret;

		if (!pr->count)
			continue;
		ret = fn((uint32_t)(pr->key >> 32), (uint32_t)pr->key, pr->count, ctx);
		if (ret)
			return ret;
	}
	return 0;
}
