/*
 * pylocals.h - the arguments and local variables of CPython frames, as
 * `hotspy dump --locals` shows them: by name, with a short text for each
 * value. Private to tracer/: the Python reader (pyreader.h) reads them
 * while the thread is stopped, so that they are those of the stack's
 * instant.
 *
 * Nothing is ever called in the target: values are read from its memory
 * and shown only for None, bool, int, float, str and bytes (2.7: int,
 * long, str, unicode), the built-in types, told by their tp_name and by
 * not being heap types (a class named "int" made by Python code is
 * shown as any other object). Anything else is `<TYPE at 0xADDR>`. What
 * cannot be read, or makes no sense, is `<unreadable>`: a value is never a
 * reason to fail. Every length read from the target is bounded (the
 * PYLOCALS_* limits below), and the texts are plain printable UTF-8
 * except the names, which come as the target spells them: escape both
 * before a terminal or JSON (text_put_safe, json_escape).
 *
 * Unset locals (a NULL slot: not assigned yet, or deleted) are left out,
 * as py-spy leaves them out. 3.11+ hidden locals (CO_FAST_HIDDEN: an
 * inlined comprehension's) are left out, as frame.f_locals does.
 */
#ifndef HOTSPY_PYLOCALS_H
#define HOTSPY_PYLOCALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pylayout.h"

/* Slots of one frame read at most; the others are counted (pylocals_more). */
#define PYLOCALS_MAX 256
/* Characters of a str (bytes of a bytes) shown at most. */
#define PYLOCALS_STR_SHOWN 128
/* Bytes of a name or of a type's name kept at most (NUL included). */
#define PYLOCALS_NAME_MAX 128
/* Bytes of a value's text at most (NUL included): a str of
 * PYLOCALS_STR_SHOWN characters each escaped (\xhh) fits. */
#define PYLOCALS_VALUE_MAX 640
/* int digits (30-bit) shown exactly at most: four make 120 bits, 2**100
 * is exact; a bigger int is `<int of N bits>`. */
#define PYLOCALS_INT_DIGITS 4

/* One argument or local variable; the strings are owned by the set that
 * gave it, valid until it is cleared or freed. */
struct pylocal {
	const char *name;
	const char *value;
	bool arg;          /* an argument: positional, keyword-only, *args or
	                    * **kwargs */
};

/*
 * Where the bytes come from: @read copies [@addr, @addr + @len) of the
 * target into @buf; 0, or -errno when not all of it could be read.
 */
struct pylocals_source {
	int (*read)(void *ctx, uint64_t addr, void *buf, size_t len);
	void *ctx;
};

/* The locals of a thread's frames, one entry per frame in the order they
 * were read. */
struct pylocals;

struct pylocals *pylocals_new(void);       /* NULL with errno */
void pylocals_free(struct pylocals *s);    /* accepts NULL */
/* Forget every frame (and the cache of type names): the next read is
 * frame 0. */
void pylocals_clear(struct pylocals *s);

/*
 * Read the locals of the frame at @frame (a PyFrameObject <=3.10, a
 * _PyInterpreterFrame 3.11+) whose code object is at @code, as @l lays
 * them out, and append them as the next frame of @s (also when nothing
 * could be read: a frame with no locals). Returns 0, -ENOTSUP when @l has
 * no locals fields (that frame is appended empty), or -ENOMEM.
 */
int pylocals_read(struct pylocals *s, const struct pylayout *l,
		  const struct pylocals_source *src, uint64_t frame, uint64_t code);

size_t pylocals_frames(const struct pylocals *s);
/* Locals of frame @frame shown (0 when out of range). */
size_t pylocals_count(const struct pylocals *s, size_t frame);
/* Slots of frame @frame past PYLOCALS_MAX, not read. */
size_t pylocals_more(const struct pylocals *s, size_t frame);
/* Local @i of frame @frame into @out (arguments first, in the code
 * object's order). */
void pylocals_get(const struct pylocals *s, size_t frame, size_t i, struct pylocal *out);

#endif
