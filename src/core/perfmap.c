#include "perfmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "procfs.h"

#include "banned.h"

#define NAME_MAX_LEN 1024
#define ENTRIES_MAX (1u << 22)

struct pm_entry {
	uint64_t start, end;
	size_t name;            /* offset in text */
	size_t order;           /* line order: later lines win */
};

struct perfmap {
	struct pm_entry *v;
	size_t n;
	char *text;             /* the names, NUL-terminated */
};

/* A hex number at *@s (0x allowed), then at least one blank. */
static int hex_field(const char **s, const char *end, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;
	int digits = 0;

	if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	for (; p < end; p++) {
		int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		if (++digits > 16)
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	if (!digits || p == end || (*p != ' ' && *p != '\t'))
		return -1;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	*s = p;
	*out = v;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct pm_entry *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

struct perfmap *perfmap_parse(const char *text, size_t len)
{
	struct perfmap *pm = calloc(1, sizeof(*pm));
	size_t cap = 0, tlen = 0, pos = 0;

	if (!pm)
		return NULL;
	/* The names take at most the input's bytes, plus a NUL each. */
	pm->text = malloc(len + 1);
	if (!pm->text) {
		free(pm);
		return NULL;
	}
	while (pos < len && pm->n < ENTRIES_MAX) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		const char *end = nl ? nl : text + len, *p = line;
		uint64_t start, size;
		size_t nlen;

		pos = (size_t)(end - text) + 1;
		if (end > line && end[-1] == '\r')
			end--;
		if (hex_field(&p, end, &start) < 0 || hex_field(&p, end, &size) < 0 ||
		    size == 0 || start > UINT64_MAX - size || p == end)
			continue;
		nlen = (size_t)(end - p);
		if (nlen > NAME_MAX_LEN)
			nlen = NAME_MAX_LEN;
		if (memchr(p, '\0', nlen))
			nlen = strnlen(p, nlen);
		if (nlen == 0)
			continue;
		if (pm->n == cap) {
			size_t c = cap ? cap * 2 : 64;
			struct pm_entry *v = realloc(pm->v, c * sizeof(*v));

			if (!v) {
				perfmap_free(pm);
				return NULL;
			}
			pm->v = v;
			cap = c;
		}
		memcpy(pm->text + tlen, p, nlen);
		pm->text[tlen + nlen] = '\0';
		pm->v[pm->n] = (struct pm_entry){ start, start + size, tlen, pm->n };
		pm->n++;
		tlen += nlen + 1;
	}
	if (pm->n)
		qsort(pm->v, pm->n, sizeof(*pm->v), entry_cmp);
	return pm;
}

struct perfmap *perfmap_load(const char *path)
{
	struct perfmap *pm;
	char *text;
	size_t len;
	int err = procfs_read(path, &text, &len);

	if (err < 0) {
		errno = -err;
		return NULL;
	}
	pm = perfmap_parse(text, len);
	free(text);
	if (!pm)
		errno = ENOMEM;
	return pm;
}

void perfmap_free(struct perfmap *pm)
{
	if (!pm)
		return;
	free(pm->v);
	free(pm->text);
	free(pm);
}

const char *perfmap_lookup(const struct perfmap *pm, uint64_t addr)
{
	size_t lo = 0, hi;
	const struct pm_entry *best = NULL;

	if (!pm)
		return NULL;
	hi = pm->n;
	/* The last entry starting at or below @addr, then back over those
	 * that might still cover it: entries may overlap when code moved. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pm->v[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i-- > 0 && lo - i <= 64;) {
		const struct pm_entry *e = &pm->v[i];

		if (addr < e->end && (!best || e->order > best->order))
			best = e;
	}
	return best ? pm->text + best->name : NULL;
}

size_t perfmap_count(const struct perfmap *pm)
{
	return pm ? pm->n : 0;
}
