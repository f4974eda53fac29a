/*
 * Unit tests of addrspace.h: one test per space, each with both of its
 * boundaries, and the symbolizer's answer for each space that needs no
 * process (user addresses are named in test_symbols).
 */
#include "addrspace.h"
#include "symbols.h"
#include "check.h"

#include <unistd.h>

static void test_user(void)
{
	CHECK(addrspace_of(0) == ADDR_SPACE_USER);
	CHECK(addrspace_of(0x401000) == ADDR_SPACE_USER);
	CHECK(addrspace_of(UINT64_C(0x00007fffffffffff)) == ADDR_SPACE_USER);  /* 4-level top */
	CHECK(addrspace_of(UINT64_C(0x00ffffffffffffff)) == ADDR_SPACE_USER);  /* 5-level top */
	CHECK(addrspace_of(ADDRSPACE_PYTHON_MIN - 1) == ADDR_SPACE_USER);
	CHECK(!addrspace_is_marker(0));
}

/* Image tags stay in the user space, round-trip, and keep images apart. */
static void test_image(void)
{
	uint64_t top = UINT64_C(0x00ffffffffffffff), a = 0x401000;

	CHECK_EQ_U64(addrspace_user_tag(a, 0), a);
	CHECK_EQ_U64(addrspace_user_image(a), 0);
	CHECK(addrspace_user_tag(a, 1) != addrspace_user_tag(a, 2));
	CHECK(addrspace_user_tag(a, 1) != a);
	for (uint32_t i = 0; i <= ADDRSPACE_IMAGE_MAX; i++) {
		uint64_t t = addrspace_user_tag(top, i);

		CHECK(addrspace_of(t) == ADDR_SPACE_USER);
		CHECK_EQ_U64(addrspace_user_image(t), i);
		CHECK_EQ_U64(addrspace_user_address(t), top);
	}
	/* Past the last tag, images share it rather than leave the space. */
	CHECK_EQ_U64(addrspace_user_image(addrspace_user_tag(a, 1000)), ADDRSPACE_IMAGE_MAX);
	CHECK(addrspace_of(addrspace_user_tag(a, UINT32_MAX)) == ADDR_SPACE_USER);
	/* Other spaces are never tagged. */
	CHECK_EQ_U64(addrspace_user_tag(PROFILE_ADDR_UNKNOWN, 3), PROFILE_ADDR_UNKNOWN);
	CHECK_EQ_U64(addrspace_user_tag(ADDRSPACE_KERNEL_MIN, 3), ADDRSPACE_KERNEL_MIN);
	CHECK_EQ_U64(addrspace_user_tag(ADDRSPACE_PYTHON_MIN, 3), ADDRSPACE_PYTHON_MIN);
	CHECK_EQ_U64(addrspace_user_address(ADDRSPACE_PYTHON_MIN + 5), ADDRSPACE_PYTHON_MIN + 5);
}

static void test_python(void)
{
	uint64_t a = addrspace_python_make(7, 123), lo = addrspace_python_make(0, 0);
	uint64_t hi = addrspace_python_make(UINT32_MAX, ADDRSPACE_PYTHON_INDEX_MAX);

	CHECK(addrspace_of(ADDRSPACE_PYTHON_MIN) == ADDR_SPACE_PYTHON);
	CHECK(addrspace_of(ADDRSPACE_KERNEL_MIN - 1) == ADDR_SPACE_PYTHON);
	CHECK_EQ_U64(lo, ADDRSPACE_PYTHON_MIN);
	CHECK_EQ_U64(hi, ADDRSPACE_KERNEL_MIN - 1);
	CHECK(addrspace_of(a) == ADDR_SPACE_PYTHON);
	CHECK_EQ_U64(addrspace_python_code(a), 7);
	CHECK_EQ_U64(addrspace_python_index(a), 123);
	CHECK_EQ_U64(addrspace_python_code(hi), UINT32_MAX);
	CHECK_EQ_U64(addrspace_python_index(hi), ADDRSPACE_PYTHON_INDEX_MAX);
	/* Distinct (code, index) pairs give distinct addresses. */
	CHECK(addrspace_python_make(1, 0) != addrspace_python_make(0, 1));
	CHECK(addrspace_python_make(1, 0) != addrspace_python_make(0, ADDRSPACE_PYTHON_INDEX_MAX));
	/* An index too large loses its high bits, never the code's. */
	CHECK_EQ_U64(addrspace_python_code(addrspace_python_make(5, UINT32_MAX)), 5);
}

