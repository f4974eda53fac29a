/*
 * hotspy record: sample until the program exits, Ctrl-C, SIGTERM, SIGHUP or
 * -d; all four end the same way: stop sampling, detach (the target runs
 * on), name the frames, write the output whole, print a one-line summary.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "elf_cache.h"
#include "flametree.h"
#include "folded.h"
#include "log.h"
#include "outfile.h"
#include "profile.h"
#include "sampler.h"
#include "svg.h"
#include "symbols.h"
#include "target.h"
#include "banned.h"

#define PROGRESS_INTERVAL_NS (250ull * 1000 * 1000)

struct recording {
	struct profile *profile;
	int oom;
};

enum end_reason { END_EXITED, END_SIGNALLED, END_DURATION, END_ERROR };

static int on_sample(const struct sample *smp, void *ctx)
{
	struct recording *rec = ctx;
	uint32_t thread;

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
			 o->format == FORMAT_FOLDED ? "folded" : "svg");
	} else {
		snprintf(path, size, "%s", out);
	}
	*format = o->format;
	len = strlen(path);
	if (*format == FORMAT_AUTO)
		*format = len > 4 && strcmp(path + len - 4, ".svg") == 0 ?
			  FORMAT_FLAMEGRAPH : FORMAT_FOLDED;
	if (*format != FORMAT_FOLDED && *format != FORMAT_FLAMEGRAPH)
		return log_error(-ENOTSUP, "the %s format is not available in this version "
				 "yet; use -f flamegraph or -f folded",
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
	if (st->snapshots && st->stopped_ns)
		fprintf(stderr, "hotspy: stats: stopped per snapshot %.1f us (max %.1f us)\n",
			(double)st->stopped_ns / (double)st->snapshots / 1e3,
			(double)st->stopped_max_ns / 1e3);
	if (st->snapshots)
		fprintf(stderr, "hotspy: stats: unwind per sample %.1f us\n",
			(double)st->unwind_ns / (double)st->snapshots / 1e3);
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

static void summary(const struct recording *rec, double secs, enum end_reason why,
		    const char *path, int exit_status, const char *sampler, uint64_t lost)
{
	uint64_t total = profile_total(rec->profile);
	uint64_t cut = profile_truncated(rec->profile);

	fprintf(stderr, "hotspy: %" PRIu64 " samples in %.1f s from %zu threads (%s, %s sampler); "
		"%.1f%% did not unwind to the bottom; wrote %s\n",
		total, secs, profile_thread_count(rec->profile), end_text(why), sampler,
		total ? 100.0 * (double)cut / (double)total : 0.0,
		strcmp(path, "-") == 0 ? "stdout" : path);
	if (lost)
		log_warn("the kernel dropped %" PRIu64 " samples (its buffer was full): "
			 "lower the rate with -r", lost);
	if (total == 0)
		log_warn("no samples: the program did not run on a CPU while it was "
			 "recorded (use --idle to sample threads that wait)");
	if (exit_status >= 0 && WIFEXITED(exit_status) && WEXITSTATUS(exit_status))
		log_info("the program exited with status %d", WEXITSTATUS(exit_status));
	else if (exit_status >= 0 && WIFSIGNALED(exit_status))
		log_info("the program was killed by signal %d (%s)", WTERMSIG(exit_status),
			 strsignal(WTERMSIG(exit_status)));
}

/*
 * The SVG is drawn from the folded lines, held in memory: one naming pass,
 * and the flamegraph shows exactly what the folded file would hold.
 */
