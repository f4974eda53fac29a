/*
 * test_bpf_record.c - the BPF sampler's record reader (tracer/bpf_record.c)
 * on records made here: a good one read back field by field, and every way
 * a record can be short or wrong rejected with the snapshot left alone.
 */
#include <errno.h>
#include <linux/types.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/record.h"
#include "bpf_record.h"
#include "check.h"

#include "banned.h"

/* A record of @stack_len stack bytes in a buffer of @room bytes (at least
 * the head): the head filled as the BPF program fills it. */
static uint8_t *record_make(size_t room, uint32_t stack_len)
{
	uint8_t *buf = calloc(1, room);
	struct hsbpf_head h;

	memset(&h, 0, sizeof(h));
	h.magic = HSBPF_MAGIC;
	h.flags = HSBPF_FROM_IRQ;
	h.pid = 4242;
	h.tid = 4243;
	h.time_ns = 123456789;
	for (int i = 0; i < HSBPF_NREGS; i++)
		h.regs[i] = 0x1000 + (uint64_t)i;
	h.stack_len = stack_len;
	memcpy(buf, &h, sizeof(h));
	for (size_t i = sizeof(h); i < room; i++)
		buf[i] = (uint8_t)i;
	return buf;
}

/* A snapshot whose fields show whether the reader wrote to it. */
static void snap_poison(struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->pid = -7;
	s->state = 'Z';
	s->weight = 99;
}

static void test_good(void)
{
	size_t room = sizeof(struct hsbpf_head) + 256;
	uint8_t *rec = record_make(room, 256);
	struct snapshot s;

	snap_poison(&s);
	CHECK(bpf_record_parse(rec, room, &s, NULL) == 0);
	CHECK(s.pid == 4242);
	CHECK(s.tid == 4243);
	CHECK_EQ_U64(s.time_ns, 123456789);
	CHECK_EQ_U64(s.regs[SNAP_RAX], 0x1000);
	CHECK_EQ_U64(s.regs[SNAP_RIP], 0x1000 + 16);
	/* The copy starts at SP, and lies in the record after its head. */
	CHECK_EQ_U64(s.stack_addr, s.regs[SNAP_RSP]);
	CHECK(s.stack == rec + sizeof(struct hsbpf_head));
	CHECK_EQ_U64(s.stack_len, 256);
	CHECK(s.stack_cut == 0);
	/* What a record does not carry stays as the caller set it. */
	CHECK(s.state == 'Z');
	CHECK_EQ_U64(s.weight, 99);
	free(rec);

	/* A copy cut at the size asked for says so (the unwinder then reads
	 * a walk that runs off the copy as [truncated]). */
	rec = record_make(room, 256);
	{
		struct hsbpf_head h;

		memcpy(&h, rec, sizeof(h));
		h.flags |= HSBPF_STACK_CUT;
		memcpy(rec, &h, sizeof(h));
	}
	CHECK(bpf_record_parse(rec, room, &s, NULL) == 0);
	CHECK(s.stack_cut == 1);
	free(rec);

	/* A record with no stack at all (SP's page unreadable) is still a
	 * sample: the unwinder makes what it can of the registers. */
	rec = record_make(sizeof(struct hsbpf_head), 0);
	snap_poison(&s);
	CHECK(bpf_record_parse(rec, sizeof(struct hsbpf_head), &s, NULL) == 0);
	CHECK_EQ_U64(s.stack_len, 0);
	free(rec);
}

/* Rejected, and @s untouched. */
static void check_rejected(const uint8_t *rec, size_t len, int line)
{
	struct snapshot s;

	snap_poison(&s);
	if (bpf_record_parse(rec, len, &s, NULL) != -EINVAL || s.pid != -7 || s.stack) {
		fprintf(stderr, "%s:%d: a bad record was accepted\n", __FILE__, line);
		check_failures++;
	}
}

static void set_head(uint8_t *rec, void (*edit)(struct hsbpf_head *))
{
	struct hsbpf_head h;

	memcpy(&h, rec, sizeof(h));
	edit(&h);
	memcpy(rec, &h, sizeof(h));
}

static void bad_magic(struct hsbpf_head *h) { h->magic ^= 1; }
static void no_pid(struct hsbpf_head *h) { h->pid = 0; }
static void no_tid(struct hsbpf_head *h) { h->tid = 0; }
static void huge_pid(struct hsbpf_head *h) { h->pid = 0x80000000u; }
static void over_max(struct hsbpf_head *h) { h->stack_len = HSBPF_STACK_MAX + 8; }
static void huge_len(struct hsbpf_head *h) { h->stack_len = 0xffffffffu; }

static void test_bad(void)
{
	size_t head = sizeof(struct hsbpf_head), room = head + 64;
	uint8_t *rec = record_make(room, 64);
	uint8_t *big;

	/* Short: nothing, less than a head, a stack longer than what came. */
	check_rejected(NULL, room, __LINE__);
	check_rejected(rec, 0, __LINE__);
	check_rejected(rec, head - 1, __LINE__);
	check_rejected(rec, room - 1, __LINE__);
	check_rejected(rec, head, __LINE__);
	free(rec);

	/* Wrong in the head. */
	void (*edits[])(struct hsbpf_head *) = { bad_magic, no_pid, no_tid, huge_pid,
						  huge_len };
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		rec = record_make(room, 64);
		set_head(rec, edits[i]);
		check_rejected(rec, room, __LINE__);
		free(rec);
	}
	/* A stack length past the largest copy, though the bytes are there. */
	big = record_make(head + HSBPF_STACK_MAX + 64, 0);
	set_head(big, over_max);
	check_rejected(big, head + HSBPF_STACK_MAX + 64, __LINE__);
	free(big);

	/* Garbage: bytes that are no record. */
	rec = calloc(1, room);
	for (size_t i = 0; i < room; i++)
		rec[i] = (uint8_t)(i * 131 + 7);
	check_rejected(rec, room, __LINE__);
	free(rec);
}

