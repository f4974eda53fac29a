/*
 * svg.h - the interactive SVG flamegraph, rendered from a flametree.
 *
 * Self-contained: one file with its styles and script. Hover shows a frame's
 * name, samples and share; click zooms (ancestors kept, "Reset Zoom" undoes);
 * "Search" (or Ctrl-F) highlights frames matching a regular expression and
 * shows "Matched: P%" without counting nested matches twice; zoom and search
 * are kept in the URL. Names are untrusted: they appear only in XML text
 * nodes and attributes, escaped, with invalid UTF-8 and control bytes
 * replaced, never inside the script. Identical trees give identical bytes.
 */
#ifndef HOTSPY_SVG_H
#define HOTSPY_SVG_H

#include <stdbool.h>
#include <stdio.h>

#include "flametree.h"

enum svg_palette {
	SVG_COLORS_HOT,
	SVG_COLORS_MEM,
	SVG_COLORS_IO,
	SVG_COLORS_KIND,  /* by the kind the tree holds for each name
			   * (flametree_kind): kernel, inlined, JIT, and
			   * every other kind as native */
};

struct svg_options {
	const char *title;      /* NULL: "Flame Graph" */
	const char *subtitle;   /* NULL: none */
	unsigned width;         /* image width in px; 0: 1200 */
	unsigned frame_height;  /* px per frame; 0: 16 */
	double minwidth;        /* frames narrower are left out; 0: 0.1 px */
	bool minwidth_percent;  /* minwidth is a percent of the total */
	bool inverted;          /* icicle: roots at the top */
	enum svg_palette colors;
	const char *count_name; /* NULL: "samples" */
	/* Differential graph: the shape is the tree written, colours compare
	 * each frame with the same path in @before (red: more now, blue: less),
	 * whose weights are multiplied by @before_scale. NULL: a plain graph. */
	const struct flametree *before;
	double before_scale;    /* 0 taken as 1 */
};

/*
 * The narrowest frame drawn: frames whose total is below the graph's total
 * * @num / @den (computed so) are left out (--minwidth). For
 * flametree_set_prune.
 */
void svg_cut(const struct svg_options *o, double *num, double *den);

/* Parse a palette name (hot, mem, io, kind). 0 or -EINVAL. */
int svg_palette_parse(const char *s, enum svg_palette *out);

/*
 * Write the flamegraph of @t (sorted with flametree_sort) to @out.
 * 0, -ENOMEM, or -EIO when writing failed.
 */
int svg_write(FILE *out, const struct flametree *t, const struct svg_options *opts);

/*
 * Write @s[0..len) to @out escaped for XML text and attribute values:
 * & < > " ' as entities, invalid UTF-8 as U+FFFD, control bytes as '?',
 * and at most @max bytes of input (then "..."). Exposed for tests.
 */
void svg_escape(FILE *out, const char *s, size_t len, size_t max);

#endif
