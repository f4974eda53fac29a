/*
 * test_pycode.c - the table of CPython code objects: interning by content,
 * shown file names, lines by instruction index, and python addresses named
 * by the symbolizer and written by the folded writer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrspace.h"
#include "check.h"
#include "elf_cache.h"
#include "folded.h"
#include "profile.h"
#include "pycode.h"
#include "symbols.h"

#include "banned.h"

/* A 3.11+ location table: units 0-1 line first+2 (code 13, varint 4),
 * unit 2 no location (code 15), units 3-4 line first+3 (code 11). */
static const uint8_t table311[] = {
	0x80 | 13 << 3 | 1, 4,
	0x80 | 15 << 3 | 0,
	0x80 | 11 << 3 | 1, 1, 2,
};

static void test_short_file(void)
{
	CHECK_STR(pycode_short_file("/usr/lib/python3.11/json/decoder.py"), "json/decoder.py");
	CHECK_STR(pycode_short_file("/root/.pyenv/versions/3.12.1/lib/python3.12/"
				    "site-packages/pkg/mod.py"), "pkg/mod.py");
	CHECK_STR(pycode_short_file("/usr/lib/python3/dist-packages/a/b.py"), "a/b.py");
	CHECK_STR(pycode_short_file("/srv/app/server.py"), "/srv/app/server.py");
	CHECK_STR(pycode_short_file("server.py"), "server.py");
	CHECK_STR(pycode_short_file("<string>"), "<string>");
	/* Not a version after python: kept whole. */
	CHECK_STR(pycode_short_file("/opt/lib/pythonic/x.py"), "/opt/lib/pythonic/x.py");
	CHECK_STR(pycode_short_file("/x/lib/python3.11/"), "/x/lib/python3.11/");
}

static void test_intern(struct pycodes *c)
{
	struct pycode a = {
		.name = "Handler.get", .file = "/srv/app/server.py", .firstlineno = 10,
		.format = PYLINETABLE_LOCATIONS, .linetable = table311,
		.linetable_len = sizeof(table311),
	};
	struct pycode b = a;
	char long_name[PYCODE_NAME_MAX + 100];
	uint32_t ia, ib, ic, id;

	CHECK(pycodes_intern(c, &a, &ia) == 0);
	/* Same contents from other buffers: the same id. */
	b.name = strdup("Handler.get");
	CHECK(pycodes_intern(c, &b, &ib) == 0);
	CHECK(ia == ib);
	free((char *)b.name);
	/* Another first line: another code object. */
	b.name = "Handler.get";
	b.firstlineno = 11;
	CHECK(pycodes_intern(c, &b, &ic) == 0);
	CHECK(ic != ia);
	/* Names are cut at PYCODE_NAME_MAX; no name and no table are fine. */
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	b = (struct pycode){ .name = long_name, .file = NULL };
	CHECK(pycodes_intern(c, &b, &id) == 0);
	CHECK_EQ_U64(strlen(pycodes_get(c, id)->name), PYCODE_NAME_MAX);
	CHECK_STR(pycodes_get(c, id)->file, "");
	/* No table: up to 3.9 every instruction is on the first line, from
	 * 3.10 there is no line. */
	CHECK(pycodes_line(c, id, 0) == 0);
	b = (struct pycode){ .name = "lambda", .firstlineno = 7, .format = PYLINETABLE_LNOTAB };
	CHECK(pycodes_intern(c, &b, &id) == 0);
	CHECK(pycodes_line(c, id, 3) == 7);
	b.format = PYLINETABLE_310;
	CHECK(pycodes_intern(c, &b, &id) == 0);
	CHECK(pycodes_line(c, id, 3) == PYLINE_NONE);
	b.format = PYLINETABLE_LOCATIONS;
	CHECK(pycodes_intern(c, &b, &id) == 0);
	CHECK(pycodes_line(c, id, 3) == PYLINE_NONE);
	CHECK_EQ_U64(pycodes_count(c), 6);
	CHECK(pycodes_get(c, 6) == NULL);
	CHECK(pycodes_get(NULL, 0) == NULL);

	/* Lines by code-unit index. */
	CHECK(pycodes_line(c, ia, 0) == 12);
	CHECK(pycodes_line(c, ia, 1) == 12);
	CHECK(pycodes_line(c, ia, 2) == PYLINE_NONE);
	CHECK(pycodes_line(c, ia, 3) == 13);
	CHECK(pycodes_line(c, ia, 5) == PYLINE_NONE);
	CHECK(pycodes_line(c, 99, 0) == PYLINE_NONE);
}