/* A whole record of a Python thread: two regions (40 and 24 bytes) after
 * the stack room, then @frames frames walked of @frame_len bytes. */
static uint8_t *py_record(size_t *len, uint32_t frames, uint32_t frame_len)
{
	uint8_t *rec = record_make(sizeof(struct hsbpf_record), 128);
	struct hsbpf_head h;

	memcpy(&h, rec, sizeof(h));
	h.py_n = 2;
	h.py_len = 64;
	h.py_regions[0].addr = 0x7000;
	h.py_regions[0].len = 40;
	h.py_regions[1].addr = 0x9000;
	h.py_regions[1].len = 24;
	h.frames = frames;
	h.frame_len = frame_len;
	memcpy(rec, &h, sizeof(h));
	*len = sizeof(struct hsbpf_record);
	return rec;
}

static void test_python(void)
{
	size_t len, at = offsetof(struct hsbpf_record, py);
	uint8_t *rec = py_record(&len, 3, 100);
	struct bpf_record_py py;
	struct snapshot s;

	snap_poison(&s);
	CHECK(bpf_record_parse(rec, len, &s, &py) == 0);
	CHECK_EQ_U64(py.n, 2);
	CHECK_EQ_U64((uint64_t)(uintptr_t)py.remote[0].iov_base, 0x7000);
	CHECK_EQ_U64(py.remote[0].iov_len, 40);
	CHECK_EQ_U64((uint64_t)(uintptr_t)py.remote[1].iov_base, 0x9000);
	CHECK_EQ_U64(py.len, 64);
	CHECK(py.bytes == rec + at);
	/* The walk after the regions' bytes (8-aligned), entries of the
	 * address and the frame's bytes rounded up to 8. */
	CHECK_EQ_U64(py.frames, 3);
	CHECK_EQ_U64(py.frame_len, 100);
	CHECK_EQ_U64(py.frame_stride, 112);
	CHECK(py.walk == rec + at + 64);
	free(rec);

	/* A record of a thread with no plan ends before the Python room. */
	rec = record_make(offsetof(struct hsbpf_record, py), 64);
	CHECK(bpf_record_parse(rec, offsetof(struct hsbpf_record, py), &s, &py) == 0);
	CHECK_EQ_U64(py.n, 0);
	CHECK_EQ_U64(py.frames, 0);
	CHECK(py.walk == NULL);
	free(rec);
}

static void bad_sum(struct hsbpf_head *h) { h->py_len = 65; }
static void many_regions(struct hsbpf_head *h) { h->py_n = HSBPF_PY_REGIONS + 1; }
static void long_region(struct hsbpf_head *h) { h->py_regions[1].len = HSBPF_PY_MAX + 1; }
static void wrapping(struct hsbpf_head *h) { h->py_regions[0].addr = UINT64_MAX - 8; }
static void many_frames(struct hsbpf_head *h) { h->frames = HSBPF_PY_MAX / 16; }
static void big_frame(struct hsbpf_head *h) { h->frame_len = HSBPF_FRAME_MAX + 8; }
static void tiny_frame(struct hsbpf_head *h) { h->frame_len = 4; }
static void len_no_regions(struct hsbpf_head *h) { h->py_n = 0; }

static void test_python_bad(void)
{
	void (*edits[])(struct hsbpf_head *) = { bad_sum, many_regions, long_region, wrapping,
						  many_frames, big_frame, tiny_frame,
						  len_no_regions };
	size_t len;
	uint8_t *rec;

	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		rec = py_record(&len, 3, 100);
		set_head(rec, edits[i]);
		check_rejected(rec, len, __LINE__);
		free(rec);
	}
	/* Regions or frames past the bytes that came. */
	rec = py_record(&len, 3, 100);
	check_rejected(rec, offsetof(struct hsbpf_record, py) + 63, __LINE__);
	check_rejected(rec, offsetof(struct hsbpf_record, py) + 64 + 3 * 112 - 1, __LINE__);
	{
		struct snapshot s;
		struct bpf_record_py py;

		/* Exactly enough is enough. */
		CHECK(bpf_record_parse(rec, offsetof(struct hsbpf_record, py) + 64 + 3 * 112, &s,
				       &py) == 0);
		CHECK_EQ_U64(py.frames, 3);
	}
	free(rec);
}

/* Unaligned input (a fuzzer's) is read as well as the ring's. */
static void test_unaligned(void)
{
	size_t room = sizeof(struct hsbpf_head) + 32;
	uint8_t *rec = record_make(room, 32), *odd = malloc(room + 1);
	struct snapshot s;

	memcpy(odd + 1, rec, room);
	snap_poison(&s);
	CHECK(bpf_record_parse(odd + 1, room, &s, NULL) == 0);
	CHECK(s.tid == 4243);
	CHECK(s.stack == odd + 1 + sizeof(struct hsbpf_head));
	free(rec);
	free(odd);
}

int main(void)
{
	test_good();
	test_bad();
	test_python();
	test_python_bad();
	test_unaligned();
	return check_status();
}
