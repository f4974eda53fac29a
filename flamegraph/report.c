/*
 * report.c - rows of functions summed over one or more profile trees, and
 * the three ways of writing them.
 */
#include "report.h"
#include "pprof.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "hash.h"
#include "htable.h"
#include "speedscope.h"
#include "text.h"
#include "banned.h"

/* Longest name shown in text and Markdown, in bytes (JSON has the whole). */
#define SHOWN_MAX 400

void report_name_split(const char *name, size_t len, struct report_name *out)
{
	size_t end = len, open;

	memset(out, 0, sizeof(*out));
	/* The place is the last " (...)": names may hold parentheses, the
	 * writers put the place last. */
	if (len > 3 && name[len - 1] == ')') {
		for (open = len - 1; open > 0; open--)
			if (name[open] == '(' && name[open - 1] == ' ')
				break;
		if (open > 1) {
			const char *place = name + open + 1;
			size_t plen = len - open - 2, colon = plen;
			unsigned long line = 0;

			end = open - 1;
			out->file = place;
			out->file_len = plen;
			/* ":LINE" at the end of the place. */
			while (colon > 0 && place[colon - 1] >= '0' && place[colon - 1] <= '9')
				colon--;
			if (colon > 1 && colon < plen && place[colon - 1] == ':' && plen - colon < 10) {
				for (size_t i = colon; i < plen; i++)
					line = line * 10 + (unsigned long)(place[i] - '0');
				out->file_len = colon - 1;
				out->line = (unsigned)line;
			}
		}
	}
	out->suffixed_len = end;
	out->function_len = end - frame_kind_from_suffix(name, end, &out->kind);
}

int report_walk(const struct flametree *t,
		int (*enter)(const struct flametree_node *n, unsigned depth, void *ctx),
		void (*leave)(const struct flametree_node *n, unsigned depth, void *ctx),
		void *ctx)
{
	uint32_t i;
	unsigned depth = 1;
	int err;

	if (flametree_count(t) == 0)
		return 0;
	i = flametree_node_at(t, 0)->first_child;
	while (i != FLAMETREE_NONE) {
		const struct flametree_node *n = flametree_node_at(t, i);

		if ((err = enter(n, depth, ctx)) < 0)
			return err;
		if (n->first_child != FLAMETREE_NONE) {
			i = n->first_child;
			depth++;
			continue;
		}
		for (;;) {
			leave(n, depth, ctx);
			if (n->next_sibling != FLAMETREE_NONE) {
				i = n->next_sibling;
				break;
			}
			i = n->parent;
			depth--;
			if (i == 0 || i == FLAMETREE_NONE) {
				i = FLAMETREE_NONE;
				break;
			}
			n = flametree_node_at(t, i);
		}
	}
	return 0;
}

/* Whether @s[0..len) ends in " (DIGITS)", hotspy's thread level. */
static bool thread_like(const char *s, size_t len, long *tid)
{
	size_t i = len;
	long v = 0, mult = 1;

	if (len < 4 || s[len - 1] != ')')
		return false;
	for (i = len - 1; i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9'; i--) {
		if (len - 1 - i > 9)
			return false;
		v += (s[i - 1] - '0') * mult;
		mult *= 10;
	}
	if (i == len - 1 || i < 3 || s[i - 1] != '(' || s[i - 2] != ' ')
		return false;
	if (tid)
		*tid = v;
	return true;
}

/* Every level under a process root is a thread: what --threads writes. */
static bool folded_has_threads(const struct flametree *t)
{
	const struct flametree_node *root = flametree_node_at(t, 0);
	size_t seen = 0;

	for (uint32_t p = root->first_child; p != FLAMETREE_NONE;
	     p = flametree_node_at(t, p)->next_sibling) {
		for (uint32_t c = flametree_node_at(t, p)->first_child; c != FLAMETREE_NONE;
		     c = flametree_node_at(t, c)->next_sibling) {
			const struct flametree_node *n = flametree_node_at(t, c);
			size_t len;
			const char *s = flametree_name(t, n->name, &len);

			if (!thread_like(s, len, NULL) || n->first_child == FLAMETREE_NONE)
				return false;
			seen++;
		}
	}
	return seen > 0;
}

/* A gzip'd perftools profile: its thread labels become the "NAME (TID)"
 * level folded --threads writes. */
