/*
 * test_speedscope.c - the speedscope writer: one sampled profile per thread,
 * frames shared and named root first (an inlined chain outermost first),
 * stacks that name alike merged, weights in milliseconds of the rate, and
 * names from the target escaped whatever their bytes.
 *
 * With an argument, the JSON is also written to that file, for
 * tests/integration/speedscope_test.py to check against speedscope's schema.
 *
 * This file defines symbolizer_resolve itself (as test_folded_frames does),
 * to spell frames no binary gives on demand.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "profile.h"
#include "speedscope.h"
#include "symbols.h"
#include "text.h"

#include "banned.h"

#define LONG_NAME_LEN 1500

enum {
	ADDR_INLINED = 0x100,   /* inner_fn inlined into middle_fn into outer_fn */
	ADDR_KERNEL = 0x200,
	ADDR_HOSTILE = 0x300,
	ADDR_LONG = 0x400,
	ADDR_OTHER = 0x600,
	ADDR_OTHER_TOO = 0x608, /* names the same as ADDR_OTHER */
	ADDR_MAIN = 0x700,
	ADDR_MAIN_LATER = 0x708, /* main again, at another line */
	ADDR_CXX = 0x800,        /* a short C++ name with its signature */
};

static const struct frame inlined[] = {
	{ .function = "inner_fn", .file = "inner.h", .line = 12, .kind = FRAME_INLINED },
	{ .function = "middle_fn", .file = "mid\"dle.c", .line = 40, .kind = FRAME_INLINED },
	{ .function = "outer_fn", .file = "outer.c", .line = 7, .kind = FRAME_NATIVE },
};
static const struct frame kernel = { .function = "do_syscall_64", .kind = FRAME_KERNEL };
static const struct frame hostile = {
	.function = "<script>\"a\\b\"\n\x01\x7f\xff\xc3(</script>", .kind = FRAME_NATIVE,
};
static const struct frame other = { .function = "libx.so+0x600", .kind = FRAME_UNKNOWN };
static const struct frame mainf = { .function = "main", .file = "main.c", .line = 3,
				    .kind = FRAME_NATIVE };
static const struct frame main_later = { .function = "main", .file = "main.c", .line = 9,
					 .kind = FRAME_NATIVE };
static const struct frame cxx = { .function = "ns::f<int>", .kind = FRAME_NATIVE,
				  .signature = "int ns::f<int>(int (*)(), char const*)" };
static char long_name[LONG_NAME_LEN + 1];
static const struct frame overlong = { .function = long_name, .kind = FRAME_NATIVE };

size_t symbolizer_resolve(struct symbolizer *sym, pid_t pid, uint64_t addr,
			  const struct frame **frames)
{
	(void)sym;
	(void)pid;
	switch (addr) {
	case ADDR_INLINED:
		*frames = inlined;
		return 3;
	case ADDR_KERNEL:
		*frames = &kernel;
		return 1;
	case ADDR_HOSTILE:
		*frames = &hostile;
		return 1;
	case ADDR_LONG:
		*frames = &overlong;
		return 1;
	case ADDR_MAIN:
		*frames = &mainf;
		return 1;
	case ADDR_MAIN_LATER:
		*frames = &main_later;
		return 1;
	case ADDR_CXX:
		*frames = &cxx;
		return 1;
	default:
		*frames = &other;
		return 1;
	}
}

static char *write_json(const struct profile *p, unsigned rate, const char *name, bool lines,
			int *ret)
{
	struct speedscope_options o = { .rate = rate, .name = name, .lines = lines };
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	if (!mem)
		return NULL;
	*ret = speedscope_write(mem, p, NULL, &o);
	fclose(mem);
	return text;
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *s = strstr(hay, needle); s; s = strstr(s + 1, needle))
		n++;
	return n;
}

