/*
 * sampler_backend.h - what a capture backend implements and what the common
 * sampler layer offers it. Private to tracer/.
 */
#ifndef HOTSPY_SAMPLER_BACKEND_H
#define HOTSPY_SAMPLER_BACKEND_H

#include "pymerge.h"
#include "sampler.h"
#include "snapshot.h"
#include "unwind.h"

/*
 * The deepest native walk a stack copy of @stack_size bytes can hold: each
 * frame takes at least its 8-byte return address (the unwinder only steps
 * up the stack), so the copy bounds the walk and no fixed depth cuts it.
 * 64 KiB: 8194 frames; 1 MiB: 131074.
 */
static inline size_t sampler_walk_max(size_t stack_size)
{
	return stack_size / 8 + 2;
}

/* Kernel frames kept before the user walk (perf's kernel.perf_event_max_stack
 * is 127 by default). */
#define SAMPLER_KERNEL_DEPTH 512

/* The largest stack copy of the perf sampler: sample_stack_user must be
 * below USHRT_MAX and a multiple of 8 (perf_sample_ustack_size in
 * kernel/events/core.c). Larger --stack-size needs the ptrace sampler. */
#define PERF_SAMPLER_MAX_STACK 65528u

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
	/* hotspy is about to stop itself (SIGTSTP): leave no thread held nor
	 * about to be. May be NULL (nothing is ever held). */
	void (*pause)(struct sampler *s);
	size_t (*thread_count)(const struct sampler *s);
};

/* Most code ranges of each kind the merge of Python frames is given. */
#define SAMPLER_PYTHON_RANGES 8

enum sampler_python_state {
	SAMPLER_PYTHON_UNKNOWN,       /* not (yet) a CPython process */
	SAMPLER_PYTHON_READY,         /* a reader reads its frames */
	SAMPLER_PYTHON_UNSUPPORTED,   /* CPython, but a version not read (said once) */
};

/* A process's CPython reader and the code ranges its merge needs. */
struct sampler_python {
	enum sampler_python_state state;
	struct pyreader *reader;
	uint64_t tried_ns;            /* last look for an interpreter, and */
	uint64_t tried_maps_ns;       /* the mappings it looked at */
	bool starting;                /* CPython found, its interpreter not up */
	struct addr_range interp[SAMPLER_PYTHON_RANGES], eval[SAMPLER_PYTHON_RANGES],
		startup[SAMPLER_PYTHON_RANGES], runtime[SAMPLER_PYTHON_RANGES];
	size_t ninterp, neval, nstartup, nruntime;
	/* The mappings startup and runtime were taken from: a program
	 * started under hotspy may be found Python before its C library
	 * is in the mappings hotspy has read (a static interpreter). */
	uint64_t ranges_maps_ns;
	char exe[64];                 /* its executable's name ("" unknown) */
};

/* A process whose samples the sampler unwinds: the target, and with
 * --subprocesses each of its descendants. Kept after the process exits, so
 * its samples can still be named. Each has its own unwinder: the unwind
 * cache is keyed by address, and two programs may use the same addresses. */
struct sampler_proc {
	pid_t pid;
	/* The program it runs (addrspace.h): 0 for the one at the start of
	 * sampling, +1 per exec. An exec keeps the entry of the program
	 * before (with its mappings, which /proc no longer shows) to name
	 * the samples taken before the exec, and starts a new entry. */
	uint32_t image;
	uint64_t exec_ns;        /* CLOCK_MONOTONIC of the exec that ended this
	                          * image; 0 while it is the one that runs */
	unsigned exec_pending;   /* execs known to come (perf: records not yet
	                          * handled): /proc shows a later program, so
	                          * the mappings are not to be read now */
	char comm[64];
	struct maps *maps;
	uint64_t maps_loaded_ns;
	bool maps_stale;         /* -a: code was mapped since the last read;
	                          * read again at its next sample */
	struct maps *prev_maps;  /* the mappings before the last read, and */
	uint64_t prev_loaded_ns; /* when they were read */
	int vdso_loaded;
	struct unwinder *unwinder;   /* NULL (-a) once the process exited, or
	                              * before its first sample when its
	                              * mappings could not be read */
	struct sampler_python python;
};

struct sampler {
	const struct sampler_ops *ops;
	void *backend;
	struct sampler_config cfg;
	pid_t pid;             /* the target: procs[0] once open */
	char comm[64];
	char reason[320];      /* why this backend: shown with -v, and on fallback */
	int exit_status;
	int signal;             /* the signal of the last SAMPLER_SIGNALLED */
	struct sampler_proc **procs;
	size_t nprocs, procs_cap;
	size_t last_proc;      /* index of the last lookup: samples come in runs */
	size_t retired;        /* entries of images an exec ended */
	/* Execs announced (sampler_proc_exec_coming) of processes with no
	 * entry yet; more are forgotten. */
#define SAMPLER_COMING_MAX 32
	pid_t coming[SAMPLER_COMING_MAX];
	size_t ncoming;
	/* One sample's addresses: kernel frames, then the walk (with Python
	 * frames merged in): naddrs entries. */
	uint64_t *addrs;
	size_t naddrs;
	size_t walk_max;       /* sampler_walk_max(cfg.stack_size) */
	/* Python samples: the native walk and its stack pointers before the
	 * merge (walk_max entries each), the Python frames of one snapshot
	 * (taken while its thread is stopped: one at a time) and their python
	 * addresses. */
	uint64_t *native;
	uint64_t *sps;
	struct pystack *pystack;
	uint64_t *pyaddrs;
	/* cfg.locals: the locals of that snapshot's Python frames. */
	struct pylocals *pylocals;
	struct sampler_stats stats;
	/* Walks of the unwinders freed at a process's exit (-a). */
	uint64_t walks_fast_freed, walks_slow_freed;
	sample_fn fn;          /* set during sampler_poll */
	void *fn_ctx;
	int fn_stopped;        /* @fn asked to stop this batch */
};

