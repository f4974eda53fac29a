/*
 * test_perfmap.c - the JIT symbol files perf reads (/tmp/perf-PID.map):
 * hex with or without 0x, names with blanks, later lines winning where code
 * was replaced, malformed lines skipped, and a file that cannot be read.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "perfmap.h"

#include "banned.h"

int main(void)
{
	static const char text[] =
		"7f0000001000 40 jit_hot\n"
		"0x7f0000002000 0x20 Interpreter::call(int, long) [tier 2]\r\n"
		"not a line\n"
		"7f0000003000 0 zero_size\n"
		"7f0000004000 10\n"                         /* no name */
		"zz 10 bad_start\n"
		"7f0000001010 10 replaced_later\n"          /* overlaps jit_hot */
		"ffffffffffffffff 10 wraps\n"
		"7f0000005000 10 last_line_without_newline";
	struct perfmap *pm = perfmap_parse(text, sizeof(text) - 1);
	char *big;

	CHECK(pm != NULL);
	if (!pm)
		return check_status();
	CHECK_EQ_U64(perfmap_count(pm), 4);
	CHECK_STR(perfmap_lookup(pm, 0x7f0000001000), "jit_hot");
	CHECK_STR(perfmap_lookup(pm, 0x7f000000103f), "jit_hot");
	CHECK_STR(perfmap_lookup(pm, 0x7f0000001018), "replaced_later");
	CHECK(perfmap_lookup(pm, 0x7f0000001040) == NULL);
	CHECK_STR(perfmap_lookup(pm, 0x7f0000002010), "Interpreter::call(int, long) [tier 2]");
	CHECK(perfmap_lookup(pm, 0x7f0000003000) == NULL);
	CHECK(perfmap_lookup(pm, 0x7f0000004000) == NULL);
	CHECK_STR(perfmap_lookup(pm, 0x7f0000005001), "last_line_without_newline");
	CHECK(perfmap_lookup(pm, 0) == NULL);
	CHECK(perfmap_lookup(NULL, 0x7f0000001000) == NULL);
	perfmap_free(pm);

	/* A 5000-byte name is cut at 1024 bytes. */
	big = malloc(6000);
	if (big) {
		memcpy(big, "1000 10 ", 8);
		memset(big + 8, 'n', 5000);
		big[5008] = '\n';
		pm = perfmap_parse(big, 5009);
		CHECK(pm && perfmap_lookup(pm, 0x1000) && strlen(perfmap_lookup(pm, 0x1000)) == 1024);
		perfmap_free(pm);
		free(big);
	}

	/* Empty input: an empty table, not an error. */
	pm = perfmap_parse("", 0);
	CHECK(pm && perfmap_count(pm) == 0);
	perfmap_free(pm);

	errno = 0;
	CHECK(perfmap_load("/nonexistent/perf-1.map") == NULL && errno == ENOENT);
	return check_status();
}
