/*
 * elf_cache.h - ELF objects of a target, opened once per file.
 *
 * Files are keyed by device and inode as the maps report them, so the same
 * library mapped by two processes, or under two names, is opened once. When
 * the path no longer names the mapped file (deleted, replaced, another mount
 * namespace) the file is opened through /proc/PID/map_files or
 * /proc/PID/root. Failures are remembered too: a file that cannot be opened
 * is tried once.
 */
#ifndef HOTSPY_ELF_CACHE_H
#define HOTSPY_ELF_CACHE_H

#include <sys/types.h>

#include "elf_file.h"
#include "maps.h"

struct elf_cache;

struct elf_cache *elf_cache_new(void);   /* NULL with errno */
void elf_cache_free(struct elf_cache *cache);  /* accepts NULL; frees the files */

/*
 * The ELF object behind file-backed mapping @m of process @pid, or NULL
 * (anonymous mapping, unreadable or not ELF, or memory short). Owned by
 * the cache.
 * [vdso] is not a file: it is registered with elf_cache_put_vdso.
 */
struct elf_file *elf_cache_get(struct elf_cache *cache, pid_t pid,
			       const struct mapping *m);

/* Register the vdso image of @pid (ownership of @ef passes to the cache);
 * elf_cache_get returns it for that process's [vdso] mapping. */
void elf_cache_put_vdso(struct elf_cache *cache, pid_t pid, struct elf_file *ef);

#endif
