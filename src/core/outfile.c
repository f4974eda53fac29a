#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

struct outfile {
	FILE *fp;               /* a stream writing through cookie_write */
	int fd;                 /* the file written: -1 until the first bytes */
	int dirfd;              /* the destination's directory (O_PATH), opened at
	                         * the start; -1 when writing in place */
	int err;                /* the first write error, -errno */
	mode_t mode;            /* what a plain creat() would give, umask applied */
	bool in_place;          /* a device, FIFO or socket: @fd is the destination */
	bool borrowed;          /* @fd is stdout's, not ours to close */
	bool anonymous;         /* @fd is an O_TMPFILE with no name yet */
	bool dir_gone;          /* the directory was removed: the current one is used */
	char *tmp;              /* the hidden name of @fd where O_TMPFILE is refused */
	int tmp_dir;            /* the directory of @tmp (@dirfd or AT_FDCWD) */
	char *path;             /* the destination: as given, then as written */
	size_t dir_len;         /* bytes of @path before its base name */
	char *given;            /* the name asked for, */
	size_t stem_len;        /* where a number goes in it, */
	bool unique;            /* and never replace a file at @path */
};

static void outfile_release(struct outfile *of)
{
	if (of->fd >= 0 && !of->borrowed)
		close(of->fd);
	if (of->dirfd >= 0)
		close(of->dirfd);
	free(of->tmp);
	free(of->given);
	free(of->path);
	free(of);
}

/* The mode a plain creat() gives. The umask can only be read by setting
 * it; outputs are opened at start-up, before any other thread could create
 * a file in between, and the mode is used later when the file is made. */
static mode_t creat_mode(void)
{
	mode_t mask = umask(0);

	umask(mask);
	return 0666 & ~mask;
}

/* ".BASE.XXXXXX" with a random tail, into a new string; NULL without memory. */
static char *hidden_name(const struct outfile *of)
{
	uint64_t r = 0;
	char *s;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid() ^ (uintptr_t)of;
	if (asprintf(&s, ".%s.%06llx", of->path + of->dir_len,
		     (unsigned long long)(r & 0xffffff)) < 0)
		return NULL;
	return s;
}

/* A file nobody else has, named ".BASE.XXXXXX" in @dir; its fd or -errno,
 * the name in @of->tmp. */
