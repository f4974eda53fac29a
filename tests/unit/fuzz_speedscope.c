/*
 * fuzz_speedscope.c - libFuzzer entry point for the JSON and speedscope
 * readers and the report built on what they read. Besides memory errors
 * (ASan) it checks that an accepted file gives a tree whose every node's
 * total is its self plus its children's.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flametree.h"
#include "report.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_options o = { .top = 5, .threads = size & 1, .lines = size & 2 };
	const struct flametree_limits lim = { .memory_max = 64u << 20, .line_max = 4096 };
	struct flametree *t = flametree_new();
	struct report_input in;
	struct report *r = report_new(&o);
	FILE *null = fopen("/dev/null", "w");

	if (!t || !r || !null)
		goto out;
	flametree_set_limits(t, &lim);
	if (report_read(t, (const char *)data, size, o.lines, &in) < 0)
		goto out;
	for (uint32_t i = 0; i < flametree_count(t); i++) {
		const struct flametree_node *n = flametree_node_at(t, i);
		double sum = flametree_self(t, n);

		for (uint32_t c = n->first_child; c != FLAMETREE_NONE;
		     c = flametree_node_at(t, c)->next_sibling)
			sum += flametree_node_at(t, c)->total;
		/* Written so that NaN fails it: fabs(NaN) > x is false. */
		if (!isfinite(n->total) || !(fabs(sum - n->total) <= 1e-6 * (fabs(n->total) + 1)))
			abort();
	}
	if (report_add(r, t, &in) == 0) {
		report_write_text(null, r);
		report_write_json(null, r, NULL, NULL, 0);
	}
out:
	if (null)
		fclose(null);
	report_free(r);
	flametree_free(t);
	return 0;
}
