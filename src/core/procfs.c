#include "procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

int procfs_read(const char *path, char **out, size_t *out_len)
{
	size_t cap = 16384, len = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *bigger = realloc(buf, cap * 2);

			if (!bigger) {
				err = -ENOMEM;
				goto fail;
			}
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	*out = buf;
	*out_len = len;
	return 0;

fail:
	close(fd);
	free(buf);
	return err;
}

ssize_t procfs_read_small(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0) {
		n = -errno;
	} else {
		buf[n] = '\0';
		if (n > 0 && buf[n - 1] == '\n')
			buf[--n] = '\0';
	}
	close(fd);
	return n;
}

int procfs_parse_stat_cpu(const char *text, size_t len, unsigned long long *ticks)
{
	const char *p = NULL, *end = text + len;
	unsigned long long v[2];
	int field = 3;          /* the state, after "pid (comm) " */

	for (const char *q = text; q < end; q++)
		if (*q == ')')
			p = q;
	if (!p || p + 2 >= end)
		return -EINVAL;
	p += 2;
	/* utime and stime are fields 14 and 15 (1-based, see proc(5)). */
	while (p < end && field < 14) {
		if (*p++ == ' ')
			field++;
	}
	for (int i = 0; i < 2; i++) {
		unsigned long long n = 0;

		if (p >= end || *p < '0' || *p > '9')
			return -EINVAL;
		while (p < end && *p >= '0' && *p <= '9')
			n = n * 10 + (unsigned long long)(*p++ - '0');
		v[i] = n;
		if (p < end && *p == ' ')
			p++;
	}
	*ticks = v[0] + v[1];
	return 0;
}

int procfs_proc_usage(pid_t pid, struct proc_usage *u)
{
	char path[64], buf[1024];
	unsigned long long pages = 0, size = 0;
	struct dirent *de;
	ssize_t n;
	DIR *dir;

	memset(u, 0, sizeof(*u));
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	n = procfs_read_small(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if (procfs_parse_stat_cpu(buf, (size_t)n, &u->cpu_ticks) < 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if (procfs_read_small(path, buf, sizeof(buf)) > 0 &&
	    sscanf(buf, "%llu %llu", &size, &pages) == 2)
		u->rss_bytes = pages * (unsigned long long)sysconf(_SC_PAGESIZE);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir)) != NULL) {
		const char *close_paren;
		char tpath[320];

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(tpath, sizeof(tpath), "/proc/%d/task/%s/stat", (int)pid, de->d_name);
		n = procfs_read_small(tpath, buf, sizeof(buf));
		if (n <= 0)
			continue;
		u->threads++;
		close_paren = strrchr(buf, ')');
		if (close_paren && close_paren[1] == ' ' && close_paren[2] == 'R')
			u->running++;
	}
	closedir(dir);
	return 0;
}
