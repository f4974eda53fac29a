/*
 * test_topmodel.c - the numbers of `hotspy top`: own and total counted once
 * per stack (recursion too), windows against the cumulative counts, lines
 * against functions, sorting, the thread and substring filters, reset, the
 * cut share, and the table line with hostile names. Also the /proc reading
 * behind the header and the terminal-safe text.
 *
 * As test_folded_frames, this file defines symbolizer_resolve itself, so
 * that frames are exactly what the test says.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "procfs.h"
#include "profile.h"
#include "symbols.h"
#include "text.h"
#include "topmodel.h"

#include "banned.h"

enum {
	A_LEAF10 = 0x100,       /* leaf() at a.c:10 */
	A_LEAF11 = 0x110,       /* leaf() at a.c:11 */
	A_MID = 0x200,
	A_REC = 0x300,          /* the recursive function */
	A_MAIN = 0x400,
	A_INL = 0x500,          /* inner() inlined into outer() */
	A_KERNEL = 0x600,
	A_HOSTILE = 0x700,
};

static const char leaf_name[] = "leaf", a_c[] = "a.c", mod[] = "prog";
static const struct frame f_leaf10 = { leaf_name, mod, a_c, 10, FRAME_NATIVE, NULL };
static const struct frame f_leaf11 = { leaf_name, mod, a_c, 11, FRAME_NATIVE, NULL };
static const struct frame f_mid = { "mid", mod, "b.c", 20, FRAME_NATIVE, NULL };
static const struct frame f_rec = { "rec", mod, "b.c", 30, FRAME_NATIVE, NULL };
static const struct frame f_main = { "main", mod, "m.c", 40, FRAME_NATIVE, NULL };
static const struct frame f_inl[] = {
	{ "inner", mod, "i.h", 5, FRAME_INLINED, NULL },
	{ "outer", mod, "o.c", 50, FRAME_NATIVE, NULL },
};
static const struct frame f_kernel = { "read_zero", NULL, NULL, 0, FRAME_KERNEL, NULL };
static const struct frame f_hostile = { "evil\x1b[2J\n\xff" "fn", mod, NULL, 0, FRAME_NATIVE, NULL };
static const struct frame f_marker = { "[cut]", NULL, NULL, 0, FRAME_MARKER, NULL };

size_t symbolizer_resolve(struct symbolizer *sym, pid_t pid, uint64_t addr,
			  const struct frame **frames)
{
	(void)sym;
	(void)pid;
	switch (addr) {
	case A_LEAF10: *frames = &f_leaf10; return 1;
	case A_LEAF11: *frames = &f_leaf11; return 1;
	case A_MID: *frames = &f_mid; return 1;
	case A_REC: *frames = &f_rec; return 1;
	case A_MAIN: *frames = &f_main; return 1;
	case A_INL: *frames = f_inl; return 2;
	case A_KERNEL: *frames = &f_kernel; return 1;
	case A_HOSTILE: *frames = &f_hostile; return 1;
	default: *frames = &f_marker; return 1;
	}
}

static void add(struct top_model *m, pid_t tid, const uint64_t *addrs, size_t n, uint64_t w)
{
	CHECK(top_model_add(m, 1, tid, tid == 1 ? "main" : "worker", addrs, n, w) == 0);
}

static const struct top_row *find(const struct top_row *rows, ssize_t n, const char *fn,
				  unsigned line)
{
	for (ssize_t i = 0; i < n; i++)
		if (strcmp(rows[i].function, fn) == 0 && rows[i].line == line)
			return &rows[i];
	return NULL;
}

static void fill(struct top_model *m)
{
	static const uint64_t deep[] = { A_LEAF10, A_REC, A_REC, A_REC, A_MAIN };
	static const uint64_t other_line[] = { A_LEAF11, A_MID, A_MAIN };
	static const uint64_t in_mid[] = { A_MID, A_MAIN };
	static const uint64_t inl[] = { A_INL, A_MAIN };
	static const uint64_t cut[] = { A_LEAF10, PROFILE_ADDR_TRUNCATED };

	add(m, 1, deep, 5, 3);
	add(m, 1, other_line, 3, 1);
	add(m, 2, in_mid, 2, 2);
	add(m, 2, inl, 2, 1);
	add(m, 2, cut, 2, 1);
}

