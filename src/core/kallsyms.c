#include "kallsyms.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "procfs.h"
#include "banned.h"

/* Kernel function names are short; module names shorter. Longer lines are
 * not the kernel's and are skipped. */
#define LINE_MAX_LEN 512

struct ksym {
	uint64_t addr;
	size_t name;        /* offset in k->names */
};

struct kallsyms {
	struct ksym *syms;
	size_t n;
	char *names;        /* every name, NUL-separated */
};

static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * One line "ADDR TYPE NAME[\t[MODULE]]" of [p, end). Returns 1 and fills
 * @addr, @type, @name/@name_len (the name with its module, if any) when the
 * line parses, else 0.
 */
static int parse_line(const char *p, const char *end, uint64_t *addr, char *type,
		      const char **name, size_t *name_len)
{
	uint64_t a = 0;
	int digits = 0, v;
	const char *n;

	if (end - p > LINE_MAX_LEN)
		return 0;
	while (p < end && (v = hexval(*p)) >= 0) {
		if (++digits > 16)
			return 0;
		a = a << 4 | (uint64_t)v;
		p++;
	}
	if (!digits || end - p < 4 || p[0] != ' ' || p[2] != ' ')
		return 0;
	*type = p[1];
	n = p + 3;
	if (n >= end || *n == ' ' || *n == '\t')
		return 0;
	*addr = a;
	*name = n;
	*name_len = (size_t)(end - n);
	return 1;
}

static int is_text(char type)
{
	return type == 't' || type == 'T' || type == 'w' || type == 'W';
}

struct kallsyms *kallsyms_parse(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	struct kallsyms *k = calloc(1, sizeof(*k));
	size_t cap = 0, names_len = 0, names_cap = 0;
	int nonzero = 0, lines = 0;

	if (!k)
		return NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *name;
		size_t name_len, j;
		uint64_t addr;
		char type;

		if (parse_line(p, eol, &addr, &type, &name, &name_len)) {
			lines++;
			nonzero |= addr != 0;
			if (is_text(type) && addr) {
				if (k->n == cap) {
					size_t c = cap ? cap * 2 : 4096;
					struct ksym *s = realloc(k->syms, c * sizeof(*s));

					if (!s)
						goto nomem;
					k->syms = s;
					cap = c;
				}
				if (names_len + name_len + 1 > names_cap) {
					size_t c = names_cap ? names_cap * 2 : 65536;
					char *s;

					while (c < names_len + name_len + 1)
						c *= 2;
					s = realloc(k->names, c);
					if (!s)
						goto nomem;
					k->names = s;
					names_cap = c;
				}
				/* A tab before a module name becomes a space. */
				for (j = 0; j < name_len; j++) {
					char c = name[j];

					k->names[names_len + j] = c == '\t' ? ' ' :
						(unsigned char)c < 0x20 ? '?' : c;
				}
				k->names[names_len + name_len] = '\0';
				k->syms[k->n].addr = addr;
				k->syms[k->n].name = names_len;
				k->n++;
				names_len += name_len + 1;
			}
		}
		p = nl ? nl + 1 : end;
	}
	if (lines && !nonzero) {
		kallsyms_free(k);
		errno = EACCES;
		return NULL;
	}
	if (!k->n) {
		kallsyms_free(k);
		errno = ENODATA;
		return NULL;
	}
	qsort(k->syms, k->n, sizeof(*k->syms), ksym_cmp);
	return k;

nomem:
	kallsyms_free(k);
	errno = ENOMEM;
	return NULL;
}

struct kallsyms *kallsyms_load(const char *path)
{
	struct kallsyms *k;
	char *text;
	size_t len;
	int err = procfs_read(path, &text, &len);

	if (err < 0) {
		errno = -err;
		return NULL;
	}
	k = kallsyms_parse(text, len);
	err = errno;
	free(text);
	errno = err;
	return k;
}

void kallsyms_free(struct kallsyms *k)
{
	if (!k)
		return;
	free(k->syms);
	free(k->names);
	free(k);
}

const char *kallsyms_lookup(const struct kallsyms *k, uint64_t addr)
{
	size_t lo = 0, hi = k->n;

	/* The last symbol at or below @addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	/* Past the last text symbol is not known to be text. */
	if (lo == k->n && addr - k->syms[lo - 1].addr > (1u << 20))
		return NULL;
	return k->names + k->syms[lo - 1].name;
}

size_t kallsyms_count(const struct kallsyms *k)
{
	return k->n;
}
