/*
 * test_pylayout - which table covers which version (patch ranges
 * included), and pylayout_from_debug_offsets() on made-up structs: each
 * field taken from its documented word, and anything odd refused. The
 * tables' numbers themselves are checked against the interpreters' headers
 * by tests/python/pylayout_test.py.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pylayout.h"

#define HEX(maj, min, pat) (((uint32_t)(maj) << 24) | ((uint32_t)(min) << 16) | \
			    ((uint32_t)(pat) << 8) | 0xf0)

static void test_versions(void)
{
	const struct pylayout *l;

	CHECK(pylayout_for_version(HEX(2, 6, 9)) == NULL);
	CHECK(pylayout_for_version(HEX(3, 5, 10)) == NULL);
	CHECK(pylayout_for_version(HEX(3, 14, 0)) == NULL);
	CHECK(pylayout_for_version(HEX(4, 0, 0)) == NULL);
	CHECK(pylayout_for_version(0) == NULL);

	/* 3.7.0-3.7.3: the runtime's gilstate moved in 3.7.4; the rest did
	 * not. */
	{
		const struct pylayout *early = pylayout_for_version(HEX(3, 7, 3));
		const struct pylayout *late = pylayout_for_version(HEX(3, 7, 4));

		CHECK(early && late && early != late);
		CHECK(pylayout_for_version(HEX(3, 7, 0)) == early);
		CHECK(pylayout_for_version(HEX(3, 7, 16)) == late);
		if (early && late) {
			CHECK(early->runtime.gil_locked == PYLAYOUT_ABSENT);
			CHECK(late->runtime.gil_locked != PYLAYOUT_ABSENT);
			CHECK(early->runtime.tstate_current != late->runtime.tstate_current);
			CHECK_EQ_U64(early->runtime.interpreters_head,
				     late->runtime.interpreters_head);
			CHECK_EQ_U64(early->tstate.thread_id, late->tstate.thread_id);
		}
	}

	/* 3.8.0-3.8.8 share 3.8.9's layout but for the runtime GIL fields. */
	{
		const struct pylayout *early = pylayout_for_version(HEX(3, 8, 8));
		const struct pylayout *late = pylayout_for_version(HEX(3, 8, 9));

		CHECK(early && late && early != late);
		if (early && late) {
			CHECK(early->runtime.gil_locked == PYLAYOUT_ABSENT);
			CHECK(early->runtime.gil_last_holder == PYLAYOUT_ABSENT);
			CHECK(late->runtime.gil_locked != PYLAYOUT_ABSENT);
			CHECK_EQ_U64(early->runtime.tstate_current,
				     late->runtime.tstate_current);
			CHECK_EQ_U64(early->runtime.interpreters_head,
				     late->runtime.interpreters_head);
			CHECK_EQ_U64(early->frame.instr, late->frame.instr);
		}
		CHECK(pylayout_for_version(HEX(3, 8, 18)) == late);
		CHECK(pylayout_for_version(HEX(3, 8, 0)) == early);
	}
	l = pylayout_for_version(HEX(3, 9, 2));
	CHECK(l && l->runtime.gil_last_holder == PYLAYOUT_ABSENT);
	l = pylayout_for_version(HEX(3, 9, 3));
	CHECK(l && l->runtime.gil_last_holder != PYLAYOUT_ABSENT);

	/* Release level and serial do not matter: 3.12.0rc1 is 3.12. */
	CHECK(pylayout_for_version(0x030c00c1) == pylayout_for_version(HEX(3, 12, 1)));

	/* Each table's models agree with its version and with the line-table
	 * decoder's idea of the format. */
	static const struct {
		uint32_t hex;
		enum pylayout_frame_model model;
		enum pylayout_instr instr;
	} models[] = {
		{ HEX(2, 7, 18), PYLAYOUT_FRAME_OBJECTS, PYLAYOUT_INSTR_BYTE_OFFSET },
		{ HEX(3, 6, 15), PYLAYOUT_FRAME_OBJECTS, PYLAYOUT_INSTR_BYTE_OFFSET },
		{ HEX(3, 9, 18), PYLAYOUT_FRAME_OBJECTS, PYLAYOUT_INSTR_BYTE_OFFSET },
		{ HEX(3, 10, 13), PYLAYOUT_FRAME_OBJECTS, PYLAYOUT_INSTR_CODE_UNIT },
		{ HEX(3, 11, 2), PYLAYOUT_FRAME_CFRAME, PYLAYOUT_INSTR_POINTER },
		{ HEX(3, 12, 1), PYLAYOUT_FRAME_CFRAME, PYLAYOUT_INSTR_POINTER },
		{ HEX(3, 13, 0), PYLAYOUT_FRAME_CURRENT, PYLAYOUT_INSTR_POINTER },
	};
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		l = pylayout_for_version(models[i].hex);
		CHECK(l != NULL);
		if (!l)
			continue;
		CHECK_EQ_U64(l->frame_model, models[i].model);
		CHECK_EQ_U64(l->instr, models[i].instr);
		CHECK_EQ_U64(l->linetable, pylinetable_format_of(models[i].hex));
		CHECK_EQ_U64(l->source, PYLAYOUT_SOURCE_TABLE);
		CHECK(l->hexversion >> 16 == models[i].hex >> 16);
		/* What a frame-chain reader cannot do without. */
		CHECK(l->frame.back != PYLAYOUT_ABSENT);
		CHECK(l->frame.code != PYLAYOUT_ABSENT);
		CHECK(l->frame.instr != PYLAYOUT_ABSENT);
		CHECK(l->code.filename != PYLAYOUT_ABSENT);
		CHECK(l->code.linetable != PYLAYOUT_ABSENT);
		CHECK(l->tstate.thread_id != PYLAYOUT_ABSENT);
		CHECK((l->code.code == PYLAYOUT_ABSENT) != (l->code.code_adaptive == PYLAYOUT_ABSENT));
		/* What the thread-name walk needs: every table has it. */
		CHECK(l->interp.modules != PYLAYOUT_ABSENT);
		CHECK(l->module.dict != PYLAYOUT_ABSENT);
		CHECK(l->type.flags != PYLAYOUT_ABSENT);
		CHECK((l->dict.keys == PYLAYOUT_ABSENT) != (l->dict.table == PYLAYOUT_ABSENT));
		/* 3.x int is a PyLongObject; 2.7 has both int and long. */
		CHECK(l->integer.digits != PYLAYOUT_ABSENT);
		CHECK((l->integer.ival == PYLAYOUT_ABSENT) == (l->hexversion >= 0x03000000));
		/* What dump --locals needs: every table has it. */
		CHECK(l->frame.localsplus != PYLAYOUT_ABSENT);
		CHECK(l->code.argcount != PYLAYOUT_ABSENT);
		CHECK(l->code.flags != PYLAYOUT_ABSENT);
		CHECK(l->type.name != PYLAYOUT_ABSENT);
		CHECK((l->code.varnames == PYLAYOUT_ABSENT) !=
		      (l->code.localsplusnames == PYLAYOUT_ABSENT));
		CHECK((l->unicode27.data == PYLAYOUT_ABSENT) == (l->hexversion >= 0x03000000));
		/* A managed dict (3.11+) comes with its flag. */
		CHECK((l->object.managed_dict == PYLAYOUT_ABSENT) ==
		      (l->type.managed_dict_flag == PYLAYOUT_ABSENT));
	}
}

