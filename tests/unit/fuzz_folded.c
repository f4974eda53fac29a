/*
 * fuzz_folded.c - libFuzzer entry point for the folded reader (from memory
 * and from a stream, under small line and memory limits) and the SVG
 * writer behind it. Besides memory errors (ASan) it checks what the layout
 * relies on: every node's total is finite and its self plus its
 * children's, and the SVG holds one script element whatever the names.
 * Run it with tests/unit/fuzz/folded.dict and its seeds (scripts/fuzz.sh).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flametree.h"
#include "svg.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct flametree_limits lim = { .memory_max = 64u << 20, .line_max = 4096 };
	struct flametree *t = flametree_new();
	struct flametree_stats st = { 0 };
	struct svg_options o = { .minwidth = 0.01 };
	int err;
	char *svg = NULL;
	size_t len = 0;
	FILE *f;

	if (!t)
		return 0;
	/* Small limits, so that the fuzzer reaches the paths past them. */
	flametree_set_limits(t, &lim);
	if (size & 2) {
		/* The stream reader (flamegraph and diff), with a line limit
		 * in reach of the fuzzer's inputs. */
		FILE *in = fmemopen((void *)(uintptr_t)data, size, "r");

		if (!in)
			goto out;
		err = flametree_read_folded(t, in, size & 1, &st);
		fclose(in);
	} else {
		err = flametree_add_folded(t, (const char *)data, size, size & 1, &st);
	}
	if (err == -EMSGSIZE && st.long_line == 0)
		abort();
	if (err < 0 || flametree_sort(t) < 0)
		goto out;
	/* Every accepted input has a finite total, whatever its counts. */
	if (!isfinite(flametree_total(t)))
		abort();
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
	f = open_memstream(&svg, &len);
	if (!f)
		goto out;
	if (svg_write(f, t, &o) < 0)
		abort();
	fclose(f);
	{
		size_t scripts = 0;

		for (char *p = strstr(svg, "<script"); p; p = strstr(p + 1, "<script"))
			scripts++;
		if (scripts != 1)
			abort();
	}
	free(svg);
out:
	flametree_free(t);
	return 0;
}
