/*
 * record.h - one record of the BPF sampler's ring buffer: what the program
 * of sampler.bpf.c writes at each sample and bpf_record.c reads. Shared by
 * the BPF program (types from vmlinux.h) and user space (<linux/types.h>):
 * fixed-width fields only, no padding, the same layout on both sides.
 */
#ifndef HOTSPY_BPF_RECORD_H
#define HOTSPY_BPF_RECORD_H

/* "HSB1": a record of this layout. A change of layout changes it. */
#define HSBPF_MAGIC 0x31425348u

/* Most bytes of user stack a record holds: perf's 64 KiB. */
#define HSBPF_STACK_MAX 65536u
/* The copy goes a page at a time (it stops at the first page that cannot
 * be read, as perf's copy_from_user_nmi does); the array has a page of
 * slack past HSBPF_STACK_MAX so the verifier sees every page fit. */
#define HSBPF_PAGE 4096u

/* Registers in DWARF numbering (snapshot.h, enum snapshot_reg). */
#define HSBPF_NREGS 17

/* flags */
#define HSBPF_FROM_IRQ 1u     /* regs are the interrupted user context's */
#define HSBPF_STACK_CUT 2u    /* the copy stopped at the size asked for */

struct hsbpf_head {
	__u32 magic;
	__u32 flags;
	__u32 pid;                /* tgid */
	__u32 tid;
	__u64 time_ns;            /* bpf_ktime_get_ns: CLOCK_MONOTONIC */
	__u64 regs[HSBPF_NREGS];
	__u32 stack_len;          /* bytes of stack[] copied, from regs' SP */
	__u32 reserved;
};

struct hsbpf_record {
	struct hsbpf_head head;
	__u8 stack[HSBPF_STACK_MAX + HSBPF_PAGE];
};

#endif
