/*
 * folded.h - the folded-stacks format: one line per distinct stack,
 *   root;caller;...;leaf COUNT
 * as flamegraph.pl, inferno and speedscope read it.
 *
 * The writer names every address with the symbolizer, aggregates stacks
 * whose names are equal (many addresses map to one function), and writes the
 * lines sorted bytewise so identical profiles give identical files.
 *
 * The same names go straight into a frame tree (folded_tree_add) for the
 * flamegraph of a recording: no text in between, and each frame keeps where
 * it comes from and its kind.
 */
#ifndef HOTSPY_FOLDED_H
#define HOTSPY_FOLDED_H

#include <stdbool.h>
#include <stdio.h>

#include "flametree.h"
#include "profile.h"
#include "symbols.h"

/* Longest name from the target kept in a frame's name, in bytes. */
#define FOLDED_NAME_MAX 1024

/* Frame names built in one growable buffer; the owner frees s. Every
 * reader and writer that spells a frame as folded text uses these, so a
 * frame has one spelling: folded_write's. */
struct folded_text {
	char *s;
	size_t len, cap;
};

/* Append @s[0..len) as it is. 0 or -ENOMEM. */
int folded_text_add(struct folded_text *t, const char *s, size_t len);
/* Append a name from the target made safe for the format: ';' becomes ':',
 * control bytes '?', cut at FOLDED_NAME_MAX bytes. 0 or -ENOMEM. */
int folded_text_add_name(struct folded_text *t, const char *name);
/* Append a short piece of our own ("pid %d"), cut at 63 bytes. 0 or
 * -ENOMEM. */
int folded_text_addf(struct folded_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append how a frame of kind f->kind is spelt: the function, the kind's
 * suffix, and "(file)" for a Python frame ("(file:line)" with @lines), or
 * "(path:line)" for another frame with @lines and a line. 0 or -ENOMEM. */
int folded_text_add_frame(struct folded_text *t, const struct frame *f, bool lines);

struct folded_options {
	bool threads;   /* insert a "name (tid)" frame below the process root */
	bool lines;     /* "function (file:line)" where the line is known */
};

/*
 * Write @p to @out. The root frame of each stack is the process name
 * (profile_process_name, else "pid N"). Frame names from the target are
 * made safe for the format: ';' becomes ':', control bytes and newlines
 * become '?', and a name is cut at 1024 bytes. A frame's kind is its
 * suffix (frame_kind_suffix: "_[i]" inlined, "_[k]" kernel, "_[j]" JIT).
 * @opts may be NULL (no thread level, no lines). The symbolizer is only
 * read from (its cache fills). Returns 0, -ENOMEM, or -EIO when writing
 * failed.
 */
int folded_write(FILE *out, const struct profile *p, struct symbolizer *sym,
		 const struct folded_options *opts);

/*
 * Add every (thread, stack) of @p to @t with its count, each level named
 * exactly as folded_write names it (the same code spells both), root first,
 * or leaf first when @reverse. Frames from the symbolizer bring their kind
 * and place (module, file, line) to the tree (flametree_add_frames); the
 * process and thread levels bring neither. Nothing of @p or @sym is kept.
 * Returns 0 or -ENOMEM.
 */
int folded_tree_add(struct flametree *t, const struct profile *p, struct symbolizer *sym,
		    const struct folded_options *opts, bool reverse);

#endif
