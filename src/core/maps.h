/*
 * maps.h - the memory mappings of a process, as /proc/PID/maps lists them.
 *
 * A struct maps is an immutable, sorted array of mappings. It is reference
 * counted because the tracer replaces its copy when the target maps new code
 * while the symbolizer may still hold the old one: maps_ref() takes a
 * reference, maps_free() drops one.
 */
#ifndef HOTSPY_MAPS_H
#define HOTSPY_MAPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MAP_PROT_READ  0x1u
#define MAP_PROT_WRITE 0x2u
#define MAP_PROT_EXEC  0x4u
#define MAP_SHARED_    0x8u  /* 's' in the flags column (else private) */

struct mapping {
	uint64_t start;      /* first address */
	uint64_t end;        /* one past the last address */
	uint64_t offset;     /* file offset of @start */
	uint64_t inode;
	uint32_t dev_major;
	uint32_t dev_minor;
	unsigned prot;       /* MAP_PROT_* | MAP_SHARED_ */
	const char *path;    /* "" when anonymous; "[stack]", "[vdso]", ...;
	                      * " (deleted)" suffix kept as the kernel prints it;
	                      * owned by the maps */
};

struct maps;

/*
 * Parse the text of a maps file (@len bytes, need not be NUL-terminated).
 * Lines that do not parse are skipped and counted (maps_bad_lines). Returns
 * NULL with errno set only on allocation failure. Safe on any input: this is
 * a fuzz target.
 */
struct maps *maps_parse(const char *text, size_t len);

/* Read and parse /proc/PID/maps. Returns 0 or -errno (-ESRCH, -EACCES...). */
int maps_read(pid_t pid, struct maps **out);
/* As maps_read, from /proc/PID/task/TID/maps: the maps of a process whose
 * main thread has exited (its own maps file is empty) seen through a live
 * thread @tid. */
int maps_read_thread(pid_t pid, pid_t tid, struct maps **out);

/* The mapping that contains @addr, or NULL. O(log n). */
const struct mapping *maps_find(const struct maps *maps, uint64_t addr);

size_t maps_count(const struct maps *maps);
const struct mapping *maps_at(const struct maps *maps, size_t i);
size_t maps_bad_lines(const struct maps *maps);

/* Basename of a mapping's path ("libc.so.6"), or the path itself for
 * pseudo-paths ("[vdso]"), or "[anon]" when anonymous. Never NULL. */
const char *mapping_module(const struct mapping *m);

/* True for a mapping backed by a regular file (path starts with '/'). */
int mapping_is_file(const struct mapping *m);

struct maps *maps_ref(struct maps *maps);
/* Drop a reference; frees on the last one. Accepts NULL. */
void maps_free(struct maps *maps);

#endif
