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

/*
 * Lines are built back to back in one text buffer; a line equal to one seen
 * before is counted there and its text dropped again.
 */
struct folder {
	const struct profile *p;
	struct symbolizer *sym;
	bool threads, with_lines;
	int (*on_frame)(void *ctx, const char *name, size_t len, const struct frame *f);
	void *on_frame_ctx;
	char *text;
	size_t text_len, text_cap;
	struct line *lines;
	size_t nlines, lines_cap;
	uint32_t *slots;        /* line index + 1, 0 empty; at most half full */
	size_t mask;
};

static int text_reserve(struct folder *f, size_t more)
{
	size_t cap = f->text_cap ? f->text_cap : 4096;
	char *bigger;

	if (more > SIZE_MAX / 2 - f->text_len)
		return -ENOMEM;
	while (cap < f->text_len + more)
		cap *= 2;
	if (cap == f->text_cap)
		return 0;
	bigger = realloc(f->text, cap);
	if (!bigger)
		return -ENOMEM;
	f->text = bigger;
	f->text_cap = cap;
	return 0;
}

static int text_add(struct folder *f, const char *s, size_t len)
{
	int err = text_reserve(f, len);

	if (err)
		return err;
	memcpy(f->text + f->text_len, s, len);
	f->text_len += len;
	return 0;
}

/* Append a name from the target, made safe for the format. */
static int text_add_name(struct folder *f, const char *name)
{
	size_t len = strnlen(name, FRAME_NAME_MAX);
	char *dst;
	int err;

	err = text_reserve(f, len);
	if (err)
		return err;
	dst = f->text + f->text_len;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == ';')
			c = ':';
		else if (c < 0x20 || c == 0x7f)
			c = '?';
		dst[i] = (char)c;
	}
	f->text_len += len;
	return 0;
}

static int text_addf(struct folder *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* For short pieces of our own ("pid %d"): cut to fit @buf, never failing. */
static int text_addf(struct folder *f, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	return text_add(f, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
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
	const char *s = f->text + start;
	size_t len = f->text_len - start;
	uint64_t h = hash_bytes(s, len);
	int err;

	if (f->slots) {
		for (size_t i = h & f->mask; f->slots[i]; i = (i + 1) & f->mask) {
			struct line *l = &f->lines[f->slots[i] - 1];

			if (l->hash == h && l->len == len &&
			    memcmp(f->text + l->off, s, len) == 0) {
				l->count += count;
				f->text_len = start;
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

/* Frames of one address, outermost first: the innermost is nearest the leaf. */
static int add_address(struct folder *f, pid_t pid, uint64_t addr)
{
	const struct frame *frames;
	size_t n = symbolizer_resolve(f->sym, pid, addr, &frames);
	int err = 0;

	while (n-- > 0 && !err) {
		const char *suffix = frame_kind_suffix(frames[n].kind);
		size_t start;

		err = text_add(f, ";", 1);
		start = f->text_len;
		if (!err)
			err = text_add_name(f, frames[n].function);
		if (!err)
			err = text_add(f, suffix, strlen(suffix));
		if (!err && f->with_lines && frames[n].file && frames[n].line) {
			err = text_add(f, " (", 2);
			if (!err)
				err = text_add_name(f, frames[n].file);
			if (!err)
				err = text_addf(f, ":%u)", frames[n].line);
		}
		if (!err && f->on_frame)
			err = f->on_frame(f->on_frame_ctx, f->text + start, f->text_len - start,
					  &frames[n]);
	}
	return err;
}

static int fold_pair(uint32_t thread, uint32_t stack, uint64_t count, void *ctx)
{
	struct folder *f = ctx;
	const struct profile_thread *t = profile_thread_at(f->p, thread);
	const char *proc = profile_process_name(f->p, t->pid);
	size_t start = f->text_len, n;
	const uint64_t *addrs = profile_stack(f->p, stack, &n);
	int err;

	if (proc)
		err = text_add_name(f, proc);
	else
		err = text_addf(f, "pid %d", (int)t->pid);
	if (!err && f->threads) {
		err = text_add(f, ";", 1);
		if (!err)
			err = text_add_name(f, t->name);
		if (!err)
			err = text_addf(f, " (%d)", (int)t->tid);
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
		.on_frame = opts ? opts->on_frame : NULL,
		.on_frame_ctx = opts ? opts->on_frame_ctx : NULL,
	};
	int err;

	err = profile_for_each(p, fold_pair, &f);
	if (err)
		goto out;
	for (size_t i = 0; i < f.nlines; i++)
		f.lines[i].s = f.text + f.lines[i].off;
	if (f.nlines)
		qsort(f.lines, f.nlines, sizeof(*f.lines), line_cmp);
	for (size_t i = 0; i < f.nlines; i++) {
		fwrite(f.lines[i].s, 1, f.lines[i].len, out);
		fprintf(out, " %" PRIu64 "\n", f.lines[i].count);
	}
	if (fflush(out) == EOF || ferror(out))
		err = -EIO;
out:
	free(f.text);
	free(f.lines);
	free(f.slots);
	return err;
}
