/*
 * pprof.h - the pprof format: a gzip'd perftools.profiles.Profile protocol
 * buffer (https://github.com/google/pprof/blob/main/proto/profile.proto), as
 * `go tool pprof`, pprof's web UI and speedscope read it.
 *
 * The writer turns a profile and its symbolizer into one: two sample types
 * (samples/count, and cpu or wall in nanoseconds per the time model), one
 * sample per (thread, stack) labelled with its process and thread, one
 * location per distinct address with its mapping (start, limit, offset,
 * file, build-id), and an address's inlined frames as several lines of its
 * location, innermost first. Python frames are locations with no mapping
 * whose function has a file and line; markers ([truncated], [unknown]) are
 * locations with no mapping and a function without a file.
 *
 * The reader turns any such file (hotspy's, Go's, perf_to_profile's) back
 * into stacks of a flame tree named as the folded writer names frames.
 */
#ifndef HOTSPY_PPROF_H
#define HOTSPY_PPROF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "flametree.h"
#include "profile.h"
#include "symbols.h"

struct pprof_options {
	unsigned rate;          /* samples per second per thread (the period) */
	bool wall;              /* wall-clock time (--idle), else on-CPU */
	int64_t time_nanos;     /* when the recording started (CLOCK_REALTIME) */
	int64_t duration_nanos; /* how long it lasted */
};

/*
 * Write @p to @out as gzip'd pprof, naming addresses with @sym (only read
 * from; its cache fills). Returns 0, -ENOMEM, or -EIO when writing or
 * compressing failed.
 */
int pprof_write(FILE *out, const struct profile *p, struct symbolizer *sym,
		const struct pprof_options *o);

/* Largest pprof input read, compressed or not, in bytes. */
#define PPROF_INPUT_MAX (256u << 20)

struct pprof_read_options {
	bool threads;   /* a "NAME (TID)" level below the process root when
			 * the samples carry "thread" and "tid" labels */
	bool lines;     /* "function (file:line)", as folded --lines */
	bool reverse;   /* add stacks leaf first */
};

/* What the reader found, for the caller's summary. */
struct pprof_read_stats {
	size_t samples;         /* samples added */
	size_t skipped;         /* samples with no weight or bad location ids */
	char value_type[64];    /* the sample type read ("samples") */
};

/*
 * Read @in to its end (gzip'd or plain protobuf, at most PPROF_INPUT_MAX
 * bytes either way) and add its samples to @t. The weight is the value of
 * the "samples" type, else of the last type (pprof's default). The root of
 * each stack is the "process" label, else "pid N" from the "pid" label, else
 * nothing. Frames are named as folded names them: inlined lines get "_[i]",
 * locations of a [kernel...] mapping "_[k]", and a function with a file but
 * no mapping is a Python frame, "name (short file)". @opts and @st may be
 * NULL. Stacks may be of any depth. 0, -EINVAL (not pprof, malformed, or
 * more than PPROF_INPUT_MAX bytes), -E2BIG (more than 2^28 frames in all,
 * or past the tree's memory limit, flametree_set_limits), -ENOMEM or -EIO.
 */
int pprof_read(struct flametree *t, FILE *in, const struct pprof_read_options *opts,
	       struct pprof_read_stats *st);

/* The same from bytes @buf[0..len) (gzip'd or not): a fuzz entry point. */
int pprof_read_buffer(struct flametree *t, const uint8_t *buf, size_t len,
		      const struct pprof_read_options *opts, struct pprof_read_stats *st);

/*
 * Whether @in (named @name, or NULL for stdin) holds pprof, for commands
 * that read folded text too: gzip'd (its first byte, 0x1f, is no byte
 * folded text starts with), or named .pb or .pprof. Nothing is consumed.
 */
bool pprof_input_is(FILE *in, const char *name);

#endif
