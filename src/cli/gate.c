#include "gate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "banned.h"

/* Profiles bigger than this are refused rather than read into memory. */
#define GATE_FILE_MAX (1024u * 1024 * 1024)

/* The whole of @path in a new buffer; 0 or -errno. */
static int read_all(const char *path, char **buf, size_t *len)
{
	FILE *in = fopen(path, "rbe");
	size_t cap = 0, n = 0;
	char *b = NULL, *bigger;
	int err = 0;

	if (!in)
		return -errno;
	for (;;) {
		size_t got;

		if (n == cap) {
			if (cap >= GATE_FILE_MAX) {
				err = -EFBIG;
				break;
			}
			cap = cap ? cap * 2 : 65536;
			bigger = realloc(b, cap);
			if (!bigger) {
				err = -ENOMEM;
				break;
			}
			b = bigger;
		}
		errno = 0;
		got = fread(b + n, 1, cap - n, in);
		n += got;
		if (got == 0) {
			if (ferror(in))
				err = errno ? -errno : -EIO;
			break;
		}
	}
	if (fclose(in) != 0 && !err)
		err = -EIO;
	if (err) {
		free(b);
		return err;
	}
	*buf = b;
	*len = n;
	return 0;
}

int gate_load(const char *path, bool lines, struct flametree **t, struct report_input *in)
{
	char *buf = NULL;
	size_t len = 0;
	int err = read_all(path, &buf, &len);

	*t = NULL;
	if (err == -EISDIR)
		return log_error(-EISDIR, "cannot read %s: it is a directory \xe2\x80\x94 give a "
				 "profile file", path);
	if (err)
		return log_error(err, "cannot read %s: %s \xe2\x80\x94 check the path", path,
				 strerror(-err));
	*t = flametree_new();
	if (!*t) {
		free(buf);
		return log_error(-ENOMEM, "out of memory");
	}
	err = report_read(*t, buf ? buf : "", len, lines, in);
	free(buf);
	if (err == -ENOMEM)
		log_error(err, "out of memory reading %s", path);
	else if (err < 0)
		log_error(err, "cannot read %s: %s \xe2\x80\x94 report reads the folded, "
			  "speedscope and pprof files hotspy writes", path, in->error);
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
