#include "svg.h"
#include "text.h"
#include "hash.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* svg_script.js, embedded by CMake (flamegraph/CMakeLists.txt). */
static const unsigned char svg_script[] = {
#include "svg_script.inc"
};

#define PAD 10
#define FONT_SIZE 12
#define TOP (FONT_SIZE * 4 + 8)
#define BOTTOM (FONT_SIZE * 2 + 10)
/* Bytes of a name written into the SVG; the rest becomes "...". */
#define NAME_SHOWN_MAX 1024

int svg_palette_parse(const char *s, enum svg_palette *out)
{
	if (strcmp(s, "hot") == 0)
		*out = SVG_COLORS_HOT;
	else if (strcmp(s, "mem") == 0)
		*out = SVG_COLORS_MEM;
	else if (strcmp(s, "io") == 0)
		*out = SVG_COLORS_IO;
	else if (strcmp(s, "kind") == 0 || strcmp(s, "module") == 0)
		*out = SVG_COLORS_KIND;
	else
		return -EINVAL;
	return 0;
}

/*
 * The SVG is written through a buffer of our own with hand-made number
 * formatting: a frame is a dozen pieces, and one stdio call per piece (a
 * printf parse per number) was most of the cost of writing a graph of
 * 100,000 frames. The bytes are printf's: the fast paths below are taken
 * only where they are provably the same, and printf does the rest.
 */
struct sink {
	FILE *out;
	char *buf;
	size_t len, cap;
};

static void sink_flush(struct sink *k)
{
	if (k->len)
		fwrite(k->buf, 1, k->len, k->out);
	k->len = 0;
}

static void sink_put_slow(struct sink *k, const char *s, size_t n)
{
	sink_flush(k);
	if (n > k->cap) {
		fwrite(s, 1, n, k->out);
		return;
	}
	memcpy(k->buf + k->len, s, n);
	k->len += n;
}

/* Inlined: most pieces are a few bytes, often of a known length, which
 * the compiler then copies without a call (the calls of memcpy were a
 * tenth of writing a graph of 100,000 frames). */
static inline __attribute__((always_inline)) void sink_put(struct sink *k, const char *s,
							     size_t n)
{
	if (__builtin_expect(n <= k->cap - k->len, 1)) {
		memcpy(k->buf + k->len, s, n);
		k->len += n;
		return;
	}
	sink_put_slow(k, s, n);
}

/* A string literal. */
#define sink_lit(k, s) sink_put((k), "" s, sizeof(s) - 1)

static void sink_puts(struct sink *k, const char *s)
{
	sink_put(k, s, strlen(s));
}

