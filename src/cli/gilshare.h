/*
 * gilshare.h - how often each thread held Python's GIL: its samples that
 * held it out of those whose GIL state is known (sample.gil >= 0), for the
 * summary of `record --threads` and for dump.
 */
#ifndef HOTSPY_GILSHARE_H
#define HOTSPY_GILSHARE_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "sampler.h"

struct gilshare;

/* An empty tally, or NULL (out of memory). */
struct gilshare *gilshare_new(void);
void gilshare_free(struct gilshare *g);   /* accepts NULL */

/* Count @smp (its weight) for its thread, named by the name Python gives it
 * or its OS name (copied). A sample whose GIL state is unknown is not
 * counted. 0 or -ENOMEM. */
int gilshare_add(struct gilshare *g, const struct sample *smp);

/* Threads counted. */
size_t gilshare_count(const struct gilshare *g);

/* The share (percent) of thread @tid's samples that held the GIL, or a
 * negative number when none of its samples had a known GIL state. */
double gilshare_of(const struct gilshare *g, pid_t tid);

/* One line, "hotspy: GIL held by: NAME (TID) 97.1%, ..." (names escaped
 * for a terminal), threads by share, highest first; nothing when no thread
 * was counted. */
void gilshare_print(const struct gilshare *g, FILE *out);

#endif
