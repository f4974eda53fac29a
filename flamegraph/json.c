/*
 * json.c - a recursive-descent JSON reader into a flat token array. The
 * recursion is bounded by JSON_DEPTH_MAX; every byte is looked at once.
 */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "banned.h"

struct parser {
	struct json_doc *d;
	size_t pos;
	size_t max_tokens;
	unsigned depth;
};

static int fail(struct parser *p, const char *what)
{
	p->d->error = what;
	p->d->error_at = p->pos;
	return -EINVAL;
}

static void skip_space(struct parser *p)
{
	const char *s = p->d->text;

	while (p->pos < p->d->len && (s[p->pos] == ' ' || s[p->pos] == '\t' ||
				       s[p->pos] == '\n' || s[p->pos] == '\r'))
		p->pos++;
}

/* A new token of @type at the current position; its index in *@out. */
static int add_token(struct parser *p, enum json_type type, uint32_t *out)
{
	struct json_doc *d = p->d;
	struct json_token *tok;

	if (d->ntok >= p->max_tokens || !array_id_room(d->ntok)) {
		fail(p, "too many values");
		return -E2BIG;
	}
	tok = array_grow(d->tok, &d->cap, d->ntok + 1, sizeof(*tok));
	if (!tok)
		return -ENOMEM;
	d->tok = tok;
	tok[d->ntok] = (struct json_token){ .type = type, .start = p->pos, .end = p->pos };
	*out = (uint32_t)d->ntok++;
	return 0;
}

static int parse_value(struct parser *p);

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* At the opening quote; leaves the token's bytes inside the quotes. */
static int parse_string(struct parser *p)
{
	const char *s = p->d->text;
	uint32_t i;
	int err = add_token(p, JSON_STRING, &i);

	if (err)
		return err;
	p->pos++;
	p->d->tok[i].start = p->pos;
	while (p->pos < p->d->len) {
		unsigned char c = (unsigned char)s[p->pos];

		if (c == '"') {
			p->d->tok[i].end = p->pos++;
			return 0;
		}
		if (c < 0x20)
			return fail(p, "control character in a string");
		if (c == '\\') {
			if (++p->pos >= p->d->len)
				break;
			c = (unsigned char)s[p->pos];
			if (c == 'u') {
				for (int k = 1; k <= 4; k++)
					if (p->pos + k >= p->d->len || !is_hex(s[p->pos + k]))
						return fail(p, "bad \\u escape");
				p->pos += 4;
			} else if (!strchr("\"\\/bfnrt", c) || !c) {
				return fail(p, "bad escape");
			}
		}
		p->pos++;
	}
	return fail(p, "unterminated string");
}

static int parse_number(struct parser *p)
{
	const char *s = p->d->text;
	size_t start = p->pos, digits;
	uint32_t i;
	int err = add_token(p, JSON_NUMBER, &i);

	if (err)
		return err;
	if (p->pos < p->d->len && s[p->pos] == '-')
		p->pos++;
	for (digits = 0; p->pos < p->d->len && s[p->pos] >= '0' && s[p->pos] <= '9'; digits++)
		p->pos++;
	if (!digits)
		return fail(p, "bad number");
	if (p->pos < p->d->len && s[p->pos] == '.') {
		p->pos++;
		for (digits = 0; p->pos < p->d->len && s[p->pos] >= '0' && s[p->pos] <= '9'; digits++)
			p->pos++;
		if (!digits)
			return fail(p, "bad number");
	}
	if (p->pos < p->d->len && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->d->len && (s[p->pos] == '+' || s[p->pos] == '-'))
			p->pos++;
		for (digits = 0; p->pos < p->d->len && s[p->pos] >= '0' && s[p->pos] <= '9'; digits++)
			p->pos++;
		if (!digits)
			return fail(p, "bad number");
	}
	p->d->tok[i].start = start;
	p->d->tok[i].end = p->pos;
	return 0;
}

static int parse_word(struct parser *p, const char *word, enum json_type type)
{
	size_t n = strlen(word);
	uint32_t i;
	int err;

	if (p->d->len - p->pos < n || memcmp(p->d->text + p->pos, word, n) != 0)
		return fail(p, "unexpected character");
	err = add_token(p, type, &i);
	if (err)
		return err;
	p->pos += n;
	p->d->tok[i].end = p->pos;
	return 0;
}

/* An array or an object, at its opening bracket. */
static int parse_container(struct parser *p, bool object)
{
	char close = object ? '}' : ']';
	uint32_t i, size = 0;
	int err = add_token(p, object ? JSON_OBJECT : JSON_ARRAY, &i);

	if (err)
		return err;
	if (++p->depth > JSON_DEPTH_MAX) {
		fail(p, "nested too deep");
		return -E2BIG;
	}
	p->pos++;
	skip_space(p);
	if (p->pos < p->d->len && p->d->text[p->pos] == close) {
		p->pos++;
		goto done;
	}
	for (;;) {
		skip_space(p);
		if (object) {
			if (p->pos >= p->d->len || p->d->text[p->pos] != '"')
				return fail(p, "expected a member name");
			err = parse_string(p);
			if (err)
				return err;
			skip_space(p);
			if (p->pos >= p->d->len || p->d->text[p->pos] != ':')
				return fail(p, "expected ':'");
			p->pos++;
		}
		err = parse_value(p);
		if (err)
			return err;
		if (size == UINT32_MAX)
			return fail(p, "too many values");
		size++;
		skip_space(p);
		if (p->pos >= p->d->len)
			return fail(p, object ? "unterminated object" : "unterminated array");
		if (p->d->text[p->pos] == close) {
			p->pos++;
			break;
		}
		if (p->d->text[p->pos] != ',')
			return fail(p, "expected ',' or a closing bracket");
		p->pos++;
	}
done:
	p->depth--;
	p->d->tok[i].size = size;
	p->d->tok[i].end = p->pos;
	return 0;
}

