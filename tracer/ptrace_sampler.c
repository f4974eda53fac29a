/*
 * The ptrace sampler: PTRACE_SEIZE every thread, and at each tick
 * PTRACE_INTERRUPT the threads due, a few at a time (ASK_WINDOW), read each
 * one's registers (PTRACE_GETREGSET) and one copy of its stack
 * (process_vm_readv) the moment it stops, and PTRACE_CONT it at once,
 * before anything is unwound. A thread is stopped only for that; the
 * process as a whole is never paused, whatever its number of threads.
 *
 * While seized, every signal sent to the target stops it until we pass the
 * signal on, so events are drained whenever hotspy wakes: hotspy sleeps in
 * sigtimedwait on SIGCHLD (which the kernel sends the tracer on each tracee
 * stop) as well as on the signals that end a recording.
 *
 * Threads are followed by events, not by reading /proc/PID/task at each
 * tick: every thread is seized with PTRACE_O_TRACECLONE, so the kernel
 * attaches each new thread to us at its birth (it starts in a
 * PTRACE_EVENT_STOP, which is resumed), and reports each thread's exit.
 * /proc/PID/task is read only while attaching to a running process, until
 * no new thread shows up: a thread born of a thread not yet seized is not
 * attached by the kernel.
 *
 * On-CPU time (the default) is measured the way perf's task-clock counts
 * it: at each tick every running thread is stopped, and the snapshot
 * stands for the CPU time the thread used since its previous one
 * (schedstat, read once the stop has brought it up to date), in whole
 * sampling periods rounded at random (floor(credit / period + U), U
 * uniform in [0, 1)), so that the weights add up to the CPU time used,
 * without bias, also for threads that never use a whole period
 * (short-lived threads, short bursts). A thread that was runnable but
 * waiting for a CPU used nothing and weighs nothing. Threads born after
 * the attach count their time from birth. --idle samples every thread at
 * every tick instead (wall-clock time, weight 1).
 *
 * If hotspy dies, even by SIGKILL, the kernel detaches the tracees and wakes
 * any that was held in a ptrace-stop (__ptrace_unlink in kernel/ptrace.c), so
 * nothing is left stopped. PTRACE_O_EXITKILL is never used.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <elf.h>
#include <unistd.h>

#include "log.h"
#include "pyreader.h"
#include "procfs.h"
#include "sampler_backend.h"
#include "target.h"
#include "text.h"
#include "banned.h"

/*
 * The time one tick may take, all its threads together: one period, and at
 * least TICK_BUDGET_MIN_NS. A runnable thread waiting for a busy CPU (many
 * more busy threads than CPUs) takes a scheduler period or more to reach
 * the stop asked of it, and a thread in uninterruptible sleep (vfork, disk)
 * does not stop at all: waiting for each in turn made a tick last seconds,
 * and -d and Ctrl-C with it. A thread slow to stop is waited for no more
 * (window_wait: its interrupt stays pending, its snapshot is taken when
 * its stop comes); when the budget runs out, the threads not yet asked
 * are skipped for this tick: the next tick starts with them. The CPU time
 * a skipped thread used is not lost: its next snapshot stands for it
 * (thread_spend; with --idle, the ticks it missed: ticks_owed).
 */
#define TICK_BUDGET_MIN_NS (20ull * 1000 * 1000)

/*
 * The longest the detach may take, all threads together. Every thread is
 * asked to stop at once and let go at its stop, so this is the slowest
 * thread's stop; it bounds the time to the end of a recording when a
 * thread cannot stop (uninterruptible sleep) or gets no CPU.
 */
#define DETACH_DEADLINE_NS (1000ull * 1000 * 1000)
/* Once every thread still attached has been in uninterruptible sleep for
 * this long, waiting for them further is waiting in vain. */
#define DETACH_D_GRACE_NS (100ull * 1000 * 1000)
/* SIGTSTP: the longest hotspy waits for the stops it asked for before it
 * stops itself. */
#define PAUSE_WAIT_NS (200ull * 1000 * 1000)
/* thread_warm: a thread's last snapshot at least this old finds the
 * kernel's caches cold (measured: 1 ms after a sleep a system call costs
 * 2.5 times its warm price, 100 us after 1.1 times). */
#define WARM_AFTER_NS (2ull * 1000 * 1000)
/* thread_warm: pages touched at most (a 64 KiB stack and the Python
 * reader's copies fit). */
#define WARM_PAGES_MAX 32

struct traced_thread {
	pid_t pid;                  /* its process */
	pid_t tid;
	int stat_fd;                /* /proc/PID/task/TID/stat: state, name */
	int sched_fd;               /* /proc/PID/task/TID/schedstat: CPU time */
	uint64_t cpu_ns;            /* CPU time at the last look */
	int64_t credit_ns;          /* CPU time not yet represented by samples;
	                             * below 0 after a rounding up, by less than
	                             * one period */
	char comm[TARGET_COMM_MAX];
	unsigned gone : 1;          /* exited or detached: dropped at the next tick */
	unsigned release : 1;       /* attached by the kernel but not ours to
	                             * sample (a process we do not follow):
	                             * detached at its first stop */
	unsigned job_stopped : 1;   /* in group-stop (SIGSTOP...): left alone */
	unsigned interrupting : 1;  /* a PTRACE_INTERRUPT of ours is pending */
	unsigned late : 1;          /* ...and its stop did not come in time: it
	                             * is resumed whenever it comes */
	unsigned held : 1;          /* detaching: stopped, let go with the rest */
	char asked_state;           /* its state when the interrupt was sent */
	unsigned looked : 1;        /* look_cpu_ns is set */
	uint32_t ticks_owed;        /* --idle: ticks it was due at but not
	                             * taken (its stop still pending, or the
	                             * tick's time ran out): its next snapshot
	                             * stands for them too */
	uint64_t look_cpu_ns;       /* CPU time when a tick last found it
	                             * runnable (thread_ask) */
	uint64_t round_ns;          /* thread_spend's rounding for the stop
	                             * asked: uniform in [0, period) */
	unsigned sure : 1;          /* ...and that stop will weigh at least one
	                             * period whatever the clock says then:
	                             * the clock is read after the resume */
	uint64_t last_copy_ns;      /* when its last snapshot was copied */
	struct warm_range {         /* ...and what it copied (thread_warm) */
		uint64_t addr;
		uint64_t len;
	} warm[1 + PYREADER_PREFETCH_MAX];
	uint8_t nwarm;
};

/* A process whose threads are traced: the target, and with --subprocesses
 * its descendants. */
struct traced_proc {
	pid_t pid;
	DIR *task_dir;                   /* /proc/PID/task while attaching, or NULL */
};

struct ptrace_backend {
	struct traced_proc *procs;       /* procs[0] is the target */
	size_t nprocs, procs_cap;
	unsigned long options;           /* PTRACE_O_* every thread is seized with */
	struct traced_thread *threads;   /* sorted by tid; entries move when a
	                                  * thread is added: hold tids, not
	                                  * pointers, across event handling */
	size_t nthreads, cap;
	uint8_t *stack;                  /* one snapshot's stack copy */
	uint64_t period_ns;
	uint64_t next_tick_ns;
	uint64_t rng;                    /* xorshift64 state: credit rounding */
	int attached;                    /* the first scan is over: new threads
	                                  * are born after it */
	int exited;                      /* the whole process is gone */
	int detaching;                   /* every stop now ends in PTRACE_DETACH */
	size_t nlate;                    /* threads with a late stop to come */
	bool unreaped;                   /* a SIGCHLD was taken since waitpid
	                                  * last said no event is left: events
	                                  * may wait that no signal announces */
	pid_t rotor;                     /* the tid the next tick starts at: the
	                                  * first one a tick ran out of time for */
};

enum event_kind {
	EV_HANDLED,        /* the thread was resumed, or left as it should be */
	EV_OUR_STOP,       /* the stop we asked for: the thread waits for us */
	EV_JOB_STOPPED,    /* the thread entered a group-stop */
	EV_GONE,           /* the thread exited or was detached */
};

