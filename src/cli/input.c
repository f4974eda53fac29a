#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "options.h"

#include "banned.h"

static int env_size(const char *name, size_t *out)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return 0;
	/* A limit of 0, or one whose quadruple overflows, is no limit. */
	if (options_parse_size(v, out) < 0 || *out == 0 || *out > SIZE_MAX / 4)
		return log_error(-EINVAL, "invalid %s '%s': expected a size in bytes, such as "
				 "64M or 8G", name, v);
	return 0;
}

int input_limits(struct flametree_limits *l)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	int err;

	/* A tree read from a large file is a few arrays of tens of megabytes
	 * that double as they grow. glibc raises its mmap threshold after the
	 * first large free, and an array below the threshold is copied at
	 * each doubling (5 % of reading a random-tree input, with the page
	 * faults of the copy); mapped, realloc moves its pages instead. At
	 * 1 MiB, the arrays of a few hundred KiB (the names, their text, the
	 * indexes) were still copied: a sixth of the page faults of drawing
	 * a 20,000-line slice of a random-tree input. */
	(void)mallopt(M_MMAP_THRESHOLD, 128 << 10);

	*l = (struct flametree_limits){
		.memory_max = INPUT_MEMORY_MAX, .line_max = FLAMETREE_LINE_MAX,
	};
	/* A limit above the machine's memory would not stop anything before
	 * the kernel's OOM killer does. */
	if (pages > 0 && page > 0 && (uint64_t)pages * (uint64_t)page / 2 < l->memory_max)
		l->memory_max = (size_t)((uint64_t)pages * (uint64_t)page / 2);
	err = env_size("HOTSPY_LINE_MAX", &l->line_max);
	if (!err)
		err = env_size("HOTSPY_MEMORY_MAX", &l->memory_max);
	return err;
}

/* "64 MiB", "4 GiB", or bytes when not a whole number of either. */
static const char *size_text(size_t n, char *buf, size_t size)
{
	if (n >= (1u << 30) && n % (1u << 30) == 0)
		snprintf(buf, size, "%zu GiB", n >> 30);
	else if (n >= (1u << 20) && n % (1u << 20) == 0)
		snprintf(buf, size, "%zu MiB", n >> 20);
	else if (n >= (1u << 10) && n % (1u << 10) == 0)
		snprintf(buf, size, "%zu KiB", n >> 10);
	else
		snprintf(buf, size, "%zu bytes", n);
	return buf;
}

int input_error(int err, const char *name, size_t long_line, const struct flametree_limits *l)
{
	char size[32];

	if (err == -EMSGSIZE)
		return log_error(err, "cannot read %s: line %zu is longer than %s (the limit of "
				 "a line) \xe2\x80\x94 if it is a profile, raise the limit with "
				 "HOTSPY_LINE_MAX=SIZE", name, long_line,
				 size_text(l->line_max, size, sizeof(size)));
	if (err == -E2BIG)
		return log_error(err, "cannot read %s: the profile takes more than %s of memory "
				 "(the limit) \xe2\x80\x94 raise it with HOTSPY_MEMORY_MAX=SIZE", name,
				 size_text(l->memory_max, size, sizeof(size)));
	if (err == -ENOMEM)
		return log_error(err, "cannot read %s: out of memory \xe2\x80\x94 lower "
				 "HOTSPY_MEMORY_MAX to be told before memory runs out", name);
	return log_error(err, "cannot read %s: %s", name, strerror(-err));
}

static const char *kind_of(mode_t mode, int fd, bool named)
{
	if (S_ISFIFO(mode))
		return named ? "a FIFO" : "a pipe";
	if (S_ISSOCK(mode))
		return "a socket";
	if (isatty(fd))
		return "a terminal";
	return "a device";
}

/*
 * Say once that hotspy waits, when @fd (no regular file) has sent nothing
 * for a second; a FIFO opened without blocking (@nonblock) is then waited
 * on here until a writer sends something or goes, and made blocking.
 */
static void wait_notice(int fd, const char *name, bool named, bool nonblock)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct stat sb;
	int r;

	if (fstat(fd, &sb) < 0 || S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode))
		return;
	do
		r = poll(&p, 1, INPUT_WAIT_NOTICE_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0) {
		fprintf(stderr, "hotspy: waiting for input on %s (%s)...\n", name,
			kind_of(sb.st_mode, fd, named));
		if (nonblock) {
			do
				r = poll(&p, 1, -1);
			while (r < 0 && errno == EINTR);
		}
	}
	if (nonblock) {
		int fl = fcntl(fd, F_GETFL);

		if (fl >= 0)
			fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	}
}

int input_open(const char *path, FILE **in)
{
	struct stat sb;
	bool fifo;
	int fd, err;

	*in = NULL;
	if (!path || strcmp(path, "-") == 0) {
		wait_notice(STDIN_FILENO, "standard input", false, false);
		*in = stdin;
		return 0;
	}
	/* open() of a FIFO waits for a writer: without O_NONBLOCK, hotspy
	 * would wait there without a word. */
	fifo = stat(path, &sb) == 0 && S_ISFIFO(sb.st_mode);
	fd = open(path, O_RDONLY | O_CLOEXEC | (fifo ? O_NONBLOCK : 0));
	if (fd < 0) {
		err = -errno;
		return log_error(err, "cannot read %s: %s \xe2\x80\x94 check the path", path,
				 strerror(-err));
	}
	if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		close(fd);
		return log_error(-EISDIR, "cannot read %s: it is a directory \xe2\x80\x94 give a "
				 "profile file", path);
	}
	wait_notice(fd, path, true, fifo);
	*in = fdopen(fd, "r");
	if (!*in) {
		err = -errno;
		close(fd);
		return log_error(err, "cannot read %s: %s", path, strerror(-err));
	}
	return 0;
}

void input_close(FILE *in)
{
	if (in && in != stdin)
		fclose(in);
}
