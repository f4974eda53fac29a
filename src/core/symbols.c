#include "symbols.h"
#include "array.h"
#include "hash.h"
#include "htable.h"

#include <errno.h>
#include <inttypes.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "debug_cache.h"
#include "dwarf_lines.h"
#include "elf_file.h"
#include "kallsyms.h"
#include "perfmap.h"
#include "log.h"
#include "procfs.h"
#include "addrspace.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <gelf.h>
#include <libelf.h>
#include <libiberty/demangle.h>
#include <unistd.h>

#include "banned.h"

/*
 * Names come from the target: keep at most this many bytes of each. Long
 * enough for mangled C++ names, short enough that a hostile string table
 * cannot fill memory.
 */
#define NAME_MAX_LEN 1024

#define ARENA_CHUNK (64 * 1024)

/* Frames one address may stand for: the function and those inlined in it. */
#define FRAMES_MAX 64

/* Where distributions install separate debug files. */
#define DEBUG_ROOT "/usr/lib/debug"
#define DEBUG_DIRS_MAX 8
#define PATH_MAX_LEN 4096

/* What an address gets when even storing its name fails. */
static const struct frame unknown_frame = {
	.function = "[unknown]",
	.kind = FRAME_UNKNOWN,
};

/* Bump allocator: frames and strings live until symbolizer_free. */
struct chunk {
	struct chunk *next;
	size_t used, cap;
	alignas(max_align_t) unsigned char data[];
};

struct proc {
	pid_t pid;
	uint32_t image;         /* addrspace.h: the program, 0 then +1 per exec */
	struct maps *maps;
	struct perfmap *jit;    /* /tmp/perf-PID.map, read at the first need */
	bool jit_tried;
};

/* An address named once: the frames every later lookup returns. */
struct resolved {
	uint64_t addr;
	pid_t pid;
	uint32_t n;
	const struct frame *frames;
};

/* The DWARF of an ELF file: its own, or its separate debug file's. */
struct debug_info {
	const struct elf_file *ef;
	struct elf_file *debug_file;    /* owned; NULL when none was found */
	struct dwarf_lines *lines;      /* NULL when no DWARF */
};

/* A name kept once, in the arena. */
struct interned {
	const char *s;
	size_t len;
};

struct symbolizer {
	struct elf_cache *cache;
	struct chunk *chunks;

	struct proc *procs;
	size_t nprocs, procs_cap;

	/* Each (pid, addr) named once. */
	struct resolved *resolved;
	size_t nresolved, resolved_cap;
	struct htable resolved_index;

	/* Every name once: the many addresses of one function share it. */
	struct interned *strings;
	size_t nstrings, strings_cap;
	struct htable strings_index;

	/* Per ELF file, opened at its first address. */
	struct debug_info *debug;
	size_t ndebug, debug_cap;
	const char *debug_dirs[DEBUG_DIRS_MAX];   /* --debug-dir, then DEBUG_ROOT */
	size_t ndebug_dirs;
	bool no_demangle;
	bool full_names;        /* C++ names with return and parameter types */
	bool full_filenames;    /* Python files as co_filename says, whole */
	struct debug_cache *debug_cache;   /* borrowed; NULL: inflate each time */

	/* Kernel symbols, read at the first kernel address. */
	struct kallsyms *kernel;
	bool kernel_tried;

	/* CPython code objects, for python addresses (borrowed). */
	const struct pycodes *pycodes;
};

static uint64_t addr_hash(pid_t pid, uint64_t addr)
{
	return hash_mix64(addr ^ (uint64_t)(uint32_t)pid * UINT64_C(0x9e3779b97f4a7c15));
}

static void *arena_alloc(struct symbolizer *sym, size_t size)
{
	struct chunk *c = sym->chunks;
	size_t align = alignof(max_align_t);
	void *p;

	size = (size + align - 1) & ~(align - 1);
	if (!c || c->cap - c->used < size) {
		size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = sym->chunks;
		sym->chunks = c;
	}
	p = c->data + c->used;
	c->used += size;
	return p;
}

struct symbolizer *symbolizer_new(struct elf_cache *cache)
{
	struct symbolizer *sym = calloc(1, sizeof(*sym));