/* 2.x counts instruction bytes: the index is a byte offset. */
static void test_bytes_index(struct pycodes *c)
{
	static const uint8_t lnotab[] = { 3, 1, 6, 2 };   /* 0-2: 1, 3-8: 2, 9-: 4 */
	struct pycode k = {
		.name = "f", .file = "m.py", .firstlineno = 1,
		.format = PYLINETABLE_LNOTAB_UNSIGNED, .linetable = lnotab,
		.linetable_len = sizeof(lnotab),
	};
	uint32_t id;

	CHECK(pycodes_intern(c, &k, &id) == 0);
	CHECK(pycodes_line(c, id, 2) == 1);
	CHECK(pycodes_line(c, id, 3) == 2);
	CHECK(pycodes_line(c, id, 9) == 4);
	/* 3.6-3.9: the same table counts code units. */
	k.format = PYLINETABLE_LNOTAB;
	CHECK(pycodes_intern(c, &k, &id) == 0);
	CHECK(pycodes_line(c, id, 1) == 1);
	CHECK(pycodes_line(c, id, 2) == 2);
}

/* The symbolizer names python addresses from the table; the folded writer
 * groups them by function and file, or by line with lines. */
static void test_named(struct pycodes *c)
{
	struct pycode main_code = {
		.name = "main", .file = "/usr/lib/python3.11/app/run.py", .firstlineno = 1,
		.format = PYLINETABLE_LOCATIONS, .linetable = table311,
		.linetable_len = sizeof(table311),
	};
	struct pycode leaf = main_code;
	struct elf_cache *cache = elf_cache_new();
	struct symbolizer *sym = cache ? symbolizer_new(cache) : NULL;
	struct profile *p = profile_new();
	const struct frame *f;
	uint32_t im, il, th;
	uint64_t s1[2], s2[2];
	char *text = NULL;
	size_t len = 0;
	FILE *mem;

	leaf.name = "Worker.step";
	leaf.file = "/srv/w;ork.py";      /* ';' must not split the frame */
	CHECK(cache && sym && p);
	if (!cache || !sym || !p)
		goto out;
	CHECK(pycodes_intern(c, &main_code, &im) == 0);
	CHECK(pycodes_intern(c, &leaf, &il) == 0);

	/* Before the table is given: a placeholder, never a crash. */
	CHECK(symbolizer_resolve(sym, 1, addrspace_python_make(im, 0), &f) == 1);
	CHECK_STR(f->function, "[python]");
	symbolizer_set_pycodes(sym, c);
	CHECK(symbolizer_resolve(sym, 1, addrspace_python_make(im, 3), &f) == 1);
	CHECK(f->kind == FRAME_PYTHON);
	CHECK_STR(f->function, "main");
	CHECK_STR(f->module, "app/run.py");
	CHECK_STR(f->file, "/usr/lib/python3.11/app/run.py");
	CHECK_EQ_U64(f->line, 4);
	/* An id the table does not have. */
	CHECK(symbolizer_resolve(sym, 1, addrspace_python_make(12345, 0), &f) == 1);
	CHECK_STR(f->function, "[python]");

	/* Two samples on two lines of the leaf, under two lines of main. */
	s1[0] = addrspace_python_make(il, 0);
	s1[1] = addrspace_python_make(im, 0);
	s2[0] = addrspace_python_make(il, 3);
	s2[1] = addrspace_python_make(im, 4);
	profile_set_process(p, 7, "python3");
	CHECK(profile_thread(p, 7, 7, "python3", &th) == 0);
	CHECK(profile_add_sample(p, th, s1, 2, 1) == 0);
	CHECK(profile_add_sample(p, th, s2, 2, 2) == 0);

	mem = open_memstream(&text, &len);
	CHECK(mem && folded_write(mem, p, sym, NULL) == 0);
	if (mem)
		fclose(mem);
	CHECK_STR(text, "python3;main (app/run.py);Worker.step (/srv/w:ork.py) 3\n");
	free(text);
	text = NULL;
	mem = open_memstream(&text, &len);
	CHECK(mem && folded_write(mem, p, sym, &(struct folded_options){ .lines = true }) == 0);
	if (mem)
		fclose(mem);
	CHECK_STR(text, "python3;main (app/run.py:3);Worker.step (/srv/w:ork.py:3) 1\n"
			"python3;main (app/run.py:4);Worker.step (/srv/w:ork.py:4) 2\n");
	free(text);
out:
	profile_free(p);
	symbolizer_free(sym);
	elf_cache_free(cache);
}

int main(void)
{
	struct pycodes *c = pycodes_new();

	CHECK(c != NULL);
	if (!c)
		return check_status();
	test_short_file();
	test_intern(c);
	test_bytes_index(c);
	pycodes_free(c);
	c = pycodes_new();
	test_named(c);
	pycodes_free(c);
	pycodes_free(NULL);
	return check_status();
}
