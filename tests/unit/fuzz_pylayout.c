/*
 * fuzz_pylayout.c - libFuzzer entry point for pylayout_from_debug_offsets
 * (the _Py_DebugOffsets bytes are read from the target: untrusted). Besides
 * memory errors it checks that an accepted layout keeps its offsets inside
 * the bounds the reader promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pylayout.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Most inputs would fail the cookie: give every input one, so the
	 * fuzzer spends its time on the words after it. */
	uint8_t *buf = malloc(size + 8);
	struct pylayout l;

	if (!buf)
		return 0;
	memcpy(buf, "xdebugpy", 8);
	if (size)
		memcpy(buf + 8, data, size);
	if (pylayout_from_debug_offsets(buf, size + 8, &l) == 0) {
		if (l.runtime.interpreters_head >= 4u << 20 || l.code.filename >= 4096 ||
		    l.str.state >= l.str.ascii_size || l.frame.owner >= 4096)
			abort();
	}
	free(buf);
	return 0;
}
