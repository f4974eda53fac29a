/*
 * hotspy record: sample until the program exits, Ctrl-C, SIGTERM, SIGHUP or
 * -d; all four end the same way: stop sampling, detach (the target runs
 * on), name the frames, write the output whole, print a one-line summary.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
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
#include "files.h"
#include "exitcode.h"
#include "flametree.h"
#include "folded.h"
#include "gate.h"
#include "gilshare.h"
#include "log.h"
#include "outfile.h"
#include "pprof.h"
#include "profile.h"
#include "sampler.h"
#include "speedscope.h"
#include "summary.h"
#include "stackgaps.h"
#include "svg.h"
#include "symbols.h"
#include "target.h"
#include "text.h"
#include "banned.h"

struct recording {
	struct profile *profile;
	double duration;             /* -d seconds, 0 when none */
	bool subprocesses;           /* a root frame "NAME (PID)" per process
	                              * (--subprocesses, -a) */
	bool all;                    /* -a: the whole machine */
	int64_t start_realtime_ns;   /* CLOCK_REALTIME when sampling began */
	uint64_t first_sample_ns;    /* CLOCK_MONOTONIC of the first sample, 0 before */
	pid_t last_pid;              /* the process of the last sample, */
	uint32_t last_image;         /* the program it ran, and */
	char last_process[64];       /* the name it was given */
};

/*
 * The root frame of each program a process ran: with --subprocesses
 * "NAME (PID)"; else the target's name, given at the start for its first
 * program, and the new program's name after each exec (the samples of
 * each program under their own root, as perf shows a COMM with the exec
 * flag).
 */
