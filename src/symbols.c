#include "symbols.h"
#include "hash.h"

#include <errno.h>
#include <inttypes.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kallsyms.h"
#include "log.h"
#include "procfs.h"
#include "profile.h"

#include "banned.h"

/*
 * Names come from the target: keep at most this many bytes of each. Long
 * enough for mangled C++ names, short enough that a hostile string table
 * cannot fill memory.
 */
#define NAME_MAX_LEN 1024

#define ARENA_CHUNK (64 * 1024)

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
	struct maps *maps;
};

/* A slot of the (pid, addr) table; empty while @frames is NULL. */
struct resolved {
	uint64_t addr;
	pid_t pid;
	uint32_t n;
	const struct frame *frames;
};

/* A slot of the string table; empty while @s is NULL. */
struct interned {
	uint64_t hash;
	const char *s;
};

struct symbolizer {
	struct elf_cache *cache;
	struct chunk *chunks;

	struct proc *procs;
	size_t nprocs, procs_cap;

	/* Open addressing, linear probing, at most half full. */
	struct resolved *resolved;
	size_t resolved_mask, nresolved;

	/* Every name once: the many addresses of one function share it. */
	struct interned *strings;
	size_t strings_mask, nstrings;

	/* Kernel symbols, read at the first kernel address. */
	struct kallsyms *kernel;
	bool kernel_tried;
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
	sym->resolved_mask = 1023;
	sym->strings_mask = 255;
	sym->resolved = calloc(sym->resolved_mask + 1, sizeof(*sym->resolved));
	sym->strings = calloc(sym->strings_mask + 1, sizeof(*sym->strings));
	if (!sym->resolved || !sym->strings) {
		symbolizer_free(sym);
		errno = ENOMEM;
		return NULL;
	}
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
	for (size_t i = 0; i < sym->nprocs; i++)
		maps_free(sym->procs[i].maps);
	kallsyms_free(sym->kernel);
	free(sym->procs);
	free(sym->resolved);
	free(sym->strings);
	free(sym);
}

static struct proc *proc_find(struct symbolizer *sym, pid_t pid)
{
	for (size_t i = 0; i < sym->nprocs; i++) {
		if (sym->procs[i].pid == pid)
			return &sym->procs[i];
	}
	return NULL;
}

void symbolizer_set_maps(struct symbolizer *sym, pid_t pid, struct maps *maps)
{
	struct proc *p = proc_find(sym, pid);

	if (!p) {
		if (sym->nprocs == sym->procs_cap) {
			size_t cap = sym->procs_cap ? sym->procs_cap * 2 : 4;
			struct proc *bigger = realloc(sym->procs, cap * sizeof(*bigger));

			/* Without room the process stays unknown: its
			 * addresses resolve to "[unknown]". */
			if (!bigger)
				return;
			sym->procs = bigger;
			sym->procs_cap = cap;
		}
		p = &sym->procs[sym->nprocs++];
		*p = (struct proc){ .pid = pid };
	}
	maps_ref(maps);
	maps_free(p->maps);
	p->maps = maps;
}

static int strings_grow(struct symbolizer *sym)
{
	size_t mask = sym->strings_mask * 2 + 1;
	struct interned *slots;

	if ((sym->nstrings + 1) * 2 <= sym->strings_mask + 1)
		return 0;
	slots = calloc(mask + 1, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i <= sym->strings_mask; i++) {
		size_t s;

		if (!sym->strings[i].s)
			continue;
		s = sym->strings[i].hash & mask;
		while (slots[s].s)
			s = (s + 1) & mask;
		slots[s] = sym->strings[i];
	}
	free(sym->strings);
	sym->strings = slots;
	sym->strings_mask = mask;
	return 0;
}

/* The symbolizer's copy of @s, cut to NAME_MAX_LEN bytes, or NULL when out
 * of memory. */
