// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF sampler's program: attached to every task-clock perf event of the
 * target (PERF_EVENT_IOC_SET_BPF), it runs in the target's context when a
 * period of its CPU time has passed, and copies the thread's user registers,
 * the top of its user stack and, for a Python thread, the memory that holds
 * its interpreter's frame chain (regions user space names per thread) into
 * a ring buffer (record.h). Returning 0 tells perf to write no sample of its
 * own.
 *
 * GPL: bpf_probe_read_user and bpf_get_current_task_btf are GPL-only
 * helpers (kernel/trace/bpf_trace.c).
 */
/*
 * No CO-RE relocation: the program reads no kernel structure field by
 * field. The context (struct bpf_perf_event_data) is UAPI, and struct
 * pt_regs is the x86-64 layout of arch/x86/include/uapi/asm/ptrace.h,
 * copied whole by a helper. A relocation would make libbpf load and parse
 * the kernel's whole BTF at each start (5 MB: about a second of wall time
 * on a busy machine) for nothing.
 */
#define BPF_NO_PRESERVE_ACCESS_INDEX
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "record.h"

char LICENSE[] SEC("license") = "GPL";

/* Size set by user space before load (bpf_map__set_max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} records SEC(".maps");

/*
 * Python threads: what to copy besides the stack, by kernel tid, written by
 * user space after each walk of the thread's frames (an LRU map: the
 * entries of threads that ended make room for new ones).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct hsbpf_pyregions);
} pyregions SEC(".maps");

/* Set before load: bytes of stack to copy (--stack-size, at most
 * HSBPF_STACK_MAX). */
const volatile __u32 stack_size = HSBPF_STACK_MAX;

/* Samples dropped because the ring was full (read by user space). */
__u64 lost = 0;

#define COPY_REGS(r, src)                        \
	do {                                     \
		(r)[0] = (src)->ax;              \
		(r)[1] = (src)->dx;              \
		(r)[2] = (src)->cx;              \
		(r)[3] = (src)->bx;              \
		(r)[4] = (src)->si;              \
		(r)[5] = (src)->di;              \
		(r)[6] = (src)->bp;              \
		(r)[7] = (src)->sp;              \
		(r)[8] = (src)->r8;              \
		(r)[9] = (src)->r9;              \
		(r)[10] = (src)->r10;            \
		(r)[11] = (src)->r11;            \
		(r)[12] = (src)->r12;            \
		(r)[13] = (src)->r13;            \
		(r)[14] = (src)->r14;            \
		(r)[15] = (src)->r15;            \
		(r)[16] = (src)->ip;             \
	} while (0)

/*
 * Where py_copy is, kept in a map rather than on the stack: the verifier
 * knows nothing of a map value's contents, so each step of the loop starts
 * from the same state (unknown, then bounded) and one check of a step
 * covers them all. On the stack it would track the exact offsets step
 * after step and give up (a million instructions) before the end.
 * Per CPU: the program does not run twice at once on one CPU.
 */
struct py_cursor {
	__u64 off;                /* bytes of r->py written */
	__u64 pos;                /* bytes of region ri copied */
	__u32 ri;
	__u32 nreg;
	__u64 frame;              /* the walk's next frame */
	__u32 frames;
	__u32 reserved;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_cursor);
} py_cursors SEC(".maps");

struct py_walk {
	struct hsbpf_record *r;
	struct hsbpf_pyregions *pr;
	struct py_cursor *c;
};

/*
 * One piece of py_copy: region c->ri up to the end of a page. A piece
 * that cannot be read (a page not present: no fault can be taken here)
 * ends the copy; the record holds the regions copied whole before it.
 * Returns 1 to stop (a bpf_loop callback).
 */
