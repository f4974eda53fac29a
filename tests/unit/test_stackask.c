/*
 * test_stackask.c - the perf sampler's stack copy per thread (stackask.h):
 * classes from the first size to the cap, the kernel's trimmed largest ask
 * in the cap's class, a cap below the first size, and which samples of a
 * thread with events of two classes count.
 */
#include <stdint.h>

#include "check.h"
#include "stackask.h"

#include "banned.h"

int main(void)
{
	/* 16 KiB, 32 KiB, then the perf sampler's cap (65528). */
	struct stackask a = stackask_make(16384, 65528);
	struct stackask small = stackask_make(16384, 8192);
	struct stackask odd = stackask_make(16384, 40003);
	uint8_t cls = STACKASK_NONE;

	CHECK_EQ_U64(stackask_bytes(&a, 0), 16384);
	CHECK_EQ_U64(stackask_bytes(&a, 1), 32768);
	CHECK_EQ_U64(stackask_bytes(&a, 2), 65528);
	CHECK_EQ_U64(stackask_bytes(&a, 3), 65528);
	CHECK(stackask_can_grow(&a, 0));
	CHECK(stackask_can_grow(&a, 1));
	CHECK(!stackask_can_grow(&a, 2));
	CHECK(!stackask_can_grow(&a, 40));
	CHECK_EQ_U64(stackask_class(&a, 16384), 0);
	CHECK_EQ_U64(stackask_class(&a, 100), 0);
	CHECK_EQ_U64(stackask_class(&a, 32768), 1);
	/* The kernel trims the 65528 ask to fit a record's 16-bit size. */
	CHECK_EQ_U64(stackask_class(&a, 65336), 2);
	CHECK_EQ_U64(stackask_class(&a, 65528), 2);
	CHECK_EQ_U64(stackask_class(&a, UINT64_MAX), 2);

	/* --stack-size 8K: one class, the cap. */
	CHECK_EQ_U64(stackask_bytes(&small, 0), 8192);
	CHECK(!stackask_can_grow(&small, 0));
	CHECK_EQ_U64(stackask_class(&small, 8192), 0);
	/* A cap that is no multiple of 8 is rounded down. */
	CHECK_EQ_U64(stackask_bytes(&odd, 1), 32768);
	CHECK(stackask_can_grow(&odd, 1));
	CHECK_EQ_U64(stackask_bytes(&odd, 2), 40000);
	CHECK(!stackask_can_grow(&odd, 2));

	/* A thread's first sample sets its class; a larger one raises it;
	 * from then the smaller copies are dropped. */
	CHECK(stackask_accept(&cls, 0));
	CHECK_EQ_U64(cls, 0);
	CHECK(stackask_accept(&cls, 0));
	CHECK(stackask_accept(&cls, 1));
	CHECK_EQ_U64(cls, 1);
	CHECK(!stackask_accept(&cls, 0));
	CHECK(stackask_accept(&cls, 1));
	CHECK(stackask_accept(&cls, 2));
	CHECK(!stackask_accept(&cls, 1));
	CHECK(!stackask_accept(&cls, 0));
	CHECK_EQ_U64(cls, 2);
	/* A thread that inherited both families counts from its first
	 * sample of the larger one on, whichever comes first. */
	cls = STACKASK_NONE;
	CHECK(stackask_accept(&cls, 1));
	CHECK(!stackask_accept(&cls, 0));
	return check_status();
}
