/*
 * test_target.c - target_read_window over this test's own memory (reading
 * one's own process needs no ptrace permission): the bytes asked for and
 * the pages below them in one read, an unmapped page that ends the copy
 * without losing what is above it, the page bound, bad arguments; then a
 * <=3.10 frame-object chain laid out as CPython's allocator lays it out
 * (each older frame just below the newer), walked by pychain over windows
 * as the Python reader does: the same frames as one read per frame, in a
 * few reads.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "maps.h"
#include "pychain.h"
#include "pylayout.h"
#include "pystack.h"
#include "target.h"

#include "banned.h"

#define PAGES 24

static size_t page;
static uint8_t *map;     /* PAGES pages; the first is PROT_NONE */

static uint64_t at(size_t pg, size_t off)
{
	return (uint64_t)(uintptr_t)(map + pg * page + off);
}

static void test_window(void)
{
	pid_t self = getpid();
	size_t room = PAGES * page;
	uint8_t *buf = malloc(room);
	uint64_t start = 0, addr, lo;

	CHECK(buf != NULL);
	if (!buf)
		return;
	/* Below the page's start, the whole pages down to lo; page 0 is
	 * unreadable, so from page 1. */
	addr = at(3, 100);
	lo = at(0, 0);
	memset(buf, 0, room);
	CHECK_EQ_U64(target_read_window(self, addr, 16, lo, page, buf, &start), 0);
	CHECK_EQ_U64(start, at(1, 0));
	CHECK(memcmp(buf + (start - lo), map + page, addr + 16 - start) == 0);

	/* lo inside a page: from lo exactly. */
	lo = at(2, 50);
	memset(buf, 0, room);
	CHECK_EQ_U64(target_read_window(self, addr, 16, lo, page, buf, &start), 0);
	CHECK_EQ_U64(start, lo);
	CHECK(memcmp(buf, map + 2 * page + 50, addr + 16 - lo) == 0);

	/* lo at addr: the bytes asked for alone. */
	CHECK_EQ_U64(target_read_window(self, addr, 16, addr, page, buf, &start), 0);
	CHECK_EQ_U64(start, addr);
	CHECK(memcmp(buf, map + 3 * page + 100, 16) == 0);

	/* Never more than TARGET_WINDOW_PAGES whole pages below addr's. */
	addr = at(PAGES - 1, 8);
	lo = at(1, 0);
	CHECK_EQ_U64(target_read_window(self, addr, 8, lo, page, buf, &start), 0);
	CHECK_EQ_U64(start, at(PAGES - 1 - TARGET_WINDOW_PAGES, 0));
	CHECK(memcmp(buf + (start - lo), map + (PAGES - 1 - TARGET_WINDOW_PAGES) * page,
		     addr + 8 - start) == 0);

	/* The bytes asked for unreadable: an error, whatever is below. */
	CHECK_EQ_U64(target_read_window(self, at(0, 64), 8, at(0, 0), page, buf, &start),
		     (uint64_t)-EFAULT);
	/* Across into the unreadable page from above it is fine... */
	CHECK_EQ_U64(target_read_window(self, at(1, 0), 8, at(0, 0), page, buf, &start), 0);
	CHECK_EQ_U64(start, at(1, 0));
	/* ...and lo above addr, or a page size that is no power of two, is not. */
	CHECK_EQ_U64(target_read_window(self, at(2, 0), 8, at(2, 8), page, buf, &start),
		     (uint64_t)-EINVAL);
	CHECK_EQ_U64(target_read_window(self, at(2, 0), 8, at(1, 0), 3000, buf, &start),
		     (uint64_t)-EINVAL);
	free(buf);
}

/* A source like the Python reader's for frame objects: copies made by
 * target_read_window, looked up before a new read. */
#define WINDOWS_MAX 16

