/*
 * test_elf_file.c - ELF objects: load bias, symbols, reads and bad input.
 *
 * The objects are the test's own executable (a PIE), the libc it runs on
 * and the hotspots fixture (HOTSPOTS_PATH, set by the build). Every
 * expected value is taken from the running process (function addresses,
 * /proc/self/maps, the code bytes in memory), none is written down here.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "check.h"
#include "elf_file.h"
#include "maps.h"

#include "banned.h"

/*
 * Symbols a C compiler will not make: one without a size followed by
 * another, a sized one followed by padding no symbol covers, and three
 * aliases of one address whose names sort opposite to their binding.
 */
__asm__(".text\n"
	".globl hs_sizeless\n.type hs_sizeless, @function\n"
	"hs_sizeless:\n\tnop\n\tnop\n\tnop\n\tret\n"
	".globl hs_sized\n.type hs_sized, @function\n"
	"hs_sized:\n\tnop\n\tret\n.size hs_sized, 2\n"
	"\t.byte 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90\n"
	".globl hs_z_global\n.type hs_z_global, @function\n"
	".weak hs_b_weak\n.type hs_b_weak, @function\n"
	".type hs_a_local, @function\n"
	"hs_a_local:\nhs_b_weak:\nhs_z_global:\n\tret\n"
	".size hs_z_global, 1\n.size hs_b_weak, 1\n.size hs_a_local, 1\n");

void hs_sizeless(void);
void hs_sized(void);
void hs_z_global(void);

__attribute__((noinline)) int elf_test_target(int x);
__attribute__((noinline)) int elf_test_target(int x)
{
	__asm__ volatile("" : "+r"(x));
	return x * 3 + 1;
}

/* An object of known size and a section of our own, found by name below. */
extern const unsigned long long hs_test_object[3];
const unsigned long long hs_test_object[3] = { 0x1122334455667788ull, 2, 3 };
__attribute__((section(".hs_test_section"), used))
static const char hs_test_section_bytes[] = "hotspy section bytes";

static uint64_t fn_addr(void (*fn)(void))
{
	return (uint64_t)(uintptr_t)fn;
}

/* The mapping of @maps that holds @addr; its file is the object to test. */
static const struct mapping *mapping_of(const struct maps *maps, uint64_t addr)
{
	const struct mapping *m = maps_find(maps, addr);

	CHECK(m != NULL);
	CHECK(m && mapping_is_file(m));
	return m && mapping_is_file(m) ? m : NULL;
}

/*
 * Every mapping of the object (r--p, r-xp, r--p, rw-p, each a different
 * segment) must give the same bias; returns it.
 */
static uint64_t check_bias_all_mappings(const struct elf_file *ef, const struct maps *maps,
					const struct mapping *code)
{
	uint64_t code_bias = 0, bias;
	size_t seen = 0;

	CHECK(elf_file_load_bias(ef, code->start, code->offset, &code_bias) == 0);
	for (size_t i = 0; i < maps_count(maps); i++) {
		const struct mapping *m = maps_at(maps, i);

		if (m->inode != code->inode || m->dev_major != code->dev_major ||
		    m->dev_minor != code->dev_minor)
			continue;
		seen++;
		CHECK(elf_file_load_bias(ef, m->start, m->offset, &bias) == 0);
		CHECK_EQ_U64(bias, code_bias);
	}
	CHECK(seen >= 2);
	return code_bias;
}

static void test_exe_symbols(struct elf_file *ef, uint64_t bias)
{
	uint64_t target = (uint64_t)(uintptr_t)elf_test_target - bias;
	uint64_t start = 0;

	CHECK_STR(elf_file_symbol(ef, target, &start), "elf_test_target");
	CHECK_EQ_U64(start, target);
	CHECK_STR(elf_file_symbol(ef, target + 1, &start), "elf_test_target");
	CHECK_EQ_U64(start, target);

	/* No size: covers up to the next symbol, not past it. */
	start = 0;
	CHECK_STR(elf_file_symbol(ef, fn_addr(hs_sizeless) - bias + 3, &start), "hs_sizeless");
	CHECK_EQ_U64(start, fn_addr(hs_sizeless) - bias);
	CHECK_STR(elf_file_symbol(ef, fn_addr(hs_sized) - bias, NULL), "hs_sized");
	CHECK_STR(elf_file_symbol(ef, fn_addr(hs_sized) - bias + 1, NULL), "hs_sized");
	/* A size: the padding after it belongs to no one. */
	CHECK(elf_file_symbol(ef, fn_addr(hs_sized) - bias + 2, NULL) == NULL);
	CHECK(elf_file_symbol(ef, fn_addr(hs_sized) - bias + 9, NULL) == NULL);
	/* Aliases: the global one, whatever the names' order. */
	CHECK_STR(elf_file_symbol(ef, fn_addr(hs_z_global) - bias, NULL), "hs_z_global");

	CHECK(elf_file_symbol(ef, 0, NULL) == NULL);
	CHECK(elf_file_symbol(ef, UINT64_MAX, NULL) == NULL);
}

