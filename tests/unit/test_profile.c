/*
 * test_profile.c - interning stacks, counting them per thread, naming
 * threads and processes, and visiting the counts in first-seen order.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "profile.h"

#include "banned.h"

#define MANY_STACKS 100000

struct seen {
	uint32_t thread[8];
	uint32_t stack[8];
	uint64_t count[8];
	size_t n;
	size_t stop_at;         /* return 1 after this many visits; 0 never */
};

static int record(uint32_t thread, uint32_t stack, uint64_t count, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < 8) {
		s->thread[s->n] = thread;
		s->stack[s->n] = stack;
		s->count[s->n] = count;
	}
	s->n++;
	return s->stop_at && s->n == s->stop_at ? 42 : 0;
}

static int same_stack(const struct profile *p, uint32_t id, const uint64_t *addrs,
		      size_t n)
{
	size_t len;
	const uint64_t *got = profile_stack(p, id, &len);

	return got && len == n && (n == 0 || memcmp(got, addrs, n * sizeof(*addrs)) == 0);
}

static void test_empty(void)
{
	struct profile *p = profile_new();
	struct seen s = { 0 };
	size_t n = 99;

	CHECK(p != NULL);
	CHECK_EQ_U64(profile_total(p), 0);
	CHECK_EQ_U64(profile_truncated(p), 0);
	CHECK_EQ_U64(profile_stack_count(p), 0);
	CHECK_EQ_U64(profile_thread_count(p), 0);
	CHECK(profile_stack(p, 0, &n) == NULL);
	CHECK_EQ_U64(n, 0);
	CHECK(profile_thread_at(p, 0) == NULL);
	CHECK_EQ_U64(profile_for_each(p, record, &s), 0);
	CHECK_EQ_U64(s.n, 0);
	CHECK(profile_process_name(p, 1) == NULL);
	profile_free(p);
	profile_free(NULL);
}

static void test_threads(void)
{
	struct profile *p = profile_new();
	uint32_t main_t, worker, other, again;
	char longname[1000];

	CHECK_EQ_U64(profile_thread(p, 100, 100, "main", &main_t), 0);
	CHECK_EQ_U64(profile_thread(p, 100, 101, "worker", &worker), 0);
	CHECK_EQ_U64(profile_thread(p, 200, 100, NULL, &other), 0);
	CHECK(main_t != worker && worker != other && main_t != other);
	CHECK_EQ_U64(profile_thread_count(p), 3);

	CHECK_EQ_U64(profile_thread(p, 100, 100, NULL, &again), 0);
	CHECK_EQ_U64(again, main_t);
	CHECK_STR(profile_thread_at(p, main_t)->name, "main");
	CHECK_EQ_U64(profile_thread_at(p, main_t)->pid, 100);
	CHECK_EQ_U64(profile_thread_at(p, main_t)->tid, 100);
	CHECK_STR(profile_thread_at(p, other)->name, "");
	CHECK_EQ_U64(profile_thread_at(p, other)->pid, 200);

	/* A thread renames itself (prctl PR_SET_NAME): the last name wins. */
	CHECK_EQ_U64(profile_thread(p, 100, 101, "worker-2", &again), 0);
	CHECK_EQ_U64(again, worker);
	CHECK_STR(profile_thread_at(p, worker)->name, "worker-2");
	CHECK_EQ_U64(profile_thread_count(p), 3);

	/* Names from the target are bounded. */
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK_EQ_U64(profile_thread(p, 100, 102, longname, &again), 0);
	CHECK(strlen(profile_thread_at(p, again)->name) < 300);
	CHECK(strlen(profile_thread_at(p, again)->name) >= 15);
	CHECK_EQ_U64(memcmp(profile_thread_at(p, again)->name, longname,
			    strlen(profile_thread_at(p, again)->name)), 0);

	/* Enough threads to grow the index; earlier ones keep their index. */
	for (pid_t tid = 1000; tid < 3000; tid++)
		CHECK_EQ_U64(profile_thread(p, 100, tid, "pool", &again), 0);
	CHECK_EQ_U64(profile_thread_count(p), 4 + 2000);
	CHECK_EQ_U64(profile_thread(p, 100, 101, NULL, &again), 0);
	CHECK_EQ_U64(again, worker);
	CHECK_EQ_U64(profile_thread(p, 100, 2999, NULL, &again), 0);
	CHECK_EQ_U64(profile_thread_at(p, again)->tid, 2999);

	CHECK_EQ_U64(profile_set_process(p, 100, "server"), 0);
	CHECK_EQ_U64(profile_set_process(p, 200, "client"), 0);
	CHECK_STR(profile_process_name(p, 100), "server");
	CHECK_STR(profile_process_name(p, 200), "client");
	CHECK_EQ_U64(profile_set_process(p, 100, "server2"), 0);
	CHECK_STR(profile_process_name(p, 100), "server2");
	CHECK(profile_process_name(p, 300) == NULL);
	CHECK_EQ_U64(profile_set_process(p, 300, longname), 0);
	CHECK(strlen(profile_process_name(p, 300)) < 300);
	profile_free(p);
}

