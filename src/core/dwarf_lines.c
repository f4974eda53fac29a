#include "dwarf_lines.h"

#include <dwarf.h>
#include <stdbool.h>
#include <elfutils/libdw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* Longest qualified name built, in bytes; longer ones are cut. */
#define QUALIFIED_MAX 1024
/* Enclosing functions followed when qualifying (a lambda in a lambda...). */
#define QUALIFY_DEPTH 4
/* Qualified names kept per reader, at most. */
#define QUALIFIED_CACHE_MAX 4096

/* A name built from a DIE's scopes, kept for the reader's life. */
struct qualified {
	Dwarf_Off die;
	char *name;
};

struct dwarf_lines {
	Dwarf *dw;
	struct qualified *names;
	size_t nnames, names_cap;
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
	for (size_t i = 0; i < dl->nnames; i++)
		free(dl->names[i].name);
	free(dl->names);
	free(dl);
}

/* The DIE that declares @die: through DW_AT_abstract_origin (an inlined
 * or out-of-line instance) and DW_AT_specification (a member defined
 * outside its class), whose parents are the function's scopes. */
static void declaration_of(Dwarf_Die *die)
{
	for (int i = 0; i < 8; i++) {
		Dwarf_Attribute attr;
		Dwarf_Die next;

		if (!dwarf_attr(die, DW_AT_abstract_origin, &attr) &&
		    !dwarf_attr(die, DW_AT_specification, &attr))
			return;
		if (!dwarf_formref_die(&attr, &next))
			return;
		*die = next;
	}
}

static void append(char *buf, size_t size, const char *s)
{
	size_t len = strnlen(buf, size);

	if (len + 1 < size)
		snprintf(buf + len, size - len, "%s", s);
}

/*
 * Append the scope-qualified name of the function @die to @buf
 * ("ns::Class<int>::method", "(anonymous namespace)::f",
 * "outer::<lambda(int)>::operator()"): the names of the namespaces,
 * classes and enclosing functions of its declaration, outermost first, as
 * the demangler prints a symbol without its parameters.
 */
static void qualify(Dwarf_Die *die, char *buf, size_t size, int depth)
{
	Dwarf_Die decl = *die, *scopes = NULL;
	const char *name;
	int n, outer;

	declaration_of(&decl);
	n = dwarf_getscopes_die(&decl, &scopes);
	/* scopes[0] is the DIE itself, scopes[n - 1] its compile unit. An
	 * enclosing function is qualified from its own declaration, which
	 * gives the scopes above it. */
	outer = n - 1;
	for (int i = 1; i < n; i++) {
		if (dwarf_tag(&scopes[i]) == DW_TAG_subprogram) {
			if (depth < QUALIFY_DEPTH) {
				qualify(&scopes[i], buf, size, depth + 1);
				append(buf, size, "::");
			}
			outer = i;
			break;
		}
	}
	for (int i = outer - 1; i >= 1; i--) {
		int tag = dwarf_tag(&scopes[i]);
		const char *fn = dwarf_diename(&decl);

		name = dwarf_diename(&scopes[i]);
		if (tag == DW_TAG_namespace)
			append(buf, size, name ? name : "(anonymous namespace)");
		else if (tag == DW_TAG_class_type || tag == DW_TAG_structure_type ||
			 tag == DW_TAG_union_type)
			/* GCC leaves a lambda's closure type unnamed. */
			append(buf, size, name ? name :
			       i == 1 && fn && strcmp(fn, "operator()") == 0 ? "{lambda}" :
			       "{unnamed type}");
		else
			continue;   /* lexical blocks */
		append(buf, size, "::");
	}
	free(scopes);
	name = dwarf_diename(&decl);
	append(buf, size, name ? name : "[inlined]");
}

/* The qualified name of @die, built once per declaration; NULL without
 * memory or room. */
static const char *qualified_name(struct dwarf_lines *dl, Dwarf_Die *die)
{
	char buf[QUALIFIED_MAX] = "";
	Dwarf_Die decl = *die;
	Dwarf_Off off;
	struct qualified *e;

	declaration_of(&decl);
	off = dwarf_dieoffset(&decl);
	for (size_t i = 0; i < dl->nnames; i++)
		if (dl->names[i].die == off)
			return dl->names[i].name;
	if (dl->nnames >= QUALIFIED_CACHE_MAX)
		return NULL;
	if (dl->nnames == dl->names_cap) {
		size_t cap = dl->names_cap ? 2 * dl->names_cap : 16;

		e = realloc(dl->names, cap * sizeof(*e));
		if (!e)
			return NULL;
		dl->names = e;
		dl->names_cap = cap;
	}
	qualify(die, buf, sizeof(buf), 0);
	e = &dl->names[dl->nnames];
	e->die = off;
	e->name = strdup(buf);
	if (!e->name)
		return NULL;
	dl->nnames++;
	return e->name;
}

/* Whether @die is C++ code: only C++ has scopes to qualify a name with,
 * and finding them walks the whole compile unit (dwarf_getscopes_die),
 * which C code (libc's many static inline functions) should not pay. */
static bool is_cxx(Dwarf_Die *die)
{
	Dwarf_Die cu;

	if (!dwarf_diecu(die, &cu, NULL, NULL))
		return false;
	switch (dwarf_srclang(&cu)) {
	case DW_LANG_C_plus_plus:
	case DW_LANG_C_plus_plus_03:
	case DW_LANG_C_plus_plus_11:
	case DW_LANG_C_plus_plus_14:
	case DW_LANG_ObjC_plus_plus:
		return true;
	default:
		return false;
	}
}

/* The name to show for an inlined function: its linkage name (which the
 * symbolizer demangles like any symbol), else its plain name qualified by
 * its scopes, so that it reads like the symbol-table frames around it
 * (DWARF gives static and lambda functions no linkage name). */
static const char *inline_name(struct dwarf_lines *dl, Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name;

	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr)) {
		name = dwarf_formstring(&attr);
		if (name)
			return name;
	}
	name = is_cxx(die) ? qualified_name(dl, die) : NULL;
	if (name)
		return name;
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
		out[n - 1].function = inline_name(dl, &scopes[i]);
		if (!out[n - 1].function)
			out[n - 1].function = "[inlined]";
		out[n] = (struct src_place){ 0 };
		call_site(&cu, &scopes[i], &out[n]);
		n++;
	}
	free(scopes);
	return n;
}