static void sink_printf(struct sink *k, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sink_printf(struct sink *k, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(k->buf + k->len, k->cap - k->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < k->cap - k->len) {
		k->len += (size_t)n;
		return;
	}
	/* No room: what vsnprintf cut is written again, whole. */
	sink_flush(k);
	va_start(ap, fmt);
	if ((size_t)n < k->cap)
		k->len = (size_t)vsnprintf(k->buf, k->cap, fmt, ap);
	else
		vfprintf(k->out, fmt, ap);
	va_end(ap);
}

/* %llu of @v: written in place when the buffer has room for any. */
static void sink_uint(struct sink *k, uint64_t v)
{
	char d[20];
	size_t i = sizeof(d);

	if (k->cap - k->len >= sizeof(d)) {
		size_t n = 1;
		char *p;

		for (uint64_t x = v; x >= 10; x /= 10)
			n++;
		p = k->buf + k->len + n;
		k->len += n;
		do {
			*--p = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		return;
	}

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	sink_put(k, d + i, sizeof(d) - i);
}

static void sink_int(struct sink *k, int v)
{
	if (v < 0) {
		sink_put(k, "-", 1);
		sink_uint(k, -(uint64_t)(int64_t)v);
	} else {
		sink_uint(k, (uint64_t)v);
	}
}

/* %.17g of @v. An integer of at most 17 digits is printed by %.17g as
 * those digits (no exponent below 10^precision); weights mostly are. */
static void sink_g17(struct sink *k, double v)
{
	if (v >= 0 && v < 1e17 && !signbit(v) && v == (double)(uint64_t)v)
		sink_uint(k, (uint64_t)v);
	else
		sink_printf(k, "%.17g", v);
}

/* %.12g of @v, as sink_g17. */
static void sink_g12(struct sink *k, double v)
{
	if (v >= 0 && v < 1e12 && !signbit(v) && v == (double)(uint64_t)v)
		sink_uint(k, (uint64_t)v);
	else
		sink_printf(k, "%.12g", v);
}

/*
 * %.2f of @v: the integer nearest to v * 100, its last two digits after
 * the point. Below 10^6, v * 100 is within 10^-8 of its exact value, so
 * where its fraction is not within 10^-6 of one half the nearest integer
 * is the one printf rounds the exact value to; ties and near-ties, and
 * everything else, go to printf.
 */
static void sink_f2(struct sink *k, double v)
{
	double x = v * 100, r = floor(x), f = x - r;
	uint64_t n;
	char d[3];

	if (!(v >= 0 && v < 1e6) || signbit(v) || fabs(f - 0.5) < 1e-6) {
		sink_printf(k, "%.2f", v);
		return;
	}
	n = (uint64_t)r + (f > 0.5);
	sink_uint(k, n / 100);
	d[0] = '.';
	d[1] = (char)('0' + n / 10 % 10);
	d[2] = (char)('0' + n % 10);
	sink_put(k, d, 3);
}

/* The five bytes of XML, all below 0x40, as bits of a word. */
#define XML_SPECIAL ((UINT64_C(1) << '&') | (UINT64_C(1) << '<') | (UINT64_C(1) << '>') | \
		     (UINT64_C(1) << '"') | (UINT64_C(1) << '\''))

/* Bytes that go out as they are: printable ASCII but the five of XML. Two
 * tests, not six: every name written is scanned byte by byte. */
static bool plain_byte(unsigned char c)
{
	return (unsigned)(c - 0x20) < 0x5f && !(c < 64 && (XML_SPECIAL >> c & 1));
}

static void escape(struct sink *k, const char *str, size_t len, size_t max)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, lim = len < max ? len : max;

	while (i < lim) {
		size_t n, run = i;

		while (run < lim && plain_byte(s[run]))
			run++;
		if (run > i) {
			sink_put(k, str + i, run - i);
			i = run;
			continue;
		}
		switch (s[i]) {
		case '&': sink_put(k, "&amp;", 5); i++; continue;
		case '<': sink_put(k, "&lt;", 4); i++; continue;
		case '>': sink_put(k, "&gt;", 4); i++; continue;
		case '"': sink_put(k, "&quot;", 6); i++; continue;
		case '\'': sink_put(k, "&apos;", 6); i++; continue;
		default: break;
		}
		if (s[i] < 0x20 || s[i] == 0x7f) {
			sink_put(k, "?", 1);
			i++;
			continue;
		}
		n = utf8_valid_len(s + i, lim - i);
		if (n == 0) {
			sink_put(k, "\xef\xbf\xbd", 3);
			i++;
			continue;
		}
		sink_put(k, str + i, n);
		i += n;
	}
	if (len > lim)
		sink_put(k, "...", 3);
}

void svg_escape(FILE *out, const char *s, size_t len, size_t max)
{
	char buf[256];
	struct sink k = { .out = out, .buf = buf, .cap = sizeof(buf) };

	escape(&k, s, len, max);
	sink_flush(&k);
}

static void color(struct sink *out, enum svg_palette pal, enum frame_kind kind, const char *name,
		  size_t len)
{
	uint64_t h = hash_bytes(name, len);
	double v1 = (double)(h & 0xffff) / 65535.0;
	double v2 = (double)(h >> 16 & 0xffff) / 65535.0;
	double v3 = (double)(h >> 32 & 0xffff) / 65535.0;
	int r, g, b;

	/* Python frames stand apart from the native code they call into, in
	 * the default palette too: yellow-green, as no native frame is. */
	if (kind == FRAME_PYTHON && (pal == SVG_COLORS_HOT || pal == SVG_COLORS_KIND)) {
		r = 140 + (int)(60 * v1), g = 195 + (int)(55 * v2), b = 40 + (int)(50 * v3);
		goto done;
	}
	if (pal == SVG_COLORS_KIND) {
		switch (kind) {
		case FRAME_KERNEL:
			r = 200 + (int)(55 * v1), g = 150 + (int)(50 * v2), b = 0;
			goto done;
		case FRAME_INLINED:
			r = 60 + (int)(60 * v1), g = 200 + (int)(55 * v1), b = 200 + (int)(55 * v2);
			goto done;
		case FRAME_JIT:
			r = 50 + (int)(60 * v1), g = 200 + (int)(55 * v2), b = 50 + (int)(60 * v3);
			goto done;
		case FRAME_NATIVE:
		case FRAME_PYTHON:
		case FRAME_UNKNOWN:
		case FRAME_MARKER:
			break;
		}
	}
	switch (pal) {
	case SVG_COLORS_MEM:
		r = 0, g = 190 + (int)(50 * v2), b = 0 + (int)(210 * v1);
		break;
	case SVG_COLORS_IO:
		r = 80 + (int)(60 * v1), g = r, b = 190 + (int)(55 * v2);
		break;
	case SVG_COLORS_HOT:
	case SVG_COLORS_KIND:
	default:
		r = 205 + (int)(50 * v3), g = 0 + (int)(230 * v1), b = 0 + (int)(55 * v2);
		break;
	}
done:
	sink_lit(out, "rgb(");
	sink_int(out, r);
	sink_lit(out, ",");
	sink_int(out, g);
	sink_lit(out, ",");
	sink_int(out, b);
	sink_lit(out, ")");
}

