/*
 * The perf sampler: the kernel takes the snapshot. One task-clock event per
 * thread and CPU, with PERF_SAMPLE_REGS_USER and PERF_SAMPLE_STACK_USER, so
 * every sample carries the user registers and a copy of the top of the user
 * stack, taken in the target's context when a period of its CPU time has
 * passed. The target is never stopped. Events are inherited, so threads (and
 * processes) created after the attach are sampled from birth; all events of
 * a CPU write into one ring buffer (PERF_EVENT_IOC_SET_OUTPUT), which hotspy
 * drains and hands to the same unwinder as the ptrace sampler. Each
 * thread's events copy 16 KiB of stack at first, more for a thread whose
 * stacks come back cut (stack_grow, tracer/stackask.h).
 *
 * Samples are in fixed periods of task-clock nanoseconds, so one sample is
 * exactly one period of CPU time, the on-CPU model of docs/sampling.md. Time
 * in the kernel (system calls) is counted at the user stack that made the
 * call when the kernel allows it (exclude_kernel = 0: root or
 * perf_event_paranoid <= 1); otherwise only user time is.
 *
 * Layouts: include/uapi/linux/perf_event.h (records, the mmap page) and
 * arch/x86/include/uapi/asm/perf_regs.h (register order).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "bpf_capture.h"
#include "bpf_record.h"
#include "hash.h"
#include "log.h"
#include "procfilter.h"
#include "procfs.h"
#include "pyreader.h"
#include "sampler_backend.h"
#include "stackask.h"
#include "target.h"
#include "banned.h"

/* arch/x86/include/uapi/asm/perf_regs.h */
enum {
	PREG_AX, PREG_BX, PREG_CX, PREG_DX, PREG_SI, PREG_DI, PREG_BP, PREG_SP,
	PREG_IP, PREG_FLAGS, PREG_CS, PREG_SS, PREG_DS, PREG_ES, PREG_FS, PREG_GS,
	PREG_R8, PREG_R9, PREG_R10, PREG_R11, PREG_R12, PREG_R13, PREG_R14, PREG_R15,
};
#define PREG_MASK (((1ull << (PREG_IP + 1)) - 1) | (0xffull << PREG_R8))
#define PREG_COUNT 17   /* bits set in PREG_MASK, in increasing bit order */

/* The kernel trims the copy so the record fits its 16-bit size. */
#define PERF_MAX_STACK PERF_SAMPLER_MAX_STACK
/* Each sample takes the stack bytes its event asks of the ring, whatever
 * was copied (the record's size is the size asked for): 4 MiB hold 256
 * samples of 16 KiB, 64 of 64 KiB. A CPU makes at most one sample per
 * period of task-clock, whichever threads run on it: at 1000 Hz, a ring
 * fills in 256 ms (64 ms for threads that need 64 KiB), several times
 * the longest wait between drains (the batch of record, below) or the
 * wake-up at a quarter full. Unprivileged users get what
 * perf_event_mlock_kb allows. */
#define RING_PAGES_MAX 1024u
/* With the BPF program taking the samples, the perf rings carry only the
 * MMAP, COMM, FORK, EXIT and READ records. */
#define RING_PAGES_BPF 64u
/* kernel.perf_event_max_stack defaults to 127: room for that and more. */
#define PERF_MAX_KERNEL_FRAMES 256
/* Rings are drained every POLL_MS (or at a quarter full), unless the
 * caller lets samples wait longer (sampler_config.batch_ms: record). */
#define POLL_MS 10
#define FIRST_POLLS 10
/* Side-band records compared for repeats (sideband_repeat). */
#define SIDEBAND_RECENT 8
/* Two copies of one side-band record are written one after the other,
 * each with its own time: nanoseconds apart. */
#define SIDEBAND_REPEAT_NS 20000u
#define EXIT_CHECK_NS (50ull * 1000 * 1000)

struct ring {
	int fd;                 /* the event whose buffer the others share */
	void *base;             /* metadata page, then data */
	size_t size;            /* data size, a power of two */
};

struct name {
	pid_t tid;
	uint64_t samples;       /* samples taken of it */
	uint64_t exited_at;     /* poll count at its EXIT record, 0 while alive */
	uint32_t read_family;   /* family (index + 1) of the READ records
	                         * counted, 0 before the first */
	uint8_t ask_cls;        /* stack class of its samples that count
	                         * (stackask_accept), STACKASK_NONE at first */
	uint8_t opened_cls;     /* largest class hotspy opened on it itself */
	unsigned read_seen : 1;      /* its time at exit is accounted */
	unsigned never_sampled : 1;  /* counted in stats.unsampled_threads */
	unsigned grow_failed : 1;    /* a larger copy could not be opened */
	int8_t wanted;          /* -a with --comm, a process's main thread: 1 its
	                         * samples are taken, -1 not, 0 not decided yet
	                         * (decided again when its name changes) */
	/* The BPF sampler: a hash of the Python regions last handed to its
	 * program for this thread (0: none), so that an unchanged list is not
	 * written to the map again at each sample. */
	uint64_t pyregions;
	char comm[TARGET_COMM_MAX];
};

/*
 * The events hotspy opened on one thread (one per CPU), inherited by the
 * threads it creates from then on: opened at the attach, or later with a
 * larger stack copy for a thread whose stacks came back cut. An inherited
 * event cannot be closed alone (closing or disabling it ends it in every
 * thread that inherited it), so a family is retired only when a larger one
 * replaced it on its thread and that thread created nothing in between.
 */
struct family {
	pid_t tid;
	unsigned cls;            /* stack class its events ask (stackask.h) */
	int *fds;                /* per CPU; -1 once retired */
	uint64_t *ids;           /* per CPU: PERF_EVENT_IOC_ID, in READ records */
	uint64_t opened_ns;      /* CLOCK_MONOTONIC of the open */
	uint64_t superseded_ns;  /* a larger family opened on tid then; 0 */
	uint64_t superseded_poll;
	unsigned forked : 1;     /* tid made a thread or process in between:
	                          * the family may hold other threads */
	unsigned retired : 1;    /* disabled, closed */
};

/* A record waiting to be handled: records are handled in the order of
 * their times, across the rings (an exec must come between the samples of
 * the program before and those of the one after, whichever CPUs they were
 * taken on). */
struct pending {
	uint64_t time;
	const uint8_t *rec;     /* in its ring, or in the ring's wrap copy */
	uint32_t len;
	uint32_t seq;           /* order of collection: ties keep ring order */
	uint32_t bpf;           /* a record of the BPF ring (bpf/record.h) */
};

struct perf_backend {
	struct ring *rings;     /* one per CPU */
	uint8_t **wraps;        /* per ring: its record that wraps, made whole
	                         * (at most one per pass), allocated at need */
	struct pending *pend;   /* the records of one pass */
	size_t npend, pend_cap;
	int ncpus;
	int *fds;               /* every event */
	size_t nfds, fds_cap;
	struct pollfd *pfds;    /* rings, the signalfd, then the pidfd */
	int sigfd;
	int pidfd;              /* an attached process's pidfd, or -1 */
	size_t page;
	size_t stack_size;      /* most bytes asked per sample (--stack-size) */
	struct stackask ask;    /* the classes threads' events ask */
	struct family *fams;
	size_t nfams, fams_cap;
	int regrown;            /* some thread has events of two classes: their
	                         * side-band records come twice */
	const uint8_t *recent[SIDEBAND_RECENT];  /* side-band records of the
	                                          * ring being collected */
	uint32_t recent_len[SIDEBAND_RECENT];
	unsigned nrecent;
	int poll_ms;            /* longest wait in poll */
	int exclude_kernel;
	int no_inherit_thread;  /* the kernel predates attr.inherit_thread */
	size_t ring_pages;      /* data pages of each ring: as many as allowed */
	uint64_t period_ns;     /* task-clock nanoseconds per sample */
	uint64_t polls;         /* perf_sampler_poll calls so far */
	uint64_t next_exit_check;  /* CLOCK_MONOTONIC ns of the next /proc look */
	int64_t unsampled_ns;   /* see the READ record */
	pid_t child;            /* a started command (our child), or 0 */
	pid_t self;             /* hotspy: never sampled (-a) */
	int exited;
	uint64_t *tails;        /* per ring: the tail once a pass is handled */
	struct name *names;     /* thread names, from /proc and COMM records */
	uint64_t kernel[PERF_MAX_KERNEL_FRAMES];  /* one sample's kernel frames */
	size_t nnames, names_cap;
	/* The BPF sampler: its program takes the samples of every event
	 * (owned), and the drops it counted so far are in stats.lost. */
	struct bpf_capture *bpf;
	uint64_t bpf_lost;
};

