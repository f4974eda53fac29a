/*
 * test_pychain.c - the CPython frame-chain walk over hand-made chains laid
 * out with each version's own table (pylayout.h): call grouping and anchors
 * (frame objects, 3.11 entry frames and _PyCFrames, 3.12+ shim frames),
 * instruction indexes, and every way a chain read from a target can be
 * wrong (a cycle, an unreadable frame, a misaligned pointer, an instruction
 * pointer outside its code, a chain deeper than PYSTACK_MAX_FRAMES), then
 * random memory: never a crash, always a status and bounded results.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pychain.h"
#include "pylayout.h"
#include "pystack.h"

#include "banned.h"

#define BASE UINT64_C(0x10000)
#define MEM_SIZE (1u << 20)

struct mem {
	uint8_t *bytes;
	size_t size;
	unsigned reads;
};

static const uint8_t *mem_read(void *ctx, uint64_t addr, size_t len)
{
	struct mem *m = ctx;

	m->reads++;
	if (addr < BASE || addr - BASE > m->size || len > m->size - (addr - BASE))
		return NULL;
	return m->bytes + (addr - BASE);
}

static void put64(struct mem *m, uint64_t addr, uint32_t off, uint64_t v)
{
	memcpy(m->bytes + (addr - BASE) + off, &v, 8);
}

static void put32(struct mem *m, uint64_t addr, uint32_t off, uint32_t v)
{
	memcpy(m->bytes + (addr - BASE) + off, &v, 4);
}

static void put8(struct mem *m, uint64_t addr, uint32_t off, uint8_t v)
{
	m->bytes[(addr - BASE) + off] = v;
}

/* A Python frame at @at running @code at code unit @unit, whose older
 * frame is @back. */
static void frame_put(struct mem *m, const struct pylayout *l, uint64_t at, uint64_t code,
		      uint32_t unit, uint64_t back)
{
	put64(m, at, l->frame.back, back);
	put64(m, at, l->frame.code, code);
	switch (l->instr) {
	case PYLAYOUT_INSTR_BYTE_OFFSET:
		put32(m, at, l->frame.instr, l->hexversion >> 24 >= 3 ? unit * 2 : unit);
		break;
	case PYLAYOUT_INSTR_CODE_UNIT:
		put32(m, at, l->frame.instr, unit);
		break;
	case PYLAYOUT_INSTR_POINTER:
		put64(m, at, l->frame.instr, code + l->code.code_adaptive + 2 * (uint64_t)unit);
		break;
	}
	if (l->frame.owner != PYLAYOUT_ABSENT)
		put8(m, at, l->frame.owner, 0);   /* FRAME_OWNED_BY_THREAD */
	if (l->frame.is_entry != PYLAYOUT_ABSENT)
		put8(m, at, l->frame.is_entry, 0);
}

static void shim_put(struct mem *m, const struct pylayout *l, uint64_t at, uint64_t back)
{
	put64(m, at, l->frame.back, back);
	put64(m, at, l->frame.code, 0);   /* Py_None or the trampoline */
	put8(m, at, l->frame.owner, (uint8_t)l->frame.owner_not_python);
}

static struct mem mem_new(void)
{
	struct mem m = { calloc(1, MEM_SIZE), MEM_SIZE, 0 };

	if (!m.bytes)
		exit(1);
	return m;
}

#define CODE_A (BASE + 0x8000)
#define CODE_B (BASE + 0x9000)
#define CODE_C (BASE + 0xa000)

static struct pystack st;

