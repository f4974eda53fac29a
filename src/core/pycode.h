/*
 * pycode.h - the CPython code objects of a recording, by id.
 *
 * The Python reader (tracer/) copies each code object it meets out of the
 * target once: its name, file, first line and line table. It interns the
 * copy here and puts python addresses (addrspace.h: code id + instruction
 * index) into the profile's stacks; the symbolizer turns such an address
 * into a frame {function, module, file, line, kind = python} through this
 * table, with the line decoded only when a frame is shown or written.
 *
 * Identical code objects (same name, file, first line and line table), in
 * one process or in several, share one id: the same function profiled in
 * two workers is one frame. Everything here is a copy, so the table
 * outlives the target.
 */
#ifndef HOTSPY_PYCODE_H
#define HOTSPY_PYCODE_H

#include <stddef.h>
#include <stdint.h>

#include "pylinetable.h"

/* Longest name and file kept (bytes; longer ones are cut), and longest line
 * table (a longer one is dropped: its lines are unknown). */
#define PYCODE_NAME_MAX 1024
#define PYCODE_FILE_MAX 4096
#define PYCODE_LINETABLE_MAX (1u << 20)

/* One code object. Strings are bytes from the target (UTF-8 as CPython
 * keeps them, but untrusted), NUL-terminated. */
struct pycode {
	const char *name;       /* co_qualname (3.11+), else co_name */
	const char *file;       /* co_filename */
	const char *short_file; /* file shown: relative to the target's
				 * sys.path entry it lies under, else after
				 * the last site-packages/, dist-packages/ or
				 * lib/pythonX.Y/, else file */
	int firstlineno;
	enum pylinetable_format format;
	const uint8_t *linetable;
	size_t linetable_len;
};

struct pycodes;

struct pycodes *pycodes_new(void);          /* NULL with errno */
void pycodes_free(struct pycodes *c);       /* accepts NULL */

/*
 * The id of a code object with these contents, interned on first sight
 * (everything is copied: @code's pointers need not outlive the call). Its
 * short_file, when not NULL, is a suffix of @file (the reader's form of
 * it: relative to the target's sys.path); NULL or anything else is
 * derived by pycode_short_file. The first sight's form is kept. @name and
 * @file may be NULL (empty).
 * 0, or -ENOMEM (also past ARRAY_ID_MAX code objects).
 */
int pycodes_intern(struct pycodes *c, const struct pycode *code, uint32_t *id);

/* Code object @id (owned by @c, valid until pycodes_free), or NULL. */
const struct pycode *pycodes_get(const struct pycodes *c, uint32_t id);

size_t pycodes_count(const struct pycodes *c);

/*
 * The line of instruction @index of code object @id: @index counts code
 * units (2 bytes) from 3.6 on, bytes before (the unit of f_lasti in 2.x).
 * The line may be 0 (a module's first instruction on 3.11+); PYLINE_NONE
 * when it has none or @id is unknown.
 */
int pycodes_line(const struct pycodes *c, uint32_t id, uint32_t index);

/* The shown form of a Python file name (see short_file), a suffix of
 * @file. */
const char *pycode_short_file(const char *file);

#endif