static double before_total(const struct svg_options *o, uint32_t before)
{
	double scale = o->before_scale > 0 ? o->before_scale : 1;

	return before == FLAMETREE_NONE ? 0 :
	       flametree_node_at(o->before, before)->total * scale;
}

/* The change in the tooltip: after the share, "+N (+P%)" against BEFORE. */
static void diff_title(struct sink *out, const struct svg_options *o, uint32_t before, double after)
{
	double b = before_total(o, before), d = after - b;

	if (b > 0 && isfinite(d / b * 100.0))
		sink_printf(out, " [%+.12g, %+.2f%%]", d, d / b * 100.0);
	else if (b > 0)
		sink_printf(out, " [%+.12g]", d);
	else
		sink_printf(out, " [new]");
}

/* Red where AFTER has more, blue where less, white when equal; the depth of
 * the colour is the change as a share of the whole graph. */
static void diff_color(struct sink *out, const struct svg_options *o, uint32_t before, double after,
		       double total)
{
	double d = after - before_total(o, before), v = d / total * 10;
	int k;

	/* Counts near DBL_MAX: their difference or ratio may be no number. */
	if (!isfinite(v))
		v = d > 0 ? 1 : d < 0 ? -1 : 0;
	if (v > 1)
		v = 1;
	if (v < -1)
		v = -1;
	k = 210 - (int)(210 * (v < 0 ? -v : v));
	if (d > 0)
		sink_printf(out, "rgb(255,%d,%d)", k, k);
	else if (d < 0)
		sink_printf(out, "rgb(%d,%d,255)", k, k);
	else
		sink_lit(out, "rgb(250,250,250)");
}

struct walk {
	uint32_t node;
	uint32_t depth;         /* root 0 */
	uint32_t before;        /* the same path in opts->before, or FLAMETREE_NONE */
	double x;               /* samples left of the frame */
};

void svg_cut(const struct svg_options *o, double *num, double *den)
{
	unsigned width = o->width ? o->width : 1200;

	*num = o->minwidth > 0 ? o->minwidth : 0.1;
	*den = o->minwidth_percent ? 100.0 : (double)width - 2 * PAD;
}

static double min_total(const struct svg_options *o, double total)
{
	double num, den;

	svg_cut(o, &num, &den);
	return total * num / den;
}

/* " in MODULE at FILE:LINE", for what is known of where a frame comes from,
 * and the full C++ signature on a line of its own (after the name and the
 * counts, which the script reads from the first line). */
static void place_title(struct sink *out, const struct flametree *t, uint32_t name)
{
	struct flametree_info inf;

	if (!flametree_info(t, name, &inf))
		return;
	if (inf.module_len) {
		sink_lit(out, " in ");
		escape(out, inf.module, inf.module_len, NAME_SHOWN_MAX);
	}
	if (inf.file_len) {
		sink_lit(out, " at ");
		escape(out, inf.file, inf.file_len, NAME_SHOWN_MAX);
		if (inf.line)
			sink_put(out, ":", 1), sink_uint(out, inf.line);
	}
	if (inf.signature_len) {
		sink_put(out, "\n", 1);
		escape(out, inf.signature, inf.signature_len, NAME_SHOWN_MAX);
	}
}