struct windows {
	uint8_t *buf[WINDOWS_MAX];
	uint64_t start[WINDOWS_MAX], end[WINDOWS_MAX], lo[WINDOWS_MAX];
	size_t n;
	unsigned reads;
	size_t pages;      /* below the frame's page; 0: one read per frame */
	uint8_t one[256];
};

static const uint8_t *windows_read(void *ctx, uint64_t addr, size_t len)
{
	struct windows *w = ctx;
	uint64_t lo, start;

	for (size_t i = 0; i < w->n; i++)
		if (addr >= w->start[i] && addr + len <= w->end[i])
			return w->buf[i] + (addr - w->lo[i]);
	w->reads++;
	if (!w->pages || w->n == WINDOWS_MAX) {
		if (len > sizeof(w->one) || target_read(getpid(), addr, w->one, len))
			return NULL;
		return w->one;
	}
	lo = (addr & ~(uint64_t)(page - 1)) - w->pages * page;
	w->buf[w->n] = malloc((size_t)(addr - lo) + len);
	if (!w->buf[w->n] ||
	    target_read_window(getpid(), addr, len, lo, page, w->buf[w->n], &start)) {
		free(w->buf[w->n]);
		return NULL;
	}
	w->lo[w->n] = lo;
	w->start[w->n] = start;
	w->end[w->n] = addr + len;
	return w->buf[w->n++] + (addr - lo);
}

static void windows_free(struct windows *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->buf[i]);
}

static void put64(uint64_t addr, uint32_t off, uint64_t v)
{
	memcpy((uint8_t *)(uintptr_t)addr + off, &v, 8);
}

static void put32(uint64_t addr, uint32_t off, uint32_t v)
{
	memcpy((uint8_t *)(uintptr_t)addr + off, &v, 4);
}

static void test_chain(void)
{
	const struct pylayout *l = pylayout_for_version(0x030912f0);
	struct pychain_seen *seen = pychain_seen_new();
	struct pystack *one = calloc(1, sizeof(*one)), *win = calloc(1, sizeof(*win));
	struct windows w1 = { .pages = 0 }, w3 = { .pages = 3 };
	/* 3.9's frame object of a small function is 432 bytes; the chain
	 * starts near the top of the mapping and runs downwards into page 1. */
	const size_t stride = 432, nframes = 40;
	uint64_t leaf = at(PAGES - 2, 0), code = UINT64_C(0x7f0000001000);
	struct pychain_source s1 = { windows_read, &w1 }, s3 = { windows_read, &w3 };

	CHECK(l != NULL && seen && one && win);
	if (!l || !seen || !one || !win)
		goto out;
	CHECK(l->frame_model == PYLAYOUT_FRAME_OBJECTS);
	CHECK((nframes - 1) * stride < leaf - at(1, 0));
	for (size_t i = 0; i < nframes; i++) {
		uint64_t f = leaf - i * stride;

		put64(f, l->frame.back, i + 1 < nframes ? f - stride : 0);
		put64(f, l->frame.code, code + 64 * (i % 5));
		put32(f, l->frame.instr, (uint32_t)(2 * i));
	}
	CHECK_EQ_U64(pychain_walk(l, &s1, leaf, 0, seen, one), PYSTACK_OK);
	CHECK_EQ_U64(pychain_walk(l, &s3, leaf, 0, seen, win), PYSTACK_OK);
	CHECK_EQ_U64(one->n, nframes);
	CHECK_EQ_U64(win->n, nframes);
	CHECK(memcmp(one->frames, win->frames, nframes * sizeof(one->frames[0])) == 0);
	CHECK_EQ_U64(w1.reads, nframes);
	/* 40 frames of 432 bytes span 5 pages: 2 windows of 4 pages. */
	CHECK(w3.reads <= 2);
	/* The chain's last frame points into the unreadable page: torn, with
	 * every frame above it, whether read alone or in windows. */
	put64(leaf - (nframes - 1) * stride, l->frame.back, at(0, 128));
	windows_free(&w3);
	w3 = (struct windows){ .pages = 3 };
	CHECK_EQ_U64(pychain_walk(l, &s1, leaf, 0, seen, one), PYSTACK_TORN);
	CHECK_EQ_U64(pychain_walk(l, &s3, leaf, 0, seen, win), PYSTACK_TORN);
	CHECK_EQ_U64(one->n, nframes);
	CHECK_EQ_U64(win->n, nframes);
out:
	windows_free(&w3);
	free(one);
	free(win);
	pychain_seen_free(seen);
}