static long py_piece(__u64 index, struct py_walk *w)
{
	struct hsbpf_record *r = w->r;
	struct py_cursor *c = w->c;
	__u64 addr, len, n, off = c->off, pos = c->pos;
	__u32 ri = c->ri;

	(void)index;
	if (ri >= c->nreg || ri >= HSBPF_PY_REGIONS)
		return 1;
	addr = w->pr->regions[ri].addr;
	len = w->pr->regions[ri].len;
	if (len > HSBPF_PY_MAX || off > HSBPF_PY_MAX - len || pos > len)
		return 1;
	if (pos == 0) {
		r->head.py_regions[ri].addr = addr;
		r->head.py_regions[ri].len = (__u32)len;
		r->head.py_regions[ri].reserved = 0;
	}
	/* Up to the end of the source's page: a read never spans two. */
	n = HSBPF_PAGE - ((addr + pos) & (HSBPF_PAGE - 1));
	if (n > len - pos)
		n = len - pos;
	/* Hide what clang knows of n (see the stack's copy). */
	asm volatile("" : "+r"(n));
	if (n > HSBPF_PAGE || off > HSBPF_PY_MAX)
		return 1;
	if (n && bpf_probe_read_user(&r->py[off & (HSBPF_PY_MAX - 1)], n, (void *)(addr + pos)))
		return 1;
	c->off = off + n;
	c->pos = pos + n;
	if (pos + n >= len) {
		c->ri = ri + 1;
		c->pos = 0;
		r->head.py_n = ri + 1;
		r->head.py_len = (__u32)(off + n);
	}
	return 0;
}

/*
 * One step of the walk of frame objects: the frame c->frame, its address
 * then its first frame_len bytes at c->off, and the older frame's pointer
 * read from them. Returns 1 to stop (a bpf_loop callback).
 */
static long py_frame(__u64 index, struct py_walk *w)
{
	struct hsbpf_record *r = w->r;
	struct py_cursor *c = w->c;
	__u64 off = c->off, frame = c->frame, flen = w->pr->frame_len, back = w->pr->back_off;
	__u64 step = (flen + 15) & ~7ull, next;

	(void)index;
	if (!frame || (frame & 7) || flen > HSBPF_FRAME_MAX || back + 8 > flen ||
	    off > HSBPF_PY_MAX - step)
		return 1;
	asm volatile("" : "+r"(flen));
	if (flen > HSBPF_FRAME_MAX || off > HSBPF_PY_MAX)
		return 1;
	*(__u64 *)&r->py[off & (HSBPF_PY_MAX - 1)] = frame;
	if (bpf_probe_read_user(&r->py[(off + 8) & (HSBPF_PY_MAX - 1)], flen, (void *)frame))
		return 1;
	next = *(__u64 *)&r->py[(off + 8 + back) & (HSBPF_PY_MAX - 1)];
	c->off = off + step;
	c->frame = next;
	c->frames++;
	r->head.frames = c->frames;
	return 0;
}

/*
 * The regions user space asked for the thread (@pr: its thread state and
 * frame chain), copied whole after the stack, in order, up to the first that
 * does not fit or cannot be read: the frames of the same instant as the
 * stack.
 */
static __always_inline void py_copy(struct hsbpf_record *r, struct hsbpf_pyregions *pr)
{
	struct py_walk w = { .r = r, .pr = pr };
	__u32 zero = 0;

	w.c = bpf_map_lookup_elem(&py_cursors, &zero);
	if (!w.c)
		return;
	w.c->off = 0;
	w.c->pos = 0;
	w.c->ri = 0;
	w.c->nreg = w.pr->n;
	w.c->frame = 0;
	w.c->frames = 0;
	bpf_loop(HSBPF_PY_MAX / HSBPF_PAGE + 2 * HSBPF_PY_REGIONS, py_piece, &w, 0);
	/* The walk starts at the pointer read now, not the one copied with
	 * the thread state (the same instant either way), and only once
	 * every region came: the frames are found after them. */
	if (!pr->frame_len || w.c->ri < w.c->nreg ||
	    bpf_probe_read_user(&w.c->frame, 8, (void *)pr->frame_at))
		return;
	if (pr->deref_off != HSBPF_NO_DEREF &&
	    (!w.c->frame || (w.c->frame & 7) ||
	     bpf_probe_read_user(&w.c->frame, 8, (void *)(w.c->frame + pr->deref_off))))
		return;
	w.c->off = (w.c->off + 7) & ~7ull;
	r->head.frame_len = pr->frame_len;
	bpf_loop(HSBPF_PY_MAX / 64, py_frame, &w, 0);
}

