/*
 * session.h - one recording session, shared by record, top and dump.
 *
 * A session blocks the signals that end a recording, opens the sampler
 * (auto choice included), runs the poll loop until an end reason, shows
 * the progress line, and keeps a symbolizer set up from the options
 * (demangling, debug directories) that knows the mappings of every process
 * sampled, also after the sampler has let go of the target. The front ends
 * keep only what differs: what a sample goes into and what a tick shows.
 */
#ifndef HOTSPY_SESSION_H
#define HOTSPY_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "options.h"
#include "sampler.h"
#include "symbols.h"

/* Why session_run returned. */
enum session_end {
	SESSION_EXITED,       /* the program exited */
	SESSION_INTERRUPTED,  /* SIGINT, SIGTERM or SIGHUP */
	SESSION_DURATION,     /* the duration asked for was reached */
	SESSION_STOPPED,      /* the front end's tick hook asked to stop */
	SESSION_FAILED,       /* sampling, a sample or the tick hook failed:
	                       * session_error() says how */
};

/* How a session samples; session_open fills the defaults from the options
 * when none is given. */
struct session_setup {
	enum sampler_kind kind;
	struct sampler_config sampler;   /* .cache is the session's, set by it */
	double duration;                 /* seconds; 0 = until the end */
	bool progress;                   /* the progress line on a terminal */
};

struct session;
struct gilshare;

struct session_hooks {
	/* Each sample: 0, or -errno (-ENOMEM) to stop the session with
	 * SESSION_FAILED and that error. */
	int (*on_sample)(const struct sample *sample, void *ctx);
	/* After each tick, before the duration is checked; may be NULL.
	 * 0 to go on, 1 to stop (SESSION_STOPPED), or -errno to stop with
	 * SESSION_FAILED and that error. */
	int (*on_tick)(struct session *ss, void *ctx, uint64_t now_ns);
	/* The progress line, every 250 ms when progress is on and stderr is a
	 * terminal; the session erases it at the end. May be NULL. */
	void (*progress)(const struct sampler *s, void *ctx, double secs);
	void *ctx;
};

/*
 * Block the signals that end a recording (first of all, so that a Ctrl-C
 * from now on ends the session at a clean point rather than killing hotspy
 * with a temporary file made or a target seized) and set up the symbolizer
 * from @o. @o is borrowed and must outlive the session. 0 and the session
 * in *@out (the caller frees it with session_free), or -errno (reported).
 */
int session_new(const struct options *o, struct session **out);

/*
 * Open the sampler: attach to the target or start the command (logging
 * what failed and how to fix it). @setup may be NULL: then it is taken
 * from the options (--sampler, -d, the progress line unless -q). 0 or
 * -errno (reported).
 */
int session_attach(struct session *ss, const struct session_setup *setup);

/* With -v, say what is sampled and how (through the logging sink of the
 * moment: the top view's bottom line while it is open). */
void session_describe(const struct session *ss);

/* Poll the sampler until an end reason, calling @hooks. Returns the end
 * reason; session_error() gives the error of SESSION_FAILED. */
enum session_end session_run(struct session *ss, const struct session_hooks *hooks);

/* The -errno of SESSION_FAILED; sampler_failed is true when the sampler
 * itself failed rather than a hook. */
int session_error(const struct session *ss, bool *sampler_failed);

/* The live sampler (borrowed), or NULL before session_attach and once
 * detached. */
struct sampler *session_sampler(const struct session *ss);

/* Seconds from the start of session_run to its end (or to now while it
 * runs). */
double session_seconds(const struct session *ss);

/* Give the symbolizer the current mappings of every process sampled. A
 * no-op once detached. */
void session_update_maps(struct session *ss);

/* The symbolizer (borrowed; valid until session_free), with the mappings
 * given so far. */
struct symbolizer *session_symbolizer(const struct session *ss);

/* Let go of the target (which runs on): the mappings of every process go
 * to the symbolizer first, so frames are named after. Safe to call twice. */
void session_detach(struct session *ss);

/* What became of a program the session started with `--`. */
enum session_program {
	SESSION_PROGRAM_NONE,      /* none was started (-p PID) */
	SESSION_PROGRAM_EXITED,    /* it ended by itself: its exit, or a signal
	                            * (a Ctrl-C that reached it too) */
	SESSION_PROGRAM_STOPPED,   /* hotspy ended it with the recording */
	SESSION_PROGRAM_KEPT,      /* --keep-running: it runs on */
};

struct session_program_end {
	enum session_program what;
	pid_t pid;                 /* the program's; 0 for SESSION_PROGRAM_NONE */
	int status;                /* wait(2) status; -1 while it runs or when
	                            * unknown */
	int signal;                /* STOPPED: the signal that ended it
	                            * (SIGTERM, or SIGKILL after the grace) */
};

/* Seconds a program gets after SIGTERM before SIGKILL, and after a Ctrl-C
 * (which its terminal sent it too) to end by itself before SIGTERM. */
#define SESSION_TERM_GRACE 2.0
#define SESSION_INT_GRACE 1.0

/*
 * After session_detach (call it first): end a program the session started,
 * unless it has ended or --keep-running: SIGTERM, then SIGKILL after
 * SESSION_TERM_GRACE; when the recording ended on SIGINT the program is
 * first given SESSION_INT_GRACE to end by the Ctrl-C it got too. Fills
 * @out (a program not started by the session: SESSION_PROGRAM_NONE).
 * Blocks for at most the two graces.
 */
void session_end_program(struct session *ss, struct session_program_end *out);

/*
 * hotspy's exit status for a recording that succeeded, given what became of
 * the program (exitcode.h): the program's own status when it ended by
 * itself (its exit code, or 128 + the signal that killed it), 0 otherwise.
 */
int session_program_exit_code(const struct session_program_end *pe);

/* Each thread's share of samples holding Python's GIL (borrowed; NULL when
 * the sampler was not asked for the GIL state: config_sampler). */
const struct gilshare *session_gilshare(const struct session *ss);

/* Samples --gil left out: their thread did not hold the GIL, or its state
 * was unknown. */
uint64_t session_gil_dropped(const struct session *ss);

/*
 * The signal that ends a recording (SIGINT, SIGTERM, SIGHUP) pending for
 * hotspy (blocked since session_new), 0 if none. With session_attach's
 * -EINTR (a program killed before its exec) it tells a Ctrl-C typed while
 * the program was started from a program that died by itself.
 */
int session_pending_signal(void);

/* The signal that ended session_run with SESSION_INTERRUPTED (SIGINT,
 * SIGTERM or SIGHUP), 0 otherwise. */
int session_signal(const struct session *ss);

/* Detach if still attached, and free everything. Accepts NULL. */
void session_free(struct session *ss);

#endif
