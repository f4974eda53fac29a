/*
 * options.h - the command line, parsed once into a value that travels as
 * `const struct options *`.
 */
#ifndef HOTSPY_OPTIONS_H
#define HOTSPY_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "pymerge.h"
#include "rule.h"
#include "sampler.h"

enum command {
	CMD_NONE,
	CMD_RECORD,
	CMD_FLAMEGRAPH,
	CMD_DIFF,
	CMD_DUMP,
	CMD_TOP,
	CMD_REPORT,
};

#define OPTIONS_DEBUG_DIRS_MAX 4
#define OPTIONS_PIDS_MAX 64
#define OPTIONS_COMMS_MAX 16
#define OPTIONS_RULES_MAX 32

enum output_format {
	FORMAT_AUTO,      /* from the output name: .svg, .json, .pb.gz/.pprof,
	                   * else folded */
	FORMAT_FOLDED,
	FORMAT_FLAMEGRAPH,
	FORMAT_SPEEDSCOPE,
	FORMAT_PPROF,
};

#define OPTIONS_DEFAULT_RATE       100
#define OPTIONS_MAX_RATE           10000
#define OPTIONS_DEFAULT_STACK_SIZE SAMPLER_DEFAULT_STACK_SIZE
#define OPTIONS_MAX_STACK_SIZE     (64u * 1024u * 1024u)

struct options {
	enum command command;
	pid_t pid;                 /* -p; 0 when a command is given, or with
	                            * all (a list, -a, --comm) */
	pid_t pids[OPTIONS_PIDS_MAX];  /* -p 12,34 (and -p repeated), in order */
	size_t npids;
	const char *comms[OPTIONS_COMMS_MAX];  /* --comm PATTERN, repeatable */
	size_t ncomms;
	bool all;                  /* the whole machine: -a, or a -p list of
	                            * more than one, or --comm (which narrow
	                            * it to the processes they name) */
	pid_t tid;                 /* -t: that thread only (its process is
				    * found when attaching); 0 for all */
	char *const *argv;         /* -- CMD ARGS... (NULL-terminated), or NULL */
	const char *output;        /* -o; NULL = default name */
	enum output_format format; /* -f */
	unsigned rate;             /* -r, samples per second per thread */
	double duration;           /* -d seconds; 0 = until exit or Ctrl-C */
	enum sampler_kind sampler; /* --sampler */
	bool idle;                 /* --idle: sample sleeping threads too */
	bool gil;                  /* -g, --gil: only samples of a thread that
	                            * holds Python's GIL */
	bool kernel;               /* --kernel: kernel frames too (perf sampler) */
	bool subprocesses;         /* --subprocesses: descendants too */
	bool threads;              /* --threads: a level per thread */
	size_t stack_size;         /* --stack-size bytes */
	bool stats;                /* --stats: sampler timings on stderr */
	bool lines;                /* --lines: "function (file:line)" frames */
	bool no_demangle;          /* --no-demangle: raw C++/Rust symbol names */
	bool full_names;           /* --full-names: C++ return and parameter types */
	enum pymerge_mode python_mode;  /* --python-only, --interpreter-frames;
	                                 * mixed by default */
	bool json;                 /* dump --json */
	bool locals;               /* dump --locals: Python frames' arguments
	                            * and local variables */
	double delay;              /* top --delay seconds between refreshes */
	bool batch;                /* top --batch: plain text, every refresh */
	unsigned iterations;       /* top -n: refreshes; 0 = no limit */
	const char *debug_dirs[OPTIONS_DEBUG_DIRS_MAX];  /* --debug-dir, in order */
	size_t ndebug_dirs;
	bool no_debug_cache;       /* --no-debug-cache: inflate debug files each time */
	bool nice_set;             /* --nice given */
	int nice;                  /* --nice N: hotspy's nice value while it samples */
	int verbose;               /* -v (repeatable) */
	bool quiet;                /* -q: no progress line, no summary */
	bool hide_progress;        /* --hideprogress (py-spy's): no progress line */
	bool nonblocking;          /* --nonblocking (py-spy's): accepted, said */
	bool full_filenames;       /* --full-filenames: Python files whole */
	bool keep_running;         /* --keep-running: a program started with --
	                            * runs on when the recording ends */
	const char *summary_json;  /* record --summary-json FILE ("-": stdout) */
	/* SVG options (record -f flamegraph, flamegraph). */
	const char *input;         /* flamegraph: folded file; NULL or "-" = stdin */
	const char *title;         /* --title */
	const char *subtitle;      /* --subtitle */
	unsigned width;            /* --width px; 0 = default */
	unsigned frame_height;     /* --height px per frame; 0 = default */
	double minwidth;           /* --minwidth; 0 = default */
	bool minwidth_percent;     /* --minwidth ended in '%' */
	bool inverted;             /* --inverted: icicle graph */
	bool reverse;              /* --reverse: stacks leaf first */
	const char *colors;        /* --colors hot|mem|io|kind; NULL = hot */
	const char *input2;        /* diff: AFTER (input is BEFORE) */
	bool normalize;            /* diff --normalize: scale BEFORE to AFTER's total */
	/* report, and the thresholds record takes too (docs/ci.md). */
	char *const *inputs;       /* report FILE... */
	size_t ninputs;
	unsigned top;              /* report --top N rows; 0 = all */
	bool by_total;             /* report --by total */
	bool markdown;             /* report --markdown (--json is json) */
	const char *match;         /* report --match REGEX (checked) */
	struct rule rules[OPTIONS_RULES_MAX];  /* --fail-above/-below/-increase */
	size_t nrules;
	const char *baseline;      /* --baseline OLD */
};

/*
 * Parse @argv into @opts (which keeps pointers into @argv: it must outlive
 * @opts). Returns 0 with opts->command the command to run, or CMD_NONE when
 * help or the version was printed (exit 0); or -EINVAL after printing what
 * was wrong and a hint to stderr (exit 2).
 */
int options_parse(struct options *opts, int argc, char **argv);

/* A size in bytes: "65536", "64K", "64M", "4G" (binary multiples; "KiB",
 * "MB" spellings too) into *@out; 0, or -EINVAL for anything else or a
 * size past SIZE_MAX. */
int options_parse_size(const char *s, size_t *out);

/* The name of a format as -f spells it (a static string). */
const char *options_format_name(enum output_format format);

#endif
