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
#include "config.h"
#include "elf_cache.h"
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

#define PROGRESS_INTERVAL_NS (250ull * 1000 * 1000)

struct recording {
	struct profile *profile;
	bool subprocesses;
	pid_t last_pid;              /* the process of the last sample, and */
	char last_process[64];       /* the name it was given */
	int oom;
};

/* The mappings of every process sampled, kept for naming after the
 * sampler has let go of the target. */
struct process_maps {
	size_t n;
	pid_t *pids;
	struct maps **maps;
};

enum end_reason { END_EXITED, END_SIGNALLED, END_DURATION, END_ERROR };

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

static int on_sample(const struct sample *smp, void *ctx)
{
	struct recording *rec = ctx;
	uint32_t thread;

	if (rec->subprocesses && name_process(rec, smp) < 0) {
		rec->oom = 1;
		return 1;
	}
	if (profile_thread(rec->profile, smp->pid, smp->tid, smp->comm, &thread) < 0 ||
	    profile_add_sample(rec->profile, thread, smp->addrs, smp->n, smp->weight) < 0) {
		rec->oom = 1;
		return 1;
	}
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

static void progress(const struct sampler *s, const struct profile *p, double secs)
{
	fprintf(stderr, "\rhotspy: recording %s (pid %d): %" PRIu64 " samples, %zu threads, "
		"%.1f s  (Ctrl-C to stop) ", sampler_comm(s), (int)sampler_pid(s),
		profile_total(p), sampler_thread_count(s), secs);
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
		", maps reloads %" PRIu64 "\n",
		st->ticks, st->ticks_missed, st->snapshots, st->skipped_idle, st->deferred,
		st->failed, st->maps_reloads);
	if (st->exited_threads)
		fprintf(stderr, "hotspy: stats: %" PRIu64 " threads exited, %" PRIu64 " never "
			"sampled; %.1f ms of their CPU not in any sample\n", st->exited_threads,
			st->unsampled_threads, (double)st->unsampled_ns / 1e6);
	if (st->snapshots && st->stopped_ns)
		fprintf(stderr, "hotspy: stats: stopped per snapshot %.1f us (max %.1f us)\n",
			(double)st->stopped_ns / (double)st->snapshots / 1e3,
			(double)st->stopped_max_ns / 1e3);
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

static const char *end_text(enum end_reason why)
{
	switch (why) {
	case END_EXITED: return "program exited";
	case END_SIGNALLED: return "interrupted";
	case END_DURATION: return "duration reached";
	case END_ERROR: break;
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

static void summary(const struct recording *rec, double secs, enum end_reason why,
		    const char *path, int exit_status, const char *sampler, uint64_t lost,
		    int idle)
{
	uint64_t total = profile_total(rec->profile);
	uint64_t cut = profile_truncated(rec->profile);

	fprintf(stderr, "hotspy: %" PRIu64 " samples in %.1f s from %zu threads (%s, %s sampler, "
		"%s time); %.1f%% did not unwind to the bottom; wrote %s\n",
		total, secs, profile_thread_count(rec->profile), end_text(why), sampler,
		idle ? "wall-clock" : "on-CPU",
		total ? 100.0 * (double)cut / (double)total : 0.0,
		strcmp(path, "-") == 0 ? "stdout" : path);
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

static void process_maps_release(struct process_maps *pm)
{
	for (size_t i = 0; i < pm->n; i++)
		maps_free(pm->maps[i]);
	free(pm->pids);
	free(pm->maps);
	memset(pm, 0, sizeof(*pm));
}

/* Keep a reference to the mappings of every process @s sampled. */
static int process_maps_take(struct process_maps *pm, const struct sampler *s)
{
	size_t n = sampler_process_count(s);

	pm->pids = calloc(n ? n : 1, sizeof(*pm->pids));
	pm->maps = calloc(n ? n : 1, sizeof(*pm->maps));
	if (!pm->pids || !pm->maps)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct maps *maps = NULL;

		pm->pids[pm->n] = sampler_process_at(s, i, NULL, &maps);
		if (maps)
			pm->maps[pm->n++] = maps_ref(maps);
	}
	return 0;
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

/* Name the frames and write the profile; 0 or -errno (reported). */
static int write_profile(struct recording *rec, struct outfile *out, struct elf_cache *cache,
			 const struct process_maps *pm, const struct options *o,
			 const char *path, enum output_format format, double secs)
{
	struct folded_options fo = { .threads = o->threads, .lines = o->lines };
	struct symbolizer *sym = symbolizer_new(cache);
	int err;

	if (!sym)
		return log_error(-ENOMEM, "cannot name frames: out of memory");
	symbolizer_set_demangle(sym, !o->no_demangle);
	for (size_t i = 0; i < o->ndebug_dirs; i++)
		symbolizer_add_debug_dir(sym, o->debug_dirs[i]);
	for (size_t i = 0; i < pm->n; i++)
		symbolizer_set_maps(sym, pm->pids[i], pm->maps[i]);
	if (format == FORMAT_FLAMEGRAPH) {
		err = write_svg(rec, outfile_stream(out), sym, &fo, o, secs);
	} else if (format == FORMAT_SPEEDSCOPE) {
		struct speedscope_options so = {
			.rate = o->rate, .name = o->title ? o->title : recorded_program(rec),
		};

		err = speedscope_write(outfile_stream(out), rec->profile, sym, &so);
	} else
		err = folded_write(outfile_stream(out), rec->profile, sym, &fo);
	symbolizer_free(sym);
	if (err < 0)
		return log_error(err, "cannot write %s: %s", path, strerror(-err));
	return 0;
}

int cmd_record(const struct options *o)
{
	struct sampler_config cfg;
	struct recording rec = { .subprocesses = o->subprocesses };
	struct process_maps pm = { 0 };
	struct elf_cache *cache = NULL;
	struct outfile *out = NULL;
	struct sampler *s = NULL;
	enum output_format format;
	enum end_reason why = END_ERROR;
	uint64_t start, now, last_progress = 0;
	int show_progress = !o->quiet && isatty(STDERR_FILENO);
	int err, exit_status = -1;
	char path[4096];
	sigset_t old_mask;
	const char *sampler = "?";
	uint64_t lost = 0;
	pid_t pid = 0;
	double secs;

	/* Everything that can fail without the target comes first, so a bad
	 * output path is reported before anything is attached. */
	if (resolve_output(o, path, sizeof(path), &format) < 0)
		return 1;
	err = outfile_open(path, &out);
	if (err < 0) {
		log_error(err, "cannot write %s: %s \xe2\x80\x94 choose another path with -o",
			  path, strerror(-err));
		return 1;
	}
	rec.profile = profile_new();
	cache = elf_cache_new();
	if (!rec.profile || !cache) {
		log_error(-ENOMEM, "out of memory");
		goto fail;
	}
	if (sampler_block_signals(&old_mask) < 0) {
		log_error(-errno, "cannot block signals: %s", strerror(errno));
		goto fail;
	}

	cfg = config_sampler(o, cache);
	s = sampler_open(o->sampler, &cfg);
	if (!s)
		goto fail;
	pid = sampler_pid(s);
	if (profile_set_process(rec.profile, pid, sampler_comm(s)) < 0) {
		log_error(-ENOMEM, "out of memory");
		goto fail;
	}
	if (o->verbose)
		log_info("sampling %s (pid %d) with the %s sampler (%s) at %u Hz, %s time",
			 sampler_comm(s), (int)pid, sampler_name(s), sampler_reason(s), o->rate,
			 o->idle ? "wall-clock" : "on-CPU");

	start = sampler_now_ns();
	for (;;) {
		int ev = sampler_poll(s, on_sample, &rec);

		now = sampler_now_ns();
		if (ev < 0) {
			log_error(ev, "sampling stopped: %s", strerror(-ev));
			why = END_ERROR;
			break;
		}
		if (ev == SAMPLER_EXITED) {
			why = END_EXITED;
			break;
		}
		if (ev == SAMPLER_SIGNALLED) {
			why = END_SIGNALLED;
			break;
		}
		if (rec.oom) {
			log_error(-ENOMEM, "out of memory: stopping the recording early");
			why = END_ERROR;
			break;
		}
		if (o->duration > 0 && (double)(now - start) / 1e9 >= o->duration) {
			why = END_DURATION;
			break;
		}
		if (show_progress && now - last_progress >= PROGRESS_INTERVAL_NS) {
			progress(s, rec.profile, (double)(now - start) / 1e9);
			last_progress = now;
		}
	}
	secs = (double)(sampler_now_ns() - start) / 1e9;
	if (show_progress)
		fputs("\r\033[K", stderr);

	/* Let go of the target before the slow part. */
	if (process_maps_take(&pm, s) < 0) {
		log_error(-ENOMEM, "out of memory");
		goto fail;
	}
	if (o->stats)
		print_stats(sampler_stats(s), profile_total(rec.profile));
	exit_status = sampler_exit_status(s);
	sampler = sampler_name(s);
	lost = sampler_stats(s)->lost;
	if (!o->quiet)
		unsampled_note(sampler_stats(s), profile_total(rec.profile), o->rate);
	sampler_close(s);
	s = NULL;

	if (write_profile(&rec, out, cache, &pm, o, path, format, secs) < 0)
		goto fail;
	err = outfile_commit(out);
	out = NULL;
	if (err < 0) {
		log_error(err, "cannot write %s: %s", path, strerror(-err));
		goto fail;
	}
	if (!o->quiet)
		summary(&rec, secs, why, path, exit_status, sampler, lost, o->idle);
	process_maps_release(&pm);
	elf_cache_free(cache);
	profile_free(rec.profile);
	return why == END_ERROR ? 1 : 0;

fail:
	sampler_close(s);
	outfile_abort(out);
	process_maps_release(&pm);
	elf_cache_free(cache);
	profile_free(rec.profile);
	return 1;
}
