/*
 * pyreader.h - the CPython frames of a live process's threads: one reader
 * per process finds the interpreter (pyfind.h), picks its layout
 * (pylayout.h), copies a stopped thread's frame chain (pystack.h) with as
 * few process_vm_readv calls as the layout allows, and later names the
 * copied frames by interning their code objects in a struct pycodes.
 *
 * Two steps, because the thread must be held stopped as briefly as
 * possible: pyreader_capture copies code addresses and instruction
 * pointers while the thread is stopped; pyreader_resolve reads the code
 * objects (once each, cached and validated) after it has been resumed.
 * Facts and offsets: shared/PYTHON.md.
 */
#ifndef HOTSPY_PYREADER_H
#define HOTSPY_PYREADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "elf_cache.h"
#include "maps.h"
#include "pycode.h"
#include "pyfind.h"
#include "pylocals.h"
#include "pystack.h"

struct pyreader;

/* Most address ranges of the interpreter's own code pyreader_text gives. */
#define PYREADER_TEXT_MAX 8

/* An address range [start, end) of the target. */
struct pyreader_range {
	uint64_t start;
	uint64_t end;
};

/* Most bytes of a Python thread name kept (UTF-8, NUL included). */
#define PYREADER_NAME_MAX 128

/* Counters for the recording's summary. A plain value. */
struct pyreader_stats {
	uint64_t captures;        /* pyreader_capture calls */
	uint64_t reads;           /* process_vm_readv calls made by captures */
	uint64_t frames;          /* Python frames captured */
	uint64_t none;            /* captures of a thread running no Python */
	uint64_t torn;            /* captures ending PYSTACK_TORN */
	uint64_t cut;             /* captures ending PYSTACK_CUT */
	uint64_t walks;           /* full walks of the thread-state lists */
	uint64_t codes_read;      /* code objects read by pyreader_resolve */
	uint64_t codes_stale;     /* cached code objects found reused */
	uint64_t resolve_reads;   /* process_vm_readv calls made by resolves
	                           * and by the thread-name walks */
	uint64_t name_walks;      /* reads of the threads' names */
};

/*
 * A reader of process @pid, whose current mappings are @maps (not kept),
 * whose files are opened through @cache (not kept), and whose code objects
 * go to @codes (kept: it must outlive the reader; the caller owns it).
 * On 3.13+ the layout is the target's own _Py_DebugOffsets when they
 * validate, else the version's table. When @found is not NULL it receives
 * what pyfind found, also on failure (hexversion and module name the
 * interpreter for a message). Returns the reader, or NULL with errno:
 *   ENOENT   not a CPython process (or libpython not mapped yet)
 *   EAGAIN   CPython whose interpreter is not initialised yet: ask again
 *   ENOTSUP  a CPython version with no layout (see found->hexversion)
 *   other    the target could not be read (EPERM, ESRCH), ENOMEM.
 * Not safe in a signal handler.
 */
struct pyreader *pyreader_new(pid_t pid, const struct maps *maps, struct elf_cache *cache,
			      struct pycodes *codes, struct pyfind_result *found);

void pyreader_free(struct pyreader *r);  /* accepts NULL */

/*
 * Have each capture also tell whether the thread holds the GIL
 * (pystack.gil): the lock word and its last holder, read at the same
 * instant as the frames (copied with the stack by pyreader_prefetch once
 * their address is known). Off by default: a read the profile does not
 * need is not made while the thread is held. False when the version's GIL
 * cannot be read (gil stays PYSTACK_GIL_UNKNOWN).
 */
bool pyreader_want_gil(struct pyreader *r);

/* PY_VERSION_HEX of the target's interpreter (exact unless pyfind only had
 * the file's name). */
uint32_t pyreader_version(const struct pyreader *r);

/* The file holding the interpreter as /proc/PID/maps names it (owned by
 * @r). */
const char *pyreader_module(const struct pyreader *r);