static void test_counts(void)
{
	struct top_model *m = top_model_new();
	struct top_query q = { .sort = TOP_SORT_OWN_TIME };
	const struct top_row *rows, *r;
	static const uint64_t later[] = { A_MID, A_MAIN };
	ssize_t n;

	CHECK(m != NULL);
	if (!m)
		return;
	fill(m);
	/* Before the first window closes, only the cumulative counts exist. */
	n = top_model_rows(m, NULL, &q, &rows);
	CHECK(n > 0);
	CHECK_EQ_U64(top_model_window_total(m, 0), 0);
	CHECK(top_model_next_window(m) == 0);
	CHECK_EQ_U64(top_model_window_total(m, 0), 8);
	CHECK_EQ_U64(top_model_window_total(m, 2), 4);
	CHECK_EQ_U64(top_model_all_cut(m), 1);

	/* After the window: samples go to the next window and the totals. */
	add(m, 1, later, 2, 5);
	n = top_model_rows(m, NULL, &q, &rows);
	CHECK_EQ_U64(top_model_all_total(m, 0), 13);
	r = find(rows, n, "leaf", 0);
	CHECK(r != NULL);
	if (r) {
		/* By function, both lines of leaf are one row. */
		CHECK_EQ_U64(r->own_win, 5);
		CHECK_EQ_U64(r->own_all, 5);
		CHECK_EQ_U64(r->total_all, 5);
	}
	r = find(rows, n, "rec", 0);
	CHECK(r != NULL);
	if (r) {
		/* Three frames of rec in one stack count once. */
		CHECK_EQ_U64(r->total_win, 3);
		CHECK_EQ_U64(r->own_win, 0);
	}
	r = find(rows, n, "mid", 0);
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ_U64(r->own_win, 2);
		CHECK_EQ_U64(r->own_all, 7);
		CHECK_EQ_U64(r->total_win, 3);
		CHECK_EQ_U64(r->total_all, 8);
	}
	r = find(rows, n, "main", 0);
	CHECK(r != NULL && r->total_win == 7 && r->own_win == 0);
	/* The inlined function owns its samples; its caller has them in total. */
	r = find(rows, n, "inner", 0);
	CHECK(r != NULL && r->own_win == 1 && r->kind == FRAME_INLINED);
	r = find(rows, n, "outer", 0);
	CHECK(r != NULL && r->own_win == 0 && r->total_win == 1);
	/* Sorted by OwnTime: mid (7), leaf (5), inner (1), then the zeros. */
	CHECK(n >= 3);
	if (n >= 3) {
		CHECK_STR(rows[0].function, "mid");
		CHECK_STR(rows[1].function, "leaf");
		CHECK_STR(rows[2].function, "inner");
	}
	/* %Own (the window): leaf (5) before mid (2). */
	q.sort = TOP_SORT_OWN;
	n = top_model_rows(m, NULL, &q, &rows);
	CHECK(n > 0 && strcmp(rows[0].function, "leaf") == 0);
	/* %Total: main, in every stack but the cut one, first. */
	q.sort = TOP_SORT_TOTAL;
	n = top_model_rows(m, NULL, &q, &rows);
	CHECK(n > 0 && strcmp(rows[0].function, "main") == 0);

	/* By line: leaf splits into a.c:10 and a.c:11. */
	q.lines = true;
	q.sort = TOP_SORT_OWN_TIME;
	n = top_model_rows(m, NULL, &q, &rows);
	r = find(rows, n, "leaf", 10);
	CHECK(r != NULL && r->own_all == 4);
	r = find(rows, n, "leaf", 11);
	CHECK(r != NULL && r->own_all == 1);
	CHECK(find(rows, n, "leaf", 0) == NULL);

	/* One thread: worker (tid 2) never ran rec. */
	q.lines = false;
	q.tid = 2;
	n = top_model_rows(m, NULL, &q, &rows);
	CHECK(find(rows, n, "rec", 0) == NULL);
	r = find(rows, n, "mid", 0);
	CHECK(r != NULL && r->own_all == 2);

	/* A substring filter. */
	q.tid = 0;
	q.filter = "ea";
	n = top_model_rows(m, NULL, &q, &rows);
	CHECK_EQ_U64(n, 1);
	if (n == 1)
		CHECK_STR(rows[0].function, "leaf");

	/* Reset forgets everything but the threads. */
	CHECK(top_model_reset(m) == 0);
	q.filter = NULL;
	n = top_model_rows(m, NULL, &q, &rows);
	CHECK_EQ_U64(n, 0);
	CHECK_EQ_U64(top_model_all_total(m, 0), 0);
	CHECK_EQ_U64(top_model_all_cut(m), 0);
	{
		const struct top_thread *t;

		CHECK_EQ_U64(top_model_threads(m, &t), 2);
	}
	top_model_free(m);
}

