/*
 * test_pymerge.c - native and Python frames merged into one stack, on
 * made-up stacks whose right answer is known: pairing by anchor (3.11+) and
 * by order (<= 3.10), the interpreter's frames hidden, callbacks through C,
 * an embedding program's own frames, cut and torn stacks, every mode.
 */
#include <stdlib.h>
#include <string.h>

#include "addrspace.h"
#include "check.h"
#include "pymerge.h"

#include "banned.h"

/* Code ranges: the interpreter (its eval loop inside), the C library's
 * start code, a C extension, a program embedding Python. */
static const struct addr_range interp[] = { { 0x1000, 0x2000 } };
static const struct addr_range eval[] = { { 0x1100, 0x1200 } };
static const struct addr_range startup[] = { { 0x5000, 0x6000 } };
static const struct addr_range runtime[] = { { 0x7000, 0x8000 } };
#define EXT 0x9000u
#define APP 0x100u

#define PY(id) addrspace_python_make((id), 0)

static struct pystack py;

/* Python frames, innermost first: @calls[i] is frame i's call. */
static void py_set(enum pystack_status status, size_t n, const uint32_t *calls,
		   const uint64_t *anchors, size_t ncalls, uint64_t *pyaddrs)
{
	memset(&py, 0, sizeof(py));
	py.status = status;
	py.n = n;
	py.ncalls = ncalls;
	for (size_t i = 0; i < n; i++) {
		py.frames[i].call = calls[i];
		pyaddrs[i] = PY(i);
	}
	for (size_t k = 0; k < ncalls; k++)
		py.anchor[k] = anchors ? anchors[k] : 0;
}

static size_t run(const uint64_t *native, const uint64_t *sps, size_t n,
		  const uint64_t *pyaddrs, enum pymerge_mode mode, uint64_t *out, size_t max,
		  struct pymerge_stats *st)
{
	struct pymerge_input in = {
		.native = native, .sps = sps, .nnative = n, .py = &py, .pyaddrs = pyaddrs,
		.interp = interp, .ninterp = 1, .eval = eval, .neval = 1,
		.startup = startup, .nstartup = 1, .runtime = runtime, .nruntime = 1,
	};

	return pymerge(&in, mode, out, max, st);
}

static void expect(const uint64_t *got, size_t n, const uint64_t *want, size_t wn,
		   int line)
{
	int same = n == wn;

	for (size_t i = 0; same && i < n; i++)
		same = got[i] == want[i];
	if (!same) {
		fprintf(stderr, "line %d: got", line);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, " %#llx", (unsigned long long)got[i]);
		fprintf(stderr, "\n  wanted");
		for (size_t i = 0; i < wn; i++)
			fprintf(stderr, " %#llx", (unsigned long long)want[i]);
		fputc('\n', stderr);
	}
	CHECK(same);
}

#define EXPECT(got, n, ...) do { \
	const uint64_t want_[] = { __VA_ARGS__ }; \
	expect((got), (n), want_, sizeof(want_) / sizeof(want_[0]), __LINE__); \
} while (0)

/* 3.12-like: zlib called from f2, which f1 called; f1's call is an eval
 * loop under a C function (a callback: sorted(key=...)) called from
 * <module>'s eval loop. */
static void test_anchors(void)
{
	/* leaf first:   ext   interp  eval0   interp  app_c  interp  eval1   main    libc    _start */
	const uint64_t native[] = { EXT, 0x1500, 0x1110, 0x1600, APP, 0x1700, 0x1120, 0x1800,
				    0x5100, 0x1900 };
	const uint64_t sps[] = { 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000 };
	const uint32_t calls[] = { 0, 0, 1 };        /* f2, f1 | f0 */
	const uint64_t anchors[] = { 350, 760 };    /* in eval0's and eval1's frames */
	struct pymerge_stats st = { 0 };
	uint64_t pa[3], out[32];
	size_t n;

	py_set(PYSTACK_OK, 3, calls, anchors, 2, pa);
	n = run(native, sps, 10, pa, PYMERGE_MIXED, out, 32, &st);
	EXPECT(out, n, EXT, PY(0), PY(1), APP, PY(2));
	CHECK_EQ_U64(st.paired, 2);
	CHECK_EQ_U64(st.unpaired, 0);
	n = run(native, sps, 10, pa, PYMERGE_PYTHON_ONLY, out, 32, NULL);
	EXPECT(out, n, PY(0), PY(1), PY(2));
	n = run(native, sps, 10, pa, PYMERGE_ALL_NATIVE, out, 32, NULL);
	EXPECT(out, n, EXT, 0x1500, PY(0), PY(1), 0x1600, APP, 0x1700, PY(2), 0x1800,
	       0x5100, 0x1900);

	/* An anchor that falls in a frame outside the interpreter pairs with
	 * nothing: its frames go to the root end, after the native stack. */
	{
		const uint64_t bad[] = { 150, 760 };  /* in ext's frame */

		py_set(PYSTACK_OK, 3, calls, bad, 2, pa);
		memset(&st, 0, sizeof(st));
		n = run(native, sps, 10, pa, PYMERGE_MIXED, out, 32, &st);
		EXPECT(out, n, EXT, APP, PY(0), PY(1), PY(2));
		CHECK_EQ_U64(st.unpaired, 1);
	}
}

