/*
 * array.h - the growable array every table of hotspy uses.
 *
 * An array is three fields of its owner (items, count, capacity), not a
 * struct of its own, so that it keeps its element type. array_grow makes
 * room; the owner appends. The one size rule of the project's containers:
 * an array never holds more than SIZE_MAX / 2 bytes, and an array whose
 * elements are named by 32-bit ids (interned stacks, names, nodes) also
 * checks that count < ARRAY_ID_MAX before it appends (array_id_room).
 */
#ifndef HOTSPY_ARRAY_H
#define HOTSPY_ARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Ids are uint32_t; UINT32_MAX is kept free as "none". */
#define ARRAY_ID_MAX (UINT32_MAX - 1)

/*
 * @items (an array of *@cap elements of @size bytes, or NULL) grown to hold
 * at least @need: capacities double from 16. Returns the array, moved or
 * not, with *@cap updated; NULL when @need elements would pass SIZE_MAX / 2
 * bytes or memory is short, and then @items and *@cap are unchanged (the
 * caller still owns and frees @items). Free the result with free().
 * NULL @items with @need 0 gives NULL too: an owner that may ask for
 * nothing checks need > *cap first (as an empty array has no address).
 */
void *array_grow(void *items, size_t *cap, size_t need, size_t size);

/* Whether an array of @count id-named elements may take one more. */
static inline bool array_id_room(size_t count)
{
	return count < ARRAY_ID_MAX;
}

#endif