/*
 * A made-up 3.13 _Py_DebugOffsets: cookie, version, free_threaded, then
 * the groups of CPython 3.13.0's Include/internal/pycore_runtime.h, each
 * word a distinct value so that a field read from the wrong word shows.
 * Word indexes here are counted from that header by hand.
 */
#define W313 73
static void make_313(uint64_t *w, uint32_t version)
{
	memset(w, 0, W313 * 8);
	memcpy(w, "xdebugpy", 8);
	w[1] = version;
	w[2] = 0;
	w[3] = 100000;          /* runtime_state.size */
	w[4] = 600;             /* finalizing */
	w[5] = 632;             /* interpreters_head */
	w[6] = 90000;           /* interpreter_state.size */
	w[7] = 1;               /* id */
	w[8] = 7264;            /* next */
	w[9] = 7344;            /* threads_head */
	for (int i = 10; i <= 13; i++)
		w[i] = 1000 + (uint64_t)i;   /* gc, imports, sysdict, builtins */
	w[14] = 16;             /* ceval_gil */
	w[15] = 3000;           /* gil_runtime_state */
	w[16] = 0;              /* enabled (free-threaded only) */
	w[17] = 3016;           /* locked */
	w[18] = 3008;           /* holder */
	w[19] = 400;            /* thread_state.size */
	w[20] = 0;              /* prev */
	w[21] = 8;              /* next */
	w[22] = 16;             /* interp */
	w[23] = 72;             /* current_frame */
	w[24] = 152;            /* thread_id */
	w[25] = 160;            /* native_thread_id */
	w[26] = 232;            /* datastack_chunk */
	w[27] = 250;            /* status */
	w[28] = 80;             /* interpreter_frame.size */
	w[29] = 8;              /* previous */
	w[30] = 0;              /* executable */
	w[31] = 56;             /* instr_ptr */
	w[32] = 72;             /* localsplus */
	w[33] = 70;             /* owner */
	w[34] = 208;            /* code_object.size */
	w[35] = 112;            /* filename */
	w[36] = 120;            /* name */
	w[37] = 128;            /* qualname */
	w[38] = 136;            /* linetable */
	w[39] = 68;             /* firstlineno */
	w[40] = 52;             /* argcount */
	w[41] = 96;             /* localsplusnames */
	w[42] = 104;            /* localspluskinds */
	w[43] = 200;            /* co_code_adaptive */
	w[44] = 16;             /* pyobject.size */
	w[45] = 8;              /* ob_type */
	for (int i = 46; i < 64; i++)
		w[i] = 24;      /* type, tuple, list, dict, float, long */
	w[64] = 40;             /* bytes_object.size */
	w[65] = 16;             /* ob_size */
	w[66] = 32;             /* ob_sval */
	w[67] = 80;             /* unicode_object.size */
	w[68] = 32;             /* state */
	w[69] = 16;             /* length */
	w[70] = 40;             /* asciiobject_size */
	w[71] = 400;            /* gc.size */
	w[72] = 8;              /* collecting */
}

