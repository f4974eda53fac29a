/*
 * bpf_record.h - one record of the BPF sampler's ring buffer (the layout of
 * bpf/record.h) turned into the snapshot every sampler produces. The record
 * is untrusted input (a ring shared with the kernel, and a fuzz target):
 * every length is checked before it is used.
 */
#ifndef HOTSPY_BPF_RECORD_H_USER
#define HOTSPY_BPF_RECORD_H_USER

#include <stddef.h>

#include "snapshot.h"

/* Largest stack copy of a record (HSBPF_STACK_MAX): 64 KiB. */
#define BPF_RECORD_STACK_MAX 65536u

/*
 * Check the record @rec of @len bytes and fill @snap from it: pid, tid,
 * time, the registers, and the stack copy, which points into @rec (valid as
 * long as @rec is). Fields a record does not carry (comm, state, weight,
 * kernel frames, Python frames) are left as the caller set them.
 * Returns 0, or -EINVAL for a record too short, of another layout, or whose
 * stack length goes past its end or past BPF_RECORD_STACK_MAX; @snap is then
 * untouched.
 */
int bpf_record_parse(const void *rec, size_t len, struct snapshot *snap);

#endif
