/*
 * cmd_flamegraph.c - hotspy flamegraph: folded stacks from a file or stdin
 * to an interactive SVG. Malformed lines are counted and reported, never
 * fatal; an input without a single stack is an error. Two-column input
 * ("STACK BEFORE AFTER") is drawn as a differential flamegraph. A pprof
 * file (gzip'd, or a plain .pb/.pprof protobuf) is read too.
 */
#include <errno.h>
#include <stdbool.h>
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

/* A pprof file into @t; 0 or -errno (reported). */
static int read_pprof(struct flametree *t, FILE *in, const char *name, const struct options *o,
		      const struct flametree_limits *l, size_t *samples)
{
	struct pprof_read_options po = { .reverse = o->reverse };
	struct pprof_read_stats st;
	int err = pprof_read(t, in, &po, &st);

	if (err == -EINVAL)
		return log_error(err, "cannot read %s: not a pprof profile, or a damaged one "
				 "(at most %u MiB)", name, PPROF_INPUT_MAX >> 20);
	if (err < 0)
		return input_error(err, name, 0, l);
	if (st.skipped)
		log_warn("%zu samples of %s skipped: no %s value, or unknown locations",
			 st.skipped, name, st.value_type);
	*samples = st.samples;
	return 0;
}

int cmd_flamegraph(const struct options *o)
{
	const char *in_name = o->input && strcmp(o->input, "-") ? o->input : NULL;
	const char *path = o->output ? o->output : "-";
	struct flametree_stats st = { 0 };
	struct flametree_limits lim;
	struct svg_options so;
	struct flametree *t = NULL, *before = NULL;
	struct outfile *out = NULL;
	FILE *in = NULL;
	int err;

	if (input_limits(&lim) < 0 || input_open(in_name, &in) < 0)
		return 1;
	t = flametree_new();
	before = flametree_new();
	if (!t || !before) {
		log_error(-ENOMEM, "out of memory");
		goto fail;
	}
	flametree_set_limits(t, &lim);
	flametree_set_limits(before, &lim);
	/* BEFORE of a two-column input is only looked up along the paths of
	 * the graph's tree: the tails no other stack shares are kept only as
	 * far as those go. */
	flametree_set_shape(before, t);
	/* The graph is all that is made of the tree: what it leaves out need
	 * not be read. BEFORE is not pruned by width: it is looked up at
	 * every frame drawn, however narrow it is there. */
	config_svg(&so, o);
	{
		double num, den;

		svg_cut(&so, &num, &den);
		flametree_set_prune(t, num, den);
	}
	if (pprof_input_is(in, in_name)) {
		if (read_pprof(t, in, in_name ? in_name : "stdin", o, &lim, &st.lines) < 0)
			goto fail;
		err = 0;
	} else {
		err = flametree_read_folded_pair(t, before, in, o->reverse, &st);
	}
	if (err < 0) {
		input_error(err, in_name ? in_name : "stdin", st.long_line, &lim);
		goto fail;
	}
	if (st.malformed)
		log_warn("%zu malformed line%s in %s skipped (the first is line %zu): a line is "
			 "'frame;frame;... COUNT'", st.malformed, st.malformed == 1 ? "" : "s",
			 in_name ? in_name : "stdin", st.first_malformed);
	if (flametree_total(t) <= 0) {
		log_error(-EINVAL, "no stacks in %s: the input is empty or has no line "
			  "'frame;frame;... COUNT' with a count above 0",
			  in_name ? in_name : "stdin");
		goto fail;
	}
	if (flametree_sort(t) < 0 || flametree_sort(before) < 0) {
		log_error(-ENOMEM, "out of memory");
		goto fail;
	}
	err = outfile_open(path, &out);
	if (err < 0) {
		files_write_error(path, err);
		goto fail;
	}
	if (st.columns == 2) {
		so.before = before;
		if (!so.title)
			so.title = "Differential Flame Graph";
	}
	err = outfile_error(out, svg_write(outfile_stream(out), t, &so));
	if (err == 0)
		err = outfile_commit(out);
	else
		outfile_abort(out);
	out = NULL;
	if (err < 0) {
		files_write_error(path, err);
		goto fail;
	}
	if (!o->quiet && strcmp(path, "-") != 0)
		fprintf(stderr, "hotspy: %zu stacks, %zu frames; wrote %s\n", st.lines,
			flametree_count(t) - 1 + flametree_pruned(t), path);
	flametree_free(t);
	flametree_free(before);
	input_close(in);
	return 0;
fail:
	flametree_free(t);
	flametree_free(before);
	input_close(in);
	return 1;
}
