/*
 * test_maps.c - parsing /proc/PID/maps text and finding addresses in it.
 *
 * The text below was recorded from a PIE program on Debian 12 (x86-64) and
 * edited to hold every kind of line the parser must take: a path with
 * spaces, a deleted file, a shared mapping, an anonymous one (whose line
 * ends in a space, as the kernel prints it), two malformed lines, and one
 * line out of order.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "maps.h"

#include "banned.h"

static const char recorded[] =
	"55f7be938000-55f7be93a000 r--p 00000000 fe:00 247134                     /usr/bin/cat\n"
	"55f7be93a000-55f7be93f000 r-xp 00002000 fe:00 247134                     /usr/bin/cat\n"
	"55f7be943000-55f7be944000 rw-p 0000a000 fe:00 247134                     /usr/bin/cat\n"
	"55f7d775a000-55f7d777b000 rw-p 00000000 00:00 0                          [heap]\n"
	"7f4865f74000-7f4865f96000 rw-p 00000000 00:00 0 \n"
	"this line is not a mapping\n"
	"7f4865ff7000-7f486601d000 r--p 00000000 fe:00 332835                     /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"7f486601d000-7f4866173000 r-xp 00026000 fe:00 332835                     /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"7f48661dc000-7f48661e3000 r--s 00000000 fe:00 332280                     /usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache\n"
	"7f48661e4000-7f48661e5000 r-xp 00001000 fd:02 4242                       /home/user/my lib/lib space.so\n"
	"7f48661e5000-7f48661e6000 r-xp 00000000 08:11 99                         /tmp/libgone.so (deleted)\n"
	"7fbde68fb000-7fbde68fd000 r-xp 00000000 00:00 0                          [vdso]\n"
	"7fbde68f9000-7fbde68fb000 r--p 00000000 00:00 0                          [vvar]\n"
	"7ffdf139a000-7ffdf13bb000 rwzp 00000000 00:00 0                          [bad perms]\n"
	"7ffdf139a000-7ffdf13bb000 rw-p 00000000 00:00 0                          [stack]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

#define RECORDED_GOOD 14
#define RECORDED_BAD 2

/* Parse from an exactly sized heap copy so ASan sees any read past the end. */
static struct maps *parse_copy(const char *text, size_t len)
{
	char *copy = malloc(len ? len : 1);
	struct maps *maps;

	memcpy(copy, text, len);
	maps = maps_parse(copy, len);
	free(copy);
	return maps;
}