static int read_pprof(struct flametree *t, const char *buf, size_t len, bool lines,
		      struct report_input *in)
{
	struct pprof_read_options po = { .threads = true, .lines = lines };
	struct pprof_read_stats ps = { 0 };
	int err;

	in->format = "pprof";
	err = pprof_read_buffer(t, (const uint8_t *)buf, len, &po, &ps);
	if (err == -EINVAL)
		snprintf(in->error, sizeof(in->error), "not a pprof profile, or a damaged one "
			 "(a gzip'd perftools.profiles.Profile expected)");
	if (err < 0)
		return err;
	in->unit = ps.value_type[0] && strcmp(ps.value_type, "samples") != 0 ?
		   "nanoseconds" : "samples";
	in->thread_level = folded_has_threads(t);
	return 0;
}

static int read_speedscope(struct flametree *t, const char *buf, size_t len, bool lines,
			   struct report_input *in)
{
	struct speedscope_info info;
	int err;

	in->format = "speedscope";
	err = speedscope_read(t, buf, len, lines, &info);
	if (err == -EINVAL)
		snprintf(in->error, sizeof(in->error), "not a speedscope profile: %s (at byte %zu)",
			 info.error, info.error_at);
	if (err < 0)
		return err;
	in->unit = info.unit;
	in->thread_level = true;
	return 0;
}

/* The end of reading any format into @t: no stacks is an error. */
static int read_done(struct flametree *t, const struct flametree_stats *st,
		     struct report_input *in)
{
	if (!(flametree_total(t) > 0)) {
		if (st->malformed)
			snprintf(in->error, sizeof(in->error), "no stacks: %zu malformed lines (the "
				 "first is line %zu); a line is 'frame;frame;... COUNT'", st->malformed,
				 st->first_malformed);
		else
			snprintf(in->error, sizeof(in->error), "no stacks: the %s profile is empty",
				 in->format);
		return -EINVAL;
	}
	return flametree_sort(t);
}

static void folded_done(struct flametree *t, int err, const struct flametree_stats *st,
			struct report_input *in)
{
	in->malformed = st->malformed;
	in->first_malformed = st->first_malformed;
	in->long_line = st->long_line;
	in->thread_level = err == 0 && folded_has_threads(t);
}

int report_read(struct flametree *t, const char *buf, size_t len, bool lines,
		struct report_input *in)
{
	struct flametree_stats st = { 0 };
	size_t i = 0;
	int err;

	memset(in, 0, sizeof(*in));
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	if (len >= 2 && (unsigned char)buf[0] == 0x1f && (unsigned char)buf[1] == 0x8b) {
		err = read_pprof(t, buf, len, lines, in);
	} else if (i < len && buf[i] == '{') {
		err = read_speedscope(t, buf, len, lines, in);
	} else {
		in->format = "folded";
		in->unit = "samples";
		err = flametree_add_folded(t, buf, len, false, &st);
		folded_done(t, err, &st, in);
	}
	return err < 0 ? err : read_done(t, &st, in);
}

/* The rest of @f after @head[0..n) into one buffer of at most @max bytes:
 * 0, -EFBIG past it, -ENOMEM or -EIO. */
static int read_whole(FILE *f, const char *head, size_t n, size_t max, char **out,
		      size_t *len)
{
	size_t cap = 0, got;
	char *b = NULL, *bigger;

	for (;;) {
		if (n + 65536 > cap) {
			if (cap > max) {
				free(b);
				return -EFBIG;
			}
			bigger = array_grow(b, &cap, n + 65536, 1);
			if (!bigger) {
				free(b);
				return -ENOMEM;
			}
			if (!b)
				memcpy(bigger, head, n);
			b = bigger;
		}
		got = fread(b + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f) || n > max) {
		free(b);
		return ferror(f) ? -EIO : -EFBIG;
	}
	*out = b;
	*len = n;
	return 0;
}