/*
 * PLT stubs are named "function@plt" after the GOT slot they jump through.
 * The names are checked by calling the stubs: the one named getpid@plt
 * must return getpid(), getppid@plt getppid() (the test calls both, so the
 * linker made a stub for each).
 */
static void test_exe_plt(struct elf_file *ef, uint64_t bias)
{
	static const char *const sections[] = { ".plt", ".plt.sec", ".plt.got" };
	uint64_t pid_stub = 0, ppid_stub = 0;
	size_t named = 0;

	CHECK(getpid() != getppid());
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		uint64_t vaddr, size, start;

		if (elf_file_section(ef, sections[i], &vaddr, &size, NULL) < 0)
			continue;
		for (uint64_t a = vaddr; a < vaddr + size && size < 65536; a++) {
			const char *name = elf_file_symbol(ef, a, &start);
			size_t len = name ? strlen(name) : 0;

			if (!name || start != a)
				continue;
			CHECK(len > 4 && strcmp(name + len - 4, "@plt") == 0);
			named++;
			if (strcmp(name, "getpid@plt") == 0)
				pid_stub = a + bias;
			if (strcmp(name, "getppid@plt") == 0)
				ppid_stub = a + bias;
		}
	}
	CHECK(named >= 2);
	CHECK(pid_stub != 0 && ppid_stub != 0);
	if (pid_stub && ppid_stub) {
		pid_t (*stub)(void) = (pid_t (*)(void))(uintptr_t)pid_stub;

		CHECK_EQ_U64(stub(), getpid());
		stub = (pid_t (*)(void))(uintptr_t)ppid_stub;
		CHECK_EQ_U64(stub(), getppid());
	}
}

static void test_exe_reads(const struct elf_file *ef, uint64_t bias, const char *path)
{
	uint64_t target = (uint64_t)(uintptr_t)elf_test_target - bias;
	uint64_t lo, hi, eh_vaddr, eh_size;
	unsigned char code[16], byte;
	Elf64_Ehdr eh;
	const uint8_t *id;
	struct stat st;
	size_t id_len;
	bool nonzero = false;

	CHECK(stat(path, &st) == 0);
	CHECK(elf_file_read(ef, 0, &eh, sizeof(eh)) == 0);
	CHECK(memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0);
	CHECK(eh.e_type == ET_DYN);
	CHECK(elf_file_is_dyn(ef));

	CHECK(elf_file_read(ef, (uint64_t)st.st_size - 1, &byte, 1) == 0);
	CHECK(elf_file_read(ef, (uint64_t)st.st_size, &byte, 0) == 0);
	CHECK(elf_file_read(ef, (uint64_t)st.st_size, &byte, 1) == -EFAULT);
	CHECK(elf_file_read(ef, (uint64_t)st.st_size - 1, code, 2) == -EFAULT);
	CHECK(elf_file_read(ef, UINT64_MAX, code, 2) == -EFAULT);
	CHECK(elf_file_read(ef, 1, code, SIZE_MAX) == -EFAULT);

	/* The code in the file is the code that runs. */
	CHECK(elf_file_read_vaddr(ef, target, code, sizeof(code)) == 0);
	CHECK(memcmp(code, (const void *)(uintptr_t)elf_test_target, sizeof(code)) == 0);
	elf_file_vaddr_range(ef, &lo, &hi);
	CHECK(lo <= target && target < hi);
	CHECK(elf_file_read_vaddr(ef, hi, code, 1) == -EFAULT);
	CHECK(elf_file_read_vaddr(ef, UINT64_MAX - 1, code, 4) == -EFAULT);

	/* .eh_frame_hdr starts with version 1 (LSB "Exception Frames"). */
	CHECK(elf_file_eh_frame_hdr(ef, &eh_vaddr, &eh_size) == 0);
	CHECK(eh_vaddr >= lo && eh_vaddr < hi && eh_size >= 12);
	CHECK(elf_file_read_vaddr(ef, eh_vaddr, &byte, 1) == 0);
	CHECK_EQ_U64(byte, 1);

	/* gcc passes --build-id (sha1) on Debian: 20 bytes. */
	id_len = elf_file_build_id(ef, &id);
	CHECK_EQ_U64(id_len, 20);
	for (size_t i = 0; id && i < id_len; i++)
		nonzero |= id[i] != 0;
	CHECK(nonzero);
}