/* <= 3.10: one frame per call, paired with eval frames in order. */
static void test_order(void)
{
	const uint64_t native[] = { 0x1500, 0x1180, 0x1600, EXT, 0x1700, 0x1190, 0x1800, 0x5100 };
	const uint64_t sps[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	const uint32_t calls[] = { 0, 1 };
	uint64_t pa[3], out[16];
	size_t n;

	py_set(PYSTACK_OK, 2, calls, NULL, 2, pa);
	n = run(native, sps, 8, pa, PYMERGE_MIXED, out, 16, NULL);
	EXPECT(out, n, PY(0), EXT, PY(1));
	/* More eval loops than Python frames: the extra ones are hidden as the
	 * interpreter's. Fewer: the outer frames go to the root end. */
	py_set(PYSTACK_OK, 1, calls, NULL, 1, pa);
	n = run(native, sps, 8, pa, PYMERGE_MIXED, out, 16, NULL);
	EXPECT(out, n, PY(0), EXT);
	{
		const uint32_t three[] = { 0, 1, 2 };

		py_set(PYSTACK_OK, 3, three, NULL, 3, pa);
		n = run(native, sps, 8, pa, PYMERGE_MIXED, out, 16, NULL);
		EXPECT(out, n, PY(0), EXT, PY(1), PY(2));
	}
}

/* A program embedding Python keeps its own frames under <module>; the C
 * library's start goes. */
static void test_embedded(void)
{
	const uint64_t native[] = { 0x1130, 0x1700, APP + 0x60, APP + 0x20, 0x5100 };
	const uint64_t sps[] = { 10, 20, 30, 40, 50 };
	const uint32_t calls[] = { 0, 0 };
	const uint64_t anchors[] = { 15 };
	uint64_t pa[2], out[16];
	size_t n;

	py_set(PYSTACK_OK, 2, calls, anchors, 1, pa);
	n = run(native, sps, 5, pa, PYMERGE_MIXED, out, 16, NULL);
	EXPECT(out, n, PY(0), PY(1), APP + 0x60, APP + 0x20);
}

/* A native walk cut before the outer eval loops: the Python frames still
 * all come out, the marker between says native frames are missing. */
static void test_cut(void)
{
	const uint64_t native[] = { EXT, 0x1110, 0x1600, PROFILE_ADDR_UNKNOWN };
	const uint64_t sps[] = { 100, 200, 300, 0 };
	const uint32_t calls[] = { 0, 1, 2 };
	const uint64_t anchors[] = { 250, 900, 1000 };
	struct pymerge_stats st = { 0 };
	uint64_t pa[3], out[16];
	size_t n;

	py_set(PYSTACK_OK, 3, calls, anchors, 3, pa);
	n = run(native, sps, 4, pa, PYMERGE_MIXED, out, 16, &st);
	/* 900 lies in the last frame's open range (its caller is unknown),
	 * and that frame is the interpreter's, so it pairs: the walk cannot
	 * tell. 1000 then finds no frame left: it goes to the root end. */
	CHECK_EQ_U64(st.paired + st.unpaired, 3);
	CHECK(n >= 4);
	CHECK(out[0] == EXT && out[1] == PY(0));
	CHECK(out[n - 1] == PY(2));
	/* Every Python frame is there, in order. */
	{
		size_t seen = 0;

		for (size_t i = 0; i < n; i++)
			if (addrspace_of(out[i]) == ADDR_SPACE_PYTHON)
				CHECK(out[i] == PY(seen++));
		CHECK_EQ_U64(seen, 3);
	}

	/* All calls found: the cut lies rootward of <module> and is dropped. */
	{
		const uint64_t one[] = { 250 };
		const uint32_t c1[] = { 0 };

		py_set(PYSTACK_OK, 1, c1, one, 1, pa);
		n = run(native, sps, 4, pa, PYMERGE_MIXED, out, 16, NULL);
		EXPECT(out, n, EXT, PY(0));
		n = run(native, sps, 4, pa, PYMERGE_ALL_NATIVE, out, 16, NULL);
		EXPECT(out, n, EXT, PY(0), 0x1600, PROFILE_ADDR_UNKNOWN);
	}
}

static void test_status(void)
{
	const uint64_t native[] = { 0x1500, 0x1110, 0x1800, PROFILE_ADDR_TRUNCATED };
	const uint64_t sps[] = { 1, 2, 3, 0 };
	const uint32_t calls[] = { 0 };
	const uint64_t anchors[] = { 2 };
	uint64_t pa[1], out[16];
	size_t n;

	/* No Python: the native stack as it is, marker and interpreter
	 * frames included, in every mode. */
	py_set(PYSTACK_NONE, 0, calls, anchors, 0, pa);
	n = run(native, sps, 4, pa, PYMERGE_PYTHON_ONLY, out, 16, NULL);
	EXPECT(out, n, 0x1500, 0x1110, 0x1800, PROFILE_ADDR_TRUNCATED);
	/* Torn and cut Python stacks end in their markers. */
	py_set(PYSTACK_TORN, 1, calls, anchors, 1, pa);
	n = run(native, sps, 4, pa, PYMERGE_MIXED, out, 16, NULL);
	EXPECT(out, n, PY(0), PROFILE_ADDR_UNKNOWN);
	py_set(PYSTACK_CUT, 1, calls, anchors, 1, pa);
	n = run(native, sps, 4, pa, PYMERGE_PYTHON_ONLY, out, 16, NULL);
	EXPECT(out, n, PY(0), PROFILE_ADDR_TRUNCATED);
}

/* A result longer than the room: cut at the root end, marked. */
static void test_room(void)
{
	static uint64_t native[64], sps[64], pa[64], out[8];
	static uint32_t calls[64];
	static uint64_t anchors[64];
	size_t n;

	for (size_t i = 0; i < 64; i++) {
		native[i] = 0x1110;
		sps[i] = 100 * (i + 1);
		calls[i] = (uint32_t)i;
		anchors[i] = 100 * (i + 1) + 50;
	}
	py_set(PYSTACK_OK, 64, calls, anchors, 64, pa);
	n = run(native, sps, 64, pa, PYMERGE_MIXED, out, 8, NULL);
	CHECK_EQ_U64(n, 8);
	CHECK(out[7] == PROFILE_ADDR_TRUNCATED);
	for (size_t i = 0; i < 7; i++)
		CHECK(out[i] == PY(i));
}

/* The C runtime's frames: hidden where the interpreter calls them (its
 * allocator's malloc, its TLS lookups), kept where a C extension does. */
static void test_runtime(void)
{
	/* leaf first: malloc <- interp <- eval0 | memcpy <- ext <- eval1 */
	const uint64_t native[] = { 0x7100, 0x7200, 0x1500, 0x1110, 0x7300, EXT, 0x1600, 0x1120 };
	const uint64_t sps[] = { 10, 20, 30, 40, 50, 60, 70, 80 };
	const uint32_t calls[] = { 0, 1 };
	const uint64_t anchors[] = { 45, 85 };
	uint64_t pa[2], out[16];
	size_t n;

	py_set(PYSTACK_OK, 2, calls, anchors, 2, pa);
	n = run(native, sps, 8, pa, PYMERGE_MIXED, out, 16, NULL);
	EXPECT(out, n, PY(0), 0x7300, EXT, PY(1));
	n = run(native, sps, 8, pa, PYMERGE_ALL_NATIVE, out, 16, NULL);
	EXPECT(out, n, 0x7100, 0x7200, 0x1500, PY(0), 0x7300, EXT, 0x1600, PY(1));
}

int main(void)
{
	test_runtime();
	test_anchors();
	test_order();
	test_embedded();
	test_cut();
	test_status();
	test_room();
	return check_status();
}
