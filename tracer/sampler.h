/*
 * sampler.h - capture and unwind: from a live target to unwound samples.
 *
 * A sampler attaches to a process (or starts a command under it), takes a
 * snapshot of every thread at each tick through a backend (struct
 * sampler_ops), lets the target run on, and only then unwinds each snapshot
 * with the one unwinder and hands the result to the caller.
 *
 * The caller blocks SIGINT, SIGTERM, SIGHUP, SIGCHLD and SIGTSTP
 * (sampler_block_signals) before opening a sampler: the backend waits for
 * them synchronously, so no signal handler ever runs and a Ctrl-C ends a
 * recording at a clean point. A Ctrl-Z (SIGTSTP) is taken at such a point
 * too: the sampler leaves no thread held, then stops hotspy as SIGTSTP
 * would, and samples on when it is continued.
 */
#ifndef HOTSPY_SAMPLER_H
#define HOTSPY_SAMPLER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "elf_cache.h"
#include "maps.h"
#include "pycode.h"
#include "pylocals.h"
#include "pymerge.h"

/* The capture backend asked for (--sampler). */
enum sampler_kind {
	SAMPLER_AUTO,      /* perf where allowed and on-CPU, else ptrace */
	SAMPLER_PERF,
	SAMPLER_PTRACE,
	SAMPLER_BPF,       /* perf events whose samples a BPF program takes */
};

/* Bytes of user stack copied per snapshot unless configured otherwise. */
#define SAMPLER_DEFAULT_STACK_SIZE (64u * 1024u)

/* One unwound sample of one thread, as handed to the caller. */
struct sample {
	pid_t pid;
	pid_t tid;
	const char *process;     /* the process's name, valid during the callback:
	                          * the program's it ran at the sample */
	uint32_t image;          /* which program (addrspace.h): 0, +1 per exec;
	                          * the user addresses carry it as their tag */
	const char *comm;        /* thread name, valid during the callback */
	const char *python_name; /* the name Python gives the thread
	                          * (threading), NULL when none is known;
	                          * valid during the callback */
	char state;              /* 'R', 'S', 'D'... at the time of the sample */
	int8_t gil;              /* 1: the thread held Python's GIL at the
	                          * sample, 0: it did not, -1: not known (not
	                          * asked for: sampler_config.gil; not Python;
	                          * a version whose GIL hotspy cannot read) */
	uint64_t time_ns;        /* CLOCK_MONOTONIC */
	uint64_t weight;         /* sampling periods it stands for (>= 1): on-CPU
	                          * time a thread used since its last sample */
	const uint64_t *addrs;   /* leaf first: kernel frames (--kernel), then user
	                          * frames; ends in a PROFILE_ADDR_* marker when
	                          * the walk did not reach the bottom */
	size_t n;
	/* sampler_config.locals: the arguments and locals of the thread's
	 * Python frames, read while it was stopped (frame i of @locals is
	 * the frame whose python address is pyaddrs[i], innermost first,
	 * npy of them; the same addresses are among @addrs); NULL when
	 * not asked or not Python. Valid during the callback. */
	const struct pylocals *locals;
	const uint64_t *pyaddrs;
	size_t npy;
};

/* Return non-zero to stop delivering the current batch (e.g. out of memory). */
typedef int (*sample_fn)(const struct sample *sample, void *ctx);

struct sampler_config {
	pid_t pid;                 /* attach to this process, or */
	char *const *argv;         /* start this command (NULL-terminated) */
	pid_t tid;                 /* deliver only this thread's samples (a
				    * thread of @pid), 0 for all */
	unsigned rate;             /* ticks per second */
	size_t stack_size;         /* bytes of stack copied per snapshot */
	bool idle;                 /* also sample threads that are not running */
	bool kernel;               /* kernel frames too (perf sampler only) */
	bool subprocesses;         /* descendants of the target too */
	/* The whole machine (-a; --pid lists and --comm patterns): every
	 * process but hotspy, or those @pids lists and those whose name a
	 * pattern of @comms matches (procfilter.h), each sampled from the
	 * per-CPU events of the perf or bpf sampler. @pid and @argv are then
	 * 0 and NULL. @pids and @comms are borrowed. */
	bool all;
	const pid_t *pids;
	size_t npids;
	const char *const *comms;
	size_t ncomms;
	struct elf_cache *cache;   /* shared with the symbolizer; borrowed */
	/* CPython programs: code objects go here (borrowed, shared with the
	 * symbolizer), NULL to sample them natively; and how their frames mix
	 * with native ones. */
	struct pycodes *pycodes;
	enum pymerge_mode python_mode;
	bool gil;                  /* tell which thread holds the GIL (sample.gil) */
	/* Read the arguments and locals of each Python frame while its
	 * thread is stopped (sample.locals; ptrace sampler only: dump). */
	bool locals;
	/* How long samples may wait in the kernel's buffers before they are
	 * delivered, in ms (perf sampler): a longer wait means fewer
	 * wake-ups of hotspy for as many samples. 0: the sampler's default
	 * (10 ms), for a live view. sampler_poll returns at least this often
	 * while the target runs. */
	unsigned batch_ms;
};

