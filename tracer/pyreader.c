#include "pyreader.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "addrspace.h"
#include "array.h"
#include "bytes.h"
#include "hash.h"
#include "htable.h"
#include "procfs.h"
#include "pychain.h"
#include "pylayout.h"
#include "target.h"
#include "text.h"

#include "banned.h"

/* Bounds on what the target's lists may hold: a walk stops there. */
#define INTERPS_MAX 64
#define THREADS_MAX 4096
/* Largest part of a data-stack chunk copied in one read (CPython's chunks
 * are 16 KiB, bigger only for one huge frame: Python/pystate.c
 * push_chunk), and most chunks of one thread copied per capture. */
#define CHUNK_COPY_MAX (1u << 20)
#define CHUNKS_MAX 32
#define COPY_MAX (4u << 20)
/*
 * <=3.10 frame objects: a frame missing from the copies is read with the
 * pages below it (target_read_window), up to this many whole pages.
 * CPython's small-object allocator hands out a pool's blocks in address
 * order, so a function's frame is most often just below the frame of the
 * call it made (the chain runs downwards, 432 bytes a frame on 3.9):
 * one read brings several frames, instead of one read each while the
 * thread is held. Objects/obmalloc.c, Objects/frameobject.c.
 */
#define FRAME_WINDOW_PAGES 3u
/* <=3.10: frame-object spans copied with the stack (pyreader_prefetch):
 * frames less than SPAN_GAP apart share a span; at most PREFETCH_SPANS
 * spans, SPANS_COPY_MAX bytes in all. */
#define PREFETCH_SPANS 6
#define SPAN_GAP 2048u
#define SPANS_COPY_MAX (64u << 10)
/* A thread with no thread state at the last walk is not walked for again
 * sooner than this (a native thread would cost a walk at every sample). */
#define NEGATIVE_RETRY_NS (100 * 1000 * 1000LL)
/* Thread names are read again this often, and sooner (but not more
 * often than PYREADER_NAMES_NEW_NS) for a thread not named yet: it may
 * have started since. */
#define PYREADER_NAMES_REFRESH_NS (1000 * 1000 * 1000LL)
#define PYREADER_NAMES_NEW_NS (100 * 1000 * 1000LL)
#define PYREADER_NAMES_MAX 1024
/* Whether the process runs more than one interpreter is asked again this
 * often (one read); while it does, each capture of a thread looks at this
 * many thread states at most, and joins at most MULTI_CHAINS chains. */
#define MULTI_CHECK_NS (10 * 1000 * 1000LL)
#define MULTI_TSTATES 64
#define MULTI_CHAINS 8

/* A Python thread's name, by threading.get_ident() (its pthread_t), and
 * the tid threading knows it by (Thread._native_id, 3.8+; 0: unknown). */
struct pyreader_name {
	uint64_t ident;
	uint64_t native_id;
	char name[PYREADER_NAME_MAX];
};

/* glibc's struct pthread: the tid field is looked for in its first bytes
 * (nptl/descr.h: at 0x2d0 on x86-64 glibc 2.28-2.38). */
#define PTHREAD_SCAN 2048u
#define PTHREAD_TID_GLIBC 0x2d0u
#define PTHREAD_SCAN_THREADS 16
/* Code objects cached before the cache starts over. */
#define CODES_CACHE_MAX (1u << 20)
/* process_vm_readv takes at most IOV_MAX (1024) iovecs a call. */
#define BATCH_IOV 1024
/* The GIL's last holder (a pointer) and lock word (an int) lie within 16
 * bytes of each other in every layout. */
#define GIL_SPAN_MAX 16u
/* sys.path: entries kept, and how old a copy may be when a new code object
 * is met. */
#define SYSPATH_MAX 256u
#define SYSPATH_REFRESH_NS (1000 * 1000 * 1000LL)
/* ... and how old when a new code object's file lies under no entry: a
 * spawned multiprocessing worker starts as `python -c`, and gets its
 * parent's sys.path (the script's directory first) only ~0.1 s later,
 * just before it imports the parent's script. Files under no entry are
 * rare once a program runs, and this bounds the reads they cost. (A
 * program started under hotspy, through a venv too, reads its first code
 * objects before sys.path[0], the script's directory, is set.) */
#define SYSPATH_MISS_REFRESH_NS (20 * 1000 * 1000LL)

struct thread_entry {
	uint32_t nstid;       /* the tid as the target's PID namespace sees it */
	uint64_t tstate;      /* 0: no thread state at the last walk */
	uint64_t pthread;     /* <=3.10: tstate->thread_id */
	long long walked_ns;  /* when tstate was found 0 */
	/* 3.11+: the data-stack chunk this thread used at its last capture
	 * and how much of it to copy with its thread state next time. */
	uint64_t chunk;
	size_t chunk_len;
	/* <=3.10: the spans of frame objects its last capture read, to copy
	 * with its stack next time (pyreader_prefetch). */
	struct span { uint64_t lo, hi; } spans[PREFETCH_SPANS];
	size_t nspans;
};

/* Host tid -> tid in the target's PID namespace (only when they differ). */
struct tid_entry {
	pid_t tid;
	uint32_t nstid;
};

/* The fields of a code object that tell one code object from another that
 * reused its address. */
struct code_key {
	uint64_t type, filename, name, qualname, linetable;
	int32_t firstlineno;
};

struct code_entry {
	uint64_t addr;
	uint32_t id;          /* in r->codes */
	uint64_t checked;     /* the resolve call that last validated it */
	struct code_key key;
};

/* A copy of target bytes [addr, addr + len) at buf + off. */
struct region {
	uint64_t addr;
	size_t len;
	size_t off;
};

struct pyreader {
	pid_t pid;
	struct pyfind_result found;
	struct pylayout layout;
	bool layout_from_target;
	struct pycodes *codes;
	uint64_t interp_head_addr;    /* where the newest interpreter's
	                               * address is (0: unknown) */
	struct pyreader_range text[PYREADER_TEXT_MAX];
	size_t ntext;
	bool other_ns;                /* the target is in another PID ns */

	size_t tstate_size;           /* bytes of a thread state read */
	size_t frame_size;
	size_t page;                  /* the page size, for region_window */
	uint32_t pthread_tid;         /* <=3.10: tid offset in struct
	                               * pthread, PYLAYOUT_ABSENT: unknown */

	struct thread_entry *threads;
	size_t nthreads, threads_cap;
	struct tid_entry *tids;
	size_t ntids, tids_cap;

	/* Capture scratch: the copied regions and one small frame. */
	uint8_t *copy;
	size_t copy_cap, copy_used;
	struct region regions[CHUNKS_MAX];
	size_t nregions;
	uint64_t next_chunk;          /* older chunk not copied yet */
	uint64_t next_chunk_size;     /* its size, once its header is read */
	uint64_t next_chunk_top;
	/* Copied with the thread state (tstate_get), not yet a region: the
	 * chunk hint's bytes at copy + copy_used. */
	uint64_t pre_chunk;
	size_t pre_len;
	/* pyreader_prefetch: the thread state it asked for, copied to pf_ts
	 * (and the chunk to copy + 0), and how much of it came. */
	pid_t pf_tid;
	uint64_t pf_tstate, pf_chunk;
	size_t pf_chunk_len, pf_got;
	bool pf_valid;
	uint8_t pf_ts[4096];
	uint32_t pf_nstid_tid;        /* <=3.7: the tid in struct pthread */
	struct span pf_spans[PREFETCH_SPANS];
	size_t pf_nspans;
	size_t pf_spans_at;           /* where the spans start in the bytes
	                               * prefetched (copied at copy + 0) */
	/* pyreader_prefetch_copied: frames walked at the sample instant, for
	 * the next capture (walk_i: the one it most likely reads next). */
	const uint8_t *walk;
	size_t walk_n, walk_len, walk_stride, walk_i;
	/* <=3.10: the frame spans this capture read (capture_source). */
	struct span spans[PREFETCH_SPANS];
	size_t nspans;
	uint8_t small[256];
	/* The thread's stack as the sampler copied it (pyreader_capture_stack),
	 * during one capture. */
	const uint8_t *stack;
	uint64_t stack_addr;
	size_t stack_len;
	struct pychain_seen *seen;

	/* Code objects by address. */
	struct code_entry *code_cache;
	size_t ncodes, codes_cap;
	struct htable code_index;
	uint64_t resolves;
	uint64_t code_type;           /* &PyCode_Type, learned once */
	size_t code_head;             /* bytes of a code object read */
	struct iovec *iov_local, *iov_remote;
	uint8_t *batch;
	size_t batch_cap;

	/* Thread names (pyreader_thread_name). */
	uint64_t active_dict;         /* threading._active, 0: not found yet */
	long long active_tried_ns;    /* when it was last looked for */
	long long active_retry_ns;    /* and how long until the next look */
	uint64_t name_key;            /* the interned "_name" str, once met */
	uint64_t native_id_key;       /* and "_native_id" */
	struct pyreader_name names[PYREADER_NAMES_MAX];
	size_t nnames;
	struct pyreader_name kept[PYREADER_NAMES_MAX];  /* by thread: name_keep */
	uint32_t kept_tid[PYREADER_NAMES_MAX];
	size_t nkept;
	long long names_ns;           /* when they were read, 0: never */

	/* sys.path, for the file names shown (syspath_short). */
	char **syspath;
	size_t nsyspath;
	long long syspath_ns;         /* when it was read, 0: never */
	uint64_t syspath_list;        /* the list object read, 0: none yet */
	uint64_t syspath_head[2];     /* its ob_size and ob_item then */

	/* The GIL (pyreader_want_gil): where its holder and lock word are,
	 * learned by the last capture, and their copy by pyreader_prefetch
	 * when the first pf_gil_need bytes of the prefetch came. */
	bool want_gil;
	uint64_t gil_interp;          /* 3.12+: the interpreter whose GIL
	                               * struct is at gil_struct */
	uint64_t gil_struct;
	uint64_t gil_addr;            /* the span read: [gil_addr, + gil_len) */
	size_t gil_len;
	uint32_t gil_holder_off, gil_locked_off;   /* in the span */
	uint8_t pf_gil[GIL_SPAN_MAX];
	uint64_t pf_gil_addr;
	size_t pf_gil_need;           /* 0: not prefetched */

	/* Subinterpreters: the process had more than one interpreter at
	 * the last check (multi_check), and a scratch stack for the chains
	 * of the thread states capture_multi looks at. */
	bool multi;
	long long multi_ns;
	struct pystack *multi_scratch;

	struct pyreader_stats stats;
	int process_err;              /* of the current capture */
};

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One process_vm_readv of the capture path, counted. An error that is
 * about the process, not the address (-ESRCH: gone; -EPERM), is kept for
 * pyreader_capture to return. */
static int cap_read(struct pyreader *r, uint64_t addr, void *buf, size_t len)
{
	int err;

	r->stats.reads++;
	err = target_read(r->pid, addr, buf, len);
	if (err == -ESRCH || err == -EPERM)
		r->process_err = err;
	return err;
}

/* One process_vm_readv of the resolve path, counted. */
static int res_read(struct pyreader *r, uint64_t addr, void *buf, size_t len)
{
	r->stats.resolve_reads++;
	return target_read(r->pid, addr, buf, len);
}

/* Two ranges in one process_vm_readv; 0 only when both were read whole. */
static int cap_read2(struct pyreader *r, uint64_t a1, void *b1, size_t l1,
		     uint64_t a2, void *b2, size_t l2)
{
	struct iovec local[2] = { { b1, l1 }, { b2, l2 } };
	struct iovec remote[2] = { { (void *)(uintptr_t)a1, l1 }, { (void *)(uintptr_t)a2, l2 } };
	ssize_t n;

	r->stats.reads++;
	n = process_vm_readv(r->pid, local, 2, remote, 2, 0);
	if (n < 0) {
		if (errno == ESRCH || errno == EPERM)
			r->process_err = -errno;
		return -errno;
	}
	return (size_t)n == l1 + l2 ? 0 : -EFAULT;
}

static size_t page_size(void)
{
	long pg = sysconf(_SC_PAGESIZE);

	return pg > 0 && !(pg & (pg - 1)) ? (size_t)pg : 4096;
}

static size_t end_of(size_t end, uint32_t off, size_t width)
{
	if (off == PYLAYOUT_ABSENT)
		return end;
	return off + width > end ? off + width : end;
}

/* Room for @len more bytes at r->copy + r->copy_used; false without it. */
static bool copy_reserve(struct pyreader *r, size_t len)
{
	size_t cap = r->copy_cap;
	uint8_t *b;

	if (len > COPY_MAX - r->copy_used)
		return false;
	if (r->copy_used + len <= r->copy_cap)
		return true;
	b = array_grow(r->copy, &cap, r->copy_used + len, 1);
	if (!b)
		return false;
	r->copy = b;
	r->copy_cap = cap;
	return true;
}

/* ---- construction ---------------------------------------------------- */

