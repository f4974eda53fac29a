#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svg.h"
#include "banned.h"

static const char record_usage[] =
"usage: hotspy record [-p PID[,PID...] | -a | -- CMD ARGS...] [options]\n"
"\n"
"Sample the call stacks of every thread of a process and write a profile.\n"
"\n"
"  -p, --pid PID          attach to a running process (PID,PID,...: those\n"
"                         processes, sampled as with -a)\n"
"  -t, --tid TID          that thread alone (its process is attached)\n"
"  -- CMD ARGS...         start CMD under hotspy, traced from its first instruction\n"
"  -a, --all              every process of the machine (perf's -a), each under\n"
"                         a root frame \"NAME (PID)\"; until -d or Ctrl-C\n"
"      --comm PATTERN     the processes whose name PATTERN matches (a glob\n"
"                         with * ? [, else a substring); repeatable; implies -a\n"
"  -o, --output FILE      where to write the profile ('-' for stdout;\n"
"                         default PROGRAM-YYYYmmdd-HHMMSS.svg)\n"
"  -f, --format FORMAT    flamegraph (SVG), speedscope (JSON), pprof (gzip'd\n"
"                         protobuf) or folded; by default from the name:\n"
"                         .svg, .json, .pb.gz or .pprof, else folded\n"
"  -r, --rate HZ          samples per second per thread (default 100, max 10000)\n"
"  -d, --duration SECS    stop after SECS seconds (default: until the program\n"
"                         exits, or Ctrl-C / SIGTERM)\n"
"      --threads          add a frame \"NAME (TID)\" for each thread\n"
"  -i, --idle             also sample threads that are not running (wall-clock\n"
"                         time instead of on-CPU time)\n""  -g, --gil              Python: only samples of a thread that holds the GIL\n"
"                         (py-spy's -g); with --threads, the summary gives\n"
"                         each thread's GIL share\n"
"  -s, --subprocesses     also profile the program's child processes (present\n"
"                         and future); each gets a root frame \"NAME (PID)\"\n"
"      --kernel           kernel frames too, marked _[k] (perf sampler; needs\n"
"                         root or kernel.perf_event_paranoid <= 1)\n"
"      --stack-size BYTES stack bytes copied per sample (default 64K; K/M suffix)\n"
"      --sampler KIND     auto (the default: perf when the kernel allows it,\n"
"                         else ptrace; ptrace with --idle), perf\n"
"                         (perf_event_open: never stops the target), ptrace\n"
"                         (stops each thread for a moment per sample), or bpf\n"
"                         (perf events whose samples a BPF program takes)\n"
"      --debug-dir DIR    look for separate debug files in DIR too (by\n"
"                         build-id: DIR/.build-id/xx/rest.debug, and by\n"
"                         .gnu_debuglink name); may be repeated\n"
"      --no-debug-cache   inflate compressed debug files each time instead of\n"
"                         keeping an inflated copy in ~/.cache/hotspy/debug\n"
"                         (also HOTSPY_DEBUG_CACHE=off)\n"
"      --nice N           hotspy's nice value while it samples (default -10\n"
"                         when hotspy runs at 0 and may raise its priority:\n"
"                         a sampler short of CPU stops threads late and\n"
"                         holds them longer)\n"
"      --no-demangle      keep C++ and Rust symbol names as in the binary\n"
"      --full-names       C++ names with return and parameter types (default:\n"
"                         scope::name<T>, as perf prints them)\n"
"      --python-only      Python frames only, no native ones (py-spy's view)\n"
"      --interpreter-frames  keep the Python interpreter's own C frames\n"
"      --lines            frames are \"function (file:line)\" where the line is\n"
"                         known (default: functions, so that stacks\n"
"                         aggregate by function)\n"
"      --stats            print sampler timings and hotspy's CPU at the end\n"
"      --fail-above [self:|total:]PATTERN=PERCENT\n"
"      --fail-below [self:|total:]PATTERN=PERCENT\n"
"      --baseline OLD --fail-increase [self:|total:]PATTERN=POINTS\n"
"                         once the profile is written, judge it as 'hotspy\n"
"                         report' does and exit 3 when a rule is violated\n"
"      --summary-json FILE  write the run's summary and top functions as\n"
"                         JSON to FILE ('-' for stdout)\n"
"      --keep-running     leave a program started with -- running when the\n"
"                         recording ends (default: it is ended with it)\n"
"  -q, --quiet            no progress line and no summary\n"
"  -v, --verbose          more messages (repeat for debug)\n"
"  -h, --help             this help\n"
"\n"
"py-spy's spellings work too (docs/py-spy.md): -n/--native, -F/--function,\n"
"--nolineno, --nonblocking, --full-filenames, --hideprogress, -d unlimited.\n"
"\n"
"SVG options (-f flamegraph): --title, --subtitle, --width, --height,\n"
"--minwidth, --inverted, --reverse, --colors (see 'hotspy flamegraph --help').\n";