/* <=3.10: each frame is its own call, anchors 0, f_lasti in its unit. */
static void test_frame_objects(uint32_t hex)
{
	const struct pylayout *l = pylayout_for_version(hex);
	struct pychain_seen *seen = pychain_seen_new();
	struct mem m = mem_new();
	struct pychain_source src = { mem_read, &m };

	CHECK(l && seen);
	frame_put(&m, l, BASE + 0x100, CODE_A, 7, BASE + 0x200);
	frame_put(&m, l, BASE + 0x200, CODE_B, 0, BASE + 0x300);
	frame_put(&m, l, BASE + 0x300, CODE_C, 12, 0);
	CHECK(pychain_walk(l, &src, BASE + 0x100, 0, seen, &st) == PYSTACK_OK);
	CHECK_EQ_U64(st.n, 3);
	CHECK_EQ_U64(st.ncalls, 3);
	CHECK_EQ_U64(st.frames[0].code, CODE_A);
	CHECK_EQ_U64(st.frames[0].index, 7);
	CHECK_EQ_U64(st.frames[2].code, CODE_C);
	CHECK_EQ_U64(st.frames[2].index, 12);
	for (size_t i = 0; i < 3; i++) {
		CHECK_EQ_U64(st.frames[i].call, i);
		CHECK_EQ_U64(st.anchor[i], 0);
	}
	/* A frame not started yet: f_lasti -1 is instruction 0. */
	put32(&m, BASE + 0x100, l->frame.instr, UINT32_MAX);
	CHECK(pychain_walk(l, &src, BASE + 0x100, 0, seen, &st) == PYSTACK_OK);
	CHECK_EQ_U64(st.frames[0].index, 0);
	/* A cycle: the third frame points back at the first. */
	put64(&m, BASE + 0x300, l->frame.back, BASE + 0x100);
	CHECK(pychain_walk(l, &src, BASE + 0x100, 0, seen, &st) == PYSTACK_TORN);
	CHECK_EQ_U64(st.n, 3);
	CHECK_EQ_U64(st.ncalls, 3);
	/* An unreadable older frame: the frames before it stay. */
	put64(&m, BASE + 0x300, l->frame.back, UINT64_C(0x7fff00000000));
	CHECK(pychain_walk(l, &src, BASE + 0x100, 0, seen, &st) == PYSTACK_TORN);
	CHECK_EQ_U64(st.n, 3);
	/* A misaligned frame, a NULL code object. */
	put64(&m, BASE + 0x300, l->frame.back, BASE + 0x401);
	CHECK(pychain_walk(l, &src, BASE + 0x100, 0, seen, &st) == PYSTACK_TORN);
	put64(&m, BASE + 0x300, l->frame.back, 0);
	put64(&m, BASE + 0x200, l->frame.code, 0);
	CHECK(pychain_walk(l, &src, BASE + 0x100, 0, seen, &st) == PYSTACK_TORN);
	CHECK_EQ_U64(st.n, 1);
	/* No frame at all. */
	CHECK(pychain_walk(l, &src, 0, 0, seen, &st) == PYSTACK_NONE);
	CHECK_EQ_U64(st.n, 0);
	CHECK_EQ_U64(st.ncalls, 0);
	free(m.bytes);
	pychain_seen_free(seen);
}

/* 3.11: is_entry closes a call; anchors are the _PyCFrames but the
 * thread state's root one. */
