/*
 * test_pylocals.c - a frame's arguments and locals (tracer/pylocals) over
 * hand-made CPython 3.12 objects laid out with its table (pylayout.h):
 * each kind of value, a cell, an unset slot, a class named "int" made by
 * Python code, and every way a value read from a target can be wrong (an
 * unmapped or misaligned pointer, an int of 2**40 digits, a str of 2**40
 * characters, a type name with control bytes); then random memory: never
 * a crash, always bounded results.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pylayout.h"
#include "pylocals.h"

#include "banned.h"

#define BASE UINT64_C(0x100000)
#define MEM_SIZE (1u << 16)

struct mem {
	uint8_t *bytes;
	size_t size;
};

static int mem_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct mem *m = ctx;

	if (addr < BASE || addr - BASE > m->size || len > m->size - (addr - BASE))
		return -EFAULT;
	memcpy(buf, m->bytes + (addr - BASE), len);
	return 0;
}

static void put64(struct mem *m, uint64_t addr, uint64_t v)
{
	memcpy(m->bytes + (addr - BASE), &v, 8);
}

static void put32(struct mem *m, uint64_t addr, uint32_t v)
{
	memcpy(m->bytes + (addr - BASE), &v, 4);
}

/* Addresses of the objects of the hand-made frame. */
enum {
	T_INT = BASE + 0x100, T_STR = BASE + 0x200, T_CELL = BASE + 0x300,
	T_HEAPINT = BASE + 0x400, T_LIST = BASE + 0x500, T_NONE = BASE + 0x600,
	T_ODD = BASE + 0x700, TYPE_NAMES = BASE + 0x800,
	CODE = BASE + 0x1000, NAMES = BASE + 0x1100, KINDS = BASE + 0x1400,
	FRAME = BASE + 0x1800, OBJECTS = BASE + 0x2000,
};

static uint64_t type_at(struct mem *m, uint64_t addr, const char *name, uint64_t flags,
			uint64_t *name_at)
{
	memcpy(m->bytes + (*name_at - BASE), name, strlen(name) + 1);
	put64(m, addr + 24, *name_at);
	put64(m, addr + 168, flags);
	*name_at += 32;
	return addr;
}

/* A compact ASCII str (kind 1) at @addr. */
static uint64_t str_at(struct mem *m, const struct pylayout *l, uint64_t addr, const char *s,
		       uint64_t length)
{
	put64(m, addr + l->object.ob_type, T_STR);
	put64(m, addr + l->str.length, length);
	put32(m, addr + l->str.state, 1u << 2 | 1u << 5 | 1u << 6);
	memcpy(m->bytes + (addr - BASE) + l->str.ascii_size, s, strlen(s));
	return addr;
}

/* A 3.12 int: lv_tag = digits << 3 | sign. */
static uint64_t int_at(struct mem *m, const struct pylayout *l, uint64_t addr, uint64_t tag,
		       uint32_t digit)
{
	put64(m, addr + l->object.ob_type, T_INT);
	put64(m, addr + l->integer.tag, tag);
	put32(m, addr + l->integer.digits, digit);
	return addr;
}

struct slot {
	const char *name;
	uint8_t kind;
	uint64_t value;
};

