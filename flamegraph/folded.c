#include "folded.h"
#include "array.h"
#include "hash.h"
#include "htable.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* Longest frame name kept, in bytes (before any "_[i]" suffix). */

struct line {
	size_t off;             /* in folder.text while lines are collected */
	const char *s;          /* set once the text no longer moves */
	size_t len;
	uint64_t hash;
	uint64_t count;
};

/*
 * Lines are built back to back in one text buffer; a line equal to one seen
 * before is counted there and its text dropped again.
 */
struct folder {
	const struct profile *p;
	struct symbolizer *sym;
	bool threads, with_lines;
	struct folded_text text;
	struct line *lines;
	size_t nlines, lines_cap;
	struct htable line_index;
};

static int text_reserve(struct folded_text *t, size_t more)
{
	char *bigger;

	if (more == 0)
		return 0;
	if (more > SIZE_MAX / 2 - t->len)
		return -ENOMEM;
	bigger = array_grow(t->s, &t->cap, t->len + more, 1);
	if (!bigger)
		return -ENOMEM;
	t->s = bigger;
	return 0;
}

int folded_text_add(struct folded_text *t, const char *s, size_t len)
{
	int err = text_reserve(t, len);

	if (err || len == 0)
		return err;
	memcpy(t->s + t->len, s, len);
	t->len += len;
	return 0;
}

/* Append a name from the target, made safe for the format. */
int folded_text_add_name(struct folded_text *t, const char *name)
{
	size_t len = strnlen(name, FOLDED_NAME_MAX);
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

/* For short pieces of our own ("pid %d"): cut to fit @buf, never failing. */
int folded_text_addf(struct folded_text *t, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	return folded_text_add(t, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Count the line that ends the text, from @start, @count times. */
static int line_count(struct folder *f, size_t start, uint64_t count)
{
	const char *s = f->text.s + start;
	size_t len = f->text.len - start;
	uint64_t h = hash_bytes(s, len);
	struct htable_iter it;
	struct line *bigger;

	for (uint32_t id = htable_find(&f->line_index, h, &it); id != HTABLE_NONE;
	     id = htable_next(&f->line_index, &it)) {
		struct line *l = &f->lines[id];

		if (l->hash == h && l->len == len && memcmp(f->text.s + l->off, s, len) == 0) {
			l->count += count;
			f->text.len = start;
			return 0;
		}
	}
	if (!array_id_room(f->nlines))
		return -ENOMEM;
	bigger = array_grow(f->lines, &f->lines_cap, f->nlines + 1, sizeof(*bigger));
	if (!bigger)
		return -ENOMEM;
	f->lines = bigger;
	if (htable_insert(&f->line_index, h, (uint32_t)f->nlines) < 0)
		return -ENOMEM;
	f->lines[f->nlines++] = (struct line){
		.off = start, .len = len, .hash = h, .count = count
	};
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
int folded_text_add_frame(struct folded_text *t, const struct frame *f, bool lines)
{
	const char *suffix = frame_kind_suffix(f->kind);
	int err = folded_text_add_name(t, f->function);

	if (!err)
		err = folded_text_add(t, suffix, strlen(suffix));
	/* A Python function is known by its file too (two modules' main are
	 * two functions): "name (file)", or "name (file:line)" with lines, as
	 * py-spy writes them. */
	if (!err && f->kind == FRAME_PYTHON && f->module) {
		err = folded_text_add(t, " (", 2);
		if (!err)
			err = folded_text_add_name(t, f->module);
		if (!err && lines && f->line)
			err = folded_text_addf(t, ":%u", f->line);
		if (!err)
			err = folded_text_add(t, ")", 1);
		return err;
	}
	if (!err && lines && f->file && f->line) {
		err = folded_text_add(t, " (", 2);
		if (!err)
			err = folded_text_add_name(t, f->file);
		if (!err)
			err = folded_text_addf(t, ":%u)", f->line);
	}
	return err;
}

/* The root: the name given to the thread's process (the program it ran:
 * a process that execs has one root per program), else "pid N". */
static int name_process(struct folded_text *t, const struct profile *p,
			const struct profile_thread *th)
{
	const char *proc = profile_thread_process(p, th);

	return proc ? folded_text_add_name(t, proc) : folded_text_addf(t, "pid %d", (int)th->pid);
}

/* The level --threads puts below the root: "name (tid)". */
static int name_thread(struct folded_text *t, const struct profile_thread *th)
{
	int err = folded_text_add_name(t, th->name);

	return err ? err : folded_text_addf(t, " (%d)", (int)th->tid);
}

/* Frames of one address, outermost first: the innermost is nearest the leaf. */
static int add_address(struct folder *f, pid_t pid, uint64_t addr)
{
	const struct frame *frames;
	size_t n = symbolizer_resolve(f->sym, pid, addr, &frames);
	int err = 0;

	while (n-- > 0 && !err) {
		err = folded_text_add(&f->text, ";", 1);
		if (!err)
			err = folded_text_add_frame(&f->text, &frames[n], f->with_lines);
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

	err = name_process(&f->text, f->p, t);
	if (!err && f->threads) {
		err = folded_text_add(&f->text, ";", 1);
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
	htable_release(&f.line_index);
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
	struct folded_text text;
	struct flametree_frame *levels;
	size_t *offs;           /* where each level's name starts in text */
	size_t n, levels_cap, offs_cap;
};

/* Name one more level from @start to the end of the text. */
static int level_push(struct tree_builder *b, size_t start, const struct frame *f)
{
	struct flametree_frame *levels;
	size_t *offs;

	levels = array_grow(b->levels, &b->levels_cap, b->n + 1, sizeof(*levels));
	if (!levels)
		return -ENOMEM;
	b->levels = levels;
	offs = array_grow(b->offs, &b->offs_cap, b->n + 1, sizeof(*offs));
	if (!offs)
		return -ENOMEM;
	b->offs = offs;
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
	err = name_process(&b->text, b->p, t);
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

			err = folded_text_add_frame(&b->text, &frames[k], b->lines);
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
