#include "elf_cache.h"
#include "array.h"
#include "hash.h"
#include "htable.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "log.h"

#include "banned.h"

#define DELETED_SUFFIX " (deleted)"

struct file_key {
	uint64_t inode;
	uint32_t dev_major;
	uint32_t dev_minor;
};

/* One file; @ef NULL when it could not be opened (tried once). */
struct entry {
	struct file_key key;
	struct elf_file *ef;
};

struct vdso {
	pid_t pid;
	struct elf_file *ef;
};

struct elf_cache {
	/* Every file asked for, in the order it was, indexed by its key. */
	struct entry *entries;
	size_t nentries, entries_cap;
	struct htable index;

	/* Every image registered, the newest last. Replaced images are kept:
	 * callers may still hold them. */
	struct vdso *vdsos;
	size_t nvdsos, vdsos_cap;
};

static uint64_t key_hash(const struct file_key *k)
{
	return hash_mix64(k->inode ^ hash_mix64((uint64_t)k->dev_major << 32 | k->dev_minor));
}

static bool key_equal(const struct file_key *a, const struct file_key *b)
{
	return a->inode == b->inode && a->dev_major == b->dev_major &&
	       a->dev_minor == b->dev_minor;
}

struct elf_cache *elf_cache_new(void)
{
	struct elf_cache *cache = calloc(1, sizeof(*cache));

	if (!cache)
		return NULL;
	cache->index = (struct htable)HTABLE_INIT;
	return cache;
}

void elf_cache_free(struct elf_cache *cache)
{
	if (!cache)
		return;
	for (size_t i = 0; i < cache->nentries; i++)
		elf_file_free(cache->entries[i].ef);
	for (size_t i = 0; i < cache->nvdsos; i++)
		elf_file_free(cache->vdsos[i].ef);
	free(cache->entries);
	htable_release(&cache->index);
	free(cache->vdsos);
	free(cache);
}

static struct entry *cache_find(const struct elf_cache *cache, const struct file_key *k,
				uint64_t hash)
{
	struct htable_iter it;

	for (uint32_t i = htable_find(&cache->index, hash, &it); i != HTABLE_NONE;
	     i = htable_next(&cache->index, &it)) {
		struct entry *e = &cache->entries[i];

		if (key_equal(&e->key, k))
			return e;
	}
	return NULL;
}

/* Open @path when it names the file the mapping maps (same device and
 * inode); NULL with errno ESTALE when it names another one. */
static struct elf_file *open_verified(const char *path, const struct mapping *m)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return NULL;
	if (st.st_ino != m->inode || major(st.st_dev) != m->dev_major ||
	    minor(st.st_dev) != m->dev_minor) {
		errno = ESTALE;
		return NULL;
	}
	return elf_file_open(path);
}

/*
 * The path first: it is the cheapest. When it names another file, or none,
 * the kernel's link to the mapped file itself (needs CAP_SYS_ADMIN), then
 * the path inside the target's mount namespace.
 */
static struct elf_file *open_mapped_file(pid_t pid, const struct mapping *m)
{
	const char *path = m->path;
	size_t len = strlen(path), suffix = strlen(DELETED_SUFFIX);
	struct elf_file *ef;
	char proc_path[4096 + 64];
	int n;

	ef = open_verified(path, m);
	if (ef)
		return ef;

	/* fs/proc/base.c names the links "%lx-%lx". */
	snprintf(proc_path, sizeof(proc_path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
		 (int)pid, m->start, m->end);
	ef = elf_file_open(proc_path);
	if (ef)
		return ef;

	if (len >= suffix && memcmp(path + len - suffix, DELETED_SUFFIX, suffix) == 0)
		len -= suffix;
	n = snprintf(proc_path, sizeof(proc_path), "/proc/%d/root%.*s", (int)pid,
		     (int)len, path);
	if (n < 0 || (size_t)n >= sizeof(proc_path))
		return NULL;
	return open_verified(proc_path, m);
}

static struct elf_file *vdso_find(const struct elf_cache *cache, pid_t pid)
{
	for (size_t i = cache->nvdsos; i > 0; i--) {
		if (cache->vdsos[i - 1].pid == pid)
			return cache->vdsos[i - 1].ef;
	}
	return NULL;
}

struct elf_file *elf_cache_get(struct elf_cache *cache, pid_t pid,
			       const struct mapping *m)
{
	struct file_key k = {
		.inode = m->inode, .dev_major = m->dev_major, .dev_minor = m->dev_minor,
	};
	uint64_t hash = key_hash(&k);
	struct entry *e;

	if (strcmp(m->path, "[vdso]") == 0)
		return vdso_find(cache, pid);
	if (!mapping_is_file(m))
		return NULL;
	e = cache_find(cache, &k, hash);
	if (e)
		return e->ef;
	e = array_grow(cache->entries, &cache->entries_cap, cache->nentries + 1, sizeof(*e));
	if (!e)
		return NULL;
	cache->entries = e;
	e = &cache->entries[cache->nentries];
	e->key = k;
	e->ef = open_mapped_file(pid, m);
	if (!e->ef)
		log_debug("no symbols for %s of process %d: %s", m->path, (int)pid,
			  strerror(errno));
	/* Not kept, the file would be opened again at each address. */
	if (htable_insert(&cache->index, hash, (uint32_t)cache->nentries) < 0) {
		elf_file_free(e->ef);
		return NULL;
	}
	cache->nentries++;
	return e->ef;
}

void elf_cache_put_vdso(struct elf_cache *cache, pid_t pid, struct elf_file *ef)
{
	struct vdso *bigger;

	if (!ef)
		return;
	bigger = array_grow(cache->vdsos, &cache->vdsos_cap, cache->nvdsos + 1,
			    sizeof(*bigger));
	/* The image is ours now: without room for it, it goes. */
	if (!bigger) {
		elf_file_free(ef);
		return;
	}
	cache->vdsos = bigger;
	cache->vdsos[cache->nvdsos++] = (struct vdso){ .pid = pid, .ef = ef };
}
