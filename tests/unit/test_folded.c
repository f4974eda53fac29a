/*
 * test_folded.c - the folded writer over a real symbolizer: stacks made of
 * addresses inside this test's own functions come out as their names, root
 * first, aggregated by name and sorted; names from the target are made safe.
 *
 * usage: test_folded [write_error]   (write_error: only the write error to
 * /dev/full, a skip without it)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "elf_cache.h"
#include "folded.h"
#include "maps.h"
#include "profile.h"
#include "symbols.h"

#include "banned.h"

/*
 * The functions the stacks point into: not static, so .symtab names them,
 * never inlined, and with different bodies so that identical code folding
 * cannot merge them into one symbol.
 */
int test_root(int x);
int test_leaf_a(int x);
int test_leaf_b(int x);

__attribute__((noinline)) int test_leaf_a(int x)
{
	volatile int v = x;

	return v * 3 + 1;
}

__attribute__((noinline)) int test_leaf_b(int x)
{
	volatile int v = x;

	return v * 5 + 7;
}

__attribute__((noinline)) int test_root(int x)
{
	return test_leaf_a(x) + test_leaf_b(x);
}

static uint64_t addr_in(int (*fn)(int), uint64_t offset)
{
	return (uint64_t)(uintptr_t)fn + offset;
}

/* Run folded_write into memory; the caller frees the text. */
static char *fold(const struct profile *p, struct symbolizer *sym, bool threads,
		  int *ret)
{
	struct folded_options opts = { .threads = threads };
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	if (!mem) {
		*ret = -errno;
		return NULL;
	}
	*ret = folded_write(mem, p, sym, &opts);
	fclose(mem);
	return text;
}

struct fixture {
	struct elf_cache *cache;
	struct symbolizer *sym;
	struct profile *p;
	pid_t other;            /* a process with no maps, named with bad bytes */
	pid_t main_tid, worker_tid;
};

static int fixture_init(struct fixture *fx)
{
	const pid_t pid = getpid();
	const uint64_t a1[] = { addr_in(test_leaf_a, 1), addr_in(test_root, 1) };
	/* Other addresses, the same functions: must fold into one line. */
	const uint64_t a2[] = { addr_in(test_leaf_a, 2), addr_in(test_root, 3) };
	const uint64_t cut[] = {
		addr_in(test_leaf_b, 1), addr_in(test_root, 1), PROFILE_ADDR_TRUNCATED
	};
	struct maps *maps = NULL;
	uint32_t t_main, t_worker, t_other;
	int err;

	fx->other = pid + 1;
	fx->main_tid = pid;
	fx->worker_tid = pid + 2;
	fx->cache = elf_cache_new();
	fx->sym = fx->cache ? symbolizer_new(fx->cache) : NULL;
	fx->p = profile_new();
	if (!fx->sym || !fx->p)
		return -ENOMEM;
	err = maps_read(pid, &maps);
	if (err)
		return err;
	symbolizer_set_maps(fx->sym, pid, maps);
	maps_free(maps);

	err = profile_set_process(fx->p, pid, "test_folded");
	err = err ? err : profile_set_process(fx->p, fx->other, "evil;name\nwith\x7f");
	err = err ? err : profile_thread(fx->p, pid, fx->main_tid, "main", &t_main);
	err = err ? err : profile_thread(fx->p, pid, fx->worker_tid, "worker", &t_worker);
	err = err ? err : profile_thread(fx->p, fx->other, 7, "bad;thr\tname", &t_other);
	err = err ? err : profile_add_sample(fx->p, t_main, a1, 2, 3);
	err = err ? err : profile_add_sample(fx->p, t_main, a2, 2, 2);
	err = err ? err : profile_add_sample(fx->p, t_worker, a1, 2, 4);
	err = err ? err : profile_add_sample(fx->p, t_main, cut, 3, 1);
	err = err ? err : profile_add_sample(fx->p, t_other, NULL, 0, 2);
	return err;
}

