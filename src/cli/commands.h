/*
 * commands.h - one front end per command. Each takes the parsed options and
 * returns the process exit status (exitcode.h): 0 done, 1 failed (already
 * reported), 3 a threshold rule was violated (report, record).
 */
#ifndef HOTSPY_COMMANDS_H
#define HOTSPY_COMMANDS_H

#include "options.h"

int cmd_record(const struct options *opts);
int cmd_flamegraph(const struct options *opts);
int cmd_diff(const struct options *opts);
int cmd_dump(const struct options *opts);
int cmd_top(const struct options *opts);
int cmd_report(const struct options *opts);

#endif
