#include "pylocals.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "text.h"
#include "banned.h"

#define A PYLAYOUT_ABSENT

/* co_flags (Include/cpython/code.h, 2.7 code.h): the same in every
 * version. */
#define CO_VARARGS 0x04
#define CO_VARKEYWORDS 0x08
/* co_localspluskinds (Include/internal/pycore_code.h, 3.11+). */
#define CO_FAST_HIDDEN 0x10
#define CO_FAST_CELL 0x40
#define CO_FAST_FREE 0x80
/* A kind bit of hotspy's own (CO_FAST_* leave bit 0 free in every
 * version): a cell shown with the argument it is the twin of. */
#define TWIN 0x01
/* Type names kept per set (cleared with it): a dump meets a few. */
#define TYPES_CACHE 64
/* Bytes of a code object or type object header read: beyond every field
 * used (tp_flags at 168, co_localspluskinds at 104). */
#define HEAD_MAX 256u

enum kind {
	KIND_OTHER, KIND_NONE, KIND_BOOL, KIND_INT, KIND_LONG27, KIND_FLOAT, KIND_STR,
	KIND_BYTES, KIND_STR27, KIND_UNICODE27, KIND_CELL,
};

struct type_entry {
	uint64_t addr;
	enum kind kind;
	bool ok;                    /* its name could be read */
	char name[PYLOCALS_NAME_MAX];
};

struct entry {
	size_t name, value;         /* offsets in text */
	bool arg;
};

struct frame_span {
	size_t first, n, more;
};

struct pylocals {
	char *text;
	size_t text_len, text_cap;
	struct entry *v;
	size_t n, cap;
	struct frame_span *frames;
	size_t nframes, frames_cap;
	struct type_entry types[TYPES_CACHE];
	size_t ntypes;
};

struct reader {
	const struct pylayout *l;
	const struct pylocals_source *src;
	struct pylocals *s;
	bool py2;
};

struct pylocals *pylocals_new(void)
{
	return calloc(1, sizeof(struct pylocals));
}

void pylocals_free(struct pylocals *s)
{
	if (!s)
		return;
	free(s->text);
	free(s->v);
	free(s->frames);
	free(s);
}

void pylocals_clear(struct pylocals *s)
{
	s->text_len = 0;
	s->n = 0;
	s->nframes = 0;
	s->ntypes = 0;
}

size_t pylocals_frames(const struct pylocals *s)
{
	return s->nframes;
}

size_t pylocals_count(const struct pylocals *s, size_t frame)
{
	return frame < s->nframes ? s->frames[frame].n : 0;
}

size_t pylocals_more(const struct pylocals *s, size_t frame)
{
	return frame < s->nframes ? s->frames[frame].more : 0;
}

void pylocals_get(const struct pylocals *s, size_t frame, size_t i, struct pylocal *out)
{
	const struct entry *e;

	if (frame >= s->nframes || i >= s->frames[frame].n) {
		*out = (struct pylocal){ "?", "?", false };
		return;
	}
	e = &s->v[s->frames[frame].first + i];
	*out = (struct pylocal){ s->text + e->name, s->text + e->value, e->arg };
}

/* ---- reading ------------------------------------------------------------ */

static int rd(struct reader *r, uint64_t addr, void *buf, size_t len)
{
	/* An object pointer is 8-aligned; no object lies in the first page. */
	if (addr < 4096 || addr + len < addr)
		return -EFAULT;
	return r->src->read(r->src->ctx, addr, buf, len);
}

/* A NUL-terminated C string at @addr (a tp_name) into @out (@cap bytes),
 * cut to fit; read in pieces that do not cross a page, so that a short
 * name at the end of a mapping reads. Bytes that are not printable ASCII
 * become '?' (a type name is printable ASCII). */
static bool cstr_read(struct reader *r, uint64_t addr, char *out, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		uint64_t at = addr + n;
		size_t room = 4096 - (size_t)(at & 4095), want = cap - 1 - n;
		char buf[PYLOCALS_NAME_MAX];

		if (want > room)
			want = room;
		if (want > sizeof(buf))
			want = sizeof(buf);
		if (rd(r, at, buf, want) < 0)
			return false;
		for (size_t i = 0; i < want; i++) {
			if (!buf[i]) {
				out[n] = '\0';
				return n > 0;
			}
			out[n++] = buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '?';
		}
	}
	out[n] = '\0';
	return n > 0;
}

