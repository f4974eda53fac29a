#include "flametree.h"
#include "array.h"
#include "hash.h"
#include "htable.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "banned.h"

struct self_weight {
	uint32_t node;
	double self;
};

/*
 * A run: the tail of a stack that no other stack shared when it was read,
 * kept by the folded reader as the names of its frames, below node @head
 * (whose first_child is RUN_BIT | its index), instead of as a node per
 * frame. Every frame of a run has the same total, @total, and only the last
 * has self weight (all of it); a later stack that parts inside the run
 * turns the frames it shares into nodes (run_open). Input whose stacks
 * share little (a random call tree, docs/benchmarks.md) is mostly such
 * tails: a node written and a lookup per frame, in a tree of millions of
 * nodes, was most of its reading; a name id appended is a fraction of it.
 * Runs live only while one read call runs: it ends by making every run
 * nodes (runs_expand), so that nothing outside the reader sees them.
 */
struct run {
	uint32_t head;
	uint32_t off;           /* the names: run_names[off .. off + len) */
	uint32_t len;
	/* run_names[off] kept here too, or FLAMETREE_NONE when not known:
	 * on input whose stacks share little, most stacks that reach a run
	 * part from it at its first frame, and this spares them a cache miss
	 * on run_names, which lie where the stack that made the run was read
	 * (following runs was a quarter of reading a random-tree input). It
	 * fills what was padding. */
	uint32_t first;
	double total;
};

#define RUN_BIT UINT32_C(0x80000000)
#define RUN_ROOM_STEP 256

/* 16 bytes: a name is looked up at every frame read, and the names of a
 * large profile stay in the cache better so. Where a frame comes from is
 * apart (struct place). */
struct name {
	uint64_t off;
	uint32_t len;           /* at most FLAMETREE_NAME_MAX */
	uint32_t hash;          /* the low half of name_hash: the index's
				 * slots hold the high half */
};

/* Where the frames of a name come from (flametree_set_info): module, file,
 * then the full signature, in the text after the name; line 0 when
 * unknown or not one line. */
struct place {
	size_t info_off;
	uint32_t module_len, file_len, signature_len;
	unsigned line;
	bool has_info;
};

/*
 * Two indexes (htable.h): names interned once (a function appears under many
 * parents), and (parent, name) -> child node so that adding a frame is one
 * lookup whatever the fan-out.
 */
struct flametree {
	char *text;
	size_t text_len, text_cap;
	struct name *names;
	size_t nnames, names_cap;
	/* The places of names 0 .. nplaces-1; none past them. */
	struct place *places;
	size_t nplaces, places_cap;
	/* The kind of each name, 0 while it has none, else 1 + enum
	 * frame_kind: apart from the names, so that the kind set for every
	 * frame read costs a byte of a small array, not a cache miss. */
	unsigned char *kinds;
	size_t kinds_cap;
	struct htable name_index;
	struct flametree_node *nodes;
	size_t nnodes, nodes_cap;
	struct htable child_index;  /* only children of nodes with two or more */
	/* Self weights, of the nodes stacks end in only: (node, self) pairs
	 * and their index by node. */
	struct self_weight *selfs;
	size_t nselfs, selfs_cap;
	struct htable self_index;
	uint32_t *ids;          /* flametree_add_frames: the names of one stack */
	size_t ids_cap;
	/* The folded reader: the nodes of the previous line, root first.
	 * Lines from one producer share long prefixes, and a frame equal to
	 * the one above it needs no hashing. */
	uint32_t *prev;
	size_t prev_n, prev_cap;
	/* The reader's runs (struct run) and their names; @run_frames is the
	 * frames the live runs hold, the nodes they will become. */
	struct run *runs;
	size_t nruns, runs_cap;
	uint32_t *run_names;
	size_t nrun_names, run_names_cap;
	size_t run_frames;
	/* flametree_set_prune: runs narrower than total * num / den are
	 * left out at the end of a read (num 0: none), @pruned frames so far. */
	double prune_num, prune_den;
	size_t pruned;
	/* flametree_set_shape: runs are made nodes only along its paths. */
	const struct flametree *shape;
	struct flametree_limits limits;
};

static size_t htable_bytes(const struct htable *h)
{
	return h->slots ? (h->mask + 1) * sizeof(*h->slots) : 0;
}

size_t flametree_memory(const struct flametree *t)
{
	return t->text_cap + t->names_cap * sizeof(*t->names) + t->kinds_cap +
	       t->places_cap * sizeof(*t->places) +
	       t->nodes_cap * sizeof(*t->nodes) + t->ids_cap * sizeof(*t->ids) +
	       t->prev_cap * sizeof(*t->prev) + htable_bytes(&t->name_index) +
	       htable_bytes(&t->child_index) + t->selfs_cap * sizeof(*t->selfs) +
	       htable_bytes(&t->self_index) + t->runs_cap * sizeof(*t->runs) +
	       t->run_names_cap * sizeof(*t->run_names) + sizeof(*t);
}

int flametree_room(const struct flametree *t, size_t scratch)
{
	/* The frames held in runs count as the nodes they will become: the
	 * limit is on the tree as read, not on the reader's shorthand. */
	size_t used = flametree_memory(t) + t->run_frames * sizeof(*t->nodes);

	return scratch > t->limits.memory_max || used > t->limits.memory_max - scratch ?
	       -E2BIG : 0;
}

void flametree_set_limits(struct flametree *t, const struct flametree_limits *l)
{
	if (l->memory_max)
		t->limits.memory_max = l->memory_max;
	if (l->line_max)
		t->limits.line_max = l->line_max;
}

void flametree_get_limits(const struct flametree *t, struct flametree_limits *l)
{
	*l = t->limits;
}

/* What growing an array of @cap elements of @size bytes to @need adds
 * (array_grow doubles from 16), or 0 when it has room. */
static size_t growth(size_t cap, size_t need, size_t size)
{
	size_t n = cap ? cap : 16;

	if (need <= cap)
		return 0;
	while (n < need && n <= SIZE_MAX / 4 / size)
		n *= 2;
	return (n - cap) * size;
}

/* What an insert into @h adds: htable doubles its slots past 3/4 full, and
 * holds old and new while it moves them. */
static size_t htable_growth(const struct htable *h)
{
	size_t nslots = h->slots ? h->mask + 1 : 0;

	if (nslots && (h->count + 1) * 4 <= nslots * 3)
		return 0;
	return (nslots ? nslots * 2 : 16) * sizeof(*h->slots) + htable_bytes(h);
}

/*
 * Arrays of this file of HUGE_MIN bytes and more ask for huge pages (where
 * transparent huge pages are "madvise", Debian's default). A tree of
 * millions of nodes is tens of megabytes written once, and on the VM of
 * docs/benchmarks.md a page fault costs microseconds: in 2 MiB pages,
 * `hotspy diff` of two random-tree inputs took a fifth less CPU. The range
 * is the array's pages rounded out, so that it is the whole mapping of a
 * large allocation (glibc maps them apart; input_limits makes sure of it
 * for the readers of files): advice on part of a mapping would split it,
 * and realloc could then no longer move it with mremap. An array on the
 * heap shares its outer pages with others, which the advice does not
 * harm. Advice only: where it is refused, pages stay 4 KiB.
 */
