/*
 * procfs.h - reading files of /proc (and /sys). Their size reads as 0, so
 * they are read until EOF; small ones (a number, a name) into a buffer.
 */
#ifndef HOTSPY_PROCFS_H
#define HOTSPY_PROCFS_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Read the file at @path whole into a malloc'd buffer (*@out, not
 * NUL-terminated, *@len bytes; the caller frees it). 0 or -errno.
 */
int procfs_read(const char *path, char **out, size_t *len);

/*
 * Read at most @size - 1 bytes of a small file into @buf, NUL-terminated,
 * one trailing newline removed. Returns the length or -errno.
 */
ssize_t procfs_read_small(const char *path, char *buf, size_t size);

#endif
