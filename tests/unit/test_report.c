/*
 * test_report.c - the readers and the arithmetic behind `hotspy report`:
 * the JSON reader and the speedscope reader on good and malformed files
 * (every truncation and byte substitution of a valid one must give an error
 * or a tree whose totals add up, never a crash: ASan runs this too), rows
 * whose total counts a recursive function once per sample, the thread level
 * of folded files, and threshold rules.
 */
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "flametree.h"
#include "json.h"
#include "report.h"
#include "rule.h"
#include "speedscope.h"

#include "banned.h"

static const char sampled[] =
	"{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
	"\"name\":\"prog\",\"shared\":{\"frames\":["
	"{\"name\":\"main\",\"file\":\"m.c\",\"line\":3},"
	"{\"name\":\"hot\\u005fa\",\"file\":\"/src/h.c\",\"line\":7},"
	"{\"name\":\"hot_b\"}]},"
	"\"profiles\":[{\"type\":\"sampled\",\"name\":\"t1 (11)\",\"unit\":\"milliseconds\","
	"\"startValue\":0,\"endValue\":40,\"samples\":[[0,1],[0,2],[0]],"
	"\"weights\":[30,10,0]},"
	"{\"type\":\"evented\",\"name\":\"t2 (12)\",\"unit\":\"microseconds\","
	"\"startValue\":0,\"endValue\":20000,\"events\":["
	"{\"type\":\"O\",\"frame\":0,\"at\":0},{\"type\":\"O\",\"frame\":2,\"at\":5000},"
	"{\"type\":\"C\",\"frame\":2,\"at\":20000},{\"type\":\"C\",\"frame\":0,\"at\":20000}]}]}";

/* Every node's total is its self plus its children's totals. */
static int tree_consistent(const struct flametree *t)
{
	for (uint32_t i = 0; i < flametree_count(t); i++) {
		const struct flametree_node *n = flametree_node_at(t, i);
		double sum = flametree_self(t, n);

		for (uint32_t c = n->first_child; c != FLAMETREE_NONE;
		     c = flametree_node_at(t, c)->next_sibling)
			sum += flametree_node_at(t, c)->total;
		if (fabs(sum - n->total) > 1e-6 * (n->total + 1))
			return 0;
	}
	return 1;
}

static uint32_t child(const struct flametree *t, uint32_t parent, const char *name)
{
	return flametree_child(t, parent, name, strlen(name));
}

static void test_json(void)
{
	struct json_doc d;
	char buf[32];
	double v;
	static const char *const bad[] = {
		"", "{", "[1,]", "{\"a\"}", "{\"a\":}", "\"abc", "\"a\\x\"", "\"\\u12\"",
		"01x", "-", "1.", "1e", "tru", "[1] 2", "{\"a\":1,}", "\"\x01\"", "nul",
	};

	CHECK(json_parse(&d, "{\"a\":[1,-2.5e1,\"x\\n\\u00e9\\ud83d\\ude00\"],\"b\":null}",
			 strlen("{\"a\":[1,-2.5e1,\"x\\n\\u00e9\\ud83d\\ude00\"],\"b\":null}"),
			 100) == 0);
	{
		uint32_t a = json_member(&d, 0, "a"), e = json_first(&d, a);

		CHECK(a != JSON_NONE && d.tok[a].size == 3);
		CHECK(json_number(&d, e, &v) == 0 && v == 1);
		e = json_next(&d, e, a);
		CHECK(json_number(&d, e, &v) == 0 && v == -25);
		e = json_next(&d, e, a);
		CHECK(json_string(&d, e, buf, sizeof(buf)) == 8);
		CHECK_STR(buf, "x\n\xc3\xa9\xf0\x9f\x98\x80");
		CHECK(json_next(&d, e, a) == JSON_NONE);
		CHECK(json_member(&d, 0, "b") != JSON_NONE);
		CHECK(json_member(&d, 0, "c") == JSON_NONE);
		/* Cut at a character boundary, never inside one. */
		CHECK(json_string(&d, e, buf, 5) == 4);
		CHECK(json_string(&d, e, buf, 4) == 2);
	}
	json_release(&d);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(json_parse(&d, bad[i], strlen(bad[i]), 100) == -EINVAL);
		CHECK(d.error != NULL);
		json_release(&d);
	}
	/* Too deep, too many values: refused, not followed. */
	{
		char deep[JSON_DEPTH_MAX + 10];

		memset(deep, '[', sizeof(deep));
		CHECK(json_parse(&d, deep, sizeof(deep), 1000) == -E2BIG);
		json_release(&d);
		CHECK(json_parse(&d, "[1,2,3,4]", 9, 3) == -E2BIG);
		json_release(&d);
	}
}

