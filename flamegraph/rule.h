/*
 * rule.h - thresholds that fail a build: a pattern of frames and the share
 * of the samples it may take.
 *
 *   --fail-above [self:|total:]PATTERN=PERCENT   the share must not exceed
 *   --fail-below [self:|total:]PATTERN=PERCENT   the share must reach
 *   --fail-increase [self:|total:]PATTERN=POINTS the share may grow by at
 *                                                most POINTS over a baseline
 *
 * The share is the self share (samples whose leaf matches) unless the rule
 * says total: (samples with a matching frame anywhere in the stack, each
 * sample once however many frames match). PATTERN is a POSIX extended
 * regular expression that must match the whole of a frame's function name
 * (without its kind suffix and place), of its file or module (the whole
 * path or its last component), or of the name with its kind suffix. All the
 * frames a pattern matches count as one: a rule on a module or a file
 * measures the share of all of its functions together.
 */
#ifndef HOTSPY_RULE_H
#define HOTSPY_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "flametree.h"

#define RULE_PATTERN_MAX 256

enum rule_kind {
	RULE_ABOVE,
	RULE_BELOW,
	RULE_INCREASE,
};

enum rule_share {
	RULE_SELF,
	RULE_TOTAL,
};

/* A rule as parsed: plain data. */
struct rule {
	enum rule_kind kind;
	enum rule_share share;
	double limit;                   /* percent, or points for RULE_INCREASE */
	char pattern[RULE_PATTERN_MAX];
	const char *text;               /* as given; not owned */
};

/*
 * Parse @text ("[self:|total:]PATTERN=NUMBER", split at the last '=') as a
 * rule of @kind into @r, and check that PATTERN compiles. 0, or -EINVAL
 * with the reason in @err (@size bytes).
 */
int rule_parse(struct rule *r, enum rule_kind kind, const char *text, char *err, size_t size);

/* The option that gives a rule of @kind: "--fail-above" ... (static). */
const char *rule_option(enum rule_kind kind);

/* The weights a rule's pattern takes in one or more profiles. */
struct rule_measure {
	double self;            /* samples whose leaf frame matches */
	double total;           /* samples with a matching frame, each once */
	double all;             /* every sample */
};

/*
 * Add to @m what @r's pattern takes in @t, whose stacks are root first
 * under a process level and, when @thread_level, a thread level (neither
 * is matched). 0, -ENOMEM.
 */
int rule_measure(const struct rule *r, const struct flametree *t, bool thread_level,
		 struct rule_measure *m);

/* A rule judged. */
struct rule_result {
	const struct rule *rule;
	double share;           /* percent of all samples now */
	double baseline;        /* percent in the baseline (RULE_INCREASE), else 0 */
	bool violated;
};

/* Judge @r on @now (and @base for RULE_INCREASE; may be NULL otherwise). */
void rule_judge(const struct rule *r, const struct rule_measure *now,
		const struct rule_measure *base, struct rule_result *res);

/*
 * One line saying what @res measured against what the rule allows, naming
 * the pattern (escaped for the terminal), e.g.
 *   self share of 'hot_a' is 70.2 %, above the limit of 50 % (--fail-above 'hot_a=50')
 */
void rule_describe(FILE *out, const struct rule_result *res);

#endif
