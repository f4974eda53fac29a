/*
 * test_outfile.c - outputs appear whole or not at all: written to an unnamed
 * file in the destination's directory, linked into place on commit, gone on
 * abort or failure; bad paths are refused at open, before anything is
 * written; a full device says so; a directory moved or removed meanwhile
 * still gets the profile, and the caller learns where.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "outfile.h"

#include "banned.h"

/* Entries of @dir other than "." and ".."; the first name goes to @first. */
static size_t dir_entries(const char *dir, char *first, size_t first_size)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return (size_t)-1;
	if (first_size)
		first[0] = '\0';
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n++ == 0 && first_size)
			snprintf(first, first_size, "%s", e->d_name);
	}
	closedir(d);
	return n;
}

static void read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, size - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_commit(const char *dir)
{
	char path[512], name[256], buf[64];
	struct outfile *of = NULL;
	struct stat st;

	snprintf(path, sizeof(path), "%s/out.txt", dir);
	CHECK_EQ_U64(outfile_open(path, &of), 0);
	if (!of)
		return;
	CHECK_STR(outfile_path(of), path);
	/* Nothing is made before the first bytes are written, and nothing
	 * with a name before the commit: a kill leaves no trace. */
	CHECK_EQ_U64(dir_entries(dir, NULL, 0), 0);
	fprintf(outfile_stream(of), "hello %d\n", 42);
	CHECK_EQ_U64(fflush(outfile_stream(of)), 0);
	CHECK(access(path, F_OK) != 0);
	CHECK_EQ_U64(dir_entries(dir, NULL, 0), 0);

	CHECK_EQ_U64(outfile_commit(of), 0);
	read_file(path, buf, sizeof(buf));
	CHECK_STR(buf, "hello 42\n");
	CHECK_EQ_U64(dir_entries(dir, name, sizeof(name)), 1);
	CHECK_STR(name, "out.txt");
	/* The mode a plain creat() gives under the umask main() set. */
	CHECK_EQ_U64(stat(path, &st), 0);
	CHECK_EQ_U64(st.st_mode & 0777, 0640);
	unlink(path);
}

static void test_abort(const char *dir)
{
	char path[512];
	struct outfile *of = NULL;

	snprintf(path, sizeof(path), "%s/aborted.txt", dir);
	CHECK_EQ_U64(outfile_open(path, &of), 0);
	if (!of)
		return;
	fputs("half a profile", outfile_stream(of));
	outfile_abort(of);
	CHECK_EQ_U64(dir_entries(dir, NULL, 0), 0);
	outfile_abort(NULL);
}

/* An existing file is replaced by a new one in one step: a reader that has
 * the old one open keeps reading the old bytes. */
static void test_replace(const char *dir)
{
	char path[512], buf[64];
	struct outfile *of = NULL;
	struct stat before, after;
	FILE *old;

	snprintf(path, sizeof(path), "%s/replaced.txt", dir);
	write_file(path, "old\n");
	CHECK_EQ_U64(stat(path, &before), 0);
	old = fopen(path, "r");
	CHECK(old != NULL);

	CHECK_EQ_U64(outfile_open(path, &of), 0);
	if (!of || !old)
		goto out;
	fputs("new\n", outfile_stream(of));
	read_file(path, buf, sizeof(buf));
	CHECK_STR(buf, "old\n");
	CHECK_EQ_U64(outfile_commit(of), 0);
	read_file(path, buf, sizeof(buf));
	CHECK_STR(buf, "new\n");
	CHECK_EQ_U64(stat(path, &after), 0);
	CHECK(after.st_ino != before.st_ino);
	CHECK(fgets(buf, sizeof(buf), old) != NULL);
	CHECK_STR(buf, "old\n");
	CHECK_EQ_U64(dir_entries(dir, NULL, 0), 1);
out:
	if (old)
		fclose(old);
	unlink(path);
}

static void test_bad_paths(const char *dir)
{
	char path[512];
	struct outfile *of = NULL;

	CHECK_EQ_U64(outfile_open("/etc/passwd/x", &of), -ENOTDIR);
	snprintf(path, sizeof(path), "%s/missing/out.txt", dir);
	CHECK_EQ_U64(outfile_open(path, &of), -ENOENT);
	CHECK_EQ_U64(outfile_open(dir, &of), -EISDIR);
	snprintf(path, sizeof(path), "%s/", dir);
	CHECK_EQ_U64(outfile_open(path, &of), -EISDIR);
	CHECK(of == NULL);

	/* Root may write into any directory; anyone else is refused here. */
	if (geteuid() != 0) {
		snprintf(path, sizeof(path), "%s/ro", dir);
		CHECK_EQ_U64(mkdir(path, 0555), 0);
		snprintf(path, sizeof(path), "%s/ro/out.txt", dir);
		CHECK_EQ_U64(outfile_open(path, &of), -EACCES);
		snprintf(path, sizeof(path), "%s/ro", dir);
		rmdir(path);
	}
	CHECK_EQ_U64(dir_entries(dir, NULL, 0), 0);
}