/* The r-x mappings of the file that holds the runtime. */
static void text_find(struct pyreader *r, const struct maps *maps)
{
	for (size_t i = 0; i < maps_count(maps) && r->ntext < PYREADER_TEXT_MAX; i++) {
		const struct mapping *m = maps_at(maps, i);

		if ((m->prot & MAP_PROT_EXEC) && mapping_is_file(m) &&
		    strcmp(m->path, r->found.module) == 0)
			r->text[r->ntext++] = (struct pyreader_range){ m->start, m->end };
	}
}

/* Whether @pid lives in another PID namespace than hotspy: then the
 * thread ids CPython keeps (native_thread_id, struct pthread's tid) are
 * not the ones the caller passes. */
static bool other_pid_ns(pid_t pid)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	if (stat(path, &a) || stat("/proc/self/ns/pid", &b))
		return false;
	return a.st_ino != b.st_ino || a.st_dev != b.st_dev;
}

/* 3.13+: the target's own _Py_DebugOffsets, at the start of _PyRuntime. */
static bool layout_from_target(struct pyreader *r)
{
	uint8_t buf[1024];

	if (!r->found.has_debug_offsets || !r->found.runtime_addr ||
	    r->found.runtime_from == PYFIND_RUNTIME_NONE)
		return false;
	if (target_read(r->pid, r->found.runtime_addr, buf, sizeof(buf)))
		return false;
	return pylayout_from_debug_offsets(buf, sizeof(buf), &r->layout) == 0;
}

struct pyreader *pyreader_new(pid_t pid, const struct maps *maps, struct elf_cache *cache,
			      struct pycodes *codes, struct pyfind_result *found)
{
	struct pyreader *r = calloc(1, sizeof(*r));
	const struct pylayout *table;
	struct pylayout *l;
	int err;

	if (!r)
		return NULL;
	r->pid = pid;
	r->codes = codes;
	err = pyfind_runtime(pid, maps, cache, &r->found);
	if (found)
		*found = r->found;
	if (err) {
		free(r);
		errno = -err;
		return NULL;
	}
	if (!r->found.initialized) {
		free(r);
		errno = EAGAIN;
		return NULL;
	}
	if (layout_from_target(r)) {
		r->layout_from_target = true;
	} else if ((table = pylayout_for_version(r->found.hexversion))) {
		r->layout = *table;
	} else {
		free(r);
		errno = ENOTSUP;
		return NULL;
	}
	l = &r->layout;
	if (r->found.runtime_addr && l->runtime.interpreters_head != PYLAYOUT_ABSENT)
		r->interp_head_addr = r->found.runtime_addr + l->runtime.interpreters_head;
	else
		r->interp_head_addr = r->found.interp_head_addr;

	r->tstate_size = 0;
	r->tstate_size = end_of(r->tstate_size, l->tstate.next, 8);
	r->tstate_size = end_of(r->tstate_size, l->tstate.interp, 8);
	r->tstate_size = end_of(r->tstate_size, l->tstate.frame, 8);
	r->tstate_size = end_of(r->tstate_size, l->tstate.cframe, 8);
	r->tstate_size = end_of(r->tstate_size, l->tstate.current_frame, 8);
	r->tstate_size = end_of(r->tstate_size, l->tstate.thread_id, 8);
	r->tstate_size = end_of(r->tstate_size, l->tstate.native_thread_id, 8);
	r->tstate_size = end_of(r->tstate_size, l->tstate.datastack_chunk, 8);
	r->tstate_size = end_of(r->tstate_size, l->tstate.datastack_top, 8);
	r->frame_size = pychain_frame_size(l);
	r->page = page_size();
	r->pthread_tid = PYLAYOUT_ABSENT;
	r->code_head = 0;
	r->code_head = end_of(r->code_head, l->object.ob_type, 8);
	r->code_head = end_of(r->code_head, l->code.filename, 8);
	r->code_head = end_of(r->code_head, l->code.name, 8);
	r->code_head = end_of(r->code_head, l->code.qualname, 8);
	r->code_head = end_of(r->code_head, l->code.linetable, 8);
	r->code_head = end_of(r->code_head, l->code.firstlineno, 4);
	if (r->tstate_size > 4096 || r->frame_size > sizeof(r->small) || r->code_head > 4096 ||
	    !r->tstate_size) {
		/* Only a broken debug-offsets struct could get here. */
		free(r);
		errno = ENOTSUP;
		return NULL;
	}
	text_find(r, maps);
	r->other_ns = other_pid_ns(pid);
	r->seen = pychain_seen_new();
	r->iov_local = calloc(BATCH_IOV, sizeof(struct iovec));
	r->iov_remote = calloc(BATCH_IOV, sizeof(struct iovec));
	if (!r->seen || !r->iov_local || !r->iov_remote) {
		pyreader_free(r);
		errno = ENOMEM;
		return NULL;
	}
	return r;
}

static void syspath_clear(struct pyreader *r)
{
	for (size_t i = 0; i < r->nsyspath; i++)
		free(r->syspath[i]);
	free(r->syspath);
	r->syspath = NULL;
	r->nsyspath = 0;
}

void pyreader_free(struct pyreader *r)
{
	if (!r)
		return;
	pychain_seen_free(r->seen);
	free(r->multi_scratch);
	free(r->threads);
	free(r->tids);
	free(r->copy);
	free(r->code_cache);
	htable_release(&r->code_index);
	free(r->iov_local);
	free(r->iov_remote);
	free(r->batch);
	syspath_clear(r);
	free(r);
}

uint32_t pyreader_version(const struct pyreader *r)
{
	return r->found.hexversion;
}

const char *pyreader_module(const struct pyreader *r)
{
	return r->found.module;
}

int pyreader_layout_from_target(const struct pyreader *r)
{
	return r->layout_from_target;
}

size_t pyreader_text(const struct pyreader *r, struct pyreader_range *out)
{
	memcpy(out, r->text, r->ntext * sizeof(*out));
	return r->ntext;
}

void pyreader_stats(const struct pyreader *r, struct pyreader_stats *out)
{
	*out = r->stats;
}

/* ---- threads ----------------------------------------------------------- */

/* The last field of /proc/PID/task/TID/status's NSpid line: the tid in the
 * innermost PID namespace, the one CPython sees. */
static uint32_t nstid_read(pid_t pid, pid_t tid)
{
	char path[64], *text = NULL, *line, *end;
	size_t len;
	unsigned long v = (unsigned long)tid;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	if (procfs_read(path, &text, &len))
		return (uint32_t)tid;
	line = memmem(text, len, "\nNSpid:", 7);
	if (line) {
		char *p = line + 7, *stop = memchr(p, '\n', (size_t)(text + len - p));

		if (!stop)
			stop = text + len;
		while (p < stop) {
			unsigned long x;

			while (p < stop && (*p == ' ' || *p == '\t'))
				p++;
			if (p >= stop)
				break;
			x = strtoul(p, &end, 10);
			if (end == p)
				break;
			v = x;
			p = end;
		}
	}
	free(text);
	return (uint32_t)v;
}

static uint32_t nstid_of(struct pyreader *r, pid_t tid)
{
	struct tid_entry *t;
	uint32_t ns;

	if (!r->other_ns)
		return (uint32_t)tid;
	for (size_t i = 0; i < r->ntids; i++)
		if (r->tids[i].tid == tid)
			return r->tids[i].nstid;
	ns = nstid_read(r->pid, tid);
	if (r->ntids == THREADS_MAX)
		r->ntids = 0;   /* a bounded cache: start over */
	if (r->ntids + 1 > r->tids_cap) {
		t = array_grow(r->tids, &r->tids_cap, r->ntids + 1, sizeof(*t));
		if (!t)
			return ns;
		r->tids = t;
	}
	r->tids[r->ntids++] = (struct tid_entry){ tid, ns };
	return ns;
}

static struct thread_entry *thread_find(struct pyreader *r, uint32_t nstid)
{
	for (size_t i = 0; i < r->nthreads; i++)
		if (r->threads[i].nstid == nstid)
			return &r->threads[i];
	return NULL;
}

static struct thread_entry *thread_add(struct pyreader *r, uint32_t nstid)
{
	struct thread_entry *t = thread_find(r, nstid);

	if (t)
		return t;
	if (r->nthreads >= THREADS_MAX)
		return NULL;
	if (r->nthreads + 1 > r->threads_cap) {
		t = array_grow(r->threads, &r->threads_cap, r->nthreads + 1, sizeof(*t));
		if (!t)
			return NULL;
		r->threads = t;
	}
	t = &r->threads[r->nthreads++];
	*t = (struct thread_entry){ .nstid = nstid };
	return t;
}

/* The tids of the process (in its own PID namespace), at most @max. */
static size_t process_tids(struct pyreader *r, uint32_t *out, size_t max)
{
	char path[64];
	struct dirent *d;
	size_t n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)r->pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while (n < max && (d = readdir(dir))) {
		char *end;
		long tid = strtol(d->d_name, &end, 10);

		if (*end || tid <= 0)
			continue;
		out[n++] = nstid_of(r, (pid_t)tid);
	}
	closedir(dir);
	return n;
}

/*
 * <=3.10 keeps only pthread_t, the address of glibc's struct pthread, whose
 * tid field's offset depends on the glibc build. Find it once per process:
 * read the first PTHREAD_SCAN bytes of the struct pthread of (up to
 * PTHREAD_SCAN_THREADS) thread states, and keep the offset where every one
 * holds a distinct tid of the process. Several offsets may pass by chance
 * with one thread: glibc's own (0x2d0) is preferred, else the lowest.
 */
static void pthread_tid_find(struct pyreader *r, const uint64_t *pthreads, size_t n)
{
	uint32_t tids[THREADS_MAX];
	size_t ntids, nread = 0, found = PYLAYOUT_ABSENT;

	ntids = process_tids(r, tids, THREADS_MAX);
	if (!ntids)
		return;
	{
		uint8_t (*b)[PTHREAD_SCAN] = calloc(PTHREAD_SCAN_THREADS, PTHREAD_SCAN);

		if (!b)
			return;
		for (size_t i = 0; i < n && nread < PTHREAD_SCAN_THREADS; i++)
			if (pthreads[i] && cap_read(r, pthreads[i], b[nread], PTHREAD_SCAN) == 0)
				nread++;
		for (uint32_t off = 0; nread && off + 4 <= PTHREAD_SCAN; off += 4) {
			bool ok = true;

			for (size_t i = 0; i < nread && ok; i++) {
				uint32_t v = bytes_u32(b[i], off);
				bool known = false;

				for (size_t k = 0; k < ntids && !known; k++)
					known = tids[k] == v;
				for (size_t j = 0; j < i && known; j++)
					known = bytes_u32(b[j], off) != v;
				ok = known;
			}
			if (!ok)
				continue;
			if (found == PYLAYOUT_ABSENT || off == PTHREAD_TID_GLIBC)
				found = off;
			if (off == PTHREAD_TID_GLIBC)
				break;
		}
		free(b);
	}
	r->pthread_tid = (uint32_t)found;
}

/* The tid a thread state of bytes @ts belongs to, or 0 when unknown.
 * 3.11+ native_thread_id; <=3.10 the tid in its struct pthread. */
static uint32_t tstate_tid(struct pyreader *r, const uint8_t *ts)
{
	const struct pylayout *l = &r->layout;
	uint64_t pth;
	uint32_t tid;

	if (l->tstate.native_thread_id != PYLAYOUT_ABSENT)
		return (uint32_t)bytes_u64(ts, l->tstate.native_thread_id);
	if (l->tstate.thread_id == PYLAYOUT_ABSENT || r->pthread_tid == PYLAYOUT_ABSENT)
		return 0;
	pth = bytes_u64(ts, l->tstate.thread_id);
	if (!pth || cap_read(r, pth + r->pthread_tid, &tid, sizeof(tid)))
		return 0;
	return tid;
}

/* The interpreters: from interpreters.head (3.7+) or interp_head
 * (2.7/3.6 with symbols), else, on 2.7/3.6 without, the interpreter of
 * the thread holding the GIL (_PyThreadState_Current). */
static uint64_t interp_first(struct pyreader *r)
{
	uint64_t v = 0, ts = 0;
	uint8_t buf[16];

	if (r->interp_head_addr)
		return cap_read(r, r->interp_head_addr, &v, 8) ? 0 : v;
	if (!r->found.tstate_current_addr || r->layout.tstate.interp == PYLAYOUT_ABSENT ||
	    cap_read(r, r->found.tstate_current_addr, &ts, 8) || !ts ||
	    cap_read(r, ts + r->layout.tstate.interp, buf, 8))
		return 0;
	return bytes_u64(buf, 0);
}

/*
 * Walk every interpreter's thread list, record every thread state met by
 * tid (the table starts over), and return the one of @nstid, copied into
 * @ts, or 0. Bounded by INTERPS_MAX and THREADS_MAX; a cycle ends there.
 */