static void test_311(void)
{
	const struct pylayout *l = pylayout_for_version(0x030b07f0);
	struct pychain_seen *seen = pychain_seen_new();
	struct mem m = mem_new();
	struct pychain_source src = { mem_read, &m };
	uint64_t c1 = BASE + 0x1000, c2 = BASE + 0x1100, root = BASE + 0x1200;
	uint32_t prev = l->cframe.current_frame + 8;

	CHECK(l && seen);
	frame_put(&m, l, BASE + 0x100, CODE_A, 3, BASE + 0x200);
	put8(&m, BASE + 0x100, l->frame.is_entry, 1);
	frame_put(&m, l, BASE + 0x200, CODE_B, 40, BASE + 0x300);
	frame_put(&m, l, BASE + 0x300, CODE_C, 5, 0);
	put8(&m, BASE + 0x300, l->frame.is_entry, 1);
	put64(&m, c1, l->cframe.current_frame, BASE + 0x100);
	put64(&m, c1, prev, c2);
	put64(&m, c2, l->cframe.current_frame, BASE + 0x200);
	put64(&m, c2, prev, root);
	put64(&m, root, prev, 0);
	CHECK(pychain_walk(l, &src, BASE + 0x100, c1, seen, &st) == PYSTACK_OK);
	CHECK_EQ_U64(st.n, 3);
	CHECK_EQ_U64(st.ncalls, 2);
	CHECK_EQ_U64(st.frames[0].call, 0);
	CHECK_EQ_U64(st.frames[1].call, 1);
	CHECK_EQ_U64(st.frames[2].call, 1);
	CHECK_EQ_U64(st.frames[1].index, 40);
	CHECK_EQ_U64(st.anchor[0], c1);
	CHECK_EQ_U64(st.anchor[1], c2);
	/* prev_instr one unit before the code: a frame not started. */
	put64(&m, BASE + 0x100, l->frame.instr, CODE_A + l->code.code_adaptive - 2);
	CHECK(pychain_walk(l, &src, BASE + 0x100, c1, seen, &st) == PYSTACK_OK);
	CHECK_EQ_U64(st.frames[0].index, 0);
	/* Further before, odd, or far after: not this code's. */
	put64(&m, BASE + 0x100, l->frame.instr, CODE_A + l->code.code_adaptive - 8);
	CHECK(pychain_walk(l, &src, BASE + 0x100, c1, seen, &st) == PYSTACK_TORN);
	CHECK_EQ_U64(st.n, 0);
	put64(&m, BASE + 0x100, l->frame.instr, CODE_A + l->code.code_adaptive + 3);
	CHECK(pychain_walk(l, &src, BASE + 0x100, c1, seen, &st) == PYSTACK_TORN);
	put64(&m, BASE + 0x100, l->frame.instr,
	      CODE_A + l->code.code_adaptive + 2 * (uint64_t)PYCHAIN_INDEX_MAX + 2);
	CHECK(pychain_walk(l, &src, BASE + 0x100, c1, seen, &st) == PYSTACK_TORN);
	/* An unreadable _PyCFrame: frames stay, anchors are 0. */
	put64(&m, BASE + 0x100, l->frame.instr, CODE_A + l->code.code_adaptive);
	CHECK(pychain_walk(l, &src, BASE + 0x100, UINT64_C(0x7fff00000000), seen, &st) ==
	      PYSTACK_OK);
	CHECK_EQ_U64(st.ncalls, 2);
	CHECK_EQ_U64(st.anchor[0], 0);
	CHECK_EQ_U64(st.anchor[1], 0);
	free(m.bytes);
	pychain_seen_free(seen);
}

/* 3.12 and 3.13: shim frames are not frames; each closes a call and is
 * its anchor. */
static void test_shims(uint32_t hex)
{
	const struct pylayout *l = pylayout_for_version(hex);
	struct pychain_seen *seen = pychain_seen_new();
	struct mem m = mem_new();
	struct pychain_source src = { mem_read, &m };
	uint64_t s1 = BASE + 0x1000, s2 = BASE + 0x1100;

	CHECK(l && seen);
	frame_put(&m, l, BASE + 0x100, CODE_A, 1, BASE + 0x200);
	frame_put(&m, l, BASE + 0x200, CODE_B, 2, s1);
	shim_put(&m, l, s1, BASE + 0x300);
	frame_put(&m, l, BASE + 0x300, CODE_C, 3, s2);
	shim_put(&m, l, s2, 0);
	CHECK(pychain_walk(l, &src, BASE + 0x100, 0, seen, &st) == PYSTACK_OK);
	CHECK_EQ_U64(st.n, 3);
	CHECK_EQ_U64(st.ncalls, 2);
	CHECK_EQ_U64(st.frames[1].call, 0);
	CHECK_EQ_U64(st.frames[2].call, 1);
	CHECK_EQ_U64(st.frames[2].index, 3);
	CHECK_EQ_U64(st.anchor[0], s1);
	CHECK_EQ_U64(st.anchor[1], s2);
	/* An eval-loop call entered, its frame not pushed yet: call 0 is
	 * empty, the frames are in call 1 with their own anchor. */
	CHECK(pychain_walk(l, &src, s1, 0, seen, &st) == PYSTACK_OK);
	CHECK_EQ_U64(st.n, 1);
	CHECK_EQ_U64(st.frames[0].call, 1);
	CHECK_EQ_U64(st.ncalls, 2);
	CHECK_EQ_U64(st.anchor[0], s1);
	CHECK_EQ_U64(st.anchor[1], s2);
	/* Only a shim: no Python frame. */
	CHECK(pychain_walk(l, &src, s2, 0, seen, &st) == PYSTACK_NONE);
	/* A cycle through shims only must end too. */
	put64(&m, s2, l->frame.back, s1);
	put64(&m, s1, l->frame.back, s2);
	CHECK(pychain_walk(l, &src, s1, 0, seen, &st) == PYSTACK_TORN);
	free(m.bytes);
	pychain_seen_free(seen);
}

