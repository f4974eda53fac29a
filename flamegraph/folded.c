#include "folded.h"
#include "hash.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* Longest frame name kept, in bytes (before any "_[i]" suffix). */
#define FRAME_NAME_MAX 1024

struct line {
	size_t off;             /* in folder.text while lines are collected */
	const char *s;          /* set once the text no longer moves */
	size_t len;
	uint64_t hash;
	uint64_t count;
};

/* Text built in one growable buffer; the caller frees s. */
struct text {
	char *s;
	size_t len, cap;
};

/*
 * Lines are built back to back in one text buffer; a line equal to one seen
 * before is counted there and its text dropped again.
 */
struct folder {
	const struct profile *p;
	struct symbolizer *sym;
	bool threads, with_lines;
	struct text text;
	struct line *lines;
	size_t nlines, lines_cap;
	uint32_t *slots;        /* line index + 1, 0 empty; at most half full */
	size_t mask;
};

static int text_reserve(struct text *t, size_t more)
{
	size_t cap = t->cap ? t->cap : 4096;
	char *bigger;

	if (more > SIZE_MAX / 2 - t->len)
		return -ENOMEM;
	while (cap < t->len + more)
		cap *= 2;
	if (cap == t->cap)
		return 0;
	bigger = realloc(t->s, cap);
	if (!bigger)
		return -ENOMEM;
	t->s = bigger;
	t->cap = cap;
	return 0;
}

static int text_add(struct text *t, const char *s, size_t len)
{
	int err = text_reserve(t, len);

	if (err)
		return err;
	memcpy(t->s + t->len, s, len);
	t->len += len;
	return 0;
}

/* Append a name from the target, made safe for the format. */
static int text_add_name(struct text *t, const char *name)
{
	size_t len = strnlen(name, FRAME_NAME_MAX);
	char *dst;
	int err;

	err = text_reserve(t, len);
	if (err)
		return err;
	dst = t->s + t->len;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == ';')
			c = ':';
		else if (c < 0x20 || c == 0x7f)
			c = '?';
		dst[i] = (char)c;
	}
	t->len += len;
	return 0;
}