static uint64_t threads_walk(struct pyreader *r, uint32_t nstid, uint8_t *ts)
{
	const struct pylayout *l = &r->layout;
	uint32_t lo = l->interp.next < l->interp.threads_head ? l->interp.next
							     : l->interp.threads_head;
	uint32_t hi = l->interp.next < l->interp.threads_head ? l->interp.threads_head
							     : l->interp.next;
	uint8_t ibuf[256];
	uint8_t tbuf[4096];
	uint64_t pthreads[PTHREAD_SCAN_THREADS];
	size_t npthreads = 0, nts = 0;
	uint64_t interp, found = 0;

	r->stats.walks++;
	r->nthreads = 0;
	interp = interp_first(r);
	if (hi - lo + 8 > sizeof(ibuf))
		return 0;
	for (int ni = 0; interp && ni < INTERPS_MAX; ni++) {
		uint64_t tstate;

		if (cap_read(r, interp + lo, ibuf, hi - lo + 8))
			break;
		tstate = bytes_u64(ibuf, l->interp.threads_head - lo);
		for (; tstate && nts < THREADS_MAX; nts++) {
			uint32_t tid;

			if ((tstate & 7) || cap_read(r, tstate, tbuf, r->tstate_size))
				break;
			if (l->tstate.native_thread_id == PYLAYOUT_ABSENT &&
			    r->pthread_tid == PYLAYOUT_ABSENT && npthreads < PTHREAD_SCAN_THREADS)
				pthreads[npthreads++] = bytes_u64(tbuf, l->tstate.thread_id);
			tid = tstate_tid(r, tbuf);
			if (tid) {
				struct thread_entry *t = thread_add(r, tid);

				if (t) {
					t->tstate = tstate;
					t->pthread = l->tstate.thread_id != PYLAYOUT_ABSENT
							     ? bytes_u64(tbuf, l->tstate.thread_id) : 0;
				}
				if (tid == nstid && !found) {
					found = tstate;
					memcpy(ts, tbuf, r->tstate_size);
				}
			}
			tstate = bytes_u64(tbuf, l->tstate.next);
		}
		interp = bytes_u64(ibuf, l->interp.next - lo);
	}
	if (npthreads && r->pthread_tid == PYLAYOUT_ABSENT) {
		/* First walk of a <=3.10 process: learn struct pthread's tid
		 * offset, then walk again with it. */
		pthread_tid_find(r, pthreads, npthreads);
		if (r->pthread_tid != PYLAYOUT_ABSENT)
			return threads_walk(r, nstid, ts);
	}
	return found;
}

/* The thread state of @nstid copied into @ts, from the cache when its
 * fresh copy still names @nstid, else from a walk. 0: none. */
static uint64_t tstate_get(struct pyreader *r, uint32_t nstid, uint8_t *ts)
{
	const struct pylayout *l = &r->layout;
	struct thread_entry *t = thread_find(r, nstid);
	uint64_t found;

	if (t && t->tstate) {
		if (l->tstate.native_thread_id != PYLAYOUT_ABSENT && r->pf_valid &&
		    r->pf_tstate == t->tstate && r->pf_got >= r->tstate_size) {
			/* Copied with the thread's stack (pyreader_prefetch). */
			memcpy(ts, r->pf_ts, r->tstate_size);
			if ((uint32_t)bytes_u64(ts, l->tstate.native_thread_id) == nstid) {
				if (r->pf_got - r->tstate_size >= r->pf_chunk_len) {
					r->pre_chunk = r->pf_chunk;
					r->pre_len = r->pf_chunk_len;
				}
				return t->tstate;
			}
		}
		if (l->tstate.native_thread_id != PYLAYOUT_ABSENT) {
			/* The chunk it used last time in the same read: most
			 * often still its current one (checked by the caller
			 * against the thread state read). */
			if (t->chunk && t->chunk_len && copy_reserve(r, t->chunk_len) &&
			    cap_read2(r, t->tstate, ts, r->tstate_size, t->chunk,
				      r->copy + r->copy_used, t->chunk_len) == 0 &&
			    (uint32_t)bytes_u64(ts, l->tstate.native_thread_id) == nstid) {
				r->pre_chunk = t->chunk;
				r->pre_len = t->chunk_len;
				return t->tstate;
			}
			if (cap_read(r, t->tstate, ts, r->tstate_size) == 0 &&
			    (uint32_t)bytes_u64(ts, l->tstate.native_thread_id) == nstid)
				return t->tstate;
		} else if (r->pthread_tid != PYLAYOUT_ABSENT && t->pthread) {
			uint32_t tid = 0;

			if (r->pf_valid && r->pf_tstate == t->tstate &&
			    r->pf_got >= r->tstate_size + 4) {
				/* Copied with the thread's stack. */
				memcpy(ts, r->pf_ts, r->tstate_size);
				if (bytes_u64(ts, l->tstate.thread_id) == t->pthread &&
				    r->pf_nstid_tid == nstid)
					return t->tstate;
			}

			/* The thread state and its struct pthread's tid in
			 * one read: the same thread_id and the same tid. */
			if (cap_read2(r, t->tstate, ts, r->tstate_size,
				      t->pthread + r->pthread_tid, &tid, 4) == 0 &&
			    bytes_u64(ts, l->tstate.thread_id) == t->pthread && tid == nstid)
				return t->tstate;
		}
	} else if (t && now_ns() - t->walked_ns < NEGATIVE_RETRY_NS) {
		return 0;
	}
	found = threads_walk(r, nstid, ts);
	if (!found && (t = thread_add(r, nstid))) {
		t->tstate = 0;
		t->walked_ns = now_ns();
	}
	return found;
}

/* ---- the GIL ----------------------------------------------------------- */

bool pyreader_want_gil(struct pyreader *r)
{
	const struct pylayout *l = &r->layout;

	r->want_gil = (l->runtime.gil_last_holder != PYLAYOUT_ABSENT &&
		       l->runtime.gil_locked != PYLAYOUT_ABSENT && r->found.runtime_addr) ||
		      (l->interp.gil != PYLAYOUT_ABSENT && l->gil.last_holder != PYLAYOUT_ABSENT &&
		       l->gil.locked != PYLAYOUT_ABSENT && l->tstate.interp != PYLAYOUT_ABSENT) ||
		      r->found.tstate_current_addr;
	return r->want_gil;
}

/*
 * Where the GIL of the thread whose state is @ts lies: sets r->gil_addr,
 * gil_len and the two fields' offsets in that span. Up to 3.11 the GIL is
 * the runtime's; from 3.12 each interpreter points to its own (read once
 * per interpreter); 2.7 and 3.6 only say which thread state holds it
 * (_PyThreadState_Current, NULL while it is released). False when it
 * cannot be told.
 */
static bool gil_where(struct pyreader *r, const uint8_t *ts)
{
	const struct pylayout *l = &r->layout;
	uint64_t base;
	uint32_t h, k, lo, hi;

	if (l->runtime.gil_last_holder != PYLAYOUT_ABSENT &&
	    l->runtime.gil_locked != PYLAYOUT_ABSENT && r->found.runtime_addr) {
		base = r->found.runtime_addr;
		h = l->runtime.gil_last_holder;
		k = l->runtime.gil_locked;
	} else if (l->interp.gil != PYLAYOUT_ABSENT && l->tstate.interp != PYLAYOUT_ABSENT) {
		uint64_t interp = bytes_u64(ts, l->tstate.interp), gil = 0;

		if (!interp || (interp & 7))
			return false;
		if (interp != r->gil_interp) {
			if (cap_read(r, interp + l->interp.gil, &gil, 8) || !gil || (gil & 7))
				return false;
			r->gil_interp = interp;
			r->gil_struct = gil;
		}
		base = r->gil_struct;
		h = l->gil.last_holder;
		k = l->gil.locked;
	} else if (r->found.tstate_current_addr) {
		r->gil_addr = r->found.tstate_current_addr;
		r->gil_len = 8;
		r->gil_holder_off = 0;
		r->gil_locked_off = PYLAYOUT_ABSENT;
		return true;
	} else {
		return false;
	}
	lo = h < k ? h : k;
	hi = h + 8 > k + 4 ? h + 8 : k + 4;
	if (hi - lo > GIL_SPAN_MAX || base > UINT64_MAX - hi)
		return false;
	r->gil_addr = base + lo;
	r->gil_len = hi - lo;
	r->gil_holder_off = h - lo;
	r->gil_locked_off = k - lo;
	return true;
}

/* Does the thread whose state is at @tstate (copied in @ts) hold the GIL
 * at this instant? Read from the prefetch when it brought the same span. */
static enum pystack_gil gil_of(struct pyreader *r, uint64_t tstate, const uint8_t *ts)
{
	uint8_t buf[GIL_SPAN_MAX];
	const uint8_t *g = buf;
	uint64_t holder;

	if (!gil_where(r, ts))
		return PYSTACK_GIL_UNKNOWN;
	if (r->pf_gil_need && r->pf_gil_addr == r->gil_addr && r->pf_got >= r->pf_gil_need)
		g = r->pf_gil;
	else if (cap_read(r, r->gil_addr, buf, r->gil_len))
		return PYSTACK_GIL_UNKNOWN;
	holder = bytes_u64(g, r->gil_holder_off);
	if (r->gil_locked_off != PYLAYOUT_ABSENT && !bytes_u32(g, r->gil_locked_off))
		return PYSTACK_GIL_FREE;
	return holder == tstate ? PYSTACK_GIL_HELD : PYSTACK_GIL_FREE;
}

/* Append the GIL's span to a prefetch of @n iovecs (room for one more is
 * the caller's), when its address is known; returns the new count. */
static size_t prefetch_gil(struct pyreader *r, struct iovec *local, struct iovec *remote,
			   size_t n)
{
	size_t need = 0;

	r->pf_gil_need = 0;
	if (!r->want_gil || !n || !r->gil_len)
		return n;
	for (size_t i = 0; i < n; i++)
		need += local[i].iov_len;
	local[n] = (struct iovec){ r->pf_gil, r->gil_len };
	remote[n] = (struct iovec){ (void *)(uintptr_t)r->gil_addr, r->gil_len };
	r->pf_gil_addr = r->gil_addr;
	r->pf_gil_need = need + r->gil_len;
	return n + 1;
}

/* ---- capture ----------------------------------------------------------- */

static const uint8_t *region_find(struct pyreader *r, uint64_t addr, size_t len)
{
	for (size_t i = 0; i < r->nregions; i++) {
		struct region *g = &r->regions[i];

		if (addr >= g->addr && addr - g->addr <= g->len && len <= g->len - (addr - g->addr))
			return r->copy + g->off + (addr - g->addr);
	}
	return NULL;
}

/* Copy [addr, addr + len) into a new region; its bytes, or NULL. */
static const uint8_t *region_add(struct pyreader *r, uint64_t addr, size_t len)
{
	struct region *g;

	if (r->nregions == CHUNKS_MAX || len > COPY_MAX - r->copy_used)
		return NULL;
	if (r->copy_used + len > r->copy_cap) {
		size_t cap = r->copy_cap;
		uint8_t *b = array_grow(r->copy, &cap, r->copy_used + len, 1);

		if (!b)
			return NULL;
		r->copy = b;
		r->copy_cap = cap;
	}
	if (cap_read(r, addr, r->copy + r->copy_used, len))
		return NULL;
	g = &r->regions[r->nregions++];
	*g = (struct region){ addr, len, r->copy_used };
	r->copy_used += len;
	return r->copy + g->off;
}

/* The prefetched bytes at copy + copy_used as the region [addr, addr +
 * len), @room bytes of the buffer used. */
static const uint8_t *region_take(struct pyreader *r, uint64_t addr, size_t len, size_t room)
{
	struct region *g;

	if (r->nregions == CHUNKS_MAX)
		return NULL;
	g = &r->regions[r->nregions++];
	*g = (struct region){ addr, len, r->copy_used };
	r->copy_used += room;
	return r->copy + g->off;
}

/* What to copy of @t's chunk with its thread state next time: the part
 * used now (@used bytes of the chunk at @chunk, whose bytes are @c) and
 * some room to grow, within the chunk's size (its header). */
#define CHUNK_HINT_SLACK 2048u
static void chunk_hint(struct pyreader *r, struct thread_entry *t, uint64_t chunk,
		       uint64_t used, const uint8_t *c)
{
	uint64_t size, len;

	t->chunk = 0;
	t->chunk_len = 0;
	if (!chunk || !c)
		return;
	size = bytes_u64(c, r->layout.chunk.size);
	len = used + CHUNK_HINT_SLACK;
	if (len > size)
		len = size;
	if (len < used || len > CHUNK_COPY_MAX)
		return;
	t->chunk = chunk;
	t->chunk_len = (size_t)len;
}

/*
 * A new region with [addr, addr + len) and as much as can be had of the
 * FRAME_WINDOW_PAGES pages below its page, in one read; its bytes at
 * @addr, or NULL.
 */
static const uint8_t *region_window(struct pyreader *r, uint64_t addr, size_t len)
{
	uint64_t base = addr & ~(uint64_t)(r->page - 1), lo, start;
	size_t room;
	struct region *g;
	int err;

	lo = base > FRAME_WINDOW_PAGES * r->page ? base - FRAME_WINDOW_PAGES * r->page : base;
	room = (size_t)(addr - lo) + len;
	if (r->nregions == CHUNKS_MAX || room > COPY_MAX - r->copy_used)
		return NULL;
	if (r->copy_used + room > r->copy_cap) {
		size_t cap = r->copy_cap;
		uint8_t *b = array_grow(r->copy, &cap, r->copy_used + room, 1);

		if (!b)
			return NULL;
		r->copy = b;
		r->copy_cap = cap;
	}
	r->stats.reads++;
	err = target_read_window(r->pid, addr, len, lo, r->page, r->copy + r->copy_used, &start);
	if (err == -ESRCH || err == -EPERM)
		r->process_err = err;
	if (err)
		return NULL;
	g = &r->regions[r->nregions++];
	*g = (struct region){ start, (size_t)(addr - start) + len,
			      r->copy_used + (size_t)(start - lo) };
	r->copy_used += room;
	return r->copy + g->off + (addr - start);
}