static struct perf_backend *backend_of(const struct sampler *s)
{
	return s->backend;
}

static int sys_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu)
{
	return (int)syscall(SYS_perf_event_open, attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

/* The attributes of a thread's events, asking stack class @cls. */
static void event_attr(const struct sampler *s, struct perf_event_attr *a, unsigned cls)
{
	const struct perf_backend *b = backend_of(s);

	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);
	a->type = PERF_TYPE_SOFTWARE;
	a->config = PERF_COUNT_SW_TASK_CLOCK;
	a->sample_period = b->period_ns;
	a->sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME;
	if (!b->bpf) {
		a->sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
		a->sample_regs_user = PREG_MASK;
		a->sample_stack_user = stackask_bytes(&b->ask, cls);
	}
	if (s->cfg.kernel) {
		/* The kernel part of the callchain only: the user part is
		 * ours to unwind from the stack copy. */
		a->sample_type |= PERF_SAMPLE_CALLCHAIN;
		a->exclude_callchain_user = 1;
	}
	a->exclude_kernel = (unsigned)b->exclude_kernel;
	a->exclude_hv = 1;
	a->inherit = 1;
	/* A READ record with each inherited thread's total at its exit,
	 * and which event it is (a thread may have two families). */
	a->inherit_stat = 1;
	a->read_format = PERF_FORMAT_ID;
	/* Without --subprocesses, children are not sampled at all: only
	 * threads (CLONE_THREAD) inherit the events (Linux 5.13). */
	a->inherit_thread = !s->cfg.subprocesses && !b->no_inherit_thread;
	a->mmap = 1;        /* a new executable mapping: reload the maps */
	a->comm = 1;        /* thread names */
	a->comm_exec = 1;   /* and which of them are an exec */
	/* Every record carries its pid, tid and time (struct sample_id at its
	 * end), on the clock of sampler_now_ns: records are put in order of
	 * time across rings, and compared with when the maps were read. */
	a->sample_id_all = 1;
	a->use_clockid = 1;
	a->clockid = CLOCK_MONOTONIC;
	a->task = 1;        /* EXIT records */
	/* Woken when a quarter of the ring is full, not at each sample: a
	 * wake-up costs the target an inter-processor interrupt. */
	a->watermark = 1;
	a->wakeup_watermark = (uint32_t)(b->ring_pages * b->page / 4);
}

/*
 * Thread names are kept sorted by tid: a sample looks its thread up by
 * binary search, and threads are added far less often than sampled.
 * Returns the index of @tid, or where it would go.
 */
static size_t name_index(const struct perf_backend *b, pid_t tid)
{
	size_t lo = 0, hi = b->nnames;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->names[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct name *name_find(struct perf_backend *b, pid_t tid)
{
	size_t i = name_index(b, tid);

	return i < b->nnames && b->names[i].tid == tid ? &b->names[i] : NULL;
}

/* The name entry of thread @tid, created from /proc on first sight. The
 * pointer is good until the next call (an insertion moves entries). */
static struct name *name_of(struct perf_backend *b, pid_t pid, pid_t tid)
{
	char path[96], buf[TARGET_COMM_MAX];
	size_t i = name_index(b, tid);
	struct name *n;

	if (i < b->nnames && b->names[i].tid == tid)
		return &b->names[i];
	if (b->nnames == b->names_cap) {
		size_t cap = b->names_cap ? b->names_cap * 2 : 32;

		n = realloc(b->names, cap * sizeof(*n));
		if (!n)
			return NULL;
		b->names = n;
		b->names_cap = cap;
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	if (procfs_read_small(path, buf, sizeof(buf)) < 0)
		snprintf(buf, sizeof(buf), "?");
	memmove(&b->names[i + 1], &b->names[i], (b->nnames - i) * sizeof(*n));
	b->nnames++;
	n = &b->names[i];
	memset(n, 0, sizeof(*n));
	n->tid = tid;
	n->ask_cls = STACKASK_NONE;
	snprintf(n->comm, sizeof(n->comm), "%s", buf);
	return n;
}

/* A new process @pid, forked by @ppid (-a): its name entry, made from its
 * parent's when that one is known (a fork keeps the name), else left to
 * /proc at its first sample. */
static void name_inherit(struct perf_backend *b, pid_t pid, pid_t ppid)
{
	struct name *parent = name_find(b, ppid), *n;
	char comm[TARGET_COMM_MAX];
	size_t i;

	if (!parent || name_find(b, pid))
		return;
	snprintf(comm, sizeof(comm), "%s", parent->comm);
	if (b->nnames == b->names_cap) {
		size_t cap = b->names_cap ? b->names_cap * 2 : 32;

		n = realloc(b->names, cap * sizeof(*n));
		if (!n)
			return;
		b->names = n;
		b->names_cap = cap;
	}
	i = name_index(b, pid);
	memmove(&b->names[i + 1], &b->names[i], (b->nnames - i) * sizeof(*n));
	b->nnames++;
	n = &b->names[i];
	memset(n, 0, sizeof(*n));
	n->tid = pid;
	snprintf(n->comm, sizeof(n->comm), "%s", comm);
}

/* Forget the threads that exited two polls ago: by then every ring has
 * handed over their last records (one ring per CPU, drained in turn). */
static void names_compact(struct perf_backend *b)
{
	size_t i, j = 0;

	for (i = 0; i < b->nnames; i++)
		if (!b->names[i].exited_at || b->polls - b->names[i].exited_at < 2)
			b->names[j++] = b->names[i];
	b->nnames = j;
}


static int fd_add(struct perf_backend *b, int fd)
{
	if (b->nfds == b->fds_cap) {
		size_t cap = b->fds_cap ? b->fds_cap * 2 : 16;
		int *f = realloc(b->fds, cap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		b->fds = f;
		b->fds_cap = cap;
	}
	b->fds[b->nfds++] = fd;
	return 0;
}

/*
 * The ring of @cpu, mapped on first use with b->ring_pages pages. When the
 * locked-memory limit refuses that many, b->ring_pages is halved and
 * -EAGAIN returned: the event is to be opened again, its wake-up mark set
 * for the smaller ring (the mark belongs to the event that maps the ring).
 */
static int ring_attach(struct perf_backend *b, int cpu, int fd)
{
	struct ring *r = &b->rings[cpu];
	void *p;

	if (r->base)
		return ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, r->fd) < 0 ? -errno : 0;
	p = mmap(NULL, (b->ring_pages + 1) * b->page, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	if (p != MAP_FAILED) {
		r->fd = fd;
		r->base = p;
		r->size = b->ring_pages * b->page;
		return 0;
	}
	if ((errno != EPERM && errno != ENOMEM) || b->ring_pages <= 8)
		return errno == EPERM ? -ENOMEM : -errno;
	b->ring_pages /= 2;
	return -EAGAIN;
}

/* Forget @fd of b->fds (it is closed by the caller). */
static void fd_forget(struct perf_backend *b, int fd)
{
	for (size_t i = 0; i < b->nfds; i++) {
		if (b->fds[i] == fd) {
			b->fds[i] = b->fds[--b->nfds];
			return;
		}
	}
}

/* Is @fd the event whose ring the others of its CPU share? */
static int ring_owner(const struct perf_backend *b, int fd)
{
	for (int cpu = 0; cpu < b->ncpus; cpu++)
		if (b->rings[cpu].base && b->rings[cpu].fd == fd)
			return 1;
	return 0;
}

/* Stop the events of @f (in every thread that inherited them) and close
 * them, but for ring owners: those stay open, disabled (the ring is read
 * and polled through them). */
static void family_retire(struct perf_backend *b, struct family *f)
{
	for (int cpu = 0; cpu < b->ncpus; cpu++) {
		int fd = f->fds[cpu];

		if (fd < 0)
			continue;
		ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
		if (!ring_owner(b, fd)) {
			fd_forget(b, fd);
			close(fd);
		}
		f->fds[cpu] = -1;
	}
	f->retired = 1;
}

/* The family whose events have the id @id (a READ record's), or NULL. */
static struct family *family_of_id(struct perf_backend *b, uint64_t id)
{
	for (size_t i = 0; i < b->nfams; i++)
		for (int cpu = 0; cpu < b->ncpus; cpu++)
			if (b->fams[i].ids[cpu] == id)
				return &b->fams[i];
	return NULL;
}

/* A new family for thread @tid asking class @cls, its events not open
 * yet. NULL when out of memory. */
static struct family *family_new(struct perf_backend *b, pid_t tid, unsigned cls)
{
	struct family *f;

	if (b->nfams == b->fams_cap) {
		size_t cap = b->fams_cap ? b->fams_cap * 2 : 16;

		f = realloc(b->fams, cap * sizeof(*f));
		if (!f)
			return NULL;
		b->fams = f;
		b->fams_cap = cap;
	}
	f = &b->fams[b->nfams];
	memset(f, 0, sizeof(*f));
	f->fds = malloc((size_t)b->ncpus * sizeof(*f->fds));
	f->ids = calloc((size_t)b->ncpus, sizeof(*f->ids));
	if (!f->fds || !f->ids) {
		free(f->fds);
		free(f->ids);
		return NULL;
	}
	for (int cpu = 0; cpu < b->ncpus; cpu++)
		f->fds[cpu] = -1;
	f->tid = tid;
	f->cls = cls;
	f->opened_ns = sampler_now_ns();
	b->nfams++;
	return f;
}

/*
 * Open the events of thread @tid on every CPU, asking stack class @cls:
 * all of them or none (a thread sampled on some CPUs only would lose
 * samples). 0 or -errno.
 */
static int thread_open(struct sampler *s, pid_t tid, unsigned cls)
{
	struct perf_backend *b = backend_of(s);
	struct perf_event_attr attr;
	struct family *f = family_new(b, tid, cls);
	int cpu, fd, err = 0;

	if (!f)
		return -ENOMEM;
	event_attr(s, &attr, cls);
	for (cpu = 0; cpu < b->ncpus; cpu++) {
		fd = sys_perf_event_open(&attr, tid, cpu);
		if (fd < 0 && errno == EINVAL && attr.inherit_thread) {
			/* An older kernel: children inherit too; their
			 * samples are dropped as they come. */
			b->no_inherit_thread = 1;
			event_attr(s, &attr, cls);
			fd = sys_perf_event_open(&attr, tid, cpu);
		}
		if (fd < 0) {
			err = -errno;
			break;
		}
		err = fd_add(b, fd);
		if (err == 0)
			err = ring_attach(b, cpu, fd);
		/* The program replaces perf's own sample (it returns 0). */
		if (err == 0 && b->bpf)
			err = bpf_capture_attach(b->bpf, fd);
		if (err == 0) {
			f->fds[cpu] = fd;
			if (ioctl(fd, PERF_EVENT_IOC_ID, &f->ids[cpu]) < 0)
				f->ids[cpu] = 0;
			continue;
		}
		if (b->nfds && b->fds[b->nfds - 1] == fd)
			b->nfds--;
		close(fd);
		if (err != -EAGAIN)
			break;
		/* A smaller ring: this CPU again, with its mark. */
		event_attr(s, &attr, cls);
		cpu--;
		err = 0;
	}
	if (err < 0) {
		/* The family's events opened so far go; the entry stays,
		 * retired (b->fams may have moved: found again). */
		family_retire(b, &b->fams[b->nfams - 1]);
		return err;
	}
	return 0;
}

/*
 * The whole machine (-a): one task-clock event per CPU, on every task that
 * runs there (pid -1), so the records of all processes come through: their
 * samples, and MMAP, COMM and EXIT records. Kept apart from event_attr (the
 * per-thread events): no inheritance (the kernel refuses it with pid -1,
 * and a per-CPU event sees new tasks anyway), and a fixed stack copy.
 */
static void cpu_event_attr(const struct sampler *s, struct perf_event_attr *a)
{
	const struct perf_backend *b = backend_of(s);

	event_attr(s, a, stackask_class(&b->ask, b->stack_size));
	a->inherit = 0;
	a->inherit_stat = 0;
	a->inherit_thread = 0;
	a->read_format = 0;
	/* The idle task's time is no process's. */
	a->exclude_idle = 1;
}

/* Open the event of every CPU (cpu_event_attr). A CPU that is offline
 * (ENODEV) is left out. 0, or -errno of the first refusal. */
static int cpus_open(struct sampler *s)
{
	struct perf_backend *b = backend_of(s);
	struct perf_event_attr attr;
	int cpu, fd, err, opened = 0;

	cpu_event_attr(s, &attr);
	for (cpu = 0; cpu < b->ncpus; cpu++) {
		fd = sys_perf_event_open(&attr, -1, cpu);
		if (fd < 0 && errno == ENODEV)
			continue;
		if (fd < 0)
			return -errno;
		err = fd_add(b, fd);
		if (err == 0)
			err = ring_attach(b, cpu, fd);
		if (err == 0 && b->bpf)
			err = bpf_capture_attach(b->bpf, fd);
		if (err < 0) {
			if (b->nfds && b->fds[b->nfds - 1] == fd)
				b->nfds--;
			close(fd);
			if (err != -EAGAIN)
				return err;
			cpu_event_attr(s, &attr);
			cpu--;
			continue;
		}
		opened++;
	}
	return opened ? 0 : -ENODEV;
}

static void paranoid_level(char *buf, size_t size)
{
	if (procfs_read_small("/proc/sys/kernel/perf_event_paranoid", buf, size) <= 0)
		snprintf(buf, size, "?");
}

/* Is hotspy itself under a seccomp filter (a container's profile)? */
static int under_seccomp(void)
{
	char buf[2048], *p;

	if (procfs_read_small("/proc/self/status", buf, sizeof(buf)) <= 0)
		return 0;
	p = strstr(buf, "\nSeccomp:");
	return p && strtol(p + 9, NULL, 10) == 2;
}

/* Why the kernel refused perf events on @pid (@err, positive errno; @pid
 * 0 for a program not started yet), in words. */
static void refusal_reason(int err, pid_t pid, char *buf, size_t size)
{
	char level[16];

	paranoid_level(level, sizeof(level));
	/* Another user's process: perf_event_paranoid does not matter, the
	 * kernel asks for the right to trace it. */
	if ((err == EACCES || err == EPERM) && pid > 0 &&
	    target_access_problem(pid, buf, size))
		return;
	if (err == ENOSYS || err == ENOENT || err == EOPNOTSUPP)
		snprintf(buf, size, "this kernel has no task-clock events (%s)", strerror(err));
	else if ((err == EACCES || err == EPERM) && under_seccomp())
		snprintf(buf, size, "%s, and hotspy runs under a seccomp filter that may "
			 "forbid perf_event_open (kernel.perf_event_paranoid = %s)",
			 strerror(err), level);
	else if (err == EACCES || err == EPERM)
		snprintf(buf, size, "%s (kernel.perf_event_paranoid = %s)", strerror(err), level);
	else
		snprintf(buf, size, "%s", strerror(err));
}

int perf_sampler_probe(pid_t pid, char *why, size_t size)
{
	struct perf_event_attr a;
	int fd;

	/* The least the sampler needs: user-only task-clock samples with
	 * registers and stack, on the target (or on hotspy itself for a
	 * command it is about to start: same credentials). */
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_TASK_CLOCK;
	a.sample_period = 10000000;
	a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
	a.sample_regs_user = PREG_MASK;
	a.sample_stack_user = 4096;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	a.disabled = 1;
	/* A process whose main thread has exited: one of its live threads. */
	if (pid > 0 && target_live_thread(pid) > 0)
		pid = target_live_thread(pid);
	fd = sys_perf_event_open(&a, pid, -1);
	if (fd < 0) {
		int err = errno;

		refusal_reason(err, pid, why, size);
		return -err;
	}
	close(fd);
	return 0;
}

/* Whether hotspy may open a perf event on itself: when it may not, a
 * refusal on a target says nothing about the target. */
static bool self_events_allowed(void)
{
	char why[64];

	return perf_sampler_probe(0, why, sizeof(why)) == 0;
}

/* Log why the kernel refused perf events, and what to do. */
static int refusal(int err, pid_t pid)
{
	char why[384];

	/* Gone while the events were being opened (or a zombie already):
	 * no sampler would do better. */
	if (err == ESRCH && pid > 0)
		return log_error(-err, "cannot attach to %d: it exited while hotspy attached "
				 "(nothing left to profile)", (int)pid);
	refusal_reason(err, pid, why, sizeof(why));
	if ((err == EACCES || err == EPERM) && pid > 0 && target_access_problem(pid, why, sizeof(why)))
		return log_error(-err, "cannot sample %d with perf events: %s", (int)pid, why);
	/* Root is refused perf events on a process only by the ptrace check,
	 * unless perf events are refused to hotspy altogether (a seccomp
	 * filter): then it is not the process's doing. */
	if ((err == EACCES || err == EPERM) && pid > 0 && geteuid() == 0 && !under_seccomp() &&
	    self_events_allowed() && target_root_problem(pid, why, sizeof(why)))
		return log_error(-err, "cannot attach to %d: operation not permitted: %s",
				 (int)pid, why);
	if (err == EACCES || err == EPERM)
		return log_error(-err, "cannot sample %d with perf events: %s \xe2\x80\x94 run as "
				 "root, lower it with sysctl -w kernel.perf_event_paranoid=1, or use "
				 "--sampler ptrace", (int)pid, why);
	return log_error(-err, "cannot sample %d with perf events: %s \xe2\x80\x94 use "
			 "--sampler ptrace", (int)pid, why);
}

/*
 * Open the events of every thread of process @pid but @skip. Each event
 * follows its thread's new threads from now on; one opened twice would
 * count twice. 0, or -errno having logged why.
 */
static int process_open(struct sampler *s, pid_t pid, pid_t skip)
{
	char path[64];
	DIR *dir;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT && pid != s->pid ? 0 : refusal(errno, pid);
	s->stats.thread_scans++;
	for (struct dirent *de; (de = readdir(dir));) {
		pid_t tid = (pid_t)strtol(de->d_name, NULL, 10);

		if (tid <= 0 || tid == skip)
			continue;
		err = thread_open(s, tid, 0);
		if (err < 0 && err != -ESRCH) {
			closedir(dir);
			return refusal(-err, tid);
		}
	}
	closedir(dir);
	return 0;
}

/* Open the events of every thread of s->pid (and of its descendants with
 * --subprocesses), trying kernel time first. */
static int open_all(struct sampler *s)
{
	struct perf_backend *b = backend_of(s);
	pid_t *kids = NULL;
	size_t nkids = 0;
	int err;

	pid_t first = s->pid;

	/* A main thread that has exited (pthread_exit) takes no events: a
	 * live thread first, and the scan below the others. */
	if (!s->cfg.argv) {
		first = target_live_thread(s->pid);
		if (first < 0)
			return refusal(ESRCH, s->pid);
	}
	b->exclude_kernel = 0;
	err = thread_open(s, first, 0);
	if ((err == -EACCES || err == -EPERM) && s->cfg.kernel) {
		char level[16];

		paranoid_level(level, sizeof(level));
		return log_error(err, "cannot sample kernel frames of %d: the kernel allows "
				 "this user only user-space samples (kernel.perf_event_paranoid = %s) "
				 "\xe2\x80\x94 run as root, or sysctl -w kernel.perf_event_paranoid=1, "
				 "or drop --kernel", (int)s->pid, level);
	}
	if (err == -EACCES || err == -EPERM) {
		b->exclude_kernel = 1;
		err = thread_open(s, first, 0);
		if (err == 0)
			log_debug("kernel time is not counted: the kernel allows user-only events");
	}
	if (err < 0)
		return refusal(-err, s->pid);
	if (s->cfg.argv)
		return 0;   /* one thread at its exec; inheritance does the rest */
	if (s->cfg.subprocesses) {
		err = target_descendants(s->pid, &kids, &nkids);
		if (err < 0) {
			free(kids);
			return log_error(err, "cannot list the child processes of %d: %s",
					 (int)s->pid, strerror(-err));
		}
	}
	err = process_open(s, s->pid, first);
	for (size_t i = 0; err == 0 && i < nkids; i++) {
		/* A child gone since it was listed is no error. */
		if (sampler_proc(s, kids[i]))
			err = process_open(s, kids[i], 0);
	}
	free(kids);
	return err;
}

/* Open the per-CPU events of the whole machine (-a), kernel time counted
 * where the kernel allows it. 0, or -errno having logged why and what to
 * do. */
static int all_open(struct sampler *s)
{
	struct perf_backend *b = backend_of(s);
	char level[16];
	int err;

	b->exclude_kernel = 0;
	err = cpus_open(s);
	if ((err == -EACCES || err == -EPERM) && !s->cfg.kernel) {
		/* User time only: whatever the first try opened and mapped
		 * goes, so that each CPU's ring belongs to an open event. */
		for (size_t i = 0; i < b->nfds; i++)
			close(b->fds[i]);
		b->nfds = 0;
		for (int cpu = 0; cpu < b->ncpus; cpu++) {
			if (b->rings[cpu].base)
				munmap(b->rings[cpu].base, b->rings[cpu].size + b->page);
			memset(&b->rings[cpu], 0, sizeof(b->rings[cpu]));
		}
		b->exclude_kernel = 1;
		err = cpus_open(s);
	}
	if (err == 0)
		return 0;
	paranoid_level(level, sizeof(level));
	if (err == -EACCES || err == -EPERM)
		return log_error(err, "cannot sample the whole machine: perf events on every CPU "
				 "need root or CAP_PERFMON, or kernel.perf_event_paranoid <= 0 "
				 "(it is %s) \xe2\x80\x94 run as root, or sysctl -w "
				 "kernel.perf_event_paranoid=0 (-p PID profiles one process of "
				 "yours without it)", level);
	if (err == -ENOSYS || err == -ENOENT || err == -EOPNOTSUPP)
		return log_error(err, "cannot sample the whole machine: this kernel has no "
				 "task-clock events (%s)", strerror(-err));
	return log_error(err, "cannot sample the whole machine: %s", strerror(-err));
}

/*
 * The whole machine: is process @pid sampled? Never hotspy itself, nor the
 * idle task (pid 0); with a --pid list or --comm patterns, the processes
 * they name (procfilter.h). The decision for a pattern is kept with the
 * process's main thread's name, and made again when that name changes
 * (an exec).
 */
static int process_wanted(struct sampler *s, pid_t pid)
{
	struct perf_backend *b = backend_of(s);
	struct name *n;

	if (pid <= 0 || pid == b->self)
		return 0;
	if (!s->cfg.ncomms)
		return procfilter_wanted(s->cfg.pids, s->cfg.npids, NULL, 0, pid, NULL);
	n = name_of(b, pid, pid);
	if (!n)
		return 0;
	if (!n->wanted)
		n->wanted = procfilter_wanted(s->cfg.pids, s->cfg.npids, s->cfg.comms,
					      s->cfg.ncomms, pid, n->comm) ? 1 : -1;
	return n->wanted > 0;
}

/* Are samples of process @pid wanted? The target's always; its
 * descendants' with --subprocesses (events are inherited by exactly those);
 * with -a, those process_wanted takes. */
static int tracked(struct sampler *s, pid_t pid)
{
	if (s->cfg.all)
		return process_wanted(s, pid);
	return pid == s->pid || s->cfg.subprocesses;
}

/*
 * The kernel frames of a callchain: the entries after PERF_CONTEXT_KERNEL,
 * up to the next context marker (markers are the top 4095 values,
 * PERF_CONTEXT_MAX and above). Copied, as the record may be unaligned.
 */
static void kernel_frames(struct perf_backend *b, const uint8_t *chain, size_t n,
			  struct snapshot *snap)
{
	int in_kernel = 0;
	size_t i, k = 0;

	for (i = 0; i < n && k < PERF_MAX_KERNEL_FRAMES; i++) {
		uint64_t ip;

		memcpy(&ip, chain + i * 8, 8);
		if (ip >= (uint64_t)PERF_CONTEXT_MAX) {
			in_kernel = ip == (uint64_t)PERF_CONTEXT_KERNEL;
			continue;
		}
		if (in_kernel)
			b->kernel[k++] = ip;
	}
	snap->kernel = b->kernel;
	snap->nkernel = k;
}

/* A sample of thread @n: it stands for one period of the thread's time,
 * which the accounting of its exit must know about. */
static void name_sampled(struct sampler *s, struct name *n)
{
	struct perf_backend *b = backend_of(s);

	n->samples++;
	if (n->read_seen)
		b->unsampled_ns -= (int64_t)b->period_ns;
	if (n->never_sampled) {
		n->never_sampled = 0;
		s->stats.unsampled_threads--;
	}
}

/*
 * The READ record of a thread that exited (inherit_stat): @value is its
 * task-clock time on one CPU's event. Summed over its records, less the
 * periods its samples stand for, it is the thread's time no sample stands
 * for: under one period for most threads, all of it for a thread that never
 * ran a whole period. Samples still on their way are subtracted as they
 * come (name_sampled).
 */
static void name_exit_time(struct sampler *s, struct name *n, uint64_t value)
{
	struct perf_backend *b = backend_of(s);

	if (!n->read_seen) {
		n->read_seen = 1;
		s->stats.exited_threads++;
		b->unsampled_ns -= (int64_t)(n->samples * b->period_ns);
	}
	b->unsampled_ns += (int64_t)value;
	if (value && !n->samples && !n->never_sampled) {
		n->never_sampled = 1;
		s->stats.unsampled_threads++;
	}
	s->stats.unsampled_ns = b->unsampled_ns > 0 ? (uint64_t)b->unsampled_ns : 0;
}

/*
 * Thread @tid's stacks come back cut with a copy of class @cls: open its
 * events again asking the next class. The new family is open before the
 * old one is retired (perf_sampler_poll, two polls on, once every record
 * that could say the old one holds other threads is read), so no sample is
 * lost; meanwhile the old family's samples of the thread are dropped as
 * copies (stackask_accept).
 */
static void stack_grow(struct sampler *s, pid_t tid, unsigned cls)
{
	struct perf_backend *b = backend_of(s);
	struct name *n = name_find(b, tid);
	unsigned want = cls + 1;
	size_t i, nf;
	int err;

	if (!n || n->grow_failed || n->exited_at || n->opened_cls >= want)
		return;
	err = thread_open(s, tid, want);
	n = name_find(b, tid);
	if (err < 0) {
		if (n)
			n->grow_failed = 1;
		log_debug("cannot copy more stack of thread %d: %s", (int)tid, strerror(-err));
		return;
	}
	if (n)
		n->opened_cls = (uint8_t)want;
	s->stats.stack_grows++;
	b->regrown = 1;
	nf = b->nfams - 1;   /* the family just opened */
	for (i = 0; i < nf; i++) {
		struct family *f = &b->fams[i];

		if (f->tid == tid && f->cls < want && !f->superseded_ns && !f->retired) {
			f->superseded_ns = b->fams[nf].opened_ns;
			f->superseded_poll = b->polls;
		}
	}
}

/* Retire the families a larger one replaced on a thread that made no
 * thread nor process while they were its largest. */
static void families_retire(struct perf_backend *b)
{
	for (size_t i = 0; i < b->nfams; i++) {
		struct family *f = &b->fams[i];

		/* Two polls on: every ring has been drained past the open of
		 * the family that replaced it, FORK records included. */
		if (f->superseded_ns && !f->forked && !f->retired &&
		    b->polls >= f->superseded_poll + 2)
			family_retire(b, f);
	}
}

/* A FORK record: thread @ptid made @tid at @time. The families of @ptid
 * open then (and not yet replaced) hold the new one too. */
static void families_forked(struct perf_backend *b, pid_t ptid, uint64_t time)
{
	for (size_t i = 0; i < b->nfams; i++) {
		struct family *f = &b->fams[i];

		if (f->tid == ptid && time >= f->opened_ns &&
		    (!f->superseded_ns || time < f->superseded_ns))
			f->forked = 1;
	}
}

static void handle_sample(struct sampler *s, const uint8_t *rec, size_t len)
{
	struct perf_backend *b = backend_of(s);
	const uint8_t *p = rec + sizeof(struct perf_event_header), *end = rec + len;
	uint32_t pid, tid;
	uint64_t time, abi, regs[PREG_COUNT], size, dyn = 0;
	struct snapshot snap;
	unsigned cls;
	const uint8_t *stack, *chain = NULL;
	size_t nchain = 0;

	if ((size_t)(end - p) < 8 + 8 + 8)
		return;
	memcpy(&pid, p, 4);
	memcpy(&tid, p + 4, 4);
	memcpy(&time, p + 8, 8);
	p += 16;
	if (s->cfg.kernel) {
		uint64_t nr;

		memcpy(&nr, p, 8);
		p += 8;
		if (nr > (uint64_t)(end - p) / 8)
			return;
		chain = p;
		nchain = (size_t)nr;
		p += nr * 8;
		if ((size_t)(end - p) < 8)
			return;
	}
	memcpy(&abi, p, 8);
	p += 8;
	if (abi == PERF_SAMPLE_REGS_ABI_NONE || !tracked(s, (pid_t)pid))
		return;   /* no user context, or a child process not followed */
	if ((size_t)(end - p) < sizeof(regs) + 8)
		return;
	memcpy(regs, p, sizeof(regs));
	p += sizeof(regs);
	memcpy(&size, p, 8);
	p += 8;
	stack = p;
	if (size) {
		if ((uint64_t)(end - p) < size + 8)
			return;
		memcpy(&dyn, p + size, 8);
		if (dyn > size)
			dyn = size;
	}

	memset(&snap, 0, sizeof(snap));
	snap.pid = (pid_t)pid;
	snap.tid = (pid_t)tid;
	snap.state = 'R';
	cls = stackask_class(&b->ask, size);
	/* What the kernel did in the target's time, dropped copies too. */
	s->stats.stack_copied += dyn;
	s->stats.stack_asked += size;
	{
		struct name *n = name_of(b, (pid_t)pid, (pid_t)tid);

		/* A copy from a thread's smaller event, which it keeps
		 * beside the larger one for a while (or for good, when
		 * inherited): the larger one's samples stand for its time. */
		if (n && !stackask_accept(&n->ask_cls, cls)) {
			s->stats.stack_dropped++;
			return;
		}
		snap.comm = n ? n->comm : "?";
		if (n)
			name_sampled(s, n);
	}
	snap.time_ns = time;
	snap.weight = 1;
	/* Registers in increasing bit order of PREG_MASK: AX..IP, R8..R15. */
	snap.regs[SNAP_RAX] = regs[PREG_AX];
	snap.regs[SNAP_RBX] = regs[PREG_BX];
	snap.regs[SNAP_RCX] = regs[PREG_CX];
	snap.regs[SNAP_RDX] = regs[PREG_DX];
	snap.regs[SNAP_RSI] = regs[PREG_SI];
	snap.regs[SNAP_RDI] = regs[PREG_DI];
	snap.regs[SNAP_RBP] = regs[PREG_BP];
	snap.regs[SNAP_RSP] = regs[PREG_SP];
	snap.regs[SNAP_RIP] = regs[PREG_IP];
	for (int i = 0; i < 8; i++)
		snap.regs[SNAP_R8 + i] = regs[PREG_IP + 1 + i];
	snap.stack_addr = snap.regs[SNAP_RSP];
	snap.stack = stack;
	snap.stack_len = (size_t)dyn;
	/* The copy filled what was asked (the kernel trims the largest ask
	 * to fit a record): the stack may go on past it. */
	snap.stack_cut = size && dyn >= size;
	if (nchain)
		kernel_frames(b, chain, nchain, &snap);
	s->stats.snapshots++;
	/* -a: the per-CPU events copy --stack-size, no thread has its own. */
	if (sampler_deliver(s, &snap) == UNWIND_CUT && snap.stack_cut && !s->cfg.all &&
	    stackask_can_grow(&b->ask, cls))
		stack_grow(s, (pid_t)tid, cls);
}

_Static_assert(PYREADER_WALK_NO_DEREF == BPF_CAPTURE_NO_DEREF, "one mark of no dereference");

/* A hash of the regions @remote[0 .. n) (never 0). */
static uint64_t regions_hash(const struct iovec *remote, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < n; i++)
		h = hash_mix64(h ^ hash_mix64((uint64_t)(uintptr_t)remote[i].iov_base ^
					      ((uint64_t)remote[i].iov_len << 48)));
	return h ? h : 1;
}

/*
 * The Python frames of a BPF sample: the walk of the thread's frame chain
 * takes the memory the program copied at the sample instant (@py: the
 * thread state, then the frames the program walked from it), and reads
 * what it needs beyond them now, while
 * the thread runs on (a chain read so may be torn, which the walk detects
 * and counts). Then the program is told what to copy at this thread's
 * next samples (pyreader_copy_plan).
 */
static void bpf_python(struct sampler *s, struct name *n, struct snapshot *snap,
		       const struct bpf_record_py *py)
{
	struct perf_backend *b = backend_of(s);
	struct iovec remote[PYREADER_PREFETCH_MAX];
	struct sampler_proc *p = sampler_proc(s, snap->pid);
	struct pyreader *r = p ? sampler_python(s, p) : NULL;
	struct pyreader_copy copy = {
		.remote = py->remote, .n = py->n, .bytes = py->bytes, .len = py->len,
		.walk = py->walk, .frames = py->frames, .frame_len = py->frame_len,
		.frame_stride = py->frame_stride,
	};
	struct pyreader_walk walk;
	struct bpf_capture_walk bw;
	size_t got, k;
	uint64_t h;

	if (!r)
		return;
	got = pyreader_prefetch_copied(r, snap->tid, &copy);
	/* Without a copy of this instant (the thread's first samples, before
	 * the program knew what to copy, or a thread state gone), the chain
	 * read now would be of another moment than the stack, and the merge
	 * could pair the wrong calls: the sample keeps its native frames. */
	if (got &&
	    pyreader_capture_stack(r, snap->tid, snap->stack_addr, snap->stack, snap->stack_len,
				   got, s->pystack) == 0)
		snap->py = s->pystack;
	if (!n)
		return;
	k = pyreader_copy_plan(r, snap->tid, remote, BPF_RECORD_PY_REGIONS, &walk);
	bw = (struct bpf_capture_walk){ walk.frame_at, walk.deref_off, walk.frame_len,
					 walk.back_off };
	h = k ? regions_hash(remote, k) ^ hash_mix64(walk.frame_at ^ walk.frame_len) : 0;
	if (h != n->pyregions &&
	    bpf_capture_set_regions(b->bpf, (uint32_t)snap->tid, remote, k,
				    walk.frame_len ? &bw : NULL) == 0)
		n->pyregions = h;
}

/* A sample of the BPF program (bpf/record.h): the same snapshot as
 * handle_sample's, from a record that is checked before it is trusted. */
static void handle_bpf_sample(struct sampler *s, const uint8_t *rec, size_t len)
{
	struct perf_backend *b = backend_of(s);
	struct bpf_record_py py;
	struct snapshot snap;
	struct name *n;

	memset(&snap, 0, sizeof(snap));
	if (bpf_record_parse(rec, len, &snap, &py) < 0) {
		s->stats.failed++;
		return;
	}
	if (!tracked(s, snap.pid))
		return;
	/* A kernel thread (-a) has no user context: no user stack pointer,
	 * where perf's own sample says PERF_SAMPLE_REGS_ABI_NONE. */
	if (s->cfg.all && !snap.regs[SNAP_RSP])
		return;
	snap.state = 'R';
	n = name_of(b, snap.pid, snap.tid);
	snap.comm = n ? n->comm : "?";
	if (n)
		name_sampled(s, n);
	snap.weight = 1;
	if (s->cfg.pycodes)
		bpf_python(s, n, &snap, &py);
	s->stats.snapshots++;
	sampler_deliver(s, &snap);
}

/* The time of a record (CLOCK_MONOTONIC ns): a sample's after its pid and
 * tid; every other record's in the struct sample_id that ends it
 * (sample_id_all, with PERF_SAMPLE_TID | PERF_SAMPLE_TIME: pid, tid, time).
 * 0 when too short to hold one. */
static uint64_t record_time(const uint8_t *rec, size_t len)
{
	const struct perf_event_header *h = (const void *)rec;
	uint64_t time = 0;

	if (h->type == PERF_RECORD_SAMPLE) {
		if (len >= sizeof(*h) + 16)
			memcpy(&time, rec + sizeof(*h) + 8, 8);
	} else if (len >= sizeof(*h) + 16) {
		memcpy(&time, rec + len - 8, 8);
	}
	return time;
}

static void handle_record(struct sampler *s, const uint8_t *rec, size_t len)
{
	struct perf_backend *b = backend_of(s);
	const struct perf_event_header *h = (const void *)rec;
	struct sampler_proc *p;
	uint32_t ids[4] = { 0 };

	if (h->type != PERF_RECORD_SAMPLE && h->type != PERF_RECORD_LOST) {
		/* Every other record we ask for starts with pid, tid (or
		 * pid, ppid for FORK and EXIT). */
		if (len < sizeof(*h) + 16)
			return;
		memcpy(ids, rec + sizeof(*h), 16);
		/* -a: every process's names, forks and exits are followed (a
		 * process --comm looks for may get its name by an exec), its
		 * mappings only once it is sampled. */
		if (s->cfg.all && (h->type == PERF_RECORD_COMM || h->type == PERF_RECORD_EXIT ||
				   h->type == PERF_RECORD_FORK)) {
			if ((pid_t)ids[0] == b->self)
				return;
		} else if (!tracked(s, (pid_t)ids[0])) {
			return;
		}
	}
	switch (h->type) {
	case PERF_RECORD_SAMPLE:
		handle_sample(s, rec, len);
		break;
	case PERF_RECORD_MMAP:
		/* New code mapped (dlopen, or the loader after an exec). With
		 * -a, only a process already sampled is read again, at its next
		 * sample: the others are read when they are first sampled. */
		if (s->cfg.all) {
			p = sampler_proc_find(s, (pid_t)ids[0]);
			if (p)
				p->maps_stale = true;
			break;
		}
		p = sampler_proc(s, (pid_t)ids[0]);
		if (p)
			sampler_reload_maps(s, p, 1);
		break;
	case PERF_RECORD_COMM: {
		/* pid, tid, comm: a thread named itself, or an exec */
		size_t n = len - sizeof(*h) - 8;
		struct name *nm;

		if ((h->misc & PERF_RECORD_MISC_COMM_EXEC) &&
		    (!s->cfg.all || sampler_proc_find(s, (pid_t)ids[0])))
			sampler_proc_exec(s, (pid_t)ids[0], record_time(rec, len));
		nm = name_of(b, (pid_t)ids[0], (pid_t)ids[1]);
		if (nm) {
			nm->wanted = 0;
			if (n >= sizeof(nm->comm))
				n = sizeof(nm->comm) - 1;
			memcpy(nm->comm, rec + sizeof(*h) + 8, n);
			nm->comm[n] = '\0';
			nm->comm[strnlen(nm->comm, n)] = '\0';
		}
		/* -a: the record names the program an exec started, also
		 * when the process is gone before /proc could be read. */
		if (s->cfg.all && nm && (h->misc & PERF_RECORD_MISC_COMM_EXEC) &&
		    (p = sampler_proc_find(s, (pid_t)ids[0])))
			snprintf(p->comm, sizeof(p->comm), "%s", nm->comm);
		break;
	}
	case PERF_RECORD_FORK:
		/* pid, ppid, tid, ptid: a new process is pid == tid. Read
		 * its maps now, while it surely exists. */
		if (ids[0] == ids[2] && ids[0] != ids[1] && !s->cfg.all)
			sampler_proc_fork(s, (pid_t)ids[0], (pid_t)ids[1]);
		/* -a: a new process is named as its parent until an exec
		 * renames it: it may be gone before /proc is read. */
		if (s->cfg.all && ids[0] == ids[2] && ids[0] != ids[1])
			name_inherit(b, (pid_t)ids[0], (pid_t)ids[1]);
		families_forked(b, (pid_t)ids[3], record_time(rec, len));
		break;
	case PERF_RECORD_EXIT: {
		/* pid, ppid, tid, ptid: a thread of ours is gone */
		struct name *nm = name_find(b, (pid_t)ids[2]);

		if (nm && !nm->exited_at)
			nm->exited_at = b->polls;
		if (s->cfg.all && ids[0] == ids[2])
			sampler_proc_exited(s, (pid_t)ids[0]);
		break;
	}
	case PERF_RECORD_READ: {
		/* pid, tid, value, id: see name_exit_time. A thread that
		 * inherited two families has the same time in both: one
		 * family's records are counted. */
		struct name *nm;
		struct family *f;
		uint64_t value, id;
		uint32_t fam;

		if (len < sizeof(*h) + 24)
			break;
		memcpy(&value, rec + sizeof(*h) + 8, 8);
		memcpy(&id, rec + sizeof(*h) + 16, 8);
		f = family_of_id(b, id);
		fam = f ? (uint32_t)(f - b->fams) + 1 : 0;
		nm = name_of(b, (pid_t)ids[0], (pid_t)ids[1]);
		if (!nm)
			break;
		if (!nm->read_family)
			nm->read_family = fam;
		if (nm->read_family == fam)
			name_exit_time(s, nm, value);
		break;
	}
	case PERF_RECORD_LOST:
		if (len >= sizeof(*h) + 16) {
			uint64_t lost;

			memcpy(&lost, rec + sizeof(*h) + 8, 8);
			s->stats.lost += lost;
		}
		break;
	default:
		break;
	}
}

/* Room for one more pending record. 0 or -ENOMEM. */
static int pend_reserve(struct perf_backend *b)
{
	struct pending *bigger;
	size_t cap;

	if (b->npend < b->pend_cap)
		return 0;
	cap = b->pend_cap ? b->pend_cap * 2 : 256;
	bigger = realloc(b->pend, cap * sizeof(*bigger));
	if (!bigger)
		return -ENOMEM;
	b->pend = bigger;
	b->pend_cap = cap;
	return 0;
}

/*
 * Is @rec a second copy of a side-band record (MMAP, COMM, FORK, EXIT)
 * collected from this ring in this pass? A thread with events of two
 * classes has each such record written by both into the ring of its CPU,
 * one after the other: the same bytes but for the time that ends them
 * (struct sample_id). An exec counted twice would make two programs of
 * one, or wait for an exec that never comes.
 */
static int sideband_repeat(struct perf_backend *b, const uint8_t *rec, size_t len)
{
	uint64_t t = record_time(rec, len);

	if (len < sizeof(struct perf_event_header) + 16)
		return 0;
	for (unsigned i = 0; i < b->nrecent; i++) {
		const uint8_t *r = b->recent[i];
		uint64_t u;

		if (b->recent_len[i] != len || memcmp(r, rec, len - 8) != 0)
			continue;
		u = record_time(r, len);
		if ((t > u ? t - u : u - t) < SIDEBAND_REPEAT_NS)
			return 1;
	}
	/* The last SIDEBAND_RECENT ones, oldest replaced. */
	if (b->nrecent < SIDEBAND_RECENT) {
		b->recent[b->nrecent] = rec;
		b->recent_len[b->nrecent++] = (uint32_t)len;
	} else {
		memmove(b->recent, b->recent + 1, (SIDEBAND_RECENT - 1) * sizeof(*b->recent));
		memmove(b->recent_len, b->recent_len + 1,
			(SIDEBAND_RECENT - 1) * sizeof(*b->recent_len));
		b->recent[SIDEBAND_RECENT - 1] = rec;
		b->recent_len[SIDEBAND_RECENT - 1] = (uint32_t)len;
	}
	return 0;
}

/*
 * Queue the records waiting in ring @i (up to the head read now), without
 * freeing their space: they stay where the kernel wrote them until handled.
 * An exec seen here is announced (sampler_proc_exec_coming), so that no
 * sample taken before it is unwound with mappings read after it. Returns the
 * new tail to store once they are handled.
 */
static uint64_t ring_collect(struct sampler *s, size_t i)
{
	struct perf_backend *b = backend_of(s);
	struct ring *r = &b->rings[i];
	struct perf_event_mmap_page *meta = r->base;
	const uint8_t *data = (const uint8_t *)r->base + b->page;
	uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = meta->data_tail;

	b->nrecent = 0;

	while (tail < head) {
		struct perf_event_header h;
		size_t off = (size_t)(tail & (r->size - 1));
		const uint8_t *rec;

		if (r->size - off >= sizeof(h)) {
			memcpy(&h, data + off, sizeof(h));
		} else {
			memcpy(&h, data + off, r->size - off);
			memcpy((uint8_t *)&h + (r->size - off), data, sizeof(h) - (r->size - off));
		}
		if (h.size < sizeof(h) || h.size > head - tail)
			break;
		if (pend_reserve(b) < 0)
			break;   /* the rest waits for the next pass */
		if (r->size - off >= h.size) {
			rec = data + off;
		} else {
			/* Wrapped: made whole in the ring's own copy. Only
			 * one record of a pass can wrap: a pass reads less
			 * than the ring holds. */
			if (!b->wraps[i] && !(b->wraps[i] = malloc(1u << 16)))
				break;
			memcpy(b->wraps[i], data + off, r->size - off);
			memcpy(b->wraps[i] + (r->size - off), data, h.size - (r->size - off));
			rec = b->wraps[i];
		}
		if (b->regrown && (h.type == PERF_RECORD_MMAP || h.type == PERF_RECORD_COMM ||
				   h.type == PERF_RECORD_FORK || h.type == PERF_RECORD_EXIT) &&
		    sideband_repeat(b, rec, h.size)) {
			tail += h.size;
			continue;
		}
		if (h.type == PERF_RECORD_COMM && (h.misc & PERF_RECORD_MISC_COMM_EXEC) &&
		    h.size >= sizeof(h) + 16) {
			uint32_t pid;

			memcpy(&pid, rec + sizeof(h), 4);
			if (s->cfg.all ? sampler_proc_find(s, (pid_t)pid) != NULL :
					 tracked(s, (pid_t)pid))
				sampler_proc_exec_coming(s, (pid_t)pid);
		}
		b->pend[b->npend] = (struct pending){
			.time = record_time(rec, h.size), .rec = rec, .len = h.size,
			.seq = (uint32_t)b->npend,
		};
		b->npend++;
		tail += h.size;
	}
	return tail;
}

/* Queue a record of the BPF ring (a bpf_capture_fn), by the time in it. */
static int bpf_pend(const uint8_t *rec, size_t len, void *ctx)
{
	struct perf_backend *b = ctx;
	struct snapshot snap;

	if (len > UINT32_MAX || pend_reserve(b) < 0)
		return 1;   /* the rest waits for the next pass */
	memset(&snap, 0, sizeof(snap));
	/* A bad record is queued all the same (time 0), to be counted as
	 * failed when handled. */
	bpf_record_parse(rec, len, &snap, NULL);
	b->pend[b->npend] = (struct pending){
		.time = snap.time_ns, .rec = rec, .len = (uint32_t)len,
		.seq = (uint32_t)b->npend, .bpf = 1,
	};
	b->npend++;
	return 0;
}

static int pending_cmp(const void *x, const void *y)
{
	const struct pending *a = x, *b = y;

	if (a->time != b->time)
		return a->time < b->time ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Are the pending records in order already (one ring had them all)? */
static int pending_sorted(const struct perf_backend *b)
{
	for (size_t k = 1; k < b->npend; k++)
		if (pending_cmp(&b->pend[k - 1], &b->pend[k]) > 0)
			return 0;
	return 1;
}

/*
 * Hand every record waiting in the rings to handle_record, in order of
 * time, then free their space. One ring per CPU: a thread's records are in
 * the ring of the CPU it ran on, so only the times order them (perf's
 * ordered events do the same).
 */
static void rings_drain(struct sampler *s)
{
	struct perf_backend *b = backend_of(s);
	uint64_t *tails;
	int i, n = b->ncpus;

	tails = b->tails;
	b->npend = 0;
	/* The BPF ring first: every perf record written before the last BPF
	 * record collected is then in this pass too (an exec before a sample
	 * of the new program must not wait for the next pass). */
	if (b->bpf)
		bpf_capture_collect(b->bpf, bpf_pend, b);
	for (i = 0; i < n; i++)
		if (b->rings[i].base)
			tails[i] = ring_collect(s, (size_t)i);
	if (b->npend > 1 && !pending_sorted(b))
		qsort(b->pend, b->npend, sizeof(*b->pend), pending_cmp);
	for (size_t k = 0; k < b->npend; k++) {
		if (b->pend[k].bpf)
			handle_bpf_sample(s, b->pend[k].rec, b->pend[k].len);
		else
			handle_record(s, b->pend[k].rec, b->pend[k].len);
	}
	b->npend = 0;
	if (b->bpf) {
		uint64_t lost = bpf_capture_lost(b->bpf);

		bpf_capture_release(b->bpf);
		s->stats.lost += lost - b->bpf_lost;
		b->bpf_lost = lost;
	}
	for (i = 0; i < n; i++) {
		struct perf_event_mmap_page *meta = b->rings[i].base;

		if (meta)
			__atomic_store_n(&meta->data_tail, tails[i], __ATOMIC_RELEASE);
	}
}

/* Threads listed in /proc/PID/task; 0 when the process is gone. */
static int task_count(pid_t pid)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((de = readdir(dir)))
		n += de->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* Has the target ended? A started command is our child and is reaped. A
 * process attached by PID has ended when it is gone, or when its leader is a
 * zombie with no thread left (a leader may leave early with pthread_exit
 * while its threads work on: that is not the end). */
static void check_exit(struct sampler *s)
{
	struct perf_backend *b = backend_of(s);
	char path[64], buf[512], state = '?', comm[TARGET_COMM_MAX];
	ssize_t n;
	int status;

	/* The whole machine has no end of its own: -d or a signal ends it. */
	if (s->cfg.all)
		return;
	if (b->child) {
		if (waitpid(b->child, &status, WNOHANG) == b->child) {
			s->exit_status = status;
			b->exited = 1;
		}
		return;
	}
	/* The pidfd reads as ready once the process has ended: a leader
	 * that is a zombie with no thread left (pidfd_open(2)). */
	if (b->pidfd >= 0) {
		if (b->pfds[b->ncpus + 1].revents & (POLLIN | POLLHUP | POLLERR))
			b->exited = 1;
		return;
	}
	/* A look at /proc costs more than the rest of a tick: once every
	 * EXIT_CHECK_NS is soon enough to notice the end. */
	if (sampler_now_ns() < b->next_exit_check)
		return;
	b->next_exit_check = sampler_now_ns() + EXIT_CHECK_NS;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)s->pid);
	n = procfs_read_small(path, buf, sizeof(buf));
	if (n <= 0 || target_parse_stat(buf, (size_t)n, &state, comm, sizeof(comm)) < 0 ||
	    state == 'X' || (state == 'Z' && task_count(s->pid) <= 1))
		b->exited = 1;
}

int perf_sampler_poll(struct sampler *s)
{
	struct perf_backend *b = backend_of(s);
	struct signalfd_siginfo si;
	int n = b->ncpus;

	s->stats.ticks++;
	b->polls++;
	/* The first polls come quickly whatever the batch: a thread whose
	 * stacks need a larger copy than the first is given it at the first
	 * drain, and its samples until then end in [truncated]. */
	if (poll(b->pfds, (nfds_t)n + 1 + (b->pidfd >= 0),
		 b->polls <= FIRST_POLLS ? POLL_MS : b->poll_ms) < 0 && errno != EINTR)
		return -errno;
	/* A ring whose event has ended with all it was inherited by (its
	 * thread exited) reads as hung up from now on: polled, it would
	 * wake at once, and again. Other threads' events may still write
	 * into the ring: it is drained with the others, at each poll. */
	for (int i = 0; i < n; i++)
		if (b->pfds[i].fd >= 0 && (b->pfds[i].revents & (POLLHUP | POLLERR)))
			b->pfds[i].fd = -1;
	rings_drain(s);
	names_compact(b);
	families_retire(b);
	while (read(b->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo != SIGCHLD) {
			s->signal = (int)si.ssi_signo;
			return SAMPLER_SIGNALLED;
		}
	}
	check_exit(s);
	if (b->exited) {
		rings_drain(s);
		return SAMPLER_EXITED;
	}
	return SAMPLER_TICK;
}

void perf_sampler_close(struct sampler *s)
{
	struct perf_backend *b = backend_of(s);
	size_t i;

	if (!b)
		return;
	for (i = 0; i < b->nfds; i++)
		close(b->fds[i]);
	for (i = 0; b->rings && i < (size_t)b->ncpus; i++) {
		if (b->rings[i].base)
			munmap(b->rings[i].base, b->rings[i].size + b->page);
	}
	if (b->sigfd >= 0)
		close(b->sigfd);
	if (b->pidfd >= 0)
		close(b->pidfd);
	/* After the events, which hold the program while open. */
	bpf_capture_free(b->bpf);
	if (b->child)
		check_exit(s);
	for (i = 0; b->wraps && i < (size_t)b->ncpus; i++)
		free(b->wraps[i]);
	free(b->wraps);
	free(b->tails);
	free(b->pend);
	free(b->rings);
	free(b->fds);
	free(b->pfds);
	free(b->names);
	for (i = 0; i < b->nfams; i++) {
		free(b->fams[i].fds);
		free(b->fams[i].ids);
	}
	free(b->fams);
	free(b);
	s->backend = NULL;
}

/* Open the perf sampler, or with @bpf (owned from now on, even when this
 * fails) the BPF sampler. */
static int perf_open_with(struct sampler *s, struct bpf_capture *bpf)
{
	struct perf_backend *b = calloc(1, sizeof(*b));
	sigset_t set;
	int err, i;

	if (!b) {
		bpf_capture_free(bpf);
		return log_error(-ENOMEM, "out of memory");
	}
	s->backend = b;
	b->bpf = bpf;
	b->sigfd = -1;
	b->pidfd = -1;
	b->page = (size_t)sysconf(_SC_PAGESIZE);
	b->ncpus = (int)sysconf(_SC_NPROCESSORS_CONF);
	b->period_ns = 1000000000ull / (s->cfg.rate ? s->cfg.rate : 1);
	b->ring_pages = bpf ? RING_PAGES_BPF : RING_PAGES_MAX;
	b->stack_size = s->cfg.stack_size < PERF_MAX_STACK ? s->cfg.stack_size : PERF_MAX_STACK;
	b->stack_size &= ~(size_t)7;
	/* Each thread's copy starts small and grows where its stacks come
	 * back cut, up to --stack-size (stack_grow). */
	b->ask = stackask_make(STACKASK_FIRST, b->stack_size);
	/* Not with BPF: its ring wakes nobody, and holds 60 ms of full
	 * copies per CPU (bpf_sampler.c): drained every POLL_MS. */
	b->poll_ms = s->cfg.batch_ms && !bpf ? (int)s->cfg.batch_ms : POLL_MS;
	if (s->cfg.stack_size > SAMPLER_DEFAULT_STACK_SIZE)
		log_warn("the %s sampler copies at most 64 KiB of stack per sample, not "
			 "the %zu KiB of --stack-size: deeper stacks end in [truncated]%s",
			 bpf ? "bpf" : "perf", s->cfg.stack_size / 1024,
			 s->cfg.all ? "" : " (--sampler ptrace or auto copies all of it)");
	b->rings = calloc((size_t)b->ncpus, sizeof(*b->rings));
	b->pfds = calloc((size_t)b->ncpus + 2, sizeof(*b->pfds));
	b->wraps = calloc((size_t)b->ncpus, sizeof(*b->wraps));
	b->tails = calloc((size_t)b->ncpus, sizeof(*b->tails));
	if (!b->rings || !b->pfds || !b->wraps || !b->tails) {
		err = log_error(-ENOMEM, "out of memory");
		goto fail;
	}
	sampler_signal_set(&set);
	b->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (b->sigfd < 0) {
		err = log_error(-errno, "signalfd: %s", strerror(errno));
		goto fail;
	}

	b->self = getpid();
	if (s->cfg.all) {
		s->pid = 0;
		snprintf(s->comm, sizeof(s->comm), "all");
		err = all_open(s);
		if (err < 0)
			goto fail;
	} else if (s->cfg.argv) {
		const char *base = strrchr(s->cfg.argv[0], '/');
		pid_t pid = target_spawn(s->cfg.argv, 0);

		if (pid < 0) {
			err = pid;
			goto fail;
		}
		/* Stopped at its exec: events opened now see all of it. */
		s->pid = b->child = pid;
		snprintf(s->comm, sizeof(s->comm), "%s", base ? base + 1 : s->cfg.argv[0]);
		err = sampler_target(s) ? 0 : -errno;
		if (err == 0)
			err = open_all(s);
		if (err < 0) {
			/* Not one instruction of the program has run: remove it
			 * rather than leave an unprofiled copy running. */
			kill(pid, SIGKILL);
			ptrace(PTRACE_DETACH, pid, NULL, NULL);
			waitpid(pid, NULL, 0);
			b->child = 0;
			goto fail;
		}
		ptrace(PTRACE_DETACH, pid, NULL, NULL);
	} else {
		s->pid = s->cfg.pid;
		err = target_comm(s->pid, s->comm, sizeof(s->comm));
		if (err == 0)
			err = sampler_target(s) ? 0 : -errno;
		if (err < 0) {
			char why[384];

			/* /proc refuses another user's maps (EACCES) before the
			 * kernel would refuse the events. */
			if ((err == -EACCES || err == -EPERM) &&
			    target_access_problem(s->pid, why, sizeof(why)))
				err = log_error(err, "cannot attach to %d: %s", (int)s->pid, why);
			else if ((err == -EACCES || err == -EPERM) && geteuid() == 0 &&
				 target_root_problem(s->pid, why, sizeof(why)))
				err = log_error(err, "cannot attach to %d: operation not permitted: %s",
						(int)s->pid, why);
			else
				err = log_error(err, "cannot attach to %d: %s", (int)s->pid,
						err == -ESRCH ? "no such process (check the PID "
								"with ps)" : strerror(-err));
			goto fail;
		}
		err = open_all(s);
		if (err < 0)
			goto fail;
	}
	for (i = 0; i < b->ncpus; i++) {
		b->pfds[i].fd = b->rings[i].base ? b->rings[i].fd : -1;
		b->pfds[i].events = POLLIN;
	}
	b->pfds[b->ncpus].fd = b->sigfd;
	b->pfds[b->ncpus].events = POLLIN;
	/* An attached process: its end is told by a pidfd (Linux 5.3), so
	 * that no tick reads /proc; without one, by /proc (check_exit). A
	 * started command is our child: SIGCHLD tells. */
	if (!b->child) {
		b->pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
		if (b->pidfd >= 0) {
			b->pfds[b->ncpus + 1].fd = b->pidfd;
			b->pfds[b->ncpus + 1].events = POLLIN;
		}
	}
	/* The BPF ring is not polled: it reads as ready whenever it holds a
	 * record, which would make a drain of each sample. It is drained
	 * with the perf rings, every poll_ms at most. */
	s->stats.threads_seen = 1;
	return 0;

fail:
	perf_sampler_close(s);
	return err;
}

static int perf_open(struct sampler *s)
{
	return perf_open_with(s, NULL);
}

int perf_sampler_open_bpf(struct sampler *s, struct bpf_capture *bpf)
{
	return perf_open_with(s, bpf);
}

size_t perf_sampler_thread_count(const struct sampler *s)
{
	return backend_of(s)->nnames;
}

const struct sampler_ops perf_sampler_ops = {
	.name = "perf",
	.open = perf_open,
	.poll = perf_sampler_poll,
	.close = perf_sampler_close,
	.thread_count = perf_sampler_thread_count,
};
