/*
 * bench_profile.c - the per-sample cost of the profile: profile_add_sample
 * over recorded-like stacks (a few thousand distinct stacks of 10 to 60
 * frames sharing their outer frames, a few hot ones drawn most often, spread
 * over 16 threads), the hot path of every `record`, `top` and `dump`.
 * Prints nanoseconds per sample; under callgrind, divide Ir of
 * profile_add_sample and what it calls by SAMPLES. Prints, never fails.
 *
 * Not a CMake target; built by hand against the profile alone:
 *
 *   gcc -O2 -g -std=c11 -D_GNU_SOURCE -Isrc/core tests/bench/bench_profile.c \
 *       src/core/profile.c src/core/array.c src/core/htable.c -o /tmp/bench_profile
 *   /tmp/bench_profile [SAMPLES [STACKS]]
 *   valgrind --tool=callgrind /tmp/bench_profile 200000
 *
 * (drop array.c and htable.c for a profile.c that does not use them.)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "profile.h"

#include "banned.h"

#define THREADS 16
#define MAX_DEPTH 60

static uint64_t rng_state = UINT64_C(0x2545f4914f6cdd1d);

/* xorshift64*: the same sequence on every run. */
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(0x2545f4914f6cdd1d);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	size_t samples = argc > 1 ? strtoull(argv[1], NULL, 10) : 5000000;
	size_t nstacks = argc > 2 ? strtoull(argv[2], NULL, 10) : 4000;
	uint64_t (*stacks)[MAX_DEPTH];
	size_t *depth;
	uint32_t threads[THREADS];
	struct profile *p = profile_new();
	double t0, t1;

	stacks = calloc(nstacks, sizeof(*stacks));
	depth = calloc(nstacks, sizeof(*depth));
	if (!p || !stacks || !depth || !nstacks)
		return 1;
	for (int i = 0; i < THREADS; i++)
		if (profile_thread(p, 1000, 1000 + i, "worker", &threads[i]) < 0)
			return 1;
	/* Outer frames (main, the thread start) shared, the leaf end varied,
	 * as real call trees are: bottom-up from a small set of addresses. */
	for (size_t s = 0; s < nstacks; s++) {
		size_t d = 10 + rng() % (MAX_DEPTH - 10 + 1);

		depth[s] = d;
		for (size_t k = 0; k < d; k++) {
			size_t from_root = d - 1 - k;
			uint64_t choices = 2 + from_root * from_root;

			stacks[s][k] = UINT64_C(0x400000) + from_root * 0x1000 +
				       (rng() % choices) * 0x10;
		}
	}
	t0 = now();
	for (size_t i = 0; i < samples; i++) {
		uint64_t r = rng();
		/* Squared: low indices (hot stacks) far more often. */
		size_t s = (size_t)(((r >> 32) * (r >> 32) >> 32) * nstacks >> 32);

		if (profile_add_sample(p, threads[r & (THREADS - 1)], stacks[s],
				       depth[s], 1) < 0)
			return 1;
	}
	t1 = now();
	printf("%zu samples, %zu distinct stacks interned, %.1f ns/sample\n",
	       samples, profile_stack_count(p), (t1 - t0) * 1e9 / (double)samples);
	profile_free(p);
	free(stacks);
	free(depth);
	return 0;
}