/*
 * A frame in an older data-stack chunk: _PyStackChunk (cpython/pystate.h)
 * keeps previous, size and top (the used words of data[], saved when a
 * newer chunk was pushed: Python/pystate.c push_chunk). Read the next
 * older chunk's header once, and when @addr lies in it, copy its used part
 * whole: the frames after this one are most likely there too.
 */
static const uint8_t *chunk_older(struct pyreader *r, uint64_t addr, size_t len)
{
	const struct pylayout *l = &r->layout;
	const uint8_t *c;
	uint64_t used;

	if (!r->next_chunk || r->nregions == CHUNKS_MAX)
		return NULL;
	if (!r->next_chunk_size) {
		uint8_t hdr[32];

		if (l->chunk.top + 8 > sizeof(hdr) || l->chunk.size + 8 > sizeof(hdr) ||
		    cap_read(r, r->next_chunk, hdr, l->chunk.data)) {
			r->next_chunk = 0;
			return NULL;
		}
		r->next_chunk_size = bytes_u64(hdr, l->chunk.size);
		r->next_chunk_top = bytes_u64(hdr, l->chunk.top);
	}
	if (addr < r->next_chunk || addr - r->next_chunk >= r->next_chunk_size)
		return NULL;
	used = l->chunk.data + r->next_chunk_top * 8;
	if (r->next_chunk_top > CHUNK_COPY_MAX / 8 || used > r->next_chunk_size ||
	    !(c = region_add(r, r->next_chunk, used))) {
		r->next_chunk = 0;
		return NULL;
	}
	r->next_chunk = bytes_u64(c, l->chunk.previous);
	r->next_chunk_size = 0;
	return region_find(r, addr, len);
}

/* Note that a capture read [addr, addr + len) of a frame object. */
static void span_note(struct pyreader *r, uint64_t addr, size_t len)
{
	for (size_t i = 0; i < r->nspans; i++) {
		struct span *sp = &r->spans[i];

		if (addr + len + SPAN_GAP >= sp->lo && addr <= sp->hi + SPAN_GAP) {
			if (addr < sp->lo)
				sp->lo = addr;
			if (addr + len > sp->hi)
				sp->hi = addr + len;
			return;
		}
	}
	if (r->nspans < PREFETCH_SPANS)
		r->spans[r->nspans++] = (struct span){ addr, addr + len };
}

/* [addr, addr + len) in the frames walked at the sample instant
 * (pyreader_prefetch_copied): most often the next one in walk order. */
static const uint8_t *walked_find(struct pyreader *r, uint64_t addr, size_t len)
{
	if (len > r->walk_len)
		return NULL;
	for (size_t k = 0; k < r->walk_n; k++) {
		size_t i = (r->walk_i + k) % r->walk_n;
		const uint8_t *e = r->walk + i * r->walk_stride;

		if (bytes_u64(e, 0) == addr) {
			r->walk_i = i + 1;
			return e + 8;
		}
	}
	return NULL;
}

/* The pychain source of a capture: the copied regions (chunks, frames
 * copied with the stack), the stack copy, else an older chunk, else
 * (<=3.10) a frame object with the pages below it, else one read of just
 * these bytes (a generator's frame, a shim). */
static const uint8_t *capture_source(void *ctx, uint64_t addr, size_t len)
{
	struct pyreader *r = ctx;
	const uint8_t *p;

	if (r->layout.frame_model == PYLAYOUT_FRAME_OBJECTS && addr <= UINT64_MAX - len)
		span_note(r, addr, len);
	if (r->walk_n && (p = walked_find(r, addr, len)))
		return p;
	p = region_find(r, addr, len);

	if (p)
		return p;
	if (r->stack && addr >= r->stack_addr && addr - r->stack_addr <= r->stack_len &&
	    len <= r->stack_len - (addr - r->stack_addr))
		return r->stack + (addr - r->stack_addr);
	if ((p = chunk_older(r, addr, len)))
		return p;
	if (r->layout.frame_model == PYLAYOUT_FRAME_OBJECTS && (p = region_window(r, addr, len)))
		return p;
	if (r->process_err)
		return NULL;
	if (len > sizeof(r->small) || cap_read(r, addr, r->small, len))
		return NULL;
	return r->small;
}

/* The prefetched spans copied whole (after the thread state, and on <=3.7
 * the tid) as regions: their bytes are of this stop, whatever the guess
 * was. */
static void spans_take(struct pyreader *r)
{
	size_t got = r->pf_got - r->pf_spans_at, off = 0;

	if (r->pf_got < r->pf_spans_at)
		return;
	for (size_t i = 0; i < r->pf_nspans && r->nregions < CHUNKS_MAX; i++) {
		size_t len = (size_t)(r->pf_spans[i].hi - r->pf_spans[i].lo);

		if (got < len)
			break;
		r->regions[r->nregions++] = (struct region){ r->pf_spans[i].lo, len, off };
		got -= len;
		off += len;
	}
	r->copy_used = off;
}

int pyreader_capture(struct pyreader *r, pid_t tid, struct pystack *out)
{
	r->walk_n = 0;
	r->pf_valid = false;
	r->pf_gil_need = 0;
	return pyreader_capture_stack(r, tid, 0, NULL, 0, 0, out);
}

/* <=3.10: the thread state, on <=3.7 its struct pthread's tid (@with_tid;
 * 3.8+ keeps the native id in the thread state), and the frame spans of
 * @t's last capture. */
static size_t prefetch_spans(struct pyreader *r, pid_t tid, struct thread_entry *t,
			     bool with_tid, struct iovec *local, struct iovec *remote, size_t max)
{
	size_t n = 0, total = 0, first;

	local[n] = (struct iovec){ r->pf_ts, r->tstate_size };
	remote[n++] = (struct iovec){ (void *)(uintptr_t)t->tstate, r->tstate_size };
	if (with_tid) {
		local[n] = (struct iovec){ &r->pf_nstid_tid, 4 };
		remote[n++] = (struct iovec){ (void *)(uintptr_t)(t->pthread + r->pthread_tid), 4 };
	}
	first = n;
	r->pf_spans_at = r->tstate_size + (with_tid ? 4 : 0);
	for (size_t i = 0; i < t->nspans && n < max; i++) {
		size_t len = (size_t)(t->spans[i].hi - t->spans[i].lo);

		if (len > SPANS_COPY_MAX - total)
			continue;   /* a long chain of frames: read as it comes */
		total += len;
		r->pf_spans[r->pf_nspans++] = t->spans[i];
		n++;
	}
	if (!copy_reserve(r, total)) {
		r->pf_nspans = 0;
		n = first;
	}
	total = 0;
	for (size_t i = 0; i < r->pf_nspans; i++) {
		size_t len = (size_t)(r->pf_spans[i].hi - r->pf_spans[i].lo);

		local[first + i] = (struct iovec){ r->copy + total, len };
		remote[first + i] = (struct iovec){ (void *)(uintptr_t)r->pf_spans[i].lo, len };
		total += len;
	}
	r->pf_tid = tid;
	r->pf_tstate = t->tstate;
	r->pf_chunk = 0;
	r->pf_chunk_len = 0;
	r->pf_valid = true;
	return n;
}

size_t pyreader_prefetch(struct pyreader *r, pid_t tid, struct iovec *local,
			 struct iovec *remote, size_t max)
{
	const struct pylayout *l = &r->layout;
	struct thread_entry *t;

	r->pf_valid = false;
	r->pf_nspans = 0;
	r->pf_gil_need = 0;
	if (r->want_gil)
		max--;      /* room for the GIL's span */
	if (max < 2 || r->tstate_size > sizeof(r->pf_ts))
		return 0;
	t = thread_find(r, nstid_of(r, tid));
	r->copy_used = 0;
	if (!t || !t->tstate)
		return 0;
	if (l->tstate.native_thread_id == PYLAYOUT_ABSENT && r->pthread_tid != PYLAYOUT_ABSENT &&
	    t->pthread)
		return prefetch_gil(r, local, remote,
				    prefetch_spans(r, tid, t, true, local, remote, max));
	if (l->tstate.native_thread_id == PYLAYOUT_ABSENT)
		return 0;
	if (l->frame_model == PYLAYOUT_FRAME_OBJECTS)
		return prefetch_gil(r, local, remote,
				    prefetch_spans(r, tid, t, false, local, remote, max));
	if (!t->chunk || !t->chunk_len || !copy_reserve(r, t->chunk_len))
		return 0;
	local[0] = (struct iovec){ r->pf_ts, r->tstate_size };
	remote[0] = (struct iovec){ (void *)(uintptr_t)t->tstate, r->tstate_size };
	local[1] = (struct iovec){ r->copy, t->chunk_len };
	remote[1] = (struct iovec){ (void *)(uintptr_t)t->chunk, t->chunk_len };
	r->pf_tid = tid;
	r->pf_tstate = t->tstate;
	r->pf_chunk = t->chunk;
	r->pf_chunk_len = t->chunk_len;
	r->pf_valid = true;
	return prefetch_gil(r, local, remote, 2);
}

size_t pyreader_copy_plan(struct pyreader *r, pid_t tid, struct iovec *remote, size_t max,
			  struct pyreader_walk *walk)
{
	const struct pylayout *l = &r->layout;
	uint32_t nstid = nstid_of(r, tid);
	struct thread_entry *t = thread_find(r, nstid);
	size_t n = 0;

	walk->frame_len = 0;
	r->pf_valid = false;
	r->pf_gil_need = 0;
	if (!t || !t->tstate) {
		/* Not captured yet: find its thread state (a walk of the
		 * interpreters' thread lists, not again for 100 ms when it
		 * has none), which the copy will be checked against. */
		uint8_t ts[4096];

		r->process_err = 0;
		if (r->tstate_size <= sizeof(ts) && tstate_get(r, nstid, ts))
			t = thread_find(r, nstid);
	}
	if (!t || !t->tstate || max < 3 || r->frame_size > PYREADER_WALK_FRAME_MAX ||
	    l->frame.back + 8 > r->frame_size)
		return 0;
	/* The thread state, and on <=3.7 the tid in its struct pthread that
	 * tells whose it is. */
	remote[n++] = (struct iovec){ (void *)(uintptr_t)t->tstate, r->tstate_size };
	if (l->tstate.native_thread_id == PYLAYOUT_ABSENT) {
		if (r->pthread_tid == PYLAYOUT_ABSENT || !t->pthread)
			return 0;
		remote[n++] = (struct iovec){ (void *)(uintptr_t)(t->pthread + r->pthread_tid), 4 };
	}
	if (r->want_gil && r->gil_len)
		remote[n++] = (struct iovec){ (void *)(uintptr_t)r->gil_addr, r->gil_len };
	/* The frames, each found from the one before: a walk, wherever they
	 * are (frame objects, the data stack's chunks, a generator's frame). */
	walk->deref_off = PYREADER_WALK_NO_DEREF;
	switch (l->frame_model) {
	case PYLAYOUT_FRAME_OBJECTS:
		walk->frame_at = t->tstate + l->tstate.frame;
		break;
	case PYLAYOUT_FRAME_CFRAME:
		/* 3.11, 3.12: tstate->cframe->current_frame. */
		walk->frame_at = t->tstate + l->tstate.cframe;
		walk->deref_off = l->cframe.current_frame;
		break;
	case PYLAYOUT_FRAME_CURRENT:
		walk->frame_at = t->tstate + l->tstate.current_frame;
		break;
	}
	walk->frame_len = (uint32_t)r->frame_size;
	walk->back_off = l->frame.back;
	return n;
}

