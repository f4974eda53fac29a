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

/* What top(1) shows of a process. */
struct proc_usage {
	unsigned long long cpu_ticks;   /* utime + stime, clock ticks (_SC_CLK_TCK) */
	unsigned long long rss_bytes;
	unsigned threads;               /* tasks in /proc/PID/task */
	unsigned running;               /* of which in state R */
};

/*
 * Fields "utime" and "stime" of a /proc/PID/stat line: the sum in *@ticks.
 * The name in parentheses may hold anything, ')' included. 0 or -EINVAL.
 */
int procfs_parse_stat_cpu(const char *text, size_t len, unsigned long long *ticks);

/* Read @pid's usage. 0, or -errno (-ENOENT once the process is gone). */
int procfs_proc_usage(pid_t pid, struct proc_usage *u);

#endif
