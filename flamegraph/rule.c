/*
 * rule.c - thresholds: parsing, matching frames, measuring shares.
 */
#include "rule.h"

#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "report.h"
#include "text.h"
#include "banned.h"

const char *rule_option(enum rule_kind kind)
{
	switch (kind) {
	case RULE_ABOVE: return "--fail-above";
	case RULE_BELOW: return "--fail-below";
	case RULE_INCREASE: return "--fail-increase";
	}
	return "?";
}

/* "^(PATTERN)$": the pattern must match a whole name. */
static int compile(regex_t *re, const char *pattern, char *err, size_t size)
{
	char anchored[RULE_PATTERN_MAX + 8];
	int rc;

	snprintf(anchored, sizeof(anchored), "^(%s)$", pattern);
	rc = regcomp(re, anchored, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char why[128];

		regerror(rc, re, why, sizeof(why));
		snprintf(err, size, "invalid pattern '%s': %s", pattern, why);
		return -EINVAL;
	}
	return 0;
}

int rule_parse(struct rule *r, enum rule_kind kind, const char *text, char *err, size_t size)
{
	const char *eq = strrchr(text, '='), *pat = text;
	const char *unit = kind == RULE_INCREASE ? "points" : "percent";
	size_t len;
	char *end;
	regex_t re;

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->text = text;
	if (strncmp(pat, "self:", 5) == 0) {
		pat += 5;
	} else if (strncmp(pat, "total:", 6) == 0) {
		r->share = RULE_TOTAL;
		pat += 6;
	}
	if (!eq || eq < pat) {
		snprintf(err, size, "invalid rule '%s': expected [self:|total:]PATTERN=%s",
			 text, kind == RULE_INCREASE ? "POINTS" : "PERCENT");
		return -EINVAL;
	}
	len = (size_t)(eq - pat);
	if (len == 0 || len >= sizeof(r->pattern)) {
		snprintf(err, size, "invalid rule '%s': the pattern must be 1 to %d bytes", text,
			 RULE_PATTERN_MAX - 1);
		return -EINVAL;
	}
	memcpy(r->pattern, pat, len);
	r->pattern[len] = '\0';
	errno = 0;
	r->limit = strtod(eq + 1, &end);
	if (*end == '%' && kind != RULE_INCREASE)
		end++;
	if (errno || end == eq + 1 || *end || !(r->limit >= 0) || r->limit > 100) {
		snprintf(err, size, "invalid rule '%s': expected 0 to 100 %s after '='", text, unit);
		return -EINVAL;
	}
	if (compile(&re, r->pattern, err, size) < 0)
		return -EINVAL;
	regfree(&re);
	return 0;
}

struct measurer {
	const struct flametree *t;
	regex_t re;
	unsigned first;         /* depth of the first frame level */
	int8_t *matched;        /* per name id: -1 not yet known, 0, 1 */
	size_t nmatched, cap;
	bool *on_path;          /* per depth: a matching frame */
	size_t path_cap;
	size_t active;          /* matching frames on the path */
	struct rule_measure *m;
	char buf[FLAMETREE_NAME_MAX + 1];
};

/* Whether @s[0..len) is matched whole (the regex is anchored). */
static bool matches(struct measurer *ms, const char *s, size_t len)
{
	if (!len || len > FLAMETREE_NAME_MAX)
		return false;
	memcpy(ms->buf, s, len);
	ms->buf[len] = '\0';
	return regexec(&ms->re, ms->buf, 0, NULL, 0) == 0;
}

/* A path, or its last component. */
static bool matches_path(struct measurer *ms, const char *s, size_t len)
{
	const char *slash = memrchr(s, '/', len);

	return matches(ms, s, len) ||
	       (slash && matches(ms, slash + 1, len - (size_t)(slash + 1 - s)));
}

static bool name_matches(struct measurer *ms, uint32_t name)
{
	struct flametree_info info;
	struct report_name parts;
	size_t len;
	const char *s = flametree_name(ms->t, name, &len);

	report_name_split(s, len, &parts);
	if (matches(ms, s, parts.function_len) ||
	    (parts.suffixed_len != parts.function_len && matches(ms, s, parts.suffixed_len)) ||
	    (parts.file && matches_path(ms, parts.file, parts.file_len)))
		return true;
	if (!flametree_info(ms->t, name, &info))
		return false;
	return (info.file_len && matches_path(ms, info.file, info.file_len)) ||
	       (info.module_len && matches_path(ms, info.module, info.module_len));
}