int report_read_file(struct flametree *t, FILE *f, bool lines, struct report_input *in)
{
	struct flametree_stats st = { 0 };
	struct flametree_limits lim;
	char head[4096], *buf = NULL;
	size_t n = 0, len = 0;
	int c = 0, err;

	memset(in, 0, sizeof(*in));
	/* The format is told by the first byte that is no blank: only JSON
	 * and pprof are read whole, folded text streams. */
	while (n < sizeof(head) && (c = getc(f)) != EOF) {
		head[n++] = (char)c;
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
	}
	if (ferror(f))
		return -EIO;
	if (n && ((unsigned char)head[0] == 0x1f || head[n - 1] == '{')) {
		/* pprof's own limit, and the JSON text with its tokens (each
		 * 32 bytes of a few bytes of text) within the memory limit. */
		flametree_get_limits(t, &lim);
		err = read_whole(f, head, n, head[0] == 0x1f ? PPROF_INPUT_MAX : lim.memory_max / 4,
				 &buf, &len);
		if (err == -EFBIG && head[0] != 0x1f)
			err = -E2BIG;
		if (err == 0)
			err = report_read(t, buf, len, lines, in);
		if (err == -EFBIG) {
			in->format = "pprof";
			snprintf(in->error, sizeof(in->error), "more than %u MiB, the most a pprof "
				 "file may hold", PPROF_INPUT_MAX >> 20);
			err = -EINVAL;
		}
		free(buf);
		return err;
	}
	in->format = "folded";
	in->unit = "samples";
	err = flametree_read_folded_head(t, head, n, f, false, &st);
	folded_done(t, err, &st, in);
	return err < 0 ? err : read_done(t, &st, in);
}

/* A thread (or "all" without --threads). */
struct rthread {
	char *name;             /* NULL for all; may hold NUL bytes */
	size_t len;
	double total;
};

struct row {
	uint32_t thread;
	char *key;              /* NUL-terminated (may hold NULs before @len) */
	size_t len;
	uint64_t hash;
	char *file;             /* from the tree's info when the name has none */
	unsigned line;
	enum frame_kind kind;
	double self, total;
	unsigned active;        /* times on the current path */
};

struct report {
	struct report_options o;
	struct rthread *threads;
	size_t nthreads, threads_cap;
	struct row *rows;
	size_t nrows, rows_cap;
	struct htable index;
	double total;
	const char *unit;
	bool all_threaded;
	size_t inputs;
	/* During report_add: */
	const struct flametree *t;
	bool thread_level;
	uint32_t thread;        /* of the current path */
	uint32_t *path;         /* row per depth, or UINT32_MAX */
	size_t path_cap;
	char key[FLAMETREE_NAME_MAX + 1];
};

struct report *report_new(const struct report_options *o)
{
	struct report *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->o = *o;
	r->all_threaded = true;
	return r;
}

void report_free(struct report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nthreads; i++)
		free(r->threads[i].name);
	for (size_t i = 0; i < r->nrows; i++) {
		free(r->rows[i].key);
		free(r->rows[i].file);
	}
	free(r->threads);
	free(r->rows);
	free(r->path);
	htable_release(&r->index);
	free(r);
}

double report_total(const struct report *r)
{
	return r->total;
}

const char *report_unit(const struct report *r)
{
	return r->unit ? r->unit : "samples";
}

bool report_has_threads(const struct report *r)
{
	return r->inputs && r->all_threaded;
}

/* @s[0..len) and a NUL in a new buffer: names may hold NUL bytes, which
 * strndup would stop at. */
static char *bytes_dup(const char *s, size_t len)
{
	char *copy = malloc(len + 1);

	if (copy) {
		memcpy(copy, s, len);
		copy[len] = '\0';
	}
	return copy;
}

static int thread_index(struct report *r, const char *name, size_t len, uint32_t *out)
{
	struct rthread *th;
	char *copy;

	for (size_t i = 0; i < r->nthreads; i++) {
		const char *n = r->threads[i].name;

		if (n && r->threads[i].len == len && memcmp(n, name, len) == 0) {
			*out = (uint32_t)i;
			return 0;
		}
	}
	th = array_grow(r->threads, &r->threads_cap, r->nthreads + 1, sizeof(*th));
	if (!th)
		return -ENOMEM;
	r->threads = th;
	copy = bytes_dup(name, len);
	if (!copy)
		return -ENOMEM;
	r->threads[r->nthreads] = (struct rthread){ .name = copy, .len = len };
	*out = (uint32_t)r->nthreads++;
	return 0;
}