static const char flamegraph_usage[] =
"usage: hotspy flamegraph [FILE] [-o SVG] [options]\n"
"\n"
"Draw an interactive SVG flamegraph from folded stacks (hotspy's own,\n"
"stackcollapse-perf.pl's, py-spy's raw output) or a pprof file (gzip'd, or\n"
"a plain protobuf named .pb or .pprof) read from FILE or stdin.\n"
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
"Draw a differential flamegraph of two folded (or pprof) profiles: the shape\n"
"of AFTER, red where AFTER has more samples than BEFORE, blue where it has\n"
"fewer.\n"
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
"  report    the top functions of profiles; thresholds that fail a CI job\n"
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
	case CMD_REPORT: return "report";
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

int options_parse_size(const char *s, size_t *out)
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
		mult = 1ull << 10, end++;
	else if (*end == 'm' || *end == 'M')
		mult = 1ull << 20, end++;
	else if (*end == 'g' || *end == 'G')
		mult = 1ull << 30, end++;
	if (*end == 'i' && mult > 1)
		end++;
	if ((*end == 'b' || *end == 'B') && end[1] == '\0')
		end++;
	if (*end || v > SIZE_MAX / mult)
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
	/* py-spy's name for folded stacks. */
	if (strcmp(s, "raw") == 0) {
		*out = FORMAT_FOLDED;
		return 0;
	}
	return -EINVAL;
}

/* ---- what to say about a command line that does not parse ---- */

/* Edit distance of @a and @b, a swap of two neighbours counting one
 * ("--dealy"), as optimal string alignment; both short: option and command
 * names. Names of 63 bytes and more are simply far. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	unsigned char d[64][64];

	if (la >= 64 || lb >= 64)
		return SIZE_MAX;
	for (i = 0; i <= la; i++)
		d[i][0] = (unsigned char)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (unsigned char)j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			unsigned best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1u < best)
				best = d[i - 1][j] + 1u;
			if (d[i][j - 1] + 1u < best)
				best = d[i][j - 1] + 1u;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1u < best)
				best = d[i - 2][j - 2] + 1u;
			d[i][j] = (unsigned char)best;
		}
	}
	return d[la][lb];
}

/* Close enough to be a typo of each other: a third of the longer name. */
static bool near_miss(const char *typed, const char *name)
{
	size_t d = edit_distance(typed, name), n = strlen(name);

	return d > 0 && d <= (n < 6 ? 1 : n / 3 + 1);
}

/* What perf or py-spy users type, and what hotspy calls it. */
static const struct {
	const char *typed;      /* "-F", "--freq", as typed (before any '=') */
	const char *hint;
} foreign_options[] = {
	{ "-F", "the rate is -r HZ here (perf's -F); stacks are by function by "
		"default (py-spy's -F)" },
	{ "--freq", "the rate is -r HZ (--rate) here" },
	{ "--frequency", "the rate is -r HZ (--rate) here" },
	{ "-a", "the whole machine is 'hotspy record -a' or 'hotspy top -a'; this "
		"command reads one process (-p PID)" },
	{ "--call-graph", "call stacks are always recorded (DWARF unwinding, as "
			  "--call-graph dwarf): no option needed" },
	{ "-c", "hotspy samples at -r HZ, not every COUNT events (perf's -c); it reads "
		"live processes, not core files (py-spy dump's -c)" },
	{ "--core", "hotspy reads live processes, not core files (py-spy dump's --core)" },
	{ "--capture", "the program's output is never captured here: it goes where "
		       "hotspy's goes (py-spy's --capture)" },
	{ "-e", "hotspy samples CPU time (--idle: wall-clock time); it has no "
		"event list (perf's -e)" },
	{ "--event", "hotspy samples CPU time (--idle: wall-clock time); it has no "
		     "event list" },
};

/*
 * The complaint about argv[optind - 1] (getopt_long returned '?' or ':'),
 * with what the user probably meant: the option of @longopts nearest a
 * misspelt long option, the option a perf or py-spy user typed under
 * hotspy's name, "takes no value" for --flag=value. Returns -EINVAL.
 */
