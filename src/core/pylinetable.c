#include "pylinetable.h"

#include <limits.h>
#include <stdbool.h>

#include "banned.h"

enum pylinetable_format pylinetable_format_of(uint32_t hexversion)
{
	uint32_t minor = hexversion >> 16;   /* 0x0308 for 3.8 */

	if (minor < 0x0306)
		return PYLINETABLE_LNOTAB_UNSIGNED;
	if (minor < 0x030a)
		return PYLINETABLE_LNOTAB;
	if (minor == 0x030a)
		return PYLINETABLE_310;
	return PYLINETABLE_LOCATIONS;
}

/* co_lnotab: the line grows by each pair's delta while the pair's address
 * is at or before @offset (the loop of PyCode_Addr2Line up to 3.9). */
static int64_t lnotab_line(const uint8_t *t, size_t len, int64_t line, uint32_t offset,
			   bool is_signed)
{
	uint64_t addr = 0;

	for (size_t i = 0; i + 1 < len; i += 2) {
		addr += t[i];
		if (addr > offset)
			break;
		line += is_signed ? (int8_t)t[i + 1] : t[i + 1];
	}
	return line;
}

/* 3.10: each pair ends a range [start, start + delta); empty ranges are
 * skipped (PyLineTable_NextAddressRange), -128 makes a range line-less but
 * leaves the running line as it was. */
static int64_t table310_line(const uint8_t *t, size_t len, int64_t line, uint32_t offset)
{
	uint64_t end = 0;

	for (size_t i = 0; i + 1 < len; i += 2) {
		uint64_t start = end;
		int8_t ldelta = (int8_t)t[i + 1];
		int64_t range_line;

		end += t[i];
		if (ldelta == -128) {
			range_line = PYLINE_NONE;
		} else {
			line += ldelta;
			range_line = line;
		}
		if (start <= offset && offset < end)
			return range_line;
	}
	return PYLINE_NONE;
}

/* A varint of the location table: 6-bit groups, least significant first,
 * 0x40 set on all but the last. False when it runs past the table. */
static bool read_varint(const uint8_t *t, size_t len, size_t *i, uint32_t *out)
{
	uint32_t v = 0;
	unsigned shift = 0;

	for (;;) {
		uint8_t b;

		if (*i >= len || shift > 30)
			return false;
		b = t[(*i)++];
		v |= (uint32_t)(b & 63) << shift;
		if (!(b & 64))
			break;
		shift += 6;
	}
	*out = v;
	return true;
}

/* 3.11+ (Objects/locations.md): an entry starts with a byte whose bit 7 is
 * set; bits 3-6 are the code, bits 0-2 the length in code units minus one.
 * Code 15: no location. 14: long form, 13: no columns (both a signed
 * varint line delta first). 10-12: one-line forms, line delta code - 10.
 * 0-9: short forms on the same line. The running line starts at
 * co_firstlineno and moves with every entry, line-less ones included. */
static int64_t locations_line(const uint8_t *t, size_t len, int64_t line, uint32_t offset)
{
	uint64_t end = 0;
	size_t i = 0;

	while (i < len) {
		uint8_t first = t[i];
		unsigned code = (first >> 3) & 15;
		uint64_t start = end;
		int64_t range_line;

		if (!(first & 128))
			return PYLINE_NONE;     /* not at an entry: malformed */
		end += 2u * ((first & 7u) + 1u);
		i++;
		if (code == 14 || code == 13) {
			uint32_t v;

			if (!read_varint(t, len, &i, &v))
				return PYLINE_NONE;
			line += (v & 1) ? -(int64_t)(v >> 1) : (int64_t)(v >> 1);
		} else if (code >= 10 && code <= 12) {
			line += code - 10;
		}
		range_line = code == 15 ? PYLINE_NONE : line;
		if (start <= offset && offset < end)
			return range_line;
		/* The rest of the entry (columns) up to the next entry's start. */
		while (i < len && !(t[i] & 128))
			i++;
	}
	return PYLINE_NONE;
}

/* Lines run in 64 bits, so that no table (they come from the target) can
 * overflow them; one that leaves int's range has no line. */
int pylinetable_line(enum pylinetable_format fmt, const uint8_t *table, size_t len,
		     int firstlineno, uint32_t offset)
{
	int64_t line = PYLINE_NONE;

	switch (fmt) {
	case PYLINETABLE_LNOTAB_UNSIGNED:
		line = lnotab_line(table, len, firstlineno, offset, false);
		break;
	case PYLINETABLE_LNOTAB:
		line = lnotab_line(table, len, firstlineno, offset, true);
		break;
	case PYLINETABLE_310:
		line = table310_line(table, len, firstlineno, offset);
		break;
	case PYLINETABLE_LOCATIONS:
		line = locations_line(table, len, firstlineno, offset);
		break;
	}
	if (line < INT_MIN || line > INT_MAX)
		return PYLINE_NONE;
	return (int)line;
}