/* True when the layout comes from the target's own _Py_DebugOffsets. */
int pyreader_layout_from_target(const struct pyreader *r);

/*
 * The interpreter's executable code: the r-x mappings of the module that
 * holds it (libpython, or the executable for a static build), at
 * pyreader_new time. Stores up to PYREADER_TEXT_MAX ranges in @out and
 * returns their number. A native frame whose pc is inside is the
 * interpreter's own C code.
 */
size_t pyreader_text(const struct pyreader *r, struct pyreader_range *out);

/*
 * Copy the Python frames of thread @tid (a tid as the caller's PID namespace
 * sees it) into @out. Call while @tid is stopped (ptrace), so that the
 * frames are those of the instant of its native stack; nothing is read from
 * the code objects. The thread state of @tid is cached and checked by the
 * same read that brings its frame pointer; a stale one starts a walk of
 * every interpreter's thread list. Returns 0 with out->status set
 * (PYSTACK_NONE: the thread has no thread state or no frame), or -errno
 * when the target cannot be read at all (-ESRCH: it is gone). Not safe in a
 * signal handler (the first capture of a thread may read /proc).
 */
int pyreader_capture(struct pyreader *r, pid_t tid, struct pystack *out);

/*
 * What a capture of @tid will most likely read first (its thread state;
 * 3.11+: the data-stack chunk it used at its last capture; <=3.10: its
 * struct pthread's tid and the spans of frame objects its last capture
 * read), as up to @max (PYREADER_PREFETCH_MAX is enough) iovecs into
 * buffers of @r, for the caller to copy in the same
 * process_vm_readv as the thread's stack, after it. Returns how many
 * (0: nothing known yet). Valid for the next capture of @tid only.
 */
#define PYREADER_PREFETCH_MAX 8
size_t pyreader_prefetch(struct pyreader *r, pid_t tid, struct iovec *local,
			 struct iovec *remote, size_t max);

/*
 * What a copier that runs at the sample instant (the BPF sampler's
 * program) should copy of thread @tid for its next capture: up to @max
 * (at least 3) regions into @remote (its thread state; on <=3.7 the tid in
 * its struct pthread; the GIL's span when pyreader_want_gil), and a walk
 * of its frame chain in @walk (frame_len 0: none): from the pointer at
 * frame_at (through deref_off), each frame's first frame_len bytes, the
 * older frame's pointer at back_off in them. A thread not captured yet
 * has its thread state looked for (reads). Returns the number of regions
 * (0: @tid has no thread state, no walk). Leaves no prefetch pending.
 */
#define PYREADER_WALK_FRAME_MAX 512
#define PYREADER_WALK_NO_DEREF UINT32_MAX
struct pyreader_walk {
	uint64_t frame_at;
	uint32_t deref_off;       /* PYREADER_WALK_NO_DEREF, or: the pointer
	                           * at frame_at points to a structure that
	                           * holds the frame's pointer at this offset */
	uint32_t frame_len;
	uint32_t back_off;
};
size_t pyreader_copy_plan(struct pyreader *r, pid_t tid, struct iovec *remote, size_t max,
			  struct pyreader_walk *walk);

/*
 * A copy made at the sample instant after a pyreader_copy_plan of the
 * thread (not necessarily the latest one): the regions @remote[0 .. n)
 * whole, in order, at @bytes (@len bytes), then @frames frames walked,
 * @frame_stride bytes apart at @walk, each the frame's address (8 bytes)
 * then its first @frame_len bytes. All borrowed until the next capture.
 */
struct pyreader_copy {
	const struct iovec *remote;
	size_t n;
	const uint8_t *bytes;
	size_t len;
	const uint8_t *walk;
	size_t frames, frame_len, frame_stride;
};