static void test_kernel_and_format(void)
{
	struct top_model *m = top_model_new();
	struct top_query q = { .sort = TOP_SORT_OWN };
	static const uint64_t sys[] = { A_KERNEL, A_MID, A_MAIN };
	static const uint64_t evil[] = { A_HOSTILE, A_MAIN };
	const struct top_row *rows, *r;
	char line[256];
	ssize_t n;

	CHECK(m != NULL);
	if (!m)
		return;
	add(m, 1, sys, 3, 1);
	add(m, 1, evil, 2, 1);
	CHECK(top_model_next_window(m) == 0);
	n = top_model_rows(m, NULL, &q, &rows);
	/* With kernel frames, the kernel function is the leaf. */
	r = find(rows, n, "read_zero", 0);
	CHECK(r != NULL && r->own_win == 1);
	r = find(rows, n, "mid", 0);
	CHECK(r != NULL && r->own_win == 0 && r->total_win == 1);

	r = find(rows, n, "main", 0);
	CHECK(r != NULL);
	if (r) {
		top_format_row(line, sizeof(line), r, 2, 0.01);
		CHECK(strstr(line, "  0.0%  100.0%") == line);
		CHECK(strstr(line, "0.02s") != NULL);
		CHECK(strstr(line, "main (m.c) [prog]") != NULL);
	}
	for (ssize_t i = 0; i < n; i++) {
		if (strncmp(rows[i].function, "evil", 4) != 0)
			continue;
		top_format_row(line, sizeof(line), &rows[i], 2, 0.01);
		CHECK(strstr(line, " 50.0%") == line);
		CHECK(strchr(line, '\x1b') == NULL && strchr(line, '\n') == NULL);
		CHECK(strstr(line, "evil?[2J??fn [prog]") != NULL);
	}
	/* A narrow buffer is cut, never overrun. */
	memset(line, 'x', sizeof(line));
	CHECK(top_format_row(line, 12, &rows[0], 2, 0.01) == 11);
	CHECK(line[11] == '\0' && line[12] == 'x');
	top_model_free(m);
}

/* The header marks the sort column and names what the rows show; its
 * columns line up with the rows'. */