static void test_frame(void)
{
	const struct pylayout *l = pylayout_for_version(0x030c01f0);
	struct mem m = { calloc(1, MEM_SIZE), MEM_SIZE };
	struct pylocals_source src = { mem_read, &m };
	struct pylocals *s = pylocals_new();
	uint64_t tn = TYPE_NAMES, obj = OBJECTS;
	struct pylocal pl;
	char want[128];

	CHECK(l && m.bytes && s);
	if (!l || !m.bytes || !s)
		return;
	type_at(&m, T_INT, "int", 0, &tn);
	type_at(&m, T_STR, "str", 0, &tn);
	type_at(&m, T_CELL, "cell", 0, &tn);
	type_at(&m, T_HEAPINT, "int", l->type.heaptype_flag, &tn);
	type_at(&m, T_LIST, "list", 0, &tn);
	type_at(&m, T_NONE, "NoneType", 0, &tn);
	type_at(&m, T_ODD, "od\x1b" "d", 0, &tn);

	uint64_t five = int_at(&m, l, obj, 1u << 3, 5);
	uint64_t seven = int_at(&m, l, obj + 0x40, 1u << 3, 7);
	uint64_t minus = int_at(&m, l, obj + 0x80, 1u << 3 | 2, 9);
	uint64_t zero = int_at(&m, l, obj + 0xc0, 1, 0);
	uint64_t huge = int_at(&m, l, obj + 0x100, (1ull << 40) << 3, 1);
	uint64_t esc = str_at(&m, l, obj + 0x140, "a\x1b'\"", 4);
	uint64_t longs = str_at(&m, l, obj + 0x200, "yyyy", 1ull << 40);
	uint64_t cell = obj + 0x400, empty_cell = obj + 0x440, heap = obj + 0x480;
	uint64_t list = obj + 0x4c0, none = obj + 0x500, odd = obj + 0x540;

	put64(&m, cell + 8, T_CELL);
	put64(&m, cell + 16, seven);
	put64(&m, empty_cell + 8, T_CELL);
	put64(&m, heap + 8, T_HEAPINT);
	put64(&m, list + 8, T_LIST);
	put64(&m, none + 8, T_NONE);
	put64(&m, odd + 8, T_ODD);

	const struct slot slots[] = {
		{ "x", 0x20, five },           /* the argument */
		{ "s", 0x20, esc },
		{ "unset", 0x20, 0 },
		{ "gone", 0x20, BASE + MEM_SIZE + 0x1000 },
		{ "misaligned", 0x20, five + 3 },
		{ "fake", 0x20, heap },
		{ "c", 0x40, cell },
		{ "empty", 0x40, empty_cell },
		{ "huge", 0x20, huge },
		{ "longs", 0x20, longs },
		{ "neg", 0x20, minus },
		{ "zero", 0x20, zero },
		{ "items", 0x20, list },
		{ "nothing", 0x20, none },
		{ "odd", 0x20, odd },
		{ "hidden", 0x10 | 0x20, five },
	};
	size_t n = sizeof(slots) / sizeof(slots[0]);
	uint64_t name_obj = obj + 0x1000;

	put64(&m, NAMES + l->tuple.size, n);
	put64(&m, KINDS + l->bytes.ob_size, n);
	for (size_t i = 0; i < n; i++) {
		put64(&m, NAMES + l->tuple.items + 8 * i,
		      str_at(&m, l, name_obj, slots[i].name, strlen(slots[i].name)));
		name_obj += 0x40;
		m.bytes[KINDS - BASE + l->bytes.ob_sval + i] = slots[i].kind;
		put64(&m, FRAME + l->frame.localsplus + 8 * i, slots[i].value);
	}
	put32(&m, CODE + l->code.argcount, 1);
	put32(&m, CODE + l->code.kwonlyargcount, 0);
	put32(&m, CODE + l->code.flags, 0);
	put32(&m, CODE + l->code.nlocalsplus, (uint32_t)n);
	put64(&m, CODE + l->code.localsplusnames, NAMES);
	put64(&m, CODE + l->code.localspluskinds, KINDS);

	CHECK_EQ_U64(pylocals_read(s, l, &src, FRAME, CODE), 0);
	CHECK_EQ_U64(pylocals_frames(s), 1);
	/* unset, the empty cell and the hidden one are left out */
	CHECK_EQ_U64(pylocals_count(s, 0), n - 3);
	static const struct { const char *name, *value; bool arg; } want_all[] = {
		{ "x", "5", true },
		{ "s", "'a\\x1b\\'\"'", false },
		{ "gone", "<unreadable>", false },
		{ "misaligned", "<unreadable>", false },
		{ "fake", NULL, false },
		{ "c", "7", false },
		{ "huge", "<unreadable>", false },
		{ "longs", "'yyyy", false },
		{ "neg", "-9", false },
		{ "zero", "0", false },
		{ "items", NULL, false },
		{ "nothing", "None", false },
		{ "odd", NULL, false },
	};
	for (size_t i = 0; i < sizeof(want_all) / sizeof(want_all[0]); i++) {
		pylocals_get(s, 0, i, &pl);
		CHECK_STR(pl.name, want_all[i].name);
		CHECK(pl.arg == want_all[i].arg);
		if (want_all[i].value && strcmp(want_all[i].name, "longs") != 0)
			CHECK_STR(pl.value, want_all[i].value);
	}
	/* A class named "int" made by Python code is not read as an int. */
	pylocals_get(s, 0, 4, &pl);
	snprintf(want, sizeof(want), "<int at 0x%" PRIx64 ">", heap);
	CHECK_STR(pl.value, want);
	/* A str of 2**40 characters: 128 shown (read from where they are),
	 * and its length said. */
	pylocals_get(s, 0, 7, &pl);
	CHECK(strncmp(pl.value, "'yyyy", 5) == 0);
	CHECK(strstr(pl.value, "... (1099511627776 characters)") != NULL);
	pylocals_get(s, 0, 10, &pl);
	snprintf(want, sizeof(want), "<list at 0x%" PRIx64 ">", list);
	CHECK_STR(pl.value, want);
	/* A type name's control byte never comes out. */
	pylocals_get(s, 0, 12, &pl);
	snprintf(want, sizeof(want), "<od?d at 0x%" PRIx64 ">", odd);
	CHECK_STR(pl.value, want);

	/* More slots than PYLOCALS_MAX: the rest is counted, not read. */
	put64(&m, NAMES + l->tuple.size, PYLOCALS_MAX + 5);
	put64(&m, KINDS + l->bytes.ob_size, PYLOCALS_MAX + 5);
	put32(&m, CODE + l->code.nlocalsplus, PYLOCALS_MAX + 5);
	CHECK_EQ_U64(pylocals_read(s, l, &src, FRAME, CODE), 0);
	CHECK_EQ_U64(pylocals_frames(s), 2);
	CHECK_EQ_U64(pylocals_more(s, 1), 5);
	CHECK(pylocals_count(s, 1) <= PYLOCALS_MAX);
	/* Counts that disagree: nothing read, the frame still there. */
	put32(&m, CODE + l->code.nlocalsplus, 3);
	CHECK_EQ_U64(pylocals_read(s, l, &src, FRAME, CODE), 0);
	CHECK_EQ_U64(pylocals_count(s, 2), 0);
	/* An unreadable code object or frame. */
	CHECK_EQ_U64(pylocals_read(s, l, &src, FRAME, 8), 0);
	CHECK_EQ_U64(pylocals_read(s, l, &src, 0, CODE), 0);
	CHECK_EQ_U64(pylocals_frames(s), 5);
	pylocals_clear(s);
	CHECK_EQ_U64(pylocals_frames(s), 0);
	pylocals_free(s);
	free(m.bytes);
}