static int bad_option(const struct options *o, int c, char **argv,
		      const struct option *longopts)
{
	const char *arg = argv[optind - 1];
	char typed[64], shown[8];
	const char *eq;
	size_t len;

	/* A short option: getopt says which (optopt); "-xyz" is an unknown
	 * -x, not the word around it. */
	if (optopt > 0 && optopt < 128 && (arg[0] != '-' || arg[1] != '-')) {
		snprintf(shown, sizeof(shown), "-%c", optopt);
		if (c == ':')
			return usage_error(o, "option '%s' needs a value", shown);
		for (size_t i = 0; i < sizeof(foreign_options) / sizeof(foreign_options[0]); i++)
			if (strcmp(foreign_options[i].typed, shown) == 0)
				return usage_error(o, "unknown option '%s': %s", shown,
						   foreign_options[i].hint);
		return usage_error(o, "unknown option '%s'", shown);
	}
	eq = strchr(arg, '=');
	len = eq ? (size_t)(eq - arg) : strlen(arg);
	snprintf(typed, sizeof(typed), "%.*s", (int)(len < sizeof(typed) ? len : sizeof(typed) - 1),
		 arg);
	if (c == ':')
		return usage_error(o, "option '%s' needs a value", typed);
	for (size_t i = 0; i < sizeof(foreign_options) / sizeof(foreign_options[0]); i++)
		if (strcmp(foreign_options[i].typed, arg) == 0 ||
		    strcmp(foreign_options[i].typed, typed) == 0)
			return usage_error(o, "unknown option '%s': %s", arg, foreign_options[i].hint);
	if (strncmp(typed, "--", 2) != 0)
		return usage_error(o, "unknown option '%s'", arg);
	for (const struct option *lo = longopts; lo->name; lo++) {
		if (strcmp(lo->name, typed + 2) == 0 && eq && lo->has_arg == no_argument)
			return usage_error(o, "option '--%s' takes no value (give '--%s' alone)",
					   lo->name, lo->name);
	}
	for (const struct option *lo = longopts; lo->name; lo++)
		if (near_miss(typed + 2, lo->name))
			return usage_error(o, "unknown option '%s'; did you mean '--%s'?", arg,
					   lo->name);
	return usage_error(o, "unknown option '%s'", arg);
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
	OPT_FUNCTION,
	OPT_NONBLOCKING,
	OPT_FULL_FILENAMES,
	OPT_HIDEPROGRESS,
	OPT_JSON,
	OPT_LOCALS,
	OPT_DEBUG_DIR,
	OPT_NO_DEBUG_CACHE,
	OPT_NICE,
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
	/* report, and the thresholds of record */
	OPT_TOP,
	OPT_BY,
	OPT_MARKDOWN,
	OPT_MATCH,
	OPT_FAIL_ABOVE,
	OPT_FAIL_BELOW,
	OPT_FAIL_INCREASE,
	OPT_BASELINE,
	OPT_KEEP_RUNNING,
	OPT_SUMMARY_JSON,
	OPT_COMM,
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

/* The thresholds report and record share (docs/ci.md). */
#define RULE_LONGOPTS \
	{ "fail-above", required_argument, NULL, OPT_FAIL_ABOVE }, \
	{ "fail-below", required_argument, NULL, OPT_FAIL_BELOW }, \
	{ "fail-increase", required_argument, NULL, OPT_FAIL_INCREASE }, \
	{ "baseline", required_argument, NULL, OPT_BASELINE }

/* A threshold option: 0 when @c was one, -ENOENT when not, -EINVAL after
 * reporting a bad rule. */
static int parse_rule_option(struct options *o, int c, const char *arg)
{
	enum rule_kind kind;
	char err[320];

	switch (c) {
	case OPT_FAIL_ABOVE: kind = RULE_ABOVE; break;
	case OPT_FAIL_BELOW: kind = RULE_BELOW; break;
	case OPT_FAIL_INCREASE: kind = RULE_INCREASE; break;
	case OPT_BASELINE:
		if (!*arg)
			return usage_error(o, "empty --baseline");
		o->baseline = arg;
		return 0;
	default:
		return -ENOENT;
	}
	if (o->nrules == OPTIONS_RULES_MAX)
		return usage_error(o, "at most %d threshold rules", OPTIONS_RULES_MAX);
	if (rule_parse(&o->rules[o->nrules], kind, arg, err, sizeof(err)) < 0)
		return usage_error(o, "%s: %s", rule_option(kind), err);
	o->nrules++;
	return 0;
}

/* --baseline and --fail-increase go together. */
static int check_rules(const struct options *o)
{
	bool increase = false;

	for (size_t i = 0; i < o->nrules; i++)
		increase |= o->rules[i].kind == RULE_INCREASE;
	if (increase && !o->baseline)
		return usage_error(o, "--fail-increase compares with a baseline: give "
				   "--baseline OLD");
	if (o->baseline && !increase)
		return usage_error(o, "--baseline is read for --fail-increase rules: give one");
	return 0;
}

/* How Python frames mix with native ones (record, top, dump). */
#define PYTHON_LONGOPTS \
	{ "python-only", no_argument, NULL, OPT_PYTHON_ONLY }, \
	{ "interpreter-frames", no_argument, NULL, OPT_INTERPRETER_FRAMES }, \
	{ "native", no_argument, NULL, OPT_NATIVE }, \
	{ "nolineno", no_argument, NULL, OPT_NOLINENO }, \
	{ "function", no_argument, NULL, OPT_FUNCTION }, \
	{ "nonblocking", no_argument, NULL, OPT_NONBLOCKING }, \
	{ "full-filenames", no_argument, NULL, OPT_FULL_FILENAMES }

#define SVG_LONGOPTS \
	{ "title", required_argument, NULL, OPT_TITLE }, \
	{ "subtitle", required_argument, NULL, OPT_SUBTITLE }, \
	{ "width", required_argument, NULL, OPT_WIDTH }, \
	{ "height", required_argument, NULL, OPT_HEIGHT }, \
	{ "minwidth", required_argument, NULL, OPT_MINWIDTH }, \
	{ "inverted", no_argument, NULL, OPT_INVERTED }, \
	{ "reverse", no_argument, NULL, OPT_REVERSE }, \
	{ "colors", required_argument, NULL, OPT_COLORS }

/* The options parse_target_option takes (every command that reads a live
 * target), parse_sampling_option (every command that samples) and
 * parse_common_option: one table each, shared by the commands' tables. */
#define TARGET_LONGOPTS \
	{ "pid", required_argument, NULL, 'p' }, \
	{ "stack-size", required_argument, NULL, OPT_STACK_SIZE }, \
	{ "no-demangle", no_argument, NULL, OPT_NO_DEMANGLE }, \
	{ "full-names", no_argument, NULL, OPT_FULL_NAMES }, \
	PYTHON_LONGOPTS, \
	{ "debug-dir", required_argument, NULL, OPT_DEBUG_DIR }, \
	{ "no-debug-cache", no_argument, NULL, OPT_NO_DEBUG_CACHE }, \
	{ "nice", required_argument, NULL, OPT_NICE }

#define SAMPLING_LONGOPTS \
	{ "tid", required_argument, NULL, 't' }, \
	{ "rate", required_argument, NULL, 'r' }, \
	{ "duration", required_argument, NULL, 'd' }, \
	{ "idle", no_argument, NULL, OPT_IDLE }, \
	{ "gil", no_argument, NULL, 'g' }, \
	{ "kernel", no_argument, NULL, OPT_KERNEL }, \
	{ "sampler", required_argument, NULL, OPT_SAMPLER }, \
	{ "lines", no_argument, NULL, OPT_LINES }, \
	{ "keep-running", no_argument, NULL, OPT_KEEP_RUNNING }, \
	{ "all", no_argument, NULL, 'a' }, \
	{ "all-cpus", no_argument, NULL, 'a' }, \
	{ "comm", required_argument, NULL, OPT_COMM }

#define COMMON_LONGOPTS \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "help", no_argument, NULL, 'h' }

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
		default:
			return bad_option(o, c, argv, longopts);
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
 * The options of every command that reads a live target: -p, -t,
 * --stack-size, --no-demangle, --full-names, --debug-dir, --no-debug-cache,
 * and how Python frames mix with native ones. 0 when @c was one of them, -ENOENT when not,
 * or the usage error (-EINVAL).
 */
static int parse_target_option(struct options *o, int c, const char *arg)
{
	unsigned long v;

	switch (c) {
	case 'p': {
		/* A list, "12,34" (py-spy's and perf's): the processes to
		 * sample of the whole machine. */
		const char *at = arg;

		do {
			char one[24];
			size_t len = strcspn(at, ",");

			if (len == 0 || len >= sizeof(one))
				return usage_error(o, "invalid PID list '%s': expected PID or "
						   "PID,PID,...", arg);
			memcpy(one, at, len);
			one[len] = '\0';
			if (parse_ulong(one, INT_MAX, &v) < 0 || v == 0)
				return usage_error(o, "invalid PID '%s': expected a positive number",
						   one);
			if (o->npids == OPTIONS_PIDS_MAX)
				return usage_error(o, "at most %d processes in -p", OPTIONS_PIDS_MAX);
			o->pids[o->npids++] = (pid_t)v;
			at += len;
		} while (*at++ == ',');
		o->pid = o->pids[0];
		return 0;
	}
	case 't':
		if (parse_ulong(arg, INT_MAX, &v) < 0 || v == 0)
			return usage_error(o, "invalid TID '%s': expected a thread id (ls "
					   "/proc/PID/task; py-spy's -t is --threads here)", arg);
		o->tid = (pid_t)v;
		return 0;
	case OPT_STACK_SIZE:
		if (options_parse_size(arg, &o->stack_size) < 0 || o->stack_size < 1024 ||
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
	case OPT_FUNCTION:
		/* py-spy's --nolineno and -F/--function: frames by function,
		 * hotspy's default (py-spy's -F also shows each function's first
		 * line; hotspy shows no line then). */
		o->lines = false;
		return 0;
	case OPT_NONBLOCKING:
		/* py-spy's --nonblocking reads the frames without pausing the
		 * process, at the price of torn stacks. hotspy never pauses the
		 * process: one thread at a time, for the copy of its stack. */
		o->nonblocking = true;
		return 0;
	case OPT_FULL_FILENAMES:
		o->full_filenames = true;
		return 0;
	case OPT_KEEP_RUNNING:
		o->keep_running = true;
		return 0;
	case OPT_DEBUG_DIR:
		if (!*arg)
			return usage_error(o, "empty --debug-dir");
		if (o->ndebug_dirs == OPTIONS_DEBUG_DIRS_MAX)
			return usage_error(o, "at most %d --debug-dir options", OPTIONS_DEBUG_DIRS_MAX);
		o->debug_dirs[o->ndebug_dirs++] = arg;
		return 0;
	case OPT_NO_DEBUG_CACHE:
		o->no_debug_cache = true;
		return 0;
	case OPT_NICE: {
		char *end;
		long n;

		errno = 0;
		n = strtol(arg, &end, 10);
		if (errno || end == arg || *end || n < -20 || n > 19)
			return usage_error(o, "invalid nice value '%s': expected -20 to 19", arg);
		o->nice = (int)n;
		o->nice_set = true;
		return 0;
	}
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
		/* py-spy's "-d unlimited": until the end, the default. */
		if (strcmp(arg, "unlimited") == 0) {
			o->duration = 0;
			return 0;
		}
		errno = 0;
		o->duration = strtod(arg, &end);
		if (errno || end == arg || *end || !(o->duration > 0) || o->duration > 1e9)
			return usage_error(o, "invalid duration '%s': expected seconds > 0", arg);
		return 0;
	case OPT_IDLE:
	case 'i':
		o->idle = true;
		return 0;
	case 'g':
		o->gil = true;
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
		else if (strcmp(arg, "bpf") == 0)
			o->sampler = SAMPLER_BPF;
		else
			return usage_error(o, "unknown sampler '%s': expected auto, perf, ptrace or "
					   "bpf", arg);
		return 0;
	case OPT_LINES:
		o->lines = true;
		return 0;
	case 'a':
		o->all = true;
		return 0;
	case OPT_COMM:
		if (!*arg)
			return usage_error(o, "empty --comm pattern");
		if (o->ncomms == OPTIONS_COMMS_MAX)
			return usage_error(o, "at most %d --comm patterns", OPTIONS_COMMS_MAX);
		o->comms[o->ncomms++] = arg;
		return 0;
	default:
		return -ENOENT;
	}
}

/*
 * -q, -v, -h and getopt's complaints (about an option of @longopts, the
 * command's), alike in every command that samples.
 * 0 for -q, -v, and -h after printing @usage (o->command is then CMD_NONE:
 * nothing more to do), or the usage error (-EINVAL).
 */
static int parse_common_option(struct options *o, int c, char **argv, const char *usage,
			       const struct option *longopts)
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
	default:
		return bad_option(o, c, argv, longopts);
	}
}