static void test_header(void)
{
	struct top_row r = { .function = "f", .file = "/src/f.c", .module = "[vdso]",
			     .own_win = 1, .total_win = 1, .own_all = 1, .total_all = 1 };
	char head[256], row[256];
	size_t len;

	len = top_table_header(head, sizeof(head), TOP_SORT_OWN_TIME, false);
	CHECK(len == strlen(head));
	CHECK(strstr(head, "*OwnTime") != NULL);
	CHECK(strstr(head, "*%Own") == NULL && strstr(head, "*TotalTime") == NULL);
	CHECK(strstr(head, "Function (file)") != NULL && strstr(head, "file:line") == NULL);
	top_format_row(row, sizeof(row), &r, 1, 0.01);
	/* The function column starts where its title does. */
	CHECK(strstr(row, "f (f.c)") - row == strstr(head, "Function") - head);
	/* A module already bracketed is not bracketed twice. */
	CHECK(strstr(row, " [vdso]") != NULL && strstr(row, "[[vdso]]") == NULL);

	top_table_header(head, sizeof(head), TOP_SORT_TOTAL, true);
	CHECK(strstr(head, "*%Total") != NULL && strstr(head, "Function (file:line)") != NULL);
	/* The same widths whichever column is marked. */
	CHECK(strlen(head) == top_table_header(row, sizeof(row), TOP_SORT_OWN, true));
	memset(head, 'x', sizeof(head));
	CHECK(top_table_header(head, 10, TOP_SORT_OWN, false) < 10 && head[9] == '\0');
}

/* Once the program is gone the window since the last refresh is empty:
 * the whole run's shares are shown instead of a table of 0.0 %. */
static void test_whole_run(void)
{
	struct top_model *m = top_model_new();
	struct top_query q = { .sort = TOP_SORT_OWN };
	static const uint64_t s[] = { A_LEAF10, A_MAIN };
	const struct top_row *rows, *r;
	ssize_t n;

	CHECK(m != NULL);
	if (!m)
		return;
	add(m, 1, s, 2, 3);
	CHECK(top_model_next_window(m) == 0);
	CHECK(top_model_next_window(m) == 0);          /* an empty last window */
	n = top_model_rows(m, NULL, &q, &rows);
	r = find(rows, n, "leaf", 0);
	CHECK(r != NULL && r->own_win == 0 && r->own_all == 3);
	q.whole_run = true;
	n = top_model_rows(m, NULL, &q, &rows);
	r = find(rows, n, "leaf", 0);
	CHECK(r != NULL && r->own_win == 3 && r->total_win == 3);
	top_model_free(m);
}

/* Windows on a steady clock: a sample closes the window its time is past,
 * whenever it is added. */
static void test_clock(void)
{
	struct top_model *m = top_model_new();
	static const uint64_t s[] = { A_LEAF10, A_MAIN };

	CHECK(m != NULL);
	if (!m)
		return;
	CHECK(top_model_clock(m, 5000) == 0);           /* no clock set */
	top_model_set_windows(m, 1000, 100);
	CHECK(top_model_clock(m, 1000) == 0);
	add(m, 1, s, 2, 2);
	CHECK(top_model_clock(m, 1099) == 0);
	add(m, 1, s, 2, 1);
	/* At 1100 the first window [1000, 1100) closes with its 3. */
	CHECK(top_model_clock(m, 1100) == 1);
	CHECK_EQ_U64(top_model_window_total(m, 0), 3);
	add(m, 1, s, 2, 5);
	CHECK(top_model_clock(m, 1150) == 0);
	/* Far later: [1100, 1200) closes with its 5; the empty windows up to
	 * 1450 are skipped, the next ends at 1500. */
	CHECK(top_model_clock(m, 1450) == 1);
	CHECK_EQ_U64(top_model_window_total(m, 0), 5);
	CHECK(top_model_clock(m, 1499) == 0);
	CHECK(top_model_clock(m, 1500) == 1);
	CHECK_EQ_U64(top_model_window_total(m, 0), 0);
	CHECK_EQ_U64(top_model_all_total(m, 0), 8);
	top_model_free(m);
}