static void test_json_escape(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	const char in[] = "q\"b\\n\n\x01\x7f" "caf\xc3\xa9 \xff \xed\xa0\x80 \xf0\x9f\x98\x80";

	if (!mem)
		return;
	json_escape(mem, in, sizeof(in) - 1, 1024);
	fputc('|', mem);
	json_escape(mem, "abcdef", 6, 3);
	fclose(mem);
	CHECK_STR(text, "q\\\"b\\\\n\\u000a\\u0001\\u007f" "caf\xc3\xa9 \\ufffd "
		  "\\ufffd\\ufffd\\ufffd \xf0\x9f\x98\x80|abc...");
	free(text);

	CHECK_EQ_U64(utf8_valid_len((const unsigned char *)"\xc3\xa9", 2), 2);
	CHECK_EQ_U64(utf8_valid_len((const unsigned char *)"\xc3\xa9", 1), 0);
	CHECK_EQ_U64(utf8_valid_len((const unsigned char *)"\xc0\x80", 2), 0);  /* overlong */
	CHECK_EQ_U64(utf8_valid_len((const unsigned char *)"\xf4\x90\x80\x80", 4), 0);
	CHECK_EQ_U64(utf8_valid_len((const unsigned char *)"\xef\xbf\xbe", 3), 0);

	/* utf8_encode: each length's first and last code point, read back
	 * whole by utf8_valid_len; past U+10FFFF still 4 bytes. */
	static const uint32_t cps[] = { 0, 0x7f, 0x80, 0x7ff, 0x800, 0xfffd, 0x10000, 0x10ffff };
	static const size_t lens[] = { 1, 1, 2, 2, 3, 3, 4, 4 };
	char b[4];

	for (size_t i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
		size_t k = utf8_encode(cps[i], b);

		CHECK_EQ_U64(k, lens[i]);
		if (cps[i])
			CHECK_EQ_U64(utf8_valid_len((const unsigned char *)b, k), k);
	}
	CHECK_EQ_U64(utf8_encode(0xe9, b), 2);
	CHECK(memcmp(b, "\xc3\xa9", 2) == 0);
	CHECK_EQ_U64(utf8_encode(0xffffffffu, b), 4);
}

/* A function sampled at two lines is one frame (no line) unless --lines,
 * which keeps a frame per line. */
static void test_lines(void)
{
	struct profile *p = profile_new();
	uint64_t s1[] = { ADDR_MAIN }, s2[] = { ADDR_MAIN_LATER }, s3[] = { ADDR_CXX, ADDR_MAIN };
	uint32_t t;
	char *json;
	int ret = -1;

	if (!p)
		return;
	CHECK(profile_thread(p, 10, 10, "main", &t) == 0);
	CHECK(profile_add_sample(p, t, s1, 1, 2) == 0);
	CHECK(profile_add_sample(p, t, s2, 1, 3) == 0);
	json = write_json(p, 100, NULL, false, &ret);
	CHECK_EQ_U64(ret, 0);
	CHECK(json && count_of(json, "{\"name\":") == 1);
	CHECK(json && strstr(json, "{\"name\":\"main\",\"file\":\"main.c\"}"));
	/* Both stacks name alike now: one sample of 5. */
	CHECK(json && strstr(json, "\"weights\":[50]"));
	free(json);
	/* A C++ frame is named by its full signature. */
	CHECK(profile_add_sample(p, t, s3, 2, 1) == 0);
	json = write_json(p, 100, NULL, false, &ret);
	CHECK(json && strstr(json, "{\"name\":\"int ns::f<int>(int (*)(), char const*)\"}"));
	CHECK(json && !strstr(json, "\"ns::f<int>\""));
	free(json);
	json = write_json(p, 100, NULL, true, &ret);
	CHECK(json && count_of(json, "{\"name\":") == 3);
	CHECK(json && strstr(json, "{\"name\":\"main\",\"file\":\"main.c\",\"line\":9}"));
	free(json);
	profile_free(p);
}

