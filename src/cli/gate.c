#include "gate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "log.h"
#include "banned.h"

int gate_load(const char *path, bool lines, struct flametree **t, struct report_input *in)
{
	struct flametree_limits lim;
	FILE *f;
	int err;

	*t = NULL;
	memset(in, 0, sizeof(*in));
	if (input_limits(&lim) < 0 || input_open(path, &f) < 0)
		return -EINVAL;
	*t = flametree_new();
	if (!*t) {
		input_close(f);
		return log_error(-ENOMEM, "out of memory");
	}
	flametree_set_limits(*t, &lim);
	err = report_read_file(*t, f, lines, in);
	input_close(f);
	if (err == -EINVAL)
		log_error(err, "cannot read %s: %s \xe2\x80\x94 report reads the folded, "
			  "speedscope and pprof files hotspy writes", path, in->error);
	else if (err < 0)
		input_error(err, path, in->long_line, &lim);
	else if (in->malformed)
		log_warn("%zu malformed line%s in %s skipped (the first is line %zu): a line is "
			 "'frame;frame;... COUNT'", in->malformed, in->malformed == 1 ? "" : "s",
			 path, in->first_malformed);
	if (err < 0) {
		flametree_free(*t);
		*t = NULL;
	}
	return err;
}

/* Add what @r takes in each of @p[0..n). */
static int measure_all(const struct rule *r, const struct gate_profile *p, size_t n,
		       struct rule_measure *m)
{
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < n; i++) {
		int err = rule_measure(r, p[i].tree, p[i].thread_level, m);

		if (err < 0)
			return log_error(err, "out of memory judging %s", r->text);
	}
	return 0;
}

int gate_judge(const struct options *o, const struct gate_profile *now, size_t n,
	       struct rule_result *results)
{
	struct flametree *base = NULL;
	struct report_input in;
	struct gate_profile bp = { 0 };
	int violated = 0, err = 0;

	if (o->baseline) {
		if (gate_load(o->baseline, o->lines, &base, &in) < 0)
			return -EINVAL;
		bp = (struct gate_profile){ .tree = base, .thread_level = in.thread_level };
	}
	for (size_t i = 0; i < o->nrules; i++) {
		const struct rule *r = &o->rules[i];
		struct rule_measure m, mb;

		if ((err = measure_all(r, now, n, &m)) < 0)
			break;
		if (r->kind == RULE_INCREASE && (err = measure_all(r, &bp, 1, &mb)) < 0)
			break;
		rule_judge(r, &m, r->kind == RULE_INCREASE ? &mb : NULL, &results[i]);
		if (results[i].violated) {
			fputs("hotspy: threshold violated: ", stderr);
			rule_describe(stderr, &results[i]);
			violated++;
		} else if (o->verbose) {
			fputs("hotspy: threshold met: ", stderr);
			rule_describe(stderr, &results[i]);
		}
	}
	flametree_free(base);
	if (err < 0)
		return err;
	if (!o->quiet && o->nrules)
		fprintf(stderr, "hotspy: %zu of %zu threshold rule%s met%s\n",
			o->nrules - (size_t)violated, o->nrules, o->nrules == 1 ? "" : "s",
			violated ? "; exit status 3" : "");
	return violated;
}
