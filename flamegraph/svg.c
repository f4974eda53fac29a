#include "svg.h"
#include "text.h"
#include "hash.h"

#include <errno.h>
#include <math.h>
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

void svg_escape(FILE *out, const char *str, size_t len, size_t max)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, lim = len < max ? len : max;

	while (i < lim) {
		size_t n;

		switch (s[i]) {
		case '&': fputs("&amp;", out); i++; continue;
		case '<': fputs("&lt;", out); i++; continue;
		case '>': fputs("&gt;", out); i++; continue;
		case '"': fputs("&quot;", out); i++; continue;
		case '\'': fputs("&apos;", out); i++; continue;
		default: break;
		}
		if (s[i] < 0x20 || s[i] == 0x7f) {
			fputc('?', out);
			i++;
			continue;
		}
		n = utf8_valid_len(s + i, lim - i);
		if (n == 0) {
			fputs("\xef\xbf\xbd", out);
			i++;
			continue;
		}
		fwrite(s + i, 1, n, out);
		i += n;
	}
	if (len > lim)
		fputs("...", out);
}

static void color(FILE *out, enum svg_palette pal, enum frame_kind kind, const char *name,
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
	fprintf(out, "rgb(%d,%d,%d)", r, g, b);
}

static double before_total(const struct svg_options *o, uint32_t before)
{
	double scale = o->before_scale > 0 ? o->before_scale : 1;

	return before == FLAMETREE_NONE ? 0 :
	       flametree_node_at(o->before, before)->total * scale;
}

/* The change in the tooltip: after the share, "+N (+P%)" against BEFORE. */
static void diff_title(FILE *out, const struct svg_options *o, uint32_t before, double after)
{
	double b = before_total(o, before), d = after - b;

	if (b > 0 && isfinite(d / b * 100.0))
		fprintf(out, " [%+.12g, %+.2f%%]", d, d / b * 100.0);
	else if (b > 0)
		fprintf(out, " [%+.12g]", d);
	else
		fprintf(out, " [new]");
}

/* Red where AFTER has more, blue where less, white when equal; the depth of
 * the colour is the change as a share of the whole graph. */
static void diff_color(FILE *out, const struct svg_options *o, uint32_t before, double after,
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
		fprintf(out, "rgb(255,%d,%d)", k, k);
	else if (d < 0)
		fprintf(out, "rgb(%d,%d,255)", k, k);
	else
		fputs("rgb(250,250,250)", out);
}

struct walk {
	uint32_t node;
	uint32_t depth;         /* root 0 */
	uint32_t before;        /* the same path in opts->before, or FLAMETREE_NONE */
	double x;               /* samples left of the frame */
};

static double min_total(const struct svg_options *o, double total, double span)
{
	double mw = o->minwidth > 0 ? o->minwidth : 0.1;

	if (o->minwidth_percent)
		return total * mw / 100.0;
	return total * mw / span;
}

/* " in MODULE at FILE:LINE", for what is known of where a frame comes from,
 * and the full C++ signature on a line of its own (after the name and the
 * counts, which the script reads from the first line). */
static void place_title(FILE *out, const struct flametree *t, uint32_t name)
{
	struct flametree_info inf;

	if (!flametree_info(t, name, &inf))
		return;
	if (inf.module_len) {
		fputs(" in ", out);
		svg_escape(out, inf.module, inf.module_len, NAME_SHOWN_MAX);
	}
	if (inf.file_len) {
		fputs(" at ", out);
		svg_escape(out, inf.file, inf.file_len, NAME_SHOWN_MAX);
		if (inf.line)
			fprintf(out, ":%u", inf.line);
	}
	if (inf.signature_len) {
		fputc('\n', out);
		svg_escape(out, inf.signature, inf.signature_len, NAME_SHOWN_MAX);
	}
}

