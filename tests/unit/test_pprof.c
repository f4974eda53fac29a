/*
 * test_pprof.c - the pprof writer and reader: a profile written as pprof and
 * read back gives the same stacks, named the same, as the folded writer's
 * tree of the same profile; the protobuf pieces against the format's own
 * examples; and the reader on damaged input (every cut, flipped bytes,
 * garbage) fails cleanly instead of crashing.
 *
 * This file defines symbolizer_resolve and symbolizer_mapping itself, as
 * test_folded_frames.c does: hs_core's symbols.o is never pulled in.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "addrspace.h"
#include "check.h"
#include "flametree.h"
#include "folded.h"
#include "maps.h"
#include "pprof.h"
#include "profile.h"
#include "protobuf.h"
#include "symbols.h"

#include "banned.h"

enum {
	ADDR_MAIN = 0x1100,      /* main, in ./prog */
	ADDR_INLINED = 0x1200,   /* inner_fn inlined into middle_fn into outer_fn */
	ADDR_HOSTILE = 0x1300,
	ADDR_OTHER = 0x2600,     /* no symbol: named by file offset, in libx.so */
};
#define ADDR_KERNEL UINT64_C(0xffffffff81000100)

static const struct frame main_fn = {
	.function = "main", .module = "prog", .file = "prog.c", .line = 7, .kind = FRAME_NATIVE,
};
static const struct frame inlined[] = {
	{ .function = "inner_fn", .module = "prog", .file = "inner.h", .line = 3,
	  .kind = FRAME_INLINED },
	{ .function = "middle_fn", .module = "prog", .file = "mid;dle.c", .line = 40,
	  .kind = FRAME_INLINED },
	{ .function = "outer_fn", .module = "prog", .file = "outer.c", .line = 0,
	  .kind = FRAME_NATIVE },
};
static const struct frame hostile = {
	.function = "a;b\nc\x7f\x01" "d", .module = "prog", .kind = FRAME_NATIVE,
};
static const struct frame other = {
	.function = "libx.so+0x600", .module = "libx.so", .kind = FRAME_UNKNOWN,
};
static const struct frame kernel = {
	.function = "do_syscall_64", .module = "[kernel.kallsyms]", .kind = FRAME_KERNEL,
};
static const struct frame python = {
	.function = "Decoder.decode", .module = "json/decoder.py",
	.file = "/usr/lib/python3.11/json/decoder.py", .line = 337, .kind = FRAME_PYTHON,
};
static const struct frame truncated = { .function = "[truncated]", .kind = FRAME_MARKER };

static const struct mapping prog_map = {
	.start = 0x1000, .end = 0x2000, .offset = 0, .path = "/opt/prog",
};
static const struct mapping lib_map = {
	.start = 0x2000, .end = 0x3000, .offset = 0x4000, .path = "/lib/libx.so",
};
static const uint8_t prog_build_id[] = { 0xde, 0xad, 0xbe, 0xef };

size_t symbolizer_resolve(struct symbolizer *sym, pid_t pid, uint64_t addr,
			  const struct frame **frames)
{
	(void)sym;
	(void)pid;
	if (addrspace_of(addr) == ADDR_SPACE_PYTHON) {
		*frames = &python;
		return 1;
	}
	switch (addr) {
	case ADDR_MAIN:
		*frames = &main_fn;
		return 1;
	case ADDR_INLINED:
		*frames = inlined;
		return 3;
	case ADDR_HOSTILE:
		*frames = &hostile;
		return 1;
	case ADDR_KERNEL:
		*frames = &kernel;
		return 1;
	case PROFILE_ADDR_TRUNCATED:
		*frames = &truncated;
		return 1;
	default:
		*frames = &other;
		return 1;
	}
}

