/*
 * summary.h - the summary of a recording as JSON (record --summary-json),
 * schema "hotspy-summary/1", documented in docs/hotspy.1.md: what the
 * summary line says, and the functions with the most samples of their own.
 */
#ifndef HOTSPY_SUMMARY_H
#define HOTSPY_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "profile.h"
#include "sampler.h"
#include "session.h"
#include "symbols.h"

#define SUMMARY_SCHEMA "hotspy-summary/1"
#define SUMMARY_TOP 10

/* Everything is borrowed for the call. */
struct run_summary {
	uint64_t samples;            /* sum of the weights */
	uint64_t truncated;          /* of which did not unwind to the bottom */
	uint64_t lost;               /* dropped by the kernel */
	double seconds;
	unsigned rate;
	size_t threads;
	const char *end;             /* "exited", "interrupted", "duration",
	                              * "stopped", "failed" */
	const char *end_text;        /* as the summary line says it */
	int end_signal;              /* "interrupted": which signal */
	const char *sampler;         /* "perf", "ptrace" or "bpf" */
	const char *sampler_reason;
	bool wall;                   /* wall-clock time (--idle), else on-CPU */
	const char *output;          /* path, "-" for stdout */
	const char *format;          /* options_format_name */
	pid_t pid;
	const char *program_name;
	struct session_program_end program;
	int exit_code;               /* what hotspy exits with */
	uint32_t python_version;     /* PY_VERSION_HEX, 0 when no CPython */
	uint64_t python_samples;
	/* Whether sampling kept up (summary_lag): ticks due (taken and
	 * missed), of which missed; thread snapshots due, of which skipped. */
	uint64_t ticks_due, ticks_missed, snapshots_due, snapshots_skipped;
};

/*
 * Write @s and the SUMMARY_TOP functions with the most samples of their
 * own in @p (the innermost frame of each stack's leaf, named by @sym) to
 * @out as one JSON object and a newline. 0, -ENOMEM or -EIO.
 */
int summary_write_json(FILE *out, const struct run_summary *s, const struct profile *p,
		       struct symbolizer *sym);

/* Shares of ticks missed or snapshots skipped from which summary_lag says
 * that sampling fell behind. */
#define SUMMARY_LAG_SHARE 0.05

/* From the sampler's counters, the lag fields of @s. */
void summary_set_lag(struct run_summary *s, const struct sampler_stats *st);

/*
 * When sampling fell behind (ticks missed or thread snapshots skipped, each
 * as a share of those due, SUMMARY_LAG_SHARE or more: threads slow to stop,
 * or more threads than a tick has time for), a sentence in @buf saying how
 * much and what to do, for the end of a recording or top's header: lower
 * the rate (@rate is the one asked for), or, when @perf_possible, use the
 * perf sampler, which stops no thread. Returns false (and @buf empty) when
 * sampling kept up.
 */
bool summary_lag(const struct run_summary *s, unsigned rate, bool perf_possible, char *buf,
		 size_t size);

/* "3.12.1", "3.13.0rc2" from PY_VERSION_HEX into @buf. */
void summary_python_version(uint32_t hex, char *buf, size_t size);

#endif