/* Symbols of any type by exact name, and sections by name: the ways the
 * CPython reader finds _PyRuntime, Py_Version and .PyRuntime. */
static void test_exe_lookups(struct elf_file *ef, uint64_t bias)
{
	uint64_t v = 0, size = 0, off = 0;
	char bytes[sizeof(hs_test_section_bytes)];

	CHECK(elf_file_find_symbol(ef, "hs_test_object", &v, &size) == 0);
	CHECK_EQ_U64(v + bias, (uint64_t)(uintptr_t)hs_test_object);
	CHECK_EQ_U64(size, sizeof(hs_test_object));
	v = 0;
	CHECK(elf_file_find_symbol(ef, "elf_test_target", &v, NULL) == 0);
	CHECK_EQ_U64(v + bias, (uint64_t)(uintptr_t)elf_test_target);
	/* A local symbol (.symtab only). */
	v = 0;
	CHECK(elf_file_find_symbol(ef, "hs_a_local", &v, &size) == 0);
	CHECK_EQ_U64(v + bias, fn_addr(hs_z_global));
	CHECK_EQ_U64(size, 1);
	/* Exact names only: no prefix, no suffix. */
	CHECK(elf_file_find_symbol(ef, "hs_test_objec", &v, NULL) == -ENOENT);
	CHECK(elf_file_find_symbol(ef, "hs_test_object_", &v, NULL) == -ENOENT);
	CHECK(elf_file_find_symbol(ef, "", &v, NULL) == -ENOENT);
	/* Imported (undefined here) is not found. */
	CHECK(elf_file_find_symbol(ef, "dlsym", &v, NULL) == -ENOENT);

	CHECK(elf_file_section(ef, ".hs_test_section", &v, &size, &off) == 0);
	CHECK_EQ_U64(v + bias, (uint64_t)(uintptr_t)hs_test_section_bytes);
	CHECK(size >= sizeof(hs_test_section_bytes));
	CHECK(elf_file_read(ef, off, bytes, sizeof(bytes)) == 0);
	CHECK(memcmp(bytes, hs_test_section_bytes, sizeof(bytes)) == 0);
	CHECK(elf_file_section(ef, ".text", NULL, NULL, NULL) == 0);
	CHECK(elf_file_section(ef, ".hs_test_sectio", &v, &size, &off) == -ENOENT);
	CHECK(elf_file_section(ef, ".PyRuntime", &v, &size, &off) == -ENOENT);
}

static void test_libc(const struct maps *maps)
{
	uint64_t addr = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "getpid");
	const struct mapping *m = mapping_of(maps, addr);
	struct elf_file *ef;
	uint64_t bias, start = 0;
	const char *name;

	if (!m)
		return;
	CHECK(strstr(m->path, "libc") != NULL);
	ef = elf_file_open(m->path);
	CHECK(ef != NULL);
	if (!ef)
		return;
	CHECK(elf_file_is_dyn(ef));
	bias = check_bias_all_mappings(ef, maps, m);
	/* getpid is a weak alias of __getpid in glibc: either name will do. */
	name = elf_file_symbol(ef, addr - bias, &start);
	CHECK(name && strstr(name, "getpid"));
	CHECK_EQ_U64(start, addr - bias);
	start = 0;
	CHECK(elf_file_find_symbol(ef, "getpid", &start, NULL) == 0);
	CHECK_EQ_U64(start + bias, addr);
	elf_file_free(ef);
}

