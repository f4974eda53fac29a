#include "stackask.h"

#include "banned.h"

struct stackask stackask_make(uint64_t first, uint64_t cap)
{
	struct stackask a;

	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	cap &= ~(uint64_t)7;
	if (cap < 8)
		cap = 8;
	first &= ~(uint64_t)7;
	if (first < 8 || first > cap)
		first = cap;
	a.first = (uint32_t)first;
	a.cap = (uint32_t)cap;
	return a;
}

unsigned stackask_class(const struct stackask *a, uint64_t size)
{
	unsigned cls = 0;

	/* Bounded: first << 32 is past any cap. */
	while (cls < 32 && size > stackask_bytes(a, cls) && stackask_can_grow(a, cls))
		cls++;
	return cls;
}

uint32_t stackask_bytes(const struct stackask *a, unsigned cls)
{
	uint64_t b = cls < 32 ? (uint64_t)a->first << cls : UINT64_MAX;

	return b < a->cap ? (uint32_t)b : a->cap;
}

bool stackask_can_grow(const struct stackask *a, unsigned cls)
{
	return stackask_bytes(a, cls) < a->cap;
}

bool stackask_accept(uint8_t *thread_cls, unsigned cls)
{
	if (*thread_cls == STACKASK_NONE || cls > *thread_cls) {
		*thread_cls = (uint8_t)(cls < STACKASK_NONE ? cls : STACKASK_NONE - 1);
		return true;
	}
	return cls == *thread_cls;
}
