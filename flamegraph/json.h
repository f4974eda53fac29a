/*
 * json.h - a bounded reader of JSON text (RFC 8259) for the profile files
 * hotspy reads back (speedscope). The whole text is parsed once into a flat
 * array of tokens, each value before its children, as jsmn does; nothing is
 * copied, strings are decoded only when asked for.
 *
 * The text is untrusted: nesting is capped (JSON_DEPTH_MAX), the token count
 * is capped by the caller, and every error says where the text went wrong.
 */
#ifndef HOTSPY_JSON_H
#define HOTSPY_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_DEPTH_MAX 128
#define JSON_NONE UINT32_MAX

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json_token {
	enum json_type type;
	size_t start, end;      /* the value's bytes in the text; a string's
				 * without its quotes */
	uint32_t size;          /* elements of an array, members of an object */
	uint32_t next;          /* the token after this value and its children */
};

/* A parsed text: @tok[0] is the top value. Plain data; json_release frees. */
struct json_doc {
	const char *text;       /* not owned: must outlive the document */
	size_t len;
	struct json_token *tok;
	size_t ntok, cap;
	size_t error_at;        /* byte offset of the first error */
	const char *error;      /* what was wrong there (a static string) */
};

/*
 * Parse @text[0..len) into @d (zeroed by the call), at most @max_tokens
 * values. 0; -EINVAL for malformed text (d->error and d->error_at say what
 * and where), -E2BIG past @max_tokens or JSON_DEPTH_MAX, -ENOMEM.
 * Release @d in every case.
 */
int json_parse(struct json_doc *d, const char *text, size_t len, size_t max_tokens);
void json_release(struct json_doc *d);

/* The value of member @key of object @obj, or JSON_NONE (also when @obj is
 * not an object). */
uint32_t json_member(const struct json_doc *d, uint32_t obj, const char *key);
/* The first element of array @arr, or JSON_NONE; the next one is
 * json_next(d, i) while it is below the array's own next. */
uint32_t json_first(const struct json_doc *d, uint32_t arr);
uint32_t json_next(const struct json_doc *d, uint32_t i, uint32_t container);

/* The number of @i in *@out: 0, or -EINVAL when @i is no finite number. */
int json_number(const struct json_doc *d, uint32_t i, double *out);

/*
 * String @i decoded into @buf (NUL-terminated, @size > 0 bytes; cut at a
 * character boundary when longer, invalid escapes and \u0000 as U+FFFD).
 * Returns the length written, or -EINVAL when @i is not a string.
 */
long json_string(const struct json_doc *d, uint32_t i, char *buf, size_t size);

/* Whether @i is a string whose raw bytes equal @s (no escapes in @s). */
bool json_string_is(const struct json_doc *d, uint32_t i, const char *s);

#endif
