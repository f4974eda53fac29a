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
	test_python();
	test_kernel();
	test_marker();
	test_symbolizer();
	return check_status();
}
