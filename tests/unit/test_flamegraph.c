/*
 * test_flamegraph.c - the frame tree, the folded reader and the SVG writer:
 * widths sum to totals, narrow frames are pruned, children are ordered by
 * name, malformed lines are counted, hostile names are escaped, and
 * identical input gives identical bytes.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "flametree.h"
#include "svg.h"

#include "banned.h"

static struct flametree *tree_of(const char *text, bool reverse, struct flametree_stats *st)
{
	struct flametree *t = flametree_new();

	CHECK(t != NULL);
	CHECK(flametree_add_folded(t, text, strlen(text), reverse, st) == 0);
	CHECK(flametree_sort(t) == 0);
	return t;
}

static uint32_t child_named(const struct flametree *t, uint32_t parent, const char *name)
{
	for (uint32_t c = flametree_node_at(t, parent)->first_child; c != FLAMETREE_NONE;
	     c = flametree_node_at(t, c)->next_sibling) {
		size_t len;
		const char *s = flametree_name(t, flametree_node_at(t, c)->name, &len);

		if (len == strlen(name) && memcmp(s, name, len) == 0)
			return c;
	}
	return FLAMETREE_NONE;
}

/* Every node's total is its self plus its children's totals. */
static void test_totals(void)
{
	struct flametree_stats st = { 0 };
	struct flametree *t = tree_of("main;b;x 3\nmain;a 2\nmain;b;y 1.5\nmain 1\n"
				      "main;b;x 4\nother 0.25\n", false, &st);
	uint32_t main_n, b;

	CHECK_EQ_U64(st.lines, 6);
	CHECK_EQ_U64(st.malformed, 0);
	CHECK(fabs(flametree_total(t) - 11.75) < 1e-9);
	for (uint32_t i = 0; i < flametree_count(t); i++) {
		const struct flametree_node *n = flametree_node_at(t, i);
		double sum = flametree_self(t, n);

		for (uint32_t c = n->first_child; c != FLAMETREE_NONE;
		     c = flametree_node_at(t, c)->next_sibling)
			sum += flametree_node_at(t, c)->total;
		CHECK(fabs(sum - n->total) < 1e-9);
	}
	main_n = child_named(t, 0, "main");
	CHECK(main_n != FLAMETREE_NONE);
	b = child_named(t, main_n, "b");
	CHECK(b != FLAMETREE_NONE);
	if (b != FLAMETREE_NONE) {
		CHECK(fabs(flametree_node_at(t, b)->total - 8.5) < 1e-9);
		CHECK(fabs(flametree_node_at(t, child_named(t, b, "x"))->total - 7) < 1e-9);
	}
	/* Children in byte order: a before b. */
	if (main_n != FLAMETREE_NONE) {
		uint32_t first = flametree_node_at(t, main_n)->first_child;
		size_t len;

		CHECK(first == child_named(t, main_n, "a"));
		CHECK(*flametree_name(t, flametree_node_at(t, first)->name, &len) == 'a');
	}
	flametree_free(t);
}

/*
 * Lookups of children, the only child of a node (found without the table)
 * and the many children of one node (the table, grown several times): the
 * same stacks added twice make no new node and double every total.
 */
