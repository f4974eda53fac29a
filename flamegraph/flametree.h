/*
 * flametree.h - stacks merged into a tree of frames, and the reader of folded
 * stacks that fills it.
 *
 * Node 0 is the root ("all"). Every other node is one frame name under one
 * parent, with the weight of the samples that ended in it (self,
 * flametree_self) and of all samples that passed through it (total). A name also carries the kind of
 * its frames and where they come from, when whoever added it knew. The
 * writers (svg.h) render from this tree; it holds no display state.
 *
 * The folded reader takes lines from any producer: hotspy's own,
 * stackcollapse-perf.pl's, py-spy's raw output. A line is
 *   frame;frame;...;frame COUNT
 * where COUNT is after the LAST space or tab (names may hold spaces) and may
 * have decimals. Empty lines are skipped; a line without a valid count or
 * with an empty stack is malformed: counted, never fatal. Folded text is the
 * only place a kind is read from a name: the reader gives each name the
 * kind of its suffix (frame_kind_from_suffix), native when it has none.
 */
#ifndef HOTSPY_FLAMETREE_H
#define HOTSPY_FLAMETREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "frame.h"

/* Longest frame name kept, in bytes; longer names are cut. */
#define FLAMETREE_NAME_MAX 4096
#define FLAMETREE_NONE UINT32_MAX
/* Longest folded line read by default, in bytes: a stack of 131,074 frames
 * (the deepest record writes, with --stack-size 1M) of names up to 500
 * bytes. There is no limit on the frames of a line. */
#define FLAMETREE_LINE_MAX (64u << 20)

/* 24 bytes: a tree read from a file whose stacks share little has about a
 * node per frame of the file, so a node is kept smaller than the text of a
 * frame. The self weight, which only the ends of stacks have, is kept
 * aside (flametree_self). */
struct flametree_node {
	uint32_t name;          /* for flametree_name */
	uint32_t parent;        /* FLAMETREE_NONE for the root */
	uint32_t first_child;   /* FLAMETREE_NONE when a leaf */
	uint32_t next_sibling;  /* FLAMETREE_NONE when the last */
	double total;
};

struct flametree_stats {
	size_t lines;           /* stack lines accepted */
	size_t malformed;       /* lines rejected */
	size_t first_malformed; /* 1-based line number of the first, 0 if none */
	int columns;            /* flametree_read_folded_pair: 2 when the input
				 * was "STACK BEFORE AFTER", 1 when plain */
	size_t long_line;       /* on -EMSGSIZE: the 1-based number of the line
				 * longer than the limit */
};

struct flametree;

struct flametree *flametree_new(void);      /* NULL with errno */
void flametree_free(struct flametree *t);   /* accepts NULL */

/*
 * What a tree takes from untrusted input. Every reader of files stops with
 * -E2BIG rather than let the tree, with its indexes and the work space of
 * the stack being added, grow past @memory_max bytes, and the folded
 * readers stop with -EMSGSIZE at a line longer than @line_max bytes (their
 * buffer holds one line and 1 MiB more). Input is never bounded by its
 * frames, lines or total size: only by what it costs. A new tree has no
 * memory limit (a recording's tree is as big as the recording) and
 * FLAMETREE_LINE_MAX; 0 in a field keeps it.
 */
struct flametree_limits {
	size_t memory_max;
	size_t line_max;
};
void flametree_set_limits(struct flametree *t, const struct flametree_limits *l);
void flametree_get_limits(const struct flametree *t, struct flametree_limits *l);

/*
 * For a tree read by one call and then drawn: at the end of the read
 * (flametree_read_folded*, flametree_add_folded), leave out frames whose
 * total is below the root's total * @num / @den, computed so, as svg_cut
 * computes the narrowest frame drawn. Only the tails of stacks that no
 * other stack shares are left out (a node per frame of them was most of
 * reading input whose stacks share little): other narrow frames stay, and
 * every frame as wide stays. A later read would not bring them back, so a
 * tree read more than once, or whose every stack is needed (folded,
 * diff, report), keeps the default, @num 0: nothing left out.
 */
void flametree_set_prune(struct flametree *t, double num, double den);
/*
 * For the BEFORE tree of a differential graph whose shape is @shape (the
 * AFTER tree, read, pruned and sorted first): at the end of each read,
 * the tails of stacks that no other stack shares are made nodes only as
 * far down as @shape has the same path (the same names, root first). The
 * graph looks BEFORE up only along @shape's paths (flametree_child, from
 * the root), and those lookups find what they would in the whole tree;
 * nothing else of the tree may be relied on (self weights of the frames
 * left out are lost; totals of the frames kept are whole). On input whose
 * stacks share little, almost every frame of BEFORE is such a tail and
 * the graph draws a few of them. @shape is only read, and must outlive the
 * reads; NULL (the default) keeps everything. Frames left out count in
 * flametree_pruned.
 */
void flametree_set_shape(struct flametree *t, const struct flametree *shape);
/* Frames left out so far: flametree_count() + this is the tree's size
 * without flametree_set_prune (or flametree_set_shape). */
size_t flametree_pruned(const struct flametree *t);

/* Bytes the tree holds now: its arrays and indexes, as allocated. */
size_t flametree_memory(const struct flametree *t);

/*
 * Whether a reader may hold @scratch bytes of its own beside the tree: 0,
 * or -E2BIG when the tree's memory and @scratch pass the limit. Readers
 * that build a stack before adding it call this as the stack grows, so
 * that no stack is refused for its depth, only for its cost.
 */
int flametree_room(const struct flametree *t, size_t scratch);