/* A failing rename removes the temporary file and reports why. */
static void test_commit_fails(const char *dir)
{
	char path[512];
	struct outfile *of = NULL;

	snprintf(path, sizeof(path), "%s/later-a-dir", dir);
	CHECK_EQ_U64(outfile_open(path, &of), 0);
	if (!of)
		return;
	fputs("data\n", outfile_stream(of));
	CHECK_EQ_U64(mkdir(path, 0755), 0);
	CHECK_EQ_U64(outfile_commit(of), -EISDIR);
	CHECK_EQ_U64(dir_entries(dir, NULL, 0), 1);
	rmdir(path);
}

/*
 * Devices, FIFOs and sockets are written in place, never replaced: "-o
 * /dev/null" as root must not turn /dev/null into a regular file. A FIFO of
 * our own stands for them, so a broken outfile cannot damage /dev.
 */
static void test_fifo(const char *dir)
{
	char path[512], buf[64] = "";
	struct outfile *of = NULL;
	struct stat st;
	int rd;

	snprintf(path, sizeof(path), "%s/fifo", dir);
	CHECK_EQ_U64(mkfifo(path, 0600), 0);
	/* A reader first, or opening for writing would block. */
	rd = open(path, O_RDONLY | O_NONBLOCK);
	CHECK(rd >= 0);
	if (rd < 0)
		goto out;

	CHECK_EQ_U64(outfile_open(path, &of), 0);
	if (of) {
		fputs("in place\n", outfile_stream(of));
		CHECK_EQ_U64(outfile_commit(of), 0);
	}
	CHECK_EQ_U64(read(rd, buf, sizeof(buf) - 1), 9);
	CHECK_STR(buf, "in place\n");
	CHECK_EQ_U64(stat(path, &st), 0);
	CHECK(S_ISFIFO(st.st_mode));
	CHECK_EQ_U64(dir_entries(dir, NULL, 0), 1);

	/* The reader goes away: the write fails at commit and says why. */
	of = NULL;
	CHECK_EQ_U64(outfile_open(path, &of), 0);
	close(rd);
	if (of) {
		fputs("nobody reads this\n", outfile_stream(of));
		CHECK_EQ_U64(outfile_commit(of), -EPIPE);
	}
out:
	unlink(path);
}

static void test_stdout(void)
{
	struct outfile *of = NULL;

	CHECK_EQ_U64(outfile_open("-", &of), 0);
	if (!of)
		return;
	CHECK(outfile_stream(of) != NULL);
	CHECK_STR(outfile_path(of), "-");
	fputs("# written through outfile to stdout\n", outfile_stream(of));
	CHECK_EQ_U64(outfile_commit(of), 0);
	/* stdout stays open. */
	CHECK(fcntl(STDOUT_FILENO, F_GETFD) >= 0);
	CHECK(fputs("# stdout still open\n", stdout) >= 0);
	CHECK_EQ_U64(fflush(stdout), 0);
}

/* A made-up name never replaces a file: an existing one is skipped at open,
 * and of two outputs that chose the same free name, the second to commit
 * takes the next number. */
static void test_unique(const char *dir)
{
	char path[512], p2[512], p3[512], got[512], buf[64];
	struct outfile *a = NULL, *b = NULL, *c = NULL;
	size_t stem;

	snprintf(path, sizeof(path), "%s/prog-1.svg", dir);
	stem = strlen(path) - 4;
	snprintf(p2, sizeof(p2), "%s/prog-1-2.svg", dir);
	snprintf(p3, sizeof(p3), "%s/prog-1-3.svg", dir);

	CHECK_EQ_U64(outfile_open_unique(path, stem, &a), 0);
	CHECK_EQ_U64(outfile_open_unique(path, stem, &b), 0);
	if (!a || !b)
		return;
	CHECK_STR(outfile_path(a), path);
	CHECK_STR(outfile_path(b), path);       /* both saw the name free */
	fputs("first", outfile_stream(a));
	fputs("second", outfile_stream(b));
	CHECK_EQ_U64(outfile_commit_as(a, got, sizeof(got)), 0);
	CHECK_STR(got, path);
	CHECK_EQ_U64(outfile_commit_as(b, got, sizeof(got)), 0);
	CHECK_STR(got, p2);
	read_file(path, buf, sizeof(buf));
	CHECK_STR(buf, "first");
	read_file(p2, buf, sizeof(buf));
	CHECK_STR(buf, "second");

	/* Both names taken now: the next open picks -3 at once. */
	CHECK_EQ_U64(outfile_open_unique(path, stem, &c), 0);
	if (c) {
		CHECK_STR(outfile_path(c), p3);
		CHECK_EQ_U64(outfile_commit(c), 0);
	}
	CHECK(access(p3, F_OK) == 0);
	CHECK_EQ_U64(dir_entries(dir, NULL, 0), 3);
	CHECK(outfile_open_unique("-", 0, &c) == -EINVAL);
	unlink(path);
	unlink(p2);
	unlink(p3);
}