/* A process that ran two programs (exec): its thread is two profile
 * threads, one per image, each under its program's name. */
static void test_images(void)
{
	struct profile *p = profile_new();
	uint32_t before, after, again;

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_EQ_U64(profile_thread(p, 100, 100, "main", &before), 0);
	CHECK_EQ_U64(profile_image_thread(p, 100, 1, 100, "main", &after), 0);
	CHECK(before != after);
	CHECK_EQ_U64(profile_image_thread(p, 100, 0, 100, NULL, &again), 0);
	CHECK_EQ_U64(again, before);
	CHECK_EQ_U64(profile_image_thread(p, 100, 1, 100, NULL, &again), 0);
	CHECK_EQ_U64(again, after);
	CHECK_EQ_U64(profile_thread_at(p, before)->image, 0);
	CHECK_EQ_U64(profile_thread_at(p, after)->image, 1);
	CHECK_EQ_U64(profile_thread_count(p), 2);

	/* No name for the image yet: the process's first name stands in. */
	CHECK(profile_thread_process(p, profile_thread_at(p, after)) == NULL);
	CHECK_EQ_U64(profile_set_process(p, 100, "execer"), 0);
	CHECK_STR(profile_thread_process(p, profile_thread_at(p, after)), "execer");
	CHECK_EQ_U64(profile_set_image_process(p, 100, 1, "execed"), 0);
	CHECK_STR(profile_thread_process(p, profile_thread_at(p, before)), "execer");
	CHECK_STR(profile_thread_process(p, profile_thread_at(p, after)), "execed");
	CHECK_STR(profile_process_name(p, 100), "execer");
	profile_free(p);
}

static void test_interning(void)
{
	static const uint64_t a[] = { 0x401000, 0x402000, 0x403000 };
	static const uint64_t b[] = { 0x401000, 0x402000, 0x403001 };
	struct profile *p = profile_new();
	struct seen s = { 0 };
	uint32_t t;

	CHECK_EQ_U64(profile_thread(p, 1, 1, "main", &t), 0);
	CHECK_EQ_U64(profile_add_sample(p, t, a, 3, 1), 0);
	CHECK_EQ_U64(profile_add_sample(p, t, b, 3, 1), 0);
	CHECK_EQ_U64(profile_add_sample(p, t, a, 3, 1), 0);
	CHECK_EQ_U64(profile_stack_count(p), 2);
	CHECK_EQ_U64(profile_add_sample(p, t, a, 2, 1), 0);     /* a prefix */
	CHECK_EQ_U64(profile_add_sample(p, t, a + 1, 2, 1), 0); /* a suffix */
	CHECK_EQ_U64(profile_add_sample(p, t, NULL, 0, 1), 0);  /* empty */
	CHECK_EQ_U64(profile_add_sample(p, t, NULL, 0, 1), 0);
	CHECK_EQ_U64(profile_stack_count(p), 5);
	CHECK_EQ_U64(profile_total(p), 7);

	CHECK_EQ_U64(profile_for_each(p, record, &s), 0);
	CHECK_EQ_U64(s.n, 5);
	CHECK(same_stack(p, s.stack[0], a, 3));
	CHECK_EQ_U64(s.count[0], 2);
	CHECK(same_stack(p, s.stack[1], b, 3));
	CHECK_EQ_U64(s.count[1], 1);
	CHECK(same_stack(p, s.stack[2], a, 2));
	CHECK(same_stack(p, s.stack[3], a + 1, 2));
	CHECK(same_stack(p, s.stack[4], NULL, 0));
	CHECK_EQ_U64(s.count[4], 2);
	for (size_t i = 0; i < 5; i++)
		for (size_t j = 0; j < i; j++)
			CHECK(s.stack[i] != s.stack[j]);

	CHECK_EQ_U64(profile_add_sample(p, t + 1, a, 3, 1), -EINVAL);
	CHECK_EQ_U64(profile_total(p), 7);
	profile_free(p);
}

