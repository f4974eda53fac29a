/*
 * stackdump.h - the stacks of a process's threads at one instant, as
 * `hotspy dump` prints them: text for people, or one JSON document.
 *
 * Frames come from the symbolizer, innermost first; a frame's kind is
 * spelled by frame.h. Names from the target are untrusted: on a terminal
 * control bytes become '?', in JSON they are escaped; each is cut at 1024
 * bytes.
 */
#ifndef HOTSPY_STACKDUMP_H
#define HOTSPY_STACKDUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "symbols.h"

/* One argument or local variable of a Python frame (dump --locals). */
struct stackdump_local {
	const char *name;       /* untrusted */
	const char *value;      /* its text (a repr, or <TYPE at 0xADDR>);
	                         * untrusted */
	bool arg;               /* an argument */
};

/* The locals of the Python frame whose address (in the thread's addrs) is
 * @addr; arguments need not come first. */
struct stackdump_locals {
	uint64_t addr;
	const struct stackdump_local *v;
	size_t n;
	size_t more;            /* slots past the bound, not read */
};

struct stackdump_thread {
	pid_t tid;
	char state;             /* as in /proc/PID/stat ('R', 'S', ...), '?' unknown */
	const char *name;       /* the OS's (comm); never NULL; untrusted */
	const char *python_name; /* the name Python gives it (threading),
	                          * NULL: none known; untrusted */
	int8_t gil;             /* 1: it held Python's GIL, 0: it did not,
	                         * -1: not known (not Python) */
	const uint64_t *addrs;  /* leaf first, as the profile keeps them */
	size_t n;
	/* dump --locals: the locals of its Python frames, innermost first,
	 * in the order their addresses come in @addrs (NULL, 0: not asked) */
	const struct stackdump_locals *locals;
	size_t nlocals;
};

/*
 * Write the @n threads of process @pid (named @process, never NULL) in the
 * order given:
 *   Process PID: NAME (N threads)
 *   <blank line>Thread TID "NAME" (STATE) [Python "PYTHON_NAME"] [holds the GIL]
 *       function [inlined] (module) at file:line
 * and under a Python frame with locals (as py-spy dump --locals):
 *           Arguments:
 *               NAME: VALUE
 *           Locals:
 *               NAME: VALUE
 * Nothing is kept of the arguments; @sym's cache fills. Returns 0, or -EIO
 * when writing failed (errno tells why).
 */
int stackdump_write_text(FILE *out, pid_t pid, const char *process,
			 const struct stackdump_thread *threads, size_t n,
			 struct symbolizer *sym);

/*
 * As stackdump_write_text, as one JSON document:
 *   {"pid":P,"process":"..","threads":[{"tid":T,"name":"..",
 *    ["python_name":"..",] ["gil":true|false,] "state":"S",
 *    "frames":[{"function":"..","kind":"native","address":"0x..",
 *    "module":"..","file":"..","line":N}, ...]}, ...]}
 * "kind" is frame_kind_name; markers have no "address"; "module", "file"
 * and "line" only when known. With locals, each Python frame that has
 * them gets "locals":[{"name":"..","value":"..","arg":true|false}, ...]
 * (arguments first) and, when some were not read, "locals_more":N.
 * Returns 0 or -EIO.
 */
int stackdump_write_json(FILE *out, pid_t pid, const char *process,
			 const struct stackdump_thread *threads, size_t n,
			 struct symbolizer *sym);

/* One process of a dump that follows child processes (dump -s). */
struct stackdump_process {
	pid_t pid;
	const char *process;    /* its name, never NULL; untrusted */
	const struct stackdump_thread *threads;
	size_t n;
};

/*
 * The @n processes @procs, the target first, each as
 * stackdump_write_text writes one, a blank line between them. Returns 0
 * or -EIO.
 */
int stackdump_write_text_all(FILE *out, const struct stackdump_process *procs, size_t n,
			     struct symbolizer *sym);

/*
 * The @n processes @procs as one JSON document: the target's, as
 * stackdump_write_json writes it, with one more member
 *   "subprocesses":[{"pid":P,"process":"..","threads":[...]}, ...]
 * holding the others in the order given. Returns 0 or -EIO.
 */
int stackdump_write_json_all(FILE *out, const struct stackdump_process *procs, size_t n,
			     struct symbolizer *sym);

#endif
