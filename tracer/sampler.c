#include "sampler.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addrspace.h"
#include "array.h"
#include "log.h"
#include "pyfind.h"
#include "pyreader.h"
#include "sampler_backend.h"
#include "target.h"
#include "text.h"
#include "banned.h"

/* At most one reload per 2 ms: a reload costs ~50-100 us, so even a garbage
 * PC in every sample costs hotspy no more than ~5 % of a core, while a
 * program just started (its libraries mapped ms after the exec) is seen
 * right at once. */
#define MAPS_RELOAD_MIN_NS (2ull * 1000 * 1000)

uint64_t sampler_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sampler_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTSTP);
}

int sampler_block_signals(sigset_t *old)
{
	sigset_t set;

	sampler_signal_set(&set);
	if (sigprocmask(SIG_BLOCK, &set, old) < 0)
		return -errno;
	return 0;
}

int sampler_reload_maps(struct sampler *s, struct sampler_proc *p, int force)
{
	uint64_t now = sampler_now_ns();
	struct maps *maps;
	int err;

	/* /proc shows the program that runs now: not this image's. */
	if (p->exec_ns || p->exec_pending)
		return -ESTALE;
	if (!force && p->maps && now - p->maps_loaded_ns < MAPS_RELOAD_MIN_NS)
		return 1;
	err = maps_read(p->pid, &maps);
	if (err < 0)
		return err;
	/* A main thread that has exited has no maps: the process's are read
	 * through a live thread (so are its memory and vdso). */
	if (maps_count(maps) == 0) {
		pid_t live = target_live_thread(p->pid);

		if (live > 0 && live != p->pid) {
			maps_free(maps);
			err = maps_read_thread(p->pid, live, &maps);
			if (err < 0)
				return err;
		}
	}
	/* Kept one read back: an exec found out later may have come before
	 * this read (sampler_proc_exec). */
	maps_free(p->prev_maps);
	p->prev_maps = p->maps;
	p->prev_loaded_ns = p->maps_loaded_ns;
	p->maps = maps;
	p->maps_loaded_ns = now;
	s->stats.maps_reloads++;
	if (p->unwinder)
		unwinder_flush(p->unwinder);
	if (!p->vdso_loaded) {
		err = target_load_vdso(p->pid, maps, s->cfg.cache);
		if (err < 0 && err != -ENOENT)
			log_debug("cannot read the vdso of %d: %s", (int)p->pid, strerror(-err));
		p->vdso_loaded = 1;
	}
	return 0;
}

static void proc_free(struct sampler_proc *p)
{
	if (!p)
		return;
	sampler_python_free(p);
	unwinder_free(p->unwinder);
	maps_free(p->maps);
	maps_free(p->prev_maps);
	free(p);
}

/* Room for one more process entry. 0 or -ENOMEM. */
static int procs_reserve(struct sampler *s)
{
	struct sampler_proc **bigger = array_grow(s->procs, &s->procs_cap, s->nprocs + 1,
						  sizeof(*bigger));

	if (!bigger)
		return -ENOMEM;
	s->procs = bigger;
	return 0;
}

/* The current entry of @pid, or NULL: never created here. */
static struct sampler_proc *proc_known(struct sampler *s, pid_t pid)
{
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i]->pid == pid && !s->procs[i]->exec_ns)
			return s->procs[i];
	return NULL;
}

struct sampler_proc *sampler_proc_find(struct sampler *s, pid_t pid)
{
	if (s->last_proc < s->nprocs && s->procs[s->last_proc]->pid == pid &&
	    !s->procs[s->last_proc]->exec_ns)
		return s->procs[s->last_proc];
	return proc_known(s, pid);
}

/*
 * The whole machine (-a): an entry for process @pid, whose mappings cannot
 * be read (it exited before its samples were handled, or /proc refuses
 * them), named @comm (the name its records gave). Its samples keep their
 * addresses, unnamed ([unknown]): the code they ran is gone. NULL when out
 * of memory.
 */
static struct sampler_proc *proc_unreadable(struct sampler *s, pid_t pid, const char *comm)
{
	struct sampler_proc *p;