	if (!sym)
		return NULL;
	sym->cache = cache;
	sym->resolved_index = (struct htable)HTABLE_INIT;
	sym->strings_index = (struct htable)HTABLE_INIT;
	return sym;
}

void symbolizer_free(struct symbolizer *sym)
{
	if (!sym)
		return;
	while (sym->chunks) {
		struct chunk *next = sym->chunks->next;

		free(sym->chunks);
		sym->chunks = next;
	}
	for (size_t i = 0; i < sym->nprocs; i++) {
		maps_free(sym->procs[i].maps);
		perfmap_free(sym->procs[i].jit);
	}
	kallsyms_free(sym->kernel);
	for (size_t i = 0; i < sym->ndebug; i++) {
		dwarf_lines_free(sym->debug[i].lines);
		elf_file_free(sym->debug[i].debug_file);
	}
	free(sym->debug);
	free(sym->procs);
	free(sym->resolved);
	htable_release(&sym->resolved_index);
	free(sym->strings);
	htable_release(&sym->strings_index);
	free(sym);
}

static struct proc *proc_find(struct symbolizer *sym, pid_t pid, uint32_t image)
{
	for (size_t i = 0; i < sym->nprocs; i++) {
		if (sym->procs[i].pid == pid && sym->procs[i].image == image)
			return &sym->procs[i];
	}
	return NULL;
}

void symbolizer_set_maps(struct symbolizer *sym, pid_t pid, struct maps *maps)
{
	symbolizer_set_image_maps(sym, pid, 0, maps);
}

void symbolizer_set_image_maps(struct symbolizer *sym, pid_t pid, uint32_t image,
			       struct maps *maps)
{
	struct proc *p;

	if (image > ADDRSPACE_IMAGE_MAX)
		image = ADDRSPACE_IMAGE_MAX;
	p = proc_find(sym, pid, image);

	if (!p) {
		struct proc *bigger = array_grow(sym->procs, &sym->procs_cap,
						 sym->nprocs + 1, sizeof(*bigger));

		/* Without room the process stays unknown: its addresses
		 * resolve to "[unknown]". */
		if (!bigger)
			return;
		sym->procs = bigger;
		p = &sym->procs[sym->nprocs++];
		*p = (struct proc){ .pid = pid, .image = image };
	}
	maps_ref(maps);
	maps_free(p->maps);
	p->maps = maps;
}

/* The symbolizer's copy of @s, cut to NAME_MAX_LEN bytes, or NULL when out
 * of memory. */
static const char *intern(struct symbolizer *sym, const char *s)
{
	size_t len = strnlen(s, NAME_MAX_LEN);
	uint64_t hash = hash_bytes(s, len);
	struct htable_iter it;
	struct interned *strings;
	char *copy;

	for (uint32_t i = htable_find(&sym->strings_index, hash, &it); i != HTABLE_NONE;
	     i = htable_next(&sym->strings_index, &it)) {
		const struct interned *e = &sym->strings[i];

		if (e->len == len && memcmp(e->s, s, len) == 0)
			return e->s;
	}
	strings = array_grow(sym->strings, &sym->strings_cap, sym->nstrings + 1,
			     sizeof(*strings));
	if (!strings)
		return NULL;
	sym->strings = strings;
	copy = arena_alloc(sym, len + 1);
	if (!copy)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	if (htable_insert(&sym->strings_index, hash, (uint32_t)sym->nstrings) < 0)
		return NULL;
	sym->strings[sym->nstrings++] = (struct interned){ .s = copy, .len = len };
	return copy;
}

/*
 * Runtime address = ELF address + bias. For a file, the bias of @addr with
 * its own file offset: where two segments share a file page, that picks the
 * segment whose bytes are at @addr, which the mapping's start cannot. The
 * vdso's mapping offset means nothing, but the kernel maps the image whole,
 * lowest segment first.
 */
static int object_bias(const struct elf_file *ef, const struct mapping *m, bool vdso,
		       uint64_t addr, uint64_t *bias)
{
	uint64_t lo, hi;

	if (!vdso)
		return elf_file_load_bias(ef, addr, addr - m->start + m->offset, bias);
	elf_file_vaddr_range(ef, &lo, &hi);
	*bias = m->start - lo;
	return 0;
}

