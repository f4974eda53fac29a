/*
 * test_symbols.c - naming addresses of the test's own process: its own
 * functions, libc's (a shared object's bias), the vdso (an image read from
 * memory), markers, anonymous memory, and a file that is not ELF.
 *
 * usage: test_symbols [vdso]   (vdso: only the vdso case, a skip without one)
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "cxx_inlined.h"
#include "elf_cache.h"
#include "elf_file.h"
#include "profile.h"
#include "addrspace.h"
#include "symbols.h"

#include "banned.h"

#define DATA_PAGES 3

__attribute__((noinline)) int symbols_test_target(int x);
__attribute__((noinline)) int symbols_test_target(int x)
{
	__asm__ volatile("" : "+r"(x));
	return x * 5 + 2;
}

/* Resolve @addr and check it gives one frame; returns it. */
static const struct frame *resolve_one(struct symbolizer *sym, pid_t pid, uint64_t addr)
{
	const struct frame *f = NULL;
	size_t n = symbolizer_resolve(sym, pid, addr, &f);

	CHECK_EQ_U64(n, 1);
	CHECK(f != NULL && f->function != NULL);
	return f;
}

/*
 * A PLT stub of the test's own executable keeps its "@plt" (not cut as a
 * symbol version would be): the stub the test calls getpid through is
 * getpid@plt, whatever address inside it is named.
 */
static void test_plt(struct symbolizer *sym, pid_t pid)
{
	struct elf_file *ef = elf_file_open("/proc/self/exe");
	uint64_t target, bias, vaddr, size, start;
	bool found = false;

	CHECK(ef != NULL);
	if (!ef)
		return;
	CHECK(elf_file_find_symbol(ef, "symbols_test_target", &target, NULL) == 0);
	bias = (uint64_t)(uintptr_t)symbols_test_target - target;
	if (elf_file_section(ef, ".plt", &vaddr, &size, NULL) == 0) {
		for (uint64_t a = vaddr; a < vaddr + size && size < 65536 && !found; a++) {
			const char *name = elf_file_symbol(ef, a, &start);
			const struct frame *f;

			if (!name || strcmp(name, "getpid@plt") != 0)
				continue;
			found = true;
			f = resolve_one(sym, pid, a + 3 + bias);
			CHECK_STR(f->function, "getpid@plt");
			CHECK(f->kind == FRAME_NATIVE);
		}
	}
	CHECK(found);
	elf_file_free(ef);
}

/*
 * Inlined C++ functions are named like symbol-table frames:
 * scope-qualified, without parameters, whether DWARF gives them a linkage
 * name (the class template's member) or not (the static function, the
 * lambda, qualified from their DWARF scopes).
 */
static void test_cxx_inlined(struct symbolizer *sym, pid_t pid)
{
	static const char *const want[3] = {
		"hsq::free_where",
		"hsq::(anonymous namespace)::Box<int>::where",
		"hsq::collect::{lambda}::operator()",
	};
	uint64_t pcs[3];

	cxx_inlined_pcs(pcs);
	for (int i = 0; i < 3; i++) {
		const struct frame *f = NULL;
		size_t n = symbolizer_resolve(sym, pid, pcs[i] - 1, &f);

		CHECK(n >= 2);
		if (n < 2)
			continue;
		CHECK_STR(f[0].function, want[i]);
		CHECK(f[0].kind == FRAME_INLINED);
		CHECK_STR(f[n - 1].function, "hsq::collect");
	}
}

/*
 * The programs of one process (addrspace.h images): a tagged address is
 * named with its own image's mappings only. Image 1 knows no code (a
 * program whose mappings could not be read), image 2 has this process's.
 */
