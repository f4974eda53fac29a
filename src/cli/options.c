#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svg.h"
#include "banned.h"

static const char record_usage[] =
"usage: hotspy record [-p PID | -- CMD ARGS...] [options]\n"
"\n"
"Sample the call stacks of every thread of a process and write a profile.\n"
"\n"
"  -p, --pid PID          attach to a running process\n"
"  -- CMD ARGS...         start CMD under hotspy, traced from its first instruction\n"
"  -o, --output FILE      where to write the profile ('-' for stdout;\n"
"                         default PROGRAM-YYYYmmdd-HHMMSS.svg)\n"
"  -f, --format FORMAT    flamegraph (SVG), speedscope (JSON) or folded; by\n"
"                         default from the name: .svg, .json, else folded\n"
"  -r, --rate HZ          samples per second per thread (default 100, max 10000)\n"
"  -d, --duration SECS    stop after SECS seconds (default: until the program\n"
"                         exits, or Ctrl-C / SIGTERM)\n"
"      --threads          add a frame \"NAME (TID)\" for each thread\n"
"      --idle             also sample threads that are not running (wall-clock\n"
"                         time instead of on-CPU time)\n"
"      --subprocesses     also profile the program's child processes (present\n"
"                         and future); each gets a root frame \"NAME (PID)\"\n"
"      --kernel           kernel frames too, marked _[k] (perf sampler; needs\n"
"                         root or kernel.perf_event_paranoid <= 1)\n"
"      --stack-size BYTES stack bytes copied per sample (default 64K; K/M suffix)\n"
"      --sampler KIND     auto (the default: perf when the kernel allows it,\n"
"                         else ptrace; ptrace with --idle), perf\n"
"                         (perf_event_open: never stops the target), or ptrace\n"
"                         (stops each thread for a moment per sample)\n"
"      --debug-dir DIR    look for separate debug files in DIR too (by\n"
"                         build-id: DIR/.build-id/xx/rest.debug, and by\n"
"                         .gnu_debuglink name); may be repeated\n"
"      --no-demangle      keep C++ and Rust symbol names as in the binary\n"
"      --full-names       C++ names with return and parameter types (default:\n"
"                         scope::name<T>, as perf prints them)\n"
"      --python-only      Python frames only, no native ones (py-spy's view)\n"
"      --interpreter-frames  keep the Python interpreter's own C frames\n"
"      --lines            frames are \"function (file:line)\" where the line is\n"
"                         known (default: functions, so that stacks\n"
"                         aggregate by function)\n"
"      --stats            print sampler timings and hotspy's CPU at the end\n"
"  -q, --quiet            no progress line and no summary\n"
"  -v, --verbose          more messages (repeat for debug)\n"
"  -h, --help             this help\n"
"\n"
"SVG options (-f flamegraph): --title, --subtitle, --width, --height,\n"
"--minwidth, --inverted, --reverse, --colors (see 'hotspy flamegraph --help').\n";

static const char flamegraph_usage[] =
"usage: hotspy flamegraph [FILE] [-o SVG] [options]\n"
"\n"
"Draw an interactive SVG flamegraph from folded stacks (hotspy's own,\n"
"stackcollapse-perf.pl's, py-spy's raw output) read from FILE or stdin.\n"
"Two-column input ('STACK BEFORE AFTER', from 'hotspy diff -f folded' or\n"
"difffolded.pl) is drawn as a differential flamegraph.\n"
"\n"
"  -o, --output SVG       where to write ('-' or none: stdout)\n"
"      --title TEXT       title (default \"Flame Graph\")\n"
"      --subtitle TEXT    second line under the title\n"
"      --width PX         image width (default 1200)\n"
"      --height PX        height of one frame (default 16)\n"
"      --minwidth PX|P%   leave out frames narrower than this (default 0.1)\n"
"      --inverted         icicle graph: roots at the top\n"
"      --reverse          reverse each stack: leaves at the bottom\n"
"      --colors PALETTE   hot (default), mem, io, or kind (kernel _[k],\n"
"                         inlined _[i], JIT _[j], native)\n"
"  -q, --quiet            no summary\n"
"  -h, --help             this help\n";

