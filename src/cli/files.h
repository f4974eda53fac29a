/*
 * files.h - the command line's input and output files: opening an input
 * with the right reason when it cannot be read, and saying why an output
 * could not be written with what to do about it.
 */
#ifndef HOTSPY_FILES_H
#define HOTSPY_FILES_H

#include <stdio.h>

/*
 * Open @path for reading into @in (close-on-exec; the caller fcloses it). A
 * directory is refused here, by name, rather than failing later at the first
 * read with a stream's bare error. 0, or -errno after reporting.
 */
int files_open_input(const char *path, FILE **in);

/*
 * Report that @path could not be written because of @err (-errno), with
 * the remedy that fits the cause (a full file system, a read-only one, no
 * permission). Returns @err.
 */
int files_write_error(const char *path, int err);

#endif