static void test_images(struct symbolizer *sym, pid_t pid, struct maps *maps)
{
	uint64_t own = (uint64_t)(uintptr_t)symbols_test_target;
	struct maps *none = maps_parse("", 0);
	const struct frame *f;

	CHECK(none != NULL);
	if (!none)
		return;
	symbolizer_set_image_maps(sym, pid, 1, none);
	symbolizer_set_image_maps(sym, pid, 2, maps);
	maps_free(none);
	f = resolve_one(sym, pid, addrspace_user_tag(own, 1));
	CHECK(f->kind == FRAME_UNKNOWN);
	f = resolve_one(sym, pid, addrspace_user_tag(own, 2));
	CHECK_STR(f->function, "symbols_test_target");
	/* An image never given mappings knows no code either. */
	f = resolve_one(sym, pid, addrspace_user_tag(own, 3));
	CHECK(f->kind == FRAME_UNKNOWN);
	/* The untagged address is image 0's, whatever the others hold. */
	f = resolve_one(sym, pid, own);
	CHECK_STR(f->function, "symbols_test_target");
	CHECK(symbolizer_mapping(sym, pid, addrspace_user_tag(own, 1), NULL, NULL) == NULL);
	CHECK(symbolizer_mapping(sym, pid, addrspace_user_tag(own, 2), NULL, NULL) ==
	      maps_find(maps, own));
}

static void test_own_and_libc(struct symbolizer *sym, pid_t pid)
{
	uint64_t own = (uint64_t)(uintptr_t)symbols_test_target;
	uint64_t getpid_addr = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "getpid");
	const struct frame *f, *again, *inside;

	f = resolve_one(sym, pid, own);
	CHECK_STR(f->function, "symbols_test_target");
	CHECK_STR(f->module, "test_symbols");
	CHECK(f->kind == FRAME_NATIVE);
	/* The test is built with -g: DWARF gives the function's file and line. */
	CHECK(f->file && strlen(f->file) > 15 &&
	      strcmp(f->file + strlen(f->file) - 15, "/test_symbols.c") == 0);
	CHECK(f->line > 0);

	/* Resolved once: the second call hands back the same frames. */
	again = resolve_one(sym, pid, own);
	CHECK(again == f);
	/* Another address of the same function: a new entry, the same name. */
	inside = resolve_one(sym, pid, own + 1);
	CHECK(inside != f);
	CHECK(inside->function == f->function);

	f = resolve_one(sym, pid, getpid_addr);
	CHECK(strstr(f->function, "getpid") != NULL);
	CHECK(f->module && strncmp(f->module, "libc", 4) == 0);
	CHECK(f->kind == FRAME_NATIVE);

	/* Another process's addresses go through its own maps: none here. */
	f = resolve_one(sym, pid + 1, own);
	CHECK_STR(f->function, "[unknown]");
	CHECK(f->kind == FRAME_UNKNOWN);
}

static void test_no_symbol(struct symbolizer *sym, pid_t pid, const struct maps *maps)
{
	const struct mapping *m = maps_find(maps, (uint64_t)(uintptr_t)symbols_test_target);
	bool seen = false;

	CHECK(m != NULL);
	/* The executable's mapping at offset 0 starts with the ELF header: a
	 * file offset, no function. */
	for (size_t i = 0; m && i < maps_count(maps); i++) {
		const struct mapping *h = maps_at(maps, i);
		const struct frame *f;

		if (h->inode != m->inode || h->dev_major != m->dev_major ||
		    h->dev_minor != m->dev_minor || h->offset != 0)
			continue;
		f = resolve_one(sym, pid, h->start + 0x10);
		CHECK_STR(f->function, "test_symbols+0x10");
		CHECK_STR(f->module, "test_symbols");
		CHECK(f->kind == FRAME_UNKNOWN);
		seen = true;
	}
	CHECK(seen);
}