/* What follows the options of record and top: the command to start, if any;
 * exactly one of -p and a command. */
static int parse_target_command(struct options *o, int argc, char **argv)
{
	if (optind < argc)
		o->argv = &argv[optind];
	/* The whole machine, or the processes a list or patterns name of it. */
	if (o->npids > 1 || o->ncomms)
		o->all = true;
	if (o->all) {
		if (o->argv)
			return usage_error(o, "-a, a -p list and --comm sample running processes: "
					   "give no command (-d SECONDS says how long)");
		if (o->tid)
			return usage_error(o, "-t TID is one thread of one process: not with -a, a "
					   "-p list or --comm");
		if (o->idle || o->sampler == SAMPLER_PTRACE || o->gil)
			return usage_error(o, "%s: the whole machine (-a, a -p list, --comm) is "
					   "sampled with per-CPU perf events (--sampler perf, bpf or "
					   "auto), which see running threads only",
					   o->idle ? "--idle needs the ptrace sampler" :
					   o->gil ? "--gil is read for one process at a time" :
					   "--sampler ptrace cannot sample the whole machine");
		o->pid = 0;
		return 0;
	}
	if ((o->pid || o->tid) && o->argv)
		return usage_error(o, "give either -p PID (or -t TID) or a command after --, "
				   "not both");
	if (!o->pid && !o->tid && !o->argv)
		return usage_error(o, "nothing to profile: give -p PID, -a (every process) or -- CMD ARGS...");
	if (o->gil && o->sampler == SAMPLER_PERF)
		return usage_error(o, "--gil reads Python's GIL at each sample, which the perf "
				   "sampler cannot: use --sampler auto, bpf or ptrace");
	return 0;
}

