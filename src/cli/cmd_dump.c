/*
 * cmd_dump.c - hotspy dump: the stack of every thread of a process, once.
 *
 * The ptrace sampler in wall-clock mode takes one snapshot of each thread
 * (stopped only while its registers and stack are copied), the sampler
 * detaches, and only then are the stacks named and printed, as
 * text or as one JSON document (flamegraph/stackdump.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "elf_cache.h"
#include "log.h"
#include "profile.h"
#include "sampler.h"
#include "stackdump.h"
#include "symbols.h"

#include "banned.h"

/* Ticks to wait for every thread to be sampled once (at DUMP_RATE). */
#define DUMP_RATE 1000
#define DUMP_TICKS_MAX 200

struct dumped {
	pid_t tid;
	char state;
	char *comm;
	uint64_t *addrs;
	size_t n;
};

struct dump {
	struct dumped *v;
	size_t n, cap;
	int oom;
};

static int on_sample(const struct sample *smp, void *ctx)
{
	struct dump *d = ctx;
	struct dumped *t;

	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].tid == smp->tid)
			return 0;       /* one stack per thread */
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;

		t = realloc(d->v, cap * sizeof(*t));
		if (!t) {
			d->oom = 1;
			return 1;
		}
		d->v = t;
		d->cap = cap;
	}
	t = &d->v[d->n];
	t->tid = smp->tid;
	t->state = smp->state ? smp->state : '?';
	t->comm = strdup(smp->comm ? smp->comm : "?");
	t->addrs = malloc((smp->n ? smp->n : 1) * sizeof(*t->addrs));
	if (!t->comm || !t->addrs) {
		free(t->comm);
		free(t->addrs);
		d->oom = 1;
		return 1;
	}
	if (smp->n)
		memcpy(t->addrs, smp->addrs, smp->n * sizeof(*t->addrs));
	t->n = smp->n;
	d->n++;
	return 0;
}

static int by_tid(const void *a, const void *b)
{
	const struct dumped *x = a, *y = b;

	return (x->tid > y->tid) - (x->tid < y->tid);
}

/* Write the stacks, in the order of @d (by thread id). 0 or -errno. */
static int write_dump(FILE *out, const struct dump *d, struct symbolizer *sym, pid_t pid,
		      const char *comm, bool json)
{
	struct stackdump_thread *threads = calloc(d->n ? d->n : 1, sizeof(*threads));
	int err;

	if (!threads)
		return -ENOMEM;
	for (size_t i = 0; i < d->n; i++)
		threads[i] = (struct stackdump_thread){
			.tid = d->v[i].tid, .state = d->v[i].state, .name = d->v[i].comm,
			.addrs = d->v[i].addrs, .n = d->v[i].n,
		};
	if (json)
		err = stackdump_write_json(out, pid, comm, threads, d->n, sym);
	else
		err = stackdump_write_text(out, pid, comm, threads, d->n, sym);
	free(threads);
	return err;
}

int cmd_dump(const struct options *o)
{
	struct sampler_config cfg = {
		.pid = o->pid, .rate = DUMP_RATE, .stack_size = o->stack_size, .idle = true,
	};
	struct dump d = { 0 };
	struct elf_cache *cache = elf_cache_new();
	struct symbolizer *sym = NULL;
	struct sampler *s = NULL;
	struct maps *maps = NULL;
	char comm[256] = "?";
	sigset_t old_mask;
	pid_t pid = 0;
	int ret = 1, err;

	if (!cache) {
		log_error(-ENOMEM, "out of memory");
		return 1;
	}
	if (sampler_block_signals(&old_mask) < 0) {
		log_error(-errno, "cannot block signals: %s", strerror(errno));
		goto out;
	}
	cfg.cache = cache;
	s = sampler_open(SAMPLER_PTRACE, &cfg);
	if (!s)
		goto out;
	pid = sampler_pid(s);
	snprintf(comm, sizeof(comm), "%s", sampler_comm(s));
	for (int ticks = 0; ticks < DUMP_TICKS_MAX && !d.oom; ticks++) {
		int ev = sampler_poll(s, on_sample, &d);

		if (ev < 0) {
			log_error(ev, "cannot take the stacks: %s", strerror(-ev));
			goto out;
		}
		if (ev == SAMPLER_EXITED || ev == SAMPLER_SIGNALLED)
			break;
		if (d.n && d.n >= sampler_thread_count(s))
			break;
	}
	if (d.oom) {
		log_error(-ENOMEM, "out of memory");
		goto out;
	}
	maps = sampler_maps(s) ? maps_ref(sampler_maps(s)) : NULL;
	/* Let go of the process before the slow part. */
	sampler_close(s);
	s = NULL;
	if (d.n == 0) {
		log_error(-ESRCH, "no thread of process %d could be sampled (did it exit?)",
			  (int)pid);
		goto out;
	}
	sym = symbolizer_new(cache);
	if (!sym) {
		log_error(-ENOMEM, "out of memory");
		goto out;
	}
	symbolizer_set_demangle(sym, !o->no_demangle);
	for (size_t i = 0; i < o->ndebug_dirs; i++)
		symbolizer_add_debug_dir(sym, o->debug_dirs[i]);
	if (maps)
		symbolizer_set_maps(sym, pid, maps);
	qsort(d.v, d.n, sizeof(*d.v), by_tid);
	err = write_dump(stdout, &d, sym, pid, comm, o->json);
	if (err == -ENOMEM)
		log_error(err, "out of memory");
	else if (err < 0)
		log_error(-EIO, "cannot write the stacks: %s", strerror(errno));
	else
		ret = 0;
out:
	sampler_close(s);
	symbolizer_free(sym);
	maps_free(maps);
	for (size_t i = 0; i < d.n; i++) {
		free(d.v[i].comm);
		free(d.v[i].addrs);
	}
	free(d.v);
	elf_cache_free(cache);
	return ret;
}
