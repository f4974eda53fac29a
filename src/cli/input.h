/*
 * input.h - how the commands that read profile files (flamegraph, diff,
 * report) open them and bound what they take: a line's length and the
 * memory of the model (flametree_limits), from the environment
 * (HOTSPY_LINE_MAX, HOTSPY_MEMORY_MAX), and one line on stderr when an
 * input that is no regular file sends nothing for a second.
 */
#ifndef HOTSPY_INPUT_H
#define HOTSPY_INPUT_H

#include <stdio.h>

#include "flametree.h"

/* The memory a profile read from a file may take by default (less on a
 * machine with less than twice as much), in bytes. */
#define INPUT_MEMORY_MAX ((size_t)4 << 30)

/* How long an input may be silent before hotspy says it waits, in ms. */
#define INPUT_WAIT_NOTICE_MS 1000

/*
 * The limits for trees read from files: HOTSPY_LINE_MAX (default
 * FLAMETREE_LINE_MAX, 64 MiB) and HOTSPY_MEMORY_MAX (default
 * INPUT_MEMORY_MAX, or half the machine's memory when that is less),
 * sizes in bytes with an optional K, M or G suffix. 0, or -EINVAL after
 * reporting a bad value. Also sets the process's allocator up for reading
 * large files (every reader of profile files calls this first).
 */
int input_limits(struct flametree_limits *l);

/*
 * Open @path for reading (NULL or "-": standard input) into *@in. When the
 * input is no regular file (a pipe, a FIFO, a terminal) and nothing comes
 * for INPUT_WAIT_NOTICE_MS, says "hotspy: waiting for input on NAME
 * (a pipe)..." once on stderr, then waits on. A FIFO is opened without
 * waiting for a writer first, so that the notice comes then too. 0, or
 * -errno after reporting (the path, the cause, what to do).
 */
int input_open(const char *path, FILE **in);

/* Close what input_open opened; standard input stays open. Accepts NULL. */
void input_close(FILE *in);

/*
 * Report an error @err of reading @name into a tree with limits @l: the
 * line (@long_line, from the reader's stats) past the line limit, the
 * memory limit passed, or else @err's text. Returns @err.
 */
int input_error(int err, const char *name, size_t long_line, const struct flametree_limits *l);

#endif