int main(int argc, char **argv)
{
	struct profile *p = profile_new();
	uint64_t s1[] = { ADDR_INLINED, ADDR_MAIN };            /* leaf first */
	uint64_t s2[] = { ADDR_KERNEL, ADDR_HOSTILE, ADDR_MAIN };
	uint64_t s3[] = { ADDR_OTHER, ADDR_MAIN };
	uint64_t s4[] = { ADDR_OTHER_TOO, ADDR_MAIN };
	uint64_t s5[] = { ADDR_LONG };
	uint32_t t1, t2, t3, t4;
	char *json;
	int ret = -1;

	test_json_escape();
	memset(long_name, 'x', LONG_NAME_LEN);
	if (!p)
		return 1;
	CHECK(profile_set_process(p, 10, "prog\"<&>") == 0);
	CHECK(profile_set_process(p, 20, "child") == 0);
	/* Named "NAME (PID)" as record -s and -a name processes. */
	CHECK(profile_set_process(p, 30, "other (30)") == 0);
	CHECK(profile_thread(p, 10, 10, "main \xff\x1b[31m", &t1) == 0);
	CHECK(profile_thread(p, 10, 11, "worker", &t2) == 0);
	CHECK(profile_thread(p, 20, 20, "child", &t3) == 0);
	CHECK(profile_thread(p, 30, 31, "helper", &t4) == 0);
	CHECK(profile_add_sample(p, t1, s1, 2, 3) == 0);
	CHECK(profile_add_sample(p, t1, s2, 3, 1) == 0);
	CHECK(profile_add_sample(p, t2, s3, 2, 2) == 0);
	CHECK(profile_add_sample(p, t2, s4, 2, 5) == 0);
	CHECK(profile_add_sample(p, t3, s5, 1, 1) == 0);
	CHECK(profile_add_sample(p, t4, s5, 1, 1) == 0);

	json = write_json(p, 200, "a \"name\"", true, &ret);
	CHECK(json != NULL);
	CHECK_EQ_U64(ret, 0);
	if (json) {
		/* One profile per thread, the process in front (two processes). */
		CHECK_EQ_U64(count_of(json, "\"type\":\"sampled\""), 4);
		CHECK(strstr(json, "\"name\":\"prog\\\"<&> (10) / main \\ufffd\\u001b[31m (10)\""));
		CHECK(strstr(json, "\"name\":\"child (20) / child (20)\""));
		CHECK(strstr(json, "\"name\":\"other (30) / helper (31)\""));
		CHECK(strstr(json, "\"name\":\"a \\\"name\\\"\""));
		/* Frames: suffixes of kind, file and line, escaped. */
		CHECK(strstr(json, "{\"name\":\"inner_fn_[i]\",\"file\":\"inner.h\",\"line\":12}"));
		CHECK(strstr(json, "{\"name\":\"middle_fn_[i]\",\"file\":\"mid\\\"dle.c\",\"line\":40}"));
		CHECK(strstr(json, "{\"name\":\"do_syscall_64_[k]\"}"));
		CHECK(strstr(json, "<script>\\\"a\\\\b\\\"\\u000a\\u0001\\u007f\\ufffd\\ufffd(</script>"));
		/* The 1500-byte name is cut at 1024 bytes and marked. */
		CHECK(strstr(json, "xxx...\"") != NULL);
		CHECK(count_of(json, "x") < 1100);
		/* Frames once each: main, outer, middle, inner, hostile, kernel,
		 * libx (both addresses), long. */
		CHECK_EQ_U64(count_of(json, "{\"name\":"), 8);
		/* Weights in ms at 200 Hz: thread 10 has 3 + 1 samples, thread 11
		 * two stacks that name alike, merged: 2 + 5. */
		CHECK(strstr(json, "\"endValue\":20,") != NULL);
		CHECK(strstr(json, "\"endValue\":35,") != NULL);
		CHECK(strstr(json, "\"weights\":[35]") != NULL);
		CHECK(strstr(json, "\"weights\":[5]") != NULL);
		/* Root first, the inlined chain outermost first: main (0), then
		 * outer_fn (1), middle_fn (2), inner_fn (3). */
		CHECK(strstr(json, "[0,1,2,3]") != NULL);
		/* The busiest thread (worker, 35 ms) is the one shown first. */
		CHECK(strstr(json, "\"activeProfileIndex\":1}") != NULL);
		/* No raw control byte but the newlines between items. */
		for (const char *c = json; *c; c++)
			CHECK(*c == '\n' || (unsigned char)*c >= 0x20);
		if (argc > 1) {
			FILE *f = fopen(argv[1], "w");

			CHECK(f != NULL);
			if (f) {
				fputs(json, f);
				CHECK(fclose(f) == 0);
			}
		}
	}
	free(json);

	/* Same input, same bytes. */
	{
		char *again = write_json(p, 200, "a \"name\"", true, &ret);
		char *first = write_json(p, 200, "a \"name\"", true, &ret);

		CHECK(again && first && strcmp(again, first) == 0);
		free(again);
		free(first);
	}
	profile_free(p);

	test_lines();

	/* An empty profile is a valid file with no profiles. */
	p = profile_new();
	if (p) {
		json = write_json(p, 100, NULL, false, &ret);
		CHECK(json && strstr(json, "\"profiles\":[],"));
		free(json);
		profile_free(p);
	}
	return check_status();
}