/*
 * A hand-made image whose two PT_LOADs share a file page, laid out the way
 * ld -z noseparate-code lays out text and data:
 *   text  offset 0       vaddr 0x?0000  filesz 0x1800
 *   data  offset 0x1e00  vaddr 0x?2e00  filesz 0x200, memsz 0x400
 * so file page 0x1000 is mapped twice: text's second page, data's first.
 * Also a PT_NOTE with an 8-byte build id and a PT_GNU_EH_FRAME.
 */
#define SYN_SIZE 0x2000
#define SYN_NOTE 0x200

static struct elf_file *synthetic(uint16_t type, uint64_t base)
{
	static const uint8_t note[] = {
		4, 0, 0, 0, 8, 0, 0, 0, NT_GNU_BUILD_ID, 0, 0, 0, 'G', 'N', 'U', 0,
		1, 2, 3, 4, 5, 6, 7, 8,
	};
	unsigned char *image = calloc(1, SYN_SIZE);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)image;
	Elf64_Phdr *ph = (Elf64_Phdr *)(image + sizeof(*eh));
	struct elf_file *ef;

	if (!image)
		return NULL;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = type;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 4;
	ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = 0,
			      .p_vaddr = base, .p_filesz = 0x1800, .p_memsz = 0x1800,
			      .p_align = 0x1000 };
	ph[1] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = 0x1e00,
			      .p_vaddr = base + 0x2e00, .p_filesz = 0x200, .p_memsz = 0x400,
			      .p_align = 0x1000 };
	ph[2] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = SYN_NOTE, .p_vaddr = base + SYN_NOTE,
			      .p_filesz = sizeof(note), .p_memsz = sizeof(note), .p_align = 4 };
	ph[3] = (Elf64_Phdr){ .p_type = PT_GNU_EH_FRAME, .p_offset = 0x300,
			      .p_vaddr = base + 0x300, .p_filesz = 0x40, .p_memsz = 0x40,
			      .p_align = 4 };
	memcpy(image + SYN_NOTE, note, sizeof(note));
	for (size_t i = 0x1e00; i < SYN_SIZE; i++)
		image[i] = (unsigned char)i;
	ef = elf_file_from_memory(image, SYN_SIZE);
	free(image);
	return ef;
}

static void test_shared_page(void)
{
	const uint64_t bias = 0x7f1234560000;
	struct elf_file *ef = synthetic(ET_DYN, 0);
	uint64_t b = 0, lo, hi, v = 0, size = 0;
	const uint8_t *id = NULL;
	unsigned char byte;

	CHECK(ef != NULL);
	if (!ef)
		return;
	CHECK(elf_file_is_dyn(ef));
	/* Mappings as ld.so makes them: text at bias, data at bias + 0x2000. */
	CHECK(elf_file_load_bias(ef, bias, 0, &b) == 0);
	CHECK_EQ_U64(b, bias);
	b = 0;
	CHECK(elf_file_load_bias(ef, bias + 0x2000, 0x1000, &b) == 0);
	CHECK_EQ_U64(b, bias);
	/* Single addresses with their own offsets, both in the shared page. */
	b = 0;
	CHECK(elf_file_load_bias(ef, bias + 0x1100, 0x1100, &b) == 0);
	CHECK_EQ_U64(b, bias);
	b = 0;
	CHECK(elf_file_load_bias(ef, bias + 0x2e10, 0x1e10, &b) == 0);
	CHECK_EQ_U64(b, bias);
	CHECK(elf_file_load_bias(ef, bias + 0x3000, 0x2000, &b) == -ENOENT);

	elf_file_vaddr_range(ef, &lo, &hi);
	CHECK_EQ_U64(lo, 0);
	CHECK_EQ_U64(hi, 0x3200);
	CHECK(elf_file_read_vaddr(ef, 0x2e10, &byte, 1) == 0);
	CHECK_EQ_U64(byte, 0x10);
	/* Past the file part (.bss) there are no bytes to read. */
	CHECK(elf_file_read_vaddr(ef, 0x3000, &byte, 1) == -EFAULT);
	CHECK(elf_file_read_vaddr(ef, 0x2ff0, &byte, 0x20) == -EFAULT);

	CHECK(elf_file_eh_frame_hdr(ef, &v, &size) == 0);
	CHECK_EQ_U64(v, 0x300);
	CHECK_EQ_U64(size, 0x40);
	CHECK_EQ_U64(elf_file_build_id(ef, &id), 8);
	CHECK(id && id[0] == 1 && id[7] == 8);
	CHECK(elf_file_symbol(ef, 0x100, NULL) == NULL);
	/* No section headers at all. */
	CHECK(elf_file_find_symbol(ef, "x", &v, NULL) == -ENOENT);
	CHECK(elf_file_section(ef, ".text", &v, NULL, NULL) == -ENOENT);
	elf_file_free(ef);

	/* A non-PIE executable runs at its link addresses: bias 0 for every
	 * mapping, including data's, whose page text also holds. */
	ef = synthetic(ET_EXEC, 0x400000);
	CHECK(ef != NULL);
	if (!ef)
		return;
	CHECK(!elf_file_is_dyn(ef));
	b = 1;
	CHECK(elf_file_load_bias(ef, 0x400000, 0, &b) == 0);
	CHECK_EQ_U64(b, 0);
	b = 1;
	CHECK(elf_file_load_bias(ef, 0x402000, 0x1000, &b) == 0);
	CHECK_EQ_U64(b, 0);
	b = 1;
	CHECK(elf_file_load_bias(ef, 0x401000, 0x1000, &b) == 0);
	CHECK_EQ_U64(b, 0);
	elf_file_free(ef);
}

