/*
 * Reading a BPF sampler record: see bpf_record.h and bpf/record.h.
 */
#include <errno.h>
#include <stddef.h>
#include <linux/types.h>
#include <stdint.h>
#include <string.h>

#include "bpf/record.h"
#include "bpf_record.h"
#include "banned.h"

_Static_assert(HSBPF_NREGS == SNAP_NREGS, "record registers are the snapshot's");
_Static_assert(HSBPF_STACK_MAX == BPF_RECORD_STACK_MAX, "one stack bound");
_Static_assert(HSBPF_PY_REGIONS == BPF_RECORD_PY_REGIONS, "one bound on regions");
_Static_assert(sizeof(struct hsbpf_head) % 8 == 0, "the stack starts 8-aligned");

/* Where py[] starts in a record. */
#define PY_AT offsetof(struct hsbpf_record, py)

/* The Python part of the record @p of @len bytes whose head is @h, into
 * @py; -EINVAL when it does not hold together. */
static int py_parse(const struct hsbpf_head *h, const uint8_t *p, size_t len,
		    struct bpf_record_py *py)
{
	size_t sum = 0, walk_at, stride;

	memset(py, 0, sizeof(*py));
	if (h->py_n == 0 && h->py_len == 0 && h->frames == 0)
		return 0;
	if (h->py_n > HSBPF_PY_REGIONS || h->py_len > HSBPF_PY_MAX || len < PY_AT ||
	    h->py_len > len - PY_AT)
		return -EINVAL;
	for (size_t i = 0; i < h->py_n; i++) {
		const struct hsbpf_region *g = &h->py_regions[i];

		if (g->len > HSBPF_PY_MAX || g->addr > UINT64_MAX - g->len)
			return -EINVAL;
		sum += g->len;
		py->remote[i] = (struct iovec){ (void *)(uintptr_t)g->addr, g->len };
	}
	if (sum != h->py_len)
		return -EINVAL;
	py->n = h->py_n;
	py->bytes = sum ? p + PY_AT : NULL;
	py->len = sum;
	if (h->frames == 0)
		return 0;
	/* The walk: after the regions' bytes, 8-aligned. */
	walk_at = (sum + 7) & ~(size_t)7;
	stride = ((size_t)h->frame_len + 15) & ~(size_t)7;
	if (h->frame_len < 8 || h->frame_len > HSBPF_FRAME_MAX || walk_at > HSBPF_PY_MAX ||
	    h->frames > (HSBPF_PY_MAX - walk_at) / stride ||
	    walk_at + h->frames * stride > len - PY_AT)
		return -EINVAL;
	py->frames = h->frames;
	py->frame_len = h->frame_len;
	py->frame_stride = stride;
	py->walk = p + PY_AT + walk_at;
	return 0;
}

int bpf_record_parse(const void *rec, size_t len, struct snapshot *snap,
		     struct bpf_record_py *py)
{
	struct bpf_record_py pyr;
	struct hsbpf_head h;
	const uint8_t *p = rec;

	if (!rec || len < sizeof(h))
		return -EINVAL;
	/* The ring's data is 8-aligned, but a fuzzer's is not: copied. */
	memcpy(&h, p, sizeof(h));
	if (h.magic != HSBPF_MAGIC || h.stack_len > HSBPF_STACK_MAX ||
	    h.stack_len > len - sizeof(h) || h.pid == 0 || h.tid == 0 ||
	    h.pid > INT32_MAX || h.tid > INT32_MAX || py_parse(&h, p, len, &pyr) < 0)
		return -EINVAL;
	if (py)
		*py = pyr;
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
