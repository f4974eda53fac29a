/*
 * test_read_limits.c - the readers' bounds: no limit on the frames of a
 * stack (what record writes with --stack-size 1M is read back, folded or
 * speedscope; pprof in test_pprof), a bounded line length whose error names
 * the line, and a bounded model.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "flametree.h"
#include "report.h"

#include "banned.h"

/* "f0;f1;...;f<depth-1> 3\n" with names from a set of @distinct: a deep
 * recursion of a few functions, as the deep fixture gives. */
static char *deep_line(size_t depth, size_t distinct, size_t *len)
{
	char *line = malloc(depth * 8 + 16), *p = line;

	if (!line)
		return NULL;
	for (size_t i = 0; i < depth; i++)
		p += snprintf(p, 8, "f%zu%c", i % distinct, i + 1 < depth ? ';' : ' ');
	memcpy(p, "3\n", 3);
	*len = (size_t)(p - line) + 2;
	return line;
}

/* One line of @depth frames, read from a stream (as flamegraph and diff
 * read) and from memory (as report does), root first (and reversed). */
static void test_depth(size_t depth, int reversed_too)
{
	size_t len;
	char *line = deep_line(depth, 50, &len);

	CHECK(line != NULL);
	if (!line)
		return;
	for (int reverse = 0; reverse < 1 + reversed_too; reverse++) {
		struct flametree_stats st = { 0 };
		struct flametree *t = flametree_new();
		FILE *in = fmemopen(line, len, "r");

		CHECK(t != NULL && in != NULL);
		if (t && in) {
			CHECK_EQ_U64(flametree_read_folded(t, in, reverse, &st), 0);
			CHECK_EQ_U64(st.lines, 1);
			CHECK_EQ_U64(st.malformed, 0);
			/* The root, then one node per frame: a chain. */
			CHECK_EQ_U64(flametree_count(t), depth + 1);
			CHECK(flametree_total(t) == 3);
		}
		if (in)
			fclose(in);
		flametree_free(t);
		t = flametree_new();
		CHECK(t != NULL);
		if (t) {
			st = (struct flametree_stats){ 0 };
			CHECK_EQ_U64(flametree_add_folded(t, line, len, reverse, &st), 0);
			CHECK_EQ_U64(st.lines, 1);
			CHECK_EQ_U64(flametree_count(t), depth + 1);
		}
		flametree_free(t);
	}
	free(line);
}

/* A line longer than the limit stops the read and names its number; one
 * exactly at the limit is read. */
static void test_long_line(void)
{
	const struct flametree_limits lim = { .line_max = 1024 };
	char text[4096], *p = text;
	struct flametree_stats st = { 0 };
	struct flametree *t = flametree_new();
	FILE *in;

	CHECK(t != NULL);
	if (!t)
		return;
	flametree_set_limits(t, &lim);
	p += snprintf(p, 64, "a;b 1\n\nc 2\n");
	memset(p, 'x', 1022);           /* "xxx...x 1": 1024 bytes */
	p += 1022;
	p += snprintf(p, 64, " 1\r\n");
	memset(p, 'y', 2000);
	p += 2000;
	p += snprintf(p, 64, " 1\nd 1\n");
	CHECK_EQ_U64(-flametree_add_folded(t, text, (size_t)(p - text), false, &st), EMSGSIZE);
	CHECK_EQ_U64(st.long_line, 5);
	CHECK_EQ_U64(st.lines, 3);
	flametree_free(t);

	/* From a stream, with and without the newline. */
	for (int cut = 0; cut < 2; cut++) {
		size_t len = cut ? (size_t)(p - text) - 10 : (size_t)(p - text);

		t = flametree_new();
		in = fmemopen(text, len, "r");
		CHECK(t != NULL && in != NULL);
		if (t && in) {
			flametree_set_limits(t, &lim);
			st = (struct flametree_stats){ 0 };
			CHECK_EQ_U64(-flametree_read_folded(t, in, false, &st), EMSGSIZE);
			CHECK_EQ_U64(st.long_line, 5);
		}
		if (in)
			fclose(in);
		flametree_free(t);
	}

	/* No newline ever: the read ends at the limit, not at the end of
	 * memory. */
	t = flametree_new();
	in = fopen("/dev/zero", "re");
	CHECK(t != NULL && in != NULL);
	if (t && in) {
		flametree_set_limits(t, &lim);
		st = (struct flametree_stats){ 0 };
		CHECK_EQ_U64(-flametree_read_folded(t, in, false, &st), EMSGSIZE);
		CHECK_EQ_U64(st.long_line, 1);
	}
	if (in)
		fclose(in);
	flametree_free(t);
}

/* Many distinct stacks: refused past the memory limit, which the tree then
 * passes by at most one doubling of an array; read whole under the
 * default. */
static void test_memory(void)
{
	const struct flametree_limits lim = { .memory_max = 4u << 20 };
	const size_t nlines = 100000;
	char *text = malloc(nlines * 40), *p = text;

	CHECK(text != NULL);
	if (!text)
		return;
	for (size_t i = 0; i < nlines; i++)
		p += snprintf(p, 40, "main;s%zu;leaf%zu 1\n", i, i);
	for (int limited = 0; limited < 2; limited++) {
		struct flametree_stats st = { 0 };
		struct flametree *t = flametree_new();

		CHECK(t != NULL);
		if (!t)
			break;
		if (limited) {
			flametree_set_limits(t, &lim);
			CHECK_EQ_U64(-flametree_add_folded(t, text, (size_t)(p - text), false, &st),
				     E2BIG);
			CHECK(st.lines < nlines);
			CHECK(flametree_memory(t) <= lim.memory_max);
		} else {
			CHECK_EQ_U64(flametree_add_folded(t, text, (size_t)(p - text), false, &st),
				     0);
			CHECK_EQ_U64(st.lines, nlines);
			CHECK(flametree_memory(t) > lim.memory_max);
		}
		flametree_free(t);
	}
	free(text);
}

/* A speedscope stack of 1,200,000 frames (it was "too deep" past
 * 1,000,000), through report's reader. */
static void test_speedscope_deep(void)
{
	const size_t depth = 1200000;
	char *json = malloc(depth * 2 + 512), *p = json;
	struct flametree *t = flametree_new();
	struct report_input in;

	CHECK(json != NULL && t != NULL);
	if (!json || !t)
		goto out;
	p += snprintf(p, 256, "{\"shared\":{\"frames\":[{\"name\":\"f\"}]},\"profiles\":"
		      "[{\"type\":\"sampled\",\"name\":\"main\",\"unit\":\"none\","
		      "\"startValue\":0,\"endValue\":1,\"weights\":[1],\"samples\":[[");
	for (size_t i = 0; i < depth; i++) {
		*p++ = '0';
		*p++ = i + 1 < depth ? ',' : ']';
	}
	p += snprintf(p, 16, "]}]}");
	CHECK_EQ_U64(report_read(t, json, (size_t)(p - json), false, &in), 0);
	/* The root, the file's and the profile's levels, one node per frame. */
	CHECK_EQ_U64(flametree_count(t), 3 + depth);
out:
	flametree_free(t);
	free(json);
}

int main(void)
{
	test_depth(100000, 0);
	test_depth(200000, 1);
	test_long_line();
	test_memory();
	test_speedscope_deep();
	return check_status();
}