/*
 * Add one stack of @n frames, root first (leaf first when @leaf_first), with
 * weight @weight (> 0, finite). Names are bytes, not NUL-terminated, and are
 * cut at FLAMETREE_NAME_MAX; they give the tree no kind and no place. 0,
 * -EINVAL (bad weight) or -ENOMEM.
 */
int flametree_add(struct flametree *t, const char *const *names, const size_t *lens,
		  size_t n, double weight, bool leaf_first);

/* One level of a stack for flametree_add_frames. */
struct flametree_frame {
	const char *name;               /* the text drawn; bytes, not NUL-terminated */
	size_t len;
	const struct frame *frame;      /* what was named, or NULL for a level that
					 * is no frame (process, thread) */
};

/*
 * As flametree_add, and each level with a @frame gives its name the frame's
 * kind (a name given different kinds becomes FRAME_UNKNOWN) and place, as
 * flametree_set_info would, in the order of the array, and its full
 * signature (kept when all frames of the name agree on it). Nothing is kept of
 * @frames. 0, -EINVAL (bad weight) or -ENOMEM.
 */
int flametree_add_frames(struct flametree *t, const struct flametree_frame *frames,
			 size_t n, double weight, bool leaf_first);

/*
 * Parse folded text @buf[0..len) and add its stacks; @reverse adds each stack
 * leaf first (a "reverse" graph, callees at the bottom). @st (may be NULL)
 * receives the counts of accepted and malformed lines, added to what it held.
 * 0, -ENOMEM, -E2BIG (past the memory limit) or -EMSGSIZE (a line past the
 * line limit: st->long_line says which).
 */
int flametree_add_folded(struct flametree *t, const char *buf, size_t len, bool reverse,
			 struct flametree_stats *st);

/* Read @in to its end and parse it as above. 0, -ENOMEM, -E2BIG, -EMSGSIZE
 * or -EIO. Memory is the tree's and one line's, whatever the input's size. */
int flametree_read_folded(struct flametree *t, FILE *in, bool reverse,
			  struct flametree_stats *st);

/* As flametree_read_folded, with the input's first @head_len bytes already
 * taken from @in into @head (a caller that looked at them to tell the
 * format). */
int flametree_read_folded_head(struct flametree *t, const char *head, size_t head_len,
			       FILE *in, bool reverse, struct flametree_stats *st);

/*
 * As flametree_read_folded, and when the input is the two-column form of a
 * differential profile ("STACK BEFORE AFTER", as difffolded.pl writes and
 * flamegraph.pl reads; decided by the first line that parses), the BEFORE
 * counts go to @before and st->columns is 2. Lines of the other form are
 * malformed.
 */
int flametree_read_folded_pair(struct flametree *t, struct flametree *before, FILE *in,
			       bool reverse, struct flametree_stats *st);

/*
 * Write the two-column form of @before and @after (both sorted): one line
 * "STACK BEFORE AFTER" per stack either has, BEFORE's counts times
 * @before_scale; AFTER's stacks first, in tree order, then those only
 * BEFORE has. 0, -ENOMEM or -EIO.
 */
int flametree_write_diff_folded(FILE *out, const struct flametree *before,
				const struct flametree *after, double before_scale);

/*
 * Order every node's children bytewise by name, so a rendering is the same
 * whatever the order of the input lines. Call once before reading the tree.
 * 0 or -ENOMEM.
 */
int flametree_sort(struct flametree *t);

size_t flametree_count(const struct flametree *t);
/* Node @i (< flametree_count). The pointer lives until the next add. */
const struct flametree_node *flametree_node_at(const struct flametree *t, uint32_t i);
/* The weight of the samples that ended in node @n (a pointer from
 * flametree_node_at of @t): 0 for a node no stack ends in. */
double flametree_self(const struct flametree *t, const struct flametree_node *n);
/* The bytes of name @name; *len receives the length. Not NUL-terminated. */
const char *flametree_name(const struct flametree *t, uint32_t name, size_t *len);
/* Ask the memory for name @name's entry ahead of flametree_name (a hint:
 * nothing is read; writers that walk a large tree call it some frames
 * before they name the frame). */
void flametree_name_prefetch(const struct flametree *t, uint32_t name);
/*
 * The child of @parent named @name[0..len), or FLAMETREE_NONE. Lets a
 * differential graph find a frame of one tree in another.
 */
uint32_t flametree_child(const struct flametree *t, uint32_t parent, const char *name,
			 size_t len);
/*
 * Where frames named @name[0..len) come from, for tooltips: @module and
 * @file (either may be NULL) and @line (0: unknown). Set before or after
 * the stacks that use the name; set again for the same name, it keeps what
 * the calls agree on (a file without a line when lines differ, nothing of
 * the file when files differ). 0 or -ENOMEM.
 */
int flametree_set_info(struct flametree *t, const char *name, size_t len,
		       const char *module, const char *file, unsigned line);

struct flametree_info {
	const char *module, *file;      /* bytes, not NUL-terminated */
	size_t module_len, file_len;    /* 0 when unknown */
	const char *signature;          /* the full C++ signature of a short
					 * name (frame.h), when all its frames
					 * agree on one */
	size_t signature_len;           /* 0 when none */
	unsigned line;                  /* 0 when unknown */
};
/* The place of name @name (an id from a node), or false when none is known. */
bool flametree_info(const struct flametree *t, uint32_t name, struct flametree_info *info);

/* The kind of name @name (an id from a node): the one its frames were
 * given, FRAME_NATIVE when none was. */
enum frame_kind flametree_kind(const struct flametree *t, uint32_t name);

/* Total weight (the root's total). */
double flametree_total(const struct flametree *t);

#endif
