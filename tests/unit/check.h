/*
 * check.h - the few assertions the unit tests need. A failed check prints
 * file:line and the expression and marks the test failed; the test goes on so
 * one run shows every failure. main() ends with `return check_status();`.
 *
 * A case that needs something the machine may lack (a vdso, /dev/full) is
 * its own CTest test, selected by an argument of the test program, and
 * returns CHECK_SKIP when the thing is absent: a skip is reported, never a
 * pass that checked nothing.
 */
#ifndef HOTSPY_CHECK_H
#define HOTSPY_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* CTest's SKIP_RETURN_CODE for the unit tests (tests/unit/CMakeLists.txt). */
#define CHECK_SKIP 77

static int check_failures;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		check_failures++; \
	} \
} while (0)

#define CHECK_EQ_U64(a, b) do { \
	uint64_t check_a_ = (uint64_t)(a), check_b_ = (uint64_t)(b); \
	if (check_a_ != check_b_) { \
		fprintf(stderr, "%s:%d: check failed: %s == %s (%" PRIu64 " != %" PRIu64 ")\n", \
			__FILE__, __LINE__, #a, #b, check_a_, check_b_); \
		check_failures++; \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *check_a_ = (a), *check_b_ = (b); \
	if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) { \
		fprintf(stderr, "%s:%d: check failed: %s == %s (\"%s\" != \"%s\")\n", \
			__FILE__, __LINE__, #a, #b, check_a_ ? check_a_ : "(null)", \
			check_b_ ? check_b_ : "(null)"); \
		check_failures++; \
	} \
} while (0)

static inline int check_status(void)
{
	if (check_failures)
		fprintf(stderr, "%d check(s) failed\n", check_failures);
	return check_failures ? 1 : 0;
}

#endif