/* Name kernel address @addr from /proc/kallsyms, read once. */
static void name_kernel(struct symbolizer *sym, uint64_t addr, struct frame *f)
{
	const char *name;

	f->function = "[kernel]";
	f->module = "[kernel.kallsyms]";
	f->kind = FRAME_KERNEL;
	if (!sym->kernel_tried) {
		char level[16] = "?";

		sym->kernel_tried = true;
		sym->kernel = kallsyms_load("/proc/kallsyms");
		if (!sym->kernel && errno == EACCES) {
			procfs_read_small("/proc/sys/kernel/kptr_restrict", level, sizeof(level));
			log_warn("kernel symbols are hidden (kernel.kptr_restrict = %s): kernel "
				 "frames are shown as [kernel] \xe2\x80\x94 run as root, or "
				 "sysctl -w kernel.kptr_restrict=0", level);
		} else if (!sym->kernel) {
			log_warn("cannot read /proc/kallsyms: %s: kernel frames are shown "
				 "as [kernel]", strerror(errno));
		}
	}
	name = sym->kernel ? kallsyms_lookup(sym->kernel, addr) : NULL;
	if (name && (name = intern(sym, name)))
		f->function = name;
}

void symbolizer_set_pycodes(struct symbolizer *sym, const struct pycodes *codes)
{
	sym->pycodes = codes;
}

void symbolizer_set_demangle(struct symbolizer *sym, bool on)
{
	sym->no_demangle = !on;
}

void symbolizer_set_debug_cache(struct symbolizer *sym, struct debug_cache *dc)
{
	sym->debug_cache = dc;
}

void symbolizer_add_debug_dir(struct symbolizer *sym, const char *dir)
{
	if (sym->ndebug_dirs < DEBUG_DIRS_MAX - 1)
		sym->debug_dirs[sym->ndebug_dirs++] = dir;
}

/* The directories to search, the user's first, DEBUG_ROOT last. */
static size_t debug_dirs(const struct symbolizer *sym, const char **dirs)
{
	size_t n = 0;

	for (size_t i = 0; i < sym->ndebug_dirs; i++)
		dirs[n++] = sym->debug_dirs[i];
	dirs[n++] = DEBUG_ROOT;
	return n;
}

/* The separate debug file of @ef by its build-id under @dir, or NULL. */
static struct elf_file *debug_by_build_id(const struct elf_file *ef, const char *dir)
{
	char path[PATH_MAX_LEN];
	const uint8_t *id;
	size_t n = elf_file_build_id(ef, &id), len;
	int w;

	if (n < 2 || n > 64)
		return NULL;
	w = snprintf(path, sizeof(path), "%s/.build-id/%02x/", dir, id[0]);
	if (w < 0 || (size_t)w + 2 * n + 8 > sizeof(path))
		return NULL;
	len = (size_t)w;
	for (size_t i = 1; i < n; i++)
		len += (size_t)snprintf(path + len, sizeof(path) - len, "%02x", id[i]);
	snprintf(path + len, sizeof(path) - len, ".debug");
	return elf_file_open(path);
}

/* CRC-32 (IEEE 802.3, reflected), the checksum .gnu_debuglink carries. */
static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc >> 1 ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

static int file_crc32(const char *path, uint32_t *crc)
{
	unsigned char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (fd < 0)
		return -errno;
	*crc = 0;
	while ((got = read(fd, buf, sizeof(buf))) > 0)
		*crc = crc32_update(*crc, buf, (size_t)got);
	close(fd);
	return got < 0 ? -EIO : 0;
}

