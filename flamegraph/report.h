/*
 * report.h - the top functions of one or more profiles, by self and total
 * share, as text, JSON (schema "hotspy-report/1", docs/report.md) or a
 * Markdown table; and the reading of any profile file hotspy writes.
 *
 * A profile's stacks are root first: the process, then (when the input has
 * one) a thread level "NAME (TID)", then the frames. Only frames become
 * rows. A row is a function: a frame's level name with the line cut from
 * its place ("f (file.c:12)" and "f (file.c:40)" are one row "f (file.c)"),
 * or with report_options.lines a source line (the level name as it is:
 * lines appear only in profiles recorded with --lines). A row's total
 * counts each sample once, however many times the function is on its
 * stack (recursion).
 */
#ifndef HOTSPY_REPORT_H
#define HOTSPY_REPORT_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "flametree.h"
#include "rule.h"

/* The parts of a level name "FUNCTION[SUFFIX][ (PLACE)]", PLACE "FILE[:LINE]". */
struct report_name {
	size_t function_len;    /* the name starts with the function */
	size_t suffixed_len;    /* the function with its kind suffix */
	const char *file;       /* NULL when the name has no place */
	size_t file_len;
	unsigned line;          /* 0 when none */
	enum frame_kind kind;   /* from the suffix */
};
void report_name_split(const char *name, size_t len, struct report_name *out);

/* What a reader learned of one input. */
struct report_input {
	const char *format;     /* "folded", "speedscope", "pprof" (static) */
	const char *unit;       /* of the weights: "samples", "milliseconds", "bytes" */
	bool thread_level;      /* stacks have a thread level */
	size_t malformed;       /* folded lines skipped, the first at line: */
	size_t first_malformed;
	size_t long_line;       /* on -EMSGSIZE: the line past the line limit */
	char error[256];        /* why the read failed */
};

/*
 * Add the profile in @buf[0..len) to @t (a new tree per input: each has its
 * own shape), its format told by its first bytes: gzip (pprof), '{'
 * (speedscope JSON), else folded text. @lines keeps speedscope frames'
 * lines in their names. The folded reader knows a thread level by hotspy's
 * spelling: every name below a process root is "NAME (TID)" (what
 * record --threads writes); a speedscope file has one (a profile per
 * thread), pprof one from its thread labels. Returns 0; -EINVAL (no
 * stacks, malformed) with the reason in in->error; -ENOMEM; -E2BIG past
 * the tree's memory limit; -EMSGSIZE for a folded line past the line
 * limit (in->long_line says which).
 */
int report_read(struct flametree *t, const char *buf, size_t len, bool lines,
		struct report_input *in);

/*
 * The same from @f, read to its end: folded text is read a chunk at a time
 * (memory follows the tree, not the file), a speedscope file whole (at
 * most a quarter of the tree's memory limit, else -E2BIG), a pprof file
 * whole (at most PPROF_INPUT_MAX bytes, else -EINVAL). Also -EIO.
 */
int report_read_file(struct flametree *t, FILE *f, bool lines, struct report_input *in);

/*
 * Walk every node of @t under the root, parents before children: @enter
 * with the node and its depth (1: the tree's first level), and @leave once
 * its children are done. Stops at the first error @enter returns.
 */
int report_walk(const struct flametree *t,
		int (*enter)(const struct flametree_node *n, unsigned depth, void *ctx),
		void (*leave)(const struct flametree_node *n, unsigned depth, void *ctx),
		void *ctx);

struct report_options {
	unsigned top;           /* rows shown (per thread); 0: all */
	bool by_total;          /* order by total share instead of self */
	bool threads;           /* rows per thread */
	bool lines;             /* rows per source line */
	const regex_t *match;   /* only rows whose name it finds, or NULL */
};

/* What the JSON says of the recording; NULL / 0 where unknown. */
struct report_meta {
	const char *time_model;         /* "on-CPU", "wall-clock" */
	const char *sampler;
	double duration;                /* seconds */
	unsigned rate;
	const char *const *paths;       /* the inputs and their formats */
	const char *const *formats;
	size_t ninputs;
	const char *match;              /* the --match text */
};

struct report;

/* A report of nothing yet; NULL with errno. @o is copied. */
struct report *report_new(const struct report_options *o);
void report_free(struct report *r);     /* accepts NULL */

/* Add the rows of tree @t, read as @in says. 0; -EINVAL when its unit is
 * not the unit of what was added before; -ENOMEM. */
int report_add(struct report *r, const struct flametree *t, const struct report_input *in);

/* The weight of everything added, and its unit ("samples" when nothing). */
double report_total(const struct report *r);
const char *report_unit(const struct report *r);
/* Whether every input added had a thread level. */
bool report_has_threads(const struct report *r);

/* The report as aligned text, names escaped for a terminal; 0 or -EIO. */
int report_write_text(FILE *out, struct report *r);
/* As a GitHub-flavoured Markdown table (names escaped); 0 or -EIO. */
int report_write_markdown(FILE *out, struct report *r);
/* As JSON, with @results of @nresults rules judged; 0 or -EIO. */
int report_write_json(FILE *out, struct report *r, const struct report_meta *meta,
		      const struct rule_result *results, size_t nresults);

#endif
