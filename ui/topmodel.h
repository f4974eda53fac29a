/*
 * topmodel.h - the numbers of `hotspy top`, without curses: per function
 * (or per source line), the samples where it was the leaf (own) and where it
 * was anywhere in the stack, counted once per stack (total), over the last
 * refresh window and since the start (or the last reset), for all threads
 * or one.
 *
 * Samples go into two profiles (src/profile: stacks interned), the window's
 * and the cumulative one; top_model_rows names them through a symbolizer,
 * which resolves each distinct address once.
 */
#ifndef HOTSPY_TOPMODEL_H
#define HOTSPY_TOPMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "symbols.h"

enum top_sort {
	TOP_SORT_OWN = 1,       /* %Own: own samples in the window */
	TOP_SORT_TOTAL,         /* %Total: total samples in the window */
	TOP_SORT_OWN_TIME,      /* OwnTime: own samples since the start */
	TOP_SORT_TOTAL_TIME,    /* TotalTime: total samples since the start */
};

struct top_row {
	const char *function;   /* the symbolizer's strings */
	const char *module;
	const char *file;       /* set in line mode, or when the function has one */
	unsigned line;          /* line mode only */
	enum frame_kind kind;   /* of the first frame counted in the row */
	uint64_t own_win, total_win;    /* weights in the window */
	uint64_t own_all, total_all;    /* since the start or reset */
};

struct top_thread {
	pid_t pid, tid;
	const char *name;       /* owned by the model; NULL when never named */
	uint64_t samples_all;
};

struct top_model;

struct top_model *top_model_new(void);          /* NULL without memory; the
                                                 * caller frees it */
void top_model_free(struct top_model *m);        /* accepts NULL */

/* One sample: addresses leaf first (a marker of addrspace.h last when cut);
 * @comm (may be NULL) and @addrs are copied. 0 or -ENOMEM. */
int top_model_add(struct top_model *m, pid_t pid, pid_t tid, const char *comm,
		  const uint64_t *addrs, size_t n, uint64_t weight);
/* A new window: what was added so far stays only in the cumulative counts.
 * 0 or -ENOMEM. */
int top_model_next_window(struct top_model *m);
/*
 * Windows on a steady clock: from @start_ns (CLOCK_MONOTONIC), each
 * @length_ns long. Without it, windows close only by top_model_next_window.
 */
void top_model_set_windows(struct top_model *m, uint64_t start_ns, uint64_t length_ns);
/*
 * The clock reached @now_ns (a sample's time before it is added, or the
 * time of a tick): when that is past the end of the current window, the
 * window closes (top_model_next_window) and the next one is the window
 * that holds @now_ns, the ones between, in which nothing at all was
 * sampled, skipped. Returns 1 when a window closed, 0 when not, -ENOMEM.
 */
int top_model_clock(struct top_model *m, uint64_t now_ns);
/* Forget everything (the `r` key). 0 or -ENOMEM. */
int top_model_reset(struct top_model *m);

struct top_query {
	bool lines;             /* aggregate by (function, file:line) */
	pid_t tid;              /* 0: all threads */
	pid_t pid;              /* 0: all processes (--subprocesses), else
				 * only the threads of this one */
	enum top_sort sort;
	const char *filter;     /* substring of the function, or NULL */
	bool whole_run;         /* the share columns over the whole run (since
				 * the start or the reset), not the window:
				 * the view kept once the program is gone */
};

/*
 * The rows for @q, sorted, in *@rows (owned by @m, valid until the next
 * call). The window is the one closed by the last top_model_next_window;
 * with q->whole_run, own_win and total_win hold the whole run's counts
 * (and the window sorts sort by them). Returns the row count or -ENOMEM.
 */
ssize_t top_model_rows(struct top_model *m, struct symbolizer *sym,
		       const struct top_query *q, const struct top_row **rows);

/* Totals of the closed window and since the start, for @tid (0: all). */
uint64_t top_model_window_total(const struct top_model *m, pid_t tid);
uint64_t top_model_all_total(const struct top_model *m, pid_t tid);
/* The same for the threads of process @pid (0: all). */
uint64_t top_model_window_process_total(const struct top_model *m, pid_t pid);
uint64_t top_model_all_process_total(const struct top_model *m, pid_t pid);
/* Weight of the cumulative samples whose walk was cut (a marker). */
uint64_t top_model_all_cut(const struct top_model *m);

/*
 * One table line for @r into @buf: "%Own %Total OwnTime TotalTime Function
 * (file:line) [module]". Percentages of @win_total (weights of the window;
 * 0 shows 0 %), times in seconds at @period seconds per unit of weight.
 * Names from the target have their control characters replaced. Returns
 * the length written (cut to @size - 1).
 */
size_t top_format_row(char *buf, size_t size, const struct top_row *r, uint64_t win_total,
		      double period);
/*
 * The header line of the table into @buf, the same widths as
 * top_format_row's: the column @sort orders by is marked with a '*' in
 * front of its title, and the last column says what the rows name
 * ("Function (file)", or "Function (file:line)" when @lines). Returns the
 * length written (cut to @size - 1).
 */
size_t top_table_header(char *buf, size_t size, enum top_sort sort, bool lines);

/* Threads seen since the start, in the order first seen: returns their
 * count, and the array in *@threads (owned by @m, valid until the next
 * top_model_add or top_model_reset). */
size_t top_model_threads(const struct top_model *m, const struct top_thread **threads);

#endif