size_t pyreader_prefetch_copied(struct pyreader *r, pid_t tid, const struct pyreader_copy *c)
{
	const struct pylayout *l = &r->layout;
	const struct iovec *remote = c->remote;
	const uint8_t *bytes = c->bytes;
	struct thread_entry *t;
	size_t at, i = 1, n = c->n, len = c->len;

	r->pf_valid = false;
	r->pf_nspans = 0;
	r->pf_gil_need = 0;
	r->pf_chunk = 0;
	r->pf_chunk_len = 0;
	r->copy_used = 0;
	r->walk_n = 0;
	r->walk_i = 0;
	if (c->walk && c->frames && c->frame_len >= r->frame_size && c->frame_stride >= c->frame_len + 8) {
		r->walk = c->walk;
		r->walk_n = c->frames;
		r->walk_len = c->frame_len;
		r->walk_stride = c->frame_stride;
	}
	if (n == 0 || r->tstate_size > sizeof(r->pf_ts) || len < r->tstate_size)
		return 0;
	t = thread_find(r, nstid_of(r, tid));
	/* The thread state this reader knows the thread by, or nothing. */
	if (!t || !t->tstate || (uint64_t)(uintptr_t)remote[0].iov_base != t->tstate ||
	    remote[0].iov_len != r->tstate_size)
		return 0;
	memcpy(r->pf_ts, bytes, r->tstate_size);
	at = r->tstate_size;
	if (l->tstate.native_thread_id == PYLAYOUT_ABSENT) {
		/* <=3.7: the thread state is told by struct pthread's tid. */
		if (r->pthread_tid == PYLAYOUT_ABSENT || !t->pthread || n < 2 ||
		    (uint64_t)(uintptr_t)remote[1].iov_base != t->pthread + r->pthread_tid ||
		    remote[1].iov_len != 4 || len - at < 4)
			return 0;
		memcpy(&r->pf_nstid_tid, bytes + at, 4);
		at += 4;
		i = 2;
	}
	/* The GIL's span, where pyreader_copy_plan put it. */
	if (i < n && r->want_gil && r->gil_len && r->gil_len <= sizeof(r->pf_gil) &&
	    (uint64_t)(uintptr_t)remote[i].iov_base == r->gil_addr &&
	    remote[i].iov_len == r->gil_len && len - at >= r->gil_len) {
		memcpy(r->pf_gil, bytes + at, r->gil_len);
		r->pf_gil_addr = r->gil_addr;
		at += r->gil_len;
		r->pf_gil_need = at;
		i++;
	}
	r->pf_tid = tid;
	r->pf_tstate = t->tstate;
	r->pf_valid = true;
	return at;
}

/* The innermost frame of the thread state whose bytes are @ts, and on
 * 3.11 its _PyCFrame (pychain_walk's @cframe; 0 otherwise). */
static void chain_start(struct pyreader *r, const uint8_t *ts, uint64_t *frame,
			uint64_t *cframe)
{
	const struct pylayout *l = &r->layout;

	*frame = 0;
	*cframe = 0;
	switch (l->frame_model) {
	case PYLAYOUT_FRAME_OBJECTS:
		*frame = bytes_u64(ts, l->tstate.frame);
		break;
	case PYLAYOUT_FRAME_CFRAME: {
		const uint8_t *c;

		*cframe = bytes_u64(ts, l->tstate.cframe);
		if (*cframe && !(*cframe & 7) &&
		    (c = capture_source(r, *cframe, l->cframe.current_frame + 8)))
			*frame = bytes_u64(c, l->cframe.current_frame);
		/* Only 3.11 pairs calls by _PyCFrame; 3.12 by shim frames. */
		if (l->frame.is_entry == PYLAYOUT_ABSENT)
			*cframe = 0;
		break;
	}
	case PYLAYOUT_FRAME_CURRENT:
		*frame = bytes_u64(ts, l->tstate.current_frame);
		break;
	}
}

/*
 * Whether the process runs more than one interpreter: interpreters.head
 * (the newest) is not interpreters.main. Asked at most every
 * MULTI_CHECK_NS, in one read. Only where chains carry anchors (3.11+):
 * capture_multi needs them.
 */
static bool multi_check(struct pyreader *r)
{
	const struct pylayout *l = &r->layout;
	uint64_t hm[2];
	long long now;

	if (l->frame_model == PYLAYOUT_FRAME_OBJECTS || !r->interp_head_addr ||
	    l->runtime.interpreters_head == PYLAYOUT_ABSENT ||
	    l->runtime.interpreters_main != l->runtime.interpreters_head + 8)
		return false;
	now = now_ns();
	if (r->multi_ns && now - r->multi_ns < MULTI_CHECK_NS)
		return r->multi;
	r->multi_ns = now;
	if (cap_read(r, r->interp_head_addr, hm, sizeof(hm)) == 0)
		r->multi = hm[0] && hm[1] && hm[0] != hm[1];
	return r->multi;
}

/* Is @addr inside the copy of the captured thread's stack? */
static bool in_stack(const struct pyreader *r, uint64_t addr)
{
	return r->stack && addr >= r->stack_addr && addr - r->stack_addr < r->stack_len;
}

/* 3.11+: the used part of the current data-stack chunk of the thread
 * state whose bytes are @ts, copied in one read as a region (its frames
 * are then not read one by one), unless a region holds it already. */
static void chunk_copy(struct pyreader *r, const uint8_t *ts)
{
	const struct pylayout *l = &r->layout;
	uint64_t chunk, top;

	if (l->tstate.datastack_chunk == PYLAYOUT_ABSENT ||
	    l->tstate.datastack_top == PYLAYOUT_ABSENT)
		return;
	chunk = bytes_u64(ts, l->tstate.datastack_chunk);
	top = bytes_u64(ts, l->tstate.datastack_top);
	if (chunk && !(chunk & 7) && top > chunk && top - chunk <= CHUNK_COPY_MAX &&
	    top - chunk >= l->chunk.data && !region_find(r, chunk, top - chunk))
		region_add(r, chunk, top - chunk);
}

/*
 * Whether the thread state whose bytes are @ts may be running on the
 * captured thread (tid @nstid), before its chain is walked: on 3.11 and
 * 3.12 its _PyCFrame, a local of the innermost eval-loop call of the
 * thread running it, lies in that thread's stack; from 3.13 (no _PyCFrame)
 * its native_thread_id names the thread (each thread entering an
 * interpreter gets a thread state of its own there since 3.13).
 */
static bool multi_candidate(const struct pyreader *r, const uint8_t *ts, uint32_t nstid)
{
	const struct pylayout *l = &r->layout;

	if (l->tstate.cframe != PYLAYOUT_ABSENT)
		return in_stack(r, bytes_u64(ts, l->tstate.cframe));
	return l->tstate.native_thread_id != PYLAYOUT_ABSENT &&
	       (uint32_t)bytes_u64(ts, l->tstate.native_thread_id) == nstid;
}

/*
 * The Python stack of the captured thread in a process that runs several
 * interpreters (subinterpreters: 3.12's _xxsubinterpreters, 3.13's
 * _interpreters, or the C API). There one OS thread may have a thread
 * state in each interpreter it entered (the outer ones wait in a call such
 * as run_string), and a thread state's native_thread_id need not be the
 * thread running it: 3.12's run_string borrows the subinterpreter's first
 * thread state, made by the thread that created the interpreter
 * (Modules/_xxsubinterpreters.c: "Using the head thread isn't strictly
 * correct"). The C stack tells: the innermost anchor of a chain (its
 * _PyCFrame on 3.11, its shim frame from 3.12) is a local of the eval-loop
 * call running it, so it lies on the stack of the thread that runs it.
 * Every thread state of every interpreter (multi_candidate's) whose
 * chain's innermost anchor lies in the copy of this thread's stack is
 * this thread's; their chains,
 * ordered by that anchor (the stack grows down: lower is inner), make its
 * Python stack. False when none does (the copy may end before the
 * anchor): the caller goes by thread id, as for one interpreter.
 */
static bool capture_multi(struct pyreader *r, uint32_t nstid, struct pystack *out)
{
	const struct pylayout *l = &r->layout;
	struct pychain_source src = { capture_source, r };
	uint32_t lo = l->interp.next < l->interp.threads_head ? l->interp.next
							     : l->interp.threads_head;
	uint32_t hi = l->interp.next < l->interp.threads_head ? l->interp.threads_head
							     : l->interp.next;
	struct { uint64_t tstate, anchor; } m[MULTI_CHAINS];
	uint8_t ts[4096], ibuf[256];
	uint64_t interp, frame, cframe;
	struct pystack *sc = r->multi_scratch;
	size_t nm = 0, nts = 0;

	if (hi - lo + 8 > sizeof(ibuf) || r->tstate_size > sizeof(ts))
		return false;
	if (!sc && !(sc = r->multi_scratch = malloc(sizeof(*sc))))
		return false;
	interp = interp_first(r);
	for (int ni = 0; interp && ni < INTERPS_MAX && nts < MULTI_TSTATES; ni++) {
		uint64_t tstate;

		if (cap_read(r, interp + lo, ibuf, hi - lo + 8))
			break;
		tstate = bytes_u64(ibuf, l->interp.threads_head - lo);
		for (; tstate && nts < MULTI_TSTATES; nts++) {
			size_t at;

			if ((tstate & 7) || cap_read(r, tstate, ts, r->tstate_size))
				break;
			frame = 0;
			if (nm < MULTI_CHAINS && multi_candidate(r, ts, nstid)) {
				chunk_copy(r, ts);
				chain_start(r, ts, &frame, &cframe);
			}
			if (frame &&
			    pychain_walk(l, &src, frame, cframe, r->seen, sc) != PYSTACK_NONE &&
			    sc->ncalls && in_stack(r, sc->anchor[0])) {
				for (at = nm; at > 0 && m[at - 1].anchor > sc->anchor[0]; at--)
					m[at] = m[at - 1];
				m[at].tstate = tstate;
				m[at].anchor = sc->anchor[0];
				nm++;
			}
			tstate = bytes_u64(ts, l->tstate.next);
		}
		interp = bytes_u64(ibuf, l->interp.next - lo);
	}
	if (!nm)
		return false;

	/* Walk the chosen chains again, innermost first, one after the
	 * other: the thread is held, so they are what the first walk saw. */
	out->n = 0;
	out->ncalls = 0;
	out->status = PYSTACK_OK;
	for (size_t i = 0; i < nm; i++) {
		size_t base = out->ncalls;

		if (cap_read(r, m[i].tstate, ts, r->tstate_size)) {
			out->status = PYSTACK_TORN;
			break;
		}
		if (i == 0 && r->want_gil)
			out->gil = gil_of(r, m[i].tstate, ts);
		chain_start(r, ts, &frame, &cframe);
		if (pychain_walk(l, &src, frame, cframe, r->seen, sc) == PYSTACK_NONE)
			continue;
		for (size_t k = 0; k < sc->ncalls && base + k < PYSTACK_MAX_FRAMES; k++)
			out->anchor[base + k] = sc->anchor[k];
		for (size_t k = 0; k < sc->n; k++) {
			if (out->n == PYSTACK_MAX_FRAMES || base + sc->frames[k].call >=
							     PYSTACK_MAX_FRAMES) {
				out->status = PYSTACK_CUT;
				break;
			}
			out->frames[out->n] = sc->frames[k];
			out->frames[out->n++].call += (uint32_t)base;
		}
		out->ncalls = out->n ? (size_t)out->frames[out->n - 1].call + 1 : base;
		if (out->status == PYSTACK_CUT)
			break;
		if (sc->status != PYSTACK_OK) {
			/* The rest of this chain is missing: what is outer
			 * would be shown in its place. */
			out->status = sc->status;
			break;
		}
	}
	if (out->n == 0 && out->status == PYSTACK_OK)
		out->status = PYSTACK_NONE;
	return true;
}

void pyreader_warm(struct pyreader *r)
{
	multi_check(r);
}

static int capture_stack(struct pyreader *r, pid_t tid, uint64_t stack_addr,
			 const uint8_t *stack, size_t stack_len, size_t prefetched,
			 struct pystack *out)
{
	const struct pylayout *l = &r->layout;
	struct pychain_source src = { capture_source, r };
	uint8_t ts[4096];
	uint64_t tstate, frame = 0, cframe = 0;
	struct thread_entry *t;
	uint32_t nstid;

