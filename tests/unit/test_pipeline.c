/*
 * test_pipeline.c - the flamegraph of a recording, drawn from a tree built
 * straight from the profile and the symbolizer (folded_tree_add), is the
 * same SVG, byte for byte, as the one drawn by the round trip it replaced:
 * folded text written into memory, read back (flametree_add_folded), with
 * the place of every frame told to the tree by the rendered name. That
 * round trip is kept here as the reference, over real addresses: this
 * test's own functions (one with an inlined callee), libc, the kernel, both
 * markers and the python space, with and without --threads, --lines and
 * --reverse, in the hot and the kind palettes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "elf_cache.h"
#include "flametree.h"
#include "folded.h"
#include "maps.h"
#include "profile.h"
#include "svg.h"
#include "symbols.h"

#include "banned.h"

int pipe_leaf_a(int x);
int pipe_leaf_b(int x);
int pipe_mid(int x);
int pipe_root(int x);

__attribute__((noinline)) int pipe_leaf_a(int x)
{
	volatile int v = x;

	return v * 3 + 1;
}

__attribute__((noinline)) int pipe_leaf_b(int x)
{
	volatile int v = x;

	return v * 5 + 7;
}

static inline __attribute__((always_inline)) int pipe_inlined(int x)
{
	volatile int v = x;

	return v * v + 11 * v;
}

__attribute__((noinline)) int pipe_mid(int x)
{
	return pipe_inlined(x) + pipe_leaf_a(x) * pipe_inlined(x + 1);
}

__attribute__((noinline)) int pipe_root(int x)
{
	return pipe_mid(x) + pipe_leaf_b(x);
}

static uint64_t addr_in(int (*fn)(int), uint64_t offset)
{
	return (uint64_t)(uintptr_t)fn + offset;
}

/* An address of pipe_mid that the symbolizer names as pipe_inlined inlined
 * into it, or 0 when there is none (no DWARF). */
static uint64_t inlined_addr(struct symbolizer *sym)
{
	for (uint64_t off = 0; off < 512; off++) {
		const struct frame *f;
		size_t n = symbolizer_resolve(sym, getpid(), addr_in(pipe_mid, off), &f);

		if (n >= 2 && f[0].kind == FRAME_INLINED && strcmp(f[0].function, "pipe_inlined") == 0)
			return addr_in(pipe_mid, off);
	}
	return 0;
}

/* --- The reference: the round trip through folded text. --- */

#define REF_NAME_MAX 1024

/* A name from the target as the folded writer spelled it. */
static void ref_add_name(char *buf, size_t size, size_t *at, const char *s)
{
	for (size_t i = 0; s[i] && i < REF_NAME_MAX && *at + 1 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[(*at)++] = (char)(c == ';' ? ':' : c < 0x20 || c == 0x7f ? '?' : c);
	}
	buf[*at] = '\0';
}

struct ref {
	const struct profile *p;
	struct symbolizer *sym;
	struct flametree *t;
	bool lines;
};

/* What the folded writer's frame callback told the tree: the place of
 * every frame written, by its rendered name, root first. */
static int ref_places(uint32_t thread, uint32_t stack, uint64_t count, void *ctx)
{
	struct ref *r = ctx;
	const struct profile_thread *t = profile_thread_at(r->p, thread);
	size_t n;
	const uint64_t *addrs = profile_stack(r->p, stack, &n);

	(void)count;
	while (n-- > 0) {
		const struct frame *f;
		size_t k = symbolizer_resolve(r->sym, t->pid, addrs[n], &f);

		while (k-- > 0) {
			char name[4096];
			size_t at = 0;

			ref_add_name(name, sizeof(name), &at, f[k].function);
			ref_add_name(name, sizeof(name), &at, frame_kind_suffix(f[k].kind));
			if (r->lines && f[k].file && f[k].line) {
				ref_add_name(name, sizeof(name), &at, " (");
				ref_add_name(name, sizeof(name), &at, f[k].file);
				at += (size_t)snprintf(name + at, sizeof(name) - at, ":%u)", f[k].line);
			}
			if (flametree_set_info(r->t, name, at, f[k].module, f[k].file, f[k].line))
				return -ENOMEM;
		}
	}
	return 0;
}

