/*
 * test_stackgaps.c - the gaps of a made-up profile of this process: a walk
 * cut by a short copy, walks that stopped in anonymous code, frames in a
 * mapped file that has no symbols, and whole stacks that cost nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "elf_cache.h"
#include "maps.h"
#include "profile.h"
#include "stackgaps.h"
#include "symbols.h"
#include "banned.h"

int main(void);

static const struct stackgap *find(const struct stackgap *g, long n, enum stackgap_kind kind,
				   const char *module)
{
	for (long i = 0; i < n; i++)
		if (g[i].kind == kind && (module ? g[i].module && strcmp(g[i].module, module) == 0
					  : g[i].module == NULL))
			return &g[i];
	return NULL;
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	pid_t pid = getpid();
	struct elf_cache *cache = elf_cache_new();
	struct symbolizer *sym = cache ? symbolizer_new(cache) : NULL;
	struct profile *p = profile_new();
	struct stackgap *gaps = NULL;
	struct maps *maps = NULL;
	const struct stackgap *g;
	char path[] = "/tmp/hotspy-stackgaps-XXXXXX";
	uint64_t named = (uint64_t)(uintptr_t)&main + 1, code, data, s[3];
	void *region, *file_map = MAP_FAILED;
	uint32_t t;
	long n;
	int fd;

	CHECK(sym != NULL && p != NULL);
	region = mmap(NULL, (size_t)page, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	fd = mkstemp(path);
	if (fd >= 0) {
		CHECK(ftruncate(fd, page) == 0);
		file_map = mmap(NULL, (size_t)page, PROT_READ, MAP_PRIVATE, fd, 0);
		close(fd);
	}
	if (!sym || !p || region == MAP_FAILED || file_map == MAP_FAILED ||
	    maps_read(pid, &maps) < 0) {
		/* W^X may refuse anonymous code, /tmp may be full: skip. */
		fprintf(stderr, "cannot set up the test process's mappings\n");
		n = 77;
		goto out;
	}
	symbolizer_set_maps(sym, pid, maps);
	code = (uint64_t)(uintptr_t)region + 8;
	data = (uint64_t)(uintptr_t)file_map + 16;
	CHECK(profile_set_process(p, pid, "test") == 0);
	CHECK(profile_thread(p, pid, pid, "test", &t) == 0);

	/* Cut by the copy: 2. */
	s[0] = named; s[1] = PROFILE_ADDR_TRUNCATED;
	CHECK(profile_add_sample(p, t, s, 2, 2) == 0);
	/* Stopped in anonymous code: 5 (and not "without symbols"). */
	s[0] = code; s[1] = PROFILE_ADDR_UNKNOWN;
	CHECK(profile_add_sample(p, t, s, 2, 5) == 0);
	/* Frames of a file without symbols, twice in one stack: 4 once. */
	s[0] = data; s[1] = data + 8; s[2] = named;
	CHECK(profile_add_sample(p, t, s, 3, 4) == 0);
	/* Whole and named: no gap. */
	s[0] = named;
	CHECK(profile_add_sample(p, t, s, 1, 7) == 0);

	n = stackgaps_collect(p, sym, &gaps);
	CHECK_EQ_U64(n, 3);
	g = find(gaps, n, STACKGAP_STOPPED, "[anon]");
	CHECK(g && g->samples == 5);
	g = find(gaps, n, STACKGAP_UNNAMED, strrchr(path, '/') + 1);
	CHECK(g && g->samples == 4);
	g = find(gaps, n, STACKGAP_CUT, NULL);
	CHECK(g && g->samples == 2);
	/* Most costly first. */
	for (long i = 1; i < n; i++)
		CHECK(gaps[i - 1].samples >= gaps[i].samples);
	n = check_status();
out:
	free(gaps);
	if (file_map != MAP_FAILED)
		munmap(file_map, (size_t)page);
	if (fd >= 0)
		unlink(path);
	if (region != MAP_FAILED)
		munmap(region, (size_t)page);
	maps_free(maps);
	profile_free(p);
	symbolizer_free(sym);
	elf_cache_free(cache);
	return (int)n;
}