static struct traced_thread *adopt_thread(struct sampler *s, pid_t tid, pid_t hint);
static void thread_late_stop(struct sampler *s, pid_t tid);
static void thread_born(struct sampler *s, pid_t parent);

static struct ptrace_backend *backend_of(const struct sampler *s)
{
	return s->backend;
}

static struct traced_thread *thread_find(struct ptrace_backend *b, pid_t tid)
{
	size_t lo = 0, hi = b->nthreads;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->threads[mid].tid == tid)
			return &b->threads[mid];
		if (b->threads[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The thread with the lowest tid >= @tid, or NULL. Walking the threads by
 * tid, not by index, visits each once even when handling an event adds a
 * thread (which moves the entries after it). */
static struct traced_thread *thread_next(struct ptrace_backend *b, pid_t tid)
{
	size_t lo = 0, hi = b->nthreads;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->threads[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < b->nthreads ? &b->threads[lo] : NULL;
}

static struct traced_thread *thread_insert(struct ptrace_backend *b, pid_t tid)
{
	size_t i = b->nthreads;

	if (b->nthreads == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct traced_thread *t = realloc(b->threads, cap * sizeof(*t));

		if (!t)
			return NULL;
		b->threads = t;
		b->cap = cap;
	}
	while (i > 0 && b->threads[i - 1].tid > tid)
		i--;
	memmove(&b->threads[i + 1], &b->threads[i], (b->nthreads - i) * sizeof(b->threads[0]));
	b->nthreads++;
	memset(&b->threads[i], 0, sizeof(b->threads[i]));
	b->threads[i].tid = tid;
	b->threads[i].stat_fd = -1;
	b->threads[i].sched_fd = -1;
	return &b->threads[i];
}

/* Drop threads that are gone, keeping the array sorted. */
static void threads_compact(struct ptrace_backend *b)
{
	size_t i, j = 0;

	for (i = 0; i < b->nthreads; i++) {
		if (b->threads[i].gone) {
			if (b->threads[i].stat_fd >= 0)
				close(b->threads[i].stat_fd);
			if (b->threads[i].sched_fd >= 0)
				close(b->threads[i].sched_fd);
			continue;
		}
		b->threads[j++] = b->threads[i];
	}
	b->nthreads = j;
}

static int ptrace_resume(pid_t tid, int sig)
{
	return (int)ptrace(PTRACE_CONT, tid, NULL, (void *)(uintptr_t)sig);
}

/* @t's late stop came, or never will (it is gone). */
static void thread_not_late(struct ptrace_backend *b, struct traced_thread *t)
{
	if (!t->late)
		return;
	t->late = 0;
	if (b->nlate)
		b->nlate--;
}

/*
 * Handle one wait status of thread @tid. Signals are passed on, group-stops
 * respected (PTRACE_LISTEN keeps the thread stopped as its user asked), and
 * our own interrupt-stops are reported to the caller without resuming.
 */
static enum event_kind handle_event(struct sampler *s, pid_t tid, int status)
{
	struct ptrace_backend *b = backend_of(s);
	struct traced_thread *t = thread_find(b, tid);
	int sig, event;

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		if (t) {
			t->gone = 1;
			thread_not_late(b, t);
		}
		if (tid == s->pid) {
			/* The leader's exit is reported last, once the whole
			 * thread group is dead. */
			s->exit_status = status;
			b->exited = 1;
		}
		return EV_GONE;
	}
	if (!WIFSTOPPED(status))
		return EV_HANDLED;

	sig = WSTOPSIG(status);
	event = (unsigned)status >> 16;
	/* Detaching: the stop asked of a thread is held until every thread
	 * has stopped (ptrace_close says why). */
	if (b->detaching && t && !t->release && t->interrupting &&
	    event == PTRACE_EVENT_STOP && sig != SIGSTOP && sig != SIGTSTP &&
	    sig != SIGTTIN && sig != SIGTTOU) {
		t->interrupting = 0;
		thread_not_late(b, t);
		t->held = 1;
		return EV_OUR_STOP;
	}
	/* A thread (or, with --subprocesses, a process) the kernel attached
	 * on clone or fork may report its first stop before its parent
	 * reports the clone. */
	if (!t && !b->detaching)
		t = adopt_thread(s, tid, 0);
	if (b->detaching || !t || t->release) {
		/* Its child was attached to us too: let it go as well. */
		if (event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_FORK ||
		    event == PTRACE_EVENT_VFORK)
			thread_born(s, tid);
		/* Pass a pending signal on as we let go of the thread. */
		ptrace(PTRACE_DETACH, tid, NULL,
		       (void *)(uintptr_t)(event == 0 ? sig : 0));
		t = thread_find(b, tid);   /* thread_born may have moved it */
		if (t) {
			t->gone = 1;
			thread_not_late(b, t);
		}
		return EV_GONE;
	}

	/* Any other trap (an event, a signal's delivery) clears a pending
	 * PTRACE_INTERRUPT in the kernel ("any trap clears pending STOP
	 * trap"): no stop of ours will come, and the thread is asked again at
	 * the next tick, not skipped for ever (an exec under a late interrupt
	 * left the new program unsampled). */
	if (t->interrupting && event != PTRACE_EVENT_STOP) {
		t->interrupting = 0;
		thread_not_late(b, t);
	}
	switch (event) {
	case 0:   /* signal-delivery-stop: deliver the signal untouched */
		ptrace_resume(tid, sig);
		return EV_HANDLED;
	case PTRACE_EVENT_STOP:
		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
			t->job_stopped = 1;
			ptrace(PTRACE_LISTEN, tid, NULL, NULL);
			return EV_JOB_STOPPED;
		}
		t->job_stopped = 0;
		if (t->interrupting) {
			t->interrupting = 0;
			thread_not_late(b, t);
			return EV_OUR_STOP;
		}
		ptrace_resume(tid, 0);
		return EV_HANDLED;
	case PTRACE_EVENT_EXEC: {
		/* A new program: new mappings, and its name. A thread other
		 * than the leader that runs exec takes the leader's tid; its
		 * own tid is gone without an exit of its own (ptrace(2),
		 * "execve(2) under ptrace"). */
		unsigned long former = 0;
		pid_t pid = t->pid;

		if (ptrace(PTRACE_GETEVENTMSG, tid, NULL, &former) == 0 &&
		    former && (pid_t)former != tid && thread_find(b, (pid_t)former))
			thread_find(b, (pid_t)former)->gone = 1;
		sampler_proc_exec(s, pid, 0);   /* now: after every snapshot taken */
		ptrace_resume(tid, 0);
		return EV_HANDLED;
	}
	case PTRACE_EVENT_CLONE:
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
		/* The kernel attached the new thread (or, --subprocesses, the
		 * child process) for us. */
		thread_born(s, tid);
		ptrace_resume(tid, 0);
		return EV_HANDLED;
	default:
		ptrace_resume(tid, 0);
		return EV_HANDLED;
	}
}

/* Handle every event that is waiting, without blocking. A stop of ours
 * met here came after its tick gave up on it: its snapshot is taken and
 * the thread resumed at once (left alone, it would stay stopped until
 * hotspy exits). 0, or -ECHILD
 * when hotspy has no tracee (nor child) left. */
static int drain_events(struct sampler *s)
{
	int status;
	pid_t tid;

	while ((tid = waitpid(-1, &status, __WALL | WNOHANG)) > 0)
		if (handle_event(s, tid, status) == EV_OUR_STOP && !backend_of(s)->detaching)
			thread_late_stop(s, tid);
	if (tid == 0)
		backend_of(s)->unreaped = false;
	if (tid < 0 && errno == ECHILD) {
		backend_of(s)->exited = 1;
		return -ECHILD;
	}
	return 0;
}

/*
 * Sleep until SIGCHLD or @timeout_ns; returns a terminating signal number
 * taken from @set, or 0. A SIGCHLD taken here announces events not reaped
 * yet (b->unreaped); a timeout means none came since the last waitpid that
 * found nothing, so no waitpid is needed to know that (each one is a
 * system call, and on this kind of VM a system call costs microseconds).
 */
static int wait_signal(struct ptrace_backend *b, const sigset_t *set, uint64_t timeout_ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(timeout_ns / 1000000000ull),
		.tv_nsec = (long)(timeout_ns % 1000000000ull),
	};
	int sig = sigtimedwait(set, NULL, &ts);

	if (sig == SIGCHLD)
		b->unreaped = true;
	return sig == SIGCHLD || sig < 0 ? 0 : sig;
}