/*
 * A distribution of durations in microsecond bins, for the medians and
 * percentiles of --stats: a mean of stop times is made of the few stops
 * that a virtual machine's scheduler stretches to milliseconds.
 */
#define SAMPLER_HIST_FINE 1024      /* 1-us bins below 1024 us */
#define SAMPLER_HIST_COARSE_US 64   /* then 64-us bins, up to ~66 ms */
#define SAMPLER_HIST_BINS 2048

struct sampler_hist {
	/* bin[i]: [i, i + 1) us below SAMPLER_HIST_FINE, then [1024 + 64 k,
	 * 1024 + 64 (k + 1)) us; the last also holds every longer one. */
	uint32_t bin[SAMPLER_HIST_BINS];
	uint64_t n;
};

/* Count a duration of @ns nanoseconds. */
void sampler_hist_add(struct sampler_hist *h, uint64_t ns);
/* The duration in microseconds that a fraction @q (0..1) of those counted
 * do not exceed (the upper edge of its bin); 0 when none were counted. */
double sampler_hist_quantile(const struct sampler_hist *h, double q);

/* Counters for the summary and --stats. Times are nanoseconds. */
struct sampler_stats {
	uint64_t ticks;            /* ticks taken */
	uint64_t ticks_missed;     /* ticks skipped because sampling fell behind */
	uint64_t skipped_late;     /* thread snapshots due but not taken: the
	                            * thread did not stop within the tick's
	                            * time, or the time ran out before it
	                            * (ptrace) */
	uint64_t snapshots;        /* thread snapshots taken */
	uint64_t skipped_idle;     /* threads not sampled: no CPU time to show */
	uint64_t failed;           /* snapshots that could not be taken */
	uint64_t deferred;         /* stopped, but found asleep in a system call */
	uint64_t lost;             /* samples the kernel dropped (ring buffer full) */
	uint64_t exited_threads;   /* threads that exited while sampled (perf) */
	uint64_t unsampled_ns;     /* CPU time of exited threads that no sample
	                            * stands for (perf: what the last, unfinished
	                            * period of each thread held) */
	uint64_t unsampled_threads;  /* exited threads never sampled at all */
	uint64_t stopped_ns;       /* total time threads were held stopped */
	uint64_t stopped_max_ns;   /* longest single stop */
	/* ptrace: each stop, from PTRACE_INTERRUPT to the return of
	 * PTRACE_CONT (held), split into the wait for the stop (stopping:
	 * until the thread is seen stopped, what the kernel and a virtual
	 * machine's IPIs cost) and the rest (reading: registers, stack,
	 * Python frames, and the resume). */
	struct sampler_hist held_hist, stopping_hist, reading_hist;
	/* perf sampler: bytes of user stack the kernel copied into the
	 * samples (in the target's time), and bytes of ring the samples
	 * asked for it (each sample takes what its event asks, whatever was
	 * copied), summed over the snapshots. */
	uint64_t stack_copied;
	uint64_t stack_asked;
	uint64_t stack_grows;      /* perf: threads given a larger stack copy */
	uint64_t stack_dropped;    /* perf: samples of a thread's smaller copy,
	                            * dropped beside its larger one's */
	/* ptrace: reading and resuming of the stops that made a sample
	 * (registers, stack and Python frames copied), without the stops
	 * resumed after the registers (weight 0, deferred). */
	struct sampler_hist sampled_hist;
	uint64_t capture_ns;       /* time spent taking snapshots */
	uint64_t unwind_ns;        /* time spent unwinding */
	uint64_t walks_fast;       /* walks done by the unwinder's rule cache */
	uint64_t walks_slow;       /* walks that needed libunwind */
	uint64_t maps_reloads;
	uint32_t python_version;   /* PY_VERSION_HEX of the (first) CPython
	                            * read, 0 when none */
	uint64_t python_samples;   /* weight of the samples with Python frames */
	uint64_t python_torn;      /* of which the frame chain was torn */
	uint64_t python_unpaired;  /* eval-loop calls not found on the C stack */
	uint64_t python_captures;  /* frame chains copied (threads held) */
	uint64_t python_reads;     /* process_vm_readv calls that copying made */
	uint64_t thread_scans;     /* reads of a /proc/PID/task list (ptrace:
	                            * while attaching only; new threads come
	                            * by clone events) */
	size_t threads_seen;       /* distinct threads ever sampled or attached */
};

