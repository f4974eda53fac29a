#include "maps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"
#include "banned.h"

struct maps {
	atomic_uint refs;
	size_t count;
	size_t bad_lines;
	struct mapping *v;
	char *paths;            /* every path, NUL-terminated, back to back */
};

/* A cursor over one line; every read checks the bound, never a NUL. */
struct cursor {
	const char *p;
	const char *end;
};

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool parse_hex(struct cursor *c, uint64_t *out)
{
	uint64_t v = 0;
	int digits = 0;
	int d;

	while (c->p < c->end && (d = hex_digit(*c->p)) >= 0) {
		if (++digits > 16)
			return false;
		v = v << 4 | (uint64_t)d;
		c->p++;
	}
	*out = v;
	return digits > 0;
}

static bool parse_dec(struct cursor *c, uint64_t *out)
{
	uint64_t v = 0;
	int digits = 0;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		uint64_t d = (uint64_t)(*c->p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		digits++;
		c->p++;
	}
	*out = v;
	return digits > 0;
}

static bool expect(struct cursor *c, char ch)
{
	if (c->p >= c->end || *c->p != ch)
		return false;
	c->p++;
	return true;
}

static bool parse_perms(struct cursor *c, unsigned *prot)
{
	static const char yes[4] = { 'r', 'w', 'x', 's' };
	static const char no[4] = { '-', '-', '-', 'p' };
	static const unsigned bit[4] = {
		MAP_PROT_READ, MAP_PROT_WRITE, MAP_PROT_EXEC, MAP_SHARED_
	};

	if (c->end - c->p < 4)
		return false;
	*prot = 0;
	for (int i = 0; i < 4; i++) {
		if (c->p[i] == yes[i])
			*prot |= bit[i];
		else if (c->p[i] != no[i])
			return false;
	}
	c->p += 4;
	return true;
}

/*
 * One line as fs/proc/task_mmu.c prints it:
 *   "%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu " then padding and the path.
 * The path is the rest of the line: it may hold spaces, and the kernel
 * escapes newlines in it, so the line end is the path's end.
 */
static bool parse_line(const char *line, size_t len, struct mapping *m,
		       const char **path, size_t *path_len)
{
	struct cursor c = { line, line + len };
	uint64_t major, minor;

	if (!parse_hex(&c, &m->start) || !expect(&c, '-') ||
	    !parse_hex(&c, &m->end) || !expect(&c, ' ') ||
	    !parse_perms(&c, &m->prot) || !expect(&c, ' ') ||
	    !parse_hex(&c, &m->offset) || !expect(&c, ' ') ||
	    !parse_hex(&c, &major) || !expect(&c, ':') ||
	    !parse_hex(&c, &minor) || !expect(&c, ' ') ||
	    !parse_dec(&c, &m->inode))
		return false;
	if (c.p < c.end && *c.p != ' ')
		return false;
	if (m->end <= m->start || major > UINT32_MAX || minor > UINT32_MAX)
		return false;
	m->dev_major = (uint32_t)major;
	m->dev_minor = (uint32_t)minor;
	while (c.p < c.end && *c.p == ' ')
		c.p++;
	*path = c.p;
	*path_len = (size_t)(c.end - c.p);
	return true;
}

static int cmp_start(const void *a, const void *b)
{
	const struct mapping *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * Sort by start and drop mappings that overlap the one before: the kernel
 * never lists overlaps, but a maps file read in several chunks while the
 * target remaps can, and maps_find's binary search needs disjoint ranges.
 */
static void sort_disjoint(struct maps *maps)
{
	size_t kept = 0;

	qsort(maps->v, maps->count, sizeof(*maps->v), cmp_start);
	for (size_t i = 0; i < maps->count; i++) {
		if (kept && maps->v[i].start < maps->v[kept - 1].end) {
			maps->bad_lines++;
			continue;
		}
		maps->v[kept++] = maps->v[i];
	}
	maps->count = kept;
}

struct maps *maps_parse(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	size_t lines = 1, used = 0;
	struct maps *maps;

	for (const char *q = text; (q = memchr(q, '\n', (size_t)(end - q))); q++)
		lines++;
	maps = calloc(1, sizeof(*maps));
	if (!maps)
		return NULL;
	atomic_init(&maps->refs, 1);
	maps->v = calloc(lines, sizeof(*maps->v));
	/* A path and its NUL never take more than its line and newline. */
	maps->paths = malloc(len + 1);
	if (!maps->v || !maps->paths)
		goto err_free;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t line_len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct mapping *m = &maps->v[maps->count];
		const char *path;
		size_t path_len;

		/* Empty lines (the final newline's) are not counted as bad. */
		if (line_len > 0 && parse_line(p, line_len, m, &path, &path_len)) {
			memcpy(maps->paths + used, path, path_len);
			maps->paths[used + path_len] = '\0';
			m->path = maps->paths + used;
			used += path_len + 1;
			maps->count++;
		} else if (line_len > 0) {
			maps->bad_lines++;
		}
		p += line_len + (nl != NULL);
	}
	sort_disjoint(maps);
	return maps;

err_free:
	free(maps->v);
	free(maps->paths);
	free(maps);
	errno = ENOMEM;
	return NULL;
}

/* Read and parse the maps file at @path. */
static int maps_read_path(const char *path, struct maps **out)
{
	char *text = NULL;
	size_t len = 0;
	int err;

	err = procfs_read(path, &text, &len);
	if (err < 0)
		return err == -ENOENT ? -ESRCH : err;
	*out = maps_parse(text, len);
	free(text);
	return *out ? 0 : -ENOMEM;
}

int maps_read(pid_t pid, struct maps **out)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	return maps_read_path(path, out);
}

int maps_read_thread(pid_t pid, pid_t tid, struct maps **out)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/maps", (int)pid, (int)tid);
	return maps_read_path(path, out);
}

const struct mapping *maps_find(const struct maps *maps, uint64_t addr)
{
	size_t lo = 0, hi = maps->count;

	/* Find the last mapping that starts at or below @addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (maps->v[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= maps->v[lo - 1].end)
		return NULL;
	return &maps->v[lo - 1];
}

size_t maps_count(const struct maps *maps)
{
	return maps->count;
}

const struct mapping *maps_at(const struct maps *maps, size_t i)
{
	return i < maps->count ? &maps->v[i] : NULL;
}

size_t maps_bad_lines(const struct maps *maps)
{
	return maps->bad_lines;
}

const char *mapping_module(const struct mapping *m)
{
	const char *slash;

	if (m->path[0] == '\0')
		return "[anon]";
	if (!mapping_is_file(m))
		return m->path;
	slash = strrchr(m->path, '/');
	return slash + 1;
}

int mapping_is_file(const struct mapping *m)
{
	return m->path[0] == '/';
}

struct maps *maps_ref(struct maps *maps)
{
	if (maps)
		atomic_fetch_add_explicit(&maps->refs, 1, memory_order_relaxed);
	return maps;
}

void maps_free(struct maps *maps)
{
	if (!maps)
		return;
	if (atomic_fetch_sub_explicit(&maps->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(maps->v);
	free(maps->paths);
	free(maps);
}
