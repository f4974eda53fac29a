/*
 * fuzz_folded.c - libFuzzer entry point for the folded reader and the SVG
 * writer behind it. Besides memory errors (ASan) it checks what the layout
 * relies on: every node's total is its self plus its children's, and the
 * SVG holds one script element whatever the names.
 */
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
	struct flametree *t = flametree_new();
	struct svg_options o = { .minwidth = 0.01 };
	char *svg = NULL;
	size_t len = 0;
	FILE *f;

	if (!t)
		return 0;
	if (flametree_add_folded(t, (const char *)data, size, size & 1, NULL) < 0 ||
	    flametree_sort(t) < 0)
		goto out;
	for (uint32_t i = 0; i < flametree_count(t); i++) {
		const struct flametree_node *n = flametree_node_at(t, i);
		double sum = n->self;

		for (uint32_t c = n->first_child; c != FLAMETREE_NONE;
		     c = flametree_node_at(t, c)->next_sibling)
			sum += flametree_node_at(t, c)->total;
		if (fabs(sum - n->total) > 1e-6 * (n->total + 1))
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
