/*
 * profile.h - sampled call stacks, interned and counted per thread.
 *
 * A stack is an array of code addresses, leaf first: the leaf's PC, then each
 * caller's return address minus one (so every address names the call
 * instruction, the convention of perf and eu-stack). Identical arrays share
 * one stack id, so adding a sample is a hash lookup and an increment. Counts
 * are kept per (thread, stack), or per (process image, stack) when no output
 * tells threads apart (profile_merge_threads). No names are resolved here:
 * that is the symbolizer's job, done only for what is shown or written.
 *
 * A stack that could not be unwound to its bottom ends in one of the marker
 * addresses of addrspace.h; such samples still count, and are tallied as
 * truncated.
 */
#ifndef HOTSPY_PROFILE_H
#define HOTSPY_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addrspace.h"

struct profile_thread {
	pid_t pid;
	pid_t tid;
	uint32_t image;       /* the program its process ran (addrspace.h): 0,
	                       * then +1 per exec; a thread that runs on after
	                       * an exec is another profile_thread */
	const char *name;     /* last name seen; owned by the profile; never NULL */
};

struct profile;

struct profile *profile_new(void);       /* NULL with errno */
void profile_free(struct profile *p);    /* accepts NULL */

/* Name process @pid (the root frame of its stacks). 0 or -ENOMEM. */
int profile_set_process(struct profile *p, pid_t pid, const char *name);
/* The name given to @pid, or NULL. */
const char *profile_process_name(const struct profile *p, pid_t pid);

/* Name process @pid while it ran image @image (addrspace.h: the program
 * after its @image-th exec); profile_set_process names image 0. 0 or
 * -ENOMEM. */
int profile_set_image_process(struct profile *p, pid_t pid, uint32_t image,
			      const char *name);

/* The root frame of thread @t's stacks: the name given to its process's
 * image, else to its process (image 0), else NULL. */
const char *profile_thread_process(const struct profile *p, const struct profile_thread *t);

/*
 * The index of thread @tid of process @pid, created on first use; @name (may
 * be NULL) replaces the name kept for it when it differs. 0 or -ENOMEM
 * (also past ARRAY_ID_MAX threads, the containers' limit: array.h).
 */
int profile_thread(struct profile *p, pid_t pid, pid_t tid, const char *name,
		   uint32_t *index);
/* As profile_thread, for the thread of process @pid while it ran image
 * @image: a thread is kept apart per image, so each program's stacks are
 * named with its own mappings and under its own root. */
int profile_image_thread(struct profile *p, pid_t pid, uint32_t image, pid_t tid,
			 const char *name, uint32_t *index);
size_t profile_thread_count(const struct profile *p);

/*
 * Count every thread of a process image as one: from now on
 * profile_thread and profile_image_thread give the index of one
 * profile_thread per (pid, image), its tid the pid, named by the first
 * thread met. For outputs that do not tell threads apart: the counts then
 * grow with the distinct stacks, not with threads x stacks (a service whose
 * threads come and go meets nearly every stack anew in each thread). Call
 * before the first thread is added.
 */
void profile_merge_threads(struct profile *p);
/* The threads met by profile_thread / profile_image_thread, merged or
 * not: distinct (pid, tid), a thread that ran on after an exec once. */
size_t profile_threads_seen(const struct profile *p);
const struct profile_thread *profile_thread_at(const struct profile *p, uint32_t index);

/*
 * Count one sample of weight @weight for thread @thread (an index from
 * profile_thread) with stack @addrs[0..n), leaf first. n may be 0 (counted,
 * with an empty stack). 0 or -ENOMEM (the sample is then not counted;
 * also past ARRAY_ID_MAX distinct stacks or (thread, stack) pairs).
 */
int profile_add_sample(struct profile *p, uint32_t thread, const uint64_t *addrs,
		       size_t n, uint64_t weight);

uint64_t profile_total(const struct profile *p);      /* sum of all weights */
uint64_t profile_truncated(const struct profile *p);  /* weight of stacks ending in a marker */

size_t profile_stack_count(const struct profile *p);
/* Addresses of stack @id, leaf first; *n receives the length. */
const uint64_t *profile_stack(const struct profile *p, uint32_t id, size_t *n);

/*
 * Call @fn for every (thread, stack) pair with a non-zero count, in the order
 * the pairs were first seen. Stops early and returns the first non-zero value
 * @fn returns; 0 when all were visited.
 */
typedef int (*profile_visit_fn)(uint32_t thread, uint32_t stack, uint64_t count,
				void *ctx);
int profile_for_each(const struct profile *p, profile_visit_fn fn, void *ctx);

#endif
