/*
 * fuzz_pylocals.c - libFuzzer entry point for the reading of a CPython
 * frame's arguments and locals (tracer/pylocals.c): the objects it reads
 * are copied from a target, so untrusted. The input's first byte picks a
 * version's layout, the next eight the frame and the next eight its code
 * object; the rest is memory at a fixed address. Besides memory errors,
 * it checks the bounds the reader promises: at most PYLOCALS_MAX locals a
 * frame, bounded names and values, no control byte in a value.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pylayout.h"
#include "pylocals.h"

#include "banned.h"

#define BASE UINT64_C(0x10000)

struct image {
	const uint8_t *bytes;
	size_t size;
};

static int image_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const struct image *im = ctx;

	if (addr < BASE || addr - BASE > im->size || len > im->size - (addr - BASE))
		return -EFAULT;
	memcpy(buf, im->bytes + (addr - BASE), len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t versions[] = { 0x020712f0, 0x030609f0, 0x030812f0, 0x030a0df0,
					     0x030b07f0, 0x030c01f0, 0x030d00f0 };
	static struct pylocals *s;
	const struct pylayout *l;
	struct image im;
	struct pylocals_source src = { image_read, &im };
	uint64_t frame, code;

	if (size < 17)
		return 0;
	if (!s && !(s = pylocals_new()))
		abort();
	l = pylayout_for_version(versions[data[0] % (sizeof(versions) / sizeof(versions[0]))]);
	memcpy(&frame, data + 1, 8);
	memcpy(&code, data + 9, 8);
	im = (struct image){ data + 17, size - 17 };
	/* Most values miss the image: fold them into it. */
	frame = BASE + (im.size ? frame % im.size : 0);
	code = BASE + (im.size ? code % im.size : 0);
	pylocals_clear(s);
	if (pylocals_read(s, l, &src, frame, code) < 0 || pylocals_frames(s) != 1 ||
	    pylocals_count(s, 0) > PYLOCALS_MAX)
		abort();
	for (size_t i = 0; i < pylocals_count(s, 0); i++) {
		struct pylocal pl;

		pylocals_get(s, 0, i, &pl);
		if (strlen(pl.name) >= PYLOCALS_NAME_MAX || strlen(pl.value) >= PYLOCALS_VALUE_MAX)
			abort();
		for (const char *c = pl.value; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				abort();
	}
	return 0;
}
