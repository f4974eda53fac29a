/*
 * hotspy record: sample until the program exits, Ctrl-C, SIGTERM, SIGHUP or
 * -d; all four end the same way: stop sampling, detach (the target runs
 * on), name the frames, write the output whole, print a one-line summary.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "session.h"
#include "config.h"
#include "flametree.h"
#include "folded.h"
#include "log.h"
#include "outfile.h"
#include "profile.h"
#include "sampler.h"
#include "speedscope.h"
#include "svg.h"
#include "symbols.h"
#include "target.h"
#include "banned.h"

struct recording {
	struct profile *profile;
	bool subprocesses;
	pid_t last_pid;              /* the process of the last sample, and */
	char last_process[64];       /* the name it was given */
};

/* With --subprocesses, each process is a root frame "NAME (PID)", named
 * anew when it runs another program. */
static int name_process(struct recording *rec, const struct sample *smp)
{
	char root[96];

	if (smp->pid == rec->last_pid && strcmp(smp->process, rec->last_process) == 0)
		return 0;
	snprintf(root, sizeof(root), "%s (%d)", smp->process, (int)smp->pid);
	if (profile_set_process(rec->profile, smp->pid, root) < 0)
		return -ENOMEM;
	rec->last_pid = smp->pid;
	snprintf(rec->last_process, sizeof(rec->last_process), "%s", smp->process);
	return 0;
}

/* Into the profile; 0 or -ENOMEM. */
static int on_sample(const struct sample *smp, void *ctx)
{
	struct recording *rec = ctx;
	uint32_t thread;

	if (rec->subprocesses && name_process(rec, smp) < 0)
		return -ENOMEM;
	if (profile_thread(rec->profile, smp->pid, smp->tid, smp->comm, &thread) < 0 ||
	    profile_add_sample(rec->profile, thread, smp->addrs, smp->n, smp->weight) < 0)
		return -ENOMEM;
	return 0;
}

/* The program's name made safe for a file name. */
static void program_name(const struct options *o, char *buf, size_t size)
{
	char comm[TARGET_COMM_MAX] = "";
	const char *name;
	size_t i;

	if (o->argv) {
		name = strrchr(o->argv[0], '/');
		name = name ? name + 1 : o->argv[0];
	} else {
		target_comm(o->pid, comm, sizeof(comm));
		name = comm;
	}
	snprintf(buf, size, "%s", *name ? name : "hotspy");
	for (i = 0; buf[i]; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '/' || c < 0x20 || c == 0x7f || c == ' ')
			buf[i] = '_';
	}
	if (buf[0] == '.')
		buf[0] = '_';
}

static int resolve_output(const struct options *o, char *path, size_t size,
			  enum output_format *format)
{
	const char *out = o->output;
	size_t len;

	if (!out) {
		char name[64];
		time_t now = time(NULL);
		struct tm tm;

		program_name(o, name, sizeof(name));
		localtime_r(&now, &tm);
		snprintf(path, size, "%s-%04d%02d%02d-%02d%02d%02d.%s", name,
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec,
			 o->format == FORMAT_FOLDED ? "folded" :
			 o->format == FORMAT_SPEEDSCOPE ? "speedscope.json" : "svg");
	} else {
		snprintf(path, size, "%s", out);
	}
	*format = o->format;
	len = strlen(path);
	if (*format == FORMAT_AUTO) {
		if (len > 4 && strcmp(path + len - 4, ".svg") == 0)
			*format = FORMAT_FLAMEGRAPH;
		else if (len > 5 && strcmp(path + len - 5, ".json") == 0)
			*format = FORMAT_SPEEDSCOPE;
		else
			*format = FORMAT_FOLDED;
	}
	if (*format == FORMAT_PPROF)
		return log_error(-ENOTSUP, "the %s format is not available in this version "
				 "yet; use -f flamegraph, speedscope or folded",
				 options_format_name(*format));
	return 0;
}

static void progress(const struct sampler *s, void *ctx, double secs)
{
	const struct recording *rec = ctx;

	fprintf(stderr, "\rhotspy: recording %s (pid %d): %" PRIu64 " samples, %zu threads, "
		"%.1f s  (Ctrl-C to stop) ", sampler_comm(s), (int)sampler_pid(s),
		profile_total(rec->profile), sampler_thread_count(s), secs);
}