static void test_markers_and_anon(struct symbolizer *sym, pid_t pid, const void *anon,
				  const void *anon_code)
{
	const struct frame *f;
	char want[64];

	f = resolve_one(sym, pid, PROFILE_ADDR_TRUNCATED);
	CHECK_STR(f->function, "[truncated]");
	CHECK(f->kind == FRAME_MARKER);
	f = resolve_one(sym, pid, PROFILE_ADDR_UNKNOWN);
	CHECK_STR(f->function, "[unknown]");
	CHECK(f->kind == FRAME_MARKER);

	f = resolve_one(sym, pid, (uint64_t)(uintptr_t)anon + 8);
	CHECK_STR(f->function, "[unknown]");
	CHECK(f->module == NULL);
	CHECK(f->kind == FRAME_UNKNOWN);

	/* Anonymous code (a JIT's, with no perf map): named after its region,
	 * the same for every address in it, not a bare [unknown]. */
	if (anon_code) {
		snprintf(want, sizeof(want), "[anon:0x%" PRIxPTR "]", (uintptr_t)anon_code);
		f = resolve_one(sym, pid, (uint64_t)(uintptr_t)anon_code + 16);
		CHECK_STR(f->function, want);
		CHECK_STR(f->module, "[anon]");
		CHECK(f->kind == FRAME_UNKNOWN);
		f = resolve_one(sym, pid, (uint64_t)(uintptr_t)anon_code + 100);
		CHECK_STR(f->function, want);
	}

	/* Below mmap_min_addr: mapped by nothing. */
	f = resolve_one(sym, pid, 0x100);
	CHECK_STR(f->function, "[unknown]");
	CHECK(f->kind == FRAME_UNKNOWN);
}

/* A mapped file that is not ELF: its offset (the mapping's + the address's)
 * names the place. */
static void test_data_file(struct symbolizer *sym, pid_t pid, const void *data,
			   const char *name)
{
	const struct frame *f = resolve_one(sym, pid, (uint64_t)(uintptr_t)data + 0x123);
	long page = sysconf(_SC_PAGESIZE);
	char want[128];

	snprintf(want, sizeof(want), "%s+0x%lx", name, (unsigned long)page + 0x123);
	CHECK_STR(f->function, want);
	CHECK_STR(f->module, name);
	CHECK(f->kind == FRAME_UNKNOWN);
}

/* Value of dynamic symbol @want in the ELF image at @image, read with
 * libelf on its own so the test does not trust the code under test. */
static bool image_symbol(const void *image, size_t len, const char *want, uint64_t *value,
			 uint64_t *lo)
{
	Elf *elf;
	Elf_Scn *scn = NULL;
	char *copy = malloc(len);
	bool found = false, have_lo = false;
	size_t phnum;
	GElf_Shdr sh;
	GElf_Phdr ph;
	GElf_Sym st;

	if (!copy)
		return false;
	memcpy(copy, image, len);
	elf_version(EV_CURRENT);
	elf = elf_memory(copy, len);
	if (elf && elf_getphdrnum(elf, &phnum) == 0) {
		for (size_t i = 0; i < phnum; i++) {
			if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD &&
			    (!have_lo || ph.p_vaddr < *lo)) {
				*lo = ph.p_vaddr;
				have_lo = true;
			}
		}
	}
	while (elf && have_lo && !found && (scn = elf_nextscn(elf, scn))) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM)
			continue;
		d = elf_getdata(scn, NULL);
		for (int i = 0; d && gelf_getsym(d, i, &st); i++) {
			const char *n = elf_strptr(elf, sh.sh_link, st.st_name);

			if (n && strcmp(n, want) == 0 && st.st_value) {
				*value = st.st_value;
				found = true;
				break;
			}
		}
	}
	elf_end(elf);
	free(copy);
	return found;
}

