#include "files.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "banned.h"

#define DASH "\xe2\x80\x94"

int files_open_input(const char *path, FILE **in)
{
	struct stat st;
	FILE *f = fopen(path, "re");

	*in = NULL;
	if (!f)
		return log_error(-errno, "cannot read %s: %s " DASH " check the path", path,
				 strerror(errno));
	/* fopen takes a directory; its first read would fail with EISDIR,
	 * which a stream turns into a plain error flag. */
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		return log_error(-EISDIR, "cannot read %s: it is a directory " DASH
				 " give a profile file", path);
	}
	*in = f;
	return 0;
}

int files_write_error(const char *path, int err)
{
	const char *remedy = "";

	switch (-err) {
	case ENOSPC:
	case EDQUOT:
		remedy = " " DASH " free some space there or write elsewhere with -o";
		break;
	case EROFS:
		remedy = " " DASH " the file system is read-only: write elsewhere with -o";
		break;
	case EACCES:
	case EPERM:
	case EISDIR:
	case ENOTDIR:
	case ENOENT:
		remedy = " " DASH " choose another path with -o";
		break;
	case EFBIG:
		remedy = " " DASH " the file is larger than this file system or ulimit -f allows";
		break;
	default:
		break;
	}
	if (strcmp(path, "-") == 0)
		return log_error(err, "cannot write to standard output: %s", strerror(-err));
	return log_error(err, "cannot write %s: %s%s", path, strerror(-err), remedy);
}