static int enter(const struct flametree_node *n, unsigned depth, void *ctx)
{
	struct measurer *ms = ctx;
	bool *path;
	bool hit = false;

	if (depth >= ms->path_cap || !ms->on_path) {
		path = array_grow(ms->on_path, &ms->path_cap, (size_t)depth + 1, sizeof(*path));
		if (!path)
			return -ENOMEM;
		ms->on_path = path;
	}
	if (depth >= ms->first) {
		if (n->name >= ms->nmatched) {
			size_t old = ms->nmatched;
			int8_t *m = array_grow(ms->matched, &ms->cap, (size_t)n->name + 1,
					       sizeof(*m));

			if (!m)
				return -ENOMEM;
			ms->matched = m;
			ms->nmatched = (size_t)n->name + 1;
			memset(ms->matched + old, -1, ms->nmatched - old);
		}
		if (ms->matched[n->name] < 0)
			ms->matched[n->name] = name_matches(ms, n->name);
		hit = ms->matched[n->name];
	}
	ms->on_path[depth] = hit;
	if (hit) {
		ms->m->self += flametree_self(ms->t, n);
		if (ms->active++ == 0)
			ms->m->total += n->total;
	}
	return 0;
}

static void leave(const struct flametree_node *n, unsigned depth, void *ctx)
{
	struct measurer *ms = ctx;

	(void)n;
	if (ms->on_path[depth])
		ms->active--;
}

int rule_measure(const struct rule *r, const struct flametree *t, bool thread_level,
		 struct rule_measure *m)
{
	struct measurer ms = { .t = t, .first = thread_level ? 3 : 2, .m = m };
	char err[256];
	int ret;

	if (compile(&ms.re, r->pattern, err, sizeof(err)) < 0)
		return -EINVAL;         /* rule_parse checked it */
	ret = report_walk(t, enter, leave, &ms);
	m->all += flametree_total(t);
	regfree(&ms.re);
	free(ms.matched);
	free(ms.on_path);
	return ret;
}

static double share_of(const struct rule *r, const struct rule_measure *m)
{
	double v = r->share == RULE_TOTAL ? m->total : m->self;

	return m->all > 0 ? v / m->all * 100.0 : 0;   /* no overflow near DBL_MAX */
}

void rule_judge(const struct rule *r, const struct rule_measure *now,
		const struct rule_measure *base, struct rule_result *res)
{
	memset(res, 0, sizeof(*res));
	res->rule = r;
	res->share = share_of(r, now);
	switch (r->kind) {
	case RULE_ABOVE:
		res->violated = res->share > r->limit;
		break;
	case RULE_BELOW:
		res->violated = res->share < r->limit;
		break;
	case RULE_INCREASE:
		res->baseline = base ? share_of(r, base) : 0;
		res->violated = res->share - res->baseline > r->limit;
		break;
	}
}

void rule_describe(FILE *out, const struct rule_result *res)
{
	const struct rule *r = res->rule;
	const char *share = r->share == RULE_TOTAL ? "total" : "self";
	char pattern[RULE_PATTERN_MAX * 2] = "", text[RULE_PATTERN_MAX * 2] = "";

	text_append_safe(pattern, sizeof(pattern), 0, r->pattern);
	text_append_safe(text, sizeof(text), 0, r->text);
	if (r->kind == RULE_INCREASE)
		fprintf(out, "%s share of '%s' grew by %.1f points (%.1f %% in the baseline, "
			"%.1f %% now), %s the allowed %.4g points (%s '%s')\n", share, pattern,
			res->share - res->baseline, res->baseline, res->share,
			res->violated ? "more than" : "within", r->limit, rule_option(r->kind), text);
	else
		fprintf(out, "%s share of '%s' is %.1f %%, %s the limit of %.4g %% (%s '%s')\n",
			share, pattern, res->share,
			r->kind == RULE_ABOVE ? (res->violated ? "above" : "within") :
			(res->violated ? "below" : "within"), r->limit, rule_option(r->kind), text);
}
