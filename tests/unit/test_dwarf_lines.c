/*
 * test_dwarf_lines.c - source places from DWARF on a fixture built as
 * distributions build (-O2 -g, no frame pointers): the file and line of a
 * function's code, and an inlined call (fixture_now, inlined into
 * fixture_run_more by the compiler) as a frame of its own with the line it
 * was called from.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dwarf_lines.h"
#include "elf_file.h"

#include "banned.h"

static int ends_with(const char *s, const char *tail)
{
	size_t a = s ? strlen(s) : 0, b = strlen(tail);

	return s && a >= b && strcmp(s + a - b, tail) == 0;
}

/* The address range of function @name, by scanning the symbol table. */
static int find_function(struct elf_file *ef, const char *name, uint64_t *lo, uint64_t *hi)
{
	uint64_t a, b, start;

	elf_file_vaddr_range(ef, &a, &b);
	*lo = *hi = 0;
	for (uint64_t v = a; v < b; v++) {
		const char *s = elf_file_symbol(ef, v, &start);

		if (s && strcmp(s, name) == 0) {
			if (!*lo)
				*lo = v;
			*hi = v + 1;
		} else if (*lo) {
			break;
		}
	}
	return *lo ? 0 : -ENOENT;
}

int main(void)
{
	struct elf_file *ef = elf_file_open(HOTSPOTS_PATH);
	struct dwarf_lines *dl;
	struct src_place pl[16];
	uint64_t lo, hi;
	size_t n, inlined = 0, plain = 0;

	CHECK(ef != NULL);
	if (!ef)
		return check_status();
	dl = dwarf_lines_open(elf_file_elf(ef));
	CHECK(dl != NULL);
	if (!dl) {
		elf_file_free(ef);
		return check_status();
	}

	/* hot_a: one frame, the real function, in hotspots.c. */
	CHECK(find_function(ef, "hot_a", &lo, &hi) == 0);
	n = dwarf_lines_lookup(dl, lo + (hi - lo) / 2, pl, 16);
	CHECK(n >= 1);
	if (n >= 1) {
		CHECK(pl[n - 1].function == NULL);
		CHECK(ends_with(pl[0].file, "/hotspots.c"));
		CHECK(pl[0].line > 0);
	}

	/* fixture_run_more: somewhere in it, fixture_now inlined. */
	CHECK(find_function(ef, "fixture_run_more", &lo, &hi) == 0);
	for (uint64_t v = lo; v < hi; v++) {
		n = dwarf_lines_lookup(dl, v, pl, 16);
		if (n == 1 && pl[0].function == NULL && ends_with(pl[0].file, "/fixture.c")) {
			plain++;
		} else if (n == 2 && pl[0].function && strcmp(pl[0].function, "fixture_now") == 0) {
			inlined++;
			/* The inlined code's own place, and the call's. */
			CHECK(ends_with(pl[0].file, "/fixture.c"));
			CHECK(pl[1].function == NULL);
			CHECK(ends_with(pl[1].file, "/fixture.c"));
			CHECK(pl[1].line > pl[0].line);   /* called below its definition */
		}
	}
	printf("fixture_run_more: %zu addresses plain, %zu in inlined fixture_now\n",
	       plain, inlined);
	CHECK(plain > 0);
	CHECK(inlined > 0);

	/* Outside any compile unit: nothing, and no crash. */
	CHECK(dwarf_lines_lookup(dl, 0, pl, 16) == 0);
	CHECK(dwarf_lines_lookup(NULL, lo, pl, 16) == 0);

	dwarf_lines_free(dl);
	elf_file_free(ef);
	return check_status();
}
