/*
 * cxx_inlined.cpp - C++ functions inlined into one caller, for
 * test_symbols: a static function of a namespace, a member of a class
 * template in an anonymous namespace, and a lambda. Each reports an
 * address inside its own inlined body; the symbolizer must name the three
 * inlined frames scope-qualified, like the symbol-table frame around them.
 * GCC gives the static function and the lambda no DW_AT_linkage_name: only
 * their DWARF scopes can qualify them.
 */
#include <stdint.h>

#include "cxx_inlined.h"

/* The address after the lea itself: one byte back is inside the inlined
 * body (the lea), as a return address minus one is inside its call. */
#define HERE(pc) __asm__ volatile("lea 0(%%rip), %0" : "=r"(pc))

namespace hsq {
namespace {

template <typename T>
struct Box {
	static inline __attribute__((always_inline)) uint64_t where(T)
	{
		uint64_t pc;

		HERE(pc);
		return pc;
	}
};

} // namespace

static inline __attribute__((always_inline)) uint64_t free_where()
{
	uint64_t pc;

	HERE(pc);
	return pc;
}

__attribute__((noinline)) void collect(uint64_t *out)
{
	auto lambda_where = [](int) __attribute__((always_inline)) {
		uint64_t pc;

		HERE(pc);
		return pc;
	};

	out[0] = free_where();
	out[1] = Box<int>::where(1);
	out[2] = lambda_where(2);
}

} // namespace hsq

extern "C" void cxx_inlined_pcs(uint64_t out[3])
{
	hsq::collect(out);
}