/* CPU time of @t in ns (first field of schedstat). 0 or -errno. */
static int thread_read_cpu(const struct traced_thread *t, uint64_t *cpu_ns)
{
	char buf[128];
	ssize_t n;

	if (t->sched_fd < 0)
		return -ENOENT;
	n = pread(t->sched_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	*cpu_ns = strtoull(buf, NULL, 10);
	return 0;
}

static int thread_open_stat(pid_t pid, pid_t tid)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* Start tracking thread @tid of process @pid, which is already seized;
 * @stat_fd is its open stat file (taken over), or -1 to open it here.
 * 0 or -ENOMEM. */
static int thread_track(struct sampler *s, pid_t pid, pid_t tid, int stat_fd)
{
	struct traced_thread *t = thread_insert(backend_of(s), tid);
	char path[96];

	if (!t) {
		if (stat_fd >= 0)
			close(stat_fd);
		return -ENOMEM;
	}
	t->pid = pid;
	t->stat_fd = stat_fd >= 0 ? stat_fd : thread_open_stat(pid, tid);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
	t->sched_fd = open(path, O_RDONLY | O_CLOEXEC);
	/* Time run before we came counts for nothing; a thread born since
	 * counts all of its time (cpu_ns stays 0). */
	if (!backend_of(s)->attached)
		thread_read_cpu(t, &t->cpu_ns);
	s->stats.threads_seen++;
	return 0;
}

static int thread_attach(struct sampler *s, pid_t pid, pid_t tid)
{
	if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)(uintptr_t)backend_of(s)->options) < 0)
		return -errno;
	/* Untracked, the thread is detached at its first stop. */
	return thread_track(s, pid, tid, -1);
}

static struct traced_proc *proc_find(struct ptrace_backend *b, pid_t pid)
{
	for (size_t i = 0; i < b->nprocs; i++)
		if (b->procs[i].pid == pid)
			return &b->procs[i];
	return NULL;
}

/* Follow the threads of process @pid; with @scan, its task list is read
 * while attaching. 0 or -errno. */
static int proc_add(struct sampler *s, pid_t pid, bool scan)
{
	struct ptrace_backend *b = backend_of(s);
	char path[64];
	DIR *dir = NULL;

	if (proc_find(b, pid))
		return 0;
	if (b->nprocs == b->procs_cap) {
		size_t cap = b->procs_cap ? b->procs_cap * 2 : 4;
		struct traced_proc *bigger = realloc(b->procs, cap * sizeof(*bigger));

		if (!bigger)
			return -ENOMEM;
		b->procs = bigger;
		b->procs_cap = cap;
	}
	if (scan) {
		snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
		dir = opendir(path);
		if (!dir)
			return -errno;
	}
	b->procs[b->nprocs++] = (struct traced_proc){ .pid = pid, .task_dir = dir };
	return 0;
}

/* The process (thread group) of thread @tid, from /proc; 0 when unknown. */
static pid_t thread_group(pid_t tid)
{
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if (procfs_read_small(path, buf, sizeof(buf)) <= 0)
		return 0;
	p = strstr(buf, "\nTgid:");
	return p ? (pid_t)strtol(p + 6, NULL, 10) : 0;
}

/*
 * Track @tid, a thread the kernel attached to us: a new thread of a process
 * we follow, or (--subprocesses) the first thread of a child process, whose
 * samples are unwound with its own maps. @hint is the process it most
 * likely belongs to (its parent's, for a clone), or 0. NULL when it is not
 * ours to follow or cannot be.
 */
static struct traced_thread *adopt_thread(struct sampler *s, pid_t tid, pid_t hint)
{
	struct ptrace_backend *b = backend_of(s);
	int fd = hint > 0 ? thread_open_stat(hint, tid) : -1;
	pid_t pid = hint;

	/* Its stat file under the parent's task/ answers in one open what
	 * /proc/TID/status would in three calls: most clones are threads. */
	if (fd < 0) {
		pid = thread_group(tid);
		if (pid <= 0)
			return NULL;
	}
	if (!proc_find(b, pid) &&
	    (!s->cfg.subprocesses || proc_add(s, pid, false) < 0 || !sampler_proc(s, pid))) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (thread_track(s, pid, tid, fd) < 0)
		return NULL;
	return thread_find(b, tid);
}

/*
 * @parent reported a clone or fork: the kernel has attached the child.
 * Followed when it is ours; otherwise (a process made by clone without
 * --subprocesses, or no memory) it is kept as an entry to release, so that
 * its first stop, which may come after we started to detach, lets it go.
 */
static void thread_born(struct sampler *s, pid_t parent)
{
	struct ptrace_backend *b = backend_of(s);
	unsigned long child = 0;
	struct traced_thread *t;

	struct traced_thread *p = thread_find(b, parent);

	if (ptrace(PTRACE_GETEVENTMSG, parent, NULL, &child) < 0 || !child ||
	    thread_find(b, (pid_t)child))
		return;
	if (!b->detaching && adopt_thread(s, (pid_t)child, p ? p->pid : 0))
		return;
	t = thread_insert(b, (pid_t)child);
	if (t)
		t->release = 1;
}

/* Attach to the threads of @tp that appeared since the last scan. Returns
 * how many threads it has (0: the process is gone). */
static int scan_process(struct sampler *s, struct traced_proc *tp)
{
	struct ptrace_backend *b = backend_of(s);
	struct dirent *de;
	int found = 0;

	s->stats.thread_scans++;
	rewinddir(tp->task_dir);
	while ((de = readdir(tp->task_dir))) {
		pid_t tid = (pid_t)strtol(de->d_name, NULL, 10);
		struct traced_thread *t;

		if (tid <= 0)
			continue;
		found++;
		t = thread_find(b, tid);
		if (!t) {
			int err = thread_attach(s, tp->pid, tid);

			/* ESRCH: it exited between the listing and now. */
			if (err < 0 && err != -ESRCH)
				log_debug("cannot attach to thread %d: %s", (int)tid,
					  strerror(-err));
		}
	}
	return found;
}

/* While attaching: attach to the threads of every process listed in its
 * task directory since the last scan. Returns how many threads are listed
 * in all. */
static int scan_threads(struct sampler *s)
{
	struct ptrace_backend *b = backend_of(s);
	int found = 0;

	for (size_t i = 0; i < b->nprocs; i++)
		if (b->procs[i].task_dir)
			found += scan_process(s, &b->procs[i]);
	return found;
}

/* The attach is over: from now on threads come and go by events. */
static void scan_done(struct ptrace_backend *b)
{
	for (size_t i = 0; i < b->nprocs; i++) {
		if (b->procs[i].task_dir)
			closedir(b->procs[i].task_dir);
		b->procs[i].task_dir = NULL;
	}
}