/*
 * A full device: the reason is the write's own (-ENOSPC), both from the
 * commit and for a writer that saw only the stream's error flag.
 */
static void test_full(void)
{
	static char block[100 << 10];
	struct outfile *of = NULL;
	FILE *fp;

	if (access("/dev/full", W_OK) != 0)
		return;
	CHECK_EQ_U64(outfile_open("/dev/full", &of), 0);
	if (!of)
		return;
	fputs("small\n", outfile_stream(of));
	CHECK_EQ_U64(outfile_commit(of), -ENOSPC);

	CHECK_EQ_U64(outfile_open("/dev/full", &of), 0);
	if (!of)
		return;
	fp = outfile_stream(of);
	memset(block, 'x', sizeof(block));
	fwrite(block, 1, sizeof(block), fp);
	CHECK(ferror(fp));
	CHECK_EQ_U64(outfile_error(of, -EIO), -ENOSPC);
	CHECK_EQ_U64(outfile_commit(of), -ENOSPC);
	CHECK_EQ_U64(outfile_error(NULL, -EIO), -EIO);
}

/* The directory is renamed while the output is open: the file goes into it
 * at its new place, and the path says where. */
static void test_dir_moved(const char *dir)
{
	char sub[400], moved[400], path[512], want[1024], got[1024], buf[64];
	struct outfile *of = NULL;
	char *real;

	snprintf(sub, sizeof(sub), "%s/sub", dir);
	snprintf(moved, sizeof(moved), "%s/moved", dir);
	snprintf(path, sizeof(path), "%s/out.txt", sub);
	CHECK_EQ_U64(mkdir(sub, 0755), 0);
	CHECK_EQ_U64(outfile_open(path, &of), 0);
	if (!of)
		goto out;
	fputs("moved along\n", outfile_stream(of));
	CHECK_EQ_U64(rename(sub, moved), 0);
	CHECK_EQ_U64(outfile_commit_as(of, got, sizeof(got)), OUTFILE_MOVED);
	real = realpath(moved, NULL);
	CHECK(real != NULL);
	snprintf(want, sizeof(want), "%s/out.txt", real ? real : "?");
	free(real);
	CHECK_STR(got, want);
	read_file(want, buf, sizeof(buf));
	CHECK_STR(buf, "moved along\n");
	CHECK_EQ_U64(dir_entries(moved, NULL, 0), 1);
	unlink(want);
out:
	rmdir(moved);
	rmdir(sub);
}

/* The directory is removed while the output is open, before or after the
 * first bytes: the profile goes to the current directory, under a name no
 * file has there. */
static void test_dir_gone(const char *dir)
{
	char sub[400], path[512], got[512], here[512], buf[64];
	struct outfile *of = NULL;

	CHECK(getcwd(here, sizeof(here)) != NULL);
	CHECK_EQ_U64(chdir(dir), 0);
	write_file("gone.txt", "not replaced\n");
	for (int late = 0; late < 2; late++) {
		snprintf(sub, sizeof(sub), "%s/sub", dir);
		snprintf(path, sizeof(path), "%s/gone.txt", sub);
		CHECK_EQ_U64(mkdir(sub, 0755), 0);
		of = NULL;
		CHECK_EQ_U64(outfile_open(path, &of), 0);
		if (!of)
			break;
		if (late)
			CHECK_EQ_U64(fflush(outfile_stream(of)), 0);
		fputs("still here\n", outfile_stream(of));
		if (late)
			CHECK_EQ_U64(fflush(outfile_stream(of)), 0);
		CHECK_EQ_U64(rmdir(sub), 0);
		CHECK_EQ_U64(outfile_commit_as(of, got, sizeof(got)), OUTFILE_DIR_GONE);
		CHECK_STR(got, late ? "gone-3.txt" : "gone-2.txt");
		read_file(got, buf, sizeof(buf));
		CHECK_STR(buf, "still here\n");
	}
	read_file("gone.txt", buf, sizeof(buf));
	CHECK_STR(buf, "not replaced\n");
	unlink("gone.txt");
	unlink("gone-2.txt");
	unlink("gone-3.txt");
	CHECK_EQ_U64(chdir(here), 0);
}

int main(void)
{
	char dir[] = "/tmp/hotspy-test-outfile-XXXXXX";

	signal(SIGPIPE, SIG_IGN);
	umask(027);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_commit(dir);
	test_abort(dir);
	test_replace(dir);
	test_bad_paths(dir);
	test_commit_fails(dir);
	test_fifo(dir);
	test_stdout();
	test_unique(dir);
	test_full();
	test_dir_moved(dir);
	test_dir_gone(dir);
	CHECK_EQ_U64(dir_entries(dir, NULL, 0), 0);
	rmdir(dir);
	return check_status();
}
