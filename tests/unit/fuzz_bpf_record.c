/*
 * fuzz_bpf_record.c - libFuzzer entry point for bpf_record_parse, the reader
 * of the BPF sampler's ring-buffer records. Besides memory errors (ASan) it
 * checks what the unwinder and the Python reader rely on: an accepted
 * record's stack copy and Python regions lie inside the input, and the
 * regions' lengths add up to their bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bpf_record.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snapshot snap;
	struct bpf_record_py py;
	volatile uint8_t sum = 0;
	size_t total = 0;

	memset(&snap, 0, sizeof(snap));
	if (bpf_record_parse(data, size, &snap, &py) != 0)
		return 0;
	if (snap.stack < data || snap.stack_len > size ||
	    (size_t)(snap.stack - data) > size - snap.stack_len ||
	    snap.stack_len > BPF_RECORD_STACK_MAX || snap.pid <= 0 || snap.tid <= 0)
		abort();
	/* Reading the copy whole lets ASan check its bounds. */
	for (size_t i = 0; i < snap.stack_len; i++)
		sum ^= snap.stack[i];
	if (py.n > BPF_RECORD_PY_REGIONS)
		abort();
	for (size_t i = 0; i < py.n; i++)
		total += py.remote[i].iov_len;
	if (total != py.len || (py.n && (py.bytes < data || py.len > size ||
					 (size_t)(py.bytes - data) > size - py.len)))
		abort();
	for (size_t i = 0; i < py.len; i++)
		sum ^= py.bytes[i];
	(void)sum;
	return 0;
}
