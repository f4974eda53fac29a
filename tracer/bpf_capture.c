/*
 * The BPF program's loader and its ring buffer's reader (bpf_capture.h).
 *
 * The ring is read in place rather than through libbpf's ring_buffer
 * callbacks, which give each record back as soon as its callback returns:
 * the sampler sorts a pass's records with the perf events' records by time
 * (an exec must fall between the samples of the program before and after
 * it), so they must stay put until the whole pass is handled. The layout is
 * the kernel's (kernel/bpf/ringbuf.c, include/uapi/linux/bpf.h): a page
 * holding the consumer position (ours to write), then a read-only page
 * holding the producer position followed by the data mapped twice in a
 * row, so that a record that wraps reads as one piece. Each record is an
 * 8-byte header (length, with the BUSY and DISCARD bits) and its data, 8-byte
 * aligned.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_capture.h"
#include "bpf/record.h"
#include "bpf_record.h"
#include "log.h"
#include "hotspy_bpf.skel.h"
#include "banned.h"

#define RING_MIN (1u << 20)
#define RING_MAX (256u << 20)

struct bpf_capture {
	struct hotspy_bpf *skel;
	int ring_fd;
	size_t ring_size;          /* data bytes, a power of two */
	size_t page;
	uint64_t *consumer;        /* the consumer position's page */
	uint64_t *producer;        /* the producer position's page, then data */
	const uint8_t *data;
	uint64_t pos;              /* consumer position once collected ones go */
};

/* libbpf's messages (the verifier's log among them) are for -vv only:
 * the refusal itself is explained by the sampler. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];

	(void)level;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	if (line[0])
		log_debug("libbpf: %s", line);
	return 0;
}

static size_t pow2_at_least(size_t n)
{
	size_t p = RING_MIN;

	while (p < n && p < RING_MAX)
		p <<= 1;
	return p;
}

int bpf_capture_open(struct bpf_capture **out, size_t stack_size, size_t ring_bytes)
{
	struct bpf_capture *c;
	int err;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ring_fd = -1;
	c->page = (size_t)sysconf(_SC_PAGESIZE);
	c->ring_size = pow2_at_least(ring_bytes);
	libbpf_set_print(libbpf_log);
	c->skel = hotspy_bpf__open();
	if (!c->skel) {
		err = -errno;
		goto fail;
	}
	c->skel->rodata->stack_size = (uint32_t)(stack_size < BPF_RECORD_STACK_MAX ?
						 stack_size : BPF_RECORD_STACK_MAX);
	err = bpf_map__set_max_entries(c->skel->maps.records, (uint32_t)c->ring_size);
	if (err == 0)
		err = hotspy_bpf__load(c->skel);
	if (err)
		goto fail;
	c->ring_fd = bpf_map__fd(c->skel->maps.records);
	c->consumer = mmap(NULL, c->page, PROT_READ | PROT_WRITE, MAP_SHARED, c->ring_fd, 0);
	if (c->consumer == MAP_FAILED) {
		c->consumer = NULL;
		err = -errno;
		goto fail;
	}
	c->producer = mmap(NULL, c->page + 2 * c->ring_size, PROT_READ, MAP_SHARED,
			   c->ring_fd, (off_t)c->page);
	if (c->producer == MAP_FAILED) {
		c->producer = NULL;
		err = -errno;
		goto fail;
	}
	c->data = (const uint8_t *)c->producer + c->page;
	c->pos = __atomic_load_n(c->consumer, __ATOMIC_ACQUIRE);
	*out = c;
	return 0;

fail:
	bpf_capture_free(c);
	return err < 0 ? err : -err;
}

int bpf_capture_attach(struct bpf_capture *c, int perf_fd)
{
	int prog = bpf_program__fd(c->skel->progs.hotspy_sample);

	return ioctl(perf_fd, PERF_EVENT_IOC_SET_BPF, prog) < 0 ? -errno : 0;
}

size_t bpf_capture_collect(struct bpf_capture *c, bpf_capture_fn fn, void *ctx)
{
	uint64_t prod = __atomic_load_n(c->producer, __ATOMIC_ACQUIRE);
	uint64_t cons = c->pos;
	size_t n = 0;

	while (cons < prod) {
		const uint8_t *hdr = c->data + (cons & (c->ring_size - 1));
		uint32_t len = __atomic_load_n((const uint32_t *)hdr, __ATOMIC_ACQUIRE);
		uint32_t size = len & ~(uint32_t)(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		uint64_t step = ((uint64_t)size + BPF_RINGBUF_HDR_SZ + 7) & ~(uint64_t)7;

		if (len & BPF_RINGBUF_BUSY_BIT)
			break;   /* still being written: the next pass takes it */
		/* The kernel's, but checked: a record past the data would
		 * read past the mapping. */
		if (step > c->ring_size || step > prod - cons)
			break;
		if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
			if (fn(hdr + BPF_RINGBUF_HDR_SZ, size, ctx))
				break;
			n++;
		}
		cons += step;
	}
	c->pos = cons;
	return n;
}

void bpf_capture_release(struct bpf_capture *c)
{
	__atomic_store_n(c->consumer, c->pos, __ATOMIC_RELEASE);
}

uint64_t bpf_capture_lost(const struct bpf_capture *c)
{
	return __atomic_load_n(&c->skel->bss->lost, __ATOMIC_RELAXED);
}

int bpf_capture_set_regions(struct bpf_capture *c, uint32_t tid, const struct iovec *remote,
			    size_t n, const struct bpf_capture_walk *walk)
{
	struct hsbpf_pyregions v;
	int fd = bpf_map__fd(c->skel->maps.pyregions);

	_Static_assert(BPF_CAPTURE_NO_DEREF == HSBPF_NO_DEREF, "one mark of no dereference");
	if (walk && (walk->frame_len > HSBPF_FRAME_MAX || walk->frame_len < 8 ||
		     walk->back_off > walk->frame_len - 8))
		return -EINVAL;
	if (n == 0 && !walk)
		return bpf_map_delete_elem(fd, &tid) < 0 && errno != ENOENT ? -errno : 0;
	memset(&v, 0, sizeof(v));
	v.deref_off = HSBPF_NO_DEREF;
	if (walk) {
		v.frame_at = walk->frame_at;
		v.deref_off = walk->deref_off;
		v.frame_len = walk->frame_len;
		v.back_off = walk->back_off;
	}
	/* The program copies regions in order up to the first that does not
	 * fit: what cannot is not handed to it. */
	for (size_t i = 0; i < n && i < HSBPF_PY_REGIONS && remote[i].iov_len <= HSBPF_PY_MAX; i++) {
		v.regions[i].addr = (uint64_t)(uintptr_t)remote[i].iov_base;
		v.regions[i].len = (uint32_t)remote[i].iov_len;
		v.n = (uint32_t)i + 1;
	}
	return bpf_map_update_elem(fd, &tid, &v, BPF_ANY) < 0 ? -errno : 0;
}

void bpf_capture_free(struct bpf_capture *c)
{
	if (!c)
		return;
	if (c->producer)
		munmap(c->producer, c->page + 2 * c->ring_size);
	if (c->consumer)
		munmap(c->consumer, c->page);
	hotspy_bpf__destroy(c->skel);
	free(c);
}
