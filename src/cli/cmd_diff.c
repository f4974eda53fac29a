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

/* One input: opened (read_open), then read (read_tree), its errors and
 * warnings told later (read_report), so that the messages keep the order
 * of the command line whatever the order of reading. */
struct read_result {
	const char *name;
	FILE *in;
	struct flametree *t;            /* NULL: failed */
	struct flametree_stats st;
	struct flametree_limits lim;
	int err;
};

/* Open input @name into @r: 0, or -1 after reporting. */
static int read_open(struct read_result *r, const char *name)
{
	*r = (struct read_result){ .name = name };
	return input_limits(&r->lim) < 0 || input_open(name, &r->in) < 0 ? -1 : 0;
}

/* Read the folded (or pprof) input of @r into a new sorted tree, and close
 * it. With @draw, the tree is only drawn with these options: what they
 * leave out need not be read (flametree_set_prune). With @shape, the tree
 * is only looked up along @shape's paths (flametree_set_shape). */
static void read_tree(struct read_result *r, bool reverse, const struct svg_options *draw,
		      const struct flametree *shape)
{
	struct pprof_read_options po = { .reverse = reverse };
	struct flametree *t = flametree_new();
	int err;

	if (!t) {
		err = -ENOMEM;
	} else {
		flametree_set_limits(t, &r->lim);
		if (draw) {
			double num, den;

			svg_cut(draw, &num, &den);
			flametree_set_prune(t, num, den);
		}
		flametree_set_shape(t, shape);
		err = pprof_input_is(r->in, r->name) ? pprof_read(t, r->in, &po, NULL) :
		      flametree_read_folded(t, r->in, reverse, &r->st);
	}
	input_close(r->in);
	r->in = NULL;
	if (err == 0)
		err = flametree_sort(t);
	if (err == 0 && flametree_total(t) <= 0)
		err = -ENODATA;
	if (err < 0) {
		flametree_free(t);
		r->err = err;
		return;
	}
	r->t = t;
}

/* Tell what read_tree kept: 0 when @r has its tree, -1 after reporting. */
static int read_report(const struct read_result *r)
{
	if (r->err == -EINVAL) {
		log_error(r->err, "cannot read %s: not a pprof profile, or a damaged one", r->name);
		return -1;
	}
	if (r->err < 0 && r->err != -ENODATA) {
		input_error(r->err, r->name, r->st.long_line, &r->lim);
		return -1;
	}
	if (r->st.malformed)
		log_warn("%zu malformed line%s in %s skipped (the first is line %zu): a line is "
			 "'frame;frame;... COUNT'", r->st.malformed, r->st.malformed == 1 ? "" : "s",
			 r->name, r->st.first_malformed);
	if (r->err == -ENODATA) {
		log_error(-EINVAL, "no stacks in %s: the file is empty or has no line "
			  "'frame;frame;... COUNT' with a count above 0", r->name);
		return -1;
	}
	return 0;
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
	struct read_result rb, ra;
	struct flametree *before = NULL, *after = NULL;
	struct outfile *out = NULL;
	struct svg_options so;
	double scale;
	int err;

	/* BEFORE is looked up at every frame drawn, whatever its width
	 * there: only AFTER, the shape drawn, may leave out what is not.
	 * For a graph, AFTER is read first, and of BEFORE's tails that no
	 * other stack shares only what lies along AFTER's paths is kept: the
	 * graph looks nothing else up. The folded text needs both whole.
	 * Either way BEFORE's messages come first. */
	config_svg(&so, o);
	if (read_open(&rb, o->input) < 0)
		return 1;
	if (folded) {
		read_tree(&rb, reverse, NULL, NULL);
		if (read_report(&rb) == 0 && read_open(&ra, o->input2) == 0) {
			read_tree(&ra, reverse, NULL, NULL);
			if (read_report(&ra) == 0)
				after = ra.t;
		}
		before = rb.t;
	} else {
		if (read_open(&ra, o->input2) < 0) {
			input_close(rb.in);
			return 1;
		}
		read_tree(&ra, reverse, &so, NULL);
		read_tree(&rb, reverse, NULL, ra.t);
		if (read_report(&rb) == 0 && read_report(&ra) == 0)
			after = ra.t;
		else
			flametree_free(ra.t);
		before = rb.t;
	}
	if (!after) {
		flametree_free(before);
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