/* Read state and name of @t; 0, or -errno when the thread is gone. */
static int thread_read_stat(struct traced_thread *t, char *state)
{
	char buf[512];
	ssize_t n;

	if (t->stat_fd < 0)
		return -ESRCH;
	n = pread(t->stat_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -ESRCH;
	return target_parse_stat(buf, (size_t)n, state, t->comm, sizeof(t->comm));
}

static void regs_to_snapshot(const struct user_regs_struct *r, uint64_t *regs)
{
	regs[SNAP_RAX] = r->rax;
	regs[SNAP_RDX] = r->rdx;
	regs[SNAP_RCX] = r->rcx;
	regs[SNAP_RBX] = r->rbx;
	regs[SNAP_RSI] = r->rsi;
	regs[SNAP_RDI] = r->rdi;
	regs[SNAP_RBP] = r->rbp;
	regs[SNAP_RSP] = r->rsp;
	regs[SNAP_R8] = r->r8;
	regs[SNAP_R9] = r->r9;
	regs[SNAP_R10] = r->r10;
	regs[SNAP_R11] = r->r11;
	regs[SNAP_R12] = r->r12;
	regs[SNAP_R13] = r->r13;
	regs[SNAP_R14] = r->r14;
	regs[SNAP_R15] = r->r15;
	regs[SNAP_RIP] = r->rip;
}

/* Copy the live part of the stack: from RSP up to the end of its mapping,
 * at most --stack-size bytes. */
/*
 * Copy the stack of @snap's thread and, in the same process_vm_readv after
 * it, the @nmore ranges @more_remote into @more_local (the Python reader's
 * guess of what it will read: one system call fewer while the thread is
 * held). Returns the bytes of those ranges copied (in order; 0 when the
 * stack was not copied whole).
 */
static size_t copy_stack(struct sampler *s, struct snapshot *snap,
			 const struct iovec *more_local, const struct iovec *more_remote,
			 size_t nmore)
{
	struct ptrace_backend *b = backend_of(s);
	struct sampler_proc *p = sampler_proc(s, snap->pid);
	const struct mapping *m = p ? maps_find(p->maps, snap->stack_addr) : NULL;
	struct iovec local[1 + PYREADER_PREFETCH_MAX], remote[1 + PYREADER_PREFETCH_MAX];
	uint64_t avail;
	ssize_t n;

	if (!m && p && sampler_reload_maps(s, p, 0) == 0)
		m = maps_find(p->maps, snap->stack_addr);
	if (!m)
		return 0;
	avail = m->end - snap->stack_addr;
	snap->stack_len = avail < s->cfg.stack_size ? (size_t)avail : s->cfg.stack_size;
	snap->stack_cut = avail > s->cfg.stack_size;
	local[0].iov_base = b->stack;
	local[0].iov_len = snap->stack_len;
	remote[0].iov_base = (void *)(uintptr_t)snap->stack_addr;
	remote[0].iov_len = snap->stack_len;
	if (nmore > PYREADER_PREFETCH_MAX)
		nmore = 0;
	for (size_t i = 0; i < nmore; i++) {
		local[1 + i] = more_local[i];
		remote[1 + i] = more_remote[i];
	}
	/* Through the thread itself, stopped so alive: the process's main
	 * thread may have exited, and its pid reads nothing then. */
	n = process_vm_readv(snap->tid, local, 1 + nmore, remote, 1 + nmore, 0);
	if (n <= 0) {
		snap->stack_len = 0;
		return 0;
	}
	if ((size_t)n <= snap->stack_len) {
		snap->stack_len = (size_t)n;
		return 0;
	}
	return (size_t)n - snap->stack_len;
}

/*
 * True when @regs show a thread stopped inside a system call that sleeps.
 * A thread just woken from one is 'R' while it waits for a CPU, yet it is
 * not running: on-CPU time must not land there, as perf's task-clock never
 * samples it there. (orig_rax is the call number while a thread is in a
 * system call, -1 in user code: arch/x86/include/asm/ptrace.h.) Calls that
 * may burn CPU in the kernel, such as read, are not on the list.
 */
static int regs_in_sleeping_syscall(const struct user_regs_struct *regs)
{
	switch ((long)regs->orig_rax) {
	case SYS_nanosleep:
	case SYS_clock_nanosleep:
	case SYS_futex:
	case SYS_epoll_wait:
	case SYS_epoll_pwait:
	case SYS_poll:
	case SYS_ppoll:
	case SYS_select:
	case SYS_pselect6:
	case SYS_pause:
	case SYS_rt_sigsuspend:
	case SYS_rt_sigtimedwait:
	case SYS_wait4:
	case SYS_waitid:
		return 1;
	default:
		return 0;
	}
}

/* Add the CPU time @t used since the last look to its credit. 0, or -errno
 * when schedstat cannot be read. */
static int thread_earn(struct traced_thread *t)
{
	uint64_t cpu;
	int err = thread_read_cpu(t, &cpu);

	if (err < 0)
		return err;
	t->credit_ns += (int64_t)(cpu - t->cpu_ns);
	t->cpu_ns = cpu;
	return 0;
}

/* xorshift64: the jitter of ticks and the rounding of credit. */
static uint64_t backend_random(struct ptrace_backend *b)
{
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	return b->rng;
}

/*
 * The time to the next tick: uniform in [0.5, 1.5) periods. A fixed grid
 * locks step with a target that does something every period (a 100 Hz timer
 * loop, a thread started every 10 ms) and then sees it always at the same
 * phase, or never; jittered ticks keep the rate and have no phase to lock.
 */
static uint64_t tick_interval(struct ptrace_backend *b)
{
	return b->period_ns / 2 + backend_random(b) % b->period_ns;
}

/* Periods of on-CPU time a snapshot of @t taken now stands for, taken from
 * its credit with random rounding (t->round_ns, drawn when it was asked to
 * stop); 0 to wait for a better moment. */
static uint64_t thread_spend(struct ptrace_backend *b, struct traced_thread *t)
{
	int64_t period = (int64_t)b->period_ns;
	uint64_t weight;

	if (t->credit_ns <= 0)
		return 0;
	weight = (uint64_t)(t->credit_ns + (int64_t)t->round_ns) / (uint64_t)period;
	t->credit_ns -= (int64_t)weight * period;
	return weight;
}

/* What thread_warm will touch before @t's next stop: what was copied now. */
static void thread_remember_copy(struct traced_thread *t, const struct snapshot *snap,
				 const struct iovec *more, size_t nmore)
{
	t->nwarm = 0;
	t->last_copy_ns = sampler_now_ns();
	if (!snap->stack_len)
		return;
	t->warm[t->nwarm++] = (struct warm_range){ snap->stack_addr, snap->stack_len };
	for (size_t i = 0; i < nmore && t->nwarm < 1 + PYREADER_PREFETCH_MAX; i++)
		t->warm[t->nwarm++] = (struct warm_range){ (uint64_t)(uintptr_t)more[i].iov_base,
							   more[i].iov_len };
}

/*
 * @tid is stopped by us (asked at @t0, stopped since @t_stopped; @state
 * was its state when asked): copy its registers, stack and (@py) Python
 * frames, resume it, then unwind and deliver the snapshot.
 */
static void thread_snapshot(struct sampler *s, pid_t tid, char state, uint64_t t0,
			    uint64_t t_stopped, struct pyreader *py)
{
	struct user_regs_struct regs;
	struct iovec iov = { .iov_base = &regs, .iov_len = sizeof(regs) };
	struct snapshot snap;
	struct traced_thread *t;
	uint64_t t1, weight = 1;
	bool deferred = false, no_credit = false;
	long rc;

	/* Events handled while waiting may have added threads (a clone),
	 * moving the array. */
	t = thread_find(backend_of(s), tid);
	if (!t) {
		ptrace_resume(tid, 0);
		return;
	}

	memset(&snap, 0, sizeof(snap));
	snap.pid = t->pid;
	snap.tid = tid;
	snap.state = state;
	snap.comm = t->comm;
	/* The instant of the registers: after the stop, and after an exec
	 * that the wait for it may have handled (the snapshot is then the
	 * new program's: sampler_deliver picks the program by this time). */
	snap.time_ns = t_stopped;
	snap.stack = backend_of(s)->stack;
	rc = ptrace(PTRACE_GETREGSET, tid, (void *)(uintptr_t)NT_PRSTATUS, &iov);
	if (rc == 0 && !s->cfg.idle && regs_in_sleeping_syscall(&regs)) {
		/* Not on a CPU after all: its time is counted at a better
		 * moment. */
		deferred = true;
	} else if (rc == 0 && !s->cfg.idle && !t->sure && thread_earn(t) == 0 &&
		   !(weight = thread_spend(backend_of(s), t))) {
		/*
		 * The stop brought the thread's CPU clock up to this moment:
		 * the weight is the CPU time it used since its previous
		 * snapshot (without the clock, no schedstat: one period). When
		 * that rounds to nothing, nothing is copied: the thread is
		 * resumed at once (on a crowded CPU most stops at 100 Hz end
		 * here, and the copies were hotspy's CPU and the target's hold
		 * for nothing).
		 */
		no_credit = true;
	} else if (rc == 0) {
		struct iovec pf_local[PYREADER_PREFETCH_MAX], pf_remote[PYREADER_PREFETCH_MAX];
		size_t npf = py ? pyreader_prefetch(py, tid, pf_local, pf_remote,
						    PYREADER_PREFETCH_MAX) : 0;
		size_t prefetched;

		regs_to_snapshot(&regs, snap.regs);
		snap.stack_addr = snap.regs[SNAP_RSP];
		prefetched = copy_stack(s, &snap, pf_local, pf_remote, npf);
		thread_remember_copy(t, &snap, pf_remote, npf);
		/* The Python frames of the same instant; their code objects
		 * are read once the thread runs again. */
		if (py && pyreader_capture_stack(py, tid, snap.stack_addr, snap.stack,
						 snap.stack_len, prefetched, s->pystack) == 0)
			snap.py = s->pystack;
		/* dump --locals: the values of this instant, read before the
		 * thread runs on and changes them (more reads while it is
		 * held: only dump asks for them). */
		if (snap.py && s->pylocals) {
			pylocals_clear(s->pylocals);
			if (pyreader_locals(py, snap.py, s->pylocals) != -ENOMEM)
				snap.locals = s->pylocals;
		}
	}
	ptrace_resume(tid, 0);
	t1 = sampler_now_ns();
	/* The clock as the stop left it: the thread, just woken, has not yet
	 * been charged for running again (that happens at the scheduler's
	 * next tick or switch; a tick in between adds microseconds, which
	 * the next snapshot would have counted). */
	if (rc == 0 && !s->cfg.idle && t->sure && !deferred && thread_earn(t) == 0)
		weight = thread_spend(backend_of(s), t);

	s->stats.stopped_ns += t1 - t0;
	if (t1 - t0 > s->stats.stopped_max_ns)
		s->stats.stopped_max_ns = t1 - t0;
	s->stats.capture_ns += t1 - t0;
	sampler_hist_add(&s->stats.held_hist, t1 - t0);
	sampler_hist_add(&s->stats.stopping_hist, t_stopped - t0);
	sampler_hist_add(&s->stats.reading_hist, t1 - t_stopped);
	if (rc < 0) {
		s->stats.failed++;
		return;
	}
	if (deferred) {
		s->stats.deferred++;
		return;
	}
	if (no_credit) {
		s->stats.skipped_idle++;
		return;
	}
	/* Wall-clock time: the ticks this thread missed (a busy thread
	 * waiting for a CPU reaches its stop late, a sleeping one at once)
	 * count here, or the threads slow to stop would lose share. */
	if (s->cfg.idle) {
		weight += t->ticks_owed;
		t->ticks_owed = 0;
	}
	sampler_hist_add(&s->stats.sampled_hist, t1 - t_stopped);
	snap.weight = weight;
	s->stats.snapshots++;
	sampler_deliver(s, &snap);
}



/* The stop asked of @tid at a tick came after the tick gave up on it: the
 * thread is stopped anyway, so its snapshot is taken now (dump needs one
 * of every thread), while a poll delivers samples; otherwise it is only
 * resumed. */
static void thread_late_stop(struct sampler *s, pid_t tid)
{
	struct traced_thread *t = thread_find(backend_of(s), tid);
	struct sampler_proc *proc;
	struct pyreader *py = NULL;
	uint64_t now = sampler_now_ns();

	if (!t || !s->fn) {
		ptrace_resume(tid, 0);
		return;
	}
	/* No first look for an interpreter here: that reads files. */
	proc = sampler_proc(s, t->pid);
	if (proc && proc->python.state == SAMPLER_PYTHON_READY)
		py = proc->python.reader;
	thread_snapshot(s, tid, t->asked_state, now, now, py);
}

/*
 * Before @t is asked to stop, when its last snapshot is WARM_AFTER_NS old
 * or more: read one byte of each page that snapshot copied (its stack, and
 * what the Python reader had copied with it), while the thread still runs.
 * Ten milliseconds after the last stop (100 Hz), the kernel's side of the
 * copy is cold: the first system calls after a sleep cost several times
 * their warm price on this kind of VM (a schedstat read 23 us after 10 ms,
 * 1.6 us back to back), and a cold process_vm_readv of the same pages took
 * twice as long while the thread was held. One read of a byte per page walks
 * the same page tables and brings the same kernel paths in, at the cost of
 * one system call out of the hold. The bytes are not used: the copy made
 * while the thread is stopped is the snapshot. At higher rates the caches
 * are still warm, and nothing is done.
 */
static void thread_warm(struct traced_thread *t)
{
	uint8_t scratch[WARM_PAGES_MAX];
	struct iovec local = { scratch, 0 }, remote[WARM_PAGES_MAX];
	size_t k = 0;

	if (!t->nwarm || sampler_now_ns() - t->last_copy_ns < WARM_AFTER_NS)
		return;
	for (size_t i = 0; i < t->nwarm && k < WARM_PAGES_MAX; i++) {
		uint64_t a = t->warm[i].addr, end = a + t->warm[i].len;

		for (; a < end && k < WARM_PAGES_MAX; a = (a | 4095) + 1)
			remote[k++] = (struct iovec){ (void *)(uintptr_t)a, 1 };
	}
	local.iov_len = k;
	process_vm_readv(t->tid, &local, 1, remote, k, 0);
}

/*
 * Ask @t to stop if it is due (running, or --idle): PTRACE_INTERRUPT, not
 * waited for here. Returns true when it was asked (t->interrupting set,
 * its Python reader in *@py, the time of the ask in *@t0), false when it is not due or cannot be asked.
 */
static bool thread_ask(struct sampler *s, struct traced_thread *t, struct pyreader **py,
		       uint64_t *t0)
{
	struct sampler_proc *proc;
	bool looked_now = false;
	char state;

	/*
	 * On-CPU time: a thread that used no CPU since the last tick looked
	 * is not due: it slept, or it was runnable but waited for a CPU all
	 * along (a thread's clock is brought up to date when it leaves a
	 * CPU, so that of a thread off a CPU is exact). With more busy
	 * threads than CPUs most runnable threads are such, and asking each
	 * at each tick, to find it used nothing, took hotspy more CPU than
	 * the scheduler gave it (64 busy threads on 2 CPUs: 1 tick in 8
	 * taken); one read of schedstat tells, before the stat file is read.
	 * A thread that got a CPU within the last scheduler tick may be left
	 * for the next tick; its time is not lost (thread_spend).
	 */
	if (!s->cfg.idle) {
		uint64_t cpu;

		if (thread_read_cpu(t, &cpu) == 0) {
			bool still = t->looked && cpu == t->look_cpu_ns;

			t->look_cpu_ns = cpu;
			t->looked = 1;
			looked_now = true;
			if (still) {
				s->stats.skipped_idle++;
				return false;
			}
		}
	}
	if (thread_read_stat(t, &state) < 0) {
		t->gone = 1;
		return false;
	}
	/* Never interrupt a zombie (it would not stop) nor a stopped thread. */
	if (state == 'Z' || state == 'X' || state == 'T' || state == 't')
		return false;
	/*
	 * On-CPU time: only a thread running now is stopped (a sleeping one is
	 * never interrupted: a stop can end some blocking calls, epoll_wait,
	 * with EINTR in the target). How much CPU it used since its last
	 * sample is read after the stop (thread_spend), not before: the CPU
	 * clock of a running thread is brought up to date only when it stops
	 * or makes certain system calls, so a decision taken on the clock
	 * before the stop would favour the moments after such calls (a
	 * program reading its own CPU clock between two parts of its work
	 * had the shorter part counted up to 10 points high).
	 */
	if (!s->cfg.idle && state != 'R') {
		s->stats.skipped_idle++;
		return false;
	}
	/* Still on its way to the stop asked at an earlier tick (a thread
	 * in vfork or waiting for a CPU): never asked again; its snapshot is
	 * taken when that stop comes, and stands for its CPU time meanwhile,
	 * so for on-CPU time nothing is skipped (a thread waiting for a CPU
	 * uses none). Wall-clock time (--idle) has lost this tick's
	 * snapshot. */
	if (t->interrupting) {
		if (s->cfg.idle) {
			s->stats.skipped_late++;
			t->ticks_owed++;
		}
		return false;
	}

	/* A first look for a Python interpreter reads files: not while the
	 * thread is held. */
	proc = sampler_proc(s, t->pid);
	*py = proc ? sampler_python(s, proc) : NULL;
	/* What the hold will do, done now while the thread runs. */
	if (*py)
		pyreader_warm(*py);
	thread_warm(t);

	*t0 = sampler_now_ns();
	if (ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL) < 0) {
		t->gone = errno == ESRCH;
		s->stats.failed++;
		return false;
	}
	t->interrupting = 1;
	t->asked_state = state;
	/*
	 * The clock read just now is behind the one the stop will bring (it
	 * lags a running thread by up to a scheduler tick), never ahead: when
	 * the credit it shows already rounds to a period or more, the stop
	 * will weigh at least that, and the clock need not be read while the
	 * thread is held (one system call fewer in the hold; the usual case
	 * at 100 Hz). The rounding is drawn now for either case.
	 */
	t->round_ns = backend_random(backend_of(s)) % backend_of(s)->period_ns;
	t->sure = !s->cfg.idle && looked_now && t->look_cpu_ns >= t->cpu_ns &&
		  t->credit_ns + (int64_t)(t->look_cpu_ns - t->cpu_ns) + (int64_t)t->round_ns >=
			  (int64_t)backend_of(s)->period_ns;
	return true;
}