/* The file name and CRC of @ef's .gnu_debuglink section. */
static int debuglink(const struct elf_file *ef, char *name, size_t size, uint32_t *crc)
{
	Elf *elf = elf_file_elf(ef);
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (!elf || elf_getshdrstrndx(elf, &shstrndx) != 0)
		return -ENOENT;
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		const char *sname;
		Elf_Data *d;
		size_t len;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		sname = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!sname || strcmp(sname, ".gnu_debuglink") != 0)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || d->d_size < 8)
			return -ENOENT;
		len = strnlen(d->d_buf, d->d_size);
		/* NUL-terminated name, padded to 4 bytes, then the CRC. */
		if (len == 0 || len >= size || ((len + 4) & ~(size_t)3) + 4 > d->d_size ||
		    memchr(d->d_buf, '/', len))
			return -ENOENT;
		memcpy(name, d->d_buf, len);
		name[len] = '\0';
		memcpy(crc, (const char *)d->d_buf + ((len + 4) & ~(size_t)3), 4);
		return 0;
	}
	return -ENOENT;
}

/* The separate debug file named by @ef's .gnu_debuglink, whose CRC matches,
 * in the user's directories, beside @path (the object's file), in its
 * .debug/ subdirectory, or under DEBUG_ROOT + its directory. */
static struct elf_file *debug_by_link(const struct symbolizer *sym, const struct elf_file *ef,
				      const char *path)
{
	char name[256], dir[PATH_MAX_LEN], cand[PATH_MAX_LEN];
	const char *slash = path ? strrchr(path, '/') : NULL;
	const char *dirs[DEBUG_DIRS_MAX];
	size_t ndirs = 0;
	uint32_t want, got = 0;

	if (debuglink(ef, name, sizeof(name), &want) < 0)
		return NULL;
	for (size_t i = 0; i < sym->ndebug_dirs; i++)
		dirs[ndirs++] = sym->debug_dirs[i];
	for (size_t i = 0; i < ndirs + 3; i++) {
		int w;

		if (i < ndirs)
			w = snprintf(cand, sizeof(cand), "%s/%s", dirs[i], name);
		else if (!slash)
			break;
		else {
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
			w = i == ndirs ? snprintf(cand, sizeof(cand), "%s/%s", dir, name) :
			    i == ndirs + 1 ? snprintf(cand, sizeof(cand), "%s/.debug/%s", dir, name) :
			    snprintf(cand, sizeof(cand), "%s%s/%s", DEBUG_ROOT, dir, name);
		}
		if (w < 0 || (size_t)w >= sizeof(cand) || (path && strcmp(cand, path) == 0))
			continue;
		if (file_crc32(cand, &got) == 0 && got == want)
			return elf_file_open(cand);
	}
	return NULL;
}

/* The debug information of @ef, looked for once. NULL only without memory. */
static const struct debug_info *debug_of(struct symbolizer *sym, const struct elf_file *ef,
				       const char *path)
{
	const char *dirs[DEBUG_DIRS_MAX];
	size_t ndirs;
	struct debug_info *d;

	for (size_t i = 0; i < sym->ndebug; i++)
		if (sym->debug[i].ef == ef)
			return &sym->debug[i];
	d = array_grow(sym->debug, &sym->debug_cap, sym->ndebug + 1, sizeof(*d));
	if (!d)
		return NULL;
	sym->debug = d;
	d = &sym->debug[sym->ndebug++];
	*d = (struct debug_info){ .ef = ef };
	/* An object with its own compressed DWARF (-gz) is read from its
	 * inflated copy, which has its symbols too. */
	d->debug_file = debug_cache_open(sym->debug_cache, ef);
	d->lines = dwarf_lines_open(elf_file_elf(d->debug_file ? d->debug_file : ef));
	if (d->lines)
		return d;
	elf_file_free(d->debug_file);
	d->debug_file = NULL;
	ndirs = debug_dirs(sym, dirs);
	for (size_t i = 0; i < ndirs && !d->debug_file; i++)
		d->debug_file = debug_by_build_id(ef, dirs[i]);
	if (!d->debug_file)
		d->debug_file = debug_by_link(sym, ef, path);
	if (d->debug_file) {
		struct elf_file *inflated = debug_cache_open(sym->debug_cache, d->debug_file);

		if (inflated) {
			elf_file_free(d->debug_file);
			d->debug_file = inflated;
		}
		d->lines = dwarf_lines_open(elf_file_elf(d->debug_file));
	}
	return d;
}

char *symbol_demangle(const char *name)
{
	if (name[0] != '_' || (name[1] != 'Z' && name[1] != 'R'))
		return NULL;
	return cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
}

