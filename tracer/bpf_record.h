/*
 * bpf_record.h - one record of the BPF sampler's ring buffer (the layout of
 * bpf/record.h) turned into the snapshot every sampler produces. The record
 * is untrusted input (a ring shared with the kernel, and a fuzz target):
 * every length is checked before it is used.
 */
#ifndef HOTSPY_BPF_RECORD_H_USER
#define HOTSPY_BPF_RECORD_H_USER

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "snapshot.h"

/* Largest stack copy of a record (HSBPF_STACK_MAX): 64 KiB. */
#define BPF_RECORD_STACK_MAX 65536u
/* Most regions of a Python thread's memory a record holds
 * (HSBPF_PY_REGIONS). */
#define BPF_RECORD_PY_REGIONS 8u

/* The Python part of a record: the regions of the target copied at the
 * sample instant (the thread state and frame chain user space asked for),
 * whole and in order, their bytes one after the other at @bytes; then the
 * frame objects the program walked, @frames entries @frame_stride bytes
 * apart at @walk, each the frame's address (8 bytes) then its first
 * @frame_len bytes. */
struct bpf_record_py {
	size_t n;
	struct iovec remote[BPF_RECORD_PY_REGIONS];   /* addresses in the target */
	const uint8_t *bytes;     /* in the record */
	size_t len;               /* the sum of remote[i].iov_len */
	size_t frames, frame_len, frame_stride;
	const uint8_t *walk;      /* in the record; NULL when frames is 0 */
};

/*
 * Check the record @rec of @len bytes and fill @snap from it: pid, tid,
 * time, the registers, and the stack copy, which points into @rec (valid as
 * long as @rec is). Fields a record does not carry (comm, state, weight,
 * kernel frames, Python frames) are left as the caller set them. When @py
 * is not NULL it receives the record's copies of Python memory (n = 0:
 * none), also pointing into @rec.
 * Returns 0, or -EINVAL for a record too short, of another layout, whose
 * stack length goes past its end or past BPF_RECORD_STACK_MAX, or whose
 * Python regions do not add up to their bytes or go past the record; @snap
 * and @py are then untouched.
 */
int bpf_record_parse(const void *rec, size_t len, struct snapshot *snap,
		     struct bpf_record_py *py);

#endif