static const char diff_usage[] =
"usage: hotspy diff BEFORE AFTER [-o FILE] [-f FORMAT] [--normalize] [options]\n"
"\n"
"Draw a differential flamegraph of two folded profiles: the shape of AFTER,\n"
"red where AFTER has more samples than BEFORE, blue where it has fewer.\n"
"\n"
"  -o, --output FILE      where to write ('-' or none: stdout)\n"
"  -f, --format FORMAT    flamegraph (SVG) or folded: two-column lines\n"
"                         'STACK BEFORE AFTER' that 'hotspy flamegraph'\n"
"                         draws again (default: SVG, folded when FILE does\n"
"                         not end in .svg)\n"
"      --normalize        scale BEFORE to AFTER's total first\n"
"  and the SVG options of 'hotspy flamegraph' (--title, --width, ...)\n"
"  -q, --quiet            no summary\n"
"  -h, --help             this help\n";

static const char main_usage[] =
"usage: hotspy COMMAND [options]\n"
"\n"
"A sampling profiler for Linux programs.\n"
"\n"
"commands:\n"
"  record    sample a process (or a command) and write a profile\n"
"  flamegraph draw an SVG flamegraph from folded stacks\n"
"  diff      draw a differential flamegraph of two folded profiles\n"
"  top       show the hottest functions of a process, live\n"
"  dump      print the stack of every thread of a process once\n"
"\n"
"Run 'hotspy COMMAND --help' for the options of a command.\n";

const char *options_format_name(enum output_format format)
{
	switch (format) {
	case FORMAT_AUTO: return "auto";
	case FORMAT_FOLDED: return "folded";
	case FORMAT_FLAMEGRAPH: return "flamegraph";
	case FORMAT_SPEEDSCOPE: return "speedscope";
	case FORMAT_PPROF: return "pprof";
	}
	return "?";
}

/* The name of @cmd as typed, for the hint of usage_error. */
static const char *command_name(enum command cmd)
{
	switch (cmd) {
	case CMD_FLAMEGRAPH: return "flamegraph";
	case CMD_DIFF: return "diff";
	case CMD_DUMP: return "dump";
	case CMD_TOP: return "top";
	case CMD_RECORD: case CMD_NONE: break;
	}
	return "record";
}

/* Say what is wrong with the command line of @o->command and how to get
 * help; returns -EINVAL. */
static int __attribute__((format(printf, 2, 3)))
usage_error(const struct options *o, const char *fmt, ...)
{
	va_list ap;

	fputs("hotspy: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'hotspy %s --help'.\n", command_name(o->command));
	return -EINVAL;
}

static int parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "65536", "64K", "64k", "1M". */
static int parse_size(const char *s, size_t *out)
{
	unsigned long long v, mult = 1;
	char *end;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (*end == 'k' || *end == 'K')
		mult = 1024, end++;
	else if (*end == 'm' || *end == 'M')
		mult = 1024 * 1024, end++;
	if (*end == 'i' && mult > 1)
		end++;
	if ((*end == 'b' || *end == 'B') && end[1] == '\0')
		end++;
	if (*end || v > ULLONG_MAX / mult)
		return -EINVAL;
	*out = (size_t)(v * mult);
	return 0;
}

