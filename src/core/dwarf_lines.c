#include "dwarf_lines.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <stdlib.h>

#include "banned.h"

struct dwarf_lines {
	Dwarf *dw;
};

struct dwarf_lines *dwarf_lines_open(struct Elf *elf)
{
	struct dwarf_lines *dl;
	Dwarf *dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);

	if (!dw)
		return NULL;
	dl = calloc(1, sizeof(*dl));
	if (!dl) {
		dwarf_end(dw);
		return NULL;
	}
	dl->dw = dw;
	return dl;
}

void dwarf_lines_free(struct dwarf_lines *dl)
{
	if (!dl)
		return;
	dwarf_end(dl->dw);
	free(dl);
}

/* The name to show for an inlined function: its linkage name (which the
 * symbolizer demangles like any symbol), else its plain name. */
static const char *inline_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name;

	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr)) {
		name = dwarf_formstring(&attr);
		if (name)
			return name;
	}
	name = dwarf_diename(die);
	if (name)
		return name;
	if (dwarf_attr_integrate(die, DW_AT_name, &attr))
		return dwarf_formstring(&attr);
	return NULL;
}

/* The file and line an inlined scope was called from. */
static void call_site(Dwarf_Die *cu, Dwarf_Die *scope, struct src_place *p)
{
	Dwarf_Attribute attr;
	Dwarf_Files *files;
	Dwarf_Word v;
	size_t nfiles;

	p->file = NULL;
	p->line = 0;
	if (dwarf_formudata(dwarf_attr(scope, DW_AT_call_line, &attr), &v) == 0)
		p->line = (unsigned)v;
	if (dwarf_formudata(dwarf_attr(scope, DW_AT_call_file, &attr), &v) == 0 &&
	    dwarf_getsrcfiles(cu, &files, &nfiles) == 0 && v < nfiles)
		p->file = dwarf_filesrc(files, v, NULL, NULL);
}

size_t dwarf_lines_lookup(struct dwarf_lines *dl, uint64_t vaddr, struct src_place *out,
			  size_t max)
{
	Dwarf_Die cu, *scopes = NULL;
	Dwarf_Line *line;
	size_t n = 0;
	int lineno, nscopes;

	if (!dl || max == 0 || !dwarf_addrdie(dl->dw, vaddr, &cu))
		return 0;
	out[0] = (struct src_place){ 0 };
	line = dwarf_getsrc_die(&cu, vaddr);
	if (line) {
		out[0].file = dwarf_linesrc(line, NULL, NULL);
		if (dwarf_lineno(line, &lineno) == 0 && lineno > 0)
			out[0].line = (unsigned)lineno;
	}
	n = 1;
	/* Scopes innermost first: blocks, inlined subroutines, then the
	 * subprogram. Each inlined one names the frame in hand and gives its
	 * caller's place. */
	nscopes = dwarf_getscopes(&cu, vaddr, &scopes);
	for (int i = 0; i < nscopes && n < max; i++) {
		int tag = dwarf_tag(&scopes[i]);

		if (tag == DW_TAG_subprogram)
			break;
		if (tag != DW_TAG_inlined_subroutine)
			continue;
		out[n - 1].function = inline_name(&scopes[i]);
		if (!out[n - 1].function)
			out[n - 1].function = "[inlined]";
		out[n] = (struct src_place){ 0 };
		call_site(&cu, &scopes[i], &out[n]);
		n++;
	}
	free(scopes);
	return n;
}
