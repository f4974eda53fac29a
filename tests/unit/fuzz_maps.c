/*
 * fuzz_maps.c - libFuzzer entry point for maps_parse, the parser of
 * /proc/PID/maps text. Besides memory errors (ASan) it checks what
 * maps_find relies on: mappings sorted, disjoint and non-empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maps.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct maps *maps = maps_parse((const char *)data, size);
	size_t n;

	if (!maps)
		return 0;
	n = maps_count(maps);
	for (size_t i = 0; i < n; i++) {
		const struct mapping *m = maps_at(maps, i);

		if (m->start >= m->end || (i && m->start < maps_at(maps, i - 1)->end))
			abort();
		if (maps_find(maps, m->start) != m || maps_find(maps, m->end - 1) != m)
			abort();
		/* Reading the names whole lets ASan check their bounds. */
		if (strlen(mapping_module(m)) > strlen(m->path) + sizeof("[anon]"))
			abort();
	}
	if (maps_at(maps, n))
		abort();
	maps_free(maps_ref(maps));
	maps_free(maps);
	return 0;
}
