#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

struct outfile {
	FILE *fp;
	char *path;     /* the destination, as given */
	char *tmp;      /* the file written, renamed to @path on commit; NULL
	                 * when writing @path directly (stdout, a device) */
	char *given;            /* outfile_open_unique: the name asked for, */
	size_t stem_len;        /* where a number goes in it, */
	bool unique;            /* and never replace a file at @path */
};

static void outfile_release(struct outfile *of)
{
	free(of->given);
	free(of->path);
	free(of->tmp);
	free(of);
}

/*
 * The destination is not a regular file that can be replaced: a device, a
 * FIFO or a socket ("-o /dev/null") is written in place, never renamed over.
 */
static int open_in_place(struct outfile *of)
{
	of->fp = fopen(of->path, "we");
	return of->fp ? 0 : -errno;
}

/* ".BASE.XXXXXX" in the destination's directory, so rename stays atomic. */
static int open_temporary(struct outfile *of)
{
	const char *slash = strrchr(of->path, '/');
	const char *base = slash ? slash + 1 : of->path;
	int dir_len = slash ? (int)(slash - of->path) + 1 : 0;
	mode_t mask;
	int fd, err;

	if (*base == '\0')
		return -EISDIR;
	if (asprintf(&of->tmp, "%.*s.%s.XXXXXX", dir_len, of->path, base) < 0) {
		of->tmp = NULL;
		return -ENOMEM;
	}
	fd = mkostemp(of->tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/*
	 * mkostemp creates the file 0600; give it the mode a plain creat() would.
	 * The umask can only be read by setting it; outputs are opened at
	 * start-up, before any other thread could create a file in between.
	 */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) < 0)
		goto err_errno;
	of->fp = fdopen(fd, "w");
	if (!of->fp)
		goto err_errno;
	return 0;

err_errno:
	err = -errno;
	close(fd);
	unlink(of->tmp);
	return err;
}

int outfile_open(const char *path, struct outfile **out)
{
	struct outfile *of = calloc(1, sizeof(*of));
	struct stat st;
	int err;

	if (!of)
		return -ENOMEM;
	of->path = strdup(path);
	if (!of->path) {
		err = -ENOMEM;
		goto err_free;
	}
	if (strcmp(path, "-") == 0) {
		of->fp = stdout;
	} else if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			err = -EISDIR;
		else if (S_ISREG(st.st_mode))
			err = open_temporary(of);
		else
			err = open_in_place(of);
		if (err)
			goto err_free;
	} else if (errno == ENOENT) {
		err = open_temporary(of);
		if (err)
			goto err_free;
	} else {
		err = -errno;
		goto err_free;
	}
	*out = of;
	return 0;

err_free:
	outfile_release(of);
	return err;
}

/* Numbered names tried before giving up. */
#define UNIQUE_TRIES 1000

/* The name asked for, or STEM-N.REST for @n >= 2, into a new string; NULL
 * without memory. */
static char *numbered(const struct outfile *of, unsigned n)
{
	char *s;

	if (n < 2)
		return strdup(of->given);
	if (asprintf(&s, "%.*s-%u%s", (int)of->stem_len, of->given, n,
		     of->given + of->stem_len) < 0)
		return NULL;
	return s;
}

int outfile_open_unique(const char *path, size_t stem_len, struct outfile **out)
{
	struct outfile *of;
	struct stat st;
	int err;

	if (strcmp(path, "-") == 0 || stem_len > strlen(path))
		return -EINVAL;
	of = calloc(1, sizeof(*of));
	if (!of)
		return -ENOMEM;
	of->unique = true;
	of->stem_len = stem_len;
	of->given = strdup(path);
	of->path = of->given ? strdup(path) : NULL;
	/* The first free name now; the commit checks again. */
	for (unsigned n = 2; of->path && lstat(of->path, &st) == 0 && n < UNIQUE_TRIES; n++) {
		free(of->path);
		of->path = numbered(of, n);
	}
	if (!of->path) {
		outfile_release(of);
		return -ENOMEM;
	}
	err = open_temporary(of);
	if (err) {
		outfile_release(of);
		return err;
	}
	*out = of;
	return 0;
}

/* Put the temporary file at a name no file has: link(2) fails rather than
 * replace. @of->path becomes the name used. 0 or -errno. */
static int link_unique(struct outfile *of)
{
	for (unsigned n = 1; n < UNIQUE_TRIES; n++) {
		/* From the name chosen at open, then the numbers after it. */
		char *name = n == 1 ? of->path : numbered(of, n);

		if (!name)
			return -ENOMEM;
		if (link(of->tmp, name) == 0) {
			if (name != of->path) {
				free(of->path);
				of->path = name;
			}
			unlink(of->tmp);
			return 0;
		}
		if (name != of->path)
			free(name);
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

FILE *outfile_stream(struct outfile *of)
{
	return of->fp;
}

const char *outfile_path(const struct outfile *of)
{
	return of->path;
}

/* fflush, then the error indicator: an earlier write may have failed. */
static int flush_stream(FILE *fp)
{
	errno = 0;
	if (fflush(fp) == EOF)
		return errno ? -errno : -EIO;
	return ferror(fp) ? -EIO : 0;
}

int outfile_commit(struct outfile *of)
{
	return outfile_commit_as(of, NULL, 0);
}

int outfile_commit_as(struct outfile *of, char *path, size_t size)
{
	int err;

	if (of->fp == stdout) {
		err = flush_stream(stdout);
		if (path && size)
			snprintf(path, size, "%s", of->path);
		outfile_release(of);
		return err;
	}
	err = flush_stream(of->fp);
	if (!err && of->tmp && fsync(fileno(of->fp)) < 0)
		err = -errno;
	if (fclose(of->fp) == EOF && !err)
		err = -errno;
	if (!err && of->tmp && of->unique)
		err = link_unique(of);
	else if (!err && of->tmp && rename(of->tmp, of->path) < 0)
		err = -errno;
	if (err && of->tmp)
		unlink(of->tmp);
	if (path && size)
		snprintf(path, size, "%s", of->path);
	outfile_release(of);
	return err;
}

void outfile_abort(struct outfile *of)
{
	if (!of)
		return;
	if (of->fp != stdout) {
		fclose(of->fp);
		if (of->tmp)
			unlink(of->tmp);
	}
	outfile_release(of);
}