static int text_addf(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* For short pieces of our own ("pid %d"): cut to fit @buf, never failing. */
static int text_addf(struct text *t, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	return text_add(t, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void slot_insert(uint32_t *slots, size_t mask, uint64_t hash, size_t i)
{
	size_t s = hash & mask;

	while (slots[s])
		s = (s + 1) & mask;
	slots[s] = (uint32_t)i + 1;
}

/* Room for one more line, the index kept at most half full. */
static int lines_reserve(struct folder *f)
{
	size_t nslots = f->slots ? f->mask + 1 : 0;

	if (f->nlines == f->lines_cap) {
		size_t cap = f->lines_cap ? f->lines_cap * 2 : 256;
		struct line *bigger;

		if (cap > SIZE_MAX / sizeof(*bigger) || cap >= UINT32_MAX)
			return -ENOMEM;
		bigger = realloc(f->lines, cap * sizeof(*bigger));
		if (!bigger)
			return -ENOMEM;
		f->lines = bigger;
		f->lines_cap = cap;
	}
	if ((f->nlines + 1) * 2 > nslots) {
		size_t want = nslots ? nslots * 2 : 512;
		uint32_t *slots = calloc(want, sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		for (size_t i = 0; i < f->nlines; i++)
			slot_insert(slots, want - 1, f->lines[i].hash, i);
		free(f->slots);
		f->slots = slots;
		f->mask = want - 1;
	}
	return 0;
}

/* Count the line that ends the text, from @start, @count times. */
static int line_count(struct folder *f, size_t start, uint64_t count)
{
	const char *s = f->text.s + start;
	size_t len = f->text.len - start;
	uint64_t h = hash_bytes(s, len);
	int err;

	if (f->slots) {
		for (size_t i = h & f->mask; f->slots[i]; i = (i + 1) & f->mask) {
			struct line *l = &f->lines[f->slots[i] - 1];

			if (l->hash == h && l->len == len &&
			    memcmp(f->text.s + l->off, s, len) == 0) {
				l->count += count;
				f->text.len = start;
				return 0;
			}
		}
	}
	err = lines_reserve(f);
	if (err)
		return err;
	f->lines[f->nlines] = (struct line){
		.off = start, .len = len, .hash = h, .count = count
	};
	slot_insert(f->slots, f->mask, h, f->nlines++);
	return 0;
}

/*
 * The names of a stack's levels, exactly as the folded format writes them:
 * the one place that spells them, for folded_write and for folded_tree_add
 * alike, so a flamegraph drawn from the profile shows what the folded file
 * holds.
 */

/* Frame @f: its function made safe, the kind's suffix, " (file:line)" when
 * @lines and the line is known. */
static int name_frame(struct text *t, const struct frame *f, bool lines)
{
	const char *suffix = frame_kind_suffix(f->kind);
	int err = text_add_name(t, f->function);

	if (!err)
		err = text_add(t, suffix, strlen(suffix));
	if (!err && lines && f->file && f->line) {
		err = text_add(t, " (", 2);
		if (!err)
			err = text_add_name(t, f->file);
		if (!err)
			err = text_addf(t, ":%u)", f->line);
	}
	return err;
}

/* The root: the name given to the process, else "pid N". */
static int name_process(struct text *t, const struct profile *p, pid_t pid)
{
	const char *proc = profile_process_name(p, pid);

	return proc ? text_add_name(t, proc) : text_addf(t, "pid %d", (int)pid);
}

/* The level --threads puts below the root: "name (tid)". */
static int name_thread(struct text *t, const struct profile_thread *th)
{
	int err = text_add_name(t, th->name);

	return err ? err : text_addf(t, " (%d)", (int)th->tid);
}

/* Frames of one address, outermost first: the innermost is nearest the leaf. */
static int add_address(struct folder *f, pid_t pid, uint64_t addr)
{
	const struct frame *frames;
	size_t n = symbolizer_resolve(f->sym, pid, addr, &frames);
	int err = 0;

	while (n-- > 0 && !err) {
		err = text_add(&f->text, ";", 1);
		if (!err)
			err = name_frame(&f->text, &frames[n], f->with_lines);
	}
	return err;
}

static int fold_pair(uint32_t thread, uint32_t stack, uint64_t count, void *ctx)
{
	struct folder *f = ctx;
	const struct profile_thread *t = profile_thread_at(f->p, thread);
	size_t start = f->text.len, n;
	const uint64_t *addrs = profile_stack(f->p, stack, &n);
	int err;

	err = name_process(&f->text, f->p, t->pid);
	if (!err && f->threads) {
		err = text_add(&f->text, ";", 1);
		if (!err)
			err = name_thread(&f->text, t);
	}
	/* The profile keeps the leaf first; the format wants the root first. */
	while (n-- > 0 && !err)
		err = add_address(f, t->pid, addrs[n]);
	if (!err)
		err = line_count(f, start, count);
	return err;
}

static int line_cmp(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);

	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

int folded_write(FILE *out, const struct profile *p, struct symbolizer *sym,
		 const struct folded_options *opts)
{
	struct folder f = {
		.p = p, .sym = sym, .threads = opts && opts->threads,
		.with_lines = opts && opts->lines,
	};
	int err;

	err = profile_for_each(p, fold_pair, &f);
	if (err)
		goto out;
	for (size_t i = 0; i < f.nlines; i++)
		f.lines[i].s = f.text.s + f.lines[i].off;
	if (f.nlines)
		qsort(f.lines, f.nlines, sizeof(*f.lines), line_cmp);
	for (size_t i = 0; i < f.nlines; i++) {
		fwrite(f.lines[i].s, 1, f.lines[i].len, out);
		fprintf(out, " %" PRIu64 "\n", f.lines[i].count);
	}
	if (fflush(out) == EOF || ferror(out))
		err = -EIO;
out:
	free(f.text.s);
	free(f.lines);
	free(f.slots);
	return err;
}

/*
 * The levels of one stack, root first, as the tree gets them: names are
 * offsets into the text until the stack is complete (the text may move as
 * it grows).
 */
struct tree_builder {
	const struct profile *p;
	struct symbolizer *sym;
	struct flametree *t;
	bool threads, lines, reverse;
	struct text text;
	struct flametree_frame *levels;
	size_t *offs;
	size_t n, cap;
};

/* Name one more level from @start to the end of the text. */
static int level_push(struct tree_builder *b, size_t start, const struct frame *f)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		struct flametree_frame *levels;
		size_t *offs;

		if (cap > SIZE_MAX / sizeof(*levels))
			return -ENOMEM;
		levels = realloc(b->levels, cap * sizeof(*levels));
		if (!levels)
			return -ENOMEM;
		b->levels = levels;
		offs = realloc(b->offs, cap * sizeof(*offs));
		if (!offs)
			return -ENOMEM;
		b->offs = offs;
		b->cap = cap;
	}
	b->offs[b->n] = start;
	b->levels[b->n++] = (struct flametree_frame){ .len = b->text.len - start, .frame = f };
	return 0;
}

static int tree_pair(uint32_t thread, uint32_t stack, uint64_t count, void *ctx)
{
	struct tree_builder *b = ctx;
	const struct profile_thread *t = profile_thread_at(b->p, thread);
	size_t n;
	const uint64_t *addrs = profile_stack(b->p, stack, &n);
	int err;

	b->text.len = 0;
	b->n = 0;
	err = name_process(&b->text, b->p, t->pid);
	if (!err)
		err = level_push(b, 0, NULL);
	if (!err && b->threads) {
		size_t start = b->text.len;

		err = name_thread(&b->text, t);
		if (!err)
			err = level_push(b, start, NULL);
	}
	/* Leaf first in the profile, root first here; an address's inlined
	 * frames innermost first from the symbolizer, outermost first here. */
	while (n-- > 0 && !err) {
		const struct frame *frames;
		size_t k = symbolizer_resolve(b->sym, t->pid, addrs[n], &frames);

		while (k-- > 0 && !err) {
			size_t start = b->text.len;

			err = name_frame(&b->text, &frames[k], b->lines);
			if (!err)
				err = level_push(b, start, &frames[k]);
		}
	}
	if (err)
		return err;
	for (size_t i = 0; i < b->n; i++)
		b->levels[i].name = b->text.s + b->offs[i];
	return flametree_add_frames(b->t, b->levels, b->n, (double)count, b->reverse);
}

int folded_tree_add(struct flametree *t, const struct profile *p, struct symbolizer *sym,
		    const struct folded_options *opts, bool reverse)
{
	struct tree_builder b = {
		.p = p, .sym = sym, .t = t, .threads = opts && opts->threads,
		.lines = opts && opts->lines, .reverse = reverse,
	};
	int err = profile_for_each(p, tree_pair, &b);

	free(b.text.s);
	free(b.levels);
	free(b.offs);
	return err;
}