#define HUGE_MIN ((size_t)4 << 20)

static void advise_huge(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
	const uintptr_t page = 4096;
	uintptr_t start = (uintptr_t)p & ~(page - 1);
	uintptr_t end = ((uintptr_t)p + bytes + page - 1) & ~(page - 1);

	if (bytes >= HUGE_MIN)
		(void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
	(void)p;
	(void)bytes;
#endif
}

/* array_grow for the arrays of this file: 0 or -ENOMEM, *@p moved when grown. */
static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t old = *cap;
	void *q = array_grow(*p, cap, need, size);

	if (!q)
		return -ENOMEM;
	*p = q;
	if (*cap != old)
		advise_huge(q, *cap * size);
	return 0;
}

/*
 * Nodes are written once each, in order, and a tree read from a file whose
 * stacks share little has about as many as the file has frames: in 4 KiB
 * page faults, filling the array was a quarter of the reading (perf, on a
 * VM where a fault costs microseconds). So the pages ahead of the last node
 * are mapped a step at a time with one call, and never more than a step
 * past the nodes (the array's capacity may be twice its use). Where the
 * kernel lacks the call, the faults happen as before.
 */
#define NODES_STEP ((size_t)1 << 20)

static void nodes_populate(const struct flametree *t)
{
#ifdef MADV_POPULATE_WRITE
	const size_t per = NODES_STEP / sizeof(*t->nodes), page = 4096;
	uintptr_t start, end;
	size_t until;

	if (t->nnodes % per)
		return;
	until = t->nnodes + per < t->nodes_cap ? t->nnodes + per : t->nodes_cap;
	start = ((uintptr_t)(t->nodes + t->nnodes) + page - 1) & ~(uintptr_t)(page - 1);
	end = (uintptr_t)(t->nodes + until) & ~(uintptr_t)(page - 1);
	if (end > start)
		(void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
#else
	(void)t;
#endif
}

static uint64_t node_key(uint32_t parent, uint32_t name)
{
	return hash_mix64(((uint64_t)parent << 32) ^ name ^ UINT64_C(0x9e3779b97f4a7c15));
}

/*
 * The bytes @s[i..len) (one to seven) as a number, zero-padded: what
 * memcpy into a zeroed word gives, with loads inside @s[0..len) only.
 * memcpy of a length not known when compiling is a call, and a name's
 * tail is hashed at every frame read (names of 20-odd bytes: a call in
 * each; it was a tenth of the reading of a random-tree input).
 */
static inline uint64_t tail_bytes(const char *s, size_t i, size_t len)
{
	size_t n = len - i;
	uint64_t w = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint32_t lo, hi;

	if (len >= 8) {
		/* The last eight bytes of @s, the ones before the tail shifted out. */
		memcpy(&w, s + len - 8, 8);
		return w >> (8 * (8 - n));
	}
	/* i is 0 here: two loads that overlap, or three bytes. */
	if (n >= 4) {
		memcpy(&lo, s, 4);
		memcpy(&hi, s + n - 4, 4);
		return lo | (uint64_t)hi << (8 * (n - 4));
	}
	return (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[n / 2] << (8 * (n / 2)) |
	       (uint64_t)(unsigned char)s[n - 1] << (8 * (n - 1));
#else
	memcpy(&w, s + i, n);
	return w;
#endif
}

/*
 * The hash of a name: eight bytes a step (hash_bytes takes one), the tail
 * zero-padded and the length mixed in, so "a" and "a\0" differ. Reading a
 * large folded file is mostly naming its frames, and a byte-wise hash is a
 * multiply per byte. Only this file's index uses it: the colours of the
 * SVG keep hash_bytes, so graphs keep their colours.
 */
static inline uint64_t name_hash(const char *s, size_t len)
{
	uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ len, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
		h ^= h >> 29;
	}
	if (i < len)
		h = (h ^ tail_bytes(s, i, len)) * UINT64_C(0xc4ceb9fe1a85ec53);
	return hash_mix64(h);
}

/* Whether @a and @b, @len bytes each, are the same bytes. Names are a few
 * dozen bytes, where calling memcmp cost more than comparing (it was an
 * eighth of reading a large folded file). */
static inline bool bytes_equal(const char *a, const char *b, size_t len)
{
	uint64_t x, y;

	if (len < 8)
		return memcmp(a, b, len) == 0;
	for (size_t i = 0; i + 8 < len; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return false;
	}
	/* The last eight bytes, overlapping what was compared. */
	memcpy(&x, a + len - 8, 8);
	memcpy(&y, b + len - 8, 8);
	return x == y;
}

/* The id of name @s[0..len) with hash @h, or FLAMETREE_NONE. */
static uint32_t name_find(const struct flametree *t, const char *s, size_t len, uint64_t h)
{
	struct htable_iter it;

	for (uint32_t id = htable_find(&t->name_index, h, &it); id != HTABLE_NONE;
	     id = htable_next(&t->name_index, &it)) {
		const struct name *nm = &t->names[id];

		if (nm->hash == (uint32_t)h && nm->len == len &&
		    bytes_equal(t->text + nm->off, s, len))
			return id;
	}
	return FLAMETREE_NONE;
}

/* name_intern for a name of at most FLAMETREE_NAME_MAX bytes whose
 * name_hash is @h. */
static int name_intern_hashed(struct flametree *t, const char *s, size_t len, uint64_t h,
			      uint32_t *out)
{
	uint32_t id = name_find(t, s, len, h);

	if (id != FLAMETREE_NONE) {
		*out = id;
		return 0;
	}
	if (flametree_room(t, growth(t->names_cap, t->nnames + 1, sizeof(*t->names)) +
			   growth(t->kinds_cap, t->nnames + 1, 1) +
			   growth(t->text_cap, t->text_len + len + 1, 1) +
			   htable_growth(&t->name_index)) < 0)
		return -E2BIG;
	if (!array_id_room(t->nnames) ||
	    grow((void **)&t->names, &t->names_cap, t->nnames + 1, sizeof(*t->names)) < 0 ||
	    grow((void **)&t->kinds, &t->kinds_cap, t->nnames + 1, 1) < 0 ||
	    grow((void **)&t->text, &t->text_cap, t->text_len + len + 1, 1) < 0 ||
	    htable_insert(&t->name_index, h, (uint32_t)t->nnames) < 0)
		return -ENOMEM;
	memcpy(t->text + t->text_len, s, len);
	t->text[t->text_len + len] = '\0';
	t->names[t->nnames] = (struct name){
		.off = t->text_len, .len = (uint32_t)len, .hash = (uint32_t)h,
	};
	t->kinds[t->nnames] = 0;
	t->text_len += len + 1;
	*out = (uint32_t)t->nnames++;
	return 0;
}

static int name_intern(struct flametree *t, const char *s, size_t len, uint32_t *out)
{
	if (len > FLAMETREE_NAME_MAX)
		len = FLAMETREE_NAME_MAX;
	return name_intern_hashed(t, s, len, name_hash(s, len), out);
}

/* In t->kinds, beside 1 + the kind: the folded reader gave the name the
 * kind of its suffix. A name's suffix is the same at every frame, and a
 * kind given twice changes nothing, so once is enough. */
#define KIND_FROM_SUFFIX 0x80

/* Give name @id kind @kind; names given two kinds keep neither. */
static void name_set_kind(struct flametree *t, uint32_t id, enum frame_kind kind)
{
	unsigned char *k = &t->kinds[id], flag = *k & KIND_FROM_SUFFIX, was = *k & ~KIND_FROM_SUFFIX;

	if (!was)
		*k = (unsigned char)(flag | (1 + kind));
	else if (was != 1 + kind)
		*k = (unsigned char)(flag | (1 + FRAME_UNKNOWN));
}

/*
 * Only the children of nodes with two or more children are in the child
 * index. An only child is found through its parent's first_child, so the
 * tail of a new stack, a chain of new frames each the only child of the one
 * before, costs no probe at all, and the index stays a fraction of the tree
 * (it is the hot spot of reading a large profile).
 */
static int child_index_put(struct flametree *t, uint32_t node)
{
	const struct flametree_node *n = &t->nodes[node];

	return htable_insert(&t->child_index, node_key(n->parent, n->name), node);
}

/* The child @name of @parent, or FLAMETREE_NONE. */
static uint32_t child_find(const struct flametree *t, uint32_t parent, uint32_t name)
{
	uint32_t first = t->nodes[parent].first_child;
	struct htable_iter it;

	if (first == FLAMETREE_NONE)
		return FLAMETREE_NONE;
	if (t->nodes[first].next_sibling == FLAMETREE_NONE)
		return t->nodes[first].name == name ? first : FLAMETREE_NONE;
	for (uint32_t id = htable_find(&t->child_index, node_key(parent, name), &it);
	     id != HTABLE_NONE; id = htable_next(&t->child_index, &it)) {
		const struct flametree_node *n = &t->nodes[id];

		if (n->parent == parent && n->name == name)
			return id;
	}
	return FLAMETREE_NONE;
}

/* The child @name of @parent, made when there is none: 0 when found, 1
 * when made, -E2BIG or -ENOMEM. @parent has no run. */
static int child_get(struct flametree *t, uint32_t parent, uint32_t name, uint32_t *out)
{
	uint32_t found = child_find(t, parent, name), first, node;

	if (found != FLAMETREE_NONE) {
		*out = found;
		return 0;
	}
	/* The tree is most of a profile's memory: the limit is checked
	 * before it grows, so it is never passed by more than a doubling. */
	if (flametree_room(t, growth(t->nodes_cap, t->nnodes + 1, sizeof(*t->nodes)) +
			   2 * htable_growth(&t->child_index)) < 0)
		return -E2BIG;
	if (t->nnodes + 1 >= RUN_BIT ||
	    grow((void **)&t->nodes, &t->nodes_cap, t->nnodes + 1, sizeof(*t->nodes)) < 0)
		return -ENOMEM;
	node = (uint32_t)t->nnodes;
	first = t->nodes[parent].first_child;
	t->nodes[node] = (struct flametree_node){
		.name = name, .parent = parent, .first_child = FLAMETREE_NONE,
		.next_sibling = first,
	};
	/* A second child: the first one, an only child until now, goes into
	 * the table with it. */
	if (first != FLAMETREE_NONE &&
	    ((t->nodes[first].next_sibling == FLAMETREE_NONE &&
	      child_index_put(t, first) < 0) ||
	     child_index_put(t, node) < 0))
		return -ENOMEM;
	t->nodes[parent].first_child = node;
	t->nnodes++;
	nodes_populate(t);
	*out = node;
	return 1;
}

/* The entry of node @node in the self weights, or FLAMETREE_NONE. */
static uint32_t self_find(const struct flametree *t, uint32_t node)
{
	struct htable_iter it;

	for (uint32_t id = htable_find(&t->self_index, hash_mix64(node), &it); id != HTABLE_NONE;
	     id = htable_next(&t->self_index, &it))
		if (t->selfs[id].node == node)
			return id;
	return FLAMETREE_NONE;
}

/* Add @w to the self weight of node @node. 0, -E2BIG or -ENOMEM. */
static int self_add(struct flametree *t, uint32_t node, double w)
{
	uint32_t id = self_find(t, node);

	if (id != FLAMETREE_NONE) {
		t->selfs[id].self += w;
		return 0;
	}
	if (flametree_room(t, growth(t->selfs_cap, t->nselfs + 1, sizeof(*t->selfs)) +
			   htable_growth(&t->self_index)) < 0)
		return -E2BIG;
	if (!array_id_room(t->nselfs) ||
	    grow((void **)&t->selfs, &t->selfs_cap, t->nselfs + 1, sizeof(*t->selfs)) < 0 ||
	    htable_insert(&t->self_index, hash_mix64(node), (uint32_t)t->nselfs) < 0)
		return -ENOMEM;
	t->selfs[t->nselfs++] = (struct self_weight){ node, w };
	return 0;
}

double flametree_self(const struct flametree *t, const struct flametree_node *n)
{
	uint32_t id = self_find(t, (uint32_t)(n - t->nodes));

	return id == FLAMETREE_NONE ? 0 : t->selfs[id].self;
}

struct flametree *flametree_new(void)
{
	struct flametree *t = calloc(1, sizeof(*t));
	uint32_t name;

	if (!t)
		return NULL;
	t->limits = (struct flametree_limits){
		.memory_max = SIZE_MAX, .line_max = FLAMETREE_LINE_MAX,
	};
	if (name_intern(t, "all", 3, &name) < 0 ||
	    grow((void **)&t->nodes, &t->nodes_cap, 1, sizeof(*t->nodes)) < 0) {
		flametree_free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->nodes[0] = (struct flametree_node){
		.name = name, .parent = FLAMETREE_NONE, .first_child = FLAMETREE_NONE,
		.next_sibling = FLAMETREE_NONE,
	};
	t->nnodes = 1;
	return t;
}

void flametree_free(struct flametree *t)
{
	if (!t)
		return;
	free(t->text);
	free(t->names);
	free(t->places);
	free(t->kinds);
	htable_release(&t->name_index);
	free(t->nodes);
	htable_release(&t->child_index);
	free(t->selfs);
	htable_release(&t->self_index);
	free(t->ids);
	free(t->prev);
	free(t->runs);
	free(t->run_names);
	free(t);
}

int flametree_add(struct flametree *t, const char *const *names, const size_t *lens,
		  size_t n, double weight, bool leaf_first)
{
	uint32_t node = 0;
	int err;

	if (!(weight > 0) || !isfinite(weight) || !isfinite(t->nodes[0].total + weight))
		return -EINVAL;
	t->nodes[0].total += weight;
	for (size_t i = 0; i < n; i++) {
		size_t k = leaf_first ? n - 1 - i : i;
		uint32_t name;

		err = name_intern(t, names[k], lens[k], &name);
		if (err == 0)
			err = child_get(t, node, name, &node);
		if (err < 0)
			return err;
		t->nodes[node].total += weight;
	}
	return self_add(t, node, weight);
}

/* The count after the last blank of @s[0..len), or -1 when there is none. */
static int parse_line(const char *s, size_t len, size_t *stack_len, double *count)
{
	size_t i = len, j;
	uint64_t n;
	char num[64];
	char *end;

	while (i > 0 && s[i - 1] != ' ' && s[i - 1] != '\t')
		i--;
	if (i == 0 || i == len || len - i >= sizeof(num))
		return -1;
	if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
		return -1;
	/* Counts are mostly integers: up to 15 digits they are exact in a
	 * double, as strtod would give them, with no copy. */
	n = 0;
	for (j = i; j < len && j - i < 15 && s[j] >= '0' && s[j] <= '9'; j++)
		n = n * 10 + (uint64_t)(s[j] - '0');
	if (j == len) {
		*count = (double)n;
	} else {
		memcpy(num, s + i, len - i);
		num[len - i] = '\0';
		*count = strtod(num, &end);
		if (*end || !isfinite(*count) || *count < 0)
			return -1;
	}
	/* Blanks between the stack and the count belong to neither. */
	while (i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t'))
		i--;
	*stack_len = i;
	return i ? 0 : -1;
}

/*
 * The frames of a folded stack, one at a time, root first or (@reverse)
 * leaf first, straight from the line: a line may hold any number of frames
 * and costs no array of them.
 */
struct frame_iter {
	const char *s;
	size_t begin, end;      /* what is left to split */
	bool reverse, done;
};

static bool frame_next(struct frame_iter *it, const char **name, size_t *len)
{
	const char *semi;

	if (it->done)
		return false;
	if (!it->reverse) {
		semi = memchr(it->s + it->begin, ';', it->end - it->begin);
		*name = it->s + it->begin;
		*len = semi ? (size_t)(semi - *name) : it->end - it->begin;
		if (semi)
			it->begin = (size_t)(semi - it->s) + 1;
		else
			it->done = true;
	} else {
		semi = it->end > it->begin ? memrchr(it->s + it->begin, ';', it->end - it->begin) : NULL;
		*name = semi ? semi + 1 : it->s + it->begin;
		*len = (size_t)(it->s + it->end - *name);
		if (semi)
			it->end = (size_t)(semi - it->s);
		else
			it->done = true;
	}
	return true;
}

/* Node @node is level @i of the line being added: kept in t->prev for the
 * next line. 0 or -E2BIG / -ENOMEM. */
static int prev_put(struct flametree *t, size_t i, uint32_t node)
{
	if (i >= t->prev_cap) {
		if (flametree_room(t, growth(t->prev_cap, i + 1, sizeof(*t->prev))) < 0)
			return -E2BIG;
		if (grow((void **)&t->prev, &t->prev_cap, i + 1, sizeof(*t->prev)) < 0)
			return -ENOMEM;
	}
	t->prev[i] = node;
	return 0;
}

/* The name of frame @j of run @r. */
static inline uint32_t run_name(const struct flametree *t, const struct run *r, size_t j)
{
	return j || r->first == FLAMETREE_NONE ? t->run_names[r->off + j] : r->first;
}

/*
 * Make the first @k frames of the run below @head nodes, each the only
 * child of the one before, with the run's total; the rest of the run, if
 * any, hangs below the last of them. The new nodes are *@first onwards,
 * in order. 0, -E2BIG or -ENOMEM.
 */
static int run_open(struct flametree *t, uint32_t head, size_t k, uint32_t *first)
{
	uint32_t ri = t->nodes[head].first_child & ~RUN_BIT, parent = head;
	struct run *r = &t->runs[ri];
	size_t need = t->nnodes + k;

	if (need >= RUN_BIT)
		return -ENOMEM;
	if (need > t->nodes_cap) {
		if (flametree_room(t, growth(t->nodes_cap, need, sizeof(*t->nodes))) < 0)
			return -E2BIG;
		if (grow((void **)&t->nodes, &t->nodes_cap, need, sizeof(*t->nodes)) < 0)
			return -ENOMEM;
	}
	*first = (uint32_t)t->nnodes;
	for (size_t j = 0; j < k; j++) {
		uint32_t node = (uint32_t)t->nnodes++;

		t->nodes[node] = (struct flametree_node){
			.name = run_name(t, r, j), .parent = parent,
			.first_child = FLAMETREE_NONE, .next_sibling = FLAMETREE_NONE,
			.total = r->total,
		};
		t->nodes[parent].first_child = node;
		parent = node;
		nodes_populate(t);
	}
	t->run_frames -= k;
	if (k < r->len) {
		r->head = parent;
		r->off += (uint32_t)k;
		r->len -= (uint32_t)k;
		/* Not read now: the miss would hold up this stack, and few
		 * stacks come this way again. */
		r->first = FLAMETREE_NONE;
		__builtin_prefetch(&t->run_names[r->off]);
		t->nodes[parent].first_child = RUN_BIT | ri;
		return 0;
	}
	r->len = 0;
	/* The end of the run: every stack that reached it ended there. */
	return self_add(t, parent, r->total);
}

/* Name @id of @t in t->shape, or FLAMETREE_NONE when it has none; @xlate
 * caches the answers (FLAMETREE_NONE - 1: not asked yet). */
static uint32_t shape_name(const struct flametree *t, uint32_t *xlate, uint32_t id)
{
	const struct name *nm = &t->names[id];

	if (xlate[id] == FLAMETREE_NONE - 1)
		xlate[id] = name_find(t->shape, t->text + nm->off, nm->len,
				      name_hash(t->text + nm->off, nm->len));
	return xlate[id];
}

/*
 * The shape's node of each node of @t (t->nodes[i] -> (*out)[i]), or
 * FLAMETREE_NONE where the shape lacks the path; and the cache of
 * shape_name in *@xlate. A parent is made before its children, so one
 * pass in order finds every parent's first. 0, -E2BIG or -ENOMEM.
 */
static int shape_map(const struct flametree *t, uint32_t **out, uint32_t **xlate)
{
	uint32_t *map, *x;

	/* Scratch, but memory all the same: within the tree's limit. */
	if (flametree_room(t, (t->nnodes + t->nnames) * sizeof(*map)) < 0)
		return -E2BIG;
	map = malloc((t->nnodes ? t->nnodes : 1) * sizeof(*map));
	x = malloc((t->nnames ? t->nnames : 1) * sizeof(*x));
	if (!map || !x) {
		free(map);
		free(x);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->nnames; i++)
		x[i] = FLAMETREE_NONE - 1;
	map[0] = 0;
	for (size_t i = 1; i < t->nnodes; i++) {
		uint32_t up = map[t->nodes[i].parent], name;

		map[i] = FLAMETREE_NONE;
		if (up != FLAMETREE_NONE) {
			name = shape_name(t, x, t->nodes[i].name);
			if (name != FLAMETREE_NONE)
				map[i] = child_find(t->shape, up, name);
		}
	}
	*out = map;
	*xlate = x;
	return 0;
}

/* How many frames of run @r, from its first, the shape has below its node
 * @at. */
static size_t shape_depth(const struct flametree *t, uint32_t *xlate, const struct run *r,
			  uint32_t at)
{
	size_t k = 0;

	for (; at != FLAMETREE_NONE && k < r->len; k++) {
		uint32_t name = shape_name(t, xlate, run_name(t, r, k));

		at = name == FLAMETREE_NONE ? FLAMETREE_NONE : child_find(t->shape, at, name);
		if (at == FLAMETREE_NONE)
			break;
	}
	return k;
}

/*
 * Make every run nodes (the end of a read call): the tree is then the one
 * that a node per frame would have built, the same nodes and weights,
 * summed in the same order. On failure the frames of the runs left are
 * dropped (their heads keep their totals) and the error returned. With
 * t->shape, a run is made nodes as far as the shape has its path, and
 * the rest dropped.
 */
static int runs_expand(struct flametree *t)
{
	size_t need = t->nnodes, dropped = 0;
	double cut = t->prune_num > 0 ? t->nodes[0].total * t->prune_num / t->prune_den : 0;
	uint32_t first, *map = NULL, *xlate = NULL;
	int err = 0;

	if (t->shape && t->nruns) {
		err = shape_map(t, &map, &xlate);
		/* Only the runs the shape has part of are made nodes, and
		 * the array grows as they are. */
		need = 0;
	}
	for (size_t i = 0; need && i < t->nruns; i++)
		if (t->runs[i].len && !(t->runs[i].total < cut))
			need += t->runs[i].len;

	/* One allocation of the exact size: the limit was checked as the
	 * runs grew (flametree_room counts them as nodes). */
	if (need > t->nodes_cap) {
		void *q = need < RUN_BIT ? realloc(t->nodes, need * sizeof(*t->nodes)) : NULL;

		if (q) {
			t->nodes = q;
			t->nodes_cap = need;
			advise_huge(q, need * sizeof(*t->nodes));
		}
	}
	for (size_t i = 0; i < t->nruns; i++) {
		const struct run *r = &t->runs[i];

		if (!r->len)
			continue;
		if (r->total < cut) {
			/* Narrower than anything drawn: every frame of a run
			 * has the run's total. */
			t->nodes[r->head].first_child = FLAMETREE_NONE;
			t->run_frames -= r->len;
			dropped += r->len;
			continue;
		}
		if (!err && map) {
			size_t k = shape_depth(t, xlate, r, map[r->head]);
			uint32_t head = r->head;

			if (k < r->len) {
				/* Never looked up: the shape parts from it. */
				dropped += r->len - k;
				if (k)
					err = run_open(t, r->head, k, &first);
				if (!err) {
					head = k ? first + (uint32_t)k - 1 : head;
					t->nodes[head].first_child = FLAMETREE_NONE;
					t->run_frames -= r->len;
					continue;
				}
			}
		}
		if (!err) {
			err = run_open(t, r->head, r->len, &first);
			/* Made nodes, or all but the last one's self weight. */
			if (!err || !r->len)
				continue;
		}
		t->nodes[r->head].first_child = FLAMETREE_NONE;
		t->run_frames -= r->len;
	}
	free(map);
	free(xlate);
	free(t->runs);
	free(t->run_names);
	t->runs = NULL;
	t->run_names = NULL;
	t->nruns = t->runs_cap = t->nrun_names = t->run_names_cap = 0;
	t->run_frames = 0;
	t->prev_n = 0;
	t->pruned += dropped;
	return err;
}

void flametree_set_prune(struct flametree *t, double num, double den)
{
	t->prune_num = num > 0 && den > 0 ? num : 0;
	t->prune_den = den;
}

void flametree_set_shape(struct flametree *t, const struct flametree *shape)
{
	t->shape = shape;
}

size_t flametree_pruned(const struct flametree *t)
{
	return t->pruned;
}

/*
 * One stack going down the tree, a frame at a time (descent_step), as the
 * folded reader names its frames. The path is real nodes down to @node,
 * then possibly @matched frames of @node's run, or the frames of a run
 * being made below @tail (a node this stack made: nothing below it is
 * shared).
 */
struct descent {
	uint32_t node;
	uint32_t run;           /* the run of @node being followed, or NONE */
	size_t matched;         /* its frames equal to the stack's */
	uint32_t tail;          /* the head of the new run, or NONE */
	size_t tail_off;        /* where its names start in run_names */
	size_t level;           /* frames of the stack taken */
	size_t real;            /* of them, those that are nodes (t->prev) */
	double count;
};

/* The run being followed ends where the stack parts from it: its matched
 * frames become nodes on the path, and the one after them (the frame the
 * stack does not share) a node beside the path. */
static int descent_part(struct flametree *t, struct descent *d)
{
	const struct run *r = &t->runs[d->run];
	size_t m = d->matched, k = m < r->len ? m + 1 : r->len;
	uint32_t first;
	int err;

	d->run = FLAMETREE_NONE;
	err = run_open(t, d->node, k, &first);
	for (size_t j = 0; err == 0 && j < m; j++) {
		t->nodes[first + j].total += d->count;
		err = prev_put(t, d->real++, first + (uint32_t)j);
	}
	if (err == 0 && m)
		d->node = first + (uint32_t)m - 1;
	return err;
}

static int descent_step(struct flametree *t, struct descent *d, uint32_t id)
{
	uint32_t fc, child;
	bool made;
	int err;

	if (d->tail != FLAMETREE_NONE) {
		/* Each frame counts as the node it will become: room for the
		 * next RUN_ROOM_STEP of them is checked at once. */
		if ((t->nrun_names % RUN_ROOM_STEP == 0 || t->nrun_names == t->run_names_cap) &&
		    flametree_room(t, growth(t->run_names_cap, t->nrun_names + RUN_ROOM_STEP,
					     sizeof(*t->run_names)) +
				   RUN_ROOM_STEP * sizeof(*t->nodes)) < 0)
			return -E2BIG;
		if (t->nrun_names >= RUN_BIT || t->run_frames + t->nnodes + 1 >= RUN_BIT ||
		    grow((void **)&t->run_names, &t->run_names_cap, t->nrun_names + 1,
			 sizeof(*t->run_names)) < 0)
			return -ENOMEM;
		t->run_names[t->nrun_names++] = id;
		t->run_frames++;
		d->level++;
		return 0;
	}
	if (d->run != FLAMETREE_NONE) {
		const struct run *r = &t->runs[d->run];

		if (d->matched < r->len && run_name(t, r, d->matched) == id) {
			d->matched++;
			d->level++;
			return 0;
		}
		err = descent_part(t, d);
		if (err < 0)
			return err;
	}
	fc = t->nodes[d->node].first_child;
	if (fc != FLAMETREE_NONE && (fc & RUN_BIT)) {
		d->run = fc & ~RUN_BIT;
		d->matched = 0;
		return descent_step(t, d, id);
	}
	err = child_get(t, d->node, id, &child);
	if (err < 0)
		return err;
	made = err == 1;
	t->nodes[child].total += d->count;
	d->node = child;
	d->level++;
	if (d->real + 1 == d->level) {
		err = prev_put(t, d->real++, child);
		if (err < 0)
			return err;
	}
	if (made) {
		/* A new node: the rest of the stack is below it alone. */
		d->tail = child;
		d->tail_off = t->nrun_names;
	}
	return 0;
}

/* The stack ends: its weight is the self weight of where it ended. */
static int descent_end(struct flametree *t, struct descent *d)
{
	size_t n;
	int err;

	if (d->tail != FLAMETREE_NONE) {
		n = t->nrun_names - d->tail_off;
		if (!n)
			return self_add(t, d->tail, d->count);
		err = flametree_room(t, growth(t->runs_cap, t->nruns + 1, sizeof(*t->runs)));
		if (err == 0 && (t->nruns >= RUN_BIT ||
				 grow((void **)&t->runs, &t->runs_cap, t->nruns + 1,
				      sizeof(*t->runs)) < 0))
			err = -ENOMEM;
		if (err < 0) {
			/* The names appended are no run's: give them back. */
			t->nrun_names = d->tail_off;
			t->run_frames -= n;
			return err;
		}
		t->runs[t->nruns] = (struct run){
			.head = d->tail, .off = (uint32_t)d->tail_off, .len = (uint32_t)n,
			.first = t->run_names[d->tail_off], .total = d->count,
		};
		t->nodes[d->tail].first_child = RUN_BIT | (uint32_t)t->nruns++;
		return 0;
	}
	if (d->run != FLAMETREE_NONE) {
		struct run *r = &t->runs[d->run];

		if (d->matched == r->len) {
			r->total += d->count;
			return 0;
		}
		/* Ends inside the run: what it shares becomes nodes. */
		if (d->matched) {
			uint32_t first;
			size_t m = d->matched;

			err = run_open(t, d->node, m, &first);
			for (size_t j = 0; err == 0 && j < m; j++) {
				t->nodes[first + j].total += d->count;
				err = prev_put(t, d->real++, first + (uint32_t)j);
			}
			if (err < 0)
				return err;
			d->node = first + (uint32_t)m - 1;
		}
	}
	return self_add(t, d->node, d->count);
}

/* Frames named a batch at a time (below): enough to keep the memory busy,
 * few enough to stay on the stack. */
#define NAME_BATCH 32

struct pending_name {
	const char *s;
	size_t len;
	uint64_t hash;
	uint32_t guess;         /* the first id under the hash's slot, or NONE */
};

/*
 * Add the stack @s[0..len) (frames split at ';') with weight @count to @t.
 * The nodes of the line go to t->prev for the next line to share.
 *
 * Frames equal to the line above's are taken from t->prev with no lookup.
 * The others are named NAME_BATCH at a time: each name's lookup is a chain
 * of cache misses (index slot, name entry, name text), so the batch first
 * hashes every name and prefetches its slot, then the entries, then the
 * texts, and only then looks the names up and walks the tree; the misses of
 * one frame overlap another's instead of following each other. With
 * name_hash, this halved the time of reading input whose stacks share
 * little (docs/benchmarks.md). Below the frames the stack shares with
 * others, its frames go to a run (struct run).
 */
static int add_stack_text(struct flametree *t, const char *s, size_t len, double count,
			  bool reverse)
{
	struct frame_iter it = { .s = s, .end = len, .reverse = reverse };
	struct pending_name batch[NAME_BATCH];
	struct descent d = {
		.node = 0, .run = FLAMETREE_NONE, .tail = FLAMETREE_NONE, .count = count,
	};
	const char *name;
	size_t l, same_n = t->prev_n, nb = 0;
	bool more;
	int err;

	t->prev_n = 0;          /* until the line is in */
	t->nodes[0].total += count;
	/* Kept while equal to the line above: t->prev[i] is node. */
	while ((more = frame_next(&it, &name, &l))) {
		const struct name *nm;

		if (l > FLAMETREE_NAME_MAX)
			l = FLAMETREE_NAME_MAX;
		if (d.level >= same_n)
			break;
		nm = &t->names[t->nodes[t->prev[d.level]].name];
		if (nm->len != l || !bytes_equal(t->text + nm->off, name, l))
			break;
		d.node = t->prev[d.level++];
		t->nodes[d.node].total += count;
	}
	d.real = d.level;
	while (more) {
		/* The batch: the frame in hand and those after it. */
		nb = 0;
		do {
			if (l > FLAMETREE_NAME_MAX)
				l = FLAMETREE_NAME_MAX;
			batch[nb] = (struct pending_name){ name, l, name_hash(name, l), 0 };
			htable_prefetch(&t->name_index, batch[nb].hash);
			nb++;
		} while (nb < NAME_BATCH && (more = frame_next(&it, &name, &l)));
		for (size_t k = 0; k < nb; k++) {
			struct htable_iter hit;

			batch[k].guess = htable_find(&t->name_index, batch[k].hash, &hit);
			if (batch[k].guess != HTABLE_NONE)
				__builtin_prefetch(&t->names[batch[k].guess]);
		}
		for (size_t k = 0; k < nb; k++)
			if (batch[k].guess != HTABLE_NONE)
				__builtin_prefetch(t->text + t->names[batch[k].guess].off);
		for (size_t k = 0; k < nb; k++) {
			enum frame_kind kind;
			uint32_t id;

			err = name_intern_hashed(t, batch[k].s, batch[k].len, batch[k].hash, &id);
			if (err == 0)
				err = descent_step(t, &d, id);
			if (err < 0)
				return err;
			if (!(t->kinds[id] & KIND_FROM_SUFFIX)) {
				frame_kind_from_suffix(batch[k].s, batch[k].len, &kind);
				name_set_kind(t, id, kind);
				t->kinds[id] |= KIND_FROM_SUFFIX;
			}
		}
		if (more)
			more = frame_next(&it, &name, &l);
	}
	err = descent_end(t, &d);
	if (err < 0)
		return err;
	t->prev_n = d.real;
	return 0;
}

/*
 * With @before, a line may be "STACK BEFORE AFTER" (the two-column form of
 * differential profiles): the first line that parses decides for the whole
 * input (*columns 0 until then, 1 or 2 after), and BEFORE goes to @before.
 * 0, 1 for a malformed line, or -errno.
 */
static int add_line(struct flametree *t, struct flametree *before, int *columns,
		    const char *s, size_t len, bool reverse)
{
	size_t stack_len;
	double count, count_before = 0;
	int err;

	if (parse_line(s, len, &stack_len, &count) < 0)
		return 1;
	if (before && *columns != 1) {
		size_t shorter;
		int two = parse_line(s, stack_len, &shorter, &count_before) == 0;

		if (*columns == 0)
			*columns = two ? 2 : 1;
		if (*columns == 2) {
			if (!two)
				return 1;
			stack_len = shorter;
		}
	}
	/* A count whose sum with the others is no longer a number (two of
	 * 1.7e308) would make every share and width of the graph NaN. */
	if (!isfinite(t->nodes[0].total + count) ||
	    (before && !isfinite(flametree_total(before) + count_before)))
		return 1;
	if (count_before > 0 && isfinite(count_before)) {
		err = add_stack_text(before, s, stack_len, count_before, reverse);
		if (err < 0)
			return err;
	}
	if (count == 0 || !isfinite(count))
		return 0;       /* a stack with no weight draws nothing */
	return add_stack_text(t, s, stack_len, count, reverse);
}

/* @*lineno counts lines across calls. */
static int add_folded(struct flametree *t, struct flametree *before, const char *buf,
		      size_t len, bool reverse, struct flametree_stats *st, size_t *lineno_io)
{
	size_t pos = 0, lineno = *lineno_io;
	int err = 0;

	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len, l = end - pos;
		int r;

		lineno++;
		if (l && buf[pos + l - 1] == '\r')
			l--;
		if (l > t->limits.line_max) {
			st->long_line = lineno;
			err = -EMSGSIZE;
			break;
		}
		if (l) {
			r = add_line(t, before, &st->columns, buf + pos, l, reverse);
			if (r < 0) {
				err = r;
				break;
			}
			if (r > 0) {
				if (!st->malformed)
					st->first_malformed = lineno;
				st->malformed++;
			} else {
				st->lines++;
			}
		}
		pos = end + 1;
	}
	*lineno_io = lineno;
	return err;
}

int flametree_add_folded(struct flametree *t, const char *buf, size_t len, bool reverse,
			 struct flametree_stats *st)
{
	struct flametree_stats local = { 0 };
	size_t lineno = 0;
	int err, err2;

	t->prev_n = 0;
	err = add_folded(t, NULL, buf, len, reverse, st ? st : &local, &lineno);
	err2 = runs_expand(t);
	return err < 0 ? err : err2;
}

/* Bytes read at a time: few enough that the lines just read are still in
 * the cache (L2) when they are parsed, and that the buffer is a few dozen
 * pages to fault in, not hundreds (it was 1 MiB: 8 % of the page
 * faults of drawing a 20,000-line slice of a random-tree input). */
#define READ_CHUNK ((size_t)128 << 10)

static int read_folded(struct flametree *t, struct flametree *before, const char *head,
		       size_t head_len, FILE *in, bool reverse, struct flametree_stats *st)
{
	struct flametree_stats local = { 0 };
	/* One line (and its "\r\n") and a chunk after it: a line longer than
	 * the limit is an error, not a reason to take all memory (/dev/zero
	 * has no newline). */
	size_t line_max = t->limits.line_max, buf_max = line_max + 2 + READ_CHUNK;
	size_t len = 0, cap = 0, base = 0;
	char *buf = NULL;
	int err = 0, err2;

	if (!st)
		st = &local;
	t->prev_n = 0;
	if (before)
		before->prev_n = 0;
	/* In chunks of whole lines: memory follows the tree, not the input. */
	for (;;) {
		size_t got, cut, want = len + (head_len ? head_len : READ_CHUNK);
		char *nl;

		if (want > cap) {
			size_t n = cap ? cap * 2 : READ_CHUNK;
			char *bigger;

			if (n < want)
				n = want;
			if (n > buf_max)
				n = buf_max > want ? buf_max : want;
			bigger = realloc(buf, n);
			if (!bigger) {
				err = -ENOMEM;
				break;
			}
			buf = bigger;
			cap = n;
		}
		if (head_len) {
			memcpy(buf + len, head, head_len);
			got = head_len;
			head_len = 0;
		} else {
			got = fread(buf + len, 1, cap - len, in);
		}
		len += got;
		if (got == 0) {
			cut = len;      /* the last line may lack its newline */
		} else {
			nl = memrchr(buf, '\n', len);
			if (!nl) {
				if (len > line_max + 1) {
					st->long_line = base + 1;
					err = -EMSGSIZE;
					break;
				}
				continue;
			}
			cut = (size_t)(nl - buf) + 1;
		}
		err = add_folded(t, before, buf, cut, reverse, st, &base);
		if (err < 0 || got == 0)
			break;
		memmove(buf, buf + cut, len - cut);
		len -= cut;
	}
	if (err == 0 && ferror(in))
		err = -EIO;
	free(buf);
	/* The buffer is gone before the runs become nodes: the peak is
	 * the tree's alone. */
	err2 = runs_expand(t);
	if (err == 0)
		err = err2;
	if (before) {
		err2 = runs_expand(before);
		if (err == 0)
			err = err2;
	}
	return err;
}

static int cmp_by_name(const void *a, const void *b, void *ctx)
{
	const struct flametree *t = ctx;
	const struct name *x = &t->names[t->nodes[*(const uint32_t *)a].name];
	const struct name *y = &t->names[t->nodes[*(const uint32_t *)b].name];
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(t->text + x->off, t->text + y->off, n);

	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

int flametree_sort(struct flametree *t)
{
	uint32_t *kids = NULL;
	size_t cap = 0;

	for (size_t p = 0; p < t->nnodes; p++) {
		size_t n = 0;

		for (uint32_t c = t->nodes[p].first_child; c != FLAMETREE_NONE;
		     c = t->nodes[c].next_sibling) {
			if (grow((void **)&kids, &cap, n + 1, sizeof(*kids)) < 0) {
				free(kids);
				return -ENOMEM;
			}
			kids[n++] = c;
		}
		if (n < 2)
			continue;
		qsort_r(kids, n, sizeof(*kids), cmp_by_name, t);
		t->nodes[p].first_child = kids[0];
		for (size_t i = 0; i < n; i++)
			t->nodes[kids[i]].next_sibling = i + 1 < n ? kids[i + 1] : FLAMETREE_NONE;
	}
	free(kids);
	return 0;
}

size_t flametree_count(const struct flametree *t)
{
	return t->nnodes;
}

const struct flametree_node *flametree_node_at(const struct flametree *t, uint32_t i)
{
	return &t->nodes[i];
}

const char *flametree_name(const struct flametree *t, uint32_t name, size_t *len)
{
	*len = t->names[name].len;
	return t->text + t->names[name].off;
}

void flametree_name_prefetch(const struct flametree *t, uint32_t name)
{
	__builtin_prefetch(&t->names[name]);
}

double flametree_total(const struct flametree *t)
{
	return t->nodes[0].total;
}

uint32_t flametree_child(const struct flametree *t, uint32_t parent, const char *s, size_t len)
{
	uint32_t name;

	if (len > FLAMETREE_NAME_MAX)
		len = FLAMETREE_NAME_MAX;
	name = name_find(t, s, len, name_hash(s, len));
	return name == FLAMETREE_NONE ? FLAMETREE_NONE : child_find(t, parent, name);
}

int flametree_read_folded(struct flametree *t, FILE *in, bool reverse,
			  struct flametree_stats *st)
{
	return read_folded(t, NULL, NULL, 0, in, reverse, st);
}

int flametree_read_folded_head(struct flametree *t, const char *head, size_t head_len,
			       FILE *in, bool reverse, struct flametree_stats *st)
{
	return read_folded(t, NULL, head, head_len, in, reverse, st);
}

int flametree_read_folded_pair(struct flametree *t, struct flametree *before, FILE *in,
			       bool reverse, struct flametree_stats *st)
{
	struct flametree_stats local = { 0 };

	return read_folded(t, before, NULL, 0, in, reverse, st ? st : &local);
}

/*
 * Two-column folded lines: every path that ends a stack (has self weight) in
 * @a, with the self weight of the same path in @b beside it; with
 * @only_missing, only the paths @b does not have. @a_first says which column
 * @a's count goes in. Depth-first in each node's child order (bytewise once
 * sorted), with a path buffer and a stack of our own: stacks may be
 * thousands of frames deep.
 */
struct diff_walk {
	FILE *out;
	const struct flametree *a, *b;
	double a_scale, b_scale;
	bool a_first, only_missing;
	char *path;
	size_t path_len, path_cap;
};

struct diff_level {
	uint32_t a_node, b_node;
	size_t path_len;        /* before this level's name was appended */
};

static void diff_line(struct diff_walk *w, uint32_t an, uint32_t bn)
{
	double x = flametree_self(w->a, flametree_node_at(w->a, an)) * w->a_scale;
	double y = bn == FLAMETREE_NONE ? 0 :
		   flametree_self(w->b, flametree_node_at(w->b, bn)) * w->b_scale;

	if (!(x > 0) && !(y > 0))
		return;
	if (w->only_missing && bn != FLAMETREE_NONE)
		return;
	fwrite(w->path, 1, w->path_len, w->out);
	fprintf(w->out, " %.15g %.15g\n", w->a_first ? x : y, w->a_first ? y : x);
}

static int diff_walk(struct diff_walk *w)
{
	struct diff_level *st = NULL;
	size_t depth = 0, cap = 0;
	uint32_t an = flametree_node_at(w->a, 0)->first_child;
	uint32_t bparent = 0;

	/* Visit @an, then its children, then its next sibling. */
	while (an != FLAMETREE_NONE || depth > 0) {
		const struct flametree_node *node;
		const char *name;
		size_t len;
		uint32_t bn;

		if (an == FLAMETREE_NONE) {
			depth--;
			w->path_len = st[depth].path_len;
			an = flametree_node_at(w->a, st[depth].a_node)->next_sibling;
			bparent = depth ? st[depth - 1].b_node : 0;
			continue;
		}
		node = flametree_node_at(w->a, an);
		name = flametree_name(w->a, node->name, &len);
		bn = bparent == FLAMETREE_NONE ? FLAMETREE_NONE :
		     flametree_child(w->b, bparent, name, len);
		if (grow((void **)&st, &cap, depth + 1, sizeof(*st)) < 0 ||
		    grow((void **)&w->path, &w->path_cap, w->path_len + len + 2, 1) < 0) {
			free(st);
			return -ENOMEM;
		}
		st[depth] = (struct diff_level){ an, bn, w->path_len };
		if (w->path_len)
			w->path[w->path_len++] = ';';
		memcpy(w->path + w->path_len, name, len);
		w->path_len += len;
		diff_line(w, an, bn);
		depth++;
		bparent = bn;
		an = node->first_child;
	}
	free(st);
	return 0;
}

int flametree_write_diff_folded(FILE *out, const struct flametree *before,
				const struct flametree *after, double before_scale)
{
	struct diff_walk w = {
		.out = out, .a = after, .b = before, .a_scale = 1, .b_scale = before_scale,
		.a_first = false,
	};
	int err = diff_walk(&w);

	if (err == 0) {
		/* Then the stacks only BEFORE has. */
		w = (struct diff_walk){
			.out = out, .a = before, .b = after, .a_scale = before_scale,
			.b_scale = 1, .a_first = true, .only_missing = true, .path = w.path,
			.path_cap = w.path_cap,
		};
		err = diff_walk(&w);
	}
	free(w.path);
	if (err == 0 && (fflush(out) == EOF || ferror(out)))
		err = -EIO;
	return err;
}

/* Where the frames of name @id come from (flametree_set_info). */
static int name_set_place(struct flametree *t, uint32_t id, const char *module,
			  const char *file, unsigned line, const char *signature)
{
	size_t ml = module ? strnlen(module, FLAMETREE_NAME_MAX) : 0;
	size_t fl = file ? strnlen(file, FLAMETREE_NAME_MAX) : 0;
	size_t sl = signature ? strnlen(signature, FLAMETREE_NAME_MAX) : 0;
	struct place *nm;

	if (id >= t->nplaces) {
		if (grow((void **)&t->places, &t->places_cap, (size_t)id + 1,
			 sizeof(*t->places)) < 0)
			return -ENOMEM;
		memset(t->places + t->nplaces, 0, (id + 1 - t->nplaces) * sizeof(*t->places));
		t->nplaces = (size_t)id + 1;
	}
	nm = &t->places[id];
	if (nm->has_info) {
		/* One name, several places: keep what they agree on (two
		 * overloads share a short name, not a signature). */
		if (nm->line != line)
			nm->line = 0;
		if (nm->file_len && (nm->file_len != fl || !file ||
				     memcmp(t->text + nm->info_off + nm->module_len, file, fl)))
			nm->file_len = 0, nm->line = 0;
		if (nm->signature_len && (nm->signature_len != sl || !signature ||
					  memcmp(t->text + nm->info_off + nm->module_len +
						 nm->file_len, signature, sl)))
			nm->signature_len = 0;
		return 0;
	}
	if (!ml && !fl && !sl)
		return 0;
	if (grow((void **)&t->text, &t->text_cap, t->text_len + ml + fl + sl, 1) < 0)
		return -ENOMEM;
	if (ml)
		memcpy(t->text + t->text_len, module, ml);
	if (fl)
		memcpy(t->text + t->text_len + ml, file, fl);
	if (sl)
		memcpy(t->text + t->text_len + ml + fl, signature, sl);
	nm->info_off = t->text_len;
	nm->module_len = (uint32_t)ml;
	nm->file_len = (uint32_t)fl;
	nm->signature_len = (uint32_t)sl;
	nm->line = fl ? line : 0;
	nm->has_info = true;
	t->text_len += ml + fl + sl;
	return 0;
}

int flametree_set_info(struct flametree *t, const char *name, size_t len,
		       const char *module, const char *file, unsigned line)
{
	uint32_t id;
	int err = name_intern(t, name, len, &id);

	return err < 0 ? err : name_set_place(t, id, module, file, line, NULL);
}

int flametree_add_frames(struct flametree *t, const struct flametree_frame *frames,
			 size_t n, double weight, bool leaf_first)
{
	uint32_t node = 0;
	int err;

	if (!(weight > 0) || !isfinite(weight) || !isfinite(t->nodes[0].total + weight))
		return -EINVAL;
	if (grow((void **)&t->ids, &t->ids_cap, n ? n : 1, sizeof(*t->ids)) < 0)
		return -ENOMEM;
	/* Names and places in the order given (root first from the folded
	 * naming), whatever the order of the path: the first place given to a
	 * name is the one kept. */
	for (size_t i = 0; i < n; i++) {
		const struct frame *f = frames[i].frame;

		err = name_intern(t, frames[i].name, frames[i].len, &t->ids[i]);
		if (err == 0 && f) {
			name_set_kind(t, t->ids[i], f->kind);
			err = name_set_place(t, t->ids[i], f->module, f->file, f->line,
					     f->signature);
		}
		if (err < 0)
			return err;
	}
	t->nodes[0].total += weight;
	for (size_t i = 0; i < n; i++) {
		err = child_get(t, node, t->ids[leaf_first ? n - 1 - i : i], &node);
		if (err < 0)
			return err;
		t->nodes[node].total += weight;
	}
	return self_add(t, node, weight);
}

enum frame_kind flametree_kind(const struct flametree *t, uint32_t name)
{
	unsigned char k = t->kinds[name] & ~KIND_FROM_SUFFIX;

	return k ? (enum frame_kind)(k - 1) : FRAME_NATIVE;
}

bool flametree_info(const struct flametree *t, uint32_t name, struct flametree_info *info)
{
	const struct place *nm = name < t->nplaces ? &t->places[name] : NULL;

	if (!nm || !nm->has_info)
		return false;
	info->module = t->text + nm->info_off;
	info->module_len = nm->module_len;
	info->file = t->text + nm->info_off + nm->module_len;
	info->file_len = nm->file_len;
	info->signature = info->file + nm->file_len;
	info->signature_len = nm->signature_len;
	info->line = nm->line;
	return true;
}
