/*
 * bench_names.c - how fast hotspy's symbolizer names addresses: every STEP
 * bytes of the code of a shared library loaded into this process
 * (libstdc++ by default), named with functions, inlined frames and lines,
 * the way `record` names a profile. Prints the time to the first name
 * (opening the ELF file, its debug file and DWARF), and addresses per
 * second over all of them; writes the addresses as ELF virtual addresses
 * of the file to VADDRS, for tests/bench/bench_names.py to give the same
 * ones to eu-addr2line.
 *
 * With NAMES, the outermost function of each address goes there, a line
 * each, for the comparison.
 *
 *   bench_names [LIBRARY [STEP [VADDRS [NAMES]]]]
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "elf_cache.h"
#include "elf_file.h"
#include "maps.h"
#include "symbols.h"

#include "banned.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	const char *lib = argc > 1 ? argv[1] : "libstdc++.so.6";
	unsigned long step = argc > 2 ? strtoul(argv[2], NULL, 0) : 64;
	FILE *vout = argc > 3 ? fopen(argv[3], "w") : NULL;
	FILE *nout = argc > 4 ? fopen(argv[4], "w") : NULL;
	struct elf_cache *cache = elf_cache_new();
	struct symbolizer *sym = symbolizer_new(cache);
	const struct mapping *code = NULL;
	struct maps *maps = NULL;
	size_t n = 0, with_line = 0, frames = 0;
	double t0, t_first = 0, t_end;
	void *h = dlopen(lib, RTLD_NOW);

	if (!h || !cache || !sym || step == 0 || maps_read(getpid(), &maps) < 0) {
		fprintf(stderr, "bench_names: cannot load %s: %s\n", lib, h ? "setup" : dlerror());
		return 1;
	}
	/* The library's executable mapping. */
	{
		void *fn = dlsym(h, "_ZNSt6chrono3_V212system_clock3nowEv");

		if (fn)
			code = maps_find(maps, (uint64_t)(uintptr_t)fn);
	}
	if (!code || !(code->prot & MAP_PROT_EXEC)) {
		fprintf(stderr, "bench_names: no executable mapping found for %s\n", lib);
		return 1;
	}
	symbolizer_set_maps(sym, getpid(), maps);
	t0 = now();
	for (uint64_t a = code->start; a < code->end; a += step) {
		const struct frame *f;
		size_t k = symbolizer_resolve(sym, getpid(), a, &f);

		if (n == 0)
			t_first = now();
		n++;
		frames += k;
		if (f[0].file && f[0].line)
			with_line++;
		if (vout)
			fprintf(vout, "0x%" PRIx64 "\n", a - code->start + code->offset);
	}
	t_end = now();
	for (uint64_t a = code->start; nout && a < code->end; a += step) {
		const struct frame *f;
		size_t k = symbolizer_resolve(sym, getpid(), a, &f);

		fprintf(nout, "%s\n", f[k - 1].kind == FRAME_UNKNOWN ? "??" : f[k - 1].function);
	}
	if (nout)
		fclose(nout);
	printf("%s: %zu addresses (every %lu bytes of %s), %zu frames, %zu with a line\n",
	       lib, n, step, code->path, frames, with_line);
	printf("first name after %.1f ms; %.0f addresses/s over all (%.3f s)\n",
	       (t_first - t0) * 1e3, (double)n / (t_end - t0), t_end - t0);
	if (vout)
		fclose(vout);
	symbolizer_free(sym);
	elf_cache_free(cache);
	maps_free(maps);
	dlclose(h);
	return 0;
}