static int parse_format(const char *s, enum output_format *out)
{
	static const enum output_format all[] = {
		FORMAT_FOLDED, FORMAT_FLAMEGRAPH, FORMAT_SPEEDSCOPE, FORMAT_PPROF,
	};
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(s, options_format_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	if (strcmp(s, "svg") == 0) {
		*out = FORMAT_FLAMEGRAPH;
		return 0;
	}
	return -EINVAL;
}

enum {
	OPT_THREADS = 256,
	OPT_IDLE,
	OPT_KERNEL,
	OPT_SUBPROCESSES,
	OPT_STACK_SIZE,
	OPT_SAMPLER,
	OPT_STATS,
	OPT_LINES,
	OPT_NO_DEMANGLE,
	OPT_FULL_NAMES,
	OPT_PYTHON_ONLY,
	OPT_INTERPRETER_FRAMES,
	OPT_NATIVE,
	OPT_NOLINENO,
	OPT_JSON,
	OPT_DEBUG_DIR,
	OPT_TITLE,
	OPT_SUBTITLE,
	OPT_WIDTH,
	OPT_HEIGHT,
	OPT_MINWIDTH,
	OPT_INVERTED,
	OPT_REVERSE,
	OPT_COLORS,
	OPT_NORMALIZE,
	OPT_DELAY,
	OPT_BATCH,
	OPT_ITERATIONS,
};

/* The SVG options record and flamegraph share. 0 when @c was one, -ENOENT
 * when not, -EINVAL after reporting a bad value. */
static int parse_svg_option(struct options *o, int c, const char *arg)
{
	enum svg_palette palette;
	unsigned long v;
	char *end;

	switch (c) {
	case OPT_TITLE:
		o->title = arg;
		return 0;
	case OPT_SUBTITLE:
		o->subtitle = arg;
		return 0;
	case OPT_WIDTH:
		if (parse_ulong(arg, 100000, &v) < 0 || v < 100)
			return usage_error(o, "invalid width '%s': expected 100 to 100000 pixels", arg);
		o->width = (unsigned)v;
		return 0;
	case OPT_HEIGHT:
		if (parse_ulong(arg, 1000, &v) < 0 || v < 4)
			return usage_error(o, "invalid frame height '%s': expected 4 to 1000 pixels",
					   arg);
		o->frame_height = (unsigned)v;
		return 0;
	case OPT_MINWIDTH:
		errno = 0;
		o->minwidth = strtod(arg, &end);
		o->minwidth_percent = *end == '%';
		if (*end == '%')
			end++;
		if (errno || end == arg || *end || !(o->minwidth >= 0) || o->minwidth > 1e6 ||
		    (o->minwidth_percent && o->minwidth > 100))
			return usage_error(o, "invalid minimum width '%s': expected pixels (0.1) "
					   "or a percent (0.5%%)", arg);
		return 0;
	case OPT_INVERTED:
		o->inverted = true;
		return 0;
	case OPT_REVERSE:
		o->reverse = true;
		return 0;
	case OPT_COLORS:
		if (svg_palette_parse(arg, &palette) < 0)
			return usage_error(o, "unknown palette '%s': expected hot, mem, io or kind",
					   arg);
		o->colors = arg;
		return 0;
	default:
		return -ENOENT;
	}
}

/* How Python frames mix with native ones (record, top, dump). */
#define PYTHON_LONGOPTS \
	{ "python-only", no_argument, NULL, OPT_PYTHON_ONLY }, \
	{ "interpreter-frames", no_argument, NULL, OPT_INTERPRETER_FRAMES }, \
	{ "native", no_argument, NULL, OPT_NATIVE }, \
	{ "nolineno", no_argument, NULL, OPT_NOLINENO }

#define SVG_LONGOPTS \
	{ "title", required_argument, NULL, OPT_TITLE }, \
	{ "subtitle", required_argument, NULL, OPT_SUBTITLE }, \
	{ "width", required_argument, NULL, OPT_WIDTH }, \
	{ "height", required_argument, NULL, OPT_HEIGHT }, \
	{ "minwidth", required_argument, NULL, OPT_MINWIDTH }, \
	{ "inverted", no_argument, NULL, OPT_INVERTED }, \
	{ "reverse", no_argument, NULL, OPT_REVERSE }, \
	{ "colors", required_argument, NULL, OPT_COLORS }

static int parse_flamegraph(struct options *o, int argc, char **argv)
{
	bool diff = o->command == CMD_DIFF;
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "normalize", no_argument, NULL, OPT_NORMALIZE },
		{ "format", required_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		SVG_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int c, r;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:f:qh", longopts, NULL)) != -1) {
		r = parse_svg_option(o, c, optarg);
		if (r == 0)
			continue;
		if (r != -ENOENT)
			return r;
		switch (c) {
		case 'o':
			if (!*optarg)
				return usage_error(o, "empty output path");
			o->output = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'f':
			if (!diff)
				return usage_error(o, "-f is an option of 'hotspy diff' (flamegraph "
						   "writes SVG)");
			if (parse_format(optarg, &o->format) < 0 ||
			    (o->format != FORMAT_FLAMEGRAPH && o->format != FORMAT_FOLDED))
				return usage_error(o, "unknown diff format '%s': expected flamegraph "
						   "or folded", optarg);
			break;
		case OPT_NORMALIZE:
			if (!diff)
				return usage_error(o, "--normalize is an option of 'hotspy diff'");
			o->normalize = true;
			break;
		case 'h':
			fputs(diff ? diff_usage : flamegraph_usage, stdout);
			o->command = CMD_NONE;
			return 0;
		case ':':
			return usage_error(o, "option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error(o, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->input = argv[optind++];
	if (diff && optind < argc)
		o->input2 = argv[optind++];
	if (diff && !o->input2)
		return usage_error(o, "diff needs two folded files: BEFORE AFTER");
	if (optind < argc)
		return usage_error(o, "too many input files: '%s' is extra", argv[optind]);
	return 0;
}

/*
 * The options of every command that reads a live target: -p, --stack-size,
 * --no-demangle, --full-names, --debug-dir, and how Python frames mix with native ones. 0 when @c was one of them, -ENOENT when not,
 * or the usage error (-EINVAL).
 */
static int parse_target_option(struct options *o, int c, const char *arg)
{
	unsigned long v;

	switch (c) {
	case 'p':
		if (parse_ulong(arg, INT_MAX, &v) < 0 || v == 0)
			return usage_error(o, "invalid PID '%s': expected a positive number", arg);
		o->pid = (pid_t)v;
		return 0;
	case OPT_STACK_SIZE:
		if (parse_size(arg, &o->stack_size) < 0 || o->stack_size < 1024 ||
		    o->stack_size > OPTIONS_MAX_STACK_SIZE)
			return usage_error(o, "invalid stack size '%s': expected 1K to 64M", arg);
		return 0;
	case OPT_NO_DEMANGLE:
		o->no_demangle = true;
		return 0;
	case OPT_FULL_NAMES:
		o->full_names = true;
		return 0;
	case OPT_PYTHON_ONLY:
		o->python_mode = PYMERGE_PYTHON_ONLY;
		return 0;
	case OPT_INTERPRETER_FRAMES:
		o->python_mode = PYMERGE_ALL_NATIVE;
		return 0;
	case OPT_NATIVE:
		/* py-spy's --native: native frames beside Python ones, which
		 * hotspy shows by default. */
		if (o->python_mode == PYMERGE_PYTHON_ONLY)
			return usage_error(o, "--native and --python-only contradict each other");
		return 0;
	case OPT_NOLINENO:
		/* py-spy's --nolineno: frames by function, hotspy's default. */
		o->lines = false;
		return 0;
	case OPT_DEBUG_DIR:
		if (!*arg)
			return usage_error(o, "empty --debug-dir");
		if (o->ndebug_dirs == OPTIONS_DEBUG_DIRS_MAX)
			return usage_error(o, "at most %d --debug-dir options", OPTIONS_DEBUG_DIRS_MAX);
		o->debug_dirs[o->ndebug_dirs++] = arg;
		return 0;
	default:
		return -ENOENT;
	}
}

/*
 * The options of every command that samples: -r, -d, --idle, --kernel,
 * --sampler, --lines. 0 when @c was one of them, -ENOENT when not, or the
 * usage error (-EINVAL).
 */
static int parse_sampling_option(struct options *o, int c, const char *arg)
{
	unsigned long v;
	char *end;

	switch (c) {
	case 'r':
		if (parse_ulong(arg, OPTIONS_MAX_RATE, &v) < 0 || v == 0)
			return usage_error(o, "invalid rate '%s': expected 1 to 10000 samples per second",
					   arg);
		o->rate = (unsigned)v;
		return 0;
	case 'd':
		errno = 0;
		o->duration = strtod(arg, &end);
		if (errno || end == arg || *end || !(o->duration > 0) || o->duration > 1e9)
			return usage_error(o, "invalid duration '%s': expected seconds > 0", arg);
		return 0;
	case OPT_IDLE:
		o->idle = true;
		return 0;
	case OPT_KERNEL:
		o->kernel = true;
		return 0;
	case OPT_SAMPLER:
		if (strcmp(arg, "auto") == 0)
			o->sampler = SAMPLER_AUTO;
		else if (strcmp(arg, "ptrace") == 0)
			o->sampler = SAMPLER_PTRACE;
		else if (strcmp(arg, "perf") == 0)
			o->sampler = SAMPLER_PERF;
		else
			return usage_error(o, "unknown sampler '%s': expected auto, perf or ptrace", arg);
		return 0;
	case OPT_LINES:
		o->lines = true;
		return 0;
	default:
		return -ENOENT;
	}
}

/*
 * -q, -v, -h and getopt's complaints, alike in every command that samples.
 * 0 for -q, -v, and -h after printing @usage (o->command is then CMD_NONE:
 * nothing more to do), or the usage error (-EINVAL).
 */
static int parse_common_option(struct options *o, int c, char **argv, const char *usage)
{
	switch (c) {
	case 'q':
		o->quiet = true;
		return 0;
	case 'v':
		o->verbose++;
		return 0;
	case 'h':
		fputs(usage, stdout);
		o->command = CMD_NONE;
		return 0;
	case ':':
		return usage_error(o, "option '%s' needs a value", argv[optind - 1]);
	default:
		return usage_error(o, "unknown option '%s'", argv[optind - 1]);
	}
}

/* What follows the options of record and top: the command to start, if any;
 * exactly one of -p and a command. */
static int parse_target_command(struct options *o, int argc, char **argv)
{
	if (optind < argc)
		o->argv = &argv[optind];
	if (o->pid && o->argv)
		return usage_error(o, "give either -p PID or a command after --, not both");
	if (!o->pid && !o->argv)
		return usage_error(o, "nothing to profile: give -p PID or -- CMD ARGS...");
	return 0;
}

static const char dump_usage[] =
"usage: hotspy dump -p PID [--json] [options]\n"
"\n"
"Print the stack of every thread of a process once. Each thread is stopped\n"
"only while its registers and stack are copied; the stacks are unwound and\n"
"named after the process runs again.\n"
"\n"
"  -p, --pid PID          the process\n"
"      --json             one JSON document instead of text\n"
"      --stack-size BYTES stack bytes copied per thread (default 64K)\n"
"      --no-demangle      keep C++ and Rust symbol names raw\n"
"      --full-names       C++ names with return and parameter types\n"
"      --python-only      Python frames only, no native ones (py-spy's view)\n"
"      --interpreter-frames  keep the Python interpreter's own C frames\n"
"      --debug-dir DIR    look for separate debug files in DIR too\n"
"  -q, --quiet            no messages but errors\n"
"  -v, --verbose          more messages\n"
"  -h, --help             this help\n";

static int parse_dump(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "stack-size", required_argument, NULL, OPT_STACK_SIZE },
		{ "no-demangle", no_argument, NULL, OPT_NO_DEMANGLE },
		{ "full-names", no_argument, NULL, OPT_FULL_NAMES },
		PYTHON_LONGOPTS,
		{ "debug-dir", required_argument, NULL, OPT_DEBUG_DIR },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, r;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:qvh", longopts, NULL)) != -1) {
		r = parse_target_option(o, c, optarg);
		if (r == 0)
			continue;
		if (r != -ENOENT)
			return r;
		switch (c) {
		case OPT_JSON:
			o->json = true;
			break;
		default:
			r = parse_common_option(o, c, argv, dump_usage);
			if (r < 0 || o->command == CMD_NONE)
				return r;
			break;
		}
	}
	if (optind < argc)
		return usage_error(o, "unexpected argument '%s': dump takes -p PID", argv[optind]);
	if (!o->pid)
		return usage_error(o, "which process? give -p PID");
	return 0;
}

static const char top_usage[] =
"usage: hotspy top [-p PID | -- CMD ARGS...] [options]\n"
"\n"
"Show the functions where a process spends its time, live, like top(1).\n"
"%Own and %Total are shares of the samples of the last refresh in which\n"
"the function was the leaf / anywhere in the stack; OwnTime and TotalTime\n"
"are seconds since the start (or the last reset with 'r'). Press '?' for\n"
"the keys, 'q' to quit.\n"
"\n"
"  -p, --pid PID          watch a running process\n"
"  -- CMD ARGS...         start CMD under hotspy and watch it\n"
"  -r, --rate HZ          samples per second per thread (default 100)\n"
"      --delay SECS       seconds between refreshes (default 1)\n"
"  -d, --duration SECS    stop after SECS seconds\n"
"      --batch            print the table as plain text every refresh (the\n"
"                         default when stdout is not a terminal)\n"
"  -n, --iterations N     stop after N refreshes\n"
"      --lines            start by source line instead of by function\n"
"      --idle             also sample threads that are not running\n"
"      --kernel           kernel frames too (perf sampler)\n"
"      --sampler KIND     auto (default), perf or ptrace\n"
"      --stack-size BYTES stack bytes copied per sample (default 64K)\n"
"      --no-demangle      keep C++ and Rust symbol names raw\n"
"      --full-names       C++ names with return and parameter types\n"
"      --python-only      Python frames only, no native ones (py-spy's view)\n"
"      --interpreter-frames  keep the Python interpreter's own C frames\n"
"      --debug-dir DIR    look for separate debug files in DIR too\n"
"  -q, --quiet            no messages but errors\n"
"  -v, --verbose          more messages\n"
"  -h, --help             this help\n";

static int parse_top(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "delay", required_argument, NULL, OPT_DELAY },
		{ "batch", no_argument, NULL, OPT_BATCH },
		{ "iterations", required_argument, NULL, 'n' },
		{ "lines", no_argument, NULL, OPT_LINES },
		{ "idle", no_argument, NULL, OPT_IDLE },
		{ "kernel", no_argument, NULL, OPT_KERNEL },
		{ "sampler", required_argument, NULL, OPT_SAMPLER },
		{ "stack-size", required_argument, NULL, OPT_STACK_SIZE },
		{ "no-demangle", no_argument, NULL, OPT_NO_DEMANGLE },
		{ "full-names", no_argument, NULL, OPT_FULL_NAMES },
		PYTHON_LONGOPTS,
		{ "debug-dir", required_argument, NULL, OPT_DEBUG_DIR },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	char *end;
	int c, r;

	o->delay = 1.0;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:p:r:d:n:qvh", longopts, NULL)) != -1) {
		r = parse_target_option(o, c, optarg);
		if (r == -ENOENT)
			r = parse_sampling_option(o, c, optarg);
		if (r == 0)
			continue;
		if (r != -ENOENT)
			return r;
		switch (c) {
		case OPT_DELAY:
			errno = 0;
			o->delay = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->delay >= 0.1) || o->delay > 3600)
				return usage_error(o, "invalid delay '%s': expected 0.1 to 3600 seconds",
						   optarg);
			break;
		case OPT_BATCH:
			o->batch = true;
			break;
		case 'n':
			if (parse_ulong(optarg, UINT_MAX, &v) < 0 || v == 0)
				return usage_error(o, "invalid iterations '%s': expected a positive number",
						   optarg);
			o->iterations = (unsigned)v;
			break;
		default:
			r = parse_common_option(o, c, argv, top_usage);
			if (r < 0 || o->command == CMD_NONE)
				return r;
			break;
		}
	}
	return parse_target_command(o, argc, argv);
}