extern const struct sampler_ops ptrace_sampler_ops;
extern const struct sampler_ops perf_sampler_ops;
extern const struct sampler_ops bpf_sampler_ops;

struct bpf_capture;

/*
 * The BPF sampler is the perf sampler (the same task-clock events, followed
 * threads, MMAP/COMM/FORK/EXIT records) with @bpf's program attached to
 * every event to take the samples in its place: open as perf_sampler_ops's
 * open does, owning @bpf from now on (freed by the close, or here on
 * failure). 0 or -errno having logged why.
 */
int perf_sampler_open_bpf(struct sampler *s, struct bpf_capture *bpf);
/* perf_sampler_ops's poll, close and thread_count, shared with the BPF
 * sampler. */
int perf_sampler_poll(struct sampler *s);
void perf_sampler_close(struct sampler *s);
size_t perf_sampler_thread_count(const struct sampler *s);

/* Would the kernel let the perf sampler sample @pid (0: a command hotspy is
 * about to start, which has hotspy's credentials)? 0, or -errno with the
 * reason in words in @why. Opens and closes one event; logs nothing. */
int perf_sampler_probe(pid_t pid, char *why, size_t size);

/*
 * Could the BPF sampler run here, as far as can be told without loading it:
 * built into hotspy, and hotspy holds CAP_BPF and CAP_PERFMON (or
 * CAP_SYS_ADMIN) with no kernel lockdown forbidding BPF to read memory.
 * False with the reason in @why (what `auto` says when it takes another
 * sampler).
 */
bool bpf_sampler_usable(char *why, size_t size);

/* The entry of process @pid, created on first use with its mappings read
 * (the first one created is the target). NULL when out of memory or the
 * process cannot be read (gone). */
struct sampler_proc *sampler_proc(struct sampler *s, pid_t pid);

/* The current entry of process @pid when it has one, else NULL (nothing
 * is created or read). */
struct sampler_proc *sampler_proc_find(struct sampler *s, pid_t pid);

/* Process @pid has exited (the whole machine, -a): what its entry holds
 * only for unwinding (its unwinder) is freed; its name and mappings stay,
 * to name its samples. */
void sampler_proc_exited(struct sampler *s, pid_t pid);

/* The entry of process @pid, just forked by @ppid: as sampler_proc, but when
 * @pid is already gone its parent's mappings stand in for its own. */
struct sampler_proc *sampler_proc_fork(struct sampler *s, pid_t pid, pid_t ppid);

/* The target's entry: sampler_proc(s, s->pid). */
struct sampler_proc *sampler_target(struct sampler *s);

/* Re-read the mappings of @p (and its vdso the first time). With @force 0,
 * does nothing and returns 1 if they were read less than 2 ms ago.
 * 0 when re-read, or -errno: -ESTALE for an image that no longer runs, or
 * whose exec is coming (/proc shows another program). */
int sampler_reload_maps(struct sampler *s, struct sampler_proc *p, int force);

/*
 * @pid ran a new program (exec) at @time_ns (CLOCK_MONOTONIC; 0: now): a
 * new image with the new name, mappings and unwind cache. The image before
 * keeps its own, and names the samples taken before @time_ns (their
 * addresses tagged with its image: addrspace.h); when its mappings were
 * read after @time_ns (the new program's), the ones read before stand in.
 * Past ADDRSPACE_IMAGE_MAX images the last one is renamed and re-read in
 * place.
 */
void sampler_proc_exec(struct sampler *s, pid_t pid, uint64_t time_ns);

/* An exec of @pid will be handled (sampler_proc_exec) later: until then its
 * mappings are not read (they would be the next program's). */
void sampler_proc_exec_coming(struct sampler *s, pid_t pid);

/*
 * The CPython reader of process @p, looked for when none is known yet (when
 * its mappings changed since the last look, or every 5 ms while its
 * interpreter comes up), or NULL: not Python, not up yet, not readable, or Python frames
 * not asked for. Says once when the version cannot be read. Call before
 * stopping a thread: a first look reads files.
 */
struct pyreader *sampler_python(struct sampler *s, struct sampler_proc *p);

/* Free @p's reader. */
void sampler_python_free(struct sampler_proc *p);

/*
 * The native walk @native[0..n) (with stack pointers @sps) of @snap merged
 * with its Python frames (snap->py, status not NONE) into @out (room for
 * @max), as pymerge does in the configured mode. Returns the number stored.
 */
size_t sampler_python_merge(struct sampler *s, struct sampler_proc *p,
			    const struct snapshot *snap, const uint64_t *native,
			    const uint64_t *sps, size_t n, uint64_t *out, size_t max);

/* Unwind @snap and hand the sample to the caller. Returns why the native
 * walk ended (UNWIND_CUT: the copy was too short, or too many frames);
 * UNWIND_NO_INFO for a snapshot not unwound (another thread than -t's, a
 * process that cannot be read, or the caller asked to stop). */
enum unwind_end sampler_deliver(struct sampler *s, const struct snapshot *snap);

#endif