/*
 * Have the next capture of @tid (pyreader_capture_stack, right after) take
 * @c as it takes a prefetch: the regions for what they are (the thread
 * state the reader knows @tid by, the tid that tells it on <=3.7, the
 * GIL's span; a region it cannot use ends them), the frames walked by
 * their addresses. Returns the regions' bytes taken, the @prefetched of
 * pyreader_capture_stack.
 */
size_t pyreader_prefetch_copied(struct pyreader *r, pid_t tid, const struct pyreader_copy *c);

/*
 * Do now what a capture does only every so often and may do with a read
 * of its own (3.11+: whether the process runs several interpreters, one
 * read at most every 10 ms): a sampler that stops the thread calls this
 * just before, so that the capture of the held thread finds it fresh and
 * the read is not done while the thread is held. Never reads more often
 * than a capture would; nothing else changes.
 */
void pyreader_warm(struct pyreader *r);

/*
 * pyreader_capture for a thread whose stack was copied while it is held:
 * the bytes [@stack_addr, @stack_addr + @stack_len) of the target are at
 * @stack (borrowed for the call), and what the walk needs there (3.11 and
 * 3.12 keep each eval-loop call's _PyCFrame on the C stack) is taken from
 * them instead of read again, one process_vm_readv fewer per structure.
 * @prefetched: bytes of pyreader_prefetch's iovecs that were copied (in
 * their order; 0 when none were); what was copied whole is not read again.
 * In a process running several interpreters (3.11+), the stack copy also
 * decides which thread states are @tid's: those whose frames run on it,
 * in any interpreter, their chains joined inner first (subinterpreters:
 * see capture_multi in pyreader.c); thread ids decide only when none does.
 */
int pyreader_capture_stack(struct pyreader *r, pid_t tid, uint64_t stack_addr,
			   const uint8_t *stack, size_t stack_len, size_t prefetched,
			   struct pystack *out);

/*
 * The python addresses (addrspace_python_make) of the @st->n frames of @st
 * into @addrs[0 .. st->n), innermost first. Call after the thread has been
 * resumed. Each code object is read on first sight (name, file, first
 * line, line table), interned in the reader's pycodes and cached by
 * address; a cached one is checked against reuse of its address by one
 * batched read per call (see pyreader.c). A code object that cannot be read
 * or makes no sense gets a placeholder entry ("?"), so every frame gets an
 * address. 0, or -ENOMEM.
 */
int pyreader_resolve(struct pyreader *r, const struct pystack *st, uint64_t *addrs);

/*
 * The arguments and local variables of the @st->n frames of @st, innermost
 * first, appended to @out one frame each (pylocals.h: a frame whose
 * locals cannot be read is appended empty). Call while the thread whose
 * frames these are is still stopped, after the capture: the values are
 * those of the stack's instant, and the frames are not being reused.
 * Reads only; each read is counted with the capture's (stats.reads).
 * Returns 0, -ENOTSUP when this version's locals cannot be read (no
 * layout for them: 3.14+ today), or -ENOMEM.
 */
int pyreader_locals(struct pyreader *r, const struct pystack *st, struct pylocals *out);

/*
 * The name Python gives thread @tid (threading.Thread.name: the _name of
 * its Thread in threading._active), or NULL when it has none (a thread
 * threading does not know, threading not imported, a version whose
 * objects hotspy cannot read: 3.14+ today) or it cannot be read. The
 * names of every thread are read together, from the target's objects:
 * at the first call for each thread, then at most every second, and
 * every 100 ms for a thread not named yet. From 3.8 a name counts only
 * when its Thread's _native_id is @tid (a new thread gets the pthread_t
 * of one that just ended). Call while the thread runs (after
 * pyreader_capture and the thread's resume): a name is not part of a
 * stack's instant. The result is owned by @r, valid until the next call.
 */
const char *pyreader_thread_name(struct pyreader *r, pid_t tid);

/* The counters so far. */
void pyreader_stats(const struct pyreader *r, struct pyreader_stats *out);

#endif
