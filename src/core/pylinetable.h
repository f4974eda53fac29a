/*
 * pylinetable.h - source lines of CPython code objects, decoded from the
 * code object's own line table exactly as the interpreter decodes it
 * (PyCode_Addr2Line in Objects/codeobject.c of each version), so that a
 * sampled instruction gets the line the interpreter itself would report.
 *
 * Four table formats have existed:
 *   2.x-3.5   co_lnotab: (byte offset delta, line delta) unsigned pairs
 *   3.6-3.9   co_lnotab: the same with a signed line delta
 *   3.10      co_linetable: (byte delta, signed line delta) pairs that
 *             each close a range; line delta -128 means "no line"
 *   3.11+     co_linetable: the location table (Objects/locations.md):
 *             one entry per run of 1-8 code units, with line and columns
 *
 * The table is bytes copied from the target: every read is bounded by
 * @len, and a malformed table gives PYLINE_NONE, never a read past it.
 */
#ifndef HOTSPY_PYLINETABLE_H
#define HOTSPY_PYLINETABLE_H

#include <stddef.h>
#include <stdint.h>

/* No line: the instruction has none (3.10+), or the offset is outside the
 * table, or the table is malformed. */
#define PYLINE_NONE (-1)

enum pylinetable_format {
	PYLINETABLE_LNOTAB_UNSIGNED,   /* 2.x - 3.5 */
	PYLINETABLE_LNOTAB,            /* 3.6 - 3.9 */
	PYLINETABLE_310,               /* 3.10 */
	PYLINETABLE_LOCATIONS,         /* 3.11 and later */
};

/* The format of CPython @hexversion (PY_VERSION_HEX, e.g. 0x030b07f0). */
enum pylinetable_format pylinetable_format_of(uint32_t hexversion);

/*
 * The line of the instruction at byte offset @offset of the code (3.11+:
 * twice its code-unit index from the start of co_code_adaptive; 3.10:
 * twice f_lasti; before: f_lasti), given the code object's line table
 * @table[0..len) and co_firstlineno @firstlineno. Returns the line (which
 * may be 0 on 3.11+, for a module's first instruction), or PYLINE_NONE.
 * Pure: safe anywhere.
 */
int pylinetable_line(enum pylinetable_format fmt, const uint8_t *table, size_t len,
		     int firstlineno, uint32_t offset);

#endif
