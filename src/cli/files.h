/*
 * files.h - the command line's output files: saying why an output could
 * not be written, with what to do about it (inputs: input.h).
 */
#ifndef HOTSPY_FILES_H
#define HOTSPY_FILES_H

#include <stdio.h>

/*
 * Report that @path could not be written because of @err (-errno), with
 * the remedy that fits the cause (a full file system, a read-only one, no
 * permission). Returns @err.
 */
int files_write_error(const char *path, int err);

#endif