/* Stack number @i of the "many" test: 1 to 8 addresses, all distinct. */
static size_t many_stack(uint32_t i, uint64_t *addrs)
{
	size_t n = 1 + i % 8;

	for (size_t k = 0; k < n; k++)
		addrs[k] = 0x400000 + (uint64_t)i * 16 + k * 0x100000000;
	return n;
}

struct many_ctx {
	const struct profile *p;
	uint32_t next;
	size_t bad;
};

static int check_many(uint32_t thread, uint32_t stack, uint64_t count, void *ctx)
{
	struct many_ctx *m = ctx;
	uint64_t addrs[8];
	size_t n = many_stack(m->next++, addrs);

	(void)thread;
	if (count != 2 || !same_stack(m->p, stack, addrs, n))
		m->bad++;
	return 0;
}

static void test_many(void)
{
	struct profile *p = profile_new();
	struct many_ctx m = { .p = p };
	uint64_t addrs[8];
	uint32_t t;

	CHECK_EQ_U64(profile_thread(p, 1, 1, "main", &t), 0);
	for (int round = 0; round < 2; round++) {
		for (uint32_t i = 0; i < MANY_STACKS; i++) {
			size_t n = many_stack(i, addrs);

			if (profile_add_sample(p, t, addrs, n, 1) != 0) {
				CHECK(!"profile_add_sample failed");
				break;
			}
		}
		CHECK_EQ_U64(profile_stack_count(p), MANY_STACKS);
	}
	CHECK_EQ_U64(profile_total(p), 2 * MANY_STACKS);
	CHECK_EQ_U64(profile_for_each(p, check_many, &m), 0);
	CHECK_EQ_U64(m.next, MANY_STACKS);
	CHECK_EQ_U64(m.bad, 0);
	profile_free(p);
}