static void test_debug_offsets(void)
{
	uint64_t w[W313 + 32];
	struct pylayout l;

	make_313(w, 0x030d00f0);
	CHECK_EQ_U64(pylayout_from_debug_offsets(w, W313 * 8, &l), 0);
	CHECK_EQ_U64(l.source, PYLAYOUT_SOURCE_DEBUG_OFFSETS);
	CHECK_EQ_U64(l.hexversion, 0x030d00f0);
	CHECK_EQ_U64(l.frame_model, PYLAYOUT_FRAME_CURRENT);
	CHECK_EQ_U64(l.linetable, PYLINETABLE_LOCATIONS);
	CHECK_EQ_U64(l.runtime.interpreters_head, 632);
	CHECK_EQ_U64(l.runtime.interpreters_main, 640);
	CHECK_EQ_U64(l.runtime.gil_locked, PYLAYOUT_ABSENT);
	CHECK_EQ_U64(l.interp.next, 7264);
	CHECK_EQ_U64(l.interp.threads_head, 7344);
	CHECK_EQ_U64(l.interp.gil, 16);
	CHECK_EQ_U64(l.gil.locked, 16);
	CHECK_EQ_U64(l.gil.last_holder, 8);
	CHECK_EQ_U64(l.tstate.next, 8);
	CHECK_EQ_U64(l.tstate.interp, 16);
	CHECK_EQ_U64(l.tstate.current_frame, 72);
	CHECK_EQ_U64(l.tstate.cframe, PYLAYOUT_ABSENT);
	CHECK_EQ_U64(l.tstate.thread_id, 152);
	CHECK_EQ_U64(l.tstate.native_thread_id, 160);
	CHECK_EQ_U64(l.tstate.datastack_chunk, 232);
	CHECK_EQ_U64(l.tstate.datastack_top, 240);
	CHECK_EQ_U64(l.frame.back, 8);
	CHECK_EQ_U64(l.frame.code, 0);
	CHECK_EQ_U64(l.frame.instr, 56);
	CHECK_EQ_U64(l.frame.owner, 70);
	CHECK_EQ_U64(l.frame.is_entry, PYLAYOUT_ABSENT);
	CHECK_EQ_U64(l.frame.code_tag_mask, 0);
	CHECK_EQ_U64(l.code.filename, 112);
	CHECK_EQ_U64(l.code.name, 120);
	CHECK_EQ_U64(l.code.qualname, 128);
	CHECK_EQ_U64(l.code.linetable, 136);
	CHECK_EQ_U64(l.code.firstlineno, 68);
	CHECK_EQ_U64(l.code.code_adaptive, 200);
	CHECK_EQ_U64(l.code.code, PYLAYOUT_ABSENT);
	CHECK_EQ_U64(l.object.ob_type, 8);
	CHECK_EQ_U64(l.bytes.ob_size, 16);
	CHECK_EQ_U64(l.bytes.ob_sval, 32);
	CHECK_EQ_U64(l.str.ascii_size, 40);
	CHECK_EQ_U64(l.str.compact_size, 56);
	CHECK_EQ_U64(l.str.length, 16);
	CHECK_EQ_U64(l.str.state, 32);
	/* The thread-name fields: sys.modules from the struct (word 11,
	 * imports_modules), the rest from 3.13's table. */
	CHECK_EQ_U64(l.interp.modules, 1011);
	CHECK_EQ_U64(l.type.inline_values_flag, 1u << 2);
	CHECK_EQ_U64(l.dictvalues.values, 8);
	CHECK_EQ_U64(l.object.managed_dict, 24);
	CHECK_EQ_U64(l.integer.digits, 24);
	CHECK_EQ_U64(l.integer.tag, 16);
	CHECK_EQ_U64(l.integer.size, PYLAYOUT_ABSENT);
	/* dump --locals: the fields the struct carries agree with 3.13's
	 * table, which gives the rest. */
	CHECK_EQ_U64(l.frame.localsplus, 72);
	CHECK_EQ_U64(l.code.argcount, 52);
	CHECK_EQ_U64(l.code.localsplusnames, 96);
	CHECK_EQ_U64(l.code.localspluskinds, 104);
	CHECK_EQ_U64(l.code.nlocalsplus, 72);
	CHECK_EQ_U64(l.code.kwonlyargcount, 60);
	CHECK_EQ_U64(l.code.varnames, PYLAYOUT_ABSENT);
	CHECK_EQ_U64(l.cell.ref, 16);
	/* When they disagree, locals are not read; the rest still is. */
	w[41] = 88;
	CHECK_EQ_U64(pylayout_from_debug_offsets(w, W313 * 8, &l), 0);
	CHECK_EQ_U64(l.code.localsplusnames, PYLAYOUT_ABSENT);
	CHECK_EQ_U64(l.frame.localsplus, PYLAYOUT_ABSENT);
	CHECK_EQ_U64(l.code.nlocalsplus, PYLAYOUT_ABSENT);
	CHECK_EQ_U64(l.code.name, 120);

	/* An rc is read; alphas and betas are refused as unsupported. */
	make_313(w, 0x030d00c1);
	CHECK_EQ_U64(pylayout_from_debug_offsets(w, W313 * 8, &l), 0);
	make_313(w, 0x030d00b4);
	CHECK_EQ_U64(pylayout_from_debug_offsets(w, W313 * 8, &l), (uint64_t)-ENOTSUP);

	/* Odd input: each refused, and @out left alone. */
	struct pylayout keep;
	memset(&keep, 0x5a, sizeof(keep));
	l = keep;
#define REFUSED(mutate, length) do { \
	make_313(w, 0x030d00f0); \
	mutate; \
	CHECK_EQ_U64(pylayout_from_debug_offsets(w, (length), &l), (uint64_t)-EINVAL); \
	CHECK(memcmp(&l, &keep, sizeof(l)) == 0); \
} while (0)
	REFUSED((void)0, W313 * 8 - 1);             /* too short */
	REFUSED((void)0, 8);
	REFUSED(memcpy(w, "xdebugpz", 8), W313 * 8); /* cookie */
	REFUSED(w[1] = 0x030c01f0, W313 * 8);       /* 3.12 has none */
	REFUSED(w[1] = 0x020713f0, W313 * 8);
	REFUSED(w[1] = 0x130d00f0, W313 * 8);
	REFUSED(w[1] = 0x1030d00f0ULL, W313 * 8);
	REFUSED(w[1] = 0x030d0000, W313 * 8);       /* level 0 */
	REFUSED(w[2] = 7, W313 * 8);                /* free_threaded */
	REFUSED(w[3] = 0, W313 * 8);                /* sizes */
	REFUSED(w[6] = 1ULL << 40, W313 * 8);
	REFUSED(w[34] = 100000, W313 * 8);
	REFUSED(w[5] = 100000, W313 * 8);           /* offsets past their struct */
	REFUSED(w[9] = 90000 - 4, W313 * 8);
	REFUSED(w[23] = 400, W313 * 8);
	REFUSED(w[35] = ~0ULL, W313 * 8);
	REFUSED(w[33] = 80, W313 * 8);
	REFUSED(w[17] = 2000, W313 * 8);            /* locked before the gil */
	REFUSED(w[70] = 0, W313 * 8);
	REFUSED(w[68] = 40, W313 * 8);
	CHECK_EQ_U64(pylayout_from_debug_offsets(NULL, 1024, &l), (uint64_t)-EINVAL);