static const char dump_usage[] =
"usage: hotspy dump -p PID [--json] [--locals] [-s] [options]\n"
"\n"
"Print the stack of every thread of a process once. Each thread is stopped\n"
"only while its registers and stack are copied; the stacks are unwound and\n"
"named after the process runs again.\n"
"\n"
"  -p, --pid PID          the process\n"
"  -j, --json             one JSON document instead of text\n"
"  -l, --locals           each Python frame's arguments and local variables\n"
"                         (read while its thread is stopped; never calls into\n"
"                         the target)\n"
"  -s, --subprocesses     its child processes too (however deep), each with\n"
"                         its pid and threads\n"
"      --stack-size BYTES stack bytes copied per thread (default 64K)\n"
"      --no-demangle      keep C++ and Rust symbol names raw\n"
"      --full-names       C++ names with return and parameter types\n"
"      --python-only      Python frames only, no native ones (py-spy's view)\n"
"      --interpreter-frames  keep the Python interpreter's own C frames\n"
"      --debug-dir DIR    look for separate debug files in DIR too\n"
"      --no-debug-cache   no inflated copies of compressed debug files\n"
"      --nice N           hotspy's nice value while it samples (default -10)\n"
"  -q, --quiet            no messages but errors\n"
"  -v, --verbose          more messages\n"
"  -h, --help             this help\n"
"\n"
"py-spy's spellings work too (docs/py-spy.md): -n/--native, --nonblocking,\n"
"--full-filenames.\n";

