/*
 * gate.h - the threshold rules of report and record (--fail-above,
 * --fail-below, --baseline with --fail-increase): profiles loaded from
 * files, rules judged on them, each violated rule said on stderr.
 */
#ifndef HOTSPY_GATE_H
#define HOTSPY_GATE_H

#include <stdbool.h>
#include <stddef.h>

#include "flametree.h"
#include "options.h"
#include "report.h"
#include "rule.h"

/* A profile as the rules see it. */
struct gate_profile {
	const struct flametree *tree;
	bool thread_level;
};

/*
 * Read the profile file @path (any format report_read knows) into a new
 * tree in *@t (free it), its shape in @in. 0, or -errno after reporting
 * what is wrong with the file and what to do.
 */
int gate_load(const char *path, bool lines, struct flametree **t, struct report_input *in);

/*
 * Judge o->rules on the profiles @now[0..n) taken together (and on
 * o->baseline, read here, for increase rules), into @results (o->nrules
 * entries). Each violated rule is printed on stderr; with !o->quiet a last
 * line says how many rules passed. Returns the number violated, or -errno
 * after reporting.
 */
int gate_judge(const struct options *o, const struct gate_profile *now, size_t n,
	       struct rule_result *results);

#endif
