/*
 * Reading a BPF sampler record: see bpf_record.h and bpf/record.h.
 */
#include <errno.h>
#include <linux/types.h>
#include <stdint.h>
#include <string.h>

#include "bpf/record.h"
#include "bpf_record.h"
#include "banned.h"

_Static_assert(HSBPF_NREGS == SNAP_NREGS, "record registers are the snapshot's");
_Static_assert(HSBPF_STACK_MAX == BPF_RECORD_STACK_MAX, "one stack bound");
_Static_assert(sizeof(struct hsbpf_head) % 8 == 0, "the stack starts 8-aligned");

int bpf_record_parse(const void *rec, size_t len, struct snapshot *snap)
{
	struct hsbpf_head h;
	const uint8_t *p = rec;

	if (!rec || len < sizeof(h))
		return -EINVAL;
	/* The ring's data is 8-aligned, but a fuzzer's is not: copied. */
	memcpy(&h, p, sizeof(h));
	if (h.magic != HSBPF_MAGIC || h.stack_len > HSBPF_STACK_MAX ||
	    h.stack_len > len - sizeof(h) || h.pid == 0 || h.tid == 0 ||
	    h.pid > INT32_MAX || h.tid > INT32_MAX)
		return -EINVAL;
	snap->pid = (pid_t)h.pid;
	snap->tid = (pid_t)h.tid;
	snap->time_ns = h.time_ns;
	memcpy(snap->regs, h.regs, sizeof(snap->regs));
	snap->stack_addr = snap->regs[SNAP_RSP];
	snap->stack = p + sizeof(h);
	snap->stack_len = h.stack_len;
	snap->stack_cut = (h.flags & HSBPF_STACK_CUT) != 0;
	return 0;
}