static int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, data, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

/* Calls every accessor; ASan and UBSan judge. */
static void poke(struct elf_file *ef)
{
	uint64_t lo, hi, v, s, bias;
	const uint8_t *id;
	unsigned char buf[64];

	elf_file_vaddr_range(ef, &lo, &hi);
	for (uint64_t a = lo; a < hi && a - lo < 4096; a += 61)
		elf_file_symbol(ef, a, NULL);
	elf_file_symbol(ef, hi - 1, NULL);
	elf_file_read_vaddr(ef, lo, buf, sizeof(buf));
	if (elf_file_eh_frame_hdr(ef, &v, &s) == 0)
		elf_file_read_vaddr(ef, v, buf, sizeof(buf));
	elf_file_build_id(ef, &id);
	elf_file_load_bias(ef, 0x7f0000000000, 0, &bias);
	elf_file_load_bias(ef, 0x7f0000001000, 0x1000, &bias);
	elf_file_find_symbol(ef, "_PyRuntime", &v, &s);
	elf_file_find_symbol(ef, "main", &v, &s);
	elf_file_section(ef, ".PyRuntime", &v, &s, &lo);
	elf_file_section(ef, ".text", &v, &s, &lo);
}

static void test_malformed(const unsigned char *image, size_t len)
{
	char dir[] = "/tmp/test_elf_file.XXXXXX", path[64];
	unsigned char garbage[4096];
	struct elf_file *ef;
	uint64_t seed = 42;
	unsigned char *copy;

	CHECK(mkdtemp(dir) != NULL);
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (unsigned char)(i * 131 + 7);

	snprintf(path, sizeof(path), "%s/garbage", dir);
	CHECK(write_file(path, garbage, sizeof(garbage)) == 0);
	errno = 0;
	CHECK(elf_file_open(path) == NULL && errno == ENOEXEC);
	unlink(path);

	snprintf(path, sizeof(path), "%s/empty", dir);
	CHECK(write_file(path, garbage, 0) == 0);
	errno = 0;
	CHECK(elf_file_open(path) == NULL && errno == ENOEXEC);
	unlink(path);

	/* Shorter than the ELF header. */
	snprintf(path, sizeof(path), "%s/short", dir);
	CHECK(write_file(path, image, 40) == 0);
	errno = 0;
	CHECK(elf_file_open(path) == NULL && errno == ENOEXEC);
	unlink(path);

	/* Headers intact, sections cut off: opens or fails, never crashes. */
	snprintf(path, sizeof(path), "%s/truncated", dir);
	CHECK(write_file(path, image, len / 2) == 0);
	ef = elf_file_open(path);
	if (ef)
		poke(ef);
	elf_file_free(ef);
	unlink(path);

	errno = 0;
	CHECK(elf_file_open(dir) == NULL && errno == ENOEXEC);
	CHECK(rmdir(dir) == 0);
	errno = 0;
	CHECK(elf_file_open(dir) == NULL && errno == ENOENT);
	CHECK(elf_file_from_memory(image, 0) == NULL);

	/* Bytes flipped in the headers, the tables and anywhere, at several
	 * lengths. Fixed seed: a failure repeats. */
	copy = malloc(len);
	CHECK(copy != NULL);
	for (int round = 0; copy && round < 300; round++) {
		size_t n = round % 3 == 0 ? len : (size_t)(seed % len) + 1;

		memcpy(copy, image, len);
		for (int k = 0; k < 16; k++) {
			size_t at;

			seed = seed * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
			at = k < 8 ? (seed >> 33) % 1024 : (seed >> 33) % len;
			copy[at] ^= (unsigned char)(seed >> 24) | 1;
		}
		ef = elf_file_from_memory(copy, n);
		if (ef)
			poke(ef);
		elf_file_free(ef);
	}
	free(copy);
}

