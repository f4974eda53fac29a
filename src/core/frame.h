/*
 * frame.h - a named frame, as the symbolizer gives it and every writer
 * prints it, and the one place where a frame's kind becomes text.
 *
 * Writers never spell a kind themselves: the folded "_[k]" suffix, the
 * names of dump's JSON, the tag of dump's text and the top table all come
 * from here (the SVG palette from the kind itself), so a new kind (CPython frames) is added in this file and the
 * symbolizer, and nowhere else.
 */
#ifndef HOTSPY_FRAME_H
#define HOTSPY_FRAME_H

#include <stddef.h>

enum frame_kind {
	FRAME_NATIVE,
	FRAME_INLINED,
	FRAME_KERNEL,
	FRAME_JIT,       /* named from the JIT's /tmp/perf-PID.map */
	FRAME_PYTHON,
	FRAME_UNKNOWN,   /* no symbol: function is "module+0xOFFSET",
			  * "[anon:0xSTART]" (anonymous code, module
			  * "[anon]") or "[unknown]" (in no mapping) */
	FRAME_MARKER,    /* "[truncated]" (the stack copy was too short) /
			  * "[unknown]" (no way up: no unwind information nor
			  * frame pointer) for the marker addresses of
			  * addrspace.h: docs/sampling.md */
};

#define FRAME_KIND_COUNT (FRAME_MARKER + 1)

struct frame {
	const char *function;  /* never NULL; untrusted bytes from the target */
	const char *module;    /* basename of the mapping, or NULL */
	const char *file;      /* source file, or NULL when unknown */
	unsigned line;         /* 0 when unknown */
	enum frame_kind kind;
	const char *signature; /* the full C++ signature (return and parameter
				* types) when @function is its short form, for
				* tooltips and speedscope; NULL otherwise */
};

/*
 * The suffix the folded format (and the names drawn from it: SVG,
 * speedscope) puts after a frame of kind @kind, as flamegraph.pl's
 * stackcollapse scripts do: "_[i]" inlined, "_[k]" kernel, "_[j]" JIT,
 * "" for every other kind. A static string.
 */
const char *frame_kind_suffix(enum frame_kind kind);

/*
 * The kind's name in JSON and text outputs: "native", "inlined", "kernel",
 * "jit", "python", "unknown", "marker"; "unknown" for a value out of the
 * enum. A static string.
 */
const char *frame_kind_name(enum frame_kind kind);

/*
 * What text for people (dump's stacks, the top table) puts after a frame's
 * function: " [inlined]" for an inlined frame, "" otherwise (the module
 * says the rest). A static string.
 */
const char *frame_kind_tag(enum frame_kind kind);

/*
 * The reverse of frame_kind_suffix, for readers of folded text only (the
 * only place where a kind travels as text): when @name[0..len) is a
 * non-empty name followed by one of the suffixes, stores its kind in *@kind
 * and returns the suffix's length; otherwise stores FRAME_NATIVE (folded
 * text says nothing more of a frame without a suffix) and returns 0.
 */
size_t frame_kind_from_suffix(const char *name, size_t len, enum frame_kind *kind);

#endif