static void print_stats(const struct sampler_stats *st, uint64_t samples)
{
	struct rusage ru;
	double cpu_ms = 0;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
			 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	fprintf(stderr,
		"hotspy: stats: ticks %" PRIu64 " (missed %" PRIu64 "), snapshots %" PRIu64
		", skipped idle %" PRIu64 ", deferred %" PRIu64 ", failed %" PRIu64
		", maps reloads %" PRIu64 ", thread list scans %" PRIu64 "\n",
		st->ticks, st->ticks_missed, st->snapshots, st->skipped_idle, st->deferred,
		st->failed, st->maps_reloads, st->thread_scans);
	if (st->exited_threads)
		fprintf(stderr, "hotspy: stats: %" PRIu64 " threads exited, %" PRIu64 " never "
			"sampled; %.1f ms of their CPU not in any sample\n", st->exited_threads,
			st->unsampled_threads, (double)st->unsampled_ns / 1e6);
	if (st->snapshots && st->stopped_ns)
		fprintf(stderr, "hotspy: stats: stopped per snapshot %.1f us (max %.1f us)\n",
			(double)st->stopped_ns / (double)st->snapshots / 1e3,
			(double)st->stopped_max_ns / 1e3);
	if (st->held_hist.n)
		fprintf(stderr, "hotspy: stats: held per snapshot, median / 90th pct: %.0f / %.0f us; "
			"stopping %.0f / %.0f us, reading and resuming %.0f / %.0f us\n",
			sampler_hist_quantile(&st->held_hist, 0.5),
			sampler_hist_quantile(&st->held_hist, 0.9),
			sampler_hist_quantile(&st->stopping_hist, 0.5),
			sampler_hist_quantile(&st->stopping_hist, 0.9),
			sampler_hist_quantile(&st->reading_hist, 0.5),
			sampler_hist_quantile(&st->reading_hist, 0.9));
	if (st->python_captures)
		fprintf(stderr, "hotspy: stats: Python frame chains copied %" PRIu64 ", %.1f reads "
			"each\n", st->python_captures,
			(double)st->python_reads / (double)st->python_captures);
	if (st->snapshots)
		fprintf(stderr, "hotspy: stats: unwind per sample %.1f us (%" PRIu64 " walks by "
			"cached rules, %" PRIu64 " by libunwind)\n",
			(double)st->unwind_ns / (double)st->snapshots / 1e3, st->walks_fast,
			st->walks_slow);
	fprintf(stderr, "hotspy: stats: hotspy cpu %.1f ms", cpu_ms);
	if (samples)
		fprintf(stderr, " (%.1f us per sample)", cpu_ms * 1e3 / (double)samples);
	fputc('\n', stderr);
}

static const char *end_text(enum session_end why)
{
	switch (why) {
	case SESSION_EXITED: return "program exited";
	case SESSION_INTERRUPTED: return "interrupted";
	case SESSION_DURATION: return "duration reached";
	case SESSION_STOPPED: case SESSION_FAILED: break;
	}
	return "stopped on error";
}

/*
 * Time the profile does not hold: threads that lived less than a sampling
 * period, which the perf sampler cannot see (each thread's event starts a
 * full period at its birth, as perf record's does). Said when it matters.
 */
static void unsampled_note(const struct sampler_stats *st, uint64_t total, unsigned rate)
{
	double period_ms = 1e3 / (rate ? rate : 1);
	double lost_ms = (double)st->unsampled_ns / 1e6;
	double seen_ms = (double)total * period_ms;

	if (!st->unsampled_threads || lost_ms < 0.05 * (lost_ms + seen_ms))
		return;
	log_warn("%" PRIu64 " of %" PRIu64 " threads that exited ran for less than one "
		 "sampling period (%.1f ms) and were never sampled: %.0f ms of CPU, %.0f%% "
		 "of all, is not in the profile \xe2\x80\x94 raise the rate (-r %u) or use "
		 "--sampler ptrace, which counts such threads",
		 st->unsampled_threads, st->exited_threads, period_ms, lost_ms,
		 100.0 * lost_ms / (lost_ms + seen_ms), rate < 1000 ? 1000 : rate * 4);
}