/* The row of level name @name under the current thread, made on first use. */
static int row_index(struct report *r, uint32_t name, uint32_t *out)
{
	struct report_name parts;
	struct flametree_info info;
	struct htable_iter it;
	struct row *rows;
	size_t len, klen;
	const char *s = flametree_name(r->t, name, &len);
	uint32_t thread = r->o.threads ? r->thread : 0;
	uint64_t h;

	report_name_split(s, len, &parts);
	/* By function: the place without its line. */
	if (r->o.lines || !parts.line) {
		klen = len < FLAMETREE_NAME_MAX ? len : FLAMETREE_NAME_MAX;
		memcpy(r->key, s, klen);
	} else {
		klen = (size_t)(parts.file + parts.file_len - s);
		memcpy(r->key, s, klen);
		r->key[klen++] = ')';
	}
	r->key[klen] = '\0';
	h = hash_mix64(hash_bytes(r->key, klen) ^ thread);
	for (uint32_t i = htable_find(&r->index, h, &it); i != HTABLE_NONE;
	     i = htable_next(&r->index, &it)) {
		const struct row *row = &r->rows[i];

		if (row->hash == h && row->thread == thread && row->len == klen &&
		    memcmp(row->key, r->key, klen) == 0) {
			*out = i;
			return 0;
		}
	}
	if (!array_id_room(r->nrows))
		return -ENOMEM;
	rows = array_grow(r->rows, &r->rows_cap, r->nrows + 1, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	r->rows = rows;
	rows[r->nrows] = (struct row){
		.thread = thread, .len = klen, .hash = h, .kind = flametree_kind(r->t, name),
		.line = r->o.lines ? parts.line : 0,
	};
	rows[r->nrows].key = bytes_dup(r->key, klen);
	if (!rows[r->nrows].key)
		return -ENOMEM;
	if (!parts.file && flametree_info(r->t, name, &info) && info.file_len) {
		rows[r->nrows].file = strndup(info.file, info.file_len);
		if (r->o.lines)
			rows[r->nrows].line = info.line;
	}
	if (htable_insert(&r->index, h, (uint32_t)r->nrows) < 0) {
		free(rows[r->nrows].key);
		free(rows[r->nrows].file);
		return -ENOMEM;
	}
	*out = (uint32_t)r->nrows++;
	return 0;
}

static int add_enter(const struct flametree_node *n, unsigned depth, void *ctx)
{
	struct report *r = ctx;
	unsigned first = r->thread_level ? 3 : 2;
	uint32_t row = UINT32_MAX, *path;
	int err;

	if (depth >= r->path_cap) {
		path = array_grow(r->path, &r->path_cap, (size_t)depth + 1, sizeof(*path));
		if (!path)
			return -ENOMEM;
		r->path = path;
	}
	if (depth == 1 && !r->thread_level) {
		r->thread = 0;
	} else if (depth == 2 && r->thread_level) {
		size_t len;
		const char *s = flametree_name(r->t, n->name, &len);

		if ((err = thread_index(r, s, len, &r->thread)) < 0)
			return err;
		r->threads[r->thread].total += n->total;
	} else if (depth >= first) {
		if ((err = row_index(r, n->name, &row)) < 0)
			return err;
		r->rows[row].self += flametree_self(r->t, n);
		if (r->rows[row].active++ == 0)
			r->rows[row].total += n->total;
	}
	r->path[depth] = row;
	return 0;
}

static void add_leave(const struct flametree_node *n, unsigned depth, void *ctx)
{
	struct report *r = ctx;

	(void)n;
	if (r->path[depth] != UINT32_MAX)
		r->rows[r->path[depth]].active--;
}

int report_add(struct report *r, const struct flametree *t, const struct report_input *in)
{
	int err;

	if (r->unit && strcmp(r->unit, in->unit) != 0)
		return -EINVAL;
	r->unit = in->unit;
	r->t = t;
	r->thread_level = in->thread_level;
	if (!in->thread_level) {
		r->all_threaded = false;
		/* One entry for threads not told apart. */
		if (!r->nthreads || r->threads[0].name) {
			struct rthread *th = array_grow(r->threads, &r->threads_cap,
							r->nthreads + 1, sizeof(*th));

			if (!th)
				return -ENOMEM;
			r->threads = th;
			memmove(th + 1, th, r->nthreads * sizeof(*th));
			th[0] = (struct rthread){ 0 };
			r->nthreads++;
			for (size_t i = 0; i < r->nrows; i++)
				if (r->o.threads)
					r->rows[i].thread++;
		}
		r->threads[0].total += flametree_total(t);
	}
	err = report_walk(t, add_enter, add_leave, r);
	r->total += flametree_total(t);
	r->inputs++;
	r->t = NULL;
	return err;
}

/* Rows to show, in order: by thread (heaviest first), then by share. */
static int row_cmp(const void *a, const void *b, void *ctx)
{
	const struct report *r = ctx;
	const struct row *x = &r->rows[*(const uint32_t *)a], *y = &r->rows[*(const uint32_t *)b];
	double tx = r->threads[x->thread].total, ty = r->threads[y->thread].total;
	double kx = r->o.by_total ? x->total : x->self, ky = r->o.by_total ? y->total : y->self;

	if (x->thread != y->thread) {
		if (tx != ty)
			return tx > ty ? -1 : 1;
		return x->thread < y->thread ? -1 : 1;
	}
	if (kx != ky)
		return kx > ky ? -1 : 1;
	if (r->o.by_total ? x->self != y->self : x->total != y->total)
		return (r->o.by_total ? x->self > y->self : x->total > y->total) ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* The rows shown, at most top per thread; a new array (free it) in *@out. */
static int shown_rows(struct report *r, uint32_t **out, size_t *count)
{
	uint32_t *idx = malloc((r->nrows ? r->nrows : 1) * sizeof(*idx));
	size_t n = 0, kept = 0, in_thread = 0;

	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < r->nrows; i++) {
		if (r->o.match && regexec(r->o.match, r->rows[i].key, 0, NULL, 0) != 0)
			continue;
		idx[n++] = (uint32_t)i;
	}
	if (n)
		qsort_r(idx, n, sizeof(*idx), row_cmp, r);
	for (size_t i = 0; i < n; i++) {
		if (i && r->rows[idx[i]].thread != r->rows[idx[i - 1]].thread)
			in_thread = 0;
		if (r->o.top && in_thread >= r->o.top)
			continue;
		in_thread++;
		idx[kept++] = idx[i];
	}
	*out = idx;
	*count = kept;
	return 0;
}

/* @part of @whole in percent: divided first, so that weights near
 * DBL_MAX give shares, not inf. */
static double percent(double part, double whole)
{
	return part / whole * 100.0;
}

/* The share denominator of row @row: its thread's with --threads. */
static double base_of(const struct report *r, const struct row *row)
{
	double b = r->o.threads && r->nthreads ? r->threads[row->thread].total : r->total;

	return b > 0 ? b : 1;
}

/* Weights past 10^15 (a folded file may say 1.7e308) in exponent form,
 * not 309 digits. */
static void write_weight(FILE *out, const struct report *r, double v, int width)
{
	if (v >= 1e15)
		fprintf(out, "%*.4g", width, v);
	else if (strcmp(report_unit(r), "milliseconds") == 0)
		fprintf(out, "%*.1f", width, v);
	else
		fprintf(out, "%*.0f", width, v);
}

/* The heading of thread @th's rows. */
static void thread_heading(const struct report *r, uint32_t th, char *buf, size_t size)
{
	const char *name = r->threads[th].name;
	size_t at = text_append_safe(buf, size, 0, name ? name : "threads not told apart");

	snprintf(buf + at, size - at, ": %.1f %% of all", percent(r->threads[th].total,
		 r->total > 0 ? r->total : 1));
}

int report_write_text(FILE *out, struct report *r)
{
	char name[SHOWN_MAX + 8];
	uint32_t *idx;
	size_t n;
	const char *unit = report_unit(r);

	if (shown_rows(r, &idx, &n) < 0)
		return -ENOMEM;
	write_weight(out, r, r->total, 0);
	fprintf(out, " %s", unit);
	if (report_has_threads(r))
		fprintf(out, " from %zu thread%s", r->nthreads, r->nthreads == 1 ? "" : "s");
	fprintf(out, "; by %s share%s\n", r->o.by_total ? "total" : "self",
		r->o.threads ? " of each thread" : "");
	for (size_t i = 0; i < n; i++) {
		const struct row *row = &r->rows[idx[i]];
		double base = base_of(r, row);

		if (r->o.threads && (i == 0 || row->thread != r->rows[idx[i - 1]].thread)) {
			thread_heading(r, row->thread, name, sizeof(name));
			fprintf(out, "\n%s\n", name);
		}
		if (i == 0 || (r->o.threads && row->thread != r->rows[idx[i - 1]].thread))
			fprintf(out, "%7s %7s %11s %11s  %s\n", "SELF%", "TOTAL%", "SELF", "TOTAL",
				r->o.lines ? "LINE" : "FUNCTION");
		text_append_safe(name, SHOWN_MAX, 0, row->key);
		fprintf(out, "%7.2f %7.2f ", percent(row->self, base), percent(row->total, base));
		write_weight(out, r, row->self, 11);
		fputc(' ', out);
		write_weight(out, r, row->total, 11);
		fprintf(out, "  %s\n", name);
	}
	if (n == 0)
		fputs("no function matches\n", out);
	free(idx);
	return fflush(out) == EOF || ferror(out) ? -EIO : 0;
}

/* Markdown that shows @s as text: punctuation backslash-escaped, '|' too
 * (a table cell), control bytes and invalid UTF-8 as '?'. */
static void markdown_escape(FILE *out, const char *s)
{
	char safe[SHOWN_MAX + 8];

	text_append_safe(safe, SHOWN_MAX, 0, s);
	for (const char *p = safe; *p; p++) {
		if (strchr("\\`*_{}[]<>()#+-.!|~&", *p))
			fputc('\\', out);
		fputc(*p, out);
	}
}

int report_write_markdown(FILE *out, struct report *r)
{
	uint32_t *idx;
	size_t n;

	if (shown_rows(r, &idx, &n) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct row *row = &r->rows[idx[i]];
		double base = base_of(r, row);
		bool head = i == 0 || (r->o.threads && row->thread != r->rows[idx[i - 1]].thread);

		if (head && r->o.threads) {
			char h[SHOWN_MAX + 64];

			thread_heading(r, row->thread, h, sizeof(h));
			fputs(i ? "\n**" : "**", out);
			markdown_escape(out, h);
			fputs("**\n\n", out);
		}
		if (head)
			fprintf(out, "| Self %% | Total %% | Self | Total | %s |\n"
				"|---:|---:|---:|---:|:---|\n", r->o.lines ? "Line" : "Function");
		fprintf(out, "| %.2f | %.2f | ", percent(row->self, base), percent(row->total, base));
		write_weight(out, r, row->self, 0);
		fputs(" | ", out);
		write_weight(out, r, row->total, 0);
		fputs(" | ", out);
		markdown_escape(out, row->key);
		fputs(" |\n", out);
	}
	if (n == 0)
		fputs("No function matches.\n", out);
	free(idx);
	return fflush(out) == EOF || ferror(out) ? -EIO : 0;
}

static void json_str(FILE *out, const char *s)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	json_escape(out, s, strlen(s), FLAMETREE_NAME_MAX);
	fputc('"', out);
}

