#include "topmodel.h"
#include "array.h"
#include "hash.h"
#include "htable.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "text.h"

#include "banned.h"

struct entry {
	struct top_row row;
	uint64_t stamp;         /* the last stack that counted it in total */
};

struct top_model {
	struct profile *cur, *win, *all;
	uint64_t cut_all;
	struct top_thread *threads;
	size_t nthreads, threads_cap;

	/* Rows of the last query: entries, indexed by (function, file, line). */
	struct entry *entries;
	size_t nentries, entries_cap;
	struct htable index;
	struct top_row *rows;
	size_t rows_cap;
	uint64_t stamp;
	uint64_t window_end, window_len;        /* 0: no clock */
};

struct top_model *top_model_new(void)
{
	struct top_model *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->cur = profile_new();
	m->win = profile_new();
	m->all = profile_new();
	if (!m->cur || !m->win || !m->all) {
		top_model_free(m);
		return NULL;
	}
	return m;
}

void top_model_free(struct top_model *m)
{
	if (!m)
		return;
	profile_free(m->cur);
	profile_free(m->win);
	profile_free(m->all);
	for (size_t i = 0; i < m->nthreads; i++)
		free((char *)m->threads[i].name);
	free(m->threads);
	free(m->entries);
	htable_release(&m->index);
	free(m->rows);
	free(m);
}

static struct top_thread *thread_of(struct top_model *m, pid_t pid, pid_t tid, const char *comm)
{
	struct top_thread *t = NULL;
	char *name;

	for (size_t i = 0; i < m->nthreads && !t; i++)
		if (m->threads[i].tid == tid)
			t = &m->threads[i];
	if (!t) {
		t = array_grow(m->threads, &m->threads_cap, m->nthreads + 1, sizeof(*t));
		if (!t)
			return NULL;
		m->threads = t;
		t = &m->threads[m->nthreads++];
		*t = (struct top_thread){ .pid = pid, .tid = tid };
	}
	if (comm && (!t->name || strcmp(t->name, comm) != 0)) {
		name = strdup(comm);
		if (!name)
			return NULL;
		free((char *)t->name);
		t->name = name;
	}
	return t;
}

int top_model_add(struct top_model *m, pid_t pid, pid_t tid, const char *comm,
		  const uint64_t *addrs, size_t n, uint64_t weight)
{
	struct top_thread *t = thread_of(m, pid, tid, comm);
	uint32_t a, c;

	if (!t || profile_thread(m->all, pid, tid, comm, &a) < 0 ||
	    profile_thread(m->cur, pid, tid, comm, &c) < 0 ||
	    profile_add_sample(m->all, a, addrs, n, weight) < 0 ||
	    profile_add_sample(m->cur, c, addrs, n, weight) < 0)
		return -ENOMEM;
	t->samples_all += weight;
	if (n && addrspace_is_marker(addrs[n - 1]))
		m->cut_all += weight;
	return 0;
}

int top_model_next_window(struct top_model *m)
{
	struct profile *fresh = profile_new();

	if (!fresh)
		return -ENOMEM;
	profile_free(m->win);
	m->win = m->cur;
	m->cur = fresh;
	return 0;
}

void top_model_set_windows(struct top_model *m, uint64_t start_ns, uint64_t length_ns)
{
	m->window_len = length_ns;
	m->window_end = length_ns ? start_ns + length_ns : 0;
}

int top_model_clock(struct top_model *m, uint64_t now_ns)
{
	if (!m->window_len || now_ns < m->window_end)
		return 0;
	if (top_model_next_window(m) < 0)
		return -ENOMEM;
	m->window_end += (now_ns - m->window_end) / m->window_len * m->window_len +
			 m->window_len;
	return 1;
}

int top_model_reset(struct top_model *m)
{
	struct profile *a = profile_new(), *b = profile_new(), *c = profile_new();

	if (!a || !b || !c) {
		profile_free(a);
		profile_free(b);
		profile_free(c);
		return -ENOMEM;
	}
	profile_free(m->cur);
	profile_free(m->win);
	profile_free(m->all);
	m->cur = a;
	m->win = b;
	m->all = c;
	m->cut_all = 0;
	for (size_t i = 0; i < m->nthreads; i++)
		m->threads[i].samples_all = 0;
	return 0;
}

/* ---- rows ---- */

struct walk {
	struct top_model *m;
	struct symbolizer *sym;
	const struct top_query *q;
	const struct profile *p;
	bool window;
	int err;
};

static uint64_t key_hash(const char *fn, const char *file, unsigned line)
{
	return hash_mix64((uint64_t)(uintptr_t)fn ^ hash_mix64((uint64_t)(uintptr_t)file) ^
			  line);
}

