#include "procfilter.h"

#include <fnmatch.h>
#include <string.h>

#include "banned.h"

bool procfilter_comm_match(const char *pattern, const char *comm)
{
	if (!pattern || !comm)
		return false;
	if (strpbrk(pattern, "*?["))
		return fnmatch(pattern, comm, 0) == 0;
	return strstr(comm, pattern) != NULL;
}

bool procfilter_wanted(const pid_t *pids, size_t npids, const char *const *comms,
		       size_t ncomms, pid_t pid, const char *comm)
{
	if (!npids && !ncomms)
		return true;
	for (size_t i = 0; i < npids; i++)
		if (pids[i] == pid)
			return true;
	for (size_t i = 0; comm && i < ncomms; i++)
		if (procfilter_comm_match(comms[i], comm))
			return true;
	return false;
}