/*
 * Without DMGL_PARAMS, libiberty prints a function's name alone, its
 * qualifiers and template arguments kept (parentheses inside them too:
 * "A::f<int ()>", "operator()", "operator<<"), return type and parameter
 * list dropped, as perf prints names by default. It also drops the clone
 * suffixes, which only a full demangling parses ("[clone .constprop.0]"
 * names a copy of the function that GCC specialised): those are taken
 * from the full form and put back.
 */
char *symbol_demangle_short(const char *name)
{
	char *full = symbol_demangle(name), *bare, *out;
	const char *clone;
	size_t blen, clen;

	if (!full)
		return NULL;
	bare = cplus_demangle(name, DMGL_ANSI | DMGL_AUTO);
	if (!bare || !bare[0]) {
		free(bare);
		return full;
	}
	clone = strstr(full, " [clone .");
	if (!clone || strstr(bare, " [clone .")) {
		free(full);
		return bare;
	}
	blen = strlen(bare);
	clen = strlen(clone);
	out = malloc(blen + clen + 1);
	if (out) {
		memcpy(out, bare, blen);
		memcpy(out + blen, clone, clen + 1);
	}
	free(bare);
	free(full);
	return out;
}

void symbolizer_set_full_filenames(struct symbolizer *sym, bool on)
{
	sym->full_filenames = on;
}

void symbolizer_set_full_names(struct symbolizer *sym, bool on)
{
	sym->full_names = on;
}

/*
 * A symbol's name as shown: without a symbol version ("memcpy@@GLIBC_2.14"),
 * and demangled when it is a C++ (_Z) or Rust (_ZN...17h...E, _R) name,
 * without return and parameter types unless full names were asked for. A
 * PLT entry's "@plt" (elf_file.h) stays, after the demangled name.
 * Interned; NULL without memory.
 */
static const char *symbol_name(struct symbolizer *sym, const char *raw,
			       const char **signature)
{
	char plain[NAME_MAX_LEN + 1], shown[NAME_MAX_LEN + 8];
	const char *name = raw, *at = strchr(raw, '@');
	bool plt = at && strcmp(at, "@plt") == 0;
	char *dem = NULL, *full = NULL;

	*signature = NULL;
	if (at && at != raw) {
		snprintf(plain, sizeof(plain), "%.*s", (int)(at - raw), raw);
		name = plain;
	}
	if (!sym->no_demangle) {
		full = symbol_demangle(name);
		dem = full && !sym->full_names ? symbol_demangle_short(name) : NULL;
		if (!dem) {
			dem = full;
			full = NULL;
		}
	}
	if (plt) {
		snprintf(shown, sizeof(shown), "%.*s@plt", NAME_MAX_LEN - 4, dem ? dem : name);
		name = intern(sym, shown);
		if (full) {
			snprintf(shown, sizeof(shown), "%.*s@plt", NAME_MAX_LEN - 4, full);
			*signature = intern(sym, shown);
		}
	} else {
		name = intern(sym, dem ? dem : name);
		*signature = full ? intern(sym, full) : NULL;
	}
	if (*signature && name && strcmp(*signature, name) == 0)
		*signature = NULL;
	free(full);
	free(dem);
	return name;
}

/* Name, file and line of @addr in file @ef at @vaddr: the frames the
 * address stands for, innermost first, in @fr; returns how many. */
static size_t name_in_file(struct symbolizer *sym, struct elf_file *ef, const char *path,
			   uint64_t vaddr, struct frame *fr)
{
	struct src_place places[FRAMES_MAX];
	const struct debug_info *d = debug_of(sym, ef, path);
	const char *name = NULL, *signature = NULL;
	size_t n = 0;

	/* A debug file has the full symbol table that a stripped file lacks. */
	if (d && d->debug_file)
		name = elf_file_symbol(d->debug_file, vaddr, NULL);
	if (!name)
		name = elf_file_symbol(ef, vaddr, NULL);
	if (name && !(name = symbol_name(sym, name, &signature)))
		return 0;
	if (d && d->lines)
		n = dwarf_lines_lookup(d->lines, vaddr, places, FRAMES_MAX);
	if (n == 0) {
		places[0] = (struct src_place){ 0 };
		n = 1;
	}
	/* Without a symbol, only an inlined place can name the outermost. */
	if (!name && !places[n - 1].function)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const char *fn = places[i].function;

		fr[i].kind = fn ? FRAME_INLINED : FRAME_NATIVE;
		fr[i].signature = signature;
		fr[i].function = fn ? symbol_name(sym, fn, &fr[i].signature) : name;
		if (!fr[i].function)
			fr[i].function = unknown_frame.function;
		fr[i].file = places[i].file ? intern(sym, places[i].file) : NULL;
		fr[i].line = fr[i].file ? places[i].line : 0;
	}
	if (places[n - 1].function)
		fr[n - 1].kind = FRAME_NATIVE;   /* cut at FRAMES_MAX: the last is real */
	return n;
}