	if (procs_reserve(s) < 0 || !(p = calloc(1, sizeof(*p))))
		return NULL;
	p->pid = pid;
	/* Its unwinder is made at its first sample (sampler_deliver). */
	p->maps = maps_parse("", 0);
	if (!p->maps) {
		proc_free(p);
		return NULL;
	}
	/* Not read again at each sample: the reload is rate-limited from
	 * here, and fails the same way while the process is gone. */
	p->maps_loaded_ns = sampler_now_ns();
	p->vdso_loaded = 1;
	snprintf(p->comm, sizeof(p->comm), "%s", comm && *comm ? comm : "?");
	s->last_proc = s->nprocs;
	s->procs[s->nprocs++] = p;
	return p;
}

void sampler_proc_exited(struct sampler *s, pid_t pid)
{
	struct sampler_proc *p = sampler_proc_find(s, pid);
	uint64_t fast, slow;

	if (!p)
		return;
	/* The unwinder (libunwind's address space and caches, ~100 KiB) and
	 * the rules it gathered serve it no more: freed, its counts kept. A
	 * sample of it still on its way makes a new one (sampler_deliver). */
	if (p->unwinder) {
		unwinder_counts(p->unwinder, &fast, &slow);
		s->walks_fast_freed += fast;
		s->walks_slow_freed += slow;
		unwinder_free(p->unwinder);
		p->unwinder = NULL;
	}
	maps_free(p->prev_maps);
	p->prev_maps = NULL;
}

/* Take the execs announced for @pid before it had an entry: how many. */
static unsigned coming_take(struct sampler *s, pid_t pid)
{
	unsigned n = 0;
	size_t j = 0;

	for (size_t i = 0; i < s->ncoming; i++) {
		if (s->coming[i] == pid)
			n++;
		else
			s->coming[j++] = s->coming[i];
	}
	s->ncoming = j;
	return n;
}

struct sampler_proc *sampler_proc(struct sampler *s, pid_t pid)
{
	struct sampler_proc *p;
	size_t i;
	int err;

	/* The image that runs now: the one an earlier exec ended is kept for
	 * its samples only (sampler_proc_exec). */
	if (s->last_proc < s->nprocs && s->procs[s->last_proc]->pid == pid &&
	    !s->procs[s->last_proc]->exec_ns)
		return s->procs[s->last_proc];
	for (i = 0; i < s->nprocs; i++) {
		if (s->procs[i]->pid == pid && !s->procs[i]->exec_ns) {
			s->last_proc = i;
			return s->procs[i];
		}
	}
	if (procs_reserve(s) < 0)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	p->unwinder = unwinder_new(s->cfg.cache);
	err = p->unwinder ? sampler_reload_maps(s, p, 1) : -ENOMEM;
	if (err < 0) {
		proc_free(p);
		errno = -err;
		return NULL;
	}
	if (target_comm(pid, p->comm, sizeof(p->comm)) < 0)
		snprintf(p->comm, sizeof(p->comm), "%s", s->comm);
	/* Execs announced before it was known (read now all the same: no
	 * better mappings are to be had). */
	p->exec_pending = coming_take(s, pid);
	s->last_proc = s->nprocs;
	s->procs[s->nprocs++] = p;
	return p;
}

struct sampler_proc *sampler_proc_fork(struct sampler *s, pid_t pid, pid_t ppid)
{
	struct sampler_proc *p, *parent;
	unsigned coming = proc_known(s, pid) ? 0 : coming_take(s, pid);
	size_t i;

	/* With an exec of the child to come, /proc shows the program it
	 * execs: until then it runs its parent's. */
	p = coming ? NULL : sampler_proc(s, pid);
	if (p)
		return p;
	/* Gone already (it lived for less than a drain of the buffers), or
	 * about to exec: a child starts with its parent's mappings, which
	 * name its samples until it runs another program. */
	for (i = 0, parent = NULL; i < s->nprocs && !parent; i++)
		if (s->procs[i]->pid == ppid && !s->procs[i]->exec_ns)
			parent = s->procs[i];
	if (!parent || procs_reserve(s) < 0)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	p->unwinder = unwinder_new(s->cfg.cache);
	if (!p->unwinder) {
		proc_free(p);
		return NULL;
	}
	p->maps = maps_ref(parent->maps);
	p->maps_loaded_ns = parent->maps_loaded_ns;
	p->vdso_loaded = 1;   /* the parent's vdso, registered by its pid */
	p->exec_pending = coming;
	snprintf(p->comm, sizeof(p->comm), "%s", parent->comm);
	s->procs[s->nprocs++] = p;
	return p;
}

