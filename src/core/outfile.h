/*
 * outfile.h - an output file that appears whole or not at all.
 *
 * outfile_open creates a temporary file beside the destination at once, so an
 * unwritable path is reported before any work is done; outfile_commit
 * flushes it and renames it into place. "-" writes to stdout directly.
 */
#ifndef HOTSPY_OUTFILE_H
#define HOTSPY_OUTFILE_H

#include <stdio.h>

struct outfile;

/* 0 or -errno (the caller reports it, naming the path). */
int outfile_open(const char *path, struct outfile **out);
FILE *outfile_stream(struct outfile *of);
const char *outfile_path(const struct outfile *of);
/* Flush, close and rename into place; frees @of. 0 or -errno (the temporary
 * file is removed on failure). */
int outfile_commit(struct outfile *of);
/* Remove the temporary file and free @of. Accepts NULL. */
void outfile_abort(struct outfile *of);

#endif