static const char *intern(struct symbolizer *sym, const char *s)
{
	size_t len = strnlen(s, NAME_MAX_LEN);
	uint64_t hash = hash_bytes(s, len);
	struct interned *slot;
	char *copy;
	size_t i;

	if (strings_grow(sym) < 0)
		return NULL;
	for (i = hash & sym->strings_mask; sym->strings[i].s; i = (i + 1) & sym->strings_mask) {
		slot = &sym->strings[i];
		if (slot->hash == hash && strncmp(slot->s, s, len) == 0 && slot->s[len] == '\0')
			return slot->s;
	}
	copy = arena_alloc(sym, len + 1);
	if (!copy)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	sym->strings[i] = (struct interned){ .hash = hash, .s = copy };
	sym->nstrings++;
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

/* Fill @f for @addr. Every string is a literal or interned. */
static void name_address(struct symbolizer *sym, pid_t pid, uint64_t addr,
			 struct frame *f)
{
	char buf[NAME_MAX_LEN + 32];
	const struct mapping *m;
	const char *module, *name;
	struct elf_file *ef;
	struct proc *p;
	uint64_t bias;
	bool vdso;

	*f = unknown_frame;
	if (profile_addr_is_marker(addr)) {
		f->kind = FRAME_MARKER;
		if (addr == PROFILE_ADDR_TRUNCATED)
			f->function = "[truncated]";
		return;
	}
	if (addr >= KALLSYMS_KERNEL_MIN) {
		name_kernel(sym, addr, f);
		return;
	}
	p = proc_find(sym, pid);
	m = p && p->maps ? maps_find(p->maps, addr) : NULL;
	if (!m)
		return;
	vdso = strcmp(m->path, "[vdso]") == 0;
	if (!vdso && !mapping_is_file(m))
		return;
	module = intern(sym, mapping_module(m));
	if (!module)
		return;
	f->module = module;

	ef = elf_cache_get(sym->cache, pid, m);
	if (ef && object_bias(ef, m, vdso, addr, &bias) == 0) {
		name = elf_file_symbol(ef, addr - bias, NULL);
		if (name && (name = intern(sym, name))) {
			f->function = name;
			f->kind = FRAME_NATIVE;
			return;
		}
	}
	/* No symbol: the file offset still finds the place with objdump. */
	snprintf(buf, sizeof(buf), "%s+0x%" PRIx64, module, addr - m->start + m->offset);
	name = intern(sym, buf);
	if (name)
		f->function = name;
}

static int resolved_grow(struct symbolizer *sym)
{
	size_t mask = sym->resolved_mask * 2 + 1;
	struct resolved *slots;

	if ((sym->nresolved + 1) * 2 <= sym->resolved_mask + 1)
		return 0;
	slots = calloc(mask + 1, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i <= sym->resolved_mask; i++) {
		const struct resolved *r = &sym->resolved[i];
		size_t s;

		if (!r->frames)
			continue;
		s = addr_hash(r->pid, r->addr) & mask;
		while (slots[s].frames)
			s = (s + 1) & mask;
		slots[s] = *r;
	}
	free(sym->resolved);
	sym->resolved = slots;
	sym->resolved_mask = mask;
	return 0;
}

size_t symbolizer_resolve(struct symbolizer *sym, pid_t pid, uint64_t addr,
			  const struct frame **frames)
{
	struct resolved *r;
	struct frame *f;
	size_t i;

	if (resolved_grow(sym) < 0) {
		*frames = &unknown_frame;
		return 1;
	}
	for (i = addr_hash(pid, addr) & sym->resolved_mask; sym->resolved[i].frames;
	     i = (i + 1) & sym->resolved_mask) {
		r = &sym->resolved[i];
		if (r->addr == addr && r->pid == pid) {
			*frames = r->frames;
			return r->n;
		}
	}
	f = arena_alloc(sym, sizeof(*f));
	if (!f) {
		*frames = &unknown_frame;
		return 1;
	}
	name_address(sym, pid, addr, f);
	sym->resolved[i] = (struct resolved){ .addr = addr, .pid = pid, .n = 1, .frames = f };
	sym->nresolved++;
	*frames = f;
	return 1;
}