/* Depth-first over the frames wide enough to draw; calls @fn for each. */
static int walk_tree(const struct flametree *t, double cut, uint32_t *max_depth,
		     struct sink *out, const struct svg_options *o, double span, unsigned height)
{
	struct walk *stack = NULL;
	size_t n = 0, cap = 0;
	double total = flametree_total(t);
	unsigned fh = o->frame_height ? o->frame_height : 16;

	if (total <= 0)
		return 0;
	cap = 1024;
	stack = malloc(cap * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	stack[n++] = (struct walk){ 0, 0, 0, 0 };
	while (n) {
		struct walk w = stack[--n];
		const struct flametree_node *nd = flametree_node_at(t, w.node);
		double cx = w.x;
		size_t first = n, len = 0;
		const char *name = NULL;

		if (w.depth > *max_depth)
			*max_depth = w.depth;
		if (out) {
			/* Named only when written (the first walk, for the
			 * depth, reads no name), and asked for before the
			 * children are pushed, written after: the misses on a
			 * name's entry (asked for when its node was pushed)
			 * and its text, random over the names, were a sixth of
			 * writing a graph of 100,000 frames. */
			name = flametree_name(t, nd->name, &len);
			__builtin_prefetch(name);
		}
		for (uint32_t c = nd->first_child; c != FLAMETREE_NONE;
		     c = flametree_node_at(t, c)->next_sibling) {
			const struct flametree_node *cn = flametree_node_at(t, c);

			if (cn->total >= cut) {
				if (out)
					flametree_name_prefetch(t, cn->name);
				if (n == cap) {
					struct walk *bigger = realloc(stack, 2 * cap * sizeof(*stack));

					if (!bigger) {
						free(stack);
						return -ENOMEM;
					}
					stack = bigger;
					cap *= 2;
				}
				uint32_t bc = FLAMETREE_NONE;

				if (o->before && w.before != FLAMETREE_NONE) {
					size_t cl;
					const char *cs = flametree_name(t, cn->name, &cl);

					bc = flametree_child(o->before, w.before, cs, cl);
				}
				stack[n++] = (struct walk){ c, w.depth + 1, bc, cx };
			}
			cx += cn->total;
		}
		/* Pushed left to right; reverse so the leftmost comes out first. */
		for (size_t a = first, b = n; a + 1 < b; a++, b--) {
			struct walk tmp = stack[a];

			stack[a] = stack[b - 1];
			stack[b - 1] = tmp;
		}
		if (out) {
			double px = PAD + w.x / total * span, pw = nd->total / total * span;
			unsigned y = o->inverted ? TOP + w.depth * fh :
				     height - BOTTOM - (w.depth + 1) * fh;
			size_t fit = (size_t)(pw / (FONT_SIZE * 0.59));

			sink_lit(out, "<g class=\"f\" fg:x=\"");
			sink_g17(out, w.x);
			sink_lit(out, "\" fg:w=\"");
			sink_g17(out, nd->total);
			sink_lit(out, "\" fg:d=\"");
			sink_uint(out, w.depth);
			sink_lit(out, "\"><title>");
			escape(out, name, len, NAME_SHOWN_MAX);
			sink_lit(out, " (");
			sink_g12(out, nd->total);
			sink_lit(out, " ");
			sink_puts(out, o->count_name ? o->count_name : "samples");
			sink_lit(out, ", ");
			sink_f2(out, nd->total / total * 100.0);
			sink_lit(out, "%)");
			if (o->before)
				diff_title(out, o, w.before, nd->total);
			place_title(out, t, nd->name);
			sink_lit(out, "</title><rect x=\"");
			sink_f2(out, px);
			sink_lit(out, "\" y=\"");
			sink_uint(out, y);
			sink_lit(out, "\" width=\"");
			sink_f2(out, pw);
			sink_lit(out, "\" height=\"");
			sink_uint(out, fh - 1);
			sink_lit(out, "\" rx=\"2\" fill=\"");
			if (o->before)
				diff_color(out, o, w.before, nd->total, total);
			else
				color(out, o->colors, flametree_kind(t, nd->name), name, len);
			sink_lit(out, "\"/><text x=\"");
			sink_f2(out, px + 3);
			sink_lit(out, "\" y=\"");
			sink_uint(out, y + fh - 4);
			sink_lit(out, "\">");
			if (fit >= 3)
				escape(out, name, len, fit < len ? fit - 2 : fit);
			sink_lit(out, "</text></g>\n");
		}
	}
	free(stack);
	return 0;
}

/* Bytes of SVG gathered before one write. */
#define SINK_BUF ((size_t)64 << 10)

static int write_graph(struct sink *out, const struct flametree *t, const struct svg_options *o)
{
	unsigned width = o->width ? o->width : 1200;
	unsigned fh = o->frame_height ? o->frame_height : 16;
	double span = (double)width - 2 * PAD, total = flametree_total(t);
	double cut = min_total(o, total);
	const char *title = o->title ? o->title : "Flame Graph";
	uint32_t depth = 0;
	unsigned height;
	int err;

	err = walk_tree(t, cut, &depth, NULL, o, span, 0);
	if (err < 0)
		return err;
	height = TOP + (depth + 1) * fh + BOTTOM;
	sink_printf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%u\" height=\"%u\" viewBox=\"0 0 %u %u\" "
		"xmlns=\"http://www.w3.org/2000/svg\" "
		"xmlns:fg=\"https://hotspy.invalid/flamegraph\">\n", width, height, width, height);
	sink_printf(out, "<style type=\"text/css\">\n"
		"text { font-family: monospace; font-size: %dpx; fill: rgb(0,0,0); }\n"
		"g.f { cursor: pointer; } g.f:hover rect { stroke: black; stroke-width: 0.5; }\n"
		"g.f text { pointer-events: none; }\n"
		"g.parent { opacity: 0.5; }\n"
		".button { cursor: pointer; } .button:hover, .on { text-decoration: underline; }\n"
		".hide { display: none; } #title { font-size: %dpx; }\n"
		"</style>\n", FONT_SIZE, FONT_SIZE + 5);
	sink_printf(out, "<script type=\"text/ecmascript\"><![CDATA[\n"
		"var FG = { width: %u, pad: %d, fontsize: %d, total: %.17g };\n",
		width, PAD, FONT_SIZE, total);
	sink_put(out, (const char *)svg_script, sizeof(svg_script));
	sink_lit(out, "]]></script>\n");
	sink_printf(out, "<rect x=\"0\" y=\"0\" width=\"%u\" height=\"%u\" fill=\"rgb(245,245,240)\"/>\n",
		width, height);
	sink_printf(out, "<text id=\"title\" x=\"%u\" y=\"%d\" text-anchor=\"middle\">", width / 2,
		FONT_SIZE * 2);
	escape(out, title, strlen(title), NAME_SHOWN_MAX);
	sink_lit(out, "</text>\n");
	if (o->subtitle) {
		sink_printf(out, "<text id=\"subtitle\" x=\"%u\" y=\"%d\" text-anchor=\"middle\" "
			"fill=\"rgb(160,160,160)\">", width / 2, FONT_SIZE * 3 + 4);
		escape(out, o->subtitle, strlen(o->subtitle), NAME_SHOWN_MAX);
		sink_lit(out, "</text>\n");
	}
	sink_printf(out, "<text id=\"unzoom\" class=\"button hide\" x=\"%d\" y=\"%d\">Reset Zoom</text>\n"
		"<text id=\"search\" class=\"button\" x=\"%u\" y=\"%d\" text-anchor=\"end\">Search</text>\n"
		"<text id=\"ignorecase\" class=\"button\" x=\"%u\" y=\"%d\" text-anchor=\"end\">ic</text>\n"
		"<text id=\"details\" x=\"%d\" y=\"%u\"> </text>\n"
		"<text id=\"matched\" x=\"%u\" y=\"%u\" text-anchor=\"end\"> </text>\n",
		PAD, FONT_SIZE * 2, width - PAD - 24, FONT_SIZE * 2, width - PAD, FONT_SIZE * 2,
		PAD, height - FONT_SIZE, width - PAD, height - FONT_SIZE);
	sink_lit(out, "<g id=\"frames\">\n");
	err = walk_tree(t, cut, &depth, out, o, span, height);
	if (err < 0)
		return err;
	sink_lit(out, "</g>\n</svg>\n");
	return 0;
}

int svg_write(FILE *out, const struct flametree *t, const struct svg_options *o)
{
	struct sink k = { .out = out, .cap = SINK_BUF };
	int err;

	k.buf = malloc(k.cap);
	if (!k.buf)
		return -ENOMEM;
	err = write_graph(&k, t, o);
	sink_flush(&k);
	free(k.buf);
	if (err < 0)
		return err;
	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}