/* A stop asked at this tick, not seen yet. */
struct asked {
	pid_t tid;
	char state;             /* its state when asked */
	uint64_t t0;            /* when asked */
	struct pyreader *py;
};

/*
 * Stops asked at a tick and waited for: at most ASK_WINDOW at once. A
 * thread on a CPU stops within tens of microseconds; one that waits for a
 * CPU (more busy threads than CPUs) stops only when the scheduler gives it
 * one, which can take a scheduler period or more. Asking every thread at
 * once stops the whole process as each one gets a CPU, and the last ones
 * wait stopped while the others are read (py-spy's pause of the whole
 * process: stop time per thread growing with the threads); asking one at
 * a time and waiting for it made a tick wait for each thread's turn on a
 * CPU in series (64 busy threads on 2 CPUs: 1 tick of 8 taken). So a few
 * stops are asked at once, and a thread that has not stopped within
 * ASK_WAIT_NS is taken as off a CPU: it is waited for no more, its
 * interrupt stays pending, and its stop, when the scheduler runs it, is
 * read at once (thread_late_stop) wherever hotspy is then.
 */
#define ASK_WINDOW 4
#define ASK_WAIT_NS (200ull * 1000)

struct ask_window {
	struct asked a[ASK_WINDOW];
	size_t n;
};