#undef REFUSED

	/* Garbage never crashes, and anything accepted stays in bounds. */
	srand(11);
	for (int round = 0; round < 20000; round++) {
		make_313(w, 0x030d00f0);
		int flips = 1 + rand() % 4;
		for (int k = 0; k < flips; k++) {
			size_t i = 8 + (size_t)rand() % (W313 * 8 - 8);
			((uint8_t *)w)[i] = (uint8_t)rand();
		}
		if (pylayout_from_debug_offsets(w, W313 * 8, &l) == 0) {
			CHECK(l.runtime.interpreters_head < 4u << 20);
			CHECK(l.code.filename < 4096);
			CHECK(l.str.state < l.str.ascii_size);
		}
	}
}

/* 3.14 inserted interpreter_state.threads_main after threads_head: the
 * groups after it sit one word later (and more after the frame and code
 * groups grew), so the reader must not read a 3.14 with 3.13's words. */
static void test_debug_offsets_314(void)
{
	uint64_t w[95];
	struct pylayout l;

	memset(w, 0, sizeof(w));
	memcpy(w, "xdebugpy", 8);
	w[1] = 0x030e00f0;
	w[3] = 100000; w[5] = 640;
	w[6] = 90000; w[8] = 7000; w[9] = 7100; w[10] = 7108;
	w[15] = 16; w[16] = 3000; w[18] = 3016; w[19] = 3008;
	w[22] = 400; w[24] = 8; w[25] = 16; w[26] = 72; w[27] = 152; w[28] = 160; w[29] = 232;
	w[31] = 80; w[32] = 8; w[33] = 0; w[34] = 56; w[36] = 70;
	w[39] = 224; w[40] = 112; w[41] = 120; w[42] = 128; w[43] = 136; w[44] = 68;
	w[48] = 208;
	w[50] = 16; w[51] = 8;
	w[74] = 40; w[75] = 16; w[76] = 32;
	w[77] = 80; w[78] = 32; w[79] = 16; w[80] = 40;
	CHECK_EQ_U64(pylayout_from_debug_offsets(w, sizeof(w), &l), 0);
	CHECK_EQ_U64(l.interp.threads_head, 7100);
	CHECK_EQ_U64(l.interp.gil, 16);
	CHECK_EQ_U64(l.gil.locked, 16);
	CHECK_EQ_U64(l.tstate.current_frame, 72);
	CHECK_EQ_U64(l.frame.owner, 70);
	CHECK_EQ_U64(l.code.code_adaptive, 208);
	CHECK_EQ_U64(l.frame.code_tag_mask, 3);
	CHECK_EQ_U64(l.bytes.ob_sval, 32);
	CHECK_EQ_U64(l.str.ascii_size, 40);
	/* No table checks 3.14's types and dicts: thread names are not read
	 * (the OS names stand). */
	CHECK_EQ_U64(l.interp.modules, PYLAYOUT_ABSENT);
	CHECK_EQ_U64(l.type.flags, PYLAYOUT_ABSENT);
	CHECK_EQ_U64(l.dictkeys.indices, PYLAYOUT_ABSENT);
	/* A 3.14 struct cut at 3.13's size is refused. */
	CHECK_EQ_U64(pylayout_from_debug_offsets(w, W313 * 8, &l), (uint64_t)-EINVAL);
}

int main(void)
{
	test_versions();
	test_debug_offsets();
	test_debug_offsets_314();
	return check_status();
}
