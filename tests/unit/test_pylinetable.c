/*
 * The line-table decoder against the interpreter's own answers.
 *
 *   test_pylinetable DUMP    every instruction of every code object that
 *                            tests/python/dump_linetables.py wrote: the
 *                            decoded line must equal PyCode_Addr2Line's
 *   test_pylinetable         hand-made tables: edge cases and malformed
 *                            input (bounded reads, no overflow)
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pylinetable.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int check_dump(const char *path)
{
	FILE *in = fopen(path, "r");
	char *line = NULL, *table_hex;
	size_t cap = 0, codes = 0, offsets = 0, wrong = 0;
	enum pylinetable_format fmt = PYLINETABLE_LOCATIONS;
	uint8_t *table = NULL;
	size_t tlen = 0;
	int firstlineno = 0;
	unsigned long step = 2, codelen = 0;
	char name[256] = "";
	unsigned long version = 0;

	if (!in) {
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	while (getline(&line, &cap, in) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == 'V') {
			version = strtoul(line + 2, NULL, 10);
			fmt = pylinetable_format_of((uint32_t)version);
		} else if (line[0] == 'C') {
			char *p = line + 2;
			size_t hl;

			firstlineno = (int)strtol(p, &p, 10);
			codelen = strtoul(p, &p, 10);
			step = strtoul(p, &p, 10);
			table_hex = p + 1;
			hl = strcspn(table_hex, " ");
			snprintf(name, sizeof(name), "%s", table_hex[hl] ? table_hex + hl + 1 : "?");
			free(table);
			table = malloc(hl / 2 + 1);
			if (!table)
				return 1;
			tlen = 0;
			for (size_t i = 0; table_hex[0] != '-' && i + 1 < hl + 1 && i + 1 <= hl; i += 2)
				table[tlen++] = (uint8_t)(hexval(table_hex[i]) << 4 | hexval(table_hex[i + 1]));
			codes++;
		} else if (line[0] == 'E') {
			char *p = line + 1;
			unsigned long off = 0;

			while (*p) {
				char *end;
				long want = strtol(p, &end, 10);
				int got;

				if (end == p)
					break;
				p = end;
				got = pylinetable_line(fmt, table, tlen, firstlineno, (uint32_t)off);
				offsets++;
				if (got != want && wrong++ < 10)
					fprintf(stderr, "%s: %s offset %lu: decoded %d, the "
						"interpreter says %ld\n", path, name, off, got, want);
				off += step;
			}
			CHECK(off >= codelen);
		}
	}
	free(line);
	free(table);
	fclose(in);
	printf("CPython 0x%lx: %zu code objects, %zu instruction offsets, %zu lines "
	       "differ from the interpreter's (%.4f%% agree)\n", version, codes, offsets,
	       wrong, offsets ? 100.0 * (double)(offsets - wrong) / (double)offsets : 0.0);
	CHECK(codes > 100);
	CHECK_EQ_U64(wrong, 0);
	return check_status();
}

static void test_formats(void)
{
	CHECK(pylinetable_format_of(0x020712f0) == PYLINETABLE_LNOTAB_UNSIGNED);
	CHECK(pylinetable_format_of(0x030510f0) == PYLINETABLE_LNOTAB_UNSIGNED);
	CHECK(pylinetable_format_of(0x030600f0) == PYLINETABLE_LNOTAB);
	CHECK(pylinetable_format_of(0x030912f0) == PYLINETABLE_LNOTAB);
	CHECK(pylinetable_format_of(0x030a0df0) == PYLINETABLE_310);
	CHECK(pylinetable_format_of(0x030b07f0) == PYLINETABLE_LOCATIONS);
	CHECK(pylinetable_format_of(0x030e00f0) == PYLINETABLE_LOCATIONS);
}

static void test_lnotab(void)
{
	/* Offsets 0-5 line 10, 6-9 line 12, 10- line 11 (signed -1), or line
	 * 10 + 2 + 255 read unsigned. */
	const uint8_t t[] = { 6, 2, 4, 0xff };

	CHECK(pylinetable_line(PYLINETABLE_LNOTAB, t, 4, 10, 0) == 10);
	CHECK(pylinetable_line(PYLINETABLE_LNOTAB, t, 4, 10, 5) == 10);
	CHECK(pylinetable_line(PYLINETABLE_LNOTAB, t, 4, 10, 6) == 12);
	CHECK(pylinetable_line(PYLINETABLE_LNOTAB, t, 4, 10, 10) == 11);
	CHECK(pylinetable_line(PYLINETABLE_LNOTAB_UNSIGNED, t, 4, 10, 10) == 267);
	/* An odd length: the half pair is not read. */
	CHECK(pylinetable_line(PYLINETABLE_LNOTAB, t, 3, 10, 100) == 12);
	CHECK(pylinetable_line(PYLINETABLE_LNOTAB, NULL, 0, 7, 0) == 7);
}