static struct entry *entry_get(struct top_model *m, const struct frame *f, bool lines)
{
	const char *file = lines ? f->file : NULL;
	unsigned line = lines && f->file ? f->line : 0;
	uint64_t h = key_hash(f->function, file, line);
	struct htable_iter it;
	struct entry *bigger;

	for (uint32_t i = htable_find(&m->index, h, &it); i != HTABLE_NONE;
	     i = htable_next(&m->index, &it)) {
		struct entry *e = &m->entries[i];

		/* Names are interned by the symbolizer: pointers compare. */
		if (e->row.function == f->function && (!lines || (e->row.file == file &&
								  e->row.line == line)))
			return e;
	}
	bigger = array_grow(m->entries, &m->entries_cap, m->nentries + 1, sizeof(*bigger));
	if (!bigger)
		return NULL;
	m->entries = bigger;
	if (htable_insert(&m->index, h, (uint32_t)m->nentries) < 0)
		return NULL;
	m->entries[m->nentries] = (struct entry){
		.row = { .function = f->function, .module = f->module,
			 .file = lines ? file : f->file, .line = line,
			 .kind = f->kind },
	};
	return &m->entries[m->nentries++];
}

static int count_stack(uint32_t thread, uint32_t stack, uint64_t count, void *ctx)
{
	struct walk *w = ctx;
	const struct profile_thread *t = profile_thread_at(w->p, thread);
	size_t n;
	const uint64_t *addrs = profile_stack(w->p, stack, &n);
	bool leaf = true;

	if ((w->q->tid && t->tid != w->q->tid) || (w->q->pid && t->pid != w->q->pid))
		return 0;
	w->m->stamp++;
	for (size_t i = 0; i < n; i++) {
		const struct frame *f;
		size_t k = symbolizer_resolve(w->sym, t->pid, addrs[i], &f);

		/* Frames of one address: innermost first. */
		for (size_t j = 0; j < k; j++) {
			struct entry *e;

			if (f[j].kind == FRAME_MARKER)
				continue;
			e = entry_get(w->m, &f[j], w->q->lines);
			if (!e)
				return -ENOMEM;
			if (leaf) {
				if (w->window)
					e->row.own_win += count;
				else
					e->row.own_all += count;
				leaf = false;
			}
			if (e->stamp != w->m->stamp) {
				e->stamp = w->m->stamp;
				if (w->window)
					e->row.total_win += count;
				else
					e->row.total_all += count;
			}
		}
	}
	return 0;
}

static uint64_t sort_value(const struct top_row *r, enum top_sort key)
{
	switch (key) {
	case TOP_SORT_OWN: return r->own_win;
	case TOP_SORT_TOTAL: return r->total_win;
	case TOP_SORT_TOTAL_TIME: return r->total_all;
	case TOP_SORT_OWN_TIME:
	default: return r->own_all;
	}
}

static int row_cmp(const void *a, const void *b, void *ctx)
{
	const struct top_row *x = a, *y = b;
	enum top_sort key = *(const enum top_sort *)ctx;
	uint64_t vx = sort_value(x, key), vy = sort_value(y, key);

	if (vx != vy)
		return vx > vy ? -1 : 1;
	if (x->total_all != y->total_all)
		return x->total_all > y->total_all ? -1 : 1;
	return strcmp(x->function, y->function);
}

ssize_t top_model_rows(struct top_model *m, struct symbolizer *sym,
		       const struct top_query *q, const struct top_row **rows)
{
	struct walk w = { .m = m, .sym = sym, .q = q };
	size_t n = 0;
	int err;

	m->nentries = 0;
	htable_clear(&m->index);
	w.p = m->win;
	w.window = true;
	err = profile_for_each(m->win, count_stack, &w);
	if (err == 0) {
		w.p = m->all;
		w.window = false;
		err = profile_for_each(m->all, count_stack, &w);
	}
	if (err)
		return err < 0 ? err : -ENOMEM;
	if (q->whole_run)
		for (size_t i = 0; i < m->nentries; i++) {
			m->entries[i].row.own_win = m->entries[i].row.own_all;
			m->entries[i].row.total_win = m->entries[i].row.total_all;
		}
	if (m->rows_cap < m->nentries) {
		struct top_row *r = array_grow(m->rows, &m->rows_cap, m->nentries, sizeof(*r));

		if (!r)
			return -ENOMEM;
		m->rows = r;
	}
	for (size_t i = 0; i < m->nentries; i++) {
		const struct top_row *r = &m->entries[i].row;

		if (q->filter && *q->filter && !strstr(r->function, q->filter))
			continue;
		m->rows[n++] = *r;
	}
	if (n)
		qsort_r(m->rows, n, sizeof(*m->rows), row_cmp, (void *)&q->sort);
	*rows = m->rows;
	return (ssize_t)n;
}

