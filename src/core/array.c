#include "array.h"

#include <stdlib.h>

#include "banned.h"

void *array_grow(void *items, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;
	void *bigger;

	if (need <= *cap)
		return items;
	while (n < need) {
		if (n > SIZE_MAX / 4 / size)
			return NULL;
		n *= 2;
	}
	bigger = realloc(items, n * size);
	if (bigger)
		*cap = n;
	return bigger;
}