	r->stats.captures++;
	out->n = 0;
	out->ncalls = 0;
	out->status = PYSTACK_NONE;
	out->gil = PYSTACK_GIL_UNKNOWN;
	r->nregions = 0;
	r->copy_used = 0;
	r->next_chunk = 0;
	r->next_chunk_size = 0;
	r->process_err = 0;
	r->stack = NULL;
	r->pre_len = 0;
	if (r->pf_valid && r->pf_tid != tid)
		r->pf_valid = false;
	r->pf_got = prefetched;
	nstid = nstid_of(r, tid);
	r->nspans = 0;
	if (stack && stack_len && stack_addr <= UINT64_MAX - stack_len && multi_check(r)) {
		r->stack = stack;
		r->stack_addr = stack_addr;
		r->stack_len = stack_len;
		r->pf_valid = false;
		r->pf_gil_need = 0;
		if (capture_multi(r, nstid, out)) {
			r->stack = NULL;
			r->stats.frames += out->n;
			if (out->status == PYSTACK_TORN)
				r->stats.torn++;
			else if (out->status == PYSTACK_CUT)
				r->stats.cut++;
			else if (out->status == PYSTACK_NONE)
				r->stats.none++;
			return r->process_err && out->status == PYSTACK_NONE ? r->process_err : 0;
		}
		r->stack = NULL;
	}
	tstate = tstate_get(r, nstid, ts);
	if (tstate && r->pf_valid && r->pf_nspans)
		spans_take(r);
	r->pf_valid = false;
	if (!tstate) {
		r->pf_gil_need = 0;
		if (r->process_err)
			return r->process_err;
		/* No thread state: this thread cannot hold the GIL. */
		if (r->want_gil)
			out->gil = PYSTACK_GIL_FREE;
		r->stats.none++;
		return 0;
	}
	if (r->want_gil)
		out->gil = gil_of(r, tstate, ts);
	r->pf_gil_need = 0;
	if (stack && stack_len && stack_addr <= UINT64_MAX - stack_len) {
		r->stack = stack;
		r->stack_addr = stack_addr;
		r->stack_len = stack_len;
	}
	if (l->tstate.datastack_chunk != PYLAYOUT_ABSENT && l->tstate.datastack_top != PYLAYOUT_ABSENT) {
		/* 3.11+: the used part of the current chunk in one read. */
		uint64_t chunk = bytes_u64(ts, l->tstate.datastack_chunk);
		uint64_t top = bytes_u64(ts, l->tstate.datastack_top);
		const uint8_t *c = NULL;

		if (chunk && !(chunk & 7) && top > chunk && top - chunk <= CHUNK_COPY_MAX &&
		    top - chunk >= l->chunk.data) {
			if (r->pre_len && chunk == r->pre_chunk && top - chunk <= r->pre_len)
				c = region_take(r, chunk, top - chunk, r->pre_len);
			else
				c = region_add(r, chunk, top - chunk);
		}
		if (c)
			r->next_chunk = bytes_u64(c, l->chunk.previous);
		if ((t = thread_find(r, nstid)))
			chunk_hint(r, t, c ? chunk : 0, c ? top - chunk : 0, c);
	}
	chain_start(r, ts, &frame, &cframe);
	pychain_walk(l, &src, frame, cframe, r->seen, out);
	r->stack = NULL;
	if (l->frame_model == PYLAYOUT_FRAME_OBJECTS && (t = thread_find(r, nstid))) {
		memcpy(t->spans, r->spans, r->nspans * sizeof(r->spans[0]));
		t->nspans = r->nspans;
	}
	r->stats.frames += out->n;
	if (out->status == PYSTACK_TORN)
		r->stats.torn++;
	else if (out->status == PYSTACK_CUT)
		r->stats.cut++;
	else if (out->status == PYSTACK_NONE)
		r->stats.none++;
	return 0;
}

int pyreader_capture_stack(struct pyreader *r, pid_t tid, uint64_t stack_addr,
			   const uint8_t *stack, size_t stack_len, size_t prefetched,
			   struct pystack *out)
{
	int err = capture_stack(r, tid, stack_addr, stack, stack_len, prefetched, out);

	/* The frames walked were for this capture only (borrowed). */
	r->walk_n = 0;
	return err;
}

/* ---- code objects ------------------------------------------------------ */

/* Append code point @c as UTF-8 to @out (@cap bytes, one kept for the
 * NUL); false when it does not fit. A surrogate or a value past U+10FFFF
 * (a target's garbage) becomes '?'. */