/* @w->a[i] is waited for no more: its stop is taken when it comes. */
static void window_give_up(struct sampler *s, struct ask_window *w, size_t i)
{
	struct ptrace_backend *b = backend_of(s);
	struct traced_thread *t = thread_find(b, w->a[i].tid);

	if (t && t->interrupting && !t->late) {
		t->late = 1;
		b->nlate++;
	}
	w->a[i] = w->a[--w->n];
}

/*
 * Wait until a stop of @w comes (snapshot taken, slot freed) or a slot is
 * given up (ASK_WAIT_NS), or @deadline, when every slot is given up.
 * Other events met on the way are handled; a late stop of an earlier ask
 * is read at once. Returns false when @deadline has passed.
 */
static bool window_wait(struct sampler *s, struct ask_window *w, uint64_t deadline)
{
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	while (w->n) {
		uint64_t now, wake;
		size_t before = w->n;
		int status;
		pid_t tid = 0;

		/*
		 * Every event that came since the last waitpid that found none
		 * raised a SIGCHLD that nobody took: when none was taken, the
		 * stops just asked for are waited for by sleeping first (a
		 * stop that came already ends the sleep at once), one waitpid
		 * fewer per stop.
		 */
		while (backend_of(s)->unreaped &&
		       (tid = waitpid(-1, &status, __WALL | WNOHANG)) > 0) {
			size_t i;

			for (i = 0; i < w->n && w->a[i].tid != tid; i++)
				;
			switch (handle_event(s, tid, status)) {
			case EV_OUR_STOP:
				if (i < w->n) {
					struct asked a = w->a[i];

					w->a[i] = w->a[--w->n];
					thread_snapshot(s, tid, a.state, a.t0, sampler_now_ns(), a.py);
				} else {
					thread_late_stop(s, tid);
				}
				break;
			case EV_GONE:
			case EV_JOB_STOPPED:
				/* No stop of ours will come (a group-stop
				 * keeps it until it is continued). */
				if (i < w->n) {
					s->stats.failed++;
					w->a[i] = w->a[--w->n];
				}
				break;
			case EV_HANDLED:
				/* Another trap cleared a pending interrupt:
				 * asked again at the next tick. */
				if (i < w->n) {
					struct traced_thread *t = thread_find(backend_of(s), tid);

					if (!t || !t->interrupting)
						w->a[i] = w->a[--w->n];
				}
				break;
			}
		}
		if (tid == 0)
			backend_of(s)->unreaped = false;
		if (tid < 0 && errno == ECHILD) {
			backend_of(s)->exited = 1;
			w->n = 0;
			return false;
		}
		now = sampler_now_ns();
		if (now >= deadline) {
			while (w->n)
				window_give_up(s, w, 0);
			return false;
		}
		for (size_t i = 0; i < w->n;) {
			if (now - w->a[i].t0 >= ASK_WAIT_NS)
				window_give_up(s, w, i);
			else
				i++;
		}
		if (w->n < before)
			return true;
		wake = deadline;
		for (size_t i = 0; i < w->n; i++)
			if (w->a[i].t0 + ASK_WAIT_NS < wake)
				wake = w->a[i].t0 + ASK_WAIT_NS;
		wait_signal(backend_of(s), &chld, wake > now ? wake - now : 0);
	}
	return true;
}

static uint64_t tick_budget(const struct ptrace_backend *b)
{
	return b->period_ns > TICK_BUDGET_MIN_NS ? b->period_ns : TICK_BUDGET_MIN_NS;
}

/* A signal that ends the recording (or SIGTSTP) is waiting: the tick gives
 * way to it. */
static bool signal_waiting(void)
{
	sigset_t pending;

	if (sigpending(&pending) < 0)
		return false;
	return sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1 ||
	       sigismember(&pending, SIGHUP) == 1 || sigismember(&pending, SIGTSTP) == 1;
}

/* Whether @t would be asked to stop at a tick (thread_ask): running and
 * on a CPU since the last look, or any state with --idle. */
static bool thread_due(struct sampler *s, struct traced_thread *t)
{
	uint64_t cpu;
	char state;

	if (t->gone || t->job_stopped || t->release)
		return false;
	/* On-CPU time: as thread_ask, no CPU used since the last look. */
	if (!s->cfg.idle && t->looked && thread_read_cpu(t, &cpu) == 0 && cpu == t->look_cpu_ns)
		return false;
	if (thread_read_stat(t, &state) < 0)
		return false;
	if (state == 'Z' || state == 'X' || state == 'T' || state == 't')
		return false;
	return s->cfg.idle || state == 'R';
}

/*
 * One tick: a snapshot of each thread due, asked ASK_WINDOW at a time
 * (window_wait), until @deadline. By tid, from where the last tick ran out
 * of time (the rotor), round to it, so that no thread is always the one
 * left out; a thread born while another is sampled (its clone event is
 * handled then) is sampled at most once in this tick, and no other thread
 * is skipped. When the time is up or a signal is waiting, the threads not
 * reached that were due are counted as skipped.
 */