/*
 * What target_check tells from /proc before an attach: hotspy itself, a
 * kernel thread (kthreadd, process 2, outside a PID namespace), a zombie
 * (a child that exited and is not waited for yet).
 */
static void test_check(void)
{
	char why[320] = "";
	pid_t kid;

	CHECK_EQ_U64(target_check(getpid(), why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "hotspy itself") != NULL);
	CHECK_EQ_U64(target_live_thread(getpid()), getpid());
	CHECK_EQ_U64(target_check(getppid(), why, sizeof(why)), 0);
	why[0] = '\0';
	if (target_check(2, why, sizeof(why)) != 0)
		CHECK(strstr(why, "kernel thread") != NULL);

	kid = fork();
	if (kid == 0)
		_exit(0);
	CHECK(kid > 0);
	if (kid <= 0)
		return;
	/* Until it is a zombie (it may take a moment to exit). */
	for (int i = 0; i < 500 && target_live_thread(kid) > 0; i++)
		usleep(2000);
	CHECK_EQ_U64(target_live_thread(kid), -ESRCH);
	CHECK_EQ_U64(target_check(kid, why, sizeof(why)), -ESRCH);
	CHECK(strstr(why, "zombie") != NULL);
	CHECK(strstr(why, "kernel thread") == NULL);
	waitpid(kid, NULL, 0);
}

/* The main thread ends with pthread_exit; its helper thread reports what it
 * sees of the process, then exits it. Run in a child process. */
static pid_t leader;
static int leader_result;

static void *after_leader(void *arg)
{
	struct maps *maps = NULL;
	pid_t live;

	(void)arg;
	/* Until the main thread has exited (a zombie: no live thread but us). */
	for (int i = 0; i < 500 && (live = target_live_thread(leader)) == leader; i++)
		usleep(2000);
	leader_result = live != (pid_t)syscall(SYS_gettid) ? 3 :
			maps_read_thread(leader, live, &maps) != 0 ? 5 :
			maps_count(maps) == 0 ? 6 : 0;
	maps_free(maps);
	exit(leader_result);
}

static void test_leader_exited(void)
{
	pid_t kid = fork();
	int status = -1;

	if (kid == 0) {
		pthread_t t;

		leader = getpid();
		if (pthread_create(&t, NULL, after_leader, NULL) != 0)
			_exit(2);
		pthread_exit(NULL);
	}
	CHECK(kid > 0);
	if (kid <= 0)
		return;
	CHECK_EQ_U64(waitpid(kid, &status, 0), kid);
	/* Its live thread is found, and the maps through it. (target_check,
	 * which would call it hotspy itself from in here, is checked by
	 * profile_leaderexit_attach_*.) */
	CHECK(WIFEXITED(status));
	CHECK_EQ_U64(WEXITSTATUS(status), 0);
}

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);

	page = pg > 0 ? (size_t)pg : 4096;
	map = mmap(NULL, PAGES * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	CHECK(map != MAP_FAILED);
	if (map == MAP_FAILED)
		return check_status();
	for (size_t i = 0; i < PAGES * page; i++)
		map[i] = (uint8_t)(i * 7 + i / page);
	CHECK(mprotect(map, page, PROT_NONE) == 0);
	test_window();
	test_chain();
	test_check();
	test_leader_exited();
	munmap(map, PAGES * page);
	return check_status();
}
