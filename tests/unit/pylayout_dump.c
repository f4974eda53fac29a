/*
 * pylayout_dump - print hotspy's CPython layout as "field value" lines
 * ("absent" for PYLAYOUT_ABSENT), for tests/python/pylayout_test.py to
 * compare with the interpreter's own headers.
 *
 *   pylayout_dump HEXVERSION              the table for that version
 *   pylayout_dump --debug-offsets FILE    the layout read from FILE, the
 *                                         bytes of a 3.13+ _PyRuntime
 *
 * Exit 1 when there is no layout (with the reason on stderr), 2 on usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pylayout.h"

#include "banned.h"

#define MAX_RUNTIME_BYTES (1u << 20)

static void put(const char *name, uint32_t v)
{
	if (v == PYLAYOUT_ABSENT)
		printf("%s absent\n", name);
	else
		printf("%s %" PRIu32 "\n", name, v);
}

static void dump(const struct pylayout *l)
{
	printf("# hexversion 0x%08" PRIx32 "\n", l->hexversion);
	printf("# source %s\n", l->source == PYLAYOUT_SOURCE_TABLE ? "table" : "debug-offsets");
	put("frame_model", (uint32_t)l->frame_model);
	put("instr", (uint32_t)l->instr);
	put("linetable", (uint32_t)l->linetable);
#define F(group, name) put(#group "." #name, l->group.name)
	F(runtime, interpreters_head);
	F(runtime, interpreters_main);
	F(runtime, tstate_current);
	F(runtime, gil_locked);
	F(runtime, gil_last_holder);
	F(interp, next);
	F(interp, threads_head);
	F(interp, gil);
	F(gil, last_holder);
	F(gil, locked);
	F(tstate, next);
	F(tstate, interp);
	F(tstate, frame);
	F(tstate, cframe);
	F(tstate, current_frame);
	F(tstate, thread_id);
	F(tstate, native_thread_id);
	F(tstate, datastack_chunk);
	F(tstate, datastack_top);
	F(tstate, datastack_limit);
	F(cframe, current_frame);
	F(chunk, previous);
	F(chunk, size);
	F(chunk, top);
	F(chunk, data);
	F(frame, back);
	F(frame, code);
	F(frame, instr);
	F(frame, is_entry);
	F(frame, owner);
	F(frame, owner_not_python);
	F(frame, code_tag_mask);
	F(object, ob_type);
	F(code, filename);
	F(code, name);
	F(code, qualname);
	F(code, linetable);
	F(code, firstlineno);
	F(code, code);
	F(code, code_adaptive);
	F(str, ascii_size);
	F(str, compact_size);
	F(str, length);
	F(str, state);
	F(str, sval);
	F(bytes, ob_size);
	F(bytes, ob_sval);
	F(interp, modules);
	F(object, managed_dict);
	F(object, managed_values);
	F(module, dict);
	F(type, basicsize);
	F(type, dictoffset);
	F(type, flags);
	F(type, cached_keys);
	F(type, managed_dict_flag);
	F(type, inline_values_flag);
	F(dict, keys);
	F(dict, values);
	F(dict, mask);
	F(dict, table);
	F(dictkeys, size);
	F(dictkeys, log2_index_bytes);
	F(dictkeys, kind);
	F(dictkeys, nentries);
	F(dictkeys, indices);
	F(dictkeys, entry_size);
	F(dictkeys, unicode_entry_size);
	F(dictvalues, values);
	F(dictvalues, valid);
	F(integer, ival);
	F(integer, size);
	F(integer, tag);
	F(integer, digits);
	F(frame, localsplus);
	F(code, argcount);
	F(code, kwonlyargcount);
	F(code, nlocals);
	F(code, flags);
	F(code, varnames);
	F(code, cellvars);
	F(code, freevars);
	F(code, localsplusnames);
	F(code, localspluskinds);
	F(code, nlocalsplus);
	F(type, name);
	F(type, heaptype_flag);
	F(tuple, size);
	F(tuple, items);
	F(floating, value);
	F(cell, ref);
	F(unicode27, length);
	F(unicode27, data);
	F(unicode27, width);
#undef F
}

static int dump_debug_offsets(const char *path)
{
	static uint8_t buf[MAX_RUNTIME_BYTES];
	struct pylayout l;
	size_t n;
	FILE *f = fopen(path, "rb");
	int err;

	if (!f) {
		fprintf(stderr, "pylayout_dump: cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	err = pylayout_from_debug_offsets(buf, n, &l);
	if (err) {
		fprintf(stderr, "pylayout_dump: %s: not a usable _Py_DebugOffsets: %s\n", path,
			strerror(-err));
		return 1;
	}
	dump(&l);
	return 0;
}

int main(int argc, char **argv)
{
	const struct pylayout *l;
	char *end;
	unsigned long v;

	if (argc == 3 && strcmp(argv[1], "--debug-offsets") == 0)
		return dump_debug_offsets(argv[2]);
	if (argc != 2) {
		fprintf(stderr, "usage: pylayout_dump HEXVERSION | --debug-offsets FILE\n");
		return 2;
	}
	errno = 0;
	v = strtoul(argv[1], &end, 0);
	if (errno || *end || v > UINT32_MAX) {
		fprintf(stderr, "pylayout_dump: not a version: %s\n", argv[1]);
		return 2;
	}
	l = pylayout_for_version((uint32_t)v);
	if (!l) {
		fprintf(stderr, "pylayout_dump: no layout for 0x%lx\n", v);
		return 1;
	}
	dump(l);
	return 0;
}