struct sampler_proc *sampler_target(struct sampler *s)
{
	return sampler_proc(s, s->pid);
}

void sampler_proc_exec_coming(struct sampler *s, pid_t pid)
{
	struct sampler_proc *p = proc_known(s, pid);

	/* A process not known yet (a child whose fork is among the records
	 * to handle) is not read now: /proc shows the program it execs. */
	if (p)
		p->exec_pending++;
	else if (s->ncoming < SAMPLER_COMING_MAX)
		s->coming[s->ncoming++] = pid;
}

/* The last image of a process: renamed and re-read in place (its earlier
 * samples are then named with the new program's mappings). */
static void proc_exec_in_place(struct sampler *s, struct sampler_proc *p)
{
	target_comm(p->pid, p->comm, sizeof(p->comm));
	sampler_python_free(p);
	memset(&p->python, 0, sizeof(p->python));
	p->vdso_loaded = 0;
	sampler_reload_maps(s, p, 1);
	if (p->unwinder)
		unwinder_flush(p->unwinder);
}

void sampler_proc_exec(struct sampler *s, pid_t pid, uint64_t time_ns)
{
	struct sampler_proc *old = sampler_proc(s, pid), *p = NULL;
	int err;

	if (!old)
		return;
	if (old->exec_pending)
		old->exec_pending--;
	if (!time_ns)
		time_ns = sampler_now_ns();
	if (old->image < ADDRSPACE_IMAGE_MAX && procs_reserve(s) == 0)
		p = calloc(1, sizeof(*p));
	if (p)
		p->unwinder = unwinder_new(s->cfg.cache);
	if (!p || !p->unwinder) {
		free(p);
		proc_exec_in_place(s, old);
		goto named;
	}
	p->pid = pid;
	p->image = old->image + 1;
	/* Mappings read after the exec are the new program's: the image
	 * before keeps those it had until then. */
	if (old->maps_loaded_ns > time_ns && old->prev_maps) {
		maps_free(old->maps);
		old->maps = old->prev_maps;
		old->maps_loaded_ns = old->prev_loaded_ns;
		old->prev_maps = NULL;
		if (old->unwinder)
			unwinder_flush(old->unwinder);
	}
	old->exec_ns = time_ns;
	s->retired++;
	/* A later exec still coming (perf: in the records to handle): the
	 * mappings are read when it is handled, not now. */
	p->exec_pending = old->exec_pending;
	old->exec_pending = 0;
	if (target_comm(pid, p->comm, sizeof(p->comm)) < 0)
		snprintf(p->comm, sizeof(p->comm), "%s", old->comm);
	err = sampler_reload_maps(s, p, 1);
	if (err < 0) {
		/* Gone, or another exec coming: no code is known for this
		 * program (its samples end as [unknown]). */
		p->maps = maps_parse("", 0);
		p->maps_loaded_ns = sampler_now_ns();
		if (!p->maps) {
			unwinder_free(p->unwinder);
			free(p);
			old->exec_ns = 0;   /* keep naming with the old image */
			s->retired--;
			return;
		}
	}
	s->last_proc = s->nprocs;
	s->procs[s->nprocs++] = p;
	old = p;
named:
	if (pid == s->pid)
		snprintf(s->comm, sizeof(s->comm), "%s", old->comm);
}

/* The image of process @pid that ran at @time_ns: the first whose exec
 * came after it, else the one that runs now. */
static struct sampler_proc *proc_at(struct sampler *s, pid_t pid, uint64_t time_ns)
{
	struct sampler_proc *p = sampler_proc(s, pid);