static void sample_threads(struct sampler *s, uint64_t deadline)
{
	struct ptrace_backend *b = backend_of(s);
	struct ask_window w = { .n = 0 };
	struct traced_thread *t;
	pid_t start = b->rotor, next = start;
	bool wrapped = start == 0, out_of_time = false, asked = false;

	for (;;) {
		struct pyreader *py = NULL;
		uint64_t t0 = 0;

		/* A late stop that came meanwhile is resumed now, not at the
		 * next tick. Entries may move: the walk holds tids. */
		if (b->nlate && !w.n)
			drain_events(s);
		t = thread_next(b, next);
		if (!t && !wrapped) {
			wrapped = true;
			next = 0;
			continue;
		}
		if (!t || (wrapped && start && t->tid >= start))
			break;
		next = t->tid + 1;
		if (t->gone || t->job_stopped || t->release)
			continue;
		/* The tick began right after a wait that took no signal: the
		 * first ask needs no look (one system call per tick). */
		if (!out_of_time && (sampler_now_ns() >= deadline || (asked && signal_waiting()))) {
			out_of_time = true;
			b->rotor = t->tid;
		}
		if (out_of_time) {
			if (thread_due(s, t) && (s->cfg.idle || !t->interrupting)) {
				s->stats.skipped_late++;
				t->ticks_owed += s->cfg.idle;
			}
			continue;
		}
		if (!thread_ask(s, t, &py, &t0))
			continue;
		asked = true;
		w.a[w.n++] = (struct asked){ .tid = t->tid, .state = t->asked_state,
					     .t0 = t0, .py = py };
		/* A full window: wait for a slot (the walk goes on from the
		 * next tid, whatever the wait added or removed). */
		if (w.n == ASK_WINDOW && !window_wait(s, &w, deadline)) {
			out_of_time = true;
			b->rotor = next;
		}
	}
	/* The last stops asked; given up at the deadline, they are read when
	 * they come. */
	while (w.n)
		if (!window_wait(s, &w, deadline))
			break;
	if (!out_of_time)
		b->rotor = 0;
}

static int ptrace_poll(struct sampler *s)
{
	struct ptrace_backend *b = backend_of(s);
	sigset_t set;
	uint64_t now, missed;

	sampler_signal_set(&set);
	for (;;) {
		if (b->unreaped)
			drain_events(s);
		if (b->exited)
			return SAMPLER_EXITED;
		now = sampler_now_ns();
		/* Checked even when ticks run late, so Ctrl-C always ends. */
		s->signal = wait_signal(b, &set, now < b->next_tick_ns ? b->next_tick_ns - now : 0);
		if (s->signal)
			return SAMPLER_SIGNALLED;
		now = sampler_now_ns();
		if (now >= b->next_tick_ns)
			break;
	}

	/* When we fell behind, skip, don't burst. */
	missed = (now - b->next_tick_ns) / b->period_ns;
	s->stats.ticks_missed += missed;
	b->next_tick_ns += missed * b->period_ns + tick_interval(b);
	s->stats.ticks++;

	threads_compact(b);
	if (b->nthreads == 0) {
		b->exited = 1;
		return SAMPLER_EXITED;
	}
	sample_threads(s, now + tick_budget(b));
	return SAMPLER_TICK;
}

static int attach_error(pid_t pid, int err)
{
	char why[384];
	int tracer;

	if (err == ESRCH)
		return log_error(-err, "cannot attach to %d: no such process (check the PID with ps)",
				 (int)pid);
	/* /proc refuses another user's maps with EACCES before ptrace would
	 * refuse with EPERM: the cause and the remedy are the same. */
	if (err == EACCES)
		err = EPERM;
	if (err != EPERM)
		return log_error(-err, "cannot attach to %d: %s", (int)pid, strerror(err));
	tracer = target_tracer(pid);
	if (tracer > 0)
		return log_error(-err, "cannot attach to %d: it is already traced by process %d "
				 "(a debugger or another profiler); detach that one first",
				 (int)pid, tracer);
	if (geteuid() != 0 && target_access_problem(pid, why, sizeof(why)))
		return log_error(-err, "cannot attach to %d: operation not permitted: %s",
				 (int)pid, why);
	if (geteuid() != 0)
		return log_error(-err, "cannot attach to %d: operation not permitted, though it is "
				 "this user's and no ptrace_scope forbids it \xe2\x80\x94 it may "
				 "have changed its credentials (setuid) or a security module or "
				 "seccomp forbids ptrace; run as root", (int)pid);
	target_root_problem(pid, why, sizeof(why));
	return log_error(-err, "cannot attach to %d: operation not permitted: %s", (int)pid, why);
}

/* With --subprocesses, the descendants that exist at the attach. */
static int attach_descendants(struct sampler *s)
{
	pid_t *kids = NULL;
	size_t n = 0;
	int err = target_descendants(s->pid, &kids, &n);

	for (size_t i = 0; err == 0 && i < n; i++) {
		/* Gone since it was listed, or not ours to trace: skipped. */
		if (proc_add(s, kids[i], true) == 0 && !sampler_proc(s, kids[i]))
			log_debug("cannot read process %d: %s", (int)kids[i], strerror(errno));
	}
	free(kids);
	return err;
}

static int ptrace_open_pid(struct sampler *s)
{
	struct sampler_proc *target;
	pid_t pid = s->cfg.pid;
	int err, prev = -1, found;

	pid_t first;

	s->pid = pid;
	err = target_comm(pid, s->comm, sizeof(s->comm));
	if (err < 0)
		return attach_error(pid, -err);
	target = sampler_target(s);
	if (!target)
		return attach_error(pid, errno);
	/* sampler_open has refused kernel threads and zombies: no maps now
	 * means it exited in between. */
	if (maps_count(target->maps) == 0)
		return log_error(-ESRCH, "cannot attach to %d: it exited while hotspy "
				 "attached", (int)pid);
	err = proc_add(s, pid, true);
	if (err < 0)
		return attach_error(pid, -err);

	/* The main thread first: its error is the one to report. A main
	 * thread that has exited (pthread_exit) cannot be traced: a live
	 * thread instead, and the scan finds the others. */
	first = target_live_thread(pid);
	err = first > 0 ? thread_attach(s, pid, first) : -ESRCH;
	if (err < 0)
		return attach_error(pid, -err);
	if (s->cfg.subprocesses) {
		err = attach_descendants(s);
		if (err < 0)
			return log_error(err, "cannot list the child processes of %d: %s",
					 (int)pid, strerror(-err));
	}
	/* Threads may be created while we attach, by threads not yet seized
	 * (so not attached by the kernel): scan until nothing new shows up.
	 * Threads that exit meanwhile are reported as events. */
	while ((found = scan_threads(s)) != prev)
		prev = found;
	scan_done(backend_of(s));
	backend_of(s)->attached = 1;
	return 0;
}

static int ptrace_open_command(struct sampler *s)
{
	const char *base = strrchr(s->cfg.argv[0], '/');
	pid_t pid;
	int err;

	pid = target_spawn(s->cfg.argv, backend_of(s)->options);
	if (pid < 0)
		return pid;
	s->pid = pid;
	snprintf(s->comm, sizeof(s->comm), "%s", base ? base + 1 : s->cfg.argv[0]);
	/* Stopped at its exec: the new program's mappings are in place. */
	err = sampler_target(s) ? 0 : -errno;
	if (err == 0)
		err = proc_add(s, pid, false);
	if (err == 0)
		err = thread_track(s, pid, pid, -1);
	if (err < 0) {
		char name[sizeof(s->comm)];

		ptrace(PTRACE_DETACH, pid, NULL, NULL);
		name[0] = '\0';
		text_append_safe(name, sizeof(name), 0, s->comm);
		return log_error(err, "cannot follow %s (pid %d): %s", name, (int)pid,
				 strerror(-err));
	}
	backend_of(s)->attached = 1;
	ptrace_resume(pid, 0);
	return 0;
}

/* The state letter of @t, 'X' when it is gone. */
static char thread_state(struct traced_thread *t)
{
	char state;

	return thread_read_stat(t, &state) < 0 ? 'X' : state;
}

/*
 * Wait until @deadline for the stops asked of the threads (every thread
 * with an interrupt pending, or with @all every thread not gone): each is
 * handled as handle_event says (resumed, or in detaching mode detached).
 * Ends early once every thread waited for has been in uninterruptible
 * sleep for DETACH_D_GRACE_NS. Returns how many are still awaited.
 */