static int create_hidden(struct outfile *of, int dir)
{
	for (int i = 0; i < 100; i++) {
		char *name = hidden_name(of);
		int fd;

		if (!name)
			return -ENOMEM;
		fd = openat(dir, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			free(of->tmp);
			of->tmp = name;
			of->tmp_dir = dir;
			return fd;
		}
		free(name);
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* O_TMPFILE is refused by this kernel or file system (it is new in 3.11
 * and per file system): a hidden name is used instead. */
static bool tmpfile_refused(int err)
{
	return err == -EOPNOTSUPP || err == -EISDIR || err == -EINVAL;
}

/* The directory was removed while open (it has no links left). */
static bool dir_removed(int dirfd)
{
	struct stat st;

	return fstat(dirfd, &st) == 0 && st.st_nlink == 0;
}

/*
 * The file the output goes to, made when the first bytes are written so
 * that a hotspy killed earlier leaves nothing: an unnamed file in the
 * directory opened at the start (nothing is left at any moment), or a
 * hidden one. In the current directory if that one was removed. 0 or -errno.
 */
static int file_create(struct outfile *of)
{
	int dir = of->dirfd, fd;

	if (dir_removed(of->dirfd)) {
		of->dir_gone = true;
		dir = AT_FDCWD;
	}
	fd = openat(dir, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0) {
		of->anonymous = true;
	} else {
		if (!tmpfile_refused(-errno))
			return -errno;
		fd = create_hidden(of, dir);
		if (fd < 0)
			return fd;
	}
	/* Created 0600 so nobody opens it before its mode is right. */
	if (fchmod(fd, of->mode) < 0) {
		int err = -errno;

		close(fd);
		if (of->tmp)
			unlinkat(of->tmp_dir, of->tmp, 0);
		return err;
	}
	of->fd = fd;
	return 0;
}

/* The stream's sink: the first error is kept with its errno (a stream only
 * keeps a flag), and the file is created on the first call. */
static ssize_t cookie_write(void *cookie, const char *buf, size_t size)
{
	struct outfile *of = cookie;
	size_t done = 0;

	if (!of->err && of->fd < 0)
		of->err = file_create(of);
	while (!of->err && done < size) {
		ssize_t n = write(of->fd, buf + done, size - done);

		if (n > 0)
			done += (size_t)n;
		else if (n < 0 && errno != EINTR)
			of->err = -errno;
		else if (n == 0)
			of->err = -EIO;
	}
	if (of->err)
		errno = -of->err;
	/* Fewer bytes than asked sets the stream's error flag. */
	return (ssize_t)done;
}

static int stream_open(struct outfile *of)
{
	static const cookie_io_functions_t io = { .write = cookie_write };

	of->fp = fopencookie(of, "w", io);
	if (!of->fp)
		return -errno;
	setvbuf(of->fp, NULL, _IOFBF, 64 << 10);
	return 0;
}

/* A device, a FIFO or a socket ("-o /dev/null") is written in place, never
 * renamed over. */
static int open_in_place(struct outfile *of)
{
	of->in_place = true;
	of->fd = open(of->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	return of->fd >= 0 ? 0 : -errno;
}

/*
 * Keep the destination's directory and check now that it takes a new file:
 * an unnamed one, closed at once, or a hidden one removed at once where
 * those are refused.
 */
static int open_directory(struct outfile *of)
{
	char *dir;
	int fd;

	if (of->path[of->dir_len] == '\0')
		return -EISDIR;
	if (of->dir_len == 0)
		dir = strdup(".");
	else
		dir = strndup(of->path, of->dir_len);
	if (!dir)
		return -ENOMEM;
	of->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (of->dirfd < 0)
		return -errno;
	of->mode = creat_mode();
	fd = openat(of->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0 && tmpfile_refused(-errno)) {
		fd = create_hidden(of, of->dirfd);
		if (fd >= 0)
			unlinkat(of->dirfd, of->tmp, 0);
		free(of->tmp);
		of->tmp = NULL;
		if (fd < 0)
			return fd;
	} else if (fd < 0) {
		return -errno;
	}
	close(fd);
	return 0;
}

/* The new outfile for @path, its fields not yet opened; NULL without memory. */
static struct outfile *outfile_alloc(const char *path)
{
	struct outfile *of = calloc(1, sizeof(*of));
	const char *slash = strrchr(path, '/');

	if (!of)
		return NULL;
	of->fd = -1;
	of->dirfd = -1;
	of->tmp_dir = AT_FDCWD;
	of->path = strdup(path);
	of->given = strdup(path);
	if (!of->path || !of->given) {
		outfile_release(of);
		return NULL;
	}
	of->dir_len = slash ? (size_t)(slash - path) + 1 : 0;
	/* Where a number would go if the name had to change (see dir_gone):
	 * before the base name's extension. */
	slash = strrchr(path + of->dir_len, '.');
	of->stem_len = slash && slash > path + of->dir_len ? (size_t)(slash - path)
							  : strlen(path);
	return of;
}

int outfile_open(const char *path, struct outfile **out)
{
	struct outfile *of = outfile_alloc(path);
	struct stat st;
	int err;

	if (!of)
		return -ENOMEM;
	if (strcmp(path, "-") == 0) {
		/* Standard output, through a stream of our own so that a write
		 * error keeps its errno too; what stdout holds goes first. */
		fflush(stdout);
		of->in_place = true;
		of->borrowed = true;
		of->fd = STDOUT_FILENO;
		err = 0;
	} else if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			err = -EISDIR;
		else if (S_ISREG(st.st_mode))
			err = open_directory(of);
		else
			err = open_in_place(of);
	} else if (errno == ENOENT) {
		err = open_directory(of);
	} else {
		err = -errno;
	}
	if (!err)
		err = stream_open(of);
	if (err) {
		outfile_release(of);
		return err;
	}
	*out = of;
	return 0;
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
	of = outfile_alloc(path);
	if (!of)
		return -ENOMEM;
	if (stem_len < of->dir_len) {
		outfile_release(of);
		return -EINVAL;
	}
	of->unique = true;
	of->stem_len = stem_len;
	/* The first free name now; the commit checks again. */
	for (unsigned n = 2; of->path && lstat(of->path, &st) == 0 && n < UNIQUE_TRIES; n++) {
		free(of->path);
		of->path = numbered(of, n);
	}
	if (!of->path) {
		outfile_release(of);
		return -ENOMEM;
	}
	err = open_directory(of);
	if (!err)
		err = stream_open(of);
	if (err) {
		outfile_release(of);
		return err;
	}
	*out = of;
	return 0;
}

FILE *outfile_stream(struct outfile *of)
{
	return of->fp;
}

const char *outfile_path(const struct outfile *of)
{
	return of->path;
}

int outfile_error(const struct outfile *of, int err)
{
	return of && of->err ? of->err : err;
}

/* fflush, then the error indicator: an earlier write may have failed. */
static int flush_stream(struct outfile *of)
{
	errno = 0;
	if (fflush(of->fp) == EOF || ferror(of->fp))
		return of->err ? of->err : errno ? -errno : -EIO;
	return 0;
}

/*
 * Give the file the name @name in @dir, failing rather than replacing
 * (linkat). Through /proc/self/fd, which links an unnamed file with no
 * privilege (AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH before Linux 6.10).
 * 0 or -errno.
 */
static int link_file(const struct outfile *of, int dir, const char *name)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", of->fd);
	if (linkat(AT_FDCWD, proc, dir, name, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != ENOENT || access("/proc/self/fd", F_OK) == 0)
		return -errno;
	/* No /proc. */
	if (of->anonymous)
		return linkat(of->fd, "", dir, name, AT_EMPTY_PATH) == 0 ? 0 : -errno;
	return linkat(of->tmp_dir, of->tmp, dir, name, 0) == 0 ? 0 : -errno;
}

/* A copy of the file at @name in @dir, never replacing: for a directory
 * removed while open, whose file cannot be linked to another file system.
 * 0 or -errno. */
static int copy_file(const struct outfile *of, int dir, const char *name)
{
	char buf[64 << 10];
	off_t off = 0;
	int fd, err = 0;

	fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, of->mode);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = pread(of->fd, buf, sizeof(buf), off), w = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : 0;
			break;
		}
		while (w < n && !err) {
			ssize_t k = write(fd, buf + w, (size_t)(n - w));

			if (k > 0)
				w += k;
			else if (k < 0 && errno != EINTR)
				err = -errno;
		}
		if (err)
			break;
		off += n;
	}
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (err)
		unlinkat(dir, name, 0);
	return err;
}