static struct flametree *tree_reference(const struct profile *p, struct symbolizer *sym,
					const struct folded_options *fo, bool reverse)
{
	struct flametree *t = flametree_new();
	struct ref r = { .p = p, .sym = sym, .t = t, .lines = fo->lines };
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	int err;

	CHECK(t != NULL && mem != NULL);
	if (!t || !mem)
		exit(1);
	CHECK_EQ_U64(folded_write(mem, p, sym, fo), 0);
	fclose(mem);
	CHECK_EQ_U64(profile_for_each(p, ref_places, &r), 0);
	err = flametree_add_folded(t, buf, len, reverse, NULL);
	CHECK_EQ_U64(err, 0);
	CHECK_EQ_U64(flametree_sort(t), 0);
	free(buf);
	return t;
}

static struct flametree *tree_direct(const struct profile *p, struct symbolizer *sym,
				     const struct folded_options *fo, bool reverse)
{
	struct flametree *t = flametree_new();

	CHECK(t != NULL);
	if (!t)
		exit(1);
	CHECK_EQ_U64(folded_tree_add(t, p, sym, fo, reverse), 0);
	CHECK_EQ_U64(flametree_sort(t), 0);
	return t;
}

static char *render(const struct flametree *t, enum svg_palette colors, size_t *len)
{
	struct svg_options so = {
		.title = "pipeline", .subtitle = "on-CPU time", .colors = colors,
		.minwidth = 0.0001, .minwidth_percent = true,
	};
	char *buf = NULL;
	FILE *mem = open_memstream(&buf, len);

	CHECK(mem != NULL);
	if (!mem)
		exit(1);
	CHECK_EQ_U64(svg_write(mem, t, &so), 0);
	fclose(mem);
	return buf;
}

/* The name @s in the tree, found anywhere, or FLAMETREE_NONE. */
static uint32_t find_name(const struct flametree *t, const char *s)
{
	for (uint32_t i = 0; i < flametree_count(t); i++) {
		size_t len;
		uint32_t name = flametree_node_at(t, i)->name;
		const char *n = flametree_name(t, name, &len);

		if (len == strlen(s) && memcmp(n, s, len) == 0)
			return name;
	}
	return FLAMETREE_NONE;
}

static void compare(const struct profile *p, struct symbolizer *sym, bool threads,
		    bool lines, bool reverse)
{
	const struct folded_options fo = { .threads = threads, .lines = lines };
	struct flametree *ref = tree_reference(p, sym, &fo, reverse);
	struct flametree *dir = tree_direct(p, sym, &fo, reverse);
	const enum svg_palette palettes[] = { SVG_COLORS_HOT, SVG_COLORS_KIND };

	CHECK_EQ_U64(flametree_count(dir), flametree_count(ref));
	CHECK(flametree_total(dir) == flametree_total(ref));
	for (size_t i = 0; i < sizeof(palettes) / sizeof(palettes[0]); i++) {
		size_t rlen = 0, dlen = 0;
		char *r, *d;

		/* With --lines the old drawing read no kind from "f_[i] (a.c:3)"
		 * (the suffix is not at the end): the kind palette differs there
		 * on purpose, and is checked below instead. */
		if (lines && palettes[i] == SVG_COLORS_KIND)
			continue;
		r = render(ref, palettes[i], &rlen);
		d = render(dir, palettes[i], &dlen);
		CHECK(rlen > 1000);
		CHECK_EQ_U64(dlen, rlen);
		if (dlen != rlen || memcmp(d, r, rlen) != 0) {
			size_t at = 0;

			while (at < rlen && at < dlen && d[at] == r[at])
				at++;
			fprintf(stderr, "threads %d lines %d reverse %d palette %zu: SVGs differ at "
				"byte %zu:\n  direct    %.120s\n  reference %.120s\n", threads,
				lines, reverse, i, at, d + at, r + at);
			CHECK(!"the direct SVG is the reference SVG");
		}
		free(r);
		free(d);
	}
	flametree_free(ref);
	flametree_free(dir);
}