static size_t collect_stops(struct sampler *s, uint64_t deadline, bool all)
{
	struct ptrace_backend *b = backend_of(s);
	uint64_t stuck_since = 0;
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		size_t left = 0, stuck = 0;
		uint64_t now;

		if (drain_events(s) == -ECHILD)
			return 0;   /* no tracee left at all */
		for (size_t i = 0; i < b->nthreads; i++) {
			struct traced_thread *t = &b->threads[i];
			char state;

			if (t->gone || t->held || (!all && !t->interrupting))
				continue;
			/* A thread that exited and waits to be reaped (a
			 * group leader is reported last) stops no more. */
			state = thread_state(t);
			if (state == 'Z' || state == 'X') {
				t->gone = 1;
				thread_not_late(b, t);
				continue;
			}
			left++;
			/* Uninterruptible sleep: no PTRACE_INTERRUPT reaches it */
			stuck += state == 'D';
		}
		now = sampler_now_ns();
		if (!left || now >= deadline)
			return left;
		if (stuck < left)
			stuck_since = 0;
		else if (!stuck_since)
			stuck_since = now;
		else if (now - stuck_since >= DETACH_D_GRACE_NS)
			return left;
		wait_signal(b, &chld, deadline - now < 1000000 ? deadline - now : 1000000);
	}
}

/*
 * SIGCHLD handler, installed once the detach has given up on a thread
 * that had not stopped in time: let go of every tracee that stops (its
 * interrupt was pending), passing a pending signal on. The tracer thread
 * is busy naming and writing by then, and only the tracer can detach, so
 * this is done in a handler, with system calls alone (nothing else is
 * touched). waitid with WSTOPPED alone takes stops, never an exit: the
 * exit status of a program hotspy started stays for its own waitpid.
 */
static void straggler_release(int sig)
{
	int saved = errno;
	siginfo_t si;

	(void)sig;
	for (;;) {
		si.si_pid = 0;
		if (waitid(P_ALL, 0, &si, WSTOPPED | WNOHANG | __WALL) < 0 || si.si_pid == 0)
			break;
		/* A signal-delivery-stop's status is the signal; event and
		 * group-stops carry the event above the low byte. */
		ptrace(PTRACE_DETACH, si.si_pid, NULL,
		       (void *)(uintptr_t)(si.si_status >> 8 ? 0 : si.si_status));
	}
	errno = saved;
}

/* From now on every tracee is let go the moment it stops. */
static void stragglers_watch(void)
{
	struct sigaction sa;
	sigset_t chld;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = straggler_release;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGCHLD, &sa, NULL) < 0)
		return;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
	/* A stop that came before the handler was there. */
	straggler_release(SIGCHLD);
}

static void ptrace_close(struct sampler *s)
{
	struct ptrace_backend *b = backend_of(s);
	uint64_t t0 = sampler_now_ns();
	size_t left;

	if (!b)
		return;
	/* Late stops of ours are resumed first: from now on a stop detaches. */
	drain_events(s);
	b->detaching = 1;
	/*
	 * A thread can only be detached in a stop. Every thread is asked to
	 * stop at once, and each stop is held until all have come (or the
	 * deadline): a thread that gets little CPU (more busy threads than
	 * CPUs, a low priority) then gets the CPUs of those already stopped
	 * and reaches its stop at once, where letting each go at its stop
	 * left the slowest ones waiting for seconds, to stop later and stay
	 * held until hotspy exited, through naming and writing. So every
	 * thread is let go before this returns, in the time of the slowest
	 * stop, at most DETACH_DEADLINE_NS; no thread is held longer. A
	 * thread with an interrupt pending is not asked again. Other stops
	 * (signals, events) are let go at once (handle_event): a thread in
	 * group-stop (PTRACE_LISTEN) re-traps at the interrupt and is let go
	 * still stopped, as its user asked; a thread that clones while it is
	 * let go adds its child, which the kernel attached to us and stops at
	 * birth: an entry to release (thread_born) let go at that stop.
	 */
	for (size_t i = 0; i < b->nthreads; i++) {
		struct traced_thread *t = &b->threads[i];

		if (t->gone || t->interrupting || t->release)
			continue;
		if (ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL) < 0)
			t->gone = 1;   /* exited: its exit is reaped below */
		else
			t->interrupting = 1;
	}
	left = collect_stops(s, t0 + DETACH_DEADLINE_NS, true);
	for (size_t i = 0; i < b->nthreads; i++) {
		struct traced_thread *t = &b->threads[i];

		if (t->held && !t->gone) {
			ptrace(PTRACE_DETACH, t->tid, NULL, NULL);
			t->gone = 1;
		}
	}
	if (left) {
		log_warn("%zu thread%s of %d did not stop within %.1f s to be let go (in "
			 "uninterruptible sleep, or given no CPU): %s traced, running, and "
			 "%s let go the moment %s stop%s (or when hotspy exits)", left,
			 left == 1 ? "" : "s", (int)s->pid, (double)(sampler_now_ns() - t0) / 1e9,
			 left == 1 ? "it stays" : "they stay", left == 1 ? "is" : "are",
			 left == 1 ? "it" : "they", left == 1 ? "s" : "");
		stragglers_watch();
	}
	for (size_t i = 0; i < b->nthreads; i++)
		b->threads[i].gone = 1;
	threads_compact(b);
	/* Reap a started command that has already exited. */
	drain_events(s);
	scan_done(b);
	free(b->procs);
	free(b->threads);
	free(b->stack);
	free(b);
	s->backend = NULL;
}

/*
 * SIGTSTP: hotspy is about to stop itself. No thread is held between
 * ticks, but a stop asked at a tick may still come: wait for those (and
 * resume them) so that none lands while hotspy is stopped.
 */
static void ptrace_pause(struct sampler *s)
{
	struct ptrace_backend *b = backend_of(s);
	size_t left;

	/* A signal the program got meanwhile (the same Ctrl-Z, when it
	 * shares hotspy's terminal) is passed on first. */
	drain_events(s);
	left = b->nlate ? collect_stops(s, sampler_now_ns() + PAUSE_WAIT_NS, false) : 0;

	if (left)
		log_warn("%zu thread%s did not reach the stop asked of %s before hotspy stopped: "
			 "%s held if %s stop%s while hotspy is stopped", left, left == 1 ? "" : "s",
			 left == 1 ? "it" : "them", left == 1 ? "it is" : "they are",
			 left == 1 ? "it" : "they", left == 1 ? "s" : "");
}

static int ptrace_open(struct sampler *s)
{
	struct ptrace_backend *b = calloc(1, sizeof(*b));
	int err;

	if (!b)
		return log_error(-ENOMEM, "out of memory");
	b->stack = malloc(s->cfg.stack_size);
	if (!b->stack) {
		free(b);
		return log_error(-ENOMEM, "cannot allocate a %zu-byte stack buffer",
				 s->cfg.stack_size);
	}
	b->period_ns = 1000000000ull / (s->cfg.rate ? s->cfg.rate : 1);
	/* Children are followed from their birth by the kernel itself. */
	b->options = PTRACE_O_TRACEEXEC | PTRACE_O_TRACECLONE;
	if (s->cfg.subprocesses)
		b->options |= PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK;
	b->rng = sampler_now_ns() ^ ((uint64_t)getpid() << 32) ^ UINT64_C(0x9e3779b97f4a7c15);
	b->unreaped = true;
	s->backend = b;
	err = s->cfg.argv ? ptrace_open_command(s) : ptrace_open_pid(s);
	if (err < 0) {
		ptrace_close(s);
		return err;
	}
	b->next_tick_ns = sampler_now_ns() + tick_interval(b);
	return 0;
}

static size_t ptrace_thread_count(const struct sampler *s)
{
	const struct ptrace_backend *b = backend_of(s);
	size_t n = 0;

	for (size_t i = 0; i < b->nthreads; i++)
		n += !b->threads[i].gone && !b->threads[i].release;
	return n;
}

const struct sampler_ops ptrace_sampler_ops = {
	.name = "ptrace",
	.open = ptrace_open,
	.poll = ptrace_poll,
	.close = ptrace_close,
	.pause = ptrace_pause,
	.thread_count = ptrace_thread_count,
};
