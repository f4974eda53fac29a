/*
 * fuzz_perfmap.c - libFuzzer entry point for perfmap_parse (a JIT's
 * /tmp/perf-PID.map is written by the target: untrusted). Besides memory
 * errors it checks that names are bounded and that lookups at a spread of
 * addresses stay inside the table.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perfmap.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct perfmap *pm = perfmap_parse((const char *)data, size);

	if (!pm)
		return 0;
	for (uint64_t a = 0; a < 4096; a += 7) {
		const char *name = perfmap_lookup(pm, a);

		if (name && (strlen(name) > size || strlen(name) > 1024))
			abort();
	}
	perfmap_free(pm);
	return 0;
}
