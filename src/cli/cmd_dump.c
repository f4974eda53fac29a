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
#include "log.h"
#include "profile.h"
#include "sampler.h"
#include "session.h"
#include "stackdump.h"
#include "symbols.h"

#include "banned.h"

/* Ticks at DUMP_RATE until every thread has been sampled once, for at
 * most DUMP_WAIT_NS: a busy thread stops when it next gets a CPU, which
 * on crowded CPUs took more than the 200 ms (200 ticks) once allowed; a
 * thread in uninterruptible sleep does not stop at all. */
#define DUMP_RATE 1000
#define DUMP_WAIT_NS 1500000000ull

struct dumped {
	pid_t pid, tid;
	char *process;          /* the process's name at the sample */
	char state;
	char *comm;
	char *python_name;      /* NULL: none known */
	int8_t gil;             /* sample.gil */
	uint64_t *addrs;
	size_t n;
	/* --locals: per Python frame, its locals (vars[first .. first + n)),
	 * copies of the sample's. */
	struct stackdump_locals *locals;
	size_t nlocals;
	struct stackdump_local *vars;
	size_t nvars;
};

struct dump {
	struct dumped *v;
	size_t n, cap;
	uint64_t deadline_ns;   /* set at the first tick */
	pid_t target;           /* listed first; its children after it */
};

static void dumped_release(struct dumped *t)
{
	free(t->comm);
	free(t->process);
	free(t->python_name);
	free(t->addrs);
	for (size_t i = 0; i < t->nvars; i++) {
		free((char *)t->vars[i].name);
		free((char *)t->vars[i].value);
	}
	free(t->vars);
	free(t->locals);
}

/* Copy the locals of @smp's Python frames into @t; 0 or -ENOMEM. */
static int locals_copy(struct dumped *t, const struct sample *smp)
{
	size_t nframes = pylocals_frames(smp->locals), total = 0, k = 0;

	if (nframes > smp->npy)
		nframes = smp->npy;
	for (size_t i = 0; i < nframes; i++)
		total += pylocals_count(smp->locals, i);
	t->locals = calloc(nframes ? nframes : 1, sizeof(*t->locals));
	t->vars = calloc(total ? total : 1, sizeof(*t->vars));
	if (!t->locals || !t->vars)
		return -ENOMEM;
	for (size_t i = 0; i < nframes; i++) {
		size_t n = pylocals_count(smp->locals, i);

		t->locals[i] = (struct stackdump_locals){
			.addr = smp->pyaddrs[i], .v = t->vars + k, .n = n,
			.more = pylocals_more(smp->locals, i),
		};
		for (size_t j = 0; j < n; j++, k++) {
			struct pylocal pl;

			pylocals_get(smp->locals, i, j, &pl);
			t->vars[k].arg = pl.arg;
			t->vars[k].name = strdup(pl.name);
			t->vars[k].value = strdup(pl.value);
			t->nvars = k + 1;
			if (!t->vars[k].name || !t->vars[k].value)
				return -ENOMEM;
		}
	}
	t->nlocals = nframes;
	return 0;
}

/* Keep the first stack of each thread; 0 or -ENOMEM. */
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
		if (!t)
			return -ENOMEM;
		d->v = t;
		d->cap = cap;
	}
	t = &d->v[d->n];
	memset(t, 0, sizeof(*t));
	t->pid = smp->pid;
	t->tid = smp->tid;
	t->process = strdup(smp->process ? smp->process : "?");
	t->state = smp->state ? smp->state : '?';
	t->gil = smp->gil;
	t->comm = strdup(smp->comm ? smp->comm : "?");
	t->python_name = smp->python_name ? strdup(smp->python_name) : NULL;
	t->addrs = malloc((smp->n ? smp->n : 1) * sizeof(*t->addrs));
	if (!t->comm || !t->process || !t->addrs || (smp->python_name && !t->python_name) ||
	    (smp->locals && locals_copy(t, smp) < 0)) {
		dumped_release(t);
		return -ENOMEM;
	}
	if (smp->n)
		memcpy(t->addrs, smp->addrs, smp->n * sizeof(*t->addrs));
	t->n = smp->n;
	d->n++;
	return 0;
}

/* The target's threads first, then each child's (--subprocesses) by pid;
 * within a process by thread id. */
static int by_process(const struct dumped *x, const struct dumped *y, pid_t target)
{
	bool xt = x->pid == target, yt = y->pid == target;

	if (xt != yt)
		return xt ? -1 : 1;
	if (x->pid != y->pid)
		return (x->pid > y->pid) - (x->pid < y->pid);
	return (x->tid > y->tid) - (x->tid < y->tid);
}

/* Insertion sort: a dump holds tens of threads, and qsort takes no
 * context to know the target by. */
