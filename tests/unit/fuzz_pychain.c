/*
 * fuzz_pychain.c - libFuzzer entry point for the CPython frame-chain walk
 * (tracer/pychain.c): the frames it parses are copied from a target, so
 * untrusted. The input's first byte picks a version's layout, the next
 * eight the innermost frame and the next eight the 3.11 _PyCFrame; the rest
 * is memory at a fixed address. Besides memory errors, it checks the
 * bounds the walk promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pychain.h"
#include "pylayout.h"

#include "banned.h"

#define BASE UINT64_C(0x10000)

struct image {
	const uint8_t *bytes;
	size_t size;
};

static const uint8_t *image_read(void *ctx, uint64_t addr, size_t len)
{
	const struct image *im = ctx;

	if (addr < BASE || addr - BASE > im->size || len > im->size - (addr - BASE))
		return NULL;
	return im->bytes + (addr - BASE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t versions[] = { 0x020712f0, 0x030609f0, 0x030812f0, 0x030a0df0,
					     0x030b07f0, 0x030c01f0, 0x030d00f0 };
	static struct pystack st;
	static struct pychain_seen *seen;
	const struct pylayout *l;
	struct image im;
	struct pychain_source src = { image_read, &im };
	uint64_t frame, cframe;

	if (size < 17)
		return 0;
	if (!seen && !(seen = pychain_seen_new()))
		abort();
	l = pylayout_for_version(versions[data[0] % (sizeof(versions) / sizeof(versions[0]))]);
	memcpy(&frame, data + 1, 8);
	memcpy(&cframe, data + 9, 8);
	im = (struct image){ data + 17, size - 17 };
	/* Most frame values miss the image: fold them into it. */
	frame = BASE + (im.size ? frame % im.size : 0);
	cframe = BASE + (im.size ? cframe % im.size : 0);
	pychain_walk(l, &src, frame, cframe, seen, &st);
	if (st.n > PYSTACK_MAX_FRAMES || st.ncalls > PYSTACK_MAX_FRAMES ||
	    (st.n && st.ncalls != (size_t)st.frames[st.n - 1].call + 1) ||
	    (!st.n && st.ncalls))
		abort();
	for (size_t i = 0; i < st.n; i++)
		if (!st.frames[i].code || st.frames[i].index > PYCHAIN_INDEX_MAX ||
		    (i && st.frames[i].call < st.frames[i - 1].call))
			abort();
	return 0;
}