static int parse_record(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'f' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "threads", no_argument, NULL, OPT_THREADS },
		{ "idle", no_argument, NULL, OPT_IDLE },
		{ "kernel", no_argument, NULL, OPT_KERNEL },
		{ "subprocesses", no_argument, NULL, OPT_SUBPROCESSES },
		{ "stack-size", required_argument, NULL, OPT_STACK_SIZE },
		{ "sampler", required_argument, NULL, OPT_SAMPLER },
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "lines", no_argument, NULL, OPT_LINES },
		{ "no-demangle", no_argument, NULL, OPT_NO_DEMANGLE },
		{ "full-names", no_argument, NULL, OPT_FULL_NAMES },
		PYTHON_LONGOPTS,
		{ "debug-dir", required_argument, NULL, OPT_DEBUG_DIR },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		SVG_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int c, r;

	optind = 1;
	opterr = 0;
	/* '+': stop at the first non-option, which starts the command. */
	while ((c = getopt_long(argc, argv, "+:p:o:f:r:d:qvh", longopts, NULL)) != -1) {
		r = parse_svg_option(o, c, optarg);
		if (r == -ENOENT)
			r = parse_target_option(o, c, optarg);
		if (r == -ENOENT)
			r = parse_sampling_option(o, c, optarg);
		if (r == 0)
			continue;
		if (r != -ENOENT)
			return r;
		switch (c) {
		case 'o':
			if (!*optarg)
				return usage_error(o, "empty output path");
			o->output = optarg;
			break;
		case 'f':
			if (parse_format(optarg, &o->format) < 0)
				return usage_error(o, "unknown format '%s': expected flamegraph or folded",
						   optarg);
			break;
		case OPT_THREADS:
			o->threads = true;
			break;
		case OPT_SUBPROCESSES:
			o->subprocesses = true;
			break;
		case OPT_STATS:
			o->stats = true;
			break;
		default:
			r = parse_common_option(o, c, argv, record_usage);
			if (r < 0 || o->command == CMD_NONE)
				return r;
			break;
		}
	}
	return parse_target_command(o, argc, argv);
}