/* Returns false, having checked nothing, when this process has no vdso. */
static bool test_vdso(struct elf_cache *cache, struct symbolizer *sym, pid_t pid,
		      const struct maps *maps)
{
	uint64_t base = getauxval(AT_SYSINFO_EHDR), value = 0, lo = 0;
	const struct mapping *m = base ? maps_find(maps, base) : NULL;
	const struct frame *f;
	struct elf_file *ef;
	size_t len;

	if (!m || strcmp(m->path, "[vdso]") != 0) {
		fprintf(stderr, "no vdso in this process: nothing to check\n");
		return false;
	}
	len = (size_t)(m->end - base);
	CHECK(image_symbol((const void *)(uintptr_t)base, len, "__vdso_clock_gettime",
			   &value, &lo));
	ef = elf_file_from_memory((const void *)(uintptr_t)base, len);
	CHECK(ef != NULL);
	elf_cache_put_vdso(cache, pid, ef);

	f = resolve_one(sym, pid, m->start + (value - lo) + 1);
	CHECK(strstr(f->function, "clock_gettime") != NULL);
	CHECK_STR(f->module, "[vdso]");
	CHECK(f->kind == FRAME_NATIVE);
	return true;
}

static int make_data_file(char *path, size_t path_size, void **data)
{
	char dir[] = "/tmp/test_symbols.XXXXXX";
	long page = sysconf(_SC_PAGESIZE);
	char *bytes;
	int fd;

	if (!mkdtemp(dir))
		return -errno;
	snprintf(path, path_size, "%s/data.bin", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		int err = -errno;

		rmdir(dir);
		path[0] = '\0';
		return err;
	}
	bytes = calloc(DATA_PAGES, (size_t)page);
	if (!bytes || write(fd, bytes, DATA_PAGES * (size_t)page) != DATA_PAGES * page) {
		free(bytes);
		close(fd);
		return -EIO;
	}
	free(bytes);
	/* Executable, so it looks like code to a profiler; from page 1, so
	 * the mapping's own offset counts. */
	*data = mmap(NULL, (size_t)page, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, page);
	close(fd);
	return *data == MAP_FAILED ? -errno : 0;
}

static void remove_data_file(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');

	unlink(path);
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	rmdir(dir);
}