static enum kind kind_of(const char *name, bool py2)
{
	static const struct { const char *name; enum kind k3, k2; } kinds[] = {
		{ "NoneType", KIND_NONE, KIND_NONE },
		{ "bool", KIND_BOOL, KIND_BOOL },
		{ "int", KIND_INT, KIND_INT },
		{ "long", KIND_OTHER, KIND_LONG27 },
		{ "float", KIND_FLOAT, KIND_FLOAT },
		{ "str", KIND_STR, KIND_STR27 },
		{ "unicode", KIND_OTHER, KIND_UNICODE27 },
		{ "bytes", KIND_BYTES, KIND_OTHER },
		{ "cell", KIND_CELL, KIND_CELL },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(name, kinds[i].name) == 0)
			return py2 ? kinds[i].k2 : kinds[i].k3;
	return KIND_OTHER;
}

/* The type at @addr, from the cache or read (its tp_name and whether it
 * is a heap type). NULL when it cannot be read. */
static const struct type_entry *type_get(struct reader *r, uint64_t addr)
{
	const struct pylayout *l = r->l;
	struct pylocals *s = r->s;
	struct type_entry *t;
	uint8_t head[HEAD_MAX];
	size_t need;

	for (size_t i = 0; i < s->ntypes; i++)
		if (s->types[i].addr == addr)
			return s->types[i].ok ? &s->types[i] : NULL;
	/* A full cache starts over: a dump meets few types. */
	if (s->ntypes == TYPES_CACHE)
		s->ntypes = 0;
	t = &s->types[s->ntypes++];
	memset(t, 0, sizeof(*t));
	t->addr = addr;
	need = (l->type.flags > l->type.name ? l->type.flags : l->type.name) + 8;
	if ((addr & 7) || need > sizeof(head) || rd(r, addr, head, need) < 0 ||
	    !cstr_read(r, bytes_u64(head, l->type.name), t->name, sizeof(t->name)))
		return NULL;
	t->ok = true;
	/* A class made by Python code may be called "int": only the
	 * interpreter's own static types are read as values. */
	t->kind = bytes_u64(head, l->type.flags) & l->type.heaptype_flag ? KIND_OTHER
								     : kind_of(t->name, r->py2);
	return t;
}

/* ---- values ------------------------------------------------------------- */

/* A text being built in a fixed buffer: what does not fit is cut. */
struct out {
	char *b;
	size_t n, cap;
};

static void put(struct out *o, const char *s, size_t len)
{
	if (len > o->cap - 1 - o->n)
		len = o->cap - 1 - o->n;
	memcpy(o->b + o->n, s, len);
	o->n += len;
	o->b[o->n] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (k > 0)
		put(o, buf, (size_t)k < sizeof(buf) ? (size_t)k : sizeof(buf) - 1);
}

static void unreadable(struct out *o)
{
	o->n = 0;
	puts_(o, "<unreadable>");
}

/* Code point @c inside a quoted repr: as Python's repr shows it, but
 * every C0 and C1 control character escaped, so that the text never
 * holds one. */
