/*
 * bpf_capture.h - the BPF side of the BPF sampler: the program of
 * bpf/sampler.bpf.c, loaded with libbpf, attached to perf events, and the
 * ring buffer its records come through, read in place.
 *
 * Built only when the build found clang, bpftool and libbpf (HOTSPY_BPF);
 * otherwise the functions below are stubs that say so (-ENOTSUP), and
 * callers need no #ifdef.
 */
#ifndef HOTSPY_BPF_CAPTURE_H
#define HOTSPY_BPF_CAPTURE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct bpf_capture;

/* Called for each record collected; non-zero stops the collection before
 * @rec (which stays in the ring for the next one). */
typedef int (*bpf_capture_fn)(const uint8_t *rec, size_t len, void *ctx);

#ifdef HOTSPY_HAVE_BPF

/* Was hotspy built with the BPF sampler? */
static inline bool bpf_capture_built(void)
{
	return true;
}

/*
 * Load the program, copying at most @stack_size bytes of stack per sample
 * (at most BPF_RECORD_STACK_MAX), with a ring buffer of about @ring_bytes
 * (rounded to a power of two). 0 with the capture in *@out, or -errno
 * (-EPERM: the kernel refused BPF) having logged libbpf's words at debug
 * level only: the caller says what to do.
 */
int bpf_capture_open(struct bpf_capture **out, size_t stack_size, size_t ring_bytes);

/* Make the program the sample handler of perf event @perf_fd (its
 * inherited copies take it too). 0 or -errno. */
int bpf_capture_attach(struct bpf_capture *c, int perf_fd);

/*
 * Hand each record waiting in the ring to @fn, in ring order, up to the
 * first still being written or @fn's stop. The records stay in place,
 * valid, until bpf_capture_release. Returns how many were handed.
 */
size_t bpf_capture_collect(struct bpf_capture *c, bpf_capture_fn fn, void *ctx);

/* Give the records collected so far back to the ring. */
void bpf_capture_release(struct bpf_capture *c);

/* Samples the program dropped because the ring was full. */
uint64_t bpf_capture_lost(const struct bpf_capture *c);

/*
 * Have the program copy, at each sample of thread @tid (a kernel tid), the
 * regions @remote[0 .. n) of its process (each iov_base an address in the
 * target), whole and in order after the stack: those before the first
 * longer than the record's room for them, at most BPF_RECORD_PY_REGIONS;
 * then, with @walk, a walk of the frame chain (bpf/record.h, struct
 * hsbpf_pyregions). n = 0 and no walk forget @tid. 0 or -errno.
 */
struct bpf_capture_walk {
	uint64_t frame_at;        /* where the pointer to the innermost frame is */
	uint32_t deref_off;       /* BPF_CAPTURE_NO_DEREF, or: the pointer at
	                           * frame_at points to a structure holding
	                           * it at this offset */
	uint32_t frame_len;       /* bytes of each frame (at most 512) */
	uint32_t back_off;        /* the older frame's pointer in them */
};
#define BPF_CAPTURE_NO_DEREF UINT32_MAX
int bpf_capture_set_regions(struct bpf_capture *c, uint32_t tid, const struct iovec *remote,
			    size_t n, const struct bpf_capture_walk *walk);

/* Unload. Accepts NULL. Events still holding the program keep it until
 * they are closed. */
void bpf_capture_free(struct bpf_capture *c);

#else

static inline bool bpf_capture_built(void)
{
	return false;
}

static inline int bpf_capture_open(struct bpf_capture **out, size_t stack_size,
				   size_t ring_bytes)
{
	(void)stack_size;
	(void)ring_bytes;
	*out = NULL;
	return -ENOTSUP;
}

static inline int bpf_capture_attach(struct bpf_capture *c, int perf_fd)
{
	(void)c;
	(void)perf_fd;
	return -ENOTSUP;
}

static inline size_t bpf_capture_collect(struct bpf_capture *c, bpf_capture_fn fn, void *ctx)
{
	(void)c;
	(void)fn;
	(void)ctx;
	return 0;
}

static inline void bpf_capture_release(struct bpf_capture *c)
{
	(void)c;
}

static inline uint64_t bpf_capture_lost(const struct bpf_capture *c)
{
	(void)c;
	return 0;
}

static inline int bpf_capture_set_regions(struct bpf_capture *c, uint32_t tid,
					  const struct iovec *remote, size_t n,
					  const struct bpf_capture_walk *walk)
{
	(void)c;
	(void)tid;
	(void)remote;
	(void)n;
	(void)walk;
	return -ENOTSUP;
}

static inline void bpf_capture_free(struct bpf_capture *c)
{
	(void)c;
}

#endif

#endif
