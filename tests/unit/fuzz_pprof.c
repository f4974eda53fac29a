/*
 * fuzz_pprof.c - libFuzzer entry point for the pprof reader (gzip'd or
 * plain protobuf from anywhere). Besides memory errors (ASan) it checks
 * that the reader only ever fails as documented, and that every node's
 * total is its self plus its children's.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "flametree.h"
#include "pprof.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pprof_read_options o = { .threads = size & 1, .lines = size & 2 };
	const struct flametree_limits lim = { .memory_max = 64u << 20 };
	struct flametree *t = flametree_new();
	int err;

	if (!t)
		return 0;
	flametree_set_limits(t, &lim);
	err = pprof_read_buffer(t, data, size, &o, NULL);
	if (err != 0 && err != -EINVAL && err != -ENOMEM && err != -E2BIG)
		abort();
	for (uint32_t i = 0; err == 0 && i < flametree_count(t); i++) {
		const struct flametree_node *n = flametree_node_at(t, i);
		double sum = flametree_self(t, n);

		for (uint32_t c = n->first_child; c != FLAMETREE_NONE;
		     c = flametree_node_at(t, c)->next_sibling)
			sum += flametree_node_at(t, c)->total;
		/* Written so that NaN fails it: fabs(NaN) > x is false. */
		if (!isfinite(n->total) || !(fabs(sum - n->total) <= 1e-6 * (fabs(n->total) + 1)))
			abort();
	}
	flametree_free(t);
	return 0;
}
