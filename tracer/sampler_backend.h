/*
 * sampler_backend.h - what a capture backend implements and what the common
 * sampler layer offers it. Private to tracer/.
 */
#ifndef HOTSPY_SAMPLER_BACKEND_H
#define HOTSPY_SAMPLER_BACKEND_H

#include "sampler.h"
#include "snapshot.h"
#include "unwind.h"

/* Deepest stack kept, in frames; deeper walks end in [truncated]. */
#define SAMPLER_MAX_DEPTH 4096

struct sampler_ops {
	const char *name;
	/* Attach to s->cfg.pid or start s->cfg.argv; set s->pid, s->comm and
	 * s->backend. 0 or -errno, having logged what failed and the remedy. */
	int (*open)(struct sampler *s);
	/* As sampler_poll: snapshots go to sampler_deliver once the thread
	 * has been resumed. */
	int (*poll)(struct sampler *s);
	/* Detach, leaving the target running, and free s->backend. */
	void (*close)(struct sampler *s);
	size_t (*thread_count)(const struct sampler *s);
};

/* A process whose samples the sampler unwinds: the target, and with
 * --subprocesses each of its descendants. Kept after the process exits, so
 * its samples can still be named. Each has its own unwinder: the unwind
 * cache is keyed by address, and two programs may use the same addresses. */
struct sampler_proc {
	pid_t pid;
	char comm[64];
	struct maps *maps;
	uint64_t maps_loaded_ns;
	int vdso_loaded;
	struct unwinder *unwinder;
};

struct sampler {
	const struct sampler_ops *ops;
	void *backend;
	struct sampler_config cfg;
	pid_t pid;             /* the target: procs[0] once open */
	char comm[64];
	char reason[320];      /* why this backend: shown with -v, and on fallback */
	int exit_status;
	struct sampler_proc **procs;
	size_t nprocs, procs_cap;
	size_t last_proc;      /* index of the last lookup: samples come in runs */
	uint64_t addrs[SAMPLER_MAX_DEPTH];
	struct sampler_stats stats;
	sample_fn fn;          /* set during sampler_poll */
	void *fn_ctx;
	int fn_stopped;        /* @fn asked to stop this batch */
};

extern const struct sampler_ops ptrace_sampler_ops;
extern const struct sampler_ops perf_sampler_ops;

/* Would the kernel let the perf sampler sample @pid (0: a command hotspy is
 * about to start, which has hotspy's credentials)? 0, or -errno with the
 * reason in words in @why. Opens and closes one event; logs nothing. */
int perf_sampler_probe(pid_t pid, char *why, size_t size);

/* The entry of process @pid, created on first use with its mappings read
 * (the first one created is the target). NULL when out of memory or the
 * process cannot be read (gone). */
struct sampler_proc *sampler_proc(struct sampler *s, pid_t pid);

/* The entry of process @pid, just forked by @ppid: as sampler_proc, but when
 * @pid is already gone its parent's mappings stand in for its own. */
struct sampler_proc *sampler_proc_fork(struct sampler *s, pid_t pid, pid_t ppid);

/* The target's entry: sampler_proc(s, s->pid). */
struct sampler_proc *sampler_target(struct sampler *s);

/* Re-read the mappings of @p (and its vdso the first time). With @force 0,
 * does nothing and returns 1 if they were read less than 2 ms ago.
 * 0 when re-read, or -errno. */
int sampler_reload_maps(struct sampler *s, struct sampler_proc *p, int force);

/* @pid ran a new program (exec): new name, new mappings, fresh unwind
 * cache. Its earlier samples are named with the new program's maps. */
void sampler_proc_exec(struct sampler *s, pid_t pid);

/* Unwind @snap and hand the sample to the caller. */
void sampler_deliver(struct sampler *s, const struct snapshot *snap);

#endif
