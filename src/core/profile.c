#include "profile.h"
#include "array.h"
#include "hash.h"
#include "htable.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* Names come from the target: keep at most this many bytes of each. */
#define NAME_MAX_LEN 255

struct stack {
	size_t start;           /* in the arena */
	size_t len;
};

struct pair {
	uint64_t key;           /* thread << 32 | stack */
	uint64_t count;
};

struct process {
	pid_t pid;
	uint32_t image;
	char *name;
};

struct profile {
	/* Interned stacks; their addresses live back to back in one arena. */
	uint64_t *arena;
	size_t arena_len, arena_cap;
	struct stack *stacks;
	size_t nstacks, stacks_cap;
	struct htable stack_index;

	/* Counts per (thread, stack), in first-seen order. */
	struct pair *pairs;
	size_t npairs, pairs_cap;
	struct htable pair_index;

	struct profile_thread *threads;
	size_t nthreads, threads_cap;
	struct htable thread_index;
	bool merge_threads;     /* profile_merge_threads: one per process image */

	/* Every (pid, tid) met, whatever the image: the threads' tally. */
	uint64_t *seen;
	size_t nseen, seen_cap;
	struct htable seen_index;
	uint64_t last_seen;     /* the last key met, a lookup saved per sample */

	struct process *procs;
	size_t nprocs, procs_cap;

	uint64_t total;
	uint64_t truncated;
};

/* One multiply and one shift per word keeps the hot path short; the final
 * mix spreads the result over the high bits the index uses. */
static uint64_t hash_stack(const uint64_t *addrs, size_t n)
{
	uint64_t h = UINT64_C(0x9e3779b97f4a7c15) * (n + 1);

	for (size_t i = 0; i < n; i++) {
		h = (h ^ addrs[i]) * UINT64_C(0x9e3779b97f4a7c15);
		h ^= h >> 32;
	}
	return hash_mix64(h);
}

/* The hash of a thread: its pid and tid, and the image, which is 0 but
 * for a process that ran another program (addrspace.h). */
static uint64_t thread_hash(pid_t pid, pid_t tid, uint32_t image)
{
	uint64_t key = (uint64_t)(uint32_t)pid << 32 | (uint32_t)tid;

	return hash_mix64(key ^ (uint64_t)image * UINT64_C(0x9e3779b97f4a7c15));
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
	p->arena = array_grow(NULL, &p->arena_cap, 1, sizeof(*p->arena));
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
	htable_release(&p->stack_index);
	free(p->pairs);
	htable_release(&p->pair_index);
	free(p->threads);
	htable_release(&p->thread_index);
	free(p->seen);
	htable_release(&p->seen_index);
	free(p->procs);
	free(p);
}

int profile_set_process(struct profile *p, pid_t pid, const char *name)
{
	return profile_set_image_process(p, pid, 0, name);
}

int profile_set_image_process(struct profile *p, pid_t pid, uint32_t image,
			      const char *name)
{
	char *copy = name_dup(name);
	struct process *procs;

	if (!copy)
		return -ENOMEM;
	for (size_t i = 0; i < p->nprocs; i++) {
		if (p->procs[i].pid == pid && p->procs[i].image == image) {
			free(p->procs[i].name);
			p->procs[i].name = copy;
			return 0;
		}
	}
	procs = array_grow(p->procs, &p->procs_cap, p->nprocs + 1, sizeof(*procs));
	if (!procs) {
		free(copy);
		return -ENOMEM;
	}
	p->procs = procs;
	p->procs[p->nprocs++] = (struct process){ .pid = pid, .image = image, .name = copy };
	return 0;
}

static const char *image_name(const struct profile *p, pid_t pid, uint32_t image)
{
	for (size_t i = 0; i < p->nprocs; i++)
		if (p->procs[i].pid == pid && p->procs[i].image == image)
			return p->procs[i].name;
	return NULL;
}

const char *profile_process_name(const struct profile *p, pid_t pid)
{
	return image_name(p, pid, 0);
}

const char *profile_thread_process(const struct profile *p, const struct profile_thread *t)
{
	const char *name = image_name(p, t->pid, t->image);

	return name || !t->image ? name : image_name(p, t->pid, 0);
}

int profile_thread(struct profile *p, pid_t pid, pid_t tid, const char *name,
		   uint32_t *index)
{
	return profile_image_thread(p, pid, 0, tid, name, index);
}

void profile_merge_threads(struct profile *p)
{
	p->merge_threads = true;
}

size_t profile_threads_seen(const struct profile *p)
{
	return p->nseen;
}

