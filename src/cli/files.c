#include "files.h"

#include <errno.h>
#include <string.h>

#include "log.h"

#include "banned.h"

#define DASH "\xe2\x80\x94"

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