static unsigned char *read_whole(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0)
		goto err;
	buf = malloc((size_t)st.st_size);
	if (!buf)
		goto err;
	if (read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		goto err;
	}
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
err:
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* Scan the fixture's address range: hot_a must be somewhere in it, and
 * every address it covers must report the same start. */
static void test_fixture(const char *path)
{
	struct elf_file *ef = elf_file_open(path);
	uint64_t lo, hi, start, first = 0, count = 0;

	CHECK(ef != NULL);
	if (!ef)
		return;
	elf_file_vaddr_range(ef, &lo, &hi);
	for (uint64_t a = lo; a < hi; a++) {
		const char *name = elf_file_symbol(ef, a, &start);

		if (!name || strcmp(name, "hot_a") != 0)
			continue;
		if (!count++)
			first = a;
		CHECK_EQ_U64(start, first);
	}
	CHECK(count > 0);

	/* Every .plt stub but the first (the lazy resolver's) is named, and the
	 * .plt.got stub of a PIE is crtbegin's call of __cxa_finalize. */
	if (elf_file_section(ef, ".plt", &lo, &hi, NULL) == 0) {
		count = 0;
		CHECK(elf_file_symbol(ef, lo, NULL) == NULL);
		for (uint64_t a = lo + 16; a + 16 <= lo + hi && hi < 65536; a += 16) {
			const char *name = elf_file_symbol(ef, a + 5, &start);

			CHECK(name && strstr(name, "@plt") && start == a);
			count++;
		}
		CHECK(count > 0);
	}
	if (elf_file_section(ef, ".plt.got", &lo, &hi, NULL) == 0)
		CHECK_STR(elf_file_symbol(ef, lo, NULL), "__cxa_finalize@plt");
	elf_file_free(ef);
}

int main(void)
{
	const char *exe = "/proc/self/exe";
	const struct mapping *m;
	unsigned char *image;
	struct elf_file *ef;
	struct maps *maps;
	uint64_t bias;
	size_t len;

	CHECK(elf_test_target(1) == 4);
	CHECK(maps_read(getpid(), &maps) == 0);
	ef = elf_file_open(exe);
	CHECK(ef != NULL);
	m = mapping_of(maps, (uint64_t)(uintptr_t)elf_test_target);
	if (ef && m) {
		bias = check_bias_all_mappings(ef, maps, m);
		test_exe_symbols(ef, bias);
		test_exe_reads(ef, bias, exe);
		test_exe_lookups(ef, bias);
		test_exe_plt(ef, bias);
	}
	elf_file_free(ef);

	test_libc(maps);
	maps_free(maps);
	test_shared_page();

	image = read_whole(exe, &len);
	CHECK(image != NULL);
	if (image) {
		/* The same bytes from memory: the vdso's way in. */
		ef = elf_file_from_memory(image, len);
		CHECK(ef != NULL);
		CHECK(ef && elf_file_symbol(ef, 1, NULL) == NULL);
		elf_file_free(ef);
		test_malformed(image, len);
	}
	free(image);

	test_fixture(HOTSPOTS_PATH);
	return check_status();
}