static void test_lookup(void)
{
	enum { WIDE = 5000, DEEP = 6 };
	struct flametree *t = flametree_new();
	char buf[WIDE][16], chain[DEEP][8];
	size_t count = 0;

	CHECK(t != NULL);
	for (int i = 0; i < WIDE; i++)
		snprintf(buf[i], sizeof(buf[i]), "f%d", i);
	for (int d = 0; d < DEEP; d++)
		snprintf(chain[d], sizeof(chain[d]), "c%d", d);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < WIDE; i++) {
			/* main;fI;c0;...;c5 and, for every third, main;fI;c0;x */
			const char *names[2 + DEEP] = { "main", buf[i] };
			size_t lens[2 + DEEP] = { 4, strlen(buf[i]) };

			for (int d = 0; d < DEEP; d++)
				names[2 + d] = chain[d], lens[2 + d] = 2;
			CHECK(flametree_add(t, names, lens, 2 + DEEP, 1.0, false) == 0);
			if (i % 3 == 0) {
				names[3] = "x";
				lens[3] = 1;
				CHECK(flametree_add(t, names, lens, 4, 1.0, false) == 0);
			}
		}
		if (round == 0)
			count = flametree_count(t);
	}
	/* root, main, WIDE fI, DEEP c per fI, one x per third of them. */
	CHECK_EQ_U64(count, 2 + (uint64_t)WIDE * (1 + DEEP) + (WIDE + 2) / 3);
	CHECK_EQ_U64(flametree_count(t), count);
	for (int i = 0; i < WIDE; i += 7) {
		uint32_t main_n = flametree_child(t, 0, "main", 4);
		uint32_t f = flametree_child(t, main_n, buf[i], strlen(buf[i]));
		uint32_t c0 = flametree_child(t, f, "c0", 2);

		CHECK(f != FLAMETREE_NONE && c0 != FLAMETREE_NONE);
		if (f == FLAMETREE_NONE || c0 == FLAMETREE_NONE)
			break;
		CHECK(fabs(flametree_node_at(t, f)->total - (i % 3 == 0 ? 4.0 : 2.0)) < 1e-9);
		CHECK((flametree_child(t, c0, "x", 1) != FLAMETREE_NONE) == (i % 3 == 0));
		CHECK(flametree_child(t, c0, "c1", 2) != FLAMETREE_NONE);
		CHECK(flametree_child(t, c0, "c2", 2) == FLAMETREE_NONE);
		CHECK(flametree_child(t, f, "nothing", 7) == FLAMETREE_NONE);
	}
	flametree_free(t);
}

static void test_reader(void)
{
	struct flametree_stats st = { 0 };
	/* perf's names with spaces and a tab before the count; py-spy's
	 * "func (file.py:12)"; CRLF; blank lines; malformed ones. */
	struct flametree *t = tree_of(
		"perf-prog;[unknown];operator new(unsigned long) 7\n"
		"py;<module> (app.py:3);work (app.py:12)\t5\r\n"
		"\n"
		"no count here\n"
		"main;f 12abc\n"
		"main;f -3\n"
		" 4\n"
		"main;f 1e400\n"
		"main;g 2", true, &st);

	CHECK_EQ_U64(st.lines, 3);
	CHECK_EQ_U64(st.malformed, 5);
	CHECK_EQ_U64(st.first_malformed, 4);
	/* reverse: the leaf is the root's child. */
	CHECK(child_named(t, 0, "operator new(unsigned long)") != FLAMETREE_NONE);
	CHECK(child_named(t, 0, "work (app.py:12)") != FLAMETREE_NONE);
	CHECK(fabs(flametree_total(t) - 14) < 1e-9);
	flametree_free(t);
}