/* "3.12.1", "3.13.0rc2" from PY_VERSION_HEX. */
static void python_version_text(uint32_t hex, char *buf, size_t size)
{
	static const char level[] = { 'a', 'b', 'c' };
	unsigned rel = (hex >> 4) & 0xf;

	if (rel >= 0xa && rel <= 0xc)
		snprintf(buf, size, "%u.%u.%u%s%c%u", hex >> 24, (hex >> 16) & 0xff,
			 (hex >> 8) & 0xff, rel == 0xc ? "r" : "", level[rel - 0xa], hex & 0xf);
	else
		snprintf(buf, size, "%u.%u.%u", hex >> 24, (hex >> 16) & 0xff, (hex >> 8) & 0xff);
}

static void summary(const struct recording *rec, double secs, enum session_end why,
		    const char *path, int exit_status, const char *sampler,
		    const struct sampler_stats *st, int idle)
{
	uint64_t lost = st->lost;
	uint64_t total = profile_total(rec->profile);
	uint64_t cut = profile_truncated(rec->profile);

	fprintf(stderr, "hotspy: %" PRIu64 " samples in %.1f s from %zu threads (%s, %s sampler, "
		"%s time); %.1f%% did not unwind to the bottom; wrote %s\n",
		total, secs, profile_thread_count(rec->profile), end_text(why), sampler,
		idle ? "wall-clock" : "on-CPU",
		total ? 100.0 * (double)cut / (double)total : 0.0,
		strcmp(path, "-") == 0 ? "stdout" : path);
	if (st->python_version) {
		char v[32];

		python_version_text(st->python_version, v, sizeof(v));
		log_info("CPython %s: Python frames in %.1f%% of the samples%s", v,
			 total ? 100.0 * (double)st->python_samples / (double)total : 0.0,
			 st->python_torn ? "" : ", every frame chain read whole");
		if (st->python_torn)
			log_info("%" PRIu64 " frame chains could not be read to their end "
				 "(the interpreter changed them while they were read, or they "
				 "were freed): those samples end in [unknown]", st->python_torn);
	}
	if (lost)
		log_warn("the kernel dropped %" PRIu64 " samples (its buffer was full): "
			 "lower the rate with -r", lost);
	if (total == 0)
		log_warn("no samples: the program did not run on a CPU while it was "
			 "recorded (use --idle to sample threads that wait, or --subprocesses "
			 "when child processes do the work)");
	if (exit_status >= 0 && WIFEXITED(exit_status) && WEXITSTATUS(exit_status))
		log_info("the program exited with status %d", WEXITSTATUS(exit_status));
	else if (exit_status >= 0 && WIFSIGNALED(exit_status))
		log_info("the program was killed by signal %d (%s)", WTERMSIG(exit_status),
			 strsignal(WTERMSIG(exit_status)));
}

/* The name of the first process sampled, or NULL. */
static const char *recorded_program(const struct recording *rec)
{
	if (!profile_thread_count(rec->profile))
		return NULL;
	return profile_process_name(rec->profile, profile_thread_at(rec->profile, 0)->pid);
}

/*
 * The SVG is drawn from a tree built straight from the profile, its frames
 * named as the folded writer names them: one naming pass, and the
 * flamegraph shows exactly what the folded file would hold.
 */
static int write_svg(const struct recording *rec, FILE *out, struct symbolizer *sym,
		     const struct folded_options *fo, const struct options *o, double secs)
{
	struct flametree *t = flametree_new();
	struct svg_options so;
	char title[256], subtitle[256];
	const char *comm;
	int err;

	if (!t)
		return -ENOMEM;
	err = folded_tree_add(t, rec->profile, sym, fo, o->reverse);
	if (err == 0)
		err = flametree_sort(t);
	if (err < 0) {
		flametree_free(t);
		return err;
	}
	config_svg(&so, o);
	comm = recorded_program(rec);
	if (!so.title) {
		snprintf(title, sizeof(title), "%s", comm ? comm : "hotspy");
		so.title = title;
	}
	if (!so.subtitle) {
		snprintf(subtitle, sizeof(subtitle), "%s time: %" PRIu64 " samples in %.1f s "
			 "at %u Hz from %zu threads", o->idle ? "wall-clock" : "on-CPU",
			 profile_total(rec->profile), secs, o->rate,
			 profile_thread_count(rec->profile));
		so.subtitle = subtitle;
	}
	err = svg_write(out, t, &so);
	flametree_free(t);
	return err;
}

