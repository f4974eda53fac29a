/*
 * stackask.h - how many bytes of user stack the perf sampler asks the
 * kernel to copy into each sample of a thread.
 *
 * The kernel copies the asked bytes (up to the end of the stack's mapping)
 * in the target's time, and every sample takes the whole asked size of ring
 * whatever it copied: most threads need a few KiB. So a thread's events
 * ask little at first, and a thread whose stacks come back cut gets events
 * asking twice as much, up to the cap (--stack-size, at most what the
 * kernel copies). The sizes are classes: 0 for the first size, k for
 * first << k (the cap for the last one). Pure values; no state but what
 * the caller keeps per thread.
 */
#ifndef HOTSPY_STACKASK_H
#define HOTSPY_STACKASK_H

#include <stdbool.h>
#include <stdint.h>

/* The first size asked unless the cap is smaller: perf's own default
 * (8 KiB) cuts the C stacks of Python interpreters and deep libraries;
 * 16 KiB holds what most threads need and is a quarter of the 64 KiB. */
#define STACKASK_FIRST (16u * 1024u)

/* The classes of one sampler: what is asked first and at most. */
struct stackask {
	uint32_t first;   /* bytes, a multiple of 8 */
	uint32_t cap;     /* bytes, a multiple of 8, >= first */
};

/* The classes for a cap of @cap bytes (rounded down to 8, at least 8),
 * starting at @first (or at the cap when it is smaller). */
struct stackask stackask_make(uint64_t first, uint64_t cap);

/* The class of a sample whose stack part asked @size bytes (the kernel may
 * trim the largest ask to fit a record: it still counts as the cap's
 * class). */
unsigned stackask_class(const struct stackask *a, uint64_t size);

/* The bytes class @cls asks. */
uint32_t stackask_bytes(const struct stackask *a, unsigned cls);

/* Is there a class above @cls? */
bool stackask_can_grow(const struct stackask *a, unsigned cls);

/*
 * Which samples of a thread count. A thread may have events of several
 * classes at once (an inherited event cannot be closed alone): only its
 * largest class seen counts, the copies of smaller events are dropped.
 * @thread_cls is the thread's class so far, STACKASK_NONE before its first
 * sample; it is raised to @cls when @cls is larger. Returns whether the
 * sample of class @cls counts.
 */
#define STACKASK_NONE 0xffu
bool stackask_accept(uint8_t *thread_cls, unsigned cls);

#endif