const struct mapping *symbolizer_mapping(struct symbolizer *sym, pid_t pid, uint64_t addr,
					 const uint8_t **build_id, size_t *build_id_len)
{
	(void)sym;
	(void)pid;
	if (build_id) {
		*build_id = NULL;
		*build_id_len = 0;
	}
	if (addr >= prog_map.start && addr < prog_map.end) {
		if (build_id) {
			*build_id = prog_build_id;
			*build_id_len = sizeof(prog_build_id);
		}
		return &prog_map;
	}
	if (addr >= lib_map.start && addr < lib_map.end)
		return &lib_map;
	return NULL;
}

/* Every stack of @t as "a;b;c N" lines (the diff writer against an empty
 * tree prints "STACK 0 N"), in tree order: both trees are sorted. */
static char *tree_text(struct flametree *t)
{
	struct flametree *empty = flametree_new();
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	CHECK(empty && mem);
	if (!empty || !mem)
		exit(check_status());
	CHECK_EQ_U64(flametree_sort(t), 0);
	CHECK_EQ_U64(flametree_write_diff_folded(mem, empty, t, 1), 0);
	fclose(mem);
	flametree_free(empty);
	return text;
}

/* @p written as pprof into a malloc'd buffer (*len bytes). */
static uint8_t *write_pprof(const struct profile *p, size_t *len)
{
	struct pprof_options o = {
		.rate = 100, .time_nanos = 1700000000000000000, .duration_nanos = 2000000000,
	};
	char *buf = NULL;
	FILE *mem = open_memstream(&buf, len);

	CHECK(mem != NULL);
	if (!mem)
		exit(check_status());
	CHECK_EQ_U64(pprof_write(mem, p, NULL, &o), 0);
	fclose(mem);
	return (uint8_t *)buf;
}

/* The gzip'd @buf inflated (for the damaged-input cases, which must reach
 * the protobuf decoder, not only zlib's checks). */
static uint8_t *inflate_all(const uint8_t *buf, size_t len, size_t *out_len)
{
	size_t cap = 1 << 20;
	uint8_t *out = malloc(cap);
	z_stream z = { 0 };

	CHECK(out != NULL);
	CHECK_EQ_U64(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)(uintptr_t)buf;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	CHECK_EQ_U64(inflate(&z, Z_FINISH), Z_STREAM_END);
	*out_len = cap - z.avail_out;
	inflateEnd(&z);
	return out;
}

/* The same profile through the folded writer's tree and through pprof and
 * back: the same stacks, the same names, the same counts. */
static void check_round_trip(const struct profile *p, bool threads, bool lines)
{
	struct folded_options fo = { .threads = threads, .lines = lines };
	struct pprof_read_options ro = { .threads = threads, .lines = lines };
	struct pprof_read_stats st;
	struct flametree *a = flametree_new(), *b = flametree_new();
	size_t len;
	uint8_t *buf = write_pprof(p, &len);
	char *ta, *tb;

	CHECK(a && b && buf);
	CHECK(len > 2 && buf[0] == 0x1f && buf[1] == 0x8b);   /* gzip'd */
	CHECK_EQ_U64(folded_tree_add(a, p, NULL, &fo, false), 0);
	CHECK_EQ_U64(pprof_read_buffer(b, buf, len, &ro, &st), 0);
	CHECK_STR(st.value_type, "samples");
	CHECK_EQ_U64(st.skipped, 0);
	ta = tree_text(a);
	tb = tree_text(b);
	CHECK_STR(tb, ta);
	if (ta && tb && strcmp(ta, tb) != 0)
		fprintf(stderr, "folded:\n%s\npprof:\n%s\n", ta, tb);
	CHECK(flametree_total(b) == (double)profile_total(p));
	free(ta);
	free(tb);
	free(buf);
	flametree_free(a);
	flametree_free(b);
}