struct tid_total {
	const struct profile *p;
	pid_t pid, tid;         /* 0: any */
	uint64_t sum;
};

static int add_tid(uint32_t thread, uint32_t stack, uint64_t count, void *ctx)
{
	struct tid_total *t = ctx;
	const struct profile_thread *th = profile_thread_at(t->p, thread);

	(void)stack;
	if ((!t->tid || th->tid == t->tid) && (!t->pid || th->pid == t->pid))
		t->sum += count;
	return 0;
}

static uint64_t total_of(const struct profile *p, pid_t pid, pid_t tid)
{
	struct tid_total t = { .p = p, .pid = pid, .tid = tid };

	if (!tid && !pid)
		return profile_total(p);
	profile_for_each(p, add_tid, &t);
	return t.sum;
}

uint64_t top_model_window_total(const struct top_model *m, pid_t tid)
{
	return total_of(m->win, 0, tid);
}

uint64_t top_model_all_total(const struct top_model *m, pid_t tid)
{
	return total_of(m->all, 0, tid);
}

uint64_t top_model_window_process_total(const struct top_model *m, pid_t pid)
{
	return total_of(m->win, pid, 0);
}

uint64_t top_model_all_process_total(const struct top_model *m, pid_t pid)
{
	return total_of(m->all, pid, 0);
}

uint64_t top_model_all_cut(const struct top_model *m)
{
	return m->cut_all;
}

size_t top_model_threads(const struct top_model *m, const struct top_thread **threads)
{
	*threads = m->threads;
	return m->nthreads;
}

size_t top_table_header(char *buf, size_t size, enum top_sort sort, bool lines)
{
	/* Right-aligned titles, each in the width of its column. */
	static const char *const titles[] = { "%Own", "%Total", "OwnTime", "TotalTime" };
	static const int widths[] = { 6, 8, 10, 11 };
	size_t at = 0;
	int w;

	if (size == 0)
		return 0;
	buf[0] = '\0';
	for (size_t i = 0; i < 4; i++) {
		bool sorted = (size_t)sort == i + 1;

		w = snprintf(buf + at, size - at, "%*s%s%s", widths[i] - (int)strlen(titles[i]) -
			     (sorted ? 1 : 0), "", sorted ? "*" : "", titles[i]);
		if (w < 0 || (size_t)w >= size - at)
			return strlen(buf);
		at += (size_t)w;
	}
	w = snprintf(buf + at, size - at, "  %s", lines ? "Function (file:line)" :
		     "Function (file)");
	return w < 0 ? at : strlen(buf);
}

/* A module name that is already bracketed ("[vdso]", "[jit]") is not
 * bracketed again. */
static bool bracketed(const char *name)
{
	size_t len = strlen(name);

	return len >= 2 && name[0] == '[' && name[len - 1] == ']';
}

size_t top_format_row(char *buf, size_t size, const struct top_row *r, uint64_t win_total,
		      double period)
{
	double own = win_total ? 100.0 * (double)r->own_win / (double)win_total : 0;
	double total = win_total ? 100.0 * (double)r->total_win / (double)win_total : 0;
	int w;
	size_t at;

	if (size == 0)
		return 0;
	w = snprintf(buf, size, "%5.1f%%  %5.1f%%  %7.2fs  %8.2fs  ", own, total,
		     (double)r->own_all * period, (double)r->total_all * period);
	at = w < 0 ? 0 : (size_t)w < size ? (size_t)w : size - 1;
	at = text_append_safe(buf, size, at, r->function);
	at = text_append_safe(buf, size, at, frame_kind_tag(r->kind));
	if (r->file) {
		const char *base = strrchr(r->file, '/');
		char num[16];

		at = text_append_safe(buf, size, at, " (");
		at = text_append_safe(buf, size, at, base ? base + 1 : r->file);
		if (r->line) {
			snprintf(num, sizeof(num), ":%u", r->line);
			at = text_append_safe(buf, size, at, num);
		}
		at = text_append_safe(buf, size, at, ")");
	}
	/* A Python frame's module is its file's short name, already shown. */
	if (r->module && r->kind != FRAME_PYTHON) {
		bool given = bracketed(r->module);

		at = text_append_safe(buf, size, at, given ? " " : " [");
		at = text_append_safe(buf, size, at, r->module);
		if (!given)
			at = text_append_safe(buf, size, at, "]");
	}
	return at;
}