static int name_process(struct recording *rec, const struct sample *smp)
{
	char root[96];

	if (smp->pid == rec->last_pid && smp->image == rec->last_image &&
	    strcmp(smp->process, rec->last_process) == 0)
		return 0;
	if (rec->subprocesses)
		snprintf(root, sizeof(root), "%s (%d)", smp->process, (int)smp->pid);
	else
		snprintf(root, sizeof(root), "%s", smp->process);
	/* The first program keeps the name it was given at the start (a
	 * command's full basename, where its comm is cut to 15 bytes). */
	if ((rec->subprocesses || smp->image) &&
	    profile_set_image_process(rec->profile, smp->pid, smp->image, root) < 0)
		return -ENOMEM;
	rec->last_pid = smp->pid;
	rec->last_image = smp->image;
	snprintf(rec->last_process, sizeof(rec->last_process), "%s", smp->process);
	return 0;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Into the profile; 0 or -ENOMEM. */
static int on_sample(const struct sample *smp, void *ctx)
{
	struct recording *rec = ctx;
	uint32_t thread;

	if (!rec->first_sample_ns)
		rec->first_sample_ns = monotonic_ns();
	if (name_process(rec, smp) < 0)
		return -ENOMEM;
	/* Python's name for the thread where it has one: the OS calls every
	 * thread of a Python program by the interpreter's name. */
	if (profile_image_thread(rec->profile, smp->pid, smp->image, smp->tid,
				 smp->python_name ? smp->python_name : smp->comm, &thread) < 0 ||
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

	if (o->all) {
		name = "all";
	} else if (o->argv) {
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

/* The output path and format. For the default name, *@stem_len is where a
 * number may go to keep it new (0 for a name the user gave). */
static int resolve_output(const struct options *o, char *path, size_t size,
			  enum output_format *format, size_t *stem_len)
{
	const char *out = o->output;
	size_t len;

	*stem_len = 0;
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
			 o->format == FORMAT_SPEEDSCOPE ? "speedscope.json" :
			 o->format == FORMAT_PPROF ? "pb.gz" : "svg");
		*stem_len = strcspn(path + strlen(name), ".") + strlen(name);
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
		else if ((len > 6 && strcmp(path + len - 6, ".pb.gz") == 0) ||
			 (len > 6 && strcmp(path + len - 6, ".pprof") == 0))
			*format = FORMAT_PPROF;
		else
			*format = FORMAT_FOLDED;
	}
	return 0;
}

static void progress(const struct sampler *s, void *ctx, double secs)
{
	const struct recording *rec = ctx;
	char left[64] = "", name[TARGET_COMM_MAX];

	/* Threads as the summary counts them: those with samples. */
	if (rec->duration > 0)
		snprintf(left, sizeof(left), " of %g s, %.1f s left", rec->duration,
			 secs < rec->duration ? rec->duration - secs : 0.0);
	name[0] = '\0';
	text_append_safe(name, sizeof(name), 0, sampler_comm(s));
	if (rec->all) {
		fprintf(stderr, "\rhotspy: recording every process: %" PRIu64 " samples, %zu "
			"threads, %.1f s%s  (Ctrl-C to stop) ", profile_total(rec->profile),
			profile_threads_seen(rec->profile), secs, left);
		return;
	}
	fprintf(stderr, "\rhotspy: recording %s (pid %d): %" PRIu64 " samples, %zu threads, "
		"%.1f s%s  (Ctrl-C to stop) ", name, (int)sampler_pid(s),
		profile_total(rec->profile), profile_threads_seen(rec->profile), secs, left);
}

/* CPU time hotspy has used so far, all its threads, user and system. */
static double cpu_ms_now(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static void print_stats(const struct sampler_stats *st)
{
	fprintf(stderr,
		"hotspy: stats: ticks %" PRIu64 " (missed %" PRIu64 "), snapshots %" PRIu64
		", skipped idle %" PRIu64 ", deferred %" PRIu64 ", failed %" PRIu64
		", maps reloads %" PRIu64 ", thread list scans %" PRIu64 ", skipped late %" PRIu64
		"\n", st->ticks, st->ticks_missed, st->snapshots, st->skipped_idle, st->deferred,
		st->failed, st->maps_reloads, st->thread_scans, st->skipped_late);
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
	if (st->sampled_hist.n)
		fprintf(stderr, "hotspy: stats: stops that made a sample %" PRIu64 ", reading and "
			"resuming median / 90th pct: %.0f / %.0f us\n", st->sampled_hist.n,
			sampler_hist_quantile(&st->sampled_hist, 0.5),
			sampler_hist_quantile(&st->sampled_hist, 0.9));
	if (st->python_captures)
		fprintf(stderr, "hotspy: stats: Python frame chains copied %" PRIu64 ", %.1f reads "
			"each\n", st->python_captures,
			(double)st->python_reads / (double)st->python_captures);
	/* Per sample the kernel made: the dropped copies cost the target
	 * too. */
	if (st->snapshots && st->stack_asked)
		fprintf(stderr, "hotspy: stats: stack copied per sample %.1f KiB (of %.1f KiB "
			"asked); %" PRIu64 " threads given a larger copy, %" PRIu64 " copies "
			"dropped\n",
			(double)st->stack_copied / (double)(st->snapshots + st->stack_dropped) / 1024,
			(double)st->stack_asked / (double)(st->snapshots + st->stack_dropped) / 1024,
			st->stack_grows, st->stack_dropped);
	if (st->snapshots)
		fprintf(stderr, "hotspy: stats: unwind per sample %.1f us (%" PRIu64 " walks by "
			"cached rules, %" PRIu64 " by libunwind)\n",
			(double)st->unwind_ns / (double)st->snapshots / 1e3, st->walks_fast,
			st->walks_slow);
}

/*
 * The latencies a person waits for, from @attach_ns (hotspy begins to
 * attach: the target's threads and maps are read, the sampler opened) to
 * the first sample counted, and from @sampled_ns (sampling ended) to the
 * profile written, naming included: on a program of hundreds of megabytes
 * either may be long.
 */
static void print_latency(uint64_t attach_ns, uint64_t first_ns, uint64_t sampled_ns)
{
	uint64_t done = monotonic_ns();

	if (first_ns)
		fprintf(stderr, "hotspy: stats: first sample %.1f ms after the attach began",
			(double)(first_ns - attach_ns) / 1e6);
	else
		fputs("hotspy: stats: no sample", stderr);
	fprintf(stderr, "; profile written %.1f ms after sampling ended\n",
		(double)(done - sampled_ns) / 1e6);
}

/*
 * hotspy's whole CPU time, read once the output is written: what a
 * /usr/bin/time of an attaching run measures, less exiting. Split at
 * @sampled_ms, the CPU used when sampling ended, because naming and
 * writing (reading ELF and DWARF files) can cost more than sampling.
 */
static void print_cpu(double sampled_ms, uint64_t samples)
{
	double cpu_ms = cpu_ms_now();

	fprintf(stderr, "hotspy: stats: hotspy cpu %.1f ms in all: sampling %.1f ms",
		cpu_ms, sampled_ms);
	if (samples)
		fprintf(stderr, " (%.1f us per sample)", sampled_ms * 1e3 / (double)samples);
	fprintf(stderr, ", naming and writing %.1f ms\n", cpu_ms - sampled_ms);
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

/* The end reason's name in --summary-json. */
static const char *end_name(enum session_end why)
{
	switch (why) {
	case SESSION_EXITED: return "exited";
	case SESSION_INTERRUPTED: return "interrupted";
	case SESSION_DURATION: return "duration";
	case SESSION_STOPPED: return "stopped";
	case SESSION_FAILED: break;
	}
	return "failed";
}

/* --summary-json: written whole like the profile; 0 or -errno (reported). */
static int write_summary_json(const struct recording *rec, const struct run_summary *rs,
			      struct symbolizer *sym, const char *path)
{
	struct outfile *out;
	int err = outfile_open(path, &out);

	if (err < 0)
		return files_write_error(path, err);
	err = outfile_error(out, summary_write_json(outfile_stream(out), rs, rec->profile, sym));
	if (err < 0) {
		outfile_abort(out);
		return files_write_error(path, err);
	}
	err = outfile_commit(out);
	if (err < 0)
		return files_write_error(path, err);
	return 0;
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

/* What became of the program, said after the summary line. */
static void program_note(const struct session_program_end *pe)
{
	int st = pe->status;

	switch (pe->what) {
	case SESSION_PROGRAM_NONE:
		return;
	case SESSION_PROGRAM_KEPT:
		log_info("the program (pid %d) runs on (--keep-running)", (int)pe->pid);
		return;
	case SESSION_PROGRAM_STOPPED:
		log_info("stopped the program it started (pid %d) with %s as the recording "
			 "ended (--keep-running leaves it running)", (int)pe->pid,
			 pe->signal == SIGKILL ? "SIGKILL, as SIGTERM did not end it within "
			 "2 s" : "SIGTERM");
		return;
	case SESSION_PROGRAM_EXITED:
		break;
	}
	if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st))
		log_info("the program exited with status %d", WEXITSTATUS(st));
	else if (st >= 0 && WIFSIGNALED(st))
		log_info("the program was killed by signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
}

/* --gil: what was left out; --threads: each thread's GIL share. */
static void gil_summary(const struct session *ss, const struct options *o,
			const struct sampler_stats *st)
{
	const struct gilshare *g = session_gilshare(ss);

	if (o->gil && !st->python_version)
		log_warn("--gil: no Python interpreter was found in the target, so no sample "
			 "held the GIL (perf's -g is not needed here: call stacks are always "
			 "recorded)");
	else if (o->gil && (!g || !gilshare_count(g)))
		log_warn("--gil: hotspy cannot read the GIL of this Python version (its "
			 "offsets are not known): every sample was left out; record without --gil");
	else if (o->gil)
		log_info("--gil: %" PRIu64 " samples left out (their thread did not hold the "
			 "GIL)", session_gil_dropped(ss));
	if (o->threads && g && st->python_version)
		gilshare_print(g, stderr);
}

static void summary(const struct recording *rec, const struct run_summary *rs,
		    const struct sampler_stats *st, uint64_t gil_dropped)
{
	uint64_t total = rs->samples;
	/* What was sampled, also what --gil left out of the profile. */
	uint64_t sampled = total + gil_dropped;
	char lag[640];

	fprintf(stderr, "hotspy: %" PRIu64 " samples in %.1f s from %zu threads (%s, %s sampler, "
		"%s time); %.1f%% did not unwind to the bottom; wrote %s\n",
		total, rs->seconds, rs->threads, rs->end_text, rs->sampler,
		rs->wall ? "wall-clock" : "on-CPU",
		total ? 100.0 * (double)rs->truncated / (double)total : 0.0,
		strcmp(rs->output, "-") == 0 ? "stdout" : rs->output);
	if (st->python_version) {
		char v[32];

		summary_python_version(st->python_version, v, sizeof(v));
		log_info("CPython %s: Python frames in %.1f%% of the samples%s", v,
			 sampled ? 100.0 * (double)st->python_samples / (double)sampled : 0.0,
			 st->python_torn ? "" : ", every frame chain read whole");
		if (st->python_torn)
			log_info("%" PRIu64 " frame chains could not be read to their end "
				 "(the interpreter changed them while they were read, or they "
				 "were freed): those samples end in [unknown]", st->python_torn);
	}
	if (rs->lost)
		log_warn("the kernel dropped %" PRIu64 " samples (its buffer was full): "
			 "lower the rate with -r", rs->lost);
	if (summary_lag(rs, rs->rate, !rs->wall && st->python_version == 0, lag, sizeof(lag)))
		log_warn("%s", lag);
	if (sampled == 0)
		log_warn("no samples: the program did not run on a CPU while it was "
			 "recorded (use --idle to sample threads that wait, or --subprocesses "
			 "when child processes do the work)");
	(void)rec;
	program_note(&rs->program);
}

/* Gaps cheaper than this share of the samples are not worth a line. */
#define GAP_MIN_SHARE 1.0
#define GAP_LINES_MAX 3   /* per kind */

/*
 * Say why stacks fell short, at what cost, and what to do: the copy was too
 * short, a module has no unwind information, or no symbols.
 */
static void gap_hints(const struct profile *p, struct symbolizer *sym)
{
	uint64_t total = profile_total(p);
	struct stackgap *gaps = NULL;
	unsigned lines[3] = { 0 };
	long n = total ? stackgaps_collect(p, sym, &gaps) : 0;

	for (long i = 0; i < n; i++) {
		const struct stackgap *g = &gaps[i];
		double share = 100.0 * (double)g->samples / (double)total;
		const char *m = g->module ? g->module : "code outside every mapping";

		if (share < GAP_MIN_SHARE || lines[g->kind]++ >= GAP_LINES_MAX)
			continue;
		switch (g->kind) {
		case STACKGAP_CUT:
			log_info("%.1f%% of the samples end in [truncated]: their stacks are "
				 "deeper than the stack copied â raise --stack-size "
				 "(e.g. 1M; above 64 KiB the ptrace sampler is used)", share);
			break;
		case STACKGAP_STOPPED:
			if (g->module && (strcmp(g->module, "[anon]") == 0 ||
					  strcmp(g->module, "[jit]") == 0))
				log_info("%.1f%% of the samples stop in JIT code (anonymous "
					 "memory with neither unwind information nor a frame "
					 "pointer): if the JIT can keep frame pointers, turn "
					 "them on; node: --perf-basic-prof names its code",
					 share);
			else
				log_info("%.1f%% of the samples stop in %s, which has no unwind "
					 "information there and no frame pointer â build it "
					 "with -fasynchronous-unwind-tables or "
					 "-fno-omit-frame-pointer", share, m);
			break;
		case STACKGAP_UNNAMED:
			log_info("%.1f%% of the samples have frames in %s without symbols "
				 "(shown as %s+0xOFFSET) â install its debug symbols "
				 "(the -dbgsym or -dbg package, or --debug-dir) or build it "
				 "with -g and do not strip it", share, m, m);
			break;
		}
	}
	free(gaps);
}

/* The name of the first process sampled, or NULL. */
static const char *recorded_program(const struct recording *rec)
{
	if (rec->all)
		return "all processes";
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
			 profile_threads_seen(rec->profile));
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
			.lines = o->lines,
		};

		err = speedscope_write(outfile_stream(out), rec->profile, sym, &so);
	} else if (format == FORMAT_PPROF) {
		struct pprof_options po = {
			.rate = o->rate, .wall = o->idle,
			.time_nanos = rec->start_realtime_ns,
			.duration_nanos = (int64_t)(secs * 1e9),
		};

		err = pprof_write(outfile_stream(out), rec->profile, sym, &po);
	} else
		err = folded_write(outfile_stream(out), rec->profile, sym, &fo);
	if (err < 0)
		return files_write_error(path, outfile_error(out, err));
	return 0;
}

/*
 * The threshold rules of the command line, judged on the profile as it was
 * written: a tree named as the folded writer names frames (the same
 * --threads and --lines), with each frame's file and module for the
 * patterns. EXIT_CODE_THRESHOLD when one is violated, EXIT_CODE_OK, or
 * EXIT_CODE_ERROR after reporting.
 */
static int judge_rules(const struct recording *rec, struct symbolizer *sym,
		       const struct options *o)
{
	struct folded_options fo = { .threads = o->threads, .lines = o->lines };
	struct rule_result results[OPTIONS_RULES_MAX];
	struct gate_profile gp;
	struct flametree *t;
	int violated;

	if (!o->nrules)
		return EXIT_CODE_OK;
	t = flametree_new();
	if (!t || folded_tree_add(t, rec->profile, sym, &fo, false) < 0 ||
	    flametree_sort(t) < 0) {
		flametree_free(t);
		log_error(-ENOMEM, "out of memory judging the threshold rules");
		return EXIT_CODE_ERROR;
	}
	gp = (struct gate_profile){ .tree = t, .thread_level = o->threads };
	violated = gate_judge(o, &gp, 1, results);
	flametree_free(t);
	if (violated < 0)
		return EXIT_CODE_ERROR;
	return violated ? EXIT_CODE_THRESHOLD : EXIT_CODE_OK;
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
	struct recording rec = { .subprocesses = o->subprocesses || o->all, .all = o->all,
				 .duration = o->duration };
	struct session_hooks hooks = {
		.on_sample = on_sample, .progress = progress, .ctx = &rec,
	};
	struct outfile *out = NULL;
	struct session *ss = NULL;
	struct sampler *s;
	struct run_summary rs;
	enum output_format format;
	enum session_end why;
	int err, gate, sig;
	char path[4096], reason[320];
	size_t stem_len;
	struct sampler_stats stats;
	struct timespec now;
	pid_t pid;
	double sampled_ms = 0;
	uint64_t attach_ns, sampled_ns;

	if (session_new(o, &ss) < 0)
		return EXIT_CODE_ERROR;
	/* Everything that can fail without the target comes first, so a bad
	 * output path is reported before anything is attached. */
	if (resolve_output(o, path, sizeof(path), &format, &stem_len) < 0)
		goto fail;
	/* A name hotspy made up never replaces a file: two recordings of one
	 * program started in the same second get -2, -3... */
	err = stem_len ? outfile_open_unique(path, stem_len, &out) : outfile_open(path, &out);
	if (err < 0) {
		files_write_error(path, err);
		goto fail;
	}
	rec.profile = profile_new();
	if (!rec.profile) {
		log_error(-ENOMEM, "out of memory");
		goto fail;
	}
	/* A folded file or a flamegraph without --threads never tells threads
	 * apart: counted per process, a long recording of threads that come
	 * and go keeps its memory to the distinct stacks. speedscope (a
	 * profile per thread) and pprof (a thread label) need them. */
	if (!o->threads && (format == FORMAT_FOLDED || format == FORMAT_FLAMEGRAPH))
		profile_merge_threads(rec.profile);
	attach_ns = monotonic_ns();
	err = session_attach(ss, NULL);
	sig = err == -EINTR ? session_pending_signal() : 0;
	if (sig > 0) {
		/* A Ctrl-C (or a SIGTERM to the group) while the program was
		 * being started killed it before its exec: its status is
		 * hotspy's, as for a program the signal kills later. Nothing
		 * was recorded, so nothing is written. */
		session_free(ss);
		outfile_abort(out);
		profile_free(rec.profile);
		return EXIT_CODE_SIGNAL_BASE + sig;
	}
	if (err < 0)
		goto fail;
	s = session_sampler(ss);
	pid = sampler_pid(s);
	/* The whole machine has no process of its own: each is named as it
	 * is first sampled (name_process). */
	if (!o->all && profile_set_process(rec.profile, pid, sampler_comm(s)) < 0) {
		log_error(-ENOMEM, "out of memory");
		goto fail;
	}
	session_describe(ss);

	clock_gettime(CLOCK_REALTIME, &now);
	rec.start_realtime_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	why = session_run(ss, &hooks);
	sampled_ns = monotonic_ns();
	report_end(ss, why);

	/* Let go of the target before the slow part. */
	if (o->stats) {
		print_stats(sampler_stats(s));
		sampled_ms = cpu_ms_now();
	}
	stats = *sampler_stats(s);
	snprintf(reason, sizeof(reason), "%s", sampler_reason(s));
	rs = (struct run_summary){
		.samples = profile_total(rec.profile),
		.truncated = profile_truncated(rec.profile),
		.lost = stats.lost,
		.seconds = session_seconds(ss),
		.rate = o->rate,
		.threads = profile_threads_seen(rec.profile),
		.end = end_name(why),
		.end_text = end_text(why),
		.sampler = sampler_name(s),   /* a static string */
		.sampler_reason = reason,
		.wall = o->idle,
		.output = path,
		.format = options_format_name(format),
		.pid = pid,
		.program_name = recorded_program(&rec),
		.python_version = stats.python_version,
		.python_samples = stats.python_samples,
	};
	summary_set_lag(&rs, &stats);
	if (!o->quiet)
		unsampled_note(sampler_stats(s), profile_total(rec.profile), o->rate);
	session_detach(ss);
	/* The program ends with the recording (or runs on when asked): before
	 * the profile is written, which may take a while. */
	session_end_program(ss, &rs.program);
	rs.end_signal = why == SESSION_INTERRUPTED ? session_signal(ss) : 0;
	rs.exit_code = why == SESSION_FAILED ? EXIT_CODE_ERROR :
		       session_program_exit_code(&rs.program);

	if (write_profile(&rec, out, session_symbolizer(ss), o, path, format, rs.seconds) < 0)
		goto fail;
	err = outfile_commit_as(out, path, sizeof(path));
	out = NULL;
	if (err < 0) {
		files_write_error(path, err);
		goto fail;
	}
	if (err == OUTFILE_MOVED)
		log_warn("the output's directory was moved during the recording: the profile "
			 "is at %s", path);
	else if (err == OUTFILE_DIR_GONE) {
		char cwd[1024];

		log_warn("the output's directory was removed during the recording: the "
			 "profile is in the current directory (%s), as %s",
			 getcwd(cwd, sizeof(cwd)) ? cwd : "?", path);
	}
	if (o->stats) {
		print_latency(attach_ns, rec.first_sample_ns, sampled_ns);
		print_cpu(sampled_ms, profile_total(rec.profile));
	}
	if (!o->quiet) {
		summary(&rec, &rs, &stats, session_gil_dropped(ss));
		gil_summary(ss, o, &stats);
		gap_hints(rec.profile, session_symbolizer(ss));
	}
	if (o->summary_json &&
	    write_summary_json(&rec, &rs, session_symbolizer(ss), o->summary_json) < 0)
		goto fail;
	/* After the summary: the rules' verdict is the last word, unless the
	 * program started with -- failed, whose status wins (the CI step
	 * fails either way). */
	gate = judge_rules(&rec, session_symbolizer(ss), o);
	session_free(ss);
	profile_free(rec.profile);
	return rs.exit_code != EXIT_CODE_OK ? rs.exit_code : gate;

fail:
	session_free(ss);
	outfile_abort(out);
	profile_free(rec.profile);
	return EXIT_CODE_ERROR;
}