static void check_protobuf(void)
{
	struct pb_buf b = { 0 };
	struct pb_reader r;
	struct pb_field f;
	uint64_t v;
	const uint8_t *q;
	/* The format's own examples: 150 in field 1 is 08 96 01; "testing"
	 * in field 2 is 12 07 74 65 73 74 69 6e 67. */
	static const uint8_t want[] = { 0x08, 0x96, 0x01, 0x12, 0x07, 't', 'e', 's', 't',
					'i', 'n', 'g' };
	static const uint8_t eleven[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					  0xff, 0xff, 0x01 };

	pb_put_varint(&b, 1, 150);
	pb_put_bytes(&b, 2, "testing", 7);
	CHECK_EQ_U64(b.err, 0);
	CHECK_EQ_U64(b.len, sizeof(want));
	CHECK(b.len == sizeof(want) && memcmp(b.data, want, sizeof(want)) == 0);
	r = (struct pb_reader){ b.data, b.data + b.len };
	CHECK_EQ_U64(pb_next(&r, &f), 1);
	CHECK(f.number == 1 && f.wire == PB_VARINT && f.value == 150);
	CHECK_EQ_U64(pb_next(&r, &f), 1);
	CHECK(f.number == 2 && f.wire == PB_LEN && f.len == 7 && memcmp(f.data, "testing", 7) == 0);
	CHECK_EQ_U64(pb_next(&r, &f), 0);
	/* A length past the end, a cut varint, an 11-byte varint, a group. */
	r = (struct pb_reader){ want + 3, want + 8 };
	CHECK(pb_next(&r, &f) == -EINVAL);
	r = (struct pb_reader){ want, want + 2 };
	CHECK(pb_next(&r, &f) == -EINVAL);
	q = eleven;
	CHECK(pb_get_varint(&q, eleven + sizeof(eleven), &v) == -EINVAL);
	{
		static const uint8_t group[] = { 0x0b, 0x0c };

		r = (struct pb_reader){ group, group + 2 };
		CHECK(pb_next(&r, &f) == -EINVAL);
	}
	/* The largest value round trips. */
	b.len = 0;
	pb_put_raw_varint(&b, UINT64_MAX);
	q = b.data;
	CHECK(pb_get_varint(&q, b.data + b.len, &v) == 0 && v == UINT64_MAX && b.len == 10);
	pb_buf_release(&b);
}

/* Damaged input: each must return 0 or -EINVAL, never crash (ASan). */
static void check_damaged(const struct profile *p)
{
	size_t len, plain_len, fails = 0;
	uint8_t *buf = write_pprof(p, &len);
	uint8_t *plain = inflate_all(buf, len, &plain_len);
	uint8_t *copy = malloc(plain_len);
	uint64_t rng = 0x9e3779b97f4a7c15u;
	static const uint8_t garbage[] = "not a profile at all\n";

	CHECK(copy != NULL);
	/* The plain protobuf is read too. */
	{
		struct flametree *t = flametree_new();

		CHECK_EQ_U64(pprof_read_buffer(t, plain, plain_len, NULL, NULL), 0);
		CHECK(flametree_total(t) == (double)profile_total(p));
		flametree_free(t);
	}
	/* Every cut of the protobuf, and of the gzip stream. */
	for (size_t cut = 0; cut < plain_len; cut++) {
		struct flametree *t = flametree_new();
		int err = pprof_read_buffer(t, plain, cut, NULL, NULL);

		if (err != 0 && err != -EINVAL)
			fprintf(stderr, "cut %zu: %d\n", cut, err);
		CHECK(err == 0 || err == -EINVAL);
		fails += err != 0;
		flametree_free(t);
	}
	CHECK(fails > 0);   /* a cut inside a field is an error */
	for (size_t cut = 2; cut < len; cut++) {
		struct flametree *t = flametree_new();

		CHECK(pprof_read_buffer(t, buf, cut, NULL, NULL) == -EINVAL);
		flametree_free(t);
	}
	/* Flipped bytes, deterministic. */
	for (int round = 0; round < 3000 && copy; round++) {
		struct flametree *t = flametree_new();
		int err;

		memcpy(copy, plain, plain_len);
		for (int k = 0; k < 1 + round % 4; k++) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			copy[rng % plain_len] ^= (uint8_t)(rng >> 32 | 1);
		}
		err = pprof_read_buffer(t, copy, plain_len, NULL, NULL);
		if (err != 0 && err != -EINVAL)
			fprintf(stderr, "round %d: %d\n", round, err);
		CHECK(err == 0 || err == -EINVAL);
		flametree_free(t);
	}
	{
		struct flametree *t = flametree_new();

		CHECK(pprof_read_buffer(t, garbage, sizeof(garbage) - 1, NULL, NULL) == -EINVAL);
		CHECK(pprof_read_buffer(t, garbage, 0, NULL, NULL) == -EINVAL);
		flametree_free(t);
	}
	free(copy);
	free(plain);
	free(buf);
}