	if (!p || !s->retired)
		return p;
	for (size_t i = 0; i < s->nprocs; i++) {
		struct sampler_proc *q = s->procs[i];

		if (q->pid == pid && q->exec_ns && time_ns < q->exec_ns &&
		    (!p->exec_ns || q->exec_ns < p->exec_ns))
			p = q;
	}
	return p;
}

enum unwind_end sampler_deliver(struct sampler *s, const struct snapshot *snap)
{
	uint64_t t0 = sampler_now_ns();
	struct sampler_proc *p;
	enum unwind_end end;
	struct sample sample;
	size_t n, k = 0;
	uint64_t *walk;
	bool python;

	if (s->fn_stopped)
		return UNWIND_NO_INFO;
	/* -t: one thread; the others' snapshots are dropped before the
	 * unwinding, their cost. */
	if (s->cfg.tid && snap->tid != s->cfg.tid)
		return UNWIND_NO_INFO;
	p = proc_at(s, snap->pid, snap->time_ns);
	/* The whole machine: a process gone before its samples came (a
	 * short-lived one) still counts, under the name its records gave. */
	if (!p && s->cfg.all)
		p = proc_unreadable(s, snap->pid, snap->comm);
	/* -a frees the unwinder of a process that exited: one of its samples
	 * handled after its exit gets a new one. */
	if (p && !p->unwinder)
		p->unwinder = unwinder_new(s->cfg.cache);
	if (!p || !p->unwinder) {
		s->stats.failed++;
		return UNWIND_NO_INFO;
	}
	/* -a: mappings are read again at the first sample after new code
	 * was mapped, not at each MMAP record (a program's loader maps a
	 * dozen objects in a row, and a machine starts many programs). */
	if (p->maps_stale) {
		p->maps_stale = false;
		sampler_reload_maps(s, p, 1);
	}
	/* Kernel frames first (innermost), as the profile wants them: the
	 * interrupted PC, then callers' return addresses less one, like the
	 * user frames the unwinder gives. */
	for (; k < snap->nkernel && k < SAMPLER_KERNEL_DEPTH; k++)
		s->addrs[k] = k ? snap->kernel[k] - 1 : snap->kernel[k];
	/* With Python frames, the walk goes to its own buffer, with each
	 * frame's stack pointer, and is merged into the sample's. */
	python = snap->py && snap->py->status != PYSTACK_NONE && p->python.reader;
	walk = python ? s->native : s->addrs + k;
	n = unwinder_unwind(p->unwinder, p->maps, snap, walk, python ? s->sps : NULL,
			    s->walk_max, &end);
	/* Stale maps: a library mapped since the last read (the loader maps
	 * libc after the exec we started from, dlopen later). */
	if (end == UNWIND_UNMAPPED && sampler_reload_maps(s, p, 0) == 0)
		n = unwinder_unwind(p->unwinder, p->maps, snap, walk, python ? s->sps : NULL,
				    s->walk_max, &end);
	if (python)
		n = sampler_python_merge(s, p, snap, s->native, s->sps, n, s->addrs + k,
					 s->naddrs - k);
	/* A program run by an exec: its addresses are its own (addrspace.h). */
	if (p->image)
		for (size_t i = k; i < k + n; i++)
			s->addrs[i] = addrspace_user_tag(s->addrs[i], p->image);
	s->stats.unwind_ns += sampler_now_ns() - t0;

	sample.pid = snap->pid;
	sample.tid = snap->tid;
	sample.process = p->comm;
	sample.image = p->image;
	sample.comm = snap->comm;
	/* Read while the thread runs again: not part of its stack's instant. */
	sample.python_name = p->python.reader ? pyreader_thread_name(p->python.reader, snap->tid)
					      : NULL;
	sample.state = snap->state;
	sample.gil = !snap->py || snap->py->gil == PYSTACK_GIL_UNKNOWN ? -1 :
		     snap->py->gil == PYSTACK_GIL_HELD;
	sample.time_ns = snap->time_ns;
	sample.weight = snap->weight ? snap->weight : 1;
	sample.addrs = s->addrs;
	sample.n = k + n;
	/* The merge named the frames whose locals were read: s->pyaddrs. */
	sample.locals = python ? snap->locals : NULL;
	sample.pyaddrs = sample.locals ? s->pyaddrs : NULL;
	sample.npy = sample.locals ? snap->py->n : 0;
	if (s->fn(&sample, s->fn_ctx))
		s->fn_stopped = 1;
	return end;
}

