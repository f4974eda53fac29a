/*
 * outfile.h - an output file that appears whole or not at all.
 *
 * outfile_open checks at once that the destination's directory takes a new
 * file, so an unwritable path is reported before any work is done, and
 * keeps a handle on that directory; the file itself is created only when
 * the first bytes are written, as an unnamed file (O_TMPFILE) where the file
 * system allows it, so a hotspy killed at any moment leaves nothing behind.
 * outfile_commit flushes it and links it into place, in the directory
 * opened at the start even if it was renamed since. Where the file system
 * refuses unnamed files, a hidden ".NAME.XXXXXX" beside the destination is
 * written and renamed instead. "-" writes to stdout directly (its fd, kept
 * open, with a write error's errno kept too); a device, FIFO
 * or socket is written in place.
 */
#ifndef HOTSPY_OUTFILE_H
#define HOTSPY_OUTFILE_H

#include <stdio.h>

struct outfile;

/* What outfile_commit_as returns, besides -errno, when the profile is not
 * exactly where it was asked for. */
enum outfile_place {
	OUTFILE_IN_PLACE = 0,   /* at the path given (or the number it got) */
	OUTFILE_MOVED = 1,      /* the directory was renamed while open: in it,
	                         * at its new path */
	OUTFILE_DIR_GONE = 2,   /* the directory was removed while open: in the
	                         * current directory instead, never replacing */
};

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
/* The stream to write to, owned by @of. A write error on it keeps its errno
 * for outfile_error. */
FILE *outfile_stream(struct outfile *of);
const char *outfile_path(const struct outfile *of);
/*
 * Why writing failed: the first error of a write to the file (-ENOSPC on a
 * full file system, not the -EIO that a stream's error flag says), else
 * @err. For a writer that returned @err after writing to outfile_stream.
 */
int outfile_error(const struct outfile *of, int err);
/* Flush, close and link into place; frees @of. 0 or -errno (nothing is
 * left on failure: no partial file, no temporary). */
int outfile_commit(struct outfile *of);
/* As outfile_commit, and the path written (which outfile_open_unique may
 * have numbered, or the directory's new place) into @path[0..size). An
 * enum outfile_place (>= 0) or -errno. */
int outfile_commit_as(struct outfile *of, char *path, size_t size);
/* Remove what was written and free @of. Accepts NULL. */
void outfile_abort(struct outfile *of);

#endif