/* A stack deeper than record writes (100,000 addresses of three inlined
 * frames each: 300,000 levels) is read whole, then refused under a memory
 * limit it cannot fit, with -E2BIG (it was -EINVAL past 65,536 levels). */
static void check_deep(void)
{
	const size_t depth = 100000;
	uint64_t *addrs = malloc(depth * sizeof(*addrs));
	struct profile *p = profile_new();
	struct flametree *t = flametree_new();
	uint8_t *buf = NULL;
	size_t len = 0;
	uint32_t th;

	CHECK(addrs && p && t);
	if (!addrs || !p || !t)
		goto out;
	for (size_t i = 0; i < depth; i++)
		addrs[i] = i + 1 < depth ? ADDR_INLINED : ADDR_MAIN;
	CHECK_EQ_U64(profile_set_process(p, 10, "proc"), 0);
	CHECK_EQ_U64(profile_thread(p, 10, 10, "main", &th), 0);
	CHECK_EQ_U64(profile_add_sample(p, th, addrs, depth, 2), 0);
	buf = write_pprof(p, &len);
	CHECK_EQ_U64(pprof_read_buffer(t, buf, len, NULL, NULL), 0);
	/* The root, the process, then one node per level. */
	CHECK_EQ_U64(flametree_count(t), 2 + 3 * (depth - 1) + 1);
	CHECK(flametree_total(t) == 2);
	flametree_free(t);
	t = flametree_new();
	CHECK(t != NULL);
	if (t) {
		const struct flametree_limits lim = { .memory_max = 1u << 20 };

		flametree_set_limits(t, &lim);
		CHECK_EQ_U64(-pprof_read_buffer(t, buf, len, NULL, NULL), E2BIG);
		CHECK(flametree_memory(t) <= lim.memory_max);
	}
out:
	free(buf);
	flametree_free(t);
	profile_free(p);
	free(addrs);
}

int main(void)
{
	const uint64_t deep[] = { ADDR_KERNEL, ADDR_INLINED, ADDR_HOSTILE, ADDR_OTHER, ADDR_MAIN };
	const uint64_t py[] = { addrspace_python_make(1, 4), ADDR_MAIN };
	const uint64_t cut[] = { ADDR_INLINED, PROFILE_ADDR_TRUNCATED };
	struct profile *p = profile_new();
	uint32_t t1, t2, t3;

	check_protobuf();
	CHECK(p != NULL);
	if (!p)
		return check_status();
	CHECK_EQ_U64(profile_set_process(p, 10, "proc"), 0);
	CHECK_EQ_U64(profile_thread(p, 10, 10, "main", &t1), 0);
	CHECK_EQ_U64(profile_thread(p, 10, 11, "work;er", &t2), 0);
	/* A second process without a name: its root is "pid 20". */
	CHECK_EQ_U64(profile_thread(p, 20, 20, "child", &t3), 0);
	CHECK_EQ_U64(profile_add_sample(p, t1, deep, 5, 3), 0);
	CHECK_EQ_U64(profile_add_sample(p, t1, py, 2, 2), 0);
	CHECK_EQ_U64(profile_add_sample(p, t2, deep, 5, 1), 0);
	CHECK_EQ_U64(profile_add_sample(p, t2, cut, 2, 4), 0);
	CHECK_EQ_U64(profile_add_sample(p, t3, py, 2, 1), 0);

	check_round_trip(p, false, false);
	check_round_trip(p, true, false);
	check_round_trip(p, false, true);
	check_round_trip(p, true, true);
	check_damaged(p);
	profile_free(p);
	check_deep();
	return check_status();
}