static void test_kernel(void)
{
	CHECK(addrspace_of(ADDRSPACE_KERNEL_MIN) == ADDR_SPACE_KERNEL);
	CHECK(addrspace_of(UINT64_C(0xffff800000000000)) == ADDR_SPACE_KERNEL);
	CHECK(addrspace_of(UINT64_C(0xffffffff81000000)) == ADDR_SPACE_KERNEL);
	CHECK(addrspace_of(PROFILE_ADDR_UNKNOWN - 1) == ADDR_SPACE_KERNEL);
	CHECK(!addrspace_is_marker(PROFILE_ADDR_UNKNOWN - 1));
}

static void test_marker(void)
{
	CHECK(addrspace_of(PROFILE_ADDR_UNKNOWN) == ADDR_SPACE_MARKER);
	CHECK(addrspace_of(PROFILE_ADDR_TRUNCATED) == ADDR_SPACE_MARKER);
	CHECK(addrspace_is_marker(PROFILE_ADDR_UNKNOWN));
	CHECK(addrspace_is_marker(PROFILE_ADDR_TRUNCATED));
	CHECK(PROFILE_ADDR_TRUNCATED == UINT64_MAX);
}

/* The symbolizer dispatches on the space: each gets its own kind of frame. */
static void test_symbolizer(void)
{
	struct elf_cache *cache = elf_cache_new();
	struct symbolizer *sym = symbolizer_new(cache);
	const struct frame *f;
	size_t n;

	n = symbolizer_resolve(sym, getpid(), PROFILE_ADDR_TRUNCATED, &f);
	CHECK_EQ_U64(n, 1);
	CHECK(f[0].kind == FRAME_MARKER);
	CHECK_STR(f[0].function, "[truncated]");
	n = symbolizer_resolve(sym, getpid(), PROFILE_ADDR_UNKNOWN, &f);
	CHECK_EQ_U64(n, 1);
	CHECK(f[0].kind == FRAME_MARKER);
	CHECK_STR(f[0].function, "[unknown]");
	/* The lowest kernel address: named as kernel code whether or not
	 * kallsyms can be read (then "[kernel]"). */
	n = symbolizer_resolve(sym, getpid(), ADDRSPACE_KERNEL_MIN, &f);
	CHECK_EQ_U64(n, 1);
	CHECK(f[0].kind == FRAME_KERNEL);
	CHECK_STR(f[0].module, "[kernel.kallsyms]");
	n = symbolizer_resolve(sym, getpid(), addrspace_python_make(1, 2), &f);
	CHECK_EQ_U64(n, 1);
	CHECK(f[0].kind == FRAME_UNKNOWN);
	CHECK_STR(f[0].function, "[python]");
	CHECK(f[0].module == NULL);
	/* The top of the user space is no mapping: unknown, not python. */
	n = symbolizer_resolve(sym, getpid(), ADDRSPACE_PYTHON_MIN - 1, &f);
	CHECK_EQ_U64(n, 1);
	CHECK(f[0].kind == FRAME_UNKNOWN);
	CHECK_STR(f[0].function, "[unknown]");
	symbolizer_free(sym);
	elf_cache_free(cache);
}

int main(void)
{
	test_user();
	test_image();
	test_python();
	test_kernel();
	test_marker();
	test_symbolizer();
	return check_status();
}