static int parse_dump(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "locals", no_argument, NULL, OPT_LOCALS },
		{ "subprocesses", no_argument, NULL, OPT_SUBPROCESSES },
		TARGET_LONGOPTS,
		COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int c, r;

	optind = 1;
	opterr = 0;
	/* -j, -l, -n, -s: py-spy's --json, --locals, --native and
	 * --subprocesses. */
	while ((c = getopt_long(argc, argv, ":p:jlnsqvh", longopts, NULL)) != -1) {
		if (c == 'n')
			c = OPT_NATIVE;
		r = parse_target_option(o, c, optarg);
		if (r == 0)
			continue;
		if (r != -ENOENT)
			return r;
		switch (c) {
		case OPT_JSON:
		case 'j':
			o->json = true;
			break;
		case OPT_LOCALS:
		case 'l':
			o->locals = true;
			break;
		case OPT_SUBPROCESSES:
		case 's':
			o->subprocesses = true;
			break;
		default:
			r = parse_common_option(o, c, argv, dump_usage, longopts);
			if (r < 0 || o->command == CMD_NONE)
				return r;
			break;
		}
	}
	if (optind < argc)
		return usage_error(o, "unexpected argument '%s': dump takes -p PID", argv[optind]);
	if (!o->pid)
		return usage_error(o, "which process? give -p PID");
	if (o->npids > 1)
		return usage_error(o, "dump prints one process: give one PID (-s adds its "
				   "children)");
	return 0;
}

static const char top_usage[] =
"usage: hotspy top [-p PID[,PID...] | -a | -- CMD ARGS...] [options]\n"
"\n"
"Show the functions where a process spends its time, live, like top(1).\n"
"%Own and %Total are shares of the samples of the last refresh in which\n"
"the function was the leaf / anywhere in the stack; OwnTime and TotalTime\n"
"are seconds since the start (or the last reset with 'r'). Press '?' for\n"
"the keys, 'q' to quit.\n"
"\n"
"  -p, --pid PID          watch a running process (PID,PID,...: those)\n"
"  -a, --all              every process of the machine ('p' picks one)\n"
"      --comm PATTERN     the processes whose name PATTERN matches (glob or\n"
"                         substring); repeatable; implies -a\n"
"  -t, --tid TID          that thread alone\n"
"  -- CMD ARGS...         start CMD under hotspy and watch it\n"
"  -r, --rate HZ          samples per second per thread (default 100)\n"
"      --delay SECS       seconds between refreshes (default 1)\n"
"  -d, --duration SECS    stop after SECS seconds\n"
"      --batch            print the table as plain text every refresh (the\n"
"                         default when stdout is not a terminal)\n"
"  -n, --iterations N     stop after N refreshes\n"
"      --lines            start by source line instead of by function\n"
"  -i, --idle             also sample threads that are not running\n"
"  -g, --gil              Python: only samples of a thread that holds the GIL\n"
"  -s, --subprocesses     also watch the program's child processes\n"
"      --kernel           kernel frames too (perf sampler)\n"
"      --sampler KIND     auto (default), perf, ptrace or bpf\n"
"      --stack-size BYTES stack bytes copied per sample (default 64K)\n"
"      --no-demangle      keep C++ and Rust symbol names raw\n"
"      --full-names       C++ names with return and parameter types\n"
"      --python-only      Python frames only, no native ones (py-spy's view)\n"
"      --interpreter-frames  keep the Python interpreter's own C frames\n"
"      --debug-dir DIR    look for separate debug files in DIR too\n"
"      --no-debug-cache   no inflated copies of compressed debug files\n"
"      --nice N           hotspy's nice value while it samples (default -10)\n"
"      --keep-running     leave a program started with -- running on quit\n"
"  -q, --quiet            no messages but errors\n"
"  -v, --verbose          more messages\n"
"  -h, --help             this help\n"
"\n"
"py-spy's spellings work too (docs/py-spy.md): --native, --nonblocking,\n"
"--full-filenames (-n is --iterations here, as in top(1)).\n";