/* Put the file at a name no file has in @dir, from the name chosen at open
 * then the numbers after it; @of->path becomes the name used (with the
 * directory as given). 0 or -errno. */
static int place_unique(struct outfile *of, int dir)
{
	for (unsigned n = 1; n < UNIQUE_TRIES; n++) {
		char *name = n == 1 ? of->path : numbered(of, n);
		int err;

		if (!name)
			return -ENOMEM;
		err = link_file(of, dir, name + of->dir_len);
		if (err == -EXDEV && of->dir_gone)
			err = copy_file(of, dir, name + of->dir_len);
		if (err == 0) {
			if (name != of->path) {
				free(of->path);
				of->path = name;
			}
			return 0;
		}
		if (name != of->path)
			free(name);
		if (err != -EEXIST)
			return err;
	}
	return -EEXIST;
}

/* Put the file at @of->path, replacing what is there in one step. 0 or
 * -errno. */
static int place_replacing(struct outfile *of)
{
	const char *base = of->path + of->dir_len;
	int err;

	if (of->tmp)
		return renameat(of->tmp_dir, of->tmp, of->dirfd, base) == 0 ? 0 : -errno;
	err = link_file(of, of->dirfd, base);
	if (err != -EEXIST)
		return err;
	/*
	 * Something is there: an unnamed file cannot be renamed over it, so it
	 * gets a hidden name for the moment of a rename (a kill between the
	 * two would leave that name; nothing else can).
	 */
	for (int i = 0; i < 100 && err == -EEXIST; i++) {
		char *name = hidden_name(of);

		if (!name)
			return -ENOMEM;
		err = link_file(of, of->dirfd, name);
		if (!err) {
			if (renameat(of->dirfd, name, of->dirfd, base) < 0) {
				err = -errno;
				unlinkat(of->dirfd, name, 0);
			}
		}
		free(name);
	}
	return err;
}