static int write_svg(const struct recording *rec, FILE *out, struct symbolizer *sym,
		     const struct folded_options *fo, const struct options *o, double secs)
{
	struct flametree *t = flametree_new();
	struct svg_options so;
	char title[256], subtitle[256];
	const char *comm;
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	int err;

	if (!t)
		return -ENOMEM;
	mem = open_memstream(&buf, &len);
	if (!mem) {
		flametree_free(t);
		return -ENOMEM;
	}
	err = folded_write(mem, rec->profile, sym, fo);
	if (fclose(mem) != 0 && err == 0)
		err = -ENOMEM;
	if (err == 0)
		err = flametree_add_folded(t, buf, len, o->reverse, NULL);
	free(buf);
	if (err == 0)
		err = flametree_sort(t);
	if (err < 0) {
		flametree_free(t);
		return err;
	}
	svg_options_from(&so, o);
	comm = profile_thread_count(rec->profile) ?
	       profile_process_name(rec->profile, profile_thread_at(rec->profile, 0)->pid) : NULL;
	if (!so.title) {
		snprintf(title, sizeof(title), "%s", comm ? comm : "hotspy");
		so.title = title;
	}
	if (!so.subtitle) {
		snprintf(subtitle, sizeof(subtitle), "%" PRIu64 " samples in %.1f s at %u Hz "
			 "from %zu threads", profile_total(rec->profile), secs, o->rate,
			 profile_thread_count(rec->profile));
		so.subtitle = subtitle;
	}
	err = svg_write(out, t, &so);
	flametree_free(t);
	return err;
}

/* Name the frames and write the profile; 0 or -errno (reported). */
static int write_profile(struct recording *rec, struct outfile *out, struct elf_cache *cache,
			 struct maps *maps, pid_t pid, const struct options *o,
			 const char *path, enum output_format format, double secs)
{
	struct folded_options fo = { .threads = o->threads };
	struct symbolizer *sym = symbolizer_new(cache);
	int err;

	if (!sym)
		return log_error(-ENOMEM, "cannot name frames: out of memory");
	if (maps)
		symbolizer_set_maps(sym, pid, maps);
	if (format == FORMAT_FLAMEGRAPH)
		err = write_svg(rec, outfile_stream(out), sym, &fo, o, secs);
	else
		err = folded_write(outfile_stream(out), rec->profile, sym, &fo);
	symbolizer_free(sym);
	if (err < 0)
		return log_error(err, "cannot write %s: %s", path, strerror(-err));
	return 0;
}

int cmd_record(const struct options *o)
{
	struct sampler_config cfg = {
		.pid = o->pid,
		.argv = o->argv,
		.rate = o->rate,
		.stack_size = o->stack_size,
		.idle = o->idle,
	};
	struct recording rec = { 0 };
	struct elf_cache *cache = NULL;
	struct outfile *out = NULL;
	struct sampler *s = NULL;
	struct maps *maps = NULL;
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

	cfg.cache = cache;
	s = sampler_open(o->sampler, &cfg);
	if (!s)
		goto fail;
	pid = sampler_pid(s);
	if (profile_set_process(rec.profile, pid, sampler_comm(s)) < 0) {
		log_error(-ENOMEM, "out of memory");
		goto fail;
	}
	if (o->verbose)
		log_info("sampling %s (pid %d) with the %s sampler at %u Hz", sampler_comm(s),
			 (int)pid, sampler_name(s), o->rate);

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
	maps = sampler_maps(s) ? maps_ref(sampler_maps(s)) : NULL;
	if (o->stats)
		print_stats(sampler_stats(s), profile_total(rec.profile));
	exit_status = sampler_exit_status(s);
	sampler = sampler_name(s);
	lost = sampler_stats(s)->lost;
	sampler_close(s);
	s = NULL;

	if (write_profile(&rec, out, cache, maps, pid, o, path, format, secs) < 0)
		goto fail;
	err = outfile_commit(out);
	out = NULL;
	if (err < 0) {
		log_error(err, "cannot write %s: %s", path, strerror(-err));
		goto fail;
	}
	if (!o->quiet)
		summary(&rec, secs, why, path, exit_status, sampler, lost);
	maps_free(maps);
	elf_cache_free(cache);
	profile_free(rec.profile);
	return why == END_ERROR ? 1 : 0;

fail:
	sampler_close(s);
	outfile_abort(out);
	maps_free(maps);
	elf_cache_free(cache);
	profile_free(rec.profile);
	return 1;
}