int options_parse(struct options *o, int argc, char **argv)
{
	const char *cmd;

	memset(o, 0, sizeof(*o));
	o->rate = OPTIONS_DEFAULT_RATE;
	o->stack_size = OPTIONS_DEFAULT_STACK_SIZE;
	o->format = FORMAT_AUTO;
	o->sampler = SAMPLER_AUTO;

	if (argc < 2) {
		fputs(main_usage, stderr);
		return -EINVAL;
	}
	cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		fputs(main_usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		puts("hotspy " HOTSPY_VERSION);
		return 0;
	}
	if (strcmp(cmd, "record") == 0) {
		o->command = CMD_RECORD;
		return parse_record(o, argc - 1, argv + 1);
	}
	if (strcmp(cmd, "flamegraph") == 0) {
		o->command = CMD_FLAMEGRAPH;
		return parse_flamegraph(o, argc - 1, argv + 1);
	}
	if (strcmp(cmd, "diff") == 0) {
		o->command = CMD_DIFF;
		return parse_flamegraph(o, argc - 1, argv + 1);
	}
	if (strcmp(cmd, "dump") == 0) {
		o->command = CMD_DUMP;
		return parse_dump(o, argc - 1, argv + 1);
	}
	if (strcmp(cmd, "top") == 0) {
		o->command = CMD_TOP;
		return parse_top(o, argc - 1, argv + 1);
	}
	if (strcmp(cmd, "report") == 0) {
		fprintf(stderr, "hotspy: '%s' is not available in this version yet; "
			"'hotspy record' is\n", cmd);
		return -EINVAL;
	}
	fprintf(stderr, "hotspy: unknown command '%s'\n", cmd);
	fputs(main_usage, stderr);
	return -EINVAL;
}