static void test_fields(const struct maps *maps)
{
	const struct mapping *m;

	CHECK_EQ_U64(maps_count(maps), RECORDED_GOOD);
	CHECK_EQ_U64(maps_bad_lines(maps), RECORDED_BAD);

	m = maps_at(maps, 1);
	CHECK_EQ_U64(m->start, 0x55f7be93a000);
	CHECK_EQ_U64(m->end, 0x55f7be93f000);
	CHECK_EQ_U64(m->offset, 0x2000);
	CHECK_EQ_U64(m->dev_major, 0xfe);
	CHECK_EQ_U64(m->dev_minor, 0);
	CHECK_EQ_U64(m->inode, 247134);
	CHECK_EQ_U64(m->prot, MAP_PROT_READ | MAP_PROT_EXEC);
	CHECK_STR(m->path, "/usr/bin/cat");
	CHECK_STR(mapping_module(m), "cat");
	CHECK(mapping_is_file(m));

	m = maps_at(maps, 2);
	CHECK_EQ_U64(m->prot, MAP_PROT_READ | MAP_PROT_WRITE);
	CHECK_EQ_U64(m->offset, 0xa000);

	m = maps_at(maps, 3);
	CHECK_STR(m->path, "[heap]");
	CHECK_STR(mapping_module(m), "[heap]");
	CHECK(!mapping_is_file(m));

	m = maps_at(maps, 4);
	CHECK_EQ_U64(m->start, 0x7f4865f74000);
	CHECK_STR(m->path, "");
	CHECK_STR(mapping_module(m), "[anon]");
	CHECK(!mapping_is_file(m));
	CHECK_EQ_U64(m->inode, 0);

	m = maps_at(maps, 6);
	CHECK_STR(m->path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	CHECK_STR(mapping_module(m), "libc.so.6");
	CHECK_EQ_U64(m->offset, 0x26000);

	m = maps_at(maps, 7);
	CHECK_EQ_U64(m->prot, MAP_PROT_READ | MAP_SHARED_);
	CHECK_STR(mapping_module(m), "gconv-modules.cache");

	m = maps_at(maps, 8);
	CHECK_STR(m->path, "/home/user/my lib/lib space.so");
	CHECK_STR(mapping_module(m), "lib space.so");
	CHECK_EQ_U64(m->dev_major, 0xfd);
	CHECK_EQ_U64(m->dev_minor, 2);
	CHECK_EQ_U64(m->inode, 4242);

	m = maps_at(maps, 9);
	CHECK_STR(m->path, "/tmp/libgone.so (deleted)");
	CHECK_STR(mapping_module(m), "libgone.so (deleted)");
	CHECK(mapping_is_file(m));
	CHECK_EQ_U64(m->dev_major, 8);
	CHECK_EQ_U64(m->dev_minor, 0x11);

	/* Listed after [vdso] in the text, sorted before it. */
	m = maps_at(maps, 10);
	CHECK_STR(m->path, "[vvar]");
	m = maps_at(maps, 11);
	CHECK_STR(m->path, "[vdso]");
	CHECK_STR(mapping_module(m), "[vdso]");
	CHECK_EQ_U64(m->prot, MAP_PROT_READ | MAP_PROT_EXEC);

	m = maps_at(maps, 12);
	CHECK_STR(m->path, "[stack]");
	m = maps_at(maps, 13);
	CHECK_STR(m->path, "[vsyscall]");
	CHECK_EQ_U64(m->start, UINT64_C(0xffffffffff600000));
	CHECK_EQ_U64(m->prot, MAP_PROT_EXEC);
	CHECK(maps_at(maps, 14) == NULL);

	for (size_t i = 1; i < maps_count(maps); i++)
		CHECK(maps_at(maps, i - 1)->end <= maps_at(maps, i)->start);
}

static void test_find(const struct maps *maps)
{
	const struct mapping *first = maps_at(maps, 0);
	const struct mapping *second = maps_at(maps, 1);
	const struct mapping *last = maps_at(maps, maps_count(maps) - 1);
	const struct mapping *m;

	CHECK(maps_find(maps, 0) == NULL);
	CHECK(maps_find(maps, first->start - 1) == NULL);
	CHECK(maps_find(maps, first->start) == first);
	CHECK(maps_find(maps, first->end - 1) == first);
	/* Adjacent: the end of one is the start of the next. */
	CHECK(maps_find(maps, first->end) == second);
	/* A gap: the end of the third is not mapped. */
	CHECK(maps_find(maps, maps_at(maps, 2)->end) == NULL);
	CHECK(maps_find(maps, maps_at(maps, 2)->end - 1) == maps_at(maps, 2));

	m = maps_find(maps, 0x7f4866000000);
	CHECK(m && strcmp(m->path, "/usr/lib/x86_64-linux-gnu/libc.so.6") == 0);
	m = maps_find(maps, 0x7ffdf13bafff);
	CHECK(m && strcmp(m->path, "[stack]") == 0);
	CHECK(maps_find(maps, 0x7ffdf13bb000) == NULL);

	CHECK(maps_find(maps, last->start) == last);
	CHECK(maps_find(maps, last->end - 1) == last);
	CHECK(maps_find(maps, last->end) == NULL);
	CHECK(maps_find(maps, UINT64_MAX) == NULL);
}

/* Every prefix of the text parses without reading past its end, and what
 * it yields agrees with the whole text. */
static void test_truncated(const struct maps *whole)
{
	size_t len = strlen(recorded);
	const char *third = strstr(recorded, "\n55f7be943000") + 1;
	struct maps *maps;

	for (size_t cut = 0; cut <= len; cut++) {
		maps = parse_copy(recorded, cut);
		CHECK(maps != NULL);
		if (!maps)
			return;
		CHECK(maps_count(maps) <= maps_count(whole));
		for (size_t i = 0; i < maps_count(maps); i++) {
			const struct mapping *m = maps_at(maps, i);
			const struct mapping *w = maps_find(whole, m->start);

			CHECK(w && w->start == m->start);
		}
		maps_free(maps);
	}

	/* Cut in the middle of the third line's end address. */
	maps = parse_copy(recorded, (size_t)(third - recorded) + 18);
	CHECK_EQ_U64(maps_count(maps), 2);
	CHECK_EQ_U64(maps_bad_lines(maps), 1);
	maps_free(maps);

	/* Without a final newline the last line still counts. */
	maps = parse_copy(recorded, (size_t)(third - recorded) - 1);
	CHECK_EQ_U64(maps_count(maps), 2);
	CHECK_EQ_U64(maps_bad_lines(maps), 0);
	CHECK_STR(maps_at(maps, 1)->path, "/usr/bin/cat");
	maps_free(maps);
}

static void test_malformed(void)
{
	static const struct {
		const char *text;
		size_t good, bad;
	} cases[] = {
		{ "", 0, 0 },
		{ "\n\n", 0, 0 },
		{ "1000-2000 r-xp 00000000 08:01 12", 1, 0 },
		{ "2000-1000 r-xp 00000000 08:01 12 /backwards", 0, 1 },
		{ "1000-1000 r-xp 00000000 08:01 12 /empty", 0, 1 },
		{ "1000-2000 r-xp 00000000 08:01 12x /inode", 0, 1 },
		{ "1000-2000 r-xp 00000000 08:01", 0, 1 },
		{ "1000-2000 r-x 00000000 08:01 12 /perms", 0, 1 },
		{ "10000000000000000-10000000000000001 r-xp 0 0:0 0 /17 digits", 0, 1 },
		{ "1000-2000 r-xp 0 0:0 99999999999999999999 /inode overflow", 0, 1 },
		{ "1000-2000 r-xp 0 100000000:0 0 /major", 0, 1 },
		{ "-2000 r-xp 0 0:0 0 /no start", 0, 1 },
		{ "1000-2000 r-xp 0 0:0 0\t/tab", 0, 1 },
		{ "garbage\n1000-2000 r-xp 0 0:0 0 /x\n \n", 1, 2 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct maps *maps = parse_copy(cases[i].text, strlen(cases[i].text));

		CHECK_EQ_U64(maps_count(maps), cases[i].good);
		CHECK_EQ_U64(maps_bad_lines(maps), cases[i].bad);
		maps_free(maps);
	}
}

/* The kernel never lists overlaps, but a racing read may: keep the first. */
static void test_overlap(void)
{
	static const char text[] =
		"1000-3000 r-xp 00000000 08:01 1 /a\n"
		"2000-4000 r-xp 00000000 08:01 2 /b\n"
		"3000-5000 r-xp 00000000 08:01 3 /c\n";
	struct maps *maps = parse_copy(text, strlen(text));

	CHECK_EQ_U64(maps_count(maps), 2);
	CHECK_EQ_U64(maps_bad_lines(maps), 1);
	CHECK_STR(maps_find(maps, 0x2fff)->path, "/a");
	CHECK_STR(maps_find(maps, 0x3000)->path, "/c");
	maps_free(maps);
}

static void test_refcount(void)
{
	struct maps *maps = parse_copy(recorded, strlen(recorded));

	CHECK(maps_ref(maps) == maps);
	maps_free(maps);
	/* One reference left: had it been freed, ASan would stop here. */
	CHECK_EQ_U64(maps_count(maps), RECORDED_GOOD);
	maps_free(maps);
	maps_free(NULL);
}

int main(void);

/* Our own maps hold main() in the mapping of this executable. */
static void test_read_self(void)
{
	uint64_t addr = (uint64_t)(uintptr_t)&main;
	char exe[PATH_MAX];
	const struct mapping *m;
	struct maps *maps = NULL;
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	CHECK(n > 0);
	if (n <= 0)
		return;
	exe[n] = '\0';

	CHECK_EQ_U64(maps_read(getpid(), &maps), 0);
	if (!maps)
		return;
	CHECK(maps_count(maps) > 5);
	CHECK_EQ_U64(maps_bad_lines(maps), 0);
	m = maps_find(maps, addr);
	CHECK(m != NULL);
	if (m) {
		CHECK_STR(m->path, exe);
		CHECK(m->prot & MAP_PROT_EXEC);
		CHECK(mapping_is_file(m));
		CHECK_STR(mapping_module(m), strrchr(exe, '/') + 1);
	}
	maps_free(maps);

	maps = NULL;
	CHECK_EQ_U64(maps_read(INT_MAX, &maps), -ESRCH);
	CHECK(maps == NULL);
}

/*
 * Many small mappings make a maps file far longer than one read returns
 * (/proc hands it out a page or so at a time) and than maps_read's first
 * buffer: every one of them must still be found.
 */
static void test_read_long(void)
{
	enum { REGIONS = 2000 };
	long page = sysconf(_SC_PAGESIZE);
	size_t size = (size_t)page * REGIONS;
	struct maps *maps = NULL;
	size_t found = 0;
	char *base;

	/* Alternate protections so the kernel cannot merge neighbours. */
	base = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(base != MAP_FAILED);
	if (base == MAP_FAILED)
		return;
	for (size_t i = 1; i < REGIONS; i += 2)
		mprotect(base + i * (size_t)page, (size_t)page, PROT_READ | PROT_WRITE);

	CHECK_EQ_U64(maps_read(getpid(), &maps), 0);
	if (maps) {
		CHECK(maps_count(maps) >= REGIONS);
		for (size_t i = 0; i < REGIONS; i++) {
			uint64_t addr = (uint64_t)(uintptr_t)base + i * (uint64_t)page;
			const struct mapping *m = maps_find(maps, addr);

			bool inner = i > 0 && i < REGIONS - 1;

			/* The outer two may merge with whatever lies beside. */
			if (m && m->end >= addr + (uint64_t)page &&
			    (!inner || (m->start == addr && m->end == addr + (uint64_t)page)) &&
			    !!(m->prot & MAP_PROT_WRITE) == (i % 2 == 1))
				found++;
		}
		CHECK_EQ_U64(found, REGIONS);
		maps_free(maps);
	}
	munmap(base, size);
}

int main(void)
{
	struct maps *maps = parse_copy(recorded, strlen(recorded));

	CHECK(maps != NULL);
	if (!maps)
		return check_status();
	test_fields(maps);
	test_find(maps);
	test_truncated(maps);
	maps_free(maps);
	test_malformed();
	test_overlap();
	test_refcount();
	test_read_self();
	test_read_long();
	return check_status();
}