SEC("perf_event")
int hotspy_sample(struct bpf_perf_event_data *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct hsbpf_record *r;
	__u64 id = bpf_get_current_pid_tgid(), sp;
	/* 64-bit: a 32-bit copy of a bounded value loses its bound in the
	 * verifier (the zero extension makes a new register). */
	__u64 len = 0, limit = stack_size;
	int i;

	__u32 tid = (__u32)id;
	struct hsbpf_pyregions *pr = bpf_map_lookup_elem(&pyregions, &tid);

	/* A thread with no Python memory to copy takes a record without room
	 * for it: half the ring. */
	if (pr)
		r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	else
		r = bpf_ringbuf_reserve(&records, __builtin_offsetof(struct hsbpf_record, py), 0);
	if (!r) {
		__sync_fetch_and_add(&lost, 1);
		return 0;
	}
	r->head.magic = HSBPF_MAGIC;
	r->head.pid = (__u32)(id >> 32);
	r->head.tid = (__u32)id;
	r->head.time_ns = bpf_ktime_get_ns();
	r->head.py_n = 0;
	r->head.py_len = 0;
	r->head.frames = 0;
	r->head.frame_len = 0;
	r->head.reserved = 0;
	/* cs is 16 bits wide in struct pt_regs, but the context allows only
	 * 8-byte loads (pe_prog_is_valid_access): the low bits of the slot. */
	if ((*(const __u64 *)((const char *)&ctx->regs +
			      __builtin_offsetof(struct pt_regs, cs)) & 3) == 3) {
		/* The tick interrupted user code: its registers are these. */
		COPY_REGS(r->head.regs, &ctx->regs);
		r->head.flags = HSBPF_FROM_IRQ;
	} else {
		/* In the kernel (a system call, a fault): the user registers
		 * saved at its entry, as perf's PERF_SAMPLE_REGS_USER takes. */
		struct pt_regs u;

		if (bpf_probe_read_kernel(&u, sizeof(u), (void *)bpf_task_pt_regs(task))) {
			bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);
			return 0;
		}
		COPY_REGS(r->head.regs, &u);
		r->head.flags = 0;
	}
	sp = r->head.regs[7];
	if (limit > HSBPF_STACK_MAX)
		limit = HSBPF_STACK_MAX;
	/* A page at a time, up to the first that cannot be read (the end
	 * of the stack's mapping, or a page not present: no fault can be
	 * taken here). The first piece ends at SP's page boundary. */
	for (i = 0; i < HSBPF_STACK_MAX / HSBPF_PAGE + 1; i++) {
		__u64 n = HSBPF_PAGE - ((sp + len) & (HSBPF_PAGE - 1));

		if (len >= limit)
			break;
		if (n > limit - len)
			n = limit - len;
		/* Hide what clang knows of n, so that the verifier is shown
		 * the bound it needs for the copy's size. */
		asm volatile("" : "+r"(n));
		if (n > HSBPF_PAGE || len > HSBPF_STACK_MAX)
			break;
		if (bpf_probe_read_user(&r->stack[len & (HSBPF_STACK_MAX - 1)], n,
					(void *)(sp + len)))
			break;
		len += n;
	}
	r->head.stack_len = (__u32)len;
	if (len >= limit)
		r->head.flags |= HSBPF_STACK_CUT;
	if (pr)
		py_copy(r, pr);
	/* No wake-up: it would cost the target an interrupt, and a ring
	 * that holds data reads as ready to poll(2) whether woken or not, so
	 * hotspy drains it on its own 10 ms clock instead. */
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}