/* C++ and both Rust manglings; anything else is left alone. */
static void test_demangle(void)
{
	static const struct {
		const char *raw, *want;   /* want: a part of the demangled name */
	} cases[] = {
		{ "_ZN14hotspy_fixture5MixerImE4stepEm",
		  "hotspy_fixture::Mixer<unsigned long>::step(unsigned long)" },
		{ "_ZNSt6chrono3_V212system_clock3nowEv", "std::chrono::_V2::system_clock::now()" },
		{ "_ZN4core3fmt5write17h0123456789abcdefE", "core::fmt::write" },
		{ "_RNvCs15kBYyAo9fc_7mycrate7example", "mycrate::example" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *d = symbol_demangle(cases[i].raw);

		CHECK(d != NULL);
		if (d) {
			if (!strstr(d, cases[i].want))
				fprintf(stderr, "demangled %s as %s\n", cases[i].raw, d);
			CHECK(strstr(d, cases[i].want) != NULL);
			/* The legacy Rust hash is not shown. */
			CHECK(strstr(d, "17h0123") == NULL && strstr(d, "h0123456789abcdef") == NULL);
		}
		free(d);
	}
	CHECK(symbol_demangle("main") == NULL);
	CHECK(symbol_demangle("_Zbogus!") == NULL);
	CHECK(symbol_demangle("_") == NULL);
}

/*
 * The short form, as perf prints names: no return type, no parameter
 * list, whatever parentheses the name itself holds (operator(), operator<<,
 * a function type as template argument, a lambda), clone suffixes kept.
 * Each case is exact: a cut in the wrong place fails.
 */
static void test_demangle_short(void)
{
	static const struct {
		const char *raw, *want;
	} cases[] = {
		{ "_ZN14hotspy_fixture6crunchImEET_RNS_5MixerIS1_EES1_",
		  "hotspy_fixture::crunch<unsigned long>" },
		{ "_ZN3geo15accumulate_dotsIdEEdRKSt6vectorINS_3VecIdEESaIS3_EE.constprop.0",
		  "geo::accumulate_dots<double> [clone .constprop.0]" },
		{ "_ZN3geo3dotIdEET_RKNS_3VecIS1_EES5_.isra.0.cold",
		  "geo::dot<double> [clone .isra.0] [clone .cold]" },
		{ "_ZN3fooclEv", "foo::operator()" },
		{ "_ZlsRSoRK3Foo", "operator<<" },
		{ "_ZN1A1fIFivEEEvPFT_vE", "A::f<int ()>" },
		{ "_ZZ3runPK12fixture_argsENKUlmE_clEm",
		  "run(fixture_args const*)::{lambda(unsigned long)#1}::operator()" },
		{ "_ZN4core3fmt5write17h0123456789abcdefE", "core::fmt::write" },
		{ "_RNvCs15kBYyAo9fc_7mycrate7example", "mycrate::example" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *d = symbol_demangle_short(cases[i].raw);

		CHECK_STR(d, cases[i].want);
		free(d);
	}
	CHECK(symbol_demangle_short("main") == NULL);
	CHECK(symbol_demangle_short("_Zbogus!") == NULL);
	/* The full form keeps the clone suffix too (the "[clone ]"). */
	{
		char *d = symbol_demangle(cases[1].raw);

		CHECK(d && strstr(d, "(std::vector<") && strstr(d, ") const&, ") == NULL &&
		      strlen(d) > 20 && strcmp(d + strlen(d) - 21, " [clone .constprop.0]") == 0);
		free(d);
	}
}

int main(int argc, char **argv)
{
	bool only_vdso = argc == 2 && strcmp(argv[1], "vdso") == 0;
	bool skipped = false;

	if (argc > 2 || (argc == 2 && !only_vdso)) {
		fprintf(stderr, "usage: test_symbols [vdso]\n");
		return 2;
	}
	if (!only_vdso) {
		test_demangle();
		test_demangle_short();
	}
	pid_t pid = getpid();
	struct elf_cache *cache = elf_cache_new();
	struct symbolizer *sym = symbolizer_new(cache);
	long page = sysconf(_SC_PAGESIZE);
	struct maps *maps = NULL, *again = NULL;
	char path[4096] = "";
	void *anon, *anon_code, *data = MAP_FAILED;

	CHECK(cache != NULL && sym != NULL);
	if (!cache || !sym)
		return check_status();
	CHECK(symbols_test_target(1) == 7);
	anon = mmap(NULL, (size_t)page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(anon != MAP_FAILED);
	/* Where W^X forbids anonymous code, that case is not checked. */
	anon_code = mmap(NULL, (size_t)page, PROT_READ | PROT_EXEC,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(make_data_file(path, sizeof(path), &data) == 0);

	CHECK(maps_read(pid, &maps) == 0);
	symbolizer_set_maps(sym, pid, maps);
	/* A second set drops the first reference: ASan's leak check counts. */
	CHECK(maps_read(pid, &again) == 0);
	symbolizer_set_maps(sym, pid, again);
	maps_free(again);

	if (only_vdso) {
		skipped = !test_vdso(cache, sym, pid, maps);
	} else {
		test_own_and_libc(sym, pid);
		test_images(sym, pid, maps);
		test_plt(sym, pid);
		test_cxx_inlined(sym, pid);
		test_no_symbol(sym, pid, maps);
		test_markers_and_anon(sym, pid, anon,
				      anon_code == MAP_FAILED ? NULL : anon_code);
		if (data != MAP_FAILED)
			test_data_file(sym, pid, data, "data.bin");
	}

	maps_free(maps);
	symbolizer_free(sym);
	elf_cache_free(cache);
	if (data != MAP_FAILED)
		munmap(data, (size_t)page);
	munmap(anon, (size_t)page);
	if (anon_code != MAP_FAILED)
		munmap(anon_code, (size_t)page);
	if (path[0])
		remove_data_file(path);
	/* A failed set-up check is a failure even where the vdso is absent. */
	if (skipped && !check_failures)
		return CHECK_SKIP;
	return check_status();
}