static char *render(const struct flametree *t, const struct svg_options *o, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	CHECK(f != NULL);
	CHECK(svg_write(f, t, o) == 0);
	fclose(f);
	return buf;
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* A small seeded generator: the same stacks on every run. */
static uint64_t rnd_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static unsigned rnd_below(uint64_t *s, unsigned n)
{
	return (unsigned)(rnd_next(s) % n);
}

/* Whether the subtrees at @a in @x and @b in @y are equal: names, totals,
 * self weights and children, in order (both sorted). */
static bool same_subtree(const struct flametree *x, uint32_t a, const struct flametree *y,
			 uint32_t b)
{
	const struct flametree_node *na = flametree_node_at(x, a), *nb = flametree_node_at(y, b);
	size_t la, lb;
	const char *sa = flametree_name(x, na->name, &la), *sb = flametree_name(y, nb->name, &lb);
	uint32_t ca = na->first_child, cb = nb->first_child;

	if (la != lb || memcmp(sa, sb, la) != 0 || na->total != nb->total ||
	    flametree_self(x, na) != flametree_self(y, nb) ||
	    flametree_kind(x, na->name) != flametree_kind(y, nb->name))
		return false;
	for (; ca != FLAMETREE_NONE && cb != FLAMETREE_NONE;
	     ca = flametree_node_at(x, ca)->next_sibling,
	     cb = flametree_node_at(y, cb)->next_sibling)
		if (!same_subtree(x, ca, y, cb))
			return false;
	return ca == FLAMETREE_NONE && cb == FLAMETREE_NONE;
}

#define RUNS_STACKS 300
#define RUNS_DEPTH 40

/*
 * The folded reader keeps the tails of stacks that no other stack shares
 * as runs of names, made nodes at the end of the read: its tree must be
 * the one a node per frame builds (flametree_add). Seeded random stacks
 * that share prefixes, part inside earlier ones, end inside them, go on
 * past their ends and repeat, root first and leaf first, with decimal
 * counts (the same sums in the same order give the same doubles).
 */
static void test_runs(void)
{
	static const char *const names[] = { "a", "b", "c", "d", "e_[k]", "f", "g&<h>" };
	static unsigned st[RUNS_STACKS][RUNS_DEPTH], depth[RUNS_STACKS];
	struct flametree_frame fr[RUNS_DEPTH];
	struct frame kinds[sizeof(names) / sizeof(names[0])];
	uint64_t seed = 0x9e3779b97f4a7c15;

	/* What the folded reader reads from a name's suffix. */
	for (unsigned k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		kinds[k] = (struct frame){ .function = names[k] };
		frame_kind_from_suffix(names[k], strlen(names[k]), &kinds[k].kind);
	}
	for (int round = 0; round < 40; round++) {
		bool reverse = round & 1;
		unsigned alphabet = round % 3 == 0 ? 2 : round % 3 == 1 ? 4 : 7;
		struct flametree *folded = flametree_new(), *plain = flametree_new();
		char *text = NULL;
		size_t text_len = 0;
		FILE *f = open_memstream(&text, &text_len);

		CHECK(folded != NULL && plain != NULL && f != NULL);
		for (unsigned i = 0; i < RUNS_STACKS; i++) {
			unsigned kind = rnd_below(&seed, 10), from = i ? rnd_below(&seed, i) : 0;
			unsigned keep = i ? rnd_below(&seed, depth[from] + 1) : 0, n = keep;
			char count[32];

			/* 0-3: new; 4-5: the same as an earlier one; 6-7: an
			 * earlier one's prefix; 8-9: part of one, then new. */
			if (kind < 4 || !i)
				n = keep = 0;
			else if (kind < 6)
				n = keep = depth[from];
			memcpy(st[i], st[from], keep * sizeof(st[i][0]));
			if (kind < 4 || kind >= 8 || !i)
				for (unsigned add = 1 + rnd_below(&seed, 20); add && n < RUNS_DEPTH; add--)
					st[i][n++] = rnd_below(&seed, alphabet);
			if (!n)
				st[i][n++] = 0;
			depth[i] = n;
			if (rnd_below(&seed, 4))
				snprintf(count, sizeof(count), "%u", 1 + rnd_below(&seed, 1000));
			else
				snprintf(count, sizeof(count), "%u.%02u", rnd_below(&seed, 5),
					 1 + rnd_below(&seed, 99));
			for (unsigned k = 0; k < n; k++) {
				fr[k] = (struct flametree_frame){
					names[st[i][k]], strlen(names[st[i][k]]), &kinds[st[i][k]],
				};
				fprintf(f, "%s%s", k ? ";" : "", fr[k].name);
			}
			fprintf(f, " %s\n", count);
			CHECK(flametree_add_frames(plain, fr, n, strtod(count, NULL), reverse) == 0);
		}
		fclose(f);
		CHECK(flametree_add_folded(folded, text, text_len, reverse, NULL) == 0);
		CHECK(flametree_sort(folded) == 0 && flametree_sort(plain) == 0);
		CHECK_EQ_U64(flametree_count(folded), flametree_count(plain));
		CHECK(same_subtree(folded, 0, plain, 0));
		free(text);
		flametree_free(folded);
		flametree_free(plain);
	}
}

/*
 * flametree_set_prune with svg_cut's numbers leaves out tails narrower than
 * the graph draws, and the graph is the same bytes; the frames left out
 * are counted. Stacks with narrow unshared tails below a few wide frames,
 * under option sets that draw more or less of them.
 */
static void test_prune(void)
{
	static const struct svg_options opts[] = {
		{ .width = 1200 }, { .width = 300, .inverted = true },
		{ .minwidth = 0.01 }, { .minwidth = 2, .minwidth_percent = true },
	};
	uint64_t seed = 42;
	char *text = NULL;
	size_t text_len = 0;
	FILE *f = open_memstream(&text, &text_len);

	CHECK(f != NULL);
	for (unsigned i = 0; i < 3000; i++) {
		unsigned n = 3 + rnd_below(&seed, 30);

		fprintf(f, "main;w%u", rnd_below(&seed, 3));
		for (unsigned k = 0; k < n; k++)
			fprintf(f, ";f%u", rnd_below(&seed, 50));
		fprintf(f, " %u\n", i % 100 ? 1 + rnd_below(&seed, 3) : 5000);
	}
	fclose(f);
	for (size_t o = 0; o < sizeof(opts) / sizeof(opts[0]); o++) {
		struct flametree *all = flametree_new(), *some = flametree_new();
		double num, den;
		size_t la, ls;
		char *a, *b;

		CHECK(all != NULL && some != NULL);
		svg_cut(&opts[o], &num, &den);
		flametree_set_prune(some, num, den);
		CHECK(flametree_add_folded(all, text, text_len, false, NULL) == 0);
		CHECK(flametree_add_folded(some, text, text_len, false, NULL) == 0);
		CHECK(flametree_sort(all) == 0 && flametree_sort(some) == 0);
		CHECK_EQ_U64(flametree_pruned(all), 0);
		CHECK(flametree_pruned(some) > 0);
		CHECK_EQ_U64(flametree_count(some) + flametree_pruned(some), flametree_count(all));
		a = render(all, &opts[o], &la);
		b = render(some, &opts[o], &ls);
		CHECK(a && b && la == ls && memcmp(a, b, la) == 0);
		free(a);
		free(b);
		flametree_free(all);
		flametree_free(some);
	}
	free(text);
}

/* Seeded folded text for test_shape: stacks from a small call graph, so
 * that two texts share some paths and part from each other's elsewhere. */
static char *shape_text(uint64_t *seed, unsigned stacks, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	CHECK(f != NULL);
	for (unsigned i = 0; i < stacks; i++) {
		unsigned n = 1 + rnd_below(seed, 25), fn = rnd_below(seed, 4);

		fprintf(f, "main");
		for (unsigned k = 0; k < n; k++) {
			/* Each function calls one of 3 others: paths repeat. */
			fn = (fn * 7 + 1 + rnd_below(seed, 3)) % 40;
			fprintf(f, ";f%u%s", fn, fn % 9 ? "" : "_[k]");
		}
		if (rnd_below(seed, 5))
			fprintf(f, " %u\n", 1 + rnd_below(seed, 50));
		else
			fprintf(f, " %u.%02u\n", rnd_below(seed, 3), 1 + rnd_below(seed, 99));
	}
	fclose(f);
	return text;
}

/*
 * flametree_set_shape: BEFORE read with AFTER as its shape draws the same
 * differential graph as BEFORE read whole, root first and leaf first,
 * under option sets that draw more or less, and leaves frames out.
 */
static void test_shape(void)
{
	static const struct svg_options opts[] = {
		{ .width = 1200 }, { .width = 300, .inverted = true },
		{ .minwidth = 0.01 }, { .minwidth = 2, .minwidth_percent = true },
	};
	uint64_t seed = 7;

	for (int round = 0; round < 4; round++) {
		bool reverse = round & 1;
		const struct svg_options *o = &opts[round];
		size_t lb, la, lw, ls;
		char *tb = shape_text(&seed, 500, &lb), *ta = shape_text(&seed, 500, &la);
		struct flametree *after = flametree_new(), *whole = flametree_new();
		struct flametree *shaped = flametree_new();
		struct svg_options so = *o;
		double num, den;
		char *a, *b;

		CHECK(after != NULL && whole != NULL && shaped != NULL);
		svg_cut(o, &num, &den);
		flametree_set_prune(after, num, den);
		CHECK(flametree_add_folded(after, ta, la, reverse, NULL) == 0);
		CHECK(flametree_sort(after) == 0);
		flametree_set_shape(shaped, after);
		CHECK(flametree_add_folded(whole, tb, lb, reverse, NULL) == 0);
		CHECK(flametree_add_folded(shaped, tb, lb, reverse, NULL) == 0);
		CHECK(flametree_sort(whole) == 0 && flametree_sort(shaped) == 0);
		CHECK(flametree_pruned(shaped) > 0);
		CHECK_EQ_U64(flametree_count(shaped) + flametree_pruned(shaped),
			     flametree_count(whole));
		CHECK(flametree_total(shaped) == flametree_total(whole));
		so.before = whole;
		a = render(after, &so, &lw);
		so.before = shaped;
		b = render(after, &so, &ls);
		CHECK(a && b && lw == ls && memcmp(a, b, lw) == 0);
		/* Some frames drawn are compared with BEFORE's: "[+N, +P%]". */
		CHECK(strstr(a, "%]") != NULL);
		free(a);
		free(b);
		free(ta);
		free(tb);
		flametree_free(after);
		flametree_free(whole);
		flametree_free(shaped);
	}
}

/* Frames narrower than --minwidth are left out, with their children. */
static void test_minwidth(void)
{
	struct flametree *t = tree_of("main;big 990\nmain;small;deeper 10\n", false, NULL);
	struct svg_options o = { .width = 1200 };
	size_t len;
	char *svg = render(t, &o, &len);

	CHECK(strstr(svg, ">small (") != NULL);
	CHECK(strstr(svg, ">deeper (") != NULL);
	free(svg);
	o.minwidth = 2;
	o.minwidth_percent = true;      /* small is 1 % */
	svg = render(t, &o, &len);
	CHECK(strstr(svg, ">big (") != NULL);
	CHECK(strstr(svg, ">small (") == NULL);
	CHECK(strstr(svg, ">deeper (") == NULL);
	free(svg);
	o.minwidth = 20;                /* px: small is 11.8 px wide */
	o.minwidth_percent = false;
	svg = render(t, &o, &len);
	CHECK(strstr(svg, ">small (") == NULL);
	CHECK(strstr(svg, ">big (") != NULL);
	free(svg);
	flametree_free(t);
}

/* Widths of siblings add up to their parent's; order is left to right. */
static void test_layout(void)
{
	struct flametree *t = tree_of("r;c 1\nr;a 2\nr;b 1\n", false, NULL);
	struct svg_options o = { .width = 420 };  /* 400 px of frames */
	size_t len;
	char *svg = render(t, &o, &len);
	const char *a = strstr(svg, ">a ("), *b = strstr(svg, ">b ("), *c = strstr(svg, ">c (");

	CHECK(a && b && c && a < b && b < c);
	CHECK(strstr(svg, "x=\"10.00\" y=\"") != NULL);
	CHECK(strstr(svg, "width=\"200.00\"") != NULL);   /* a: 2 of 4 */
	CHECK(count_of(svg, "width=\"100.00\"") == 2);     /* b, c */
	CHECK(strstr(svg, "<rect x=\"210.00\"") != NULL);  /* b starts after a */
	CHECK(strstr(svg, "<rect x=\"310.00\"") != NULL);  /* c after b */
	CHECK(strstr(svg, "a (2 samples, 50.00%)") != NULL);
	free(svg);
	flametree_free(t);
}

/* A stack of 10,000 frames, as record writes with --stack-size 1M, is read
 * whole: one node per frame (it was skipped as malformed past 4096). */
static void test_deep(void)
{
	const size_t depth = 10000;
	char *line = malloc(depth * 2 + 16), *p = line;
	struct flametree_stats st = { 0 };
	struct flametree *t = flametree_new();

	CHECK(line != NULL && t != NULL);
	if (!line || !t)
		goto out;
	for (size_t i = 0; i < depth; i++) {
		*p++ = 'f';
		*p++ = i + 1 < depth ? ';' : ' ';
	}
	memcpy(p, "3\n", 3);
	CHECK(flametree_add_folded(t, line, (size_t)(p - line) + 2, false, &st) == 0);
	CHECK_EQ_U64(st.lines, 1);
	CHECK_EQ_U64(st.malformed, 0);
	/* The root, then one node per frame. */
	CHECK(flametree_count(t) >= depth + 1);
out:
	flametree_free(t);
	free(line);
}

/* Names that try to break out of the markup stay text. */
static void test_hostile(void)
{
	char *big = malloc(10 * 1024 + 16);
	struct flametree *t;
	struct svg_options o = { .title = "<t>&" };
	size_t len, len2;
	char *svg, *svg2;

	memcpy(big, "main;", 5);
	memset(big + 5, 'A', 10 * 1024);
	memcpy(big + 5 + 10 * 1024, " 1\n", 4);
	t = flametree_new();
	CHECK(flametree_add_folded(t, big, strlen(big), false, NULL) == 0);
	const char *evil = "main;<script>alert(1)</script> 3\n"
			   "main;]]></script><script>alert(2)</script> 3\n"
			   "main;a & b \"q\" 'r' 2\n"
			   "main;\xff\xfe\xc0\xaf\xed\xa0\x80 bad\x01utf8 1\n";
	CHECK(flametree_add_folded(t, evil, strlen(evil), false, NULL) == 0);
	CHECK(flametree_sort(t) == 0);
	svg = render(t, &o, &len);
	CHECK(strstr(svg, "<script>alert") == NULL);
	CHECK(count_of(svg, "<script") == 1);
	CHECK(count_of(svg, "]]>") == 1);
	CHECK(strstr(svg, "&lt;script&gt;alert(1)") != NULL);
	CHECK(strstr(svg, "a &amp; b &quot;q&quot; &apos;r&apos;") != NULL);
	CHECK(strstr(svg, "\xff") == NULL && strstr(svg, "\x01") == NULL);
	CHECK(strstr(svg, "\xef\xbf\xbd") != NULL);
	CHECK(strstr(svg, "&lt;t&gt;&amp;") != NULL);
	/* The 10 KB name is bounded. */
	CHECK(strstr(svg, "AAAA...") != NULL);
	CHECK(len < 10 * 1024 + 8000);
	/* Same input, same bytes. */
	svg2 = render(t, &o, &len2);
	CHECK(len == len2 && memcmp(svg, svg2, len) == 0);
	/* Written for xmllint by the integration test when asked. */
	if (getenv("HOTSPY_SVG_OUT")) {
		FILE *f = fopen(getenv("HOTSPY_SVG_OUT"), "w");

		if (f) {
			fwrite(svg, 1, len, f);
			fclose(f);
		}
	}
	free(svg);
	free(svg2);
	free(big);
	flametree_free(t);
}

/* A short C++ name's full signature is a second line of its tooltip, when
 * every frame of the name agrees on one (two overloads do not). */
static void test_signature(void)
{
	static const struct frame one = { .function = "ns::f", .module = "prog",
					  .signature = "int ns::f(int)" };
	static const struct frame other = { .function = "ns::f", .module = "prog",
					    .signature = "int ns::f(double)" };
	static const struct frame g = { .function = "ns::g", .module = "prog",
					.signature = "void ns::g<A<int> >(char const*)" };
	struct flametree_frame a[] = { { "ns::g", 5, &g }, { "ns::f", 5, &one } };
	struct flametree_frame b[] = { { "ns::g", 5, &g }, { "ns::f", 5, &other } };
	struct flametree *t = flametree_new();
	struct svg_options o = { .minwidth = 0 };
	size_t len;
	char *svg;

	CHECK(t != NULL);
	if (!t)
		return;
	CHECK(flametree_add_frames(t, a, 2, 2, false) == 0);
	CHECK(flametree_add_frames(t, b, 2, 1, false) == 0);
	CHECK(flametree_sort(t) == 0);
	svg = render(t, &o, &len);
	CHECK(svg && strstr(svg, "<title>ns::g (3 samples, 100.00%) in prog\n"
			    "void ns::g&lt;A&lt;int&gt; &gt;(char const*)</title>"));
	CHECK(svg && strstr(svg, "<title>ns::f (3 samples, 100.00%) in prog</title>"));
	free(svg);
	flametree_free(t);
}

/* Where a frame comes from, in its tooltip: what every place agrees on. */
static void test_info(void)
{
	struct flametree *t = flametree_new();
	struct svg_options o = { .minwidth = 0 };
	const char *folded = "p;main;hot 3\np;main;cold 1\np;main;warm 1\np;main;odd 1\n";
	struct flametree_info inf;
	size_t len;
	char *svg;

	CHECK(flametree_set_info(t, "main", 4, "prog", "main.c", 10) == 0);
	CHECK(flametree_set_info(t, "hot", 3, "prog", "hot.c", 5) == 0);
	CHECK(flametree_set_info(t, "hot", 3, "prog", "hot.c", 5) == 0);
	CHECK(flametree_set_info(t, "warm", 4, "libw.so", "w.c", 1) == 0);
	CHECK(flametree_set_info(t, "warm", 4, "libw.so", "w.c", 2) == 0);   /* two lines */
	CHECK(flametree_set_info(t, "odd", 3, "<m>", "a.c", 1) == 0);
	CHECK(flametree_set_info(t, "odd", 3, "<m>", "b.c", 1) == 0);       /* two files */
	CHECK(flametree_set_info(t, "cold", 4, NULL, NULL, 0) == 0);        /* nothing known */
	CHECK(flametree_add_folded(t, folded, strlen(folded), false, NULL) == 0);
	CHECK(flametree_sort(t) == 0);
	svg = render(t, &o, &len);
	CHECK(strstr(svg, "<title>hot (3 samples, 50.00%) in prog at hot.c:5</title>") != NULL);
	CHECK(strstr(svg, "<title>main (6 samples, 100.00%) in prog at main.c:10</title>") != NULL);
	CHECK(strstr(svg, "<title>warm (1 samples, 16.67%) in libw.so at w.c</title>") != NULL);
	CHECK(strstr(svg, "<title>odd (1 samples, 16.67%) in &lt;m&gt;</title>") != NULL);
	CHECK(strstr(svg, "<title>cold (1 samples, 16.67%)</title>") != NULL);
	CHECK(strstr(svg, "<title>p (6 samples, 100.00%)</title>") != NULL);
	/* The accessor agrees. */
	for (uint32_t i = 0; i < flametree_count(t); i++) {
		const struct flametree_node *n = flametree_node_at(t, i);
		size_t nl;
		const char *name = flametree_name(t, n->name, &nl);

		if (nl == 3 && memcmp(name, "hot", 3) == 0) {
			CHECK(flametree_info(t, n->name, &inf));
			CHECK(inf.module_len == 4 && memcmp(inf.module, "prog", 4) == 0);
			CHECK(inf.file_len == 5 && inf.line == 5);
		}
	}
	free(svg);
	flametree_free(t);
}

/* Counts whose sum is no longer a number: the line that would overflow
 * the total is malformed, and a diff of huge counts draws real colours. */
static void test_huge_counts(void)
{
	struct flametree_stats st = { 0 };
	struct flametree *t = tree_of("main;a 1.7e308\nmain;b 1.7e308\nmain;c 1\n", false, &st);
	struct flametree *before = tree_of("main;a 1\nmain;b 1.7e308\n", false, NULL);
	struct svg_options so = { .before = before };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	CHECK_EQ_U64(st.lines, 2);
	CHECK_EQ_U64(st.malformed, 1);
	CHECK(isfinite(flametree_total(t)));
	{
		static const char *const names[] = { "x" };
		static const size_t lens[] = { 1 };

		CHECK(flametree_add(t, names, lens, 1, 1.7e308, false) == -EINVAL);
		CHECK(isfinite(flametree_total(t)));
	}
	f = open_memstream(&buf, &len);
	CHECK(f != NULL);
	if (f) {
		CHECK(svg_write(f, t, &so) == 0);
		fclose(f);
		CHECK(buf && strstr(buf, "nan") == NULL && strstr(buf, "inf") == NULL);
		CHECK(buf && strstr(buf, "rgb(255,-") == NULL && strstr(buf, ",-") == NULL);
	}
	free(buf);
	flametree_free(before);
	flametree_free(t);
}

/*
 * The numbers of each frame are printf's (the writer formats them by hand
 * where it may): every fg:x and fg:w read back and printed again with the
 * formats of the SVG (%.17g, %.12g, %.2f) gives the bytes written, for
 * integer, decimal, huge and tie-making counts (3 of 9440: x = 10.375 px,
 * which printf rounds to even, up).
 */
static void check_numbers(const char *svg, double total, double span)
{
	const char *p = svg;
	size_t frames = 0;

	while ((p = strstr(p, "<g class=\"f\" fg:x=\"")) != NULL) {
		char want[256];
		const char *q;
		char *end;
		double x, w;

		p += strlen("<g class=\"f\" fg:x=\"");
		x = strtod(p, &end);
		snprintf(want, sizeof(want), "%.17g\" fg:w=\"", x);
		CHECK(strncmp(p, want, strlen(want)) == 0);
		p = strstr(p, "fg:w=\"");
		CHECK(p != NULL);
		if (!p)
			return;
		w = strtod(p + 6, &end);
		snprintf(want, sizeof(want), "%.17g\"", w);
		CHECK(strncmp(p + 6, want, strlen(want)) == 0);
		q = strstr(p, " samples, ");
		CHECK(q != NULL);
		if (!q)
			return;
		/* " (W samples, P%)" ends the first line of the title. */
		snprintf(want, sizeof(want), " (%.12g samples, %.2f%%)", w, w / total * 100.0);
		CHECK(strstr(p, want) != NULL && strstr(p, want) < strstr(p, "</title>"));
		snprintf(want, sizeof(want), "<rect x=\"%.2f\"", 10 + x / total * span);
		CHECK(strstr(p, want) != NULL && strstr(p, want) < strstr(p, "</g>"));
		snprintf(want, sizeof(want), "width=\"%.2f\"", w / total * span);
		CHECK(strstr(p, want) != NULL && strstr(p, want) < strstr(p, "</g>"));
		snprintf(want, sizeof(want), "<text x=\"%.2f\"", 10 + x / total * span + 3);
		CHECK(strstr(p, want) != NULL && strstr(p, want) < strstr(p, "</g>"));
		frames++;
	}
	CHECK(frames > 0);
}

static void test_numbers(void)
{
	static const char *const fixed[] = {
		"a;b 1\na;c 9439\n",                              /* x = 10.125 px */
		"a;b 3\na;c 9437\n",                              /* x = 10.375 px */
		"a;b 0.125\na;c 0.875\na;c;d 2.675\n",
		"a;b 123456789012345\na;c 1234567890123456\na;d 12345678901234567\n",
		"a;b 1e17\na;c 3e16\nb 0.0001\n",
		"x 1.5\ny 2.25\nz 0.005\n",
	};
	uint64_t r = 16;
	char text[8192];

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) + 20; i++) {
		struct svg_options o = { .minwidth = 0.0001 };
		struct flametree *t;
		size_t len, at = 0;
		char *svg;

		if (i < sizeof(fixed) / sizeof(fixed[0])) {
			snprintf(text, sizeof(text), "%s", fixed[i]);
		} else {
			/* Random trees: counts of 1 to 15 digits, some decimal. */
			for (int line = 0; line < 60; line++) {
				unsigned long long c;

				r = r * 6364136223846793005ULL + 1442695040888963407ULL;
				c = (r >> 20) % 1000000ULL;
				if ((r >> 8) % 4 == 0)
					c *= 1000000000ULL;
				at += (size_t)snprintf(text + at, sizeof(text) - at,
						       "m;f%u;g%u;h%u %llu%s\n",
						       (unsigned)(r >> 40) % 5, (unsigned)(r >> 44) % 7,
						       (unsigned)(r >> 48) % 9, c + 1,
						       (r >> 12) % 3 == 0 ? ".375" :
						       (r >> 12) % 3 == 1 ? ".1" : "");
			}
		}
		t = tree_of(text, false, NULL);
		svg = render(t, &o, &len);
		check_numbers(svg, flametree_total(t), 1180);
		free(svg);
		flametree_free(t);
	}
}

int main(void)
{
	test_numbers();
	test_info();
	test_huge_counts();
	test_signature();
	test_totals();
	test_lookup();
	test_reader();
	test_minwidth();
	test_layout();
	test_hostile();
	test_deep();
	test_runs();
	test_prune();
	test_shape();
	return check_status();
}
