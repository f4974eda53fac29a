/*
 * hash.h - the hash functions the tables of hotspy share. Inline: they sit
 * on hot paths (stack interning, symbol caches).
 */
#ifndef HOTSPY_HASH_H
#define HOTSPY_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The finalizer of MurmurHash3 (public domain): every input bit reaches
 * every output bit, so a table may index with the low bits. */
static inline uint64_t hash_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

/* FNV-1a over @len bytes, finished with hash_mix64 (FNV's low bits see only
 * the low bits of each byte). */
static inline uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * UINT64_C(0x100000001b3);
	return hash_mix64(h);
}

#endif
