/*
 * record.h - one record of the BPF sampler's ring buffer: what the program
 * of sampler.bpf.c writes at each sample and bpf_record.c reads. Shared by
 * the BPF program (types from vmlinux.h) and user space (<linux/types.h>):
 * fixed-width fields only, no padding, the same layout on both sides.
 */
#ifndef HOTSPY_BPF_RECORD_H
#define HOTSPY_BPF_RECORD_H

/* "HSB2": a record of this layout. A change of layout changes it. */
#define HSBPF_MAGIC 0x32425348u

/* Most bytes of user stack a record holds: perf's 64 KiB. */
#define HSBPF_STACK_MAX 65536u
/* The copy goes a page at a time (it stops at the first page that cannot
 * be read, as perf's copy_from_user_nmi does); the array has a page of
 * slack past HSBPF_STACK_MAX so the verifier sees every page fit. */
#define HSBPF_PAGE 4096u

/*
 * Python: the regions of the target's memory user space asks the program to
 * copy for a thread at each of its samples (its thread state, the tid that
 * tells it on <=3.7, the GIL's span: pyreader_copy_plan), at most
 * HSBPF_PY_REGIONS of them, HSBPF_PY_MAX bytes in all with the frames
 * walked, copied whole and in order up to the first that does not fit in
 * what is left or cannot be read without a fault.
 */
#define HSBPF_PY_REGIONS 8u
#define HSBPF_PY_MAX 131072u

/* Registers in DWARF numbering (snapshot.h, enum snapshot_reg). */
#define HSBPF_NREGS 17

/* flags */
#define HSBPF_FROM_IRQ 1u     /* regs are the interrupted user context's */
#define HSBPF_STACK_CUT 2u    /* the copy stopped at the size asked for */

/* One region to copy: [addr, addr + len) of the thread's process. */
struct hsbpf_region {
	__u64 addr;
	__u32 len;
	__u32 reserved;
};

/*
 * The value of the program's map of regions, by thread (kernel tid). With
 * frame_len, the program also walks the thread's chain of Python frames
 * (frame objects on <=3.10, each a heap object of its own; interpreter
 * frames on 3.11+, in the data stack or in a generator): from the pointer
 * at frame_at (in the thread state; with deref_off, the pointer at that
 * offset of the structure it points to: 3.11 and 3.12's _PyCFrame), each
 * frame's first frame_len bytes, then the older frame's pointer at
 * back_off in them, until a NULL or the room runs out.
 */
#define HSBPF_FRAME_MAX 512u      /* most bytes of one frame copied */
#define HSBPF_NO_DEREF 0xffffffffu
struct hsbpf_pyregions {
	__u32 n;                  /* regions[0 .. n) are asked for */
	__u32 frame_len;          /* 0: no walk */
	__u64 frame_at;
	__u32 back_off;           /* < frame_len - 7 */
	__u32 deref_off;          /* HSBPF_NO_DEREF: none */
	struct hsbpf_region regions[HSBPF_PY_REGIONS];
};

struct hsbpf_head {
	__u32 magic;
	__u32 flags;
	__u32 pid;                /* tgid */
	__u32 tid;
	__u64 time_ns;            /* bpf_ktime_get_ns: CLOCK_MONOTONIC */
	__u64 regs[HSBPF_NREGS];
	__u32 stack_len;          /* bytes of stack[] copied, from regs' SP */
	__u32 py_n;               /* regions copied whole into py[], in order */
	__u32 py_len;             /* their bytes */
	__u32 frames;             /* frames walked: after the regions' bytes, each
	                           * its address (8 bytes), then frame_len bytes
	                           * rounded up to 8 */
	__u32 frame_len;
	__u32 reserved;
	struct hsbpf_region py_regions[HSBPF_PY_REGIONS];   /* [0 .. py_n) */
};

/* py[] lies at a fixed place, after the room for the largest stack; a
 * record of a thread with no Python memory to copy ends before it. */
struct hsbpf_record {
	struct hsbpf_head head;
	__u8 stack[HSBPF_STACK_MAX + HSBPF_PAGE];
	__u8 py[HSBPF_PY_MAX + HSBPF_PAGE];
};

#endif