static void test_speedscope_read(void)
{
	struct speedscope_info info;
	struct flametree *t = flametree_new();
	struct flametree_info fi;
	uint32_t prog, t1, t2, m;

	CHECK(speedscope_read(t, sampled, strlen(sampled), false, &info) == 0);
	CHECK(flametree_sort(t) == 0);
	CHECK_EQ_U64(info.profiles, 2);
	CHECK_STR(info.unit, "milliseconds");
	/* 30 + 10 ms sampled (the 0 weight adds nothing), 20 ms evented. */
	CHECK(fabs(flametree_total(t) - 60) < 1e-9);
	prog = child(t, 0, "prog");
	t1 = child(t, prog, "t1 (11)");
	t2 = child(t, prog, "t2 (12)");
	CHECK(t1 != FLAMETREE_NONE && t2 != FLAMETREE_NONE);
	m = child(t, t1, "main");
	CHECK(m != FLAMETREE_NONE && child(t, m, "hot_a") != FLAMETREE_NONE);
	CHECK(fabs(flametree_self(t, flametree_node_at(t, child(t, m, "hot_a"))) - 30) < 1e-9);
	m = child(t, t2, "main");
	CHECK(m != FLAMETREE_NONE && fabs(flametree_node_at(t, m)->total - 20) < 1e-9);
	CHECK(fabs(flametree_self(t, flametree_node_at(t, m)) - 5) < 1e-9);
	CHECK(fabs(flametree_self(t, flametree_node_at(t, child(t, m, "hot_b"))) - 15) < 1e-9);
	CHECK(flametree_info(t, flametree_node_at(t, child(t, child(t, t1, "main"), "hot_a"))->name,
			     &fi));
	CHECK(fi.file_len == 8 && memcmp(fi.file, "/src/h.c", 8) == 0 && fi.line == 7);
	flametree_free(t);

	/* With lines, the place is in the name, as folded --lines spells it. */
	t = flametree_new();
	CHECK(speedscope_read(t, sampled, strlen(sampled), true, &info) == 0);
	CHECK(flametree_sort(t) == 0);
	prog = child(t, 0, "prog");
	m = child(t, child(t, prog, "t1 (11)"), "main (m.c:3)");
	CHECK(m != FLAMETREE_NONE && child(t, m, "hot_a (/src/h.c:7)") != FLAMETREE_NONE);
	flametree_free(t);
}