static void json_num(FILE *out, double v)
{
	fprintf(out, "%.10g", v);
}

static void write_json_thread(FILE *out, const struct report *r, uint32_t th)
{
	const char *name = r->threads[th].name;
	long tid;

	fputs("{\"name\":", out);
	json_str(out, name);
	fputs(",\"tid\":", out);
	if (name && thread_like(name, strlen(name), &tid))
		fprintf(out, "%ld", tid);
	else
		fputs("null", out);
	fputs(",\"total\":", out);
	json_num(out, r->threads[th].total);
	fputs(",\"share\":", out);
	json_num(out, percent(r->threads[th].total, r->total > 0 ? r->total : 1));
	fputc('}', out);
}

static void write_json_row(FILE *out, const struct report *r, const struct row *row)
{
	struct report_name parts;
	double base = base_of(r, row);
	char buf[FLAMETREE_NAME_MAX + 1];

	report_name_split(row->key, row->len, &parts);
	fputs("{\"thread\":", out);
	json_str(out, r->o.threads ? r->threads[row->thread].name : NULL);
	fputs(",\"name\":", out);
	json_str(out, row->key);
	fputs(",\"function\":\"", out);
	json_escape(out, row->key, parts.function_len, FLAMETREE_NAME_MAX);
	fputs("\",\"kind\":", out);
	json_str(out, frame_kind_name(row->kind));
	fputs(",\"file\":", out);
	if (parts.file) {
		size_t n = parts.file_len < FLAMETREE_NAME_MAX ? parts.file_len : FLAMETREE_NAME_MAX;

		memcpy(buf, parts.file, n);
		buf[n] = '\0';
		json_str(out, buf);
	} else {
		json_str(out, row->file);
	}
	fputs(",\"line\":", out);
	if (r->o.lines && (parts.line || row->line))
		fprintf(out, "%u", parts.line ? parts.line : row->line);
	else
		fputs("null", out);
	fputs(",\"self\":", out);
	json_num(out, row->self);
	fputs(",\"total\":", out);
	json_num(out, row->total);
	fputs(",\"self_share\":", out);
	json_num(out, percent(row->self, base));
	fputs(",\"total_share\":", out);
	json_num(out, percent(row->total, base));
	fputc('}', out);
}

