/*
 * procfilter.h - which processes a whole-machine recording (-a) samples:
 * those listed by --pid and those whose name a --comm pattern matches; all
 * of them when neither is given. Pure functions: no /proc, no state.
 */
#ifndef HOTSPY_PROCFILTER_H
#define HOTSPY_PROCFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Does @pattern match the process name @comm? A pattern holding a glob
 * character ('*', '?' or '[') is a shell glob matched against the whole
 * name (fnmatch); any other pattern matches when it occurs anywhere in the
 * name (as pgrep's does). Case-sensitive, like the names themselves.
 */
bool procfilter_comm_match(const char *pattern, const char *comm);

/*
 * Is process @pid, named @comm (NULL when not known), wanted? True when no
 * pid and no pattern is given; else when @pid is among @pids[0..npids) or
 * @comm matches one of @comms[0..ncomms) (either is enough).
 */
bool procfilter_wanted(const pid_t *pids, size_t npids, const char *const *comms,
		       size_t ncomms, pid_t pid, const char *comm);

#endif
