/*
 * folded.h - the folded-stacks format: one line per distinct stack,
 *   root;caller;...;leaf COUNT
 * as flamegraph.pl, inferno and speedscope read it.
 *
 * The writer names every address with the symbolizer, aggregates stacks
 * whose names are equal (many addresses map to one function), and writes the
 * lines sorted bytewise so identical profiles give identical files.
 */
#ifndef HOTSPY_FOLDED_H
#define HOTSPY_FOLDED_H

#include <stdbool.h>
#include <stdio.h>

#include "profile.h"
#include "symbols.h"

struct folded_options {
	bool threads;   /* insert a "name (tid)" frame below the process root */
	bool lines;     /* "function (file:line)" where the line is known */
	/* Called (when set) for each frame written, with its name exactly as
	 * written (@len bytes, suffix included), so that a writer drawing from
	 * the folded text can say where the frame comes from. Non-zero stops
	 * the writing and is returned. */
	int (*on_frame)(void *ctx, const char *name, size_t len, const struct frame *f);
	void *on_frame_ctx;
};

/*
 * Write @p to @out. The root frame of each stack is the process name
 * (profile_process_name, else "pid N"). Frame names from the target are
 * made safe for the format: ';' becomes ':', control bytes and newlines
 * become '?', and a name is cut at 1024 bytes. Inlined frames (issue 4)
 * get "_[i]", kernel frames "_[k]".
 * Returns 0, -ENOMEM, or -EIO when writing failed.
 */
int folded_write(FILE *out, const struct profile *p, struct symbolizer *sym,
		 const struct folded_options *opts);

#endif