/* @of->path with its directory as it is now, where it was moved; 0 or
 * -errno (the path as given is kept). */
static int path_moved(struct outfile *of)
{
	char proc[64], dir[4096];
	ssize_t n;
	char *s;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", of->dirfd);
	n = readlink(proc, dir, sizeof(dir) - 1);
	if (n <= 0)
		return -errno;
	dir[n] = '\0';
	if (asprintf(&s, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir,
		     of->path + of->dir_len) < 0)
		return -ENOMEM;
	free(of->path);
	of->path = s;
	of->dir_len = 0;
	return 0;
}

/* The directory opened at the start is no longer at the path given. */
static bool dir_moved(const struct outfile *of)
{
	struct stat now, then;
	char *dir = of->dir_len ? strndup(of->path, of->dir_len) : strdup(".");
	int rc;

	if (!dir)
		return false;
	rc = stat(dir, &now);
	free(dir);
	if (fstat(of->dirfd, &then) < 0)
		return false;
	return rc < 0 || now.st_dev != then.st_dev || now.st_ino != then.st_ino;
}

/* Link the finished file into place: an enum outfile_place or -errno. */
static int place(struct outfile *of)
{
	int err;

	if (of->dir_gone || dir_removed(of->dirfd)) {
		/* Only a name made up here, and never over a file. */
		of->dir_gone = true;
		of->dir_len = 0;
		free(of->given);
		of->given = strdup(of->path + (strrchr(of->path, '/') ?
					       strrchr(of->path, '/') - of->path + 1 : 0));
		if (!of->given)
			return -ENOMEM;
		{
			const char *dot = strrchr(of->given, '.');

			of->stem_len = dot && dot > of->given ? (size_t)(dot - of->given)
							      : strlen(of->given);
		}
		free(of->path);
		of->path = strdup(of->given);
		if (!of->path)
			return -ENOMEM;
		err = place_unique(of, AT_FDCWD);
		if (!err && of->tmp)
			unlinkat(of->tmp_dir, of->tmp, 0);
		return err ? err : OUTFILE_DIR_GONE;
	}
	if (of->unique) {
		err = place_unique(of, of->dirfd);
		if (!err && of->tmp)
			unlinkat(of->tmp_dir, of->tmp, 0);
	} else {
		err = place_replacing(of);
	}
	if (err)
		return err;
	free(of->tmp);
	of->tmp = NULL;
	if (dir_moved(of) && path_moved(of) == 0)
		return OUTFILE_MOVED;
	return OUTFILE_IN_PLACE;
}

int outfile_commit(struct outfile *of)
{
	int err = outfile_commit_as(of, NULL, 0);

	return err < 0 ? err : 0;
}

int outfile_commit_as(struct outfile *of, char *path, size_t size)
{
	int err;

	err = flush_stream(of);
	/* An empty output is a file too. */
	if (!err && of->fd < 0)
		err = file_create(of);
	if (!err && !of->in_place && fsync(of->fd) < 0)
		err = -errno;
	fclose(of->fp);
	if (!err && of->in_place && !of->borrowed) {
		err = close(of->fd) < 0 ? -errno : 0;
		of->fd = -1;
	} else if (!err && !of->in_place) {
		err = place(of);
	}
	if (err < 0 && of->tmp)
		unlinkat(of->tmp_dir, of->tmp, 0);
	if (path && size)
		snprintf(path, size, "%s", of->path);
	outfile_release(of);
	return err;
}

void outfile_abort(struct outfile *of)
{
	if (!of)
		return;
	/* Nothing more reaches the file. */
	of->err = of->err ? of->err : -ECANCELED;
	fclose(of->fp);
	if (of->tmp)
		unlinkat(of->tmp_dir, of->tmp, 0);
	outfile_release(of);
}
