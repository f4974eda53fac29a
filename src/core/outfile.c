#include "outfile.h"

#include <errno.h>
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
};

static void outfile_release(struct outfile *of)
{
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
	of->fp = fopen(of->path, "w");
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
	fd = mkstemp(of->tmp);
	if (fd < 0)
		return -errno;
	/*
	 * mkstemp creates the file 0600; give it the mode a plain creat() would.
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
	int err;

	if (of->fp == stdout) {
		err = flush_stream(stdout);
		outfile_release(of);
		return err;
	}
	err = flush_stream(of->fp);
	if (!err && of->tmp && fsync(fileno(of->fp)) < 0)
		err = -errno;
	if (fclose(of->fp) == EOF && !err)
		err = -errno;
	if (!err && of->tmp && rename(of->tmp, of->path) < 0)
		err = -errno;
	if (err && of->tmp)
		unlink(of->tmp);
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