/* Count (@pid, @tid) among the threads seen. 0 or -ENOMEM. */
static int see_thread(struct profile *p, pid_t pid, pid_t tid)
{
	/* 0 is no thread's key (tid 0 is the idle task, never sampled), so
	 * it can stand for "none yet". */
	uint64_t key = (uint64_t)(uint32_t)pid << 32 | (uint32_t)tid, h;
	struct htable_iter it;
	uint64_t *seen;

	if (key == p->last_seen)
		return 0;
	h = hash_mix64(key);
	for (uint32_t i = htable_find(&p->seen_index, h, &it); i != HTABLE_NONE;
	     i = htable_next(&p->seen_index, &it)) {
		if (p->seen[i] == key) {
			p->last_seen = key;
			return 0;
		}
	}
	seen = array_grow(p->seen, &p->seen_cap, p->nseen + 1, sizeof(*seen));
	if (!seen)
		return -ENOMEM;
	p->seen = seen;
	if (htable_insert(&p->seen_index, h, (uint32_t)p->nseen) < 0)
		return -ENOMEM;
	p->seen[p->nseen++] = key;
	p->last_seen = key;
	return 0;
}

int profile_image_thread(struct profile *p, pid_t pid, uint32_t image, pid_t tid,
			 const char *name, uint32_t *index)
{
	uint64_t h;
	struct htable_iter it;
	struct profile_thread *t;
	char *copy;

	if (see_thread(p, pid, tid) < 0)
		return -ENOMEM;
	/* Under the process's own tid, named by the first thread met (below:
	 * renaming at each sample would copy a name whenever two threads'
	 * names differ). */
	if (p->merge_threads)
		tid = pid;
	h = thread_hash(pid, tid, image);
	for (uint32_t i = htable_find(&p->thread_index, h, &it); i != HTABLE_NONE;
	     i = htable_next(&p->thread_index, &it)) {
		t = &p->threads[i];
		if (t->pid != pid || t->tid != tid || t->image != image)
			continue;
		if (name && !p->merge_threads && !name_equal(t->name, name)) {
			copy = name_dup(name);
			if (!copy)
				return -ENOMEM;
			free((char *)t->name);
			t->name = copy;
		}
		*index = i;
		return 0;
	}

	t = array_grow(p->threads, &p->threads_cap, p->nthreads + 1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	p->threads = t;
	copy = name_dup(name);
	if (!copy)
		return -ENOMEM;
	if (htable_insert(&p->thread_index, h, (uint32_t)p->nthreads) < 0) {
		free(copy);
		return -ENOMEM;
	}
	p->threads[p->nthreads] = (struct profile_thread){
		.pid = pid, .tid = tid, .image = image, .name = copy
	};
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
	struct htable_iter it;
	struct stack *st;
	uint64_t *arena;

	/* The index compares 32 bits of the hash before it offers an id, so
	 * the stack itself is read only when it is almost surely the one. */
	for (uint32_t i = htable_find(&p->stack_index, h, &it); i != HTABLE_NONE;
	     i = htable_next(&p->stack_index, &it)) {
		st = &p->stacks[i];
		if (st->len == n &&
		    (n == 0 || memcmp(p->arena + st->start, addrs,
				      n * sizeof(*addrs)) == 0)) {
			*id = i;
			return 0;
		}
	}

	/* array_grow refuses past SIZE_MAX / 2 bytes; this keeps the sum of
	 * the two lengths from wrapping before it can tell. */
	if (n > SIZE_MAX / 2 / sizeof(*addrs) - p->arena_len)
		return -ENOMEM;
	arena = array_grow(p->arena, &p->arena_cap, p->arena_len + n, sizeof(*arena));
	if (!arena)
		return -ENOMEM;
	p->arena = arena;
	st = array_grow(p->stacks, &p->stacks_cap, p->nstacks + 1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	p->stacks = st;
	if (htable_insert(&p->stack_index, h, (uint32_t)p->nstacks) < 0)
		return -ENOMEM;

	if (n)
		memcpy(p->arena + p->arena_len, addrs, n * sizeof(*addrs));
	p->stacks[p->nstacks] = (struct stack){ .start = p->arena_len, .len = n };
	p->arena_len += n;
	*id = (uint32_t)p->nstacks++;
	return 0;
}

static int count_pair(struct profile *p, uint64_t key, uint64_t weight)
{
	uint64_t h = hash_mix64(key);
	struct htable_iter it;
	struct pair *pairs;

	for (uint32_t i = htable_find(&p->pair_index, h, &it); i != HTABLE_NONE;
	     i = htable_next(&p->pair_index, &it)) {
		if (p->pairs[i].key == key) {
			p->pairs[i].count += weight;
			return 0;
		}
	}

	pairs = array_grow(p->pairs, &p->pairs_cap, p->npairs + 1, sizeof(*pairs));
	if (!pairs)
		return -ENOMEM;
	p->pairs = pairs;
	if (htable_insert(&p->pair_index, h, (uint32_t)p->npairs) < 0)
		return -ENOMEM;
	p->pairs[p->npairs++] = (struct pair){ .key = key, .count = weight };
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
