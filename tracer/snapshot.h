/*
 * snapshot.h - what a sampler captures of one thread at one tick: its user
 * registers and a copy of the top of its stack. Everything after (unwinding,
 * counting) works on the snapshot while the target runs on.
 */
#ifndef HOTSPY_SNAPSHOT_H
#define HOTSPY_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pylocals.h"
#include "pystack.h"

/* x86-64 registers in DWARF numbering (the System V psABI, figure 3.36),
 * which is also libunwind's UNW_X86_64_* numbering. */
enum snapshot_reg {
	SNAP_RAX, SNAP_RDX, SNAP_RCX, SNAP_RBX, SNAP_RSI, SNAP_RDI, SNAP_RBP,
	SNAP_RSP, SNAP_R8, SNAP_R9, SNAP_R10, SNAP_R11, SNAP_R12, SNAP_R13,
	SNAP_R14, SNAP_R15, SNAP_RIP,
	SNAP_NREGS
};

struct snapshot {
	pid_t pid;
	pid_t tid;
	char state;               /* 'R', 'S', 'D', ... from /proc; '?' unknown */
	const char *comm;         /* thread name; valid during the callback */
	uint64_t time_ns;         /* CLOCK_MONOTONIC when taken */
	uint64_t weight;          /* sampling periods of time it stands for */
	uint64_t regs[SNAP_NREGS];
	uint64_t stack_addr;      /* target address of stack[0] (= RSP) */
	const uint8_t *stack;     /* copy of [stack_addr, stack_addr + stack_len) */
	size_t stack_len;
	int stack_cut;            /* 1 when the copy stopped at --stack-size
	                           * before the end of the stack mapping */
	const uint64_t *kernel;   /* kernel frames (--kernel), innermost first:
	                           * the interrupted PC, then return addresses */
	size_t nkernel;
	/* The thread's CPython frames at the same instant, or NULL. */
	const struct pystack *py;
	/* Their arguments and locals (sampler_config.locals), or NULL. */
	const struct pylocals *locals;
};

#endif