/* Why sampler_poll returned. */
enum sampler_event {
	SAMPLER_TICK = 0,          /* samples of one tick were delivered */
	SAMPLER_EXITED,            /* the target has exited; nothing more to sample */
	SAMPLER_SIGNALLED,         /* SIGINT, SIGTERM or SIGHUP arrived */
};

struct sampler;

/* CLOCK_MONOTONIC in nanoseconds. Safe anywhere. */
uint64_t sampler_now_ns(void);

/* Fill @set with the signals a sampler waits for: SIGINT, SIGTERM, SIGHUP,
 * SIGCHLD, SIGTSTP. */
void sampler_signal_set(sigset_t *set);

/* Block the signals the sampler waits for; store the old mask in @old.
 * 0 or -errno. */
int sampler_block_signals(sigset_t *old);

/* Whether the target of @cfg runs CPython (by the command's name for a
 * command, by its mappings for a process) and Python frames are wanted
 * (cfg->pycodes). */
bool sampler_target_is_python(const struct sampler_config *cfg);

/*
 * Attach to cfg->pid or start cfg->argv, with the backend chosen by @kind.
 * SAMPLER_AUTO takes perf when the kernel allows it for this target and
 * the time model is on-CPU, else ptrace (a warning says why perf was not
 * used). @cfg is copied (cfg->argv and cfg->cache are borrowed and must
 * outlive the sampler). Returns the sampler, which the caller closes with
 * sampler_close; or logs what failed and how to fix it, and returns NULL
 * with errno set.
 */
struct sampler *sampler_open(enum sampler_kind kind, const struct sampler_config *cfg);

/*
 * Wait for the next tick (handling the target's events meanwhile), take the
 * snapshots due, resume the target, then unwind them and call @fn for each
 * (the sample is valid during the call only). Returns a sampler_event
 * (>= 0) or -errno.
 */
int sampler_poll(struct sampler *s, sample_fn fn, void *ctx);

/*
 * Stop hotspy as a SIGTSTP would (the disposition of SIGTSTP decides: the
 * default stops the process, curses' handler restores the terminal
 * first), returning once it is continued. Call with no thread held.
 */
void sampler_stop_self(void);

/* Detach from the target (which runs on) and free. Accepts NULL. Takes at
 * most about a second, whatever the target's threads do: every thread is
 * let go before it returns, but one that cannot stop in that time (in
 * uninterruptible sleep) stays traced, running, until hotspy exits (said
 * in a warning). */
void sampler_close(struct sampler *s);

/*
 * As sampler_close, and return the exit status (wait(2) format) of a started
 * command that was seen to end, also while it was being detached (the
 * detach reaps it then, so sampler_exit_status before the close misses it);
 * -1 when it runs on, was attached by PID, or @s is NULL.
 */
int sampler_close_status(struct sampler *s);

/* The backend's name, "perf", "ptrace" or "bpf" (a static string: valid after
 * sampler_close too). */
const char *sampler_name(const struct sampler *s);
/* Why this sampler was chosen, in words ("the kernel allows perf events",
 * "perf events refused: ..."); may be empty. Owned by @s. */
const char *sampler_reason(const struct sampler *s);
/* The target's pid (the started command's, or cfg->pid); 0 for the whole
 * machine (cfg->all). */
pid_t sampler_pid(const struct sampler *s);
/* Name of the target program (its comm, or the command's basename; "all"
 * for the whole machine). Owned by @s. */
const char *sampler_comm(const struct sampler *s);
/* The target's current mappings (borrowed; maps_ref to keep them). */
struct maps *sampler_maps(const struct sampler *s);
/* Processes sampled so far: the target first, then (--subprocesses) its
 * descendants in the order they were first seen, exited ones included, and
 * a new entry for each program a process ran by exec. */
size_t sampler_process_count(const struct sampler *s);
/* Process @i: its pid (0 when out of range); its name and current mappings
 * (borrowed) in *@comm and *@maps when not NULL. A process that ran
 * another program (exec) is listed once per program, each with its own
 * name and mappings: see sampler_process_image. */
pid_t sampler_process_at(const struct sampler *s, size_t i, const char **comm,
			 struct maps **maps);
/* The image (addrspace.h) of process entry @i: 0 for the program it ran
 * first, +1 per exec; 0 when out of range. */
uint32_t sampler_process_image(const struct sampler *s, size_t i);
/* Threads currently followed (attached, or with perf events open). */
size_t sampler_thread_count(const struct sampler *s);
/* The counters so far (brought up to date by this call; owned by @s). */
const struct sampler_stats *sampler_stats(struct sampler *s);
/* Exit status of a started command once SAMPLER_EXITED (wait(2) format),
 * -1 when unknown or attached by PID. */
int sampler_exit_status(const struct sampler *s);
/* The signal (SIGINT, SIGTERM, SIGHUP) that made the last sampler_poll
 * return SAMPLER_SIGNALLED, 0 before any. */
int sampler_signal(const struct sampler *s);

#endif
