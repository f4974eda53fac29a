/*
 * speedscope.h - the speedscope file format (https://www.speedscope.app,
 * schema: file-format-schema.json of the npm package "speedscope").
 *
 * One "sampled" profile per thread, named "THREAD (TID)" (with the process
 * in front when more than one process was profiled), sharing one table of
 * frames {name, file, line}: one per function (with its file), or with
 * --lines one per function and line. A C++ frame is named by its full
 * signature (frame.h), which the short name of other outputs leaves out. Weights are milliseconds of the time model the
 * profile was recorded in (one sample = 1000 / rate ms).
 *
 * hotspy keeps counts per distinct stack, not a time line: each distinct
 * stack of a thread is one sample with its total weight, in a stable order
 * (by frames, root first). speedscope's "Left Heavy" and "Sandwich" views
 * are exact; its "Time Order" view shows the stacks merged, not as they
 * came.
 */
#ifndef HOTSPY_SPEEDSCOPE_H
#define HOTSPY_SPEEDSCOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "flametree.h"
#include "profile.h"
#include "symbols.h"

struct speedscope_options {
	unsigned rate;          /* samples per second the weights stand for */
	const char *name;       /* the file's name (shown by speedscope), or NULL */
	bool lines;             /* one frame per source line (--lines) rather than
				 * one per function */
};

/* Returns 0, -ENOMEM, or -EIO when writing failed. */
int speedscope_write(FILE *out, const struct profile *p, struct symbolizer *sym,
		     const struct speedscope_options *opts);

/* What speedscope_read learned of a file. */
struct speedscope_info {
	const char *unit;       /* of the weights added: "milliseconds" (any
				 * time unit is converted), "samples" (the
				 * schema's "none"), "bytes"; a static string */
	size_t profiles;        /* profiles read */
	size_t skipped;         /* profiles of a type not read */
	const char *error;      /* on -EINVAL: what was wrong (static) */
	size_t error_at;        /* and the byte offset where, when known */
};

/*
 * Add the stacks of the speedscope file @buf[0..len) to @t: the "sampled"
 * and "evented" profiles of the schema (hotspy writes sampled ones). Each
 * stack is added root first under two levels that are no frames: the
 * file's "name" (the process, as a folded file's root; "speedscope" when
 * it has none), then the profile's name (the thread: one profile per
 * thread). A frame's level is named as the file names it, followed by
 * " (file:line)" when @lines and the file gives a line; its file and line
 * go to flametree_set_info. Evented profiles weigh each stack by the time
 * between its events. Returns 0; -EINVAL for a file that is no speedscope
 * profile or breaks the schema (info->error says how: a frame index out
 * of range, samples and weights of different lengths, unbalanced events,
 * profiles in different units...), -ENOMEM. Stacks added before an error
 * stay in @t: the caller discards it.
 */
int speedscope_read(struct flametree *t, const char *buf, size_t len, bool lines,
		    struct speedscope_info *info);

#endif
