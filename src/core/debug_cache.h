/*
 * debug_cache.h - inflated copies of debug files, kept per build-id.
 *
 * Distributions ship debug files with their DWARF sections compressed
 * (SHF_COMPRESSED, zlib: Debian's libc6-dbg, every -dbgsym package), and
 * libdw inflates every one of them as soon as the file is opened
 * (dwarf_begin_elf): for libc's 4 MB file, 10 MB in ~90 ms of CPU, paid by
 * every recording that names one libc frame (the `__libc_start_main` at the
 * root of most stacks). This cache writes, once per build-id, a copy of such
 * a file in which the compressed sections are stored inflated, and hands
 * that copy out afterwards: its DWARF is mapped, never inflated again. The
 * same idea as perf's ~/.debug build-id cache and debuginfod's client cache.
 *
 * An entry is DIR/BUILDID.debug: the original file's bytes unchanged (so
 * every program header and every uncompressed section keeps its offset),
 * followed by the inflated sections and a new section header table that
 * points at them. An entry is used only when its build-id and every
 * section's type, address and size agree with the file it stands for (an
 * inflated section's size is the one its compression header states), so a
 * stale, truncated or foreign entry is rewritten, never read. Entries are
 * written to a temporary file and renamed into place, so readers and other
 * writers never see half of one. The directory is kept under a byte bound
 * by removing its least recently used entries (a hit refreshes the mtime).
 *
 * Nothing here is ever fatal: when the directory cannot be made or written,
 * or the file is not one the cache handles, the caller reads the original.
 */
#ifndef HOTSPY_DEBUG_CACHE_H
#define HOTSPY_DEBUG_CACHE_H

#include <stdint.h>

#include "elf_file.h"

struct debug_cache;

/* Default bound of a cache directory, in bytes (libc's entry is 14 MB). */
#define DEBUG_CACHE_MAX_BYTES (1024ull << 20)

/*
 * A cache in directory @dir (copied), holding at most @max_bytes of
 * entries. The directory is created (mode 0700, with its missing parents)
 * at the first entry written, not here. NULL with errno (EINVAL for an
 * empty or relative @dir, ENOMEM).
 */
struct debug_cache *debug_cache_new(const char *dir, uint64_t max_bytes);
void debug_cache_free(struct debug_cache *dc);   /* accepts NULL */

/*
 * The inflated copy of @ef (not owned), when @ef has a zlib-compressed
 * .debug_info section and a build-id (every compressed section is
 * inflated in the copy): opened from the cache when a valid
 * entry exists, else written there first. The caller owns the result
 * (elf_file_free). NULL with errno when there is no copy to give: ENOENT
 * (nothing compressed, no build-id), ENOTSUP (not a little-endian ELF64
 * file, or another compression), E2BIG (larger than the cache's bound),
 * or the error that stopped the write (EACCES, EROFS, ENOSPC...). The
 * caller then reads @ef as it is; none of these is an error to report.
 */
struct elf_file *debug_cache_open(struct debug_cache *dc, const struct elf_file *ef);

#endif