/* Deeper than PYSTACK_MAX_FRAMES: CUT with exactly that many frames, and
 * a walk right after starts with an empty seen set. */
static void test_depth(void)
{
	const struct pylayout *l = pylayout_for_version(0x030d00f0);
	struct pychain_seen *seen = pychain_seen_new();
	struct mem m = mem_new();
	struct pychain_source src = { mem_read, &m };
	size_t n = PYSTACK_MAX_FRAMES + 10, stride = 128;

	CHECK(l && seen && BASE + n * stride < BASE + MEM_SIZE);
	for (size_t i = 0; i < n; i++)
		frame_put(&m, l, BASE + i * stride, CODE_A, (uint32_t)i,
			  i + 1 < n ? BASE + (i + 1) * stride : 0);
	CHECK(pychain_walk(l, &src, BASE, 0, seen, &st) == PYSTACK_CUT);
	CHECK_EQ_U64(st.n, PYSTACK_MAX_FRAMES);
	CHECK_EQ_U64(st.frames[PYSTACK_MAX_FRAMES - 1].index, PYSTACK_MAX_FRAMES - 1);
	CHECK(pychain_walk(l, &src, BASE + 20 * stride, 0, seen, &st) == PYSTACK_OK);
	CHECK_EQ_U64(st.n, n - 20);
	free(m.bytes);
	pychain_seen_free(seen);
}

/* Random memory under every layout: bounded, consistent, no crash. */
static void test_random(void)
{
	static const uint32_t versions[] = { 0x020712f0, 0x030609f0, 0x030812f0, 0x030a0df0,
					     0x030b07f0, 0x030c01f0, 0x030d00f0 };
	struct pychain_seen *seen = pychain_seen_new();
	struct mem m = { malloc(1 << 16), 1 << 16, 0 };
	uint64_t x = 88172645463325252ull;
	size_t with_frames = 0, torn = 0;

	CHECK(seen && m.bytes);
	for (int round = 0; round < 3000; round++) {
		const struct pylayout *l =
			pylayout_for_version(versions[round % (sizeof(versions) / sizeof(versions[0]))]);
		struct pychain_source src = { mem_read, &m };

		/* Random words, many of them pointing back into the buffer. */
		for (size_t i = 0; i < m.size / 8; i++) {
			uint64_t v;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			v = (x & 3) ? BASE + ((x >> 8) % m.size & ~(uint64_t)((x >> 4) & 1 ? 0 : 7))
				    : x;
			memcpy(m.bytes + i * 8, &v, 8);
		}
		pychain_walk(l, &src, BASE + ((x >> 16) % m.size & ~7ull), BASE + ((x >> 32) % m.size & ~7ull),
			     seen, &st);
		CHECK(st.status <= PYSTACK_TORN);
		CHECK(st.n <= PYSTACK_MAX_FRAMES);
		CHECK(st.n == 0 ? st.ncalls == 0 : st.ncalls == (size_t)st.frames[st.n - 1].call + 1);
		CHECK(st.ncalls <= PYSTACK_MAX_FRAMES);
		for (size_t i = 1; i < st.n; i++)
			CHECK(st.frames[i].call >= st.frames[i - 1].call);
		for (size_t i = 0; i < st.n; i++)
			CHECK(st.frames[i].index <= PYCHAIN_INDEX_MAX && st.frames[i].code);
		with_frames += st.n > 0;
		torn += st.status == PYSTACK_TORN;
	}
	/* The memory must have made walks go somewhere, or this proves
	 * nothing. */
	printf("random: %zu of 3000 walks found frames, %zu torn\n", with_frames, torn);
	CHECK(with_frames > 100 && torn > 100);
	free(m.bytes);
	pychain_seen_free(seen);
}

int main(void)
{
	test_frame_objects(0x020712f0);
	test_frame_objects(0x030609f0);
	test_frame_objects(0x030912f0);
	test_frame_objects(0x030a0df0);
	test_311();
	test_shims(0x030c01f0);
	test_shims(0x030d00f0);
	test_depth();
	test_random();
	return check_status();
}