static int parse_top(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "delay", required_argument, NULL, OPT_DELAY },
		{ "batch", no_argument, NULL, OPT_BATCH },
		{ "iterations", required_argument, NULL, 'n' },
		{ "subprocesses", no_argument, NULL, OPT_SUBPROCESSES },
		TARGET_LONGOPTS,
		SAMPLING_LONGOPTS,
		COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	char *end;
	int c, r;

	o->delay = 1.0;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:p:t:r:d:n:agisqvh", longopts, NULL)) != -1) {
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
		case OPT_SUBPROCESSES:
		case 's':
			o->subprocesses = true;
			break;
		case 'n':
			if (parse_ulong(optarg, UINT_MAX, &v) < 0 || v == 0)
				return usage_error(o, "invalid iterations '%s': expected a positive number",
						   optarg);
			o->iterations = (unsigned)v;
			break;
		default:
			r = parse_common_option(o, c, argv, top_usage, longopts);
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
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'f' },
		{ "threads", no_argument, NULL, OPT_THREADS },
		{ "subprocesses", no_argument, NULL, OPT_SUBPROCESSES },
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "summary-json", required_argument, NULL, OPT_SUMMARY_JSON },
		{ "hideprogress", no_argument, NULL, OPT_HIDEPROGRESS },
		TARGET_LONGOPTS,
		SAMPLING_LONGOPTS,
		COMMON_LONGOPTS,
		SVG_LONGOPTS,
		RULE_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	bool short_f = false;
	int c, r;

	optind = 1;
	opterr = 0;
	/* '+': stop at the first non-option, which starts the command. */
	/* -i, -s, -n, -F: py-spy's --idle, --subprocesses, --native and
	 * --function. */
	while ((c = getopt_long(argc, argv, "+:p:t:o:f:r:d:agisnFqvh", longopts, NULL)) != -1) {
		if (c == 'n' || c == 'F') {
			short_f |= c == 'F';
			c = c == 'n' ? OPT_NATIVE : OPT_FUNCTION;
		}
		r = parse_svg_option(o, c, optarg);
		if (r == -ENOENT)
			r = parse_rule_option(o, c, optarg);
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
				return usage_error(o, "unknown format '%s': expected flamegraph (or "
						   "svg), speedscope, pprof or folded", optarg);
			break;
		case OPT_THREADS:
			o->threads = true;
			break;
		case OPT_SUBPROCESSES:
		case 's':
			o->subprocesses = true;
			break;
		case OPT_HIDEPROGRESS:
			o->hide_progress = true;
			break;
		case OPT_STATS:
			o->stats = true;
			break;
		case OPT_SUMMARY_JSON:
			if (!*optarg)
				return usage_error(o, "empty --summary-json path");
			o->summary_json = optarg;
			break;
		default:
			r = parse_common_option(o, c, argv, record_usage, longopts);
			if (r < 0 || o->command == CMD_NONE)
				return r;
			break;
		}
	}
	/* perf's -F takes the rate: "-F 99" would start a program named 99. */
	if (short_f && optind < argc && argv[optind][0] >= '0' && argv[optind][0] <= '9')
		return usage_error(o, "unknown use of '-F %s': the rate is -r HZ here (perf's -F); "
				   "-F alone is py-spy's --function (by function: the default)",
				   argv[optind]);
	r = check_rules(o);
	if (r == 0)
		r = parse_target_command(o, argc, argv);
	if (r == 0 && o->summary_json && o->output && strcmp(o->summary_json, "-") == 0 &&
	    strcmp(o->output, "-") == 0)
		return usage_error(o, "the profile (-o -) and --summary-json - cannot both go "
				   "to stdout");
	return r;
}

static const char report_usage[] =
"usage: hotspy report FILE... [options]\n"
"\n"
"Print the functions that take the largest shares of one or more profiles\n"
"(folded, speedscope JSON, pprof; several files add up), and judge thresholds that\n"
"fail a CI job (exit status 3). docs/ci.md has recipes.\n"
"\n"
"  -n, --top N            rows to print (per thread with --threads; default\n"
"                         20, 0 for all)\n"
"      --by self|total    order by self share (the leaf: the default) or by\n"
"                         total share (anywhere in the stack, once a sample)\n"
"      --threads          rows per thread (profiles recorded with --threads,\n"
"                         speedscope files: a profile per thread)\n"
"      --lines            rows per source line (profiles recorded with --lines)\n"
"      --match REGEX      only rows whose name REGEX finds (POSIX extended)\n"
"      --json             JSON (schema hotspy-report/1, docs/ci.md)\n"
"      --markdown         a Markdown table (a CI job's summary page)\n"
"      --fail-above [self:|total:]PATTERN=PERCENT\n"
"                         fail when the share of the frames PATTERN matches\n"
"                         (the whole function name, file or module) is above\n"
"                         PERCENT; self share unless 'total:'; repeatable\n"
"      --fail-below [self:|total:]PATTERN=PERCENT\n"
"                         fail when that share is below PERCENT\n"
"      --baseline OLD     a profile to compare with, for --fail-increase\n"
"      --fail-increase [self:|total:]PATTERN=POINTS\n"
"                         fail when that share grew by more than POINTS\n"
"                         percentage points since OLD (shares of each one's\n"
"                         own total)\n"
"  -q, --quiet            no text report (--json, --markdown still print), no\n"
"                         line of rules met: only the violated rules\n"
"  -h, --help             this help\n";

