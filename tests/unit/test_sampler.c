/*
 * test_sampler.c - the distribution of stop times behind --stats' medians
 * (sampler_hist): quantiles by rank over microsecond bins, the overflow
 * bin, an empty one, and a mean that outliers make useless while the
 * median stays put.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "sampler.h"

#include "banned.h"

int main(void)
{
	static struct sampler_hist h;

	memset(&h, 0, sizeof(h));
	CHECK(sampler_hist_quantile(&h, 0.5) == 0);

	/* 1..100 us: the median's bin is [50, 51), the 90th's [90, 91). */
	for (uint64_t us = 1; us <= 100; us++)
		sampler_hist_add(&h, us * 1000 + 300);
	CHECK_EQ_U64(h.n, 100);
	CHECK(sampler_hist_quantile(&h, 0.5) == 51);
	CHECK(sampler_hist_quantile(&h, 0.9) == 91);
	CHECK(sampler_hist_quantile(&h, 0) == 2);
	CHECK(sampler_hist_quantile(&h, 1) == 101);

	/* Ten stops of 2 ms: the mean goes to ~230 us, the median moves by
	 * five ranks; past 1024 us, 64-us bins. */
	for (int i = 0; i < 10; i++)
		sampler_hist_add(&h, 2000ull * 1000);
	CHECK(sampler_hist_quantile(&h, 0.5) == 56);
	CHECK(sampler_hist_quantile(&h, 1) == 1024 + 64 * 16);
	/* Beyond the last bin's start (~66 ms): counted there. */
	sampler_hist_add(&h, 500ull * 1000 * 1000);
	CHECK_EQ_U64(h.bin[SAMPLER_HIST_BINS - 1], 1);
	CHECK(sampler_hist_quantile(&h, 1) == 1024.0 + 64.0 * 1024);

	/* Under a microsecond: the first bin. */
	memset(&h, 0, sizeof(h));
	sampler_hist_add(&h, 999);
	CHECK_EQ_U64(h.bin[0], 1);
	CHECK(sampler_hist_quantile(&h, 0.5) == 1);
	return check_status();
}
