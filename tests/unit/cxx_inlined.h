/* cxx_inlined.h - see cxx_inlined.cpp. */
#ifndef HOTSPY_CXX_INLINED_H
#define HOTSPY_CXX_INLINED_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Stores an address inside each of three inlined C++ functions:
 * hsq::free_where, hsq::(anonymous namespace)::Box<int>::where and a lambda
 * of hsq::collect, all inlined into hsq::collect. */
void cxx_inlined_pcs(uint64_t out[3]);

#ifdef __cplusplus
}
#endif

#endif