static void procs_free(struct sampler *s)
{
	for (size_t i = 0; i < s->nprocs; i++)
		proc_free(s->procs[i]);
	free(s->procs);
	s->procs = NULL;
	s->nprocs = 0;
	s->procs_cap = 0;
}

/* Free what the sampler holds besides its backend. */
static void sampler_free(struct sampler *s)
{
	procs_free(s);
	free(s->addrs);
	free(s->native);
	free(s->sps);
	free(s->pystack);
	free(s->pyaddrs);
	pylocals_free(s->pylocals);
	free(s);
}

static struct sampler *sampler_try(const struct sampler_ops *ops,
				   const struct sampler_config *cfg)
{
	struct sampler *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s) {
		log_error(-ENOMEM, "out of memory");
		return NULL;
	}
	s->ops = ops;
	s->cfg = *cfg;
	s->exit_status = -1;
	s->walk_max = sampler_walk_max(cfg->stack_size ? cfg->stack_size
							: SAMPLER_DEFAULT_STACK_SIZE);
	s->naddrs = SAMPLER_KERNEL_DEPTH + s->walk_max + PYSTACK_MAX_FRAMES;
	s->addrs = calloc(s->naddrs, sizeof(*s->addrs));
	s->native = calloc(s->walk_max, sizeof(*s->native));
	s->sps = calloc(s->walk_max, sizeof(*s->sps));
	if (!s->addrs || !s->native || !s->sps) {
		sampler_free(s);
		log_error(-ENOMEM, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	if (cfg->pycodes) {
		s->pystack = malloc(sizeof(*s->pystack));
		s->pyaddrs = calloc(PYSTACK_MAX_FRAMES, sizeof(*s->pyaddrs));
		s->pylocals = cfg->locals ? pylocals_new() : NULL;
		if (!s->pystack || !s->pyaddrs || (cfg->locals && !s->pylocals)) {
			sampler_free(s);
			log_error(-ENOMEM, "out of memory");
			errno = ENOMEM;
			return NULL;
		}
	}
	err = s->ops->open(s);
	if (err < 0) {
		sampler_free(s);
		errno = -err;
		return NULL;
	}
	return s;
}

/* Try @ops; on success remember @reason as why it was chosen. */
static struct sampler *sampler_with(const struct sampler_ops *ops,
				    const struct sampler_config *cfg, const char *reason)
{
	struct sampler *s = sampler_try(ops, cfg);

	if (s)
		snprintf(s->reason, sizeof(s->reason), "%s", reason);
	return s;
}

bool sampler_target_is_python(const struct sampler_config *cfg)
{
	if (!cfg->pycodes)
		return false;
	if (cfg->argv)
		return pyfind_command_is_python(cfg->argv[0]);
	return cfg->pid > 0 && pyfind_is_python(cfg->pid, cfg->cache);
}

struct sampler *sampler_open(enum sampler_kind kind, const struct sampler_config *cfg)
{
	char why[256], reason[320];

	/* What /proc tells before any attach, the same for every sampler:
	 * hotspy itself, a kernel thread, a zombie. */
	if (cfg->pid && !cfg->argv) {
		int err = target_check(cfg->pid, why, sizeof(why));

		if (err < 0) {
			char comm[TARGET_COMM_MAX] = "", name[TARGET_COMM_MAX * 4] = "";

			/* The name comes from the target: escaped. */
			if (cfg->pid != getpid() && target_comm(cfg->pid, comm, sizeof(comm)) == 0) {
				text_append_safe(name, sizeof(name), 0, comm);
				log_error(err, "cannot attach to %d (%s): %s", (int)cfg->pid, name, why);
			} else {
				log_error(err, "cannot attach to %d: %s", (int)cfg->pid, why);
			}
			errno = -err;
			return NULL;
		}
	}
	if (cfg->kernel && (kind == SAMPLER_PTRACE || cfg->idle)) {
		log_error(-EINVAL, "--kernel takes kernel stacks from perf events, which "
			  "sample running threads only: drop %s",
			  cfg->idle ? "--idle" : "--sampler ptrace");
		errno = EINVAL;
		return NULL;
	}
	if (cfg->all) {
		/* Per-CPU events see every task that runs; ptrace would have
		 * to seize and stop every thread of the machine. */
		if (kind == SAMPLER_PTRACE || cfg->idle) {
			log_error(-EINVAL, "%s: the whole machine (-a, a --pid list, --comm) is "
				  "sampled with per-CPU perf events, and the ptrace sampler would "
				  "stop every thread of every process â use --sampler "
				  "perf, bpf or auto%s", kind == SAMPLER_PTRACE ?
				  "--sampler ptrace refused" : "--idle refused",
				  cfg->idle ? ", without --idle (running threads only)" : "");
			errno = EINVAL;
			return NULL;
		}
		if (kind == SAMPLER_BPF)
			return sampler_with(&bpf_sampler_ops, cfg, "asked for with --sampler bpf");
		/* auto: the bpf sampler where it may run (the same per-CPU
		 * events, and the Python processes' frames copied at each
		 * sample), else perf; neither stops anything. */
		why[0] = '\0';
		if (kind == SAMPLER_AUTO && !cfg->kernel && bpf_sampler_usable(why, sizeof(why))) {
			struct sampler *s = sampler_with(&bpf_sampler_ops, cfg,
							 "the whole machine: per-CPU events, "
							 "Python frames read by the bpf sampler");

			if (s)
				return s;
			snprintf(why, sizeof(why), "the bpf sampler failed to start");
		}
		if (kind == SAMPLER_AUTO && why[0])
			log_info("the whole machine with the perf sampler (no Python frames): %s",
				 why);
		return sampler_with(&perf_sampler_ops, cfg, kind == SAMPLER_PERF ?
				    "asked for with --sampler perf" :
				    "the whole machine: per-CPU perf events");
	}
	switch (kind) {
	case SAMPLER_PERF:
		if (sampler_target_is_python(cfg))
			log_warn("the perf sampler cannot see Python frames (they live in the "
				 "interpreter's heap): this profile shows the interpreter's C "
				 "functions only \xe2\x80\x94 use --sampler ptrace or auto");
		if (cfg->idle) {
			log_error(-EINVAL, "--idle samples threads that sleep, which only the "
				  "ptrace sampler can: use --sampler ptrace or auto");
			errno = EINVAL;
			return NULL;
		}
		return sampler_with(&perf_sampler_ops, cfg, "asked for with --sampler perf");
	case SAMPLER_PTRACE:
		return sampler_with(&ptrace_sampler_ops, cfg, "asked for with --sampler ptrace");
	case SAMPLER_BPF:
		if (cfg->idle || cfg->kernel) {
			log_error(-EINVAL, "%s: the bpf sampler takes user stacks of running "
				  "threads only \xe2\x80\x94 use --sampler %s",
				  cfg->idle ? "--idle samples threads that sleep" :
				  "--kernel is not read by the bpf sampler yet",
				  cfg->idle ? "ptrace or auto" : "perf");
			errno = EINVAL;
			return NULL;
		}
		return sampler_with(&bpf_sampler_ops, cfg, "asked for with --sampler bpf");
	case SAMPLER_AUTO:
		break;
	}
	/*
	 * auto: perf never stops the target, so it is the choice whenever the
	 * kernel allows it. Wall-clock time needs the sleeping threads, which
	 * only ptrace can sample. A refusal is not an error: ptrace does the
	 * same job, stopping each thread for a moment per sample, and the
	 * user is told why and how to get perf.
	 */
	if (cfg->idle)
		return sampler_with(&ptrace_sampler_ops, cfg,
				    "--idle: wall-clock time needs sleeping threads, which "
				    "only ptrace samples");
	/* A Python program's frames live in the interpreter's heap, not on the
	 * C stack perf copies. The BPF sampler copies them at each sample
	 * without stopping the thread; where BPF is not allowed, the ptrace
	 * sampler reads them while it holds the thread for a moment. --locals
	 * reads more while the thread is held, and the BPF copy is at most
	 * 64 KiB of stack, as perf's. */
	if (!cfg->kernel && sampler_target_is_python(cfg)) {
		if (cfg->locals)
			return sampler_with(&ptrace_sampler_ops, cfg,
					    "--locals: the values are read while the thread is held");
		if (cfg->stack_size > SAMPLER_DEFAULT_STACK_SIZE)
			return sampler_with(&ptrace_sampler_ops, cfg,
					    "--stack-size above the 64 KiB the bpf sampler copies");
		if (bpf_sampler_usable(why, sizeof(why))) {
			struct sampler *s = sampler_with(&bpf_sampler_ops, cfg,
							 "a Python program: the bpf sampler copies "
							 "the interpreter's frames at each sample, "
							 "never stopping a thread");

			if (s)
				return s;
			log_warn("using the ptrace sampler, which stops each thread for a "
				 "moment per sample");
			return sampler_with(&ptrace_sampler_ops, cfg,
					    "a Python program, and the bpf sampler failed to start");
		}
		log_info("using the ptrace sampler for this Python program: %s", why);
		snprintf(reason, sizeof(reason), "a Python program (the bpf sampler would not "
			 "stop its threads, but %.200s)", why);
		return sampler_with(&ptrace_sampler_ops, cfg, reason);
	}
	/* The kernel copies at most 64 KiB (less 8 bytes) of stack into a perf
	 * sample: a larger --stack-size (deep recursion) is honoured by ptrace
	 * only. The default, 64 KiB, stays with perf: 8 bytes make no odds. */
	if (!cfg->kernel && cfg->stack_size > SAMPLER_DEFAULT_STACK_SIZE) {
		log_info("using the ptrace sampler: --stack-size %zu KiB is more than the "
			 "64 KiB of stack perf events copy per sample",
			 cfg->stack_size / 1024);
		return sampler_with(&ptrace_sampler_ops, cfg,
				    "--stack-size above the 64 KiB perf events copy");
	}
	if (perf_sampler_probe(cfg->argv ? 0 : cfg->pid, why, sizeof(why)) == 0 || cfg->kernel)
		return sampler_with(&perf_sampler_ops, cfg, "the kernel allows perf events");
	if (cfg->pid && kill(cfg->pid, 0) < 0 && errno == ESRCH)
		return sampler_with(&ptrace_sampler_ops, cfg, "");  /* reports the bad PID */
	/* Another user's process (or Yama): ptrace is refused for the same
	 * reason, which its error names; no word of perf_event_paranoid,
	 * which lowering would not help. */
	if (cfg->pid && target_access_problem(cfg->pid, reason, sizeof(reason)))
		return sampler_with(&ptrace_sampler_ops, cfg, "");
	snprintf(reason, sizeof(reason), "perf events refused: %s", why);
	log_warn("perf events refused: %s \xe2\x80\x94 using the ptrace sampler, which "
		 "stops each thread for a moment per sample (run as root or lower "
		 "kernel.perf_event_paranoid to use perf)", why);
	return sampler_with(&ptrace_sampler_ops, cfg, reason);
}

void sampler_stop_self(void)
{
	sigset_t tstp, old;

	/* Pending while blocked, delivered the moment it is unblocked: the
	 * process stops inside sigprocmask and returns from it once
	 * continued. */
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	raise(SIGTSTP);
	sigprocmask(SIG_UNBLOCK, &tstp, &old);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

int sampler_poll(struct sampler *s, sample_fn fn, void *ctx)
{
	int ret;

	s->fn = fn;
	s->fn_ctx = ctx;
	s->fn_stopped = 0;
	ret = s->ops->poll(s);
	s->fn = NULL;
	s->fn_ctx = NULL;
	/* Ctrl-Z: the backends return between ticks, when no thread is held;
	 * what may still be is released before hotspy stops. The recording
	 * goes on once hotspy is continued (SIGCONT, fg). */
	if (ret == SAMPLER_SIGNALLED && s->signal == SIGTSTP) {
		s->signal = 0;
		if (s->ops->pause)
			s->ops->pause(s);
		sampler_stop_self();
		ret = SAMPLER_TICK;
	}
	return ret;
}

void sampler_close(struct sampler *s)
{
	if (!s)
		return;
	s->ops->close(s);
	sampler_free(s);
}

int sampler_close_status(struct sampler *s)
{
	int status;

	if (!s)
		return -1;
	s->ops->close(s);
	status = s->exit_status;
	sampler_free(s);
	return status;
}

const char *sampler_name(const struct sampler *s) { return s->ops->name; }
const char *sampler_reason(const struct sampler *s) { return s->reason; }
pid_t sampler_pid(const struct sampler *s) { return s->pid; }
const char *sampler_comm(const struct sampler *s) { return s->comm; }
struct maps *sampler_maps(const struct sampler *s)
{
	return s->nprocs ? s->procs[0]->maps : NULL;
}

size_t sampler_process_count(const struct sampler *s)
{
	return s->nprocs;
}

uint32_t sampler_process_image(const struct sampler *s, size_t i)
{
	return i < s->nprocs ? s->procs[i]->image : 0;
}

pid_t sampler_process_at(const struct sampler *s, size_t i, const char **comm,
			 struct maps **maps)
{
	if (i >= s->nprocs)
		return 0;
	if (comm)
		*comm = s->procs[i]->comm;
	if (maps)
		*maps = s->procs[i]->maps;
	return s->procs[i]->pid;
}
void sampler_hist_add(struct sampler_hist *h, uint64_t ns)
{
	uint64_t us = ns / 1000, i;

	i = us < SAMPLER_HIST_FINE ? us
				   : SAMPLER_HIST_FINE + (us - SAMPLER_HIST_FINE) / SAMPLER_HIST_COARSE_US;
	h->bin[i < SAMPLER_HIST_BINS ? i : SAMPLER_HIST_BINS - 1]++;
	h->n++;
}

/* The upper edge of bin @i, in microseconds. */
static double hist_edge(size_t i)
{
	if (i < SAMPLER_HIST_FINE)
		return (double)(i + 1);
	return (double)(SAMPLER_HIST_FINE + (i + 1 - SAMPLER_HIST_FINE) * SAMPLER_HIST_COARSE_US);
}

double sampler_hist_quantile(const struct sampler_hist *h, double q)
{
	uint64_t want, seen = 0;

	if (!h->n)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	/* The rank of the value, 1-based: at least the first. */
	want = (uint64_t)(q * (double)h->n + 0.999999);
	if (want == 0)
		want = 1;
	for (size_t i = 0; i < SAMPLER_HIST_BINS; i++) {
		seen += h->bin[i];
		if (seen >= want)
			return hist_edge(i);
	}
	return hist_edge(SAMPLER_HIST_BINS - 1);
}

const struct sampler_stats *sampler_stats(struct sampler *s)
{
	s->stats.walks_fast = s->walks_fast_freed;
	s->stats.walks_slow = s->walks_slow_freed;
	for (size_t i = 0; i < s->nprocs; i++) {
		uint64_t fast, slow;

		if (!s->procs[i]->unwinder)
			continue;
		unwinder_counts(s->procs[i]->unwinder, &fast, &slow);
		s->stats.walks_fast += fast;
		s->stats.walks_slow += slow;
	}
	s->stats.python_captures = s->stats.python_reads = 0;
	for (size_t i = 0; i < s->nprocs; i++) {
		struct pyreader_stats ps;

		if (!s->procs[i]->python.reader)
			continue;
		pyreader_stats(s->procs[i]->python.reader, &ps);
		s->stats.python_captures += ps.captures;
		s->stats.python_reads += ps.reads;
	}
	return &s->stats;
}
int sampler_exit_status(const struct sampler *s) { return s->exit_status; }
int sampler_signal(const struct sampler *s) { return s->signal; }

size_t sampler_thread_count(const struct sampler *s)
{
	return s->ops->thread_count(s);
}
