/*
 * cmd_report.c - hotspy report FILE...: the top functions of profiles
 * added together, as text, JSON or Markdown, and the threshold rules that
 * make a CI job fail (exit status 3).
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "exitcode.h"
#include "gate.h"
#include "log.h"
#include "report.h"
#include "banned.h"

int cmd_report(const struct options *o)
{
	struct report_options ro = {
		.top = o->top, .by_total = o->by_total, .threads = o->threads, .lines = o->lines,
	};
	struct flametree **trees = calloc(o->ninputs, sizeof(*trees));
	struct gate_profile *profiles = calloc(o->ninputs, sizeof(*profiles));
	const char **formats = calloc(o->ninputs, sizeof(*formats));
	struct rule_result results[OPTIONS_RULES_MAX];
	struct report *r = NULL;
	struct report_meta meta = {
		.paths = (const char *const *)o->inputs, .formats = formats,
		.ninputs = o->ninputs, .match = o->match,
	};
	int ret = EXIT_CODE_ERROR, violated = 0, err = 0;
	bool match = false;
	regex_t re;

	if (!trees || !profiles || !formats) {
		log_error(-ENOMEM, "out of memory");
		goto out;
	}
	if (o->match) {
		if (regcomp(&re, o->match, REG_EXTENDED | REG_NOSUB) != 0) {
			log_error(-EINVAL, "invalid --match '%s'", o->match);
			goto out;
		}
		match = true;
		ro.match = &re;
	}
	r = report_new(&ro);
	if (!r) {
		log_error(-ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < o->ninputs; i++) {
		struct report_input in;

		if (gate_load(o->inputs[i], o->lines, &trees[i], &in) < 0)
			goto out;
		formats[i] = in.format;
		profiles[i] = (struct gate_profile){ .tree = trees[i],
						     .thread_level = in.thread_level };
		err = report_add(r, trees[i], &in);
		if (err == -EINVAL) {
			log_error(err, "cannot add %s (weights in %s) to the profiles before it "
				  "(in %s): give files of one unit", o->inputs[i], in.unit,
				  report_unit(r));
			goto out;
		}
		if (err < 0) {
			log_error(err, "out of memory");
			goto out;
		}
	}
	if (o->threads && !report_has_threads(r))
		log_warn("--threads: %s no thread level (record with --threads): rows are "
			 "for all threads together", o->ninputs == 1 ? "the profile has" :
			 "not every profile has");
	violated = gate_judge(o, profiles, o->ninputs, results);
	if (violated < 0)
		goto out;
	if (o->json)
		err = report_write_json(stdout, r, &meta, results, o->nrules);
	else if (o->markdown)
		err = report_write_markdown(stdout, r);
	else if (!o->quiet)
		err = report_write_text(stdout, r);
	if (err < 0) {
		log_error(err, "cannot write the report: %s", strerror(-err));
		goto out;
	}
	ret = violated ? EXIT_CODE_THRESHOLD : EXIT_CODE_OK;
out:
	if (match)
		regfree(&re);
	for (size_t i = 0; trees && i < o->ninputs; i++)
		flametree_free(trees[i]);
	free(trees);
	free(profiles);
	free(formats);
	report_free(r);
	return ret;
}