static void fixture_release(struct fixture *fx)
{
	profile_free(fx->p);
	symbolizer_free(fx->sym);
	elf_cache_free(fx->cache);
}

static void test_plain(const struct fixture *fx)
{
	const char *expect =
		"evil:name?with? 2\n"
		"test_folded;[truncated];test_root;test_leaf_b 1\n"
		"test_folded;test_root;test_leaf_a 9\n";
	int ret;
	char *text = fold(fx->p, fx->sym, false, &ret);

	CHECK_EQ_U64(ret, 0);
	CHECK_STR(text, expect);
	free(text);
}

static void test_threads(const struct fixture *fx)
{
	char expect[512];
	int ret;
	char *text = fold(fx->p, fx->sym, true, &ret);

	snprintf(expect, sizeof(expect),
		 "evil:name?with?;bad:thr?name (7) 2\n"
		 "test_folded;main (%d);[truncated];test_root;test_leaf_b 1\n"
		 "test_folded;main (%d);test_root;test_leaf_a 5\n"
		 "test_folded;worker (%d);test_root;test_leaf_a 4\n",
		 (int)fx->main_tid, (int)fx->main_tid, (int)fx->worker_tid);
	CHECK_EQ_U64(ret, 0);
	CHECK_STR(text, expect);
	free(text);
}

/* Same profile, same bytes: the order does not depend on hashing. */
static void test_stable(const struct fixture *fx)
{
	int ret1, ret2;
	char *one = fold(fx->p, fx->sym, true, &ret1);
	char *two = fold(fx->p, fx->sym, true, &ret2);

	CHECK(ret1 == 0 && ret2 == 0);
	CHECK_STR(one, two);
	free(one);
	free(two);
}

/* A process with no samples writes nothing; an unnamed one is "pid N". */
static void test_unnamed(const struct fixture *fx)
{
	struct profile *p = profile_new();
	char expect[64];
	uint32_t t;
	int ret;
	char *text = fold(p, fx->sym, false, &ret);

	CHECK_EQ_U64(ret, 0);
	CHECK_STR(text, "");
	free(text);

	CHECK_EQ_U64(profile_thread(p, 4242, 4242, NULL, &t), 0);
	CHECK_EQ_U64(profile_add_sample(p, t, NULL, 0, 1), 0);
	text = fold(p, fx->sym, false, &ret);
	snprintf(expect, sizeof(expect), "pid %d 1\n", 4242);
	CHECK_EQ_U64(ret, 0);
	CHECK_STR(text, expect);
	free(text);
	profile_free(p);
}

/* Returns false, having checked nothing, when there is no /dev/full. */
static bool test_write_error(const struct fixture *fx)
{
	/* Not fopen(..., "w"): where /dev/full is missing, that would create a
	 * plain file and the test would fail instead of reporting a skip. */
	int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
	FILE *full = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!full) {
		fprintf(stderr, "no /dev/full here: nothing to check\n");
		if (fd >= 0)
			close(fd);
		return false;
	}
	CHECK_EQ_U64(folded_write(full, fx->p, fx->sym, NULL), -EIO);
	fclose(full);
	return true;
}

int main(int argc, char **argv)
{
	bool only_write_error = argc == 2 && strcmp(argv[1], "write_error") == 0;
	bool skipped = false;
	struct fixture fx = { 0 };
	int err;

	if (argc > 2 || (argc == 2 && !only_write_error)) {
		fprintf(stderr, "usage: test_folded [write_error]\n");
		return 2;
	}
	/* Keep the functions called, so nothing may drop them. */
	if (test_root(1) != 16)
		return 1;
	err = fixture_init(&fx);
	CHECK_EQ_U64(err, 0);
	if (!err && only_write_error) {
		skipped = !test_write_error(&fx);
	} else if (!err) {
		test_plain(&fx);
		test_threads(&fx);
		test_stable(&fx);
		test_unnamed(&fx);
	}
	fixture_release(&fx);
	if (skipped && !check_failures)
		return CHECK_SKIP;
	return check_status();
}