/* Random memory under every version's layout: no crash, bounded texts. */
static void test_random(void)
{
	static const uint32_t versions[] = { 0x020712f0, 0x030609f0, 0x030812f0, 0x030a0df0,
					     0x030b07f0, 0x030c01f0, 0x030d00f0 };
	struct mem m = { malloc(MEM_SIZE), MEM_SIZE };
	struct pylocals_source src = { mem_read, &m };
	struct pylocals *s = pylocals_new();
	uint64_t x = 0x9e3779b97f4a7c15ull;

	CHECK(m.bytes && s);
	if (!m.bytes || !s)
		return;
	for (int round = 0; round < 300; round++) {
		const struct pylayout *l = pylayout_for_version(versions[round % 7]);

		for (size_t i = 0; i < MEM_SIZE; i += 8) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* Many words are pointers into the memory, some small. */
			uint64_t v = x % 4 == 0 ? BASE + (x >> 8) % MEM_SIZE : x % 4 == 1 ? x >> 48 : x;

			memcpy(m.bytes + i, &v, 8);
		}
		pylocals_clear(s);
		for (int k = 0; k < 8; k++) {
			uint64_t frame = BASE + ((x >> (k * 3)) % MEM_SIZE & ~7ull);
			uint64_t code = BASE + ((x >> (k * 5)) % MEM_SIZE & ~7ull);

			CHECK_EQ_U64(pylocals_read(s, l, &src, frame, code), 0);
		}
		for (size_t f = 0; f < pylocals_frames(s); f++) {
			CHECK(pylocals_count(s, f) <= PYLOCALS_MAX);
			for (size_t i = 0; i < pylocals_count(s, f); i++) {
				struct pylocal pl;

				pylocals_get(s, f, i, &pl);
				CHECK(strlen(pl.name) < PYLOCALS_NAME_MAX);
				CHECK(strlen(pl.value) < PYLOCALS_VALUE_MAX);
				/* A value's text holds no control byte. */
				for (const char *c = pl.value; *c; c++)
					CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
			}
		}
	}
	pylocals_free(s);
	free(m.bytes);
}

int main(void)
{
	test_frame();
	test_random();
	return check_status();
}
