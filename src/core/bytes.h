/*
 * bytes.h - fields read out of a byte buffer copied from another process
 * (the target's structures, at offsets a layout gives). memcpy, so the
 * buffer needs no alignment; the caller has checked that off + size lies
 * within it.
 */
#ifndef HOTSPY_BYTES_H
#define HOTSPY_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint64_t bytes_u64(const uint8_t *p, uint32_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static inline uint32_t bytes_u32(const uint8_t *p, uint32_t off)
{
	uint32_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

#endif