static bool utf8_put(char *out, size_t cap, size_t *n, uint32_t c)
{
	char b[4];
	size_t k;

	if ((c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		c = '?';
	k = utf8_encode(c, b);
	if (*n + k >= cap)
		return false;
	memcpy(out + *n, b, k);
	*n += k;
	return true;
}

/*
 * The str object at @addr as UTF-8 into @out (@cap bytes, NUL-terminated,
 * cut at a character boundary). 3.x: compact strings only (every name and
 * file name CPython makes; cpython/unicodeobject.h: state holds
 * interned:2, kind:3, compact:1, ascii:1); kinds 1 (Latin-1), 2 (UCS-2)
 * and 4 (UCS-4) are converted. 2.7: PyStringObject bytes as they are.
 * Anything else gives "?" and false. Reads the header, then the
 * characters.
 */
static bool str_read(struct pyreader *r, uint64_t addr, char *out, size_t cap)
{
	const struct pylayout *l = &r->layout;
	uint8_t hdr[96];
	uint64_t len, data;
	unsigned kind;
	size_t chars, n = 0;
	uint8_t *buf = NULL;

	out[0] = '\0';
	if (!addr || (addr & 7))
		goto bad;
	if (l->str.state == PYLAYOUT_ABSENT) {
		/* 2.x PyStringObject: ob_size, then ob_sval. */
		if (l->str.sval == PYLAYOUT_ABSENT || res_read(r, addr, hdr, l->str.length + 8))
			goto bad;
		len = bytes_u64(hdr, l->str.length);
		if (len > cap - 1)
			len = cap - 1;
		if (len && res_read(r, addr + l->str.sval, out, len))
			goto bad;
		out[len] = '\0';
		/* Bytes with NULs would cut the name short: that is all. */
		return true;
	}
	if (l->str.state + 4 > sizeof(hdr) || l->str.length + 8 > sizeof(hdr) ||
	    res_read(r, addr, hdr, l->str.state + 4))
		goto bad;
	{
		uint32_t state = bytes_u32(hdr, l->str.state);
		bool compact = state >> 5 & 1, ascii = state >> 6 & 1;

		kind = state >> 2 & 7;
		if (!compact || (kind != 1 && kind != 2 && kind != 4) || (ascii && kind != 1))
			goto bad;
		data = addr + (ascii ? l->str.ascii_size : l->str.compact_size);
	}
	len = bytes_u64(hdr, l->str.length);
	/* Every character takes one byte of UTF-8 at least. */
	chars = len < cap - 1 ? (size_t)len : cap - 1;
	if (!chars)
		return true;
	buf = malloc(chars * kind);
	if (!buf || res_read(r, data, buf, chars * kind))
		goto bad;
	for (size_t i = 0; i < chars; i++) {
		uint32_t c = kind == 1 ? buf[i] :
			     kind == 2 ? (uint32_t)(buf[2 * i] | buf[2 * i + 1] << 8) :
			     bytes_u32(buf, (uint32_t)(4 * i));

		if (!utf8_put(out, cap, &n, c))
			break;
	}
	out[n] = '\0';
	free(buf);
	return true;
bad:
	free(buf);
	out[0] = '?';
	out[1] = '\0';
	return false;
}

/* The bytes object at @addr (the line table), bounded by
 * PYCODE_LINETABLE_MAX; a malloc'd copy in *@out, or NULL and 0. */
static void bytes_read(struct pyreader *r, uint64_t addr, uint8_t **out, size_t *len)
{
	const struct pylayout *l = &r->layout;
	uint8_t hdr[64];
	uint64_t n;

	*out = NULL;
	*len = 0;
	if (!addr || (addr & 7) || l->bytes.ob_size + 8 > sizeof(hdr) ||
	    res_read(r, addr, hdr, l->bytes.ob_size + 8))
		return;
	n = bytes_u64(hdr, l->bytes.ob_size);
	if (!n || n > PYCODE_LINETABLE_MAX)
		return;
	*out = malloc(n);
	if (*out && res_read(r, addr + l->bytes.ob_sval, *out, n)) {
		free(*out);
		*out = NULL;
		return;
	}
	if (*out)
		*len = n;
}

static void code_key_of(const struct pylayout *l, const uint8_t *head, struct code_key *k)
{
	*k = (struct code_key){
		.type = bytes_u64(head, l->object.ob_type),
		.filename = bytes_u64(head, l->code.filename),
		.name = bytes_u64(head, l->code.name),
		.qualname = l->code.qualname != PYLAYOUT_ABSENT ? bytes_u64(head, l->code.qualname) : 0,
		.linetable = bytes_u64(head, l->code.linetable),
		.firstlineno = (int32_t)bytes_u32(head, l->code.firstlineno),
	};
}

static bool code_key_equal(const struct code_key *a, const struct code_key *b)
{
	return a->type == b->type && a->filename == b->filename && a->name == b->name &&
	       a->qualname == b->qualname && a->linetable == b->linetable &&
	       a->firstlineno == b->firstlineno;
}

/* Whether @type is PyCode_Type: learnt once from its tp_name ("code";
 * PyTypeObject's tp_name follows the PyVarObject head, object.h). */
static bool code_type_is(struct pyreader *r, uint64_t type)
{
	char name[8];
	uint64_t tp_name;

	if (r->code_type)
		return type == r->code_type;
	if (!type || (type & 7) || res_read(r, type + 24, &tp_name, 8) || !tp_name ||
	    res_read(r, tp_name, name, 5) || memcmp(name, "code", 5) != 0)
		return false;
	r->code_type = type;
	return true;
}

/* Read code object @addr and intern it; its id in *@id. -ENOMEM only:
 * an unreadable or odd object is interned as a placeholder. */
static uint64_t interp_main(struct pyreader *r);
static uint64_t dict_find(struct pyreader *r, uint64_t dict, const char *want);

/*
 * sys.path, read from the target's sys module (sys.modules["sys"].path, a
 * list of str; PyListObject keeps ob_size at 16 and ob_item at 24 in every
 * version): at the first code object, then again with a new code object
 * when the copy is older than @max_age_ns (SYSPATH_REFRESH_NS: a program
 * may extend it as it imports; SYSPATH_MISS_REFRESH_NS for a file under
 * no entry). Entries that are empty ("" is the current directory) or not
 * absolute are left out. On any failure the old list stays.
 */
static void syspath_read(struct pyreader *r, long long max_age_ns)
{
	const struct pylayout *l = &r->layout;
	uint64_t interp, modules = 0, sys, mdict = 0, list, items = 0, *ptrs = NULL;
	uint64_t head[4];
	char **v = NULL, *buf = NULL;
	size_t n, kept = 0;

	if (r->syspath_ns && now_ns() - r->syspath_ns < max_age_ns)
		return;
	r->syspath_ns = now_ns();
	interp = interp_main(r);
	if (!interp || l->interp.modules == PYLAYOUT_ABSENT || l->module.dict == PYLAYOUT_ABSENT ||
	    res_read(r, interp + l->interp.modules, &modules, 8) || !modules)
		return;
	sys = dict_find(r, modules, "sys");
	if (!sys || res_read(r, sys + l->module.dict, &mdict, 8) || !mdict)
		return;
	list = dict_find(r, mdict, "path");
	if (!list || res_read(r, list, head, sizeof(head)))
		return;
	r->syspath_list = list;
	r->syspath_head[0] = head[2];
	r->syspath_head[1] = head[3];
	n = (size_t)head[2];
	items = head[3];
	if (!n || n > SYSPATH_MAX || !items || (items & 7))
		return;
	ptrs = calloc(n, sizeof(*ptrs));
	v = calloc(n, sizeof(*v));
	buf = malloc(PYCODE_FILE_MAX);
	if (!ptrs || !v || !buf || res_read(r, items, ptrs, n * sizeof(*ptrs)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		size_t len;

		if (!ptrs[i] || !str_read(r, ptrs[i], buf, PYCODE_FILE_MAX) || buf[0] != '/')
			continue;
		len = strlen(buf);
		while (len > 1 && buf[len - 1] == '/')
			buf[--len] = '\0';
		if (len > 1 && (v[kept] = strdup(buf)))
			kept++;
	}
	syspath_clear(r);
	r->syspath = v;
	r->nsyspath = kept;
	v = NULL;
out:
	if (v)
		for (size_t i = 0; i < kept; i++)
			free(v[i]);
	free(v);
	free(ptrs);
	free(buf);
}

/*
 * Has the list read last grown, shrunk or moved its items since (one read:
 * its ob_size and ob_item)? A program started under hotspy reads its first
 * code objects before sys.path[0], the script's directory, is inserted, and
 * the script's own code often comes within SYSPATH_MISS_REFRESH_NS of that
 * read: a change seen here has the list read again at once, so that the
 * script's files are not named whole for the rest of the run.
 */
static bool syspath_changed(struct pyreader *r)
{
	uint64_t head[4];

	if (!r->syspath_list || res_read(r, r->syspath_list, head, sizeof(head)))
		return false;
	return head[2] != r->syspath_head[0] || head[3] != r->syspath_head[1];
}

/* @file shown relative to the longest sys.path entry it lies under (as
 * Python imports it: "json/decoder.py", "app/server.py"), a suffix of
 * @file; NULL when it lies under none. */
static const char *syspath_short(const struct pyreader *r, const char *file)
{
	size_t best = 0;

	for (size_t i = 0; i < r->nsyspath; i++) {
		size_t len = strlen(r->syspath[i]);

		if (len > best && strncmp(file, r->syspath[i], len) == 0 && file[len] == '/' &&
		    file[len + 1])
			best = len;
	}
	return best ? file + best + 1 : NULL;
}

static int code_read(struct pyreader *r, uint64_t addr, struct code_key *key, uint32_t *id)
{
	const struct pylayout *l = &r->layout;
	uint8_t head[4096];
	char *name = malloc(PYCODE_NAME_MAX), *file = malloc(PYCODE_FILE_MAX);
	struct pycode pc = { .format = l->linetable };
	uint8_t *table = NULL;
	size_t table_len = 0;
	int err = -ENOMEM;

	if (!name || !file)
		goto out;
	r->stats.codes_read++;
	memset(key, 0, sizeof(*key));
	if (res_read(r, addr, head, r->code_head) == 0) {
		code_key_of(l, head, key);
	}
	if (key->type && code_type_is(r, key->type)) {
		str_read(r, key->qualname ? key->qualname : key->name, name, PYCODE_NAME_MAX);
		str_read(r, key->filename, file, PYCODE_FILE_MAX);
		bytes_read(r, key->linetable, &table, &table_len);
		pc.firstlineno = key->firstlineno;
	} else {
		/* Not a code object (freed, reused, garbage): a placeholder.
		 * Its key is what was read (zero when nothing could be), so
		 * validation replaces it only when that memory changes. */
		memcpy(name, "?", 2);
		memcpy(file, "?", 2);
	}
	pc.name = name;
	pc.file = file;
	if (file[0] == '/') {
		syspath_read(r, SYSPATH_REFRESH_NS);
		pc.short_file = syspath_short(r, file);
		if (!pc.short_file) {
			syspath_read(r, syspath_changed(r) ? 0 : SYSPATH_MISS_REFRESH_NS);
			pc.short_file = syspath_short(r, file);
		}
	}
	pc.linetable = table;
	pc.linetable_len = table_len;
	err = pycodes_intern(r->codes, &pc, id);
out:
	free(name);
	free(file);
	free(table);
	return err;
}

static struct code_entry *code_find(struct pyreader *r, uint64_t addr)
{
	struct htable_iter it;

	for (uint32_t i = htable_find(&r->code_index, hash_mix64(addr), &it); i != HTABLE_NONE;
	     i = htable_next(&r->code_index, &it))
		if (r->code_cache[i].addr == addr)
			return &r->code_cache[i];
	return NULL;
}

static int code_add(struct pyreader *r, uint64_t addr, struct code_entry **out)
{
	struct code_entry *e;
	int err;

	if (r->ncodes >= CODES_CACHE_MAX) {
		/* A bounded cache: start over (the ids stay in pycodes). */
		r->ncodes = 0;
		htable_clear(&r->code_index);
	}
	if (r->ncodes + 1 > r->codes_cap) {
		e = array_grow(r->code_cache, &r->codes_cap, r->ncodes + 1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		r->code_cache = e;
	}
	err = htable_insert(&r->code_index, hash_mix64(addr), (uint32_t)r->ncodes);
	if (err)
		return err;
	e = &r->code_cache[r->ncodes++];
	*e = (struct code_entry){ .addr = addr };
	err = code_read(r, addr, &e->key, &e->id);
	e->checked = r->resolves;
	*out = e;
	return err;
}

/*
 * Validate the cached code objects a resolve uses, in batches of one
 * process_vm_readv: each code object's head again (type, file, name,
 * qualname and line-table object addresses, first line), compared with
 * what was read first. A code object is immutable, so while the same
 * object lives there these fields cannot change; a new code object at a
 * freed one's address would need the very same string and bytes objects
 * (or new ones at the very same addresses) and first line to pass, and
 * then it is the same function. Done once per resolve call and code
 * object, after the thread has been resumed: it costs the target nothing
 * and the resolver one syscall per sample. A stale entry is re-read.
 */
static int codes_validate(struct pyreader *r, struct code_entry **list, size_t n)
{
	size_t need = n * r->code_head;
	ssize_t got;

	if (!n)
		return 0;
	if (need > r->batch_cap) {
		size_t cap = r->batch_cap;
		uint8_t *b = array_grow(r->batch, &cap, need, 1);

		if (!b)
			return -ENOMEM;
		r->batch = b;
		r->batch_cap = cap;
	}
	for (size_t i = 0; i < n; i++) {
		r->iov_local[i] = (struct iovec){ r->batch + i * r->code_head, r->code_head };
		r->iov_remote[i] = (struct iovec){ (void *)(uintptr_t)list[i]->addr, r->code_head };
	}
	r->stats.resolve_reads++;
	got = process_vm_readv(r->pid, r->iov_local, n, r->iov_remote, n, 0);
	if (got < 0)
		got = 0;
	for (size_t i = 0; i < n; i++) {
		struct code_key k;
		struct code_entry *e = list[i];
		int err;

		/* A short read stops at the first unreadable iovec: entries
		 * past it are gone (their memory unmapped). */
		if ((size_t)got >= (i + 1) * r->code_head) {
			code_key_of(&r->layout, r->batch + i * r->code_head, &k);
			if (code_key_equal(&k, &e->key))
				continue;
		} else if (e->key.type == 0) {
			continue;    /* unreadable then, unreadable now */
		}
		r->stats.codes_stale++;
		err = code_read(r, e->addr, &e->key, &e->id);
		if (err)
			return err;
	}
	return 0;
}

/* ---- locals --------------------------------------------------------------- */

static int locals_source(void *ctx, uint64_t addr, void *buf, size_t len)
{
	return cap_read(ctx, addr, buf, len);
}

int pyreader_locals(struct pyreader *r, const struct pystack *st, struct pylocals *out)
{
	struct pylocals_source src = { locals_source, r };
	int err = 0;

	for (size_t i = 0; i < st->n; i++) {
		int e = pylocals_read(out, &r->layout, &src, st->frames[i].addr,
				      st->frames[i].code);

		if (e == -ENOMEM)
			return e;
		if (e < 0)
			err = e;
	}
	return err;
}

int pyreader_resolve(struct pyreader *r, const struct pystack *st, uint64_t *addrs)
{
	struct code_entry *check[BATCH_IOV];
	size_t ncheck = 0;
	int err;

	r->resolves++;
	/* First pass: which cached code objects this sample uses. Entries
	 * are found again in the second pass: code_add may move the array. */
	for (size_t i = 0; i < st->n; i++) {
		struct code_entry *e = code_find(r, st->frames[i].code);

		if (!e || e->checked == r->resolves)
			continue;
		e->checked = r->resolves;
		check[ncheck++] = e;
		if (ncheck == BATCH_IOV) {
			if ((err = codes_validate(r, check, ncheck)))
				return err;
			ncheck = 0;
		}
	}
	if ((err = codes_validate(r, check, ncheck)))
		return err;
	for (size_t i = 0; i < st->n; i++) {
		struct code_entry *e = code_find(r, st->frames[i].code);

		if (!e && (err = code_add(r, st->frames[i].code, &e)))
			return err;
		addrs[i] = addrspace_python_make(e->id, st->frames[i].index);
	}
	return 0;
}

/* ---- thread names ------------------------------------------------------ */

/*
 * The names Python gives its threads live in the target's objects, the
 * way py-spy reads them: sys.modules (the interpreter's modules dict) ->
 * the threading module -> its dict -> _active (ident -> Thread) -> each
 * Thread's _name (2.7: _Thread__name, the mangled self.__name) in its
 * instance dict. ident is threading.get_ident(), the thread's pthread_t,
 * which is also its thread state's thread_id: that is how a name meets
 * the tid captures already know. Nothing runs in the target; the objects
 * are read while it runs, so any of them may change under the walk: every
 * size is bounded and anything that does not make sense gives no name.
 */

/* Entries of a dict read at most (sys.modules has a few hundred; _active
 * one per thread). */
#define DICT_ITEMS_MAX 16384u
/* Most bytes of an object's head read: PyTypeObject up to tp_dictoffset
 * (288), a dict's head, a keys object's head. */
#define HEAD_READ 320u

struct dict_item {
	uint64_t key, value;
};

/* A copy of the str at @addr compared with @want (ASCII, < 64 bytes):
 * only a compact ASCII str (3.x) or a PyStringObject (2.7) of the same
 * length can be equal. Reads the header and the characters in one go. */
static bool str_is(struct pyreader *r, uint64_t addr, const char *want)
{
	const struct pylayout *l = &r->layout;
	size_t n = strlen(want), data;
	uint8_t b[128];

	if (!addr || (addr & 7))
		return false;
	data = l->str.state == PYLAYOUT_ABSENT ? l->str.sval : l->str.ascii_size;
	if (data == PYLAYOUT_ABSENT || data + n > sizeof(b) || l->str.length + 8 > data)
		return false;
	/* Just the bytes an equal str has: a shorter one near the end of its
	 * page may fault, and is not equal anyway. */
	if (res_read(r, addr, b, data + n) || bytes_u64(b, l->str.length) != n)
		return false;
	if (l->str.state != PYLAYOUT_ABSENT) {
		uint32_t state = bytes_u32(b, l->str.state);

		if (!(state >> 5 & 1) || !(state >> 6 & 1))  /* compact, ascii */
			return false;
	}
	return memcmp(b + data, want, n) == 0;
}

/*
 * The live (key, value) pairs of a 3.x dict's keys object @keys, the
 * values in the keys' entries or, for a split dict or an object's managed
 * attributes, in the values array @values (0: none). At most @max into
 * @out; their number, 0 when the objects make no sense.
 */
static size_t keys_items(struct pyreader *r, uint64_t keys, uint64_t values,
			 struct dict_item *out, size_t max)
{
	const struct pylayout *L = &r->layout;
	uint8_t h[HEAD_READ];
	uint64_t size, nentries, index_bytes, entries, esz, koff, voff;
	uint8_t *buf = NULL;
	uint64_t *vals = NULL;
	size_t n = 0;

	if (!keys || (keys & 7) || L->dictkeys.indices == PYLAYOUT_ABSENT ||
	    L->dictkeys.indices > sizeof(h) || res_read(r, keys, h, L->dictkeys.indices))
		return 0;
	nentries = bytes_u64(h, L->dictkeys.nentries);
	if (L->dictkeys.log2_index_bytes != PYLAYOUT_ABSENT) {
		/* 3.11+: log2 sizes; PyDictUnicodeEntry when kind != 0. */
		unsigned log2_size = h[L->dictkeys.size], log2_index = h[L->dictkeys.log2_index_bytes];

		if (log2_size > 30 || log2_index > log2_size + 3)
			return 0;
		size = 1ull << log2_size;
		index_bytes = 1ull << log2_index;
		if (h[L->dictkeys.kind]) {
			esz = L->dictkeys.unicode_entry_size;
			koff = 0;
		} else {
			esz = L->dictkeys.entry_size;
			koff = 8;
		}
	} else {
		/* 3.6-3.10: dk_size slots of 1, 2, 4 or 8 bytes
		 * (Objects/dictobject.c DK_IXSIZE). */
		size = bytes_u64(h, L->dictkeys.size);
		if (!size || size > (1ull << 30) || (size & (size - 1)))
			return 0;
		index_bytes = size * (size <= 0xff ? 1 : size <= 0xffff ? 2 :
				      size <= 0xffffffffull ? 4 : 8);
		esz = L->dictkeys.entry_size;
		koff = 8;
	}
	voff = koff + 8;
	if (nentries > size || esz < voff)
		return 0;
	if (nentries > DICT_ITEMS_MAX)
		nentries = DICT_ITEMS_MAX;
	if (!nentries)
		return 0;
	entries = keys + L->dictkeys.indices + index_bytes;
	buf = malloc(nentries * esz);
	if (values)
		vals = malloc(nentries * 8);
	if (!buf || (values && !vals) || res_read(r, entries, buf, nentries * esz) ||
	    (values && res_read(r, values + L->dictvalues.values, vals, nentries * 8)))
		goto out;
	for (size_t i = 0; i < nentries && n < max; i++) {
		uint64_t k = bytes_u64(buf, (uint32_t)(i * esz + koff));
		uint64_t v = values ? vals[i] : bytes_u64(buf, (uint32_t)(i * esz + voff));

		if (k && v)
			out[n++] = (struct dict_item){ k, v };
	}
out:
	free(buf);
	free(vals);
	return n;
}

/* The live (key, value) pairs of the dict object @dict, at most @max into
 * @out; their number. */
static size_t dict_items(struct pyreader *r, uint64_t dict, struct dict_item *out, size_t max)
{
	const struct pylayout *l = &r->layout;
	uint8_t h[HEAD_READ];
	uint8_t *buf;
	uint64_t mask;
	size_t n = 0;

	if (!dict || (dict & 7))
		return 0;
	if (l->dict.keys != PYLAYOUT_ABSENT) {
		if (l->dict.values + 8 > sizeof(h) || l->dict.keys + 8 > sizeof(h) ||
		    res_read(r, dict, h, (l->dict.keys > l->dict.values ? l->dict.keys
									 : l->dict.values) + 8))
			return 0;
		return keys_items(r, bytes_u64(h, l->dict.keys), bytes_u64(h, l->dict.values), out, max);
	}
	/* 2.7: ma_mask + 1 PyDictEntry (hash, key, value) at ma_table; a
	 * free or deleted slot has no value. */
	if (l->dict.table == PYLAYOUT_ABSENT || l->dict.table + 8 > sizeof(h) ||
	    res_read(r, dict, h, l->dict.table + 8))
		return 0;
	mask = bytes_u64(h, l->dict.mask);
	if (mask >= DICT_ITEMS_MAX || ((mask + 1) & mask))
		return 0;
	buf = malloc((mask + 1) * l->dictkeys.entry_size);
	if (!buf || res_read(r, bytes_u64(h, l->dict.table), buf, (mask + 1) * l->dictkeys.entry_size)) {
		free(buf);
		return 0;
	}
	for (uint64_t i = 0; i <= mask && n < max; i++) {
		uint64_t k = bytes_u64(buf, (uint32_t)(i * l->dictkeys.entry_size + 8));
		uint64_t v = bytes_u64(buf, (uint32_t)(i * l->dictkeys.entry_size + 16));

		if (k && v)
			out[n++] = (struct dict_item){ k, v };
	}
	free(buf);
	return n;
}

/* The value of the str key @want among @items; 0 when absent. A key
 * already known to be @want by address (*@known: interned names are one
 * object) needs no read; the first match teaches it. */
static uint64_t items_find(struct pyreader *r, const struct dict_item *items, size_t n,
			   const char *want, uint64_t *known)
{
	for (size_t i = 0; i < n; i++)
		if (known && *known && items[i].key == *known)
			return items[i].value;
	for (size_t i = 0; i < n; i++) {
		if (str_is(r, items[i].key, want)) {
			if (known)
				*known = items[i].key;
			return items[i].value;
		}
	}
	return 0;
}

static uint64_t dict_find(struct pyreader *r, uint64_t dict, const char *want)
{
	struct dict_item *items = malloc(DICT_ITEMS_MAX * sizeof(*items));
	uint64_t v = 0;

	if (items)
		v = items_find(r, items, dict_items(r, dict, items, DICT_ITEMS_MAX), want, NULL);
	free(items);
	return v;
}

/* The int object at @addr as an unsigned 64-bit value: 2.7's PyIntObject,
 * 3.x's PyLongObject of at most three 30-bit digits. false otherwise. */
static bool int_value(struct pyreader *r, uint64_t addr, uint64_t *out)
{
	const struct pylayout *l = &r->layout;
	uint8_t b[64];
	uint64_t ndigits, v = 0;

	if (!addr || (addr & 7))
		return false;
	if (l->integer.ival != PYLAYOUT_ABSENT) {
		if (l->integer.ival + 8 > sizeof(b) || res_read(r, addr, b, l->integer.ival + 8))
			return false;
		*out = bytes_u64(b, l->integer.ival);
		return true;
	}
	if (l->integer.digits == PYLAYOUT_ABSENT || l->integer.digits + 12 > sizeof(b) ||
	    res_read(r, addr, b, l->integer.digits + 12))
		return false;
	if (l->integer.tag != PYLAYOUT_ABSENT) {
		/* 3.12+ lv_tag: digit count << 3 | sign (0 +, 1 zero, 2 -). */
		uint64_t tag;

		if (l->integer.tag + 8 > l->integer.digits)
			return false;
		tag = bytes_u64(b, l->integer.tag);
		if ((tag & 3) == 2)
			return false;
		ndigits = (tag & 3) == 1 ? 0 : tag >> 3;
	} else {
		int64_t size;

		if (l->integer.size == PYLAYOUT_ABSENT || l->integer.size + 8 > l->integer.digits)
			return false;
		size = (int64_t)bytes_u64(b, l->integer.size);
		if (size < 0)
			return false;
		ndigits = (uint64_t)size;
	}
	if (ndigits > 3)
		return false;
	for (uint64_t i = ndigits; i-- > 0;) {
		uint32_t d = bytes_u32(b, (uint32_t)(l->integer.digits + 4 * i));

		if (d >> 30 || (i == 2 && d >> 4))
			return false;
		v = v << 30 | d;
	}
	*out = v;
	return true;
}

/*
 * The attribute @name of the object @obj, read from its instance dict:
 * tp_dictoffset (<=3.10, and types without a managed dict); from 3.11 the
 * managed dict before the object (_PyObject_ManagedDictPointer), or,
 * while the object has no dict, its values with the names in its heap
 * type's ht_cached_keys: 3.11's values pointer before the object, 3.12's
 * tagged PyDictOrValues, 3.13's values inline at tp_basicsize
 * (internal/pycore_object.h of each). 0 when not found.
 */
static uint64_t attr_find(struct pyreader *r, uint64_t obj, const char *name, uint64_t *known)
{
	const struct pylayout *l = &r->layout;
	uint8_t t[HEAD_READ];
	uint64_t type, flags, dict = 0, values = 0, keys = 0, v = 0;
	int64_t dictoffset;
	uint32_t head;
	struct dict_item *items;
	size_t n;

	if (!obj || (obj & 7) || l->type.flags == PYLAYOUT_ABSENT ||
	    l->type.flags + 8 > sizeof(t) || l->type.dictoffset + 8 > sizeof(t) ||
	    l->type.basicsize + 8 > sizeof(t) ||
	    res_read(r, obj + l->object.ob_type, &type, 8) || !type || (type & 7))
		return 0;
	head = l->type.flags > l->type.dictoffset ? l->type.flags : l->type.dictoffset;
	head = head > l->type.basicsize ? head : l->type.basicsize;
	if (res_read(r, type, t, head + 8))
		return 0;
	flags = bytes_u64(t, l->type.flags);
	dictoffset = (int64_t)bytes_u64(t, l->type.dictoffset);
	if (l->type.managed_dict_flag != PYLAYOUT_ABSENT && (flags & l->type.managed_dict_flag)) {
		uint64_t d;

		if (l->object.managed_dict == PYLAYOUT_ABSENT ||
		    res_read(r, obj - l->object.managed_dict, &d, 8))
			return 0;
		if (l->type.inline_values_flag == PYLAYOUT_ABSENT &&
		    l->object.managed_values == PYLAYOUT_ABSENT && (d & 1)) {
			values = d + 1;           /* 3.12: values - 1, tagged */
		} else if (d) {
			dict = d;
		} else if (l->object.managed_values != PYLAYOUT_ABSENT) {
			if (res_read(r, obj - l->object.managed_values, &values, 8))
				return 0;
		} else if (l->type.inline_values_flag != PYLAYOUT_ABSENT &&
			   (flags & l->type.inline_values_flag)) {
			uint64_t basic = bytes_u64(t, l->type.basicsize);
			uint8_t valid = 0;

			if (basic > 4096 || res_read(r, obj + basic + l->dictvalues.valid, &valid, 1) ||
			    !valid)
				return 0;
			values = obj + basic;
		}
		if (values && (l->type.cached_keys == PYLAYOUT_ABSENT ||
			       res_read(r, type + l->type.cached_keys, &keys, 8)))
			return 0;
	} else if (dictoffset > 0 && dictoffset < 4096) {
		if (res_read(r, obj + (uint64_t)dictoffset, &dict, 8))
			return 0;
	}
	if (!dict && !(values && keys))
		return 0;
	items = malloc(DICT_ITEMS_MAX * sizeof(*items));
	if (!items)
		return 0;
	n = dict ? dict_items(r, dict, items, DICT_ITEMS_MAX)
		 : keys_items(r, keys, values, items, DICT_ITEMS_MAX);
	v = items_find(r, items, n, name, known);
	free(items);
	return v;
}

/* The main interpreter (threading's _active is per interpreter). */
static uint64_t interp_main(struct pyreader *r)
{
	uint64_t v = 0;

	if (r->found.runtime_addr && r->layout.runtime.interpreters_main != PYLAYOUT_ABSENT &&
	    res_read(r, r->found.runtime_addr + r->layout.runtime.interpreters_main, &v, 8) == 0)
		return v;
	return interp_first(r);
}

/* threading._active, the dict object, found through sys.modules; 0 while
 * threading is not imported (or cannot be read). */
static uint64_t active_find(struct pyreader *r)
{
	const struct pylayout *l = &r->layout;
	uint64_t interp = interp_main(r), modules = 0, threading, mdict = 0;

	if (!interp || l->interp.modules == PYLAYOUT_ABSENT ||
	    res_read(r, interp + l->interp.modules, &modules, 8))
		return 0;
	threading = dict_find(r, modules, "threading");
	if (!threading || l->module.dict == PYLAYOUT_ABSENT ||
	    res_read(r, threading + l->module.dict, &mdict, 8))
		return 0;
	return dict_find(r, mdict, "_active");
}

/* Read every Python thread's name anew into r->names. */
static void names_read(struct pyreader *r)
{
	/* 2.7's threading.py keeps it as self.__name; 3.x as self._name. */
	const char *attr = r->found.hexversion >> 24 == 2 ? "_Thread__name" : "_name";
	struct dict_item items[PYREADER_NAMES_MAX];
	size_t n;

	r->stats.name_walks++;
	r->nnames = 0;
	/* Searching sys.modules reads every key (a few hundred, ~1 ms):
	 * while threading is not imported, again after 50 ms, then twice as
	 * long each time up to a second (a program importing threading at
	 * start-up gets names at once; one that never does, one search a
	 * second). */
	if (!r->active_dict && (!r->active_tried_ns ||
				now_ns() - r->active_tried_ns >= r->active_retry_ns)) {
		r->active_tried_ns = now_ns();
		r->active_retry_ns = r->active_retry_ns ? r->active_retry_ns * 2 : 50 * 1000 * 1000LL;
		if (r->active_retry_ns > PYREADER_NAMES_REFRESH_NS)
			r->active_retry_ns = PYREADER_NAMES_REFRESH_NS;
		r->active_dict = active_find(r);
	}
	n = dict_items(r, r->active_dict, items, PYREADER_NAMES_MAX);
	if (!n) {
		/* Not imported yet, or the cached dict is gone (it never is
		 * while threading lives): look again next time. */
		r->active_dict = 0;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct pyreader_name *e = &r->names[r->nnames];
		uint64_t name, native;

		if (!int_value(r, items[i].key, &e->ident) || !e->ident)
			continue;
		name = attr_find(r, items[i].value, attr, &r->name_key);
		if (!name || !str_read(r, name, e->name, sizeof(e->name)) || !e->name[0])
			continue;
		/* pthread_t values come back for new threads at once (the
		 * same stack): the tid (3.8+) tells a thread that has ended
		 * from its successor. */
		native = r->found.hexversion >= 0x03080000
				 ? attr_find(r, items[i].value, "_native_id", &r->native_id_key) : 0;
		if (!native || !int_value(r, native, &e->native_id))
			e->native_id = 0;
		r->nnames++;
	}
}

/* The name of the thread of pthread_t @ident and tid @nstid (as the
 * target sees it). */
static const char *name_of(const struct pyreader *r, uint64_t ident, uint32_t nstid)
{
	for (size_t i = 0; i < r->nnames; i++)
		if (r->names[i].ident == ident &&
		    (!r->names[i].native_id || r->names[i].native_id == nstid))
			return r->names[i].name;
	return NULL;
}

/* The kept entry of thread @nstid, or NULL. */
static struct pyreader_name *kept_find(struct pyreader *r, uint32_t nstid)
{
	for (size_t i = 0; i < r->nkept; i++)
		if (r->kept_tid[i] == nstid)
			return &r->kept[i];
	return NULL;
}

/*
 * A thread keeps the name it was last seen with while its thread state
 * holds the same pthread_t (@ident): threading forgets a thread
 * (_active) before it ends, and its last samples are still its own (and
 * once its thread state is gone, whatever it holds). A thread seen with no
 * name gets an entry too (an empty name): it is no longer new. By tid;
 * the table starts over when full.
 */
static const char *name_keep(struct pyreader *r, uint32_t nstid, uint64_t ident,
			     const char *name)
{
	struct pyreader_name *e = kept_find(r, nstid);

	if (!e) {
		if (r->nkept == PYREADER_NAMES_MAX)
			r->nkept = 0;
		r->kept_tid[r->nkept] = nstid;
		e = &r->kept[r->nkept++];
		e->ident = ident;
		e->name[0] = '\0';
	}
	if (!name)
		return e->name[0] && e->ident == ident ? e->name : NULL;
	e->ident = ident;
	if (strcmp(e->name, name) != 0)
		snprintf(e->name, sizeof(e->name), "%s", name);
	return e->name;
}

const char *pyreader_thread_name(struct pyreader *r, pid_t tid)
{
	uint32_t nstid = nstid_of(r, tid);
	struct thread_entry *t = thread_find(r, nstid);
	long long now = now_ns();
	const char *name;

	if (r->layout.interp.modules == PYLAYOUT_ABSENT)
		return NULL;
	if (r->multi && (!t || !t->tstate)) {
		/* Captures of a process with subinterpreters go by the C
		 * stack (capture_multi), not by the thread table: fill it.
		 * The pthread_t is the same in each interpreter's thread
		 * state of a thread (made on that thread). */
		uint8_t ts[4096];

		if (r->tstate_size <= sizeof(ts) && tstate_get(r, nstid, ts))
			t = thread_find(r, nstid);
	}
	/* Its thread state gone (the thread's last native code): the name
	 * it had. */
	if (!t || !t->tstate || !t->pthread) {
		struct pyreader_name *e = kept_find(r, nstid);

		return e && e->name[0] ? e->name : NULL;
	}
	name = name_of(r, t->pthread, nstid);
	/* Read at the first sample of each thread (it may have started since
	 * the last read: short-lived threads would go unnamed otherwise),
	 * every second (renames), and every 100 ms for a thread that has no
	 * name yet. */
	if (!r->names_ns || now - r->names_ns >= PYREADER_NAMES_REFRESH_NS ||
	    (!name && (!kept_find(r, nstid) || now - r->names_ns >= PYREADER_NAMES_NEW_NS))) {
		names_read(r);
		r->names_ns = now;
		name = name_of(r, t->pthread, nstid);
	}
	return name_keep(r, nstid, t->pthread, name);
}
