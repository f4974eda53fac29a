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
#include <stdio.h>

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

#endif