/* Malformed files: each is refused with a reason. */
static void test_speedscope_malformed(void)
{
	static const char *const bad[] = {
		"{}",
		"{\"profiles\":[]}",
		"{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"sampled\","
		"\"samples\":[[1]],\"weights\":[1]}]}",
		"{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"sampled\","
		"\"samples\":[[0],[0]],\"weights\":[1]}]}",
		"{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"sampled\","
		"\"samples\":[[-1]],\"weights\":[1]}]}",
		"{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"sampled\","
		"\"samples\":[[0.5]],\"weights\":[1]}]}",
		"{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"sampled\","
		"\"samples\":[[0]],\"weights\":[-1]}]}",
		"{\"shared\":{\"frames\":[{\"name\":\"a\"},{\"name\":\"b\"}]},\"profiles\":[{\"type\":"
		"\"evented\",\"events\":[{\"type\":\"O\",\"frame\":0,\"at\":0},"
		"{\"type\":\"C\",\"frame\":1,\"at\":1}]}]}",
		"{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":"
		"\"evented\",\"events\":[{\"type\":\"O\",\"frame\":0,\"at\":5},"
		"{\"type\":\"C\",\"frame\":0,\"at\":1}]}]}",
		"{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":"
		"\"evented\",\"events\":[{\"type\":\"O\",\"frame\":0,\"at\":0}]}]}",
		"{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"sampled\","
		"\"unit\":\"furlongs\",\"samples\":[[0]],\"weights\":[1]}]}",
		"{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":["
		"{\"type\":\"sampled\",\"unit\":\"bytes\",\"samples\":[[0]],\"weights\":[1]},"
		"{\"type\":\"sampled\",\"unit\":\"seconds\",\"samples\":[[0]],\"weights\":[1]}]}",
		"{\"shared\":{\"frames\":[{\"file\":\"x\"}]},\"profiles\":[]}",
		"[1,2]",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct speedscope_info info;
		struct flametree *t = flametree_new();
		int err = speedscope_read(t, bad[i], strlen(bad[i]), false, &info);

		/* "{\"profiles\":[]}" has no frames table: refused too. */
		if (err != -EINVAL)
			fprintf(stderr, "accepted malformed file %zu: %s\n", i, bad[i]);
		CHECK(err == -EINVAL);
		CHECK(info.error != NULL);
		flametree_free(t);
	}
}

/* Every prefix, and every byte replaced by each of a few troublemakers. */
static void test_speedscope_mutations(void)
{
	static const char subst[] = { '\0', '"', '\\', '[', ']', '{', '}', ',', '9', '-', 'x' };
	size_t len = strlen(sampled), accepted = 0, runs = 0;
	char *buf = malloc(len);

	for (size_t cut = 0; cut <= len; cut++) {
		struct speedscope_info info;
		struct flametree *t = flametree_new();
		int err = speedscope_read(t, sampled, cut, false, &info);

		CHECK(err == 0 || err == -EINVAL);
		CHECK(err == 0 ? cut == len : info.error != NULL);
		flametree_free(t);
	}
	for (size_t at = 0; at < len; at++) {
		for (size_t k = 0; k < sizeof(subst); k++) {
			struct speedscope_info info;
			struct flametree *t = flametree_new();
			int err;

			memcpy(buf, sampled, len);
			buf[at] = subst[k];
			err = speedscope_read(t, buf, len, (at + k) & 1, &info);
			CHECK(err == 0 || err == -EINVAL);
			if (err == 0) {
				accepted++;
				CHECK(flametree_sort(t) == 0);
				CHECK(tree_consistent(t));
			}
			runs++;
			flametree_free(t);
		}
	}
	/* Some changes keep the file valid (a digit, a name's letter). */
	CHECK(accepted > 0 && accepted < runs);
	free(buf);
}

static void test_name_split(void)
{
	struct report_name p;
	const char *s = "inner_fn_[i] (inner.h:12)";

	report_name_split(s, strlen(s), &p);
	CHECK_EQ_U64(p.function_len, 8);
	CHECK_EQ_U64(p.suffixed_len, 12);
	CHECK(p.kind == FRAME_INLINED);
	CHECK(p.file && p.file_len == 7 && memcmp(p.file, "inner.h", 7) == 0);
	CHECK_EQ_U64(p.line, 12);
	s = "<module> (/app/run.py)";
	report_name_split(s, strlen(s), &p);
	CHECK_EQ_U64(p.function_len, 8);
	CHECK(p.file && p.file_len == 11 && p.line == 0);
	s = "operator()";
	report_name_split(s, strlen(s), &p);
	CHECK(p.function_len == strlen(s) && !p.file);
}

static struct flametree *folded(const char *text)
{
	struct flametree *t = flametree_new();
	struct report_input in;

	CHECK(report_read(t, text, strlen(text), false, &in) == 0);
	return t;
}

/* The rows of @text as text output, in a static buffer. */
static const char *report_text(const char *text, const struct report_options *o)
{
	static char out[4096];
	struct flametree *t = flametree_new();
	struct report_input in;
	struct report *r = report_new(o);
	FILE *f = fmemopen(out, sizeof(out), "w");

	CHECK(report_read(t, text, strlen(text), o->lines, &in) == 0);
	CHECK(report_add(r, t, &in) == 0);
	CHECK(report_write_text(f, r) == 0);
	fclose(f);
	report_free(r);
	flametree_free(t);
	return out;
}

static void test_rows(void)
{
	struct report_options o = { .top = 0 };
	const char *out;
	/* rec calls itself: its total is every sample that has it, once. */
	const char *text = "p;main;rec;rec;rec;leaf 6\np;main;rec;other 2\np;main 2\n";
	struct report_input in;
	struct flametree *t = flametree_new();

	out = report_text(text, &o);
	CHECK(strstr(out, "10 samples; by self share") != NULL);
	CHECK(strstr(out, "  60.00   60.00           6           6  leaf\n") != NULL);
	CHECK(strstr(out, "   0.00   80.00           0           8  rec\n") != NULL);
	CHECK(strstr(out, "  20.00  100.00           2          10  main\n") != NULL);
	/* The folded root is the process: never a row. */
	CHECK(strstr(out, "  p\n") == NULL);

	/* A thread level: every name under the root is "NAME (TID)". */
	CHECK(report_read(t, "p;a (1);f 3\np;b (2);g 1\n", 22, false, &in) == 0);
	CHECK(in.thread_level);
	flametree_free(t);
	t = flametree_new();
	CHECK(report_read(t, "p;a (1);f 3\np;main;g 1\n", 22, false, &in) == 0);
	CHECK(!in.thread_level);
	flametree_free(t);

	o.threads = true;
	out = report_text("p;a (1);f 3\np;b (2);f 1\np;b (2);g 3\n", &o);
	CHECK(strstr(out, "a (1): 42.9 % of all\n") != NULL);
	CHECK(strstr(out, " 100.00  100.00           3           3  f\n") != NULL);
	CHECK(strstr(out, "  75.00   75.00           3           3  g\n") != NULL);

	/* By function: the lines of a place go; with --lines they stay. */
	o = (struct report_options){ .top = 1 };
	out = report_text("p;f (a.c:1) 1\np;f (a.c:2) 2\np;g (b.c:3) 2\n", &o);
	CHECK(strstr(out, "  60.00   60.00           3           3  f (a.c)\n") != NULL);
	CHECK(strstr(out, "g (b.c)") == NULL);  /* --top 1 */
	o = (struct report_options){ .lines = true };
	out = report_text("p;f (a.c:1) 1\np;f (a.c:2) 2\np;g (b.c:3) 2\n", &o);
	CHECK(strstr(out, "f (a.c:2)\n") != NULL);
	CHECK(strstr(out, "g (b.c:3)\n") != NULL);      /* ties: by name */
}

/* Names from the target reach a terminal, a Markdown page and JSON: each
 * gets them escaped for it. */
static void test_escaping(void)
{
	const char *text = "p;main;evil\x1b[2J|*name\xff 3\n";
	struct report_options o = { .top = 0 };
	struct flametree *t = flametree_new();
	struct report_input in;
	struct report *r = report_new(&o);
	char out[4096];
	FILE *f;

	CHECK(report_read(t, text, strlen(text), false, &in) == 0);
	CHECK(report_add(r, t, &in) == 0);
	f = fmemopen(out, sizeof(out), "w");
	CHECK(report_write_text(f, r) == 0);
	fclose(f);
	CHECK(strchr(out, 0x1b) == NULL && strchr(out, 0xff) == NULL);
	CHECK(strstr(out, "  evil?[2J|*name?\n") != NULL);
	f = fmemopen(out, sizeof(out), "w");
	CHECK(report_write_markdown(f, r) == 0);
	fclose(f);
	CHECK(strstr(out, "| evil?\\[2J\\|\\*name? |\n") != NULL);
	f = fmemopen(out, sizeof(out), "w");
	CHECK(report_write_json(f, r, NULL, NULL, 0) == 0);
	fclose(f);
	CHECK(strstr(out, "\"name\":\"evil\\u001b[2J|*name\\ufffd\"") != NULL);
	report_free(r);
	flametree_free(t);
}

/* Found by fuzz_speedscope: names holding NUL bytes (folded text is bytes)
 * were copied only up to the NUL and compared over their whole length. */
static void test_nul_names(void)
{
	static const char text[] = "p;t (1);w\0\0\0x;f 2\np;t (1);w\0\0\0x;g 1\n"
				   "p;t\0 (2);w\0\0\0x 1\n";
	struct report_options o = { .threads = true };
	struct flametree *t = flametree_new();
	struct report_input in;
	struct report *r = report_new(&o);
	FILE *f = fopen("/dev/null", "w");

	CHECK(report_read(t, text, sizeof(text) - 1, false, &in) == 0);
	CHECK(in.thread_level);
	CHECK(report_add(r, t, &in) == 0);
	CHECK(report_write_text(f, r) == 0);
	CHECK(report_write_json(f, r, NULL, NULL, 0) == 0);
	CHECK(fabs(report_total(r) - 4) < 1e-9);
	fclose(f);
	report_free(r);
	flametree_free(t);
}

static double measure(const char *rule_text, enum rule_kind kind, const char *text)
{
	struct rule r;
	struct rule_measure m = { 0 };
	struct rule_result res;
	struct flametree *t = folded(text);
	char err[256];

	CHECK(rule_parse(&r, kind, rule_text, err, sizeof(err)) == 0);
	CHECK(rule_measure(&r, t, false, &m) == 0);
	rule_judge(&r, &m, &m, &res);
	flametree_free(t);
	return res.share;
}

static void test_rules(void)
{
	const char *text = "p;main;rec;rec;rec;hot_a 6\np;main;rec;hot_ab (lib/x.c:4) 2\n"
			   "p;main 2\n";
	struct rule r;
	char err[256];

	CHECK(fabs(measure("hot_a=50", RULE_ABOVE, text) - 60) < 1e-9);
	/* Whole names: hot_a does not match hot_ab; hot_a.* does. */
	CHECK(fabs(measure("self:hot_a.*=50", RULE_ABOVE, text) - 80) < 1e-9);
	CHECK(fabs(measure("total:rec=50", RULE_ABOVE, text) - 80) < 1e-9);
	/* A file, whole or its last component. */
	CHECK(fabs(measure("x\\.c=1", RULE_BELOW, text) - 20) < 1e-9);
	CHECK(fabs(measure("lib/x\\.c=1", RULE_BELOW, text) - 20) < 1e-9);
	CHECK(fabs(measure("nothing=1", RULE_BELOW, text)) < 1e-9);

	CHECK(rule_parse(&r, RULE_ABOVE, "a=b=5%", err, sizeof(err)) == 0);
	CHECK_STR(r.pattern, "a=b");
	CHECK(r.limit == 5);
	CHECK(rule_parse(&r, RULE_ABOVE, "hot_a", err, sizeof(err)) == -EINVAL);
	CHECK(rule_parse(&r, RULE_ABOVE, "=5", err, sizeof(err)) == -EINVAL);
	CHECK(rule_parse(&r, RULE_ABOVE, "a=101", err, sizeof(err)) == -EINVAL);
	CHECK(rule_parse(&r, RULE_ABOVE, "a=x", err, sizeof(err)) == -EINVAL);
	CHECK(rule_parse(&r, RULE_ABOVE, "a(=5", err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "invalid pattern") != NULL);
	CHECK(rule_parse(&r, RULE_INCREASE, "a=5%", err, sizeof(err)) == -EINVAL);

	/* An increase: shares of each profile's own total. */
	{
		struct rule_measure now = { .self = 40, .total = 40, .all = 100 };
		struct rule_measure old = { .self = 60, .total = 60, .all = 200 };
		struct rule_result res;

		CHECK(rule_parse(&r, RULE_INCREASE, "f=10", err, sizeof(err)) == 0);
		rule_judge(&r, &now, &old, &res);
		CHECK(fabs(res.share - 40) < 1e-9 && fabs(res.baseline - 30) < 1e-9);
		CHECK(!res.violated);
		now.self = 41;
		rule_judge(&r, &now, &old, &res);
		CHECK(res.violated);
	}
}

/* Weights near DBL_MAX: shares are numbers (they were inf, 100 * 1.7e308
 * overflowing before the division), weights are short; a speedscope file
 * whose weights sum past DBL_MAX is refused saying so. */
static void test_huge_weights(void)
{
	struct report_options o = { .top = 0 };
	const char *out = report_text("p;a 1.7e308\n", &o);
	static const char sum[] =
		"{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"sampled\","
		"\"samples\":[[0],[0]],\"weights\":[1.7e308,1.7e308]}]}";
	struct flametree *t = flametree_new();
	struct report_input in;

	CHECK(strstr(out, "1.7e+308 samples; by self share") != NULL);
	CHECK(strstr(out, " 100.00  100.00    1.7e+308    1.7e+308  a\n") != NULL);
	CHECK(strstr(out, "inf") == NULL && strstr(out, "nan") == NULL);
	CHECK(report_read(t, sum, strlen(sum), false, &in) == -EINVAL);
	CHECK(strstr(in.error, "no finite number") != NULL);
	flametree_free(t);
}

int main(void)
{
	test_huge_weights();
	test_json();
	test_speedscope_read();
	test_speedscope_malformed();
	test_speedscope_mutations();
	test_name_split();
	test_rows();
	test_escaping();
	test_nul_names();
	test_rules();
	return check_status();
}
