/*
 * test_debug_cache.c - inflated copies of compressed debug files: the same
 * frames (function, file, line, kind of every inlined level) for every
 * STEP-th byte of libc's code, named without a cache, with a cache being
 * written, with the entry read back, and with a cache too small to hold the
 * entry; the entry is mapped by the symbolizer that read it. Skips (77)
 * where libc has no separate debug file with compressed DWARF.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "debug_cache.h"
#include "elf_cache.h"
#include "maps.h"
#include "symbols.h"

#include "banned.h"

/* Bytes between two addresses named: ~1,500 addresses of libc's code,
 * most of its functions, several per function with inlined code. */
#define STEP 1021

/* Every frame of every address, as text: what a writer could print. */
struct naming {
	char *text;
	size_t len, cap;
};

static void put(struct naming *n, const char *s)
{
	size_t l = strlen(s);

	if (n->len + l + 1 > n->cap) {
		size_t cap = (n->len + l + 1) * 2;
		char *t = realloc(n->text, cap);

		if (!t)
			abort();
		n->text = t;
		n->cap = cap;
	}
	memcpy(n->text + n->len, s, l + 1);
	n->len += l;
}

/* Name every STEP-th byte of libc's code @code, and each of the first
 * 512 bytes of __libc_start_main (with frames inlined from
 * libc_start_call_main.h), with @dc (NULL: no cache) into @out. */
static void name_all(const struct mapping *code, struct maps *maps, struct debug_cache *dc,
		     struct naming *out)
{
	struct elf_cache *cache = elf_cache_new();
	struct symbolizer *sym = cache ? symbolizer_new(cache) : NULL;
	pid_t pid = getpid();
	char line[1024];

	CHECK(sym != NULL);
	if (!sym)
		return;
	symbolizer_set_maps(sym, pid, maps);
	symbolizer_set_debug_cache(sym, dc);
	uint64_t start_main = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "__libc_start_main");

	for (uint64_t a = code->start, k = 0; a < code->end; k++) {
		const struct frame *f;
		size_t n = symbolizer_resolve(sym, pid, a, &f);

		for (size_t i = 0; i < n; i++) {
			snprintf(line, sizeof(line), "%#llx %s|%s|%s:%u|%d\n",
				 (unsigned long long)a, f[i].function,
				 f[i].module ? f[i].module : "-", f[i].file ? f[i].file : "-",
				 f[i].line, (int)f[i].kind);
			put(out, line);
		}
		if (start_main && k < 512)
			a = start_main + k;
		else
			a = code->start + (start_main ? k - 511 : k + 1) * STEP;
	}
	symbolizer_free(sym);
	elf_cache_free(cache);
}

/* Whether this process maps a file whose path ends in @suffix. */
static bool mapped(const char *suffix)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	size_t sl = strlen(suffix);
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f)) {
		size_t l = strcspn(line, "\n");

		line[l] = '\0';
		found = l >= sl && strcmp(line + l - sl, suffix) == 0;
	}
	if (f)
		fclose(f);
	return found;
}

/* The only entry of @dir, in @name; false when it has none or several. */
static bool only_entry(const char *dir, char *name, size_t size)
{
	char cmd[512];
	FILE *p;
	bool one;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' 2>/dev/null", dir);
	p = popen(cmd, "r");
	if (!p)
		return false;
	one = fgets(name, (int)size, p) != NULL;
	name[strcspn(name, "\n")] = '\0';
	if (one && fgetc(p) != EOF)
		one = false;
	pclose(p);
	return one;
}

static void test_new(void)
{
	errno = 0;
	CHECK(debug_cache_new("relative/dir", DEBUG_CACHE_MAX_BYTES) == NULL && errno == EINVAL);
	CHECK(debug_cache_new("", DEBUG_CACHE_MAX_BYTES) == NULL);
	CHECK(debug_cache_open(NULL, NULL) == NULL);
	debug_cache_free(NULL);
}

int main(void)
{
	char tmpl[] = "/tmp/hotspy-debug-cache-XXXXXX", dir[256], small_dir[256];
	char entry[256] = "", suffix[300];
	struct naming plain = { 0 }, cold = { 0 }, warm = { 0 }, small = { 0 };
	const struct mapping *code = NULL;
	struct debug_cache *dc = NULL, *tiny = NULL;
	struct maps *maps = NULL;
	int status;

	test_new();
	CHECK(mkdtemp(tmpl) != NULL);
	snprintf(dir, sizeof(dir), "%s/made/here", tmpl);   /* parents made too */
	snprintf(small_dir, sizeof(small_dir), "%s/small", tmpl);
	CHECK(maps_read(getpid(), &maps) == 0);
	for (size_t i = 0; maps && i < maps_count(maps); i++) {
		const struct mapping *m = maps_at(maps, i);

		if ((m->prot & MAP_PROT_EXEC) && strstr(m->path, "/libc.so"))
			code = m;
	}
	CHECK(code != NULL);
	if (!code)
		return check_status();

	name_all(code, maps, NULL, &plain);
	dc = debug_cache_new(dir, DEBUG_CACHE_MAX_BYTES);
	CHECK(dc != NULL);
	name_all(code, maps, dc, &cold);
	if (!only_entry(dir, entry, sizeof(entry))) {
		fprintf(stderr, "skip: no entry written: libc has no compressed debug file\n");
		status = check_status() ? check_status() : CHECK_SKIP;
		goto out;
	}
	CHECK(strlen(entry) > 6 && strcmp(entry + strlen(entry) - 6, ".debug") == 0);
	CHECK(plain.len > 0 && strstr(plain.text, "libc-start.c:") != NULL);
	CHECK(cold.len == plain.len && memcmp(cold.text, plain.text, plain.len) == 0);

	/* A fresh symbolizer reads the entry: mapped while it is alive. */
	snprintf(suffix, sizeof(suffix), "/%s", entry);
	{
		struct elf_cache *cache = elf_cache_new();
		struct symbolizer *sym = symbolizer_new(cache);
		const struct frame *f;

		symbolizer_set_maps(sym, getpid(), maps);
		symbolizer_set_debug_cache(sym, dc);
		symbolizer_resolve(sym, getpid(), code->start + 4096, &f);
		CHECK(mapped(suffix));
		symbolizer_free(sym);
		elf_cache_free(cache);
	}
	name_all(code, maps, dc, &warm);
	CHECK(warm.len == plain.len && memcmp(warm.text, plain.text, plain.len) == 0);

	/* Too small a bound: no entry, the same names. */
	tiny = debug_cache_new(small_dir, 1u << 20);
	name_all(code, maps, tiny, &small);
	CHECK(small.len == plain.len && memcmp(small.text, plain.text, plain.len) == 0);
	CHECK(!only_entry(small_dir, entry, sizeof(entry)));
	status = check_status();
out:
	{
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpl);
	}
	debug_cache_free(dc);
	debug_cache_free(tiny);
	maps_free(maps);
	free(plain.text);
	free(cold.text);
	free(warm.text);
	free(small.text);
	return status;
}