/* Depth-first over the frames wide enough to draw; calls @fn for each. */
static int walk_tree(const struct flametree *t, double cut, uint32_t *max_depth,
		     FILE *out, const struct svg_options *o, double span, unsigned height)
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
		size_t first = n, len;
		const char *name = flametree_name(t, nd->name, &len);

		if (w.depth > *max_depth)
			*max_depth = w.depth;
		if (out) {
			double px = PAD + w.x / total * span, pw = nd->total / total * span;
			unsigned y = o->inverted ? TOP + w.depth * fh :
				     height - BOTTOM - (w.depth + 1) * fh;
			size_t fit = (size_t)(pw / (FONT_SIZE * 0.59));

			fprintf(out, "<g class=\"f\" fg:x=\"%.17g\" fg:w=\"%.17g\" fg:d=\"%u\"><title>",
				w.x, nd->total, w.depth);
			svg_escape(out, name, len, NAME_SHOWN_MAX);
			fprintf(out, " (%.12g %s, %.2f%%)", nd->total,
				o->count_name ? o->count_name : "samples", nd->total / total * 100.0);
			if (o->before)
				diff_title(out, o, w.before, nd->total);
			place_title(out, t, nd->name);
			fprintf(out, "</title><rect x=\"%.2f\" y=\"%u\" "
				"width=\"%.2f\" height=\"%u\" rx=\"2\" fill=\"", px, y, pw, fh - 1);
			if (o->before)
				diff_color(out, o, w.before, nd->total, total);
			else
				color(out, o->colors, flametree_kind(t, nd->name), name, len);
			fprintf(out, "\"/><text x=\"%.2f\" y=\"%u\">", px + 3, y + fh - 4);
			if (fit >= 3)
				svg_escape(out, name, len, fit < len ? fit - 2 : fit);
			fputs("</text></g>\n", out);
		}
		for (uint32_t c = nd->first_child; c != FLAMETREE_NONE;
		     c = flametree_node_at(t, c)->next_sibling) {
			const struct flametree_node *cn = flametree_node_at(t, c);

			if (cn->total >= cut) {
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
	}
	free(stack);
	return 0;
}

int svg_write(FILE *out, const struct flametree *t, const struct svg_options *o)
{
	unsigned width = o->width ? o->width : 1200;
	unsigned fh = o->frame_height ? o->frame_height : 16;
	double span = (double)width - 2 * PAD, total = flametree_total(t);
	double cut = min_total(o, total, span);
	const char *title = o->title ? o->title : "Flame Graph";
	uint32_t depth = 0;
	unsigned height;
	int err;

	err = walk_tree(t, cut, &depth, NULL, o, span, 0);
	if (err < 0)
		return err;
	height = TOP + (depth + 1) * fh + BOTTOM;
	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%u\" height=\"%u\" viewBox=\"0 0 %u %u\" "
		"xmlns=\"http://www.w3.org/2000/svg\" "
		"xmlns:fg=\"https://hotspy.invalid/flamegraph\">\n", width, height, width, height);
	fprintf(out, "<style type=\"text/css\">\n"
		"text { font-family: monospace; font-size: %dpx; fill: rgb(0,0,0); }\n"
		"g.f { cursor: pointer; } g.f:hover rect { stroke: black; stroke-width: 0.5; }\n"
		"g.f text { pointer-events: none; }\n"
		"g.parent { opacity: 0.5; }\n"
		".button { cursor: pointer; } .button:hover, .on { text-decoration: underline; }\n"
		".hide { display: none; } #title { font-size: %dpx; }\n"
		"</style>\n", FONT_SIZE, FONT_SIZE + 5);
	fprintf(out, "<script type=\"text/ecmascript\"><![CDATA[\n"
		"var FG = { width: %u, pad: %d, fontsize: %d, total: %.17g };\n",
		width, PAD, FONT_SIZE, total);
	fwrite(svg_script, 1, sizeof(svg_script), out);
	fputs("]]></script>\n", out);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%u\" height=\"%u\" fill=\"rgb(245,245,240)\"/>\n",
		width, height);
	fprintf(out, "<text id=\"title\" x=\"%u\" y=\"%d\" text-anchor=\"middle\">", width / 2,
		FONT_SIZE * 2);
	svg_escape(out, title, strlen(title), NAME_SHOWN_MAX);
	fputs("</text>\n", out);
	if (o->subtitle) {
		fprintf(out, "<text id=\"subtitle\" x=\"%u\" y=\"%d\" text-anchor=\"middle\" "
			"fill=\"rgb(160,160,160)\">", width / 2, FONT_SIZE * 3 + 4);
		svg_escape(out, o->subtitle, strlen(o->subtitle), NAME_SHOWN_MAX);
		fputs("</text>\n", out);
	}
	fprintf(out, "<text id=\"unzoom\" class=\"button hide\" x=\"%d\" y=\"%d\">Reset Zoom</text>\n"
		"<text id=\"search\" class=\"button\" x=\"%u\" y=\"%d\" text-anchor=\"end\">Search</text>\n"
		"<text id=\"ignorecase\" class=\"button\" x=\"%u\" y=\"%d\" text-anchor=\"end\">ic</text>\n"
		"<text id=\"details\" x=\"%d\" y=\"%u\"> </text>\n"
		"<text id=\"matched\" x=\"%u\" y=\"%u\" text-anchor=\"end\"> </text>\n",
		PAD, FONT_SIZE * 2, width - PAD - 24, FONT_SIZE * 2, width - PAD, FONT_SIZE * 2,
		PAD, height - FONT_SIZE, width - PAD, height - FONT_SIZE);
	fputs("<g id=\"frames\">\n", out);
	err = walk_tree(t, cut, &depth, out, o, span, height);
	if (err < 0)
		return err;
	fputs("</g>\n</svg>\n", out);
	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}