/* The fill of the first frame whose title holds @needle, in @svg. */
static int fill_of(const char *svg, const char *needle, int rgb[3])
{
	const char *at = strstr(svg, needle);

	at = at ? strstr(at, "fill=\"rgb(") : NULL;
	if (!at || sscanf(at, "fill=\"rgb(%d,%d,%d)", &rgb[0], &rgb[1], &rgb[2]) != 3)
		return -1;
	return 0;
}

/* The kind palette colours from the kind the tree holds, with --lines too
 * (where the suffix is inside the name). */
static void check_palette(const struct profile *p, struct symbolizer *sym, bool lines,
			  bool inl)
{
	const struct folded_options fo = { .lines = lines };
	struct flametree *dir = tree_direct(p, sym, &fo, false);
	size_t len = 0;
	char *svg = render(dir, SVG_COLORS_KIND, &len);
	int rgb[3] = { 0, 0, 0 };

	/* Kernel (named from kallsyms or "[kernel]"): r 200..255, g 150..200,
	 * b 0 (svg.c). */
	CHECK(fill_of(svg, "_[k] (", rgb) == 0);
	CHECK(rgb[0] >= 200 && rgb[1] >= 150 && rgb[1] <= 200 && rgb[2] == 0);
	if (inl) {
		/* Inlined: r 60..120, g and b 200..255. */
		CHECK(fill_of(svg, "<title>pipe_inlined_[i]", rgb) == 0);
		CHECK(rgb[0] >= 60 && rgb[0] <= 120 && rgb[1] >= 200 && rgb[2] >= 200);
	}
	/* Native: the hot colours, b below 56. */
	CHECK(fill_of(svg, "<title>pipe_root (", rgb) == 0);
	CHECK(rgb[0] >= 205 && rgb[2] <= 55);
	free(svg);
	flametree_free(dir);
}

/* The tree keeps each frame's kind; only the folded reader reads it from a
 * suffix, and there only at the end of a name. */
static void check_kinds(const struct profile *p, struct symbolizer *sym, uint64_t inl)
{
	const struct folded_options fo = { .lines = true };
	struct flametree *ref = tree_reference(p, sym, &fo, false);
	struct flametree *dir = tree_direct(p, sym, &fo, false);
	uint32_t name = find_name(dir, "[truncated]");

	CHECK(name != FLAMETREE_NONE && flametree_kind(dir, name) == FRAME_MARKER);
	name = find_name(dir, "[python]");
	CHECK(name != FLAMETREE_NONE && flametree_kind(dir, name) == FRAME_UNKNOWN);
	name = find_name(dir, "test_pipeline");
	CHECK(name != FLAMETREE_NONE && flametree_kind(dir, name) == FRAME_NATIVE);
	name = find_name(ref, "[truncated]");
	CHECK(name != FLAMETREE_NONE && flametree_kind(ref, name) == FRAME_NATIVE);
	for (uint32_t i = 0; inl && i < flametree_count(dir); i++) {
		size_t len;
		uint32_t nm = flametree_node_at(dir, i)->name;
		const char *s = flametree_name(dir, nm, &len);

		if (len > 16 && memcmp(s, "pipe_inlined_[i]", 16) == 0) {
			CHECK(flametree_kind(dir, nm) == FRAME_INLINED);
			inl = 0;
		}
	}
	CHECK(inl == 0);
	flametree_free(ref);
	flametree_free(dir);
}

