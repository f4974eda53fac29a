#include <signal.h>
#include <stdlib.h>

#include "commands.h"
#include "log.h"
#include "options.h"
#include "banned.h"

int main(int argc, char **argv)
{
	struct options opts;
	int ret;

	ret = options_parse(&opts, argc, argv);
	if (ret < 0)
		return 2;
	if (opts.command == CMD_NONE)
		return 0;   /* help or the version was asked for */
	if (opts.verbose)
		log_set_level(opts.verbose > 1 ? LOG_DEBUG : LOG_INFO);
	else if (opts.quiet)
		log_set_level(LOG_WARN);
	/* A closed pipe on -o - is reported by the write, not by death. */
	signal(SIGPIPE, SIG_IGN);

	switch (opts.command) {
	case CMD_RECORD:
		return cmd_record(&opts);
	case CMD_FLAMEGRAPH:
		return cmd_flamegraph(&opts);
	case CMD_DIFF:
		return cmd_diff(&opts);
	case CMD_DUMP:
		return cmd_dump(&opts);
	case CMD_TOP:
		return cmd_top(&opts);
	case CMD_REPORT:
		return cmd_report(&opts);
	case CMD_NONE:
		break;
	}
	return 2;
}