static int parse_value(struct parser *p)
{
	size_t first = p->d->ntok;
	int err;

	skip_space(p);
	if (p->pos >= p->d->len)
		return fail(p, "expected a value");
	switch (p->d->text[p->pos]) {
	case '{': err = parse_container(p, true); break;
	case '[': err = parse_container(p, false); break;
	case '"': err = parse_string(p); break;
	case 't': err = parse_word(p, "true", JSON_BOOL); break;
	case 'f': err = parse_word(p, "false", JSON_BOOL); break;
	case 'n': err = parse_word(p, "null", JSON_NULL); break;
	default: err = parse_number(p); break;
	}
	if (!err)
		p->d->tok[first].next = (uint32_t)p->d->ntok;
	return err;
}

int json_parse(struct json_doc *d, const char *text, size_t len, size_t max_tokens)
{
	struct parser p = { .d = d, .max_tokens = max_tokens };
	int err;

	memset(d, 0, sizeof(*d));
	d->text = text;
	d->len = len;
	err = parse_value(&p);
	if (err)
		return err;
	skip_space(&p);
	if (p.pos != len)
		return fail(&p, "text after the value");
	return 0;
}

void json_release(struct json_doc *d)
{
	free(d->tok);
	d->tok = NULL;
	d->ntok = d->cap = 0;
}

uint32_t json_member(const struct json_doc *d, uint32_t obj, const char *key)
{
	uint32_t k;

	if (obj >= d->ntok || d->tok[obj].type != JSON_OBJECT)
		return JSON_NONE;
	for (k = obj + 1; k < d->tok[obj].next; k = d->tok[k + 1].next)
		if (json_string_is(d, k, key))
			return k + 1;
	return JSON_NONE;
}

uint32_t json_first(const struct json_doc *d, uint32_t arr)
{
	if (arr >= d->ntok || d->tok[arr].type != JSON_ARRAY || d->tok[arr].size == 0)
		return JSON_NONE;
	return arr + 1;
}

uint32_t json_next(const struct json_doc *d, uint32_t i, uint32_t container)
{
	uint32_t n = d->tok[i].next;

	return n < d->tok[container].next ? n : JSON_NONE;
}

int json_number(const struct json_doc *d, uint32_t i, double *out)
{
	char buf[64];
	size_t n;

	if (i >= d->ntok || d->tok[i].type != JSON_NUMBER)
		return -EINVAL;
	n = d->tok[i].end - d->tok[i].start;
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, d->text + d->tok[i].start, n);
	buf[n] = '\0';
	*out = strtod(buf, NULL);
	return isfinite(*out) ? 0 : -EINVAL;
}

bool json_string_is(const struct json_doc *d, uint32_t i, const char *s)
{
	size_t n = strlen(s);

	return i < d->ntok && d->tok[i].type == JSON_STRING &&
	       d->tok[i].end - d->tok[i].start == n &&
	       memcmp(d->text + d->tok[i].start, s, n) == 0;
}

static unsigned hex4(const char *s)
{
	unsigned v = 0;

	for (int k = 0; k < 4; k++) {
		char c = s[k];

		v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return v;
}

/* Append code point @cp as UTF-8 if it fits whole; false when not. */
static bool put_utf8(char *buf, size_t size, size_t *at, unsigned cp)
{
	unsigned char b[4];
	size_t n;

	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		cp = 0xfffd;
	if (cp < 0x80) {
		b[0] = (unsigned char)cp, n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | cp >> 6), b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | cp >> 18);
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (*at + n >= size)
		return false;
	memcpy(buf + *at, b, n);
	*at += n;
	return true;
}

long json_string(const struct json_doc *d, uint32_t i, char *buf, size_t size)
{
	const char *s, *end;
	size_t at = 0;

	if (i >= d->ntok || d->tok[i].type != JSON_STRING || size == 0)
		return -EINVAL;
	s = d->text + d->tok[i].start;
	end = d->text + d->tok[i].end;
	while (s < end) {
		unsigned cp;

		if (*s != '\\') {
			/* Raw bytes are copied as they are: callers escape
			 * them for wherever they go. */
			if (at + 1 >= size)
				break;
			buf[at++] = *s++;
			continue;
		}
		s++;    /* the parser checked every escape */
		switch (*s) {
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			cp = hex4(s + 1);
			s += 4;
			if (cp >= 0xd800 && cp <= 0xdbff && end - s >= 7 && s[1] == '\\' &&
			    s[2] == 'u') {
				unsigned lo = hex4(s + 3);

				if (lo >= 0xdc00 && lo <= 0xdfff) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					s += 6;
				}
			}
			break;
		default: cp = (unsigned char)*s; break;
		}
		s++;
		if (!put_utf8(buf, size, &at, cp))
			break;
	}
	buf[at] = '\0';
	return (long)at;
}