int main(void)
{
	const pid_t pid = getpid(), other = pid + 1;
	struct elf_cache *cache = elf_cache_new();
	struct symbolizer *sym = cache ? symbolizer_new(cache) : NULL;
	struct profile *p = profile_new();
	struct maps *maps = NULL;
	uint32_t t_main, t_worker, t_other;
	uint64_t inl;
	int err;

	CHECK(sym != NULL && p != NULL);
	if (!sym || !p)
		return check_status();
	CHECK(pipe_root(2) > 0);
	CHECK_EQ_U64(maps_read(pid, &maps), 0);
	symbolizer_set_maps(sym, pid, maps);
	maps_free(maps);
	inl = inlined_addr(sym);
	if (!inl)
		fprintf(stderr, "no inlined frame found in pipe_mid: stacks without one\n");

	{
		const uint64_t kernel = UINT64_C(0xffffffff81000100);
		const uint64_t python = addrspace_python_make(3, 14);
		const uint64_t a1[] = { addr_in(pipe_leaf_a, 1), addr_in(pipe_mid, 1),
					addr_in(pipe_root, 1) };
		/* Other addresses, the same functions: one line, one node. */
		const uint64_t a2[] = { addr_in(pipe_leaf_a, 3), addr_in(pipe_mid, 2),
					addr_in(pipe_root, 2) };
		const uint64_t a3[] = { inl ? inl : addr_in(pipe_mid, 4), addr_in(pipe_root, 1) };
		const uint64_t sys[] = { kernel, kernel + 0x40, addr_in((int (*)(int))(uintptr_t)getpid, 1),
					 addr_in(pipe_leaf_b, 2), addr_in(pipe_root, 3) };
		const uint64_t cut[] = { addr_in(pipe_leaf_b, 1), addr_in(pipe_root, 1),
					 PROFILE_ADDR_TRUNCATED };
		const uint64_t lost[] = { addr_in(pipe_leaf_a, 2), PROFILE_ADDR_UNKNOWN };
		const uint64_t py[] = { python, addrspace_python_make(3, 2), addr_in(pipe_root, 1) };
		const uint64_t far[] = { 0x1234, 0x5678 };     /* unnamed, in a process without maps */

		err = profile_set_process(p, pid, "test_pipeline");
		err = err ? err : profile_set_process(p, other, "evil;name\nwith\x7f");
		err = err ? err : profile_thread(p, pid, pid, "main", &t_main);
		err = err ? err : profile_thread(p, pid, pid + 2, "work;er\t1", &t_worker);
		err = err ? err : profile_thread(p, other, 7, "other", &t_other);
		err = err ? err : profile_add_sample(p, t_main, a1, 3, 5);
		err = err ? err : profile_add_sample(p, t_main, a2, 3, 2);
		err = err ? err : profile_add_sample(p, t_worker, a1, 3, 4);
		err = err ? err : profile_add_sample(p, t_main, a3, 2, 6);
		err = err ? err : profile_add_sample(p, t_worker, sys, 5, 3);
		err = err ? err : profile_add_sample(p, t_main, cut, 3, 1);
		err = err ? err : profile_add_sample(p, t_worker, lost, 2, 2);
		err = err ? err : profile_add_sample(p, t_main, py, 3, 7);
		err = err ? err : profile_add_sample(p, t_other, far, 2, 1);
		err = err ? err : profile_add_sample(p, t_other, NULL, 0, 2);
		CHECK_EQ_U64(err, 0);
	}

	for (int threads = 0; threads < 2; threads++)
		for (int lines = 0; lines < 2; lines++)
			for (int reverse = 0; reverse < 2; reverse++)
				compare(p, sym, threads, lines, reverse);
	check_kinds(p, sym, inl);
	check_palette(p, sym, false, inl != 0);
	check_palette(p, sym, true, inl != 0);

	profile_free(p);
	symbolizer_free(sym);
	elf_cache_free(cache);
	return check_status();
}
