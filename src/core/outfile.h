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
/*
 * As outfile_open, for a name hotspy made up (a default output name): an
 * existing file is never replaced, also one that appears while recording
 * (two recordings started in the same second). The name becomes
 * STEM-2.REST, STEM-3.REST... where STEM is the first @stem_len bytes of
 * @path; outfile_path says the name used, once committed too (until
 * freed). 0 or -errno.
 */
int outfile_open_unique(const char *path, size_t stem_len, struct outfile **out);
FILE *outfile_stream(struct outfile *of);
const char *outfile_path(const struct outfile *of);
/* Flush, close and rename into place; frees @of. 0 or -errno (the temporary
 * file is removed on failure). */
int outfile_commit(struct outfile *of);
/* As outfile_commit, and the path written (which outfile_open_unique may
 * have numbered) into @path[0..size). */
int outfile_commit_as(struct outfile *of, char *path, size_t size);
/* Remove the temporary file and free @of. Accepts NULL. */
void outfile_abort(struct outfile *of);

#endif