static void test_counts(void)
{
	static const uint64_t a[] = { 0x1000, 0x2000 };
	static const uint64_t b[] = { 0x1100, 0x2000 };
	struct profile *p = profile_new();
	struct seen s = { 0 };
	uint32_t t0, t1;

	CHECK_EQ_U64(profile_thread(p, 10, 10, "main", &t0), 0);
	CHECK_EQ_U64(profile_thread(p, 10, 11, "worker", &t1), 0);
	CHECK_EQ_U64(profile_add_sample(p, t1, a, 2, 1), 0);
	CHECK_EQ_U64(profile_add_sample(p, t0, a, 2, 5), 0);
	CHECK_EQ_U64(profile_add_sample(p, t1, a, 2, 1), 0);
	CHECK_EQ_U64(profile_add_sample(p, t0, b, 2, 2), 0);
	CHECK_EQ_U64(profile_add_sample(p, t1, b, 2, 0), 0);   /* weight 0: not visited */
	CHECK_EQ_U64(profile_add_sample(p, t1, a, 2, 1), 0);
	CHECK_EQ_U64(profile_stack_count(p), 2);
	CHECK_EQ_U64(profile_total(p), 10);
	CHECK_EQ_U64(profile_truncated(p), 0);

	CHECK_EQ_U64(profile_for_each(p, record, &s), 0);
	CHECK_EQ_U64(s.n, 3);
	CHECK_EQ_U64(s.thread[0], t1);
	CHECK_EQ_U64(s.count[0], 3);
	CHECK_EQ_U64(s.thread[1], t0);
	CHECK_EQ_U64(s.stack[1], s.stack[0]);
	CHECK_EQ_U64(s.count[1], 5);
	CHECK_EQ_U64(s.thread[2], t0);
	CHECK(s.stack[2] != s.stack[0]);
	CHECK_EQ_U64(s.count[2], 2);

	/* Early stop: the visitor's value comes back, nothing more is visited. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	CHECK_EQ_U64(profile_for_each(p, record, &s), 42);
	CHECK_EQ_U64(s.n, 2);
	profile_free(p);
}

static void test_truncated(void)
{
	const uint64_t cut[] = { 0x1000, 0x2000, PROFILE_ADDR_TRUNCATED };
	const uint64_t lost[] = { 0x1000, PROFILE_ADDR_UNKNOWN };
	const uint64_t inside[] = { PROFILE_ADDR_UNKNOWN, 0x2000 };
	const uint64_t whole[] = { 0x1000, 0x2000 };
	struct profile *p = profile_new();
	uint32_t t;

	CHECK_EQ_U64(profile_thread(p, 1, 1, NULL, &t), 0);
	CHECK_EQ_U64(profile_add_sample(p, t, cut, 3, 2), 0);
	CHECK_EQ_U64(profile_add_sample(p, t, lost, 2, 3), 0);
	CHECK_EQ_U64(profile_add_sample(p, t, inside, 2, 7), 0);
	CHECK_EQ_U64(profile_add_sample(p, t, whole, 2, 11), 0);
	CHECK_EQ_U64(profile_add_sample(p, t, cut, 3, 1), 0);
	CHECK_EQ_U64(profile_truncated(p), 6);
	CHECK_EQ_U64(profile_total(p), 24);
	profile_free(p);
}

/* Merged threads: one count per (process image, stack), every thread
 * tallied, and a threads-apart profile of the same samples sums the same
 * per stack. */
static void test_merged(void)
{
	static const uint64_t a[] = { 0x1000, 0x2000 };
	static const uint64_t b[] = { 0x1100, 0x2000 };
	struct profile *m = profile_new(), *apart = profile_new();
	struct seen s = { 0 };
	uint32_t t, u;

	profile_merge_threads(m);
	/* Threads come and go: 300 of process 10, each samples a and b. */
	for (pid_t tid = 10; tid < 310; tid++) {
		CHECK_EQ_U64(profile_thread(m, 10, tid, tid == 10 ? "main" : "worker", &t), 0);
		CHECK_EQ_U64(profile_thread(apart, 10, tid, "worker", &u), 0);
		CHECK_EQ_U64(profile_add_sample(m, t, a, 2, 1), 0);
		CHECK_EQ_U64(profile_add_sample(m, t, b, 2, 2), 0);
		CHECK_EQ_U64(profile_add_sample(apart, u, a, 2, 1), 0);
		CHECK_EQ_U64(profile_add_sample(apart, u, b, 2, 2), 0);
	}
	/* The same thread again, and a second process, whose threads stay
	 * apart from the first's. */
	CHECK_EQ_U64(profile_thread(m, 10, 42, "renamed", &t), 0);
	CHECK_EQ_U64(profile_add_sample(m, t, a, 2, 4), 0);
	CHECK_EQ_U64(profile_thread(m, 20, 21, "other", &u), 0);
	CHECK(u != t);
	CHECK_EQ_U64(profile_add_sample(m, u, a, 2, 1), 0);
	/* After an exec: another profile thread, the same thread tallied once. */
	CHECK_EQ_U64(profile_image_thread(m, 20, 1, 21, "execd", &u), 0);
	CHECK_EQ_U64(profile_add_sample(m, u, b, 2, 1), 0);

	CHECK_EQ_U64(profile_thread_count(m), 3);
	CHECK_EQ_U64(profile_threads_seen(m), 301);
	CHECK_EQ_U64(profile_thread_count(apart), 300);
	CHECK_EQ_U64(profile_threads_seen(apart), 300);
	/* The process's first thread names it; later names do not rename. */
	CHECK_STR(profile_thread_at(m, t)->name, "main");
	CHECK_EQ_U64(profile_thread_at(m, t)->tid, 10);
	CHECK_STR(profile_thread_at(m, u)->name, "execd");
	CHECK_EQ_U64(profile_total(m), 300 * 3 + 4 + 1 + 1);

	CHECK_EQ_U64(profile_for_each(m, record, &s), 0);
	CHECK_EQ_U64(s.n, 4);
	CHECK_EQ_U64(s.thread[0], t);
	CHECK_EQ_U64(s.count[0], 300 + 4);
	CHECK_EQ_U64(s.thread[1], t);
	CHECK_EQ_U64(s.count[1], 600);
	CHECK_EQ_U64(s.count[2], 1);
	CHECK_EQ_U64(s.count[3], 1);
	profile_free(m);
	profile_free(apart);
}

int main(void)
{
	test_empty();
	test_threads();
	test_images();
	test_interning();
	test_many();
	test_counts();
	test_merged();
	test_truncated();
	return check_status();
}
