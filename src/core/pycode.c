#include "pycode.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "hash.h"
#include "htable.h"
#include "banned.h"

struct pycodes {
	struct pycode *codes;
	uint64_t *hashes;
	size_t n, codes_cap, hashes_cap;
	struct htable index;
};

struct pycodes *pycodes_new(void)
{
	return calloc(1, sizeof(struct pycodes));
}

void pycodes_free(struct pycodes *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free((char *)c->codes[i].name);
		free((char *)c->codes[i].file);
		free((uint8_t *)c->codes[i].linetable);
	}
	free(c->codes);
	free(c->hashes);
	htable_release(&c->index);
	free(c);
}

/* After "/lib/pythonX.Y/" (X.Y digits and dots). */
static const char *after_lib_python(const char *file)
{
	const char *found = NULL;

	for (const char *p = strstr(file, "/lib/python"); p; p = strstr(p + 1, "/lib/python")) {
		const char *q = p + strlen("/lib/python");

		if (!isdigit((unsigned char)*q))
			continue;
		while (isdigit((unsigned char)*q) || *q == '.')
			q++;
		if (*q == '/')
			found = q + 1;
	}
	return found;
}

/* After the last "/site-packages/" or "/dist-packages/". */
static const char *after_packages(const char *file)
{
	const char *found = NULL;
	static const char *const dirs[] = { "/site-packages/", "/dist-packages/" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		for (const char *p = strstr(file, dirs[i]); p; p = strstr(p + 1, dirs[i]))
			if (!found || p + strlen(dirs[i]) > found)
				found = p + strlen(dirs[i]);
	return found;
}

const char *pycode_short_file(const char *file)
{
	const char *s = after_packages(file);

	if (!s)
		s = after_lib_python(file);
	return s && *s ? s : file;
}

static uint64_t code_hash(const char *name, const char *file, int firstlineno,
			  enum pylinetable_format format, const uint8_t *lt, size_t ltlen)
{
	uint64_t h = hash_bytes(name, strlen(name));

	h = hash_mix64(h ^ hash_bytes(file, strlen(file)));
	h = hash_mix64(h ^ (uint64_t)(uint32_t)firstlineno ^ (uint64_t)format << 32);
	return hash_mix64(h ^ hash_bytes((const char *)lt, ltlen));
}

static bool code_equal(const struct pycode *k, const char *name, const char *file,
		       int firstlineno, enum pylinetable_format format, const uint8_t *lt,
		       size_t ltlen)
{
	return k->firstlineno == firstlineno && k->format == format &&
	       k->linetable_len == ltlen && strcmp(k->name, name) == 0 &&
	       strcmp(k->file, file) == 0 && (!ltlen || memcmp(k->linetable, lt, ltlen) == 0);
}

int pycodes_intern(struct pycodes *c, const struct pycode *code, uint32_t *id)
{
	char name[PYCODE_NAME_MAX + 1], file[PYCODE_FILE_MAX + 1];
	const uint8_t *lt = code->linetable;
	size_t ltlen = code->linetable_len;
	struct htable_iter it;
	struct pycode *codes, k;
	uint64_t *hashes, h;
	uint8_t *lt_copy = NULL;

	snprintf(name, sizeof(name), "%s", code->name ? code->name : "");
	snprintf(file, sizeof(file), "%s", code->file ? code->file : "");
	if (!lt || ltlen > PYCODE_LINETABLE_MAX)
		ltlen = 0;
	h = code_hash(name, file, code->firstlineno, code->format, lt, ltlen);
	for (uint32_t i = htable_find(&c->index, h, &it); i != HTABLE_NONE;
	     i = htable_next(&c->index, &it)) {
		if (c->hashes[i] == h && code_equal(&c->codes[i], name, file, code->firstlineno,
						    code->format, lt, ltlen)) {
			*id = i;
			return 0;
		}
	}
	if (!array_id_room(c->n))
		return -ENOMEM;
	codes = array_grow(c->codes, &c->codes_cap, c->n + 1, sizeof(*codes));
	if (!codes)
		return -ENOMEM;
	c->codes = codes;
	hashes = array_grow(c->hashes, &c->hashes_cap, c->n + 1, sizeof(*hashes));
	if (!hashes)
		return -ENOMEM;
	c->hashes = hashes;
	k = (struct pycode){
		.name = strdup(name), .file = strdup(file), .firstlineno = code->firstlineno,
		.format = code->format, .linetable_len = ltlen,
	};
	if (ltlen && (lt_copy = malloc(ltlen)))
		memcpy(lt_copy, lt, ltlen);
	k.linetable = lt_copy;
	if (!k.name || !k.file || (ltlen && !lt_copy) ||
	    htable_insert(&c->index, h, (uint32_t)c->n) < 0) {
		free((char *)k.name);
		free((char *)k.file);
		free(lt_copy);
		return -ENOMEM;
	}
	k.short_file = pycode_short_file(k.file);
	/* The reader's form: a suffix of the file as given (and so of the
	 * copy, which may be cut: then the derived form stays). */
	if (code->file && code->short_file && code->short_file > code->file &&
	    (size_t)(code->short_file - code->file) < strlen(k.file) &&
	    strcmp(code->short_file, k.file + (code->short_file - code->file)) == 0)
		k.short_file = k.file + (code->short_file - code->file);
	c->codes[c->n] = k;
	c->hashes[c->n] = h;
	*id = (uint32_t)c->n++;
	return 0;
}

const struct pycode *pycodes_get(const struct pycodes *c, uint32_t id)
{
	return c && id < c->n ? &c->codes[id] : NULL;
}

size_t pycodes_count(const struct pycodes *c)
{
	return c ? c->n : 0;
}

int pycodes_line(const struct pycodes *c, uint32_t id, uint32_t index)
{
	const struct pycode *k = pycodes_get(c, id);
	uint64_t offset;

	if (!k)
		return PYLINE_NONE;
	/* Up to 3.9 an empty co_lnotab (a lambda, a one-line function) puts
	 * every instruction on the first line; from 3.10 an empty table means
	 * no line at all. */
	if (!k->linetable_len)
		return k->format == PYLINETABLE_LNOTAB || k->format == PYLINETABLE_LNOTAB_UNSIGNED
		       ? k->firstlineno : PYLINE_NONE;
	/* Byte offsets for the decoder: 2.x counts bytes, 3.6+ code units. */
	offset = k->format == PYLINETABLE_LNOTAB_UNSIGNED ? index : (uint64_t)index * 2;
	if (offset > UINT32_MAX)
		return PYLINE_NONE;
	return pylinetable_line(k->format, k->linetable, k->linetable_len, k->firstlineno,
				(uint32_t)offset);
}