static int parse_report(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "top", required_argument, NULL, 'n' },
		{ "by", required_argument, NULL, OPT_BY },
		{ "threads", no_argument, NULL, OPT_THREADS },
		{ "lines", no_argument, NULL, OPT_LINES },
		{ "match", required_argument, NULL, OPT_MATCH },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "markdown", no_argument, NULL, OPT_MARKDOWN },
		RULE_LONGOPTS,
		COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	regex_t re;
	int c, r;

	o->top = 20;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":n:qvh", longopts, NULL)) != -1) {
		r = parse_rule_option(o, c, optarg);
		if (r == 0)
			continue;
		if (r != -ENOENT)
			return r;
		switch (c) {
		case 'n':
			if (parse_ulong(optarg, UINT_MAX, &v) < 0)
				return usage_error(o, "invalid --top '%s': expected a number of rows "
						   "(0: all)", optarg);
			o->top = (unsigned)v;
			break;
		case OPT_BY:
			if (strcmp(optarg, "self") != 0 && strcmp(optarg, "total") != 0)
				return usage_error(o, "invalid --by '%s': expected self or total", optarg);
			o->by_total = strcmp(optarg, "total") == 0;
			break;
		case OPT_THREADS:
			o->threads = true;
			break;
		case OPT_LINES:
			o->lines = true;
			break;
		case OPT_MATCH:
			if (regcomp(&re, optarg, REG_EXTENDED | REG_NOSUB) != 0)
				return usage_error(o, "invalid --match '%s': not a POSIX extended "
						   "regular expression", optarg);
			regfree(&re);
			o->match = optarg;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_MARKDOWN:
			o->markdown = true;
			break;
		default:
			r = parse_common_option(o, c, argv, report_usage, longopts);
			if (r < 0 || o->command == CMD_NONE)
				return r;
			break;
		}
	}
	if (o->json && o->markdown)
		return usage_error(o, "give one of --json and --markdown");
	if (optind >= argc)
		return usage_error(o, "which profiles? give one or more files");
	o->inputs = &argv[optind];
	o->ninputs = (size_t)(argc - optind);
	return check_rules(o);
}

/* A first word that is no command: an option of a command given without it
 * (`hotspy -p 42`, as py-spy and perf users type), or a typo. Returns
 * -EINVAL. */
static int unknown_command(const char *cmd)
{
	static const char *const commands[] = { "record", "report", "flamegraph", "diff", "top",
						"dump" };

	if (cmd[0] == '-') {
		fprintf(stderr, "hotspy: '%s' needs a command first: 'hotspy record %s ...' "
			"writes a profile, 'hotspy top %s ...' shows one live, "
			"'hotspy dump -p PID' prints the stacks once\n", cmd, cmd, cmd);
		return -EINVAL;
	}
	const char *prefix_of[2] = { NULL, NULL };
	size_t prefixes = 0;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (near_miss(cmd, commands[i])) {
			fprintf(stderr, "hotspy: unknown command '%s'; did you mean '%s'?\n", cmd,
				commands[i]);
			return -EINVAL;
		}
	/* py-spy takes a command's first letters ("py-spy r"); hotspy asks
	 * for the whole word, and names it when they say which. */
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strncmp(commands[i], cmd, strlen(cmd)) == 0 && prefixes < 2)
			prefix_of[prefixes++] = commands[i];
	if (prefixes) {
		fprintf(stderr, "hotspy: unknown command '%s'; did you mean '%s'%s%s%s? "
			"(commands are spelt out)\n", cmd, prefix_of[0],
			prefixes > 1 ? " or '" : "", prefixes > 1 ? prefix_of[1] : "",
			prefixes > 1 ? "'" : "");
		return -EINVAL;
	}
	fprintf(stderr, "hotspy: unknown command '%s'\n", cmd);
	fputs(main_usage, stderr);
	return -EINVAL;
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
		o->command = CMD_REPORT;
		return parse_report(o, argc - 1, argv + 1);
	}
	return unknown_command(cmd);
}