static void dump_sort(struct dump *d)
{
	for (size_t i = 1; i < d->n; i++) {
		struct dumped t = d->v[i];
		size_t j = i;

		while (j > 0 && by_process(&t, &d->v[j - 1], d->target) < 0) {
			d->v[j] = d->v[j - 1];
			j--;
		}
		d->v[j] = t;
	}
}

/* Write the stacks, in the order of @d (dump_sort), one process after the
 * other. With @all (--subprocesses) the JSON document lists the children
 * under "subprocesses"; without it there is one process. 0 or -errno. */
static int write_dump(FILE *out, const struct dump *d, struct symbolizer *sym, bool json,
		      bool all)
{
	struct stackdump_thread *threads = calloc(d->n ? d->n : 1, sizeof(*threads));
	struct stackdump_process *procs = calloc(d->n ? d->n : 1, sizeof(*procs));
	size_t np = 0;
	int err;

	if (!threads || !procs) {
		free(threads);
		free(procs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d->n; i++) {
		threads[i] = (struct stackdump_thread){
			.tid = d->v[i].tid, .state = d->v[i].state, .name = d->v[i].comm,
			.python_name = d->v[i].python_name, .gil = d->v[i].gil,
			.addrs = d->v[i].addrs, .n = d->v[i].n,
			.locals = d->v[i].locals, .nlocals = d->v[i].nlocals,
		};
		if (!np || procs[np - 1].pid != d->v[i].pid)
			procs[np++] = (struct stackdump_process){
				.pid = d->v[i].pid, .process = d->v[i].process,
				.threads = &threads[i],
			};
		procs[np - 1].n++;
	}
	if (json && all)
		err = stackdump_write_json_all(out, procs, np, sym);
	else if (json)
		err = stackdump_write_json(out, procs[0].pid, procs[0].process, procs[0].threads,
					   procs[0].n, sym);
	else
		err = stackdump_write_text_all(out, procs, np, sym);
	free(threads);
	free(procs);
	return err;
}

/* One snapshot: done when every thread has been sampled once, or
 * DUMP_WAIT_NS after the first tick. */
static int on_tick(struct session *ss, void *ctx, uint64_t now_ns)
{
	struct dump *d = ctx;

	if (d->n && d->n >= sampler_thread_count(session_sampler(ss)))
		return 1;
	if (!d->deadline_ns)
		d->deadline_ns = now_ns + DUMP_WAIT_NS;
	return now_ns >= d->deadline_ns;
}

int cmd_dump(const struct options *o)
{
	struct session_setup setup = {
		.kind = SAMPLER_PTRACE,
		.sampler = {
			.pid = o->pid, .rate = DUMP_RATE, .stack_size = o->stack_size,
			.idle = true, .python_mode = o->python_mode, .gil = true,
			.locals = o->locals,
			.subprocesses = o->subprocesses,
		},
	};
	struct dump d = { 0 };
	struct session_hooks hooks = { .on_sample = on_sample, .on_tick = on_tick, .ctx = &d };
	struct session *ss = NULL;
	bool sampler_failed;
	pid_t pid = 0;
	size_t left;
	int ret = 1, err;

	if (session_new(o, &ss) < 0 || session_attach(ss, &setup) < 0)
		goto out;
	pid = sampler_pid(session_sampler(ss));
	if (session_run(ss, &hooks) == SESSION_FAILED) {
		err = session_error(ss, &sampler_failed);
		if (sampler_failed)
			log_error(err, "cannot take the stacks: %s", strerror(-err));
		else
			log_error(err, "out of memory");
		goto out;
	}
	/* Never a thread left out without a word. */
	left = sampler_thread_count(session_sampler(ss));
	left = left > d.n ? left - d.n : 0;
	if (left)
		log_warn("%zu thread%s did not stop within %.1f s and %s not in the dump "
			 "(threads waiting for a CPU on a crowded machine, or in uninterruptible "
			 "sleep): run the dump again", left, left == 1 ? "" : "s",
			 (double)DUMP_WAIT_NS / 1e9, left == 1 ? "is" : "are");
	/* Let go of the process before the slow part. */
	session_detach(ss);
	if (d.n == 0) {
		log_error(-ESRCH, "no thread of process %d could be sampled (did it exit?)",
			  (int)pid);
		goto out;
	}
	d.target = pid;
	dump_sort(&d);
	err = write_dump(stdout, &d, session_symbolizer(ss), o->json, o->subprocesses);
	if (err == -ENOMEM)
		log_error(err, "out of memory");
	else if (err < 0)
		log_error(-EIO, "cannot write the stacks: %s", strerror(errno));
	else
		ret = 0;
out:
	session_free(ss);
	for (size_t i = 0; i < d.n; i++)
		dumped_release(&d.v[i]);
	free(d.v);
	return ret;
}