static void put_char(struct out *o, uint32_t c, char quote)
{
	char b[4];
	size_t k;

	if (c == (uint32_t)quote || c == '\\') {
		b[0] = '\\';
		b[1] = (char)c;
		put(o, b, 2);
		return;
	}
	if (c == '\n' || c == '\r' || c == '\t') {
		puts_(o, c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t");
		return;
	}
	if (c < 0x20 || (c >= 0x7f && c < 0xa0)) {
		putf(o, "\\x%02x", (unsigned)c);
		return;
	}
	if ((c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff) {
		putf(o, c > 0xffff ? "\\U%08x" : "\\u%04x", (unsigned)c);
		return;
	}
	k = utf8_encode(c, b);
	/* A character is never cut in two. */
	if (k < o->cap - o->n)
		put(o, b, k);
}

/* Code unit @i of @buf, whose units are @width bytes. */
static uint32_t unit_at(const uint8_t *buf, unsigned width, size_t i)
{
	return width == 1 ? buf[i] :
	       width == 2 ? (uint32_t)(buf[2 * i] | buf[2 * i + 1] << 8) :
	       bytes_u32(buf, (uint32_t)(4 * i));
}

/*
 * @len code units of @width bytes at @data, as a quoted repr with
 * @prefix ("", "b", "u"): the quote is ' unless the shown part holds '
 * and no " (Python's rule); bytes (@bytes) show every non-ASCII byte as
 * \xhh. More than PYLOCALS_STR_SHOWN units are cut, and the text says
 * how many there were.
 */
static void quoted(struct reader *r, struct out *o, const char *prefix, uint64_t data,
		   uint64_t len, unsigned width, bool bytes)
{
	size_t shown = len < PYLOCALS_STR_SHOWN ? (size_t)len : PYLOCALS_STR_SHOWN;
	uint8_t buf[PYLOCALS_STR_SHOWN * 4];
	bool single = false, dbl = false;
	char quote;

	if (shown && rd(r, data, buf, shown * width) < 0) {
		unreadable(o);
		return;
	}
	for (size_t i = 0; i < shown; i++) {
		uint32_t c = unit_at(buf, width, i);

		single |= c == '\'';
		dbl |= c == '"';
	}
	quote = single && !dbl ? '"' : '\'';
	puts_(o, prefix);
	put(o, &quote, 1);
	for (size_t i = 0; i < shown; i++) {
		uint32_t c = unit_at(buf, width, i);

		if (bytes && c >= 0x7f)
			putf(o, "\\x%02x", (unsigned)c);
		else
			put_char(o, c, quote);
	}
	put(o, &quote, 1);
	if (shown < len)
		putf(o, "... (%" PRIu64 " %s)", len, bytes ? "bytes" : "characters");
}

/* 3.x str: compact only (legacy strings are a C extension's; shown as
 * other objects). cpython/unicodeobject.h: state holds interned:2,
 * kind:3, compact:1, ascii:1. */
static void str3_show(struct reader *r, struct out *o, uint64_t addr, const char *tname)
{
	const struct pylayout *l = r->l;
	uint8_t hdr[96];
	uint32_t state;
	unsigned kind;
	bool compact, ascii;

	if (l->str.state + 4 > sizeof(hdr) || l->str.length + 8 > sizeof(hdr) ||
	    rd(r, addr, hdr, (l->str.state > l->str.length ? l->str.state + 4
							    : l->str.length + 8)) < 0) {
		unreadable(o);
		return;
	}
	state = bytes_u32(hdr, l->str.state);
	kind = state >> 2 & 7;
	compact = state >> 5 & 1;
	ascii = state >> 6 & 1;
	if (!compact || (kind != 1 && kind != 2 && kind != 4) || (ascii && kind != 1)) {
		putf(o, "<%s at 0x%" PRIx64 ">", tname, addr);
		return;
	}
	quoted(r, o, "", addr + (ascii ? l->str.ascii_size : l->str.compact_size),
	       bytes_u64(hdr, l->str.length), kind, false);
}

/* bytes (and 2.7 str): ob_size, then the bytes. */
static void bytes_show(struct reader *r, struct out *o, uint64_t addr, const char *prefix)
{
	const struct pylayout *l = r->l;
	uint8_t hdr[16];

	if (rd(r, addr + l->bytes.ob_size, hdr, 8) < 0) {
		unreadable(o);
		return;
	}
	quoted(r, o, prefix, addr + l->bytes.ob_sval, bytes_u64(hdr, 0), 1, true);
}

/* 2.7 unicode: length, then a pointer to its Py_UNICODE characters. */
static void unicode27_show(struct reader *r, struct out *o, uint64_t addr)
{
	const struct pylayout *l = r->l;
	uint8_t hdr[64];
	uint32_t end = (l->unicode27.length > l->unicode27.data ? l->unicode27.length
								  : l->unicode27.data) + 8;
	unsigned width = l->unicode27.width;

	if (l->unicode27.data == A || (width != 2 && width != 4) || end > sizeof(hdr) ||
	    rd(r, addr, hdr, end) < 0) {
		unreadable(o);
		return;
	}
	quoted(r, o, "u", bytes_u64(hdr, l->unicode27.data), bytes_u64(hdr, l->unicode27.length), width,
	       false);
}

/* The decimal digits of @v into @o. */
static void put_u128(struct out *o, unsigned __int128 v)
{
	char buf[48];
	size_t k = sizeof(buf);

	do {
		buf[--k] = (char)('0' + (unsigned)(v % 10));
		v /= 10;
	} while (v && k);
	put(o, buf + k, sizeof(buf) - k);
}

/*
 * A PyLongObject: exact up to PYLOCALS_INT_DIGITS 30-bit digits, else
 * its size in bits. The digit count and sign: |ob_size| and its sign up
 * to 3.11 (and 2.7's long), lv_tag >> 3 and lv_tag & 3 (0 +, 1 zero,
 * 2 -) from 3.12 (longintrepr.h of each). @as_bool: True or False.
 */
static void long_show(struct reader *r, struct out *o, uint64_t addr, bool as_bool,
		      const char *suffix)
{
	const struct pylayout *l = r->l;
	uint8_t b[64];
	uint64_t nd;
	bool neg;
	unsigned __int128 v = 0;

	if (l->integer.digits == A || l->integer.digits + 4 * PYLOCALS_INT_DIGITS > sizeof(b) ||
	    rd(r, addr, b, l->integer.digits + 4) < 0) {
		unreadable(o);
		return;
	}
	if (l->integer.tag != A) {
		uint64_t tag = bytes_u64(b, l->integer.tag);

		if ((tag & 3) == 3) {
			unreadable(o);
			return;
		}
		neg = (tag & 3) == 2;
		nd = (tag & 3) == 1 ? 0 : tag >> 3;
	} else if (l->integer.size != A) {
		int64_t size = (int64_t)bytes_u64(b, l->integer.size);

		neg = size < 0;
		nd = size < 0 ? (uint64_t)0 - (uint64_t)size : (uint64_t)size;
	} else {
		unreadable(o);
		return;
	}
	/* An int of more than 2**32 digits is not a real one. */
	if (nd >> 32) {
		unreadable(o);
		return;
	}
	if (as_bool) {
		puts_(o, nd ? "True" : "False");
		return;
	}
	if (nd > PYLOCALS_INT_DIGITS) {
		uint32_t top;
		uint64_t bits;

		if (rd(r, addr + l->integer.digits + 4 * (nd - 1), &top, 4) < 0 || !top ||
		    top >> 30) {
			unreadable(o);
			return;
		}
		bits = 30 * (nd - 1) + 32 - (uint64_t)__builtin_clz(top);
		putf(o, "<%sint of %" PRIu64 " bits>", neg ? "negative " : "", bits);
		return;
	}
	if (nd > 1 && rd(r, addr + l->integer.digits, b + l->integer.digits, 4 * nd) < 0) {
		unreadable(o);
		return;
	}
	for (uint64_t i = nd; i-- > 0;) {
		uint32_t d = bytes_u32(b, (uint32_t)(l->integer.digits + 4 * i));

		if (d >> 30) {
			unreadable(o);
			return;
		}
		v = v << 30 | d;
	}
	if (neg && v)
		puts_(o, "-");
	put_u128(o, v);
	puts_(o, suffix);
}

/* A double as Python's repr shows it: the shortest digits that read
 * back the same, positional from 1e-4 to 1e16, else with an exponent. */
static void float_show(struct out *o, double d)
{
	char e[40], f[400];
	int p, exp10;

	if (isnan(d)) {
		puts_(o, "nan");
		return;
	}
	if (isinf(d)) {
		puts_(o, d < 0 ? "-inf" : "inf");
		return;
	}
	for (p = 1; p < 17; p++) {
		snprintf(e, sizeof(e), "%.*e", p - 1, d);
		if (strtod(e, NULL) == d)
			break;
	}
	snprintf(e, sizeof(e), "%.*e", p - 1, d);
	exp10 = atoi(strchr(e, 'e') + 1);
	if (exp10 < -4 || exp10 >= 16) {
		puts_(o, e);
		return;
	}
	snprintf(f, sizeof(f), "%.*f", p - 1 - exp10 > 0 ? p - 1 - exp10 : 0, d);
	puts_(o, f);
	if (!strchr(f, '.'))
		puts_(o, ".0");
}

/* The text of the object at @addr (not NULL) into @o. */
static void value_show(struct reader *r, struct out *o, uint64_t addr)
{
	const struct pylayout *l = r->l;
	const struct type_entry *t;
	uint8_t head[16];

	if ((addr & 7) || rd(r, addr, head, sizeof(head)) < 0 || l->object.ob_type + 8 > 16 ||
	    !(t = type_get(r, bytes_u64(head, l->object.ob_type)))) {
		unreadable(o);
		return;
	}
	switch (t->kind) {
	case KIND_NONE:
		puts_(o, "None");
		return;
	case KIND_BOOL:
		if (r->py2) {
			uint64_t v;

			if (rd(r, addr + l->integer.ival, &v, 8) < 0)
				unreadable(o);
			else
				puts_(o, v ? "True" : "False");
			return;
		}
		long_show(r, o, addr, true, "");
		return;
	case KIND_INT:
		if (r->py2) {
			int64_t v;

			if (rd(r, addr + l->integer.ival, &v, 8) < 0)
				unreadable(o);
			else
				putf(o, "%" PRId64, v);
			return;
		}
		long_show(r, o, addr, false, "");
		return;
	case KIND_LONG27:
		long_show(r, o, addr, false, "L");
		return;
	case KIND_FLOAT: {
		double d;

		if (rd(r, addr + l->floating.value, &d, sizeof(d)) < 0)
			unreadable(o);
		else
			float_show(o, d);
		return;
	}
	case KIND_STR:
		str3_show(r, o, addr, t->name);
		return;
	case KIND_BYTES:
		bytes_show(r, o, addr, "b");
		return;
	case KIND_STR27:
		bytes_show(r, o, addr, "");
		return;
	case KIND_UNICODE27:
		unicode27_show(r, o, addr);
		return;
	case KIND_CELL:
		/* A cell in a cell slot is opened by the caller; any
		 * other is shown as an object. */
		break;
	case KIND_OTHER:
		break;
	}
	putf(o, "<%s at 0x%" PRIx64 ">", t->name, addr);
}

/* ---- frames ------------------------------------------------------------- */

/* @len bytes at the end of the set's text; its offset, or SIZE_MAX. */
static size_t text_add(struct pylocals *s, const char *str, size_t len)
{
	size_t at = s->text_len;

	if (s->text_cap - s->text_len < len + 1) {
		size_t cap = s->text_cap ? s->text_cap : 4096;
		char *t;

		while (cap - s->text_len < len + 1)
			cap *= 2;
		t = realloc(s->text, cap);
		if (!t)
			return SIZE_MAX;
		s->text = t;
		s->text_cap = cap;
	}
	memcpy(s->text + at, str, len);
	s->text[at + len] = '\0';
	s->text_len += len + 1;
	return at;
}

static int entry_add(struct pylocals *s, const char *name, const char *value, bool arg)
{
	size_t n, v;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct entry *e = realloc(s->v, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		s->v = e;
		s->cap = cap;
	}
	n = text_add(s, name, strlen(name));
	v = n == SIZE_MAX ? SIZE_MAX : text_add(s, value, strlen(value));
	if (v == SIZE_MAX)
		return -ENOMEM;
	s->v[s->n++] = (struct entry){ n, v, arg };
	s->frames[s->nframes - 1].n++;
	return 0;
}

/* The str at @addr (a name: 3.x compact str, 2.7 PyStringObject) as UTF-8
 * into @out; "?" when it cannot be read. */
static void name_read(struct reader *r, uint64_t addr, char *out, size_t cap)
{
	const struct pylayout *l = r->l;
	uint8_t hdr[96], buf[PYLOCALS_NAME_MAX * 4];
	struct out o = { out, 0, cap };
	uint64_t len, data;
	unsigned width = 1;

	out[0] = '\0';
	if (!addr || (addr & 7))
		goto bad;
	if (r->py2) {
		if (rd(r, addr + l->bytes.ob_size, hdr, 8) < 0)
			goto bad;
		len = bytes_u64(hdr, 0);
		data = addr + l->bytes.ob_sval;
	} else {
		uint32_t state;

		if (l->str.state + 4 > sizeof(hdr) || l->str.length + 8 > sizeof(hdr) ||
		    rd(r, addr, hdr, l->str.state + 4) < 0)
			goto bad;
		state = bytes_u32(hdr, l->str.state);
		width = state >> 2 & 7;
		if (!(state >> 5 & 1) || (width != 1 && width != 2 && width != 4))
			goto bad;
		data = addr + (state >> 6 & 1 ? l->str.ascii_size : l->str.compact_size);
		len = bytes_u64(hdr, l->str.length);
	}
	if (len > cap - 1)
		len = cap - 1;
	if (!len || rd(r, data, buf, (size_t)len * width) < 0)
		goto bad;
	for (size_t i = 0; i < len; i++) {
		uint32_t c = unit_at(buf, width, i);
		char b[4];
		size_t k;

		/* An identifier: its UTF-8, a 2.7 name's bytes as they are;
		 * escaped where it is shown. */
		if (width == 1) {
			b[0] = (char)c;
			k = 1;
		} else {
			k = utf8_encode(c, b);
		}
		if (k >= o.cap - o.n)
			break;
		put(&o, b, k);
	}
	if (o.n)
		return;
bad:
	out[0] = '?';
	out[1] = '\0';
}

/* The items of the tuple at @addr, up to @max, into @out; how many
 * (0 when it cannot be read). @total: its size. */
static size_t tuple_read(struct reader *r, uint64_t addr, uint64_t *out, size_t max,
			 uint64_t *total)
{
	const struct pylayout *l = r->l;
	uint64_t n;

	*total = 0;
	if (!addr || (addr & 7) || rd(r, addr + l->tuple.size, &n, 8) < 0 || n >> 31)
		return 0;
	*total = n;
	if (n > max)
		n = max;
	if (n && rd(r, addr + l->tuple.items, out, (size_t)n * 8) < 0)
		return 0;
	return (size_t)n;
}

/* Per slot: its name's address, its kind (CO_FAST_* bits, 3.11+; for
 * <=3.10 CO_FAST_CELL or CO_FAST_FREE past co_nlocals) and value. */
struct slots {
	uint64_t name[PYLOCALS_MAX];
	uint8_t kind[PYLOCALS_MAX];
	uint64_t value[PYLOCALS_MAX];
	size_t twin[PYLOCALS_MAX];   /* <=3.10: an argument's cell */
	size_t n, more;
};

/* The names and kinds of the slots, from the code object head @co. */
static bool slots_names(struct reader *r, const uint8_t *co, struct slots *sl)
{
	const struct pylayout *l = r->l;
	uint64_t total;

	memset(sl->kind, 0, sizeof(sl->kind));
	if (l->code.localsplusnames != A) {
		uint8_t hdr[16];
		uint64_t kinds = bytes_u64(co, l->code.localspluskinds), nk;
		int32_t nplus = (int32_t)bytes_u32(co, l->code.nlocalsplus);

		sl->n = tuple_read(r, bytes_u64(co, l->code.localsplusnames), sl->name, PYLOCALS_MAX,
				   &total);
		if (nplus < 0 || (uint64_t)nplus != total || !kinds || (kinds & 7) ||
		    rd(r, kinds + l->bytes.ob_size, hdr, 8) < 0)
			return false;
		nk = bytes_u64(hdr, 0);
		if (nk != total || (sl->n && rd(r, kinds + l->bytes.ob_sval, sl->kind, sl->n) < 0))
			return false;
		sl->more = (size_t)(total - sl->n);
		return true;
	}
	/* <=3.10: f_localsplus is co_nlocals locals (co_varnames), then the
	 * cells (co_cellvars), then the free variables (co_freevars). */
	{
		int32_t nlocals = (int32_t)bytes_u32(co, l->code.nlocals);
		uint64_t groups[3] = { bytes_u64(co, l->code.varnames), bytes_u64(co, l->code.cellvars),
				       bytes_u64(co, l->code.freevars) };
		uint8_t kinds[3] = { 0, CO_FAST_CELL, CO_FAST_FREE };
		size_t all = 0;

		if (nlocals < 0)
			return false;
		sl->n = 0;
		for (int g = 0; g < 3; g++) {
			size_t room = PYLOCALS_MAX - sl->n;
			size_t got = tuple_read(r, groups[g], sl->name + sl->n, room, &total);

			/* co_varnames holds exactly co_nlocals names. */
			if ((g == 0 && total != (uint64_t)nlocals) ||
			    got != (total < room ? (size_t)total : room))
				return false;
			memset(sl->kind + sl->n, kinds[g], got);
			sl->n += got;
			all += (size_t)total;
		}
		sl->more = all - sl->n;
		return true;
	}
}

/* Slot @i of @sl under the name at @name_addr, appended to the set's last
 * frame unless unset; 0 or -ENOMEM. */
static int slot_show(struct reader *r, const struct slots *sl, size_t i, uint64_t name_addr,
		     bool arg)
{
	const struct pylayout *l = r->l;
	char name[PYLOCALS_NAME_MAX], value[PYLOCALS_VALUE_MAX];
	struct out o = { value, 0, sizeof(value) };
	uint64_t v = sl->value[i];

	value[0] = '\0';
	if (!v)
		return 0;       /* unset */
	if (sl->kind[i] & (CO_FAST_CELL | CO_FAST_FREE)) {
		/* The slot holds the cell (3.11+: once MAKE_CELL has run; a
		 * raw value before), the value is its ob_ref; an empty cell
		 * is an unset variable. */
		uint8_t head[16];
		const struct type_entry *t;

		if (!(v & 7) && rd(r, v, head, sizeof(head)) == 0 &&
		    (t = type_get(r, bytes_u64(head, l->object.ob_type))) && t->kind == KIND_CELL) {
			if (rd(r, v + l->cell.ref, &v, 8) < 0)
				unreadable(&o);
			else if (!v)
				return 0;
		}
	}
	name_read(r, name_addr, name, sizeof(name));
	if (!o.n)
		value_show(r, &o, v);
	return entry_add(r->s, name, value, arg);
}

int pylocals_read(struct pylocals *s, const struct pylayout *l,
		  const struct pylocals_source *src, uint64_t frame, uint64_t code)
{
	struct reader r = { l, src, s, l->str.state == A };
	struct frame_span *f;
	struct slots *sl;
	uint8_t co[HEAD_MAX];
	uint32_t need = 0, fields[] = { l->code.argcount, l->code.kwonlyargcount, l->code.nlocals,
					l->code.flags, l->code.varnames, l->code.cellvars,
					l->code.freevars, l->code.localsplusnames,
					l->code.localspluskinds, l->code.nlocalsplus };
	size_t nargs;
	int err = 0;

	if (s->nframes == s->frames_cap) {
		size_t cap = s->frames_cap ? s->frames_cap * 2 : 16;

		f = realloc(s->frames, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		s->frames = f;
		s->frames_cap = cap;
	}
	s->frames[s->nframes++] = (struct frame_span){ s->n, 0, 0 };
	if (l->frame.localsplus == A || l->code.argcount == A || l->code.flags == A ||
	    l->type.name == A || l->tuple.items == A ||
	    (l->code.varnames == A && l->code.localsplusnames == A))
		return -ENOTSUP;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i] != A && fields[i] + 8 > need)
			need = fields[i] + 8;
	if (need > sizeof(co) || (code & 7) || rd(&r, code, co, need) < 0)
		return 0;
	sl = malloc(sizeof(*sl));
	if (!sl)
		return -ENOMEM;
	if (!slots_names(&r, co, sl) || !sl->n)
		goto out;
	if (rd(&r, frame + l->frame.localsplus, sl->value, sl->n * 8) < 0)
		goto out;
	{
		int32_t argc = (int32_t)bytes_u32(co, l->code.argcount);
		int32_t kwonly = l->code.kwonlyargcount != A
				 ? (int32_t)bytes_u32(co, l->code.kwonlyargcount) : 0;
		uint32_t flags = bytes_u32(co, l->code.flags);

		if (argc < 0 || kwonly < 0 || argc > 65536 || kwonly > 65536)
			goto out;
		nargs = (size_t)argc + (size_t)kwonly + !!(flags & CO_VARARGS) +
			!!(flags & CO_VARKEYWORDS);
	}
	s->frames[s->nframes - 1].more = sl->more;
	/*
	 * <=3.10: an argument that is also a cell has a twin in the cells
	 * (co_cellvars, the same interned str), which holds its current
	 * value: 3.6-3.10 clear the argument's own slot, 2.7 leaves the value
	 * it was called with there (ceval.c, the frame's set-up). It is shown
	 * once, in the argument's place, with the cell's value.
	 */
	if (l->code.cellvars != A)
		for (size_t i = 0; i < sl->n; i++) {
			sl->twin[i] = SIZE_MAX;
			if (!(sl->kind[i] & CO_FAST_CELL))
				continue;
			for (size_t k = 0; k < nargs && k < sl->n; k++)
				if (sl->name[k] == sl->name[i]) {
					sl->twin[k] = i;
					sl->kind[i] |= TWIN;
				}
		}
	for (size_t i = 0; i < sl->n && !err; i++) {
		size_t at = i;

		if (sl->kind[i] & (TWIN | CO_FAST_HIDDEN))
			continue;       /* shown with its argument; not the frame's own */
		if (l->code.cellvars != A && i < nargs && sl->twin[i] != SIZE_MAX &&
		    sl->value[sl->twin[i]])
			at = sl->twin[i];
		err = slot_show(&r, sl, at, sl->name[i], i < nargs);
	}
out:
	free(sl);
	return err;
}