/* Name the frames with @sym (set up by the session) and write the profile;
 * 0 or -errno (reported). */
static int write_profile(struct recording *rec, struct outfile *out, struct symbolizer *sym,
			 const struct options *o, const char *path, enum output_format format,
			 double secs)
{
	struct folded_options fo = { .threads = o->threads, .lines = o->lines };
	int err;

	if (format == FORMAT_FLAMEGRAPH) {
		err = write_svg(rec, outfile_stream(out), sym, &fo, o, secs);
	} else if (format == FORMAT_SPEEDSCOPE) {
		struct speedscope_options so = {
			.rate = o->rate, .name = o->title ? o->title : recorded_program(rec),
		};

		err = speedscope_write(outfile_stream(out), rec->profile, sym, &so);
	} else
		err = folded_write(outfile_stream(out), rec->profile, sym, &fo);
	if (err < 0)
		return log_error(err, "cannot write %s: %s", path, strerror(-err));
	return 0;
}

/* What the session's end means for the exit status and the log. */
static void report_end(const struct session *ss, enum session_end why)
{
	bool sampler_failed;
	int err;

	if (why != SESSION_FAILED)
		return;
	err = session_error(ss, &sampler_failed);
	if (sampler_failed)
		log_error(err, "sampling stopped: %s", strerror(-err));
	else
		log_error(err, "out of memory: stopping the recording early");
}

int cmd_record(const struct options *o)
{
	struct recording rec = { .subprocesses = o->subprocesses };
	struct session_hooks hooks = {
		.on_sample = on_sample, .progress = progress, .ctx = &rec,
	};
	struct outfile *out = NULL;
	struct session *ss = NULL;
	struct sampler *s;
	enum output_format format;
	enum session_end why;
	int err, exit_status;
	char path[4096];
	const char *sampler;
	struct sampler_stats stats;
	pid_t pid;
	double secs;

	if (session_new(o, &ss) < 0)
		return 1;
	/* Everything that can fail without the target comes first, so a bad
	 * output path is reported before anything is attached. */
	if (resolve_output(o, path, sizeof(path), &format) < 0)
		goto fail;
	err = outfile_open(path, &out);
	if (err < 0) {
		log_error(err, "cannot write %s: %s \xe2\x80\x94 choose another path with -o",
			  path, strerror(-err));
		goto fail;
	}
	rec.profile = profile_new();
	if (!rec.profile) {
		log_error(-ENOMEM, "out of memory");
		goto fail;
	}
	if (session_attach(ss, NULL) < 0)
		goto fail;
	s = session_sampler(ss);
	pid = sampler_pid(s);
	if (profile_set_process(rec.profile, pid, sampler_comm(s)) < 0) {
		log_error(-ENOMEM, "out of memory");
		goto fail;
	}
	session_describe(ss);

	why = session_run(ss, &hooks);
	report_end(ss, why);
	secs = session_seconds(ss);

	/* Let go of the target before the slow part. */
	if (o->stats)
		print_stats(sampler_stats(s), profile_total(rec.profile));
	exit_status = sampler_exit_status(s);
	sampler = sampler_name(s);
	stats = *sampler_stats(s);
	if (!o->quiet)
		unsampled_note(sampler_stats(s), profile_total(rec.profile), o->rate);
	session_detach(ss);

	if (write_profile(&rec, out, session_symbolizer(ss), o, path, format, secs) < 0)
		goto fail;
	err = outfile_commit(out);
	out = NULL;
	if (err < 0) {
		log_error(err, "cannot write %s: %s", path, strerror(-err));
		goto fail;
	}
	if (!o->quiet)
		summary(&rec, secs, why, path, exit_status, sampler, &stats, o->idle);
	session_free(ss);
	profile_free(rec.profile);
	return why == SESSION_FAILED ? 1 : 0;

fail:
	session_free(ss);
	outfile_abort(out);
	profile_free(rec.profile);
	return 1;
}
