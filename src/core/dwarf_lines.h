/*
 * dwarf_lines.h - source places from DWARF (libdw): the file and line of an
 * address, and the chain of functions inlined at it.
 *
 * One reader per ELF file that has .debug_info (the object itself, or its
 * separate debug file: the addresses are the same). Lookups go through
 * libdw's address ranges to the compile unit, its line table, and the
 * scopes that contain the address.
 */
#ifndef HOTSPY_DWARF_LINES_H
#define HOTSPY_DWARF_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct Elf;
struct dwarf_lines;

/* A reader over @elf (not owned; must outlive the reader), or NULL when it
 * has no DWARF to read. */
struct dwarf_lines *dwarf_lines_open(struct Elf *elf);
void dwarf_lines_free(struct dwarf_lines *dl);   /* accepts NULL */

struct src_place {
	const char *function;   /* the inlined function (linkage name when the
				 * DWARF has one, else its name qualified by
				 * its namespaces, classes and enclosing
				 * functions: "ns::C<int>::f"); NULL for the
				 * outermost frame, which the caller names from
				 * its symbol table */
	const char *file;       /* NULL when unknown */
	unsigned line;          /* 0 when unknown */
};

/*
 * The frames at ELF virtual address @vaddr, innermost first: the function
 * inlined deepest, its caller at the call's line, and so on out to the
 * real function (function NULL) at the line of the call into the next one.
 * At most @max. Strings belong to the reader. 0 when nothing is known.
 */
size_t dwarf_lines_lookup(struct dwarf_lines *dl, uint64_t vaddr, struct src_place *out,
			  size_t max);

#endif