/*
 * The JIT symbols of process @p: /tmp/perf-PID.map (or the same path in the
 * process's own root, for a container), read once, and only when its owner
 * is root or the process's user: /tmp is writable by anyone.
 */
static const struct perfmap *jit_map(struct proc *p)
{
	char path[64], root_path[96], proc_dir[32];
	const char *paths[2] = { path, root_path };
	struct stat st, owner;

	if (p->jit_tried)
		return p->jit;
	p->jit_tried = true;
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)p->pid);
	snprintf(root_path, sizeof(root_path), "/proc/%d/root/tmp/perf-%d.map", (int)p->pid,
		 (int)p->pid);
	snprintf(proc_dir, sizeof(proc_dir), "/proc/%d", (int)p->pid);
	for (int i = 0; i < 2 && !p->jit; i++) {
		if (stat(paths[i], &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (st.st_uid != 0 && (stat(proc_dir, &owner) != 0 || owner.st_uid != st.st_uid)) {
			log_warn("%s is not owned by the process's user or root: its JIT "
				 "symbols are not used", paths[i]);
			continue;
		}
		p->jit = perfmap_load(paths[i]);
	}
	return p->jit;
}

/* A CPython frame: the code object's name and file from the reader's
 * table, the line decoded from its line table at the instruction. */
static void name_python(const struct symbolizer *sym, uint64_t addr, struct frame *f)
{
	uint32_t id = addrspace_python_code(addr);
	const struct pycode *code = pycodes_get(sym->pycodes, id);
	int line;

	f->function = "[python]";
	if (!code)
		return;
	line = pycodes_line(sym->pycodes, id, addrspace_python_index(addr));
	f->function = code->name[0] ? code->name : "[python]";
	f->module = sym->full_filenames && code->file[0] ? code->file : code->short_file;
	f->file = code->file[0] ? code->file : NULL;
	f->line = line > 0 ? (unsigned)line : 0;
	f->kind = FRAME_PYTHON;
}

/* Fill @fr (room for FRAMES_MAX) for @addr; returns how many frames. Every
 * string is a literal or interned. */
static size_t name_address(struct symbolizer *sym, pid_t pid, uint64_t addr,
			   struct frame *fr)
{
	char buf[NAME_MAX_LEN + 32];
	const struct mapping *m;
	const char *module, *name;
	struct elf_file *ef;
	struct proc *p;
	uint64_t bias;
	size_t n;
	bool vdso;

	fr[0] = unknown_frame;
	switch (addrspace_of(addr)) {
	case ADDR_SPACE_MARKER:
		fr[0].kind = FRAME_MARKER;
		if (addr == PROFILE_ADDR_TRUNCATED)
			fr[0].function = "[truncated]";
		return 1;
	case ADDR_SPACE_KERNEL:
		name_kernel(sym, addr, &fr[0]);
		return 1;
	case ADDR_SPACE_PYTHON:
		name_python(sym, addr, &fr[0]);
		return 1;
	case ADDR_SPACE_USER:
		break;
	}
	/* The mappings of the program that ran the code (its image), and the
	 * address within them. */
	p = proc_find(sym, pid, addrspace_user_image(addr));
	addr = addrspace_user_address(addr);
	m = p && p->maps ? maps_find(p->maps, addr) : NULL;
	if (!m)
		return 1;
	vdso = strcmp(m->path, "[vdso]") == 0;
	if (!vdso && !mapping_is_file(m)) {
		/* Anonymous code: a JIT's, named by its perf map if it has one. */
		const char *jit = jit_map(p) ? perfmap_lookup(p->jit, addr) : NULL;

		if (jit && (jit = intern(sym, jit))) {
			fr[0].function = jit;
			fr[0].kind = FRAME_JIT;
			fr[0].module = "[jit]";
			return 1;
		}
		/* No name, but the code keeps its identity: which region it
		 * runs in (JIT code, a trampoline), not a bare [unknown]. The
		 * region's start, not the address, so that samples in one
		 * region add up; dump's JSON gives each frame's address. */
		if (!(m->prot & MAP_PROT_EXEC))
			return 1;
		if (m->path[0])
			snprintf(buf, sizeof(buf), "%s", m->path);
		else
			snprintf(buf, sizeof(buf), "[anon:0x%" PRIx64 "]", m->start);
		name = intern(sym, buf);
		if (name) {
			fr[0].function = name;
			fr[0].module = "[anon]";
		}
		return 1;
	}
	module = intern(sym, mapping_module(m));
	if (!module)
		return 1;

	ef = elf_cache_get(sym->cache, pid, m);
	if (ef && object_bias(ef, m, vdso, addr, &bias) == 0) {
		n = name_in_file(sym, ef, vdso ? NULL : m->path, addr - bias, fr);
		for (size_t i = 0; i < n; i++)
			fr[i].module = module;
		if (n)
			return n;
	}
	/* No symbol: the file offset still finds the place with objdump. */
	fr[0] = unknown_frame;
	fr[0].module = module;
	snprintf(buf, sizeof(buf), "%s+0x%" PRIx64, module, addr - m->start + m->offset);
	name = intern(sym, buf);
	if (name)
		fr[0].function = name;
	return 1;
}

size_t symbolizer_resolve(struct symbolizer *sym, pid_t pid, uint64_t addr,
			  const struct frame **frames)
{
	struct frame local[FRAMES_MAX], *f;
	uint64_t hash = addr_hash(pid, addr);
	struct htable_iter it;
	struct resolved *r;
	size_t n;

	for (uint32_t i = htable_find(&sym->resolved_index, hash, &it); i != HTABLE_NONE;
	     i = htable_next(&sym->resolved_index, &it)) {
		r = &sym->resolved[i];
		if (r->addr == addr && r->pid == pid) {
			*frames = r->frames;
			return r->n;
		}
	}
	/* Room before naming: short of memory, the address is "[unknown]"
	 * without the cost of reading its ELF file. */
	r = array_grow(sym->resolved, &sym->resolved_cap, sym->nresolved + 1, sizeof(*r));
	if (!r) {
		*frames = &unknown_frame;
		return 1;
	}
	sym->resolved = r;
	n = name_address(sym, pid, addr, local);
	f = arena_alloc(sym, n * sizeof(*f));
	if (!f || htable_insert(&sym->resolved_index, hash, (uint32_t)sym->nresolved) < 0) {
		*frames = &unknown_frame;
		return 1;
	}
	memcpy(f, local, n * sizeof(*f));
	sym->resolved[sym->nresolved++] = (struct resolved){
		.addr = addr, .pid = pid, .n = (uint32_t)n, .frames = f,
	};
	*frames = f;
	return n;
}

const struct mapping *symbolizer_mapping(struct symbolizer *sym, pid_t pid, uint64_t addr,
					 const uint8_t **build_id, size_t *build_id_len)
{
	struct proc *p = proc_find(sym, pid, addrspace_user_image(addr));
	const struct mapping *m;
	struct elf_file *ef;

	if (build_id) {
		*build_id = NULL;
		*build_id_len = 0;
	}
	if (addrspace_of(addr) != ADDR_SPACE_USER || !p || !p->maps)
		return NULL;
	m = maps_find(p->maps, addrspace_user_address(addr));
	if (!m || !build_id || !mapping_is_file(m))
		return m;
	/* The file is open already when an address of it was named. */
	ef = elf_cache_get(sym->cache, pid, m);
	if (ef)
		*build_id_len = elf_file_build_id(ef, build_id);
	return m;
}