/* --subprocesses: the rows and totals of one process (the 'p' key). */
static void test_processes(void)
{
	struct top_model *m = top_model_new();
	struct top_query q = { .sort = TOP_SORT_OWN_TIME };
	static const uint64_t deep[] = { A_LEAF10, A_REC, A_MAIN };
	static const uint64_t in_mid[] = { A_MID, A_MAIN };
	const struct top_row *rows, *r;
	ssize_t n;

	CHECK(m != NULL);
	if (!m)
		return;
	/* Process 10: two threads in rec; process 20 (a worker): one in mid. */
	CHECK(top_model_add(m, 10, 10, "parent", deep, 3, 2) == 0);
	CHECK(top_model_add(m, 10, 11, "helper", deep, 3, 1) == 0);
	CHECK(top_model_add(m, 20, 21, "worker", in_mid, 2, 4) == 0);
	CHECK(top_model_next_window(m) == 0);
	CHECK_EQ_U64(top_model_window_process_total(m, 0), 7);
	CHECK_EQ_U64(top_model_window_process_total(m, 10), 3);
	CHECK_EQ_U64(top_model_window_process_total(m, 20), 4);
	CHECK_EQ_U64(top_model_all_process_total(m, 20), 4);
	CHECK_EQ_U64(top_model_window_process_total(m, 30), 0);
	q.pid = 20;
	n = top_model_rows(m, NULL, &q, &rows);
	CHECK(find(rows, n, "rec", 0) == NULL);
	r = find(rows, n, "mid", 0);
	CHECK(r != NULL && r->own_win == 4);
	q.pid = 10;
	n = top_model_rows(m, NULL, &q, &rows);
	CHECK(find(rows, n, "mid", 0) == NULL);
	r = find(rows, n, "rec", 0);
	CHECK(r != NULL && r->total_win == 3);
	top_model_free(m);
}

static void test_procfs(void)
{
	static const char stat_line[] =
		"42 (a) b) c) R 1 42 42 0 -1 4194304 100 0 0 0 250 75 0 0 20 0 1 0";
	unsigned long long ticks = 0;
	struct proc_usage u;

	CHECK(procfs_parse_stat_cpu(stat_line, strlen(stat_line), &ticks) == 0);
	CHECK_EQ_U64(ticks, 325);
	CHECK(procfs_parse_stat_cpu("42 (x) R 1", 10, &ticks) < 0);
	CHECK(procfs_parse_stat_cpu("no paren", 8, &ticks) < 0);

	CHECK(procfs_proc_usage(getpid(), &u) == 0);
	CHECK(u.threads >= 1);
	CHECK(u.running >= 1);           /* this thread, reading */
	CHECK(u.rss_bytes > 0);
	CHECK(procfs_proc_usage(0x3fffffff, &u) < 0);
}

static void test_text(void)
{
	char buf[16];
	size_t n;

	buf[0] = '\0';
	n = text_append_safe(buf, sizeof(buf), 0, "a\tb\xc3\xa9\xff");
	CHECK_STR(buf, "a?b\xc3\xa9?");
	CHECK_EQ_U64(n, 6);
	/* A character that does not fit whole is left out. */
	n = text_append_safe(buf, 5, 0, "abc\xc3\xa9");
	CHECK_STR(buf, "abc");
	CHECK_EQ_U64(n, 3);
	/* C1 controls, UTF-8 encoded (the 8-bit CSI U+009B) or raw, and DEL;
	 * U+00A0 just after the C1 range is text. */
	n = text_append_safe(buf, sizeof(buf), 0, "x\xc2\x9b" "2J\x9b\x7f\xc2\xa0");
	CHECK_STR(buf, "x??2J??\xc2\xa0");
	CHECK_EQ_U64(n, 9);
	{
		char *out = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);

		CHECK(f != NULL);
		if (f) {
			text_put_safe(f, "\x1b]0;t\x07\xc2\x85ok", 64);
			text_put_safe(f, NULL, 64);
			text_put_safe(f, "cut here", 3);
			fclose(f);
			CHECK_STR(out, "?]0;t???okcut");
		}
		free(out);
	}
}

int main(void)
{
	test_counts();
	test_kernel_and_format();
	test_header();
	test_whole_run();
	test_clock();
	test_processes();
	test_procfs();
	test_text();
	return check_status();
}
