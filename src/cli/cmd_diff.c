/*
 * cmd_diff.c - hotspy diff: a differential flamegraph of two folded
 * profiles. The graph has AFTER's shape; each frame is coloured by how its
 * samples changed against the same path in BEFORE (red more, blue fewer).
 * Or, with -f folded, the two-column text "STACK BEFORE AFTER" that
 * `hotspy flamegraph` (and flamegraph.pl) draw the same way. Either
 * profile may be a pprof file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "files.h"
#include "flametree.h"
#include "input.h"
#include "log.h"
#include "outfile.h"
#include "pprof.h"
#include "svg.h"

#include "banned.h"

/* Read folded (or pprof) file @name into a new sorted tree; NULL after
 * reporting. With @draw, the tree is only drawn with these options: what
 * they leave out need not be read (flametree_set_prune). With @shape, the
 * tree is only looked up along @shape's paths (flametree_set_shape). */
static struct flametree *read_tree(const char *name, bool reverse,
				   const struct svg_options *draw, const struct flametree *shape)
{
	struct flametree_stats st = { 0 };
	struct pprof_read_options po = { .reverse = reverse };
	struct flametree_limits lim;
	struct flametree *t;
	FILE *in;
	int err;

	if (input_limits(&lim) < 0 || input_open(name, &in) < 0)
		return NULL;
	t = flametree_new();
	if (!t) {
		err = -ENOMEM;
	} else {
		flametree_set_limits(t, &lim);
		if (draw) {
			double num, den;

			svg_cut(draw, &num, &den);
			flametree_set_prune(t, num, den);
		}
		flametree_set_shape(t, shape);
		err = pprof_input_is(in, name) ? pprof_read(t, in, &po, NULL) :
		      flametree_read_folded(t, in, reverse, &st);
	}
	input_close(in);
	if (err == -EINVAL) {
		log_error(err, "cannot read %s: not a pprof profile, or a damaged one", name);
		flametree_free(t);
		return NULL;
	}
	if (err == 0)
		err = flametree_sort(t);
	if (err < 0) {
		input_error(err, name, st.long_line, &lim);
		flametree_free(t);
		return NULL;
	}
	if (st.malformed)
		log_warn("%zu malformed line%s in %s skipped (the first is line %zu): a line is "
			 "'frame;frame;... COUNT'", st.malformed, st.malformed == 1 ? "" : "s",
			 name, st.first_malformed);
	if (flametree_total(t) <= 0) {
		log_error(-EINVAL, "no stacks in %s: the file is empty or has no line "
			  "'frame;frame;... COUNT' with a count above 0", name);
		flametree_free(t);
		return NULL;
	}
	return t;
}

/* Folded when asked, or when -o names a file that is not .svg. */
static bool want_folded(const struct options *o, const char *path)
{
	size_t len = strlen(path);

	if (o->format != FORMAT_AUTO)
		return o->format == FORMAT_FOLDED;
	return strcmp(path, "-") != 0 && !(len > 4 && strcmp(path + len - 4, ".svg") == 0);
}

int cmd_diff(const struct options *o)
{
	const char *path = o->output ? o->output : "-";
	bool folded = want_folded(o, path);
	/* The two-column text keeps stacks root first, as its readers expect. */
	bool reverse = o->reverse && !folded;
	struct flametree *before, *after = NULL;
	struct outfile *out = NULL;
	struct svg_options so;
	double scale;
	int err;

	/* BEFORE is looked up at every frame drawn, whatever its width
	 * there: only AFTER, the shape drawn, may leave out what is not.
	 * For a graph, AFTER is read first, and of BEFORE's tails that no
	 * other stack shares only what lies along AFTER's paths is kept: the
	 * graph looks nothing else up. The folded text needs both whole. */
	config_svg(&so, o);
	if (folded) {
		before = read_tree(o->input, reverse, NULL, NULL);
		if (before)
			after = read_tree(o->input2, reverse, NULL, NULL);
	} else {
		after = read_tree(o->input2, reverse, &so, NULL);
		before = after ? read_tree(o->input, reverse, NULL, after) : NULL;
	}
	if (!after || !before) {
		flametree_free(before);
		flametree_free(after);
		return 1;
	}
	err = outfile_open(path, &out);
	if (err < 0) {
		files_write_error(path, err);
		goto fail;
	}
	scale = o->normalize ? flametree_total(after) / flametree_total(before) : 1;
	if (folded) {
		err = flametree_write_diff_folded(outfile_stream(out), before, after, scale);
	} else {
		so.before = before;
		so.before_scale = scale;
		if (!so.title)
			so.title = "Differential Flame Graph";
		err = svg_write(outfile_stream(out), after, &so);
	}
	err = outfile_error(out, err);
	if (err == 0)
		err = outfile_commit(out);
	else
		outfile_abort(out);
	if (err < 0) {
		files_write_error(path, err);
		goto fail;
	}
	if (!o->quiet && strcmp(path, "-") != 0)
		fprintf(stderr, "hotspy: compared %s with %s; wrote %s\n", o->input2, o->input, path);
	flametree_free(before);
	flametree_free(after);
	return 0;
fail:
	flametree_free(before);
	flametree_free(after);
	return 1;
}