static void test_310(void)
{
	/* [0,4) line 5+1, [4,4) empty, [4,8) no line, [8,10) line 6+2. */
	const uint8_t t[] = { 4, 1, 0, 5, 4, 0x80, 2, 2 };

	CHECK(pylinetable_line(PYLINETABLE_310, t, 8, 5, 0) == 6);
	CHECK(pylinetable_line(PYLINETABLE_310, t, 8, 5, 3) == 6);
	CHECK(pylinetable_line(PYLINETABLE_310, t, 8, 5, 4) == PYLINE_NONE);
	/* The empty range moved the line by 5 though it covers nothing. */
	CHECK(pylinetable_line(PYLINETABLE_310, t, 8, 5, 8) == 13);
	CHECK(pylinetable_line(PYLINETABLE_310, t, 8, 5, 10) == PYLINE_NONE);
}

static void test_locations(void)
{
	/* Entry 1: code 13 (no columns), 1 unit, line delta +3 (varint 6).
	 * Entry 2: code 15 (none), 2 units. Entry 3: code 11 (+1), 1 unit,
	 * two column bytes. Entry 4: code 14 (long), 1 unit, delta -2
	 * (varint 5), then three more varints. Entry 5: code 0, short form. */
	const uint8_t t[] = { 0x80 | 13 << 3 | 0, 6,
			      0x80 | 15 << 3 | 1,
			      0x80 | 11 << 3 | 0, 4, 9,
			      0x80 | 14 << 3 | 0, 5, 0, 1, 2,
			      0x80 | 0 << 3 | 0, 3 };
	size_t n = sizeof(t);

	CHECK(pylinetable_line(PYLINETABLE_LOCATIONS, t, n, 10, 0) == 13);
	CHECK(pylinetable_line(PYLINETABLE_LOCATIONS, t, n, 10, 1) == 13);
	CHECK(pylinetable_line(PYLINETABLE_LOCATIONS, t, n, 10, 2) == PYLINE_NONE);
	CHECK(pylinetable_line(PYLINETABLE_LOCATIONS, t, n, 10, 4) == PYLINE_NONE);
	CHECK(pylinetable_line(PYLINETABLE_LOCATIONS, t, n, 10, 6) == 14);
	CHECK(pylinetable_line(PYLINETABLE_LOCATIONS, t, n, 10, 8) == 12);
	CHECK(pylinetable_line(PYLINETABLE_LOCATIONS, t, n, 10, 10) == 12);
	CHECK(pylinetable_line(PYLINETABLE_LOCATIONS, t, n, 10, 12) == PYLINE_NONE);
	/* Malformed: a varint running off the end, a table not starting at an
	 * entry, a varint too long, deltas that would leave int's range. */
	CHECK(pylinetable_line(PYLINETABLE_LOCATIONS, t, 1, 10, 0) == PYLINE_NONE);
	CHECK(pylinetable_line(PYLINETABLE_LOCATIONS, t + 1, n - 1, 10, 0) == PYLINE_NONE);
	{
		const uint8_t longv[] = { 0x80 | 13 << 3, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 1 };

		CHECK(pylinetable_line(PYLINETABLE_LOCATIONS, longv, sizeof(longv), 1, 0) ==
		      PYLINE_NONE);
	}
	{
		/* +2^29 per entry, 8 entries: past INT_MAX. */
		uint8_t big[8 * 7];

		for (int i = 0; i < 8; i++) {
			uint8_t *e = big + i * 7;

			e[0] = 0x80 | 13 << 3;
			/* 2^30 as a varint: groups 0,0,0,0,0 then 1 (1 << 30). */
			e[1] = 0x40; e[2] = 0x40; e[3] = 0x40; e[4] = 0x40; e[5] = 0x40; e[6] = 1;
		}
		CHECK(pylinetable_line(PYLINETABLE_LOCATIONS, big, sizeof(big), 1, 14) ==
		      PYLINE_NONE);
		CHECK(pylinetable_line(PYLINETABLE_LOCATIONS, big, sizeof(big), 1, 0) ==
		      1 + (1 << 29));
	}
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return check_dump(argv[1]);
	test_formats();
	test_lnotab();
	test_310();
	test_locations();
	return check_status();
}
