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
 * copy for a thread at each of its samples (the thread state, the frame
 * chain's data-stack chunk or frame objects: pyreader_prefetch), at most
 * HSBPF_PY_REGIONS of them, HSBPF_PY_MAX bytes in all, copied whole, in
 * order, up to the first that cannot be (too big for what is left, or not
 * readable without a fault).
 */
#define HSBPF_PY_REGIONS 8u
#define HSBPF_PY_MAX 32768u

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

/* The value of the program's map of regions, by thread (kernel tid). */
struct hsbpf_pyregions {
	__u32 n;                  /* regions[0 .. n) are asked for */
	__u32 reserved;
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
	__u32 reserved;
	struct hsbpf_region py_regions[HSBPF_PY_REGIONS];   /* [0 .. py_n) */
};

/* py[] lies at a fixed place, after the room for the largest stack. */
struct hsbpf_record {
	struct hsbpf_head head;
	__u8 stack[HSBPF_STACK_MAX + HSBPF_PAGE];
	__u8 py[HSBPF_PY_MAX + HSBPF_PAGE];
};

#endif
