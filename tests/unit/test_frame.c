/*
 * Unit tests of frame.h: the one mapping of frame kinds to text, both ways.
 */
#include "frame.h"
#include "check.h"

#include <string.h>

static void test_suffix(void)
{
	CHECK_STR(frame_kind_suffix(FRAME_INLINED), "_[i]");
	CHECK_STR(frame_kind_suffix(FRAME_KERNEL), "_[k]");
	CHECK_STR(frame_kind_suffix(FRAME_JIT), "_[j]");
	CHECK_STR(frame_kind_suffix(FRAME_NATIVE), "");
	CHECK_STR(frame_kind_suffix(FRAME_PYTHON), "");
	CHECK_STR(frame_kind_suffix(FRAME_UNKNOWN), "");
	CHECK_STR(frame_kind_suffix(FRAME_MARKER), "");
}

static void test_name(void)
{
	static const char *const names[FRAME_KIND_COUNT] = {
		[FRAME_NATIVE] = "native", [FRAME_INLINED] = "inlined",
		[FRAME_KERNEL] = "kernel", [FRAME_JIT] = "jit", [FRAME_PYTHON] = "python",
		[FRAME_UNKNOWN] = "unknown", [FRAME_MARKER] = "marker",
	};

	for (int k = 0; k < FRAME_KIND_COUNT; k++)
		CHECK_STR(frame_kind_name((enum frame_kind)k), names[k]);
	CHECK_STR(frame_kind_name((enum frame_kind)FRAME_KIND_COUNT), "unknown");
}

static void test_tag(void)
{
	CHECK_STR(frame_kind_tag(FRAME_INLINED), " [inlined]");
	for (int k = 0; k < FRAME_KIND_COUNT; k++)
		if (k != FRAME_INLINED)
			CHECK_STR(frame_kind_tag((enum frame_kind)k), "");
}

static size_t from(const char *s, enum frame_kind *k)
{
	return frame_kind_from_suffix(s, strlen(s), k);
}

/* Every kind with a suffix reads back as itself; the others as native. */
static void test_round_trip(void)
{
	for (int k = 0; k < FRAME_KIND_COUNT; k++) {
		const char *suffix = frame_kind_suffix((enum frame_kind)k);
		char name[32] = "main";
		enum frame_kind back = FRAME_MARKER;

		strncat(name, suffix, sizeof(name) - strlen(name) - 1);
		CHECK_EQ_U64(from(name, &back), strlen(suffix));
		CHECK_EQ_U64(back, *suffix ? (enum frame_kind)k : FRAME_NATIVE);
	}
}

static void test_from_suffix(void)
{
	enum frame_kind k = FRAME_MARKER;

	CHECK_EQ_U64(from("x_[k]", &k), 4);
	CHECK(k == FRAME_KERNEL);
	CHECK_EQ_U64(from("do_syscall_64_[k] (entry.c:12)", &k), 0);   /* not at the end */
	CHECK(k == FRAME_NATIVE);
	k = FRAME_MARKER;
	CHECK_EQ_U64(from("_[k]", &k), 0);      /* a name, not an empty kernel frame */
	CHECK(k == FRAME_NATIVE);
	CHECK_EQ_U64(from("f_[x]", &k), 0);     /* no such kind */
	CHECK_EQ_U64(from("f[k]", &k), 0);
	CHECK_EQ_U64(from("f_(k]", &k), 0);
	CHECK_EQ_U64(from("f_[k)", &k), 0);
	CHECK_EQ_U64(from("", &k), 0);
	CHECK(k == FRAME_NATIVE);
	/* Only @len bytes are read. */
	CHECK_EQ_U64(frame_kind_from_suffix("f_[i]zzz", 5, &k), 4);
	CHECK(k == FRAME_INLINED);
}

int main(void)
{
	test_suffix();
	test_name();
	test_tag();
	test_round_trip();
	test_from_suffix();
	return check_status();
}