int report_write_json(FILE *out, struct report *r, const struct report_meta *meta,
		      const struct rule_result *results, size_t nresults)
{
	size_t violations = 0, n;
	uint32_t *idx;

	if (shown_rows(r, &idx, &n) < 0)
		return -ENOMEM;
	fputs("{\"schema\":\"hotspy-report/1\",\n\"inputs\":[", out);
	for (size_t i = 0; meta && i < meta->ninputs; i++) {
		fputs(i ? ",{\"path\":" : "{\"path\":", out);
		json_str(out, meta->paths[i]);
		fputs(",\"format\":", out);
		json_str(out, meta->formats[i]);
		fputc('}', out);
	}
	fputs("],\n\"unit\":", out);
	json_str(out, report_unit(r));
	fputs(",\"total\":", out);
	json_num(out, r->total);
	fputs(",\"time_model\":", out);
	json_str(out, meta ? meta->time_model : NULL);
	fputs(",\"sampler\":", out);
	json_str(out, meta ? meta->sampler : NULL);
	fputs(",\"duration_s\":", out);
	if (meta && meta->duration > 0)
		json_num(out, meta->duration);
	else
		fputs("null", out);
	fputs(",\"rate_hz\":", out);
	if (meta && meta->rate)
		fprintf(out, "%u", meta->rate);
	else
		fputs("null", out);
	fprintf(out, ",\n\"by\":\"%s\",\"top\":%u,\"per_thread\":%s,\"lines\":%s,\"match\":",
		r->o.by_total ? "total" : "self", r->o.top, r->o.threads ? "true" : "false",
		r->o.lines ? "true" : "false");
	json_str(out, meta ? meta->match : NULL);
	fputs(",\n\"threads\":", out);
	if (report_has_threads(r)) {
		fputc('[', out);
		for (size_t i = 0; i < r->nthreads; i++) {
			if (i)
				fputc(',', out);
			write_json_thread(out, r, (uint32_t)i);
		}
		fputc(']', out);
	} else {
		fputs("null", out);
	}
	fputs(",\n\"rows\":[", out);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",\n" : "\n", out);
		write_json_row(out, r, &r->rows[idx[i]]);
	}
	fputs("],\n\"rules\":[", out);
	for (size_t i = 0; i < nresults; i++) {
		const struct rule_result *res = &results[i];
		const struct rule *rule = res->rule;

		fputs(i ? ",\n{\"option\":" : "\n{\"option\":", out);
		json_str(out, rule_option(rule->kind));
		fputs(",\"text\":", out);
		json_str(out, rule->text);
		fputs(",\"pattern\":", out);
		json_str(out, rule->pattern);
		fprintf(out, ",\"share\":\"%s\",\"limit\":", rule->share == RULE_TOTAL ? "total" : "self");
		json_num(out, rule->limit);
		fputs(",\"measured\":", out);
		json_num(out, res->share);
		fputs(",\"baseline\":", out);
		if (rule->kind == RULE_INCREASE)
			json_num(out, res->baseline);
		else
			fputs("null", out);
		fprintf(out, ",\"violated\":%s}", res->violated ? "true" : "false");
		violations += res->violated;
	}
	fprintf(out, "],\n\"violations\":%zu}\n", violations);
	free(idx);
	return fflush(out) == EOF || ferror(out) ? -EIO : 0;
}
