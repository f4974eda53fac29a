#include "session.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "elf_cache.h"
#include "log.h"

#include "banned.h"

#define PROGRESS_INTERVAL_NS (250ull * 1000 * 1000)

struct session {
	const struct options *o;
	struct session_setup setup;
	struct elf_cache *cache;       /* shared by the sampler and the symbolizer */
	struct sampler *sampler;       /* NULL once detached */
	struct symbolizer *sym;
	struct pycodes *pycodes;       /* CPython code objects, for both */
	const struct session_hooks *hooks;   /* during session_run */
	uint64_t start_ns, end_ns;
	int err;                       /* the error of SESSION_FAILED */
	bool sampler_failed;
	bool show_progress;
};

int session_new(const struct options *o, struct session **out)
{
	struct session *ss;
	sigset_t old_mask;
	int err;

	*out = NULL;
	/* The mask is never restored: a pending SIGINT would then kill
	 * hotspy before it writes what it recorded. */
	if (sampler_block_signals(&old_mask) < 0)
		return log_error(-errno, "cannot block signals: %s", strerror(errno));
	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return log_error(-ENOMEM, "out of memory");
	ss->o = o;
	ss->cache = elf_cache_new();
	ss->sym = ss->cache ? symbolizer_new(ss->cache) : NULL;
	ss->pycodes = pycodes_new();
	if (!ss->sym || !ss->pycodes) {
		err = log_error(-ENOMEM, "out of memory");
		goto fail;
	}
	symbolizer_set_demangle(ss->sym, !o->no_demangle);
	symbolizer_set_full_names(ss->sym, o->full_names);
	symbolizer_set_pycodes(ss->sym, ss->pycodes);
	for (size_t i = 0; i < o->ndebug_dirs; i++)
		symbolizer_add_debug_dir(ss->sym, o->debug_dirs[i]);
	*out = ss;
	return 0;

fail:
	session_free(ss);
	return err;
}

int session_attach(struct session *ss, const struct session_setup *setup)
{
	const struct options *o = ss->o;

	if (setup) {
		ss->setup = *setup;
	} else {
		ss->setup = (struct session_setup){
			.kind = o->sampler,
			.sampler = config_sampler(o, NULL),
			.duration = o->duration,
			.progress = true,
		};
	}
	ss->show_progress = ss->setup.progress && !o->quiet && isatty(STDERR_FILENO);
	ss->setup.sampler.cache = ss->cache;
	ss->setup.sampler.pycodes = ss->pycodes;
	ss->sampler = sampler_open(ss->setup.kind, &ss->setup.sampler);
	if (!ss->sampler)
		return errno ? -errno : -EIO;   /* sampler_open has said what and why */
	return 0;
}

void session_describe(const struct session *ss)
{
	const struct sampler *s = ss->sampler;

	if (!ss->o->verbose || !s)
		return;
	log_info("sampling %s (pid %d) with the %s sampler (%s) at %u Hz, %s time",
		 sampler_comm(s), (int)sampler_pid(s), sampler_name(s), sampler_reason(s),
		 ss->setup.sampler.rate, ss->setup.sampler.idle ? "wall-clock" : "on-CPU");
}

/* The sampler's callback: the front end's, with its error kept. */
static int session_sample(const struct sample *smp, void *ctx)
{
	struct session *ss = ctx;
	int err = ss->hooks->on_sample(smp, ss->hooks->ctx);

	if (err < 0) {
		ss->err = err;
		return 1;
	}
	return 0;
}

static enum session_end session_fail(struct session *ss, int err, bool sampler_failed)
{
	ss->err = err;
	ss->sampler_failed = sampler_failed;
	return SESSION_FAILED;
}

static enum session_end session_loop(struct session *ss, const struct session_hooks *h)
{
	uint64_t now, last_progress = 0;

	for (;;) {
		int ev = sampler_poll(ss->sampler, session_sample, ss);

		now = sampler_now_ns();
		if (ev < 0)
			return session_fail(ss, ev, true);
		if (ss->err < 0)
			return session_fail(ss, ss->err, false);
		if (ev == SAMPLER_EXITED)
			return SESSION_EXITED;
		if (ev == SAMPLER_SIGNALLED)
			return SESSION_INTERRUPTED;
		if (h->on_tick) {
			int r = h->on_tick(ss, h->ctx, now);

			if (r < 0)
				return session_fail(ss, r, false);
			if (r > 0)
				return SESSION_STOPPED;
		}
		if (ss->setup.duration > 0 &&
		    (double)(now - ss->start_ns) / 1e9 >= ss->setup.duration)
			return SESSION_DURATION;
		if (ss->show_progress && h->progress &&
		    now - last_progress >= PROGRESS_INTERVAL_NS) {
			h->progress(ss->sampler, h->ctx, (double)(now - ss->start_ns) / 1e9);
			last_progress = now;
		}
	}
}

enum session_end session_run(struct session *ss, const struct session_hooks *hooks)
{
	enum session_end end;

	ss->hooks = hooks;
	ss->err = 0;
	ss->sampler_failed = false;
	ss->start_ns = sampler_now_ns();
	ss->end_ns = 0;
	end = session_loop(ss, hooks);
	ss->end_ns = sampler_now_ns();
	ss->hooks = NULL;
	if (ss->show_progress && hooks->progress)
		fputs("\r\033[K", stderr);
	return end;
}

int session_error(const struct session *ss, bool *sampler_failed)
{
	if (sampler_failed)
		*sampler_failed = ss->sampler_failed;
	return ss->err;
}

struct sampler *session_sampler(const struct session *ss)
{
	return ss->sampler;
}

double session_seconds(const struct session *ss)
{
	uint64_t end = ss->end_ns ? ss->end_ns : sampler_now_ns();

	return (double)(end - ss->start_ns) / 1e9;
}

void session_update_maps(struct session *ss)
{
	if (!ss->sampler)
		return;
	for (size_t i = 0; i < sampler_process_count(ss->sampler); i++) {
		struct maps *maps = NULL;
		pid_t pid = sampler_process_at(ss->sampler, i, NULL, &maps);

		if (maps)
			symbolizer_set_maps(ss->sym, pid, maps);
	}
}

struct symbolizer *session_symbolizer(const struct session *ss)
{
	return ss->sym;
}

void session_detach(struct session *ss)
{
	if (!ss->sampler)
		return;
	/* The symbolizer takes a reference to each process's mappings, which
	 * outlive the sampler: frames are named after the target runs on. */
	session_update_maps(ss);
	sampler_close(ss->sampler);
	ss->sampler = NULL;
}

void session_free(struct session *ss)
{
	if (!ss)
		return;
	session_detach(ss);
	symbolizer_free(ss->sym);
	pycodes_free(ss->pycodes);
	elf_cache_free(ss->cache);
	free(ss);
}
